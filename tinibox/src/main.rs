//! The `tinibox` binary: parses the command line and hands over to [`tinibox::cli`].

fn main() -> std::process::ExitCode {
    tinibox::cli::main()
}
