//! A serial-console driver for QEMU guests, used by the boot and disk tests.
//!
//! QEMU runs with TCG and its first serial port on stdin/stdout (pipes, no terminal
//! emulation in between). A reader thread collects everything the guest prints; the test
//! waits for text with a timeout ([`Vm::expect`]) and runs shell commands, getting their
//! output and exit status ([`Vm::run`]). The whole console transcript is kept; every failure
//! saves it to a file and names it in the error. Dropping the [`Vm`] kills QEMU.
//!
//! It knows nothing of what a test checks; it only boots, reads and types.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// OVMF's code image (UEFI firmware) from the `ovmf` package pinned in `sources.lock`, as
/// distro-build fetches it (never the host's /usr/share/OVMF, whose version drifts).
pub fn ovmf_code() -> Result<PathBuf> {
    let ctx = distro_build::context::Context::from_env(&crate::repo_root());
    distro_build::qemu::ovmf_code(&ctx).map_err(|e| anyhow!("pinned OVMF: {e}"))
}

/// OVMF's variable store template from the same pinned package.
pub fn ovmf_vars() -> Result<PathBuf> {
    let ctx = distro_build::context::Context::from_env(&crate::repo_root());
    distro_build::debian::deb_file(&ctx, "ovmf", "usr/share/OVMF/OVMF_VARS.fd")
        .map_err(|e| anyhow!("pinned OVMF: {e}"))
}

/// Which firmware boots the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// QEMU's default SeaBIOS (legacy BIOS boot).
    Bios,
    /// OVMF (UEFI boot).
    Uefi,
}

/// A running QEMU guest driven through its serial console.
pub struct Vm {
    name: String,
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
    /// Offset in `output` up to which text has been consumed by `expect`.
    consumed: usize,
    marker: u32,
}

/// The QEMU command for booting `medium` (an ISO as a CD-ROM, or a raw/qcow2 disk image)
/// with TCG, the serial console on stdio and user-mode networking. A disk image is opened
/// with `snapshot=on`: the guest's writes are thrown away.
pub fn command(medium: &Path, firmware: Firmware, memory_mib: u32) -> Result<Command> {
    command_with(medium, firmware, memory_mib, true, USER_NIC)
}

/// [`command`] with QEMU's user network forwarding `hostfwd` (e.g.
/// `tcp:127.0.0.1:18080-:8080`) from the host to the guest.
pub fn command_with_hostfwd(
    medium: &Path,
    firmware: Firmware,
    memory_mib: u32,
    hostfwd: &str,
) -> Result<Command> {
    let nic = format!("{USER_NIC},hostfwd={hostfwd}");
    command_with(medium, firmware, memory_mib, true, &nic)
}

/// [`command`] whose user-mode network forwards TCP `host_port` on the host's 127.0.0.1 to
/// the guest's `guest_port` (QEMU's `hostfwd`).
pub fn command_forwarding(
    medium: &Path,
    firmware: Firmware,
    memory_mib: u32,
    host_port: u16,
    guest_port: u16,
) -> Result<Command> {
    let nic = format!("{USER_NIC},hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}");
    command_with(medium, firmware, memory_mib, true, &nic)
}

/// The guest's network card: QEMU's user-mode network on an e1000.
const USER_NIC: &str = "user,model=e1000";

/// [`command`] for a disk image the guest writes to for real (kept across boots).
pub fn persistent_disk_command(
    disk: &Path,
    firmware: Firmware,
    memory_mib: u32,
) -> Result<Command> {
    command_with(disk, firmware, memory_mib, false, USER_NIC)
}

