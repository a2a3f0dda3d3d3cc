//! Container ids and names for the docker-like commands: random 64-hex ids, the 12-character
//! short form, names, and the front door's own folder per container (bundle, /etc files, exit
//! status, log) under `<root>/.bundles/<id>/`.
//!
//! Reads the engine's state records; never changes them.

use std::path::{Path, PathBuf};

use crate::container::state::Record;

/// Label holding the container's name.
pub const LABEL_NAME: &str = "tinibox.name";
/// Label holding the command line shown by `ps`.
pub const LABEL_COMMAND: &str = "tinibox.command";
/// Label set to `true` when the container was started with `--rm`.
pub const LABEL_RM: &str = "tinibox.rm";
/// Label set to `true` for detached containers (a monitor process owns them).
pub const LABEL_DETACHED: &str = "tinibox.detached";

/// File in the front folder holding the exit status once the container stopped.
pub const EXIT_FILE: &str = "exit-status";
/// File in the front folder holding a detached container's output.
pub const LOG_FILE: &str = "container.log";

/// A fresh random 64-hex-digit id (like Docker's).
pub fn new_id() -> std::io::Result<String> {
    let mut buf = [0u8; 32];
    let mut filled = 0;
    while filled < buf.len() {
        // The system call itself rather than libc's wrapper: in the static musl build, a
        // call to the wrapper jumped to address 0 (seen under gdb).
        // SAFETY: writing into our own buffer, length bounded by its size.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                buf[filled..].as_mut_ptr(),
                buf.len() - filled,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(hex::encode(buf))
}

/// The 12-character short form of an id (characters, not bytes: a runc-form id may hold any
/// printable text).
pub fn short(id: &str) -> &str {
    crate::text::prefix(id, 12)
}

/// The front door's folder for a container: `<root>/.bundles/<id>`.
pub fn front_dir(root: &Path, id: &str) -> PathBuf {
    root.join(".bundles").join(id)
}

/// Every container id in the state root (folders holding a state record), sorted.
pub fn all_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .filter(|n| {
                    root.join(n)
                        .join(crate::container::state::STATE_FILE)
                        .exists()
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Ids that only the front door still knows (its folder exists but the engine has no record):
/// left behind when tinibox was killed mid-way.
pub fn stray_front_dirs(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join(".bundles"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    !root
                        .join(n)
                        .join(crate::container::state::STATE_FILE)
                        .exists()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The name of a container, from its labels.
pub fn name_of(record: &Record) -> Option<&str> {
    record.state.labels.get(LABEL_NAME).map(String::as_str)
}

/// Resolves a name, a full id or a unique id prefix to a full id.
pub fn resolve(root: &Path, what: &str) -> Result<String, String> {
    let ids = all_ids(root);
    if ids.iter().any(|i| i == what) {
        return Ok(what.to_string());
    }
    for id in &ids {
        if let Ok(r) = Record::load(root, id) {
            if name_of(&r) == Some(what) {
                return Ok(id.clone());
            }
        }
    }
    let matches: Vec<&String> = if what.is_empty() {
        Vec::new()
    } else {
        ids.iter().filter(|i| i.starts_with(what)).collect()
    };
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(no_such_container(what)),
        _ => Err(format!(
            "{what} matches several containers — give more characters of the id"
        )),
    }
}

/// Docker's words for a name or id that matches no container (`No such container: X`, which
/// scripts grep for), with what to do. Every docker-like command exits 1 with it, as Docker's
/// daemon errors do.
pub fn no_such_container(what: &str) -> String {
    format!("No such container: {what} — see `tinibox ps -a` for names and ids")
}

/// Whether a name is already taken by a container in the state root.
pub fn name_taken(root: &Path, name: &str) -> bool {
    all_ids(root).iter().any(|id| {
        Record::load(root, id)
            .map(|r| name_of(&r) == Some(name))
            .unwrap_or(false)
    })
}

/// The exit status recorded for a stopped container, if any.
pub fn exit_status(root: &Path, id: &str) -> Option<i32> {
    std::fs::read_to_string(front_dir(root, id).join(EXIT_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Records a container's exit status (temp file + rename).
pub fn write_exit_status(root: &Path, id: &str, status: i32) {
    let dir = front_dir(root, id);
    let tmp = dir.join(format!("{EXIT_FILE}.tmp"));
    if std::fs::write(&tmp, format!("{status}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(EXIT_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
    }

    #[test]
    fn unknown_names_are_reported() {
        let d = tempfile::tempdir().unwrap();
        let e = resolve(d.path(), "nope").unwrap_err();
        assert!(e.starts_with("No such container: nope"), "{e}");
        assert!(!name_taken(d.path(), "x"));
    }
}
