#!/usr/bin/env bash
# Initramfs compression sizes (BENCHMARKS.md, "Initramfs compression"): the ISO's initramfs
# is unpacked to its plain cpio archive, which is then compressed the three ways the kernel
# and distro-build support — gzip -9, zstd -19 and xz -9e (CRC32 check, as the kernel's xz
# decompressor requires) — and the sizes are printed in bytes and MB (10^6 B).
#
# Usage: bench/initramfs-compression.sh [ISO]   (default out/tinilinux.iso; run
# `distro-build all` first; needs xorriso, zstd, gzip, xz)
set -euo pipefail
cd "$(dirname "$0")/.."
iso=${1:-out/tinilinux.iso}
[ -f "$iso" ] || { echo "$iso missing: run ./target/release/distro-build all" >&2; exit 1; }
for t in xorriso zstd gzip xz; do
  command -v "$t" >/dev/null || { echo "$t missing: run scripts/install-deps.sh" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xorriso -osirrox on -indev "$iso" -extract /boot/initramfs.img "$work/initramfs.img" >/dev/null 2>&1
# Whichever compression the ISO used, get the plain cpio back.
case "$(head -c 4 "$work/initramfs.img" | od -An -tx1 | tr -d ' ')" in
  28b52ffd) zstd -dc "$work/initramfs.img" >"$work/initramfs.cpio" ;;
  1f8b*) gzip -dc "$work/initramfs.img" >"$work/initramfs.cpio" ;;
  fd377a58) xz -dc "$work/initramfs.img" >"$work/initramfs.cpio" ;;
  *) cp "$work/initramfs.img" "$work/initramfs.cpio" ;;
esac
size() { stat -c %s "$1"; }
row() { printf '%-28s %10d B  %6.2f MB\n' "$1" "$2" "$(echo "$2" | awk '{print $1/1e6}')"; }
row "cpio (uncompressed)" "$(size "$work/initramfs.cpio")"
row "gzip -9" "$(gzip -9 -c "$work/initramfs.cpio" | wc -c)"
row "zstd -19" "$(zstd -19 -q -c "$work/initramfs.cpio" | wc -c)"
row "xz -9e --check=crc32" "$(xz -9e --check=crc32 -c "$work/initramfs.cpio" | wc -c)"
row "as shipped in $iso" "$(size "$work/initramfs.img")"
