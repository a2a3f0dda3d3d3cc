//! Applying a change set to the root, crash-safely, and repairing an interrupted one.
//!
//! Order of work (nothing in the root changes before step 3):
//! 1. every package to install is fetched and fully verified ([`crate::archive`]);
//! 2. the plan is computed: each entry's target is resolved inside the root ([`Root`]), a
//!    file owned by another installed package is refused (unless `--force-overwrite` or the
//!    new package `replaces` it), files of removed or replaced versions are listed for removal,
//!    and a file under /etc whose content the user changed is kept (the package's version is
//!    written beside it as `NAME.apk-new`, as apk-tools does);
//! 3. the journal `/lib/apk/db/transaction/plan` is written in state `staging`, then every
//!    new file is written beside its target as `.apk.<hex>` (mode, owner, mtime set), the new
//!    installed database, scripts.tar and world are written into the journal folder, and the
//!    file system is synced; pre-install/pre-upgrade/pre-deinstall scripts run (a failure rolls
//!    everything back);
//! 4. the journal is switched to state `commit` (an atomic rename): the commit point;
//! 5. roll forward: renames onto the targets, removal of old files and empty directories,
//!    replacement of the database, scripts.tar, triggers and world (renames), post-* scripts,
//!    then the `trigger` scripts of packages whose trigger patterns match a changed directory
//!    (with those directories as arguments), then the journal is deleted.
//!
//! A kill at any moment leaves either the old state plus stray staging files (journal in
//! `staging`) or a committed journal; [`repair`] (`apk fix`) rolls the first back and the
//! second forward, and both end in a consistent root. Every step of the roll-forward is
//! idempotent. The journal folder is our own; apk-tools ignores it.
//!
//! Test hook: when `TINILINUX_APK_CRASH_AT` names a point (`staged`, `committed`, `renamed`),
//! the process sends itself SIGKILL there, so tests can kill at exact points.

mod journal;

pub use journal::{pending, repair, Repair};
use journal::{roll_back, roll_forward, write_plan};

use crate::archive::{ApkPackage, EntryKind};
use crate::db::{self, Acl, DirEntry, FileEntry, Installed};
use crate::fsroot::{self, Root};
use crate::script::{self, Outcome};
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The journal folder, relative to the root.
pub const JOURNAL_DIR: &str = "lib/apk/db/transaction";

/// One package-level change.
pub enum Step {
    /// Install a new package (`old` set when it replaces an installed version of the name).
    Install {
        /// The verified package (None for a virtual package, which has no files).
        apk: Option<Box<ApkPackage>>,
        /// The record to put in the database.
        record: Box<Installed>,
        /// The installed version it replaces, if any (index into the current database).
        old: Option<usize>,
    },
    /// Remove an installed package (index into the current database).
    Remove {
        /// Index into the current database.
        old: usize,
    },
}

/// Options that change how changes are applied.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyOptions {
    /// Overwrite files owned by other packages.
    pub force_overwrite: bool,
    /// Print less.
    pub quiet: bool,
    /// Do not run scripts.
    pub no_scripts: bool,
    /// Also remove configuration files the user changed.
    pub purge: bool,
}

/// Why a transaction was refused before anything changed (or rolled back).
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// Problems found while planning; nothing was changed.
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// An I/O failure; the journal tells `apk fix` what to do.
    #[error("{0}")]
    Io(String),
}

/// A file-level operation of the plan.
#[derive(Clone, Debug)]
enum Op {
    Mkdir {
        rel: String,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Stage {
        temp: String,
        target: String,
    },
    Remove {
        rel: String,
    },
    Rmdir {
        rel: String,
    },
    Post {
        id: String,
        kind: String,
        file: String,
        args: Vec<String>,
    },
}

fn crash_point(name: &str) {
    if std::env::var("TINILINUX_APK_CRASH_AT").ok().as_deref() == Some(name) {
        // SAFETY: sending SIGKILL to ourselves; no memory effects.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// The folders above `rel` (`a/b/c` → `a`, `a/b`), shortest first.
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(at, _)| &rel[..at])
}

fn temp_name(target_rel: &str) -> String {
    let h = Sha1::digest(target_rel.as_bytes());
    let (dir, _) = target_rel.rsplit_once('/').unwrap_or(("", target_rel));
    let name = format!(".apk.{}", &hex::encode(h)[..24]);
    if dir.is_empty() {
        name
    } else {
        format!("{dir}/{name}")
    }
}

fn io(ctx: &str) -> impl Fn(std::io::Error) -> TxError + '_ {
    move |e| TxError::Io(format!("{ctx}: {e}"))
}

