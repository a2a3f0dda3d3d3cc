#!/usr/bin/env bash
# Installs every host package the build, the tests and the benchmarks need on Debian 12.
# Idempotent: packages already present are left alone, so a second run takes a second.
set -euo pipefail

packages=(
  # build: kernel, BusyBox, static tinibox. The kernel source, BusyBox's source, GRUB's
  # source and modules, the installer's disk tools and OVMF are NOT taken from the host: distro-build
  # downloads the versions sources.lock pins (apt-get download/source) into its cache.
  build-essential flex bison bc libelf-dev libssl-dev cpio dpkg-dev xz-utils zstd patch
  # GRUB's x86_64 UEFI modules, built from the pinned grub2 source with grub-patches/: its
  # autogen.sh (Debian's patches change GRUB's Makefile definitions) needs the autotools, and
  # its configure.ac pkg-config's macros (pkg.m4)
  autoconf automake autopoint gettext python3 pkg-config
  # musl-gcc: BusyBox and the installer's disk tools are linked statically against musl; rsync:
  # the kernel's headers_install, which gives musl-gcc the kernel headers
  musl-tools rsync
  # boot media (grub-common brings the libraries the pinned grub-mkimage loads)
  grub-common xorriso mtools dosfstools e2fsprogs gdisk fdisk
  # arm64 (`distro-build --arch arm64`): the cross compiler and Debian's arm64 musl (its specs
  # file makes the cross gcc link BusyBox and Dropbear statically against musl, as musl-gcc does
  # natively; multiarch, so the arm64 architecture is added below first), the arm64 kernel headers tinibox's seccomp tests compare with, and QEMU's
  # arm64 emulator for the arm64 boot test (its AAVMF firmware and GRUB's arm64-efi modules come
  # pinned from sources.lock)
  gcc-aarch64-linux-gnu musl-dev:arm64 linux-libc-dev-arm64-cross qemu-system-arm
  # running and testing
  qemu-system-x86 qemu-utils busybox-static iproute2 iptables procps util-linux expect time
  # the SSH boot test: Debian's OpenSSH client and ssh-keygen against the guest's Dropbear
  openssh-client
  # the networking tests: curl as the client of published ports, nft to read the ruleset back
  curl nftables
  # the SBOM validator's Python environment (see below)
  python3-venv
  # reference runtimes and real clients
  runc docker.io containerd skopeo umoci podman
  # tests/tests/runtime_tools.rs: Go builds the OCI runtime-tools suite offline.
  # tests/tests/cri.rs: the CNI plugins of its pod network. (crun is left out on purpose: with
  # it installed Podman picks it by default, and Debian's crun 1.8 refuses hybrid cgroups;
  # RUNTIME_TOOLS_CRUN=1 adds it to the runtime-tools run where it is installed.)
  golang-go containernetworking-plugins
  # registry tests: a real registry, and the token server the tests write (JWT)
  docker-registry python3-jwt python3-bcrypt python3-cryptography openssl
  # apk tests: the repository generator (Python + openssl) and its HTTP server; busybox-static above
  # gives the packaged program
  python3 openssl
  # benchmarks
  hyperfine
  # the networking benchmark (bench/network.sh): throughput through a published port
  iperf3
)

# GRUB's arm64-efi modules (grub-efi-arm64-bin, pinned in sources.lock) and musl-dev:arm64 are
# arm64 packages: apt lists them only with the arm64 architecture added (of arm64, only musl's
# static library and headers are installed).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root to add the arm64 architecture to apt (dpkg --add-architecture arm64)" >&2
    exit 1
  fi
  echo "install-deps: adding the arm64 architecture to apt (grub-efi-arm64-bin, musl-dev:arm64)"
  dpkg --add-architecture arm64
  apt-get update -q
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# musl's static library goes into BusyBox, Dropbear and the disk tools, and the source bundle and
# the SBOM name the musl sources.lock pins: install exactly that version (apt's newest may be a
# later one on a fresh machine). If the archive no longer has it, keep the archive's and say so
# (distro-build then warns that the host's musl differs from the pin).
musl_pin=$(awk '$1 == "musl" { print $2; exit }' "$(dirname "$0")/../distro-build/sources.lock")
musl_wrong=()
for p in musl:amd64 musl-dev:amd64 musl-tools:amd64 musl:arm64 musl-dev:arm64; do
  [ "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)" = "$musl_pin" ] || musl_wrong+=("$p=$musl_pin")
