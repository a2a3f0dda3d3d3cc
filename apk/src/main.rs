//! The `apk` binary: TiniLinux's Alpine-compatible package manager. Everything is in the
//! library's [`apk::cli`]; this only hands it the command line and exits with its status.

fn main() {
    std::process::exit(apk::cli::main(std::env::args_os()));
}
