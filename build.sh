#!/usr/bin/env bash
# The main job: installs what it needs, builds TiniLinux (ISO, disk image, rootfs tarball, OCI
# image) and shows them working.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-deps.sh
cargo build --release --workspace
./target/release/distro-build all
