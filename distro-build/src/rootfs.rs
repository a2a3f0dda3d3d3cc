//! The base root filesystem as one [`RootfsTree`]: the standard empty folders, every
//! [`Component`]'s files (static BusyBox with its applet links, the static tinibox), the
//! device nodes the kernel needs before devtmpfs (/dev/console, /dev/null) and, laid over
//! them, the skeleton of plain files in `distro-build/rootfs/`. It writes nothing to disk: the
//! initramfs, tarball, OCI and disk writers take the tree from here.

use std::path::PathBuf;

use crate::component::Component;
use crate::context::Context;
use crate::error::Result;
use crate::tree::{Entry, RootfsTree};

/// Folders every TiniLinux root has, with their modes.
const DIRECTORIES: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("dev", 0o755),
    ("etc/network/if-pre-up.d", 0o755),
    ("etc/network/if-up.d", 0o755),
    ("etc/network/if-down.d", 0o755),
    ("etc/network/if-post-down.d", 0o755),
    ("home", 0o755),
    ("mnt", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("run", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("var/lib", 0o755),
    ("var/log", 0o755),
    ("var/tmp", 0o1777),
];

/// Files whose mode must not follow the checkout's permission bits.
const MODES: &[(&str, u32)] = &[("etc/shadow", 0o600)];

/// The skeleton folder in the repository.
pub fn skeleton_dir(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("distro-build/rootfs")
}

/// Assembles the rootfs: the folders, each of `components` installed (built first when
/// needed), the device nodes, then the skeleton.
pub fn assemble(ctx: &Context, components: &[&dyn Component]) -> Result<RootfsTree> {
    let names: Vec<&str> = components.iter().map(|c| c.name()).collect();
    let what = format!("skeleton + {} + device nodes", names.join(" + "));
    let stage = crate::runner::Stage::start("rootfs", &what);
    let mut tree = RootfsTree::new();
    for (dir, mode) in DIRECTORIES {
        tree.insert(dir, Entry::dir(*mode))?;
    }
    for component in components {
        component.install(ctx, &mut tree)?;
    }
    tree.insert("dev/console", Entry::char_device(5, 1, 0o600))?;
    tree.insert("dev/null", Entry::char_device(1, 3, 0o666))?;
    // The skeleton last: its files win over applet links of the same name.
    let skeleton = skeleton_dir(ctx);
    tree.add_host_dir(&skeleton, "")?;
    serial_console_for_target(ctx, &mut tree)?;
    // Git keeps only 644/755; restore the modes that matter, re-assert folder modes the
    // skeleton may have overwritten, and drop placeholders.
    for (path, mode) in MODES.iter().chain(DIRECTORIES.iter()) {
        if let Some(entry) = tree.get(path).cloned() {
            tree.insert(
                path,
                Entry {
                    mode: *mode,
                    ..entry
                },
            )?;
        }
    }
    let placeholders: Vec<PathBuf> = tree
        .iter()
        .filter(|(p, _)| p.file_name().is_some_and(|n| n == ".keep"))
        .map(|(p, _)| p.to_path_buf())
        .collect();
    for p in placeholders {
        tree.remove(&p)?;
    }
    stage.done(&format!("{} entries", tree.len()));
    Ok(tree)
}

/// The serial console the skeleton's `/etc/inittab` opens a shell on is the PC's `ttyS0`;
/// another target's (arm64's PL011, `ttyAMA0`) replaces it there.
fn serial_console_for_target(ctx: &Context, tree: &mut RootfsTree) -> Result<()> {
    let device = ctx.target.serial_device();
    if device == "ttyS0" {
        return Ok(());
    }
    let Some(entry) = tree.get("etc/inittab").cloned() else {
        return Ok(());
    };
    let crate::tree::EntryKind::File(data) = &entry.kind else {
        return Ok(());
    };
    let text =
        String::from_utf8_lossy(&data.read()?).replace("\nttyS0::", &format!("\n{device}::"));
    tree.insert(
        "etc/inittab",
        crate::tree::Entry {
            kind: crate::tree::EntryKind::File(crate::tree::FileData::Bytes(text.into_bytes())),
            ..entry
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::busybox::{BusyBox, BusyBoxComponent};
    use crate::tinibox_static::TiniboxComponent;
    use crate::tree::EntryKind;
    use std::path::Path;

    #[test]
    fn assembles_skeleton_busybox_tinibox_and_nodes() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let ctx = Context::from_env(repo);
        let bb = BusyBoxComponent::prebuilt(BusyBox {
            binary: PathBuf::from("/bin/busybox"),
            applets: vec!["bin/sh".into(), "sbin/init".into(), "bin/busybox".into()],
        });
        let tb = TiniboxComponent::prebuilt(PathBuf::from("/bin/true"));
        let tree = assemble(&ctx, &[&bb, &tb]).unwrap();
        assert_eq!(
            tree.get("bin/sh").unwrap().kind,
            EntryKind::Symlink("/bin/busybox".into())
        );
        assert!(matches!(
            tree.get("bin/busybox").unwrap().kind,
            EntryKind::File(_)
        ));
        assert!(matches!(
            tree.get("usr/bin/tinibox").unwrap().kind,
            EntryKind::File(_)
        ));
        assert_eq!(
            tree.get("dev/console").unwrap().kind,
            EntryKind::CharDevice { major: 5, minor: 1 }
        );
        assert_eq!(tree.get("etc/shadow").unwrap().mode, 0o600);
        assert_eq!(tree.get("tmp").unwrap().mode, 0o1777);
        assert_eq!(tree.get("init").unwrap().mode, 0o755);
        assert!(tree.get("etc/inittab").is_some());
        assert!(tree.iter().all(|(p, _)| !p.ends_with(".keep")));
    }

    /// Every file of the skeletons (the live root and the disk's early boot, installer and
    /// shutdown scripts) is ASCII: their text reaches the screen's console (banner, MOTD,
    /// issue, messages), whose font draws nothing else (an em dash showed as a box).
    #[test]
    fn skeleton_text_is_ascii_for_the_console_font() {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
                if kind.is_dir() {
                    walk(&path, out);
                } else if kind.is_file() {
                    out.push(path);
                }
            }
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        walk(&repo.join("rootfs"), &mut files);
        walk(&repo.join("rootfs-disk"), &mut files);
        assert!(files.len() > 5, "{files:?}");
        for file in files {
            let text = std::fs::read(&file).unwrap();
            if let Some(at) = text.iter().position(|b| !b.is_ascii()) {
                let line = text[..at].iter().filter(|b| **b == b'\n').count() + 1;
                panic!("{}:{line} is not ASCII", file.display());
            }
        }
    }
}
