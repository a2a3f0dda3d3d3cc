//! Getting the sources: the kernel tarball from Debian's `linux-source-6.1` binary package
//! ([`linux`]) and BusyBox's Debian source package ([`busybox`]), both at the versions
//! `sources.lock` pins (fetched and
//! checked by [`crate::debian`], never read from the host's `/usr/src`), then unpacked into
//! the cache under a temporary name and renamed. It builds nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::Context;
use crate::debian;
use crate::error::{Error, IoContext, Result};
use crate::kernel_patches;
use crate::lock::Lock;
use crate::runner::{run_logged, Stage};

/// The Debian binary package whose tarball is the kernel's source.
pub const KERNEL_PACKAGE: &str = "linux-source-6.1";

/// The kernel tarball's path inside the `linux-source-6.1` package.
pub const KERNEL_TARBALL_IN_DEB: &str = "usr/src/linux-source-6.1.tar.xz";

/// The kernel's unpacked, verified source tree.
#[derive(Debug, Clone)]
pub struct KernelSource {
    /// The kernel source tree.
    pub tree: PathBuf,
    /// sha256 of the kernel source package's .deb (part of the kernel cache key).
    pub sha256: String,
    /// Every patch of `kernel-patches/`, applied to `tree` in this order
    /// ([`crate::kernel_patches`]); each target's key takes the ones it lists.
    pub patches: Vec<kernel_patches::Patch>,
}

/// BusyBox's unpacked, verified source tree.
#[derive(Debug, Clone)]
pub struct BusyBoxSource {
    /// The BusyBox source tree (Debian patches applied).
    pub tree: PathBuf,
    /// The BusyBox Debian version.
    pub version: String,
}

