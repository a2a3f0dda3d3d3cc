//! The journal of a transaction (`/lib/apk/db/transaction/plan`, one operation per line,
//! first line `state staging|commit`), and what is done with it: rolling back a transaction
//! that had not reached its commit point, rolling forward one that had (every step
//! idempotent), and `apk fix`'s [`repair`] that picks one of the two after a crash.

use super::{crash_point, io, run_script, ApplyOptions, Op, TxError, JOURNAL_DIR};
use crate::db;
use crate::fsroot::{self, Root};
use crate::script::Outcome;
use std::fs;

fn format_plan(state: &str, ops: &[Op]) -> String {
    let mut s = format!("state\t{state}\n");
    for op in ops {
        let line = match op {
            Op::Mkdir { rel, .. } => format!("mkdir\t{rel}"),
            Op::Stage { temp, target } => format!("stage\t{temp}\t{target}"),
            Op::Remove { rel } => format!("remove\t{rel}"),
            Op::Rmdir { rel } => format!("rmdir\t{rel}"),
            Op::Post {
                id,
                kind,
                file,
                args,
            } => format!("post\t{id}\t{kind}\t{file}\t{}", args.join("\t")),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// Whether `rel` is a path the journal may hold: relative to the root, and no component
/// empty, `.` or `..`. A journal is read back from the root, which may come from elsewhere (an
/// image, a disk being repaired): its paths are checked like a package's entries.
fn clean_relative(rel: &str) -> bool {
    !rel.is_empty()
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'))
}

fn parse_plan(text: &str) -> Option<(String, Vec<Op>)> {
    let mut lines = text.lines();
    let state = lines.next()?.strip_prefix("state\t")?.to_string();
    let mut ops = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        let paths_ok = match f.as_slice() {
            ["mkdir" | "remove" | "rmdir", rel] => clean_relative(rel),
            ["stage", temp, target] => clean_relative(temp) && clean_relative(target),
            // The script file lies in the journal folder: one name.
            ["post", _, _, file, ..] => clean_relative(file) && !file.contains('/'),
            _ => false,
        };
        if !paths_ok {
            return None;
        }
        let op = match f.as_slice() {
            ["mkdir", rel] => Op::Mkdir {
                rel: rel.to_string(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            ["stage", temp, target] => Op::Stage {
                temp: temp.to_string(),
                target: target.to_string(),
            },
            ["remove", rel] => Op::Remove {
                rel: rel.to_string(),
            },
            ["rmdir", rel] => Op::Rmdir {
                rel: rel.to_string(),
            },
            ["post", id, kind, file, args @ ..] => Op::Post {
                id: id.to_string(),
                kind: kind.to_string(),
                file: file.to_string(),
                args: args.iter().map(|a| a.to_string()).collect(),
            },
            _ => return None,
        };
        ops.push(op);
    }
    Some((state, ops))
}

/// Replaces the journal atomically with `ops` in `state` (`staging` or `commit`).
pub(super) fn write_plan(root: &Root, state: &str, ops: &[Op]) -> Result<(), TxError> {
    let path = root.plain(JOURNAL_DIR).join("plan");
    fsroot::atomic_write(&path, format_plan(state, ops).as_bytes(), 0o600)
        .map_err(io("writing the journal"))
}

/// Host path of the journal's `rel`, its folders resolved inside the root (a symbolic link
/// among them cannot lead out); the last component is not followed, so a rename or removal
/// acts on the entry itself.
fn inside(root: &Root, rel: &str) -> Result<std::path::PathBuf, TxError> {
    root.resolve(rel, false)
        .map(|(host, _)| host)
        .map_err(|e| TxError::Io(e.to_string()))
}

/// Undoes a staged transaction: removes the staged files, the directories it made (when
/// empty) and the journal.
pub(super) fn roll_back(root: &Root, ops: &[Op]) {
    for op in ops {
        if let Op::Stage { temp, .. } = op {
            if let Ok(t) = inside(root, temp) {
                let _ = fs::remove_file(t);
            }
        }
    }
    for op in ops.iter().rev() {
        if let Op::Mkdir { rel, .. } = op {
            if let Ok(d) = inside(root, rel) {
                let _ = fs::remove_dir(d);
            }
        }
    }
    let _ = fs::remove_dir_all(root.plain(JOURNAL_DIR));
}

/// Completes a committed transaction: renames, removals, database files, post and trigger
/// scripts, then deletes the journal. Returns the number of failed scripts.
pub(super) fn roll_forward(root: &Root, ops: &[Op], opts: ApplyOptions) -> Result<usize, TxError> {
    for op in ops {
        if let Op::Stage { temp, target } = op {
            let t = inside(root, temp)?;
            if fs::symlink_metadata(&t).is_ok() {
                fs::rename(&t, inside(root, target)?).map_err(io(target))?;
            }
        }
    }
    crash_point("renamed");
    for op in ops {
        match op {
            Op::Remove { rel } => {
                let _ = fs::remove_file(inside(root, rel)?);
            }
            Op::Rmdir { rel } => {
                let _ = fs::remove_dir(inside(root, rel)?);
            }
            _ => {}
        }
    }
    let jdir = root.plain(JOURNAL_DIR);
    for (name, dest) in [
        ("scripts.tar.new", db::SCRIPTS),
        ("triggers.new", db::TRIGGERS),
        ("world.new", db::WORLD),
        ("installed.new", db::INSTALLED),
    ] {
        let from = jdir.join(name);
        if from.exists() {
            let to = root.plain(dest);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io(dest))?;
            }
            fs::rename(&from, &to).map_err(io(dest))?;
        }
    }
    fsroot::sync_fs(root.path()).map_err(io("syncing the file system"))?;
    let mut errors = 0;
    if !opts.no_scripts {
        for op in ops {
            if let Op::Post {
                id,
                kind,
                file,
                args,
            } = op
            {
                let body = fs::read(jdir.join(file)).unwrap_or_default();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if let Outcome::Failed(_) = run_script(root, id, kind, &body, &args, opts.quiet) {
                    errors += 1;
                }
            }
        }
    }
    fs::remove_dir_all(&jdir).map_err(io("removing the journal"))?;
    Ok(errors)
}

/// What [`repair`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Repair {
    /// No interrupted transaction.
    Clean,
    /// An interrupted transaction was undone (it had not reached its commit point).
    RolledBack,
    /// An interrupted transaction was completed.
    Completed,
}

/// Is an interrupted transaction pending in this root?
pub fn pending(root: &Root) -> bool {
    root.plain(JOURNAL_DIR).exists()
}

/// Undoes or completes an interrupted transaction (`apk fix`).
pub fn repair(root: &Root, opts: ApplyOptions) -> Result<(Repair, usize), TxError> {
    let jdir = root.plain(JOURNAL_DIR);
    if !jdir.exists() {
        return Ok((Repair::Clean, 0));
    }
    let plan = match fs::read_to_string(jdir.join("plan")) {
        Ok(t) => t,
        // The journal folder exists but its plan was never written: nothing was staged.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::remove_dir_all(&jdir).map_err(io("removing the journal"))?;
            return Ok((Repair::RolledBack, 0));
        }
        // Written but not text (or not readable): nobody knows what it had done; keep it.
        Err(e) => {
            return Err(TxError::Io(format!(
                "{}: unreadable journal ({e}); remove it by hand after checking the root",
                jdir.display()
            )))
        }
    };
    let Some((state, ops)) = parse_plan(&plan) else {
        return Err(TxError::Io(format!(
            "{}: unreadable journal; remove it by hand after checking the root",
            jdir.display()
        )));
    };
    if state == "commit" {
        let errors = roll_forward(root, &ops, opts)?;
        Ok((Repair::Completed, errors))
    } else {
        roll_back(root, &ops);
        Ok((Repair::RolledBack, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_text_round_trips() {
        let ops = vec![
            Op::Mkdir {
                rel: "usr".into(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            Op::Stage {
                temp: "usr/.apk.x".into(),
                target: "usr/x".into(),
            },
            Op::Remove { rel: "old".into() },
            Op::Rmdir {
                rel: "olddir".into(),
            },
            Op::Post {
                id: "a-1".into(),
                kind: "trigger".into(),
                file: "a-1.trigger".into(),
                args: vec!["/usr".into(), "/bin".into()],
            },
        ];
        let text = format_plan("commit", &ops);
        let (state, again) = parse_plan(&text).unwrap();
        assert_eq!(state, "commit");
        assert_eq!(format_plan("commit", &again), text);
        assert!(parse_plan("garbage").is_none());
    }
}
