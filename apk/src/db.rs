//! The state apk-tools keeps in a root, in apk-tools' formats so that either tool can manage
//! the same root:
//! - `/lib/apk/db/installed`: one stanza per installed package (the fields of [`Package`])
//!   followed by its files: `F:dir` (a directory, relative to the root), `M:uid:gid:mode` (that
//!   directory's owner and octal mode), `R:name` (a file in the last `F:` directory),
//!   `a:uid:gid:mode` (that file's owner and mode), `Z:Q1…` (`Q1` + base64 SHA-1 of its content).
//! - `/lib/apk/db/scripts.tar`: every installed package's scripts, named
//!   `NAME-VERSION.Q1CHECKSUM.TYPE` (`post-install`, `pre-deinstall`, …).
//! - `/lib/apk/db/triggers`: `Q1CHECKSUM /dir/pattern...` for each installed package with
//!   triggers (directory globs whose changes run its `trigger` script).
//! - `/etc/apk/world`: the atoms the user asked for, one per line.
//!
//! This module parses and prints these files; writing them atomically is `fsroot`'s job.

use crate::atom::{AtomError, Dependency};
use crate::package::{self, FieldError, Package};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;

/// Path of the installed database, relative to the root.
pub const INSTALLED: &str = "lib/apk/db/installed";
/// Path of the scripts archive, relative to the root.
pub const SCRIPTS: &str = "lib/apk/db/scripts.tar";
/// Path of the triggers file, relative to the root.
pub const TRIGGERS: &str = "lib/apk/db/triggers";
/// Path of the world file, relative to the root.
pub const WORLD: &str = "etc/apk/world";

/// Owner and permission bits of an installed file or directory (`uid:gid:mode`, mode octal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acl {
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
}

impl Acl {
    fn parse(line: usize, letter: char, s: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::Number {
            line,
            field: letter,
            value: s.chars().take(40).collect(),
        };
        let mut it = s.split(':');
        let uid = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let gid = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let mode = it
            .next()
            .and_then(|v| u32::from_str_radix(v, 8).ok())
            .ok_or_else(bad)?;
        Ok(Acl { uid, gid, mode })
    }
}

impl std::fmt::Display for Acl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{:o}", self.uid, self.gid, self.mode)
    }
}

/// A file a package installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// File name inside its directory.
    pub name: String,
    /// Owner and mode, when recorded.
    pub acl: Option<Acl>,
    /// `Q1` + base64 SHA-1 of the content (absent for symlinks in some writers).
    pub checksum: Option<String>,
}

/// A directory a package owns, with the files it installed there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Directory path relative to the root, no leading or trailing slash ("" is the root).
    pub path: String,
    /// Owner and mode, when recorded.
    pub acl: Option<Acl>,
    /// Files in this directory.
    pub files: Vec<FileEntry>,
}

/// One installed package: its record, its files and its scripts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// The package record.
    pub package: Package,
    /// Directories and files, in install order.
    pub dirs: Vec<DirEntry>,
    /// Scripts kept for later (`post-install` → content).
    pub scripts: Vec<(String, Vec<u8>)>,
    /// Directory patterns whose changes run the package's `trigger` script.
    pub triggers: Vec<String>,
}

impl Installed {
    /// Every file path (relative to the root) this package installed.
    pub fn file_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs.iter().flat_map(|d| {
            d.files.iter().map(move |f| {
                if d.path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}/{}", d.path, f.name)
                }
            })
        })
    }

    /// The script of the given type (`post-install`), if the package has one.
    pub fn script(&self, kind: &str) -> Option<&[u8]> {
        self.scripts
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| v.as_slice())
    }
}

