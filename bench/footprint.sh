#!/usr/bin/env bash
# Where the ISO's bytes go (issue 13): a map of out/tinilinux.iso by component, of the
# initramfs and of the disk installer's payload, each entry with what it costs compressed.
#
#   ISO           every file on the ISO 9660 tree and the appended EFI system partition;
#                 free bytes left to the 8 MiB budget.
#   initramfs     for each component (tinibox, BusyBox, the image store, the rest) its raw size
#                 (hard links counted in full: the store repeats the rootfs's files as links),
#                 its size compressed alone (zstd -19), and its marginal cost: the compressed
#                 archive with it minus the one without it (what removing it would save; zstd
#                 matches across files, so "alone" overstates what a file really costs).
#                 Then the largest single files.
#   installer     the same for /boot/installer.cpio.xz (xz -9e, as distro-build makes it).
#
# Usage: bench/footprint.sh [ISO]   (default out/tinilinux.iso; run `distro-build all` first).
# Needs xorriso, cpio, zstd, xz. Runs as any user; reads only the ISO.
set -euo pipefail
cd "$(dirname "$0")/.."
ISO=${1:-out/tinilinux.iso}
[ -f "$ISO" ] || { echo "bench/footprint.sh: $ISO missing: run distro-build all" >&2; exit 1; }
for t in xorriso cpio zstd xz; do
  command -v "$t" >/dev/null || { echo "bench/footprint.sh: $t missing" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/tinilinux-footprint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BUDGET=$((8 * 1024 * 1024))

kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
row() { printf '%-44s %12s %14s %14s\n' "$@"; }

iso_size=$(stat -c %s "$ISO")
echo "# $ISO: $iso_size bytes ($(kib "$iso_size")); free to 8 MiB: $((BUDGET - iso_size)) bytes ($(kib $((BUDGET - iso_size))))"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), Linux $(uname -r)"
echo
echo "## ISO contents (bytes as stored; files are already compressed)"
row "item" "bytes" "" ""
xorriso -indev "$ISO" -find / -type f -exec lsdl 2>/dev/null |
  awk '{ print $5, $NF }' | sort -rn | while read -r bytes name; do
    row "${name//\'/}" "$bytes" "" ""
  done
esp=$(xorriso -indev "$ISO" -report_system_area plain 2>/dev/null |
  awk '/GPT start and size : +2 / { print $NF * 512 }')
[ -n "$esp" ] && row "(appended EFI system partition, FAT)" "$esp" "" ""

# Pull the two archives out of the ISO.
xorriso -osirrox on -indev "$ISO" -extract /boot "$WORK/boot" >/dev/null 2>&1
chmod -R u+w "$WORK/boot"
initramfs=$(find "$WORK/boot" -maxdepth 1 -name 'initramfs*' | head -1)
installer=$(find "$WORK/boot" -maxdepth 1 -name 'installer.cpio*' | head -1)

# unpack ARCHIVE DIR: decompress by magic number and unpack the cpio (no device nodes needed).
unpack() {
  mkdir -p "$2"
  case "$(od -An -tx1 -N4 "$1" | tr -d ' ')" in
    28b52ffd) zstd -dc "$1" ;;
    fd377a58) xz -dc "$1" ;;
    1f8b*) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac > "$2.cpio"
  (cd "$2" && cpio -id --quiet --no-absolute-filenames < "$2.cpio" 2>/dev/null || true)
}

# archive DIR EXCLUDE-REGEX COMPRESSOR: bytes of DIR re-archived (sorted names, newc) without
# the paths matching EXCLUDE-REGEX, compressed by COMPRESSOR.
archive() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | { if [ -n "$2" ]; then grep -Ev "$2"; else cat; fi; } |
    cpio -o -H newc --quiet | $3 | wc -c)
}

# component_table DIR COMPRESSOR NAME=REGEX...: the per-component table described above.
component_table() {
  local dir=$1 comp=$2
  shift 2
  local whole rest_re=""
  whole=$(archive "$dir" "" "$comp")
  row "component" "raw bytes" "alone" "marginal"
  for spec in "$@"; do
    local name=${spec%%=*} re=${spec#*=} raw alone without
    raw=$(cd "$dir" && find . -type f | grep -E "$re" | xargs -r du -cb | tail -1 | cut -f1)
    alone=$(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | grep -E "$re" | cpio -o -H newc --quiet | $comp | wc -c)
    without=$(archive "$dir" "$re" "$comp")
    row "$name" "${raw:-0}" "$alone" "$((whole - without))"
    rest_re="${rest_re:+$rest_re|}$re"
  done
  local rest_raw rest_alone
  rest_raw=$(cd "$dir" && find . -type f | grep -Ev "$rest_re" | xargs -r du -cb | tail -1 | cut -f1)
  rest_alone=$(archive "$dir" "$rest_re" "$comp")
  row "everything else" "${rest_raw:-0}" "$rest_alone" ""
  row "whole archive (re-packed here)" "$(du -sb --apparent-size "$dir" | cut -f1)" "$whole" ""
  echo
  echo "largest files (alone: that file compressed on its own):"
  (cd "$dir" && find . -type f -size +40k -printf '%s %P\n' | sort -rn | head -12) |
    while read -r bytes name; do
      row "  $name" "$bytes" "$($comp < "$dir/$name" | wc -c)" ""
    done
}

if [ -n "$initramfs" ]; then
  echo
  echo "## initramfs $(basename "$initramfs"): $(stat -c %s "$initramfs") bytes on the ISO"
  unpack "$initramfs" "$WORK/initramfs"
  component_table "$WORK/initramfs" "zstd -19 -q -c" \
    "tinibox (static; every copy)=/s?bin/tinibox$" \
    "BusyBox (static; every copy)=/s?bin/busybox$" \
    "tinibox image store (hard links to the rootfs's files)=^\./var/lib/tinibox/"
fi

if [ -n "$installer" ]; then
  echo
  echo "## installer payload $(basename "$installer"): $(stat -c %s "$installer") bytes on the ISO"
  unpack "$installer" "$WORK/installer"
  component_table "$WORK/installer" "xz -9e -T1 -c" \
    "GRUB images=grub|\.img$|\.efi$|EFI" \
    "glibc (libc, loader)=/(libc\.so|ld-linux)[^/]*$" \
    "other shared libraries=/lib([^c/]|c[^./])[^/]*\.so[^/]*$" \
    "sfdisk, mke2fs, e2fsck=/(sfdisk|mke2fs|e2fsck)$"
fi
