//! `system df -v`: Docker's verbose disk-use report, one table per kind.
//!
//! - "Images space usage": REPOSITORY, TAG, IMAGE ID, CREATED, SIZE, SHARED SIZE (the
//!   unpacked layers another image has too), UNIQUE SIZE (the rest), CONTAINERS (how many
//!   containers' roots are made from it), one row per tag as Docker lists them;
//! - "Containers space usage": CONTAINER ID, IMAGE, COMMAND, LOCAL VOLUMES, SIZE (the
//!   writable upper folder), CREATED, STATUS, NAMES;
//! - "Local Volumes space usage" and "Build cache usage": tinibox has neither named volumes
//!   nor a builder, so their tables are empty and the cache is 0B, as Docker prints them on a
//!   host without any.
//!
//! Reads the image store and the containers' records; changes nothing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::control::{disk_usage, human_size};
use super::listing::render;
use super::meta;
use super::view::View;
use crate::image::{ImageRecord, Store};

/// Docker's verbose image table.
const IMAGE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t\
     {{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";

/// Docker's verbose container table.
const CONTAINER_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t\
     {{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";

/// The report's text for the store's `images` (one row per tag) and the containers `views`;
/// `Err` is a template error (not expected: the templates are fixed).
pub fn report(store: &Store, images: &[ImageRecord], views: &[View]) -> Result<String, String> {
    // How many images have each layer: a layer two images have is shared size.
    let mut owners: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in images
        .iter()
        .filter(|r| seen.insert(r.manifest_digest.clone()))
    {
        for d in &r.diff_ids {
            *owners.entry(d.as_str()).or_default() += 1;
        }
    }
    let mut layer_sizes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for (_, c) in store.containers().unwrap_or_default() {
        *used.entry(c.manifest_digest).or_default() += 1;
    }
    let mut image_rows = Vec::new();
    for r in images {
        let mut shared = 0;
        for d in &r.diff_ids {
            if owners.get(d.as_str()).copied().unwrap_or(0) > 1 {
                shared += *layer_sizes
                    .entry(d.as_str())
                    .or_insert_with(|| disk_usage(&store.layer_path(d)));
            }
        }
        let shared = shared.min(r.size);
        image_rows.push(json!({
            "Repository": r.name, "Tag": r.tag, "ID": r.short_id(),
            "CreatedSince": r.created.as_deref().map_or_else(
                || "N/A".to_string(),
                |c| format!("{} ago", meta::human_duration(meta::seconds_since(c)))),
            "Size": human_size(r.size), "SharedSize": human_size(shared),
            "UniqueSize": human_size(r.size - shared),
            "Containers": used.get(&r.manifest_digest).copied().unwrap_or(0).to_string(),
        }));
    }
    let image_headers = json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
        "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS",
    });
    let container_rows: Vec<Value> = views
        .iter()
        .map(|v| {
            let mut command = v.command();
            if command.chars().count() > 20 {
                command = format!("{}…", crate::text::prefix(&command, 19));
            }
            json!({
                "ID": super::names::short(&v.id), "Image": v.image(),
                "Command": format!("\"{command}\""), "LocalVolumes": "0",
                "Size": human_size(disk_usage(&store.container_path(&v.id).join("upper"))),
                "RunningFor": format!("{} ago",
                    meta::human_duration(meta::seconds_since(v.created()))),
                "Status": v.status_text(), "Names": v.name,
            })
        })
        .collect();
    let container_headers = json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
        "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED",
        "Status": "STATUS", "Names": "NAMES",
    });
    let mut text = String::from("Images space usage:\n\n");
    text.push_str(&render(IMAGE_TABLE, &image_headers, &image_rows)?);
    text.push_str("\nContainers space usage:\n\n");
    text.push_str(&render(
        CONTAINER_TABLE,
        &container_headers,
        &container_rows,
    )?);
    text.push_str("\nLocal Volumes space usage:\n\n");
    text.push_str(&render(
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}),
        &[],
    )?);
    text.push_str(&format!("\nBuild cache usage: {}\n\n", human_size(0)));
    text.push_str(&render(
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t\
         {{.UsageCount}}\t{{.Shared}}",
        &json!({"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE",
            "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE",
            "Shared": "SHARED"}),
        &[],
    )?);
    Ok(text)
}
