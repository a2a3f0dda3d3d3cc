//! Reading a container's /etc/passwd and /etc/group text (passwd(5), group(5)): pure
//! parsing, shared by the spec builder (`-u NAME`) and the child side (the default HOME).
//! A leaf: imports nothing of tinibox.

/// One line of /etc/passwd: the fields tinibox reads.
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// The entries of a passwd(5) text (`name:pw:uid:gid:gecos:home:shell`); malformed lines
/// are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// The entries of a group(5) text as (name, gid, members); malformed lines are skipped.
pub fn parse_group(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// The home directory of `uid` in a passwd file's text: its entry's, or `/` when it has none
/// (runc's default, libcontainer's `GetExecUser`, and Docker's for `-u UID` without an entry).
pub fn home_of(passwd_text: &str, uid: u32) -> String {
    parse_passwd(passwd_text)
        .into_iter()
        .find(|p| p.uid == uid)
        .map(|p| p.home)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string())
}
