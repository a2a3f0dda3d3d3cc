#!/usr/bin/env bash
# The main job: installs what it needs, builds TiniLinux (ISO, disk image, rootfs tarball, OCI
# image), then shows each output working: a container from the OCI image on this host, the
# image read by skopeo, the rootfs imported and run by a real Docker engine, and the ISO booted
# under QEMU (SeaBIOS and OVMF) running containers inside.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-deps.sh
cargo build --release --workspace
./target/release/distro-build all

echo
echo "== outputs"
ls -l out/tinilinux.iso out/tinilinux-disk.img out/tinilinux-rootfs.tar out/tinilinux-oci.tar

echo
echo "== the OCI image, as skopeo reads it"
skopeo inspect --config oci:out/oci:latest | head -n 20

echo
echo "== tinibox on this host: load the OCI archive into a scratch store and run it"
store=$(mktemp -d /var/tmp/tinilinux-demo-store.XXXXXX)
trap 'rm -rf "$store"' EXIT
./target/release/tinibox --store "$store" load out/tinilinux-oci.tar
./target/release/tinibox --store "$store" images
./target/release/tinibox --store "$store" run --rm --hostname demo tinilinux \
  sh -c 'echo "inside: hostname=$(hostname) pid=$$"; head -n 3 /etc/motd'
./target/release/tinibox --store "$store" rmi tinilinux

echo
echo "== a real Docker engine imports the rootfs tarball; the ISO boots and runs containers"
cargo test --release -p tinilinux-tests \
  --test images docker_imports_and_loads_the_exported_rootfs \
  -- --nocapture
cargo test --release -p tinilinux-tests --test boot -- --nocapture --test-threads=1

echo
echo "Done. Boot it yourself with: ./target/release/distro-build run   (add --uefi for OVMF)"
