//! The Rust side of the SBOM: every crate in `Cargo.lock`, with its licence as its manifest
//! declares it (`cargo metadata --format-version 1`), its crates.io checksum (from
//! `Cargo.lock`), and whether it is linked into the shipped tinibox.
//!
//! "Linked into tinibox" is the closure of tinibox's normal (not dev, not build)
//! dependencies resolved for the target the static tinibox is built for
//! (`cargo metadata --filter-platform`); a procedural-macro crate runs in the compiler and is
//! a build dependency, not linked. Cargo runs twice (the full list, then the filtered
//! resolve), once per process: the answer is kept for later calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Error, IoContext, Result};

/// How a crate relates to the shipped tinibox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// tinibox itself.
    Tinibox,
    /// Compiled into tinibox.
    Linked,
    /// A procedural macro tinibox's build runs (not in the binary).
    BuildOnly,
    /// Not in any output: a dependency of distro-build or the tests, or of another platform.
    Unshipped,
}

/// One crate of `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    /// Crate name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// The manifest's `license` as an SPDX expression (old `A/B` written `A OR B`), if any.
    pub license: Option<String>,
    /// sha256 of the `.crate` file (Cargo.lock's `checksum`), for crates.io crates.
    pub checksum: Option<String>,
    /// True for the workspace's own crates (tinibox, distro-build, the tests).
    pub workspace: bool,
    /// Its relation to the shipped tinibox.
    pub role: Role,
}

/// Writes the old `MIT/Apache-2.0` licence syntax as the SPDX expression it means.
pub fn normalise_license(license: &str) -> String {
    license
        .split('/')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `(name, version) → checksum` from a Cargo.lock text (`[[package]]` tables with `name`,
/// `version` and, for registry crates, `checksum` lines).
pub fn lock_checksums(text: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let (mut name, mut version) = (None::<String>, None::<String>);
    let value = |line: &str, key: &str| {
        line.strip_prefix(key)
            .and_then(|r| r.trim_start().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
            version = None;
        } else if let Some(v) = value(line, "name") {
            name = Some(v);
        } else if let Some(v) = value(line, "version") {
            version = Some(v);
        } else if let Some(v) = value(line, "checksum") {
            if let (Some(n), Some(ver)) = (&name, &version) {
                out.insert((n.clone(), ver.clone()), v);
            }
        }
    }
    out
}

fn metadata(repo: &Path, filter: Option<&str>) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo)
        .args(["metadata", "--format-version", "1", "--locked"]);
    if let Some(target) = filter {
        cmd.args(["--filter-platform", target]);
    }
    let out = cmd.output().ctx(|| "starting cargo metadata")?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "cargo metadata failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Invalid(format!("cargo metadata printed no JSON: {e}")))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The crates linked into (or built for) tinibox: (linked ids, proc-macro ids), from a
/// platform-filtered `cargo metadata`.
fn tinibox_closure(filtered: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let packages: BTreeMap<&str, &Value> = filtered["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (str_of(p, "id"), p))
        .collect();
    let is_proc_macro = |id: &str| {
        packages.get(id).is_some_and(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "proc-macro")
            })
        })
    };
    let nodes: BTreeMap<&str, &Value> = filtered["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| (str_of(n, "id"), n))
        .collect();
    let root = packages
        .iter()
        .find(|(_, p)| str_of(p, "name") == "tinibox" && p["source"].is_null())
        .map(|(id, _)| id.to_string());
    let (mut linked, mut macros) = (BTreeSet::new(), BTreeSet::new());
    let mut todo: Vec<String> = root.into_iter().collect();
    while let Some(id) = todo.pop() {
        let Some(node) = nodes.get(id.as_str()) else {
            continue;
        };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            let dep_id = str_of(dep, "pkg").to_string();
            if !normal {
                continue;
            }
            if is_proc_macro(&dep_id) {
                macros.insert(dep_id);
            } else if linked.insert(dep_id.clone()) {
                todo.push(dep_id);
            }
        }
    }
    (linked, macros)
}

fn load(repo: &Path, triple: &str) -> Result<Vec<Crate>> {
    let all = metadata(repo, None)?;
    let filtered = metadata(repo, Some(triple))?;
    let lock_path = repo.join("Cargo.lock");
    let lock =
        std::fs::read_to_string(&lock_path).ctx(|| format!("reading {}", lock_path.display()))?;
    let checksums = lock_checksums(&lock);
    let (linked, macros) = tinibox_closure(&filtered);
    let mut crates = Vec::new();
    for p in all["packages"].as_array().into_iter().flatten() {
        let (name, version, id) = (str_of(p, "name"), str_of(p, "version"), str_of(p, "id"));
        let workspace = p["source"].is_null();
        let role = if workspace && name == "tinibox" {
            Role::Tinibox
        } else if linked.contains(id) {
            Role::Linked
        } else if macros.contains(id) {
            Role::BuildOnly
        } else {
            Role::Unshipped
        };
        crates.push(Crate {
            name: name.to_string(),
            version: version.to_string(),
            license: p["license"].as_str().map(normalise_license),
            checksum: checksums
                .get(&(name.to_string(), version.to_string()))
                .cloned(),
            workspace,
            role,
        });
    }
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(crates)
}

/// Every crate of the workspace's `Cargo.lock`, with tinibox's closure for the Rust target
/// `triple` (computed once per process).
///
/// Errors: cargo missing or failing (its message), an unreadable `Cargo.lock`.
pub fn crates(repo: &Path, triple: &str) -> Result<Vec<Crate>> {
    static CRATES: OnceLock<std::result::Result<Vec<Crate>, String>> = OnceLock::new();
    CRATES
        .get_or_init(|| load(repo, triple).map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_licence_syntax_becomes_an_expression() {
        assert_eq!(normalise_license("MIT/Apache-2.0"), "MIT OR Apache-2.0");
        assert_eq!(normalise_license("Apache-2.0 / MIT"), "Apache-2.0 OR MIT");
        assert_eq!(normalise_license("MIT OR Apache-2.0"), "MIT OR Apache-2.0");
    }

    #[test]
    fn lock_checksums_come_from_registry_packages_only() {
        let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\n\
                    checksum = \"abc\"\n\n[[package]]\nname = \"local\"\nversion = \"0.1.0\"\n";
        let sums = lock_checksums(text);
        assert_eq!(sums.get(&("a".into(), "1.0.0".into())).unwrap(), "abc");
        assert_eq!(sums.len(), 1);
    }
}