fn command_with(
    medium: &Path,
    firmware: Firmware,
    memory_mib: u32,
    snapshot: bool,
    nic: &str,
) -> Result<Command> {
    let qemu = which("qemu-system-x86_64").ok_or_else(|| {
        anyhow!("qemu-system-x86_64 is missing: apt-get install -y qemu-system-x86")
    })?;
    if !medium.is_file() {
        bail!(
            "{} does not exist: build it first with `distro-build all` (CI runs it before `cargo test`)",
            medium.display()
        );
    }
    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "tcg", "-m", &memory_mib.to_string(), "-smp", "1"])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .args(["-no-reboot", "-nic", nic]);
    let is_iso = medium.extension().is_some_and(|e| e == "iso");
    if is_iso {
        cmd.arg("-drive")
            .arg(format!("file={},media=cdrom,readonly=on", medium.display()));
    } else {
        let format = if medium.extension().is_some_and(|e| e == "qcow2") {
            "qcow2"
        } else {
            "raw"
        };
        let snapshot = if snapshot { ",snapshot=on" } else { "" };
        cmd.arg("-drive").arg(format!(
            "file={},format={format},if=virtio{snapshot}",
            medium.display()
        ));
    }
    if firmware == Firmware::Uefi {
        cmd.arg("-drive").arg(format!(
            "if=pflash,format=raw,readonly=on,file={}",
            ovmf_code()?.display()
        ));
    }
    Ok(cmd)
}

/// The QEMU command booting the arm64 ISO `iso` the way [`command`] boots a PC one: QEMU's
/// `virt` machine with a Cortex-A57 under TCG, AAVMF (the arm64 UEFI firmware of the pinned
/// qemu-efi-aarch64, with a fresh copy of its variable store in `vars_dir`), the ISO on a
/// virtio-scsi CD-ROM, a virtio-net card on the user network and the PL011 on stdio.
pub fn arm64_command(iso: &Path, memory_mib: u32, vars_dir: &Path) -> Result<Command> {
    let mut cmd = arm64_machine(iso, memory_mib, vars_dir, "")?;
    distro_build::qemu::cdrom_args(&mut cmd, &distro_build::target::Target::ARM64, iso);
    Ok(cmd)
}

/// [`arm64_command`] with the user network forwarding 127.0.0.1:`host_port` to the guest's
/// `guest_port` (TCP), as [`command_forwarding`] does for x86_64.
pub fn arm64_command_forwarding(
    iso: &Path,
    memory_mib: u32,
    vars_dir: &Path,
    host_port: u16,
    guest_port: u16,
) -> Result<Command> {
    let forward = format!(",hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}");
    let mut cmd = arm64_machine(iso, memory_mib, vars_dir, &forward)?;
    distro_build::qemu::cdrom_args(&mut cmd, &distro_build::target::Target::ARM64, iso);
    Ok(cmd)
}

/// [`arm64_command`] for the arm64 disk image `disk` (raw, or qcow2 by its extension) on a
/// virtio disk instead of the ISO, with QEMU's `snapshot=on`: the guest's writes go to a
/// temporary file and `disk` stays as built.
pub fn arm64_disk_command(disk: &Path, memory_mib: u32, vars_dir: &Path) -> Result<Command> {
    let mut cmd = arm64_machine(disk, memory_mib, vars_dir, "")?;
    let format = match disk.extension().is_some_and(|e| e == "qcow2") {
        true => "qcow2",
        false => "raw",
    };
    cmd.arg("-drive").arg(format!(
        "file={},format={format},if=virtio,snapshot=on",
        disk.display()
    ));
    Ok(cmd)
}

/// QEMU's arm64 `virt` machine with AAVMF, the network (`nic_options` appended to the user
/// network's options) and the serial console, without the boot medium (`medium` is only
/// checked to exist).
fn arm64_machine(
    medium: &Path,
    memory_mib: u32,
    vars_dir: &Path,
    nic_options: &str,
) -> Result<Command> {
    let target = distro_build::target::Target::ARM64;
    let (binary, package) = target.qemu_binary;
    let qemu = which(binary)
        .ok_or_else(|| anyhow!("{binary} is missing: apt-get install -y {package}"))?;
    if !medium.is_file() {
        bail!(
            "{} does not exist: build it first with `distro-build --arch arm64 all`",
            medium.display()
        );
    }
    let mut ctx = distro_build::context::Context::from_env(&crate::repo_root());
    ctx.set_target(target);
    let (firmware, code) = target.uefi_firmware;
    let code = distro_build::debian::deb_file(&ctx, firmware, code)
        .map_err(|e| anyhow!("pinned AAVMF: {e}"))?;
    let vars_template = code.with_file_name("AAVMF_VARS.fd");
    let vars = vars_dir.join("AAVMF_VARS.fd");
    std::fs::copy(&vars_template, &vars)
        .with_context(|| format!("copying {}", vars_template.display()))?;
    let mut cmd = Command::new(qemu);
    cmd.args(["-machine", target.qemu_machine, "-accel", "tcg"]);
    if let Some(cpu) = target.qemu_cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.args(["-m", &memory_mib.to_string(), "-smp", "1"])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .arg("-no-reboot")
        .arg("-nic")
        .arg(format!("user,model={}{nic_options}", target.qemu_nic_model));
    pflash_args(&mut cmd, &code, &vars);
    Ok(cmd)
}

