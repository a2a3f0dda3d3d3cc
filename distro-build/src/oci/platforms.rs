//! One image index for every architecture built: `out/oci/` names `tinilinux:latest` once,
//! and that name points at an image index (the OCI image spec's "image index", what
//! `docker buildx` writes and a registry serves as a multi-platform tag) listing one image
//! manifest per platform, each with its `platform` (`linux/amd64`, `linux/arm64`).
//!
//! Each architecture's build writes its own single-platform layout first (`out/oci/` for
//! x86_64, `out/<target>/oci/` for another), then [`merge`] rewrites `out/oci/` from what
//! those layouts hold: the platforms of `out/oci/` (single image, or an index already merged)
//! and of every other target's layout, the newer layout winning for its own platform. With
//! only x86_64 built nothing changes: `out/oci/` stays the single-platform layout. The SBOM
//! referrers listed in the layouts' indexes stay listed beside the tag, for the manifests
//! that remain. Every document is canonical JSON, so the index digest is the same on every
//! build from the same inputs.
//!
//! It reads and writes only `out/oci/` and reads the other targets' layouts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::image::canonical_json;
use super::layer::sha256_digest;
use super::OciError;
use crate::target::Target;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> OciError {
    move |source| OciError::Io { what, source }
}

fn bad(layout: &Path, problem: &str) -> OciError {
    OciError::Spec(format!("{}: {problem}", layout.display()))
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn read_json(path: &Path) -> Result<Value, OciError> {
    let bytes = std::fs::read(path).map_err(io_err(format!("read {}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| OciError::Spec(format!("{}: {e}", path.display())))
}

/// What one layout contributes: per platform (`os/architecture`) the image manifest's
/// descriptor, and the referrer descriptors its index lists.
#[derive(Debug, Default)]
struct Contribution {
    images: BTreeMap<String, Value>,
    referrers: Vec<Value>,
    /// The tag's annotations (ref name, containerd's image name).
    tag_annotations: Option<Value>,
}

/// Reads the `tag` entry of the layout at `dir`: a single image manifest (its platform read
/// from its config) or an index of per-platform manifests.
fn contribution(dir: &Path, tag: &str) -> Result<Contribution, OciError> {
    let index = read_json(&dir.join("index.json"))?;
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| bad(dir, "index.json has no manifests"))?;
    let mut out = Contribution::default();
    for desc in manifests {
        if desc["annotations"][REF_NAME] == tag {
            out.tag_annotations = Some(desc["annotations"].clone());
            let digest = desc["digest"].as_str().unwrap_or_default();
            if desc["mediaType"] == INDEX {
                let nested = read_json(&blob_path(dir, digest))?;
                for m in nested["manifests"].as_array().into_iter().flatten() {
                    let platform = format!(
                        "{}/{}",
                        m["platform"]["os"].as_str().unwrap_or("linux"),
                        m["platform"]["architecture"].as_str().unwrap_or("")
                    );
                    out.images.insert(platform, m.clone());
                }
            } else {
                let manifest = read_json(&blob_path(dir, digest))?;
                let config_digest = manifest["config"]["digest"].as_str().unwrap_or_default();
                let config = read_json(&blob_path(dir, config_digest))?;
                let (os, arch) = (
                    config["os"].as_str().unwrap_or("linux"),
                    config["architecture"]
                        .as_str()
                        .ok_or_else(|| bad(dir, "the image config names no architecture"))?,
                );
                let mut entry = json!({
                    "mediaType": MANIFEST,
                    "digest": digest,
                    "size": desc["size"],
                    "platform": {"os": os, "architecture": arch},
                });
                if arch == "arm64" {
                    entry["platform"]["variant"] = json!("v8");
                }
                out.images.insert(format!("{os}/{arch}"), entry);
            }
        } else if desc.get("artifactType").is_some() {
            out.referrers.push(desc.clone());
        }
    }
    if out.tag_annotations.is_none() {
        return Err(bad(dir, &format!("index.json has no entry tagged {tag:?}")));
    }
    Ok(out)
}

/// Copies every blob of `from` that `to` lacks.
fn copy_blobs(from: &Path, to: &Path) -> Result<(), OciError> {
    let (src, dst) = (from.join("blobs/sha256"), to.join("blobs/sha256"));
    std::fs::create_dir_all(&dst).map_err(io_err(format!("create {}", dst.display())))?;
    for entry in std::fs::read_dir(&src).map_err(io_err(format!("read {}", src.display())))? {
        let entry = entry.map_err(io_err(format!("read {}", src.display())))?;
        let target = dst.join(entry.file_name());
        if !target.exists() {
            std::fs::copy(entry.path(), &target)
                .map_err(io_err(format!("copy into {}", target.display())))?;
        }
    }
    Ok(())
}

/// The single-platform layouts of the targets other than the default under `shared_out`
/// (`out/<target>/oci`), for those that were built.
fn other_layouts(shared_out: &Path, layout_name: &str) -> Vec<PathBuf> {
    Target::ALL
        .iter()
        .filter(|t| !t.is_default())
        .map(|t| shared_out.join(t.name).join(layout_name))
        .filter(|dir| dir.join("index.json").is_file())
        .collect()
}

/// Rewrites `shared_out/<layout_name>/` (`out/oci/`) as one index over the platforms of it
/// and of the other targets' layouts (`out/<target>/<layout_name>/`), entry `tag`. Returns
/// the digest of the per-platform index when there is more than one platform, None (nothing
/// written) when there is one.
///
/// Errors: a layout that is not one distro-build wrote (no tagged entry, a missing blob); I/O.
pub fn merge(shared_out: &Path, layout_name: &str, tag: &str) -> Result<Option<String>, OciError> {
    let main = shared_out.join(layout_name);
    let others = other_layouts(shared_out, layout_name);
    if others.is_empty() || !main.join("index.json").is_file() {
        return Ok(None);
    }
    let mut merged = contribution(&main, tag)?;
    for dir in &others {
        let theirs = contribution(dir, tag)?;
        copy_blobs(dir, &main)?;
        merged.images.extend(theirs.images);
        merged.referrers.extend(theirs.referrers);
    }
    if merged.images.len() < 2 {
        return Ok(None);
    }
    // Platforms in the order of Target::ALL (amd64 first), then any other.
    let rank = |platform: &str| {
        Target::ALL
            .iter()
            .position(|t| platform.ends_with(&format!("/{}", t.oci_architecture)))
            .unwrap_or(usize::MAX)
    };
    let mut images: Vec<(String, Value)> = merged.images.into_iter().collect();
    images.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    let kept: Vec<&str> = images
        .iter()
        .filter_map(|(_, d)| d["digest"].as_str())
        .collect();
    let nested = json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": images.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
    });
    let nested_bytes = canonical_json(&nested)?;
    let nested_digest = sha256_digest(&nested_bytes);
    super::layout::write_file_atomic(&blob_path(&main, &nested_digest), &nested_bytes)?;
    let mut manifests = vec![json!({
        "mediaType": INDEX,
        "digest": nested_digest,
        "size": nested_bytes.len(),
        "annotations": merged.tag_annotations.unwrap_or_else(|| json!({REF_NAME: tag})),
    })];
    // Referrers whose subject is still one of the images, each once, in a stable order.
    let mut referrers: BTreeMap<String, Value> = BTreeMap::new();
    for desc in merged.referrers {
        let digest = desc["digest"].as_str().unwrap_or_default().to_string();
        let artifact = read_json(&blob_path(&main, &digest))?;
        if kept.contains(&artifact["subject"]["digest"].as_str().unwrap_or_default()) {
            referrers.insert(digest, desc);
        }
    }
    manifests.extend(referrers.into_values());
    let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
    super::layout::write_file_atomic(&main.join("index.json"), &canonical_json(&index)?)?;
    Ok(Some(nested_digest))
}
