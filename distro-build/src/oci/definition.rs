//! Image definitions: the declarative files in `oci-images/` (one JSON file per image) parsed
//! into [`ImageDefinition`]s.
//!
//! This module owns the definition format and its validation only; it never reads the rootfs
//! tree (see `select`) and writes nothing.

use std::path::{Path, PathBuf};

use oci_spec::image::Config;
use serde::Deserialize;

use super::OciError;

/// One extra regular file an image puts on top of the selected rootfs paths.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraFile {
    /// Path inside the image (leading `/` optional).
    pub path: PathBuf,
    /// The file's text content.
    pub content: String,
    /// Permission bits as an octal string, e.g. `"0644"` (default `0644`).
    #[serde(default)]
    pub mode: Option<String>,
}

/// One image: its name and tag, which rootfs paths it holds, and its runtime config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDefinition {
    /// Repository name, e.g. `tinilinux`.
    pub name: String,
    /// Tag, e.g. `latest`.
    #[serde(default = "default_tag")]
    pub tag: String,
    /// Subtrees of the rootfs to include; `"/"` means the whole tree. Each must exist.
    pub include: Vec<PathBuf>,
    /// Subtrees to leave out even when included (missing paths are fine).
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
    /// Extra files written on top of the selection.
    #[serde(default)]
    pub files: Vec<ExtraFile>,
    /// The image config (OCI field names: Entrypoint, Cmd, Env, WorkingDir, User, Labels).
    #[serde(default)]
    pub config: Config,
    /// Free text stored as the history line's comment.
    #[serde(default)]
    pub description: String,
}

fn default_tag() -> String {
    "latest".to_string()
}

impl ImageDefinition {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// Parses and validates one definition file.
    pub fn from_file(path: &Path) -> Result<Self, OciError> {
        let text = std::fs::read_to_string(path).map_err(|source| OciError::Io {
            what: format!("read image definition {}", path.display()),
            source,
        })?;
        let def: ImageDefinition =
            serde_json::from_str(&text).map_err(|e| OciError::Definition {
                path: path.to_path_buf(),
                problem: e.to_string(),
            })?;
        def.validate(path)?;
        Ok(def)
    }

    fn validate(&self, path: &Path) -> Result<(), OciError> {
        let bad = |problem: String| OciError::Definition {
            path: path.to_path_buf(),
            problem,
        };
        let name_ok = |s: &str, extra: &str| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || "._-".contains(c)
                        || extra.contains(c)
                })
        };
        if !name_ok(&self.name, "/") {
            return Err(bad(format!(
                "name {:?} must be lowercase letters, digits, '.', '_', '-' or '/'",
                self.name
            )));
        }
        if !name_ok(&self.tag, "") || self.tag.len() > 128 {
            return Err(bad(format!("tag {:?} is not a valid tag", self.tag)));
        }
        if self.include.is_empty() {
            return Err(bad(
                "include is empty: list the rootfs paths the image holds".into(),
            ));
        }
        for file in &self.files {
            parse_mode(file.mode.as_deref())
                .map_err(|p| bad(format!("{}: {p}", file.path.display())))?;
        }
        Ok(())
    }
}

/// Parses an octal mode string such as `"0755"`; `None` gives `0644`.
pub fn parse_mode(mode: Option<&str>) -> Result<u32, String> {
    match mode {
        None => Ok(0o644),
        Some(text) => u32::from_str_radix(text.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| format!("mode {text:?} is not an octal mode like \"0644\"")),
    }
}

/// Reads every `*.json` definition in `dir`, sorted by file name.
pub fn load_all(dir: &Path) -> Result<Vec<ImageDefinition>, OciError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| OciError::Io {
            what: format!("list image definitions in {}", dir.display()),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let defs = paths
        .iter()
        .map(|p| ImageDefinition::from_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, d) in defs.iter().enumerate() {
        if defs[..i].iter().any(|o| o.reference() == d.reference()) {
            return Err(OciError::Definition {
                path: dir.to_path_buf(),
                problem: format!("two definitions name {}", d.reference()),
            });
        }
    }
    Ok(defs)
}
