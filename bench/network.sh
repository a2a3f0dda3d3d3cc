#!/usr/bin/env bash
# Benchmark of tinibox's container networking (issue 17), as BENCHMARKS.md reports it:
#  1. hyperfine, alternating (ROUNDS rounds of PER runs, the order reversed every other
#     round, all times pooled): `tinibox run --rm IMAGE true` with --network none, with
#     --network bridge (tinibox0 kept, as after the first bridged container), and `docker run
#     --rm` of the same image on a bridge of a private dockerd (own data root, socket and
#     bridge subnet; the host's Docker, if any, is not touched); medians and ratios;
#  2. iperf3 (Debian's) from the host to an iperf3 server in a bridged container: to the
#     container's address directly, through the published port on the host's address, and
#     through the published port on 127.0.0.1; the same over IPv6 (the [::1] path is the relay).
# Needs root, hyperfine, iperf3, dockerd, busybox-static and a release build
# (cargo build --release -p tinibox). Prints the figures; nothing is written.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
TINIBOX=${TINIBOX:-$REPO/target/release/tinibox}
SECONDS_IPERF=${SECONDS_IPERF:-5}

die() { echo "bench/network.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
for t in hyperfine iperf3 dockerd docker ip; do command -v "$t" >/dev/null || die "$t missing: run scripts/install-deps.sh"; done
[ -x "$TINIBOX" ] || die "$TINIBOX missing: cargo build --release -p tinibox"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"

WORK=$(mktemp -d /var/tmp/tinibox-netbench.XXXXXX)
STATE=$WORK/state
STORE=$WORK/store
DK=$WORK/docker
DOCKER="docker -H unix://$DK/docker.sock"
DOCKERD_PID=
cleanup() {
  "$TINIBOX" --root "$STATE" ps -a -q 2>/dev/null | while read -r id; do "$TINIBOX" --root "$STATE" rm -f "$id" >/dev/null 2>&1 || true; done
  [ -z "${NET6:-}" ] || "$TINIBOX" network rm "$NET6" >/dev/null 2>&1 || true
  if [ -n "$DOCKERD_PID" ]; then
    $DOCKER ps -aq 2>/dev/null | xargs -r $DOCKER rm -f >/dev/null 2>&1 || true
    # Docker removes the network's iptables rules itself; a killed daemon would leave them.
    $DOCKER network rm tbxbench >/dev/null 2>&1 || true
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    ip link del tbxbench0 2>/dev/null || true
    # The nftables tables dockerd added (its iptables-nft `ip nat`/`ip filter`), not tinibox's.
    nft list tables | while read -r _ fam name; do
      grep -qx "table $fam $name" "$WORK/tables-before" || [ "$name" = tinibox ] || nft delete table "$fam" "$name" || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# One BusyBox image for both engines.
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh true sleep; do ln -s busybox "$ROOTFS/bin/$a"; done
: > "$ROOTFS/etc/hosts"; : > "$ROOTFS/etc/resolv.conf"
tar -C "$ROOTFS" -cf "$WORK/busybox.tar" .
"$TINIBOX" --store "$STORE" import "$WORK/busybox.tar" tbxbench:1 >/dev/null

# A private dockerd with its own bridge on its own subnet.
mkdir -p "$DK"
nft list tables > "$WORK/tables-before"
echo '{}' > "$DK/daemon.json"
dockerd --config-file "$DK/daemon.json" --data-root "$DK/data" --exec-root "$DK/exec" \
  -H "unix://$DK/docker.sock" --pidfile "$DK/docker.pid" \
  --bridge none >"$DK/log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 60); do $DOCKER version >/dev/null 2>&1 && break; sleep 1; done
$DOCKER version >/dev/null 2>&1 || { cat "$DK/log"; die "dockerd did not start"; }
# `--bridge none` above keeps the private daemon off the host's docker0; its default network
# for this run is a user bridge of its own.
$DOCKER network create --subnet 198.19.78.0/24 -o com.docker.network.bridge.name=tbxbench0 tbxbench >/dev/null
$DOCKER import "$WORK/busybox.tar" tbxbench:1 >/dev/null

echo "== machine: $(nproc) cores, $(uname -r), load: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
T="$TINIBOX --root $STATE --store $STORE"
# Make tinibox0 once, as the host has it after the first bridged container.
$T run --rm --network bridge tbxbench:1 true
# Alternating: ROUNDS hyperfine runs of PER runs each (after one warm-up) of the three
# commands, the order reversed every other round, so load that drifts over the minutes of a
# shared host falls on all three alike; every single time of every round is pooled.
ROUNDS=${ROUNDS:-10}
PER=${PER:-4}
NONE="$T run --rm --network none tbxbench:1 true"
BRIDGE="$T run --rm --network bridge tbxbench:1 true"
DOCKERRUN="$DOCKER run --rm --network tbxbench tbxbench:1 true"
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) -eq 1 ]; then
    hyperfine -N -w 1 -r "$PER" --style none --export-json "$WORK/round-$i.json" \
      -n "tinibox none" "$NONE" -n "tinibox bridge" "$BRIDGE" -n "docker run --rm (bridge)" "$DOCKERRUN"
  else
    hyperfine -N -w 1 -r "$PER" --style none --export-json "$WORK/round-$i.json" \
      -n "docker run --rm (bridge)" "$DOCKERRUN" -n "tinibox bridge" "$BRIDGE" -n "tinibox none" "$NONE"
  fi
