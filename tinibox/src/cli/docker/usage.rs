//! Where a usage error sends the user: the command whose `--help` explains it.
//!
//! clap renders a usage error with the failing command's "Usage:" line (`Usage: tinibox
//! system df [OPTIONS]`); that line names the command that was being parsed, one level
//! deeper than the first word of the command line (`system df`, not `system`), and only
//! commands that exist (`tinibox bogus` → `tinibox`). The hidden runc-form commands are
//! given as the words users type (`oci-create` → `create`, `oci-run` → `run`).

/// Hidden command names and the names users type for them.
const HIDDEN: [(&str, &str); 2] = [("oci-create", "create"), ("oci-run", "run")];

/// The command line whose `--help` explains the error clap rendered as `rendered` (e.g.
/// `tinibox system df --help`); `tinibox --help` when the text has no usage line.
pub fn help_command(rendered: &str) -> String {
    let usage = rendered
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Usage:"))
        .unwrap_or("tinibox");
    let mut words: Vec<&str> = usage
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '<', '-', '.']))
        .map(|w| {
            HIDDEN
                .iter()
                .find(|(hidden, _)| *hidden == w)
                .map_or(w, |(_, shown)| *shown)
        })
        .collect();
    if words.is_empty() {
        words.push("tinibox");
    }
    words.push("--help");
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    /// The help named for the error of command line `line`.
    fn help(line: &str) -> String {
        let e = Cli::try_parse_from(line.split_whitespace()).unwrap_err();
        help_command(&e.to_string())
    }

    #[test]
    fn names_the_command_that_failed() {
        assert_eq!(
            help("tinibox system df --bogus"),
            "tinibox system df --help"
        );
        assert_eq!(help("tinibox system bogus"), "tinibox system --help");
        assert_eq!(help("tinibox bogus"), "tinibox --help");
        assert_eq!(
            help("tinibox image prune --bogus"),
            "tinibox image prune --help"
        );
        assert_eq!(help("tinibox ps --bogus"), "tinibox ps --help");
        assert_eq!(help("tinibox --root /r logs"), "tinibox logs --help");
        assert_eq!(
            help("tinibox oci-create --bundle /b"),
            "tinibox create --help"
        );
        assert_eq!(help("tinibox oci-run --bogus x"), "tinibox run --help");
        assert_eq!(help_command("no usage here"), "tinibox --help");
    }
}
