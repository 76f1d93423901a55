//! hoist's own nftables table: published ports (DNAT), outbound NAT
//! (masquerade) and isolation between networks.
//!
//! The daemon describes everything the table must say in a [`Ruleset`] and
//! [`apply`]s it whole: one `nft -j -f -` transaction adds the table,
//! deletes it and builds it again, so it works whether or not the table
//! exists, replaces the old rules atomically, and touches nothing else in
//! the ruleset. Nothing is ever flushed and no other table is read.
//!
//! The table (family `inet`) has four base chains:
//!
//! - `prerouting` (nat, priority dstnat): DNAT of published ports for
//!   packets arriving at a local address of the host (or at the port's
//!   host address);
//! - `output` (nat, priority -100): the same for packets the host itself
//!   sends, `127.0.0.1` included (the daemon sets `route_localnet=1` on the
//!   bridge so such packets may leave by it);
//! - `postrouting` (nat, priority srcnat): masquerade of traffic leaving a
//!   network's subnet by another interface, of traffic from a local address
//!   of the host into a bridge, and of hairpin traffic (a container reaching
//!   a published port of its own bridge through a host address);
//! - `forward` (filter, policy accept): internal networks sealed off,
//!   established and DNATed traffic accepted, and so is traffic routed
//!   straight to a published container port from outside hoist's bridges
//!   (as with Docker); then any other traffic
//!   entering a bridge from another interface dropped: as with Docker 28, a
//!   container's unpublished ports cannot be reached from outside its
//!   network, neither from another hoist network nor by a machine with a
//!   route to the subnet through the host ("direct routing"). Traffic
//!   within a bridge, from a container out, and from the host itself (the
//!   output path, not forward) is not affected.
//!
//! IPv6 loopback (`::1`) cannot reach a container: Linux has no
//! `route_localnet` for IPv6.
//!
//! Every chain's policy is accept: hoist drops only traffic of its own
//! bridges. Another table with a dropping forward chain (a host firewall)
//! still sees, and may drop, hoist's traffic.

mod nft;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitStatus;

use ipnetwork::IpNetwork;
use nftables::schema::Nftables;

/// Everything hoist's nftables table must express, built by the daemon
/// from its state and applied whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// Name of the table (family `inet`), normally `"hoist"`. Daemons side
    /// by side in one network namespace need different names.
    pub table: String,
    /// Every bridge network on this host.
    pub networks: Vec<NetworkRules>,
    /// Every published port of every running container.
    pub ports: Vec<PublishedPort>,
}

/// What the table must do for one bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The bridge's link name, e.g. `"hs0"` or `"hs-1a2b3c4d5e6f"`.
    pub bridge: String,
    /// The network's subnets: IPv4 always, maybe an IPv6 one too.
    pub subnets: Vec<IpNetwork>,
    /// `--internal`: nothing is routed into or out of the bridge, only its
    /// own containers talk to each other; no masquerade, and ports
    /// published on it are not forwarded (as with Docker).
    pub internal: bool,
    /// Outbound NAT for traffic from the subnets leaving by another
    /// interface (Docker's `enable_ip_masquerade`, true by default).
    pub masquerade: bool,
    /// Containers on the bridge may talk to each other (Docker's
    /// `enable_icc`, true by default). When false, traffic from the bridge
    /// to itself is dropped: that needs the kernel's br_netfilter, which
    /// passes bridged traffic through the forward hook.
    pub icc: bool,
}

/// One published port: `-p HOST_IP:HOST_PORT:CONTAINER_PORT/PROTO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// The transport protocol.
    pub protocol: Protocol,
    /// The host address the port is published on; `None` for every local
    /// address of the host (`0.0.0.0` / `::`), `127.0.0.1` included. When
    /// given, it must be of the same family as `container_ip`.
    pub host_ip: Option<IpAddr>,
    /// The port on the host.
    pub host_port: u16,
    /// The container's address on `bridge`. Only packets of its family are
    /// forwarded: publish an IPv6 container address too for IPv6 clients.
    pub container_ip: IpAddr,
    /// The port in the container.
    pub container_port: u16,
    /// The bridge of the network `container_ip` is on; one of the
    /// [`Ruleset::networks`].
    pub bridge: String,
}