/// UEFI firmware as QEMU's two flash devices: `code` read-only (unit 0) and the writable
/// variable store `vars` (unit 1), the layout OVMF and AAVMF expect.
pub fn pflash_args(cmd: &mut Command, code: &Path, vars: &Path) {
    cmd.arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={}",
            code.display()
        ))
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ));
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Where transcripts are saved: `$TINILINUX_TRANSCRIPTS`, else `target/qemu-transcripts/`.
pub fn transcript_dir() -> PathBuf {
    std::env::var_os("TINILINUX_TRANSCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::target_dir().join("qemu-transcripts"))
}

impl Vm {
    /// Boots `medium` with `firmware` and 512 MiB of memory; `name` labels the transcript.
    pub fn boot(name: &str, medium: &Path, firmware: Firmware) -> Result<Vm> {
        Vm::spawn(name, command(medium, firmware, 512)?)
    }

    /// Starts an arbitrary QEMU command whose serial console is on stdin/stdout.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Vm> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let stdin = child.stdin.take().context("QEMU stdin")?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut out) = sink.lock() {
                        out.extend_from_slice(&chunk[..n]);
                    }
                }
            });
        }
        Ok(Vm {
            name: name.to_string(),
            child,
            stdin,
            output,
            consumed: 0,
            marker: 0,
        })
    }

    /// Everything the guest (and QEMU) printed so far, lossily decoded.
    pub fn transcript(&self) -> String {
        let out = self.output.lock().map(|o| o.clone()).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Saves the transcript to `<transcript_dir>/<name>.log` and returns the path.
    pub fn save_transcript(&self) -> PathBuf {
        let dir = transcript_dir();
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}.log", self.name));
        let _ = std::fs::write(&path, self.transcript());
        path
    }

    /// An error carrying `msg`, the saved transcript's path and its last lines.
    pub fn fail(&self, msg: &str) -> anyhow::Error {
        let path = self.save_transcript();
        let text = self.transcript();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        anyhow!(
            "{}: {msg}\ntranscript saved to {}\n--- last console lines ---\n{tail}",
            self.name,
            path.display()
        )
    }

    /// Waits until `needle` appears after the text consumed so far; returns the text up to
    /// and including it, and consumes it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self
                    .output
                    .lock()
                    .map_err(|_| anyhow!("console reader panicked"))?;
                let fresh = &out[self.consumed.min(out.len())..];
                if let Some(pos) = find(fresh, needle.as_bytes()) {
                    let end = pos + needle.len();
                    let text = String::from_utf8_lossy(&fresh[..end]).into_owned();
                    self.consumed += end;
                    return Ok(text);
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.fail(&format!(
                    "QEMU exited ({status}) while waiting for {needle:?}"
                )));
            }
            if Instant::now() >= deadline {
                return Err(self.fail(&format!(
                    "timed out after {:?} waiting for {needle:?}",
                    timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` on the serial console.
    pub fn send(&mut self, text: &str) -> Result<()> {
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|_| self.stdin.flush())
            .map_err(|e| self.fail(&format!("writing to the console: {e}")))
    }

    /// Runs a shell command line in the guest's shell and returns (exit status, output).
    /// The shell must be at a prompt; call [`Vm::prepare_shell`] once first.
    pub fn run(&mut self, cmdline: &str, timeout: Duration) -> Result<(i32, String)> {
        self.marker += 1;
        let n = self.marker;
        let begin = format!("@@B{n}@@");
        let end = format!("@@E{n}@@");
        // The markers are typed split by quotes (`"@@B""1@@"`), so the echo of the typed line
        // never matches what we wait for, whether or not the terminal echoes input.
        self.send(&format!(
            "echo \"@@B\"\"{n}@@\"; {cmdline}\necho \"@@E\"\"{n}@@$?@@\"\n"
        ))?;
        self.expect(&format!("{begin}\r\n"), timeout)?;
        let text = self.expect(&end, timeout)?;
        let output = text[..text.len() - end.len()].to_string();
        let status_text = self.expect("@@", Duration::from_secs(10))?;
        let status: i32 = status_text
            .trim_end_matches("@@")
            .trim()
            .parse()
            .map_err(|_| self.fail(&format!("unreadable exit status {status_text:?}")))?;
        Ok((status, clean(&output)))
    }

    /// Like [`Vm::run`], failing (with the transcript) unless the command exits 0.
    pub fn run_ok(&mut self, cmdline: &str, timeout: Duration) -> Result<String> {
        let (status, out) = self.run(cmdline, timeout)?;
        if status != 0 {
            return Err(self.fail(&format!("`{cmdline}` exited {status}; output:\n{out}")));
        }
        Ok(out)
    }

    /// Waits up to `timeout` for eth0 to get QEMU's user-network address (10.0.2.15) from the
    /// DHCP client the guest runs in the background; fails with the transcript otherwise.
    pub fn wait_for_dhcp(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let addr = self.run_ok("ip -4 addr show dev eth0", Duration::from_secs(60))?;
            if addr.contains("inet 10.0.2.15/") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.fail(&format!("eth0 got no DHCP address:\n{addr}")));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Turns off echo and line editing and quiets kernel messages, so command output can be
    /// read back verbatim.
    /// Input typed before the shell opens the console can be discarded, so this first types a
    /// marker until a shell answers it (up to two minutes). `stty` may be missing (a rescue
    /// shell): [`Vm::run`] works with echo on too.
    pub fn prepare_shell(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.send(&format!("\necho \"@@R\"\"{attempt}@@\"\n"))?;
            match self.expect(&format!("@@R{attempt}@@"), Duration::from_secs(5)) {
                Ok(_) => break,
                Err(e) => {
                    let exited = !matches!(self.child.try_wait(), Ok(None));
                    if exited || Instant::now() >= deadline {
                        return Err(e);
                    }
                }
            }
        }
        self.send("stty -echo 2>/dev/null; dmesg -n 1 2>/dev/null; PS1='tl# '\n")?;
        self.run_ok("true", Duration::from_secs(60)).map(|_| ())
    }

    /// Checks that the guest's clock was set from its real-time clock at boot: QEMU's RTC
    /// starts at the host's UTC time, so the guest's `date +%s` must be within a day of the
    /// host's (a clock left at 1970 makes every TLS certificate "not valid yet").
    pub fn check_clock(&mut self) -> Result<()> {
        let out = self.run_ok("date +%s", Duration::from_secs(60))?;
        let guest: i64 = out
            .trim()
            .parse()
            .with_context(|| format!("`date +%s` printed {out:?}"))?;
        let host = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        if (guest - host).abs() > 86_400 {
            return Err(self.fail(&format!(
                "the guest's clock is {guest} s since 1970, the host's {host}: the time was not \
                 read from the RTC at boot"
            )));
        }
        Ok(())
    }

    /// Powers the guest off and waits (up to `timeout`) for QEMU to exit.
    pub fn poweroff(&mut self, timeout: Duration) -> Result<()> {
        self.send("poweroff\n")?;
        self.wait_exit(timeout)
    }

    /// Waits (up to `timeout`) for QEMU to exit by itself, e.g. after the guest powered off.
    /// The transcript is saved either way.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.save_transcript();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(self.fail("the guest did not power off"))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Drops carriage returns, the shell prompt and (where the terminal echoes input) the echo of
/// the typed end-marker line from captured output.
fn clean(text: &str) -> String {
    text.replace('\r', "")
        .lines()
        .map(|l| l.strip_prefix("tl# ").unwrap_or(l))
        .filter(|l| !l.contains("echo \"@@E\"\""))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}