/// Parses `/lib/apk/db/installed`.
pub fn parse_installed(text: &str) -> Result<Vec<Installed>, FieldError> {
    let mut out = Vec::new();
    for stanza in package::stanzas(text)? {
        let mut ins = Installed::default();
        // Whether the last F:/R: line was a file (a: applies to it) or a directory (M:).
        for &(line, letter, value) in &stanza {
            if ins.package.set_field(line, letter, value)? {
                continue;
            }
            match letter {
                'F' => ins.dirs.push(DirEntry {
                    path: value.trim_matches('/').to_string(),
                    acl: None,
                    files: Vec::new(),
                }),
                'M' => {
                    if let Some(d) = ins.dirs.last_mut() {
                        d.acl = Some(Acl::parse(line, letter, value)?);
                    }
                }
                'R' => {
                    if ins.dirs.is_empty() {
                        ins.dirs.push(DirEntry {
                            path: String::new(),
                            acl: None,
                            files: Vec::new(),
                        });
                    }
                    if let Some(d) = ins.dirs.last_mut() {
                        d.files.push(FileEntry {
                            name: value.to_string(),
                            acl: None,
                            checksum: None,
                        });
                    }
                }
                'a' => {
                    if let Some(f) = ins.dirs.last_mut().and_then(|d| d.files.last_mut()) {
                        f.acl = Some(Acl::parse(line, letter, value)?);
                    }
                }
                'Z' => {
                    if let Some(f) = ins.dirs.last_mut().and_then(|d| d.files.last_mut()) {
                        f.checksum = Some(value.to_string());
                    }
                }
                _ => {}
            }
        }
        let last = stanza.last().map(|f| f.0).unwrap_or(0);
        if ins.package.name.is_empty() || ins.package.version.is_empty() {
            return Err(FieldError::Incomplete { line: last });
        }
        crate::package::check_identity(&ins.package.name, &ins.package.version)
            .map_err(|why| FieldError::Identity { line: last, why })?;
        out.push(ins);
    }
    Ok(out)
}

