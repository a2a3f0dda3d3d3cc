//! Store-side commands that registries made necessary: `tag`, `inspect`, `save`, and
//! [`assemble`], which turns a stored image back into blobs for `push` and `save`.
//!
//! The store keeps configs, manifests and unpacked layers, not layer archives, so
//! [`assemble`] rebuilds each layer's tar (`export`); when a rebuilt tar's digest differs from
//! the recorded diff_id, the config is rewritten with the new diff_ids (same files and
//! settings, a new image ID) and [`Assembled::same_id`] says so.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::error::{RegistryError, Result};
use super::export::{write_layer, HashingWriter};
use super::manifest::{sha256_digest, OCI_MANIFEST};
use super::pull::{find_local, store_name};
use super::reference::ImageRef;
use crate::image::store::tempfile_dir::StagingDir;
use crate::image::{ImageRecord, Store};

/// OCI media type of a gzip layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI media type of an uncompressed layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI media type of an image config.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// One blob of an assembled image, as a file in the staging folder.
#[derive(Debug, Clone)]
pub struct Blob {
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// The file.
    pub path: PathBuf,
}

/// A stored image turned back into blobs.
pub struct Assembled {
    /// Holds the files; removed on drop.
    pub staging: StagingDir,
    /// The layers, bottom first.
    pub layers: Vec<Blob>,
    /// The config.
    pub config: Blob,
    /// The manifest bytes (OCI image manifest).
    pub manifest: Vec<u8>,
    /// `sha256:…` of the manifest.
    pub manifest_digest: String,
    /// Whether the config (the image ID) is the stored one.
    pub same_id: bool,
}

/// Finds the stored image a user names (`name:tag`, ID, or `name@digest` pulled earlier).
pub fn resolve(store: &Store, text: &str) -> Result<ImageRecord> {
    let key = find_local(store, text).unwrap_or_else(|| text.to_string());
    Ok(store.resolve(&key)?)
}

fn blob_path(staging: &StagingDir, digest: &str) -> PathBuf {
    staging
        .path()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Rebuilds the blobs of `record`: layers gzip-compressed when `gzip`, else plain tars.
pub fn assemble(store: &Store, record: &ImageRecord, gzip: bool) -> Result<Assembled> {
    let staging = store.staging_dir("assemble")?;
    let blobs = staging.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(RegistryError::local("create the staging folder"))?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    {
        // Layers must not be collected while they are read.
        let _lock = store.lock_shared()?;
        for (i, diff_id) in record.diff_ids.iter().enumerate() {
            let dir = store.layer_path(diff_id);
            let tmp = blobs.join(format!("layer-{i}"));
            let what = format!("archive layer {diff_id}");
            let file = File::create(&tmp).map_err(RegistryError::local(&what))?;
            let (uncompressed, blob_digest, size) = if gzip {
                let outer = HashingWriter::new(BufWriter::new(file));
                let gz = flate2::write::GzEncoder::new(outer, flate2::Compression::fast());
                let mut inner = HashingWriter::new(gz);
                write_layer(&dir, &mut inner).map_err(RegistryError::local(&what))?;
                let (plain, _, gz) = inner.finish();
                let outer = gz.finish().map_err(RegistryError::local(&what))?;
                let (digest, size, mut w) = outer.finish();
                w.flush().map_err(RegistryError::local(&what))?;
                (plain, digest, size)
            } else {
                let mut w = HashingWriter::new(BufWriter::new(file));
                write_layer(&dir, &mut w).map_err(RegistryError::local(&what))?;
                let (digest, size, mut inner) = w.finish();
                inner.flush().map_err(RegistryError::local(&what))?;
                (digest.clone(), digest, size)
            };
            let path = blobs.join(blob_digest.trim_start_matches("sha256:"));
            std::fs::rename(&tmp, &path).map_err(RegistryError::local(&what))?;
            diff_ids.push(uncompressed);
            layers.push(Blob {
                digest: blob_digest,
                size,
                media_type: if gzip { LAYER_GZIP } else { LAYER_TAR }.to_string(),
                path,
            });
        }
    }
    let stored = std::fs::read(store.blob_path(&record.config_digest))
        .map_err(RegistryError::local("read the image config"))?;
    let same_id = diff_ids == record.diff_ids;
    let config_bytes = if same_id {
        stored
    } else {
        let mut value: Value = serde_json::from_slice(&stored)
            .map_err(RegistryError::local("parse the image config"))?;
        value["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        serde_json::to_vec(&value).map_err(RegistryError::local("write the image config"))?
    };
    let config_digest = sha256_digest(&config_bytes);
    let config_path = blob_path(&staging, &config_digest);
    std::fs::write(&config_path, &config_bytes)
        .map_err(RegistryError::local("stage the image config"))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size})).collect::<Vec<_>>()
    }))
    .map_err(RegistryError::local("write the manifest"))?;
    let manifest_digest = sha256_digest(&manifest);
    std::fs::write(blob_path(&staging, &manifest_digest), &manifest)
        .map_err(RegistryError::local("stage the manifest"))?;
    Ok(Assembled {
        staging,
        layers,
        config: Blob {
            digest: config_digest,
            size: config_bytes.len() as u64,
            media_type: CONFIG.to_string(),
            path: config_path,
        },
        manifest,
        manifest_digest,
        same_id,
    })
}

