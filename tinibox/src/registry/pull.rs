//! `pull`: reference → manifest (through an index by platform) → config → layers, into an OCI
//! layout below the store's `tmp/`, then landed by [`crate::image::load_pulled`] with the same
//! checks as `load`.
//!
//! Layers whose diff_id is already unpacked in the store are not downloaded; the others are
//! fetched by up to [`PARALLEL`] threads at once, each verified while streaming (`blob`). If
//! anything fails, the staging folder is removed and the store is unchanged; so it is after
//! SIGINT, SIGTERM or SIGHUP (`image::interrupt`: the process exits 130, 143 or 129). An
//! image whose name and manifest are already in the store is "up to date" after one manifest
//! request, when it is of the platform asked for.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, DescriptorBuilder, ImageConfiguration, MediaType};

use super::blob;
use super::client::Client;
use super::credentials;
use super::error::{RegistryError, Result};
use super::manifest::{self, Platform};
use super::progress::Progress;
use super::reference::ImageRef;
use crate::image::document::parse_document;
use crate::image::{self, ImageRecord, Store};

/// Layers downloaded at the same time.
pub const PARALLEL: usize = 3;

/// What a pull did.
#[derive(Debug)]
pub struct Pulled {
    /// The record now in the store.
    pub record: ImageRecord,
    /// The digest the registry knows the image by.
    pub digest: String,
    /// Whether anything new was stored (`false`: it was up to date).
    pub downloaded: bool,
    /// The reference as Docker prints it.
    pub familiar: String,
}

/// The store name and tag a pulled image is recorded under.
pub fn store_name(r: &ImageRef) -> (String, String) {
    (
        r.familiar_name(),
        r.tag.clone().unwrap_or_else(|| "<none>".to_string()),
    )
}

/// The text `Store::resolve` finds a pulled reference by.
pub fn store_text(r: &ImageRef) -> String {
    match (&r.tag, &r.digest) {
        (_, Some(d)) => d.clone(),
        (Some(t), None) => format!("{}:{t}", r.familiar_name()),
        (None, None) => r.familiar_name(),
    }
}

/// The text the store resolves `text` by when the image is already there: `text` itself, or
/// for `NAME@DIGEST` the manifest digest of the image pulled by that digest.
pub fn find_local(store: &Store, text: &str) -> Option<String> {
    if store.resolve(text).is_ok() {
        return Some(text.to_string());
    }
    let r = ImageRef::parse(text).ok()?;
    match &r.digest {
        Some(d) => {
            // An index digest names one image per platform: take the host's.
            let host = Platform::host();
            store
                .images()
                .ok()?
                .into_iter()
                .filter(|i| i.repo_digest.as_deref() == Some(d.as_str()) || i.manifest_digest == *d)
                .find(|i| {
                    store.config(i).is_ok_and(|c| {
                        c.os().to_string() == host.os && c.architecture().to_string() == host.arch
                    })
                })
                .map(|i| i.manifest_digest)
        }
        None => {
            let t = store_text(&r);
            store.resolve(&t).ok().map(|_| t)
        }
    }
}

/// Opens a client for `r` with the stored credentials and the given actions
/// (`pull`, `pull,push`).
pub fn connect(r: &ImageRef, actions: &str) -> Result<Client> {
    let creds = credentials::lookup(&r.domain)?;
    Client::connect(
        r.api_host(),
        vec![format!("repository:{}:{actions}", r.path)],
        creds,
    )
}

fn descriptor(media: &str, digest: &str, size: u64) -> Result<Descriptor> {
    let digest =
        oci_spec::image::Digest::try_from(digest).map_err(|e| RegistryError::Protocol {
            host: String::new(),
            problem: format!("bad digest {digest}: {e}"),
        })?;
    DescriptorBuilder::default()
        .media_type(MediaType::from(media))
        .digest(digest)
        .size(size)
        .build()
        .map_err(|e| RegistryError::Protocol {
            host: String::new(),
            problem: e.to_string(),
        })
}

/// Refuses an image whose config names another platform than `wanted` (`NoPlatform`, with
/// the config's `os/arch[/variant]`).
fn check_platform(wanted: &Platform, config: &ImageConfiguration, image: &str) -> Result<()> {
    let (os, arch) = (config.os().to_string(), config.architecture().to_string());
    let variant = config.variant().clone();
    if wanted.matches(&os, &arch, variant.as_deref()) {
        return Ok(());
    }
    Err(RegistryError::NoPlatform {
        image: image.to_string(),
        wanted: wanted.to_string(),
        available: match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        },
    })
}

