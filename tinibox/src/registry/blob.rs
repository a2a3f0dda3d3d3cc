//! Blob downloads: `GET /v2/NAME/blobs/DIGEST` into a file, hashing while the bytes stream in.
//!
//! A body that breaks off (connection dropped, or ended short of the descriptor's size) is
//! resumed with `Range: bytes=N-` after a back-off, up to 5 times per blob; a `206` answer
//! continues the file and the running hash, a `200` starts over. More bytes than the descriptor
//! says, a different digest or a final short size is [`RegistryError::Corrupt`] — the file is
//! then worthless and the caller discards the staging folder.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use ureq::http::{Method, StatusCode};

use super::client::{Client, Payload};
use super::error::{RegistryError, Result};
use super::progress::Line;

const RESUMES: u32 = 5;

/// Downloads blob `digest` (`size` bytes) of repository `path` into `dest`, verifying it.
/// `cancel` stops the download early (another layer failed); `line` shows its progress.
pub fn download(
    client: &Client,
    path: &str,
    digest: &str,
    size: u64,
    dest: &Path,
    cancel: &AtomicBool,
    line: &Line,
) -> Result<()> {
    let host = client.host().to_string();
    let corrupt = |problem: String| RegistryError::Corrupt {
        host: host.clone(),
        digest: digest.to_string(),
        problem,
    };
    let local = |e: std::io::Error| RegistryError::Local {
        what: format!("write {}", dest.display()),
        problem: e.to_string(),
    };
    let mut file = File::create(dest).map_err(local)?;
    let mut hasher = Sha256::new();
    let mut have: u64 = 0;
    let mut interruptions = 0;
    let mut buf = vec![0u8; 128 << 10];
    let mut last_problem;
    loop {
        let mut headers = Vec::new();
        if have > 0 {
            headers.push(("range", format!("bytes={have}-")));
        }
        let mut response = client.send(
            Method::GET,
            &format!("/v2/{path}/blobs/{digest}"),
            &headers,
            Payload::Empty,
        )?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT if have > 0 => {}
            StatusCode::OK => {
                if have > 0 {
                    // The server ignored the range: start over.
                    file = File::create(dest).map_err(local)?;
                    hasher = Sha256::new();
                    have = 0;
                    line.set_done(0);
                }
            }
            _ => return Err(client.unexpected(&format!("blob {digest}"), &mut response)),
        }
        let mut reader = response.into_body().into_reader();
        last_problem = loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(RegistryError::Local {
                    what: format!("download {digest}"),
                    problem: "cancelled".into(),
                });
            }
            match reader.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    if have + n as u64 > size {
                        return Err(corrupt(format!(
                            "the registry sent more than the {size} bytes the manifest says"
                        )));
                    }
                    hasher.update(&buf[..n]);
                    file.write_all(&buf[..n]).map_err(local)?;
                    have += n as u64;
                    line.set_done(have);
                }
                Err(e) => break Some(e.to_string()),
            }
        };
        if have == size {
            break;
        }
        interruptions += 1;
        if interruptions > RESUMES {
            let problem = match last_problem {
                Some(p) => format!("the download broke off at {have} of {size} bytes ({p})"),
                None => format!("the registry sent {have} of {size} bytes"),
            };
            return Err(corrupt(format!("{problem}, {RESUMES} resumes failed")));
        }
        line.set_status("Retrying");
        std::thread::sleep(Duration::from_millis(200 << interruptions.min(4)));
        line.set_status("Downloading");
    }
    file.flush().map_err(local)?;
    let found = format!("sha256:{}", hex::encode(hasher.finalize()));
    if found != digest {
        return Err(corrupt(format!("its content hashes to {found}")));
    }
    Ok(())
}
