//! Alpine package version ordering (apk-tools' `apk version -t` rules).
//!
//! A version is `DIGITS(.DIGITS)*[letter](_suffix[N])*[-rN]`, for example `1.2.3_rc1-r4`.
//! Components compare left to right: numbers numerically (a component after a dot with a
//! leading zero on either side compares as text: `1.01 < 1.1`), then an optional single lower-case
//! letter, then suffixes where `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git <
//! _hg < _p` (each with an optional number), an optional `~commithash`, then the package
//! release `-rN`. When one version is a prefix of the other, the
//! longer one is greater unless what follows is a pre-release suffix.
//!
//! This module owns only the ordering and the validity check; it knows nothing of packages.

use std::cmp::Ordering;

/// Kinds of version tokens, in the order apk-tools ranks them: when the leading tokens are
/// equal, the version whose next token is of a later kind is the smaller one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffixes in ascending order; `None` (no suffix) sits between `rc` and `cvs`.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Index in [`SUFFIXES`] of the first suffix that sorts after "no suffix".
const FIRST_POST_SUFFIX: usize = 4;

/// One token: its kind, its text and (for numbers and suffixes) its rank.
#[derive(Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    rank: u64,
}

/// Splits a version into tokens on the fly.
struct Tokens<'a> {
    rest: &'a [u8],
    current: Token<'a>,
}

impl<'a> Tokens<'a> {
    fn new(v: &'a str) -> Self {
        let mut t = Tokens {
            rest: v.as_bytes(),
            current: Token {
                kind: Kind::InitialDigit,
                text: b"",
                rank: 0,
            },
        };
        t.digits(Kind::InitialDigit);
        t
    }

    /// Takes a run of digits as a token of `kind` (invalid when empty).
    fn digits(&mut self, kind: Kind) {
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let text = &self.rest[..n];
        self.rest = &self.rest[n..];
        let rank = text.iter().fold(0u64, |acc, c| {
            acc.saturating_mul(10).saturating_add(u64::from(c - b'0'))
        });
        let kind = if n == 0 { Kind::Invalid } else { kind };
        self.current = Token { kind, text, rank };
    }

    /// Moves to the next token, checking that it may follow the current one.
    fn advance(&mut self) {
        let prev = self.current.kind;
        let Some(&c) = self.rest.first() else {
            self.current.kind = Kind::End;
            return;
        };
        let invalid = Token {
            kind: Kind::Invalid,
            text: b"",
            rank: 0,
        };
        match c {
            b'a'..=b'z' if prev <= Kind::Digit => {
                self.current = Token {
                    kind: Kind::Letter,
                    text: &self.rest[..1],
                    rank: u64::from(c),
                };
                self.rest = &self.rest[1..];
            }
            b'.' if prev <= Kind::Digit => {
                self.rest = &self.rest[1..];
                self.digits(Kind::Digit);
            }
            b'0'..=b'9' if prev == Kind::Suffix => self.digits(Kind::SuffixNo),
            b'_' if prev <= Kind::SuffixNo => {
                let body = &self.rest[1..];
                let n = body.iter().take_while(|c| c.is_ascii_lowercase()).count();
                let text = &body[..n];
                self.rest = &body[n..];
                self.current = match SUFFIXES.iter().position(|s| s.as_bytes() == text) {
                    Some(i) => Token {
                        kind: Kind::Suffix,
                        text,
                        rank: if i < FIRST_POST_SUFFIX {
                            i as u64
                        } else {
                            i as u64 + 1
                        },
                    },
                    None => invalid,
                };
            }
            b'~' if prev < Kind::CommitHash => {
                let body = &self.rest[1..];
                let n = body.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                self.current = if n == 0 {
                    invalid
                } else {
                    Token {
                        kind: Kind::CommitHash,
                        text: &body[..n],
                        rank: 0,
                    }
                };
                self.rest = &body[n..];
            }
            b'-' if prev < Kind::RevisionNo && self.rest.starts_with(b"-r") => {
                self.rest = &self.rest[2..];
                self.digits(Kind::RevisionNo);
            }
            _ => self.current = invalid,
        }
    }
}

