//! The bridge driver: a Linux bridge per network holding the gateway
//! address, and a veth pair per endpoint whose inner end is configured in
//! the container's sandbox (its pinned network namespace).

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::path::Path;

use ipnetwork::{IpNetwork, Ipv4Network};

use crate::link::{LinkError, Netlink};
use crate::netns::{self, NetnsError};

/// What went wrong plugging a network.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A netlink request failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The sandbox could not be made or entered.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Bridged traffic cannot be filtered: br_netfilter is not loaded.
    #[error(
        "filtering traffic within a bridge needs the br_netfilter kernel module: load it (modprobe br_netfilter) and try again"
    )]
    NoBridgeNetfilter,
    /// A kernel setting could not be written.
    #[error("cannot set {what}: {source}")]
    Sysctl {
        /// The setting.
        what: String,
        /// Why.
        source: io::Error,
    },
}

/// One container interface on a bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The network's bridge.
    pub bridge: String,
    /// The host end of the veth pair.
    pub host_link: String,
    /// The interface name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its address with the subnet's prefix.
    pub address: Ipv4Network,
    /// The default route goes through this gateway when set (one endpoint
    /// of a container has it).
    pub gateway: Option<Ipv4Addr>,
    /// The MTU of both ends of the veth pair; else the kernel's default.
    pub mtu: Option<u32>,
}

/// Docker's MAC for an address: 02:42 then the four bytes of the IPv4
/// address, so the same address always gets the same MAC.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// Formats a MAC as `02:42:ac:11:00:02`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses a MAC given as `02:42:ac:11:00:02`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn write_sysctl(path: &str, value: &str) -> Result<(), BridgeError> {
    std::fs::write(path, value).map_err(|source| BridgeError::Sysctl {
        what: path.trim_start_matches("/proc/sys/").replace('/', "."),
        source,
    })
}

/// Makes bridged traffic pass the inet hooks (`bridge-nf-call-iptables`,
/// as dockerd does for `enable_icc=false`), so rules can filter traffic
/// within a bridge. Fails when br_netfilter is not loaded.
pub fn filter_bridged_traffic() -> Result<(), BridgeError> {
    let path = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if !Path::new(path).exists() {
        return Err(BridgeError::NoBridgeNetfilter);
    }
    write_sysctl(path, "1")
}

/// Makes (or completes) a network's bridge with its gateway address, up,
/// and lets the host route for it: IPv4 forwarding on, and 127.0.0.1 may be
/// routed to it (for published ports reached at localhost).
pub async fn ensure_bridge(
    host: &Netlink,
    name: &str,
    gateway: Ipv4Addr,
    subnet: Ipv4Network,
    mtu: Option<u32>,
) -> Result<(), BridgeError> {
    let address = IpNetwork::V4(Ipv4Network::new(gateway, subnet.prefix()).unwrap_or(subnet));
    host.ensure_bridge(name, &[address], mtu).await?;
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    write_sysctl(
        &format!("/proc/sys/net/ipv4/conf/{name}/route_localnet"),
        "1",
    )?;
    Ok(())
}

/// Makes a container's sandbox at `path`: a new, empty network namespace
/// ([`plug`] brings its loopback up).
pub fn create_sandbox(path: &Path) -> Result<(), BridgeError> {
    Ok(netns::create(path)?)
}

/// Plugs endpoints into the sandbox at `path`: a veth pair each, then, in
/// one visit inside, loopback up, each interface's address, and the default
/// route of the endpoint that carries one. On failure the caller
/// [`detach`]es the endpoints (one never made is already gone).
pub async fn plug(
    host: &Netlink,
    sandbox: &Path,
    endpoints: &[Endpoint],
) -> Result<(), BridgeError> {
    let ns = File::open(sandbox).map_err(|source| NetnsError::Io {
        what: "cannot open network namespace",
        path: sandbox.to_path_buf(),
        source,
    })?;
    for endpoint in endpoints {
        let bridge = host
            .index_of(&endpoint.bridge)
            .await?
            .ok_or_else(|| LinkError::Missing(endpoint.bridge.clone()))?;
        host.add_veth(
            &endpoint.host_link,
            bridge,
            &endpoint.ifname,
            ns.as_fd(),
            endpoint.mac,
            endpoint.mtu,
        )
        .await?;
        host.set_hairpin(&endpoint.host_link).await?;
    }
    let inner = endpoints.to_vec();
    netns::run_in(sandbox, move || configure_inside(inner)).await??;
    Ok(())
}

/// Inside a sandbox: loopback up, then each endpoint's interface.
async fn configure_inside(endpoints: Vec<Endpoint>) -> Result<(), LinkError> {
    let inside = Netlink::connect()?;
    inside.set_up_by_name("lo").await?;
    for endpoint in &endpoints {
        let index = inside
            .index_of(&endpoint.ifname)
            .await?
            .ok_or_else(|| LinkError::Missing(endpoint.ifname.clone()))?;
        inside
            .add_address(index, IpNetwork::V4(endpoint.address))
            .await?;
        inside.set_up(index).await?;
    }
    for gateway in endpoints.iter().filter_map(|e| e.gateway) {
        inside.add_default_route(IpAddr::V4(gateway)).await?;
    }
    Ok(())
}

