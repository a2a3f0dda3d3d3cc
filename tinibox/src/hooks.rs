//! OCI hooks (prestart, createRuntime, createContainer, startContainer, poststart, poststop):
//! each runs with its args and env, the container state JSON on stdin, and an optional timeout
//! after which it is killed. A leaf: owns running hooks and nothing else; when each kind runs
//! is decided by [`crate::container`] (runtime side) and [`crate::process::init`] (container
//! side).

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use oci_spec::runtime::Hook;

/// A hook failure, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    /// The hook's path.
    pub path: std::path::PathBuf,
    /// What happened.
    pub detail: String,
}

/// Runs `hooks` in order with `state_json` on stdin; stops at the first failure (prestart,
/// createRuntime, createContainer, startContainer: runtime-spec's config.md, "Hooks": their
/// failure is an error of the operation).
pub fn run_all(hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    for h in hooks {
        run_one(h, state_json)?;
    }
    Ok(())
}

/// Runs every hook of `hooks` in order with `state_json` on stdin, whatever the earlier ones
/// did, and prints one warning line on stderr per failure, naming `kind` (poststart and
/// poststop: the spec says a failure is logged and the remaining hooks and the lifecycle
/// continue). Returns the failures.
pub fn run_each_warning(hooks: &[Hook], state_json: &str, kind: &str) -> Vec<HookError> {
    let mut failed = Vec::new();
    for h in hooks {
        if let Err(e) = run_one(h, state_json) {
            eprintln!(
                "tinibox: warning: {kind} hook {}: {}",
                e.path.display(),
                e.detail
            );
            failed.push(e);
        }
    }
    failed
}

/// Writes the state to a hook's stdin from a thread of its own, with SIGPIPE blocked in that
/// thread: a hook that exits without reading (its pipe full or closed) gives EPIPE there,
/// never a SIGPIPE that kills tinibox (whose SIGPIPE is at its default), and a hook that
/// never reads cannot hold the timeout up. A SIGPIPE left pending on the thread dies with it.
fn feed_stdin(
    mut stdin: std::process::ChildStdin,
    state_json: &str,
) -> std::thread::JoinHandle<()> {
    let bytes = state_json.as_bytes().to_vec();
    std::thread::spawn(move || {
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGPIPE);
        if nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_BLOCK,
            Some(&set),
            None,
        )
        .is_ok()
        {
            let _ = stdin.write_all(&bytes);
        }
    })
}

fn run_one(h: &Hook, state_json: &str) -> Result<(), HookError> {
    let err = |d: String| HookError {
        path: h.path().clone(),
        detail: d,
    };
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some(a0) = args.first() {
            cmd.arg0(a0);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| err(format!("cannot run: {e}")))?;
    // A hook that does not read its stdin is fine (EPIPE in the feeding thread).
    // Not joined: a process the hook left behind may hold its stdin unread.
    let _feeder = child
        .stdin
        .take()
        .map(|stdin| feed_stdin(stdin, state_json));
    wait_hook(h, &mut child, &err)
}

fn wait_hook(
    h: &Hook,
    child: &mut std::process::Child,
    err: &dyn Fn(String) -> HookError,
) -> Result<(), HookError> {
    if let Some(t) = h.timeout() {
        if t <= 0 {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!("timeout {t} must be positive")));
        }
        if !crate::linux::pidfd::wait_exit(child.id() as i32, t as i32 * 1000) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!("timed out after {t}s")));
        }
    }
    let st = child.wait().map_err(|e| err(format!("wait: {e}")))?;
    if st.success() {
        Ok(())
    } else if let Some(sig) = st.signal() {
        Err(err(format!("killed by signal {sig}")))
    } else {
        Err(err(format!(
            "exited with status {}",
            st.code().unwrap_or(-1)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hooks_get_state_on_stdin_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {} && echo $X >> {}"],"env":["X=hello"]}}"#,
            out.display(),
            out.display()
        ));
        run_all(&[h], "{\"id\":\"c1\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"c1\"}hello\n"
        );
    }

    #[test]
    fn failing_and_slow_hooks_are_errors() {
        let e = run_all(&[hook(r#"{"path":"/bin/false"}"#)], "{}").unwrap_err();
        assert!(e.detail.contains("status 1"), "{e:?}");
        let e = run_all(
            &[hook(
                r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#,
            )],
            "{}",
        )
        .unwrap_err();
        assert!(e.detail.contains("timed out"), "{e:?}");
        let e = run_all(&[hook(r#"{"path":"/nonexistent/hook"}"#)], "{}").unwrap_err();
        assert!(e.detail.contains("cannot run"), "{e:?}");
    }
}
