//! The `tinibox` binary: restores default signal dispositions, parses the command line and
//! hands over to [`tinibox::cli`].
//!
//! On musl (the static build TiniLinux ships) the global allocator is dlmalloc (the Rust port
//! of Doug Lea's allocator) instead of musl's own malloc: measured with hyperfine on
//! `tinibox run --rm ROOTFS /bin/true` (BENCHMARKS.md, "Footprint"), musl's malloc cost
//! about 0.5 ms of CPU time per run more than glibc's, dlmalloc none, for 13 KB of binary.

/// The allocator of the static musl build (see the module doc).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE; restore the default so `tinibox ps | head` ends quietly and the
    // container processes tinibox starts do not inherit an ignored SIGPIPE.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tinibox::cli::main()
}
