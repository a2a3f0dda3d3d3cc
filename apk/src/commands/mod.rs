//! The applets: `add`, `del`, `update`, `upgrade`, `fix` (this file: they change the root)
//! and `info`, `search`, `list`, `cache clean` ([`query`]: they read it, or clean the
//! cache). Each returns the number of errors it reported (the process exit code, as
//! apk-tools), or a fatal error that stopped it before any change.
//!
//! Output follows apk-tools' wording where people and scripts read it:
//! `(1/2) Installing NAME (VERSION)`, `OK: N MiB in M packages`, `PATH is owned by NAME-VER`.

mod query;

pub use query::{cache_clean, glob_match, info, list, search, InfoWhat, ListWhat};

use crate::archive;
use crate::atom::Dependency;
use crate::context::{Context, Source};
use crate::db::{self, Installed};
use crate::package::Package;
use crate::repo;
use crate::solver::{self, Candidate, Preferences};
use crate::transaction::{self, ApplyOptions, Repair, Step};
use crate::version;
use anyhow::{Context as _, Result};
use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::Path;
fn apply_options(ctx: &Context) -> ApplyOptions {
    ApplyOptions {
        force_overwrite: ctx.g.force_overwrite,
        quiet: ctx.g.quiet,
        no_scripts: ctx.g.no_scripts,
        purge: ctx.g.purge,
    }
}

/// `add [--virtual NAME] [-u] ATOM|FILE.apk...`
pub fn add(
    ctx: &mut Context,
    atoms: &[String],
    virtual_name: Option<&str>,
    upgrade: bool,
) -> Result<usize> {
    if let Some(name) = virtual_name {
        // It becomes a world entry and a database entry: a plain name, nothing an atom adds.
        let plain = Dependency::parse(name).is_ok_and(|d| {
            d.name == name && d.constraint.is_none() && d.tag.is_none() && !d.conflict
        });
        if !plain || crate::package::check_identity(name, "0").is_err() {
            let shown: String = name.chars().take(60).collect();
            anyhow::bail!(
                "invalid virtual package name {shown:?}: give a plain name such as .build-deps \
                 (no spaces, `/`, `=`, `<`, `>`, `~` or `@`)"
            );
        }
    }
    ctx.load_repos(false, false)?;
    let pins: Vec<Dependency> = atoms
        .iter()
        .filter_map(|a| Dependency::parse(a).ok())
        .filter(|d| d.tag.is_some())
        .collect();
    let (mut cands, mut sources) = ctx.pool(false, &pins);
    let mut requested = Vec::new();
    for a in atoms {
        // A FILE.apk argument (a path, or a file here): read as a file, as apk-tools does, so
        // a missing one is named as a file, not looked for as a package.
        if a.ends_with(".apk") && (a.contains('/') || Path::new(a).exists()) {
            let bytes = match std::fs::read(a) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("ERROR: {a}: {e}");
                    return Ok(1);
                }
            };
            let apk = match archive::read_package(&bytes, &ctx.keys, ctx.g.allow_untrusted, None) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("ERROR: {a}: {e}");
                    return Ok(1);
                }
            };
            let p = apk.info.package.clone();
            requested.push(Dependency::parse(&format!("{}={}", p.name, p.version))?);
            cands.push(Candidate {
                package: p,
                installed: false,
                repo: None,
            });
            sources.push(Source::File(Path::new(a).to_path_buf()));
        } else {
            requested.push(Dependency::parse(a).map_err(|e| anyhow::anyhow!("{e}"))?);
        }
    }
    // A name pinned to a tag no repository has: said, as apk-tools does (the package may
    // still come from an untagged repository).
    for d in requested.iter().filter(|d| d.tag.is_some()) {
        let tag = d.tag.as_deref().unwrap_or_default();
        if !ctx.repos.iter().any(|l| l.repo.tag.as_deref() == Some(tag)) {
            eprintln!("WARNING: {d}: no repository is tagged @{tag} (see /etc/apk/repositories)");
        }
    }
    let mut world = ctx.world.clone();
    if let Some(name) = virtual_name {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let version = timestamp_version(now);
        // An identity checksum like a real package's (apk-tools' database has one for every
        // entry): SHA-1 over the name, version and dependencies.
        let identity = format!("{name}-{version} {}", crate::atom::join(&requested));
        let virt = Package {
            name: name.to_string(),
            checksum: Some(archive::q1_checksum(identity.as_bytes())),
            version,
            arch: "noarch".into(),
            description: "virtual meta package".into(),
            depends: requested.clone(),
            build_time: Some(now),
            ..Default::default()
        };
        // Drop an older virtual package of that name from the pool.
        let keep: Vec<bool> = cands.iter().map(|c| c.package.name != name).collect();
        let mut i = 0;
        cands.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        sources.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        cands.push(Candidate {
            package: virt,
            installed: false,
            repo: None,
        });
        sources.push(Source::Virtual);
        world.retain(|d| d.name != name);
        world.push(Dependency::any(name));
    } else {
        for r in &requested {
            world.retain(|d| d.name != r.name);
            world.push(r.clone());
        }
    }
    let prefs = Preferences {
        upgrade_all: false,
        // -u, and names newly pinned to a tagged repository, prefer the newest version.
        upgrade: requested
            .iter()
            .filter(|d| upgrade || d.tag.is_some())
            .map(|d| d.name.clone())
            .collect(),
    };
    commit(ctx, &cands, &sources, &world, &prefs, &HashSet::new())
}