/// `tag SOURCE TARGET`: records the image SOURCE names under TARGET as well.
pub fn tag(store: &Store, source: &str, target: &str) -> Result<ImageRecord> {
    let r = ImageRef::parse(target)?;
    if r.digest.is_some() {
        return Err(RegistryError::Reference(format!(
            "'{target}': a tag target cannot carry a digest"
        )));
    }
    let (name, tag) = store_name(&r);
    let found = resolve(store, source)?;
    let _lock = store.lock_exclusive()?;
    let record = ImageRecord { name, tag, ..found };
    store.add_records(std::slice::from_ref(&record))?;
    Ok(record)
}

/// `inspect`'s JSON for one image, in Docker's shape (`Id`, `RepoTags`, `RepoDigests`,
/// `Created`, `Architecture`, `Os`, `Config`, `RootFS`, `Size`, plus tinibox's
/// `ManifestDigest`).
pub fn inspect(store: &Store, text: &str) -> Result<Value> {
    let record = resolve(store, text)?;
    let config_bytes = std::fs::read(store.blob_path(&record.config_digest))
        .map_err(RegistryError::local("read the image config"))?;
    let config: Value =
        serde_json::from_slice(&config_bytes).map_err(RegistryError::local("parse the config"))?;
    let all = store.images()?;
    let same: Vec<&ImageRecord> = all
        .iter()
        .filter(|r| r.manifest_digest == record.manifest_digest)
        .collect();
    let tags: Vec<String> = same
        .iter()
        .filter(|r| r.name != "<none>" && r.tag != "<none>")
        .map(|r| r.reference())
        .collect();
    let mut digests: Vec<String> = same
        .iter()
        .filter(|r| r.name != "<none>")
        .filter_map(|r| r.repo_digest.as_ref().map(|d| format!("{}@{d}", r.name)))
        .collect();
    digests.sort();
    digests.dedup();
    Ok(json!({
        "Id": record.config_digest,
        "RepoTags": tags,
        "RepoDigests": digests,
        "ManifestDigest": record.manifest_digest,
        "Created": config.get("created").cloned().unwrap_or(Value::Null),
        "Architecture": config.get("architecture").cloned().unwrap_or(Value::Null),
        "Variant": variant_of(&config),
        "Os": config.get("os").cloned().unwrap_or(Value::Null),
        "Author": config.get("author").cloned().unwrap_or(Value::Null),
        "Config": config.get("config").cloned().unwrap_or(Value::Null),
        "RootFS": {"Type": "layers", "Layers": record.diff_ids},
        "Size": record.size,
    }))
}

