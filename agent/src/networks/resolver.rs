//! The embedded DNS server of each container on a user-defined network:
//! bound to Docker's `127.0.0.11:53` inside the container's sandbox, served
//! on the daemon's runtime, answering the names of [`NameTable`] and
//! forwarding the rest to the container's `--dns` servers or the host's.
//!
//! [`NameTable`]: super::names::NameTable

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::sync::Arc;

use hoist_netplugin::dns::{DnsServer, Names, Upstreams, upstreams_from_resolv_conf};
use hoist_netplugin::netns;
use tonic::Status;

use super::Networks;
use super::names::Registration;
use super::record::EndpointRecord;
use crate::error::internal;

/// Where a container's resolver listens, in its own network namespace.
pub const RESOLVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// A container as its resolver knows it.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// Its ID: the asker of its queries.
    pub id: &'a str,
    /// Its name, registered on each of its networks.
    pub name: &'a str,
    /// Its `--dns` servers: the upstreams, instead of the host's.
    pub dns: &'a [String],
    /// Its `--link`s, `NAME[:ALIAS]`: names only it resolves.
    pub links: &'a [String],
}

/// The container's `--dns` servers, else the host's resolvers (asked from
/// the daemon's network namespace, so a loopback one works).
fn upstreams(dns: &[String]) -> Upstreams {
    let servers = if dns.is_empty() {
        upstreams_from_resolv_conf(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    } else {
        dns.iter()
            .filter_map(|server| server.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    };
    Upstreams::new(servers)
}

impl Networks {
    /// Whether any of `endpoints` is on a network whose containers resolve
    /// each other by name (and so gets the embedded resolver).
    pub fn has_names(&self, endpoints: &[EndpointRecord]) -> bool {
        !self.named(endpoints).is_empty()
    }

    /// Those of `endpoints` on networks with names.
    fn named<'a>(&self, endpoints: &'a [EndpointRecord]) -> Vec<&'a EndpointRecord> {
        let state = self.lock();
        endpoints
            .iter()
            .filter(|e| state.get(&e.network_id).is_some_and(|n| n.record.has_dns()))
            .collect()
    }

    /// Registers the container's names on those of its networks that have
    /// names (replacing what it had), and starts its resolver in `sandbox`
    /// when it has such a network and no resolver yet (or stops it when it
    /// has none left).
    pub(super) async fn update_resolver(
        &self,
        container: Identity<'_>,
        endpoints: &[EndpointRecord],
        sandbox: &Path,
    ) -> Result<(), Status> {
        self.names.unregister(container.id);
        let named = self.named(endpoints);
        if named.is_empty() {
            self.stop_resolver(container.id).await;
            return Ok(());
        }
        self.names.set_links(container.id, container.links);
        for endpoint in named {
            if let Some(live) = &endpoint.live {
                self.names.register(Registration {
                    container_id: container.id,
                    container_name: container.name,
                    network_id: &endpoint.network_id,
                    network_name: &endpoint.network_name,
                    aliases: &endpoint.aliases,
                    address: live.address.ip(),
                });
            }
        }
        if self.lock_resolvers().contains_key(container.id) {
            return Ok(());
        }
        let address = SocketAddr::from((RESOLVER_ADDRESS, 53));
        let (udp, tcp) = netns::run_in(sandbox, move || async move {
            Ok::<_, std::io::Error>((UdpSocket::bind(address)?, TcpListener::bind(address)?))
        })
        .await
        .map_err(|e| internal(format!("cannot start the container's DNS server: {e}")))?
        .map_err(|e| {
            internal(format!(
                "cannot start the container's DNS server on {address}: {e}"
            ))
        })?;
        let names: Arc<dyn Names> = self.names.clone();
        let server = DnsServer::serve(
            udp,
            tcp,
            container.id.to_string(),
            names,
            upstreams(container.dns),
        )
        .map_err(|e| internal(format!("cannot start the container's DNS server: {e}")))?;
        self.lock_resolvers()
            .insert(container.id.to_string(), server);
        Ok(())
    }

    /// Stops the container's resolver and forgets its names.
    pub(super) async fn stop_resolver(&self, container_id: &str) {
        self.names.unregister(container_id);
        let server = self.lock_resolvers().remove(container_id);
        if let Some(server) = server {
            server.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_flags_replace_the_hosts_resolvers_as_upstreams() {
        let given = upstreams(&["1.1.1.1".into(), "not-an-address".into()]);
        assert_eq!(given, Upstreams::new(vec!["1.1.1.1:53".parse().unwrap()]));
    }
}
