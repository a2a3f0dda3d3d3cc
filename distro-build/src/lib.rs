//! distro-build — builds TiniLinux from Debian's source packages, as a library.
//!
//! Module map (each module's own doc comment says what it owns):
//! - [`tree`]: the rootfs as data (paths, owners, modes, device nodes); every output is
//!   written from one [`tree::RootfsTree`].
//! - [`context`]: where outputs and caches live, and the reproducibility clock.
//! - [`disk`]: the installed-on-a-disk image (GPT, ESP, ext4, GRUB, switch_root initramfs)
//!   and the live system's installer.
//! - [`oci`]: the rootfs tarball, OCI image layouts/archives, and the image in the rootfs's
//!   own tinibox store.

pub mod context;
pub mod disk;
pub mod oci;
pub mod tree;
