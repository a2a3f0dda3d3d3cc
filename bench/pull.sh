#!/usr/bin/env bash
# Benchmark of pulling one multi-layer image from a loopback registry (issue 16), in ONE
# hyperfine run, cold store each time:
#   tinibox pull (into a fresh --store: download, verify, unpack)
#   skopeo copy docker://… dir:… (download and verify only, no unpacking)
#   docker pull (a private dockerd started here; its image is removed before each run)
# The image: BusyBox + 4 layers of 8 MiB incompressible data (gzip), pushed with skopeo to
# Debian's docker-registry on 127.0.0.1:<free port>. Then the store's disk use after pulling
# two images that share 4 of their 5 layers. Medians go to stdout and, with --write, into
# BENCHMARKS.md ("## Registry pull"). Needs root, hyperfine, docker-registry, skopeo,
# dockerd/docker, /usr/bin/python3 and a release build (cargo build --release -p tinibox).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TINIBOX=$(readlink -f "${TINIBOX:-$REPO/target/release/tinibox}")
RUNS=${RUNS:-5}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
die() { echo "bench/pull.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in hyperfine docker-registry skopeo dockerd docker; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"

WORK=$(mktemp -d /var/tmp/tinibox-pullbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; done
  { grep -o " $WORK[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Two OCI layouts: "a" = busybox + 4 random layers, "b" = the same 4 + another busybox-less top.
/usr/bin/python3 - "$WORK" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
def layout(name, layers, tag):
    d = os.path.join(work, name); b = os.path.join(d, 'blobs', 'sha256'); os.makedirs(b)
    def put(data):
        h = hashlib.sha256(data).hexdigest(); open(os.path.join(b, h), 'wb').write(data); return 'sha256:' + h, len(data)
    descs, diffs = [], []
    for tar in layers:
        gz = gzip.compress(tar, 1, mtime=0); dg, sz = put(gz)
        descs.append({'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': dg, 'size': sz})
        diffs.append('sha256:' + hashlib.sha256(tar).hexdigest())
    cfg = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {'Cmd': ['/bin/sh']},
                      'rootfs': {'type': 'layers', 'diff_ids': diffs}}).encode()
    cd, cs = put(cfg)
    man = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                      'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cd, 'size': cs},
                      'layers': descs}).encode()
    md, ms = put(man)
    json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json',
               'digest': md, 'size': ms, 'annotations': {'org.opencontainers.image.ref.name': tag}}]},
              open(os.path.join(d, 'index.json'), 'w'))
    open(os.path.join(d, 'oci-layout'), 'w').write('{"imageLayoutVersion":"1.0.0"}')
def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in files:
            i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.mtime = 0
            t.addfile(i, io.BytesIO(data))
    return buf.getvalue()
busybox = tar_of([('bin/busybox', open('/bin/busybox', 'rb').read(), 0o755)])
rand = [tar_of([('data/%d' % i, os.urandom(8 << 20), 0o644)]) for i in range(4)]
layout('a', [busybox] + rand, '1')
layout('b', rand + [tar_of([('etc/b', b'b\n', 0o644)])], '1')
PY

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/reg"
cat >"$WORK/reg/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/reg/data
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$WORK/reg/config.yml" >"$WORK/reg/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.1; done
IMG=127.0.0.1:$PORT/bench/a:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/a:1" "docker://$IMG"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/b:1" "docker://127.0.0.1:$PORT/bench/b:1"

D=$WORK/docker
mkdir -p "$D"
echo '{}' >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" -H "unix://$D/docker.sock" \
  --pidfile "$D/docker.pid" --bridge none --iptables=false >"$D/dockerd.log" 2>&1 &
PIDS+=($!)
export DOCKER_HOST="unix://$D/docker.sock"
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || die "dockerd did not start: $(tail -5 "$D/dockerd.log")"

STORE=$WORK/store
hyperfine --runs "$RUNS" --export-json "$WORK/pull.json" \
  --prepare "rm -rf $STORE" -n "tinibox pull" "$TINIBOX --store $STORE pull -q $IMG" \
  --prepare "rm -rf $WORK/skopeo-dir" -n "skopeo copy (dir:)" "skopeo --insecure-policy copy -q --src-tls-verify=false docker://$IMG dir:$WORK/skopeo-dir" \
  --prepare "docker rmi -f $IMG >/dev/null 2>&1 || true" -n "docker pull" "docker pull -q $IMG"

median() { /usr/bin/python3 -c "import json,sys; r=[x for x in json.load(open('$WORK/pull.json'))['results'] if x['command']==sys.argv[1]][0]; print('%.0f' % (r['median']*1000))" "$1"; }
T=$(median "tinibox pull"); S=$(median "skopeo copy (dir:)"); K=$(median "docker pull")

# Disk use: two images sharing 4 layers, into one fresh store.
rm -rf "$STORE"
"$TINIBOX" --store "$STORE" pull -q "$IMG" >/dev/null
ONE=$(du -sb "$STORE" | cut -f1)
"$TINIBOX" --store "$STORE" pull -q "127.0.0.1:$PORT/bench/b:1" >/dev/null
TWO=$(du -sb "$STORE" | cut -f1)
COMPRESSED=$(du -sb "$WORK/reg/data" | cut -f1)

TABLE="| command | runs | median | vs tinibox |
|---|---|---|---|
| \`tinibox pull\` (download, verify, unpack into the store) | $RUNS | $T ms | 1.00 |
| \`skopeo copy docker://… dir:\` (download, verify) | $RUNS | $S ms | $(awk "BEGIN{printf \"%.2f\", $S/$T}") |
| \`docker pull\` (download, verify, unpack) | $RUNS | $K ms | $(awk "BEGIN{printf \"%.2f\", $K/$T}") |

Store after pulling image a (5 layers, $(du -sb "$WORK/a/blobs" | cut -f1) bytes of blobs): $ONE bytes; after also pulling b (shares
4 layers with a): $TWO bytes (the registry holds both compressed: $COMPRESSED bytes)."
echo "$TABLE"
if [ "$WRITE" -eq 1 ]; then
  {
    echo
    echo "## Registry pull (bench/pull.sh)"
    echo
    echo "$(date -u +%Y-%m-%d), 2-core VM shared with other jobs; one image of BusyBox + 4 × 8 MiB random layers"
    echo "(gzip) from Debian's docker-registry on 127.0.0.1, cold store/dir/daemon image each run; skopeo"
    echo "$(skopeo --version | awk '{print $3}'), Docker $(docker version -f '{{.Server.Version}}'), hyperfine $(hyperfine --version | awk '{print $2}')."
    echo
    echo "$TABLE"
  } >>BENCHMARKS.md
fi
