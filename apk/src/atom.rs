//! Dependency atoms as apk-tools writes them in `D:`, `p:`, `i:`, `r:` fields, in
//! /etc/apk/world and on the command line: `[!]name[@tag][OP version]` with OP one of `=`,
//! `<`, `<=`, `>`, `>=`, `~` (also spelled `=~`/`~=`), and `><Q1…` (a checksum pin, parsed
//! and kept, matched by any version). `name` may be a provided name such as
//! `so:libc.musl-x86_64.so.1`, `cmd:sh` or `pc:zlib`. A leading `!` makes a conflict.
//!
//! This module only parses, prints and matches single atoms against versions.

use crate::version;
use std::cmp::Ordering;
use std::fmt;

/// The version relation of an atom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `~`: the version starts with the given components.
    Fuzzy,
    /// `><`: pinned to a package checksum (`Q1…`); any version matches.
    Checksum,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Fuzzy => "~",
            Op::Checksum => "><",
        }
    }
}

/// One dependency atom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// Package or provided name (`busybox`, `so:libc.musl-x86_64.so.1`).
    pub name: String,
    /// `!name`: the named package must not be installed.
    pub conflict: bool,
    /// Repository tag (`name@edge`), kept for round trips.
    pub tag: Option<String>,
    /// Version relation and version (or checksum for [`Op::Checksum`]).
    pub constraint: Option<(Op, String)>,
}

/// Why an atom could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AtomError {
    /// Nothing where a package name was expected.
    #[error("empty package name in {0:?}")]
    EmptyName(String),
    /// The version after the operator is malformed.
    #[error("invalid version {version:?} in {atom:?} (expected e.g. 1.2.3_rc1-r0)")]
    BadVersion {
        /// The whole atom.
        atom: String,
        /// The version part.
        version: String,
    },
    /// Characters that are not allowed in a name.
    #[error("invalid package name {0:?} (no spaces or control characters)")]
    BadName(String),
}

impl Dependency {
    /// Parses one atom (see the module doc for the syntax).
    pub fn parse(s: &str) -> Result<Self, AtomError> {
        let (conflict, body) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let op_at = body.find(['=', '<', '>', '~']).unwrap_or(body.len());
        let (name_tag, rest) = body.split_at(op_at);
        let (name, tag) = match name_tag.split_once('@') {
            Some((n, t)) => (n, Some(t.to_string())),
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(AtomError::EmptyName(s.to_string()));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AtomError::BadName(s.to_string()));
        }
        let constraint = if rest.is_empty() {
            None
        } else {
            let op_len = rest
                .find(|c: char| !matches!(c, '=' | '<' | '>' | '~'))
                .unwrap_or(rest.len());
            let (op_str, ver) = rest.split_at(op_len);
            let op = match op_str {
                "=" | "==" => Op::Eq,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "~" | "=~" | "~=" => Op::Fuzzy,
                "><" => Op::Checksum,
                _ => {
                    return Err(AtomError::BadVersion {
                        atom: s.to_string(),
                        version: rest.to_string(),
                    })
                }
            };
            if op != Op::Checksum && !version::is_valid(ver) {
                return Err(AtomError::BadVersion {
                    atom: s.to_string(),
                    version: ver.to_string(),
                });
            }
            Some((op, ver.to_string()))
        };
        Ok(Dependency {
            name: name.to_string(),
            conflict,
            tag,
            constraint,
        })
    }

    /// Parses a space-separated list of atoms (a `D:` line).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, AtomError> {
        s.split_whitespace().map(Dependency::parse).collect()
    }

    /// A plain atom on `name` with no version.
    pub fn any(name: &str) -> Self {
        Dependency {
            name: name.to_string(),
            conflict: false,
            tag: None,
            constraint: None,
        }
    }

    /// Does `version` satisfy the version part (ignoring the conflict flag)? `None` stands for
    /// a provider with no version, which only an atom without a version accepts.
    pub fn version_matches(&self, version: Option<&str>) -> bool {
        let Some((op, want)) = &self.constraint else {
            return true;
        };
        let Some(have) = version else {
            return false;
        };
        let ord = version::compare(have, want);
        match op {
            Op::Eq => ord == Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Fuzzy => version::fuzzy_match(have, want),
            Op::Checksum => true,
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, "@{t}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, "{}{v}", op.as_str())?;
        }
        Ok(())
    }
}

/// Joins atoms with spaces, as in a `D:` line.
pub fn join(deps: &[Dependency]) -> String {
    deps.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_form() {
        for s in [
            "busybox",
            "musl=1.2.4-r2",
            "foo>=1.0",
            "foo<2",
            "foo<=2",
            "foo>1",
            "foo~1.2",
            "!bar",
            "!bar<3",
            "so:libc.musl-x86_64.so.1",
            "cmd:sh",
            "pc:zlib>=1.2",
            "foo@edge",
            "foo><Q1abc=",
        ] {
            let d = Dependency::parse(s).unwrap();
            assert_eq!(d.to_string(), s);
        }
        let d = Dependency::parse("!pc:zlib>=1.2").unwrap();
        assert!(d.conflict);
        assert_eq!(d.name, "pc:zlib");
        assert_eq!(d.constraint, Some((Op::Ge, "1.2".into())));
    }

    #[test]
    fn matches_versions() {
        let d = Dependency::parse("foo>=1.2").unwrap();
        assert!(d.version_matches(Some("1.2-r0")));
        assert!(d.version_matches(Some("1.10")));
        assert!(!d.version_matches(Some("1.1")));
        assert!(!d.version_matches(None));
        assert!(Dependency::parse("foo").unwrap().version_matches(None));
        assert!(Dependency::parse("foo~1.2")
            .unwrap()
            .version_matches(Some("1.2.9-r3")));
        assert!(Dependency::parse("foo<2")
            .unwrap()
            .version_matches(Some("1.9")));
    }

    #[test]
    fn rejects_bad_atoms() {
        assert!(matches!(
            Dependency::parse(""),
            Err(AtomError::EmptyName(_))
        ));
        assert!(matches!(
            Dependency::parse("=1.0"),
            Err(AtomError::EmptyName(_))
        ));
        assert!(matches!(
            Dependency::parse("foo=x.y"),
            Err(AtomError::BadVersion { .. })
        ));
        assert!(matches!(
            Dependency::parse("foo=>1"),
            Err(AtomError::BadVersion { .. })
        ));
        assert!(matches!(
            Dependency::parse("a b"),
            Err(AtomError::BadName(_))
        ));
    }
}
