//! Provenance of a finished build (`distro-build all`, which CI runs before the tests): the
//! SBOM `out/tinilinux.spdx.json` passes the SPDX project's own validator (pyspdxtools, from
//! the spdx-tools Python package that scripts/install-deps.sh installs), names every crate of
//! Cargo.lock and every shipped Debian package of sources.lock, and its checksums are the
//! files' (recomputed with coreutils' sha256sum and sha1sum); `out/source/` holds every source
//! package's `.dsc` and each file it lists with the sha256 the `.dsc` gives, the kernel's
//! source package and both configs; the OCI layout's SBOM artifact refers to the image
//! manifest, which names the SBOM in its annotation, and real tools (skopeo, umoci) still
//! read the image.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tinilinux_tests::{ok, out_dir, out_file, repo_root, require_tool, run};

/// Packages sources.lock pins that no output carries: OVMF and AAVMF, the UEFI firmware the
/// boot tests start QEMU with.
const NOT_SHIPPED: &[&str] = &["ovmf", "qemu-efi-aarch64"];
/// Pins only the x86_64 outputs carry: BIOS GRUB (x86_64's EFI GRUB is built from the grub2
/// source package, which arm64's GRUB modules also come from; the installer's disk tools,
/// util-linux and e2fsprogs, are on both: cross-built for arm64).
const X86_64_ONLY: &[&str] = &["grub-pc-bin"];
/// Pins only the arm64 outputs carry: GRUB's arm64-efi modules.
const ARM64_ONLY: &[&str] = &["grub-efi-arm64-bin:arm64"];

fn sbom_path() -> PathBuf {
    out_file("tinilinux.spdx.json")
}

fn sbom() -> Value {
    sbom_at(&out_dir())
}

/// The arm64 build's outputs (`distro-build --arch arm64 all`, which ./test.sh runs after the
/// x86_64 one).
fn arm64_out() -> PathBuf {
    let dir = out_dir().join("arm64");
    assert!(
        dir.join("tinilinux.iso").is_file(),
        "{} has no arm64 build: run `distro-build --arch arm64 all` (./test.sh does)",
        dir.display()
    );
    dir
}

fn sbom_at(out: &Path) -> Value {
    let path = out.join("tinilinux.spdx.json");
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("the SBOM is JSON")
}

fn validate(path: &Path) {
    require_tool("pyspdxtools");
    let out = run(Command::new("pyspdxtools").arg("-i").arg(path));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.to_lowercase().contains("invalid"),
        "pyspdxtools rejects {}:\n{text}",
        path.display()
    );
}

/// `sha256sum`/`sha1sum` of a file (coreutils, independent of distro-build's hashing).
fn sum(tool: &str, path: &Path) -> String {
    ok(Command::new(tool).arg(path))
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// (name, version) of every package in Cargo.lock.
fn cargo_lock_packages() -> Vec<(String, String, bool)> {
    let text = fs::read_to_string(repo_root().join("Cargo.lock")).unwrap();
    let mut out = Vec::new();
    // Cargo.lock: one [[package]] block each; a package from a registry has a `source` line,
    // a workspace member has none.
    for block in text.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim_matches('"').to_string())
        };
        let (Some(name), Some(version)) = (field("name = "), field("version = ")) else {
            continue;
        };
        out.push((name, version, field("source = ").is_none()));
    }
    assert!(out.len() > 10, "Cargo.lock lists {} packages", out.len());
    out
}