/// Builds the database record of a verified package: files, directories, owners, scripts.
pub fn record_for(apk: &ApkPackage) -> Installed {
    let mut dirs: Vec<DirEntry> = Vec::new();
    let mut dir_index: HashMap<String, usize> = HashMap::new();
    fn dir_of<'a>(
        dirs: &'a mut Vec<DirEntry>,
        index: &mut HashMap<String, usize>,
        path: &str,
    ) -> &'a mut DirEntry {
        // Parents first, so every directory a package brings is recorded (and removed).
        if !index.contains_key(path) {
            if let Some((parent, _)) = path.rsplit_once('/') {
                dir_of(dirs, index, parent);
            }
        }
        let i = *index.entry(path.to_string()).or_insert_with(|| {
            dirs.push(DirEntry {
                path: path.to_string(),
                acl: None,
                files: Vec::new(),
            });
            dirs.len() - 1
        });
        &mut dirs[i]
    }
    for e in &apk.entries {
        let acl = Acl {
            uid: e.uid,
            gid: e.gid,
            mode: e.mode,
        };
        match &e.kind {
            EntryKind::Dir => dir_of(&mut dirs, &mut dir_index, &e.path).acl = Some(acl),
            kind => {
                let (parent, name) = e.path.rsplit_once('/').unwrap_or(("", &e.path));
                let checksum = match kind {
                    EntryKind::Symlink(t) => Some(crate::archive::q1_checksum(t.as_bytes())),
                    _ => e.sha1.map(|d| crate::archive::q1_from_digest(&d)),
                };
                let hardlink_sum = if let EntryKind::Hardlink(t) = kind {
                    apk.entries
                        .iter()
                        .find(|x| &x.path == t)
                        .and_then(|x| x.sha1)
                        .map(|d| crate::archive::q1_from_digest(&d))
                } else {
                    None
                };
                dir_of(&mut dirs, &mut dir_index, parent)
                    .files
                    .push(FileEntry {
                        name: name.to_string(),
                        acl: Some(acl),
                        checksum: checksum.or(hardlink_sum),
                    });
            }
        }
    }
    Installed {
        package: apk.info.package.clone(),
        dirs,
        scripts: apk.scripts.clone(),
        triggers: apk.info.triggers.clone(),
    }
}

/// Everything needed to carry out the change set.
struct Plan {
    ops: Vec<Op>,
    /// (step index, entry index, temp rel) for files to write during staging.
    writes: Vec<(usize, usize, String)>,
    /// Pre-scripts to run before the commit: (id, kind, body, args).
    pre: Vec<(String, String, Vec<u8>, Vec<String>)>,
    /// Post-script bodies to store in the journal: file name → body.
    post_bodies: Vec<(String, Vec<u8>)>,
}

