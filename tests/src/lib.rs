//! Shared helpers for the end-to-end tests in `tests/tests/`: paths to the built binaries and
//! outputs, a BusyBox rootfs built from Debian's busybox-static, and root/QEMU guards.
//!
//! Each test file owns one area (engine, images, runtime clients, boot, disk) and only
//! shares what is here. Nothing in this crate mocks the system under test.
