//! The `run` flags that set kernel-facing parts of the spec beyond namespaces and resources:
//! `--cgroup-parent` (`linux.cgroupsPath`), `--sysctl` (`linux.sysctl`, namespaced keys only,
//! checked by [`super::sysctl`]), `--group-add` (supplementary gids from the rootfs's
//! /etc/group), `--device` (`linux.devices` + a device cgroup rule), `--shm-size` (the
//! /dev/shm tmpfs size).
//!
//! Pure parsers: the host's device nodes come from [`super::Facts::devices`]
//! ([`read_device`] is the one function here that reads, called by `Facts::read`). Every
//! error names the flag and the fix.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxNamespaceType,
};

use super::SpecError;

/// `--cgroup-parent P` → the spec's `cgroupsPath` for container `id`: `/P/<id>` (P without
/// its leading `/`), as Docker's cgroupfs driver places it.
pub fn cgroups_path(parent: &str, id: &str) -> Result<PathBuf, SpecError> {
    let rel = parent.trim_matches('/');
    let ok = !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && !rel.contains(':');
    if !ok {
        return Err(SpecError::flag(
            "--cgroup-parent",
            format!("{parent:?} is not a cgroup path"),
            "give a group below the hierarchy root without '..' or ':', e.g. --cgroup-parent /mygroup",
        ));
    }
    Ok(Path::new("/").join(rel).join(id))
}

/// `--sysctl KEY=VALUE` entries → the map, each key namespaced and in a namespace the
/// container owns (`owns`), as the OCI runtime spec demands.
pub fn sysctls(
    values: &[String],
    owns: impl Fn(LinuxNamespaceType) -> bool,
) -> Result<HashMap<String, String>, SpecError> {
    let mut out = HashMap::new();
    for v in values {
        let Some((k, val)) = v.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(SpecError::flag(
                "--sysctl",
                format!("{v:?} is not KEY=VALUE"),
                "write it as e.g. --sysctl net.ipv4.ip_forward=1",
            ));
        };
        out.insert(k.trim().to_string(), val.to_string());
    }
    let keys: Vec<String> = out.keys().cloned().collect();
    super::sysctl::validate(&keys, owns).map_err(|e| {
        SpecError::Invalid(format!(
            "--sysctl: {} — use a namespaced key",
            e.trim_start_matches("linux.sysctl: ")
        ))
    })?;
    Ok(out)
}

/// `--group-add` values → gids: numbers as given, names looked up in the rootfs's
/// /etc/group (`group_text`).
pub fn group_gids(values: &[String], group_text: &str) -> Result<Vec<u32>, SpecError> {
    let groups = crate::passwd::parse_group(group_text);
    values
        .iter()
        .map(|g| match g.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => groups
                .iter()
                .find(|(n, _, _)| n == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    SpecError::flag(
                        "--group-add",
                        format!("unknown group {g:?} (not in the container's /etc/group)"),
                        "use a numeric GID or a group that exists in the image",
                    )
                }),
        })
        .collect()
}

/// One `--device` as the container gets it.
#[derive(Debug, Clone)]
pub struct Device {
    /// The node made in the container.
    pub node: LinuxDevice,
    /// Access the device cgroup allows: a non-empty subset of `rwm`.
    pub access: String,
}

impl Device {
    /// The device cgroup rule allowing this device.
    pub fn rule(&self) -> Result<LinuxDeviceCgroup, SpecError> {
        Ok(LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(self.node.typ())
            .major(self.node.major())
            .minor(self.node.minor())
            .access(self.access.clone())
            .build()?)
    }
}