/// Carries out `steps` on the root whose database is `current`, ending with `new_db` and
/// `new_world`. Returns the number of non-fatal errors (failed post scripts).
pub fn apply(
    root: &Root,
    current: &[Installed],
    steps: &[Step],
    new_db: &[Installed],
    new_world: &str,
    opts: ApplyOptions,
) -> Result<usize, TxError> {
    let mut plan = make_plan(root, current, steps, opts)?;
    add_triggers(&mut plan, new_db);
    let jdir = root.plain(JOURNAL_DIR);
    let _ = fs::remove_dir_all(&jdir);
    fs::create_dir_all(&jdir).map_err(io("creating the journal"))?;
    write_plan(root, "staging", &plan.ops)?;

    let staged = (|| -> Result<(), TxError> {
        stage(root, steps, &plan)?;
        let db_text = db::format_installed(new_db);
        let scripts = db::build_scripts_tar(new_db).map_err(io("building scripts.tar"))?;
        write_file(&jdir.join("installed.new"), db_text.as_bytes(), 0o644)?;
        write_file(&jdir.join("scripts.tar.new"), &scripts, 0o644)?;
        write_file(&jdir.join("world.new"), new_world.as_bytes(), 0o644)?;
        write_file(
            &jdir.join("triggers.new"),
            db::format_triggers(new_db).as_bytes(),
            0o644,
        )?;
        for (name, body) in &plan.post_bodies {
            write_file(&jdir.join(name), body, 0o755)?;
        }
        fsroot::sync_fs(root.path()).map_err(io("syncing the file system"))?;
        crash_point("staged");
        if !opts.no_scripts {
            for (id, kind, body, args) in &plan.pre {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                match run_script(root, id, kind, body, &args, opts.quiet) {
                    Outcome::Failed(_) => {
                        return Err(TxError::Refused(vec![format!(
                            "{id}: {kind} script failed; the transaction was undone"
                        )]))
                    }
                    Outcome::Ok | Outcome::Skipped(_) => {}
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = staged {
        roll_back(root, &plan.ops);
        return Err(e);
    }
    write_plan(root, "commit", &plan.ops)?;
    crash_point("committed");
    roll_forward(root, &plan.ops, opts)
}

/// Matches a trigger pattern against a directory (`*` and `?` do not cross `/`).
fn dir_matches(pattern: &str, dir: &str) -> bool {
    fn go(p: &[u8], d: &[u8]) -> bool {
        match (p.first(), d.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], d) || (!d.is_empty() && d[0] != b'/' && go(p, &d[1..])),
            (Some(b'?'), Some(&c)) if c != b'/' => go(&p[1..], &d[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &d[1..]),
            _ => false,
        }
    }
    go(pattern.trim_end_matches('/').as_bytes(), dir.as_bytes())
}

/// Adds a `trigger` run (after the post scripts) for every package of the new database whose
/// trigger patterns match a directory this transaction changes; the matched directories are
/// the script's arguments, as in apk-tools.
fn add_triggers(plan: &mut Plan, new_db: &[Installed]) {
    let mut changed: Vec<String> = Vec::new();
    for op in &plan.ops {
        let dir = match op {
            Op::Stage { target, .. } => target.rsplit_once('/').map(|p| p.0).unwrap_or(""),
            Op::Remove { rel } => rel.rsplit_once('/').map(|p| p.0).unwrap_or(""),
            Op::Mkdir { rel, .. } | Op::Rmdir { rel } => rel.as_str(),
            Op::Post { .. } => continue,
        };
        let dir = format!("/{dir}");
        if !changed.contains(&dir) {
            changed.push(dir);
        }
    }
    for ins in new_db {
        let Some(body) = ins.script("trigger") else {
            continue;
        };
        let matched: Vec<String> = changed
            .iter()
            .filter(|d| ins.triggers.iter().any(|p| dir_matches(p, d)))
            .cloned()
            .collect();
        if matched.is_empty() {
            continue;
        }
        let id = ins.package.id();
        let file = format!("{id}.trigger");
        plan.post_bodies.push((file.clone(), body.to_vec()));
        plan.ops.push(Op::Post {
            id,
            kind: "trigger".into(),
            file,
            args: matched,
        });
    }
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TxError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io(&path.display().to_string()))?;
    f.write_all(data).map_err(io(&path.display().to_string()))
}

fn run_script(
    root: &Root,
    id: &str,
    kind: &str,
    body: &[u8],
    args: &[&str],
    quiet: bool,
) -> Outcome {
    if !quiet {
        println!("Executing {id}.{kind}");
    }
    let out = script::run(root, id, kind, body, args);
    match &out {
        Outcome::Ok => {}
        Outcome::Failed(why) => eprintln!("ERROR: {id}.{kind}: {why}"),
        Outcome::Skipped(why) => eprintln!("WARNING: {id}.{kind} not run: {why}"),
    }
    out
}

fn make_plan(
    root: &Root,
    current: &[Installed],
    steps: &[Step],
    opts: ApplyOptions,
) -> Result<Plan, TxError> {
    let mut problems = Vec::new();
    // Packages leaving: removed or replaced by a new version.
    let leaving: HashSet<usize> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Remove { old } => Some(*old),
            Step::Install { old, .. } => *old,
        })
        .collect();
    let mut owners: HashMap<String, &str> = HashMap::new();
    let mut kept_dirs: HashSet<String> = HashSet::new();
    for (i, ins) in current.iter().enumerate() {
        if leaving.contains(&i) {
            continue;
        }
        for p in ins.file_paths() {
            owners.insert(p, ins.package.name.as_str());
        }
        for d in &ins.dirs {
            kept_dirs.insert(d.path.clone());
        }
    }
    let mut ops = Vec::new();
    let mut writes = Vec::new();
    let mut pre = Vec::new();
    let mut post_bodies = Vec::new();
    let mut new_files: HashMap<String, String> = HashMap::new();
    let mut mkdirs: HashSet<String> = HashSet::new();
    let mut targets: HashSet<String> = HashSet::new();
    let mut posts = Vec::new();

    for (si, step) in steps.iter().enumerate() {
        let Step::Install { apk, record, old } = step else {
            continue;
        };
        let pkg = &record.package;
        let id = pkg.id();
        let old_ver = old.map(|o| current[o].package.version.clone());
        let (pre_kind, post_kind) = match &old_ver {
            Some(_) => ("pre-upgrade", "post-upgrade"),
            None => ("pre-install", "post-install"),
        };
        let mut args = vec![pkg.version.clone()];
        if let Some(v) = &old_ver {
            args.push(v.clone());
        }
        if let Some(body) = record.script(pre_kind) {
            pre.push((
                id.clone(),
                pre_kind.to_string(),
                body.to_vec(),
                args.clone(),
            ));
        }
        if let Some(body) = record.script(post_kind) {
            let file = format!("{}.{post_kind}", id);
            post_bodies.push((file.clone(), body.to_vec()));
            posts.push(Op::Post {
                id: id.clone(),
                kind: post_kind.to_string(),
                file,
                args: args.clone(),
            });
        }
        let Some(apk) = apk else { continue };
        let replaces: HashSet<&str> = pkg.replaces.iter().map(|d| d.name.as_str()).collect();
        for (ei, e) in apk.entries.iter().enumerate() {
            if e.path.contains(['\n', '\t']) {
                problems.push(format!(
                    "{id}: entry {:?}: control characters in path",
                    e.path
                ));
                continue;
            }
            // NAME_MAX: a longer name stages (under a short temporary name) but cannot be
            // renamed into place after the commit point.
            if e.path.split('/').any(|c| c.len() > 255) {
                problems.push(format!(
                    "{id}: {}: a file name longer than 255 bytes",
                    e.path.chars().take(80).collect::<String>()
                ));
                continue;
            }
            if e.kind == EntryKind::Dir {
                match root.resolve(&e.path, true) {
                    // Checked against what this transaction makes too, not only the disk.
                    Ok((_, rel)) if targets.contains(&rel) => problems.push(format!(
                        "{id}: {}: a file or link of this transaction is in the way of a directory",
                        e.path
                    )),
                    Ok((host, rel)) => match fs::symlink_metadata(&host) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => problems
                            .push(format!("{id}: {}: exists and is not a directory", e.path)),
                        Err(_) => {
                            if mkdirs.insert(rel.clone()) {
                                ops.push(Op::Mkdir {
                                    rel,
                                    mode: e.mode,
                                    uid: e.uid,
                                    gid: e.gid,
                                });
                            }
                        }
                    },
                    Err(err) => problems.push(format!("{id}: {err}")),
                }
                continue;
            }
            if let Some(owner) = owners.get(&e.path) {
                if *owner != pkg.name && !replaces.contains(owner) && !opts.force_overwrite {
                    problems.push(format!(
                        "{id}: trying to overwrite {} owned by {owner}; use --force-overwrite to allow it",
                        e.path
                    ));
                    continue;
                }
            }
            if let Some(other) = new_files.insert(e.path.clone(), pkg.name.clone()) {
                if other != pkg.name && !opts.force_overwrite {
                    problems.push(format!(
                        "{id}: trying to overwrite {} also installed by {other}; use --force-overwrite to allow it",
                        e.path
                    ));
                    continue;
                }
            }
            let (host, rel) = match root.resolve(&e.path, false) {
                Ok(r) => r,
                Err(err) => {
                    problems.push(format!("{id}: {err}"));
                    continue;
                }
            };
            // What this transaction makes, as the disk will be after it: a directory it makes
            // at this path, or a file or link it makes at a folder of this path, would only
            // fail at the renames after the commit point.
            if mkdirs.contains(&rel) {
                problems.push(format!(
                    "{id}: {}: a directory of this transaction is in the way of a file",
                    e.path
                ));
                continue;
            }
            if let Some(below) = ancestors(&rel).find(|a| targets.contains(*a)) {
                problems.push(format!(
                    "{id}: {}: below /{below}, which this transaction makes a file or link",
                    e.path
                ));
                continue;
            }
            // The parent must exist now or be created by this transaction.
            let parent_rel = rel.rsplit_once('/').map(|p| p.0).unwrap_or("");
            let mut ancestor = String::new();
            for part in parent_rel.split('/').filter(|p| !p.is_empty()) {
                if !ancestor.is_empty() {
                    ancestor.push('/');
                }
                ancestor.push_str(part);
                if mkdirs.contains(&ancestor) || root.plain(&ancestor).is_dir() {
                    continue;
                }
                mkdirs.insert(ancestor.clone());
                ops.push(Op::Mkdir {
                    rel: ancestor.clone(),
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                });
            }
            if let Ok(m) = fs::symlink_metadata(&host) {
                if m.is_dir() {
                    problems.push(format!(
                        "{id}: {}: a directory is in the way of a file",
                        e.path
                    ));
                    continue;
                }
            }
            // A configuration file the user changed is kept; the package's version goes
            // beside it as NAME.apk-new (apk-tools' protected /etc).
            let mut rel = rel;
            if e.kind == EntryKind::File && is_protected(&e.path) {
                let recorded = old.and_then(|o| file_checksum(&current[o], &e.path));
                if user_modified(&host, recorded.as_deref(), e.sha1) {
                    rel.push_str(".apk-new");
                    if !opts.quiet {
                        println!(
                            "{id}: keeping the changed /{}; new version as /{rel}",
                            e.path
                        );
                    }
                }
            }
            let temp = temp_name(&rel);
            targets.insert(rel.clone());
            writes.push((si, ei, temp.clone()));
            ops.push(Op::Stage { temp, target: rel });
        }
    }
    // Files and directories of leaving packages that nobody keeps.
    let mut rmdirs: BTreeMap<String, ()> = BTreeMap::new();
    for &i in &leaving {
        let ins = &current[i];
        let id = ins.package.id();
        if !steps
            .iter()
            .any(|s| matches!(s, Step::Install { old: Some(o), .. } if *o == i))
        {
            if let Some(body) = ins.script("pre-deinstall") {
                pre.push((
                    id.clone(),
                    "pre-deinstall".into(),
                    body.to_vec(),
                    vec![ins.package.version.clone()],
                ));
            }
            if let Some(body) = ins.script("post-deinstall") {
                let file = format!("{id}.post-deinstall");
                post_bodies.push((file.clone(), body.to_vec()));
                posts.push(Op::Post {
                    id: id.clone(),
                    kind: "post-deinstall".into(),
                    file,
                    args: vec![ins.package.version.clone()],
                });
            }
        }
        for p in ins.file_paths() {
            if new_files.contains_key(&p) || owners.contains_key(&p) {
                continue;
            }
            match root.resolve(&p, false) {
                // A configuration file the user changed stays unless --purge (apk-tools).
                Ok((host, _))
                    if !opts.purge
                        && is_protected(&p)
                        && user_modified(&host, file_checksum(ins, &p).as_deref(), None) =>
                {
                    if !opts.quiet {
                        println!("{id}: keeping the changed /{p} (--purge removes it)");
                    }
                }
                Ok((_, rel)) if !targets.contains(&rel) => ops.push(Op::Remove { rel }),
                Ok(_) => {}
                Err(err) => eprintln!("WARNING: {id}: not removing {p}: {err}"),
            }
        }
        for d in &ins.dirs {
            if !d.path.is_empty() && !kept_dirs.contains(&d.path) {
                rmdirs.insert(d.path.clone(), ());
            }
        }
    }
    // Deepest first.
    let mut rm: Vec<String> = rmdirs.into_keys().collect();
    rm.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    ops.extend(rm.into_iter().map(|rel| Op::Rmdir { rel }));
    ops.extend(posts);
    if !problems.is_empty() {
        return Err(TxError::Refused(problems));
    }
    Ok(Plan {
        ops,
        writes,
        pre,
        post_bodies,
    })
}

