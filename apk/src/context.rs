//! The state one `apk` run works on: the root (created by `--initdb`), the lock, the trusted
//! keys, the architecture, the repositories and their verified indexes, the installed
//! database and the world — and the candidate pool the solver chooses from.
//!
//! Paths given with `--keys-dir` and `--repositories-file` are taken relative to the root
//! when relative and as host paths when absolute (apk-tools opens them with openat on the
//! root, which has that effect).

use crate::atom::Dependency;
use crate::db::{self, Installed};
use crate::fetch::Fetcher;
use crate::fsroot::{Lock, Root};
use crate::repo::{self, LoadOptions, Loaded, Repository};
use crate::sign::Keys;
use crate::solver::Candidate;
use crate::transaction;
use anyhow::{bail, Context as _, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Options shared by every command (apk-tools' global options).
#[derive(Clone, Debug, Default)]
pub struct Globals {
    /// `--root/-p`.
    pub root: PathBuf,
    /// `--repository/-X` (added to the repositories file's).
    pub repositories: Vec<String>,
    /// `--repositories-file` (replaces /etc/apk/repositories).
    pub repositories_file: Option<PathBuf>,
    /// `--keys-dir`.
    pub keys_dir: Option<PathBuf>,
    /// `--allow-untrusted`.
    pub allow_untrusted: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--initdb`.
    pub initdb: bool,
    /// `--simulate/-s`.
    pub simulate: bool,
    /// `--quiet/-q`.
    pub quiet: bool,
    /// `--arch`.
    pub arch: Option<String>,
    /// `--force-overwrite`.
    pub force_overwrite: bool,
    /// `--no-scripts`.
    pub no_scripts: bool,
    /// `--update-cache/-U`: refresh remote indexes first.
    pub update_cache: bool,
    /// `--purge`: removals also delete changed configuration files.
    pub purge: bool,
}

/// Where a candidate package comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Repository number (index into [`Context::repos`]).
    Repo(usize),
    /// Only installed (no repository offers this exact version).
    Installed,
    /// A virtual package made by `add --virtual` (no files).
    Virtual,
    /// A package file given on the command line.
    File(PathBuf),
}

/// Everything one run needs.
pub struct Context {
    /// Global options.
    pub g: Globals,
    /// The root.
    pub root: Root,
    /// Trusted keys.
    pub keys: Keys,
    /// Downloader.
    pub fetcher: Fetcher,
    /// Architecture (`x86_64`).
    pub arch: String,
    /// Installed packages, in database order.
    pub installed: Vec<Installed>,
    /// The world.
    pub world: Vec<Dependency>,
    /// Repositories with their indexes (loaded by [`Context::load_repos`]).
    pub repos: Vec<Loaded>,
    _lock: Option<Lock>,
}

fn under_root(root: &Root, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.path().join(p)
    }
}

/// The architecture this binary was built for, in Alpine's spelling.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "x86",
        "arm" => "armv7",
        other => other,
    }
}

impl Context {
    /// Opens the root. `write` takes the lock and refuses a pending interrupted transaction
    /// unless `allow_pending` (for `fix`).
    pub fn open(g: Globals, write: bool, allow_pending: bool) -> Result<Self> {
        if let Some(a) = &g.arch {
            check_arch(a).context("--arch")?;
        }
        if g.root.exists() && !g.root.is_dir() {
            bail!(
                "root {}: not a directory — give the folder of the system to manage",
                g.root.display()
            );
        }
        if g.initdb {
            std::fs::create_dir_all(&g.root)
                .with_context(|| format!("creating root {}", g.root.display()))?;
        }
        let root = Root::new(&g.root).with_context(|| {
            format!(
                "root {}: cannot open (create it or use --initdb)",
                g.root.display()
            )
        })?;
        if g.initdb && !g.simulate {
            init_db(&root, g.arch.as_deref())?;
        }
        let db_path = root.plain(db::INSTALLED);
        let has_db = db_path.exists();
        if write && !has_db && !g.simulate {
            bail!(
                "no package database in {} (lib/apk/db/installed); use --initdb to create one",
                root.path().display()
            );
        }
        let lock = if write && has_db && !g.simulate {
            Some(
                Lock::acquire(&root.plain("lib/apk/db/lock"))
                    .context("cannot lock the database")?,
            )
        } else {
            None
        };
        if write && !allow_pending && transaction::pending(&root) {
            bail!(
                "an interrupted transaction is pending in {}; run `apk fix` first",
                root.path().display()
            );
        }
        let (installed, world) = read_state(&root)?;
        let keys_dir = under_root(
            &root,
            g.keys_dir.as_deref().unwrap_or(Path::new("etc/apk/keys")),
        );
        let (keys, skipped) = Keys::load_dir(&keys_dir)
            .with_context(|| format!("reading keys from {}", keys_dir.display()))?;
        for s in skipped {
            eprintln!(
                "WARNING: {}/{s}: not an RSA public key, ignored",
                keys_dir.display()
            );
        }
        let arch = match &g.arch {
            Some(a) => a.clone(),
            None => match std::fs::read_to_string(root.plain("etc/apk/arch")) {
                Ok(text) if text.trim().is_empty() => native_arch().to_string(),
                Ok(text) => {
                    let a = text.trim();
                    check_arch(a).context("/etc/apk/arch")?;
                    a.to_string()
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => native_arch().to_string(),
                Err(e) => bail!("/etc/apk/arch: {e}; fix or remove it"),
            },
        };
        Ok(Context {
            fetcher: Fetcher::new(g.quiet),
            g,
            root,
            keys,
            arch,
            installed,
            world,
            repos: Vec::new(),
            _lock: lock,
        })
    }

    /// Reads the installed database and world again (after `fix` repaired them).
    pub fn reload(&mut self) -> Result<()> {
        (self.installed, self.world) = read_state(&self.root)?;
        Ok(())
    }

    /// The configured repositories.
    pub fn repositories(&self) -> Result<Vec<Repository>> {
        let file = under_root(
            &self.root,
            self.g
                .repositories_file
                .as_deref()
                .unwrap_or(Path::new(repo::REPOSITORIES)),
        );
        let mut repos = repo::read_repositories(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for r in &self.g.repositories {
            // A -X that names nothing (empty, a comment, a tag alone) is a mistake, not a line
            // to skip as in the file.
            let Some(repo) = Repository::parse(r) else {
                let shown: String = r.chars().take(60).collect();
                bail!(
                    "-X {shown:?}: not a repository location: give a URL (http://, https://, \
                     file://) or a folder, optionally after @TAG and a space"
                );
            };
            repos.push(repo);
        }
        for r in &repos {
            r.check().map_err(anyhow::Error::msg)?;
        }
        Ok(repos)
    }

    /// Loads and verifies the indexes; a repository that fails is reported (a warning, or
    /// an error when `errors_are_fatal`) and skipped. Returns the number of failures.
    pub fn load_repos(&mut self, refresh: bool, errors_are_fatal: bool) -> Result<usize> {
        let repos = self.repositories()?;
        let opts = LoadOptions {
            allow_untrusted: self.g.allow_untrusted,
            no_cache: self.g.no_cache,
            refresh: refresh || self.g.update_cache,
        };
        self.repos = repo::load_indexes(
            self.root.path(),
            &repos,
            &self.arch,
            &self.keys,
            &self.fetcher,
            opts,
        );
        let mut failures = 0;
        for l in &self.repos {
            if let Err(e) = &l.index {
                failures += 1;
                let level = if errors_are_fatal { "ERROR" } else { "WARNING" };
                eprintln!("{level}: {}: {e}", l.repo.location);
            }
        }
        Ok(failures)
    }

    /// The candidate pool: every indexed package plus every installed package no repository
    /// offers. A package of a tagged repository (`@edge URL`) is a candidate only for a name
    /// pinned to that tag (`name@edge`) in the world or in `pins`, as in apk-tools; its
    /// dependencies come from untagged repositories unless pinned too. With
    /// `available_only`, installed versions no repository offers are left out when a
    /// repository offers the name (`upgrade -a`).
    pub fn pool(&self, available_only: bool, pins: &[Dependency]) -> (Vec<Candidate>, Vec<Source>) {
        let mut cands = Vec::new();
        let mut sources = Vec::new();
        let pinned = |name: &str, tag: &str| {
            self.world
                .iter()
                .chain(pins)
                .any(|d| d.name == name && d.tag.as_deref() == Some(tag))
        };
        // Looked up by name and version (an index holds tens of thousands of packages: a
        // scan of the candidates so far for each one was quadratic).
        let mut installed_ids: HashMap<(&str, &str), Vec<&Option<String>>> = HashMap::new();
        for i in &self.installed {
            installed_ids
                .entry((i.package.name.as_str(), i.package.version.as_str()))
                .or_default()
                .push(&i.package.checksum);
        }
        let mut offered: HashSet<(String, String)> = HashSet::new();
        let mut offered_names: HashSet<String> = HashSet::new();
        for (ri, l) in self.repos.iter().enumerate() {
            let Ok(index) = &l.index else { continue };
            for p in &index.packages {
                if let Some(tag) = &l.repo.tag {
                    if !pinned(&p.name, tag) {
                        continue;
                    }
                }
                if !p.arch.is_empty() && p.arch != self.arch && p.arch != "noarch" {
                    continue;
                }
                let installed = installed_ids
                    .get(&(p.name.as_str(), p.version.as_str()))
                    .is_some_and(|sums| {
                        sums.iter().any(|sum| sum.is_none() || **sum == p.checksum)
                    });
                // Same package in two repositories: keep the first.
                if !offered.insert((p.name.clone(), p.version.clone())) {
                    continue;
                }
                offered_names.insert(p.name.clone());
                cands.push(Candidate {
                    package: p.clone(),
                    installed,
                    repo: Some(ri),
                });
                sources.push(Source::Repo(ri));
            }
        }
        for ins in &self.installed {
            let id = (ins.package.name.clone(), ins.package.version.clone());
            if offered.contains(&id) {
                continue;
            }
            if available_only && offered_names.contains(&ins.package.name) {
                continue;
            }
            // Two installed entries of one name-version: the first, as the scan kept.
            offered.insert(id);
            cands.push(Candidate {
                package: ins.package.clone(),
                installed: true,
                repo: None,
            });
            sources.push(Source::Installed);
        }
        (cands, sources)
    }
}

/// Reads the installed database (with scripts.tar) and the world of a root.
fn read_state(root: &Root) -> Result<(Vec<Installed>, Vec<Dependency>)> {
    let db_path = root.plain(db::INSTALLED);
    let mut installed = if db_path.exists() {
        let text = std::fs::read_to_string(&db_path)
            .with_context(|| format!("reading {}", db_path.display()))?;
        db::parse_installed(&text).with_context(|| format!("{}", db_path.display()))?
    } else {
        Vec::new()
    };
    if let Ok(tar) = std::fs::read(root.plain(db::SCRIPTS)) {
        db::attach_scripts(&mut installed, &tar).map_err(|e| {
            anyhow::anyhow!(
                "/{}: damaged ({}); restore it from a backup, or remove it to run no more \
                 package scripts",
                db::SCRIPTS,
                crate::archive::printable(&e.to_string())
            )
        })?;
    }
    if let Ok(text) = std::fs::read_to_string(root.plain(db::TRIGGERS)) {
        db::attach_triggers(&mut installed, &text);
    }
    let world = match std::fs::read_to_string(root.plain(db::WORLD)) {
        Ok(t) => db::parse_world(&t).with_context(|| format!("/{}", db::WORLD))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        // Not text, or unreadable: an empty world would be written over it at the next add.
        Err(e) => anyhow::bail!("/{}: {e}; fix or remove it", db::WORLD),
    };
    Ok((installed, world))
}

/// Creates the database layout apk-tools expects in a new root.
/// Checks an architecture name (`--arch`, /etc/apk/arch): one word of lowercase letters,
/// digits and `_`, as Alpine's (x86_64, aarch64, armv7, ppc64le, noarch); it becomes part of
/// every repository's index path.
fn check_arch(a: &str) -> Result<()> {
    let word = !a.is_empty()
        && a.len() <= 32
        && a.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !word {
        let shown: String = a.chars().take(40).collect();
        bail!(
            "invalid architecture {shown:?}: give one word such as x86_64 or aarch64 \
             (lowercase letters, digits, _)"
        );
    }
    Ok(())
}

fn init_db(root: &Root, arch: Option<&str>) -> Result<()> {
    for d in [
        "etc/apk/keys",
        "lib/apk/db",
        "var/cache/apk",
        "var/cache/misc",
        "tmp",
    ] {
        std::fs::create_dir_all(root.plain(d)).with_context(|| format!("creating /{d}"))?;
    }
    for f in [db::INSTALLED, db::WORLD, "lib/apk/db/triggers", db::SCRIPTS] {
        let p = root.plain(f);
        if !p.exists() {
            std::fs::write(&p, b"").with_context(|| format!("creating /{f}"))?;
        }
    }
    let arch_file = root.plain("etc/apk/arch");
    if !arch_file.exists() {
        let a = arch.unwrap_or(native_arch());
        std::fs::write(&arch_file, format!("{a}\n")).context("creating /etc/apk/arch")?;
    }
    Ok(())
}
