//! Leaving the store as it was when a long store operation (a pull, a push) is interrupted by
//! SIGINT, SIGTERM or SIGHUP.
//!
//! [`Guard::install`] blocks those three signals in the calling thread (threads it spawns
//! afterwards inherit the mask) and starts a watcher thread that takes them with
//! `sigtimedwait(2)`. When one arrives the watcher waits for any commit in progress
//! ([`critical`]: records and layers move into place as one step), removes every live
//! staging folder below the store's `tmp/` (`store::tempfile_dir`), and exits with 128 + the
//! signal number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, as Docker's client and
//! shells report). Dropping the guard stops the watcher and restores the thread's signal
//! mask, so a caller that goes on (`run` pulling its image) keeps its own signal handling.
//!
//! SIGKILL cannot be caught: `Store::open` removes staging folders whose process is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::store::tempfile_dir;

/// The signals that end an operation cleanly.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// How often the watcher looks whether its guard was dropped.
const POLL: Duration = Duration::from_millis(100);

static COMMIT: Mutex<()> = Mutex::new(());

/// Held while staged files move into the store and its records are written: an interruption
/// waits for it, so a commit is never cut in half.
pub fn critical() -> MutexGuard<'static, ()> {
    COMMIT.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// While alive, SIGINT/SIGTERM/SIGHUP remove the store's staging folders and exit (see the
/// module documentation).
pub struct Guard {
    old_mask: libc::sigset_t,
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
}

impl Guard {
    /// Blocks the signals in this thread and starts the watcher. Call before spawning the
    /// threads that work for the operation. If the watcher cannot start, the signals keep
    /// their old handling (and `Store::open` cleans up after the process is gone).
    pub fn install() -> Guard {
        let set = signal_set();
        // SAFETY: an all-zero sigset_t is a valid value for pthread_sigmask to overwrite.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid sigset_t values owned by this frame.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let watcher = std::thread::Builder::new()
            .name("tinibox-interrupt".into())
            .spawn(move || watch(set, &flag))
            .ok();
        if watcher.is_none() {
            // SAFETY: restores the mask saved above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
        }
        Guard {
            old_mask,
            stop,
            watcher,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = w.join();
            // SAFETY: restores the mask this guard saved; a signal still pending is then
            // delivered with the caller's own handling.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut())
            };
        }
    }
}

fn watch(set: libc::sigset_t, stop: &AtomicBool) {
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: POLL.as_nanos() as libc::c_long,
    };
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: `set` and `timeout` are valid for the call; no siginfo is asked for.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
        if sig > 0 {
            let _commit = critical();
            tempfile_dir::remove_all_live();
            std::process::exit(128 + sig);
        }
    }
}
