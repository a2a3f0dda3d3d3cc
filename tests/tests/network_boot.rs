//! Bridge networking inside TiniLinux (issue 17): the real `out/tinilinux.iso` boots under
//! QEMU (TCG, SeaBIOS and OVMF) with a host port forwarded to the guest's port 8080; inside,
//! `tinibox run -d --network bridge -p 8080:80 tinilinux nc -lk …` serves a page that the test
//! fetches with `curl` through the forwarded port, and a bridge container fetches a file from
//! a server the test runs on the host's loopback (QEMU's user network reaches it at
//! 10.0.2.2) — so tinibox's netlink links, addresses and nf_tables rules work on the live
//! system, which has no `ip`-from-iproute2, `nft` or `iptables`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tinilinux_tests::qemu::{self, Firmware, Vm};
use tinilinux_tests::{free_port, require_tool, run, stderr, stdout};

fn iso() -> PathBuf {
    tinilinux_tests::out_file("tinilinux.iso")
}

const BOOT: Duration = Duration::from_secs(240);
const CMD: Duration = Duration::from_secs(90);

fn must(vm: &mut Vm, cmdline: &str) -> String {
    vm.run_ok(cmdline, CMD).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Issue 16: the live system takes its name server from DHCP (udhcpc's `dns` and `domain`
/// into /etc/resolv.conf): QEMU's user network hands out 10.0.2.3, which forwards to the
/// host's resolver. A name the host resolves resolves to the same address in the guest and in
/// a bridge container (whose resolv.conf comes from the guest's), so `tinibox pull` of a
/// registry by name reaches it.
fn dns_from_dhcp(vm: &mut Vm) {
    let resolv = must(vm, "cat /etc/resolv.conf");
    assert!(
        resolv.lines().any(|l| l.trim() == "nameserver 10.0.2.3"),
        "resolv.conf: {resolv}"
    );
    use std::net::ToSocketAddrs;
    let name = "deb.debian.org";
    let Some(addr) = (name, 80)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4()))
        .map(|a| a.ip().to_string())
    else {
        eprintln!("the host does not resolve {name}: the guest's lookup is not compared");
        return;
    };
    for cmd in [
        format!("nslookup {name} 2>&1"),
        format!("tinibox run --rm tinilinux nslookup {name} 2>&1"),
    ] {
        let out = must(vm, &cmd);
        assert!(out.contains(&addr), "{cmd}: {out} (the host has {addr})");
    }
}

fn bridge_in_the_guest(name: &str, firmware: Firmware) {
    require_tool("curl");
    require_tool("python3");
    // A server on the host's loopback, for the container to fetch from.
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("file.txt"), "from the host's loopback\n").unwrap();
    let host_port = free_port();
    let mut server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(host_port.to_string())
        .current_dir(files.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let fwd_port = free_port();
    let cmd = qemu::command_with_hostfwd(
        &iso(),
        firmware,
        512,
        &format!("tcp:127.0.0.1:{fwd_port}-:8080"),
    )
    .unwrap();
    let mut vm = Vm::spawn(name, cmd).unwrap();
    vm.expect("Welcome to TiniLinux", BOOT).unwrap();
    vm.expect("# ", BOOT).unwrap();
    vm.prepare_shell().unwrap();
    vm.wait_for_dhcp(Duration::from_secs(60)).unwrap();
    dns_from_dhcp(&mut vm);
    // The example service (services/web.json) starts after the banner as the container `web`
    // on port 8080, on the bridge: once it is up, take it down, so this test's container has
    // the name, the port and the bridge to itself.
    if vm
        .run("test -e /etc/tinibox/services/web.json", CMD)
        .unwrap()
        .0
        == 0
    {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !must(&mut vm, "tinibox service ls")
            .lines()
            .any(|l| l.starts_with("web ") && l.ends_with(" up"))
        {
            assert!(
                Instant::now() < deadline,
                "{:#}",
                vm.fail("the web service did not start")
            );
            std::thread::sleep(Duration::from_secs(1));
        }
        must(&mut vm, "tinibox service down web && tinibox rm web");
    }
    // `nc -lk -e` runs a tiny HTTP/1.0 responder per
    // connection (it reads the request, then answers with the page).
    must(&mut vm, "mkdir -p /tmp/www");
    must(
        &mut vm,
        r"printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nserved from a container in TiniLinux\n' > /tmp/www/response",
    );
    must(
        &mut vm,
        r"printf '#!/bin/sh\nhead -n1 >/dev/null\ncat /www/response\n' > /tmp/www/serve && chmod +x /tmp/www/serve",
    );
    let (status, out) = vm
        .run(
            "tinibox run -d --network bridge --name web -p 8080:80 -v /tmp/www:/www:ro tinilinux nc -lk -p 80 -e /www/serve 2>&1",
            CMD,
        )
        .unwrap();
    assert_eq!(status, 0, "{out}\n{:#}", vm.fail("run -d -p 8080:80"));
    let t = Instant::now();
    let page = loop {
        let o = run(Command::new("curl").args([
            "-sS",
            "--max-time",
            "10",
            &format!("http://127.0.0.1:{fwd_port}/"),
        ]));
        if o.status.success() {
            break stdout(&o);
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "curl through the forwarded port: {}\n{:#}",
            stderr(&o),
            vm.fail("published port")
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(page, "served from a container in TiniLinux\n");
    let got = must(
        &mut vm,
        &format!("tinibox run --rm --network bridge tinilinux wget -qO- http://10.0.2.2:{host_port}/file.txt"),
    );
    assert!(got.ends_with("from the host's loopback"), "{got}");
    // Bridge is the default network: no --network flag.
    let got = must(
        &mut vm,
        &format!("tinibox run --rm tinilinux wget -qO- http://10.0.2.2:{host_port}/file.txt"),
    );
    assert!(got.ends_with("from the host's loopback"), "{got}");
    must(&mut vm, "tinibox rm -f web");
    // tinibox0 stays for the system's lifetime (as Docker's docker0); no container's veth does.
    // The kernel removes a dead container's veth pair with its namespace, in its own worker:
    // read the links again for a moment while one is still there.
    let deadline = Instant::now() + Duration::from_secs(10);
    let links = loop {
        let links = must(&mut vm, "for n in /sys/class/net/*; do echo ${n##*/}; done");
        if !links.split_whitespace().any(|n| n.starts_with("tb")) || Instant::now() > deadline {
            break links;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let names: Vec<&str> = links.split_whitespace().collect();
    assert!(names.contains(&"tinibox0"), "{links}");
    assert!(
        !names.iter().any(|n| n.starts_with("tb")),
        "a veth stayed: {links}"
    );
    let _ = vm.poweroff(Duration::from_secs(30));
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn bridge_networking_in_tinilinux_with_seabios() {
    bridge_in_the_guest("network-seabios", Firmware::Bios);
}

#[test]
fn bridge_networking_in_tinilinux_with_ovmf() {
    bridge_in_the_guest("network-ovmf", Firmware::Uefi);
}
