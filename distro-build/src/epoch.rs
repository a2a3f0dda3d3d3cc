//! The build's clock: SOURCE_DATE_EPOCH (<https://reproducible-builds.org/specs/source-date-epoch/>)
//! as one type, [`Epoch`], which owns every form an output prints it in: decimal seconds for
//! tools that read the variable, RFC 3339 for OCI, SPDX and the kernel's version banner,
//! ISO 9660's `YYYYMMDDhhmmsscc`, cpio's 32-bit mtime, a FAT volume id, cache-key bytes.
//! Stages never format dates themselves. It reads the environment and git, and nothing else.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// One instant, in whole seconds since 1970-01-01T00:00:00Z (UTC, no leap seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(u64);

impl Epoch {
    /// The date outside a git checkout with no `SOURCE_DATE_EPOCH`: 2026-01-01T00:00:00Z.
    pub const FALLBACK: Epoch = Epoch(1_767_225_600);

    /// The instant `secs` seconds after 1970.
    pub const fn from_secs(secs: u64) -> Epoch {
        Epoch(secs)
    }

    /// Seconds since 1970.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// `SOURCE_DATE_EPOCH` from the environment, when it is set to a number.
    pub fn from_env() -> Option<Epoch> {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map(Epoch)
    }

    /// The committer time of the last commit of `repo` that touched any of `paths` (relative
    /// to `repo`; all of it when empty), from `git log -1 --format=%ct`; None outside a git
    /// checkout, without git, or when no commit touched them.
    pub fn last_commit(repo: &Path, paths: &[&str]) -> Option<Epoch> {
        let out = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["log", "-1", "--format=%ct", "--"])
            .args(paths)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .ok()
            .map(Epoch)
    }

    /// The same instant, but at least 1 s after 1970: e2fsprogs (`E2FSPROGS_FAKE_TIME`),
    /// mtools and xorriso read 0 as "use the clock".
    pub fn nonzero(self) -> Epoch {
        Epoch(self.0.max(1))
    }

    /// The value of the `SOURCE_DATE_EPOCH` variable handed to tools (decimal seconds).
    pub fn env_value(self) -> String {
        self.0.to_string()
    }

    /// The bytes a cache key records (little-endian seconds).
    pub fn key_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }

    /// The instant as a [`SystemTime`] (for file modification times).
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0)
    }

    /// RFC 3339 in UTC with whole seconds (`2023-11-14T22:13:20Z`): OCI `created`, SPDX
    /// `created`, the tinibox store's records and kbuild's `KBUILD_BUILD_TIMESTAMP`.
    pub fn rfc3339(self) -> String {
        humantime::format_rfc3339_seconds(self.system_time()).to_string()
    }

    /// ISO 9660's 17-byte date without the time-zone byte, as xorriso's
    /// `--modification-date` takes it: `YYYYMMDDhhmmsscc` in UTC (cc: hundredths, 00).
    pub fn iso9660(self) -> String {
        let mut digits: String = self
            .rfc3339()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        digits.push_str("00");
        digits
    }

    /// cpio newc's 32-bit mtime. Errors: an instant after 2106-02-07 does not fit.
    pub fn cpio_mtime(self) -> Result<u32> {
        u32::try_from(self.0).map_err(|_| {
            Error::Invalid(format!(
                "SOURCE_DATE_EPOCH {} does not fit cpio's 32-bit mtime",
                self.0
            ))
        })
    }

    /// A FAT volume id (8 lowercase hex digits, `mkfs.vfat -i`): the low 32 bits.
    pub fn fat_volume_id(self) -> String {
        format!("{:08x}", self.0 & 0xffff_ffff)
    }
}

impl std::fmt::Display for Epoch {
    /// Decimal seconds, as SOURCE_DATE_EPOCH is written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_known_dates() {
        let leap = Epoch::from_secs(951_782_400);
        assert_eq!(Epoch::from_secs(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Epoch::from_secs(1_700_000_000).rfc3339(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(leap.rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Epoch::from_secs(0).iso9660(), "1970010100000000");
        assert_eq!(
            Epoch::from_secs(1_700_000_000).iso9660(),
            "2023111422132000"
        );
        assert_eq!(leap.iso9660(), "2000022900000000");
        assert_eq!(Epoch::from_secs(0).nonzero().secs(), 1);
        assert_eq!(leap.nonzero(), leap);
        assert_eq!(leap.env_value(), "951782400");
        assert_eq!(leap.to_string(), "951782400");
        assert_eq!(Epoch::from_secs(0x1_2345_6789).fat_volume_id(), "23456789");
        assert_eq!(leap.cpio_mtime().unwrap(), 951_782_400);
        assert!(Epoch::from_secs(1 << 32).cpio_mtime().is_err());
        assert_eq!(
            leap.system_time().duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_secs(951_782_400)
        );
    }
}