done
if [ ${#musl_wrong[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: musl is not the pinned $musl_pin; run as root: apt-get install -y --allow-downgrades ${musl_wrong[*]}" >&2
    exit 1
  fi
  if apt-cache madison musl-dev | awk '{ print $3 }' | grep -qx "$musl_pin"; then
    echo "install-deps: installing musl $musl_pin as sources.lock pins it: ${musl_wrong[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --allow-downgrades "${musl_wrong[@]}"
  else
    echo "install-deps: WARNING: Debian's archive no longer has musl $musl_pin (sources.lock's pin); the archive's musl stays installed: run \`distro-build lock\` to pin it" >&2
  fi
fi

# BusyBox's source comes from Debian's source package: make sure a deb-src entry exists.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: adding a deb-src entry for Debian 12 (bookworm)"
    cat > /etc/apt/sources.list.d/tinilinux-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -q
  fi
fi

# pyspdxtools (PyPI package spdx-tools), the SPDX validator tests/tests/provenance.rs runs on
# out/tinilinux.spdx.json. Debian 12 ships no package of it, and its Python refuses system-wide
# pip installs (PEP 668), so it gets its own virtual environment, linked into /usr/local/bin.
# Pinned to one version so every machine validates with the same rules.
spdx_venv=/opt/tinilinux/spdx-tools
spdx_version=0.8.5
spdx_installed=$("$spdx_venv/bin/pip" show spdx-tools 2>/dev/null || true)
if ! grep -qx "Version: $spdx_version" <<<"$spdx_installed"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: pyspdxtools missing; run this script as root to install it" >&2
    exit 1
  fi
  echo "install-deps: installing spdx-tools $spdx_version (pyspdxtools) into $spdx_venv"
  /usr/bin/python3 -m venv "$spdx_venv"
  "$spdx_venv/bin/pip" install -q "spdx-tools==$spdx_version"
fi
if [ "$(id -u)" -eq 0 ] && [ "$(readlink /usr/local/bin/pyspdxtools 2>/dev/null)" != "$spdx_venv/bin/pyspdxtools" ]; then
  ln -sf "$spdx_venv/bin/pyspdxtools" /usr/local/bin/pyspdxtools
fi

# The CRI client of tests/tests/cri.rs: the CRI v1 gRPC stubs of the PyPI package
# container-runtime-interface-api (with grpcio). Debian has neither crictl nor these stubs, so
# they get their own virtual environment, pinned like spdx-tools above.
cri_venv=/opt/tinilinux/cri-api
cri_version=2.0.1
cri_installed=$("$cri_venv/bin/pip" show container-runtime-interface-api 2>/dev/null || true)
if ! grep -qx "Version: $cri_version" <<<"$cri_installed"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: the CRI client's Python packages are missing; run this script as root" >&2
    exit 1
  fi
  echo "install-deps: installing container-runtime-interface-api $cri_version into $cri_venv"
  /usr/bin/python3 -m venv "$cri_venv"
  "$cri_venv/bin/pip" install -q "container-runtime-interface-api==$cri_version"
fi

command -v cargo >/dev/null || { echo "install-deps: cargo not found; install Rust (rustup) first" >&2; exit 1; }

# The static tinibox on the ISO is built for musl (distro-build's Target::rust_triple): rustup
# adds that target's standard library (musl's static libc is inside it, no musl-gcc needed).
# arm64's is aarch64-unknown-linux-musl, linked by Debian's aarch64-linux-gnu-gcc (above).
for musl_triple in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$musl_triple"; then
    echo "install-deps: adding the Rust target $musl_triple (rustup, once)"
    rustup target add "$musl_triple" || {
      echo "install-deps: rustup could not add $musl_triple; distro-build needs it for the static tinibox and apk of that architecture (check the network, or install the target's rust-std by hand)" >&2
      exit 1
    }
  fi
done

# The static programs compile the standard library with them (distro-build's BUILD_STD_ARGS:
# cargo -Zbuild-std, for size), from rustup's rust-src component of the active toolchain.
if [ ! -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std/Cargo.toml" ]; then
  echo "install-deps: adding the Rust standard library's source (rustup component rust-src, once)"
  rustup component add rust-src || {
    echo "install-deps: rustup could not add rust-src; distro-build compiles std from it for the static tinibox (check the network)" >&2
    exit 1
  }
fi

# cargo-deny checks every crate's licence against deny.toml (test.sh runs it). Debian has no
# package of it; crates.io has, built once into ~/.cargo/bin.
if ! cargo deny --version >/dev/null 2>&1; then
  echo "install-deps: installing cargo-deny from crates.io (a few minutes, once)"
  cargo install --locked cargo-deny
fi