done
echo "== after: load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
# Medians (less moved by the other load of a shared host than means) and the two ratios the
# issue sets targets for: bridge - none (<= 3 ms) and docker / tinibox bridge (>= 10); also
# the per-round differences of medians, to show how much of the spread is the host's.
python3 - "$WORK" "$ROUNDS" <<'PY'
import json, statistics as st, sys
work, rounds = sys.argv[1], int(sys.argv[2])
pool, per_round = {}, []
for i in range(1, rounds + 1):
    r = {x["command"]: x["times"] for x in json.load(open(f"{work}/round-{i}.json"))["results"]}
    per_round.append({k: st.median(v) * 1000 for k, v in r.items()})
    for k, v in r.items():
        pool.setdefault(k, []).extend(t * 1000 for t in v)
for k, v in pool.items():
    q = st.quantiles(v, n=4)
    print(f"  {k}: median {st.median(v):.1f} ms (min {min(v):.1f}, quartiles {q[0]:.1f}-{q[2]:.1f}, n={len(v)})")
n, b, d = (st.median(pool[k]) for k in ("tinibox none", "tinibox bridge", "docker run --rm (bridge)"))
print(f"  bridge adds (median): {b - n:+.1f} ms (min: {min(pool['tinibox bridge']) - min(pool['tinibox none']):+.1f} ms)")
diffs = [r["tinibox bridge"] - r["tinibox none"] for r in per_round]
print("  per-round bridge - none (ms): " + " ".join(f"{x:+.1f}" for x in diffs) + f"; median {st.median(diffs):+.1f}")
print(f"  docker / tinibox bridge (median): {d / b:.1f}x; docker / tinibox none: {d / n:.1f}x")
PY

# iperf3: the server in a bridged container made of the host's iperf3 and its libraries.
IROOT=$WORK/iperf-root
mkdir -p "$IROOT"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$IROOT/bin/busybox"; ln -s busybox "$IROOT/bin/sh"
cp "$(command -v iperf3)" "$IROOT/bin/iperf3"
for lib in $(ldd "$(command -v iperf3)" | grep -o '/[^ ]*'); do
  mkdir -p "$IROOT$(dirname "$lib")"; cp -L "$lib" "$IROOT$lib"
done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
$T run -d --name tbxiperf -p "$PORT:5201" "$IROOT" /bin/iperf3 -s >/dev/null
CIP=$($T exec tbxiperf sh -c 'ip -4 -o addr show eth0' | awk '{print $4}' | cut -d/ -f1)
HOSTIP=$(ip -4 -o route get 192.0.2.250 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
sleep 1
gbps() { iperf3 -c "$1" -p "$2" -t "$SECONDS_IPERF" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'; }
direct=$(gbps "$CIP" 5201)
published=$(gbps "$HOSTIP" "$PORT")
loopback=$(gbps 127.0.0.1 "$PORT")
echo "iperf3 -t $SECONDS_IPERF, Gbit/s received:"
echo "  container address $CIP:5201 directly: $direct"
echo "  published port on the host address $HOSTIP:$PORT: $published ($(python3 -c "print('%.2f' % ($published/$direct))") of direct)"
echo "  published port on 127.0.0.1:$PORT: $loopback ($(python3 -c "print('%.2f' % ($loopback/$direct))") of direct)"

# IPv6 (a network made with --ipv6): to the container's IPv6 address directly, through the
# port published on the host's IPv6 address (DNAT in `ip6 tinibox`) when the host has a
# global one, and on [::1] (the userland relay, `tinibox net-proxy`: the kernel cannot DNAT
# from ::1).
$T rm -f tbxiperf >/dev/null
NET6=tbxbench6-$$
$T network create --ipv6 --subnet 10.89.250.0/24 --subnet fd42:be::/64 "$NET6" >/dev/null
$T run -d --name tbxiperf6 --network "$NET6" -p "$PORT:5201" "$IROOT" /bin/iperf3 -s >/dev/null
sleep 1
direct6=$(gbps fd42:be::2 5201)
echo "  IPv6 container address [fd42:be::2]:5201 directly: $direct6"
HOST6=$(ip -6 -o route get 2001:db8::1 2>/dev/null | sed -n 's/.* src \([0-9a-f:]*\).*/\1/p')
if [ -n "$HOST6" ]; then
  published6=$(gbps "$HOST6" "$PORT")
  echo "  published port on the host address [$HOST6]:$PORT: $published6 ($(python3 -c "print('%.2f' % ($published6/$direct6))") of direct)"
fi
loopback6=$(gbps ::1 "$PORT")
echo "  published port on [::1]:$PORT (relay): $loopback6 ($(python3 -c "print('%.2f' % ($loopback6/$direct6))") of direct)"
$T rm -f tbxiperf6 >/dev/null
$T network rm "$NET6" >/dev/null
