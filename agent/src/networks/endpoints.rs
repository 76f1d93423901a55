//! Plugging a container's sandbox into its networks at start, unplugging
//! it at exit, and taking back what running containers hold after a daemon
//! restart.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use hoist_netplugin::bridge::{self, Endpoint, format_mac, mac_for, parse_mac};
use hoist_runtime::fsutil::random_hex;
use ipnetwork::Ipv4Network;
use tonic::Status;
use tracing::warn;

use super::record::{EndpointRecord, LiveEndpoint};
use super::releases::Release;
use super::{Identity, Networks};
use crate::error::{conflict, internal, invalid, not_found};

impl Networks {
    /// Where a container's sandbox (its pinned network namespace) lives.
    pub fn sandbox_path(&self, container_id: &str) -> PathBuf {
        self.sandboxes.join(container_id)
    }

    /// Takes the addresses of `endpoints` and fills in what each one gets;
    /// nothing is taken when one fails.
    pub(super) fn assign(&self, endpoints: &mut [EndpointRecord]) -> Result<(), Status> {
        let mut state = self.lock();
        let mut taken: Vec<(String, Ipv4Addr)> = Vec::new();
        let result = (|| {
            for (n, endpoint) in endpoints.iter_mut().enumerate() {
                let network = state.get_mut(&endpoint.network_id).ok_or_else(|| {
                    not_found(format!(
                        "network {} not found: it was removed; disconnect the container from it or create it again",
                        endpoint.network_name
                    ))
                })?;
                let (Some(ipam), Some(addresses)) =
                    (network.record.ipam, network.addresses.as_mut())
                else {
                    return Err(invalid(format!(
                        "network {} has no addresses to give",
                        network.record.name
                    )));
                };
                let ip = match endpoint.ipv4_address {
                    Some(ip) => addresses.reserve(ip).map(|()| ip),
                    None => addresses.allocate(),
                }
                .map_err(|e| conflict(format!("network {}: {e}", network.record.name)))?;
                taken.push((endpoint.network_id.clone(), ip));
                let mac = match &endpoint.mac_address {
                    Some(text) => text.clone(),
                    None => format_mac(&mac_for(ip)),
                };
                endpoint.live = Some(LiveEndpoint {
                    endpoint_id: random_hex(32),
                    address: Ipv4Network::new(ip, ipam.subnet.prefix())
                        .map_err(|e| internal(e.to_string()))?,
                    gateway: ipam.gateway,
                    mac,
                    host_link: format!("hsv{}", random_hex(6)),
                    ifname: format!("eth{n}"),
                });
            }
            Ok(())
        })();
        if result.is_err() {
            for (network, ip) in taken {
                if let Some(addresses) = state.get_mut(&network).and_then(|n| n.addresses.as_mut())
                {
                    addresses.release(ip);
                }
            }
            for endpoint in endpoints.iter_mut() {
                endpoint.live = None;
            }
        }
        result
    }

    /// What the bridge driver needs for each endpoint; the first one on a
    /// network that is not internal carries the default route.
    pub(super) fn driver_endpoints(
        &self,
        endpoints: &[EndpointRecord],
    ) -> Result<Vec<Endpoint>, Status> {
        let state = self.lock();
        let mut routed = false;
        let mut out = Vec::new();
        for endpoint in endpoints {
            let (Some(live), Some(network)) = (&endpoint.live, state.get(&endpoint.network_id))
            else {
                continue;
            };
            let gateway = (!routed && !network.record.internal).then_some(live.gateway);
            routed |= gateway.is_some();
            out.push(Endpoint {
                bridge: network.record.bridge.clone(),
                host_link: live.host_link.clone(),
                ifname: live.ifname.clone(),
                mac: parse_mac(&live.mac).ok_or_else(|| {
                    invalid(format!(
                        "invalid MAC address {:?}: use the form 02:42:ac:11:00:02",
                        live.mac
                    ))
                })?,
                address: live.address,
                gateway,
                mtu: network.options.mtu,
            });
        }
        Ok(out)
    }

