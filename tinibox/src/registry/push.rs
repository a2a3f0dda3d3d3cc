//! `push`: a stored image (rebuilt into blobs by `local::assemble`) to a registry.
//!
//! Per blob: `HEAD` first (present: skipped), then — when the image's stored name is another
//! repository of the same registry — a cross-repository mount (`POST …/uploads/?mount=&from=`,
//! 201), else an upload session: one `PUT ?digest=` with the whole blob (monolithic) when it is
//! at most the chunk size (`$TINIBOX_PUSH_CHUNK_SIZE` bytes, default 16 MiB), otherwise
//! `PATCH` chunks with `Content-Range` and a closing `PUT ?digest=`. Then the manifest is
//! `PUT` under the tag, and its digest recorded on the stored image (Docker's RepoDigests).
//! Progress lists the layers only, as Docker's. Follows the OCI distribution spec v1.1,
//! "Push".

use std::sync::Arc;

use ureq::http::{Method, StatusCode};

use super::client::{encode, Client, Payload};
use super::credentials;
use super::error::{RegistryError, Result};
use super::local::{assemble, resolve, Blob};
use super::manifest::OCI_MANIFEST;
use super::progress::{Line, Progress};
use super::reference::ImageRef;
use crate::image::Store;

const DEFAULT_CHUNK: u64 = 16 << 20;

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    /// The manifest's digest on the registry.
    pub digest: String,
    /// The manifest's size.
    pub size: usize,
    /// Whether the image ID is the stored one (see `local::assemble`).
    pub same_id: bool,
}

fn chunk_size() -> u64 {
    std::env::var("TINIBOX_PUSH_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1024)
        .unwrap_or(DEFAULT_CHUNK)
}

fn location(client: &Client, response: &ureq::http::Response<ureq::Body>) -> Result<String> {
    let loc = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Protocol {
            host: client.host().to_string(),
            problem: "an upload answer has no Location".into(),
        })?;
    Ok(
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else {
            format!("{}{loc}", client.base())
        },
    )
}

fn with_query(url: &str, query: &str) -> String {
    format!("{url}{}{query}", if url.contains('?') { '&' } else { '?' })
}

/// Uploads `blob` into repository `path` unless the registry has it: `HEAD`, then a mount
/// from repository `from` when given, else an upload session (monolithic or chunked).
pub fn upload(
    client: &Client,
    path: &str,
    blob: &Blob,
    from: Option<&str>,
    line: &Line,
) -> Result<()> {
    let what = format!("blob {}", blob.digest);
    let mut head = client.send(
        Method::HEAD,
        &format!("/v2/{path}/blobs/{}", blob.digest),
        &[],
        Payload::Empty,
    )?;
    if head.status().is_success() {
        line.set_status("Layer already exists");
        return Ok(());
    }
    if head.status() != StatusCode::NOT_FOUND {
        return Err(client.unexpected(&what, &mut head));
    }
    let start = match from {
        Some(src) => format!(
            "/v2/{path}/blobs/uploads/?mount={}&from={}",
            encode(&blob.digest),
            encode(src)
        ),
        None => format!("/v2/{path}/blobs/uploads/"),
    };
    let mut response = client.send(Method::POST, &start, &[], Payload::Empty)?;
    if response.status() == StatusCode::CREATED && from.is_some() {
        line.set_status(&format!("Mounted from {}", from.unwrap_or_default()));
        return Ok(());
    }
    if response.status() != StatusCode::ACCEPTED {
        return Err(client.unexpected(&format!("starting the upload of {what}"), &mut response));
    }
    let mut url = location(client, &response)?;
    line.set_status("Pushing");
    let chunk = chunk_size();
    let octet = ("content-type", "application/octet-stream".to_string());
    if blob.size > chunk {
        let mut offset = 0;
        while offset < blob.size {
            let len = chunk.min(blob.size - offset);
            let range = ("content-range", format!("{}-{}", offset, offset + len - 1));
            let mut r = client.send(
                Method::PATCH,
                &url,
                &[octet.clone(), range],
                Payload::File {
                    path: &blob.path,
                    offset,
                    len,
                },
            )?;
            if r.status() != StatusCode::ACCEPTED {
                return Err(client.unexpected(&format!("uploading a chunk of {what}"), &mut r));
            }
            url = location(client, &r)?;
            offset += len;
            line.set_done(offset);
        }
        let mut r = client.send(
            Method::PUT,
            &with_query(&url, &format!("digest={}", encode(&blob.digest))),
            &[octet],
            Payload::Empty,
        )?;
        if r.status() != StatusCode::CREATED {
            return Err(client.unexpected(&format!("closing the upload of {what}"), &mut r));
        }
    } else {
        let mut r = client.send(
            Method::PUT,
            &with_query(&url, &format!("digest={}", encode(&blob.digest))),
            &[octet],
            Payload::File {
                path: &blob.path,
                offset: 0,
                len: blob.size,
            },
        )?;
        if r.status() != StatusCode::CREATED {
            return Err(client.unexpected(&format!("uploading {what}"), &mut r));
        }
        line.set_done(blob.size);
    }
    line.set_status("Pushed");
    Ok(())
}

