//! Bringing images into the store: `load` (an OCI image layout folder, the same as a tar
//! archive, or a `docker save` archive) and `import` (a plain rootfs tarball).
//!
//! Every blob is checked against its digest and size, every layer against its diff_id, all
//! while staging below `STORE/tmp/`; only a fully verified image is renamed into place and
//! recorded, under the store's exclusive lock. On any error the staging folder goes away and
//! the store is exactly as before. This module owns input parsing and verification; layer
//! extraction rules live in `unpack`, records in `store`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Arch, Descriptor, DescriptorBuilder, ImageConfiguration, ImageConfigurationBuilder, ImageIndex,
    ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder, ANNOTATION_REF_NAME,
};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::compression::Compression;
use super::document::parse_document;
use super::error::{ImageError, Result};
use super::reference::parse_name_tag;
use super::store::{tempfile_dir::StagingDir, ImageRecord, Store};
use super::unpack::{unpack_layer, HashingReader};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn bad(path: &Path, problem: impl Into<String>) -> ImageError {
    ImageError::BadInput {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn doc_err(what: &str) -> impl Fn(oci_spec::OciSpecError) -> ImageError + '_ {
    move |e| ImageError::BadDocument {
        what: what.to_string(),
        problem: e.to_string(),
    }
}

/// A reader of a file that may be gzip- or zstd-compressed (detected by its magic bytes).
fn maybe_compressed(file: File) -> std::io::Result<Box<dyn Read>> {
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf()?;
    // Encodings Docker's import and load also read, named instead of failing as a tar: xz
    // (`fd 37 7a 58 5a 00`, the xz file format 1.0.4 §2.1.1.1), bzip2 (`BZh1`…`BZh9`).
    let other = if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Some("bzip2")
    } else {
        None
    };
    if let Some(name) = other {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{name}-compressed, which tinibox does not read (plain, gzip and zstd tar \
                 archives only): decompress it first ({name} -d) or make it with gzip"
            ),
        ));
    }
    let compression = Compression::sniff(head);
    Ok(compression.decoder(reader))
}

/// The tar reader's complaint made printable: it may quote the archive's bytes, which for a
/// file that is no tar at all are binary. Other characters become `?`; at most 120 kept.
fn tar_problem(problem: &str) -> String {
    let printable: String = problem
        .chars()
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '?'
            } else {
                c
            }
        })
        .collect();
    crate::text::ellipsize(&printable, 120)
}

/// Where the image files are read from: a layout folder.
struct Source {
    dir: PathBuf,
    shown: PathBuf,
    /// A layer blob may be absent when its diff_id is already unpacked in the store (pulls).
    reuse_layers: bool,
}

impl Source {
    /// Path of the blob `digest` inside the layout.
    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let (algo, hex) = digest
            .split_once(':')
            .ok_or_else(|| bad(&self.shown, format!("malformed digest '{digest}'")))?;
        if algo != "sha256" || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(
                &self.shown,
                format!("unsupported digest '{digest}' (sha256 only)"),
            ));
        }
        Ok(self.dir.join("blobs").join(algo).join(hex))
    }

    /// Reads a small blob (manifest, config) and checks its size and digest.
    fn read_blob(&self, desc: &Descriptor, what: &str) -> Result<Vec<u8>> {
        let digest = desc.digest().to_string();
        let path = self.blob_path(&digest)?;
        let bytes = std::fs::read(&path).map_err(|_| {
            ImageError::MissingBlob(format!(
                "{what} {digest} is missing from {}",
                self.shown.display()
            ))
        })?;
        check_blob(&digest, desc.size(), &bytes)?;
        Ok(bytes)
    }
}

fn check_blob(digest: &str, size: u64, bytes: &[u8]) -> Result<()> {
    let found = format!("sha256:{}", sha256_hex(bytes));
    if found != digest {
        return Err(ImageError::DigestMismatch {
            digest: digest.to_string(),
            problem: format!("its content hashes to {found}"),
        });
    }
    if bytes.len() as u64 != size {
        return Err(ImageError::DigestMismatch {
            digest: digest.to_string(),
            problem: format!("it has {} bytes, the descriptor says {size}", bytes.len()),
        });
    }
    Ok(())
}

