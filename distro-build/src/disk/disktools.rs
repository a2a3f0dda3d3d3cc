//! The disk tools TiniLinux carries for installing and checking disks: the build host's
//! `sfdisk` (GPT, which BusyBox's fdisk cannot write), `mke2fs` (real ext4, which BusyBox's
//! mke2fs cannot make) and `e2fsck`, with the shared libraries and the dynamic loader they
//! need, in one folder `/usr/lib/tinilinux/disktools/`. Each tool is a small sh wrapper that
//! runs the real binary through that folder's own loader, so nothing else in the rootfs
//! needs a C library and the folder still works after being copied elsewhere (the early
//! /init copies it to /run to check the root before mounting it).
//!
//! It owns that folder in the tree; it reads the host's binaries and never modifies them.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{tools, DiskError};
use crate::tree::{Entry, FileData, RootfsTree};

/// Folder in the rootfs.
pub const DIR: &str = "usr/lib/tinilinux/disktools";
/// Tools carried (looked up on the host's PATH and /sbin, /usr/sbin).
pub const TOOLS: &[&str] = &["sfdisk", "mke2fs", "e2fsck"];
/// Name of the dynamic loader inside the folder.
const LOADER: &str = "ld-linux-x86-64.so.2";

/// Finds a host binary in PATH, /usr/sbin or /sbin.
pub fn host_binary(tool: &str) -> Result<PathBuf, DiskError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| DiskError::MissingTool {
            tool: tool.to_string(),
            package: tools::package_of(tool),
        })
}

/// The shared libraries (and loader) `binary` needs, from `ldd`.
pub fn libraries(binary: &Path) -> Result<Vec<PathBuf>, DiskError> {
    let out = tools::run(Command::new("ldd").arg(binary))?;
    let mut libs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim();
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// The wrapper script that runs `tool` with the folder's loader and libraries.
pub fn wrapper(tool: &str) -> String {
    format!(
        "#!/bin/sh\n# {tool} from the build host, with its own C library (see {DIR}).\n\
         case \"$0\" in */*) d=\"${{0%/*}}\" ;; *) d=/{DIR} ;; esac\n\
         exec \"$d/lib/{LOADER}\" --library-path \"$d/lib\" \"$d/bin/{tool}\" \"$@\"\n"
    )
}

/// Adds the tools, their libraries and wrappers under [`DIR`] in `tree`.
pub fn add(tree: &mut RootfsTree) -> Result<(), DiskError> {
    let mut libs: Vec<PathBuf> = Vec::new();
    for tool in TOOLS {
        let bin = host_binary(tool)?;
        for lib in libraries(&bin)? {
            if !libs.contains(&lib) {
                libs.push(lib);
            }
        }
        tree.insert(
            format!("{DIR}/bin/{tool}"),
            Entry::file(FileData::Host(bin), 0o755),
        )?;
        tree.insert(
            format!("{DIR}/{tool}"),
            Entry::file(FileData::Bytes(wrapper(tool).into_bytes()), 0o755),
        )?;
    }
    for lib in libs {
        let real = std::fs::canonicalize(&lib)
            .map_err(|e| DiskError::io(format!("resolving {}", lib.display()), e))?;
        let name = if lib.to_string_lossy().contains("ld-linux") {
            LOADER.to_string()
        } else {
            lib.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        tree.insert(
            format!("{DIR}/lib/{name}"),
            Entry::file(FileData::Host(real), 0o755),
        )?;
    }
    Ok(())
}
