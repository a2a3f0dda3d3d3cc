//! Cache keys and atomic publication of build artifacts.
//!
//! A key is the sha256 of every labelled input that went into an artifact; an artifact lives
//! in `<cache>/artifacts/<stage>-<key>/` and only exists there once complete, because it is
//! built under a temporary name and renamed into place. This module knows nothing about what
//! a stage builds.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::error::{IoContext, Result};

/// Builds a cache key from labelled inputs. Labels and lengths are hashed too, so moving
/// bytes from one input to the next changes the key.
#[derive(Clone, Default)]
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    /// A key for `stage`, salted with the stage's recipe version.
    pub fn new(stage: &str, recipe_version: u32) -> Self {
        let mut k = KeyBuilder::default();
        k.bytes("stage", stage.as_bytes());
        k.bytes("recipe", &recipe_version.to_le_bytes());
        k
    }

    /// Adds one labelled input.
    pub fn bytes(&mut self, label: &str, data: &[u8]) -> &mut Self {
        self.hasher.update((label.len() as u64).to_le_bytes());
        self.hasher.update(label.as_bytes());
        self.hasher.update((data.len() as u64).to_le_bytes());
        self.hasher.update(data);
        self
    }

    /// Adds a host file's content under `label`.
    pub fn file(&mut self, label: &str, path: &Path) -> Result<&mut Self> {
        let data = fs::read(path).ctx(|| format!("reading {}", path.display()))?;
        Ok(self.bytes(label, &data))
    }

    /// The key: the first 16 hex digits of the sha256.
    pub fn finish(&self) -> String {
        let digest = self.hasher.clone().finalize();
        hex::encode(&digest[..8])
    }
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ctx(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

/// The folder of a finished artifact, `<cache>/artifacts/<stage>-<key>`.
pub fn artifact_dir(ctx: &Context, stage: &str, key: &str) -> PathBuf {
    ctx.cache_dir
        .join("artifacts")
        .join(format!("{stage}-{key}"))
}

/// Returns the artifact folder if it was completely built before.
pub fn lookup(ctx: &Context, stage: &str, key: &str) -> Option<PathBuf> {
    let dir = artifact_dir(ctx, stage, key);
    dir.is_dir().then_some(dir)
}

/// Builds an artifact folder under a temporary name with `build`, then renames it into
/// place. A failed or interrupted build leaves only the temporary folder (removed on error,
/// and ignored by [`lookup`] either way).
pub fn publish<F>(ctx: &Context, stage: &str, key: &str, build: F) -> Result<PathBuf>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let final_dir = artifact_dir(ctx, stage, key);
    let parent = final_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ctx.cache_dir.clone());
    fs::create_dir_all(&parent).ctx(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".{stage}-{key}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).ctx(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    if let Err(e) = build(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).ctx(|| format!("removing {}", final_dir.display()))?;
    }
    fs::rename(&tmp, &final_dir).ctx(|| format!("renaming into {}", final_dir.display()))?;
    prune(&parent, stage, KEEP_PER_STAGE);
    Ok(final_dir)
}

/// How many artifacts of one stage the cache keeps (the newest ones): three per target, so
/// that arm64 builds do not evict the x86_64 kernel a cache shares with them (artifact names
/// do not carry the target).
pub const KEEP_PER_STAGE: usize = 3 * crate::target::Target::ALL.len();

/// Removes all but the `keep` most recently built artifacts of `stage` in `dir`, and the
/// temporary folders interrupted builds of that stage left behind. Best effort: a folder that
/// cannot be removed is left for the next run.
pub fn prune(dir: &Path, stage: &str, keep: usize) {
    let prefix = format!("{stage}-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // Temporary folders of interrupted builds (Ctrl-C, kill) of this stage.
    let ours = format!(".tmp-{}", std::process::id());
    let stale_prefix = format!(".{stage}-");
    let entries: Vec<fs::DirEntry> = entries.flatten().collect();
    for e in &entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&stale_prefix) && name.contains(".tmp-") && !name.ends_with(&ours) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .iter()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    found.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
    for (_, path) in found.into_iter().skip(keep) {
        let _ = fs::remove_dir_all(path);
    }
}

