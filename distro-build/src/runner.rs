//! Running external build tools (make, tar, dpkg-source, grub-mkimage, xorriso, cargo): checks that
//! a tool exists, sends its output to a log file and, on failure, reports the log's last
//! lines. Also the per-stage timing line, and removing a stale product from a reused build tree
//! so that the tool makes it again. It never decides what to run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Error, IoContext, Result};
use crate::target::Target;

/// The host tools the build uses and the Debian package providing each.
pub const HOST_TOOLS: &[(&str, &str)] = &[
    ("make", "make"),
    ("gcc", "gcc"),
    ("musl-gcc", "musl-tools"),
    ("rsync", "rsync"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("perl", "perl"),
    ("tar", "tar"),
    ("xz", "xz-utils"),
    ("bzip2", "bzip2"),
    ("dpkg-source", "dpkg-dev"),
    ("apt-get", "apt"),
    ("dpkg-deb", "dpkg"),
    ("readelf", "binutils"),
    ("ld.gold", "binutils"),
    ("objcopy", "binutils"),
    ("xorriso", "xorriso"),
    ("mformat", "mtools"),
    ("mmd", "mtools"),
    ("mcopy", "mtools"),
    ("mkfs.vfat", "dosfstools"),
    ("sgdisk", "gdisk"),
    ("mkfs.ext4", "e2fsprogs"),
    ("debugfs", "e2fsprogs"),
    // GRUB's UEFI modules from source (boot/grub_source.rs): autogen.sh and configure
    ("autoreconf", "autoconf"),
    ("automake", "automake"),
    ("autopoint", "autopoint"),
    ("pkg-config", "pkg-config"),
    ("python3", "python3"),
];

/// Tools some stages use when present, with their packages (for the "install it" hint).
pub const OPTIONAL_TOOLS: &[(&str, &str)] = &[("qemu-img", "qemu-utils")];

/// Files the build needs from host packages (path, package).
pub const HOST_FILES: &[(&str, &str)] = &[
    ("/usr/include/libelf.h", "libelf-dev"),
    ("/usr/include/openssl/ssl.h", "libssl-dev"),
    // pkg-config's autoconf macros: GRUB's configure.ac uses PKG_CHECK_MODULES.
    ("/usr/share/aclocal/pkg.m4", "pkg-config"),
];

/// Looks `tool` up on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Fails with the exact apt-get command when `tool` is not installed.
pub fn require_tool(tool: &str) -> Result<PathBuf> {
    which(tool).ok_or_else(|| {
        let package = HOST_TOOLS
            .iter()
            .chain(OPTIONAL_TOOLS)
            .chain(Target::ALL.iter().map(|t| &t.qemu_binary))
            .chain(Target::ALL.iter().flat_map(|t| t.cross_tools))
            .find(|(t, _)| *t == tool)
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| tool.to_string());
        Error::MissingTool {
            tool: tool.to_string(),
            package,
        }
    })
}

/// Checks every host tool and file a build for `target` needs (its QEMU too) at once; the
/// error names all missing packages in one apt-get command.
pub fn check_host(target: &Target) -> Result<()> {
    let mut missing: Vec<(String, String)> = Vec::new();
    for (tool, package) in HOST_TOOLS
        .iter()
        .chain([&target.qemu_binary])
        .chain(target.cross_tools)
    {
        let found = match tool.starts_with('/') {
            true => Path::new(tool).exists(),
            false => which(tool).is_some(),
        };
        if !found {
            missing.push((tool.to_string(), package.to_string()));
        }
    }
    for (file, package) in HOST_FILES {
        if !Path::new(file).exists() {
            missing.push((file.to_string(), package.to_string()));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| p.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    Err(Error::MissingTool {
        tool: missing
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        package: packages.join(" "),
    })
}

/// Runs `cmd` with stdout and stderr appended to `log`; on failure returns
/// [`Error::CommandFailed`] with the last 25 lines of the log.
pub fn run_logged(what: &str, cmd: &mut Command, log: &Path) -> Result<()> {
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .ctx(|| format!("opening log {}", log.display()))?;
    let err_file = file
        .try_clone()
        .ctx(|| format!("opening log {}", log.display()))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    require_tool(&program)?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err_file))
        .status()
        .ctx(|| format!("starting {program} ({what})"))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::CommandFailed {
        what: what.to_string(),
        status: status.to_string(),
        log: log.to_path_buf(),
        tail: log_tail(log, 25),
    })
}

