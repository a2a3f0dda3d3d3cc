//! Handlers for the registry commands: `pull`, `login`, `logout`, `tag`, `inspect`, and the
//! on-demand pull of `run --pull`. Arguments here, logic in `crate::registry`.
//!
//! Failures print one line on stderr and exit 125, as Docker's CLI does.

use std::io::Read;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::GlobalOptions;
use crate::image::Store;
use crate::registry::progress::{is_terminal, Progress};
use crate::registry::{self, credentials, ImageRef, Platform, RegistryError};

/// Exit status of a failed registry command (Docker's convention).
pub const EXIT_FAILURE: u8 = 125;

fn fail(err: impl std::fmt::Display) -> u8 {
    eprintln!("tinibox: {err}");
    EXIT_FAILURE
}

fn open(global: &GlobalOptions) -> Result<Store, RegistryError> {
    Ok(Store::open(&global.store)?)
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull the image for this platform (OS/ARCH[/VARIANT]) instead of the host's.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Print only the image's reference.
    #[arg(short, long)]
    pub quiet: bool,
    /// The image: [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST].
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

fn parse_platform(text: Option<&str>) -> Result<Option<Platform>, String> {
    text.map(Platform::parse).transpose()
}

/// Runs `pull`; returns the exit status.
pub fn pull(global: &GlobalOptions, args: PullArgs) -> u8 {
    let platform = match parse_platform(args.platform.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let store = match open(global) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let progress = Progress::new(Box::new(std::io::stdout()), is_terminal(1), args.quiet);
    match registry::pull::pull(&store, &args.image, platform.as_ref(), &progress) {
        Ok(p) => {
            if args.quiet {
                println!("{}", p.familiar);
            } else if let Ok(r) = ImageRef::parse(&args.image) {
                println!("{}/{}:{}", r.domain, r.path, r.reference());
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// When `run` pulls its image (Docker's `--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PullPolicy {
    /// Pull when the image is not in the store.
    #[default]
    Missing,
    /// Always pull (the store is updated when the registry has something newer).
    Always,
    /// Never pull.
    Never,
}

/// Makes sure `image` is in the store for `run`, following `policy`; returns the text the
/// store resolves it by (unchanged when no pull was involved). Progress goes to stderr.
pub fn ensure_image(
    global: &GlobalOptions,
    image: &str,
    policy: PullPolicy,
) -> Result<String, (u8, String)> {
    if std::path::Path::new(image).is_dir() || policy == PullPolicy::Never {
        return Ok(image.to_string());
    }
    let store = open(global).map_err(|e| (EXIT_FAILURE, e.to_string()))?;
    let local = registry::pull::find_local(&store, image);
    if policy == PullPolicy::Missing {
        if let Some(found) = local {
            return Ok(found);
        }
        // Not a registry reference (e.g. a short ID): let the store's error speak.
        if ImageRef::parse(image).is_err() {
            return Ok(image.to_string());
        }
        eprintln!("Unable to find image '{image}' locally");
    }
    let progress = Progress::new(Box::new(std::io::stderr()), is_terminal(2), false);
    match registry::pull::pull(&store, image, None, &progress) {
        Ok(p) => Ok(registry::pull::find_local(&store, image).unwrap_or(p.record.manifest_digest)),
        Err(e) => Err((EXIT_FAILURE, e.to_string())),
    }
}

/// Arguments of `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: command lines are visible to other users).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry (HOST[:PORT]); Docker Hub when left out.
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

fn domain_of(server: Option<&str>) -> String {
    let s = server.unwrap_or("docker.io");
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    if s == "index.docker.io" || s == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        s.to_string()
    }
}

fn api_host(domain: &str) -> &str {
    if domain == registry::reference::DOCKER_HUB {
        registry::reference::DOCKER_HUB_API
    } else {
        domain
    }
}

fn read_line_stdin(prompt: Option<&str>) -> std::io::Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
    }
    let mut text = String::new();
    std::io::stdin().read_line(&mut text)?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs `login`: checks the credentials against the registry, then stores them in Docker's
/// config.json.
pub fn login(_global: &GlobalOptions, args: LoginArgs) -> u8 {
    let domain = domain_of(args.server.as_deref());
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            return fail("--password-stdin needs --username (-u)");
        }
        None => match read_line_stdin(Some("Username: ")) {
            Ok(u) if !u.is_empty() => u,
            _ => return fail("login needs a user name: -u USER"),
        },
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            return fail(format!("reading the password from stdin: {e}"));
        }
        text.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        p
    } else {
        match read_line_stdin(Some("Password: ")) {
            Ok(p) => p,
            Err(e) => return fail(format!("reading the password: {e}")),
        }
    };
    if password.is_empty() {
        return fail("login needs a password: --password-stdin or -p");
    }
    let creds = registry::auth::Credentials { username, password };
    if let Err(e) = registry::client::Client::login(api_host(&domain), creds.clone()) {
        let code = e.login_exit_code();
        fail(e);
        return code;
    }
    match credentials::store(&domain, &creds) {
        Ok(path) => {
            eprintln!("Credentials stored in {}", path.display());
            println!("Login Succeeded");
            0
        }
        Err(e) => fail(e),
    }
}