    /// Makes the container's sandbox and plugs it into every network of
    /// `endpoints`, filling in their addresses, and starts its resolver
    /// when it is on a network with names. On failure nothing is left.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id))]
    pub async fn plug(
        &self,
        container: Identity<'_>,
        endpoints: &mut [EndpointRecord],
    ) -> Result<PathBuf, Status> {
        let container_id = container.id;
        let sandbox = self.sandbox_path(container_id);
        self.settle_fixed(endpoints).await;
        self.assign(endpoints)?;
        let plugged = async {
            let driver = self.driver_endpoints(endpoints)?;
            bridge::create_sandbox(&sandbox).map_err(|e| {
                internal(format!(
                    "cannot make the container's network namespace: {e}"
                ))
            })?;
            bridge::plug(&self.host, &sandbox, &driver)
                .await
                .map_err(|e| {
                    internal(format!("cannot connect the container to its networks: {e}"))
                })?;
            self.update_resolver(container, endpoints, &sandbox).await
        }
        .await;
        if let Err(e) = plugged {
            self.unplug(container_id, endpoints).await;
            return Err(e);
        }
        Ok(sandbox)
    }

    /// Unplugs the container: withdraws its published ports, deletes its
    /// veth pairs and sandbox and gives its addresses back. Best effort:
    /// what is already gone is fine.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container_id))]
    pub async fn unplug(&self, container_id: &str, endpoints: &mut [EndpointRecord]) {
        self.unpublish(container_id).await;
        self.stop_resolver(container_id).await;
        if let Err(e) = bridge::remove_sandbox(&self.sandbox_path(container_id)) {
            warn!(error = %e, "cannot remove the container's network namespace");
        }
        let releases = endpoints
            .iter_mut()
            .filter_map(|endpoint| {
                let live = endpoint.live.take()?;
                Some(Release {
                    host_link: live.host_link,
                    network_id: endpoint.network_id.clone(),
                    address: live.address.ip(),
                })
            })
            .collect();
        self.releases.start(&self.deletions, &self.state, releases);
    }

    /// Waits until the addresses of stopped containers are given back on
    /// the networks where `endpoints` want a fixed address (a restarted
    /// container with `--ip` takes its own again).
    pub(super) async fn settle_fixed(&self, endpoints: &[EndpointRecord]) {
        for endpoint in endpoints.iter().filter(|e| e.ipv4_address.is_some()) {
            self.releases.settle(&endpoint.network_id).await;
        }
    }

    /// Deletes a running container's endpoint's veth pair at once and gives
    /// its address back.
    pub(super) async fn release(&self, endpoint: &mut EndpointRecord) {
        let Some(live) = endpoint.live.take() else {
            return;
        };
        if let Err(e) = bridge::detach(&self.deletions, &live.host_link).await {
            warn!(link = %live.host_link, error = %e, "cannot delete the container's veth pair");
        }
        if let Some(addresses) = self
            .lock()
            .get_mut(&endpoint.network_id)
            .and_then(|n| n.addresses.as_mut())
        {
            addresses.release(live.address.ip());
        }
    }

    /// After a daemon restart: takes back the addresses a running
    /// container holds, and restarts its resolver (the old one's sockets
    /// went with the old daemon).
    pub async fn adopt(&self, container: Identity<'_>, endpoints: &[EndpointRecord]) {
        if !endpoints.iter().any(|e| e.live.is_some()) {
            return;
        }
        self.take_back_addresses(endpoints);
        let sandbox = self.sandbox_path(container.id);
        if let Err(e) = self.update_resolver(container, endpoints, &sandbox).await {
            warn!(id = %container.id, error = %e.message(), "cannot restart a running container's DNS server");
        }
    }

    fn take_back_addresses(&self, endpoints: &[EndpointRecord]) {
        let mut state = self.lock();
        for endpoint in endpoints {
            let Some(live) = &endpoint.live else {
                continue;
            };
            if let Some(addresses) = state
                .get_mut(&endpoint.network_id)
                .and_then(|n| n.addresses.as_mut())
                && let Err(e) = addresses.reserve(live.address.ip())
            {
                warn!(network = %endpoint.network_name, error = %e, "cannot take back a running container's address");
            }
        }
    }
}
