//! Published ports (`-p`, `-P`). Each host port is reserved by a socket the
//! daemon keeps bound (never listening), so another program or container
//! asking for it gets "address in use" and `-P` can let the kernel pick a
//! free port from its ephemeral range; nftables DNAT then leads the port's
//! traffic to the container.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

use hoist_api::spec::{ContainerSpec, PortBinding};
use hoist_netplugin::firewall::{Protocol, PublishedPort};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn, bind, getsockname, socket,
};
use tonic::Status;
use tracing::warn;

use super::Networks;
use super::record::{EndpointRecord, PortMapping};
use crate::error::{conflict, internal, invalid};

/// A published port the daemon holds for a running container.
#[derive(Debug)]
pub(super) struct HeldPort {
    container_id: String,
    container_name: String,
    mapping: PortMapping,
    /// Where the port leads; `None` while the container is on no network
    /// that is not internal.
    target: Option<PortTarget>,
    /// The bound socket that keeps the host port ours; `None` when it
    /// could not be taken back after a daemon restart.
    _reservation: Option<OwnedFd>,
}

impl HeldPort {
    /// The DNAT rule this port needs, if it leads anywhere.
    pub(super) fn rule(&self) -> Option<PublishedPort> {
        let PortTarget {
            address: container_ip,
            bridge,
            ..
        } = self.target.clone()?;
        Some(PublishedPort {
            protocol: protocol(&self.mapping.protocol),
            host_ip: self.mapping.host_ip.map(IpAddr::V4),
            host_port: self.mapping.host_port,
            container_ip: IpAddr::V4(container_ip),
            container_port: self.mapping.container_port,
            bridge,
        })
    }
}

fn protocol(name: &str) -> Protocol {
    match name {
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

/// Checks a new container's `-p` entries. Returns Docker's warning when
/// they are discarded (`--network host`, where the container's ports are
/// the host's).
pub fn check_ports(spec: &ContainerSpec) -> Result<Option<String>, Status> {
    if spec.port_bindings.is_empty() && !spec.publish_all_ports {
        return Ok(None);
    }
    let mode = spec.network_mode.as_str();
    if mode == "host" {
        return Ok(Some(
            "Published ports are discarded when using host network mode".into(),
        ));
    }
    if mode == "none" || mode.starts_with("container:") {
        return Err(invalid(format!(
            "conflicting options: port publishing and --network {mode}: publish the ports on the container whose network it uses, or use a bridge network"
        )));
    }
    for binding in &spec.port_bindings {
        if !matches!(binding.protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(invalid(format!(
                "invalid protocol {:?} for port {}: use tcp, udp or sctp",
                binding.protocol, binding.container_port
            )));
        }
        if binding.container_port == 0 || binding.host_port_end < binding.host_port {
            return Err(invalid(format!(
                "invalid port binding {}:{}: ports are 1-65535 and a range must not end before it starts",
                binding.host_port_text(),
                binding.port_key()
            )));
        }
        host_ip(binding)?;
    }
    Ok(None)
}

/// A binding's host address: `None` for all of the host's.
fn host_ip(binding: &PortBinding) -> Result<Option<Ipv4Addr>, Status> {
    match binding.host_ip.as_str() {
        "" | "0.0.0.0" => Ok(None),
        text => match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Ok(Some(ip)),
            Ok(IpAddr::V6(_)) => Err(invalid(format!(
                "cannot publish port {} on IPv6 address {text}: hoist's networks are IPv4 only so far; publish on an IPv4 address or on all addresses",
                binding.port_key()
            ))),
            Err(_) => Err(invalid(format!(
                "invalid host address {text:?} for port {}: use an IPv4 address such as 127.0.0.1",
                binding.port_key()
            ))),
        },
    }
}

/// Binds a socket of `protocol` to `ip:port` (0: the kernel picks a free
/// port from its ephemeral range) and returns it with the port it got.
fn reserve(protocol: &str, ip: Ipv4Addr, port: u16) -> nix::Result<(OwnedFd, u16)> {
    let (kind, proto) = match protocol {
        "udp" => (SockType::Datagram, SockProtocol::Udp),
        "sctp" => (SockType::Stream, SockProtocol::Sctp),
        _ => (SockType::Stream, SockProtocol::Tcp),
    };
    let fd = socket(AddressFamily::Inet, kind, SockFlag::SOCK_CLOEXEC, proto)?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(ip, port)),
    )?;
    let bound: SockaddrIn = getsockname(fd.as_raw_fd())?;
    Ok((fd, bound.port()))
}

/// The bindings `-P` adds: every exposed port (`80/tcp`) not published by
/// a `-p` entry, on a free host port.
fn publish_all(bindings: &[PortBinding], exposed: &[String]) -> Vec<PortBinding> {
    exposed
        .iter()
        .filter_map(|key| {
            let (port, protocol) = PortBinding::split_key(key)?;
            let covered = bindings
                .iter()
                .any(|b| b.container_port == port && b.protocol == protocol);
            (!covered).then(|| PortBinding {
                container_port: port,
                protocol: protocol.to_string(),
                ..Default::default()
            })
        })
        .collect()
}

