#!/usr/bin/env bash
# Peak memory of a container run (issue 13): the maximum resident set size (/usr/bin/time's
# %M, the kernel's ru_maxrss of the runtime and the processes it waited for) of
#   tinibox run --rm ROOTFS sleep 0.3          (docker-like front door)
#   tinibox run --bundle BUNDLE ID             (runc form, the bundle's process is sleep 0.3)
#   runc run -b BUNDLE ID                      (Debian's runc)
#   crun run -b BUNDLE ID                      (optional: CRUN=/path/to/crun)
# on one BusyBox bundle (tinibox's default spec), each RUNS times, medians printed in KiB.
#
# crun is not a project dependency (Podman would pick it, and crun refuses this host's hybrid
# cgroup layout). To compare with it without installing it:
#   apt-get download crun libyajl2 && for d in *.deb; do dpkg -x "$d" crun-root; done
#   CRUN=$PWD/crun-root/usr/bin/crun LD_LIBRARY_PATH=$PWD/crun-root/usr/lib/x86_64-linux-gnu bench/memory.sh
# On a hybrid host crun runs in a private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (which is what it refuses), so it uses the v1 hierarchies like the others.
#
# Usage: bench/memory.sh   (root; TINIBOX=path, default target/release/tinibox; RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
TINIBOX=${TINIBOX:-$PWD/target/release/tinibox}
RUNS=${RUNS:-5}
CRUN=${CRUN:-}
die() { echo "bench/memory.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, cgroups)"
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"
[ -x /usr/bin/time ] || die "/usr/bin/time missing: apt-get install time"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"
command -v runc >/dev/null || die "runc missing: run scripts/install-deps.sh"

WORK=$(mktemp -d /tmp/tinibox-memory.XXXXXX)
RUNDIR=$WORK/run
cleanup() {
  "$TINIBOX" --root "$RUNDIR/tinibox" ps -a -q 2>/dev/null | while read -r id; do
    "$TINIBOX" --root "$RUNDIR/tinibox" rm -f "$id" >/dev/null 2>&1 || true
  done
  mountpoint -q "$RUNDIR" && umount "$RUNDIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RUNDIR"
mount -t tmpfs -o size=64m,huge=never tmpfs "$RUNDIR"

# Each runtime runs from a copy in that tmpfs (huge=never: 4 KiB pages). A program's RSS counts
# the pages of its file that it maps and touches, and on a disk file system the page cache may
# hold the file in large folios (ext4 does, on recent kernels, for a freshly written file),
# which map in 64 KiB or larger blocks: the same binary then measured 1.9 or 3.4 MiB depending on
# how its file was last written. TiniLinux runs tinibox from its initramfs, a tmpfs with 4 KiB
# pages, as here. Shared libraries (crun's, runc's) stay where they are.
mkdir -p "$RUNDIR/bin"
cp "$TINIBOX" "$RUNDIR/bin/tinibox"
TINIBOX_FILE=$TINIBOX
TINIBOX=$RUNDIR/bin/tinibox
cp "$(command -v runc)" "$RUNDIR/bin/runc"
RUNC=$RUNDIR/bin/runc

BUNDLE=$WORK/bundle
ROOTFS=$BUNDLE/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh true sleep; do ln -s busybox "$ROOTFS/bin/$a"; done
: > "$ROOTFS/etc/hostname"; : > "$ROOTFS/etc/hosts"; : > "$ROOTFS/etc/resolv.conf"
( cd "$BUNDLE" && "$TINIBOX" spec ) || die "tinibox spec failed"
sed -i -e 's/"terminal": *true/"terminal": false/' -e 's/"readonly": *true/"readonly": false/' "$BUNDLE/config.json"
perl -0pi -e 's/"args":\s*\[[^\]]*\]/"args": ["\/bin\/sleep", "0.3"]/' "$BUNDLE/config.json"

hybrid=0
grep -q ' /sys/fs/cgroup/unified ' /proc/self/mounts && hybrid=1

# peak CMD...: prints the maximum RSS in KiB of one run of CMD.
peak() {
  /usr/bin/time -f 'maxrss=%M' -o "$WORK/time" "$@" >/dev/null 2>&1 || die "failed: $*"
  sed -n 's/^maxrss=//p' "$WORK/time"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

n=0
measure() {
  local name=$1; shift
  local values=()
  for _ in $(seq "$RUNS"); do
    n=$((n + 1))
    values+=("$(peak "${@//@ID@/mem$n}")")
  done
  printf '| %s | %s KiB | %s |\n' "$name" "$(printf '%s\n' "${values[@]}" | median)" "${values[*]}"
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), Linux $(uname -r)"
echo "tinibox: $TINIBOX_FILE ($(stat -c %s "$TINIBOX_FILE") bytes), run from a tmpfs copy"
echo
echo "| command (sleep 0.3 in a BusyBox bundle) | median peak RSS | runs |"
echo "|---|---|---|"
measure "tinibox run --rm ROOTFS" "$TINIBOX" --root "$RUNDIR/tinibox" run --rm "$ROOTFS" sleep 0.3
measure "tinibox run --bundle" "$TINIBOX" --root "$RUNDIR/tinibox" run --bundle "$BUNDLE" @ID@
measure "runc $("$RUNC" --version | sed -n 's/^runc version //p') run" "$RUNC" --root "$RUNDIR/runc" run -b "$BUNDLE" @ID@
if [ -n "$CRUN" ]; then
  [ -x "$CRUN" ] || die "CRUN=$CRUN is not executable"
  cp "$CRUN" "$RUNDIR/bin/crun"
  CRUN=$RUNDIR/bin/crun
  version=$("$CRUN" --version | sed -n 's/^crun version //p')
  if [ "$hybrid" -eq 1 ]; then
    measure "crun $version run" unshare -m --propagation private sh -c \
      'umount /sys/fs/cgroup/unified && exec "$@"' crun "$CRUN" --root "$RUNDIR/crun" run -b "$BUNDLE" @ID@
  else
    measure "crun $version run" "$CRUN" --root "$RUNDIR/crun" run -b "$BUNDLE" @ID@
  fi
fi