/// An image verified and staged, waiting for commit.
struct StagedImage {
    names: Vec<(String, String)>,
    manifest: Vec<u8>,
    config: Vec<u8>,
    record: ImageRecord,
}

/// Verifies and stages one layer. `blob` is the compressed (or plain) layer file.
fn stage_layer(
    store: &Store,
    staging: &StagingDir,
    blob: &Path,
    compression: Compression,
    expected_digest: Option<(&str, u64)>,
    diff_id: &str,
) -> Result<u64> {
    let missing = || ImageError::MissingBlob(format!("layer {} is missing", blob.display()));
    // The blob's own digest first: a tampered layer is never parsed.
    if let Some((digest, size)) = expected_digest {
        let file = File::open(blob).map_err(|_| missing())?;
        let (blob_digest, blob_size) = HashingReader::new(BufReader::new(file))
            .finish()
            .map_err(ImageError::io(format!("read {}", blob.display())))?;
        if blob_digest != digest {
            return Err(ImageError::DigestMismatch {
                digest: digest.to_string(),
                problem: format!("its content hashes to {blob_digest}"),
            });
        }
        if blob_size != size {
            return Err(ImageError::DigestMismatch {
                digest: digest.to_string(),
                problem: format!("it has {blob_size} bytes, the descriptor says {size}"),
            });
        }
    }
    let file = File::open(blob).map_err(|_| missing())?;
    let reader = BufReader::new(file);
    let existing = store.layer_path(diff_id).is_dir();
    let staged = staging
        .path()
        .join("layers")
        .join(diff_id.trim_start_matches("sha256:"));
    let measured = if existing || staged.is_dir() {
        // Already unpacked: still verify the diff_id, then drop the bytes.
        HashingReader::new(compression.decoder(reader))
            .finish()
            .map_err(|e| ImageError::BadDocument {
                what: format!("layer {}", blob.display()),
                problem: format!("{e} (truncated or corrupt?)"),
            })?
    } else {
        std::fs::create_dir_all(&staged)
            .map_err(ImageError::io(format!("create {}", staged.display())))?;
        let unpacked = unpack_layer(compression.decoder(reader), &staged)?;
        (unpacked.diff_id, unpacked.size)
    };
    if measured.0 != diff_id {
        return Err(ImageError::DigestMismatch {
            digest: diff_id.to_string(),
            problem: format!("the uncompressed layer hashes to {}", measured.0),
        });
    }
    Ok(measured.1)
}

fn layer_compression(media: &MediaType) -> Result<Compression> {
    Compression::of_media_type(media.as_ref())
        .ok_or_else(|| ImageError::UnknownMediaType(media.to_string()))
}

fn parse_config(bytes: &[u8], what: &str) -> Result<ImageConfiguration> {
    parse_document::<ImageConfiguration>(bytes).map_err(doc_err(what))
}

fn record_for(
    manifest: &[u8],
    config_bytes: &[u8],
    config: &ImageConfiguration,
    size: u64,
) -> ImageRecord {
    ImageRecord {
        name: "<none>".into(),
        tag: "<none>".into(),
        manifest_digest: format!("sha256:{}", sha256_hex(manifest)),
        config_digest: format!("sha256:{}", sha256_hex(config_bytes)),
        diff_ids: config.rootfs().diff_ids().clone(),
        size,
        created: config.created().clone(),
        repo_digest: None,
    }
}

