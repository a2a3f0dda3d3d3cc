//! `inspect [-f TEMPLATE] [--type container|image] NAME|IMAGE…`: a JSON array with one
//! object per target, containers first ([`super::view::View::inspect`]), then images of the
//! store (`docker image inspect`'s object; with the `registry` feature), or each object
//! through a [`super::template`] with `-f`.
//!
//! Exit status as Docker's: 0, or 1 when a target is neither (after printing the others),
//! 125 for a bad flag; 1 for a template that does not apply (as Docker).

use serde_json::Value;

use super::view::View;
use super::{names, InspectArgs};
use crate::cli::GlobalOptions;

/// The object for one target, or the one-line reason there is none.
fn object(global: &GlobalOptions, what: &str, kind: Option<&str>) -> Result<Value, String> {
    if kind != Some("image") {
        if let Ok(id) = names::resolve(&global.root, what) {
            if let Some(v) = View::load(&global.root, &id) {
                return Ok(v.inspect(&global.root));
            }
        }
    }
    #[cfg(feature = "registry")]
    if kind != Some("container") {
        if let Ok(store) = crate::image::Store::open(&global.store) {
            if let Ok(v) = crate::registry::local::inspect(&store, what) {
                return Ok(v);
            }
        }
    }
    Err(format!(
        "No such object: {what} — see `tinibox ps -a` and `tinibox images`"
    ))
}

/// Runs `inspect`; returns the exit status.
pub fn run(global: &GlobalOptions, args: InspectArgs) -> u8 {
    if let Some(k) = args.kind.as_deref() {
        if k != "container" && k != "image" {
            eprintln!("tinibox: --type: {k:?} is not container or image");
            return 125;
        }
    }
    let mut objects = Vec::new();
    let mut status = 0;
    for t in &args.targets {
        match object(global, t, args.kind.as_deref()) {
            Ok(v) => objects.push(v),
            Err(e) => {
                eprintln!("tinibox: {e}");
                status = 1;
            }
        }
    }
    match &args.format {
        Some(f) => {
            for o in &objects {
                match super::template::render(f, o) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("tinibox: -f: {e}");
                        return 1;
                    }
                }
            }
        }
        None => match serde_json::to_string_pretty(&Value::Array(objects)) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("tinibox: {e}");
                return 125;
            }
        },
    }
    status
}
