#!/usr/bin/env bash
# distro-build benchmarks: ISO size, guest time from kernel start to the "Welcome to TiniLinux"
# banner (the guest's /proc/uptime, printed by rcS) under QEMU TCG with SeaBIOS and OVMF,
# the no-op rebuild and the rebuild after a tinibox change. The reference, in the same run,
# is the guide's chapter-5 ISO: plain `grub-mkrescue` (all modules, fonts, locales, themes)
# over the same kernel and initramfs.
#
# Usage: bench/distro-build.sh [RUNS]   (run `distro-build all` first; needs hyperfine, qemu)
# Results are medians; paste them into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
db=./target/release/distro-build
iso=out/tinilinux.iso
[ -x "$db" ] || { echo "build it first: cargo build --release -p distro-build" >&2; exit 1; }
[ -f "$iso" ] || { echo "$iso missing: run $db all" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# The reference ISO: same boot/ folder, untrimmed grub-mkrescue (the guide's way).
xorriso -osirrox on -indev "$iso" -extract /boot "$work/root/boot" >/dev/null 2>&1
chmod -R u+w "$work/root"
# Without our own El Torito image and boot catalog: grub-mkrescue makes its own.
rm -f "$work/root/boot/grub/eltorito.img" "$work/root/boot/boot.cat"
grub-mkrescue -o "$work/reference.iso" "$work/root" >/dev/null 2>&1

# Boots $1 with firmware $2 (bios|uefi) and network card $3 (QEMU model, default e1000, QEMU's
# own default) and prints the guest uptime at the banner.
boot_once() {
  local medium=$1 fw=$2 nic=${3:-e1000} log="$work/boot.log" extra=()
  [ "$fw" = uefi ] && extra=(-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd")
  : > "$log"
  qemu-system-x86_64 -accel tcg -m 512 -smp 1 -display none -monitor none -serial stdio \
    -no-reboot -nic "user,model=$nic" -cdrom "$medium" "${extra[@]}" \
    < /dev/null > "$log" 2>&1 &
  local pid=$! waited=0
  until grep -aq "Welcome to TiniLinux" "$log"; do
    sleep 0.2; waited=$((waited + 1))
    if [ $waited -gt 300 ]; then
      kill "$pid"; wait "$pid" 2>/dev/null || true
      echo "no banner within 60 s; last console line: $(tail -c 300 "$log" | tr -d '\033' | tail -1)" >&2
      echo timeout; return 0
    fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  grep -a "Welcome to TiniLinux" "$log" | sed -n 's/.*booted in \([0-9.]*\) s.*/\1/p' | head -1
}

size() { stat -c %s "$1"; }
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r)"
echo "iso_bytes tinilinux=$(size "$iso") reference=$(size "$work/reference.iso")"
# Where the bytes go: the files on the ISO and the appended EFI system partition.
xorriso -indev "$iso" -find / -type f -exec lsdl 2>/dev/null | awk '{printf "iso_file %s %s\n", $NF, $5}'
xorriso -indev "$iso" -report_system_area plain 2>/dev/null | awk '/GPT start and size : +2 /{printf "iso_efi_partition_bytes %d\n", $NF*512}'
for fw in bios uefi; do
  for which in tinilinux reference; do
    medium=$iso; [ $which = reference ] && medium=$work/reference.iso
    n=$runs
    # The reference under OVMF boots the same kernel and initramfs: one run is enough.
    [ "$fw-$which" = uefi-reference ] && n=1
    times=$(for _ in $(seq "$n"); do boot_once "$medium" $fw; done)
    if echo "$times" | grep -q timeout; then
      echo "banner_uptime_s $fw $which did-not-boot runs=$(echo $times)"
    else
      echo "banner_uptime_s $fw $which median=$(echo "$times" | median) runs=$(echo $times)"
    fi
  done
done

# The same ISO with the paravirtual network card most VMs use instead of the emulated e1000,
# whose probe (its EEPROM is read bit by bit with 50 µs delays) is the longest step of the boot.
for fw in bios uefi; do
  times=$(for _ in $(seq "$runs"); do boot_once "$iso" $fw virtio-net-pci; done)
  echo "banner_uptime_s $fw tinilinux-virtio-net median=$(echo "$times" | median) runs=$(echo $times)"
done

hyperfine --runs "$runs" --export-json "$work/noop.json" "$db all" > /dev/null 2>&1
echo "noop_rebuild_s median=$(python3 -c "import json;print(round(json.load(open('$work/noop.json'))['results'][0]['median'],2))")"

touch tinibox/src/main.rs
start=$(date +%s.%N)
"$db" all > "$work/tinibox-change.log" 2>&1
echo "rebuild_after_tinibox_change_s $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6)"
