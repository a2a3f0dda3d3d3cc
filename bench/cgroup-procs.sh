#!/usr/bin/env bash
# The cost of moving a process into a cgroup v1 group (BENCHMARKS.md, "Engine core"): 20
# forked children each move themselves into a fresh freezer group by writing `0` to its
# `cgroup.procs`, then 20 more by writing `0` to its `tasks` (what the engine does since
# 2026-11-26: for the calling thread, Linux 5.19+ skips the threadgroup lock that
# cgroup.procs takes), with a pause between children (default 0.2 s) as between container
# creates. Prints the median, min and max wall time of the writes, in ms.
#
# Usage: bench/cgroup-procs.sh [CHILDREN] [PAUSE-SECONDS]   (root; a v1 freezer hierarchy at
# /sys/fs/cgroup/freezer; python3)
set -euo pipefail
n=${1:-20}
pause=${2:-0.2}
base=/sys/fs/cgroup/freezer
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -d "$base" ] || { echo "no v1 freezer hierarchy at $base (a cgroup v2-only host has none)" >&2; exit 1; }
group="$base/tinibox-bench-procs-$$"
mkdir "$group"
trap 'rmdir "$group" 2>/dev/null || true' EXIT
python3 - "$group" "$n" "$pause" <<'PY'
import os, statistics, sys, time
group, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for name in ("cgroup.procs", "tasks"):
    times = []
    for _ in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            t0 = time.perf_counter()
            with open(os.path.join(group, name), "w") as f:
                f.write("0")
            dt = (time.perf_counter() - t0) * 1000
            os.write(w, repr(dt).encode())
            os._exit(0)
        os.close(w)
        times.append(float(os.read(r, 64)))
        os.close(r)
        os.waitpid(pid, 0)
        # Let the kernel's rcu_sync state go idle again: back-to-back writes share one grace
        # period and would hide the cost a container create pays on its own.
        time.sleep(pause)
    print(f"{name:13} median {statistics.median(times):6.2f} ms  "
          f"min {min(times):6.2f}  max {max(times):6.2f}  ({n} writes)")
PY