/// Compares two tokens of the same kind.
fn token_cmp(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => a.rank.cmp(&b.rank),
        Kind::Letter | Kind::Suffix => a.rank.cmp(&b.rank),
        _ => a.text.cmp(b.text),
    }
}

/// Is this token a pre-release suffix (`_alpha`, `_beta`, `_pre`, `_rc`)?
fn is_pre_release(t: &Token) -> bool {
    t.kind == Kind::Suffix && (t.rank as usize) < FIRST_POST_SUFFIX
}

/// Compares two versions. With `fuzzy`, `b` is a prefix pattern (the `~` operator): `a`
/// matches when its leading components equal all of `b`'s (`1.2.3-r0 ~ 1.2`).
fn compare_impl(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = Tokens::new(a);
    let mut tb = Tokens::new(b);
    while ta.current.kind == tb.current.kind && ta.current.kind < Kind::End {
        match token_cmp(&ta.current, &tb.current) {
            Ordering::Equal => {}
            o => return o,
        }
        ta.advance();
        tb.advance();
    }
    let (ka, kb) = (ta.current.kind, tb.current.kind);
    if ka == kb || (fuzzy && kb == Kind::End) {
        return Ordering::Equal;
    }
    if is_pre_release(&ta.current) {
        return Ordering::Less;
    }
    if is_pre_release(&tb.current) {
        return Ordering::Greater;
    }
    kb.cmp(&ka)
}

/// Orders two Alpine versions (`1.0_rc1 < 1.0 < 1.0-r1 < 1.0a < 1.0_p1 < 1.0.1`).
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_impl(a, b, false)
}

/// True when `version` matches the fuzzy pattern `pattern` (apk's `~` operator).
pub fn fuzzy_match(version: &str, pattern: &str) -> bool {
    compare_impl(version, pattern, true) == Ordering::Equal
}

/// True when `v` is a well-formed Alpine version (as `apk version -c` checks).
pub fn is_valid(v: &str) -> bool {
    let mut t = Tokens::new(v);
    while t.current.kind < Kind::End {
        t.advance();
    }
    t.current.kind == Kind::End
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_follows_apk_tools() {
        let ascending = [
            "0.9",
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0_rc1-r4",
            "1.0",
            "1.0-r1",
            "1.0-r10",
            "1.0a",
            "1.0b_p1",
            "1.0.1",
            "1.1",
            "1.2_cvs",
            "1.2_git20240101",
            "1.2_p1",
            "1.2_p2",
            "1.10",
            "2",
        ];
        for w in ascending.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(
                compare(w[1], w[0]),
                Ordering::Greater,
                "{} > {}",
                w[1],
                w[0]
            );
        }
        for v in ascending {
            assert_eq!(compare(v, v), Ordering::Equal);
            assert!(is_valid(v), "{v} is valid");
        }
    }

    #[test]
    fn suffix_kinds_and_revisions() {
        assert_eq!(compare("1.0_p1", "1.0"), Ordering::Greater);
        assert_eq!(compare("1.0_rc1", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0-r0", "1.0"), Ordering::Greater);
        assert_eq!(compare("1.01", "1.1"), Ordering::Less);
        assert_eq!(compare("1.0~abc1-r0", "1.0-r0"), Ordering::Greater);
        assert_eq!(compare("1.2.3_rc1-r4", "1.2.3_rc1-r3"), Ordering::Greater);
        assert_eq!(compare("1.2.3_rc2", "1.2.3_rc10"), Ordering::Less);
    }

    #[test]
    fn fuzzy_is_a_component_prefix() {
        assert!(fuzzy_match("1.2.3-r0", "1.2"));
        assert!(fuzzy_match("1.2", "1.2"));
        assert!(!fuzzy_match("1.20", "1.2"));
        assert!(!fuzzy_match("1.3", "1.2"));
    }

    #[test]
    fn invalid_versions() {
        for v in ["", "abc", "1.0-x", "1.0_foo", "1..0", "1.0 "] {
            assert!(!is_valid(v), "{v:?} is invalid");
        }
    }
}
