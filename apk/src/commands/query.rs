//! The applets that read the root and the repositories: `info`, `search`, `list`, and
//! `cache clean`. They never change installed packages.

use crate::atom::Dependency;
use crate::context::Context;
use crate::package::Package;
use crate::repo;
use crate::version;
use anyhow::Result;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Which parts `info` prints.
#[derive(Clone, Copy, Debug, Default)]
pub struct InfoWhat {
    /// `-L`: files.
    pub contents: bool,
    /// `-W`: owner of the given paths.
    pub who_owns: bool,
    /// `-R`: dependencies.
    pub depends: bool,
    /// `-d`: description.
    pub description: bool,
    /// `-e`: installed?
    pub installed: bool,
    /// `-w`: webpage.
    pub webpage: bool,
    /// `-s`: size.
    pub size: bool,
}

/// `info [-L -W -R -d -e -w -s] [NAME|PATH...]`
pub fn info(ctx: &mut Context, what: InfoWhat, args: &[String]) -> Result<usize> {
    let mut errors = 0;
    if what.who_owns {
        for a in args {
            let rel = owner_key(ctx, a);
            let owner = ctx
                .installed
                .iter()
                .find(|i| i.file_paths().any(|p| p == rel));
            match owner {
                Some(o) => println!("{a} is owned by {}", o.package.id()),
                None => {
                    eprintln!("ERROR: {a}: Could not find owner package");
                    errors += 1;
                }
            }
        }
        return Ok(errors);
    }
    if args.is_empty() {
        let mut names: Vec<&str> = ctx
            .installed
            .iter()
            .map(|i| i.package.name.as_str())
            .collect();
        names.sort();
        for n in names {
            println!("{n}");
        }
        return Ok(0);
    }
    if what.installed {
        for a in args {
            let dep = Dependency::parse(a).map_err(|e| anyhow::anyhow!("{e}"))?;
            if ctx.installed.iter().any(|i| i.package.satisfies(&dep)) {
                if !ctx.g.quiet {
                    println!("{}", dep.name);
                }
            } else {
                errors += 1;
            }
        }
        return Ok(errors);
    }
    let any = what.contents || what.depends || what.description || what.webpage || what.size;
    let needs_repos = args
        .iter()
        .any(|a| !ctx.installed.iter().any(|i| &i.package.name == a));
    if needs_repos {
        ctx.load_repos(false, false)?;
    }
    for a in args {
        let (pkg, ins) = match ctx.installed.iter().find(|i| &i.package.name == a) {
            Some(i) => (i.package.clone(), Some(i)),
            None => match best_available(ctx, a) {
                Some(p) => (p, None),
                None => {
                    eprintln!("ERROR: {a}: no such package");
                    errors += 1;
                    continue;
                }
            },
        };
        let id = pkg.id();
        if what.description || !any {
            println!("{id} description:\n{}\n", pkg.description);
        }
        if what.webpage || !any {
            println!("{id} webpage:\n{}\n", pkg.url);
        }
        if what.size || !any {
            println!("{id} installed size:\n{}\n", human_size(pkg.installed_size));
        }
        if what.depends {
            println!("{id} depends on:");
            for d in &pkg.depends {
                println!("{d}");
            }
            println!();
        }
        if what.contents {
            println!("{id} contains:");
            if let Some(i) = ins {
                for p in i.file_paths() {
                    println!("{p}");
                }
            }
            println!();
        }
    }
    Ok(errors)
}

