//! `spec`: writes a default config.json (tinibox's secure defaults) into a bundle. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::finish;
use crate::cli::{log, GlobalOptions};

/// Arguments of `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Where to write config.json (default: the current directory).
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
}

/// Runs `spec`; returns the exit status.
pub fn spec(global: &GlobalOptions, args: SpecArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let target = args.bundle.join("config.json");
        if target.exists() {
            bail!(
                "{} exists already: remove it or choose another --bundle",
                target.display()
            );
        }
        let json = crate::spec::to_json(&crate::spec::default_spec()?)?;
        // Write a temp file, then link it into place: never overwrites, never half-written.
        let tmp = args
            .bundle
            .join(format!(".config.json.tmp{}", std::process::id()));
        std::fs::write(&tmp, json + "\n")
            .with_context(|| format!("cannot write in {}", args.bundle.display()))?;
        let linked = std::fs::hard_link(&tmp, &target);
        let _ = std::fs::remove_file(&tmp);
        linked.with_context(|| format!("cannot create {}", target.display()))?;
        Ok(0)
    })();
    finish(global, "spec", r)
}
