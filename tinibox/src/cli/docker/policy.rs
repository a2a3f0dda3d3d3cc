//! Restart policies (`run --restart no|on-failure[:N]|always|unless-stopped`) with Docker's
//! rules: which exits are restarted, the maximum count of `on-failure:N`, and the back-off
//! between restarts (100 ms doubling up to 1 minute, back to 100 ms after a run of 10 s or
//! more). A container stopped by the user (`stop`, `kill`) is never restarted by its monitor.
//!
//! Pure: the monitor ([`super::detach`]) applies the answers.

use std::time::Duration;

use super::meta::RestartPolicy;

/// Parses `--restart`; the error is one line naming the fix.
pub fn parse(value: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match value.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (value, None),
    };
    let bad = || {
        format!(
            "--restart: invalid restart policy {value:?} — use no, on-failure[:N], always or unless-stopped"
        )
    };
    match (name, count) {
        ("" | "no", None) => Ok(RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }),
        ("always" | "unless-stopped", None) => Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count: 0,
        }),
        ("always" | "unless-stopped", Some(_)) => Err(format!(
            "--restart: maximum retry count cannot be used with restart policy '{name}' — use on-failure:N"
        )),
        ("on-failure", None) => Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count: 0,
        }),
        ("on-failure", Some(c)) => match c.parse::<u32>() {
            Ok(n) => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count: n,
            }),
            Err(_) => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// Whether the policy restarts a container that ended with `code` after `restarts` restarts.
pub fn should_restart(p: &RestartPolicy, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
    if stopped_by_user {
        return false;
    }
    match p.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            code != 0 && (p.maximum_retry_count == 0 || restarts < p.maximum_retry_count)
        }
        _ => false,
    }
}

/// Docker's back-off: the delay before the next restart, given the last delay and how long
/// the container ran.
pub fn next_delay(last: Duration, ran: Duration) -> Duration {
    if ran >= Duration::from_secs(10) || last.is_zero() {
        return Duration::from_millis(100);
    }
    (last * 2).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_like_dockers() {
        assert_eq!(parse("no").unwrap().name, "no");
        assert_eq!(parse("").unwrap().name, "no");
        let p = parse("on-failure:2").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 2));
        assert!(parse("always:3").is_err());
        assert!(parse("sometimes").unwrap_err().contains("sometimes"));
        assert!(parse("on-failure:x").is_err());
    }

    #[test]
    fn restarts_follow_the_policy() {
        let p = parse("on-failure:2").unwrap();
        assert!(should_restart(&p, 1, 0, false));
        assert!(should_restart(&p, 1, 1, false));
        assert!(!should_restart(&p, 1, 2, false));
        assert!(!should_restart(&p, 0, 0, false));
        let a = parse("always").unwrap();
        assert!(should_restart(&a, 0, 100, false));
        assert!(!should_restart(&a, 137, 0, true));
        assert!(!should_restart(&parse("no").unwrap(), 1, 0, false));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let ms = Duration::from_millis;
        assert_eq!(next_delay(Duration::ZERO, ms(1)), ms(100));
        assert_eq!(next_delay(ms(100), ms(1)), ms(200));
        assert_eq!(next_delay(ms(40_000), ms(1)), Duration::from_secs(60));
        assert_eq!(next_delay(ms(800), Duration::from_secs(11)), ms(100));
    }
}
