//! Parsing the command line with a small clap tree.
//!
//! When clap builds a tree it copies the global flags ([`super::GlobalOptions`], seven `Arg`s
//! of about 0.7 KB each) into every subcommand, used or not: with 50 subcommands that was
//! 0.27 MB of heap for every command, `run --rm` included (BENCHMARKS.md, "Heap of a container
//! start"). So when the command line names a subcommand, it is parsed by a tree holding the
//! top level and that one subcommand; anything else (no subcommand, an unknown one, `help`, a
//! flag other than a global one before the subcommand, such as `--help`) by the whole tree.
//! Both trees come from the same derive ([`Cli`]), so they accept the same command lines and
//! say the same things about the subcommand.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use super::Cli;

/// Global flags that are a word of their own (no value).
const GLOBAL_SWITCHES: [&str; 2] = ["--debug", "--systemd-cgroup"];

/// Parses `args` (with `args[0]` the program) into a [`Cli`]; `sub` is the index of the
/// subcommand word ([`super::subcommand_index`]). Errors are clap's, as `Cli::try_parse_from`
/// gives them.
pub fn parse(args: &[OsString], sub: Option<usize>) -> Result<Cli, clap::Error> {
    parse_with(tree(args, sub), args)
}

/// Parses `args` with the tree `cmd` ([`built`] first).
fn parse_with(cmd: clap::Command, args: &[OsString]) -> Result<Cli, clap::Error> {
    let mut cmd = built(cmd, args.first());
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

/// The clap tree for `args`: the top level with only the subcommand at `sub` when only global
/// flags come before it and it names one of ours, else the whole tree.
fn tree(args: &[OsString], sub: Option<usize>) -> clap::Command {
    let full = Cli::command();
    let Some(i) = sub else {
        return full;
    };
    if !only_global_flags(&args[1..i]) {
        return full;
    }
    let Some(wanted) = full.find_subcommand(&args[i]).cloned() else {
        return full;
    };
    top_level(&full).subcommand(wanted)
}

/// `cmd` built (its deferred arguments made), with each subcommand's description put back.
///
/// The subcommands' arguments are deferred ([`super::Command`]); building one runs its
/// `Args` derive, which sets the struct's own doc comment ("Arguments of `run`") as the
/// description, over the variant's ("Run a command in a new container…") that `run --help`
/// shows. So the tree is built here, as clap would build it for the parse (the program name
/// from `argv0`'s file name first, as clap takes it), and the variants' descriptions set again.
fn built(cmd: clap::Command, argv0: Option<&OsString>) -> clap::Command {
    let described: Vec<_> = cmd
        .get_subcommands()
        .map(|s| {
            (
                s.get_name().to_owned(),
                s.get_about().cloned(),
                s.get_long_about().cloned(),
            )
        })
        .collect();
    let mut cmd = match argv0
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|f| f.to_str())
    {
        Some(name) => cmd.bin_name(name.to_owned()),
        None => cmd,
    };
    cmd.build();
    cmd.mut_subcommands(|s| match described.iter().find(|d| d.0 == s.get_name()) {
        Some((_, about, long_about)) => {
            let s = match about {
                Some(a) => s.about(a.clone()),
                None => s.about(None::<&'static str>),
            };
            match long_about {
                Some(l) => s.long_about(l.clone()),
                None => s.long_about(None::<&'static str>),
            }
        }
        None => s,
    })
}

/// Whether `words` (what comes before the subcommand) are only global flags and their values.
fn only_global_flags(words: &[OsString]) -> bool {
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_string_lossy();
        if super::GLOBAL_VALUE_FLAGS.contains(&w.as_ref()) {
            i += 2;
            continue;
        }
        let with_value = super::GLOBAL_VALUE_FLAGS
            .iter()
            .any(|f| w.strip_prefix(f).is_some_and(|rest| rest.starts_with('=')));
        if !with_value && !GLOBAL_SWITCHES.contains(&w.as_ref()) {
            return false;
        }
        i += 1;
    }
    true
}

/// The top level of `full` without its subcommands: its name ([`super::NAME`]), version (the
/// crate's, as the derive's `version`), descriptions, arguments (the global flags), groups and
/// the settings the derive gives a command with a required subcommand.
fn top_level(full: &clap::Command) -> clap::Command {
    let mut top = clap::Command::new(super::NAME)
        .subcommand_required(full.is_subcommand_required_set())
        .arg_required_else_help(full.is_arg_required_else_help_set())
        .args(full.get_arguments().cloned())
        .groups(full.get_groups().cloned());
    if full.get_version().is_some() {
        top = top.version(env!("CARGO_PKG_VERSION"));
    }
    if let Some(about) = full.get_about() {
        top = top.about(about.clone());
    }
    if let Some(long) = full.get_long_about() {
        top = top.long_about(long.clone());
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `line` with the small tree and with the whole tree; both results as text.
    fn both(line: &str) -> (String, String) {
        let args: Vec<OsString> = line.split_whitespace().map(Into::into).collect();
        let small = parse(&args, super::super::subcommand_index(&args));
        let whole = parse_with(Cli::command(), &args);
        let text = |r: Result<Cli, clap::Error>| match r {
            Ok(cli) => format!("{cli:?}"),
            Err(e) => format!("{:?}: {}", e.kind(), e.render()),
        };
        (text(small), text(whole))
    }

    #[test]
    fn small_tree_parses_like_the_whole_tree() {
        for line in [
            "tinibox run --rm -h box -e A=1 /rootfs sh -c x",
            "tinibox --root /r --debug run --network none /rootfs true",
            "tinibox --root=/r run /rootfs --root /s",
            "tinibox run --rm /rootfs --store /s ls",
            "tinibox oci-run --bundle /b c1",
            "tinibox ps -a -q",
            "tinibox network ls",
            "tinibox rm -f a b",
        ] {
            let (small, whole) = both(line);
            assert!(small.starts_with("Cli {"), "{line}: {small}");
            assert_eq!(small, whole, "{line}");
        }
    }

    #[test]
    fn small_tree_refuses_like_the_whole_tree() {
        for line in [
            "tinibox run",
            "tinibox run --bogus /rootfs",
            "tinibox run --rm --netwrk none /rootfs",
            "tinibox ps --all --bogus",
            "tinibox run --help",
            "tinibox --debug run -h",
            "tinibox --help run",
            "tinibox --bogus run /rootfs",
            "tinibox rnu /rootfs",
            "tinibox",
        ] {
            let (small, whole) = both(line);
            assert_eq!(small, whole, "{line}");
            assert!(!small.starts_with("Cli"), "{line} parsed: {small}");
        }
    }

    #[test]
    fn subcommand_help_says_what_the_variant_says() {
        for (line, about) in [
            ("tinibox run --help", "Run a command in a new container"),
            ("tinibox help run", "Run a command in a new container"),
            ("tinibox create --help", "Create a container from an image"),
            ("tinibox spec --help", "runc: write a default config.json"),
        ] {
            let (small, _) = both(line);
            assert!(small.starts_with("DisplayHelp"), "{line}: {small}");
            let first = small.lines().next().unwrap_or_default();
            assert!(first.contains(about), "{line}: {first}");
            assert!(!small.contains("Arguments of"), "{line}: {small}");
        }
    }

    #[test]
    fn top_level_is_the_derives() {
        let full = Cli::command();
        let top = top_level(&full);
        assert_eq!(top.get_name(), full.get_name());
        assert_eq!(top.get_version(), full.get_version());
        assert_eq!(
            top.get_about().map(ToString::to_string),
            full.get_about().map(ToString::to_string)
        );
        let ids = |c: &clap::Command| {
            c.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&top), ids(&full));
        assert!(top.is_subcommand_required_set());
    }

    #[test]
    fn tree_is_small_only_after_global_flags() {
        let count = |line: &str| {
            let args: Vec<OsString> = line.split_whitespace().map(Into::into).collect();
            tree(&args, super::super::subcommand_index(&args))
                .get_subcommands()
                .count()
        };
        assert_eq!(
            count("tinibox --root /r --log-format=json --debug run /x"),
            1
        );
        assert_eq!(count("tinibox run /x"), 1);
        assert!(count("tinibox --help run") > 40);
        assert!(count("tinibox help run") > 40);
        assert!(count("tinibox nosuch") > 40);
        assert!(count("tinibox") > 40);
    }
}
