//! Signal numbers 1–64 as the kill commands take them: the standard signals by number or
//! name, and the real-time ones by number or as `RTMIN+n` / `RTMAX-n` (with or without `SIG`),
//! and sending one with kill(2). nix's `Signal` has no real-time signals, hence this type.
//!
//! `RTMIN` is 34 and `RTMAX` 64, as Docker and glibc number them (glibc keeps 32 and 33 for
//! itself): `SIGRTMIN+3`, systemd's stop signal, is 37. Numbers 32 and 33 are accepted as
//! numbers.

use nix::sys::signal::Signal;

/// The lowest real-time signal a name can give (`RTMIN`, glibc's SIGRTMIN).
pub const RTMIN: i32 = 34;
/// The highest signal number (`RTMAX`, the kernel's _NSIG).
pub const RTMAX: i32 = 64;

/// A signal number in 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig(i32);

impl Sig {
    /// The signal number (1..=64).
    pub fn number(self) -> i32 {
        self.0
    }

    /// Parses `9`, `KILL`, `SIGKILL`, `kill`, `37`, `RTMIN+3`, `SIGRTMAX-2` … ; `Err` says what
    /// is accepted.
    pub fn parse(text: &str) -> Result<Sig, String> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i32>() {
            return Sig::from_number(n).ok_or_else(|| {
                format!("unknown signal number {n} — use 1-64 or a name such as TERM")
            });
        }
        let up = t.to_ascii_uppercase();
        let bare = up.strip_prefix("SIG").unwrap_or(&up);
        let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
            if rest.is_empty() {
                return Some(base);
            }
            let (op, n) = rest.split_at_checked(1)?;
            let n: i32 = n.parse().ok()?;
            let want = if sign > 0 { "+" } else { "-" };
            (op == want && (0..=RTMAX - RTMIN).contains(&n)).then_some(base + sign * n)
        };
        let number = if let Some(rest) = bare.strip_prefix("RTMIN") {
            rt(RTMIN, rest, 1)
        } else if let Some(rest) = bare.strip_prefix("RTMAX") {
            rt(RTMAX, rest, -1)
        } else {
            format!("SIG{bare}")
                .parse::<Signal>()
                .ok()
                .map(|s| s as i32)
        };
        number.and_then(Sig::from_number).ok_or_else(|| {
            format!(
                "unknown signal {text:?} — use a name such as TERM or KILL, RTMIN+n, RTMAX-n, \
                 or a number 1-64"
            )
        })
    }

    /// The signal with number `n`, if `n` is in 1..=64.
    pub fn from_number(n: i32) -> Option<Sig> {
        (1..=RTMAX).contains(&n).then_some(Sig(n))
    }

    /// Sends the signal to `pid` (kill(2)).
    pub fn send(self, pid: i32) -> Result<(), nix::errno::Errno> {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        let r = unsafe { libc::kill(pid, self.0) };
        nix::errno::Errno::result(r).map(drop)
    }
}

impl From<Signal> for Sig {
    fn from(s: Signal) -> Sig {
        Sig(s as i32)
    }
}

impl std::fmt::Display for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Signal::try_from(self.0) {
            Ok(s) => write!(f, "{s}"),
            Err(_) if self.0 >= RTMIN => write!(f, "SIGRTMIN+{}", self.0 - RTMIN),
            Err(_) => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_of_all_64() {
        for n in 1..=64 {
            assert_eq!(Sig::parse(&n.to_string()).unwrap().number(), n);
        }
        assert!(Sig::parse("0").is_err() && Sig::parse("65").is_err());
        assert_eq!(Sig::parse("TERM").unwrap().number(), 15);
        assert_eq!(Sig::parse("sigkill").unwrap().number(), 9);
        for (t, n) in [
            ("RTMIN", 34),
            ("SIGRTMIN+3", 37),
            ("rtmin+30", 64),
            ("RTMAX", 64),
            ("SIGRTMAX-2", 62),
            ("RTMAX-30", 34),
        ] {
            assert_eq!(Sig::parse(t).unwrap().number(), n, "{t}");
        }
        for bad in [
            "RTMIN+31",
            "RTMAX-31",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+",
            "NOPE",
            "SIGRTMIN+é",
        ] {
            assert!(Sig::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Sig::parse("37").unwrap().to_string(), "SIGRTMIN+3");
    }
}
