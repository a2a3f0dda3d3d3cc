//! The three /etc files every container gets: hostname, hosts and resolv.conf, written into a
//! directory tinibox owns (the container's state) and bind-mounted over the rootfs's copies.
//!
//! Writes only inside the directory it is given, each file to a temporary name then renamed.

use std::path::{Path, PathBuf};

use super::SpecError;

/// Which network the container uses, as far as /etc files are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// A private network namespace with only `lo`.
    None,
    /// The host's network namespace.
    Host,
}

fn write_atomic(path: &Path, contents: &str) -> Result<(), SpecError> {
    let tmp = path.with_extension("tmp");
    let io = |source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, contents).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes hostname, hosts and resolv.conf into `dir` and returns (container path, host file)
/// pairs to bind-mount. With host networking, the host's /etc/hosts and resolv.conf are used.
pub fn write(
    dir: &Path,
    hostname: &str,
    network: NetworkMode,
) -> Result<Vec<(String, PathBuf)>, SpecError> {
    std::fs::create_dir_all(dir).map_err(|source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let hostname_file = dir.join("hostname");
    write_atomic(&hostname_file, &format!("{hostname}\n"))?;
    let hosts_file = dir.join("hosts");
    let resolv_file = dir.join("resolv.conf");
    match network {
        NetworkMode::None => {
            write_atomic(
                &hosts_file,
                &format!(
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
                ),
            )?;
            // No network: an empty resolver list, so lookups fail fast instead of timing out.
            write_atomic(&resolv_file, "")?;
        }
        NetworkMode::Host => {
            let hosts = std::fs::read_to_string("/etc/hosts")
                .unwrap_or_else(|_| "127.0.0.1\tlocalhost\n".to_string());
            write_atomic(&hosts_file, &hosts)?;
            let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            write_atomic(&resolv_file, &resolv)?;
        }
    }
    Ok(vec![
        ("/etc/hostname".to_string(), hostname_file),
        ("/etc/hosts".to_string(), hosts_file),
        ("/etc/resolv.conf".to_string(), resolv_file),
    ])
}