/// Paths whose local changes are kept on upgrade (apk-tools protects /etc by default).
fn is_protected(path: &str) -> bool {
    path.starts_with("etc/") && !path.starts_with("etc/apk/")
}

/// The recorded `Z:` checksum of `path` in an installed package.
fn file_checksum(ins: &Installed, path: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    ins.dirs
        .iter()
        .find(|d| d.path == dir)?
        .files
        .iter()
        .find(|f| f.name == name)?
        .checksum
        .clone()
}

/// Does the file at `host` hold content that is neither what the old package installed
/// (`recorded`) nor what the new one brings (`new`)? False when it does not exist.
fn user_modified(host: &Path, recorded: Option<&str>, new: Option<[u8; 20]>) -> bool {
    let Ok(data) = fs::read(host) else {
        return false;
    };
    let digest: [u8; 20] = Sha1::digest(&data).into();
    if Some(digest) == new {
        return false;
    }
    match recorded {
        Some(r) => crate::archive::q1_from_digest(&digest) != r,
        None => true,
    }
}

fn set_owner(path: &Path, uid: u32, gid: u32) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
    }
}

fn stage(root: &Root, steps: &[Step], plan: &Plan) -> Result<(), TxError> {
    for op in &plan.ops {
        if let Op::Mkdir {
            rel,
            mode,
            uid,
            gid,
        } = op
        {
            let p = root.plain(rel);
            fs::create_dir_all(&p).map_err(io(rel))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).map_err(io(rel))?;
            set_owner(&p, *uid, *gid);
        }
    }
    // Temps by (step, entry), written while each package's data is streamed once.
    let mut by_step: BTreeMap<usize, HashMap<usize, &str>> = BTreeMap::new();
    for (si, ei, temp) in &plan.writes {
        by_step.entry(*si).or_default().insert(*ei, temp.as_str());
    }
    for (si, temps) in &by_step {
        let Step::Install { apk: Some(apk), .. } = &steps[*si] else {
            continue;
        };
        let mut temp_of: HashMap<&str, &str> = HashMap::new();
        let mut failure: Option<TxError> = None;
        let result = apk.for_each_entry(|ei, e, content| {
            let Some(temp) = temps.get(&ei) else {
                return Ok(());
            };
            if let Err(err) = stage_entry(root, e, content, temp, &temp_of) {
                failure = Some(err);
                return Err(std::io::Error::other("staging failed"));
            }
            temp_of.insert(apk.entries[ei].path.as_str(), temp);
            Ok(())
        });
        if let Some(err) = failure {
            return Err(err);
        }
        result.map_err(|err| TxError::Io(format!("{}: {err}", apk.info.package.id())))?;
    }
    Ok(())
}

