//! Root's SSH keys baked into the image (`distro-build --ssh-authorized-keys FILE`): the file
//! is checked line by line against the authorized_keys format of sshd(8) ("AUTHORIZED_KEYS
//! FILE FORMAT": optional options, key type, base64 key, optional comment), so a private key,
//! a typo or an empty file is refused before anything is built, and then becomes
//! `/root/.ssh/authorized_keys` (0600 in a 0700 folder) of the live system and the disk
//! image. The OCI images never carry it: they are cut from the base tree, and the key goes
//! into the live tree only. With it present, rcS starts Dropbear ([`crate::dropbear`]).

use std::path::Path;

use base64::Engine;

use crate::error::{Error, IoContext, Result};
use crate::tree::{Entry, FileData, RootfsTree};

/// Where root's authorized keys sit in a root file system.
pub const AUTHORIZED_KEYS: &str = "root/.ssh/authorized_keys";

/// Key types Dropbear (as TiniLinux builds it) accepts for a user.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// Checks one non-comment line; returns the key type, or why the line is not a public key.
fn check_line(line: &str) -> std::result::Result<&str, String> {
    if line.contains("PRIVATE KEY") {
        return Err("this is a private key; give the public key (the .pub file)".into());
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    // The key type is the first field, or the second when options come first (options may
    // hold quoted spaces, so look for the first field that is a known type).
    let Some(at) = fields.iter().position(|f| KEY_TYPES.contains(f)) else {
        let first: String = line.chars().take(24).collect();
        return Err(format!(
            "no public key of a supported type ({}) in {first:?}…",
            KEY_TYPES.join(", ")
        ));
    };
    let kind = fields[at];
    let blob = fields
        .get(at + 1)
        .ok_or_else(|| format!("{kind} is not followed by the base64 key"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|e| format!("the {kind} key is not valid base64 ({e})"))?;
    // RFC 4253 section 6.6: the blob starts with the key type as an SSH string.
    let named = bytes
        .get(..4)
        .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
        .and_then(|n| bytes.get(4..4 + n));
    if named != Some(kind.as_bytes()) {
        return Err(format!("the base64 key is not an {kind} key"));
    }
    Ok(kind)
}

/// Reads and checks the authorized_keys file at `path`; returns its text (a newline added at
/// the end if missing).
///
/// Errors: [`Error::Usage`] naming the file and line for an unreadable file, a file without
/// any key, a private key or a line that is not a public key.
pub fn read_authorized_keys(path: &Path) -> Result<String> {
    let usage =
        |msg: String| Error::Usage(format!("--ssh-authorized-keys {}: {msg}", path.display()));
    let bytes = std::fs::read(path)
        .ctx(|| format!("reading {}", path.display()))
        .map_err(|e| usage(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| usage("not UTF-8 text".into()))?;
    let mut keys = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        check_line(line).map_err(|e| usage(format!("line {}: {e}", n + 1)))?;
        keys += 1;
    }
    if keys == 0 {
        return Err(usage(
            "holds no public key (one per line, as in ~/.ssh/id_ed25519.pub)".into(),
        ));
    }
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Adds `keys` (checked by [`read_authorized_keys`]) as root's authorized_keys to `tree`.
///
/// Errors: an invalid tree path (none for this fixed path).
pub fn add_authorized_keys(tree: &mut RootfsTree, keys: &str) -> Result<()> {
    tree.insert("root/.ssh", Entry::dir(0o700))?;
    tree.insert(
        AUTHORIZED_KEYS,
        Entry::file(FileData::Bytes(keys.as_bytes().to_vec()), 0o600),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 public key made by `ssh-keygen -t ed25519` for this test.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN6fzPRcnhXyII6ExjxSop8rQYjw20DbIa0GZhAaoDA7 test@host";

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn accepts_public_keys_with_options_and_comments() {
        let text = format!("# root's keys\n{ED25519}\nno-pty,command=\"echo a b\" {ED25519}");
        let (_d, path) = file(&text);
        let keys = read_authorized_keys(&path).unwrap();
        assert_eq!(keys, format!("{text}\n"));
        let mut tree = RootfsTree::new();
        add_authorized_keys(&mut tree, &keys).unwrap();
        assert_eq!(tree.get(AUTHORIZED_KEYS).unwrap().mode, 0o600);
        assert_eq!(tree.get("root/.ssh").unwrap().mode, 0o700);
    }

    #[test]
    fn refuses_private_keys_garbage_and_empty_files() {
        for (text, says) in [
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
                "private key",
            ),
            ("ssh-ed25519 not*base64 x\n", "base64"),
            (
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIN6fzPRcnhXyII6ExjxSop8rQYjw20DbIa0GZhAaoDA7\n",
                "not an ssh-rsa key",
            ),
            ("hello world\n", "no public key"),
            ("# only a comment\n\n", "holds no public key"),
        ] {
            let (_d, path) = file(text);
            let err = read_authorized_keys(&path).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{err}");
            assert!(err.to_string().contains(says), "{text:?}: {err}");
        }
        let err = read_authorized_keys(Path::new("/nonexistent/keys")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/keys"), "{err}");
    }
}
