//! `system df [--format T | -v]` and `image prune [-a] [-f]`, as Docker words them.
//!
//! `system df`: one row per kind — Images (total, how many a container uses, their size,
//! what removing the unused ones would free), Containers (total, running, the size of
//! their writable upper folders, what the stopped ones hold), Local Volumes and Build Cache
//! (tinibox has neither named volumes nor a builder, so both rows are zero, as Docker shows
//! them on a host without any).
//!
//! `image prune`: removes dangling images (untagged), or with `-a` every image no container
//! uses (running or stopped: the store refuses to remove an image a container's root is
//! made from); prints what it untagged and deleted and "Total reclaimed space" (the unpacked
//! layers' bytes that went: layers another image shares count for nothing). Without `-f`
//! it asks first, as Docker does. Changes the store only through [`crate::image::Store`].

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{json, Value};

use super::control::{confirm, disk_usage, human_size};
use super::manage::fail;
use super::names;
use super::view::View;
use crate::cli::GlobalOptions;
use crate::image::{ImageRecord, Store};

/// Docker's default `system df` table.
const DEFAULT_TABLE: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

/// `RECLAIMABLE` as Docker prints it: the size, and its share of `total` when there is any.
fn reclaimable(free: u64, total: u64) -> String {
    match (free * 100).checked_div(total) {
        Some(share) => format!("{} ({share}%)", human_size(free)),
        None => human_size(free),
    }
}

/// The manifest digests of the images containers' roots are made from.
fn used_images(store: &Store) -> BTreeSet<String> {
    store
        .containers()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, c)| c.manifest_digest)
        .collect()
}

/// Runs `system df` (with `verbose`, `system df -v`: [`super::disk_verbose`]); returns the
/// exit status.
pub fn df(global: &GlobalOptions, format: Option<&str>, verbose: bool) -> u8 {
    let store = match Store::open(&global.store) {
        Ok(s) => s,
        Err(e) => return fail(125, format!("{e} — check --store")),
    };
    let images = store.images().unwrap_or_default();
    let used = used_images(&store);
    // One row per image, not per tag.
    let mut seen = BTreeSet::new();
    let unique: Vec<&ImageRecord> = images
        .iter()
        .filter(|r| seen.insert(r.manifest_digest.clone()))
        .collect();
    let image_size: u64 = unique.iter().map(|r| r.size).sum();
    let active_images = unique
        .iter()
        .filter(|r| used.contains(&r.manifest_digest))
        .count();
    let used_size: u64 = unique
        .iter()
        .filter(|r| used.contains(&r.manifest_digest))
        .map(|r| r.size)
        .sum();
    let views: Vec<View> = names::all_ids(&global.root)
        .iter()
        .filter_map(|id| View::load(&global.root, id))
        .collect();
    if verbose {
        return match super::disk_verbose::report(&store, &images, &views) {
            Ok(text) => {
                let _ = std::io::stdout().write_all(text.as_bytes());
                0
            }
            Err(e) => fail(125, e),
        };
    }
    let mut container_size = 0;
    let mut stopped_size = 0;
    let mut running = 0;
    for v in &views {
        let size = disk_usage(&store.container_path(&v.id).join("upper"));
        container_size += size;
        let active = matches!(v.state(), "running" | "paused" | "restarting");
        if active {
            running += 1;
        } else {
            stopped_size += size;
        }
    }
    let row = |kind: &str, total: usize, active: usize, size: u64, free: String| {
        json!({
            "Type": kind, "TotalCount": total.to_string(), "Active": active.to_string(),
            "Size": human_size(size), "Reclaimable": free,
        })
    };
    let rows = vec![
        row(
            "Images",
            unique.len(),
            active_images,
            image_size,
            reclaimable(image_size - used_size, image_size),
        ),
        row(
            "Containers",
            views.len(),
            running,
            container_size,
            reclaimable(stopped_size, container_size),
        ),
        row("Local Volumes", 0, 0, 0, human_size(0)),
        row("Build Cache", 0, 0, 0, human_size(0)),
    ];
    let headers: Value = json!({
        "Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    });
    match super::listing::render(format.unwrap_or(DEFAULT_TABLE), &headers, &rows) {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            0
        }
        Err(e) => fail(125, e),
    }
}

/// Runs `image prune`; returns the exit status.
pub fn image_prune(global: &GlobalOptions, all: bool, force: bool) -> u8 {
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !force && !confirm(warning) {
        return 0;
    }
    let store = match Store::open(&global.store) {
        Ok(s) => s,
        Err(e) => return fail(125, format!("{e} — check --store")),
    };
    let images = match store.images() {
        Ok(i) => i,
        Err(e) => return fail(125, e),
    };
    let used = used_images(&store);
    let mut lines = Vec::new();
    // What the unpacked layers take, before and after: the space given back (shared layers
    // stay, and count for nothing, as in Docker's figure).
    let layers = store.root().join("layers");
    let before = disk_usage(&layers);
    let mut done = BTreeSet::new();
    for r in &images {
        // Dangling: no tag names the image (a `<none>` record beside a tagged one is not).
        let dangling = images
            .iter()
            .filter(|x| x.manifest_digest == r.manifest_digest)
            .all(|x| x.name == "<none>");
        if (!all && !dangling) || used.contains(&r.manifest_digest) {
            continue;
        }
        if !done.insert(r.manifest_digest.clone()) {
            continue;
        }
        // By id: every tag of the image goes, and the store refuses one a container uses.
        match store.remove(&r.config_digest, false) {
            Ok(removed) => {
                for x in removed.iter().filter(|x| x.name != "<none>") {
                    lines.push(format!("untagged: {}", x.reference()));
                }
                lines.push(format!("deleted: {}", r.config_digest));
            }
            Err(e) => eprintln!("tinibox: removing {}: {e}", r.short_id()),
        }
    }
    let reclaimed = before.saturating_sub(disk_usage(&layers));
    let mut out = std::io::stdout().lock();
    if !lines.is_empty() {
        let _ = writeln!(out, "Deleted Images:");
        for l in &lines {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Total reclaimed space: {}", human_size(reclaimed));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_reads_like_dockers() {
        assert_eq!(reclaimable(0, 0), "0B");
        assert_eq!(reclaimable(0, 1_240_000), "0B (0%)");
        assert_eq!(reclaimable(1_240_000, 1_240_000), "1.24MB (100%)");
    }
}