/// Pushes the stored image `text` names to its registry.
pub fn push(store: &Store, text: &str, progress: &Arc<Progress>) -> Result<Pushed> {
    // Declared first, dropped last: an interruption removes the rebuilt layers' staging.
    let _interrupt = crate::image::interrupt::Guard::install();
    let r = ImageRef::parse(text)?;
    let record = resolve(store, text)?;
    // A mount source: the image's own name on the same registry, another repository.
    let source = ImageRef::parse(&record.reference())
        .ok()
        .filter(|s| s.domain == r.domain && s.path != r.path)
        .map(|s| s.path);
    let mut scopes = vec![format!("repository:{}:pull,push", r.path)];
    if let Some(s) = &source {
        scopes.push(format!("repository:{s}:pull"));
    }
    let creds = credentials::lookup(&r.domain)?;
    let client = Client::connect(r.api_host(), scopes, creds)?;
    progress.message(&format!(
        "The push refers to repository [{}]",
        r.full_name()
    ));
    let assembled = assemble(store, &record, true)?;
    let drawer = progress.start();
    let mut result = Ok(());
    for blob in &assembled.layers {
        let line = progress.line(&blob.digest, blob.size, "Preparing");
        if let Err(e) = upload(&client, &r.path, blob, source.as_deref(), &line) {
            line.set_status("Failed");
            result = Err(e);
            break;
        }
    }
    progress.finish(drawer);
    result?;
    // The config is a blob too, but not a layer: Docker does not list it.
    let quiet = Progress::new(Box::new(std::io::sink()), false, true);
    let config_line = quiet.line(&assembled.config.digest, assembled.config.size, "");
    upload(
        &client,
        &r.path,
        &assembled.config,
        source.as_deref(),
        &config_line,
    )?;
    let reference = r.tag.as_deref().unwrap_or(r.reference());
    put_manifest(
        &client,
        &r.path,
        reference,
        OCI_MANIFEST,
        &assembled.manifest,
    )?;
    progress.message(&format!(
        "{reference}: digest: {} size: {}",
        assembled.manifest_digest,
        assembled.manifest.len()
    ));
    // Remember the digest under the pushed name (`images --digests`, `inspect`'s
    // RepoDigests), as Docker does; only when the registry holds this very image ID.
    if assembled.same_id {
        if let Some(tag) = &r.tag {
            store.set_repo_digest(&r.familiar_name(), tag, &assembled.manifest_digest)?;
        }
    }
    Ok(Pushed {
        digest: assembled.manifest_digest.clone(),
        size: assembled.manifest.len(),
        same_id: assembled.same_id,
    })
}

/// `PUT /v2/PATH/manifests/REFERENCE` of `bytes` with `media_type` (a tag or a digest).
///
/// Errors: any answer but 201, with the registry's words.
pub fn put_manifest(
    client: &Client,
    path: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<()> {
    let mut response = client.send(
        Method::PUT,
        &format!("/v2/{path}/manifests/{reference}"),
        &[("content-type", media_type.to_string())],
        Payload::Bytes(bytes),
    )?;
    if response.status() != StatusCode::CREATED {
        return Err(client.unexpected(&format!("the manifest {reference}"), &mut response));
    }
    Ok(())
}
