//! Turns a definition and its layer into the OCI blobs: image config, manifest and the
//! layout's index, each serialised once as canonical JSON (sorted keys) with its digest.
//!
//! This module owns the JSON documents of an image; it writes no files (see `layout`).

use std::collections::HashMap;

use oci_spec::image::{
    Arch, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfiguration,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    RootFsBuilder, ANNOTATION_REF_NAME,
};
use serde::Serialize;

use super::definition::ImageDefinition;
use super::layer::{sha256_digest, Layer};
use super::OciError;

/// One JSON blob: its canonical bytes and `sha256:…` digest.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The serialised document.
    pub bytes: Vec<u8>,
    /// `sha256:…` of `bytes`.
    pub digest: String,
}

/// Everything an OCI image is made of, ready to be written.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// `name:tag`.
    pub reference: String,
    /// The tag (the layout's ref name).
    pub tag: String,
    /// The image config blob.
    pub config: Blob,
    /// The manifest blob.
    pub manifest: Blob,
    /// The layout's index.json.
    pub index: Vec<u8>,
    /// The single layer.
    pub layer: Layer,
}

/// Serialises `value` as JSON with object keys sorted, so that maps (labels, annotations)
/// give the same bytes on every run.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, OciError> {
    let json = |e: serde_json::Error| OciError::Spec(e.to_string());
    let value = serde_json::to_value(value).map_err(json)?;
    serde_json::to_vec(&value).map_err(json)
}

fn blob<T: Serialize>(value: &T) -> Result<Blob, OciError> {
    let bytes = canonical_json(value)?;
    Ok(Blob {
        digest: sha256_digest(&bytes),
        bytes,
    })
}

fn spec_err(e: impl std::fmt::Display) -> OciError {
    OciError::Spec(e.to_string())
}

fn descriptor(media: MediaType, digest: &str, size: usize) -> Result<Descriptor, OciError> {
    DescriptorBuilder::default()
        .media_type(media)
        .digest(oci_spec::image::Digest::try_from(digest).map_err(spec_err)?)
        .size(size as u64)
        .build()
        .map_err(spec_err)
}

/// Formats seconds since the epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub fn rfc3339(epoch: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Builds the config, manifest and index for `def` with its one `layer`.
pub fn build_image(
    def: &ImageDefinition,
    layer: Layer,
    epoch: u64,
) -> Result<BuiltImage, OciError> {
    let created = rfc3339(epoch);
    let mut config = def.config.clone();
    if config.labels().is_none() {
        config.set_labels(Some(HashMap::new()));
    }
    if let Some(labels) = config.labels_mut() {
        labels
            .entry("org.opencontainers.image.title".into())
            .or_insert_with(|| def.name.clone());
    }
    let configuration: ImageConfiguration = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![layer.diff_id.clone()])
                .build()
                .map_err(spec_err)?,
        )
        .history(vec![HistoryBuilder::default()
            .created(created)
            .created_by(format!("distro-build oci ({})", def.reference()))
            .comment(def.description.clone())
            .build()
            .map_err(spec_err)?])
        .build()
        .map_err(spec_err)?;
    let config_blob = blob(&configuration)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config_blob.digest,
            config_blob.bytes.len(),
        )?)
        .layers(vec![descriptor(
            MediaType::ImageLayerGzip,
            &layer.digest,
            layer.gzip.len(),
        )?])
        .build()
        .map_err(spec_err)?;
    let manifest_blob = blob(&manifest)?;
    let mut manifest_desc = descriptor(
        MediaType::ImageManifest,
        &manifest_blob.digest,
        manifest_blob.bytes.len(),
    )?;
    manifest_desc.set_annotations(Some(HashMap::from([
        (ANNOTATION_REF_NAME.to_string(), def.tag.clone()),
        (
            "io.containerd.image.name".to_string(),
            format!("docker.io/library/{}", def.reference()),
        ),
    ])));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_desc])
        .build()
        .map_err(spec_err)?;
    Ok(BuiltImage {
        reference: def.reference(),
        tag: def.tag.clone(),
        config: config_blob,
        manifest: manifest_blob,
        index: canonical_json(&index)?,
        layer,
    })
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
