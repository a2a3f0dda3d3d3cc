//! Process attributes applied by the init (and reusable by `exec`): hostname, sysctls,
//! rlimits, oom_score_adj, session keyring, user and groups, the five capability sets,
//! no_new_privs, and finding the command on the container's PATH. Owns these calls only; the
//! order they run in is [`super::init`]'s.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimitType, Process};

/// The default PATH when the spec's env has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Sets hostname (and domainname) in the container's UTS namespace.
pub fn set_hostname(host: Option<&str>, domain: Option<&str>) -> Result<(), String> {
    if let Some(h) = host {
        nix::unistd::sethostname(h).map_err(|e| format!("set hostname {h:?}: {e}"))?;
    }
    if let Some(d) = domain {
        // SAFETY: pointer and length of a live buffer.
        if unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) } != 0 {
            return Err(format!(
                "set domainname {d:?}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Writes `linux.sysctl` into the container's /proc/sys (after pivot, before /proc/sys is
/// made read-only).
pub fn apply_sysctl<'a>(
    items: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<(), String> {
    for (k, v) in items {
        if k.contains('/') || k.contains("..") {
            return Err(format!("linux.sysctl: bad key {k:?}"));
        }
        let p = Path::new("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&p, v).map_err(|e| format!("linux.sysctl {k}={v}: {e}"))?;
    }
    Ok(())
}

/// The type `setrlimit` takes its resource as: an unsigned enum in glibc, an `int` in musl.
#[cfg(target_env = "gnu")]
type RlimitResource = libc::__rlimit_resource_t;
/// The type `setrlimit` takes its resource as: an unsigned enum in glibc, an `int` in musl.
#[cfg(not(target_env = "gnu"))]
type RlimitResource = libc::c_int;

fn rlimit_resource(t: PosixRlimitType) -> RlimitResource {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// The name config.json gives the rlimit type: `RLIMIT_NOFILE`, ….
fn rlimit_name(t: PosixRlimitType) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{t:?}"),
    }
}

/// Checks process.rlimits before anything is made: each type at most once (runtime-spec
/// config.md, "POSIX process": duplicated entries MUST be an error) and soft ≤ hard (what
/// setrlimit(2) refuses with EINVAL). Errors name the entry in config.json's words.
pub fn check_rlimits(p: &Process) -> Result<(), String> {
    let rlimits = p.rlimits().as_deref().unwrap_or_default();
    for (i, r) in rlimits.iter().enumerate() {
        let name = rlimit_name(r.typ());
        if rlimits[..i].iter().any(|o| o.typ() == r.typ()) {
            return Err(format!(
                "process.rlimits: {name} is given twice: keep one entry per type"
            ));
        }
        if r.soft() > r.hard() {
            return Err(format!(
                "process.rlimits: {name} soft {} is above hard {}: give soft <= hard",
                r.soft(),
                r.hard()
            ));
        }
    }
    Ok(())
}

/// Applies process.rlimits.
pub fn apply_rlimits(p: &Process) -> Result<(), String> {
    for r in p.rlimits().iter().flatten() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: valid rlimit struct.
        if unsafe { libc::setrlimit(rlimit_resource(r.typ()), &lim) } != 0 {
            return Err(format!(
                "process.rlimits {} soft={} hard={}: {}",
                rlimit_name(r.typ()),
                r.soft(),
                r.hard(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Writes process.oomScoreAdj.
pub fn apply_oom_score_adj(p: &Process) -> Result<(), String> {
    if let Some(adj) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("process.oomScoreAdj {adj}: {e}"))?;
    }
    Ok(())
}

/// Joins a new session keyring named after the container (so containers do not share keys).
pub fn new_session_keyring(id: &str) -> Result<(), String> {
    let name = CString::new(format!("_ses.{id}")).map_err(|_| "keyring name".to_string())?;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, 1 as libc::c_long, name.as_ptr()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        // No keyring support in this kernel: nothing to isolate.
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(format!("create session keyring: {e}"));
        }
    }
    Ok(())
}

/// OCI capability set → caps crate set; unknown names are an error naming them.
fn to_caps(
    set: Option<&HashSet<oci_spec::runtime::Capability>>,
) -> Result<HashSet<Capability>, String> {
    let mut out = HashSet::new();
    for c in set.into_iter().flatten() {
        let name = format!("CAP_{c}");
        let cap: Capability = name
            .parse()
            .map_err(|_| format!("process.capabilities: unknown capability {name}"))?;
        out.insert(cap);
    }
    Ok(out)
}

/// Capability sets resolved against what this kernel knows.
#[derive(Debug, Clone, Default)]
pub struct CapSets {
    bounding: HashSet<Capability>,
    effective: HashSet<Capability>,
    permitted: HashSet<Capability>,
    inheritable: HashSet<Capability>,
    ambient: HashSet<Capability>,
}

/// Reads process.capabilities (absent = no capabilities at all, like runc).
pub fn cap_sets(c: Option<&LinuxCapabilities>) -> Result<CapSets, String> {
    let Some(c) = c else {
        return Ok(CapSets::default());
    };
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    let f = |s: &Option<HashSet<oci_spec::runtime::Capability>>| -> Result<HashSet<Capability>, String> {
        Ok(to_caps(s.as_ref())?.intersection(&known).copied().collect())
    };
    Ok(CapSets {
        bounding: f(c.bounding())?,
        effective: f(c.effective())?,
        permitted: f(c.permitted())?,
        inheritable: f(c.inheritable())?,
        ambient: f(c.ambient())?,
    })
}

/// Drops the bounding set to `sets.bounding` (needs CAP_SETPCAP: call while still root).
pub fn drop_bounding(sets: &CapSets) -> Result<(), String> {
    let current =
        caps::read(None, CapSet::Bounding).map_err(|e| format!("read bounding set: {e}"))?;
    for c in current.difference(&sets.bounding) {
        caps::drop(None, CapSet::Bounding, *c)
            .map_err(|e| format!("drop {c} from the bounding set: {e}"))?;
    }
    Ok(())
}

/// Switches to process.user (groups, gid, uid), keeping the permitted capabilities across
/// the uid change so [`set_caps`] can then set the final sets.
pub fn set_user(p: &Process, in_userns_without_setgroups: bool) -> Result<(), String> {
    let u = p.user();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    if !in_userns_without_setgroups {
        let groups: Vec<nix::unistd::Gid> = u
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups)
            .map_err(|e| format!("process.user.additionalGids: setgroups: {e}"))?;
    }
    let gid = nix::unistd::Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| format!("process.user.gid {}: {e}", u.gid()))?;
    let uid = nix::unistd::Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| format!("process.user.uid {}: {e}", u.uid()))?;
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    if let Some(mask) = u.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    } else {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    }
    Ok(())
}

