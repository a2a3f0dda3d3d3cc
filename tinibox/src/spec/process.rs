//! `exec`'s flags → the OCI [`Process`] to run in a running container: the container's own
//! process with the command line's overrides (args, terminal, env, cwd, user, groups,
//! capabilities, no_new_privs). Capability names go through [`values::parse_capability`],
//! the same translation as `run`'s `--cap-add`/`--cap-drop`; env entries are merged with
//! [`super::build::merge_env`].
//!
//! Docker's form (`exec -u alice`, `-w DIR`, `--privileged`) resolves user names through the
//! container's /etc/passwd and /etc/group, whose text the caller reads from the running
//! container's root ([`ExecFlags::passwd`], [`ExecFlags::group`]); runc's numeric
//! `uid[:gid]` is taken as given.
//!
//! Pure: must not read files (`--process FILE` and the container's /etc files are read by
//! the caller).

use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, Process, UserBuilder};

use super::build::merge_env;
use super::{defaults, values, SpecError};

/// The overrides `exec` takes on its command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecFlags {
    /// The command and its arguments (not empty).
    pub args: Vec<String>,
    /// `-t`: a terminal.
    pub tty: bool,
    /// `-e KEY=VALUE`, replacing the container's value of KEY.
    pub env: Vec<String>,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `-u UID[:GID]` (numbers), or with [`ExecFlags::names`] Docker's `USER[:GROUP]`.
    pub user: Option<String>,
    /// Docker's form: `--user` may hold names, resolved in [`ExecFlags::passwd`] and
    /// [`ExecFlags::group`] (a bare uid takes its passwd entry's group and groups).
    pub names: bool,
    /// The container's /etc/passwd text (used with [`ExecFlags::names`]).
    pub passwd: String,
    /// The container's /etc/group text (used with [`ExecFlags::names`]).
    pub group: String,
    /// `-g GID`, repeatable.
    pub additional_gids: Vec<u32>,
    /// `-c CAP`, repeatable: added to every capability set (`ALL`: every capability).
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
}

/// The exec'd process's user as runc's `exec` makes it: the container process's user with
/// `--user UID[:GID]` changing only what it names (the uid; the gid when given) and
/// `--additional-gids` appended to the container's supplementary groups.
fn exec_user(
    base: &oci_spec::runtime::User,
    value: Option<&str>,
    additional_gids: &[u32],
) -> Result<oci_spec::runtime::User, SpecError> {
    let mut user = base.clone();
    if let Some(value) = value {
        let bad = || {
            SpecError::flag(
                "--user",
                format!("{value:?} is not numeric"),
                "give a numeric uid[:gid]",
            )
        };
        let (uid, gid) = match value.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (value, None),
        };
        user.set_uid(uid.parse().map_err(|_| bad())?);
        if let Some(gid) = gid {
            user.set_gid(gid.parse().map_err(|_| bad())?);
        }
    }
    if !additional_gids.is_empty() {
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        gids.extend_from_slice(additional_gids);
        user.set_additional_gids(Some(gids));
    }
    Ok(user)
}

