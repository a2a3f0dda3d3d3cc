//! The root filesystem as data: every path with its kind, owner, mode and content.
//!
//! This module owns the in-memory description that every output (cpio initramfs, rootfs
//! tarball, OCI layers, ext4 disk image) is written from. It never touches the host's file
//! system beyond reading the source files that entries point at, and it knows nothing about
//! any output format: writers live in their own modules and only iterate over the tree.
//!
//! Paths are relative to the root, use `/` separators and never contain `.` or `..`
//! components. Iteration is sorted by path, so every writer is deterministic, and parents are
//! always visited before their children.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Errors raised while building a tree.
#[derive(Debug, Error)]
pub enum TreeError {
    /// A path was absolute after normalisation, empty, or climbed out with `..`.
    #[error("invalid rootfs path {0:?}: use a relative path without '..'")]
    InvalidPath(PathBuf),
    /// Reading a host source file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The host file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// Where a regular file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// Bytes held in memory (generated files such as /etc/hostname).
    Bytes(Vec<u8>),
    /// A file on the build host, read when a writer needs it.
    Host(PathBuf),
}

impl FileData {
    /// Reads the whole content.
    pub fn read(&self) -> Result<Vec<u8>, TreeError> {
        match self {
            FileData::Bytes(bytes) => Ok(bytes.clone()),
            FileData::Host(path) => std::fs::read(path).map_err(|source| TreeError::Read {
                path: path.clone(),
                source,
            }),
        }
    }

