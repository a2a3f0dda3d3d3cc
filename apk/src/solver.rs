//! The dependency solver: from the world (the atoms the user asked for) and a pool of
//! candidate packages (repository indexes plus what is installed), pick one consistent set:
//! every dependency satisfied by exactly one chosen package per name, no conflict (`!name`)
//! matched, `install_if` packages added when all their conditions are met.
//!
//! Strategy: a breadth-first walk from the world picks, for each name, the best candidate
//! that satisfies every constraint known so far (preferring one already chosen, then a real
//! package over a provider, the installed version unless that name is being upgraded, the
//! highest `k:` provider priority, the highest version). When a constraint met later rules out
//! an earlier pick, the walk starts over with that constraint known from the start; a few
//! rounds settle every case apk users meet. When no set exists, [`SolveError`] lists, in a
//! few lines in apk-tools' wording, each name that could not be satisfied and who asked.
//!
//! This module is pure: no I/O.

use crate::atom::Dependency;
use crate::package::Package;
use crate::version;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;

/// A package the solver may choose.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The package record.
    pub package: Package,
    /// Is this exact package (name, version) installed now?
    pub installed: bool,
    /// Index of the repository that offers it (None: only installed, or a local file).
    pub repo: Option<usize>,
}

/// What the user asked for besides the world.
#[derive(Clone, Debug, Default)]
pub struct Preferences {
    /// Prefer the newest version of every package (`upgrade`).
    pub upgrade_all: bool,
    /// Prefer the newest version of these names even when installed.
    pub upgrade: HashSet<String>,
}

/// No consistent set exists; `problems` are the lines explaining why.
#[derive(Debug, PartialEq, Eq)]
pub struct SolveError {
    /// One entry per problem, possibly multi-line (indented like apk-tools).
    pub problems: Vec<String>,
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "unable to select packages:")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SolveError {}

/// The chosen set, in installation order (dependencies before their dependents).
#[derive(Debug, PartialEq, Eq)]
pub struct Solution {
    /// Indexes into the pool.
    pub order: Vec<usize>,
}

/// An atom and who asked for it (`world` or a package id), for messages.
#[derive(Clone, Debug)]
struct Need {
    dep: Dependency,
    by: String,
}

impl Need {
    fn describe(&self) -> String {
        format!("{}[{}]", self.by, self.dep)
    }
}

