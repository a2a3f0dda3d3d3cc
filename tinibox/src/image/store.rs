//! The content-addressed image store on disk, its lock and its image records.
//!
//! Layout (format version 1; distro-build writes the live system's store with
//! [`repositories_json`], [`blob_relpath`] and [`layer_relpath`]):
//! ```text
//! STORE/lock                        flock: exclusive for changes, shared for reads
//! STORE/repositories.json           {"version":1,"images":[ImageRecord…]}
//! STORE/blobs/sha256/<hex>          manifests and image configs (verified on load)
//! STORE/layers/sha256/<diff_id>/    each layer unpacked once (overlay lower-dir format)
//! STORE/containers/<id>/            a container's root: image.json, upper/, work/, merged/
//! STORE/tmp/                        staging; renamed into place only when complete
//! ```
//! Compressed layer blobs are not kept after unpacking. This module owns the records, the
//! lock and garbage collection; loading is in `load`, container roots in `rootfs`.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use super::error::{ImageError, Result};
use super::reference::{self, Reference};

/// The store format this tinibox reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// One tagged (or untagged, `<none>`) image in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Repository name, or `<none>`.
    pub name: String,
    /// Tag, or `<none>`.
    pub tag: String,
    /// `sha256:…` of the manifest.
    pub manifest_digest: String,
    /// `sha256:…` of the image config (the image ID).
    pub config_digest: String,
    /// The layers' diff_ids, bottom first.
    pub diff_ids: Vec<String>,
    /// Uncompressed size of all layers in bytes.
    pub size: u64,
    /// Creation time from the image config (RFC 3339), when it has one.
    pub created: Option<String>,
    /// The digest the registry knows the image by (its index's, for a multi-platform image),
    /// when it was pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_digest: Option<String>,
}

impl ImageRecord {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The 12-digit image ID, as Docker shows it.
    pub fn short_id(&self) -> &str {
        let hex = self.config_digest.trim_start_matches("sha256:");
        // A digest read from a loaded archive is not trusted to be ASCII: cut by characters.
        match hex.char_indices().nth(12) {
            Some((at, _)) => &hex[..at],
            None => hex,
        }
    }
}

/// The process settings an image asks for (from its config's `config` section).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRuntimeConfig {
    /// Entrypoint (may be empty).
    pub entrypoint: Vec<String>,
    /// Default command (may be empty).
    pub cmd: Vec<String>,
    /// Environment, `KEY=value`.
    pub env: Vec<String>,
    /// Working directory, when set.
    pub working_dir: Option<String>,
    /// User (`uid[:gid]` or a name), when set.
    pub user: Option<String>,
    /// ExposedPorts keys (`80/tcp`), for `run -P`.
    pub exposed_ports: Vec<String>,
    /// Docker's `Healthcheck` object (`Test`, `Interval`, `Timeout`, `StartPeriod`,
    /// `Retries`), as the config holds it; not part of the OCI image spec, so read from the
    /// document's raw JSON.
    pub healthcheck: Option<serde_json::Value>,
    /// The signal `stop` sends (`StopSignal`, Dockerfile's STOPSIGNAL), when set.
    pub stop_signal: Option<String>,
    /// The image's platform (`os/arch[/variant]`) when it is not this machine's: its
    /// programs will fail with "Exec format error" (see [`platform_mismatch_warning`]).
    pub foreign_platform: Option<String>,
}

/// Docker's warning (as `docker run` prints it) for an image of `platform` on this machine.
pub fn platform_mismatch_warning(platform: &str) -> String {
    format!(
        "WARNING: The requested image's platform ({platform}) does not match the detected host \
         platform (linux/{}) and no specific platform was requested",
        super::load::host_arch()
    )
}

#[derive(Debug, Serialize, Deserialize)]
struct Repositories {
    version: u32,
    images: Vec<ImageRecord>,
}

/// A held lock on the store (released on drop).
pub struct StoreLock {
    _file: File,
}

