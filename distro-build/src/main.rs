//! The `distro-build` binary. Placeholder until the distro-build stages land.

fn main() {
    eprintln!("distro-build: not built yet");
    std::process::exit(2);
}
