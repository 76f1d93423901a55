//! Facts about this host a node reports when it joins, and the choice of
//! the address it advertises when none is given (as Docker chooses it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use crate::store::objects::NodeDescription;

/// This host's self-description.
pub fn describe() -> NodeDescription {
    NodeDescription {
        hostname: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default(),
        engine_version: hoist_api::VERSION.to_string(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        memory_bytes: memory_bytes().unwrap_or(0),
    }
}

fn memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The address to advertise when the user gave none: the source address
/// of the default route; without one, the only non-loopback IPv4 address.
pub fn default_advertise_ip() -> Result<IpAddr, String> {
    // Connecting a UDP socket sends nothing; it only picks a route.
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect(SocketAddr::from(([192, 0, 2, 1], 9)))?;
            s.local_addr()
        })
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    if let Some(ip) = routed {
        return Ok(ip);
    }
    let addresses: Vec<(String, Ipv4Addr)> = nix::ifaddrs::getifaddrs()
        .map_err(|e| format!("cannot list this host's addresses: {e}"))?
        .filter_map(|i| {
            let ip = i.address?.as_sockaddr_in()?.ip();
            (!ip.is_loopback()).then_some((i.interface_name, ip))
        })
        .collect();
    match addresses.as_slice() {
        [(_, ip)] => Ok(IpAddr::V4(*ip)),
        [] => {
            Err("this host has no address to advertise: specify one with --advertise-addr".into())
        }
        many => Err(format!(
            "could not choose an IP address to advertise since this system has multiple addresses ({}): specify one with --advertise-addr",
            many.iter()
                .map(|(name, ip)| format!("{ip} on {name}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
