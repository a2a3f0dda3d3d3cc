//! The ISO stage: bzImage + initramfs + `distro-build/grub.cfg` → a hybrid BIOS + UEFI ISO
//! made by `grub-mkrescue`, trimmed to the GRUB modules the menu needs (no fonts, locales or
//! themes). Cached by its inputs; published to `out/tinilinux.iso` through a temporary name.
//! It builds neither the kernel nor the initramfs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::error::{IoContext, Result};
use crate::runner::{run_logged, Stage};

/// Bumped whenever the ISO layout or grub-mkrescue options change.
const RECIPE: u32 = 2;

/// The GRUB modules installed on the ISO: what grub.cfg uses (serial console, `if`, the
/// Linux loader) plus what finds the ISO's own file system. They must exist for both
/// platforms (i386-pc and x86_64-efi).
pub const GRUB_MODULES: &str =
    "linux normal iso9660 part_msdos part_gpt search search_fs_uuid serial terminal test echo";

/// The menu file in the repository.
pub fn grub_cfg_path(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("distro-build/grub.cfg")
}

/// The final ISO path, `out/tinilinux.iso`.
pub fn iso_path(ctx: &Context) -> PathBuf {
    ctx.out_dir.join("tinilinux.iso")
}

/// Builds (or takes from the cache) the ISO and publishes it at `out/tinilinux.iso`.
pub fn build(ctx: &Context, bzimage: &Path, initramfs: &Path) -> Result<PathBuf> {
    let stage = Stage::start("iso", "grub-mkrescue: hybrid BIOS + UEFI ISO");
    let grub_cfg = grub_cfg_path(ctx);
    let mut key = KeyBuilder::new("iso", RECIPE);
    key.file("bzImage", bzimage)?
        .file("initramfs", initramfs)?
        .file("grub.cfg", &grub_cfg)?
        .bytes("modules", GRUB_MODULES.as_bytes())
        .bytes("epoch", &ctx.source_date_epoch.to_le_bytes());
    let key = key.finish();
    let dir = match cache::lookup(ctx, "iso", &key) {
        Some(dir) => {
            stage.note(&format!("cached ({key})"));
            dir
        }
        None => cache::publish(ctx, "iso", &key, |tmp| {
            let root = tmp.join("root");
            let boot = root.join("boot");
            fs::create_dir_all(boot.join("grub")).ctx(|| format!("creating {}", boot.display()))?;
            fs::copy(bzimage, boot.join("bzImage"))
                .ctx(|| format!("copying {}", bzimage.display()))?;
            fs::copy(initramfs, boot.join("initramfs.img"))
                .ctx(|| format!("copying {}", initramfs.display()))?;
            fs::copy(&grub_cfg, boot.join("grub/grub.cfg"))
                .ctx(|| format!("copying {}", grub_cfg.display()))?;
            let log = ctx.cache_dir.join("logs/iso.log");
            let _ = fs::remove_file(&log);
            run_logged(
                "grub-mkrescue",
                Command::new("grub-mkrescue")
                    .arg("-o")
                    .arg(tmp.join("tinilinux.iso"))
                    .args(["--compress=xz", "--fonts=", "--locales=", "--themes="])
                    .arg(format!("--install-modules={GRUB_MODULES}"))
                    .arg(&root)
                    .env(
                        "SOURCE_DATE_EPOCH",
                        ctx.source_date_epoch.max(1).to_string(),
                    ),
                &log,
            )?;
            fs::remove_dir_all(&root).ctx(|| format!("removing {}", root.display()))
        })?,
    };
    let out = iso_path(ctx);
    fs::create_dir_all(&ctx.out_dir).ctx(|| format!("creating {}", ctx.out_dir.display()))?;
    cache::copy_atomic(&dir.join("tinilinux.iso"), &out)?;
    let size = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!(
        "{} ({:.2} MiB)",
        out.display(),
        size as f64 / (1024.0 * 1024.0)
    ));
    Ok(out)
}
