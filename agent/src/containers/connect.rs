//! `network connect` and `network disconnect`: a container joins or leaves
//! a network; a running one at once (its sandbox is re-plumbed live, its
//! /etc/hosts and /etc/resolv.conf rewritten), a stopped one at its next
//! start.

use std::sync::Arc;

use tonic::Status;
use tracing::info;

use super::Container;
use super::record::ContainerRecord;
use crate::daemon::Daemon;
use crate::error::{conflict, internal};
use crate::networks::record::EndpointRecord;
use crate::networks::shares_a_network_namespace;

/// What `network connect` asks for.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The network (ID, name or ID prefix).
    pub network: String,
    /// `--alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ipv4_address: Option<String>,
}

/// A change to a running container's endpoints.
enum Change {
    /// Plug in one more.
    Connect(Box<EndpointRecord>),
    /// Unplug the one at this index.
    Disconnect(usize),
}

impl Daemon {
    /// Connects a container to one more network.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id, network = %connection.network))]
    pub async fn connect_container(
        &self,
        container: &Arc<Container>,
        connection: Connection,
    ) -> Result<(), Status> {
        let mut record = container.record.lock().await;
        let mode = record.spec.network_mode.clone();
        if shares_a_network_namespace(&mode) {
            return Err(conflict(format!(
                "container {} uses --network {mode} and cannot be connected to another network",
                record.name
            )));
        }
        let endpoint = self.networks.endpoint_on(
            &connection.network,
            &connection.aliases,
            connection.ipv4_address.as_deref(),
            None,
        )?;
        if record
            .networks
            .iter()
            .any(|e| e.network_id == endpoint.network_id)
        {
            return Err(conflict(format!(
                "container {} is already connected to network {}",
                record.name, endpoint.network_name
            )));
        }
        let network_name = endpoint.network_name.clone();
        if record.networks.iter().any(|e| e.live.is_some()) {
            let network_id = endpoint.network_id.clone();
            self.change_live(&mut record, Change::Connect(Box::new(endpoint)))
                .await?;
            if let Some(plugged) = record.networks.iter().find(|e| e.network_id == network_id) {
                self.endpoint_event(&record.id, plugged, "connect");
            }
        } else {
            record.networks.push(endpoint);
        }
        self.save_networks(&record)?;
        info!(container = %record.name, network = %network_name, "connected");
        Ok(())
    }

    /// Disconnects a container from a network. `force`: a network that no
    /// longer exists is matched by its name in the container's record.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id, network = %network))]
    pub async fn disconnect_container(
        &self,
        container: &Arc<Container>,
        network: &str,
        force: bool,
    ) -> Result<(), Status> {
        let mut record = container.record.lock().await;
        let found = match self.networks.find(network) {
            Ok(n) => record.networks.iter().position(|e| e.network_id == n.id),
            Err(_) if force => record
                .networks
                .iter()
                .position(|e| e.network_name == network),
            Err(e) => return Err(e),
        };
        let Some(index) = found else {
            return Err(conflict(format!(
                "container {} is not connected to network {network}",
                record.name
            )));
        };
        if record.networks[index].live.is_some() {
            let unplugged = record.networks[index].clone();
            self.change_live(&mut record, Change::Disconnect(index))
                .await?;
            self.endpoint_event(&record.id, &unplugged, "disconnect");
        } else {
            record.networks.remove(index);
        }
        self.save_networks(&record)?;
        info!(container = %record.name, network, "disconnected");
        Ok(())
    }

    /// Re-plumbs a running container's sandbox, then rewrites its /etc
    /// files to match.
    async fn change_live(
        &self,
        record: &mut ContainerRecord,
        change: Change,
    ) -> Result<(), Status> {
        let mut endpoints = record.networks.clone();
        let identity = record.identity();
        match change {
            Change::Connect(endpoint) => {
                self.networks
                    .connect_live(identity, &mut endpoints, *endpoint)
                    .await?
            }
            Change::Disconnect(index) => {
                self.networks
                    .disconnect_live(identity, &mut endpoints, index)
                    .await?
            }
        }
        record.networks = endpoints;
        let embedded_dns = self.networks.has_names(&record.networks);
        // Legacy links stay while the container is on the default bridge;
        // if a linked container has gone meanwhile, they are left out.
        let links = self.legacy_links(record).await.unwrap_or_else(|e| {
            tracing::warn!(id = %record.id, "legacy links left out of /etc/hosts: {}", e.message());
            Vec::new()
        });
        self.write_etc_files(record, embedded_dns, &links)
    }

    fn save_networks(&self, record: &ContainerRecord) -> Result<(), Status> {
        record
            .save(&self.config.container_dir(&record.id))
            .map_err(|e| internal(format!("cannot save the container record: {e}")))
    }
}
