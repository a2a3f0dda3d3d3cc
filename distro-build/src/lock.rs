//! The sources lock file (`distro-build/sources.lock`): which Debian package versions and
//! files the build uses, with their sha256. Parsing and lookup only; verifying files on disk
//! is [`crate::sources`]'s job.

use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// One pinned file of one source package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The Debian package name (binary `linux-source-6.1` or source `busybox`).
    pub package: String,
    /// The exact Debian version.
    pub version: String,
    /// The file name.
    pub file: String,
    /// Its sha256, lowercase hex.
    pub sha256: String,
}

/// The whole lock file.
#[derive(Debug, Clone, Default)]
pub struct Lock {
    /// Every pinned file, in file order.
    pub pins: Vec<Pin>,
}

impl Lock {
    /// Reads the lock file at `path`.
    pub fn load(path: &Path) -> Result<Lock> {
        let text = std::fs::read_to_string(path)
            .ctx(|| format!("reading lock file {}", path.display()))?;
        Lock::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// Parses `PACKAGE VERSION FILE SHA256` lines; `#` starts a comment.
    pub fn parse(text: &str) -> std::result::Result<Lock, String> {
        let mut pins = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [package, version, file, sha256] = fields[..] else {
                return Err(format!(
                    "line {}: expected PACKAGE VERSION FILE SHA256",
                    n + 1
                ));
            };
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("line {}: {sha256:?} is not a sha256", n + 1));
            }
            pins.push(Pin {
                package: package.into(),
                version: version.into(),
                file: file.into(),
                sha256: sha256.to_ascii_lowercase(),
            });
        }
        Ok(Lock { pins })
    }

    /// The pins of `package` (an error naming the lock file when there are none).
    pub fn package(&self, package: &str) -> Result<Vec<&Pin>> {
        let pins: Vec<&Pin> = self.pins.iter().filter(|p| p.package == package).collect();
        if pins.is_empty() {
            return Err(Error::Invalid(format!(
                "sources.lock pins nothing for package {package}"
            )));
        }
        Ok(pins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pins_and_refuses_bad_lines() {
        let sha = "a".repeat(64);
        let lock = Lock::parse(&format!("# c\n\nbusybox 1:1.35 f.dsc {sha}\n")).unwrap();
        assert_eq!(lock.pins.len(), 1);
        assert_eq!(lock.package("busybox").unwrap()[0].file, "f.dsc");
        assert!(lock.package("linux").is_err());
        assert!(Lock::parse("busybox 1 f").is_err());
        assert!(Lock::parse("busybox 1 f nothex").is_err());
    }
}