/// Runs `cmd` (a missing program is [`Error::MissingTool`]) and returns its output when it
/// exits 0; otherwise [`Error::CommandFailed`] with the last lines of its stderr and stdout.
pub fn run_tool(cmd: &mut Command) -> Result<std::process::Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    run_output(&program, cmd)
}

/// Runs `cmd` and returns its stdout; stderr (and stdout) end the error on failure.
pub fn run_capture(what: &str, cmd: &mut Command) -> Result<String> {
    let out = run_output(what, cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`run_tool`] with `what` naming the command in errors.
fn run_output(what: &str, cmd: &mut Command) -> Result<std::process::Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    require_tool(&program)?;
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .ctx(|| format!("starting {program} ({what})"))?;
    if out.status.success() {
        return Ok(out);
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(Error::CommandFailed {
        what: what.to_string(),
        status: out.status.to_string(),
        log: PathBuf::from("(captured)"),
        tail: lines[lines.len().saturating_sub(12)..].join("\n"),
    })
}

/// The last `n` lines of a log file (empty when unreadable). Reads at most the last 64 KiB.
pub fn log_tail(log: &Path, n: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = Vec::new();
    if let Ok(mut file) = fs::File::open(log) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let _ = file.read_to_end(&mut text);
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Prints the start of a stage and, through [`Stage::done`], how long it took.
pub struct Stage {
    name: String,
    start: Instant,
}

impl Stage {
    /// Announces `name: what`.
    pub fn start(name: &str, what: &str) -> Self {
        eprintln!("==> {name}: {what}");
        Stage {
            name: name.to_string(),
            start: Instant::now(),
        }
    }

    /// Prints a progress note for this stage.
    pub fn note(&self, msg: &str) {
        eprintln!("    {}: {msg}", self.name);
    }

    /// Prints the stage's result and elapsed time.
    pub fn done(self, result: &str) {
        eprintln!(
            "<== {}: {result} ({:.1} s)",
            self.name,
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// The number of parallel jobs for make: the CPU count.
pub fn jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Like [`run_logged`], showing a spinner with the elapsed time and the log's last line
/// while the command runs (only on a terminal).
pub fn run_logged_progress(what: &str, cmd: &mut Command, log: &Path) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("    {spinner} [{elapsed}] {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = Arc::clone(&stop);
        let bar = bar.clone();
        let log = log.to_path_buf();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                bar.set_message(log_tail(&log, 1).trim().to_string());
                bar.tick();
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        })
    };
    let result = run_logged(what, cmd, log);
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    bar.finish_and_clear();
    result
}

/// Removes `path` from a reused build tree when it exists, so that the next make run builds it
/// again (for products make does not know are stale, such as ones that carry the build date).
pub fn remove_stale(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).ctx(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_the_apt_get_command() {
        let err = require_tool("grub-mkrescue-that-does-not-exist").unwrap_err();
        assert!(err.to_string().contains("apt-get install -y"), "{err}");
        let err = run_logged(
            "x",
            &mut Command::new("no-such-tool-tinilinux"),
            Path::new("/tmp/unused.log"),
        )
        .unwrap_err();
        assert!(matches!(err, Error::MissingTool { .. }));
        assert!(require_tool("sh").is_ok());
    }

    #[test]
    fn a_failing_command_reports_the_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("make.log");
        let err = run_logged(
            "pretend build",
            Command::new("sh").args(["-c", "echo line1; echo boom >&2; exit 3"]),
            &log,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("pretend build") && err.contains("boom"),
            "{err}"
        );
        assert!(err.contains(&log.display().to_string()), "{err}");
    }
}
