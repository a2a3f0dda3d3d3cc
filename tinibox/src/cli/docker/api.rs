//! The container operations that TiniLinux's services ([`crate::cli::service`]) reuse from the
//! docker front door, so a service runs on exactly the path `tinibox run -d` takes: run a
//! detached container, start a stopped one again under a new monitor, stop one with its
//! stop signal and timeout, remove one, and, once per boot, forget the processes the records
//! of an earlier boot name.
//!
//! Thin: each call is the same code the docker commands use (`front`, `detach`, `manage`).

use std::path::Path;

use super::detach::{spawn_monitor, Start};
use super::meta::Meta;
use super::names;
use super::{front, manage, RunArgs};
use crate::cli::GlobalOptions;
use crate::container::state::{DirLock, Record};
use crate::spec::RunFlags;

/// `tinibox run -d` with `flags` (which must ask for `-d`): the new container's id, or the
/// exit status and message `run` would give.
pub fn run_detached(
    global: &GlobalOptions,
    flags: RunFlags,
    image: &str,
    command: &[String],
) -> Result<String, (u8, String)> {
    #[allow(unused_mut)]
    let mut args = RunArgs {
        help: None,
        flags,
        #[cfg(feature = "registry")]
        pull: crate::cli::registry::PullPolicy::Missing,
        image: image.to_string(),
        command: command.to_vec(),
        create: false,
    };
    #[cfg(feature = "registry")]
    {
        args.image = crate::cli::registry::ensure_image(global, &args.image, args.pull)?;
    }
    let prepared = front::prepare(global, &args).map_err(|f| (f.code, f.message))?;
    spawn_monitor(global, Start::New(Box::new(prepared)), args.flags.tty)
}

/// Runs a stopped container `id` again under a fresh monitor (as `restart` does after its
/// stop), clearing "stopped by the user".
pub fn start_again(global: &GlobalOptions, id: &str) -> Result<(), String> {
    Meta::update(&global.root, id, |m| m.stopped_by_user = false);
    let tty = Record::load(&global.root, id)
        .ok()
        .and_then(|r| r.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    spawn_monitor(global, Start::Again(id.to_string()), tty)
        .map(|_| ())
        .map_err(|(_, message)| message)
}

/// Stops container `id` as `tinibox stop` does (its stop signal, then SIGKILL after its stop
/// timeout), marked as stopped by the user so its monitor does not restart it.
pub fn stop(global: &GlobalOptions, id: &str) -> Result<(), String> {
    manage::stop_one(global, id, None, true)
}

/// Removes container `id` (killing it first if it still runs), as `rm -f` does.
pub fn remove(global: &GlobalOptions, id: &str) -> Result<(), String> {
    front::remove(&global.root, id).map_err(|e| e.to_string())
}

/// Whether container `id`'s init runs (created, running or paused).
pub fn is_alive(root: &Path, id: &str) -> bool {
    front::is_alive(root, id)
}

/// File in a container's front folder: the system stopped it while it ran (`service down
/// --all` at shutdown, or the power went: [`forget_previous_boot`] found it running), not
/// the user, so `unless-stopped` and `on-failure` start it at the next boot.
pub const STOPPED_AT_SHUTDOWN: &str = "stopped-at-shutdown";

/// File in the state root holding the boot id (`/proc/sys/kernel/random/boot_id`) of the
/// boot that last ran [`forget_previous_boot`].
const BOOT_ID_FILE: &str = ".boot-id";

/// The state root kept on disk across a reboot names processes of the earlier boot, and a
/// pid (even with its start time) may belong to another process now. When the boot id
/// recorded in the state root differs from this boot's, every container's record gets pid 0
/// (stopped) and, when it has no exit status yet (power lost), 255 as Docker shows after a
/// daemon crash. Returns how many records were changed. The first run (no recorded boot id)
/// only records it.
pub fn forget_previous_boot(global: &GlobalOptions) -> Result<usize, String> {
    let now = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map_err(|e| format!("reading the boot id: {e}"))?;
    let now = now.trim();
    let file = global.root.join(BOOT_ID_FILE);
    let before = std::fs::read_to_string(&file).unwrap_or_default();
    let mut changed = 0;
    if !before.trim().is_empty() && before.trim() != now {
        for id in names::all_ids(&global.root) {
            let dir = crate::container::container_dir(&global.root, &id);
            let Ok(_lock) = DirLock::lock(&dir, &id) else {
                continue;
            };
            let Ok(mut r) = Record::load(&global.root, &id) else {
                continue;
            };
            if r.state.pid != 0 {
                r.state.pid = 0;
                r.save(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
                changed += 1;
            }
            // A container `create` made and nobody started stays `created`.
            let meta = Meta::load(&global.root, &id);
            if meta.started_at.is_some() && names::exit_status(&global.root, &id).is_none() {
                names::write_exit_status(&global.root, &id, 255);
                // It ran when the power went: the system stopped it, not the user.
                if !meta.stopped_by_user {
                    let _ = std::fs::write(
                        names::front_dir(&global.root, &id).join(STOPPED_AT_SHUTDOWN),
                        "",
                    );
                }
            }
            Meta::update(&global.root, &id, |m| m.restarting = false);
        }
    }
    std::fs::create_dir_all(&global.root)
        .and_then(|_| std::fs::write(&file, format!("{now}\n")))
        .map_err(|e| format!("writing {}: {e}", file.display()))?;
    Ok(changed)
}