/// Writes `data` to `dest` through a temporary file in the same folder and a rename, so
/// `dest` is either the old content or the complete new one.
pub fn write_atomic(dest: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_sibling(dest);
    fs::write(&tmp, data).ctx(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, dest).ctx(|| format!("renaming into {}", dest.display()))
}

/// Copies `src` to `dest` through a temporary file and a rename.
pub fn copy_atomic(src: &Path, dest: &Path) -> Result<()> {
    let tmp = temp_sibling(dest);
    fs::copy(src, &tmp).ctx(|| format!("copying {} to {}", src.display(), tmp.display()))?;
    fs::rename(&tmp, dest).ctx(|| format!("renaming into {}", dest.display()))
}

/// A temporary name next to `dest` (`.NAME.tmp-PID-N`), unique within this process too, so
/// two threads fetching or writing the same thing never share a temporary file.
pub fn temp_sibling(dest: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_any_input_and_label() {
        let base = KeyBuilder::new("kernel", 1);
        let mut a = base.clone();
        a.bytes("frag/base.config", b"CONFIG_A=y\n");
        let mut b = base.clone();
        b.bytes("frag/base.config", b"CONFIG_A=n\n");
        let mut c = base.clone();
        c.bytes("frag/other.config", b"CONFIG_A=y\n");
        let mut a2 = KeyBuilder::new("kernel", 1);
        a2.bytes("frag/base.config", b"CONFIG_A=y\n");
        assert_eq!(a.finish(), a2.finish());
        assert_ne!(a.finish(), b.finish());
        assert_ne!(a.finish(), c.finish());
        assert_ne!(
            KeyBuilder::new("kernel", 1).finish(),
            KeyBuilder::new("kernel", 2).finish()
        );
        // Moving bytes between adjacent inputs changes the key.
        let mut d = KeyBuilder::new("s", 1);
        d.bytes("x", b"ab").bytes("y", b"c");
        let mut e = KeyBuilder::new("s", 1);
        e.bytes("x", b"a").bytes("y", b"bc");
        assert_ne!(d.finish(), e.finish());
        assert_eq!(a.finish().len(), 16);
    }

    #[test]
    fn failed_publish_leaves_nothing_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context {
            repo_root: dir.path().into(),
            out_dir: dir.path().join("out"),
            cache_dir: dir.path().join("cache"),
            epoch: crate::epoch::Epoch::from_secs(0),
            target: crate::target::Target::X86_64,
            locked: false,
            epoch_given: true,
        };
        let err = publish(&ctx, "x", "k", |tmp| {
            fs::write(tmp.join("half"), b"partial").unwrap();
            Err(crate::error::Error::Invalid("boom".into()))
        });
        assert!(err.is_err());
        assert!(lookup(&ctx, "x", "k").is_none());
        let leftovers: Vec<_> = fs::read_dir(ctx.cache_dir.join("artifacts"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "temporary folder was not removed");
        let ok = publish(&ctx, "x", "k", |tmp| {
            fs::write(tmp.join("done"), b"ok").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(lookup(&ctx, "x", "k"), Some(ok.clone()));
        assert_eq!(fs::read(ok.join("done")).unwrap(), b"ok");
    }

    #[test]
    fn prune_keeps_the_newest_artifacts_of_one_stage() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in [
            "kernel-a",
            "kernel-b",
            "kernel-c",
            "busybox-a",
            ".kernel-x.tmp-1",
        ]
        .iter()
        .enumerate()
        {
            let p = dir.path().join(name);
            fs::create_dir(&p).unwrap();
            let t =
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            fs::File::open(&p).unwrap().set_modified(t).unwrap();
        }
        prune(dir.path(), "kernel", 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["busybox-a", "kernel-b", "kernel-c"]);
    }
}