/// Verifies and stages the image of one OCI manifest.
fn stage_oci_manifest(
    store: &Store,
    staging: &StagingDir,
    src: &Source,
    desc: &Descriptor,
    names: Vec<(String, String)>,
) -> Result<StagedImage> {
    let manifest_bytes = src.read_blob(desc, "manifest")?;
    let manifest = parse_document::<ImageManifest>(&manifest_bytes).map_err(doc_err("manifest"))?;
    match manifest.config().media_type() {
        MediaType::ImageConfig => {}
        MediaType::Other(s) if s == DOCKER_CONFIG => {}
        other => return Err(ImageError::UnknownMediaType(other.to_string())),
    }
    let config_bytes = src.read_blob(manifest.config(), "image config")?;
    let config = parse_config(&config_bytes, "image config")?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(bad(
            &src.shown,
            format!(
                "the manifest lists {} layers but the config {} diff_ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let mut size = 0;
    for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let compression = layer_compression(layer.media_type())?;
        let digest = layer.digest().to_string();
        let path = src.blob_path(&digest)?;
        if !path.is_file() && src.reuse_layers && store.layer_path(diff_id).is_dir() {
            continue;
        }
        if !path.is_file() {
            return Err(ImageError::MissingBlob(format!(
                "layer {digest} is missing from {}",
                src.shown.display()
            )));
        }
        size += stage_layer(
            store,
            staging,
            &path,
            compression,
            Some((&digest, layer.size())),
            diff_id,
        )?;
    }
    let record = record_for(&manifest_bytes, &config_bytes, &config, size);
    Ok(StagedImage {
        names,
        manifest: manifest_bytes,
        config: config_bytes,
        record,
    })
}

/// The names an index entry carries (containerd's full name, or the OCI ref name).
fn names_of(desc: &Descriptor) -> Vec<(String, String)> {
    let Some(annotations) = desc.annotations() else {
        return Vec::new();
    };
    if let Some(full) = annotations.get("io.containerd.image.name") {
        if let Ok(nt) = parse_name_tag(full) {
            return vec![nt];
        }
    }
    if let Some(reference) = annotations.get(ANNOTATION_REF_NAME) {
        if reference.contains(':') || reference.contains('/') {
            if let Ok(nt) = parse_name_tag(reference) {
                return vec![nt];
            }
        }
    }
    Vec::new()
}

/// The OCI architecture of the machine tinibox runs on (`amd64`, `arm64`, …).
pub fn host_arch() -> Arch {
    match std::env::consts::ARCH {
        "x86_64" => Arch::Amd64,
        "aarch64" => Arch::ARM64,
        other => Arch::Other(other.to_string()),
    }
}

/// Whether an index entry is for another machine than this one (its `platform` names
/// another OS or architecture); an entry without `platform` is for any.
fn for_other_platform(desc: &Descriptor) -> bool {
    desc.platform()
        .as_ref()
        .is_some_and(|p| *p.architecture() != host_arch() || *p.os() != Os::Linux)
}

/// Stages the images `index` lists for this machine's platform. A nested index (a
/// multi-platform tag) passes its own names (`inherited`) to the manifest chosen in it.
fn stage_oci_index(
    store: &Store,
    staging: &StagingDir,
    src: &Source,
    index: &ImageIndex,
    depth: usize,
    inherited: &[(String, String)],
    out: &mut Vec<StagedImage>,
) -> Result<()> {
    for desc in index.manifests() {
        // An artifact (an SBOM, a signature: OCI 1.1 referrers listed in a layout's index)
        // is not an image to load; nor is another machine's image of a multi-platform index.
        if desc.artifact_type().is_some() || for_other_platform(desc) {
            continue;
        }
        let names = match names_of(desc) {
            names if names.is_empty() => inherited.to_vec(),
            names => names,
        };
        match desc.media_type() {
            MediaType::ImageManifest => {
                out.push(stage_oci_manifest(store, staging, src, desc, names)?)
            }
            MediaType::Other(s) if s == DOCKER_MANIFEST => {
                out.push(stage_oci_manifest(store, staging, src, desc, names)?)
            }
            MediaType::ImageIndex if depth < 2 => {
                let bytes = src.read_blob(desc, "image index")?;
                let nested =
                    parse_document::<ImageIndex>(&bytes).map_err(doc_err("image index"))?;
                stage_oci_index(store, staging, src, &nested, depth + 1, &names, out)?;
            }
            MediaType::Other(s) if s == DOCKER_LIST && depth < 2 => {
                let bytes = src.read_blob(desc, "manifest list")?;
                let nested =
                    parse_document::<ImageIndex>(&bytes).map_err(doc_err("manifest list"))?;
                stage_oci_index(store, staging, src, &nested, depth + 1, &names, out)?;
            }
            other => return Err(ImageError::UnknownMediaType(other.to_string())),
        }
    }
    Ok(())
}

/// `docker save`'s manifest.json entry.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn safe_join(src: &Source, rel: &str) -> Result<PathBuf> {
    if rel.starts_with('/') || rel.split('/').any(|p| p == "..") {
        return Err(bad(
            &src.shown,
            format!("manifest.json names '{rel}' outside the archive"),
        ));
    }
    let path = src.dir.join(rel);
    // A symlink in the archive must not make us read a file outside it.
    if let (Ok(real), Ok(root)) = (path.canonicalize(), src.dir.canonicalize()) {
        if !real.starts_with(&root) {
            return Err(bad(
                &src.shown,
                format!("'{rel}' is a link to a file outside the archive"),
            ));
        }
    }
    Ok(path)
}

fn stage_docker_save(
    store: &Store,
    staging: &StagingDir,
    src: &Source,
) -> Result<Vec<StagedImage>> {
    let path = src.dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(ImageError::io(format!("read {}", path.display())))?;
    let entries: Vec<DockerSaveEntry> =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::BadDocument {
            what: "manifest.json".into(),
            problem: e.to_string(),
        })?;
    let mut out = Vec::new();
    for entry in entries {
        let config_path = safe_join(src, &entry.config)?;
        let config_bytes = std::fs::read(&config_path).map_err(|_| {
            ImageError::MissingBlob(format!("image config {} is missing", entry.config))
        })?;
        // The config's file name carries its digest ("<hex>.json" or "blobs/sha256/<hex>").
        let named = Path::new(&entry.config)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if named.len() == 64 && named != sha256_hex(&config_bytes) {
            return Err(ImageError::DigestMismatch {
                digest: format!("sha256:{named}"),
                problem: format!("its content hashes to sha256:{}", sha256_hex(&config_bytes)),
            });
        }
        let config = parse_config(&config_bytes, "image config")?;
        let diff_ids = config.rootfs().diff_ids().clone();
        if diff_ids.len() != entry.layers.len() {
            return Err(bad(
                &src.shown,
                "manifest.json and the config disagree on the layer count",
            ));
        }
        let mut size = 0;
        let mut layers = Vec::new();
        for (rel, diff_id) in entry.layers.iter().zip(&diff_ids) {
            let layer_path = safe_join(src, rel)?;
            let mut head = [0u8; 4];
            let compression = File::open(&layer_path)
                .and_then(|mut f| f.read_exact(&mut head))
                .map(|_| Compression::sniff(&head))
                .unwrap_or(Compression::None);
            let layer_size = stage_layer(store, staging, &layer_path, compression, None, diff_id)?;
            size += layer_size;
            layers.push(
                DescriptorBuilder::default()
                    .media_type(MediaType::ImageLayer)
                    .digest(
                        oci_spec::image::Digest::try_from(diff_id.as_str())
                            .map_err(doc_err("diff_id"))?,
                    )
                    .size(layer_size)
                    .build()
                    .map_err(doc_err("layer descriptor"))?,
            );
        }
        let manifest = synth_manifest(&config_bytes, layers)?;
        let record = record_for(&manifest, &config_bytes, &config, size);
        let names = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| parse_name_tag(t).ok())
            .collect();
        out.push(StagedImage {
            names,
            manifest,
            config: config_bytes,
            record,
        });
    }
    Ok(out)
}