/// The image's CPU variant: the config's `variant`, else `v8` for `arm64` (the only arm64
/// variant, which OCI indexes name while image configs often leave it out), else "".
fn variant_of(config: &Value) -> Value {
    match (
        config.get("variant").and_then(Value::as_str),
        config.get("architecture").and_then(Value::as_str),
    ) {
        (Some(v), _) if !v.is_empty() => json!(v),
        (_, Some("arm64")) => json!("v8"),
        _ => json!(""),
    }
}

/// Archive formats of `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// An OCI image layout in a tar (`index.json`, `oci-layout`, `blobs/`).
    Oci,
    /// The same plus Docker's `manifest.json`, which `docker load` reads.
    Docker,
}

fn append_file<W: Write>(tar: &mut tar::Builder<W>, name: &str, path: &Path) -> Result<()> {
    let mut f = File::open(path).map_err(RegistryError::local(format!("read {name}")))?;
    tar.append_file(name, &mut f)
        .map_err(RegistryError::local(format!("archive {name}")))
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, bytes)
        .map_err(RegistryError::local(format!("archive {name}")))
}

/// `save -o OUTPUT IMAGE`: writes the image as an archive (written to a temporary file next
/// to `output`, renamed when complete). Returns whether the image ID was kept.
pub fn save(store: &Store, text: &str, output: &Path, format: SaveFormat) -> Result<bool> {
    let record = resolve(store, text)?;
    let assembled = assemble(store, &record, false)?;
    let tmp = output.with_file_name(format!(
        ".{}.tmp-{}",
        output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "save".into()),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp)
            .map_err(RegistryError::local(format!("create {}", output.display())))?;
        let mut tar = tar::Builder::new(BufWriter::new(file));
        append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
        append_bytes(
            &mut tar,
            &format!("blobs/sha256/{}", hex(&assembled.manifest_digest)),
            &assembled.manifest,
        )?;
        append_file(
            &mut tar,
            &format!("blobs/sha256/{}", hex(&assembled.config.digest)),
            &assembled.config.path,
        )?;
        for l in &assembled.layers {
            append_file(
                &mut tar,
                &format!("blobs/sha256/{}", hex(&l.digest)),
                &l.path,
            )?;
        }
        let tagged = record.name != "<none>" && record.tag != "<none>";
        let mut entry = json!({
            "mediaType": OCI_MANIFEST,
            "digest": assembled.manifest_digest,
            "size": assembled.manifest.len(),
        });
        if tagged {
            entry["annotations"] = json!({
                "io.containerd.image.name": full_name(&record),
                "org.opencontainers.image.ref.name": record.tag,
            });
        }
        let index = json!({"schemaVersion": 2, "mediaType": super::manifest::OCI_INDEX, "manifests": [entry]});
        append_bytes(
            &mut tar,
            "index.json",
            &serde_json::to_vec(&index).map_err(RegistryError::local("write index.json"))?,
        )?;
        if format == SaveFormat::Docker {
            let manifest = json!([{
                "Config": format!("blobs/sha256/{}", hex(&assembled.config.digest)),
                "RepoTags": if tagged { vec![record.reference()] } else { Vec::new() },
                "Layers": assembled.layers.iter().map(|l| format!("blobs/sha256/{}", hex(&l.digest))).collect::<Vec<_>>(),
            }]);
            append_bytes(
                &mut tar,
                "manifest.json",
                &serde_json::to_vec(&manifest)
                    .map_err(RegistryError::local("write manifest.json"))?,
            )?;
        }
        let mut w = tar
            .into_inner()
            .map_err(RegistryError::local("finish the archive"))?;
        w.flush()
            .map_err(RegistryError::local("finish the archive"))?;
        std::fs::rename(&tmp, output)
            .map_err(RegistryError::local(format!("write {}", output.display())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| assembled.same_id)
}

/// The fully qualified name of a record (`docker.io/library/alpine:latest`).
pub fn full_name(record: &ImageRecord) -> String {
    match ImageRef::parse(&record.reference()) {
        Ok(r) => format!("{}:{}", r.full_name(), record.tag),
        Err(_) => record.reference(),
    }
}
