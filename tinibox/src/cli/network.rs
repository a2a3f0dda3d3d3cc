//! The networking commands of the docker-like front door: `tinibox port CONTAINER
//! [PORT[/PROTO]]` lists a container's published ports as Docker does (`80/tcp ->
//! 0.0.0.0:8080`). Reads `crate::net`'s record only; exit 0, or 125 with one line.

use clap::Args;

use super::docker::names;
use super::GlobalOptions;

/// Arguments of `port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container (name or id).
    pub container: String,
    /// Only this container port (`80` or `80/udp`).
    pub port: Option<String>,
}

/// Runs `port`; returns the exit status.
pub fn port(global: &GlobalOptions, args: PortArgs) -> u8 {
    let id = match names::resolve(&global.root, &args.container) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("tinibox: {e}");
            return 125;
        }
    };
    let mut ports = crate::net::ports_of(&id);
    if let Some(want) = &args.port {
        let (num, proto) = want.split_once('/').unwrap_or((want, "tcp"));
        ports.retain(|p| p.container_port.to_string() == num && p.protocol.to_string() == proto);
        if ports.is_empty() {
            eprintln!(
                "tinibox: no public port {want} published for {} — see `tinibox port {}`",
                args.container, args.container
            );
            return 125;
        }
        for p in ports {
            println!("{}:{}", p.host_ip, p.host_port);
        }
        return 0;
    }
    for p in ports {
        println!("{p}");
    }
    0
}
