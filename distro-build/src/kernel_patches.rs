//! TiniLinux's own kernel patches: the `*.patch` files in `kernel-patches/` (unified diffs
//! against Debian's linux-source-6.1 tree, `patch -p1`, each opening with a description of
//! what it changes and why). Every patch is applied to the one unpacked kernel tree
//! ([`crate::sources::linux`]); a target lists the patches that change its build
//! ([`crate::target::Target::kernel_patches`]) and those go into its kernel's cache key. A
//! patch that can change what another target compiles must therefore be listed by that
//! target too (a patch that only adds an option the target does not set need not be). This module reads, fingerprints and applies them; it builds nothing.
//!
//! GRUB's patches (`grub-patches/`, [`crate::boot::grub_source`]) are read, fingerprinted and
//! applied by the same functions ([`read_folder`], [`stamp`], [`apply_from`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::runner::run_logged;

/// The folder holding the patches, relative to the repository.
pub const DIR: &str = "kernel-patches";

/// One patch: its file name in [`DIR`] and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The file name, e.g. `x86-kernel-image-page-align.patch`.
    pub name: String,
    /// The whole file: description and diff.
    pub text: String,
}

/// The folder of patches in the repository at `repo_root`.
pub fn dir(repo_root: &Path) -> PathBuf {
    repo_root.join(DIR)
}

/// Every `*.patch` in `repo_root`/[`DIR`], sorted by file name (the order they are applied
/// in). No folder means no patches. Errors: an unreadable folder or file.
pub fn read_all(repo_root: &Path) -> Result<Vec<Patch>> {
    read_folder(&dir(repo_root))
}

/// Every `*.patch` in the folder `dir`, sorted by file name (the order they are applied in).
/// No folder means no patches. Errors: an unreadable folder or file.
pub fn read_folder(dir: &Path) -> Result<Vec<Patch>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .ctx(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "patch") && p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).ctx(|| format!("reading {}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Patch { name, text })
        })
        .collect()
}

/// The patches named in `names`, taken from `all`. Errors: a name with no such file in
/// [`DIR`] (a target listing a patch that was renamed or removed).
pub fn select(all: &[Patch], names: &[&str]) -> Result<Vec<Patch>> {
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|p| p.name == *name)
                .cloned()
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "the target lists kernel patch {name}, which is not in {DIR}/: \
                         add the file or fix the target's kernel_patches (distro-build/src/target.rs)"
                    ))
                })
        })
        .collect()
}

/// The stamp of a tree made from the tarball with sha256 `tarball_sha256` and `patches`:
/// the tarball's sha256, then one `patch NAME SHA256` line per patch. A tree whose stamp
/// differs is unpacked again.
pub fn stamp(tarball_sha256: &str, patches: &[Patch]) -> String {
    let mut out = tarball_sha256.to_string();
    for p in patches {
        out.push_str(&format!(
            "\npatch {} {}",
            p.name,
            hex::encode(Sha256::digest(p.text.as_bytes()))
        ));
    }
    out
}

/// Applies `patches` in order to the kernel tree `tree` with `patch -p1 --forward`, logging
/// to `log`. Errors: `patch` missing or a patch that does not apply (its name and the log).
pub fn apply(tree: &Path, patches: &[Patch], log: &Path) -> Result<()> {
    apply_from(DIR, tree, patches, log)
}

/// Applies `patches`, read from the repository's folder `folder` (named in the log and the
/// errors), in order to the source tree `tree`, as [`apply`] does.
pub fn apply_from(folder: &str, tree: &Path, patches: &[Patch], log: &Path) -> Result<()> {
    for p in patches {
        let file = tree.join(format!(".tinilinux-{}", p.name));
        fs::write(&file, &p.text).ctx(|| format!("writing {}", file.display()))?;
        let result = run_logged(
            &format!("applying the patch {folder}/{}", p.name),
            Command::new("patch")
                .arg("-p1")
                .arg("--forward")
                .arg("--batch")
                .arg("--no-backup-if-mismatch")
                .arg("-d")
                .arg(tree)
                .arg("-i")
                .arg(&file),
            log,
        );
        let _ = fs::remove_file(&file);
        result?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(name: &str, text: &str) -> Patch {
        Patch {
            name: name.into(),
            text: text.into(),
        }
    }

    #[test]
    fn stamp_changes_with_any_patch_byte_and_the_tarball() {
        let a = [patch("a.patch", "one")];
        let base = stamp("aa", &a);
        assert_eq!(base, stamp("aa", &a));
        assert_ne!(base, stamp("bb", &a));
        assert_ne!(base, stamp("aa", &[patch("a.patch", "two")]));
        assert_ne!(base, stamp("aa", &[]));
        assert_eq!(stamp("aa", &[]), "aa");
    }

    #[test]
    fn select_names_a_missing_patch() {
        let all = [patch("a.patch", "x")];
        assert_eq!(select(&all, &["a.patch"]).unwrap(), all.to_vec());
        let err = select(&all, &["b.patch"]).unwrap_err().to_string();
        assert!(err.contains("b.patch"), "{err}");
    }

    #[test]
    fn the_repository_patches_are_described_unified_diffs() {
        // A description before the first file header, then a unified diff.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let grub = read_folder(&root.join(crate::boot::grub_source::PATCHES_DIR)).unwrap();
        assert!(!grub.is_empty(), "no GRUB patches read");
        for p in read_all(&root).unwrap().into_iter().chain(grub) {
            let first = p.text.find("\n--- a/").expect("a unified diff");
            assert!(first > 0, "{} has no description", p.name);
            assert!(p.text.contains("\n+++ b/"), "{}", p.name);
        }
    }
}
