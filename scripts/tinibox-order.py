#!/usr/bin/env python3
"""Regenerate distro-build/tinibox.order: the functions a container start runs, for the linker.

The static tinibox is mapped from the page cache in 64 KiB fault-around windows, so its peak RSS
follows how many windows of its text a container start touches, not how much code it runs
(BENCHMARKS.md, "Footprint" and "Code layout for a container start"). distro-build links it with
GNU gold's `--section-ordering-file` so that the functions listed here sit together.

How the list is made (root, x86_64, a kernel with uprobes and tracefs):
 1. build the static tinibox exactly as distro-build does (same cargo command and RUSTFLAGS,
    so the same symbol names and the same code), plus `-C strip=none` and a linker map;
 2. put a uprobe on the first instruction of every function section of the map (tracefs
    `uprobe_events`; uprobes fire in every process that runs the file, so the forked
    container init before its exec is counted too) and enable them in a private trace instance
    whose buffer is off: only the kernel's per-probe hit counters (`uprobe_profile`) are read;
 3. run the container starts: `run --rm ROOTFS sleep 0.3` (default network),
    `run --rm --network none ROOTFS /bin/true` and `run --bundle BUNDLE ID`, on a BusyBox
    rootfs like bench/memory.sh's;
 4. write the sections that were hit, in map order, with the parts of their names that change
    from build to build replaced by `*` (v0 crate disambiguators `Cs<hash>_`, LLVM's `.<n>`
    suffixes of local copies), which gold matches as globs.
The probes are removed at the end. Timings under probes mean nothing; only the set is used.

Regenerate after changes that move a container start onto other functions (new code on the
start path, dependency upgrades); stale lines only cost RSS, never correctness.

Usage: scripts/tinibox-order.py [--out distro-build/tinibox.order] [--keep-build DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRIPLE = "x86_64-unknown-linux-musl"
# The same build as distro-build/src/tinibox_static.rs (`cargo_static`, PROGRAM, RUSTFLAGS,
# ORDER_RUSTFLAGS, BUILD_STD_ARGS, std_source_remap, registry_source_remaps); its unit test
# `order_script_builds_like_distro_build` checks these lines.
CARGO_ARGS = ["--no-default-features", "--features", "registry,apk"]
RUSTFLAGS = "-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--no-eh-frame-hdr"
ORDER_RUSTFLAGS = "-C symbol-mangling-version=v0 -C link-arg=-fuse-ld=gold -C link-arg=-Wl,--section-ordering-file=distro-build/tinibox.order"  # noqa: E501
BUILD_STD = ["-Zbuild-std=std,panic_abort", "-Zbuild-std-features=optimize_for_size"]
TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
GROUP = "tiniorder"
SECTION = re.compile(r"^ (\.text\S*)(?:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S.*)?$")


def die(message):
    sys.exit(f"tinibox-order: {message}")


def registry_source_remaps():
    """distro-build's registry_source_remaps of its registry_source_dirs: each folder of cargo's
    registry sources (from `cargo metadata`) mapped to /HOST (`index.crates.io-<hash>` ->
    /crates.io), so the binary does not carry the builder's cargo home."""
    try:
        meta = json.loads(subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"], cwd=ROOT,
            capture_output=True, text=True, check=True).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        die(f"cargo metadata failed: {e} {getattr(e, 'stderr', '') or ''}".strip())
    dirs = sorted({os.path.dirname(os.path.dirname(p["manifest_path"]))
                   for p in meta.get("packages", [])
                   if (p.get("source") or "").startswith(("registry+", "sparse+"))
                   and p.get("manifest_path")})
    flags = []
    for d in dirs:
        name = os.path.basename(d)
        name = name[len("index."):] if name.startswith("index.") else name
        host, _, digest = name.rpartition("-")
        if host and digest and all(c in "0123456789abcdefABCDEF" for c in digest):
            name = host
        flags.append(f"--remap-path-prefix={d}=/{name}")
    return flags


def build(target_dir, map_path):
    """Builds the static tinibox with symbols and a gold map; returns the binary's path."""
    env = dict(os.environ)
    rustc = os.environ.get("RUSTC", "rustc")  # the compiler cargo runs, as distro-build asks
    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        verbose = subprocess.run([rustc, "-vV"], capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die(f"cannot ask {rustc} for its sysroot and commit: {e}")
    commit = next((line.split(":", 1)[1].strip() for line in verbose.splitlines()
                   if line.startswith("commit-hash:")), "")
    if not commit:
        die(f"`{rustc} -vV` names no commit-hash (install Rust with rustup)")
    remap = f"--remap-path-prefix={sysroot}/lib/rustlib/src/rust=/rustc/{commit}"
    flags = f"{RUSTFLAGS} {ORDER_RUSTFLAGS} -C strip=none -C link-arg=-Wl,-Map={map_path}"
    # CARGO_ENCODED_RUSTFLAGS (0x1f between flags), as distro-build: a path may hold spaces.
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags.split() + [remap]
                                                 + registry_source_remaps())
    env.pop("RUSTFLAGS", None)
    env["RUSTC_BOOTSTRAP"] = "1"  # BOOTSTRAP_ENV: a stable cargo takes BUILD_STD's -Z flags
    for name in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"):
        env.pop(name, None)
    cmd = ["cargo", "build", "--release", "-p", "tinibox", "--target", TRIPLE, *CARGO_ARGS,
           "--config", 'profile.release.opt-level="z"', *BUILD_STD, "--target-dir", target_dir]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    return os.path.join(target_dir, TRIPLE, "release", "tinibox")


