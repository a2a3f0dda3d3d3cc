//! Reading a kernel config: `/proc/config.gz` (gzip, flate2), `/boot/config-$(uname -r)`, or a
//! given file, into a map of `CONFIG_X → y|m|value`.
//!
//! Reads files only.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A parsed kernel config and where it came from.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    /// The file it was read from.
    pub source: PathBuf,
    values: HashMap<String, String>,
}

impl KernelConfig {
    /// Parses `.config` text (`CONFIG_X=y`, `# CONFIG_X is not set`).
    pub fn parse(source: &Path, text: &str) -> Self {
        let values = text
            .lines()
            .filter(|l| l.starts_with("CONFIG_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        KernelConfig {
            source: source.to_path_buf(),
            values,
        }
    }

    /// Reads a config file; gzip-compressed when its name ends in `.gz`.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut s)?;
            s
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Ok(Self::parse(path, &text))
    }

    /// Finds the running kernel's config: /proc/config.gz, then /boot/config-RELEASE.
    pub fn running() -> Result<Self, String> {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let candidates = [
            PathBuf::from("/proc/config.gz"),
            PathBuf::from(format!("/boot/config-{release}")),
            PathBuf::from(format!("/lib/modules/{release}/build/.config")),
        ];
        for c in &candidates {
            if let Ok(cfg) = Self::read(c) {
                return Ok(cfg);
            }
        }
        Err(format!(
            "no kernel config found (tried {}) — enable CONFIG_IKCONFIG_PROC or pass --config FILE",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Whether an option is built in (`y`) or a module (`m`).
    pub fn enabled(&self, option: &str) -> bool {
        matches!(self.values.get(option).map(String::as_str), Some("y" | "m"))
    }

    /// The raw value of an option, if set.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values.get(option).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_and_gzip() {
        let text = "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n";
        let c = KernelConfig::parse(Path::new("x"), text);
        assert!(c.enabled("CONFIG_A") && c.enabled("CONFIG_B"));
        assert!(!c.enabled("CONFIG_C") && !c.enabled("CONFIG_D"));
        assert_eq!(c.value("CONFIG_D"), Some("x"));
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("config.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, e.finish().unwrap()).unwrap();
        assert!(KernelConfig::read(&gz).unwrap().enabled("CONFIG_B"));
    }
}
