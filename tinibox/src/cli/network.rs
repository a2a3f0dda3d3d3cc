//! The networking commands of the docker-like front door, as Docker's CLI shapes them:
//! - `tinibox port CONTAINER [PORT[/PROTO]]`: a container's published ports (`80/tcp ->
//!   0.0.0.0:8080`);
//! - `tinibox network create [--subnet CIDR] [--gateway IP] NAME` (prints the id), `ls`
//!   (`-q`), `rm NAME…`, `inspect NAME…` (Docker's JSON array), `connect [--ip ADDR]
//!   [--alias NAME]… NET CONTAINER` (a created or stopped container gets them at its next
//!   start, as in Docker), `disconnect [-f] NET CONTAINER`.
//!
//! The work is `crate::net`'s; a connect/disconnect also updates the container's stored
//! request so that a restart keeps it. Exit 0; 1 with one line when a network or container
//! is missing (Docker's daemon answers "not found"); 125 with one line for any other failure.

use clap::{Args, Subcommand};
use serde_json::json;

use super::docker::names;
use super::GlobalOptions;
use crate::net::NetError;

/// A failed `network` command: its exit status and its one-line message (empty when
/// [`each`] already printed one line per name).
#[derive(Debug)]
struct Failure {
    status: u8,
    message: String,
}

impl From<String> for Failure {
    /// Bad input or a failed operation: 125.
    fn from(message: String) -> Self {
        Failure {
            status: 125,
            message,
        }
    }
}

impl From<NetError> for Failure {
    /// 1 for a missing network, 125 otherwise.
    fn from(e: NetError) -> Self {
        let status = if matches!(e, NetError::NotFound(_)) {
            1
        } else {
            125
        };
        Failure {
            status,
            message: e.to_string(),
        }
    }
}

/// A missing (or ambiguous) container, as `names::resolve` words it: 1, like Docker's
/// `No such container`.
fn missing(message: String) -> Failure {
    Failure { status: 1, message }
}

/// Arguments of `port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container (name or id).
    pub container: String,
    /// Only this container port (`80` or `80/udp`).
    pub port: Option<String>,
}

/// Arguments of the hidden `net-proxy` command.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The container's init: the proxy ends with it.
    #[arg(long)]
    pub pid: i32,
    /// `PROTO:HOSTPORT:[IPv6]:PORT`, one per relayed port.
    pub forwards: Vec<String>,
}

/// Runs `port`; returns the exit status.
pub fn port(global: &GlobalOptions, args: PortArgs) -> u8 {
    let id = match names::resolve(&global.root, &args.container) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("tinibox: {e}");
            return 1;
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
            println!("{}", p.host_text());
        }
        return 0;
    }
    for p in ports {
        println!("{p}");
    }
    0
}

/// Arguments of `network`.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: NetworkCommand,
}

/// Subcommands of `network`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network whose containers reach each other by name.
    Create {
        /// Subnet in CIDR form, one IPv4 (default: the first free 10.89.N.0/24) and, with
        /// --ipv6, one IPv6 (e.g. fd42:1::/64).
        #[arg(long, value_name = "CIDR")]
        subnet: Vec<String>,
        /// The bridge's address on each subnet (default: the subnet's first host).
        #[arg(long, value_name = "IP")]
        gateway: Vec<String>,
        /// Give containers an IPv6 address too (needs an IPv6 --subnet).
        #[arg(long)]
        ipv6: bool,
        /// Driver: only `bridge`.
        #[arg(short = 'd', long, default_value = "bridge")]
        driver: String,
        /// The network's name.
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove networks that no running container uses.
    #[command(alias = "remove")]
    Rm {
        /// Networks.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show networks as JSON.
    Inspect {
        /// Networks.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// IPv4 address on that network (user-defined networks only).
        #[arg(long, value_name = "ADDR")]
        ip: Option<String>,
        /// A network-scoped name its peers resolve it by (repeatable; user-defined networks
        /// only).
        #[arg(long = "alias", value_name = "NAME")]
        aliases: Vec<String>,
        /// The network.
        network: String,
        /// The container (name or id).
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Accepted for Docker's CLI (a disconnect needs no forcing here).
        #[arg(short, long)]
        force: bool,
        /// The network.
        network: String,
        /// The container (name or id).
        container: String,
    },
}

/// Runs `network …`; returns the exit status.
pub fn network(global: &GlobalOptions, args: NetworkArgs) -> u8 {
    let result = match args.command {
        NetworkCommand::Create {
            subnet,
            gateway,
            ipv6,
            driver,
            name,
        } => create(&name, &subnet, &gateway, ipv6, &driver),
        NetworkCommand::Ls { quiet } => ls(quiet),
        NetworkCommand::Rm { names } => each(&names, |n| {
            crate::net::remove_network(n).map(|_| println!("{n}"))?;
            Ok(())
        }),
        NetworkCommand::Inspect { names } => inspect(&names),
        NetworkCommand::Connect {
            ip,
            aliases,
            network,
            container,
        } => connect(
            global,
            &network,
            &container,
            Some((ip.as_deref(), &aliases[..])),
        ),
        NetworkCommand::Disconnect {
            force: _,
            network,
            container,
        } => connect(global, &network, &container, None),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("tinibox: {}", e.message);
            }
            e.status
        }
    }
}

