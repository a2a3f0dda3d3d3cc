//! The `tinibox` binary: restores default signal dispositions, parses the command line and
//! hands over to [`tinibox::cli`]. Built with the `apk` feature it is also TiniLinux's package
//! manager: started under the name `apk` (argv[0]'s file name, as BusyBox picks its applets),
//! it runs `apk::cli` instead.
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
    #[cfg(feature = "apk")]
    if invoked_as_apk() {
        let code = apk::cli::main(std::env::args_os());
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    tinibox::cli::main()
}

/// True when argv[0]'s file name is `apk` (`/sbin/apk` → tinibox, or `apk` on PATH).
#[cfg(feature = "apk")]
fn invoked_as_apk() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .is_some_and(|p| p.file_name() == Some(std::ffi::OsStr::new("apk")))
}
