//! Credentials in Docker's client config format, so `docker login` and `tinibox login` share
//! them: `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) with
//! `{"auths": {"REGISTRY": {"auth": "base64(user:password)"}}}`. Docker Hub's key is
//! `https://index.docker.io/v1/`; other registries are keyed by `host[:port]` (keys written
//! as URLs, `https://host/`, are matched too). Keys tinibox does not know are kept as they are
//! when the file is rewritten. Credential helpers (`credsStore`, `credHelpers`) are not run.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::auth::Credentials;
use super::error::{RegistryError, Result};
use super::reference::{DOCKER_HUB, DOCKER_HUB_API};

/// Docker Hub's key in `auths`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The config file: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker/config.json")
}

/// The `auths` key for a registry domain.
pub fn key_for(domain: &str) -> String {
    if domain == DOCKER_HUB || domain == DOCKER_HUB_API || domain == "index.docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// `https://host:port/v1/` → `host:port`.
fn host_of_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn read_config() -> Result<Map<String, Value>> {
    let path = config_path();
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(RegistryError::Local {
                what: format!("read {}", path.display()),
                problem: "it is not a JSON object".into(),
            }),
            Err(e) => Err(RegistryError::Local {
                what: format!("read {}", path.display()),
                problem: format!("{e} — fix or remove the file"),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(RegistryError::local(format!("read {}", path.display()))(e)),
    }
}

/// The stored credentials for a registry domain, if any.
pub fn lookup(domain: &str) -> Result<Option<Credentials>> {
    let config = read_config()?;
    let Some(Value::Object(auths)) = config.get("auths") else {
        return Ok(None);
    };
    let key = key_for(domain);
    let wanted = host_of_key(&key);
    let entry = auths.get(&key).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| host_of_key(k) == wanted)
            .map(|(_, v)| v)
    });
    let Some(Value::Object(entry)) = entry else {
        return Ok(None);
    };
    if let Some(Value::String(auth)) = entry.get("auth") {
        if let Some(c) = Credentials::decode(auth) {
            return Ok(Some(c));
        }
    }
    match (entry.get("username"), entry.get("password")) {
        (Some(Value::String(u)), Some(Value::String(p))) => Ok(Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        })),
        _ => Ok(None),
    }
}

fn write_config(config: Map<String, Value>) -> Result<()> {
    let path = config_path();
    let what = format!("write {}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(RegistryError::local(&what))?;
    }
    let mut bytes =
        serde_json::to_vec_pretty(&Value::Object(config)).map_err(RegistryError::local(&what))?;
    bytes.push(b'\n');
    crate::linux::private_file::write_private(&path, &bytes, true)
        .map_err(RegistryError::local(what))
}

/// Stores credentials for a registry domain (replacing what was there).
pub fn store(domain: &str, creds: &Credentials) -> Result<PathBuf> {
    let mut config = read_config()?;
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Value::Object(map) = auths {
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(creds.encoded()));
        map.insert(key_for(domain), Value::Object(entry));
    }
    write_config(config)?;
    Ok(config_path())
}

/// Removes the credentials of a registry domain; `false` when there were none.
pub fn erase(domain: &str) -> Result<bool> {
    let mut config = read_config()?;
    let key = key_for(domain);
    let wanted = host_of_key(&key).to_string();
    let removed = match config.get_mut("auths") {
        Some(Value::Object(auths)) => {
            let before = auths.len();
            auths.retain(|k, _| host_of_key(k) != wanted);
            auths.len() != before
        }
        _ => false,
    };
    if removed {
        write_config(config)?;
    }
    Ok(removed)
}
