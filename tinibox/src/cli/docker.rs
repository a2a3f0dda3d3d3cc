//! Handlers for the docker-like container commands and `check` (engine helper).
//! Placeholder: each handler reports that it is not built yet.

use super::GlobalOptions;
use clap::Args;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {}

/// Runs `run`; returns the exit status.
pub fn run(_global: &GlobalOptions, _args: RunArgs) -> u8 {
    eprintln!("tinibox: run is not built yet");
    125
}

/// Arguments of `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {}

/// Runs `ps`; returns the exit status.
pub fn ps(_global: &GlobalOptions, _args: PsArgs) -> u8 {
    eprintln!("tinibox: ps is not built yet");
    125
}

/// Arguments of `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {}

/// Runs `stop`; returns the exit status.
pub fn stop(_global: &GlobalOptions, _args: StopArgs) -> u8 {
    eprintln!("tinibox: stop is not built yet");
    125
}

/// Arguments of `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {}

/// Runs `kill`; returns the exit status.
pub fn kill(_global: &GlobalOptions, _args: KillArgs) -> u8 {
    eprintln!("tinibox: kill is not built yet");
    125
}

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {}

/// Runs `rm`; returns the exit status.
pub fn rm(_global: &GlobalOptions, _args: RmArgs) -> u8 {
    eprintln!("tinibox: rm is not built yet");
    125
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {}

/// Runs `logs`; returns the exit status.
pub fn logs(_global: &GlobalOptions, _args: LogsArgs) -> u8 {
    eprintln!("tinibox: logs is not built yet");
    125
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {}

/// Runs `check`; returns the exit status.
pub fn check(_global: &GlobalOptions, _args: CheckArgs) -> u8 {
    eprintln!("tinibox: check is not built yet");
    125
}