/// The process of `exec`: `base` (the container's process) with the overrides of `f`.
pub fn exec_process(base: &Process, f: &ExecFlags) -> Result<Process, SpecError> {
    if f.args.is_empty() {
        return Err(SpecError::Invalid(
            "no command given — use `tinibox exec ID COMMAND [ARG...]` or --process FILE".into(),
        ));
    }
    let mut p = base.clone();
    p.set_args(Some(f.args.clone()));
    p.set_terminal(Some(f.tty));
    p.set_env(Some(merge_env(&[
        p.env().clone().unwrap_or_default(),
        f.env.clone(),
    ])));
    if let Some(c) = &f.cwd {
        p.set_cwd(c.clone());
    }
    // A numeric UID:GID is taken as given in both forms (runc's meaning); names and a bare
    // uid are looked up in Docker's form.
    let numeric_pair = |u: &str| {
        u.split_once(':')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    };
    if let Some(u) = f.user.as_deref().filter(|u| f.names && !numeric_pair(u)) {
        let r = super::user::resolve(&f.passwd, &f.group, u)?;
        // Docker lists the primary group among the supplementary ones too (resolve does).
        let mut gids = r.additional_gids;
        gids.extend(f.additional_gids.iter().copied());
        let mut b = UserBuilder::default().uid(r.uid).gid(r.gid);
        if !gids.is_empty() {
            b = b.additional_gids(gids);
        }
        p.set_user(b.build()?);
        if let Some(home) = r.home {
            let env = p.env().clone().unwrap_or_default();
            if f.env.iter().all(|e| !e.starts_with("HOME=")) {
                p.set_env(Some(merge_env(&[env, vec![format!("HOME={home}")]])));
            }
        }
    } else {
        p.set_user(exec_user(p.user(), f.user.as_deref(), &f.additional_gids)?);
    }
    if !f.caps.is_empty() {
        let mut add = Capabilities::new();
        for name in &f.caps {
            match values::parse_capability("--cap", name)? {
                Some(c) => {
                    add.insert(c);
                }
                None => add.extend(defaults::all_capabilities()),
            }
        }
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let with = |set: &Option<Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(add.iter().copied());
            Some(s)
        };
        caps.set_bounding(with(caps.bounding()));
        caps.set_effective(with(caps.effective()));
        caps.set_permitted(with(caps.permitted()));
        caps.set_ambient(with(caps.ambient()));
        p.set_capabilities(Some(caps));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability;

    #[test]
    fn overrides() {
        let base = defaults::default_spec().unwrap().process().clone().unwrap();
        let p = exec_process(
            &base,
            &ExecFlags {
                args: vec!["id".into()],
                env: vec!["PATH=/x".into(), "A=1".into()],
                user: Some("1000:10".into()),
                additional_gids: vec![5],
                caps: vec!["net_admin".into()],
                no_new_privs: true,
                ..Default::default()
            },
        )
        .unwrap();
        let env = p.env().clone().unwrap();
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert!(env.contains(&"PATH=/x".to_string()) && env.contains(&"A=1".to_string()));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 10));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5][..]));
        let caps = p.capabilities().clone().unwrap();
        assert!(caps
            .ambient()
            .as_ref()
            .unwrap()
            .contains(&Capability::NetAdmin));
        assert!(caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::Chown));
        assert_eq!(p.no_new_privileges(), Some(true));
        let bad = |f: ExecFlags| exec_process(&base, &f).unwrap_err().to_string();
        let args = vec!["id".to_string()];
        assert!(bad(ExecFlags {
            args: args.clone(),
            caps: vec!["FLY".into()],
            ..Default::default()
        })
        .starts_with("--cap:"));
        assert!(bad(ExecFlags {
            args,
            user: Some("alice".into()),
            ..Default::default()
        })
        .starts_with("--user:"));
        assert!(bad(ExecFlags::default()).contains("no command"));
    }

    /// Issue 15 item 3: exec starts from the container's user and changes only what was asked
    /// (runc: uid, gid when given, additional gids appended).
    #[test]
    fn exec_user_changes_only_what_was_asked() {
        let mut base = defaults::default_spec().unwrap().process().clone().unwrap();
        let mut user = base.user().clone();
        user.set_additional_gids(Some(vec![10]));
        base.set_user(user);
        let with = |user: Option<&str>, gids: Vec<u32>| {
            let p = exec_process(
                &base,
                &ExecFlags {
                    args: vec!["id".into()],
                    user: user.map(str::to_string),
                    additional_gids: gids,
                    ..Default::default()
                },
            )
            .unwrap();
            let u = p.user();
            (
                u.uid(),
                u.gid(),
                u.additional_gids().clone().unwrap_or_default(),
            )
        };
        assert_eq!(with(Some("1000:1000"), vec![]), (1000, 1000, vec![10]));
        assert_eq!(with(Some("1000"), vec![]), (1000, 0, vec![10]));
        assert_eq!(
            with(Some("1000:1000"), vec![2000]),
            (1000, 1000, vec![10, 2000])
        );
        assert_eq!(with(None, vec![2000]), (0, 0, vec![10, 2000]));
    }

    #[test]
    fn docker_form_resolves_names() {
        let base = defaults::default_spec().unwrap().process().clone().unwrap();
        let f = |user: &str| ExecFlags {
            args: vec!["id".into()],
            user: Some(user.into()),
            names: true,
            passwd: "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n".into(),
            group: "alice:x:1000:\nwheel:x:10:alice\n".into(),
            ..Default::default()
        };
        let p = exec_process(&base, &f("alice")).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[1000, 10][..]));
        assert!(p
            .env()
            .as_ref()
            .unwrap()
            .contains(&"HOME=/home/alice".to_string()));
        let p = exec_process(&base, &f("alice:wheel")).unwrap();
        assert_eq!(p.user().gid(), 10);
        let e = exec_process(&base, &f("mallory")).unwrap_err().to_string();
        assert!(e.contains("unknown user"), "{e}");
    }
}
