//! Name resolution on user-defined networks through each member's `/etc/hosts`.
//!
//! Every container's /etc/hosts is a file in its front folder, bind-mounted into it. tinibox
//! owns the block after [`MARKER`] and rewrites it, in place (same inode, so the bind mount
//! sees it), whenever a container joins or leaves one of the member's networks: the
//! container's own `IP<TAB>HOSTNAME` line, then `IP<TAB>NAME ALIASES…` for every other
//! member of its user-defined networks. BusyBox's `ping NAME`, `wget http://NAME/` and libc
//! resolvers read /etc/hosts first, so names resolve without any process.
//!
//! Chosen over Docker's embedded DNS server (127.0.0.11): no daemon per network to start,
//! supervise and clean up after a SIGKILL, and nothing to add to the 8 MiB ISO; the cost is
//! that a name appears only once tinibox rewrote the file (at the peer's join), and that
//! processes caching lookups keep old answers. Owns the block's format only.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// The line that starts tinibox's block.
pub const MARKER: &str =
    "# tinibox networks: the lines below are rewritten as containers join and leave\n";

/// The block for a container: its own lines (an IPv4 and, on a network with IPv6, an IPv6
/// address), then one line an address of a peer.
pub fn block(own: &[(IpAddr, &str)], peers: &[(IpAddr, Vec<String>)]) -> String {
    let mut out = String::from(MARKER);
    for (ip, hostname) in own {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    for (ip, names) in peers {
        if !names.is_empty() {
            out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
        }
    }
    out
}

/// `text` with its tinibox block replaced by `block`.
pub fn replace_block(text: &str, block: &str) -> String {
    let head = match text.find(MARKER) {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = head.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(block);
    out
}

/// Rewrites the block of the hosts file at `path` in place; a missing file is left alone
/// (the container was removed meanwhile).
pub fn rewrite(path: &Path, block: &str) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let new = replace_block(&text, block);
    if new == text {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(new.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_block_is_replaced_not_appended() {
        let base = "127.0.0.1\tlocalhost\n10.0.0.9\tdb\n";
        let b1 = block(
            &[(Ipv4Addr::new(10, 89, 1, 2).into(), "web")],
            &[
                (
                    Ipv4Addr::new(10, 89, 1, 3).into(),
                    vec!["api".into(), "0123".into()],
                ),
                ("fd42::3".parse().unwrap(), vec!["api".into()]),
            ],
        );
        let once = replace_block(base, &b1);
        assert_eq!(
            once,
            format!("{base}{MARKER}10.89.1.2\tweb\n10.89.1.3\tapi 0123\nfd42::3\tapi\n")
        );
        let b2 = block(&[(Ipv4Addr::new(10, 89, 1, 2).into(), "web")], &[]);
        assert_eq!(
            replace_block(&once, &b2),
            format!("{base}{MARKER}10.89.1.2\tweb\n")
        );
    }

    #[test]
    fn rewriting_keeps_the_inode() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "127.0.0.1\tlocalhost\n").unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        rewrite(&p, &block(&[(Ipv4Addr::new(10, 1, 0, 2).into(), "h")], &[])).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .ends_with("10.1.0.2\th\n"));
        rewrite(&d.path().join("gone"), "x").unwrap();
    }
}
