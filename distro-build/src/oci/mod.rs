//! OCI export of the rootfs: the `docker import` tarball, the OCI image layout and its archive
//! for every image defined in `oci-images/`, and the copy of the `tinilinux` image that goes
//! into the live system's own tinibox store.
//!
//! This module owns everything under `out/` named after an image (`<name>-rootfs.tar`,
//! `oci/` or `oci-<name>/`, `<name>-oci.tar`) and the `/var/lib/tinibox` part of the rootfs
//! tree. It never changes other parts of the tree and never builds the rootfs itself: callers
//! pass the [`RootfsTree`] that `rootfs::assemble_from` produced.
//!
//! Sub-modules: `definition` (the `oci-images/*.json` format), `select` (cutting an image's
//! tree from the rootfs), `layer` (tar + gzip), `image` (config, manifest, index JSON),
//! `layout` (files on disk, atomically), `store` (the tinibox store inside the rootfs), `push`
//! (`out/oci/` to a registry, byte for byte), `platforms` (`out/oci/` as one index over every
//! architecture built).

pub mod definition;
pub mod image;
pub mod layer;
pub mod layout;
pub mod platforms;
pub mod push;
pub mod select;
pub mod store;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::context::Context;
use crate::tree::{RootfsTree, TreeError};

pub use definition::ImageDefinition;
pub use image::BuiltImage;

