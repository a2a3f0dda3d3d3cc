//! The kernel stage: `allnoconfig` + the target's fragments in `kernel-configs/` → `.config`
//! (checked: every requested option kept, tinibox's required features on) → the target's
//! image (`bzImage` on x86_64, `Image.gz` on arm64, cross-compiled with the target's
//! `CROSS_COMPILE`) from the same pinned source.
//! The tree carries `kernel-patches/` ([`crate::kernel_patches`]); the result is cached under
//! a key of the tarball's sha256, the fragments, the target's patches and this recipe;
//! the out-of-tree build folder is kept so a changed fragment rebuilds incrementally.
//! It does not fetch sources ([`crate::sources`]) and knows nothing of the rootfs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, KeyBuilder};
use crate::context::Context;
use crate::epoch::Epoch;
use crate::error::{Error, IoContext, Result};
use crate::kconfig;
use crate::kernel_patches::{self, Patch};
use crate::runner::{self, jobs, run_logged, run_logged_progress, Stage};
use crate::sources::KernelSource;
use crate::target::Target;
use tinibox::check::{Feature, Level};

/// Bumped whenever the way the kernel is configured or built changes.
const RECIPE: u32 = 3;
/// The base configuration the fragments are applied on.
const BASE: &str = "allnoconfig";
/// Extra compiler flags (kbuild's `KCFLAGS`). The kernel is built for size (`-Os`), and then
/// GCC expands `memcpy`/`memset` inline as `rep movsb`/`rep stosb`, one byte per step. On a
/// CPU without fast string operations that is slow, and under QEMU's TCG every byte stored
/// into a page that once held executed code is checked against the translated code: after
/// OVMF, whose drivers ran in the pages the kernel later gives to the initramfs, unpacking
/// took 2.4× as long as after SeaBIOS, and poisoning the freed `__init` code cost 0.15 s on
/// both. Eight bytes per step keeps `-Os`'s size (+20 KB) and took 0.3 s off the OVMF boot.
/// How a target's image is compressed when distro-build does it (`kernel_xz`): xz's CRC32
/// check and no branch filter, the two things GRUB's xz decoder (`xzio`) handles, and an 8 MiB
/// dictionary, which holds the whole arm64 `Image` (so `-9`'s 64 MiB would gain nothing and
/// only make the decoder allocate more). Single-threaded: the same bytes on every machine.
pub const XZ_ARGS: &[&str] = &[
    "--format=xz",
    "--check=crc32",
    "--lzma2=preset=9e,dict=8MiB",
    "--threads=1",
    "--stdout",
];

/// Only x86_64's GCC knows the flag: it is that target's `kernel_cflags`.
pub const X86_KCFLAGS: &str = "-mstringop-strategy=rep_8byte";

/// The folder holding the kernel config fragments.
pub fn fragments_dir(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("kernel-configs")
}

/// The fragments of `ctx`'s target (see [`crate::target::Target::kernel_fragments`]), as
/// `(name, text)`: a folder's files named `folder/file` (the top level's by file name alone,
/// as before there were folders). Errors: a listed path that does not exist or is empty.
pub fn read_target_fragments(ctx: &Context) -> Result<Vec<(String, String)>> {
    let dir = fragments_dir(ctx);
    let mut out = Vec::new();
    for entry in ctx.target.kernel_fragments {
        let path = dir.join(entry);
        if path.is_dir() {
            for (name, text) in kconfig::read_fragments(&path)? {
                let name = match *entry {
                    "." => name,
                    folder => format!("{folder}/{name}"),
                };
                out.push((name, text));
            }
        } else {
            let text = fs::read_to_string(&path).ctx(|| format!("reading {}", path.display()))?;
            out.push((entry.to_string(), text));
        }
    }
    Ok(out)
}

