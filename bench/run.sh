#!/usr/bin/env bash
# Benchmark of `tinibox run` (issue 2): in ONE hyperfine run, the wall time of
#   tinibox run --rm ROOTFS /bin/true
#   runc run on a bundle with the same rootfs, spec and namespaces (tinibox's default spec)
#   the floor: unshare --fork --pid --mount --uts --ipc --net --cgroup chroot ROOTFS /bin/true
# plus tinibox's peak RSS (VmHWM) while a container runs. Medians and ratios go to stdout and,
# with --write, into BENCHMARKS.md (section "## tinibox run"). Needs root, hyperfine, runc,
# busybox-static and a release build (cargo build --release -p tinibox).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TINIBOX=${TINIBOX:-$REPO/target/release/tinibox}
# Optional: the fully static build that ships in TiniLinux, timed in the same run.
TINIBOX_STATIC=${TINIBOX_STATIC:-}
RUNS=${RUNS:-200}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1

die() { echo "bench/run.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, cgroups)"
for t in hyperfine runc unshare chroot; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"

WORK=$(mktemp -d /tmp/tinibox-bench.XXXXXX)
# Both runtimes keep their state on a tmpfs, as under /run on a normal system.
RUNDIR=$WORK/run
STATE=$RUNDIR/tinibox
RUNC_ROOT=$RUNDIR/runc
cleanup() {
  "$TINIBOX" --root "$STATE" ps -a -q 2>/dev/null | while read -r id; do "$TINIBOX" --root "$STATE" rm -f "$id" >/dev/null 2>&1 || true; done
  runc --root "$RUNC_ROOT" list -q 2>/dev/null | while read -r id; do runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || true; done
  mountpoint -q "$RUNDIR" && umount "$RUNDIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RUNDIR"
mount -t tmpfs -o size=64m tmpfs "$RUNDIR"

# One BusyBox rootfs shared by all three.
BUNDLE=$WORK/bundle
ROOTFS=$BUNDLE/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh true sleep; do ln -s busybox "$ROOTFS/bin/$a"; done
: > "$ROOTFS/etc/hostname"; : > "$ROOTFS/etc/hosts"; : > "$ROOTFS/etc/resolv.conf"

# runc's bundle: tinibox's own default spec (Docker caps, masks, seccomp, six namespaces),
# running /bin/true in the same rootfs. Falls back to `runc spec` if `tinibox spec` fails.
if ( cd "$BUNDLE" && "$TINIBOX" spec >/dev/null 2>&1 ) && [ -s "$BUNDLE/config.json" ]; then
  SPEC_FROM="tinibox spec (tinibox's default spec)"
else
  ( cd "$BUNDLE" && rm -f config.json && runc spec )
  SPEC_FROM="runc spec (no seccomp)"
fi
sed -i -e 's/"terminal": *true/"terminal": false/' \
       -e 's/"readonly": *true/"readonly": false/' "$BUNDLE/config.json"
# process.args → ["/bin/true"] (the args array is the first one in the file).
perl -0pi -e 's/"args":\s*\[[^\]]*\]/"args": ["\/bin\/true"]/' "$BUNDLE/config.json"

TB="$TINIBOX --root $STATE run --rm $ROOTFS /bin/true"
RC="runc --root $RUNC_ROOT run -b $BUNDLE bench\$\$"
FL="unshare --fork --pid --mount --uts --ipc --net --cgroup chroot $ROOTFS /bin/true"

# Sanity: each command works before it is timed.
$TB || die "tinibox run failed"
sh -c "$RC" || die "runc run failed"
$FL || die "the unshare floor failed"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
JSON=$WORK/hyperfine.json
# Shell mode for all three (runc needs $$ for a unique id); hyperfine subtracts the shell's
# own start-up time from every measurement.
EXTRA=()
if [ -n "$TINIBOX_STATIC" ]; then
  [ -x "$TINIBOX_STATIC" ] || die "TINIBOX_STATIC=$TINIBOX_STATIC is not executable"
  TS="$TINIBOX_STATIC --root $STATE run --rm $ROOTFS /bin/true"
  $TS || die "static tinibox run failed"
  EXTRA=(-n tinibox-static "$TS")
fi
hyperfine --warmup 10 --runs "$RUNS" --export-json "$JSON" \
  -n tinibox "$TB" -n runc "$RC" -n floor "$FL" "${EXTRA[@]}"

medians=$(grep -o '"median": *[0-9.e-]*' "$JSON" | sed 's/.*: *//')
T_MED=$(echo "$medians" | sed -n 1p); R_MED=$(echo "$medians" | sed -n 2p); F_MED=$(echo "$medians" | sed -n 3p)
S_MED=$(echo "$medians" | sed -n 4p)
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Peak RSS of the tinibox process while a container runs (VmHWM from /proc).
"$TINIBOX" --root "$STATE" run --rm "$ROOTFS" sleep 1 &
TPID=$!
sleep 0.5
T_HWM=$(awk '/VmHWM/ { print $2 }' "/proc/$TPID/status")
wait "$TPID"

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)"
REPORT=$(cat <<MD
## tinibox run

\`bench/run.sh\` (hyperfine, $RUNS runs each after 10 warm-ups, one hyperfine run for all rows),
$DATE, $MACHINE. runc bundle: $SPEC_FROM, same BusyBox rootfs and namespaces;
both state roots on a tmpfs (like /run). tinibox: \`$(basename "$TINIBOX")\` from $(dirname "$TINIBOX").
Load average when the run started: $LOAD (the machine is shared with other builds; all rows ran in the same hyperfine invocation, one after the other, so they saw similar load).

| command | median | vs runc | vs floor |
|---|---|---|---|
| \`tinibox run --rm ROOTFS /bin/true\` | $(ms "$T_MED") ms | $(ratio "$T_MED" "$R_MED") | $(ratio "$T_MED" "$F_MED") |
| \`runc run\` (same bundle) | $(ms "$R_MED") ms | 1.00 | $(ratio "$R_MED" "$F_MED") |
| \`unshare … chroot ROOTFS /bin/true\` (floor) | $(ms "$F_MED") ms | $(ratio "$F_MED" "$R_MED") | 1.00 |
$( [ -n "$S_MED" ] && echo "| \`tinibox run --rm ROOTFS /bin/true\`, static build (as shipped in TiniLinux) | $(ms "$S_MED") ms | $(ratio "$S_MED" "$R_MED") | $(ratio "$S_MED" "$F_MED") |" )

Targets: tinibox ≤ 1/3 of runc (ratio ≤ 0.33) and ≤ 2× the floor.
Peak RSS of the tinibox process while a container runs (VmHWM): ${T_HWM} kB.
MD
)
echo "$REPORT"
if [ "$WRITE" -eq 1 ]; then
  touch BENCHMARKS.md
  # Replace our section (from "## tinibox run" to the next "## ") or append it.
  awk -v new="$REPORT" '
    /^## tinibox run$/ { print new; skip = 1; done = 1; next }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { print ""; print new } }
  ' BENCHMARKS.md > BENCHMARKS.md.tmp && mv BENCHMARKS.md.tmp BENCHMARKS.md
  echo "bench/run.sh: BENCHMARKS.md updated"
fi