/// The pieces of one held port, before it joins the daemon's table.
struct Reserved {
    mapping: PortMapping,
    socket: OwnedFd,
}

/// The endpoint a container's published ports lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PortTarget {
    /// The container's address there.
    address: Ipv4Addr,
    /// The network's bridge.
    bridge: String,
    /// The network's `host_binding_ipv4`: where ports published without a
    /// host address go.
    host_binding: Option<Ipv4Addr>,
}

impl Networks {
    /// Where a container's published ports lead: its first endpoint on a
    /// network that is not internal (Docker does not publish ports on
    /// internal networks).
    fn port_target(&self, endpoints: &[EndpointRecord]) -> Option<PortTarget> {
        let state = self.lock();
        endpoints.iter().find_map(|endpoint| {
            let live = endpoint.live.as_ref()?;
            let network = state.get(&endpoint.network_id)?;
            (!network.record.internal).then(|| PortTarget {
                address: live.address.ip(),
                bridge: network.record.bridge.clone(),
                host_binding: network.options.host_binding,
            })
        })
    }

    /// Who holds a host port, for the error that says it is taken.
    fn holder_of(&self, protocol: &str, port: u16) -> Option<String> {
        self.lock_ports()
            .iter()
            .find(|held| held.mapping.protocol == protocol && held.mapping.host_port == port)
            .map(|held| held.container_name.clone())
    }

    /// Takes a host port for one binding: its port, the first free one of
    /// its range, or one the kernel picks.
    fn reserve_binding(&self, binding: &PortBinding) -> Result<Reserved, Status> {
        let ip = host_ip(binding)?;
        let bind_ip = ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let shown_ip = bind_ip.to_string();
        let last = binding.host_port_end.max(binding.host_port);
        let mut port = binding.host_port;
        loop {
            match reserve(&binding.protocol, bind_ip, port) {
                Ok((socket, host_port)) => {
                    return Ok(Reserved {
                        mapping: PortMapping {
                            protocol: binding.protocol.clone(),
                            container_port: binding.container_port,
                            host_ip: ip,
                            host_port,
                        },
                        socket,
                    });
                }
                Err(Errno::EADDRINUSE) if port < last => port += 1,
                Err(Errno::EADDRINUSE) if binding.host_port != last => {
                    return Err(conflict(format!(
                        "cannot publish port {}: no host port of {shown_ip}:{} is free; choose another range",
                        binding.port_key(),
                        binding.host_port_text()
                    )));
                }
                Err(Errno::EADDRINUSE) if port == 0 => {
                    return Err(conflict(format!(
                        "cannot publish port {}: the host has no free port left in its ephemeral range (net.ipv4.ip_local_port_range)",
                        binding.port_key()
                    )));
                }
                Err(Errno::EADDRINUSE) => {
                    let by = self
                        .holder_of(&binding.protocol, port)
                        .map(|name| format!("container {name}"))
                        .unwrap_or_else(|| "another program".into());
                    return Err(conflict(format!(
                        "cannot publish port {} on {shown_ip}:{port}: the host port is already in use by {by}; choose another host port (-p HOST_PORT:{}) or stop what uses it",
                        binding.port_key(),
                        binding.container_port
                    )));
                }
                Err(Errno::EPROTONOSUPPORT) => {
                    return Err(invalid(format!(
                        "cannot publish port {}: this host's kernel has no {} support (load its module)",
                        binding.port_key(),
                        binding.protocol
                    )));
                }
                Err(Errno::EADDRNOTAVAIL) => {
                    return Err(invalid(format!(
                        "cannot publish port {} on {shown_ip}: the host has no such address",
                        binding.port_key()
                    )));
                }
                Err(e) => {
                    return Err(internal(format!(
                        "cannot reserve host port {shown_ip}:{port} for port {}: {e}",
                        binding.port_key()
                    )));
                }
            }
        }
    }

