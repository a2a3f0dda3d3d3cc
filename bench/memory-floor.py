#!/usr/bin/env python3
"""Memory floor of TiniLinux (issue 20): boots a medium under QEMU (TCG) with a given amount of
memory and firmware, and reports what a user sees:

  OK       the shell came up and `tinibox run --rm tinilinux echo ok` printed ok
  MESSAGE  the one-line "TiniLinux needs at least N MiB ..." (GRUB's or the early /init's)
  PANIC    a kernel panic
  GRUB     GRUB's own error (out of memory, ...) and nothing else
  FAIL     the shell came up but the container did not print ok
  TIMEOUT  none of these within the time limit

Usage: bench/memory-floor.py MEDIUM [bios|uefi ...] [MIB ...]
  e.g. bench/memory-floor.py out/tinilinux.iso bios uefi 24 28 32 64 96 128
Each boot's console goes to $LOGS (default /tmp/memory-floor/) MEDIUM-FIRMWARE-MIB.log.
OVMF is the pinned one distro-build fetches ($OVMF overrides it). Runs one VM at a time.
"""
import glob
import os
import re
import select
import subprocess
import sys
import time

TIMEOUT = float(os.environ.get("TIMEOUT", "180"))
LOGS = os.environ.get("LOGS", "/tmp/memory-floor")
MESSAGE = "TiniLinux needs at least"


def ovmf():
    if os.environ.get("OVMF"):
        return os.environ["OVMF"]
    cache = os.environ.get("TINILINUX_CACHE", os.path.expanduser("~/.cache/tinilinux"))
    found = sorted(glob.glob(f"{cache}/debs/ovmf_*/usr/share/OVMF/OVMF_CODE.fd"))
    if not found:
        sys.exit("memory-floor: no pinned OVMF in the cache: run the boot tests once, or set OVMF=")
    return found[-1]


def qemu_command(medium, firmware, mib):
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(mib), "-smp", "1",
           "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
           "-nic", "user,model=e1000"]
    if medium.endswith(".iso"):
        cmd += ["-drive", f"file={medium},media=cdrom,readonly=on"]
    else:
        fmt = "qcow2" if medium.endswith(".qcow2") else "raw"
        cmd += ["-drive", f"file={medium},format={fmt},if=virtio,snapshot=on"]
    if firmware == "uefi":
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={ovmf()}"]
    return cmd


def read_some(proc, log, timeout):
    """What QEMU printed within `timeout` seconds (b"" if nothing), copied to `log`; None
    once its output has ended."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return b""
    chunk = os.read(proc.stdout.fileno(), 4096)
    if not chunk:
        return None
    log.write(chunk)
    return chunk


def boot(medium, firmware, mib):
    """Returns (outcome, detail line)."""
    os.makedirs(LOGS, exist_ok=True)
    log = open(f"{LOGS}/{os.path.basename(medium)}-{firmware}-{mib}.log", "wb")
    proc = subprocess.Popen(qemu_command(medium, firmware, mib), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    shell_at = None
    start = time.time()
    outcome = "TIMEOUT"
    try:
        while time.time() - start < TIMEOUT:
            chunk = read_some(proc, log, 0.5)
            if chunk is None:
                break
            out += chunk
            text = out.decode("latin-1")
            if MESSAGE in text:
                outcome = "MESSAGE"
                break
            if "Kernel panic" in text:
                outcome = "PANIC"
                break
            if shell_at is None and "Welcome to TiniLinux" in text:
                shell_at = time.time()
            if shell_at is not None and "@@END" not in text and time.time() - shell_at > 3:
                # Typed again every few seconds until the shell answers (early input is lost).
                proc.stdin.write(b"\nfree -k | grep Mem: ; tinibox run --rm tinilinux echo o''k; echo @@''END\n")
                proc.stdin.flush()
                shell_at = time.time() + 5
            if "@@END" in text:
                outcome = "OK" if re.search(r"(^|\n)ok\r?\n", text) else "FAIL"
                break
        else:
            if "error:" in out.decode("latin-1"):
                outcome = "GRUB"
        # The rest of the line (and of a panic's first lines).
        drain_until = time.time() + 1.5
        while time.time() < drain_until:
            chunk = read_some(proc, log, 0.2)
            if chunk is None:
                break
            out += chunk
    finally:
        proc.kill()
        proc.wait()
        log.close()
    text = out.decode("latin-1").replace("\r", "")
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)
    detail = ""
    if outcome == "MESSAGE":
        detail = text[text.find(MESSAGE):].split("\n")[0].split(MESSAGE)[1]
        detail = MESSAGE + detail
    elif outcome in ("OK", "FAIL"):
        mem = [l for l in text.split("\n") if l.startswith("Mem:")]
        detail = mem[-1] if mem else ""
    elif outcome == "PANIC":
        detail = [l for l in text.split("\n") if "Kernel panic" in l][0][:120]
    else:
        lines = [l for l in text.split("\n") if l.strip()]
        detail = lines[-1][:120] if lines else ""
    return outcome, detail


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    medium = args[0]
    firmwares = [a for a in args[1:] if a in ("bios", "uefi")] or ["bios", "uefi"]
    sizes = [int(a) for a in args[1:] if a.isdigit()] or [32, 64]
    for firmware in firmwares:
        for mib in sizes:
            outcome, detail = boot(medium, firmware, mib)
            print(f"{os.path.basename(medium)}\t{firmware}\t{mib} MiB\t{outcome}\t{detail}", flush=True)


if __name__ == "__main__":
    main()