/// An OCI manifest (canonical JSON) for a config and uncompressed layers.
fn synth_manifest(config_bytes: &[u8], layers: Vec<Descriptor>) -> Result<Vec<u8>> {
    let config_desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageConfig)
        .digest(
            oci_spec::image::Digest::try_from(format!("sha256:{}", sha256_hex(config_bytes)))
                .map_err(doc_err("config digest"))?,
        )
        .size(config_bytes.len() as u64)
        .build()
        .map_err(doc_err("config descriptor"))?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(layers)
        .build()
        .map_err(doc_err("manifest"))?;
    let value = serde_json::to_value(&manifest).map_err(|e| ImageError::BadDocument {
        what: "manifest".into(),
        problem: e.to_string(),
    })?;
    serde_json::to_vec(&value).map_err(|e| ImageError::BadDocument {
        what: "manifest".into(),
        problem: e.to_string(),
    })
}

/// Moves staged layers and blobs into the store and records the images, each with its
/// size counted from the layers now in the store ([`Store::layers_size`]), so one image ID
/// has one size however it arrived. Not cut in half by SIGINT/SIGTERM (`interrupt`).
fn commit(
    store: &Store,
    staging: &StagingDir,
    images: Vec<StagedImage>,
) -> Result<Vec<ImageRecord>> {
    let _whole = super::interrupt::critical();
    let staged_layers = staging.path().join("layers");
    if staged_layers.is_dir() {
        for entry in
            std::fs::read_dir(&staged_layers).map_err(ImageError::io("list staged layers"))?
        {
            let entry = entry.map_err(ImageError::io("list staged layers"))?;
            let target = store.root().join("layers/sha256").join(entry.file_name());
            if !target.exists() {
                std::fs::rename(entry.path(), &target).map_err(ImageError::io(format!(
                    "move layer into {}",
                    target.display()
                )))?;
            }
        }
    }
    let mut records = Vec::new();
    for mut image in images {
        image.record.size = store.layers_size(&image.record.diff_ids);
        super::store::write_atomic(&store.blob_path(&image.record.config_digest), &image.config)?;
        super::store::write_atomic(
            &store.blob_path(&image.record.manifest_digest),
            &image.manifest,
        )?;
        if image.names.is_empty() {
            records.push(image.record);
            continue;
        }
        for (name, tag) in image.names {
            records.push(ImageRecord {
                name,
                tag,
                ..image.record.clone()
            });
        }
    }
    store.add_records(&records)?;
    Ok(records)
}