/// Pulls `text` into `store`. `platform` overrides the host's; progress goes to `progress`.
pub fn pull(
    store: &Store,
    text: &str,
    platform: Option<&Platform>,
    progress: &Arc<Progress>,
) -> Result<Pulled> {
    // Declared first, dropped last: an interruption removes the staging folders below.
    let _interrupt = crate::image::interrupt::Guard::install();
    let r = ImageRef::parse(text)?;
    let familiar = r.familiar();
    let wanted = platform.cloned().unwrap_or_else(Platform::host);
    let client = connect(&r, "pull")?;
    let host = client.host().to_string();
    progress.message(&format!(
        "{}: Pulling from {}",
        r.tag.as_deref().unwrap_or_else(|| r.reference()),
        if r.domain == super::reference::DOCKER_HUB {
            r.path.clone()
        } else {
            r.full_name()
        }
    ));
    let top = manifest::fetch(&client, &r.path, r.reference())?;
    let (manifest_doc, manifest_desc) = if top.is_index() {
        let chosen = manifest::select(&top.bytes, &wanted, &familiar, &host)?;
        let digest = chosen.digest().to_string();
        let doc = manifest::fetch(&client, &r.path, &digest)?;
        if doc.is_index() {
            return Err(RegistryError::Protocol {
                host,
                problem: format!("the index of {familiar} points at another index"),
            });
        }
        let desc = descriptor(&doc.media_type, &doc.digest, doc.bytes.len() as u64)?;
        (doc, desc)
    } else {
        let desc = descriptor(&top.media_type, &top.digest, top.bytes.len() as u64)?;
        (top.clone(), desc)
    };
    let repo_digest = top.digest.clone();
    let (name, tag) = store_name(&r);

    // Up to date: the same name already records this manifest (of the platform asked for:
    // a single-platform manifest of another platform is refused, as Docker refuses it).
    if let Ok(existing) = store.resolve(&store_text(&r)) {
        if existing.manifest_digest == manifest_doc.digest {
            if let (Some(p), Ok(config)) = (platform, store.config(&existing)) {
                check_platform(p, &config, &familiar)?;
            }
        }
        if existing.manifest_digest == manifest_doc.digest
            && existing.name == name
            && existing
                .diff_ids
                .iter()
                .all(|d| store.layer_path(d).is_dir())
        {
            progress.message(&format!("Digest: {repo_digest}"));
            progress.message(&format!("Status: Image is up to date for {familiar}"));
            return Ok(Pulled {
                record: existing,
                digest: repo_digest,
                downloaded: false,
                familiar,
            });
        }
    }

    let parsed = manifest::parse_manifest(&manifest_doc.bytes, &familiar, &host)?;
    let staging = store.staging_dir("pull")?;
    let blobs = staging.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(RegistryError::local("create the pull staging"))?;
    let blob_file = |digest: &str| blobs.join(digest.trim_start_matches("sha256:"));
    std::fs::write(blob_file(&manifest_doc.digest), &manifest_doc.bytes)
        .map_err(RegistryError::local("stage the manifest"))?;

    // The config: small, fetched first (it names the diff_ids).
    let config_desc = parsed.config();
    let config_digest = config_desc.digest().to_string();
    let never = AtomicBool::new(false);
    let quiet = Progress::new(Box::new(std::io::sink()), false, true);
    blob::download(
        &client,
        &r.path,
        &config_digest,
        config_desc.size(),
        &blob_file(&config_digest),
        &never,
        &quiet.line(&config_digest, config_desc.size(), ""),
    )?;
    let config_bytes = std::fs::read(blob_file(&config_digest))
        .map_err(RegistryError::local("read the staged config"))?;
    let config = parse_document::<ImageConfiguration>(&config_bytes).map_err(|e| {
        RegistryError::Protocol {
            host: host.clone(),
            problem: format!("the config of {familiar} is not valid: {e}"),
        }
    })?;
    if let Some(p) = platform {
        check_platform(p, &config, &familiar)?;
    }
    let diff_ids = config.rootfs().diff_ids();

    // The layers not yet in the store.
    let mut todo = Vec::new();
    for (i, layer) in parsed.layers().iter().enumerate() {
        let present = diff_ids
            .get(i)
            .is_some_and(|d| store.layer_path(d).is_dir());
        let digest = layer.digest().to_string();
        if present {
            progress.line(&digest, layer.size(), "Already exists");
        } else if !todo.iter().any(|(d, _)| *d == digest) {
            todo.push((digest, layer.size()));
        }
    }
    let lines: Vec<_> = todo
        .iter()
        .map(|(d, s)| progress.line(d, *s, "Pulling fs layer"))
        .collect();
    let drawer = progress.start();
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let first_error: Mutex<Option<RegistryError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(todo.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((digest, size)) = todo.get(i) else {
                    break;
                };
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                lines[i].set_status("Downloading");
                match blob::download(
                    &client,
                    &r.path,
                    digest,
                    *size,
                    &blob_file(digest),
                    &cancel,
                    &lines[i],
                ) {
                    Ok(()) => lines[i].set_status("Download complete"),
                    Err(e) => {
                        lines[i].set_status("Failed");
                        cancel.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            if slot.is_none() || matches!(*slot, Some(RegistryError::Local { .. }))
                            {
                                *slot = Some(e);
                            }
                        }
                    }
                }
            });
        }
    });
    progress.finish(drawer);
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let record = image::load_pulled(
        store,
        staging.path(),
        &familiar,
        &manifest_desc,
        (name, tag),
        &repo_digest,
    )?;
    for line in &lines {
        line.set_status("Pull complete");
    }
    progress.finish(None);
    progress.message(&format!("Digest: {repo_digest}"));
    progress.message(&format!("Status: Downloaded newer image for {familiar}"));
    Ok(Pulled {
        record,
        digest: repo_digest,
        downloaded: true,
        familiar,
    })
}
