#!/usr/bin/env bash
# Benchmark of apk (issue 14), with public tools on this machine:
#   1. `apk add` of N packages from a loopback HTTP repository (python3 -m http.server on
#      127.0.0.1) into an empty root, against the floor: `curl` of the same .apk files piped
#      into `tar xz` (download + decompress + extract, no verification, no database), in ONE
#      hyperfine run;
#   2. a 6000-package APKINDEX (Alpine's main has about that many): peak RSS
#      (/usr/bin/time -v) and wall time of `apk search` that loads and verifies it, against
#      the floor of just decompressing it (`gzip -dc | tar xO`).
# The repository is made by apk/tests/mkrepo.py (Python + openssl). Prints a markdown
# section for BENCHMARKS.md. Needs hyperfine, curl, python3, openssl, /usr/bin/time and a
# release build (cargo build --release -p apk). Env: N (packages, default 20), RUNS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
APK=${APK:-$REPO/target/release/apk}
N=${N:-20}
RUNS=${RUNS:-10}
die() { echo "bench/apk.sh: $*" >&2; exit 1; }
for t in hyperfine curl python3 openssl /usr/bin/time; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$APK" ] || die "$APK missing: cargo build --release -p apk"

WORK=$(mktemp -d /tmp/apk-bench.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 apk/tests/mkrepo.py keygen "$WORK/keys" bench
KEY="{\"private\": \"$WORK/keys/bench.rsa\", \"name\": \"bench.rsa.pub\", \"hash\": \"sha256\"}"

# 1. N packages, each: a copy of BusyBox (2 MB) and 20 small text files.
python3 - "$WORK" "$N" "$KEY" <<'PY'
import json, sys
work, n, key = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
pkgs = []
for i in range(n):
    files = [{"path": f"usr/lib/p{i}/busybox", "source": "/bin/busybox", "mode": 0o755}]
    files += [{"path": f"usr/share/p{i}/f{j}", "content": f"package {i} file {j}\n" * 40} for j in range(20)]
    pkgs.append({"name": f"p{i}", "version": "1.0-r0", "key": key, "files": files})
json.dump({"out": f"{work}/repo/x86_64", "index_key": key, "packages": pkgs}, open(f"{work}/spec.json", "w"))
PY
python3 apk/tests/mkrepo.py build "$WORK/spec.json"
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$WORK" > "$WORK/server.log" 2>/dev/null &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "port" "$WORK/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] || die "http.server did not start"
URL="http://127.0.0.1:$PORT/repo"
NAMES=$(seq -f 'p%g' 0 $((N - 1)) | tr '\n' ' ')
FILES=$(for n in $NAMES; do printf '%s-1.0-r0.apk ' "$n"; done)
BYTES=$(cd "$WORK/repo/x86_64" && cat $FILES | wc -c)

mkroot="rm -rf $WORK/root && mkdir -p $WORK/root/etc/apk/keys && cp $WORK/keys/bench.rsa.pub $WORK/root/etc/apk/keys/"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/add.json" \
  --prepare "$mkroot" -n "apk add ($N packages)" \
  "$APK --root $WORK/root --initdb --no-cache --quiet -X $URL add $NAMES" \
  --prepare "rm -rf $WORK/floor && mkdir -p $WORK/floor" -n "curl | tar xz (floor)" \
  "sh -c 'for f in $FILES; do curl -sf $URL/x86_64/\$f | tar xzf - -C $WORK/floor 2>/dev/null; done'" \
  > "$WORK/add.txt"

# Peak RSS of one `apk add` of the N packages.
eval "$mkroot"
/usr/bin/time -v "$APK" --root "$WORK/root" --initdb --no-cache --quiet -X "$URL" add $NAMES 2> "$WORK/time-add.txt"
ADD_RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time-add.txt")

# 2. A 6000-package index (realistic fields: deps, provides), signed; packages unsigned stubs.
python3 - "$WORK" "$KEY" <<'PY'
import json, sys
work, key = sys.argv[1], json.loads(sys.argv[2])
pkgs = []
for i in range(6000):
    deps = [f"so:libp{(i * 7 + k) % 6000}.so.1" for k in range(1, 4)] + ["musl"]
    pkgs.append({"name": f"pkg{i}", "version": f"{i % 17}.{i % 5}.{i % 3}-r{i % 4}",
                 "description": f"benchmark package number {i} with a description of typical length",
                 "depends": deps, "provides": [f"so:libp{i}.so.1=1.0", f"cmd:pkg{i}={i % 17}.0"],
                 "files": []})
json.dump({"out": f"{work}/big/x86_64", "index_key": key, "packages": pkgs}, open(f"{work}/big.json", "w"))
PY
python3 apk/tests/mkrepo.py build "$WORK/big.json"
IDX=$WORK/big/x86_64/APKINDEX.tar.gz
mkdir -p "$WORK/r2/etc/apk/keys" && cp "$WORK/keys/bench.rsa.pub" "$WORK/r2/etc/apk/keys/"
SEARCH="$APK --root $WORK/r2 --repositories-file /dev/null -X $WORK/big search no-such-package"
/usr/bin/time -v $SEARCH 2> "$WORK/time.txt" >/dev/null
RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt")
/usr/bin/time -v $APK --version 2> "$WORK/time0.txt" >/dev/null
RSS0=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time0.txt")
hyperfine --warmup 2 --runs "$RUNS" --export-json "$WORK/idx.json" \
  -n "apk search (6000-package index)" "$SEARCH" \
  -n "gzip -dc | tar xO (floor)" "sh -c 'gzip -dc < $IDX 2>/dev/null | tar xOf - APKINDEX 2>/dev/null > /dev/null'" \
  > "$WORK/idx.txt"
IDX_RAW=$(gzip -dc < "$IDX" 2>/dev/null | tar xOf - APKINDEX 2>/dev/null | wc -c || true)

median() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(' '.join('%.1f' % (x['median']*1000) for x in r))" "$1"; }
read -r ADD FLOOR <<<"$(median "$WORK/add.json")"
read -r SRCH IFLOOR <<<"$(median "$WORK/idx.json")"
cat <<EOF
## apk (package manager)

\`bench/apk.sh\` (hyperfine, $RUNS runs after warm-up, one hyperfine run per table), $(date -u +%F),
$(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), Linux $(uname -r). Load average at
the start: $(cut -d' ' -f1-3 /proc/loadavg). Repository made by apk/tests/mkrepo.py, served by
\`python3 -m http.server\` on 127.0.0.1.

| command | median | vs floor |
|---|---|---|
| \`apk add\` of $N packages ($((BYTES / 1024)) KiB of .apk files: BusyBox + 20 files each) into an empty root, \`--no-cache\` | $ADD ms | $(python3 -c "print('%.2f' % ($ADD/$FLOOR))") |
| \`curl URL \\| tar xz\` of the same files, one after the other (floor: no verification, no database, no fsync) | $FLOOR ms | 1.00 |
| \`apk search\` loading and verifying a 6000-package index ($(( $(stat -c %s "$IDX") / 1024 )) KiB compressed, $((IDX_RAW / 1024)) KiB of APKINDEX text) | $SRCH ms | $(python3 -c "print('%.2f' % ($SRCH/$IFLOOR))") |
| \`gzip -dc \\| tar xO\` of that index (floor) | $IFLOOR ms | 1.00 |

Peak RSS (\`/usr/bin/time -v\`, maximum resident set size): \`apk add\` of the $N packages
$ADD_RSS kB; \`apk search\` over the 6000-package index $RSS kB; \`apk --version\` (the binary
alone) $RSS0 kB.
EOF