/// Loads every image of `input`: an OCI image layout folder, an OCI archive (tar of a
/// layout, optionally gzip-compressed) or a `docker save` archive.
pub fn load(store: &Store, input: &Path) -> Result<Vec<ImageRecord>> {
    let meta = std::fs::metadata(input).map_err(|e| bad(input, format!("cannot open: {e}")))?;
    let _lock = store.lock_exclusive()?;
    let staging = store.staging_dir("load")?;
    let src = if meta.is_dir() {
        Source {
            dir: input.to_path_buf(),
            shown: input.to_path_buf(),
            reuse_layers: false,
        }
    } else {
        let dir = staging.path().join("archive");
        std::fs::create_dir_all(&dir)
            .map_err(ImageError::io(format!("create {}", dir.display())))?;
        let file = File::open(input).map_err(|e| bad(input, format!("cannot open: {e}")))?;
        let reader = maybe_compressed(file).map_err(|e| bad(input, format!("cannot read: {e}")))?;
        unpack_layer(reader, &dir).map_err(|e| match e {
            ImageError::BadDocument { problem, .. } => bad(
                input,
                format!("not a complete tar archive: {}", tar_problem(&problem)),
            ),
            other => other,
        })?;
        Source {
            dir,
            shown: input.to_path_buf(),
            reuse_layers: false,
        }
    };
    let mut images = Vec::new();
    if src.dir.join("index.json").is_file() {
        let index_path = src.dir.join("index.json");
        let index = std::fs::read(&index_path)
            .map_err(oci_spec::OciSpecError::from)
            .and_then(|b| parse_document::<ImageIndex>(&b))
            .map_err(doc_err("index.json"))?;
        stage_oci_index(store, &staging, &src, &index, 0, &[], &mut images)?;
    } else if src.dir.join("manifest.json").is_file() {
        images = stage_docker_save(store, &staging, &src)?;
    } else {
        return Err(bad(
            input,
            "not an OCI image layout (no index.json) nor a docker save archive (no manifest.json)",
        ));
    }
    if images.is_empty() {
        return Err(bad(input, "holds no linux/amd64 image"));
    }
    commit(store, &staging, images)
}

