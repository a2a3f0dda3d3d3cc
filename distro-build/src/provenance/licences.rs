//! Declared licences of the Debian packages TiniLinux uses, as SPDX expressions.
//!
//! Debian's `debian/copyright` files are machine-readable only in part (and glibc's is prose),
//! so the SBOM does not parse them: this table records, for the few packages the outputs
//! carry, the expression read by hand from each package's `/usr/share/doc/PKG/copyright`
//! (bookworm versions), with a note saying what the expression leaves out. A binary package
//! is looked up by its own name first (libuuid1 is BSD-3-Clause while util-linux as a whole is
//! not), then by its source package. A package missing here gets `NOASSERTION` and a comment
//! saying so: nothing is guessed.

/// (package, SPDX expression or `NOASSERTION`, note).
const TABLE: &[(&str, &str, &str)] = &[
    (
        "linux-source-6.1",
        "GPL-2.0-only",
        "the kernel's COPYING: GPL-2.0-only, user-space API headers with the Linux-syscall-note; \
         individual files may also carry compatible licences",
    ),
    ("linux", "GPL-2.0-only", "the kernel's COPYING"),
    ("busybox", "GPL-2.0-only", "BusyBox's LICENSE"),
    (
        "ca-certificates",
        "MPL-2.0 AND GPL-2.0-or-later",
        "debian/copyright: mozilla/certdata.txt (the certificates) MPL-2.0; Debian's scripts and \
         packaging GPL-2+",
    ),
    (
        "dropbear",
        "MIT AND BSD-2-Clause AND BSD-3-Clause AND Unlicense",
        "Dropbear's LICENSE and debian/copyright: Files: * MIT; libtomcrypt/ and libtommath/ \
         public domain (LibTomMath's text is the Unlicense); loginrec, atomicio, progressmeter \
         BSD-2-clause; compat.c, dbutil.c, scp.c parts BSD-3-clause; sshpty.c and scp.c carry \
         OpenSSH's own permissive notice, which has no SPDX identifier",
    ),
    (
        "grub2",
        "GPL-3.0-or-later",
        "debian/copyright: Files: * GPL-3+; a few files under other GPL-compatible licences",
    ),
    (
        "util-linux",
        "GPL-2.0-or-later AND LGPL-2.1-or-later AND BSD-3-Clause",
        "debian/copyright's main licences (programs GPL-2+, libraries LGPL-2.1+, libuuid \
         BSD-3-clause); a few programs not shipped here carry others",
    ),
    (
        "fdisk",
        "GPL-2.0-or-later",
        "util-linux's debian/copyright, Files: *",
    ),
    (
        "libfdisk1",
        "LGPL-2.1-or-later",
        "util-linux's debian/copyright, Files: libfdisk/*",
    ),
    (
        "libsmartcols1",
        "LGPL-2.1-or-later",
        "util-linux's debian/copyright, Files: libsmartcols/*",
    ),
    (
        "libblkid1",
        "LGPL-2.1-or-later",
        "util-linux's debian/copyright, Files: libblkid/*",
    ),
    (
        "libuuid1",
        "BSD-3-Clause",
        "util-linux's debian/copyright, Files: libuuid/*",
    ),
    (
        "e2fsprogs",
        "GPL-2.0-only AND LGPL-2.0-only AND BSD-3-Clause",
        "debian/copyright: programs GPL-2, lib/ext2fs LGPL-2, lib/uuid BSD-3-Clause; e2fsprogs' \
         NOTICE puts lib/et and lib/ss under an MIT-style licence with no exact SPDX identifier",
    ),
    (
        "libext2fs2",
        "LGPL-2.0-only",
        "e2fsprogs' debian/copyright, Files: lib/ext2fs/*",
    ),
    (
        "libcom-err2",
        "NOASSERTION",
        "lib/et: e2fsprogs' NOTICE says MIT-style, its debian/copyright lists it under Files: * \
         (GPL-2); not concluded",
    ),
    (
        "glibc",
        "LGPL-2.1-or-later AND GPL-2.0-or-later",
        "debian/copyright (prose): the library LGPL-2.1+, its utilities GPL-2+; parts under \
         other free licences it lists",
    ),
    (
        "ncurses",
        "X11-distribute-modifications-variant",
        "ncurses' own licence (Debian's MIT/X11); a few files BSD-3-Clause",
    ),
    ("readline", "GPL-3.0-or-later", "debian/copyright, Files: *"),
    (
        "musl",
        "MIT",
        "musl's COPYRIGHT and Debian's debian/copyright, Files: *",
    ),
];

/// The declared licence of Debian package `package` (built from source package `source`):
/// (SPDX expression or `NOASSERTION`, note for the SBOM comment).
pub fn debian(package: &str, source: &str) -> (String, String) {
    TABLE
        .iter()
        .find(|(p, _, _)| *p == package)
        .or_else(|| TABLE.iter().find(|(p, _, _)| *p == source))
        .map(|(_, expr, note)| (expr.to_string(), format!("licence: {note}")))
        .unwrap_or_else(|| {
            (
                "NOASSERTION".to_string(),
                format!(
                    "licence: not recorded for {package} (source {source}) in \
                     distro-build/src/provenance/licences.rs; see its debian/copyright"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_name_first_then_source_then_noassertion() {
        assert_eq!(debian("libuuid1", "util-linux").0, "BSD-3-Clause");
        assert_eq!(debian("grub-pc-bin", "grub2").0, "GPL-3.0-or-later");
        let (expr, note) = debian("something-new", "elsewhere");
        assert_eq!(expr, "NOASSERTION");
        assert!(note.contains("something-new"), "{note}");
    }
}