/// Writes one entry beside its target as `temp`.
fn stage_entry(
    root: &Root,
    e: &crate::archive::DataEntry,
    content: &mut dyn std::io::Read,
    temp: &str,
    temp_of: &HashMap<&str, &str>,
) -> Result<(), TxError> {
    let host = root.plain(temp);
    let _ = fs::remove_file(&host);
    match &e.kind {
        EntryKind::File => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&host)
                .map_err(io(&e.path))?;
            std::io::copy(content, &mut f).map_err(io(&e.path))?;
            set_owner(&host, e.uid, e.gid);
            // chown clears set-id bits: set the mode afterwards.
            f.set_permissions(fs::Permissions::from_mode(e.mode))
                .map_err(io(&e.path))?;
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.mtime);
            let _ = f.set_modified(t);
        }
        EntryKind::Symlink(target) => {
            symlink(target, &host).map_err(io(&e.path))?;
            set_owner(&host, e.uid, e.gid);
        }
        EntryKind::Hardlink(to) => {
            let src = match temp_of.get(to.as_str()) {
                Some(t) => root.plain(t),
                None => root
                    .resolve(to, false)
                    .map(|r| r.0)
                    .map_err(|err| TxError::Io(err.to_string()))?,
            };
            fs::hard_link(&src, &host).map_err(io(&e.path))?;
        }
        EntryKind::Dir => {}
    }
    Ok(())
}

/// Installed packages whose files are missing from the root (candidates for reinstall).
pub fn broken_packages(root: &Root, installed: &[Installed]) -> Vec<usize> {
    installed
        .iter()
        .enumerate()
        .filter(|(_, ins)| {
            ins.file_paths().any(|p| match root.resolve(&p, false) {
                Ok((host, _)) => fs::symlink_metadata(host).is_err(),
                Err(_) => true,
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// Host path of a root-relative path (for callers that print).
pub fn host_path(root: &Root, rel: &str) -> PathBuf {
    root.plain(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_patterns() {
        assert!(dir_matches("/usr/share/fonts/*", "/usr/share/fonts/misc"));
        assert!(!dir_matches(
            "/usr/share/fonts/*",
            "/usr/share/fonts/misc/sub"
        ));
        assert!(dir_matches("/etc/ssl/certs", "/etc/ssl/certs"));
        assert!(dir_matches("/lib/modules/*/", "/lib/modules/6.1"));
        assert!(!dir_matches("/bin", "/usr/bin"));
    }
}
