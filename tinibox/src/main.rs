//! The `tinibox` binary: restores default signal dispositions, parses the command line and
//! hands over to [`tinibox::cli`].

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE; restore the default so `tinibox ps | head` ends quietly and the
    // container processes tinibox starts do not inherit an ignored SIGPIPE.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tinibox::cli::main()
}