/// Gives the sandbox at `path` a default route via `gateway` (after the
/// endpoint that carried it was unplugged).
pub async fn route_via(sandbox: &Path, gateway: Ipv4Addr) -> Result<(), BridgeError> {
    netns::run_in(sandbox, move || async move {
        Netlink::connect()?
            .add_default_route(IpAddr::V4(gateway))
            .await
    })
    .await??;
    Ok(())
}

/// Unplugs an endpoint (deleting the host end deletes the pair); one
/// already gone is fine.
pub async fn detach(host: &Netlink, host_link: &str) -> Result<(), BridgeError> {
    Ok(host.delete(host_link).await?)
}

/// Deletes a container's sandbox.
pub fn remove_sandbox(path: &Path) -> Result<(), BridgeError> {
    Ok(netns::remove(path)?)
}

/// Deletes a network's bridge.
pub async fn remove_bridge(host: &Netlink, name: &str) -> Result<(), BridgeError> {
    Ok(host.delete(name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_follow_docker_and_round_trip() {
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02"), Some(mac));
        for bad in [
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "zz:42:ac:11:00:02",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}

/// Root tests: everything happens inside a throwaway namespace standing in
/// for the host, removed even when the test fails.
#[cfg(test)]
mod plumbing_tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;

    struct Scratch {
        _dir: tempfile::TempDir,
        host: PathBuf,
        sandbox: PathBuf,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = netns::remove(&self.sandbox);
            let _ = netns::remove(&self.host);
        }
    }

    fn in_ns(ns: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    #[tokio::test]
    async fn an_endpoint_reaches_its_gateway_and_goes_away_on_detach() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch {
            host: dir.path().join("host"),
            sandbox: dir.path().join("sandbox"),
            _dir: dir,
        };
        netns::create(&scratch.host).unwrap();
        let subnet: Ipv4Network = "10.99.0.0/24".parse().unwrap();
        let gateway = Ipv4Addr::new(10, 99, 0, 1);
        let address = Ipv4Network::new(Ipv4Addr::new(10, 99, 0, 2), 24).unwrap();
        let sandbox = scratch.sandbox.clone();
        let endpoint = Endpoint {
            bridge: "hs-test".into(),
            host_link: "hsv-test".into(),
            ifname: "eth0".into(),
            mac: mac_for(address.ip()),
            address,
            gateway: Some(gateway),
            mtu: Some(1400),
        };
        let attached = endpoint.clone();
        netns::run_in(&scratch.host, move || async move {
            let host = Netlink::connect().unwrap();
            ensure_bridge(&host, "hs-test", gateway, subnet, Some(1400))
                .await
                .unwrap();
            ensure_bridge(&host, "hs-test", gateway, subnet, Some(1400))
                .await
                .unwrap();
            create_sandbox(&sandbox).unwrap();
            plug(&host, &sandbox, &[attached]).await.unwrap();
        })
        .await
        .unwrap();

        let (ok, out) = in_ns(&scratch.sandbox, &["ip", "-o", "addr", "show", "eth0"]);
        assert!(ok && out.contains("10.99.0.2/24"), "{out}");
        let (_, out) = in_ns(&scratch.sandbox, &["ip", "link", "show", "eth0"]);
        assert!(out.contains("02:42:0a:63:00:02"), "{out}");
        assert!(out.contains("mtu 1400"), "{out}");
        let (_, out) = in_ns(&scratch.sandbox, &["ip", "route"]);
        assert!(out.contains("default via 10.99.0.1 dev eth0"), "{out}");
        let (ok, out) = in_ns(
            &scratch.sandbox,
            &["busybox", "ping", "-c", "1", "-W", "2", "10.99.0.1"],
        );
        assert!(ok, "no reply from the gateway: {out}");
        let (_, out) = in_ns(
            &scratch.host,
            &["ip", "-o", "link", "show", "master", "hs-test"],
        );
        assert!(out.contains("hsv-test"), "{out}");

        netns::run_in(&scratch.host, || async {
            let host = Netlink::connect().unwrap();
            detach(&host, "hsv-test").await.unwrap();
            detach(&host, "hsv-test").await.unwrap();
            assert_eq!(host.index_of("hsv-test").await.unwrap(), None);
            remove_bridge(&host, "hs-test").await.unwrap();
            assert_eq!(host.index_of("hs-test").await.unwrap(), None);
        })
        .await
        .unwrap();
        let (_, out) = in_ns(&scratch.sandbox, &["ip", "-o", "link"]);
        assert!(!out.contains("eth0"), "{out}");
    }
}
