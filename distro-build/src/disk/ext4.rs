//! Writes a [`RootfsTree`] as an ext4 file-system image without root: the tree's
//! directories, files and symlinks go to a staging folder that `mkfs.ext4 -d` copies in, then
//! one `debugfs -w` script sets every inode's owner, mode and time exactly as the tree says
//! and creates the device nodes and fifos (which an unprivileged user cannot make on the
//! host). The staging folder's own permissions never matter.
//!
//! It owns only the image file it is asked to write and a temporary staging folder.

use crate::epoch::Epoch;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};
use crate::runner;
use crate::tree::{EntryKind, RootfsTree};

/// ext4 features GRUB 2.06 cannot read are switched off (metadata_csum_seed, orphan_file).
const FEATURES: &str = "^metadata_csum_seed,^orphan_file";

/// Makes `image` (`size_bytes` long, sparse) an ext4 file system labelled `label` with UUID
/// `uuid`, holding `tree`. Timestamps are `epoch`.
pub fn write_image(
    tree: &RootfsTree,
    image: &Path,
    size_bytes: u64,
    uuid: &str,
    label: &str,
    epoch: Epoch,
) -> Result<()> {
    let staging = tempfile::Builder::new()
        .prefix("tinilinux-ext4-")
        .tempdir()
        .map_err(|e| Error::io("creating the ext4 staging folder", e))?;
    let root = staging.path().join("root");
    stage(tree, &root)?;

    // e2fsprogs treats a fake time of 0 as "use the clock"; 1 s after the epoch is fixed.
    let epoch = epoch.nonzero();
    let file = fs::File::create(image)
        .map_err(|e| Error::io(format!("creating {}", image.display()), e))?;
    file.set_len(size_bytes)
        .map_err(|e| Error::io(format!("sizing {}", image.display()), e))?;
    drop(file);

    runner::run_tool(
        Command::new("mkfs.ext4")
            .arg("-q")
            .arg("-F")
            .args(["-b", "4096", "-L", label, "-U", uuid, "-O", FEATURES])
            .arg("-E")
            .arg(format!("hash_seed={uuid},root_owner=0:0"))
            .arg("-d")
            .arg(&root)
            .arg(image)
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
            .env("MKE2FS_CONFIG", "/etc/mke2fs.conf"),
    )?;

    let script = debugfs_script(tree, epoch);
    let script_path = staging.path().join("metadata.debugfs");
    fs::write(&script_path, script).map_err(|e| Error::io("writing the debugfs script", e))?;
    let out = runner::run_tool(
        Command::new("debugfs")
            .arg("-w")
            .arg("-f")
            .arg(&script_path)
            .arg(image)
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string()),
    )?;
    // debugfs exits 0 even when a command fails; it reports failures on stderr.
    let errors: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("debugfs ") && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(Error::CommandFailed {
            what: "debugfs (setting owners, modes and device nodes)".into(),
            status: "reported errors".into(),
            log: "(captured)".into(),
            tail: errors.into_iter().take(12).collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(())
}

/// Writes the tree's directories, files and symlinks below `root` (device nodes and fifos
/// are left to debugfs).
fn stage(tree: &RootfsTree, root: &Path) -> Result<()> {
    fs::create_dir_all(root).map_err(|e| Error::io("creating the staging root", e))?;
    for (path, entry) in tree.iter() {
        let dest = root.join(path);
        let io = |e| Error::io(format!("staging /{}", path.display()), e);
        match &entry.kind {
            EntryKind::Directory => fs::create_dir_all(&dest).map_err(io)?,
            EntryKind::File(data) => match data {
                crate::tree::FileData::Host(src) => {
                    fs::copy(src, &dest).map_err(io)?;
                }
                crate::tree::FileData::Bytes(bytes) => fs::write(&dest, bytes).map_err(io)?,
            },
            EntryKind::Symlink(target) => std::os::unix::fs::symlink(target, &dest).map_err(io)?,
            EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {}
        }
        if matches!(entry.kind, EntryKind::File(_)) {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o644)).map_err(io)?;
        }
    }
    Ok(())
}

/// Quotes a path for debugfs's command parser.
fn quoted(path: &Path) -> String {
    format!("\"/{}\"", path.display().to_string().replace('"', "\\\""))
}

/// The debugfs commands that make every inode match the tree.
pub fn debugfs_script(tree: &RootfsTree, epoch: Epoch) -> String {
    let mut s = String::new();
    // The root directory itself is not in the tree: root-owned, 0755.
    let _ = writeln!(s, "sif / mode 040755");
    for field in ["atime", "mtime", "ctime", "crtime"] {
        let _ = writeln!(s, "sif / {field} @{epoch}");
    }
    for (path, entry) in tree.iter() {
        let p = quoted(path);
        // debugfs's mknod links the name into the current directory, so change there first.
        let node = match &entry.kind {
            EntryKind::CharDevice { major, minor } => Some(format!("c {major} {minor}")),
            EntryKind::BlockDevice { major, minor } => Some(format!("b {major} {minor}")),
            EntryKind::Fifo => Some("p".to_string()),
            _ => None,
        };
        if let Some(node) = node {
            let parent = path.parent().unwrap_or(Path::new(""));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let _ = writeln!(s, "cd {}", quoted(parent));
            let _ = writeln!(s, "mknod \"{}\" {node}", name.replace('"', "\\\""));
            let _ = writeln!(s, "cd /");
        }
        let _ = writeln!(s, "sif {p} mode 0{:o}", entry.st_mode());
        let _ = writeln!(s, "sif {p} uid {}", entry.uid);
        let _ = writeln!(s, "sif {p} gid {}", entry.gid);
        for field in ["atime", "mtime", "ctime", "crtime"] {
            let _ = writeln!(s, "sif {p} {field} @{epoch}");
        }
    }
    s
}
