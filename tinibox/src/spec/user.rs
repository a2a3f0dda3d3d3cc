//! `-u USER[:GROUP]` → numeric uid, gid and supplementary groups, resolved through the
//! container rootfs's /etc/passwd and /etc/group (never the host's).
//!
//! Reads those two files only; must not touch anything else in the rootfs.

use std::path::Path;

use super::SpecError;

/// A resolved container user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership).
    pub additional_gids: Vec<u32>,
    /// Home directory, if the user is in /etc/passwd.
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn read_passwd(rootfs: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

fn read_group(rootfs: &Path) -> Vec<(String, u32, Vec<String>)> {
    let text = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// Resolves `USER[:GROUP]` (names or numbers) against the rootfs. A numeric uid that is not
/// in /etc/passwd is accepted (gid 0 unless given); an unknown name is an error.
pub fn resolve(rootfs: &Path, value: &str) -> Result<ResolvedUser, SpecError> {
    let (user, group) = match value.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (value, None),
    };
    if user.is_empty() {
        return Err(SpecError::flag(
            "--user",
            format!("empty user in {value:?}"),
            "use UID[:GID] or NAME[:GROUP]",
        ));
    }
    let passwd = read_passwd(rootfs);
    let groups = read_group(rootfs);
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|p| p.uid == uid),
        Err(_) => Some(passwd.iter().find(|p| p.name == user).ok_or_else(|| {
            SpecError::flag(
                "--user",
                format!("unknown user {user:?} (not in the container's /etc/passwd)"),
                "use a numeric UID or a user that exists in the image",
            )
        })?),
    };
    let uid = match user.parse::<u32>() {
        Ok(u) => u,
        Err(_) => entry.map(|e| e.uid).unwrap_or(0),
    };
    let gid = match group {
        Some("") => {
            return Err(SpecError::flag(
                "--user",
                format!("empty group in {value:?}"),
                "use UID:GID or NAME:GROUP",
            ))
        }
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|(n, _, _)| n == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    SpecError::flag(
                        "--user",
                        format!("unknown group {g:?} (not in the container's /etc/group)"),
                        "use a numeric GID or a group that exists in the image",
                    )
                })?,
        },
        None => entry.map(|e| e.gid).unwrap_or(0),
    };
    let additional_gids = match entry {
        Some(e) => groups
            .iter()
            .filter(|(_, g, members)| *g != gid && members.iter().any(|m| m == &e.name))
            .map(|(_, g, _)| *g)
            .collect(),
        None => Vec::new(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: entry.map(|e| e.home.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nwheel:x:10:alice\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn names_and_numbers() {
        let r = rootfs();
        let a = resolve(r.path(), "alice").unwrap();
        assert_eq!(
            (a.uid, a.gid, a.additional_gids.clone()),
            (1000, 1000, vec![10])
        );
        assert_eq!(a.home.as_deref(), Some("/home/alice"));
        let n = resolve(r.path(), "nobody:wheel").unwrap();
        assert_eq!((n.uid, n.gid), (65534, 10));
        let x = resolve(r.path(), "4242:77").unwrap();
        assert_eq!((x.uid, x.gid), (4242, 77));
        let y = resolve(r.path(), "1000").unwrap();
        assert_eq!((y.uid, y.gid), (1000, 1000));
        let e = resolve(r.path(), "mallory").unwrap_err().to_string();
        assert!(e.contains("unknown user \"mallory\""), "{e}");
        assert!(resolve(r.path(), "alice:nogrp").is_err());
        assert!(resolve(r.path(), ":1").is_err());
    }
}