/// Errors of the OCI export.
#[derive(Debug, Error)]
pub enum OciError {
    /// A definition file in `oci-images/` is malformed.
    #[error("image definition {path}: {problem}")]
    Definition {
        /// The definition file (or folder).
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A definition includes a path the rootfs does not have.
    #[error("image {image} includes {path:?}, but the rootfs has no such path: fix its include list in oci-images/")]
    MissingPath {
        /// `name:tag` of the image.
        image: String,
        /// The missing rootfs path.
        path: PathBuf,
    },
    /// No definition named `tinilinux` exists (needed for the live system's store).
    #[error("no image definition named {0:?} in oci-images/")]
    NoSuchDefinition(String),
    /// Reading a tree entry or building the image tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Building an OCI document failed.
    #[error("cannot build the OCI document: {0}")]
    Spec(String),
    /// A file system operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The image whose copy goes into the live system's store, and whose outputs are the
/// contract names `out/tinilinux-rootfs.tar`, `out/oci/` and `out/tinilinux-oci.tar`.
pub const MAIN_IMAGE: &str = "tinilinux";

/// What [`export`] wrote for one image.
#[derive(Debug, Clone)]
pub struct ExportedImage {
    /// `name:tag`.
    pub reference: String,
    /// `sha256:…` of the manifest (the same on every build from the same inputs).
    pub manifest_digest: String,
    /// `sha256:…` of the image config (the image ID Docker shows).
    pub config_digest: String,
    /// `sha256:…` of the uncompressed layer (the rootfs tarball).
    pub diff_id: String,
    /// The plain rootfs tarball (`docker import`).
    pub rootfs_tar: PathBuf,
    /// The OCI image layout directory.
    pub layout_dir: PathBuf,
    /// The OCI layout as one archive.
    pub archive: PathBuf,
    /// Size of the rootfs tarball in bytes.
    pub tar_size: u64,
    /// Size of the gzip layer in bytes.
    pub layer_size: u64,
}

/// Output paths for an image: (rootfs tarball, layout dir, layout archive).
pub fn output_paths(out_dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let file_name = name.replace('/', "-");
    let layout = if name == MAIN_IMAGE {
        "oci".to_string()
    } else {
        format!("oci-{file_name}")
    };
    (
        out_dir.join(format!("{file_name}-rootfs.tar")),
        out_dir.join(layout),
        out_dir.join(format!("{file_name}-oci.tar")),
    )
}

/// The definitions in `<repo>/oci-images/`.
pub fn definitions(ctx: &Context) -> Result<Vec<ImageDefinition>, OciError> {
    definition::load_all(&ctx.repo_root.join("oci-images"))
}

/// Builds one image in memory from `rootfs`, with its SBOM (the components its tree holds)
/// as a referrer artifact: returns the image and its own tree.
pub fn build(
    ctx: &Context,
    rootfs: &RootfsTree,
    def: &ImageDefinition,
) -> Result<(BuiltImage, RootfsTree), OciError> {
    let tree = select::select(rootfs, def)?;
    let layer = layer::build_layer(&tree, ctx.epoch)?;
    let has = |path: &str| tree.get(path).is_some();
    let sbom = crate::provenance::image_sbom(ctx, &def.reference(), &layer.diff_id, &has)
        .map_err(|e| OciError::Spec(format!("the image SBOM of {}: {e}", def.reference())))?;
    let architecture = ctx.target.oci_architecture;
    let image = image::build_image(def, layer, ctx.epoch, architecture, Some(sbom))?;
    Ok((image, tree))
}

/// Exports every image of `oci-images/` from `rootfs` into `ctx.out_dir`: for `tinilinux`,
/// `tinilinux-rootfs.tar`, `oci/` and `tinilinux-oci.tar`; for another image NAME,
/// `NAME-rootfs.tar`, `oci-NAME/` and `NAME-oci.tar`. Each output appears atomically. The
/// tinibox store below `/var/lib/tinibox` is never exported, so calling this before or after
/// [`add_image_store`] gives the same digests.
pub fn export(ctx: &Context, rootfs: &RootfsTree) -> Result<Vec<ExportedImage>, OciError> {
    std::fs::create_dir_all(&ctx.out_dir).map_err(|source| OciError::Io {
        what: format!("create {}", ctx.out_dir.display()),
        source,
    })?;
    let mut exported = Vec::new();
    for def in definitions(ctx)? {
        let (image, _) = build(ctx, rootfs, &def)?;
        let (rootfs_tar, layout_dir, archive) = output_paths(&ctx.out_dir, &def.name);
        layout::write_file_atomic(&rootfs_tar, &image.layer.tar)?;
        layout::write_layout_dir(&layout_dir, &image)?;
        let archive_bytes = layout::layout_archive(&image, ctx.epoch)?;
        layout::write_file_atomic(&archive, &archive_bytes)?;
        exported.push(ExportedImage {
            reference: image.reference.clone(),
            manifest_digest: image.manifest.digest.clone(),
            config_digest: image.config.digest.clone(),
            diff_id: image.layer.diff_id.clone(),
            rootfs_tar,
            layout_dir,
            archive,
            tar_size: image.layer.tar.len() as u64,
            layer_size: image.layer.gzip.len() as u64,
        });
    }
    let (_, main_layout, _) = output_paths(Path::new(""), MAIN_IMAGE);
    platforms::merge(
        &ctx.shared_out_dir(),
        &main_layout.to_string_lossy(),
        push::LAYOUT_TAG,
    )?;
    Ok(exported)
}

/// Puts the `tinilinux` image (built from `rootfs` itself) into the tinibox store inside
/// `rootfs` (`/var/lib/tinibox`), so `tinibox run tinilinux …` works offline on the live
/// system.
///
/// Call it on the final tree, after everything else has been added and **before** writing
/// the initramfs (and the disk image), so the stored image is the same rootfs that boots.
/// Only the unpacked layer, the manifest and the config are stored (no compressed blob),
/// which adds about one compressed rootfs to the initramfs. Returns the manifest digest.
pub fn add_image_store(ctx: &Context, rootfs: &mut RootfsTree) -> Result<String, OciError> {
    let source = rootfs.clone();
    add_image_store_of(ctx, &source, rootfs)
}

/// Like [`add_image_store`], but the stored `tinilinux` image is built from `image_source`
/// (e.g. the base rootfs that [`export`] also writes), so the live system's `tinibox images`
/// shows the same image ID as `out/oci` and Docker; `rootfs` (e.g. base + live-only
/// additions such as the installer) receives the store. Returns the manifest digest.
pub fn add_image_store_of(
    ctx: &Context,
    image_source: &RootfsTree,
    rootfs: &mut RootfsTree,
) -> Result<String, OciError> {
    let def = definitions(ctx)?
        .into_iter()
        .find(|d| d.name == MAIN_IMAGE)
        .ok_or_else(|| OciError::NoSuchDefinition(MAIN_IMAGE.to_string()))?;
    let (image, tree) = build(ctx, image_source, &def)?;
    store::put_image(rootfs, &image, &tree, ctx.epoch.rfc3339())?;
    Ok(image.manifest.digest)
}
