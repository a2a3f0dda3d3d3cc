//! `distro-build run`: boots the ISO in QEMU (TCG, no graphics, user-mode network) on this
//! terminal, with SeaBIOS or OVMF. It only builds the QEMU command line and runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::Context;
use crate::error::{Error, IoContext, Result};
use crate::runner::require_tool;
use crate::target::Target;

/// The target's UEFI firmware (OVMF on x86_64) from the package pinned in `sources.lock`,
/// fetched and unpacked into the cache when needed (never the host's /usr/share/OVMF).
pub fn ovmf_code(ctx: &Context) -> Result<PathBuf> {
    let (package, code) = ctx.target.uefi_firmware;
    crate::debian::deb_file(ctx, package, code)
}

/// The QEMU command booting `iso` on `target`'s emulator and machine; `ovmf` is the UEFI
/// firmware to boot with (the machine's own BIOS when `None`).
pub fn command(
    target: &Target,
    iso: &Path,
    ovmf: Option<&Path>,
    memory_mib: u32,
) -> Result<Command> {
    let (qemu, _) = target.qemu_binary;
    require_tool(qemu)?;
    if !iso.is_file() {
        return Err(Error::Invalid(format!(
            "{} does not exist: run `distro-build all` first",
            iso.display()
        )));
    }
    let mut cmd = Command::new(qemu);
    cmd.args(["-machine", target.qemu_machine, "-accel", "tcg", "-m"])
        .arg(memory_mib.to_string());
    if let Some(cpu) = target.qemu_cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.args(["-smp", "1", "-nographic", "-no-reboot"])
        .arg("-nic")
        .arg(format!("user,model={}", target.qemu_nic_model));
    cdrom_args(&mut cmd, target, iso);
    if let Some(ovmf) = ovmf {
        cmd.arg("-drive").arg(format!(
            "if=pflash,format=raw,readonly=on,file={}",
            ovmf.display()
        ));
    }
    Ok(cmd)
}

/// Adds `iso` as the guest's CD: the machine's own CD drive (one drive, as a user's `-cdrom`
/// gives), or a CD-ROM on a virtio-scsi controller where the machine has no CD drive.
pub fn cdrom_args(cmd: &mut Command, target: &Target, iso: &Path) {
    if target.qemu_scsi_cdrom {
        cmd.arg("-drive")
            .arg(format!(
                "file={},if=none,id=cd0,media=cdrom,readonly=on,format=raw",
                iso.display()
            ))
            .args(["-device", "virtio-scsi-pci,id=scsi0"])
            .args(["-device", "scsi-cd,drive=cd0,bus=scsi0.0"]);
    } else {
        cmd.arg("-cdrom").arg(iso);
    }
}

/// Boots `iso` interactively; returns when QEMU exits (Ctrl-A X quits, `poweroff` too).
pub fn run(ctx: &Context, iso: &Path, uefi: bool) -> Result<()> {
    // A target without BIOS boots with its UEFI firmware, asked for or not.
    let uefi = uefi || ctx.target.grub_bios.is_none();
    let ovmf = if uefi { Some(ovmf_code(ctx)?) } else { None };
    let mut cmd = command(&ctx.target, iso, ovmf.as_deref(), 512)?;
    eprintln!(
        "==> run: QEMU (TCG, {}) — quit with Ctrl-A then X, or `poweroff` in the guest",
        if uefi { "UEFI" } else { "SeaBIOS" }
    );
    let status = cmd
        .status()
        .ctx(|| format!("starting {}", ctx.target.qemu_binary.0))?;
    if !status.success() {
        return Err(Error::Invalid(format!("QEMU exited with {status}")));
    }
    Ok(())
}