/// apk-tools' version for virtual packages: `YYYYMMDD.HHMMSS` (UTC) of `secs`.
pub fn timestamp_version(secs: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}.{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `del NAME...`
pub fn del(ctx: &mut Context, names: &[String]) -> Result<usize> {
    ctx.load_repos(false, false)?;
    let (cands, sources) = ctx.pool(false, &[]);
    let mut world = ctx.world.clone();
    let mut errors = 0;
    for n in names {
        let name = Dependency::parse(n)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .name;
        let before = world.len();
        world.retain(|d| d.name != name);
        if before == world.len() && !ctx.installed.iter().any(|i| i.package.name == name) {
            eprintln!("ERROR: {name}: not installed and not in world");
            errors += 1;
        }
    }
    if errors > 0 {
        return Ok(errors);
    }
    let n = commit(
        ctx,
        &cands,
        &sources,
        &world,
        &Preferences::default(),
        &HashSet::new(),
    )?;
    Ok(n)
}

/// `update`: fetch every index again and report.
pub fn update(ctx: &mut Context) -> Result<usize> {
    let failures = ctx.load_repos(true, true)?;
    let mut names = HashSet::new();
    for l in &ctx.repos {
        if let Ok(idx) = &l.index {
            if !ctx.g.quiet {
                println!("{} [{}]", idx.description, l.repo.location);
            }
            names.extend(idx.packages.iter().map(|p| p.name.clone()));
        }
    }
    if !ctx.g.quiet {
        if failures > 0 {
            println!(
                "{failures} errors; {} distinct packages available",
                names.len()
            );
        } else {
            println!("OK: {} distinct packages available", names.len());
        }
    }
    Ok(failures)
}

/// `upgrade [-a]`
pub fn upgrade(ctx: &mut Context, available: bool) -> Result<usize> {
    ctx.load_repos(false, false)?;
    let (cands, sources) = ctx.pool(available, &[]);
    let prefs = Preferences {
        upgrade_all: true,
        upgrade: HashSet::new(),
    };
    let world = ctx.world.clone();
    commit(ctx, &cands, &sources, &world, &prefs, &HashSet::new())
}

/// `fix [NAME...]`: finish or undo an interrupted transaction, then reinstall the named
/// packages and every package with missing files.
pub fn fix(ctx: &mut Context, names: &[String]) -> Result<usize> {
    let (state, mut errors) = transaction::repair(&ctx.root, apply_options(ctx))?;
    match state {
        Repair::Clean => {}
        Repair::RolledBack => {
            println!("Interrupted transaction undone (it had not been committed)")
        }
        Repair::Completed => println!("Interrupted transaction completed"),
    }
    if state != Repair::Clean {
        // Re-read the database the repair wrote.
        ctx.reload()?;
    }
    let mut want: HashSet<String> = names.iter().cloned().collect();
    for i in transaction::broken_packages(&ctx.root, &ctx.installed) {
        want.insert(ctx.installed[i].package.name.clone());
    }
    for n in names {
        if !ctx.installed.iter().any(|i| &i.package.name == n) {
            eprintln!("ERROR: {n}: not installed");
            errors += 1;
        }
    }
    if want.is_empty() {
        return Ok(errors);
    }
    ctx.load_repos(false, false)?;
    let (cands, sources) = ctx.pool(false, &[]);
    let world = ctx.world.clone();
    Ok(errors
        + commit(
            ctx,
            &cands,
            &sources,
            &world,
            &Preferences::default(),
            &want,
        )?)
}

/// Solves, shows the changes, downloads and verifies, and applies them.
fn commit(
    ctx: &mut Context,
    cands: &[Candidate],
    sources: &[Source],
    world: &[Dependency],
    prefs: &Preferences,
    reinstall: &HashSet<String>,
) -> Result<usize> {
    let solution = match solver::solve(cands, world, prefs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return Ok(e.problems.len());
        }
    };
    // The change set.
    let mut changes: Vec<(Option<usize>, Option<usize>)> = Vec::new(); // (old installed, new cand)
    let chosen: HashSet<&str> = solution
        .order
        .iter()
        .map(|&c| cands[c].package.name.as_str())
        .collect();
    for (i, ins) in ctx.installed.iter().enumerate() {
        if !chosen.contains(ins.package.name.as_str()) {
            changes.push((Some(i), None));
        }
    }
    for &c in &solution.order {
        let p = &cands[c].package;
        let old = ctx.installed.iter().position(|i| i.package.name == p.name);
        let same = old.is_some_and(|o| {
            let op = &ctx.installed[o].package;
            op.version == p.version && cands[c].installed
        });
        if same && !reinstall.contains(&p.name) {
            continue;
        }
        changes.push((old, Some(c)));
    }
    let world_text = db::format_world(world);
    let world_changed = world_text != db::format_world(&ctx.world);
    let total = changes.len();
    for (n, (old, new)) in changes.iter().enumerate() {
        let line = match (old, new) {
            (Some(o), None) => {
                let p = &ctx.installed[*o].package;
                format!("Purging {} ({})", p.name, p.version)
            }
            (None, Some(c)) => {
                let p = &cands[*c].package;
                format!("Installing {} ({})", p.name, p.version)
            }
            (Some(o), Some(c)) => {
                let (op, np) = (&ctx.installed[*o].package, &cands[*c].package);
                match version::compare(&np.version, &op.version) {
                    Ordering::Greater => {
                        format!("Upgrading {} ({} -> {})", np.name, op.version, np.version)
                    }
                    Ordering::Less => {
                        format!("Downgrading {} ({} -> {})", np.name, op.version, np.version)
                    }
                    Ordering::Equal => format!("Reinstalling {} ({})", np.name, np.version),
                }
            }
            (None, None) => continue,
        };
        if !ctx.g.quiet {
            println!("({}/{total}) {line}", n + 1);
        }
    }
    if ctx.g.simulate {
        if !ctx.g.quiet {
            println!("OK: simulated, nothing changed");
        }
        return Ok(0);
    }
    if changes.is_empty() && !world_changed {
        print_ok(ctx, &ctx.installed);
        return Ok(0);
    }
    // Fetch and verify everything before touching the root.
    let mut steps = Vec::new();
    let mut errors = 0;
    for (old, new) in &changes {
        let Some(c) = new else {
            steps.push(Step::Remove {
                old: old.unwrap_or(0),
            });
            continue;
        };
        let cand = &cands[*c];
        match obtain(ctx, cand, &sources[*c]) {
            Ok((apk, record)) => steps.push(Step::Install {
                apk,
                record: Box::new(record),
                old: *old,
            }),
            Err(e) => {
                eprintln!("ERROR: {}: {e:#}", cand.package.id());
                errors += 1;
            }
        }
    }
    if errors > 0 {
        eprintln!("ERROR: nothing was changed");
        return Ok(errors);
    }
    // The new database: what stays, in its order, then what is new, in install order.
    let leaving: HashSet<usize> = changes.iter().filter_map(|(o, _)| *o).collect();
    let mut new_db: Vec<Installed> = ctx
        .installed
        .iter()
        .enumerate()
        .filter(|(i, _)| !leaving.contains(i))
        .map(|(_, ins)| ins.clone())
        .collect();
    for s in &steps {
        if let Step::Install { record, .. } = s {
            new_db.push((**record).clone());
        }
    }
    match transaction::apply(
        &ctx.root,
        &ctx.installed,
        &steps,
        &new_db,
        &world_text,
        apply_options(ctx),
    ) {
        Ok(script_errors) => {
            print_ok(ctx, &new_db);
            ctx.installed = new_db;
            ctx.world = world.to_vec();
            Ok(script_errors)
        }
        Err(transaction::TxError::Refused(problems)) => {
            for p in &problems {
                eprintln!("ERROR: {p}");
            }
            eprintln!("ERROR: nothing was changed");
            Ok(problems.len())
        }
        // A failure before the commit point was rolled back; only a journal left behind
        // needs `apk fix`.
        Err(e) if transaction::pending(&ctx.root) => Err(anyhow::anyhow!(
            "{e} (run `apk fix` to complete or undo the transaction)"
        )),
        Err(e) => Err(anyhow::anyhow!("{e}; nothing was changed")),
    }
}