/// The candidates indexed by every name they provide.
struct Pool<'a> {
    cands: &'a [Candidate],
    by_name: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Pool<'a> {
    fn new(cands: &'a [Candidate]) -> Self {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, c) in cands.iter().enumerate() {
            by_name.entry(c.package.name.as_str()).or_default().push(i);
            for p in &c.package.provides {
                by_name.entry(p.name.as_str()).or_default().push(i);
            }
        }
        Pool { cands, by_name }
    }

    fn providers(&self, name: &str) -> &[usize] {
        self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// State of one walk.
#[derive(Default)]
struct Walk {
    /// Name (real or provided) → chosen candidate.
    chosen: HashMap<String, usize>,
    /// Real package name → selected candidate (one version per name).
    by_pkg_name: HashMap<String, usize>,
    /// Selected candidates in selection order.
    selected: Vec<usize>,
    /// Positive constraints seen, by name.
    needs: HashMap<String, Vec<Need>>,
    /// Conflict atoms seen.
    conflicts: Vec<Need>,
    /// Constraints that arrived after their name was chosen and ruled the pick out.
    late: Vec<Need>,
    /// Problems found.
    problems: Vec<String>,
    /// Names already reported, so each appears once.
    reported: HashSet<String>,
}

/// Picks a consistent set for `world` from `cands`.
pub fn solve(
    cands: &[Candidate],
    world: &[Dependency],
    prefs: &Preferences,
) -> Result<Solution, SolveError> {
    let pool = Pool::new(cands);
    let mut hints: HashMap<String, Vec<Need>> = HashMap::new();
    let mut walk = Walk::default();
    for _round in 0..12 {
        walk = run_walk(&pool, world, prefs, &hints);
        if walk.late.is_empty() || !walk.problems.is_empty() {
            break;
        }
        let mut grew = false;
        for n in std::mem::take(&mut walk.late) {
            let list = hints.entry(n.dep.name.clone()).or_default();
            if !list.iter().any(|h| h.dep == n.dep) {
                list.push(n);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    for n in std::mem::take(&mut walk.late) {
        let name = n.dep.name.clone();
        if walk.reported.insert(name.clone()) {
            let all = walk.needs.get(&name).cloned().unwrap_or_default();
            walk.problems.push(unsatisfiable(&pool, &name, &all));
        }
    }
    if !walk.problems.is_empty() {
        return Err(SolveError {
            problems: walk.problems,
        });
    }
    Ok(Solution {
        order: install_order(&pool, &walk.selected),
    })
}

fn run_walk(
    pool: &Pool,
    world: &[Dependency],
    prefs: &Preferences,
    hints: &HashMap<String, Vec<Need>>,
) -> Walk {
    let mut w = Walk::default();
    let mut queue: VecDeque<Need> = world
        .iter()
        .map(|d| Need {
            dep: d.clone(),
            by: "world".into(),
        })
        .collect();
    loop {
        while let Some(need) = queue.pop_front() {
            if need.dep.conflict {
                w.conflicts.push(need);
                continue;
            }
            let name = need.dep.name.clone();
            w.needs.entry(name.clone()).or_default().push(need.clone());
            if let Some(&c) = w.chosen.get(&name) {
                if !pool.cands[c].package.satisfies(&need.dep) {
                    w.late.push(need);
                }
                continue;
            }
            let mut all = w.needs[&name].clone();
            all.extend(hints.get(&name).cloned().unwrap_or_default());
            match pick(pool, &w, &name, &all, prefs) {
                Ok(c) => select(pool, &mut w, c, &name, &mut queue),
                Err(problem) => {
                    if w.reported.insert(name.clone()) {
                        w.problems.push(problem);
                    }
                }
            }
        }
        // install_if: add packages whose conditions are all met by the selection.
        let mut added = false;
        let mut best_auto: HashMap<&str, usize> = HashMap::new();
        for (i, c) in pool.cands.iter().enumerate() {
            let p = &c.package;
            if p.install_if.is_empty() || w.by_pkg_name.contains_key(&p.name) {
                continue;
            }
            let met = p.install_if.iter().all(|cond| {
                let hit = w
                    .selected
                    .iter()
                    .any(|&s| pool.cands[s].package.satisfies(cond));
                hit != cond.conflict
            });
            if met {
                let e = best_auto.entry(p.name.as_str()).or_insert(i);
                if version::compare(&p.version, &pool.cands[*e].package.version)
                    == Ordering::Greater
                {
                    *e = i;
                }
            }
        }
        for (name, c) in best_auto {
            let name = name.to_string();
            w.needs.entry(name.clone()).or_default().push(Need {
                dep: Dependency::any(&name),
                by: "install_if".into(),
            });
            select(pool, &mut w, c, &name, &mut queue);
            added = true;
        }
        if !added {
            break;
        }
    }
    // Conflicts: any selected package matching a conflict atom is a problem.
    for conflict in w.conflicts.clone() {
        for &s in &w.selected {
            let p = &pool.cands[s].package;
            if p.satisfies(&conflict.dep) && conflict.by != p.id() {
                let key = format!("conflict:{}:{}", p.id(), conflict.by);
                if w.reported.insert(key) {
                    let requirers = w
                        .needs
                        .get(&p.name)
                        .map(|v| v.iter().map(Need::describe).collect::<Vec<_>>().join(" "))
                        .unwrap_or_default();
                    w.problems.push(format!(
                        "  {}:\n    conflicts: {}\n    satisfies: {}",
                        p.id(),
                        conflict.describe(),
                        requirers
                    ));
                }
            }
        }
    }
    w
}

/// Marks candidate `c` chosen for `name`, and queues its dependencies if newly selected.
fn select(pool: &Pool, w: &mut Walk, c: usize, name: &str, queue: &mut VecDeque<Need>) {
    w.chosen.insert(name.to_string(), c);
    let p = &pool.cands[c].package;
    if w.by_pkg_name.contains_key(&p.name) {
        return;
    }
    w.by_pkg_name.insert(p.name.clone(), c);
    w.chosen.entry(p.name.clone()).or_insert(c);
    w.selected.push(c);
    for d in &p.depends {
        queue.push_back(Need {
            dep: d.clone(),
            by: p.id(),
        });
    }
}

/// Chooses the best candidate for `name` under `needs`, or explains why none fits.
fn pick(
    pool: &Pool,
    w: &Walk,
    name: &str,
    needs: &[Need],
    prefs: &Preferences,
) -> Result<usize, String> {
    let providers = pool.providers(name);
    if providers.is_empty() {
        return Err(format!(
            "  {name} (no such package):\n    required by: {}",
            describe_all(needs)
        ));
    }
    let fits = |&&i: &&usize| {
        let p = &pool.cands[i].package;
        needs.iter().all(|n| p.satisfies(&n.dep))
            && !w
                .conflicts
                .iter()
                .any(|c| p.satisfies(&c.dep) && c.by != p.id())
            && match w.by_pkg_name.get(&p.name) {
                Some(&s) => s == i,
                None => true,
            }
            && !p.depends.iter().any(|d| {
                d.conflict
                    && w.selected
                        .iter()
                        .any(|&s| pool.cands[s].package.satisfies(d))
            })
    };
    let mut ok: Vec<usize> = providers.iter().filter(fits).copied().collect();
    if ok.is_empty() {
        return Err(unsatisfiable(pool, name, needs));
    }
    // Already selected wins outright.
    if let Some(&s) = ok.iter().find(|&&i| w.selected.contains(&i)) {
        return Ok(s);
    }
    // A real package of that name beats providers.
    if ok.iter().any(|&i| pool.cands[i].package.name == name) {
        ok.retain(|&i| pool.cands[i].package.name == name);
    } else {
        let names: BTreeSet<&str> = ok
            .iter()
            .map(|&i| pool.cands[i].package.name.as_str())
            .collect();
        let decided = ok
            .iter()
            .any(|&i| pool.cands[i].installed || pool.cands[i].package.provider_priority.is_some())
            || ok.iter().any(|&i| {
                pool.cands[i]
                    .package
                    .provided_version(name)
                    .flatten()
                    .is_some()
            });
        if names.len() > 1 && !decided {
            return Err(format!(
                "  {name} (virtual):\n    provided by: {}\n    required by: {}",
                names.into_iter().collect::<Vec<_>>().join(" "),
                describe_all(needs)
            ));
        }
    }
    let upgrading = |i: usize| {
        let p = &pool.cands[i].package;
        prefs.upgrade_all || prefs.upgrade.contains(&p.name) || prefs.upgrade.contains(name)
    };
    ok.sort_by(|&a, &b| {
        let (ca, cb) = (&pool.cands[a], &pool.cands[b]);
        let keep_a = ca.installed && !upgrading(a);
        let keep_b = cb.installed && !upgrading(b);
        keep_b
            .cmp(&keep_a)
            .then_with(|| {
                cb.package
                    .provider_priority
                    .unwrap_or(0)
                    .cmp(&ca.package.provider_priority.unwrap_or(0))
            })
            .then_with(|| {
                let va = ca.package.provided_version(name).flatten().unwrap_or("0");
                let vb = cb.package.provided_version(name).flatten().unwrap_or("0");
                version::compare(vb, va)
            })
            .then_with(|| version::compare(&cb.package.version, &ca.package.version))
            .then_with(|| cb.installed.cmp(&ca.installed))
            .then_with(|| ca.repo.cmp(&cb.repo))
    });
    Ok(ok[0])
}

/// Explains why no candidate of `name` satisfies `needs`.
fn unsatisfiable(pool: &Pool, name: &str, needs: &[Need]) -> String {
    let mut versions: Vec<String> = pool
        .providers(name)
        .iter()
        .map(|&i| pool.cands[i].package.id())
        .collect();
    versions.sort();
    versions.dedup();
    format!(
        "  {name}:\n    breaks: {}\n    available: {}",
        describe_all(needs),
        versions.join(" ")
    )
}

fn describe_all(needs: &[Need]) -> String {
    let mut v: Vec<String> = needs.iter().map(Need::describe).collect();
    v.dedup();
    v.join(" ")
}

/// Orders the selection so that dependencies come before their dependents (cycles broken
/// in selection order): a depth-first walk in post-order, with its own stack of (package,
/// next dependency to look at), so that a chain of dependencies as long as an index can
/// make does not overflow the thread's stack.
fn install_order(pool: &Pool, selected: &[usize]) -> Vec<usize> {
    let set: HashSet<usize> = selected.iter().copied().collect();
    let mut done = HashSet::new();
    let mut order = Vec::new();
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for &first in selected {
        if !done.insert(first) {
            continue;
        }
        stack.push((first, 0));
        while let Some(top) = stack.last_mut() {
            let i = top.0;
            let depends = &pool.cands[i].package.depends;
            let Some(d) = depends.get(top.1) else {
                order.push(i);
                stack.pop();
                continue;
            };
            top.1 += 1;
            if d.conflict {
                continue;
            }
            let dep = pool
                .providers(&d.name)
                .iter()
                .copied()
                .find(|j| set.contains(j) && pool.cands[*j].package.satisfies(d));
            if let Some(j) = dep {
                if done.insert(j) {
                    stack.push((j, 0));
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, ver: &str, deps: &str, provides: &str) -> Candidate {
        Candidate {
            package: Package {
                name: name.into(),
                version: ver.into(),
                depends: Dependency::parse_list(deps).unwrap(),
                provides: Dependency::parse_list(provides).unwrap(),
                ..Default::default()
            },
            installed: false,
            repo: Some(0),
        }
    }

    fn ids(c: &[Candidate], s: &Solution) -> Vec<String> {
        s.order.iter().map(|&i| c[i].package.id()).collect()
    }

    fn world(s: &str) -> Vec<Dependency> {
        Dependency::parse_list(s).unwrap()
    }

    #[test]
    fn picks_highest_and_orders_deps_first() {
        let c = vec![
            pkg("app", "1.0", "lib>=2", ""),
            pkg("app", "2.0", "lib>=2 so:libz.so.1", ""),
            pkg("lib", "1.0", "", ""),
            pkg("lib", "2.1", "", ""),
            pkg("zlib", "1.3", "", "so:libz.so.1=1.3"),
        ];
        let s = solve(&c, &world("app"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["lib-2.1", "zlib-1.3", "app-2.0"]);
    }

    #[test]
    fn version_constraint_and_backtracking() {
        let c = vec![
            pkg("a", "1", "lib", ""),
            pkg("b", "1", "lib<2", ""),
            pkg("lib", "1.5", "", ""),
            pkg("lib", "2.0", "", ""),
        ];
        let s = solve(&c, &world("a b"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["lib-1.5", "a-1", "b-1"]);
        let e = solve(&c, &world("a lib>=3"), &Preferences::default()).unwrap_err();
        assert_eq!(
            e.problems,
            vec!["  lib:\n    breaks: world[lib>=3]\n    available: lib-1.5 lib-2.0"]
        );
    }

    #[test]
    fn missing_dependency_is_explained() {
        let c = vec![pkg("a", "1", "nothere>=1", "")];
        let e = solve(&c, &world("a"), &Preferences::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to select packages:\n  nothere (no such package):\n    required by: a-1[nothere>=1]"
        );
    }

    #[test]
    fn conflicts_are_refused() {
        let c = vec![pkg("a", "1", "!b", ""), pkg("b", "1", "", "")];
        let e = solve(&c, &world("a b"), &Preferences::default()).unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert!(e.problems[0].contains("conflicts: a-1[!b]"), "{:?}", e);
    }

    #[test]
    fn provides_and_virtual_choice() {
        let c = vec![
            pkg("mawk", "1", "", "awk"),
            pkg("gawk", "5", "", "awk"),
            pkg("app", "1", "awk", ""),
        ];
        let e = solve(&c, &world("app"), &Preferences::default()).unwrap_err();
        assert!(e.problems[0].contains("awk (virtual)"), "{e}");
        assert!(e.problems[0].contains("provided by: gawk mawk"), "{e}");
        let s = solve(&c, &world("app gawk"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["gawk-5", "app-1"]);
        let c2 = vec![
            pkg("busybox", "1.36", "", "cmd:sh=1.36"),
            pkg("x", "1", "cmd:sh", ""),
        ];
        let s = solve(&c2, &world("x"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c2, &s), vec!["busybox-1.36", "x-1"]);
    }

    #[test]
    fn installed_kept_unless_upgrading() {
        let mut c = vec![pkg("a", "1", "", ""), pkg("a", "2", "", "")];
        c[0].installed = true;
        let s = solve(&c, &world("a"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["a-1"]);
        let up = Preferences {
            upgrade_all: true,
            ..Default::default()
        };
        let s = solve(&c, &world("a"), &up).unwrap();
        assert_eq!(ids(&c, &s), vec!["a-2"]);
    }

    #[test]
    fn install_if_adds_packages() {
        let mut doc = pkg("a-doc", "1", "", "");
        doc.package.install_if = world("a docs");
        let c = vec![pkg("a", "1", "", ""), pkg("docs", "1", "", ""), doc];
        let s = solve(&c, &world("a"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["a-1"]);
        let s = solve(&c, &world("a docs"), &Preferences::default()).unwrap();
        assert_eq!(ids(&c, &s), vec!["a-1", "docs-1", "a-doc-1"]);
    }
}
