//! Writes a built image to disk: the OCI image layout directory, the same layout as one tar
//! archive (with a `manifest.json` so `docker load` reads it too), and the plain rootfs
//! tarball. Every output appears atomically (written under a temporary name, then renamed).
//!
//! This module owns file output only; the bytes come from `image` and `layer`.

use crate::epoch::Epoch;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tar::{EntryType, Header};

use super::image::{canonical_json, BuiltImage};
use super::OciError;

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> OciError {
    move |source| OciError::Io { what, source }
}

/// The `docker save` manifest entry (`manifest.json`), so Docker can load the archive.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// The files of the layout, as (relative path, bytes), sorted by path; `for_archive` takes
/// the archive's index.json (the image alone) instead of the directory's.
fn layout_files(image: &BuiltImage, for_archive: bool) -> Result<Vec<(String, Vec<u8>)>, OciError> {
    let layout = oci_spec::image::OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(|e| OciError::Spec(e.to_string()))?;
    let docker = vec![DockerManifestEntry {
        config: blob_path(&image.config.digest),
        repo_tags: vec![image.reference.clone()],
        layers: vec![blob_path(&image.layer.digest)],
    }];
    let mut files = vec![
        (blob_path(&image.config.digest), image.config.bytes.clone()),
        (
            blob_path(&image.manifest.digest),
            image.manifest.bytes.clone(),
        ),
        (blob_path(&image.layer.digest), image.layer.gzip.clone()),
        (
            "index.json".to_string(),
            if for_archive {
                image.archive_index.clone()
            } else {
                image.index.clone()
            },
        ),
        ("manifest.json".to_string(), canonical_json(&docker)?),
        ("oci-layout".to_string(), canonical_json(&layout)?),
    ];
    if let Some(sbom) = &image.sbom {
        files.push((
            blob_path(&sbom.document.digest),
            sbom.document.bytes.clone(),
        ));
        files.push((
            blob_path(&sbom.manifest.digest),
            sbom.manifest.bytes.clone(),
        ));
        files.push((
            blob_path(&super::layer::sha256_digest(super::image::EMPTY_JSON)),
            super::image::EMPTY_JSON.to_vec(),
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    Ok(files)
}

/// A sibling temporary path for `target` (same directory, so rename is atomic).
fn temp_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `target` atomically (temporary file, fsync, rename).
pub fn write_file_atomic(target: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let tmp = temp_sibling(target);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err(format!("write {}", target.display())))
}

/// Writes the OCI image layout directory at `dir`, replacing any previous one atomically.
pub fn write_layout_dir(dir: &Path, image: &BuiltImage) -> Result<(), OciError> {
    let tmp = temp_sibling(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<(), OciError> {
        for (rel, bytes) in layout_files(image, false)? {
            let path = tmp.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io_err(format!("create {}", parent.display())))?;
            }
            std::fs::write(&path, bytes).map_err(io_err(format!("write {}", path.display())))?;
        }
        let old = dir.with_file_name(format!(
            ".{}.old-{}",
            dir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(io_err(format!("move aside {}", dir.display())))?;
        }
        std::fs::rename(&tmp, dir).map_err(io_err(format!("rename into {}", dir.display())))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The layout as one tar archive (what `podman load`, `skopeo copy oci-archive:` and
/// `docker load` read), with every mtime set to `mtime`.
pub fn layout_archive(image: &BuiltImage, mtime: Epoch) -> Result<Vec<u8>, OciError> {
    let mut builder = tar::Builder::new(Vec::new());
    let dir = |builder: &mut tar::Builder<Vec<u8>>, path: &str| {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Directory);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime.secs());
        header.set_size(0);
        builder.append_data(&mut header, path, std::io::empty())
    };
    let err = || io_err("write the OCI archive".to_string());
    dir(&mut builder, "blobs").map_err(err())?;
    dir(&mut builder, "blobs/sha256").map_err(err())?;
    for (rel, bytes) in layout_files(image, true)? {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime.secs());
        header.set_size(bytes.len() as u64);
        builder
            .append_data(&mut header, &rel, bytes.as_slice())
            .map_err(err())?;
    }
    builder.into_inner().map_err(err())
}
