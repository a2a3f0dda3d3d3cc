//! `distro-build sources` takes its inputs from `sources.lock`, not from the host: on a host
//! whose installed linux-source-6.1 differs from the pin, a fresh cache still gets the pinned
//! package; a pin the archive no longer has falls back with a loud warning (an error with
//! `--locked`, leaving nothing behind); a tampered cached file is refused.
//!
//! Real apt, real Debian archive, the real `distro-build` binary; needs root (it installs a
//! different linux-source-6.1 to make the host disagree with the lock).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tinilinux_tests::{repo_root, require_root, stderr, target_dir};

fn distro_build() -> PathBuf {
    let bin = target_dir().join("release/distro-build");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --release -p distro-build` first",
        bin.display()
    );
    bin
}

fn sources(cache: &Path, lock: Option<&Path>, locked: bool) -> Output {
    let mut cmd = Command::new(distro_build());
    cmd.arg("sources")
        .env("TINILINUX_CACHE", cache)
        .env_remove("TINILINUX_LOCKED")
        .current_dir(repo_root());
    if let Some(lock) = lock {
        cmd.env("TINILINUX_LOCK", lock);
    }
    if locked {
        cmd.arg("--locked");
    }
    cmd.output().expect("run distro-build sources")
}

/// The pinned (version, file, sha256) of `package` in the repository's lock.
fn pin(package: &str) -> (String, String, String) {
    let lock = fs::read_to_string(repo_root().join("distro-build/sources.lock")).unwrap();
    lock.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() == 4 && f[0] == package)
        .map(|f| (f[1].to_string(), f[2].to_string(), f[3].to_string()))
        .unwrap_or_else(|| panic!("sources.lock pins no {package}"))
}

fn installed_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", package])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("install ok installed ")
        .map(str::to_string)
}

/// Makes the host's linux-source-6.1 differ from the pin, when the archive has another
/// version; returns the version installed now (None when it could not be made to differ).
fn install_a_different_linux_source(pinned: &str) -> Option<String> {
    if let Some(v) = installed_version("linux-source-6.1").filter(|v| v != pinned) {
        return Some(v);
    }
    let madison = Command::new("apt-cache")
        .args(["madison", "linux-source-6.1"])
        .output()
        .expect("apt-cache madison");
    let other = String::from_utf8_lossy(&madison.stdout)
        .lines()
        .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
        .find(|v| v != pinned)?;
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .arg(format!("linux-source-6.1={other}"))
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get install");
    assert!(status.success(), "apt-get install linux-source-6.1={other}");
    Some(other)
}

fn names_under(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn pinned_sources_win_over_the_host_and_fallbacks_are_loud() {
    require_root();
    let (kernel_version, kernel_deb, kernel_sha) = pin("linux-source-6.1");
    let cache = tempfile::tempdir().unwrap();

    // 1. The host disagrees with the lock; a fresh cache still gets the pinned package.
    match install_a_different_linux_source(&kernel_version) {
        Some(v) => eprintln!("host has linux-source-6.1 {v}, the lock pins {kernel_version}"),
        None => eprintln!(
            "NOTE: the archive has no linux-source-6.1 other than the pinned {kernel_version}, so \
             the host could not be made to disagree; checking the pinned fetch alone"
        ),
    }
    let out = sources(cache.path(), None, false);
    assert!(out.status.success(), "{}", stderr(&out));
    let stamp = fs::read_to_string(cache.path().join("src/linux-source-6.1/.tinilinux-sha256"))
        .expect("the kernel tree is stamped");
    // The stamp: the package's sha256, then one `patch NAME SHA256` line per file of
    // kernel-patches/ applied to the tree (distro_build::kernel_patches::stamp).
    let mut lines = stamp.lines();
    assert_eq!(
        lines.next(),
        Some(kernel_sha.as_str()),
        "the unpacked kernel is the pinned one"
    );
    let mut patches: Vec<String> = fs::read_dir(repo_root().join("kernel-patches"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".patch"))
        .collect();
    patches.sort();
    let stamped: Vec<String> = lines
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() == 3 && f[0] == "patch", "stamp line {l:?}");
            f[1].to_string()
        })
        .collect();
    let mut sorted = stamped.clone();
    sorted.sort();
    assert_eq!(sorted, patches, "the tree carries every kernel patch");
    assert!(cache.path().join("src/linux-source-6.1/Makefile").is_file());
    assert!(cache
        .path()
        .join("downloads/debs")
        .join(&kernel_deb)
        .is_file());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("linux-source-6.1 {kernel_version} (pinned)")),
        "{err}"
    );
    assert!(err.contains("every input was the pinned version"), "{err}");

    // 2. A pin the archive does not have: the build goes on with the archive's version and
    //    says so; with --locked it stops and downloads nothing.
    let (bb_version, _, _) = pin("busybox");
    let bogus = format!("{bb_version}~gone1");
    let lock_text = fs::read_to_string(repo_root().join("distro-build/sources.lock")).unwrap();
    let bad_lock = cache.path().join("sources.lock");
    fs::write(
        &bad_lock,
        lock_text.replace(
            &format!("busybox {bb_version} "),
            &format!("busybox {bogus} "),
        ),
    )
    .unwrap();
    let before = names_under(&cache.path().join("downloads/src"));
    let out = sources(cache.path(), Some(&bad_lock), true);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("distro-build: error:"))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"));
    assert!(line.contains(&format!("busybox {bogus}")), "{line}");
    assert!(
        line.contains("--locked") && line.contains("distro-build lock"),
        "{line}"
    );
    assert_eq!(
        names_under(&cache.path().join("downloads/src")),
        before,
        "--locked must not download anything"
    );

    let out = sources(cache.path(), Some(&bad_lock), false);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "WARNING: busybox {bogus} (pinned in sources.lock) is no longer in Debian's archive; \
             building with busybox {bb_version} instead"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "busybox {bb_version} — FELL BACK (sources.lock pins {bogus})"
        )),
        "{err}"
    );

    // 3. A tampered cached package is refused, naming the file, with exit code 4.
    let cached = cache.path().join("downloads/debs").join(&kernel_deb);
    let mut bytes = fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&cached, &bytes).unwrap();
    let out = sources(cache.path(), None, false);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&kernel_deb) && err.contains(&kernel_sha),
        "the refusal names the file and the pinned sum: {err}"
    );
}

/// `--arch` (and `TINILINUX_TARGET`) select the target before any stage runs: an unknown
/// architecture is refused with exit 2 and one line naming the known ones, and nothing is
/// written to the cache or the outputs.
#[test]
fn an_unknown_architecture_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out_dir = dir.path().join("out");
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(distro_build());
        cmd.args(args)
            .env("TINILINUX_CACHE", &cache)
            .env("TINILINUX_OUT", &out_dir)
            .env_remove("TINILINUX_TARGET")
            .current_dir(repo_root());
        if let Some(value) = env {
            cmd.env("TINILINUX_TARGET", value);
        }
        cmd.output().expect("run distro-build")
    };
    for (args, env, asked) in [
        (&["--arch", "riscv64", "all"][..], None, "riscv64"),
        (&["kernel", "--arch", "sparc"][..], None, "sparc"),
        (&["busybox"][..], Some("mips"), "mips"),
    ] {
        let out = run(args, env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("unknown target \"{asked}\"")) && err.contains("x86_64"),
            "{err}"
        );
        assert!(!cache.exists() && !out_dir.exists(), "nothing is made");
    }
}
