//! distro-build — builds TiniLinux from Debian's source packages, as a library.
//!
//! Module map (each module's own doc comment says what it owns):
//! - [`pipeline`]: which stage gets which input; every output made once per process, for
//!   `all` and for single stages alike.
//! - [`tree`]: the rootfs as data (paths, owners, modes, device nodes); every output is
//!   written from one [`tree::RootfsTree`].
//! - [`context`]: where outputs and caches live, and the reproducibility clock.
//! - [`epoch`]: SOURCE_DATE_EPOCH and every date format the outputs print it in.
//! - [`error`]: the error type of every stage.
//! - [`cache`]: cache keys and atomic publication of artifacts.
//! - [`runner`]: running host tools with logs, host-tool checks, stage timing.
//! - [`lock`]: `distro-build/sources.lock` (pinned versions and sha256).
//! - [`debian`]: Debian packages at their pinned versions: download, check, unpack, fallback.
//! - [`target`]: the machine built for, as data (kernel arch, Rust triple, GRUB, QEMU, …).
//! - [`sources`]: the kernel and BusyBox sources from Debian, verified and unpacked.
//! - [`kconfig`]: config fragments, merging, dropped-option and feature checks.
//! - [`kernel`]: fragments → `.config` → bzImage.
//! - [`busybox`]: static BusyBox from a config fragment.
//! - [`component`]: the component trait (fetch, build, install into the tree).
//! - [`tinibox_static`]: the static tinibox binary (and the static cargo build apk shares).
//! - [`apk_static`]: the static apk, Alpine's repositories, keys and an empty database.
//! - [`dropbear`]: the static Dropbear SSH server (and dbclient, scp) from Debian's source.
//! - [`ca_certificates`]: the CA bundle (`/etc/ssl/certs/ca-certificates.crt`) from Debian's
//!   pinned ca-certificates.
//! - [`ssh`]: root's authorized SSH keys baked into the live tree (`--ssh-authorized-keys`).
//! - [`toolchain`]: the target's C toolchain (musl: the host's musl-gcc, or a cross gcc with the target's musl).
//! - [`rootfs`]: the live rootfs tree (skeleton + BusyBox + tinibox + apk + device nodes).
//! - [`initramfs`]: the cpio newc writer (hard links, fixed mtimes) and its compression.
//! - [`boot`]: GRUB images and EFI system partitions, shared by the ISO and the disk.
//! - [`iso`]: the hybrid BIOS + UEFI ISO.
//! - [`qemu`]: booting the ISO in QEMU.
//! - [`disk`]: the installed-on-a-disk image (GPT, ESP, ext4, GRUB, switch_root initramfs)
//!   and the live system's installer.
//! - [`source_bundle`]: `out/source/`, the Debian source packages of everything shipped.
//! - [`provenance`]: the SPDX SBOMs (`out/tinilinux.spdx.json` and each image's).
//! - [`oci`]: the rootfs tarball, OCI image layouts/archives, and the image in the rootfs's
//!   own tinibox store (images helper).

pub mod apk_static;
pub mod boot;
pub mod busybox;
pub mod ca_certificates;
pub mod cache;
pub mod component;
pub mod context;
pub mod debian;
pub mod disk;
pub mod dropbear;
pub mod epoch;
pub mod error;
pub mod initramfs;
pub mod iso;
pub mod kconfig;
pub mod kernel;
pub mod kernel_patches;
pub mod lock;
pub mod musl;
pub mod oci;
pub mod pipeline;
pub mod provenance;
pub mod qemu;
pub mod rootfs;
pub mod runner;
pub mod services;
pub mod source_bundle;
pub mod sources;
pub mod ssh;
pub mod target;
pub mod tinibox_static;
pub mod toolchain;
pub mod tree;
