#!/usr/bin/env bash
# Reproducibility of `distro-build all` (README, BENCHMARKS.md): two clean builds, each into a
# new cache and a new output folder, then a warm rebuild into the first cache and a third
# output folder; every output file of the three builds is compared with `cmp`. Prints one
# line per file and exits 0 only when all three are byte-identical.
#
# Usage: bench/repro.sh [WORKDIR]   (default: a new folder under /var/tmp; about 12+ minutes
# on 2 cores; needs what `distro-build all` needs — scripts/install-deps.sh)
# REPRO_ARCH=arm64 bench/repro.sh checks the arm64 build the same way (`--arch arm64 all`).
# The folders are kept on failure (to diff the outputs) and removed on success.
set -euo pipefail
cd "$(dirname "$0")/.."
db=./target/release/distro-build
[ -x "$db" ] || { echo "build it first: cargo build --release -p distro-build -p tinibox" >&2; exit 1; }
work=${1:-$(mktemp -d /var/tmp/tinilinux-repro.XXXXXX)}
mkdir -p "$work"
echo "work folder: $work"

build() { # NAME CACHE OUT
  local start end
  start=$(date +%s)
  TINILINUX_CACHE="$2" TINILINUX_OUT="$3" "$db" --arch "${REPRO_ARCH:-x86_64}" all >"$work/$1.log" 2>&1 ||
    { echo "$1 failed; see $work/$1.log" >&2; exit 1; }
  end=$(date +%s)
  echo "$1: $((end - start)) s (cache $2, outputs $3)"
}
build clean-a "$work/cache-a" "$work/out-a"
build clean-b "$work/cache-b" "$work/out-b"
build warm-a "$work/cache-a" "$work/out-warm"

status=0
cd "$work/out-a"
files=$(find . -type f | sort)
[ -n "$files" ] || { echo "no outputs in $work/out-a" >&2; exit 1; }
for f in $files; do
  for other in out-b out-warm; do
    if cmp -s "$f" "$work/$other/$f"; then
      :
    else
      echo "DIFFERS: $f (out-a vs $other)"
      status=1
    fi
  done
done
for other in out-b out-warm; do
  extra=$(cd "$work/$other" && find . -type f | sort | comm -13 <(echo "$files") -)
  [ -z "$extra" ] || { echo "only in $other: $extra"; status=1; }
done
count=$(echo "$files" | wc -l)
if [ "$status" = 0 ]; then
  echo "identical: all $count output files, clean vs clean vs warm"
  rm -rf "$work"
else
  echo "NOT reproducible; outputs kept in $work" >&2
fi
exit "$status"
