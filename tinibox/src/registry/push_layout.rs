//! Pushing an OCI image layout (image-spec v1.1, `image-layout.md`) to a registry byte for
//! byte: what `distro-build push` does with `out/oci/`, so the registry serves exactly the
//! manifest digests the build made (and that the SBOM and the reproducibility checks name).
//!
//! The entry of the layout's `index.json` whose `org.opencontainers.image.ref.name` is the
//! wanted name is pushed under the reference's tag: every blob it reaches (through an image
//! index, every platform's manifest, config and layers) first, child manifests by digest, then
//! the top one under the tag. Referrers — entries with an `artifactType` whose manifest's
//! `subject` is the pushed image (the image SBOM) — follow by digest; a registry that predates
//! OCI 1.1 may refuse them, which is reported as a warning line and does not fail the push.
//! Blobs go through [`super::push::upload`] (HEAD first, then monolithic or chunked upload).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::client::Client;
use super::credentials;
use super::error::{RegistryError, Result};
use super::local::Blob;
use super::manifest::{sha256_digest, DOCKER_LIST, OCI_INDEX};
use super::progress::Progress;
use super::push::{put_manifest, upload, Pushed};
use super::reference::{valid_digest, ImageRef};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One manifest of the layout, read and checked against its digest.
struct Doc {
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
    json: Value,
}

fn local(problem: String) -> RegistryError {
    RegistryError::Local {
        what: "push the image layout".into(),
        problem,
    }
}

fn blob_path(layout: &Path, digest: &str) -> Result<PathBuf> {
    if !valid_digest(digest) {
        return Err(local(format!("{digest:?} is not a sha256 digest")));
    }
    Ok(layout.join("blobs/sha256").join(&digest[7..]))
}

fn read_doc(layout: &Path, descriptor: &Value) -> Result<Doc> {
    let digest = descriptor["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = blob_path(layout, &digest)?;
    let bytes =
        std::fs::read(&path).map_err(|e| local(format!("cannot read {}: {e}", path.display())))?;
    if sha256_digest(&bytes) != digest {
        return Err(local(format!(
            "{} does not hash to its name: the layout is damaged",
            path.display()
        )));
    }
    let json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| local(format!("{} is not JSON: {e}", path.display())))?;
    let media_type = descriptor["mediaType"]
        .as_str()
        .or_else(|| json["mediaType"].as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Doc {
        digest,
        media_type,
        bytes,
        json,
    })
}

fn blob_of(layout: &Path, descriptor: &Value) -> Result<Blob> {
    let digest = descriptor["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = blob_path(layout, &digest)?;
    let size = std::fs::metadata(&path)
        .map_err(|e| local(format!("cannot read {}: {e}", path.display())))?
        .len();
    Ok(Blob {
        digest,
        size,
        media_type: descriptor["mediaType"].as_str().unwrap_or_default().into(),
        path,
    })
}

/// Pushes the blobs `doc` reaches, then the child manifests by digest (not `doc` itself).
fn push_below(
    client: &Client,
    repo: &str,
    layout: &Path,
    doc: &Doc,
    progress: &Arc<Progress>,
) -> Result<()> {
    if doc.media_type == OCI_INDEX || doc.media_type == DOCKER_LIST {
        for child in doc.json["manifests"].as_array().into_iter().flatten() {
            let child = read_doc(layout, child)?;
            push_below(client, repo, layout, &child, progress)?;
            put_manifest(client, repo, &child.digest, &child.media_type, &child.bytes)?;
        }
        return Ok(());
    }
    let descriptors = doc.json["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&doc.json["config"]));
    for descriptor in descriptors {
        let blob = blob_of(layout, descriptor)?;
        let line = progress.line(&blob.digest, blob.size, "Preparing");
        upload(client, repo, &blob, None, &line).inspect_err(|_| line.set_status("Failed"))?;
    }
    Ok(())
}

/// Pushes the image named `name` (its `ref.name`, e.g. `latest`) of the OCI layout at
/// `layout` to the registry reference `target` (`HOST[:PORT]/REPO[:TAG]`), blobs and
/// manifests unchanged, then its referrers (see the module doc).
///
/// Errors: an unreadable or damaged layout, no entry named `name`, and every registry error
/// of [`Client::connect`], [`upload`] and [`put_manifest`].
pub fn push_layout(
    layout: &Path,
    name: &str,
    target: &str,
    progress: &Arc<Progress>,
) -> Result<Pushed> {
    let r = ImageRef::parse(target)?;
    let index_path = layout.join("index.json");
    let index: Value = std::fs::read(&index_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| local(format!("cannot read {}: {e}", index_path.display())))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let entry = entries
        .iter()
        .find(|m| m["annotations"][REF_NAME] == name)
        .ok_or_else(|| {
            local(format!(
                "{} has no image named {name:?} — check the layout or build it first",
                layout.display()
            ))
        })?;
    let top = read_doc(layout, entry)?;
    let creds = credentials::lookup(&r.domain)?;
    let client = Client::connect(
        r.api_host(),
        vec![format!("repository:{}:pull,push", r.path)],
        creds,
    )?;
    progress.message(&format!(
        "The push refers to repository [{}]",
        r.full_name()
    ));
    let drawer = progress.start();
    let result = push_below(&client, &r.path, layout, &top, progress);
    progress.finish(drawer);
    result?;
    let reference = r.tag.as_deref().unwrap_or(r.reference());
    put_manifest(&client, &r.path, reference, &top.media_type, &top.bytes)?;
    progress.message(&format!(
        "{reference}: digest: {} size: {}",
        top.digest,
        top.bytes.len()
    ));
    for referrer in entries.iter().filter(|m| m.get("artifactType").is_some()) {
        let doc = read_doc(layout, referrer)?;
        if doc.json["subject"]["digest"] != top.digest.as_str() {
            continue;
        }
        let pushed = push_below(&client, &r.path, layout, &doc, progress).and_then(|()| {
            put_manifest(&client, &r.path, &doc.digest, &doc.media_type, &doc.bytes)
        });
        match pushed {
            Ok(()) => progress.message(&format!(
                "referrer {} ({}): pushed",
                doc.digest,
                referrer["artifactType"].as_str().unwrap_or_default()
            )),
            Err(e) => progress.message(&format!(
                "WARNING: referrer {} was not accepted ({e}); the image itself is pushed",
                doc.digest
            )),
        }
    }
    Ok(Pushed {
        digest: top.digest.clone(),
        size: top.bytes.len(),
        same_id: true,
    })
}
