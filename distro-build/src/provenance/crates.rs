//! The Rust side of the SBOM: every crate in `Cargo.lock`, with its licence as its manifest
//! declares it (`cargo metadata --format-version 1`), its crates.io checksum (from
//! `Cargo.lock`), and which shipped programs (tinibox, with apk compiled in) it is compiled into.
//!
//! A program's crates are the dependency tree cargo resolves for exactly the build that goes
//! into the rootfs: `cargo tree -p PACKAGE --target TRIPLE -e normal` with the same feature
//! flags the component passes to `cargo build` (see [`Program`]), so a feature the static
//! build leaves out (tinibox's registry client, apk's HTTPS) does not count its crates. A
//! procedural-macro crate and everything below it run in the compiler: build dependencies,
//! not linked. Cargo runs once for the list and once per program, once per process: the
//! answer is kept for later calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{Error, IoContext, Result};

/// A workspace program that distro-build compiles statically into the rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Its cargo package (and binary) name.
    pub package: &'static str,
    /// Where it sits in a root file system (no leading `/`).
    pub path: &'static str,
    /// The feature flags its static build passes to cargo.
    pub cargo_args: &'static [&'static str],
}

/// How a crate relates to the shipped programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One of the shipped programs itself.
    Program,
    /// Compiled into at least one shipped program ([`Crate::linked_into`]).
    Linked,
    /// Only run by the compiler while building one (a procedural macro or its dependency).
    BuildOnly,
    /// Not in any output: a dependency of distro-build or the tests, of a left-out feature,
    /// or of another platform.
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
    /// True for the workspace's own crates (tinibox, apk, distro-build, the tests).
    pub workspace: bool,
    /// Its relation to the shipped programs.
    pub role: Role,
    /// The shipped programs (package names) it is compiled into.
    pub linked_into: BTreeSet<String>,
    /// The shipped programs whose build runs it in the compiler (and that do not link it).
    pub built_for: BTreeSet<String>,
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

/// `cargo metadata --format-version 1 --locked` of the workspace at `repo`, as JSON (cargo
/// unpacks the sources of the crates it lists into `$CARGO_HOME/registry/src/`).
///
/// Errors: cargo missing or failing (its stderr), output that is not JSON.
pub(crate) fn metadata(repo: &Path) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo)
        .args(["metadata", "--format-version", "1", "--locked"]);
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

/// A set of crates as (name, version).
pub type CrateSet = BTreeSet<(String, String)>;

/// One program's crates from `cargo tree --prefix depth` output: (linked, build-only), each
/// a set of (name, version). A line is `<depth><name> v<version>[ (<path>)][ (proc-macro)]`;
/// the root (depth 0) is the program itself; a proc-macro and its subtree are build-only.
pub fn parse_tree(text: &str) -> (CrateSet, CrateSet) {
    let (mut linked, mut build) = (BTreeSet::new(), BTreeSet::new());
    // The depth of the proc-macro whose subtree we are in, if any.
    let mut macro_depth: Option<usize> = None;
    for line in text.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        let mut words = line[digits..].split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(version) = version.strip_prefix('v') else {
            continue;
        };
        if macro_depth.is_some_and(|d| depth <= d) {
            macro_depth = None;
        }
        if depth == 0 {
            continue;
        }
        let key = (name.to_string(), version.to_string());
        if macro_depth.is_some() || line.ends_with("(proc-macro)") {
            if macro_depth.is_none() {
                macro_depth = Some(depth);
            }
            build.insert(key);
        } else {
            linked.insert(key);
        }
    }
    build.retain(|k| !linked.contains(k));
    (linked, build)
}

fn program_tree(repo: &Path, program: &Program, triple: &str) -> Result<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo)
        .args([
            "tree",
            "--locked",
            "-p",
            program.package,
            "--target",
            triple,
        ])
        .args(["-e", "normal", "--prefix", "depth", "--no-dedupe"])
        .args(program.cargo_args)
        .output()
        .ctx(|| "starting cargo tree")?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "cargo tree -p {} failed ({}): {}",
            program.package,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn load(repo: &Path, programs: &[Program], triple: &str) -> Result<Vec<Crate>> {
    let all = metadata(repo)?;
    let lock_path = repo.join("Cargo.lock");
    let lock =
        std::fs::read_to_string(&lock_path).ctx(|| format!("reading {}", lock_path.display()))?;
    let checksums = lock_checksums(&lock);
    let mut trees = Vec::new();
    for program in programs {
        trees.push((
            program.package,
            parse_tree(&program_tree(repo, program, triple)?),
        ));
    }
    let mut crates = Vec::new();
    for p in all["packages"].as_array().into_iter().flatten() {
        let (name, version) = (str_of(p, "name"), str_of(p, "version"));
        let key = (name.to_string(), version.to_string());
        let workspace = p["source"].is_null();
        let mut linked_into = BTreeSet::new();
        let mut built_for = BTreeSet::new();
        for (program, (linked, build)) in &trees {
            if linked.contains(&key) {
                linked_into.insert(program.to_string());
            } else if build.contains(&key) {
                built_for.insert(program.to_string());
            }
        }
        let role = if workspace && programs.iter().any(|p| p.package == name) {
            Role::Program
        } else if !linked_into.is_empty() {
            Role::Linked
        } else if !built_for.is_empty() {
            Role::BuildOnly
        } else {
            Role::Unshipped
        };
        crates.push(Crate {
            name: name.to_string(),
            version: version.to_string(),
            license: p["license"].as_str().map(normalise_license),
            checksum: checksums.get(&key).cloned(),
            workspace,
            role,
            linked_into,
            built_for,
        });
    }
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(crates)
}

/// Every crate of the workspace's `Cargo.lock`, with the crates each of `programs` is built
/// from for the Rust target `triple` (computed once per process).
///
/// Errors: cargo missing or failing (its message), an unreadable `Cargo.lock`.
pub fn crates(repo: &Path, programs: &[Program], triple: &str) -> Result<Vec<Crate>> {
    static CRATES: OnceLock<std::result::Result<Vec<Crate>, String>> = OnceLock::new();
    CRATES
        .get_or_init(|| load(repo, programs, triple).map_err(|e| e.to_string()))
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

    #[test]
    fn a_proc_macro_subtree_is_build_only_and_the_root_is_not_a_dependency() {
        let text = "0tinibox v0.1.0 (/w/tinibox)\n1libc v0.2.1\n1clap v4.0.0\n\
                    2clap_derive v4.0.0 (proc-macro)\n3syn v2.0.0\n4proc-macro2 v1.0.0\n\
                    2anstyle v1.0.0\n1regex v1.0.0 (/w/regex-shim)\n2regex-lite v0.1.0\n";
        let (linked, build) = parse_tree(text);
        let names = |s: &CrateSet| {
            s.iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(names(&linked), "anstyle clap libc regex regex-lite");
        assert_eq!(names(&build), "clap_derive proc-macro2 syn");
    }
}
