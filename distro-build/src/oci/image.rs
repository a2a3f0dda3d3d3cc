//! Turns a definition and its layer into the OCI blobs: image config, manifest and the
//! layout's index, each serialised once as canonical JSON (sorted keys) with its digest.
//!
//! With an image SBOM (SPDX JSON, [`crate::provenance::image_sbom`]) the image points at it
//! both ways the OCI image specification 1.1 allows, without a circle:
//! - the image manifest carries the annotation [`SBOM_ANNOTATION`] = the SBOM blob's digest
//!   (so the SBOM is fixed before the manifest, and must not name the manifest);
//! - an artifact manifest (`artifactType` `application/spdx+json`, the empty config
//!   `application/vnd.oci.empty.v1+json`, the SBOM as its one layer) has the image manifest as
//!   its `subject`, the referrers convention; with [`REFERRERS_IN_LAYOUT_INDEX`] the layout
//!   directory's index lists it after the image, without a tag, with its `artifactType`, as
//!   `oras` and `regctl` write layouts. The single-file archive's index lists the image alone
//!   ([`BuiltImage::archive_index`]).
//!
//! This module owns the JSON documents of an image; it writes no files (see `layout`).

use crate::epoch::Epoch;
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
use crate::provenance::SBOM_MEDIA_TYPE;

/// One JSON blob: its canonical bytes and `sha256:…` digest.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The serialised document.
    pub bytes: Vec<u8>,
    /// `sha256:…` of `bytes`.
    pub digest: String,
}

/// The image-manifest annotation naming the digest (`sha256:…`) of the image's SPDX SBOM,
/// a blob of the same layout (this project's own key: OCI defines none for it).
pub const SBOM_ANNOTATION: &str = "org.tinilinux.image.sbom.digest";

/// Whether the layout directory's index.json lists the SBOM referrer after the image (its
/// descriptor carries `artifactType`, so readers that load images skip it, as tinibox's
/// loader does; OCI 1.1 says a reader must not fail on an artifact it does not know). The
/// archive (`*-oci.tar`) lists only the image: skopeo refuses an archive listing two.
pub const REFERRERS_IN_LAYOUT_INDEX: bool = true;

/// The empty JSON blob `{}` an artifact manifest uses as its config (OCI image spec 1.1).
pub const EMPTY_JSON: &[u8] = b"{}";

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
    /// The layout's index.json: the image, then its SBOM referrer artifact (if any).
    pub index: Vec<u8>,
    /// index.json for the single-file archive: the image alone. Tools that read an archive
    /// without a reference name (`skopeo inspect oci-archive:FILE`, `podman load`) refuse an
    /// index with more than one manifest, so the referrer stays out of it (its blobs are
    /// still in the archive, found through the manifest's annotation).
    pub archive_index: Vec<u8>,
    /// The single layer.
    pub layer: Layer,
    /// The image's SBOM (SPDX JSON) and the artifact manifest whose subject is the image
    /// manifest, when the image was built with one.
    pub sbom: Option<SbomArtifact>,
}

/// The image SBOM as an OCI 1.1 referrer artifact.
#[derive(Debug, Clone)]
pub struct SbomArtifact {
    /// The SPDX JSON document.
    pub document: Blob,
    /// The artifact manifest (`subject` = the image manifest).
    pub manifest: Blob,
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

/// Builds the config (for the OCI platform `architecture`, e.g. `amd64`), manifest and index
/// for `def` with its one `layer`, and, given the image's SBOM document `sbom`, the
/// annotation and the referrer artifact pointing at it.
pub fn build_image(
    def: &ImageDefinition,
    layer: Layer,
    epoch: Epoch,
    architecture: &str,
    sbom: Option<Vec<u8>>,
) -> Result<BuiltImage, OciError> {
    let created = epoch.rfc3339();
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
        .architecture(Arch::from(architecture))
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
    let mut manifest = manifest;
    let document = sbom.map(|bytes| Blob {
        digest: sha256_digest(&bytes),
        bytes,
    });
    if let Some(doc) = &document {
        manifest.set_annotations(Some(HashMap::from([(
            SBOM_ANNOTATION.to_string(),
            doc.digest.clone(),
        )])));
    }
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
    let subject = descriptor(
        MediaType::ImageManifest,
        &manifest_blob.digest,
        manifest_blob.bytes.len(),
    )?;
    let mut manifests = vec![manifest_desc];
    let archive_index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests.clone())
        .build()
        .map_err(spec_err)?;
    let sbom = match document {
        Some(document) => {
            let artifact = sbom_artifact(&document, subject, &epoch.rfc3339())?;
            let mut desc = descriptor(
                MediaType::ImageManifest,
                &artifact.digest,
                artifact.bytes.len(),
            )?;
            desc.set_artifact_type(Some(MediaType::Other(SBOM_MEDIA_TYPE.into())));
            if REFERRERS_IN_LAYOUT_INDEX {
                manifests.push(desc);
            }
            Some(SbomArtifact {
                document,
                manifest: artifact,
            })
        }
        None => None,
    };
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(spec_err)?;
    Ok(BuiltImage {
        reference: def.reference(),
        tag: def.tag.clone(),
        config: config_blob,
        manifest: manifest_blob,
        index: canonical_json(&index)?,
        archive_index: canonical_json(&archive_index)?,
        layer,
        sbom,
    })
}

/// The artifact manifest for the SBOM `document`, referring to `subject` (the image
/// manifest's descriptor).
fn sbom_artifact(document: &Blob, subject: Descriptor, created: &str) -> Result<Blob, OciError> {
    let mut layer = descriptor(
        MediaType::Other(SBOM_MEDIA_TYPE.into()),
        &document.digest,
        document.bytes.len(),
    )?;
    layer.set_annotations(Some(HashMap::from([(
        oci_spec::image::ANNOTATION_TITLE.to_string(),
        "sbom.spdx.json".to_string(),
    )])));
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(SBOM_MEDIA_TYPE.into()))
        .config(descriptor(
            MediaType::EmptyJSON,
            &sha256_digest(EMPTY_JSON),
            EMPTY_JSON.len(),
        )?)
        .layers(vec![layer])
        .subject(subject)
        .build()
        .map_err(spec_err)?;
    manifest.set_annotations(Some(HashMap::from([(
        oci_spec::image::ANNOTATION_CREATED.to_string(),
        created.to_string(),
    )])));
    blob(&manifest)
}
