#!/usr/bin/env bash
# Benchmark of images (issue 4), all with hyperfine on this machine:
#   1. export: `distro-build oci` wall time, and the sizes of the rootfs tarball, the gzip
#      layer and the OCI archive of every image in oci-images/;
#   2. `tinibox load` of out/oci into an empty store;
#   3. the first `tinibox run --rm tinilinux true` after a fresh load against later runs;
#   4. `tinibox run --rm IMAGE true` against `docker run --rm IMAGE true` of the same
#      `docker import`ed / `tinibox import`ed rootfs tarball, in ONE hyperfine run.
# Medians and ratios go to stdout and, with --write, into BENCHMARKS.md (section
# "## Images"). Needs root, hyperfine, dockerd (Debian docker.io), and release builds
# (cargo build --release -p tinibox -p distro-build) plus the distro's inputs for
# `distro-build oci`. Starts its own dockerd (private data root and socket) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TINIBOX=${TINIBOX:-$REPO/target/release/tinibox}
DISTRO_BUILD=${DISTRO_BUILD:-$REPO/target/release/distro-build}
OUT=${TINILINUX_OUT:-$REPO/out}
RUNS=${RUNS:-30}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1

die() { echo "bench/images.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (image store, overlay mounts, dockerd)"
for t in hyperfine dockerd docker; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"
[ -x "$DISTRO_BUILD" ] || die "$DISTRO_BUILD missing: cargo build --release -p distro-build"

WORK=$(mktemp -d /tmp/images-bench.XXXXXX)
STATE=$WORK/state
DOCKER="docker -H unix://$WORK/docker.sock"
cleanup() {
  if [ -f "$WORK/docker.pid" ]; then
    kill "$(cat "$WORK/docker.pid")" 2>/dev/null || true
    for _ in $(seq 60); do [ -e "$WORK/docker.pid" ] || break; sleep 0.5; done
  fi
  for s in "$WORK"/store*; do
    [ -d "$s/containers" ] || continue
    for c in "$s"/containers/*; do [ -d "$c/merged" ] && umount -l "$c/merged" 2>/dev/null || true; done
  done
  { grep -o " $WORK[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK" || true
}
trap cleanup EXIT

ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
medians() { grep -o '"median": *[0-9.e-]*' "$1" | sed 's/.*: *//'; }
size() { stat -c %s "$1"; }
kb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1024 }'; }

# 1. Export.
hyperfine --warmup 1 --runs 5 --export-json "$WORK/export.json" -n export "$DISTRO_BUILD oci" >&2
E_MED=$(medians "$WORK/export.json" | sed -n 1p)
SIZES=""
for def in oci-images/*.json; do
  name=$(basename "$def" .json)
  if [ "$name" = tinilinux ]; then layout=$OUT/oci; else layout=$OUT/oci-$name; fi
  layer=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]+"/index.json")); m=d["manifests"][0]["digest"][7:]; print(json.load(open(sys.argv[1]+"/blobs/sha256/"+m))["layers"][0]["size"])' "$layout")
  SIZES="$SIZES| $name:latest | $(kb "$(size "$OUT/$name-rootfs.tar")") KiB | $(kb "$layer") KiB | $(kb "$(size "$OUT/$name-oci.tar")") KiB |
"
done

# 2. tinibox load into an empty store.
hyperfine --runs "$RUNS" --export-json "$WORK/load.json" \
  --prepare "rm -rf $WORK/store-load" \
  -n load "$TINIBOX --store $WORK/store-load load $OUT/oci" >&2
L_MED=$(medians "$WORK/load.json" | sed -n 1p)

# 3. First run after a fresh load against later runs (same store, warm page cache).
STORE=$WORK/store
RUN="$TINIBOX --store $STORE --root $STATE run --rm tinilinux true"
"$TINIBOX" --store "$STORE" load "$OUT/oci" >/dev/null
$RUN || die "tinibox run tinilinux true failed"
hyperfine --runs "$RUNS" --export-json "$WORK/first.json" \
  --prepare "rm -rf $STORE && $TINIBOX --store $STORE load $OUT/oci >/dev/null && sync" -n first "$RUN" \
  --prepare "sync" -n later "$RUN" >&2
F_MED=$(medians "$WORK/first.json" | sed -n 1p)
W_MED=$(medians "$WORK/first.json" | sed -n 2p)

# 4. tinibox against Docker, same imported tarball.
dockerd --data-root "$WORK/docker-data" --exec-root "$WORK/docker-exec" \
  -H "unix://$WORK/docker.sock" --pidfile "$WORK/docker.pid" \
  --iptables=false --ip6tables=false --bridge=none >"$WORK/dockerd.log" 2>&1 &
for _ in $(seq 120); do $DOCKER version >/dev/null 2>&1 && break; sleep 0.25; done
$DOCKER version >/dev/null 2>&1 || die "dockerd did not start: $(tail -3 "$WORK/dockerd.log")"
$DOCKER import "$OUT/tinilinux-rootfs.tar" tinilinux-bench:latest >/dev/null
"$TINIBOX" --store "$STORE" import "$OUT/tinilinux-rootfs.tar" tinilinux-bench:latest >/dev/null
TB="$TINIBOX --store $STORE --root $STATE run --rm tinilinux-bench true"
DK="$DOCKER run --rm --network none tinilinux-bench true"
$TB || die "tinibox run failed"
$DK || die "docker run failed"
hyperfine --warmup 3 --runs "$RUNS" --export-json "$WORK/vs.json" -n tinibox "$TB" -n docker "$DK" >&2
T_MED=$(medians "$WORK/vs.json" | sed -n 1p)
D_MED=$(medians "$WORK/vs.json" | sed -n 2p)

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)"
REPORT=$(cat <<MD
## Images

\`bench/images.sh\` (hyperfine), $DATE, $MACHINE. Release builds; medians.

Export (\`distro-build oci\`: rootfs from the build cache + every image of oci-images/; 5 runs after a warm-up that rebuilds what changed): $(ms "$E_MED") ms.

| image | rootfs tarball | gzip layer | OCI archive |
|---|---|---|---|
$SIZES
| step | median | ratio |
|---|---|---|
| \`tinibox load out/oci\` into an empty store ($RUNS runs) | $(ms "$L_MED") ms | |
| first \`tinibox run --rm tinilinux true\` after a fresh load ($RUNS runs, same hyperfine run) | $(ms "$F_MED") ms | $(ratio "$F_MED" "$W_MED") × later |
| later \`tinibox run --rm tinilinux true\` ($RUNS runs) | $(ms "$W_MED") ms | 1.00 |
| \`tinibox run --rm tinilinux-bench true\` (imported tarball) | $(ms "$T_MED") ms | $(ratio "$T_MED" "$D_MED") × docker |
| \`docker run --rm --network none tinilinux-bench true\` (same tarball, \`docker import\`) | $(ms "$D_MED") ms | 1.00 |

Layers are unpacked once, at load time, so a first run only pays for a colder page cache;
every run mounts an overlay of the read-only layer plus its own upper folder and removes it
with \`--rm\`. The machine is shared with other builds while this runs: compare the ratios
of rows measured in one hyperfine run (first/later, tinibox/docker) rather than absolute times.
MD
)
echo "$REPORT"
if [ "$WRITE" -eq 1 ]; then
  touch BENCHMARKS.md
  # Replace our section (from "## Images" to the next "## ") or append it.
  awk -v new="$REPORT" '
    /^## Images$/ { print new; skip = 1; done = 1; next }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) { print ""; print new } }
  ' BENCHMARKS.md > BENCHMARKS.md.tmp && mv BENCHMARKS.md.tmp BENCHMARKS.md
  echo "bench/images.sh: BENCHMARKS.md updated"
fi