/// Imports a rootfs tarball (plain or gzip) as a one-layer image, like `docker import`;
/// `reference` names it (`name[:tag]`), otherwise it is untagged.
pub fn import(store: &Store, tarball: &Path, reference: Option<&str>) -> Result<ImageRecord> {
    let names = match reference {
        Some(r) => vec![parse_name_tag(r)?],
        None => Vec::new(),
    };
    let file = File::open(tarball).map_err(|e| bad(tarball, format!("cannot open: {e}")))?;
    let _lock = store.lock_exclusive()?;
    let staging = store.staging_dir("import")?;
    let dir = staging.path().join("layer");
    std::fs::create_dir_all(&dir).map_err(ImageError::io(format!("create {}", dir.display())))?;
    let reader = maybe_compressed(file).map_err(|e| bad(tarball, format!("cannot read: {e}")))?;
    let unpacked = unpack_layer(reader, &dir).map_err(|e| match e {
        ImageError::BadDocument { problem, .. } => bad(
            tarball,
            format!("not a complete tar archive: {}", tar_problem(&problem)),
        ),
        other => other,
    })?;
    let layers_dir = staging.path().join("layers");
    std::fs::create_dir_all(&layers_dir).map_err(ImageError::io("create staging layers"))?;
    std::fs::rename(
        &dir,
        layers_dir.join(unpacked.diff_id.trim_start_matches("sha256:")),
    )
    .map_err(ImageError::io("stage the layer"))?;
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(host_arch())
        .os(Os::Linux)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![unpacked.diff_id.clone()])
                .build()
                .map_err(doc_err("rootfs"))?,
        )
        .build()
        .map_err(doc_err("image config"))?;
    let value = serde_json::to_value(&config).map_err(|e| ImageError::BadDocument {
        what: "image config".into(),
        problem: e.to_string(),
    })?;
    let config_bytes = serde_json::to_vec(&value).map_err(|e| ImageError::BadDocument {
        what: "image config".into(),
        problem: e.to_string(),
    })?;
    let layer = DescriptorBuilder::default()
        .media_type(MediaType::ImageLayer)
        .digest(
            oci_spec::image::Digest::try_from(unpacked.diff_id.as_str())
                .map_err(doc_err("diff_id"))?,
        )
        .size(unpacked.size)
        .build()
        .map_err(doc_err("layer descriptor"))?;
    let manifest = synth_manifest(&config_bytes, vec![layer])?;
    let record = record_for(&manifest, &config_bytes, &config, unpacked.size);
    let mut records = commit(
        store,
        &staging,
        vec![StagedImage {
            names,
            manifest,
            config: config_bytes,
            record,
        }],
    )?;
    records
        .pop()
        .ok_or_else(|| bad(tarball, "nothing was imported"))
}

/// Lands an image pulled from a registry (`crate::registry`): `dir` is an OCI image layout
/// holding the blob of `manifest`, its config and every layer blob whose diff_id is not
/// already unpacked in the store. The checks, staging and commit are those of [`load`]; the
/// image is recorded as `name` (tag `<none>` for a pull by digest) with `repo_digest`.
/// On error the store is as before.
pub fn load_pulled(
    store: &Store,
    dir: &Path,
    shown: &str,
    manifest: &Descriptor,
    name: (String, String),
    repo_digest: &str,
) -> Result<ImageRecord> {
    let _lock = store.lock_exclusive()?;
    let staging = store.staging_dir("land")?;
    let src = Source {
        dir: dir.to_path_buf(),
        shown: PathBuf::from(shown),
        reuse_layers: true,
    };
    let mut image = stage_oci_manifest(store, &staging, &src, manifest, vec![name])?;
    image.record.repo_digest = Some(repo_digest.to_string());
    let mut records = commit(store, &staging, vec![image])?;
    records
        .pop()
        .ok_or_else(|| bad(&src.shown, "nothing was pulled"))
}
