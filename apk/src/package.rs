//! The package record and its text form: the single-letter `X:value` stanzas that
//! APKINDEX and /lib/apk/db/installed share (apk-tools' "apk v2 index" format). Stanzas are
//! separated by blank lines. Fields: `C` checksum (`Q1` + base64 SHA-1 of the control
//! stream), `P` name, `V` version, `A` arch, `S` package size (bytes), `I` installed size
//! (bytes), `T` description, `U` url, `L` licence, `o` origin, `m` maintainer, `t` build
//! time (seconds since the epoch), `c` commit, `k` provider priority, `D` depends, `p`
//! provides, `i` install_if, `r` replaces. Unknown letters are kept in order, so a file
//! written by a newer apk-tools survives a round trip.
//!
//! This module owns the record and the stanza grammar; the installed database's file lines
//! (`F M R a Z`) live in `db`.

use crate::atom::{self, AtomError, Dependency};
use std::fmt::Write as _;

/// One package as an index or the installed database describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    /// `P:` name.
    pub name: String,
    /// `V:` version.
    pub version: String,
    /// `A:` architecture (`x86_64`, `aarch64`, `noarch`).
    pub arch: String,
    /// `C:` identity checksum, `Q1` + base64(SHA-1 of the control gzip stream).
    pub checksum: Option<String>,
    /// `S:` size of the .apk file in bytes.
    pub size: u64,
    /// `I:` installed size in bytes.
    pub installed_size: u64,
    /// `T:` one-line description.
    pub description: String,
    /// `U:` project url.
    pub url: String,
    /// `L:` licence expression.
    pub license: String,
    /// `o:` origin (source package) name.
    pub origin: String,
    /// `m:` maintainer.
    pub maintainer: String,
    /// `t:` build time, seconds since the epoch.
    pub build_time: Option<u64>,
    /// `c:` source commit.
    pub commit: String,
    /// `k:` provider priority (higher wins among providers of a name).
    pub provider_priority: Option<u32>,
    /// `D:` dependencies and conflicts.
    pub depends: Vec<Dependency>,
    /// `p:` provided names (`name=version` or bare `name`).
    pub provides: Vec<Dependency>,
    /// `i:` install_if: installed automatically when all of these are.
    pub install_if: Vec<Dependency>,
    /// `r:` packages whose files this one may overwrite.
    pub replaces: Vec<Dependency>,
    /// Fields this implementation does not interpret, in input order.
    pub extra: Vec<(char, String)>,
}

/// A malformed stanza field.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    /// A number field that is not a number.
    #[error("line {line}: field {field}: {value:?} is not a number")]
    Number {
        /// 1-based line number.
        line: usize,
        /// Field letter.
        field: char,
        /// The value found.
        value: String,
    },
    /// A dependency list that does not parse.
    #[error("line {line}: field {field}: {source}")]
    Atom {
        /// 1-based line number.
        line: usize,
        /// Field letter.
        field: char,
        /// What was wrong.
        source: AtomError,
    },
    /// A line that is not `X:value`.
    #[error("line {line}: expected a `X:value` field, found {text:?}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line, cut to 60 characters.
        text: String,
    },
    /// A stanza without `P:` or `V:`.
    #[error("line {line}: package entry without name (P:) or version (V:)")]
    Incomplete {
        /// Line where the stanza ends.
        line: usize,
    },
    /// A name or version that cannot be part of a file name (see [`check_identity`]).
    #[error("line {line}: {why}")]
    Identity {
        /// Line where the stanza ends.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// Checks a package's name and version before either becomes part of a file name: the
/// cache's `NAME-VERSION.HASH.apk`, a repository's `NAME-VERSION.apk`, scripts.tar's
/// `NAME-VERSION.HASH.SCRIPT`. Both must be non-empty, without `/`, whitespace or control
/// characters, and neither `.` nor `..` (abuild's names are narrower still: `[a-z0-9._+-]`).
/// Errors: one sentence naming the value (cut to 60 characters).
pub fn check_identity(name: &str, version: &str) -> Result<(), String> {
    for (what, value) in [("package name", name), ("version", version)] {
        let bad = value.is_empty()
            || value == "."
            || value == ".."
            || value
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control());
        if bad {
            let shown: String = value.chars().take(60).collect();
            return Err(format!(
                "invalid {what} {shown:?} (it names files: no `/`, spaces or control \
                 characters, not empty, `.` or `..`)"
            ));
        }
    }
    Ok(())
}

