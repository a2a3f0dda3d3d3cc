//! The disk tools TiniLinux carries for installing and checking disks: `sfdisk` (GPT, which
//! BusyBox's fdisk cannot write), `mke2fs` (real ext4, which BusyBox's mke2fs cannot make)
//! and `e2fsck`, with the shared libraries and the dynamic loader they need, in one folder
//! `/usr/lib/tinilinux/disktools/`. The binaries and libraries come from the Debian packages
//! pinned in `sources.lock` ([`PACKAGES`]), never from the build host's /sbin or /lib. Each
//! tool is a small sh wrapper that runs the real binary through that folder's own loader, so
//! nothing else in the rootfs needs a C library and the folder still works after being copied
//! elsewhere (the early /init copies it to /run to check the root before mounting it).
//!
//! Which libraries: the ELF `NEEDED` entries (read with binutils' `readelf -d`) of each tool,
//! followed through the libraries themselves, each looked up in the pinned packages.
//!
//! It owns that folder in the tree; it reads the unpacked packages and never modifies them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::runner;
use crate::tree::{Entry, FileData, RootfsTree};

/// Folder in the rootfs.
pub const DIR: &str = "usr/lib/tinilinux/disktools";
/// Tools carried: name, the pinned package holding it, its path inside that package.
pub const TOOLS: &[(&str, &str, &str)] = &[
    ("sfdisk", "fdisk", "sbin/sfdisk"),
    ("mke2fs", "e2fsprogs", "sbin/mke2fs"),
    ("e2fsck", "e2fsprogs", "sbin/e2fsck"),
];
/// Every pinned package the tools and their libraries come from.
pub const PACKAGES: &[&str] = &[
    "fdisk",
    "libfdisk1",
    "libsmartcols1",
    "libtinfo6",
    "libreadline8",
    "e2fsprogs",
    "libext2fs2",
    "libcom-err2",
    "libblkid1",
    "libuuid1",
    "libc6",
];
/// Library folders inside a package for Debian's multiarch name `multiarch`
/// (`x86_64-linux-gnu`), searched in this order.
fn lib_dirs(multiarch: &str) -> [String; 3] {
    [
        format!("lib/{multiarch}"),
        format!("usr/lib/{multiarch}"),
        "lib64".to_string(),
    ]
}

/// The tools and libraries resolved from the pinned packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTools {
    /// (tool name, binary inside an unpacked package).
    pub tools: Vec<(String, PathBuf)>,
    /// (soname, real file inside an unpacked package), the loader included.
    pub libs: Vec<(String, PathBuf)>,
    /// The dynamic loader's file name (the target's, `ld-linux-x86-64.so.2`).
    pub loader: String,
}

impl DiskTools {
    /// Fetches and unpacks the pinned [`PACKAGES`] and resolves every tool and library.
    ///
    /// Errors: as [`crate::debian::deb_root`]; a library no pinned package holds, naming it.
    pub fn pinned(ctx: &Context) -> crate::error::Result<DiskTools> {
        let mut roots = Vec::new();
        for package in PACKAGES {
            roots.push(crate::debian::deb_root(ctx, package)?);
        }
        let mut tools = Vec::new();
        for (tool, package, rel) in TOOLS {
            let bin = crate::debian::deb_file(ctx, package, rel)?;
            tools.push((tool.to_string(), bin));
        }
        let target = &ctx.target;
        let libs = resolve_libraries(&tools, &roots, target.dynamic_loader, target.multiarch)?;
        Ok(DiskTools {
            tools,
            libs,
            loader: target.dynamic_loader.to_string(),
        })
    }
}

/// The `NEEDED` sonames of an ELF file.
pub fn needed(elf: &Path) -> Result<Vec<String>> {
    let out = runner::run_tool(Command::new("readelf").arg("-dW").arg(elf))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
        .collect())
}

/// Finds `soname` in the unpacked packages, following symlinks inside the package (an
/// absolute link target is taken relative to the package root).
fn find_library(soname: &str, roots: &[PathBuf], multiarch: &str) -> Option<PathBuf> {
    for root in roots {
        for dir in lib_dirs(multiarch) {
            let mut path = root.join(dir).join(soname);
            for _ in 0..8 {
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    break;
                };
                if meta.is_file() {
                    return Some(path);
                }
                let Ok(target) = std::fs::read_link(&path) else {
                    break;
                };
                path = match target.strip_prefix("/") {
                    Ok(rel) => root.join(rel),
                    Err(_) => path.parent().unwrap_or(root).join(target),
                };
            }
        }
    }
    None
}

/// Every library the tools need, transitively, and the dynamic loader `loader`, looked up
/// in the multiarch folders of `multiarch`.
fn resolve_libraries(
    tools: &[(String, PathBuf)],
    roots: &[PathBuf],
    loader: &str,
    multiarch: &str,
) -> Result<Vec<(String, PathBuf)>> {
    let mut libs: Vec<(String, PathBuf)> = Vec::new();
    let mut queue: Vec<(String, PathBuf)> = tools.to_vec();
    queue.push((loader.to_string(), PathBuf::new()));
    while let Some((name, elf)) = queue.pop() {
        let wanted = if elf.as_os_str().is_empty() {
            vec![loader.to_string()]
        } else {
            needed(&elf)?
        };
        for soname in wanted {
            if libs.iter().any(|(n, _)| *n == soname) {
                continue;
            }
            let file = find_library(&soname, roots, multiarch).ok_or_else(|| {
                Error::Invalid(format!(
                    "{soname} (needed by {name}) is in none of the installer's packages pinned in \
                     sources.lock; pin the package that holds it (dpkg -S {soname}) and add it to \
                     disktools::PACKAGES"
                ))
            })?;
            libs.push((soname.clone(), file.clone()));
            if soname != loader {
                queue.push((soname, file));
            }
        }
    }
    libs.sort();
    Ok(libs)
}

/// The wrapper script that runs `tool` with the folder's loader (file name `loader`) and
/// libraries.
pub fn wrapper(tool: &str, loader: &str) -> String {
    format!(
        "#!/bin/sh\n# {tool} from the build host, with its own C library (see {DIR}).\n\
         case \"$0\" in */*) d=\"${{0%/*}}\" ;; *) d=/{DIR} ;; esac\n\
         exec \"$d/lib/{loader}\" --library-path \"$d/lib\" \"$d/bin/{tool}\" \"$@\"\n"
    )
}

/// Adds the tools, their libraries and wrappers under [`DIR`] in `tree`.
pub fn add(tree: &mut RootfsTree, resolved: &DiskTools) -> Result<()> {
    for (tool, bin) in &resolved.tools {
        tree.insert(
            format!("{DIR}/bin/{tool}"),
            Entry::file(FileData::Host(bin.clone()), 0o755),
        )?;
        tree.insert(
            format!("{DIR}/{tool}"),
            Entry::file(
                FileData::Bytes(wrapper(tool, &resolved.loader).into_bytes()),
                0o755,
            ),
        )?;
    }
    for (soname, file) in &resolved.libs {
        tree.insert(
            format!("{DIR}/lib/{soname}"),
            Entry::file(FileData::Host(file.clone()), 0o755),
        )?;
    }
    Ok(())
}