/// Unpacks with `unpack(tmp)` into `dest` via a temporary sibling folder and a rename.
fn unpack_once<F: FnOnce(&Path) -> Result<()>>(dest: &Path, unpack: F) -> Result<()> {
    if dest.is_dir() {
        return Ok(());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    let tmp = crate::cache::temp_sibling(dest);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    if let Err(e) = unpack(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dest).ctx(|| format!("renaming into {}", dest.display()))
}

fn unpack_linux(
    ctx: &Context,
    lock: &Lock,
    patches: &[kernel_patches::Patch],
    stage: &Stage,
) -> Result<(PathBuf, String)> {
    let (deb, sha256) = debian::fetch_binary(ctx, lock, KERNEL_PACKAGE)?;
    // One unpacked tree, stamped with the package's sha256 and the patches applied to it:
    // the kernel's out-of-tree build folder refers to it by absolute path, so its name stays
    // the same across versions. Unpacking again keeps the tarball's file dates, so only what
    // a changed patch touches is rebuilt.
    let dest = ctx.cache_dir.join("src").join("linux-source-6.1");
    let stamp = dest.join(".tinilinux-sha256");
    let wanted = kernel_patches::stamp(&sha256, patches);
    let current = fs::read_to_string(&stamp).unwrap_or_default();
    if dest.is_dir() && current.trim() != wanted {
        stage.note(
            "kernel source package or kernel-patches/ changed: removing the old unpacked tree",
        );
        fs::remove_dir_all(&dest).ctx(|| format!("removing {}", dest.display()))?;
    }
    if !dest.is_dir() {
        stage.note(&format!("unpacking {}", deb.display()));
    }
    let log = ctx.cache_dir.join("logs/sources.log");
    unpack_once(&dest, |tmp| {
        // The package holds one file that matters, the tarball: stream it out of the
        // package's data archive straight into the tar that unpacks it.
        run_logged(
            "unpacking the kernel tarball from the linux-source-6.1 package",
            Command::new("bash")
                .arg("-euo")
                .arg("pipefail")
                .arg("-c")
                .arg(format!(
                    "dpkg-deb --fsys-tarfile \"$1\" | tar -xOf - ./{KERNEL_TARBALL_IN_DEB} \
                     | tar -xJf - -C \"$2\" --strip-components=1"
                ))
                .arg("bash")
                .arg(&deb)
                .arg(tmp),
            &log,
        )?;
        if !tmp.join("Makefile").is_file() {
            return Err(Error::Invalid(format!(
                "{} holds no kernel tree at /{KERNEL_TARBALL_IN_DEB}; check the linux-source-6.1 line of sources.lock",
                deb.display()
            )));
        }
        kernel_patches::apply(tmp, patches, &log)?;
        fs::write(tmp.join(".tinilinux-sha256"), &wanted)
            .ctx(|| format!("stamping {}", tmp.display()))
    })?;
    Ok((dest, sha256))
}

fn unpack_busybox(ctx: &Context, lock: &Lock, stage: &Stage) -> Result<(PathBuf, String)> {
    unpack_source_package(ctx, lock, "busybox", stage)
}

/// Verifies and unpacks the Debian source package `package` pinned in sources.lock with
/// `dpkg-source -x` (Debian's patches applied) into `src/PACKAGE-VERSION/` of the cache, once;
/// returns the tree and the version used.
///
/// Errors: as [`debian::fetch_source`]; no `.dsc` among the pinned files; dpkg-source failing
/// (logs/sources.log).
pub fn debian_source(ctx: &Context, package: &str) -> Result<(PathBuf, String)> {
    let stage = Stage::start(
        "sources",
        &format!("{package} from Debian, checked against sources.lock"),
    );
    let lock = debian::load_lock(ctx)?;
    let (tree, version) = unpack_source_package(ctx, &lock, package, &stage)?;
    stage.done(&format!("{package} {version}"));
    Ok((tree, version))
}

fn unpack_source_package(
    ctx: &Context,
    lock: &Lock,
    package: &str,
    stage: &Stage,
) -> Result<(PathBuf, String)> {
    let (downloads, version) = debian::fetch_source(ctx, lock, package)?;
    let dsc = fs::read_dir(&downloads)
        .ctx(|| format!("reading {}", downloads.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "dsc"))
        .ok_or_else(|| Error::Invalid(format!("no .dsc in {}", downloads.display())))?;
    let log = ctx.cache_dir.join("logs/sources.log");
    let dest = ctx
        .cache_dir
        .join("src")
        .join(format!("{package}-{}", version.replace(':', "_")));
    if !dest.is_dir() {
        stage.note("unpacking with dpkg-source (Debian patches applied)");
    }
    unpack_once(&dest, |tmp| {
        let tree = tmp.join("tree");
        run_logged(
            &format!("dpkg-source -x {package}"),
            Command::new("dpkg-source")
                .arg("--no-check")
                .arg("-x")
                .arg(&dsc)
                .arg(&tree),
            &log,
        )?;
        // Move the tree's content up so `dest` is the source root.
        for entry in fs::read_dir(&tree).ctx(|| format!("reading {}", tree.display()))? {
            let entry = entry.ctx(|| format!("reading {}", tree.display()))?;
            fs::rename(entry.path(), tmp.join(entry.file_name()))
                .ctx(|| format!("moving {}", entry.path().display()))?;
        }
        fs::remove_dir(&tree).ctx(|| format!("removing {}", tree.display()))
    })?;
    Ok((dest, version))
}

/// Verifies and unpacks the kernel's source package and applies `kernel-patches/` (a no-op
/// when already unpacked with the same patches, apart from the checksum verification).
pub fn linux(ctx: &Context) -> Result<KernelSource> {
    let stage = Stage::start(
        "sources",
        "kernel from Debian, checked against sources.lock",
    );
    let lock = debian::load_lock(ctx)?;
    let patches = kernel_patches::read_all(&ctx.repo_root)?;
    let (tree, sha256) = unpack_linux(ctx, &lock, &patches, &stage)?;
    stage.done(&format!(
        "linux-source-6.1 {} + {} patch(es) from {}/",
        &sha256[..12],
        patches.len(),
        kernel_patches::DIR
    ));
    Ok(KernelSource {
        tree,
        sha256,
        patches,
    })
}

/// Verifies and unpacks BusyBox's Debian source package (a no-op when already unpacked,
/// apart from the checksum verification).
pub fn busybox(ctx: &Context) -> Result<BusyBoxSource> {
    let stage = Stage::start(
        "sources",
        "BusyBox from Debian, checked against sources.lock",
    );
    let lock = debian::load_lock(ctx)?;
    let (tree, version) = unpack_busybox(ctx, &lock, &stage)?;
    stage.done(&format!("busybox {version}"));
    Ok(BusyBoxSource { tree, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_unpack_leaves_no_folder_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("src/tree");
        let err = unpack_once(&dest, |tmp| {
            fs::write(tmp.join("half"), b"x").unwrap();
            Err(Error::Invalid("interrupted".into()))
        });
        assert!(err.is_err());
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(dir.path().join("src")).unwrap().count(), 0);
    }
}
