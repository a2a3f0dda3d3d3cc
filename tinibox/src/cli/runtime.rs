//! Handlers for the runc-compatible OCI runtime commands (runtime helper).
//! Placeholder: each handler reports that it is not built yet.

use super::GlobalOptions;
use clap::Args;

/// Arguments of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {}

/// Runs `create`; returns the exit status.
pub fn create(_global: &GlobalOptions, _args: CreateArgs) -> u8 {
    eprintln!("tinibox: create is not built yet");
    125
}

/// Arguments of `start`.
#[derive(Debug, Args)]
pub struct StartArgs {}

/// Runs `start`; returns the exit status.
pub fn start(_global: &GlobalOptions, _args: StartArgs) -> u8 {
    eprintln!("tinibox: start is not built yet");
    125
}

/// Arguments of `state`.
#[derive(Debug, Args)]
pub struct StateArgs {}

/// Runs `state`; returns the exit status.
pub fn state(_global: &GlobalOptions, _args: StateArgs) -> u8 {
    eprintln!("tinibox: state is not built yet");
    125
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {}

/// Runs `delete`; returns the exit status.
pub fn delete(_global: &GlobalOptions, _args: DeleteArgs) -> u8 {
    eprintln!("tinibox: delete is not built yet");
    125
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {}

/// Runs `list`; returns the exit status.
pub fn list(_global: &GlobalOptions, _args: ListArgs) -> u8 {
    eprintln!("tinibox: list is not built yet");
    125
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {}

/// Runs `exec`; returns the exit status.
pub fn exec(_global: &GlobalOptions, _args: ExecArgs) -> u8 {
    eprintln!("tinibox: exec is not built yet");
    125
}

/// Arguments of `pause`.
#[derive(Debug, Args)]
pub struct PauseArgs {}

/// Runs `pause`; returns the exit status.
pub fn pause(_global: &GlobalOptions, _args: PauseArgs) -> u8 {
    eprintln!("tinibox: pause is not built yet");
    125
}

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {}

/// Runs `resume`; returns the exit status.
pub fn resume(_global: &GlobalOptions, _args: ResumeArgs) -> u8 {
    eprintln!("tinibox: resume is not built yet");
    125
}

/// Arguments of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {}

/// Runs `update`; returns the exit status.
pub fn update(_global: &GlobalOptions, _args: UpdateArgs) -> u8 {
    eprintln!("tinibox: update is not built yet");
    125
}

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {}

/// Runs `events`; returns the exit status.
pub fn events(_global: &GlobalOptions, _args: EventsArgs) -> u8 {
    eprintln!("tinibox: events is not built yet");
    125
}

/// Arguments of `features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {}

/// Runs `features`; returns the exit status.
pub fn features(_global: &GlobalOptions, _args: FeaturesArgs) -> u8 {
    eprintln!("tinibox: features is not built yet");
    125
}

/// Arguments of `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {}

/// Runs `spec`; returns the exit status.
pub fn spec(_global: &GlobalOptions, _args: SpecArgs) -> u8 {
    eprintln!("tinibox: spec is not built yet");
    125
}

/// Arguments of `oci-run`.
#[derive(Debug, Args)]
pub struct OciRunArgs {}

/// Runs `oci-run`; returns the exit status.
pub fn oci_run(_global: &GlobalOptions, _args: OciRunArgs) -> u8 {
    eprintln!("tinibox: oci-run is not built yet");
    125
}