/// The database path of a file argument: host paths under the root lose the root prefix.
fn owner_key(ctx: &Context, arg: &str) -> String {
    let p = Path::new(arg);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    if let Ok(rest) = abs.strip_prefix(ctx.root.path()) {
        if !ctx.root.is_system_root() || p.is_absolute() {
            return rest.to_string_lossy().into_owned();
        }
    }
    arg.trim_start_matches('/').to_string()
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

fn best_available(ctx: &Context, name: &str) -> Option<Package> {
    let mut best: Option<&Package> = None;
    for l in &ctx.repos {
        let Ok(idx) = &l.index else { continue };
        for p in idx.packages.iter().filter(|p| p.name == name) {
            if best.is_none_or(|b| version::compare(&p.version, &b.version) == Ordering::Greater) {
                best = Some(p);
            }
        }
    }
    best.cloned()
}

/// Shell-style glob (`*`, `?`) match; a pattern without wildcards matches as a substring.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return text.contains(pattern);
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Newest package per name across the loaded repositories.
fn latest_by_name(ctx: &Context) -> BTreeMap<String, Package> {
    let mut out: BTreeMap<String, Package> = BTreeMap::new();
    for l in &ctx.repos {
        let Ok(idx) = &l.index else { continue };
        for p in &idx.packages {
            match out.get(&p.name) {
                Some(b) if version::compare(&p.version, &b.version) != Ordering::Greater => {}
                _ => {
                    out.insert(p.name.clone(), p.clone());
                }
            }
        }
    }
    out
}

/// `search [-v] PATTERN...`
pub fn search(ctx: &mut Context, patterns: &[String], verbose: bool) -> Result<usize> {
    ctx.load_repos(false, false)?;
    for (name, p) in latest_by_name(ctx) {
        if patterns.is_empty() || patterns.iter().any(|pat| glob_match(pat, &name)) {
            if verbose {
                println!("{} - {}", p.id(), p.description);
            } else {
                println!("{}", p.id());
            }
        }
    }
    Ok(0)
}

/// Which packages `list` shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListWhat {
    /// `--installed/-I`
    pub installed: bool,
    /// `--upgradable/-u`
    pub upgradable: bool,
    /// `--available/-a`
    pub available: bool,
}

/// `list [--installed|--upgradable|--available] [PATTERN...]`
pub fn list(ctx: &mut Context, what: ListWhat, patterns: &[String]) -> Result<usize> {
    ctx.load_repos(false, false)?;
    let latest = latest_by_name(ctx);
    let matches = |n: &str| patterns.is_empty() || patterns.iter().any(|p| glob_match(p, n));
    let line = |p: &Package, tag: &str| {
        format!(
            "{} {} {{{}}} ({}){tag}",
            p.id(),
            p.arch,
            if p.origin.is_empty() {
                &p.name
            } else {
                &p.origin
            },
            p.license
        )
    };
    let mut rows = Vec::new();
    if what.installed || what.upgradable {
        for i in &ctx.installed {
            let p = &i.package;
            if !matches(&p.name) {
                continue;
            }
            let newer = latest
                .get(&p.name)
                .filter(|l| version::compare(&l.version, &p.version) == Ordering::Greater);
            if what.upgradable {
                if let Some(l) = newer {
                    rows.push(line(l, &format!(" [upgradable from: {}]", p.id())));
                }
            } else {
                rows.push(line(p, " [installed]"));
            }
        }
    } else {
        for (name, p) in &latest {
            if !matches(name) {
                continue;
            }
            let inst = ctx.installed.iter().find(|i| &i.package.name == name);
            let tag = match inst {
                Some(i) if i.package.version == p.version => " [installed]".to_string(),
                Some(i) => format!(" [upgradable from: {}]", i.package.id()),
                None => String::new(),
            };
            rows.push(line(p, &tag));
        }
    }
    rows.sort();
    for r in rows {
        println!("{r}");
    }
    Ok(0)
}

/// `cache clean`: remove cached packages no installed package uses and cached indexes of
/// repositories no longer configured.
pub fn cache_clean(ctx: &mut Context) -> Result<usize> {
    let mut removed = 0;
    let keep_pkgs: HashSet<String> = ctx
        .installed
        .iter()
        .map(|i| repo::cache_package_name(&i.package))
        .collect();
    let pkg_dir = ctx.root.plain(repo::PACKAGE_CACHE);
    if let Ok(rd) = std::fs::read_dir(&pkg_dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".apk")
                && !keep_pkgs.contains(&n)
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    let keep_idx: HashSet<String> = ctx
        .repositories()?
        .iter()
        .map(|r| repo::cache_index_name(&r.index_url(&ctx.arch)))
        .collect();
    if let Ok(rd) = std::fs::read_dir(ctx.root.plain(repo::INDEX_CACHE)) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("APKINDEX.")
                && !keep_idx.contains(&n)
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    if !ctx.g.quiet {
        println!("Removed {removed} cached files");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("bash", "bash-completion"));
        assert!(glob_match("b*h", "bash"));
        assert!(!glob_match("b*h", "bashx"));
        assert!(glob_match("?ash", "bash"));
        assert!(glob_match("*", ""));
    }
}