/// A transport protocol a port can be published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The protocol's name as nftables (and `docker -p`) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What can go wrong rendering or applying hoist's table.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A port's host address and container address are of different IP
    /// families: there is no NAT between IPv4 and IPv6.
    #[error(
        "port {host_ip}:{host_port}/{protocol}: the host address and the container address {container_ip} are not of the same IP family"
    )]
    FamilyMismatch {
        /// The port's protocol.
        protocol: Protocol,
        /// The host address it is published on.
        host_ip: IpAddr,
        /// The host port.
        host_port: u16,
        /// The container's address.
        container_ip: IpAddr,
    },
    /// A port names a bridge that is not among the ruleset's networks.
    #[error(
        "port {host_port}/{protocol} is published on bridge {bridge:?}, which is not a hoist network"
    )]
    UnknownBridge {
        /// The port's protocol.
        protocol: Protocol,
        /// The host port.
        host_port: u16,
        /// The bridge it names.
        bridge: String,
    },
    /// The batch could not be encoded as JSON.
    #[error("cannot encode the nftables batch: {0}")]
    Encode(#[source] serde_json::Error),
    /// `nft` could not be run, fed or waited for.
    #[error("cannot run {}: {source}", program.display())]
    Run {
        /// The `nft` program.
        program: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// `nft` ran and refused the batch.
    #[error("nft failed {action} ({status}): {stderr}")]
    Nft {
        /// What the batch was for.
        action: &'static str,
        /// How `nft` exited.
        status: ExitStatus,
        /// What `nft` said.
        stderr: String,
    },
}

/// Builds the batch that replaces hoist's table with one expressing
/// `rules`: `add table`, `delete table`, `add table`, then the chains and
/// their rules. Pure; fails only when a port cannot be expressed (family
/// mismatch, unknown bridge).
pub fn render(rules: &Ruleset) -> Result<Nftables<'static>, FirewallError> {
    let networks = networks_by_bridge(&rules.networks);
    let mut forwarded = Vec::with_capacity(rules.ports.len());
    for port in &rules.ports {
        if !network_of(port, &networks)?.internal {
            forwarded.push(port);
        }
    }
    Ok(rules::batch(&rules.table, &rules.networks, &forwarded))
}

/// Replaces hoist's table in the calling thread's network namespace with
/// one expressing `rules`, atomically; nothing else in the ruleset is
/// touched. Blocking: it runs `nft` (async callers use `spawn_blocking`).
pub fn apply(rules: &Ruleset) -> Result<(), FirewallError> {
    let batch = render(rules)?;
    tracing::debug!(
        table = rules.table,
        networks = rules.networks.len(),
        ports = rules.ports.len(),
        "applying nftables table"
    );
    nft::run(&batch, "applying hoist's table")
}

/// Deletes the table `table` (family `inet`) from the calling thread's
/// network namespace if it exists, and nothing else. Blocking, like
/// [`apply`].
pub fn remove(table: &str) -> Result<(), FirewallError> {
    nft::run(&rules::removal(table), "removing hoist's table")
}

fn networks_by_bridge(networks: &[NetworkRules]) -> HashMap<&str, &NetworkRules> {
    networks.iter().map(|n| (n.bridge.as_str(), n)).collect()
}

/// The network `port` is published on, once checked that the port can be
/// expressed.
fn network_of<'a>(
    port: &PublishedPort,
    networks: &HashMap<&str, &'a NetworkRules>,
) -> Result<&'a NetworkRules, FirewallError> {
    if let Some(host_ip) = port.host_ip
        && host_ip.is_ipv4() != port.container_ip.is_ipv4()
    {
        return Err(FirewallError::FamilyMismatch {
            protocol: port.protocol,
            host_ip,
            host_port: port.host_port,
            container_ip: port.container_ip,
        });
    }
    networks
        .get(port.bridge.as_str())
        .copied()
        .ok_or_else(|| FirewallError::UnknownBridge {
            protocol: port.protocol,
            host_port: port.host_port,
            bridge: port.bridge.clone(),
        })
}
