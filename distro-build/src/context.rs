//! Build context: the repository root, the output folder, the cache folder, the
//! reproducibility clock ([`Epoch`]) and the machine built for ([`Target`]). It only computes paths and reads the last commit's
//! date; it creates nothing on disk.

use std::path::{Path, PathBuf};

use crate::epoch::Epoch;
use crate::target::Target;

/// Where a build reads from and writes to.
#[derive(Debug, Clone)]
pub struct Context {
    /// The repository root (holds `kernel-configs/`, `oci-images/`, `distro-build/rootfs/`).
    pub repo_root: PathBuf,
    /// Build outputs (`out/` at the repo root, or `TINILINUX_OUT`).
    pub out_dir: PathBuf,
    /// Sources and build trees, keyed by their inputs (`TINILINUX_CACHE`, or
    /// `$XDG_CACHE_HOME/tinilinux`, or `~/.cache/tinilinux`).
    pub cache_dir: PathBuf,
    /// The date stamped on every output: `SOURCE_DATE_EPOCH`, else the time of the
    /// repository's last commit (the reproducible-builds convention), else
    /// [`Epoch::FALLBACK`] outside a git checkout.
    pub epoch: Epoch,
    /// The machine the outputs are for (kernel arch, Rust triple, GRUB platforms, …).
    pub target: Target,
    /// Whether `SOURCE_DATE_EPOCH` was given (then every output uses it as it is).
    pub epoch_given: bool,
    /// Refuse to fall back when a pinned package version has left the archive
    /// (`--locked`, or `TINILINUX_LOCKED=1`).
    pub locked: bool,
}

impl Context {
    /// The date for a component whose inputs are `paths` (relative to the repository): the
    /// given `SOURCE_DATE_EPOCH`, else the last commit that touched them, else the build's
    /// date. A component dated by its own inputs (the kernel, BusyBox) is not rebuilt by a
    /// commit elsewhere, and is still the same on every machine for the same commit.
    pub fn epoch_of(&self, paths: &[&str]) -> Epoch {
        if self.epoch_given {
            return self.epoch;
        }
        Epoch::last_commit(&self.repo_root, paths).unwrap_or(self.epoch)
    }

    /// Switches the build to `target`: its outputs go to `<out>/<target>/` unless it is the
    /// default target (the cache is shared: every artifact's key names its target).
    pub fn set_target(&mut self, target: Target) {
        if !target.is_default() && self.target.is_default() {
            self.out_dir = self.out_dir.join(target.name);
        }
        self.target = target;
    }

    /// The output folder of the default target (`out/`), where the multi-platform image
    /// index `oci/` lives.
    pub fn shared_out_dir(&self) -> PathBuf {
        match self.target.is_default() {
            true => self.out_dir.clone(),
            false => self
                .out_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.out_dir.clone()),
        }
    }

    /// The cache's build folder `build/<name>` of the default target, `build/<name>-<target>`
    /// of another one, so switching `--arch` keeps both trees.
    pub fn build_dir(&self, name: &str) -> PathBuf {
        self.cache_dir.join("build").join(self.per_target(name))
    }

    /// The cache's log `logs/<name>.log` (`logs/<name>-<target>.log` for a target other than
    /// the default).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.cache_dir
            .join("logs")
            .join(format!("{}.log", self.per_target(name)))
    }

    fn per_target(&self, name: &str) -> String {
        match self.target.is_default() {
            true => name.to_string(),
            false => format!("{name}-{}", self.target.name),
        }
    }

    /// The context for `repo_root`, honouring `TINILINUX_OUT`, `TINILINUX_CACHE` and
    /// `SOURCE_DATE_EPOCH` and `TINILINUX_LOCKED` from the environment.
    pub fn from_env(repo_root: &Path) -> Self {
        let out_dir = std::env::var_os("TINILINUX_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join("out"));
        let cache_dir = std::env::var_os("TINILINUX_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tinilinux"))
            })
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/tinilinux")))
            .unwrap_or_else(|| PathBuf::from("/var/cache/tinilinux"));
        let given = Epoch::from_env();
        let epoch = given
            .or_else(|| Epoch::last_commit(repo_root, &[]))
            .unwrap_or(Epoch::FALLBACK);
        Context {
            repo_root: repo_root.to_path_buf(),
            out_dir,
            cache_dir,
            epoch,
            target: Target::default(),
            epoch_given: given.is_some(),
            locked: std::env::var("TINILINUX_LOCKED").is_ok_and(|v| v == "1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_default_date_is_the_last_commit_and_a_fixed_one_outside_git() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        // The same commit's date as git prints it for people, in UTC.
        let out = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["show", "-s", "--date=format-local:%Y-%m-%dT%H:%M:%SZ"])
            .arg("--format=%cd")
            .arg("HEAD")
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let iso = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let t = Epoch::last_commit(repo, &[])
            .expect("the repository is a git checkout")
            .secs();
        let from_iso = humantime::parse_rfc3339(&iso)
            .unwrap_or_else(|e| panic!("{iso}: {e}"))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(t, from_iso, "{iso}");
        let expected = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(t);
        assert_eq!(Context::from_env(repo).epoch.secs(), expected);
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(Epoch::last_commit(outside.path(), &[]), None);
        let lock_time = Epoch::last_commit(repo, &["distro-build/sources.lock"]).unwrap();
        assert!(lock_time.secs() <= t);
    }
}
