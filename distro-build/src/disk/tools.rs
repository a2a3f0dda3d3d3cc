//! Running the host tools the disk image is made with (sgdisk, mkfs.ext4, debugfs,
//! mkfs.vfat, mtools, grub-mkimage, qemu-img): a missing tool is named with the Debian
//! package that provides it, a failing one with its exit status and the end of its output.
//!
//! It owns nothing on disk; callers pass every path.

use std::path::Path;
use std::process::{Command, Output};

use super::DiskError;

/// The Debian package that provides `tool` (for the "install it" hint).
pub fn package_of(tool: &str) -> &'static str {
    match tool {
        "sgdisk" => "gdisk",
        "sfdisk" => "fdisk",
        "mkfs.ext4" | "debugfs" | "e2fsck" | "mke2fs" => "e2fsprogs",
        "mkfs.vfat" => "dosfstools",
        "mcopy" | "mmd" | "mdir" => "mtools",
        "grub-mkimage" => "grub-common",
        "qemu-img" => "qemu-utils",
        _ => "the package providing it",
    }
}

/// True when `tool` is found on PATH (or is an existing path).
pub fn exists(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// Runs `cmd`, returning its output when it exits 0.
pub fn run(cmd: &mut Command) -> Result<Output, DiskError> {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let output = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DiskError::MissingTool {
                tool: tool.clone(),
                package: package_of(&tool),
            }
        } else {
            DiskError::Io {
                what: format!("starting {tool}"),
                source: e,
            }
        }
    })?;
    if !output.status.success() {
        return Err(DiskError::ToolFailed {
            tool,
            status: output.status.to_string(),
            output: tail(&output),
        });
    }
    Ok(output)
}

/// The last lines of a command's stderr and stdout, for error messages.
pub fn tail(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(12);
    lines[start..].join("\n")
}
