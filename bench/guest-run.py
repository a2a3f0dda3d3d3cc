#!/usr/bin/env python3
"""`tinibox run --rm ROOTFS /bin/true` inside a TiniLinux guest, against the `unshare … chroot`
floor in the same guest (issue 18's benchmark: the ratio on arm64, beside x86_64's).

Boots the ISO under QEMU (TCG) with the serial console on a pipe, waits for the banner, makes a
one-file root file system in the guest's /tmp (BusyBox and `true`), then times each command
with the guest's own clock: /proc/uptime (10 ms steps; BusyBox's date has no %N here) around
a batch of 5 runs, in alternating rounds so that both see the same emulator load. Prints the
median time per run over the rounds, and the ratio.
Under TCG another architecture is emulated instruction by instruction: only the ratio means
something, not the absolute times.

Usage:
  bench/guest-run.py --arch arm64 [--iso out/arm64/tinilinux.iso] [--rounds 20]
  bench/guest-run.py --arch x86_64 [--iso out/tinilinux.iso]
The arm64 boot needs AAVMF from the pinned qemu-efi-aarch64 in the distro-build cache
($TINILINUX_CACHE, default ~/.cache/tinilinux).
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import tempfile
import time

BANNER = b"Welcome to TiniLinux"
PROMPT_MARK = "__TL_DONE__"


def qemu_command(args, work):
    if args.arch == "arm64":
        cache = os.environ.get("TINILINUX_CACHE", os.path.expanduser("~/.cache/tinilinux"))
        codes = glob.glob(os.path.join(cache, "debs", "qemu-efi-aarch64_*", "usr/share/AAVMF/AAVMF_CODE.fd"))
        if not codes:
            raise SystemExit(f"guest-run: no AAVMF in {cache}/debs: run `distro-build --arch arm64 all`")
        code = codes[0]
        vars_copy = os.path.join(work, "AAVMF_VARS.fd")
        shutil.copy(os.path.join(os.path.dirname(code), "AAVMF_VARS.fd"), vars_copy)
        return ["qemu-system-aarch64", "-machine", "virt", "-accel", "tcg", "-cpu", "cortex-a57",
                "-m", "512", "-smp", "1", "-display", "none", "-monitor", "none",
                "-serial", "stdio", "-no-reboot", "-nic", "user,model=virtio-net-pci",
                "-drive", f"file={args.iso},if=none,id=cd0,media=cdrom,readonly=on,format=raw",
                "-device", "virtio-scsi-pci,id=scsi0", "-device", "scsi-cd,drive=cd0,bus=scsi0.0",
                "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
    return ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1", "-display", "none",
            "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nic", "user,model=e1000",
            "-cdrom", args.iso]


class Guest:
    """The guest's serial console: send a line, read until a marker."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""

    def read_until(self, needle, timeout):
        deadline = time.time() + timeout
        while needle not in self.buffer:
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"guest-run: no {needle!r} within {timeout} s; last output:\n"
                                 + self.buffer[-2000:].decode(errors="replace"))
            chunk = self.proc.stdout.read()
            if chunk:
                self.buffer += chunk
            else:
                time.sleep(0.05)
        before, _, self.buffer = self.buffer.partition(needle)
        return before

    def run(self, line, timeout=600):
        """Runs `line` in the guest's shell; returns what it printed before the marker."""
        self.proc.stdin.write(f"{line}; echo {PROMPT_MARK[:6]}''{PROMPT_MARK[6:]}\n".encode())
        self.proc.stdin.flush()
        return self.read_until(PROMPT_MARK.encode(), timeout).decode(errors="replace")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["arm64", "x86_64"], required=True)
    parser.add_argument("--iso")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    args.iso = args.iso or ("out/arm64/tinilinux.iso" if args.arch == "arm64" else "out/tinilinux.iso")
    work = tempfile.mkdtemp(prefix="guest-run.")
    guest = Guest(qemu_command(args, work))
    try:
        guest.read_until(BANNER, 600)
        guest.read_until(b"\n", 60)
        time.sleep(3)
        guest.run("stty -echo 2>/dev/null; export PS1=''", 60)
        guest.run("mkdir -p /tmp/r/bin && cp /bin/busybox /tmp/r/bin/ && ln -sf busybox /tmp/r/bin/true", 60)
        commands = {
            "tinibox run --rm ROOTFS /bin/true": "tinibox run --rm --network none /tmp/r /bin/true",
            "unshare -fmuipn chroot ROOTFS /bin/true (floor)": "unshare -fmuipn chroot /tmp/r /bin/true",
        }
        for name, cmd in commands.items():  # warm-up
            out = guest.run(f"{cmd} && echo ok-warm", 120)
            if "ok-warm" not in out:
                raise SystemExit(f"guest-run: {name!r} failed in the guest:\n{out}")
        times = {name: [] for name in commands}
        batch = 5
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                out = guest.run(
                    f"read a _ < /proc/uptime; for i in 1 2 3 4 5; do {cmd}; done; "
                    "read b _ < /proc/uptime; echo T=$a,$b", 300)
                value = [l for l in out.splitlines() if l.startswith("T=")]
                if not value:
                    raise SystemExit(f"guest-run: no timing from {name!r}:\n{out}")
                start, end = (float(x) for x in value[-1][2:].split(","))
                times[name].append((end - start) * 1000 / batch)
        uname = guest.run("uname -m", 60).strip().splitlines()[-1]
        floor = statistics.median(times["unshare -fmuipn chroot ROOTFS /bin/true (floor)"])
        print(f"guest {uname}, {args.rounds} rounds of {batch} runs each, alternating; guest clock (/proc/uptime)")
        print("| command | median | min | vs floor |")
        print("|---|---|---|---|")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| `{name}` | {median:.1f} ms | {min(values):.1f} ms | {median / floor:.2f} |")
    finally:
        guest.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
