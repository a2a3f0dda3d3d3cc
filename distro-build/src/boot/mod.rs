//! Boot-loader pieces both media share, so each is made by one piece of code: the pinned
//! GRUB and the one `grub-mkimage` call ([`grub`]), a GRUB platform built from the pinned
//! source with TiniLinux's patches ([`grub_source`]), the disk's GRUB images, made once and
//! cached for the disk image and the installer alike ([`grub::disk_images`]), and the FAT
//! EFI system partition writer ([`esp`]) that makes the ISO's El Torito/appended ESP and the
//! disk's ESP. The ISO ([`crate::iso`]) and the disk ([`crate::disk`]) decide what goes on
//! their medium; this module decides how a GRUB image or an ESP is made.

pub mod esp;
pub mod grub;
pub mod grub_source;
