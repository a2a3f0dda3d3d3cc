//! `distro-build push REF`: sends the built `tinilinux` image (`out/oci/`, the layout `oci`
//! made) to a registry unchanged, through tinibox's registry client
//! ([`tinibox::registry::push_layout`]), so the registry serves the same manifest digest
//! as `out/oci/index.json` and the reproducibility checks name. Credentials come from Docker's
//! `config.json` (`tinibox login` or `docker login`); a loopback registry may be plain HTTP.
//! With more than one architecture built, the layout's entry is an index and is pushed whole.

use std::io::IsTerminal as _;

use tinibox::registry::progress::Progress;
use tinibox::registry::push_layout::push_layout;

use super::{output_paths, MAIN_IMAGE};
use crate::context::Context;
use crate::error::{Error, Result};

/// The layout entry pushed: the `ref.name` the OCI export gives the main image.
pub const LAYOUT_TAG: &str = "latest";

/// Pushes `out/oci/`'s `latest` to `reference` (`HOST[:PORT]/REPO[:TAG]`); returns the
/// manifest digest the registry now has under the tag.
///
/// Errors: no `out/oci/` ([`Error::Invalid`], saying to build it), and every registry error
/// (unreachable, refused credentials, a damaged layout) as [`Error::Invalid`] with its text.
pub fn push(ctx: &Context, reference: &str) -> Result<String> {
    let (_, layout, _) = output_paths(&ctx.shared_out_dir(), MAIN_IMAGE);
    if !layout.join("index.json").is_file() {
        return Err(Error::Invalid(format!(
            "{} holds no OCI image layout: run `distro-build oci` (or `all`) first",
            layout.display()
        )));
    }
    let tty = std::io::stderr().is_terminal();
    let progress = Progress::new(Box::new(std::io::stderr()), tty, false);
    let pushed = push_layout(&layout, LAYOUT_TAG, reference, &progress)
        .map_err(|e| Error::Invalid(format!("push to {reference}: {e}")))?;
    Ok(pushed.digest)
}