/// An opened image store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// Where a blob (manifest or config) lives below the store root: `blobs/sha256/<hex>`.
pub fn blob_relpath(digest: &str) -> PathBuf {
    Path::new("blobs/sha256").join(hex(digest))
}

/// Where a layer is unpacked below the store root: `layers/sha256/<diff_id hex>`.
pub fn layer_relpath(diff_id: &str) -> PathBuf {
    Path::new("layers/sha256").join(hex(diff_id))
}

/// The bytes of `repositories.json` holding `images` (sorted by name, tag and manifest), in
/// format [`FORMAT_VERSION`].
pub fn repositories_json(mut images: Vec<ImageRecord>) -> Result<Vec<u8>> {
    images.sort_by_key(|r| (r.name.clone(), r.tag.clone(), r.manifest_digest.clone()));
    let repos = Repositories {
        version: FORMAT_VERSION,
        images,
    };
    serde_json::to_vec_pretty(&repos).map_err(|e| ImageError::BadDocument {
        what: "repositories.json".into(),
        problem: e.to_string(),
    })
}

impl Store {
    /// Opens (creating when missing) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for sub in ["blobs/sha256", "layers/sha256", "containers", "tmp"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(ImageError::io(format!(
                "create image store folder {} (is --store writable? root needed)",
                dir.display()
            )))?;
        }
        let store = Store {
            root: root.to_path_buf(),
        };
        store.read_repositories()?;
        store.remove_stale_staging();
        Ok(store)
    }

    /// Removes the staging folders below `tmp/` whose process is gone (`<what>-<pid>-<n>`,
    /// see [`tempfile_dir::StagingDir`]): what a pull, push or load killed by SIGKILL, a
    /// crash or a power cut left behind. A folder of a live process is kept; so is one whose
    /// name carries no pid (nothing tinibox made). Needs no lock: nobody else owns them.
    pub fn remove_stale_staging(&self) {
        let tmp = self.root.join("tmp");
        let Ok(entries) = std::fs::read_dir(&tmp) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = tempfile_dir::owner_pid(&name) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a blob (manifest or config) by digest.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join(blob_relpath(digest))
    }

    /// Path of an unpacked layer by diff_id.
    pub fn layer_path(&self, diff_id: &str) -> PathBuf {
        self.root.join(layer_relpath(diff_id))
    }

    /// The folder of a container's root.
    pub fn container_path(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// A fresh staging folder below `tmp/` (same file system as the store).
    pub fn staging_dir(&self, what: &str) -> Result<tempfile_dir::StagingDir> {
        tempfile_dir::StagingDir::new(&self.root.join("tmp"), what)
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(ImageError::io(format!("open {}", path.display())))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        if unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            return Err(ImageError::io(format!("lock {}", path.display()))(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(StoreLock { _file: file })
    }

    /// Takes the exclusive lock (changes to records, layers or containers).
    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(true)
    }

    /// Takes the shared lock (reads).
    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    fn read_repositories(&self) -> Result<Vec<ImageRecord>> {
        let path = self.root.join("repositories.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ImageError::io(format!("read {}", path.display()))(e)),
        };
        let repos: Repositories =
            serde_json::from_slice(&bytes).map_err(|e| ImageError::BadDocument {
                what: path.display().to_string(),
                problem: e.to_string(),
            })?;
        if repos.version != FORMAT_VERSION {
            return Err(ImageError::StoreVersion {
                path: self.root.clone(),
                found: repos.version,
            });
        }
        Ok(repos.images)
    }

    /// Replaces `repositories.json` atomically. Call with the exclusive lock held.
    pub(crate) fn write_repositories(&self, images: Vec<ImageRecord>) -> Result<()> {
        let bytes = repositories_json(images)?;
        write_atomic(&self.root.join("repositories.json"), &bytes)
    }

    /// Every image record, sorted by name and tag.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let _lock = self.lock_shared()?;
        self.read_repositories()
    }

    /// Finds the image `text` names: `name[:tag]`, or a full or short digest of its ID
    /// (config) or manifest.
    pub fn resolve(&self, text: &str) -> Result<ImageRecord> {
        let _lock = self.lock_shared()?;
        self.resolve_in(&self.read_repositories()?, text)
    }

    fn resolve_in(&self, images: &[ImageRecord], text: &str) -> Result<ImageRecord> {
        let not_found = || ImageError::NoSuchImage(text.to_string());
        let by_name = |name: &str, tag: &str| {
            images
                .iter()
                .find(|r| r.name == name && r.tag == tag)
                .cloned()
        };
        match reference::parse(text).map_err(|_| not_found())? {
            Reference::Named { name, tag } => by_name(&name, &tag).ok_or_else(not_found),
            Reference::Digest {
                hex: prefix,
                also_name,
            } => {
                if let Some((name, tag)) = also_name {
                    if let Some(r) = by_name(&name, &tag) {
                        return Ok(r);
                    }
                }
                let matches: BTreeSet<&str> = images
                    .iter()
                    .filter(|r| {
                        hex(&r.config_digest).starts_with(&prefix)
                            || hex(&r.manifest_digest).starts_with(&prefix)
                    })
                    .map(|r| r.manifest_digest.as_str())
                    .collect();
                match matches.len() {
                    0 => Err(not_found()),
                    1 => images
                        .iter()
                        .find(|r| matches.contains(r.manifest_digest.as_str()))
                        .cloned()
                        .ok_or_else(not_found),
                    _ => Err(ImageError::Ambiguous(text.to_string())),
                }
            }
        }
    }

    /// The image config document of `image`.
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfiguration> {
        let path = self.blob_path(&image.config_digest);
        let bytes = std::fs::read(&path).map_err(ImageError::io(format!(
            "read the config of {} ({})",
            image.reference(),
            path.display()
        )))?;
        super::document::parse_document::<ImageConfiguration>(&bytes).map_err(|e| {
            ImageError::BadDocument {
                what: format!("config of {}", image.reference()),
                problem: e.to_string(),
            }
        })
    }

    /// The process settings of `image` (Entrypoint, Cmd, Env, WorkingDir, User).
    pub fn runtime_config(&self, image: &ImageRecord) -> Result<ImageRuntimeConfig> {
        let config = self.config(image)?;
        let foreign_platform = (*config.architecture() != super::load::host_arch()
            || *config.os() != oci_spec::image::Os::Linux)
            .then(|| {
                let platform = format!("{}/{}", config.os(), config.architecture());
                match config.variant() {
                    Some(v) => format!("{platform}/{v}"),
                    None => platform,
                }
            });
        let Some(c) = config.config() else {
            return Ok(ImageRuntimeConfig {
                foreign_platform,
                ..Default::default()
            });
        };
        Ok(ImageRuntimeConfig {
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            env: c.env().clone().unwrap_or_default(),
            working_dir: c.working_dir().clone().filter(|w| !w.is_empty()),
            user: c.user().clone().filter(|u| !u.is_empty()),
            exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
            healthcheck: self.raw_healthcheck(image),
            stop_signal: c.stop_signal().clone().filter(|s| !s.is_empty()),
            foreign_platform,
        })
    }

    /// `config.Healthcheck` of `image`'s config document (Docker's key; None when absent or
    /// unreadable).
    fn raw_healthcheck(&self, image: &ImageRecord) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.blob_path(&image.config_digest)).ok()?;
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let h = doc.get_mut("config")?.get_mut("Healthcheck")?.take();
        (!h.is_null()).then_some(h)
    }

    /// The size of an image made of the layers `diff_ids`, in bytes, counted as Docker
    /// counts a layer's size: the apparent size of every file, symlink and device below the
    /// unpacked layer (directories not counted, a hard-linked file once). Every record of one
    /// image ID gets this size, whether it was loaded, imported or pulled, with its layers
    /// new or already in the store.
    pub fn layers_size(&self, diff_ids: &[String]) -> u64 {
        diff_ids
            .iter()
            .map(|d| {
                let mut seen = BTreeSet::new();
                tree_size(&self.layer_path(d), &mut seen)
            })
            .sum()
    }

    /// Adds `records` (each replacing any image with the same name:tag), then removes what
    /// nothing refers to any more. Every record of the same image ID takes the new record's
    /// size. Blobs and layers must already be in place. Call with the exclusive lock held.
    pub(crate) fn add_records(&self, records: &[ImageRecord]) -> Result<()> {
        let mut images = self.read_repositories()?;
        for record in records {
            for same in images
                .iter_mut()
                .filter(|r| r.config_digest == record.config_digest)
            {
                same.size = record.size;
            }
            if record.name != "<none>" {
                images.retain(|r| !(r.name == record.name && r.tag == record.tag));
            }
            images.retain(|r| !(r.name == "<none>" && r.manifest_digest == record.manifest_digest));
            images.push(record.clone());
        }
        self.write_repositories(images)?;
        self.collect_garbage()
    }

    /// Records `digest` as the digest the registry knows the image `name:tag` by (after a
    /// push, as Docker records RepoDigests). Returns whether such a record exists.
    pub fn set_repo_digest(&self, name: &str, tag: &str, digest: &str) -> Result<bool> {
        let _lock = self.lock_exclusive()?;
        let mut images = self.read_repositories()?;
        let mut found = false;
        for r in images.iter_mut().filter(|r| r.name == name && r.tag == tag) {
            r.repo_digest = Some(digest.to_string());
            found = true;
        }
        if found {
            self.write_repositories(images)?;
        }
        Ok(found)
    }

    /// Containers (id, manifest digest, diff_ids) that hold a root in this store.
    pub fn containers(&self) -> Result<Vec<(String, ContainerImage)>> {
        let dir = self.root.join("containers");
        let mut out = Vec::new();
        for entry in
            std::fs::read_dir(&dir).map_err(ImageError::io(format!("list {}", dir.display())))?
        {
            let entry = entry.map_err(ImageError::io(format!("list {}", dir.display())))?;
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = std::fs::read(entry.path().join("image.json")) else {
                continue;
            };
            if let Ok(image) = serde_json::from_slice::<ContainerImage>(&bytes) {
                out.push((id, image));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Removes the image `text` names: a name:tag removes that tag; an ID removes every tag
    /// of the image. Refuses when a container uses it, unless `force`. Returns the records
    /// removed.
    pub fn remove(&self, text: &str, force: bool) -> Result<Vec<ImageRecord>> {
        let _lock = self.lock_exclusive()?;
        let images = self.read_repositories()?;
        let target = self.resolve_in(&images, text)?;
        let by_name = matches!(reference::parse(text), Ok(Reference::Named { .. }))
            && images.iter().any(|r| r.reference() == target.reference());
        let doomed: Vec<ImageRecord> = images
            .iter()
            .filter(|r| {
                if by_name {
                    r.name == target.name && r.tag == target.tag
                } else {
                    r.manifest_digest == target.manifest_digest
                }
            })
            .cloned()
            .collect();
        let remaining: Vec<ImageRecord> = images
            .iter()
            .filter(|r| !doomed.contains(r))
            .cloned()
            .collect();
        let still_tagged = remaining
            .iter()
            .any(|r| r.manifest_digest == target.manifest_digest);
        if !force && !still_tagged {
            if let Some((id, _)) = self
                .containers()?
                .into_iter()
                .find(|(_, c)| c.manifest_digest == target.manifest_digest)
            {
                return Err(ImageError::InUse {
                    image: text.to_string(),
                    container: id,
                });
            }
        }
        self.write_repositories(remaining)?;
        self.collect_garbage()?;
        Ok(doomed)
    }

    /// Deletes blobs and layers no record and no container refers to, and stale staging
    /// folders. Call with the exclusive lock held.
    pub(crate) fn collect_garbage(&self) -> Result<()> {
        let images = self.read_repositories()?;
        let mut blobs: BTreeSet<String> = BTreeSet::new();
        let mut layers: BTreeSet<String> = BTreeSet::new();
        for r in &images {
            blobs.insert(hex(&r.manifest_digest).to_string());
            blobs.insert(hex(&r.config_digest).to_string());
            layers.extend(r.diff_ids.iter().map(|d| hex(d).to_string()));
        }
        for (_, c) in self.containers()? {
            layers.extend(c.diff_ids.iter().map(|d| hex(d).to_string()));
        }
        // Staging folders of processes that died mid-load.
        self.remove_stale_staging();
        for (sub, keep) in [("blobs/sha256", &blobs), ("layers/sha256", &layers)] {
            let dir = self.root.join(sub);
            for entry in std::fs::read_dir(&dir)
                .map_err(ImageError::io(format!("list {}", dir.display())))?
            {
                let entry = entry.map_err(ImageError::io(format!("list {}", dir.display())))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let path = entry.path();
                    let removed = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.map_err(ImageError::io(format!("remove unused {}", path.display())))?;
                }
            }
        }
        Ok(())
    }
}

/// Bytes below `dir` by Docker's rule (see [`Store::layers_size`]); `seen` holds the inodes
/// already counted.
fn tree_size(dir: &Path, seen: &mut BTreeSet<u64>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += tree_size(&entry.path(), seen);
        } else if meta.len() > 0 && seen.insert(meta.ino()) {
            total += meta.len();
        }
    }
    total
}

