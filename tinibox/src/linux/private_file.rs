//! Replacing a file that may hold secrets (a container's state record with its environment,
//! Docker's `config.json` with registry credentials): mode 0600 from the moment it exists,
//! written beside its target, flushed to disk and renamed over it, so a reader or a crash sees
//! the old content or the whole new one. It owns only the temporary file it makes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `data` to `path` (mode 0600) through `PATH.tmp-PID` and a rename; the temporary
/// file is removed when anything fails. `durable` flushes the data to disk before the rename
/// (for files a user keeps, like credentials; not for state records on a container's start
/// path, where an fsync would cost milliseconds).
///
/// Errors: the I/O error of creating, writing, syncing or renaming.
pub fn write_private(path: &Path, data: &[u8], durable: bool) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_the_file_with_mode_0600_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"old").unwrap();
        write_private(&path, b"new", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/x.json");
        assert!(write_private(&missing, b"x", false).is_err());
    }
}
