//! Paths inside the target root, resolved the way the system will see them once it runs on
//! that root: symlinks met on the way are followed inside the root (an absolute target
//! starts again at the root, as after chroot), and a `..` that would climb above the root is
//! refused instead of clamped, so a package can never write outside the root through a
//! symlink some package planted. Also: atomic replacement of a file (temp + fsync + rename +
//! fsync of the directory) and the database lock.
//!
//! This module owns file-system safety; it does not know packages.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A path that cannot be used inside the root.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// `..` above the root, through a symlink or directly.
    #[error("{path}: escapes the root (through a symlink or ..); refusing")]
    Escapes {
        /// The path as asked.
        path: String,
    },
    /// More than 40 symlinks on the way.
    #[error("{path}: too many levels of symbolic links")]
    Loop {
        /// The path as asked.
        path: String,
    },
    /// A path component exists but is not a directory.
    #[error("{path}: {component} is not a directory")]
    NotDir {
        /// The path as asked.
        path: String,
        /// The offending component, relative to the root.
        component: String,
    },
}

/// The root directory everything happens in.
#[derive(Clone, Debug)]
pub struct Root {
    path: PathBuf,
}

impl Root {
    /// A root at `path` (must exist).
    pub fn new(path: &Path) -> std::io::Result<Self> {
        Ok(Root {
            path: fs::canonicalize(path)?,
        })
    }

    /// The root's absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Is this the running system's root?
    pub fn is_system_root(&self) -> bool {
        self.path == Path::new("/")
    }

    /// Host path of `rel` without any resolution (for the database's own files).
    pub fn plain(&self, rel: &str) -> PathBuf {
        self.path.join(rel.trim_start_matches('/'))
    }

    /// Resolves `rel` inside the root. Symlinks in the parent components are followed
    /// inside the root; the last component is followed too when `follow_last`. Returns the
    /// host path and the resolved path relative to the root.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> Result<(PathBuf, String), PathError> {
        let mut stack: Vec<String> = Vec::new();
        let mut pending: VecDeque<String> = rel
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    if stack.pop().is_none() {
                        return Err(PathError::Escapes {
                            path: rel.to_string(),
                        });
                    }
                    continue;
                }
                _ => {}
            }
            let is_last = pending.is_empty();
            let mut host = self.path.clone();
            host.extend(&stack);
            host.push(&c);
            match fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() && (!is_last || follow_last) => {
                    links += 1;
                    if links > 40 {
                        return Err(PathError::Loop {
                            path: rel.to_string(),
                        });
                    }
                    let target = fs::read_link(&host)
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if target.starts_with('/') {
                        stack.clear();
                    }
                    for t in target.split('/').filter(|t| !t.is_empty()).rev() {
                        pending.push_front(t.to_string());
                    }
                }
                Ok(m) if !is_last && !m.is_dir() => {
                    stack.push(c);
                    return Err(PathError::NotDir {
                        path: rel.to_string(),
                        component: stack.join("/"),
                    });
                }
                _ => stack.push(c),
            }
        }
        let mut host = self.path.clone();
        host.extend(&stack);
        Ok((host, stack.join("/")))
    }
}

/// Replaces `path` atomically with `data`: a temp file beside it, fsync, rename, fsync of
/// the directory. A crash leaves the old or the new content.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes every file system write of the file system holding `path` (syncfs).
pub fn sync_fs(path: &Path) -> std::io::Result<()> {
    let f = File::open(path)?;
    // SAFETY: syncfs takes a valid open descriptor and has no memory effects.
    let r = unsafe { libc::syncfs(f.as_raw_fd()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The database lock (`/lib/apk/db/lock`, an exclusive flock held while this lives).
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock without waiting; an error names the holder problem.
    pub fn acquire(path: &Path) -> std::io::Result<Lock> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        // SAFETY: flock on a valid descriptor.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the database is locked by another apk; wait for it to finish",
            ));
        }
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolves_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::new(t.path()).unwrap();
        fs::create_dir_all(t.path().join("usr/bin")).unwrap();
        symlink("/usr/bin", t.path().join("bin")).unwrap();
        symlink("..", t.path().join("usr/up")).unwrap();
        symlink("../../../../..", t.path().join("usr/out")).unwrap();
        fs::write(t.path().join("file"), b"").unwrap();

        let (host, rel) = root.resolve("bin/sh", false).unwrap();
        assert_eq!(rel, "usr/bin/sh");
        assert_eq!(host, root.path().join("usr/bin/sh"));
        assert_eq!(root.resolve("usr/up/etc", false).unwrap().1, "etc");
        assert!(matches!(
            root.resolve("usr/out/etc/passwd", false),
            Err(PathError::Escapes { .. })
        ));
        assert!(matches!(
            root.resolve("file/x", false),
            Err(PathError::NotDir { .. })
        ));
        // The last component is not followed unless asked.
        assert_eq!(root.resolve("bin", false).unwrap().1, "bin");
        assert_eq!(root.resolve("bin", true).unwrap().1, "usr/bin");
    }

    #[test]
    fn atomic_write_replaces() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        atomic_write(&p, b"one", 0o644).unwrap();
        atomic_write(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