/// What a container's root was made from (`containers/<id>/image.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerImage {
    /// The image's manifest digest.
    pub manifest_digest: String,
    /// The layers the root stacks (kept while the container exists, even after `rmi -f`).
    pub diff_ids: Vec<String>,
    /// `overlay` or `copy`.
    pub mode: String,
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(ImageError::io(format!("write {}", path.display())))
}

/// Staging folders that remove themselves unless committed.
pub mod tempfile_dir {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard};

    use super::super::error::{ImageError, Result};

    /// The staging folders of this process that exist now (removed by
    /// [`remove_all_live`] when the process is interrupted).
    static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    fn live() -> MutexGuard<'static, Vec<PathBuf>> {
        LIVE.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes every staging folder this process holds (`image::interrupt`, before exiting
    /// on a signal).
    pub fn remove_all_live() {
        for path in live().iter() {
            // A worker thread may still be writing into it: try a few times.
            for _ in 0..5 {
                if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
                    break;
                }
            }
        }
    }

    /// The pid in a staging folder's name `<what>-<pid>-<n>`, when it has one.
    pub fn owner_pid(name: &str) -> Option<u32> {
        let mut parts = name.rsplit('-');
        let n = parts.next()?;
        let pid = parts.next()?;
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| pid.parse::<u32>().ok())
            .flatten()
            .filter(|&p| p > 0)
    }

    /// A folder below the store's `tmp/`, removed on drop.
    #[derive(Debug)]
    pub struct StagingDir {
        path: PathBuf,
    }

    impl StagingDir {
        /// Creates `parent/<what>-<pid>-<n>`.
        pub fn new(parent: &Path, what: &str) -> Result<Self> {
            use std::sync::atomic::{AtomicU32, Ordering};
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{what}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            live().push(path.clone());
            if let Err(e) = std::fs::create_dir_all(&path) {
                live().retain(|p| *p != path);
                return Err(ImageError::io(format!(
                    "create staging folder {}",
                    path.display()
                ))(e));
            }
            Ok(StagingDir { path })
        }

        /// The folder.
        pub fn path(&self) -> &Path {
            &self.path
        }
    }

    impl Drop for StagingDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
            live().retain(|p| *p != self.path);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::owner_pid;

        #[test]
        fn the_owner_pid_is_read_from_the_name() {
            assert_eq!(owner_pid("pull-1234-0"), Some(1234));
            assert_eq!(owner_pid("land-77-12"), Some(77));
            assert_eq!(owner_pid("pull-x-0"), None);
            assert_eq!(owner_pid("something"), None);
            assert_eq!(owner_pid("a-0-1"), None);
        }
    }
}
