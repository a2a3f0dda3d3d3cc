//! `distro-build run`: boots the ISO in QEMU (TCG, no graphics, user-mode network) on this
//! terminal, with SeaBIOS or OVMF. It only builds the QEMU command line and runs it.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, IoContext, Result};
use crate::runner::require_tool;

/// OVMF firmware (UEFI) from Debian's `ovmf` package.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";

/// The QEMU command booting `iso`; `uefi` selects OVMF instead of SeaBIOS.
pub fn command(iso: &Path, uefi: bool, memory_mib: u32) -> Result<Command> {
    require_tool("qemu-system-x86_64")?;
    if !iso.is_file() {
        return Err(Error::Invalid(format!(
            "{} does not exist: run `distro-build all` first",
            iso.display()
        )));
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "tcg", "-m"])
        .arg(memory_mib.to_string())
        .args(["-smp", "1", "-nographic", "-no-reboot"])
        .args(["-nic", "user,model=e1000"])
        // The machine's own CD drive (one drive, as a user's `-cdrom` gives).
        .arg("-cdrom")
        .arg(iso);
    if uefi {
        if !Path::new(OVMF_CODE).is_file() {
            return Err(Error::MissingTool {
                tool: OVMF_CODE.into(),
                package: "ovmf".into(),
            });
        }
        cmd.arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"));
    }
    Ok(cmd)
}

/// Boots `iso` interactively; returns when QEMU exits (Ctrl-A X quits, `poweroff` too).
pub fn run(iso: &Path, uefi: bool) -> Result<()> {
    let mut cmd = command(iso, uefi, 512)?;
    eprintln!(
        "==> run: QEMU (TCG, {}) — quit with Ctrl-A then X, or `poweroff` in the guest",
        if uefi { "OVMF/UEFI" } else { "SeaBIOS" }
    );
    let status = cmd.status().ctx(|| "starting qemu-system-x86_64")?;
    if !status.success() {
        return Err(Error::Invalid(format!("QEMU exited with {status}")));
    }
    Ok(())
}