    /// Publishes a starting container's ports: reserves every host port,
    /// then adds their rules. Nothing is held when one fails.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container_id))]
    pub async fn publish(
        &self,
        container_id: &str,
        container_name: &str,
        spec: &ContainerSpec,
        exposed: &[String],
        endpoints: &[EndpointRecord],
    ) -> Result<Vec<PortMapping>, Status> {
        let mut bindings = spec.port_bindings.clone();
        if spec.publish_all_ports {
            bindings.extend(publish_all(&spec.port_bindings, exposed));
        }
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let Some(target) = self.port_target(endpoints) else {
            warn!("ports not published: the container is only on internal networks");
            return Ok(Vec::new());
        };
        if let Some(ip) = target.host_binding {
            for binding in bindings.iter_mut().filter(|b| b.host_ip.is_empty()) {
                binding.host_ip = ip.to_string();
            }
        }
        let _changing = self.changes.lock().await;
        let mut reserved = Vec::new();
        for binding in &bindings {
            reserved.push(self.reserve_binding(binding)?);
        }
        let mappings: Vec<PortMapping> = reserved.iter().map(|r| r.mapping.clone()).collect();
        self.lock_ports()
            .extend(reserved.into_iter().map(|r| HeldPort {
                container_id: container_id.to_string(),
                container_name: container_name.to_string(),
                mapping: r.mapping,
                target: Some(target.clone()),
                _reservation: Some(r.socket),
            }));
        if let Err(e) = self.apply_rules().await {
            self.lock_ports()
                .retain(|held| held.container_id != container_id);
            return Err(e);
        }
        Ok(mappings)
    }

    /// Gives a container's host ports back and removes their rules.
    pub(super) async fn unpublish(&self, container_id: &str) {
        let _changing = self.changes.lock().await;
        let before = self.lock_ports().len();
        self.lock_ports()
            .retain(|held| held.container_id != container_id);
        if self.lock_ports().len() != before
            && let Err(e) = self.apply_rules().await
        {
            warn!(error = %e.message(), "cannot remove the rules of the container's published ports");
        }
    }

    /// Points a container's published ports at its current endpoints (after
    /// a connect or disconnect), and updates the rules if that moved them.
    pub(super) async fn retarget_ports(
        &self,
        container_id: &str,
        endpoints: &[EndpointRecord],
    ) -> Result<(), Status> {
        let target = self.port_target(endpoints);
        let _changing = self.changes.lock().await;
        let mut moved = false;
        for held in self
            .lock_ports()
            .iter_mut()
            .filter(|held| held.container_id == container_id)
        {
            moved |= held.target != target;
            held.target = target.clone();
        }
        if moved {
            self.apply_rules().await?;
        }
        Ok(())
    }

    /// After a daemon restart: takes back the host ports a running
    /// container published (the rules follow with the next
    /// [`apply_rules`](Self::apply_rules)). A port some program took while
    /// the daemon was away stays published, with a warning.
    pub fn adopt_ports(
        &self,
        container_id: &str,
        container_name: &str,
        ports: &[PortMapping],
        endpoints: &[EndpointRecord],
    ) {
        let target = self.port_target(endpoints);
        let mut held = self.lock_ports();
        for mapping in ports {
            let reservation = reserve(
                &mapping.protocol,
                mapping.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                mapping.host_port,
            )
            .map(|(socket, _)| socket)
            .inspect_err(|e| {
                warn!(port = mapping.host_port, error = %e, "cannot take back a published host port");
            })
            .ok();
            held.push(HeldPort {
                container_id: container_id.to_string(),
                container_name: container_name.to_string(),
                mapping: mapping.clone(),
                target: target.clone(),
                _reservation: reservation,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_all_adds_the_exposed_ports_not_already_published() {
        let published = PortBinding::parse("8080:80").unwrap();
        let exposed = ["80/tcp".to_string(), "53/udp".into(), "443/tcp".into()];
        let added: Vec<String> = publish_all(&published, &exposed)
            .iter()
            .map(|b| format!("{}:{}", b.host_port, b.port_key()))
            .collect();
        assert_eq!(added, ["0:53/udp", "0:443/tcp"]);
    }

    #[test]
    fn a_held_port_cannot_be_taken_twice_and_port_zero_picks_one() {
        let (first, port) = reserve("tcp", Ipv4Addr::LOCALHOST, 0).unwrap();
        assert_ne!(port, 0);
        assert_eq!(
            reserve("tcp", Ipv4Addr::LOCALHOST, port).err(),
            Some(Errno::EADDRINUSE)
        );
        assert_eq!(
            reserve("tcp", Ipv4Addr::UNSPECIFIED, port).err(),
            Some(Errno::EADDRINUSE)
        );
        drop(first);
        assert!(reserve("tcp", Ipv4Addr::LOCALHOST, port).is_ok());
    }

    #[test]
    fn ports_on_host_network_are_discarded_with_a_warning_and_ipv6_is_refused() {
        let mut spec = ContainerSpec {
            port_bindings: PortBinding::parse("8080:80").unwrap(),
            network_mode: "host".into(),
            ..Default::default()
        };
        assert!(check_ports(&spec).unwrap().is_some());
        spec.network_mode = "none".into();
        assert!(check_ports(&spec).is_err());
        spec.network_mode = String::new();
        assert!(check_ports(&spec).unwrap().is_none());
        spec.port_bindings = PortBinding::parse("[::1]:8080:80").unwrap();
        let error = check_ports(&spec).unwrap_err();
        assert!(error.message().contains("IPv6"), "{}", error.message());
    }
}