/// One `X:value` field with its 1-based line number.
pub type Field<'a> = (usize, char, &'a str);

/// Splits stanza text into stanzas of fields. Blank lines separate stanzas.
pub fn stanzas(text: &str) -> Result<Vec<Vec<Field<'_>>>, FieldError> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(letter), Some(':')) if letter.is_ascii_alphabetic() => {
                cur.push((line_no, letter, &line[2..]));
            }
            _ => {
                return Err(FieldError::Syntax {
                    line: line_no,
                    text: line.chars().take(60).collect(),
                })
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl Package {
    /// `name-version`, the way apk-tools names a package in messages.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// Applies one field. Returns false for the file-list letters (`F M R a Z`), which the
    /// caller handles; every other letter is stored.
    pub fn set_field(
        &mut self,
        line: usize,
        letter: char,
        value: &str,
    ) -> Result<bool, FieldError> {
        let number = |v: &str| -> Result<u64, FieldError> {
            v.trim().parse().map_err(|_| FieldError::Number {
                line,
                field: letter,
                value: v.chars().take(40).collect(),
            })
        };
        let atoms = |v: &str| {
            Dependency::parse_list(v).map_err(|source| FieldError::Atom {
                line,
                field: letter,
                source,
            })
        };
        match letter {
            'P' => self.name = value.to_string(),
            'V' => self.version = value.to_string(),
            'A' => self.arch = value.to_string(),
            'C' => self.checksum = Some(value.to_string()),
            'S' => self.size = number(value)?,
            'I' => self.installed_size = number(value)?,
            'T' => self.description = value.to_string(),
            'U' => self.url = value.to_string(),
            'L' => self.license = value.to_string(),
            'o' => self.origin = value.to_string(),
            'm' => self.maintainer = value.to_string(),
            't' => self.build_time = Some(number(value)?),
            'c' => self.commit = value.to_string(),
            'k' => self.provider_priority = Some(number(value)?.min(u64::from(u32::MAX)) as u32),
            'D' => self.depends = atoms(value)?,
            'p' => self.provides = atoms(value)?,
            'i' => self.install_if = atoms(value)?,
            'r' => self.replaces = atoms(value)?,
            'F' | 'M' | 'R' | 'a' | 'Z' => return Ok(false),
            other => self.extra.push((other, value.to_string())),
        }
        Ok(true)
    }

    /// Builds a package from one stanza of an index (file-list letters are ignored).
    pub fn from_fields(fields: &[Field<'_>]) -> Result<Self, FieldError> {
        let mut p = Package::default();
        for &(line, letter, value) in fields {
            p.set_field(line, letter, value)?;
        }
        let last = fields.last().map(|f| f.0).unwrap_or(0);
        if p.name.is_empty() || p.version.is_empty() {
            return Err(FieldError::Incomplete { line: last });
        }
        check_identity(&p.name, &p.version)
            .map_err(|why| FieldError::Identity { line: last, why })?;
        Ok(p)
    }

    /// Writes the package fields as stanza lines (without the separating blank line).
    pub fn write_fields(&self, out: &mut String) {
        let mut put = |letter: char, value: &str| {
            if !value.is_empty() {
                let _ = writeln!(out, "{letter}:{value}");
            }
        };
        if let Some(c) = &self.checksum {
            put('C', c);
        }
        put('P', &self.name);
        put('V', &self.version);
        put('A', &self.arch);
        put('S', &self.size.to_string());
        put('I', &self.installed_size.to_string());
        put('T', &self.description);
        put('U', &self.url);
        put('L', &self.license);
        put('o', &self.origin);
        put('m', &self.maintainer);
        if let Some(t) = self.build_time {
            put('t', &t.to_string());
        }
        put('c', &self.commit);
        if let Some(k) = self.provider_priority {
            put('k', &k.to_string());
        }
        put('D', &atom::join(&self.depends));
        put('p', &atom::join(&self.provides));
        put('i', &atom::join(&self.install_if));
        put('r', &atom::join(&self.replaces));
        for (letter, value) in &self.extra {
            put(*letter, value);
        }
    }

    /// The version under which this package provides `name`: `Some(Some(v))` for the package
    /// itself or a versioned provide, `Some(None)` for a bare provide, `None` if it does not.
    pub fn provided_version(&self, name: &str) -> Option<Option<&str>> {
        if self.name == name {
            return Some(Some(&self.version));
        }
        self.provides
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.constraint.as_ref().map(|(_, v)| v.as_str()))
    }

    /// Does this package satisfy the atom (ignoring its conflict flag)?
    pub fn satisfies(&self, dep: &Dependency) -> bool {
        // `name><Q1…`: this very package, by its identity checksum (not a provider).
        if let Some((crate::atom::Op::Checksum, want)) = &dep.constraint {
            return self.name == dep.name && self.checksum.as_deref() == Some(want.as_str());
        }
        match self.provided_version(&dep.name) {
            Some(v) => dep.version_matches(v),
            None => false,
        }
    }
}

/// Parses a whole index text (APKINDEX) into packages.
pub fn parse_index(text: &str) -> Result<Vec<Package>, FieldError> {
    stanzas(text)?
        .iter()
        .map(|s| Package::from_fields(s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "C:Q1p8+pcZ2S6bAUs/yWl4D1jYeyWlw=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Someone <a@b>\nt:1698000000\nc:abc\nD:\np:so:libc.musl-x86_64.so.1=1\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nS:1\nI:2\nT:tools\nD:so:libc.musl-x86_64.so.1\np:/bin/sh cmd:busybox=1.36.1-r15\ni:foo bar>1\nk:100\nZ:ignored\nx:future field\n";

    #[test]
    fn parses_index_fields() {
        let pkgs = parse_index(INDEX).unwrap();
        assert_eq!(pkgs.len(), 2);
        let m = &pkgs[0];
        assert_eq!(m.id(), "musl-1.2.4-r2");
        assert_eq!(
            m.checksum.as_deref(),
            Some("Q1p8+pcZ2S6bAUs/yWl4D1jYeyWlw=")
        );
        assert_eq!(m.size, 383152);
        assert_eq!(m.build_time, Some(1698000000));
        assert_eq!(
            m.provided_version("so:libc.musl-x86_64.so.1"),
            Some(Some("1"))
        );
        let b = &pkgs[1];
        assert_eq!(b.depends, vec![Dependency::any("so:libc.musl-x86_64.so.1")]);
        assert_eq!(b.provided_version("/bin/sh"), Some(None));
        assert_eq!(b.install_if.len(), 2);
        assert_eq!(b.provider_priority, Some(100));
        assert_eq!(b.extra, vec![('x', "future field".to_string())]);
    }

    #[test]
    fn round_trips() {
        let pkgs = parse_index(INDEX).unwrap();
        let mut out = String::new();
        for p in &pkgs {
            p.write_fields(&mut out);
            out.push('\n');
        }
        assert_eq!(parse_index(&out).unwrap(), pkgs);
    }

    #[test]
    fn names_and_versions_that_name_files_are_checked() {
        assert_eq!(check_identity("so.good+1_x-y", "1.2.3_rc1-r0"), Ok(()));
        for (name, version) in [
            ("", "1"),
            ("a/b", "1"),
            ("..", "1"),
            ("a b", "1"),
            ("a", "../1"),
            ("a", ""),
        ] {
            assert!(
                check_identity(name, version).is_err(),
                "{name:?} {version:?}"
            );
        }
        let e = parse_index("P:../evil\nV:1-r0\n").unwrap_err().to_string();
        assert!(e.contains("invalid package name \"../evil\""), "{e}");
    }

    #[test]
    fn reports_bad_lines() {
        let e = parse_index("P:a\nV:1\nS:lots\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: field S: \"lots\" is not a number");
        let e = parse_index("P:a\nthis is not a field\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2: expected"));
        let e = parse_index("P:a\n").unwrap_err();
        assert!(e.to_string().contains("without name"));
    }
}