fn print_ok(ctx: &Context, db: &[Installed]) {
    if ctx.g.quiet {
        return;
    }
    let bytes: u64 = db.iter().map(|i| i.package.installed_size).sum();
    println!(
        "OK: {} MiB in {} packages",
        bytes.div_ceil(1024 * 1024),
        db.len()
    );
}

type Obtained = (Option<Box<archive::ApkPackage>>, Installed);

/// Gets a package's file (cache, repository or local file), verifies it, and builds its
/// database record.
fn obtain(ctx: &Context, cand: &Candidate, source: &Source) -> Result<Obtained> {
    let pkg = &cand.package;
    let (bytes, expected, from_repo) = match source {
        Source::Virtual => {
            return Ok((
                None,
                Installed {
                    package: pkg.clone(),
                    dirs: Vec::new(),
                    scripts: Vec::new(),
                    triggers: Vec::new(),
                },
            ))
        }
        Source::Installed => {
            anyhow::bail!("no repository offers this version any more; cannot reinstall it")
        }
        Source::File(path) => (
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            None,
            None,
        ),
        Source::Repo(r) => {
            let repo = &ctx.repos[*r].repo;
            let cached = repo::package_cache_path(ctx.root.path(), pkg, ctx.g.no_cache);
            let bytes = match cached.as_ref().and_then(|p| std::fs::read(p).ok()) {
                Some(b) => b,
                None => ctx
                    .fetcher
                    .get(&repo.package_url(&ctx.arch, pkg), &pkg.id())
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            (bytes, pkg.checksum.clone(), cached)
        }
    };
    let apk = archive::read_package(
        &bytes,
        &ctx.keys,
        ctx.g.allow_untrusted,
        expected.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let got = &apk.info.package;
    if got.name != pkg.name || got.version != pkg.version {
        anyhow::bail!(
            "the file holds {} instead of what the index promised",
            got.id()
        );
    }
    if let Some(Some(path)) = from_repo.map(Some) {
        if !path.exists() {
            let _ = crate::fsroot::atomic_write(&path, &bytes, 0o644);
        }
    }
    let mut record = transaction::record_for(&apk);
    // Keep the index's fields (e.g. provider priority) where .PKGINFO is silent.
    if record.package.provider_priority.is_none() {
        record.package.provider_priority = pkg.provider_priority;
    }
    Ok((Some(Box::new(apk)), record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_versions_are_dates() {
        assert_eq!(timestamp_version(0), "19700101.000000");
        assert_eq!(timestamp_version(1_700_000_000), "20231114.221320");
        assert!(crate::version::is_valid(&timestamp_version(1_800_000_000)));
    }
}
