//! `apk`'s command line: parses apk-tools' applets and global options and runs them. Both
//! the `apk` binary (src/main.rs) and tinibox's multi-call build (`/sbin/apk` a link to
//! tinibox on TiniLinux) start here, through [`main`].
//!
//! Applets: `add`, `del`, `update`, `upgrade`, `info`, `search`, `list`, `fix`,
//! `cache clean`; global options as apk-tools' (`--root/-p`, `--repository/-X`,
//! `--repositories-file`, `--keys-dir`, `--allow-untrusted`, `--no-cache`, `--initdb`,
//! `--simulate/-s`, `--quiet/-q`, `--arch`, `--force-overwrite`, `--no-scripts`,
//! `--update-cache/-U`, `--purge`).
//!
//! Exit status, as apk-tools: 0 when all went well, otherwise the number of errors reported
//! (packages that could not be selected, fetched, verified or installed, failed scripts,
//! missing packages for `info -e`), capped at 99. A problem that stops the run before it
//! starts (bad option, unreadable root or database, lock held) exits 1, after one `ERROR:`
//! line naming the problem.

use crate::commands::{self, InfoWhat, ListWhat};
use crate::context::{Context, Globals};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "apk",
    version,
    about = "Alpine-compatible package manager (TiniLinux)"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct GlobalArgs {
    /// Manage the root at DIR instead of /
    #[arg(short = 'p', long = "root", global = true, default_value = "/")]
    root: PathBuf,
    /// Use an extra repository (URL or path)
    #[arg(short = 'X', long = "repository", global = true)]
    repository: Vec<String>,
    /// Read repositories from FILE instead of /etc/apk/repositories (relative to the root)
    #[arg(long, global = true)]
    repositories_file: Option<PathBuf>,
    /// Trusted keys directory instead of /etc/apk/keys (relative to the root)
    #[arg(long, global = true)]
    keys_dir: Option<PathBuf>,
    /// Accept unsigned or wrongly signed indexes and packages
    #[arg(long, global = true)]
    allow_untrusted: bool,
    /// Do not use or fill any cache
    #[arg(long, global = true)]
    no_cache: bool,
    /// Create the database layout in the root first
    #[arg(long, global = true)]
    initdb: bool,
    /// Show what would be done, change nothing
    #[arg(short = 's', long, global = true)]
    simulate: bool,
    /// Print less
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Package architecture (default: /etc/apk/arch of the root, else this machine's)
    #[arg(long, global = true)]
    arch: Option<String>,
    /// Overwrite files owned by other packages
    #[arg(long, global = true)]
    force_overwrite: bool,
    /// Do not run package scripts
    #[arg(long, global = true)]
    no_scripts: bool,
    /// Fetch remote indexes again before working
    #[arg(short = 'U', long, global = true)]
    update_cache: bool,
    /// Removing a package also deletes its configuration files the user changed
    #[arg(long, global = true)]
    purge: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install packages and add them to the world
    Add {
        /// Make a virtual package NAME depending on the given atoms
        #[arg(short = 't', long = "virtual", value_name = "NAME")]
        virtual_name: Option<String>,
        /// Upgrade the given packages if already installed
        #[arg(short = 'u', long)]
        upgrade: bool,
        /// Packages: NAME, NAME=VER, NAME>=VER, NAME<VER, NAME~VER, or FILE.apk
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Remove packages from the world and uninstall what is no longer needed
    Del {
        /// Package names
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Fetch the repository indexes again
    Update,
    /// Upgrade installed packages
    Upgrade {
        /// Also replace packages whose installed version no repository offers any more
        #[arg(short = 'a', long)]
        available: bool,
    },
    /// Show information about packages
    Info {
        /// List the files a package installed
        #[arg(short = 'L', long)]
        contents: bool,
        /// Name the package that owns each given file
        #[arg(short = 'W', long)]
        who_owns: bool,
        /// List dependencies
        #[arg(short = 'R', long)]
        depends: bool,
        /// Show the description
        #[arg(short = 'd', long)]
        description: bool,
        /// Exit 0 only if every given package is installed
        #[arg(short = 'e', long)]
        installed: bool,
        /// Show the webpage
        #[arg(short = 'w', long)]
        webpage: bool,
        /// Show the installed size (apk-tools' -s; here --size only, -s is --simulate)
        #[arg(long)]
        size: bool,
        /// Package names (or files for -W)
        args: Vec<String>,
    },
    /// Search package names in the repositories
    Search {
        /// Show descriptions
        #[arg(short = 'v', long)]
        verbose: bool,
        /// Glob patterns (a plain word matches as a substring)
        patterns: Vec<String>,
    },
    /// List packages
    List {
        /// Installed packages
        #[arg(short = 'I', long)]
        installed: bool,
        /// Installed packages with a newer version available
        #[arg(short = 'u', long)]
        upgradable: bool,
        /// Available packages
        #[arg(short = 'a', long)]
        available: bool,
        /// Glob patterns
        patterns: Vec<String>,
    },
    /// Finish or undo an interrupted transaction; reinstall broken or named packages
    Fix {
        /// Packages to reinstall
        packages: Vec<String>,
    },
    /// Manage the package cache
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Subcommand)]
enum CacheAction {
    /// Remove cached files no installed package or configured repository uses
    Clean,
}

fn run(cli: Cli) -> anyhow::Result<usize> {
    let a = cli.global;
    let g = Globals {
        root: a.root,
        repositories: a.repository,
        repositories_file: a.repositories_file,
        keys_dir: a.keys_dir,
        allow_untrusted: a.allow_untrusted,
        no_cache: a.no_cache,
        initdb: a.initdb,
        simulate: a.simulate,
        quiet: a.quiet,
        arch: a.arch,
        force_overwrite: a.force_overwrite,
        no_scripts: a.no_scripts,
        update_cache: a.update_cache,
        purge: a.purge,
    };
    match cli.cmd {
        Cmd::Add {
            virtual_name,
            upgrade,
            packages,
        } => {
            let mut ctx = Context::open(g, true, false)?;
            commands::add(&mut ctx, &packages, virtual_name.as_deref(), upgrade)
        }
        Cmd::Del { packages } => commands::del(&mut Context::open(g, true, false)?, &packages),
        Cmd::Update => commands::update(&mut Context::open(g, false, false)?),
        Cmd::Upgrade { available } => {
            commands::upgrade(&mut Context::open(g, true, false)?, available)
        }
        Cmd::Info {
            contents,
            who_owns,
            depends,
            description,
            installed,
            webpage,
            size,
            args,
        } => {
            let what = InfoWhat {
                contents,
                who_owns,
                depends,
                description,
                installed,
                webpage,
                size,
            };
            commands::info(&mut Context::open(g, false, false)?, what, &args)
        }
        Cmd::Search { verbose, patterns } => {
            commands::search(&mut Context::open(g, false, false)?, &patterns, verbose)
        }
        Cmd::List {
            installed,
            upgradable,
            available,
            patterns,
        } => {
            let what = ListWhat {
                installed,
                upgradable,
                available,
            };
            commands::list(&mut Context::open(g, false, false)?, what, &patterns)
        }
        Cmd::Fix { packages } => commands::fix(&mut Context::open(g, true, true)?, &packages),
        Cmd::Cache {
            action: CacheAction::Clean,
        } => commands::cache_clean(&mut Context::open(g, true, false)?),
    }
}

/// Parses `args` (the program name first, as `std::env::args_os()` gives them) and runs the
/// applet; returns the exit status described in the module doc (0, the number of errors up to
/// 99, or 1 for a problem that stopped the run before it started, including a bad option).
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        // --help and --version print in full; a usage error is one `ERROR:` line like every
        // other error (clap's first line, without its own prefix).
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("ERROR: {first} (see `apk --help`)");
            return 1;
        }
    };
    match run(cli) {
        Ok(errors) => errors.min(99) as i32,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
