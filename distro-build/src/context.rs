//! Build context: the repository root, the output folder, the cache folder and the
//! reproducibility timestamp. It only computes paths; it creates nothing on disk.

use std::path::{Path, PathBuf};

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
    /// Timestamp stamped on every output file (`SOURCE_DATE_EPOCH`, default 0).
    pub source_date_epoch: u64,
}

impl Context {
    /// The context for `repo_root`, honouring `TINILINUX_OUT`, `TINILINUX_CACHE` and
    /// `SOURCE_DATE_EPOCH` from the environment.
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
        let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Context {
            repo_root: repo_root.to_path_buf(),
            out_dir,
            cache_dir,
            source_date_epoch,
        }
    }
}
