#!/usr/bin/env python3
"""Where a TiniLinux boot spends its time: a sampling profile of the guest kernel under QEMU.

Boots the ISO (or a kernel + initramfs directly) under QEMU TCG and, until the
"Welcome to TiniLinux" banner, repeatedly stops the VM through QMP, reads the instruction
pointer with `info registers`, and lets it run again. Stopping does not move the guest's
clocks, so the guest's own timings are not distorted; each sample stands for the few
milliseconds until the next one. Kernel addresses are named from the kernel's System.map
(`$TINILINUX_CACHE/build/linux/System.map` for the last kernel distro-build made).

Usage:
  bench/guest-profile.py --firmware uefi --iso out/tinilinux.iso --system-map MAP [--top 25]
  bench/guest-profile.py --firmware bios --kernel bzImage --initrd initramfs.img --system-map MAP

Prints the banner's uptime and the most sampled kernel functions (with `--offsets`, the
exact instruction: look it up with `objdump -d vmlinux --start-address=...`). Firmware,
boot loader and the kernel's decompressor run below the kernel's addresses and are counted
as "before the kernel"; user space is counted as "user space".
"""

import argparse
import bisect
import collections
import json
import os
import re
import socket
import subprocess
import tempfile
import time

BANNER = b"Welcome to TiniLinux"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
KERNEL_BASE = 0xFFFFFFFF80000000


def load_symbols(path):
    """Text symbols of a System.map, sorted by address."""
    symbols = []
    with open(path) as system_map:
        for line in system_map:
            fields = line.split()
            if len(fields) >= 3 and fields[1] in "tTwW":
                symbols.append((int(fields[0], 16), fields[2]))
    symbols.sort()
    return symbols


class Qmp:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        json.loads(self.file.readline())  # greeting
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        message = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        self.file.write(json.dumps(message).encode() + b"\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            if "return" in reply:
                return reply["return"]


def qemu_command(args, qmp_path, serial_path):
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(args.memory), "-smp", "1",
           "-display", "none", "-monitor", "none", "-qmp", f"unix:{qmp_path},server,nowait",
           "-serial", f"file:{serial_path}", "-no-reboot", "-nic", f"user,model={args.nic}"]
    if args.firmware == "uefi":
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}"]
    if args.iso:
        cmd += ["-cdrom", args.iso]
    else:
        cmd += ["-kernel", args.kernel, "-initrd", args.initrd,
                "-append", "console=ttyS0,115200 quiet " + args.append]
    return cmd


def sample(args):
    """Boots and returns (instruction pointers in order, serial console bytes)."""
    work = tempfile.mkdtemp(prefix="guest-profile.")
    qmp_path, serial_path = os.path.join(work, "qmp"), os.path.join(work, "serial")
    qemu = subprocess.Popen(qemu_command(args, qmp_path, serial_path))
    try:
        deadline = time.time() + 10
        while not os.path.exists(qmp_path):
            if time.time() > deadline or qemu.poll() is not None:
                raise SystemExit("guest-profile: QEMU did not start (see its message above)")
            time.sleep(0.05)
        qmp = Qmp(qmp_path)
        pointers, console = [], b""
        deadline = time.time() + args.timeout
        while BANNER not in console:
            if time.time() > deadline:
                raise SystemExit(f"guest-profile: no banner within {args.timeout} s")
            qmp.command("stop")
            registers = qmp.command("human-monitor-command", **{"command-line": "info registers"})
            qmp.command("cont")
            match = re.search(r"RIP=([0-9a-f]+)", registers)
            if match:
                pointers.append(int(match.group(1), 16))
            with open(serial_path, "rb") as serial:
                console = serial.read()
            time.sleep(args.interval / 1000)
        return pointers, console
    finally:
        qemu.kill()
        qemu.wait()
        for name in (qmp_path, serial_path):
            if os.path.exists(name):
                os.remove(name)
        os.rmdir(work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firmware", choices=["bios", "uefi"], required=True)
    parser.add_argument("--iso", help="boot this ISO as -cdrom")
    parser.add_argument("--kernel", help="boot this bzImage directly (with --initrd)")
    parser.add_argument("--initrd")
    parser.add_argument("--append", default="", help="extra kernel arguments (direct boot)")
    parser.add_argument("--system-map", required=True)
    parser.add_argument("--nic", default="e1000")
    parser.add_argument("--memory", type=int, default=512, help="guest MiB")
    parser.add_argument("--interval", type=float, default=2, help="ms between samples")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to the banner")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--offsets", action="store_true", help="name function+offset")
    args = parser.parse_args()
    if bool(args.iso) == bool(args.kernel) or (args.kernel and not args.initrd):
        parser.error("give --iso, or --kernel with --initrd")

    symbols = load_symbols(args.system_map)
    addresses = [address for address, _ in symbols]
    pointers, console = sample(args)
    counts = collections.Counter()
    kernel_started = False
    for pointer in pointers:
        if pointer >= KERNEL_BASE:
            kernel_started = True
            index = bisect.bisect_right(addresses, pointer) - 1
            start, name = symbols[index]
            counts[f"{name}+{pointer - start:#x}" if args.offsets else name] += 1
        elif kernel_started:
            counts["(user space)"] += 1
        else:
            counts["(before the kernel)"] += 1
    banner = console[console.rindex(BANNER):].split(b"\n")[0].decode(errors="replace")
    in_kernel = len(pointers) - counts["(before the kernel)"]
    print(banner.strip())
    print(f"{len(pointers)} samples, {in_kernel} from kernel start to the banner")
    for name, count in counts.most_common(args.top):
        print(f"{count:6d}  {name}")


if __name__ == "__main__":
    main()
