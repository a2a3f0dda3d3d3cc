//! Running package scripts (`.pre-install`, `.post-install`, `.pre-upgrade`,
//! `.post-upgrade`, `.pre-deinstall`, `.post-deinstall`) as apk-tools does: the script is
//! written to `/var/cache/misc/NAME-VERSION.TYPE` inside the root and run by `/bin/sh` of the
//! root, chrooted into the root (not chrooted when the root is `/`), in `/`, with
//! `PATH=/usr/sbin:/usr/bin:/sbin:/bin`, the new version (and for upgrades the old version)
//! as arguments. Output goes to our stdout/stderr.
//!
//! When the root is not `/` and we are not root (chroot needs CAP_SYS_CHROOT), or the root
//! has no `/bin/sh` yet, the script is not run: [`Outcome::Skipped`] says why, and the
//! caller prints a warning (not an error, as apk-tools does for a root without a shell).

use crate::fsroot::Root;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// What happened to a script.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Ran and exited 0.
    Ok,
    /// Ran and failed (exit status or signal described).
    Failed(String),
    /// Not run, with the reason.
    Skipped(String),
}

/// Runs one script. `id` is `NAME-VERSION`, `kind` e.g. `post-install`, `args` the version
/// arguments.
pub fn run(root: &Root, id: &str, kind: &str, body: &[u8], args: &[&str]) -> Outcome {
    let chroot = !root.is_system_root();
    // SAFETY: geteuid has no preconditions.
    if chroot && unsafe { libc::geteuid() } != 0 {
        return Outcome::Skipped("not running as root, so cannot chroot into the root".into());
    }
    match root.resolve("bin/sh", true) {
        Ok((host, _)) if host.exists() => {}
        _ => return Outcome::Skipped("the root has no /bin/sh".into()),
    }
    let dir = root.plain("var/cache/misc");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Outcome::Failed(format!("cannot create {}: {e}", dir.display()));
    }
    let name = format!("{id}.{kind}");
    let host_path = dir.join(&name);
    if let Err(e) = std::fs::write(&host_path, body)
        .and_then(|_| std::fs::set_permissions(&host_path, std::fs::Permissions::from_mode(0o755)))
    {
        return Outcome::Failed(format!("cannot write {}: {e}", host_path.display()));
    }
    let inner = format!("/var/cache/misc/{name}");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(&inner)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("APK_SCRIPT", kind)
        .current_dir("/");
    if chroot {
        let root_path = root.path().to_path_buf();
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // async-signal-safe functions (chroot, chdir).
        unsafe {
            cmd.pre_exec(move || {
                std::os::unix::fs::chroot(&root_path)?;
                std::env::set_current_dir("/")?;
                Ok(())
            });
        }
    }
    let status = cmd.status();
    let _ = std::fs::remove_file(&host_path);
    match status {
        Ok(s) if s.success() => Outcome::Ok,
        Ok(s) => Outcome::Failed(match s.code() {
            Some(c) => format!("script exited with error {c}"),
            None => format!("script killed ({s})"),
        }),
        Err(e) => Outcome::Failed(format!("cannot run /bin/sh: {e}")),
    }
}
