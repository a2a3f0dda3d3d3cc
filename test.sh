#!/usr/bin/env bash
# Runs every test: installs what it needs, checks style, builds, builds the distro outputs the
# end-to-end tests boot and load, then runs the whole test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo deny check licenses
cargo build --release --workspace
./target/release/distro-build all
# The arm64 outputs (out/arm64/, and the arm64 image in out/oci/'s index) for tests/tests/arm64.rs:
# a second kernel (cached by its inputs like the first), BusyBox and tinibox cross-built.
./target/release/distro-build --arch arm64 all
cargo test --workspace --release
