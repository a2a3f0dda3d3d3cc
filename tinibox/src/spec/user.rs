//! `-u USER[:GROUP]` → numeric uid, gid and supplementary groups, resolved through the
//! container rootfs's /etc/passwd and /etc/group (never the host's).
//!
//! Pure: works on the two files' text, read by [`super::facts::Facts::read`].

use super::SpecError;
use crate::passwd::{parse_group, parse_passwd};

/// A resolved container user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups: the primary gid, then (only when no group was given) the
    /// groups /etc/group lists the user in.
    pub additional_gids: Vec<u32>,
    /// Home directory, if the user is in /etc/passwd.
    pub home: Option<String>,
}

/// Resolves `USER[:GROUP]` (names or numbers) against the rootfs's /etc/passwd and /etc/group
/// (their text). A numeric uid that is not in /etc/passwd is accepted (gid 0 unless given);
/// an unknown name is an error.
pub fn resolve(
    passwd_text: &str,
    group_text: &str,
    value: &str,
) -> Result<ResolvedUser, SpecError> {
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
    let passwd = parse_passwd(passwd_text);
    let groups = parse_group(group_text);
    let number = numeric(user, "UID")?;
    if let Some(g) = group {
        numeric(g, "GID")?;
    }
    let entry = match number {
        Some(uid) => passwd.iter().find(|p| p.uid == uid),
        None => Some(passwd.iter().find(|p| p.name == user).ok_or_else(|| {
            SpecError::flag(
                "--user",
                format!("unknown user {user:?} (not in the container's /etc/passwd)"),
                "use a numeric UID or a user that exists in the image",
            )
        })?),
    };
    let uid = match number {
        Some(u) => u,
        None => entry.map(|e| e.uid).unwrap_or(0),
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
    // As Docker >= 20.10.18 (CVE-2022-36109): the primary gid is always a supplementary group
    // too, and /etc/group memberships count only when no group was given.
    let mut additional_gids = vec![gid];
    if let (Some(e), None) = (entry, group) {
        for (_, g, members) in &groups {
            if members.iter().any(|m| m == &e.name) && !additional_gids.contains(g) {
                additional_gids.push(*g);
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: entry.map(|e| e.home.clone()),
    })
}

/// The highest id Linux accepts for a user or a group (`(uid_t)-1` means "unchanged").
pub const MAX_ID: u32 = u32::MAX - 1;

/// `text` as a numeric id when it is all digits (None for a name); an error naming the range
/// when the number is above [`MAX_ID`]. `what` is `UID` or `GID`.
fn numeric(text: &str, what: &str) -> Result<Option<u32>, SpecError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_ID => Ok(Some(n)),
        _ => Err(SpecError::flag(
            "--user",
            format!("{what} {text} is out of range"),
            format!("use a {what} from 0 to {MAX_ID}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nwheel:x:10:alice\n";

    fn resolve(value: &str) -> Result<ResolvedUser, SpecError> {
        super::resolve(PASSWD, GROUP, value)
    }

    #[test]
    fn ids_out_of_range_are_named() {
        for v in ["99999999999", "4294967295", "1000:99999999999"] {
            let e = resolve(v).unwrap_err().to_string();
            assert!(
                e.contains("out of range") && e.contains("4294967294"),
                "{v}: {e}"
            );
            assert!(!e.contains("unknown"), "{v}: {e}");
        }
        assert_eq!(resolve("4294967294").unwrap().uid, MAX_ID);
    }

    #[test]
    fn names_and_numbers() {
        let a = resolve("alice").unwrap();
        assert_eq!(
            (a.uid, a.gid, a.additional_gids.clone()),
            (1000, 1000, vec![1000, 10])
        );
        // A group given: no /etc/group memberships (Docker >= 20.10.18, CVE-2022-36109).
        assert_eq!(resolve("alice:alice").unwrap().additional_gids, vec![1000]);
        assert_eq!(resolve("1000:1000").unwrap().additional_gids, vec![1000]);
        assert_eq!(resolve("4242").unwrap().additional_gids, vec![0]);
        assert_eq!(crate::passwd::home_of(PASSWD, 1000), "/home/alice");
        assert_eq!(crate::passwd::home_of(PASSWD, 4242), "/");
        assert_eq!(a.home.as_deref(), Some("/home/alice"));
        let n = resolve("nobody:wheel").unwrap();
        assert_eq!((n.uid, n.gid), (65534, 10));
        let x = resolve("4242:77").unwrap();
        assert_eq!((x.uid, x.gid), (4242, 77));
        let y = resolve("1000").unwrap();
        assert_eq!((y.uid, y.gid), (1000, 1000));
        let e = resolve("mallory").unwrap_err().to_string();
        assert!(e.contains("unknown user \"mallory\""), "{e}");
        assert!(resolve("alice:nogrp").is_err());
        assert!(resolve(":1").is_err());
    }
}
