//! The services baked into the image: every `services/NAME.json` of the repository becomes
//! `/etc/tinibox/services/NAME.json` in the live rootfs (so on the ISO and the disk image, not
//! in the OCI images), where rcS starts it with `tinibox service up --boot`. Each file is
//! checked with tinibox's own parser ([`tinibox::service`]) first: a file tinibox would
//! refuse stops the build (exit 2) naming the file and the problem.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::tree::{Entry, FileData, RootfsTree};

/// Where the service files go in the image (tinibox's default folder, without the leading /).
pub const IMAGE_DIR: &str = "etc/tinibox/services";

/// The repository's folder of service files.
pub fn repo_dir(ctx: &Context) -> PathBuf {
    ctx.repo_root.join("services")
}

/// Adds each `*.json` of `dir` (checked) to `tree` under [`IMAGE_DIR`]; returns their names.
/// A missing folder adds nothing.
pub fn add(dir: &Path, tree: &mut RootfsTree) -> Result<Vec<String>> {
    let files = match tinibox::service::files_in(dir) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Error::Io {
                context: format!("reading the services folder {}", dir.display()),
                source: e,
            })
        }
    };
    let mut names = Vec::new();
    for path in files {
        let service =
            tinibox::service::Service::load(&path).map_err(|e| Error::Usage(e.to_string()))?;
        tree.insert(
            format!("{IMAGE_DIR}/{}.json", service.name),
            Entry::file(FileData::Host(path.clone()), 0o644),
        )?;
        names.push(service.name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repositorys_services_are_baked_and_checked() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../services");
        let mut tree = RootfsTree::new();
        let names = add(&repo, &mut tree).unwrap();
        assert_eq!(names, ["web"]);
        assert!(tree.get("etc/tinibox/services/web.json").is_some());
    }

    #[test]
    fn a_bad_service_stops_the_build_with_its_name() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("db.json"), r#"{"image": "x", "volumes": []}"#).unwrap();
        let err = add(d.path(), &mut RootfsTree::new()).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
        assert!(err.to_string().contains("db.json") && err.to_string().contains("volumes"));
        assert!(add(&d.path().join("none"), &mut RootfsTree::new())
            .unwrap()
            .is_empty());
    }
}