/// Arguments of `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (HOST[:PORT]); Docker Hub when left out.
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// Runs `logout`: removes the registry's stored credentials.
pub fn logout(_global: &GlobalOptions, args: LogoutArgs) -> u8 {
    let domain = domain_of(args.server.as_deref());
    match credentials::erase(&domain) {
        Ok(true) => {
            println!(
                "Removing login credentials for {}",
                credentials::key_for(&domain)
            );
            0
        }
        Ok(false) => {
            println!("Not logged in to {}", credentials::key_for(&domain));
            0
        }
        Err(e) => fail(e),
    }
}

/// Arguments of `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// The image, named for its registry: [REGISTRY[:PORT]/]NAME[:TAG].
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// Runs `push`; returns the exit status.
pub fn push(global: &GlobalOptions, args: PushArgs) -> u8 {
    let store = match open(global) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let progress: Arc<Progress> =
        Progress::new(Box::new(std::io::stdout()), is_terminal(1), args.quiet);
    match registry::push::push(&store, &args.image, &progress) {
        Ok(p) => {
            if !p.same_id {
                eprintln!(
                    "tinibox: note: the layer archives were rebuilt from the store and differ from the originals, so the pushed image has a new ID"
                );
            }
            0
        }
        Err(e) => {
            let code = e.exit_code();
            fail(e);
            code
        }
    }
}

/// Arguments of `tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image in the store (name[:tag] or ID).
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    /// The new name: [REGISTRY[:PORT]/]NAME[:TAG].
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

/// Runs `tag`; returns the exit status.
pub fn tag(global: &GlobalOptions, args: TagArgs) -> u8 {
    match open(global).and_then(|s| registry::local::tag(&s, &args.source, &args.target)) {
        Ok(_) => 0,
        Err(e) => {
            let code = e.exit_code();
            fail(e);
            code
        }
    }
}

/// Archive formats of `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SaveFormatArg {
    /// OCI image layout in a tar.
    #[default]
    Oci,
    /// OCI layout plus Docker's manifest.json (what `docker load` reads).
    Docker,
}

/// Arguments of `save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (default: standard output, which must not be a terminal).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Archive format.
    #[arg(long, value_enum, default_value_t = SaveFormatArg::Oci)]
    pub format: SaveFormatArg,
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `save` without `-o`, as `docker save IMAGE > FILE`: the archive is written into a staging
/// folder of the store (removed afterwards, and by the next command that opens the store if
/// this one is killed) and copied to standard output.
fn save_to_stdout(
    global: &GlobalOptions,
    image: &str,
    format: registry::local::SaveFormat,
) -> Result<bool, RegistryError> {
    let store = open(global)?;
    let staging = store
        .staging_dir("save")
        .map_err(RegistryError::local("make a staging folder for save"))?;
    let tar = staging.path().join("image.tar");
    let same_id = registry::local::save(&store, image, &tar, format)?;
    let mut file =
        std::fs::File::open(&tar).map_err(RegistryError::local("open the saved archive"))?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)
        .and_then(|_| std::io::Write::flush(&mut out))
        .map_err(RegistryError::local("write the archive to standard output"))?;
    Ok(same_id)
}

/// Runs `save`; returns the exit status.
pub fn save(global: &GlobalOptions, args: SaveArgs) -> u8 {
    let format = match args.format {
        SaveFormatArg::Oci => registry::local::SaveFormat::Oci,
        SaveFormatArg::Docker => registry::local::SaveFormat::Docker,
    };
    let result = match &args.output {
        Some(path) => {
            open(global).and_then(|s| registry::local::save(&s, &args.image, path, format))
        }
        None if is_terminal(1) => {
            // Docker's words and status (1) for the same refusal.
            eprintln!(
                "tinibox: cowardly refusing to save to a terminal. Use the -o flag or redirect"
            );
            return 1;
        }
        None => save_to_stdout(global, &args.image, format),
    };
    match result {
        Ok(same_id) => {
            if !same_id {
                eprintln!(
                    "tinibox: note: the layer archives were rebuilt from the store and differ from the originals, so the saved image has a new ID"
                );
            }
            0
        }
        Err(e) => {
            let code = e.exit_code();
            fail(e);
            code
        }
    }
}
