//! Handlers for the image store commands: `load`, `import`, `images`, `rmi` (images helper).
//!
//! Each handler opens the store named by the global `--store` flag, calls the library in
//! `crate::image` and prints Docker-like lines. Failures print one line on stderr and exit
//! with 125, as Docker's CLI does. No store logic lives here.

use std::path::PathBuf;

use clap::Args;

use super::GlobalOptions;
use crate::image::{self, ImageError, ImageRecord, Store};

/// Exit status of an image command that failed (Docker's convention).
pub const EXIT_FAILURE: u8 = 125;

fn fail(err: ImageError) -> u8 {
    eprintln!("tinibox: {err}");
    EXIT_FAILURE
}

fn open(global: &GlobalOptions) -> Result<Store, ImageError> {
    Store::open(&global.store)
}

/// Arguments of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// OCI image layout folder, OCI archive or `docker save` archive (same as -i).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Read from this file or folder (Docker's spelling).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "PATH",
        conflicts_with = "path"
    )]
    pub input: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `load`; returns the exit status.
pub fn load(global: &GlobalOptions, args: LoadArgs) -> u8 {
    let Some(path) = args.path.or(args.input) else {
        eprintln!("tinibox: load needs an image: tinibox load PATH (or -i PATH)");
        return EXIT_FAILURE;
    };
    let result = open(global).and_then(|store| image::load(&store, &path));
    match result {
        Ok(records) => {
            if !args.quiet {
                for r in records {
                    if r.name == "<none>" {
                        println!("Loaded image ID: {}", r.config_digest);
                    } else {
                        println!("Loaded image: {}", r.reference());
                    }
                }
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The rootfs tarball (plain or gzip).
    #[arg(value_name = "TARBALL")]
    pub tarball: PathBuf,
    /// Name for the new image, NAME[:TAG] (untagged when left out).
    #[arg(value_name = "NAME[:TAG]")]
    pub reference: Option<String>,
}

/// Runs `import`; returns the exit status.
pub fn import(global: &GlobalOptions, args: ImportArgs) -> u8 {
    let result = open(global)
        .and_then(|store| image::import(&store, &args.tarball, args.reference.as_deref()));
    match result {
        Ok(record) => {
            println!("{}", record.config_digest);
            0
        }
        Err(e) => fail(e),
    }
}

/// Arguments of `images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full IDs instead of 12 digits.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show the registry digest of pulled images.
    #[arg(long)]
    pub digests: bool,
    /// Only images of this repository (name or name:tag).
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub filter: Option<String>,
}

/// Human size as Docker prints it (decimal units).
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}B");
    }
    let number = format!("{value:.3}");
    let number = number.trim_end_matches('0').trim_end_matches('.');
    format!("{number}{}", units[unit])
}

fn matches_filter(record: &ImageRecord, filter: &str) -> bool {
    match image::reference::parse_name_tag(filter) {
        Ok((name, tag)) if filter.contains(':') => record.name == name && record.tag == tag,
        Ok((name, _)) => record.name == name,
        Err(_) => false,
    }
}

/// Runs `images`; returns the exit status.
pub fn images(global: &GlobalOptions, args: ImagesArgs) -> u8 {
    let records = match open(global).and_then(|s| s.images()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let records: Vec<_> = records
        .into_iter()
        .filter(|r| args.filter.as_deref().is_none_or(|f| matches_filter(r, f)))
        .collect();
    let id = |r: &ImageRecord| {
        if args.no_trunc {
            r.config_digest.clone()
        } else {
            r.short_id().to_string()
        }
    };
    if args.quiet {
        for r in &records {
            println!("{}", id(r));
        }
        return 0;
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone(), r.tag.clone()];
            if args.digests {
                row.push(r.repo_digest.clone().unwrap_or_else(|| "<none>".into()));
            }
            row.extend([
                id(r),
                r.created
                    .as_deref()
                    .map(|c| {
                        c.replace('T', " ")
                            .trim_end_matches('Z')
                            .chars()
                            .take(19)
                            .collect()
                    })
                    .unwrap_or_else(|| "N/A".to_string()),
                human_size(r.size),
            ]);
            row
        })
        .collect();
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        println!("{out}");
    };
    line(&header);
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    0
}

/// Arguments of `rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove even when a container uses the image (its layers stay until it is removed).
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove: name[:tag] or (short) ID.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// Runs `rmi`; returns the exit status.
pub fn rmi(global: &GlobalOptions, args: RmiArgs) -> u8 {
    let store = match open(global) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut status = 0;
    for reference in &args.images {
        match store.remove(reference, args.force) {
            Ok(removed) => {
                let still_there = store.images().unwrap_or_default();
                for r in &removed {
                    if r.name != "<none>" {
                        println!("Untagged: {}", r.reference());
                    }
                }
                if let Some(first) = removed.first() {
                    if !still_there
                        .iter()
                        .any(|s| s.manifest_digest == first.manifest_digest)
                    {
                        println!("Deleted: {}", first.config_digest);
                    }
                }
            }
            // Docker's daemon answers these (no such image, in use by a container): exit 1.
            Err(e) => {
                fail(e);
                status = 1;
            }
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(2_100_000), "2.1MB");
        assert_eq!(human_size(1_000_000), "1MB");
    }
}