/// The cache key of the kernel built for `target` (its `ARCH=`, `KCFLAGS`, cross compiler)
/// from `linux_sha256` with `patches` applied and `fragments`, stamped with `epoch`
/// (SOURCE_DATE_EPOCH). No patches leave the key as it was before patches existed.
pub fn cache_key(
    linux_sha256: &str,
    patches: &[Patch],
    fragments: &[(String, String)],
    epoch: Epoch,
    target: &Target,
) -> String {
    let mut key = KeyBuilder::new("kernel", RECIPE);
    let arch = target.kernel_arch;
    key.bytes("linux-sha256", linux_sha256.as_bytes())
        .bytes("epoch", &epoch.key_bytes())
        .bytes("base", BASE.as_bytes())
        .bytes("arch", arch.as_bytes())
        .bytes("kcflags", target.kernel_cflags.as_bytes());
    if !target.cross_compile.is_empty() {
        key.bytes("cross-compile", target.cross_compile.as_bytes())
            .bytes("image", target.kernel_file().as_bytes())
            .bytes("xz", XZ_ARGS.join(" ").as_bytes());
    }
    for patch in patches {
        key.bytes(&format!("patch/{}", patch.name), patch.text.as_bytes());
    }
    for (name, text) in fragments {
        key.bytes(&format!("fragment/{name}"), text.as_bytes());
    }
    key.finish()
}

/// Builds (or takes from the cache) the kernel from the fetched `source` and returns the
/// path of its image (`bzImage`, `Image.gz`: [`crate::target::Target::kernel_file`]). The
/// kernel's `.config` sits beside it as `config`. Errors: the cross compiler missing (names
/// the Debian package), a dropped option, a failed `make` (its log named).
pub fn build(ctx: &Context, source: &KernelSource) -> Result<PathBuf> {
    let target = ctx.target;
    let image = target.kernel_file();
    let make_target = target.kernel_make_target();
    let stage = Stage::start(
        "kernel",
        &format!(
            "Linux 6.1 ARCH={}: allnoconfig + kernel-configs fragments → {image}",
            target.kernel_arch
        ),
    );
    let fragments = read_target_fragments(ctx)?;
    let epoch = ctx.epoch_of(target.kernel_epoch_inputs);
    let arch = target.kernel_arch;
    let patches = kernel_patches::select(&source.patches, target.kernel_patches)?;
    let key = cache_key(&source.sha256, &patches, &fragments, epoch, &target);
    if let Some(dir) = cache::lookup(ctx, "kernel", &key) {
        stage.done(&format!("cached ({key})"));
        return Ok(dir.join(&image));
    }
    if !target.cross_compile.is_empty() {
        crate::runner::require_tool(&format!("{}gcc", target.cross_compile))?;
    }
    let requests = kconfig::merge(&fragments)?;
    // One build folder per architecture, so switching --arch does not rebuild from scratch.
    let build_dir = ctx.build_dir("linux");
    fs::create_dir_all(&build_dir).ctx(|| format!("creating {}", build_dir.display()))?;
    let log = ctx.log_path("kernel");
    let _ = fs::remove_file(&log);
    let merged = build_dir.join("tinilinux-fragments.config");
    fs::write(&merged, kconfig::render(&requests))
        .ctx(|| format!("writing {}", merged.display()))?;

    // The version banner (`uname -v`, /proc/version) takes its date, user and host from
    // these instead of the clock and the build machine, so two builds give the same bzImage.
    let stamp = epoch.rfc3339();
    let make = |args: &[&str]| {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&source.tree)
            .arg(format!("O={}", build_dir.display()))
            .arg(format!("ARCH={arch}"))
            .args(
                (!target.cross_compile.is_empty())
                    .then(|| format!("CROSS_COMPILE={}", target.cross_compile)),
            )
            .args(args)
            .env("KBUILD_BUILD_TIMESTAMP", &stamp)
            .env("KBUILD_BUILD_USER", "tinilinux")
            .env("KBUILD_BUILD_HOST", "distro-build")
            .env("KBUILD_BUILD_VERSION", "1")
            .env("KCFLAGS", target.kernel_cflags);
        cmd
    };
    stage.note(&format!(
        "configuring: {BASE} + {} fragments ({} options)",
        fragments.len(),
        requests.len()
    ));
    run_logged(
        "kernel configuration (make allnoconfig)",
        make(&[BASE]).env("KCONFIG_ALLCONFIG", &merged),
        &log,
    )?;
    let config_path = build_dir.join(".config");
    let config =
        fs::read_to_string(&config_path).ctx(|| format!("reading {}", config_path.display()))?;
    check_config(&source.tree, &requests, &config, &stage)?;
    // The kernel's own built-in initramfs (/dev/console, /root) is dated when it is made and
    // make does not redo it when only the build date changes: make it again in a reused tree.
    runner::remove_stale(&build_dir.join("usr/initramfs_data.cpio"))?;

    stage.note(&format!(
        "make -j{} {make_target} (log: {})",
        jobs(),
        log.display()
    ));
    run_logged_progress(
        &format!("kernel build (make {make_target})"),
        &mut make(&[&format!("-j{}", jobs()), make_target]),
        &log,
    )?;
    let built = build_dir.join(target.kernel_image);
    let dir = cache::publish(ctx, "kernel", &key, |tmp| {
        if target.kernel_xz {
            let out = fs::File::create(tmp.join(&image))
                .ctx(|| format!("creating {}", tmp.join(&image).display()))?;
            let status = Command::new("xz")
                .args(XZ_ARGS)
                .arg(&built)
                .stdout(out)
                .status()
                .ctx(|| "starting xz (package xz-utils)")?;
            if !status.success() {
                return Err(Error::Invalid(format!(
                    "xz {} failed ({status})",
                    built.display()
                )));
            }
        } else {
            fs::copy(&built, tmp.join(&image)).ctx(|| format!("copying {}", built.display()))?;
        }
        fs::write(tmp.join("config"), &config).ctx(|| "writing the kernel config copy")?;
        Ok(())
    })?;
    let size = fs::metadata(dir.join(&image)).map(|m| m.len()).unwrap_or(0);
    stage.done(&format!("{image} {} KiB ({key})", size / 1024));
    Ok(dir.join(&image))
}