    /// The content length in bytes.
    pub fn len(&self) -> Result<u64, TreeError> {
        match self {
            FileData::Bytes(bytes) => Ok(bytes.len() as u64),
            FileData::Host(path) => {
                std::fs::metadata(path)
                    .map(|m| m.len())
                    .map_err(|source| TreeError::Read {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    /// True when the content is empty.
    pub fn is_empty(&self) -> Result<bool, TreeError> {
        Ok(self.len()? == 0)
    }
}

/// What kind of file system object an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file with its content.
    File(FileData),
    /// A symbolic link pointing at `target` (stored as given, may be relative or absolute).
    Symlink(PathBuf),
    /// A character device node.
    CharDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A block device node.
    BlockDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// One path in the tree with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits, including setuid/setgid/sticky (no file-type bits).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
}

impl Entry {
    /// A root-owned directory with the given mode.
    pub fn dir(mode: u32) -> Self {
        Entry {
            kind: EntryKind::Directory,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned regular file.
    pub fn file(data: FileData, mode: u32) -> Self {
        Entry {
            kind: EntryKind::File(data),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned symbolic link (mode 0777, as the kernel reports links).
    pub fn symlink(target: impl Into<PathBuf>) -> Self {
        Entry {
            kind: EntryKind::Symlink(target.into()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned character device node.
    pub fn char_device(major: u32, minor: u32, mode: u32) -> Self {
        Entry {
            kind: EntryKind::CharDevice { major, minor },
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// The `st_mode` file-type bits (S_IFDIR, S_IFREG, …) for this entry.
    pub fn file_type_bits(&self) -> u32 {
        match self.kind {
            EntryKind::Directory => 0o040000,
            EntryKind::File(_) => 0o100000,
            EntryKind::Symlink(_) => 0o120000,
            EntryKind::CharDevice { .. } => 0o020000,
            EntryKind::BlockDevice { .. } => 0o060000,
            EntryKind::Fifo => 0o010000,
        }
    }

    /// The full `st_mode`: file-type bits plus permission bits.
    pub fn st_mode(&self) -> u32 {
        self.file_type_bits() | (self.mode & 0o7777)
    }
}

/// A whole root file system, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootfsTree {
    entries: BTreeMap<PathBuf, Entry>,
}

/// Normalises a rootfs path: strips a leading `/` and `.` components, refuses `..`.
pub fn normalise(path: &Path) -> Result<PathBuf, TreeError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(TreeError::InvalidPath(path.to_path_buf()))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(TreeError::InvalidPath(path.to_path_buf()));
    }
    Ok(out)
}

impl RootfsTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces `path`, creating missing parent directories (root-owned, 0755).
    pub fn insert(&mut self, path: impl AsRef<Path>, entry: Entry) -> Result<(), TreeError> {
        let path = normalise(path.as_ref())?;
        let mut parent = path.parent();
        while let Some(dir) = parent {
            if dir.as_os_str().is_empty() {
                break;
            }
            self.entries
                .entry(dir.to_path_buf())
                .or_insert_with(|| Entry::dir(0o755));
            parent = dir.parent();
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Removes `path` and everything below it; returns how many entries went.
    pub fn remove(&mut self, path: impl AsRef<Path>) -> Result<usize, TreeError> {
        let path = normalise(path.as_ref())?;
        let doomed: Vec<PathBuf> = self
            .entries
            .keys()
            .filter(|p| p.starts_with(&path))
            .cloned()
            .collect();
        for p in &doomed {
            self.entries.remove(p);
        }
        Ok(doomed.len())
    }

    /// Looks up one entry.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&Entry> {
        normalise(path.as_ref())
            .ok()
            .and_then(|p| self.entries.get(&p))
    }

    /// All entries in sorted path order (parents before children).
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_path(), e))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the tree holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds every file below host directory `source` at `dest`, root-owned, keeping the
    /// host's permission bits and symlink targets. Other host file types are skipped.
    pub fn add_host_dir(&mut self, source: &Path, dest: impl AsRef<Path>) -> Result<(), TreeError> {
        use std::os::unix::fs::PermissionsExt;
        let dest = dest.as_ref().to_path_buf();
        let read_err = |path: &Path, source: std::io::Error| TreeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut stack = vec![(source.to_path_buf(), dest)];
        while let Some((host, target)) = stack.pop() {
            let mut children: Vec<_> = std::fs::read_dir(&host)
                .map_err(|e| read_err(&host, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| read_err(&host, e))?;
            children.sort_by_key(|c| c.file_name());
            for child in children {
                let host_path = child.path();
                let target_path = target.join(child.file_name());
                let meta =
                    std::fs::symlink_metadata(&host_path).map_err(|e| read_err(&host_path, e))?;
                let mode = meta.permissions().mode() & 0o7777;
                let ft = meta.file_type();
                if ft.is_dir() {
                    self.insert(&target_path, Entry::dir(mode))?;
                    stack.push((host_path, target_path));
                } else if ft.is_symlink() {
                    let link =
                        std::fs::read_link(&host_path).map_err(|e| read_err(&host_path, e))?;
                    self.insert(&target_path, Entry::symlink(link))?;
                } else if ft.is_file() {
                    self.insert(&target_path, Entry::file(FileData::Host(host_path), mode))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_creates_parents_and_iterates_sorted() {
        let mut tree = RootfsTree::new();
        tree.insert(
            "/usr/bin/tinibox",
            Entry::file(FileData::Bytes(b"x".to_vec()), 0o755),
        )
        .unwrap();
        tree.insert(
            "etc/hostname",
            Entry::file(FileData::Bytes(b"tini\n".to_vec()), 0o644),
        )
        .unwrap();
        let paths: Vec<_> = tree
            .iter()
            .map(|(p, _)| p.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            paths,
            ["etc", "etc/hostname", "usr", "usr/bin", "usr/bin/tinibox"]
        );
        assert_eq!(tree.get("usr").unwrap().kind, EntryKind::Directory);
    }

    #[test]
    fn parent_components_are_refused() {
        let mut tree = RootfsTree::new();
        let err = tree.insert("etc/../../x", Entry::dir(0o755)).unwrap_err();
        assert!(matches!(err, TreeError::InvalidPath(_)));
        assert!(tree.is_empty());
    }

    #[test]
    fn remove_takes_the_subtree() {
        let mut tree = RootfsTree::new();
        tree.insert("var/lib/tinibox/a", Entry::dir(0o700)).unwrap();
        tree.insert("var/log", Entry::dir(0o755)).unwrap();
        assert_eq!(tree.remove("var/lib").unwrap(), 3);
        assert!(tree.get("var/log").is_some());
        assert!(tree.get("var/lib/tinibox").is_none());
    }

    #[test]
    fn st_mode_combines_type_and_permissions() {
        assert_eq!(Entry::dir(0o755).st_mode(), 0o040755);
        assert_eq!(Entry::char_device(1, 3, 0o666).st_mode(), 0o020666);
    }
}
