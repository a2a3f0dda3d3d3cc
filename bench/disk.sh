#!/usr/bin/env bash
# Disk install benchmarks (issue 6), side by side with the live ISO in the same run:
#  - size of out/tinilinux-disk.img (apparent and allocated) and out/tinilinux-disk.qcow2,
#    against out/tinilinux.iso;
#  - time to build: `distro-build disk` against `distro-build iso` (inputs cached), wall
#    time of the command and the stage's own time as distro-build reports it;
#  - power-on → "Welcome to TiniLinux" on the serial console (QEMU TCG), from the disk image
#    and from the ISO, with SeaBIOS and OVMF: host wall time from starting QEMU, and the
#    guest's uptime printed in the banner. Runs are interleaved; medians are reported.
# Usage: bench/disk.sh [RUNS]   (default 5). Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
out="${TINILINUX_OUT:-out}"
img="$out/tinilinux-disk.img" qcow="$out/tinilinux-disk.qcow2" iso="$out/tinilinux.iso"
for f in "$img" "$iso"; do [ -f "$f" ] || { echo "bench/disk.sh: $f is missing; run distro-build all" >&2; exit 1; }; done
db=./target/release/distro-build
[ -x "$db" ] || db=./target/debug/distro-build
[ -x "$db" ] || { echo "bench/disk.sh: build distro-build first (cargo build --release -p distro-build)" >&2; exit 1; }
for t in qemu-system-x86_64 awk; do command -v "$t" >/dev/null || { echo "bench/disk.sh: $t is missing" >&2; exit 1; }; done
tmp="$(mktemp -d)"
qpid=""
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "### Sizes"
echo
echo "| artifact | apparent MiB | allocated on disk MiB |"
echo "|---|---|---|"
for f in "$img" "$qcow" "$iso"; do
	[ -f "$f" ] || continue
	echo "| $(basename "$f") | $(mib "$(stat -c %s "$f")") | $(mib "$(($(stat -c %b "$f") * $(stat -c %B "$f")))") |"
done
echo

# --- build time ------------------------------------------------------------------------
: >"$tmp/b-disk" && : >"$tmp/b-iso" && : >"$tmp/s-disk" && : >"$tmp/s-iso"
TINILINUX_OUT="$tmp/o" "$db" disk >/dev/null 2>&1 # warm-up: brings every cached input up to date
for _ in $(seq "$runs"); do
	for stage in disk iso; do
		t0="$(now)"
		TINILINUX_OUT="$tmp/o" "$db" "$stage" >"$tmp/log" 2>&1
		sub "$(now)" "$t0" >>"$tmp/b-$stage"
		echo >>"$tmp/b-$stage"
		sed -n "s/^<== $stage: .*(\([0-9.]*\) s)\$/\1/p" "$tmp/log" | tail -1 >>"$tmp/s-$stage"
	done
done
echo "### Build time, inputs cached (median of $runs)"
echo
echo "| command | wall s | the stage itself s |"
echo "|---|---|---|"
for stage in disk iso; do
	echo "| distro-build $stage | $(grep . "$tmp/b-$stage" | median) | $(grep . "$tmp/s-$stage" | median) |"
done
echo

# --- power-on → banner -----------------------------------------------------------------
cp /usr/share/OVMF/OVMF_VARS.fd "$tmp/vars.fd"
cp --sparse=always "$img" "$tmp/disk.img"
# Prints "<host seconds to banner> <guest uptime at banner>" for one boot.
boot_once() {
	local log="$tmp/boot.log" t0 t1 deadline
	: >"$log"
	cp /usr/share/OVMF/OVMF_VARS.fd "$tmp/vars.fd" # every boot is a new VM
	t0="$(now)"
	qemu-system-x86_64 -accel tcg -m 1024 -nographic -monitor none -serial stdio -nic none \
		-no-reboot "$@" </dev/null >"$log" 2>&1 &
	qpid=$!
	deadline=$((SECONDS + 150))
	until grep -a -q 'Welcome to TiniLinux' "$log"; do
		if ! kill -0 "$qpid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
			kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null || true; qpid=""
			cp "$log" "$tmp/failed.log"
			echo "bench/disk.sh: no banner (QEMU $*); last output:" >&2
			tail -5 "$tmp/failed.log" >&2
			echo "n/a n/a"
			return
		fi
		sleep 0.05
	done
	t1="$(now)"
	kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null || true; qpid=""
	echo "$(sub "$t1" "$t0") $(grep -a -m1 'Welcome to TiniLinux' "$log" | sed -n 's/.*booted in \([0-9.]*\) s.*/\1/p')"
}
ovmf=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd" -drive "if=pflash,format=raw,unit=1,file=$tmp/vars.fd")
disk=(-drive "file=$tmp/disk.img,format=raw,if=virtio")
cdrom=(-cdrom "$iso" -boot d)
names=("disk-seabios" "iso-seabios" "disk-ovmf" "iso-ovmf")
for _ in $(seq "$runs"); do
	boot_once "${disk[@]}" >>"$tmp/disk-seabios"
	boot_once "${cdrom[@]}" >>"$tmp/iso-seabios"
	boot_once "${ovmf[@]}" "${disk[@]}" >>"$tmp/disk-ovmf"
	boot_once "${ovmf[@]}" "${cdrom[@]}" >>"$tmp/iso-ovmf"
done
echo "### Power-on to banner, QEMU TCG (median of $runs, interleaved)"
echo
echo "| boot | host s, QEMU start → banner | disk / ISO | guest uptime at banner s |"
echo "|---|---|---|---|"
for n in "${names[@]}"; do
	host="$(awk '$1 != "n/a" { print $1 }' "$tmp/$n" | median)"
	guest="$(awk '$2 != "" && $2 != "n/a" { print $2 }' "$tmp/$n" | median)"
	ref="$(awk '$1 != "n/a" { print $1 }' "$tmp/iso-${n#*-}" | median)"
	echo "| ${n/-/, } | $host | $(ratio "$host" "$ref") | $guest |"
done