/// Splits `HOST[:CONTAINER[:PERMISSIONS]]` (a lone second part of r/w/m letters is the
/// permissions, as Docker reads it) → (host, container, permissions).
pub fn split_device(value: &str) -> Result<(String, String, String), SpecError> {
    let bad = |what: String| {
        SpecError::flag(
            "--device",
            what,
            "write HOST[:CONTAINER[:PERMISSIONS]], e.g. --device /dev/fuse or --device /dev/sdb:/dev/xvdc:r",
        )
    };
    let perms_ok = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = value.split(':').collect();
    let (host, cont, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if perms_ok(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(bad(format!("{value:?} has too many ':'"))),
    };
    if !perms_ok(perms) {
        return Err(bad(format!(
            "invalid permissions {perms:?} in {value:?} (letters r, w, m)"
        )));
    }
    if !host.starts_with('/') || !cont.starts_with('/') {
        return Err(bad(format!("{value:?}: device paths must be absolute")));
    }
    Ok((host.into(), cont.into(), perms.into()))
}

/// Reads the host node of one `--device` value (following symlinks, as Docker does).
pub fn read_device(value: &str) -> Result<Device, SpecError> {
    let (host, cont, access) = split_device(value)?;
    let meta = std::fs::metadata(&host).map_err(|e| {
        SpecError::flag(
            "--device",
            format!("cannot use {host}: {e}"),
            "give an existing device node of the host",
        )
    })?;
    let ft = meta.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(SpecError::flag(
            "--device",
            format!("{host} is not a character or block device"),
            "give a device node such as /dev/fuse",
        ));
    };
    let rdev = meta.rdev();
    let node = LinuxDeviceBuilder::default()
        .path(PathBuf::from(cont))
        .typ(typ)
        .major(libc::major(rdev) as i64)
        .minor(libc::minor(rdev) as i64)
        .file_mode(meta.mode() & 0o777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()?;
    Ok(Device { node, access })
}

/// `--shm-size` → the /dev/shm tmpfs `size=` option (bytes).
pub fn shm_option(value: &str) -> Result<String, SpecError> {
    let bytes = super::values::parse_size("--shm-size", value)?;
    Ok(format!("size={bytes}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_parent_is_absolute_and_checked() {
        assert_eq!(
            cgroups_path("/tb", "abc").unwrap(),
            PathBuf::from("/tb/abc")
        );
        assert_eq!(cgroups_path("a/b", "x").unwrap(), PathBuf::from("/a/b/x"));
        for bad in ["", "/", "../x", "a/../b", "s:p:n"] {
            assert!(cgroups_path(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn sysctls_need_a_namespace() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let m = sysctls(&s(&["net.ipv4.ip_forward=1", "kernel.shmmax=1000"]), |_| {
            true
        })
        .unwrap();
        assert_eq!(m["kernel.shmmax"], "1000");
        let e = sysctls(&s(&["vm.swappiness=1"]), |_| true).unwrap_err();
        assert!(
            e.to_string().starts_with("--sysctl: \"vm.swappiness\""),
            "{e}"
        );
        assert!(sysctls(&s(&["net.x=1"]), |t| t != LinuxNamespaceType::Network).is_err());
        assert!(sysctls(&s(&["noequals"]), |_| true).is_err());
    }

    #[test]
    fn groups_and_devices_parse() {
        let g = "root:x:0:\naudio:x:29:\n";
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(group_gids(&s(&["audio", "1234"]), g).unwrap(), [29, 1234]);
        assert!(group_gids(&s(&["nope"]), g).is_err());
        assert_eq!(
            split_device("/dev/null").unwrap(),
            ("/dev/null".into(), "/dev/null".into(), "rwm".into())
        );
        assert_eq!(split_device("/dev/null:r").unwrap().2, "r");
        assert_eq!(split_device("/dev/null:/dev/n2").unwrap().1, "/dev/n2");
        assert!(split_device("/dev/null:/dev/n:x").is_err());
        assert!(split_device("null").is_err());
        let d = read_device("/dev/null:/dev/mynull:rw").unwrap();
        assert_eq!((d.node.major(), d.node.minor()), (1, 3));
        assert!(read_device("/etc/passwd").is_err());
        assert!(read_device("/nonexistent-dev").is_err());
        assert_eq!(shm_option("1m").unwrap(), "size=1048576");
        assert!(shm_option("x").is_err());
    }
}