/// (package, version, file, sha256) of every line of sources.lock.
fn lock_pins() -> Vec<(String, String, String, String)> {
    fs::read_to_string(repo_root().join("distro-build/sources.lock"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

fn packages(doc: &Value) -> &Vec<Value> {
    doc["packages"].as_array().expect("packages")
}

fn purl(p: &Value) -> Option<&str> {
    p["externalRefs"]
        .as_array()?
        .iter()
        .find(|r| r["referenceType"] == "purl")
        .and_then(|r| r["referenceLocator"].as_str())
}

#[test]
fn the_sbom_passes_the_spdx_validator() {
    validate(&sbom_path());
    let doc = sbom();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert!(doc["documentNamespace"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn the_sbom_names_every_crate_of_cargo_lock_with_its_licence() {
    let doc = sbom();
    let pkgs = packages(&doc);
    for (name, version, local) in cargo_lock_packages() {
        let p = pkgs
            .iter()
            .find(|p| p["name"] == name.as_str() && p["versionInfo"] == version.as_str())
            .unwrap_or_else(|| panic!("the SBOM does not name crate {name} {version}"));
        assert_ne!(
            p["licenseDeclared"], "NOASSERTION",
            "crate {name} has no declared licence"
        );
        if !local {
            // purl percent-encodes a version's `+` (build metadata such as 2.1.3+zstd.1.5.7).
            let encoded = version.replace('+', "%2B");
            assert_eq!(
                purl(p),
                Some(format!("pkg:cargo/{name}@{encoded}").as_str()),
                "{name}"
            );
            assert_eq!(p["checksums"][0]["algorithm"], "SHA256", "{name}");
        }
    }
    // tinibox links some of them: the SBOM says which.
    let tinibox = pkgs.iter().find(|p| p["name"] == "tinibox").unwrap();
    let id = tinibox["SPDXID"].as_str().unwrap();
    let linked = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spdxElementId"] == id && r["relationshipType"] == "DEPENDS_ON")
        .count();
    assert!(linked > 5, "tinibox DEPENDS_ON only {linked} crates");

    // The shipped program lists what its static build links, and only that: the ISO's
    // tinibox has the registry client with rustls and ring but not Mozilla's built-in roots
    // (the ISO ships Debian's CA bundle), and apk compiled in (/sbin/apk links to tinibox);
    // cargo's own resolve for the shipped binary, with the build's feature flags, agrees with
    // the SBOM.
    let relationships = doc["relationships"].as_array().unwrap();
    let shipped: [(&str, &[&str], &[&str]); 1] = [(
        "tinibox",
        &["--no-default-features", "--features", "registry,apk"],
        &["rustls", "ring"],
    )];
    for (program, features, tls_linked) in shipped {
        let p = pkgs
            .iter()
            .find(|p| p["name"] == program && p["primaryPackagePurpose"] == "APPLICATION")
            .unwrap_or_else(|| panic!("the SBOM has no program {program}"));
        let id = p["SPDXID"].as_str().unwrap();
        let deps: Vec<String> = relationships
            .iter()
            .filter(|r| r["spdxElementId"] == id && r["relationshipType"] == "DEPENDS_ON")
            .filter_map(|r| {
                pkgs.iter()
                    .find(|p| p["SPDXID"] == r["relatedSpdxElement"])
                    .map(|p| {
                        format!(
                            "{} {}",
                            p["name"].as_str().unwrap(),
                            p["versionInfo"].as_str().unwrap()
                        )
                    })
            })
            .collect();
        for tls in ["rustls", "ring", "webpki-roots"] {
            let listed = deps.iter().any(|d| d.split(' ').next() == Some(tls));
            assert_eq!(
                listed,
                tls_linked.contains(&tls),
                "the SBOM says the shipped {program} links {tls}: {listed} ({deps:?})"
            );
        }
        assert!(
            deps.iter().any(|d| d.split(' ').next() == Some("apk")),
            "the SBOM does not say apk is compiled into the shipped {program}: {deps:?}"
        );
        let tree = ok(Command::new("cargo")
            .current_dir(repo_root())
            .args(["tree", "--locked", "-p", program, "-e", "normal"])
            .args(features)
            .args([
                "--target",
                "x86_64-unknown-linux-musl",
                "--prefix",
                "none",
                "--no-dedupe",
            ]));
        for line in tree.lines().skip(1) {
            // Proc macros run in the compiler; everything else cargo lists is linked.
            if line.contains("(proc-macro)") {
                continue;
            }
            let mut words = line.split_whitespace();
            let (name, version) = (words.next().unwrap(), words.next().unwrap());
            let entry = format!("{name} {}", version.trim_start_matches('v'));
            let under_macro = !deps.contains(&entry)
                && pkgs.iter().any(|p| {
                    p["name"] == name
                        && p["comment"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("run by the compiler")
                });
            assert!(
                deps.contains(&entry) || under_macro,
                "cargo links {entry} into {program}, the SBOM does not say so"
            );
        }
    }
}

/// Every pin of sources.lock that `skip` does not leave out is named in `doc` at its pinned
/// version, with the `.deb`'s or `.dsc`'s file name and sha256; returns how many were checked.
fn check_pins(doc: &Value, skip: &[&str]) -> usize {
    let pkgs = packages(doc);
    let mut checked = 0;
    for (package, version, file, sha256) in lock_pins() {
        if NOT_SHIPPED.contains(&package.as_str()) || skip.contains(&package.as_str()) {
            continue;
        }
        let fell_back = |p: &&Value| {
            p["comment"]
                .as_str()
                .is_some_and(|c| c.contains("FELL BACK"))
        };
        // A binary and a source package may share a name (e2fsprogs): the purl tells them
        // apart. A foreign-architecture pin (`name:arm64`) is package `name`, arch=arm64.
        let is_source = !file.ends_with(".deb");
        let (name, arch) = match package.split_once(':') {
            Some((name, arch)) => (name, Some(arch)),
            None => (package.as_str(), None),
        };
        let p = pkgs
            .iter()
            .find(|p| {
                p["name"] == name
                    && purl(p).is_some_and(|u| u.starts_with("pkg:deb/debian/"))
                    && purl(p).is_some_and(|u| u.contains("arch=source")) == is_source
            })
            .unwrap_or_else(|| panic!("the SBOM does not name Debian package {package}"));
        if let Some(arch) = arch {
            let locator = purl(p).unwrap_or_default();
            assert!(
                locator.starts_with(&format!("pkg:deb/debian/{name}@"))
                    && locator.contains(&format!("arch={arch}")),
                "{package}: purl {locator}"
            );
        }
        if fell_back(&p) {
            eprintln!("{package} fell back from {version}: {}", p["comment"]);
            continue;
        }
        assert_eq!(p["versionInfo"], version.as_str(), "{package}");
        assert_eq!(p["supplier"], "Organization: Debian", "{package}");
        if file.ends_with(".deb") || file.ends_with(".dsc") {
            assert_eq!(p["packageFileName"], file.as_str(), "{package}");
            assert_eq!(
                p["checksums"][0]["checksumValue"],
                sha256.as_str(),
                "{package}"
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn the_sbom_names_every_shipped_debian_package_at_its_version() {
    let doc = sbom();
    let checked = check_pins(&doc, ARM64_ONLY);
    assert!(checked > 10, "only {checked} pins checked");
    // OVMF is not shipped, so not listed.
    assert!(!packages(&doc).iter().any(|p| p["name"] == "ovmf"));
}

#[test]
fn the_sbom_checksums_are_the_files_in_out() {
    check_files(
        &out_dir(),
        &[
            "tinilinux.iso",
            "tinilinux-disk.img",
            "tinilinux-rootfs.tar",
            "tinilinux-oci.tar",
        ],
        "grub-pc-bin",
    );
}

/// x86_64's UEFI GRUB is built from the grub2 source with `grub-patches/`: the SBOM says the
/// boot media contain it and it was generated from that source package, and the source
/// bundle carries the very patches of the repository. arm64's SBOM names no such build.
#[test]
fn the_sbom_and_bundle_record_the_grub_built_from_source() {
    let grub = "SPDXRef-GRUB-x86-64-efi";
    let doc = sbom();
    let relationships = doc["relationships"].as_array().unwrap();
    let has = |from: &str, kind: &str, to: &dyn Fn(&str) -> bool| {
        relationships.iter().any(|r| {
            r["relationshipType"] == kind
                && r["spdxElementId"]
                    .as_str()
                    .is_some_and(|f| f.contains(from))
                && r["relatedSpdxElement"].as_str().is_some_and(to)
        })
    };
    assert!(
        has(grub, "GENERATED_FROM", &|to| to
            .starts_with("SPDXRef-DebSrc-grub2-")),
        "the SBOM does not say {grub} was generated from the grub2 source"
    );
    for medium in ["tinilinux.iso", "tinilinux-disk.img"] {
        assert!(
            has(medium, "CONTAINS", &|to| to == grub),
            "the SBOM does not say {medium} contains {grub}"
        );
    }
    let patches = repo_root().join("grub-patches");
    let mut names: Vec<_> = fs::read_dir(&patches)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no GRUB patches in {}",
        patches.display()
    );
    for name in names {
        let bundled = out_dir().join("source/patches/grub2").join(&name);
        assert_eq!(
            fs::read(&bundled).unwrap_or_else(|e| panic!("{}: {e}", bundled.display())),
            fs::read(patches.join(&name)).unwrap(),
            "{} differs from the repository's",
            bundled.display()
        );
    }
    let arm64 = sbom_at(&arm64_out());
    assert!(
        !packages(&arm64).iter().any(|p| p["SPDXID"] == grub),
        "the arm64 SBOM names {grub}, which no arm64 output carries"
    );
}

/// The SBOM in `out` lists each of its files with the SHA256 and SHA1 coreutils compute, lists
/// every output of `expected`, and says the ISO contains the kernel, BusyBox, Dropbear,
/// tinibox (with apk in it), Alpine's keys and `grub` (its GRUB package).
fn check_files(out: &Path, expected: &[&str], grub: &str) {
    let doc = sbom_at(out);
    let files = doc["files"].as_array().expect("files");
    let mut listed = Vec::new();
    for f in files {
        let name = f["fileName"].as_str().unwrap();
        let path = out.join(name.trim_start_matches("./"));
        assert!(path.is_file(), "the SBOM lists {name}, which out/ lacks");
        let sums: BTreeMap<&str, &str> = f["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["algorithm"].as_str().unwrap(),
                    c["checksumValue"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(sums["SHA256"], sum("sha256sum", &path), "{name}");
        assert_eq!(sums["SHA1"], sum("sha1sum", &path), "{name}");
        listed.push(name.trim_start_matches("./").to_string());
    }
    // Every output is there: the ISO, the disk image, the rootfs tarballs, the OCI archives.
    for name in expected {
        assert!(listed.iter().any(|l| l == name), "the SBOM lacks {name}");
    }
    // The ISO contains the kernel, BusyBox, Dropbear, tinibox (with apk in it: see above),
    // Alpine's keys and GRUB.
    let relationships = doc["relationships"].as_array().unwrap();
    let iso = files
        .iter()
        .find(|f| f["fileName"] == "./tinilinux.iso")
        .unwrap()["SPDXID"]
        .clone();
    let pkgs = packages(&doc);
    for name in [
        "linux",
        "busybox",
        "dropbear",
        "tinibox",
        "alpine-keys",
        grub,
    ] {
        let contained = relationships.iter().any(|r| {
            r["spdxElementId"] == iso
                && r["relationshipType"] == "CONTAINS"
                && pkgs
                    .iter()
                    .any(|p| p["SPDXID"] == r["relatedSpdxElement"] && p["name"] == name)
        });
        assert!(contained, "the SBOM does not say the ISO contains {name}");
    }
}

/// The `Checksums-Sha256` field of a .dsc: (file name, sha256).
fn dsc_checksums(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Checksums-Sha256:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with(' ') {
                break;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [sum, _size, name] = f[..] {
                out.push((name.to_string(), sum.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_source_bundle_holds_every_source_package_and_the_configs() {
    check_bundle(
        &out_dir(),
        ARM64_ONLY,
        &[
            "busybox",
            "dropbear",
            "grub2",
            "musl",
            "util-linux",
            "e2fsprogs",
        ],
    );
}

/// `out/source/` (of the build in `out`) holds every source package its SBOM names (each
/// `.dsc` and the files it lists, at the `.dsc`'s sha256), every source pin of sources.lock
/// but `skip`'s, the sources named in `expected`, the kernel's package and the configs.
fn check_bundle(out: &Path, skip: &[&str], expected: &[&str]) {
    let dir = out.join("source");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let doc = sbom_at(out);
    let sources: Vec<&Value> = packages(&doc)
        .iter()
        .filter(|p| purl(p).is_some_and(|u| u.contains("arch=source")))
        .collect();
    assert!(
        sources.len() >= 5,
        "only {} source packages in the SBOM",
        sources.len()
    );
    for p in &sources {
        let dsc = p["packageFileName"].as_str().unwrap();
        let path = dir.join(dsc);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let listed = dsc_checksums(&text);
        assert!(!listed.is_empty(), "{dsc} lists no Checksums-Sha256");
        for (name, sha256) in listed {
            let file = dir.join(&name);
            assert!(file.is_file(), "{dsc} lists {name}, which out/source lacks");
            assert_eq!(sum("sha256sum", &file), sha256, "{name} (listed in {dsc})");
        }
    }
    // Every shipped source package of the lock is there, and BusyBox's, GRUB's.
    for (package, _, file, sha256) in lock_pins() {
        if NOT_SHIPPED.contains(&package.as_str())
            || skip.contains(&package.as_str())
            || !file.ends_with(".dsc")
        {
            continue;
        }
        assert_eq!(sum("sha256sum", &dir.join(&file)), sha256, "{file}");
    }
    for name in expected {
        assert!(
            sources.iter().any(|p| p["name"] == *name),
            "no {name} source"
        );
    }
    // The kernel: the pinned linux-source package itself.
    let (_, _, deb, sha256) = lock_pins()
        .into_iter()
        .find(|p| p.0 == "linux-source-6.1")
        .unwrap();
    assert_eq!(sum("sha256sum", &dir.join(&deb)), sha256, "{deb}");
    // The configs the build used.
    let linux = fs::read_to_string(dir.join("config/linux.config")).unwrap();
    assert!(linux.contains("CONFIG_64BIT=y"), "config/linux.config");
    let busybox = fs::read_to_string(dir.join("config/busybox.config")).unwrap();
    assert!(busybox.contains("CONFIG_STATIC=y"), "config/busybox.config");
    let dropbear = fs::read_to_string(dir.join("config/dropbear-localoptions.h")).unwrap();
    assert!(
        dropbear.contains("#define DROPBEAR_SVR_PASSWORD_AUTH 0"),
        "config/dropbear-localoptions.h"
    );
    let readme = fs::read_to_string(dir.join("README")).unwrap();
    assert!(readme.contains("OVMF"), "README says why OVMF is left out");
    // Nothing from OVMF.
    assert!(!fs::read_dir(&dir).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("edk2")));
}

#[test]
fn the_oci_image_points_at_its_sbom_and_tools_still_read_it() {
    let layout = out_dir().join("oci");
    let blob = |digest: &str| {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(format!("sha256:{}", sha256_bytes(&bytes)), digest);
        bytes
    };
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).expect("index.json");
    let manifests = index["manifests"].as_array().unwrap();
    // With the arm64 build done too, the tag names an index of both platforms
    // (distro_build::oci::platforms): its amd64 image is the one checked here.
    let (tag_digest, image_digest, _) = tinilinux_tests::layout_image(&layout, "amd64");
    let image_digest = image_digest.as_str();
    blob(&tag_digest);
    blob(image_digest);
    // The referrer: listed in index.json (distro_build::oci::image::REFERRERS_IN_LAYOUT_INDEX),
    // or else among the layout's blobs, as a registry's referrers API would find it.
    let referrer_digest = match manifests.iter().find(|m| {
        m["artifactType"] == "application/spdx+json" && {
            let artifact: Value =
                serde_json::from_slice(&blob(m["digest"].as_str().unwrap())).unwrap();
            artifact["subject"]["digest"] == image_digest
        }
    }) {
        Some(m) => m["digest"].as_str().unwrap().to_string(),
        None => {
            let listed = distro_build::oci::image::REFERRERS_IN_LAYOUT_INDEX;
            assert!(!listed, "index.json lists no SPDX referrer");
            fs::read_dir(layout.join("blobs/sha256"))
                .unwrap()
                .filter_map(|e| {
                    let e = e.unwrap();
                    let v: Value = serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?;
                    (v["subject"]["digest"] == image_digest
                        && v["artifactType"] == "application/spdx+json")
                        .then(|| format!("sha256:{}", e.file_name().to_string_lossy()))
                })
                .next()
                .expect("an SPDX artifact manifest whose subject is the image")
        }
    };
    let artifact: Value = serde_json::from_slice(&blob(&referrer_digest)).unwrap();
    assert_eq!(artifact["artifactType"], "application/spdx+json");
    assert_eq!(artifact["subject"]["digest"], image_digest);
    assert_eq!(
        artifact["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let sbom_digest = artifact["layers"][0]["digest"].as_str().unwrap();
    // The image manifest names the same SBOM.
    let manifest: Value = serde_json::from_slice(&blob(image_digest)).unwrap();
    assert_eq!(
        manifest["annotations"]["org.tinilinux.image.sbom.digest"],
        sbom_digest
    );
    // The image SBOM is valid SPDX and lists what the image holds.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("image.spdx.json");
    fs::write(&copy, blob(sbom_digest)).unwrap();
    validate(&copy);
    let doc: Value = serde_json::from_slice(&fs::read(&copy).unwrap()).unwrap();
    for name in ["busybox", "tinibox", "tinilinux"] {
        assert!(
            packages(&doc).iter().any(|p| p["name"] == name),
            "the image SBOM lacks {name}"
        );
    }
    // Real tools still read the image.
    require_tool("skopeo");
    let reference = format!("oci:{}:latest", layout.display());
    let raw = ok(Command::new("skopeo").args(["inspect", "--raw", &reference]));
    assert_eq!(
        format!("sha256:{}", sha256_bytes(raw.as_bytes())),
        tag_digest
    );
    let archive = out_dir().join("tinilinux-oci.tar");
    let json: Value = serde_json::from_str(&ok(
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{}", archive.display())])
    ))
    .unwrap();
    assert_eq!(json["Digest"], image_digest);
    require_tool("umoci");
    let tags = ok(Command::new("umoci").args(["ls", "--layout"]).arg(&layout));
    assert_eq!(tags.trim(), "latest");
}

/// Alpine's public keys in the rootfs are in the SBOM with the sha256 of each file (recomputed
/// here with sha256sum on the files taken out of the rootfs tarball) and where the copies
/// were taken from and checked against.
#[test]
fn the_sbom_records_alpines_keys_with_their_digests_and_origin() {
    let doc = sbom();
    let keys = packages(&doc)
        .iter()
        .find(|p| p["name"] == "alpine-keys")
        .expect("the SBOM names alpine-keys");
    let comment = keys["comment"].as_str().unwrap();
    assert!(keys["downloadLocation"]
        .as_str()
        .unwrap()
        .contains("alpine-chroot-install"));
    assert!(
        comment.contains("apko") && comment.contains("aports"),
        "{comment}"
    );
    assert_eq!(keys["licenseDeclared"], "MIT");
    let dir = tempfile::tempdir().unwrap();
    ok(Command::new("tar")
        .arg("-xf")
        .arg(out_dir().join("tinilinux-rootfs.tar"))
        .arg("-C")
        .arg(dir.path())
        .arg("etc/apk/keys"));
    let mut checked = 0;
    for entry in fs::read_dir(dir.path().join("etc/apk/keys")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let digest = sum("sha256sum", &path);
        assert!(
            comment.contains(&format!("{name} sha256:{digest}")),
            "the SBOM lacks {name} with sha256 {digest}: {comment}"
        );
        checked += 1;
    }
    assert!(checked >= 1, "the rootfs carries no Alpine key");
}

/// The arm64 build has its own SBOM and source bundle beside its outputs (`out/arm64/`): the
/// SPDX validator accepts it; it names every pin the arm64 outputs carry (GRUB's arm64-efi
/// modules as package `grub-efi-arm64-bin` with `arch=arm64`; musl, the C library BusyBox and
/// Dropbear link on arm64 too; util-linux and e2fsprogs, whose disk tools the arm64 installer
/// and disk image carry) and none of x86_64's GRUB; its checksums are the files' (the disk
/// image among them); the bundle holds each source package and the arm64 configs.
#[test]
fn the_arm64_build_has_its_own_sbom_and_source_bundle() {
    let out = arm64_out();
    validate(&out.join("tinilinux.spdx.json"));
    let doc = sbom_at(&out);
    let checked = check_pins(&doc, X86_64_ONLY);
    assert!(checked > 10, "only {checked} pins checked");
    for name in X86_64_ONLY {
        assert!(
            !packages(&doc).iter().any(|p| p["name"] == *name),
            "the arm64 SBOM names {name}, which no arm64 output carries"
        );
    }
    for name in ["util-linux", "e2fsprogs"] {
        assert!(
            packages(&doc).iter().any(|p| p["name"] == name),
            "the arm64 SBOM lacks {name}, whose disk tools the arm64 installer carries"
        );
    }
    check_files(
        &out,
        &[
            "tinilinux.iso",
            "tinilinux-disk.img",
            "tinilinux-rootfs.tar",
            "tinilinux-oci.tar",
        ],
        "grub-efi-arm64-bin",
    );
    check_bundle(
        &out,
        X86_64_ONLY,
        &[
            "busybox",
            "dropbear",
            "grub2",
            "musl",
            "ca-certificates",
            "util-linux",
            "e2fsprogs",
        ],
    );
    let linux = fs::read_to_string(out.join("source/config/linux.config")).unwrap();
    assert!(
        linux.contains("CONFIG_ARM64=y"),
        "arm64's config/linux.config"
    );
}
