//! `kernel-features.txt` parsed: `LEVEL OPTION[|OPTION…] DESCRIPTION` per line, `#` comments.
//!
//! The file is compiled in (include_str!) so the binary and distro-build read the same list.
//! Must not read the running system.

/// The list as shipped.
pub const KERNEL_FEATURES_TXT: &str = include_str!("kernel-features.txt");

/// How much a feature matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Containers cannot run without it.
    Required,
    /// A flag or feature degrades without it.
    Optional,
}

/// One kernel feature: any one of `options` satisfies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// Required or optional.
    pub level: Level,
    /// Alternative config options, e.g. `["CONFIG_CGROUP_DEVICE", "CONFIG_CGROUP_BPF"]`.
    pub options: Vec<String>,
    /// What the feature is for.
    pub description: String,
}

/// Parses a feature list in the `kernel-features.txt` format; lines that do not parse are
/// reported as errors with their line number.
pub fn parse(text: &str) -> Result<Vec<Feature>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let level = match parts.next() {
            Some("required") => Level::Required,
            Some("optional") => Level::Optional,
            other => return Err(format!("line {}: unknown level {other:?}", n + 1)),
        };
        let options: Vec<String> = parts
            .next()
            .unwrap_or("")
            .split('|')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        if options.is_empty() || options.iter().any(|o| !o.starts_with("CONFIG_")) {
            return Err(format!("line {}: expected CONFIG_ options", n + 1));
        }
        let description = parts.next().unwrap_or("").trim().to_string();
        out.push(Feature {
            level,
            options,
            description,
        });
    }
    Ok(out)
}

/// Every feature of the shipped list (required and optional), in file order.
pub fn kernel_features() -> Vec<Feature> {
    // The shipped file is checked by a unit test, so it always parses.
    parse(KERNEL_FEATURES_TXT).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_parses() {
        let list = parse(KERNEL_FEATURES_TXT).unwrap();
        assert!(list.len() > 20);
        assert!(list
            .iter()
            .any(|f| f.level == Level::Required && f.options == vec!["CONFIG_PID_NS"]));
        assert!(list.iter().any(|f| f.options.len() == 2));
        assert!(parse("maybe CONFIG_X x").is_err());
        assert!(parse("required X x").is_err());
    }
}
