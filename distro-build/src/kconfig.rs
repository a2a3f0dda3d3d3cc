//! Kconfig fragments as data: parsing, merging fragments (refusing conflicts), checking that
//! a produced `.config` (read with tinibox's parser, `tinibox::check::KernelConfig`) kept
//! every requested option, and finding why an option was dropped. tinibox's feature list is
//! checked by [`crate::kernel`] with tinibox's own code. It runs no build tool;
//! [`crate::kernel`] and [`crate::busybox`] do.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// One option request: `CONFIG_X=value`, or `n` for `# CONFIG_X is not set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The option name with its `CONFIG_` prefix.
    pub name: String,
    /// `y`, `m`, `n`, a number or a quoted string, exactly as written.
    pub value: String,
    /// Which fragment asked for it (file name).
    pub origin: String,
}

/// Parses the option lines of a config fragment; other lines are ignored.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") && !name.contains(' ') {
                    out.push((name.to_string(), "n".to_string()));
                }
            }
            continue;
        }
        if line.starts_with("CONFIG_") {
            if let Some((name, value)) = line.split_once('=') {
                out.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
    }
    out
}

/// Merges fragments given as `(origin, text)` in order. The same option asked twice with the
/// same value is fine; with different values it is an error naming both fragments.
pub fn merge(fragments: &[(String, String)]) -> Result<Vec<Request>> {
    let mut by_name: BTreeMap<String, Request> = BTreeMap::new();
    let mut order = Vec::new();
    let mut conflicts = Vec::new();
    for (origin, text) in fragments {
        for (name, value) in parse(text) {
            match by_name.get(&name) {
                Some(prev) if prev.value != value => conflicts.push(format!(
                    "{name}: {}={} but {origin}={value}",
                    prev.origin, prev.value
                )),
                Some(_) => {}
                None => {
                    order.push(name.clone());
                    by_name.insert(
                        name.clone(),
                        Request {
                            name,
                            value,
                            origin: origin.clone(),
                        },
                    );
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::Config(format!(
            "config fragments disagree:\n  {}",
            conflicts.join("\n  ")
        )));
    }
    Ok(order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .collect())
}

/// Renders merged requests as one fragment (the input for `KCONFIG_ALLCONFIG`).
pub fn render(requests: &[Request]) -> String {
    let mut out = String::new();
    for r in requests {
        if r.value == "n" {
            out.push_str(&format!("# {} is not set\n", r.name));
        } else {
            out.push_str(&format!("{}={}\n", r.name, r.value));
        }
    }
    out
}

/// Reads the fragments `*.config` in `dir`, sorted by file name.
pub fn read_fragments(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .ctx(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "config") && p.is_file())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Invalid(format!(
            "no *.config fragments in {}",
            dir.display()
        )));
    }
    names
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).ctx(|| format!("reading {}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, text))
        })
        .collect()
}

/// An option a fragment asked for that the produced `.config` does not have as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The request.
    pub request: Request,
    /// What the `.config` has instead (`n` when absent).
    pub actual: String,
}

/// Every request the `.config` text did not keep as asked (a string's quotes do not count).
pub fn dropped(requests: &[Request], config: &str) -> Vec<Dropped> {
    let have = tinibox::check::KernelConfig::parse(Path::new(".config"), config);
    requests
        .iter()
        .filter_map(|r| {
            let actual = have.value(&r.name).unwrap_or("n").to_string();
            (actual != r.value.trim_matches('"')).then(|| Dropped {
                request: r.clone(),
                actual,
            })
        })
        .collect()
}

/// Where `config NAME` is declared under `src` and its `depends on` lines, or `None` when
/// no Kconfig file declares it (an unknown option).
pub fn declaration(src: &Path, name: &str) -> Option<(PathBuf, Vec<String>)> {
    let symbol = name.strip_prefix("CONFIG_").unwrap_or(name);
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
                continue;
            }
            let fname = entry.file_name();
            let fname = fname.to_string_lossy();
            if !(fname.starts_with("Kconfig") || fname.starts_with("Config.")) {
                continue;
            }
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                let t = line.trim();
                if t == format!("config {symbol}") || t == format!("menuconfig {symbol}") {
                    let deps = lines
                        .by_ref()
                        .map(str::trim)
                        .take_while(|l| !l.starts_with("config ") && !l.starts_with("help"))
                        .filter(|l| l.starts_with("depends on"))
                        .map(str::to_string)
                        .collect();
                    return Some((path, deps));
                }
            }
        }
    }
    None
}

/// Explains dropped options: unknown names, or the dependencies they need.
pub fn explain(src: &Path, dropped: &[Dropped]) -> String {
    let mut lines = Vec::new();
    for d in dropped {
        let r = &d.request;
        let why = match declaration(src, &r.name) {
            None => "unknown option: no Kconfig declares it (typo or removed in this kernel)"
                .to_string(),
            Some((_, deps)) if deps.is_empty() => {
                "declared, but selected/forced off by other options".to_string()
            }
            Some((_, deps)) => format!("needs: {}", deps.join("; ")),
        };
        lines.push(format!(
            "{}={} (from {}) ended up {} — {why}",
            r.name, r.value, r.origin, d.actual
        ));
    }
    lines.join("\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(name: &str, text: &str) -> (String, String) {
        (name.to_string(), text.to_string())
    }

    #[test]
    fn parse_reads_values_and_not_set_lines() {
        let got = parse("# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x y\"\nnoise\n");
        assert_eq!(
            got,
            [
                ("CONFIG_A".to_string(), "y".to_string()),
                ("CONFIG_B".to_string(), "n".to_string()),
                ("CONFIG_S".to_string(), "\"x y\"".to_string())
            ]
        );
    }

    #[test]
    fn merge_keeps_order_dedups_and_refuses_conflicts() {
        let merged = merge(&[
            frag("base.config", "CONFIG_A=y\nCONFIG_B=y\n"),
            frag("virt.config", "CONFIG_B=y\n# CONFIG_C is not set\n"),
        ])
        .unwrap();
        assert_eq!(
            render(&merged),
            "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n"
        );
        assert_eq!(merged[2].origin, "virt.config");

        let err = merge(&[
            frag("a.config", "CONFIG_X=y\n"),
            frag("b.config", "# CONFIG_X is not set\n"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("CONFIG_X") && err.contains("a.config") && err.contains("b.config"),
            "{err}"
        );
    }

    #[test]
    fn dropped_lists_options_not_kept_as_asked() {
        let requests = merge(&[frag(
            "f.config",
            "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n",
        )])
        .unwrap();
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_D=\"y\"\n";
        let d = dropped(&requests, config);
        let names: Vec<_> = d.iter().map(|d| d.request.name.as_str()).collect();
        assert_eq!(names, ["CONFIG_B", "CONFIG_D"]);
        assert_eq!(d[0].actual, "n");
    }

    #[test]
    fn explain_tells_unknown_from_unmet_dependency() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(
            src.path().join("Kconfig"),
            "config FOO\n\tbool \"foo\"\n\tdepends on BAR && BAZ\n\thelp\n\t  x\n",
        )
        .unwrap();
        let requests = merge(&[frag("f.config", "CONFIG_FOO=y\nCONFIG_TYPO=y\n")]).unwrap();
        let text = explain(src.path(), &dropped(&requests, ""));
        assert!(
            text.contains("CONFIG_FOO=y") && text.contains("needs: depends on BAR && BAZ"),
            "{text}"
        );
        assert!(
            text.contains("CONFIG_TYPO=y") && text.contains("unknown option"),
            "{text}"
        );
    }
}