/// Sets effective, permitted, inheritable and ambient sets (after [`set_user`]).
pub fn set_caps(sets: &CapSets) -> Result<(), String> {
    let eff: HashSet<Capability> = sets
        .effective
        .intersection(&sets.permitted)
        .copied()
        .collect();
    caps::set(None, CapSet::Effective, &eff)
        .map_err(|e| format!("set effective capabilities: {e}"))?;
    caps::set(None, CapSet::Permitted, &sets.permitted)
        .map_err(|e| format!("set permitted capabilities: {e}"))?;
    caps::set(None, CapSet::Inheritable, &sets.inheritable)
        .map_err(|e| format!("set inheritable capabilities: {e}"))?;
    caps::set(None, CapSet::Effective, &eff)
        .map_err(|e| format!("set effective capabilities: {e}"))?;
    if !sets.ambient.is_empty() {
        for c in &sets.ambient {
            if sets.permitted.contains(c) && sets.inheritable.contains(c) {
                caps::raise(None, CapSet::Ambient, *c)
                    .map_err(|e| format!("raise ambient {c}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Sets no_new_privs.
pub fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "set no_new_privs: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Why a command cannot run: 127 (not found) or 126 (not executable), with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    /// 127 or 126.
    pub code: i32,
    /// Why.
    pub reason: String,
}

/// Finds `cmd` like execvp does, in the current root, with PATH from `env`.
pub fn find_command(cmd: &str, env: &[String]) -> Result<PathBuf, LookupError> {
    let check = |p: &Path| -> Result<(), LookupError> {
        let meta = std::fs::metadata(p).map_err(|e| LookupError {
            code: if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            },
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            return Err(LookupError {
                code: 126,
                reason: "is a directory".into(),
            });
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(LookupError {
                code: 126,
                reason: "permission denied (not executable)".into(),
            });
        }
        Ok(())
    };
    if cmd.is_empty() {
        return Err(LookupError {
            code: 127,
            reason: "empty command".into(),
        });
    }
    if cmd.contains('/') {
        check(Path::new(cmd))?;
        return Ok(PathBuf::from(cmd));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut first_err = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(cmd);
        match check(&cand) {
            Ok(()) => return Ok(cand),
            Err(e) if e.code == 126 && first_err.is_none() => first_err = Some(e),
            Err(_) => {}
        }
    }
    Err(first_err.unwrap_or_else(|| LookupError {
        code: 127,
        reason: format!("no such file in any folder of PATH={path}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lookup() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_command("sh", &env).unwrap().ends_with("sh"));
        assert_eq!(find_command("no-such-cmd-xyz", &env).unwrap_err().code, 127);
        assert_eq!(find_command("/etc", &env).unwrap_err().code, 126);
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            find_command(plain.to_str().unwrap(), &env)
                .unwrap_err()
                .code,
            126
        );
        assert_eq!(find_command("/nope/x", &env).unwrap_err().code, 127);
    }

    #[test]
    fn capability_names() {
        let oci: HashSet<oci_spec::runtime::Capability> =
            serde_json::from_str(r#"["CAP_CHOWN","CAP_NET_BIND_SERVICE"]"#).unwrap();
        let c = to_caps(Some(&oci)).unwrap();
        assert!(
            c.contains(&Capability::CAP_CHOWN) && c.contains(&Capability::CAP_NET_BIND_SERVICE)
        );
    }

    #[test]
    fn rlimits_are_checked_in_config_json_words() {
        let process = |rlimits: serde_json::Value| -> Process {
            serde_json::from_value(
                serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": rlimits}),
            )
            .unwrap()
        };
        let ok = process(serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
            {"type": "RLIMIT_NPROC", "soft": 5, "hard": 5}
        ]));
        assert_eq!(check_rlimits(&ok), Ok(()));
        let twice = process(serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NOFILE", "soft": 30, "hard": 40}
        ]));
        assert_eq!(
            check_rlimits(&twice).unwrap_err(),
            "process.rlimits: RLIMIT_NOFILE is given twice: keep one entry per type"
        );
        let upside_down =
            process(serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 8}]));
        assert_eq!(
            check_rlimits(&upside_down).unwrap_err(),
            "process.rlimits: RLIMIT_NOFILE soft 9 is above hard 8: give soft <= hard"
        );
    }
}