/// Prints `/lib/apk/db/installed`.
pub fn format_installed(pkgs: &[Installed]) -> String {
    let mut out = String::new();
    for ins in pkgs {
        ins.package.write_fields(&mut out);
        for d in &ins.dirs {
            let _ = writeln!(out, "F:{}", d.path);
            if let Some(acl) = d.acl {
                let _ = writeln!(out, "M:{acl}");
            }
            for f in &d.files {
                let _ = writeln!(out, "R:{}", f.name);
                if let Some(acl) = f.acl {
                    let _ = writeln!(out, "a:{acl}");
                }
                if let Some(c) = &f.checksum {
                    let _ = writeln!(out, "Z:{c}");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The scripts.tar member name of a package's script.
pub fn script_member_name(pkg: &Package, kind: &str) -> String {
    format!(
        "{}.{}.{}",
        pkg.id(),
        pkg.checksum.as_deref().unwrap_or("Q1"),
        kind
    )
}

/// Attaches the scripts found in a scripts.tar to the installed packages they belong to.
pub fn attach_scripts(pkgs: &mut [Installed], tar_bytes: &[u8]) -> std::io::Result<()> {
    let mut by_prefix: HashMap<String, usize> = HashMap::new();
    for (i, ins) in pkgs.iter().enumerate() {
        let prefix = format!(
            "{}.{}.",
            ins.package.id(),
            ins.package.checksum.as_deref().unwrap_or("Q1")
        );
        by_prefix.insert(prefix, i);
    }
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        // NAME-VERSION.Q1CSUM.TYPE: the type is after the last dot; the prefix before it.
        let Some((prefix, kind)) = name.rsplit_once('.') else {
            continue;
        };
        if let Some(&i) = by_prefix.get(&format!("{prefix}.")) {
            let mut body = Vec::new();
            entry.read_to_end(&mut body)?;
            pkgs[i].scripts.push((kind.to_string(), body));
        }
    }
    Ok(())
}

/// Builds scripts.tar for the installed packages (deterministic: mtime 0, sorted as given).
pub fn build_scripts_tar(pkgs: &[Installed]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for ins in pkgs {
        for (kind, body) in &ins.scripts {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o755);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(
                &mut h,
                script_member_name(&ins.package, kind),
                body.as_slice(),
            )?;
        }
    }
    b.into_inner()
}

/// Attaches the trigger patterns of /lib/apk/db/triggers to the packages (by checksum).
pub fn attach_triggers(pkgs: &mut [Installed], text: &str) {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(csum) = words.next() else { continue };
        let pats: Vec<String> = words.map(str::to_string).collect();
        if let Some(p) = pkgs
            .iter_mut()
            .find(|p| p.package.checksum.as_deref() == Some(csum))
        {
            p.triggers = pats;
        }
    }
}

/// Prints /lib/apk/db/triggers.
pub fn format_triggers(pkgs: &[Installed]) -> String {
    let mut out = String::new();
    for p in pkgs {
        if let (false, Some(c)) = (p.triggers.is_empty(), &p.package.checksum) {
            let _ = writeln!(out, "{c} {}", p.triggers.join(" "));
        }
    }
    out
}

/// Parses /etc/apk/world (atoms separated by spaces or newlines).
pub fn parse_world(text: &str) -> Result<Vec<Dependency>, AtomError> {
    Dependency::parse_list(text)
}

/// Prints /etc/apk/world: one atom per line, sorted by name.
pub fn format_world(world: &[Dependency]) -> String {
    let mut atoms: Vec<String> = world.iter().map(|d| d.to_string()).collect();
    atoms.sort();
    atoms.dedup();
    let mut out = atoms.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "C:Q1abc=\nP:hello\nV:1.0-r0\nA:x86_64\nS:100\nI:200\nT:hi\nD:musl\nF:usr\nF:usr/bin\nM:0:0:755\nR:hello\na:0:0:4755\nZ:Q1hash=\nR:hi\nZ:Q1other=\n\nP:musl\nV:1.2\nA:x86_64\nS:1\nI:1\nR:toplevel\n\n";

    #[test]
    fn parses_files_and_acls() {
        let db = parse_installed(DB).unwrap();
        assert_eq!(db.len(), 2);
        let h = &db[0];
        assert_eq!(h.dirs.len(), 2);
        assert_eq!(
            h.dirs[1].acl,
            Some(Acl {
                uid: 0,
                gid: 0,
                mode: 0o755
            })
        );
        assert_eq!(h.dirs[1].files[0].acl.map(|a| a.mode), Some(0o4755));
        assert_eq!(
            h.file_paths().collect::<Vec<_>>(),
            vec!["usr/bin/hello", "usr/bin/hi"]
        );
        assert_eq!(db[1].file_paths().collect::<Vec<_>>(), vec!["toplevel"]);
    }

    #[test]
    fn round_trips_db_and_scripts() {
        let mut db = parse_installed(DB).unwrap();
        db[0]
            .scripts
            .push(("post-install".into(), b"#!/bin/sh\necho hi\n".to_vec()));
        let text = format_installed(&db);
        let tar = build_scripts_tar(&db).unwrap();
        let mut again = parse_installed(&text).unwrap();
        attach_scripts(&mut again, &tar).unwrap();
        assert_eq!(again, db);
        assert_eq!(
            again[0].script("post-install"),
            Some(&b"#!/bin/sh\necho hi\n"[..])
        );
    }

    #[test]
    fn triggers_round_trip() {
        let mut db = parse_installed(DB).unwrap();
        db[0].triggers = vec!["/usr/share/fonts/*".into(), "/etc/ssl/certs".into()];
        let text = format_triggers(&db);
        assert_eq!(text, "Q1abc= /usr/share/fonts/* /etc/ssl/certs\n");
        let mut again = parse_installed(DB).unwrap();
        attach_triggers(&mut again, &text);
        assert_eq!(again[0].triggers, db[0].triggers);
    }

    #[test]
    fn world_sorted_one_per_line() {
        let w = parse_world("zlib busybox\nfoo>=1\n").unwrap();
        assert_eq!(format_world(&w), "busybox\nfoo>=1\nzlib\n");
        assert!(parse_world("=1").is_err());
    }
}