/// Fails when an option was dropped or a required tinibox feature is off; warns about
/// optional features that are off.
pub fn check_config(
    src: &Path,
    requests: &[kconfig::Request],
    config: &str,
    stage: &Stage,
) -> Result<()> {
    let dropped = kconfig::dropped(requests, config);
    if !dropped.is_empty() {
        return Err(Error::Config(format!(
            "the kernel config dropped {} requested option(s):\n  {}\nfix the fragment in kernel-configs/ (add the missing dependencies or remove the option)",
            dropped.len(),
            kconfig::explain(src, &dropped)
        )));
    }
    let parsed = tinibox::check::KernelConfig::parse(Path::new(".config"), config);
    let missing: Vec<Feature> = tinibox::check::check_config(&parsed)
        .into_iter()
        .filter(|status| status.satisfied_by.is_none())
        .map(|status| status.feature)
        .collect();
    let (required, optional): (Vec<_>, Vec<_>) =
        missing.iter().partition(|f| f.level == Level::Required);
    for f in &optional {
        stage.note(&format!(
            "optional tinibox feature off: {} ({})",
            f.options.join("|"),
            f.description
        ));
    }
    if !required.is_empty() {
        let list: Vec<String> = required
            .iter()
            .map(|f| format!("{} ({})", f.options.join("|"), f.description))
            .collect();
        return Err(Error::Config(format!(
            "the kernel config lacks features tinibox requires (tinibox/src/check/kernel-features.txt):\n  {}\nadd them to kernel-configs/containers.config",
            list.join("\n  ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_tarball_and_every_fragment() {
        let frags = vec![
            ("base.config".to_string(), "CONFIG_A=y\n".to_string()),
            ("virt.config".to_string(), "CONFIG_B=y\n".to_string()),
        ];
        let e = Epoch::from_secs(0);
        let key = |sha: &str, frags: &[(String, String)], e: Epoch| {
            cache_key(sha, &[], frags, e, &Target::X86_64)
        };
        let k = key("aaaa", &frags, e);
        assert_eq!(k, key("aaaa", &frags, e));
        assert_ne!(k, key("bbbb", &frags, e));
        assert_ne!(k, key("aaaa", &frags, Epoch::from_secs(1)));
        assert_ne!(k, cache_key("aaaa", &[], &frags, e, &Target::ARM64));
        let patch = Patch {
            name: "p.patch".into(),
            text: "x".into(),
        };
        let patched = cache_key(
            "aaaa",
            std::slice::from_ref(&patch),
            &frags,
            e,
            &Target::X86_64,
        );
        assert_ne!(k, patched);
        let changed_patch = Patch {
            text: "y".into(),
            ..patch
        };
        assert_ne!(
            patched,
            cache_key("aaaa", &[changed_patch], &frags, e, &Target::X86_64)
        );
        let mut changed = frags.clone();
        changed[1].1 = "CONFIG_B=n\n".into();
        assert_ne!(k, key("aaaa", &changed, e));
        let mut added = frags.clone();
        added.push(("storage.config".into(), String::new()));
        assert_ne!(k, key("aaaa", &added, e));
    }
}
