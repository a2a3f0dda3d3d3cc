//! Getting the sources: the kernel tarball from Debian's `linux-source-6.1` package and
//! BusyBox's Debian source package (`apt-get source`), both checked against
//! `sources.lock`, then unpacked into the cache under a temporary name and renamed.
//! It builds nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::sha256_file;
use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::lock::{Lock, Pin};
use crate::runner::{run_logged, Stage};

/// Where Debian's linux-source package installs the tarball.
pub const KERNEL_TARBALL_DIR: &str = "/usr/src";

/// The unpacked, verified sources.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The kernel source tree.
    pub linux: PathBuf,
    /// sha256 of the kernel tarball (part of the kernel cache key).
    pub linux_sha256: String,
    /// The BusyBox source tree (Debian patches applied).
    pub busybox: PathBuf,
    /// The BusyBox Debian version.
    pub busybox_version: String,
}

/// The lock file of this repository.
pub fn lock_path(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("distro-build/sources.lock")
}

fn verify(path: &Path, pin: &Pin) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual != pin.sha256 {
        return Err(Error::Checksum {
            path: path.to_path_buf(),
            expected: pin.sha256.clone(),
            actual,
        });
    }
    Ok(())
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

fn linux(ctx: &Context, lock: &Lock, stage: &Stage) -> Result<(PathBuf, String)> {
    let pins = lock.package("linux-source-6.1")?;
    let pin = pins[0];
    let tarball = Path::new(KERNEL_TARBALL_DIR).join(&pin.file);
    if !tarball.is_file() {
        return Err(Error::MissingTool {
            tool: tarball.display().to_string(),
            package: format!("{}={}", pin.package, pin.version),
        });
    }
    verify(&tarball, pin)?;
    // One unpacked tree, stamped with the tarball's sha256: the kernel's out-of-tree build
    // folder refers to it by absolute path, so its name stays the same across versions.
    let dest = ctx.cache_dir.join("src").join("linux-source-6.1");
    let stamp = dest.join(".tinilinux-sha256");
    let current = fs::read_to_string(&stamp).unwrap_or_default();
    if dest.is_dir() && current.trim() != pin.sha256 {
        stage.note("kernel tarball changed: removing the old unpacked tree");
        fs::remove_dir_all(&dest).ctx(|| format!("removing {}", dest.display()))?;
    }
    if !dest.is_dir() {
        stage.note(&format!("unpacking {}", tarball.display()));
    }
    let log = ctx.cache_dir.join("logs/sources.log");
    unpack_once(&dest, |tmp| {
        run_logged(
            "unpacking the kernel tarball",
            Command::new("tar")
                .arg("-xf")
                .arg(&tarball)
                .arg("-C")
                .arg(tmp)
                .arg("--strip-components=1"),
            &log,
        )?;
        fs::write(tmp.join(".tinilinux-sha256"), &pin.sha256)
            .ctx(|| format!("stamping {}", tmp.display()))
    })?;
    Ok((dest, pin.sha256.clone()))
}

fn busybox(ctx: &Context, lock: &Lock, stage: &Stage) -> Result<(PathBuf, String)> {
    let pins = lock.package("busybox")?;
    let version = pins[0].version.clone();
    let safe_version = version.replace(':', "_");
    let downloads = ctx
        .cache_dir
        .join("downloads")
        .join(format!("busybox-{safe_version}"));
    let log = ctx.cache_dir.join("logs/sources.log");
    if !downloads.is_dir() {
        stage.note(&format!("apt-get source busybox={version}"));
        unpack_once(&downloads, |tmp| {
            run_logged(
                "apt-get source busybox (is there a deb-src entry? scripts/install-deps.sh adds one)",
                Command::new("apt-get")
                    .args(["source", "--download-only", "-q"])
                    .arg(format!("busybox={version}"))
                    .current_dir(tmp),
                &log,
            )
        })?;
    }
    for pin in &pins {
        let file = downloads.join(&pin.file);
        if !file.is_file() {
            return Err(Error::Invalid(format!(
                "{} is missing from the download cache; delete {} and run `distro-build sources` again",
                pin.file,
                downloads.display()
            )));
        }
        verify(&file, pin)?;
    }
    let dsc = pins
        .iter()
        .find(|p| p.file.ends_with(".dsc"))
        .ok_or_else(|| Error::Invalid("sources.lock pins no .dsc for busybox".into()))?;
    let dest = ctx
        .cache_dir
        .join("src")
        .join(format!("busybox-{safe_version}"));
    if !dest.is_dir() {
        stage.note("unpacking with dpkg-source (Debian patches applied)");
    }
    unpack_once(&dest, |tmp| {
        let tree = tmp.join("tree");
        run_logged(
            "dpkg-source -x busybox",
            Command::new("dpkg-source")
                .arg("--no-check")
                .arg("-x")
                .arg(downloads.join(&dsc.file))
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

/// Verifies and unpacks both source packages (a no-op when already unpacked, apart from the
/// checksum verification).
pub fn fetch(ctx: &Context) -> Result<Sources> {
    let stage = Stage::start(
        "sources",
        "kernel + BusyBox from Debian, checked against sources.lock",
    );
    let lock = Lock::load(&lock_path(ctx))?;
    let (linux, linux_sha256) = linux(ctx, &lock, &stage)?;
    let (busybox, busybox_version) = busybox(ctx, &lock, &stage)?;
    stage.done(&format!(
        "linux {} + busybox {busybox_version}",
        &linux_sha256[..12]
    ));
    Ok(Sources {
        linux,
        linux_sha256,
        busybox,
        busybox_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(sha256: &str) -> Pin {
        Pin {
            package: "busybox".into(),
            version: "1".into(),
            file: "f".into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn a_corrupt_download_is_refused_with_both_sums() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"hello\n").unwrap();
        let good = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        verify(&file, &pin(good)).unwrap();
        fs::write(&file, b"hellO\n").unwrap();
        let err = verify(&file, &pin(good)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Checksum { .. }));
        assert!(msg.contains(good) && msg.contains("sources.lock"), "{msg}");
    }

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
