//! Handlers for the image store commands (images helper).
//! Placeholder: each handler reports that it is not built yet.

use super::GlobalOptions;
use clap::Args;

/// Arguments of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {}

/// Runs `load`; returns the exit status.
pub fn load(_global: &GlobalOptions, _args: LoadArgs) -> u8 {
    eprintln!("tinibox: load is not built yet");
    125
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {}

/// Runs `import`; returns the exit status.
pub fn import(_global: &GlobalOptions, _args: ImportArgs) -> u8 {
    eprintln!("tinibox: import is not built yet");
    125
}

/// Arguments of `images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {}

/// Runs `images`; returns the exit status.
pub fn images(_global: &GlobalOptions, _args: ImagesArgs) -> u8 {
    eprintln!("tinibox: images is not built yet");
    125
}

/// Arguments of `rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {}

/// Runs `rmi`; returns the exit status.
pub fn rmi(_global: &GlobalOptions, _args: RmiArgs) -> u8 {
    eprintln!("tinibox: rmi is not built yet");
    125
}
