#!/usr/bin/env bash
# Benchmark of tinibox as an OCI runtime (issue 5), each pair in ONE hyperfine run:
#   1. the bundle cycle `create && start && delete -f` of /bin/true, tinibox vs runc, on the
#      same bundle (the youki README's method);
#   2. `run --bundle` (create + start + wait + delete), tinibox vs runc, and crun when it can
#      run the bundle on this host (crun 1.8 refuses hybrid cgroups; its refusal is reported);
#   3. `docker run --rm --network none --runtime tinibox IMG true` vs `--runtime runc`, through a
#      private dockerd started here (own data-root, exec-root and socket; stopped at the end).
# Medians and ratios go to stdout and, with --write, into BENCHMARKS.md (section
# "## tinibox as an OCI runtime"). Needs root, hyperfine, runc, dockerd, docker,
# busybox-static and a release build (cargo build --release -p tinibox).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TINIBOX=${TINIBOX:-$REPO/target/release/tinibox}
RUNS=${RUNS:-100}
DOCKER_RUNS=${DOCKER_RUNS:-30}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1

die() { echo "bench/runtime.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, cgroups, dockerd)"
for t in hyperfine runc dockerd docker; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"
TINIBOX=$(readlink -f "$TINIBOX")

WORK=$(mktemp -d /var/tmp/tinibox-rtbench.XXXXXX)
RUNDIR=$WORK/run
STATE=$RUNDIR/tinibox
RUNC_ROOT=$RUNDIR/runc
DOCKERD_PID=
cleanup() {
  "$TINIBOX" --root "$STATE" list -q 2>/dev/null | while read -r id; do "$TINIBOX" --root "$STATE" delete -f "$id" >/dev/null 2>&1 || true; done
  runc --root "$RUNC_ROOT" list -q 2>/dev/null | while read -r id; do runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || true; done
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  grep -o " $WORK[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RUNDIR"
# Both runtimes keep their state on a tmpfs, as under /run on a normal system.
mount -t tmpfs -o size=64m tmpfs "$RUNDIR"

# One bundle for both runtimes: tinibox's default spec (Docker's caps, masked paths, default
# seccomp profile, six namespaces) running /bin/true in a BusyBox rootfs.
BUNDLE=$WORK/bundle
ROOTFS=$BUNDLE/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh true sleep echo; do ln -s busybox "$ROOTFS/bin/$a"; done
: > "$ROOTFS/etc/hostname"; : > "$ROOTFS/etc/hosts"; : > "$ROOTFS/etc/resolv.conf"
"$TINIBOX" spec --bundle "$BUNDLE"
perl -0pi -e 's/"args":\s*\[[^\]]*\]/"args": ["\/bin\/true"]/' "$BUNDLE/config.json"

T="$TINIBOX --root $STATE"
R="runc --root $RUNC_ROOT"
CYCLE_T="$T create -b $BUNDLE t\$\$ && $T start t\$\$ && $T delete -f t\$\$"
CYCLE_R="$R create -b $BUNDLE r\$\$ && $R start r\$\$ && $R delete -f r\$\$"
RUN_T="$T run --bundle $BUNDLE t\$\$"
RUN_R="$R run --bundle $BUNDLE r\$\$"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Sanity: each command works before it is timed.
for c in "$CYCLE_T" "$CYCLE_R" "$RUN_T" "$RUN_R"; do sh -c "$c" </dev/null >/dev/null || die "failed: $c"; done

hyperfine --warmup 10 --runs "$RUNS" --export-json "$WORK/cycle.json" \
  -n "tinibox create+start+delete" "$CYCLE_T" -n "runc create+start+delete" "$CYCLE_R"
# crun in the same run when it can run the bundle here; else its one-line refusal is kept.
RUN_C="crun --root $RUNDIR/crun run --bundle $BUNDLE c\$\$"
CRUN_WHY=
if ! command -v crun >/dev/null; then
  CRUN_WHY="crun is not installed"
elif ! CRUN_ERR=$(sh -c "$RUN_C" </dev/null 2>&1 >/dev/null); then
  CRUN_WHY="crun $(crun --version | head -1 | awk '{print $3}') refuses this host: ${CRUN_ERR%%$'\n'*}"
fi
CRUN_ARGS=()
[ -z "$CRUN_WHY" ] && CRUN_ARGS=(-n "crun run --bundle" "$RUN_C")
hyperfine --warmup 10 --runs "$RUNS" --export-json "$WORK/run.json" \
  -n "tinibox run --bundle" "$RUN_T" -n "runc run --bundle" "$RUN_R" "${CRUN_ARGS[@]}"

# A private dockerd with tinibox registered as a runtime.
D=$WORK/docker
mkdir -p "$D"
dockerd --data-root "$D/data" --exec-root "$D/exec" -H "unix://$D/docker.sock" \
  --pidfile "$D/docker.pid" --bridge none --iptables=false \
  --add-runtime "tinibox=$TINIBOX" >"$D/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$D/docker.sock"
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || die "dockerd did not start: $(tail -5 "$D/dockerd.log")"
tar -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
docker import "$WORK/rootfs.tar" tbx-bench:latest >/dev/null
DT="docker run --rm --network none --runtime tinibox tbx-bench:latest true"
DR="docker run --rm --network none --runtime runc tbx-bench:latest true"
$DT || die "docker run with tinibox failed"
$DR || die "docker run with runc failed"
hyperfine --warmup 3 --runs "$DOCKER_RUNS" --export-json "$WORK/docker.json" \
  -n "docker run --runtime tinibox" "$DT" -n "docker run --runtime runc" "$DR"

median() { grep -o '"median": *[0-9.e-]*' "$1" | sed 's/.*: *//' | sed -n "$2p"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
CT=$(median "$WORK/cycle.json" 1); CR=$(median "$WORK/cycle.json" 2)
RT=$(median "$WORK/run.json" 1); RR=$(median "$WORK/run.json" 2)
if [ -z "$CRUN_WHY" ]; then
  RC=$(median "$WORK/run.json" 3)
  CRUN_ROW="| \`crun run --bundle\` | $RUNS | $(ms "$RC") ms | $(ratio "$RT" "$RC") (tinibox / crun) |"
else
  CRUN_ROW="| \`crun run --bundle\` | - | not timed: $CRUN_WHY | - |"
fi
DKT=$(median "$WORK/docker.json" 1); DKR=$(median "$WORK/docker.json" 2)

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)"
REPORT=$(cat <<MD
## tinibox as an OCI runtime

\`bench/runtime.sh\` (hyperfine; each pair in one hyperfine run), $DATE, $MACHINE.
One bundle for both runtimes: \`tinibox spec\` (Docker's capabilities, masked paths, the default
seccomp profile, six namespaces) running /bin/true in a BusyBox rootfs; state roots on a tmpfs.
tinibox: release build; runc $(runc --version | head -1 | awk '{print $3}'); Docker $(docker version -f '{{.Server.Version}}') (private dockerd, \`--add-runtime\`).
Load average before the run: $LOAD_BEFORE (the machine is shared; the two commands of a pair
run in the same hyperfine invocation, one after the other).

| command | runs | median | tinibox / runc |
|---|---|---|---|
| \`tinibox create && start && delete -f\` | $RUNS | $(ms "$CT") ms | $(ratio "$CT" "$CR") |
| \`runc create && start && delete -f\` | $RUNS | $(ms "$CR") ms | 1.00 |
| \`tinibox run --bundle\` | $RUNS | $(ms "$RT") ms | $(ratio "$RT" "$RR") |
| \`runc run --bundle\` | $RUNS | $(ms "$RR") ms | 1.00 |
$CRUN_ROW
| \`docker run --rm --network none --runtime tinibox IMG true\` | $DOCKER_RUNS | $(ms "$DKT") ms | $(ratio "$DKT" "$DKR") |
| \`docker run --rm --network none --runtime runc IMG true\` | $DOCKER_RUNS | $(ms "$DKR") ms | 1.00 |

Targets: the bundle cycle at most half of runc's (ratio ≤ 0.50), and no slower than runc
through Docker (ratio ≤ 1.00).
MD
)
echo "$REPORT"
if [ "$WRITE" -eq 1 ]; then
  touch BENCHMARKS.md
  awk -v new="$REPORT" '
    /^## tinibox as an OCI runtime$/ { print new; print ""; skip = 1; done = 1; next }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { print ""; print new } }
  ' BENCHMARKS.md > BENCHMARKS.md.tmp && mv BENCHMARKS.md.tmp BENCHMARKS.md
  echo "bench/runtime.sh: BENCHMARKS.md updated"
fi
