//! Signal names and numbers as `kill` and `stop` accept them. (Forwarding signals to a
//! waited-for container is `crate::container::supervise`'s.)

use nix::sys::signal::Signal;

/// Parses a signal as `kill` accepts it: `TERM`, `SIGTERM`, `term` or a number.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| format!("unknown signal number {n} — use 1-31 or a name such as TERM"));
    }
    let up = t.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| {
        format!("unknown signal {text:?} — use a name such as TERM or KILL, or a number")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
