//! Signal names and numbers as `kill` and `stop` accept them. (Forwarding signals to a
//! waited-for container is `crate::container::supervise`'s.)

pub use crate::linux::signal::Sig;

/// Parses a signal as `kill` accepts it: `TERM`, `SIGTERM`, `term`, a number 1-64,
/// `RTMIN+n` or `RTMAX-n` (see [`Sig::parse`]).
pub fn parse_signal(text: &str) -> Result<Sig, String> {
    Sig::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("TERM").unwrap().number(), 15);
        assert_eq!(parse_signal("sigkill").unwrap().number(), 9);
        assert_eq!(parse_signal("9").unwrap().number(), 9);
        assert_eq!(parse_signal("37").unwrap().number(), 37);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