/// Runs `f` on each name, one line for each failure; when any failed, a [`Failure`] with no
/// message whose status is 1 if every failure was a missing network, else 125.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<(), Failure>) -> Result<(), Failure> {
    let mut status = 0;
    for n in names {
        if let Err(e) = f(n) {
            eprintln!("tinibox: {}", e.message);
            status = status.max(e.status);
        }
    }
    match status {
        0 => Ok(()),
        status => Err(Failure {
            status,
            message: String::new(),
        }),
    }
}

fn create(
    name: &str,
    subnets: &[String],
    gateways: &[String],
    ipv6: bool,
    driver: &str,
) -> Result<(), Failure> {
    if driver != "bridge" {
        return Err(format!(
            "--driver {driver:?} is not supported — tinibox networks use the bridge driver"
        )
        .into());
    }
    let addressing = crate::net::Addressing::new(subnets, gateways, ipv6)?;
    let net = crate::net::create_network_with(name, &addressing)?;
    println!("{}", net.id);
    Ok(())
}

fn ls(quiet: bool) -> Result<(), Failure> {
    let mut rows = vec![crate::net::networks::default_bridge()?];
    let pre = |name: &str| crate::net::networks::Network {
        name: name.to_string(),
        id: format!("{:0<64}", hex::encode(name)),
        driver: name.to_string(),
        ..rows[0].clone()
    };
    let extra = [pre("host"), pre("none")];
    rows.extend(extra);
    rows.extend(crate::net::networks::list()?);
    if !quiet {
        println!("{:<15}{:<20}{:<10}SCOPE", "NETWORK ID", "NAME", "DRIVER");
    }
    for n in rows {
        let driver = if n.driver == "none" {
            "null"
        } else {
            &n.driver
        };
        if quiet {
            println!("{}", &n.id[..12]);
        } else {
            println!("{:<15}{:<20}{:<10}local", &n.id[..12], n.name, driver);
        }
    }
    Ok(())
}

fn inspect(names: &[String]) -> Result<(), Failure> {
    let mut out = Vec::new();
    let result = each(names, |n| {
        let (net, leases) = crate::net::inspect(n)?;
        let mut config =
            vec![json!({"Subnet": net.subnet.to_string(), "Gateway": net.gateway.to_string()})];
        if let (true, Some(s), Some(g)) = (net.ipv6, net.subnet6, net.gateway6) {
            config.push(json!({"Subnet": s.to_string(), "Gateway": g.to_string()}));
        }
        let containers: serde_json::Map<String, serde_json::Value> = leases
            .iter()
            .map(|(id, l)| {
                (
                    id.clone(),
                    json!({
                        "Name": l.member.name,
                        "EndpointID": "",
                        "MacAddress": crate::net::mac_text(crate::net::mac_for(l.ip)),
                        "IPv4Address": format!("{}/{}", l.ip, net.subnet.prefix_len()),
                        "IPv6Address": match (l.ip6, net.subnet6) {
                            (Some(a), Some(s)) => format!("{a}/{}", s.prefix_len()),
                            _ => String::new(),
                        },
                    }),
                )
            })
            .collect();
        out.push(json!({
            "Name": net.name,
            "Id": net.id,
            "Created": net.created,
            "Scope": "local",
            "Driver": net.driver,
            "EnableIPv6": net.ipv6,
            "IPAM": {
                "Driver": "default",
                "Options": {},
                "Config": config,
            },
            "Internal": false,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": {"com.docker.network.bridge.name": net.bridge},
            "Labels": {},
        }));
        Ok(())
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).unwrap_or_else(|_| "[]".into())
    );
    result
}

/// `network connect` (`join`: its `--ip` and `--alias`) or `disconnect` (`join` None): the
/// running container now, its stored request for later runs.
fn connect(
    global: &GlobalOptions,
    network: &str,
    container: &str,
    join: Option<(Option<&str>, &[String])>,
) -> Result<(), Failure> {
    use crate::container::{self, state::Record, Status};
    let id = names::resolve(&global.root, container).map_err(missing)?;
    let front = names::front_dir(&global.root, &id);
    let net = crate::net::networks::load(network)?;
    let Some(mut req) = crate::net::Request::load(&front) else {
        return Err(format!(
            "container {container} does not use a bridge network (--network none, host or container:…) — run it with --network bridge or a network name"
        ).into());
    };
    let running = Record::load(&global.root, &id).ok().filter(|r| {
        matches!(
            r.live_status(&container::container_dir(&global.root, &id)),
            Status::Running | Status::Created | Status::Paused
        )
    });
    let listed = req.networks.contains(&net.name);
    if let Some((ip, aliases)) = join {
        let (ip, aliases) = crate::net::addressing_as(&net, ip, aliases, "--alias")?;
        if listed {
            return Err(format!(
                "container {container} is already connected to network {} — nothing to do",
                net.name
            )
            .into());
        }
        req.endpoints.remove(&net.name);
        if ip.is_some() || !aliases.is_empty() {
            req.endpoints
                .insert(net.name.clone(), crate::net::Endpoint { ip, aliases });
        }
        if let Some(r) = &running {
            crate::net::connect(&id, r.state.pid, &net.name, &req)?;
        }
        req.networks.push(net.name.clone());
    } else {
        if !listed {
            return Err(format!(
                "container {container} is not connected to network {} — see `tinibox network inspect {}`",
                net.name, net.name
            ).into());
        }
        if running.is_some() {
            crate::net::disconnect(&id, &net.name)?;
        }
        req.networks.retain(|n| n != &net.name);
        req.endpoints.remove(&net.name);
        req.addresses.remove(&net.name);
    }
    Ok(req.save(&front)?)
}