def text_sections(map_path):
    """(address, size, name) of every function section gold placed, from its map."""
    sections = []
    with open(map_path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = SECTION.match(lines[i])
        if m and m.group(1).startswith(".text."):
            if m.group(2) is None:  # a long name: address and size on the next line
                i += 1
                fields = lines[i].split()
                addr, size = (fields + ["", ""])[:2]
            else:
                addr, size = m.group(2), m.group(3)
            if addr.startswith("0x") and int(addr, 16) and int(size, 16):
                sections.append((int(addr, 16), int(size, 16), m.group(1)))
        i += 1
    return sorted(set(sections))


def file_offset(binary):
    """A function that turns a virtual address of the binary into a file offset."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                         check=True).stdout
    loads = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[2], 16), int(f[5], 16), int(f[1], 16)))

    def offset(addr):
        for vaddr, filesz, off in loads:
            if vaddr <= addr < vaddr + filesz:
                return addr - vaddr + off
        raise ValueError(f"{addr:#x} is in no loaded segment")
    return offset


def glob(name):
    """The section name with the parts that change between builds replaced by `*`."""
    name = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)  # v0 crate disambiguators
    name = re.sub(r"17h[0-9a-f]{16}E", "17h*E", name)  # legacy mangling's hash
    return re.sub(r"\.[0-9]+$", ".*", name)  # LLVM's suffix of a local copy


def tracefs():
    for path in TRACEFS:
        if os.path.exists(os.path.join(path, "uprobe_events")):
            return path
    die("no tracefs with uprobe_events (mount -t tracefs nodev /sys/kernel/tracing; "
        "the kernel needs CONFIG_UPROBE_EVENTS)")


def write(path, text, append=False):
    fd = os.open(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def remove_probes(trace, instance):
    if os.path.isdir(os.path.join(instance, "events", GROUP)):
        write(os.path.join(instance, "events", GROUP, "enable"), "0")
    if os.path.isdir(instance):
        os.rmdir(instance)
    with open(os.path.join(trace, "uprobe_events")) as f:
        mine = [line.split()[0].split(":", 1)[1] for line in f
                if line.startswith(f"p:{GROUP}/")]
    for event in mine:
        write(os.path.join(trace, "uprobe_events"), f"-:{event}\n", append=True)


def make_rootfs(work):
    """A BusyBox rootfs and bundle like bench/memory.sh's; returns (rootfs, bundle)."""
    bundle = os.path.join(work, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in ("sh", "true", "sleep"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    for name in ("hostname", "hosts", "resolv.conf"):
        open(os.path.join(rootfs, "etc", name), "w").close()
    return rootfs, bundle


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "distro-build", "tinibox.order"))
    parser.add_argument("--keep-build", metavar="DIR",
                        help="cargo target folder to build in and keep (default: a temporary one)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        die("needs root (uprobes, containers)")
    if not os.path.exists("/bin/busybox"):
        die("/bin/busybox missing: apt-get install busybox-static")
    trace = tracefs()
    if not os.path.exists(args.out):
        open(args.out, "w").close()  # the build below links with it
    work = tempfile.mkdtemp(prefix="tinibox-order.")
    instance = os.path.join(trace, "instances", GROUP)
    try:
        target_dir = args.keep_build or os.path.join(work, "target")
        map_path = os.path.join(work, "tinibox.map")
        built = build(target_dir, map_path)
        # A copy of our own: uprobes belong to the file, so nothing else is probed.
        binary = os.path.join(work, "tinibox")
        shutil.copy(built, binary)
        sections = text_sections(map_path)
        offset = file_offset(binary)
        rootfs, bundle = make_rootfs(work)
        subprocess.run([binary, "spec"], cwd=bundle, check=True)
        config = os.path.join(bundle, "config.json")
        with open(config) as f:
            text = f.read()
        text = re.sub(r'"terminal":\s*true', '"terminal": false', text)
        text = re.sub(r'"readonly":\s*true', '"readonly": false', text)
        # The process's args come first; the seccomp rules' "args" later.
        text = re.sub(r'"args":\s*\[[^\]]*\]', '"args": ["/bin/sleep", "0.3"]', text, count=1)
        with open(config, "w") as f:
            f.write(text)

        remove_probes(trace, instance)
        os.mkdir(instance)
        write(os.path.join(instance, "tracing_on"), "0")
        events = os.path.join(trace, "uprobe_events")
        for i, (addr, _, _) in enumerate(sections):
            write(events, f"p:{GROUP}/f{i} {binary}:{offset(addr):#x}\n", append=True)
        write(os.path.join(instance, "events", GROUP, "enable"), "1")

        state = os.path.join(work, "state")
        runs = [
            ["run", "--rm", rootfs, "sleep", "0.3"],
            ["run", "--rm", "--network", "none", rootfs, "/bin/true"],
            ["run", "--bundle", bundle, "tinibox-order"],
        ]
        for run in runs:
            subprocess.run([binary, "--root", state, *run], check=True)

        hits = {}
        with open(os.path.join(trace, "uprobe_profile")) as f:
            for line in f:
                fields = line.split()
                if len(fields) == 3 and fields[0] == binary:
                    hits[int(fields[1][1:])] = int(fields[2])
    finally:
        remove_probes(trace, instance)
        shutil.rmtree(work, ignore_errors=True)

    lines, seen, size = [], set(), 0
    for i, (_, length, name) in enumerate(sections):
        if hits.get(i):
            size += length
            pattern = glob(name)
            if pattern not in seen:
                seen.add(pattern)
                lines.append(pattern)
    if not lines:
        die("no function was hit: were the probes placed? (see the kernel's tracing/error_log)")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{args.out}: {len(lines)} patterns for {sum(1 for v in hits.values() if v)} of "
          f"{len(sections)} functions, {size} bytes of code")


if __name__ == "__main__":
    main()
