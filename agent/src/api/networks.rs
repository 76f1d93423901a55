//! The Networks gRPC service.

use std::sync::Arc;

use hoist_api::events::EventType;
use hoist_api::proto::networks_server::Networks;
use hoist_api::proto::{
    ConnectNetworkRequest, CreateNetworkRequest, DisconnectNetworkRequest, Empty,
    ListNetworksRequest, ListNetworksResponse, Network, NetworkEndpoint, NetworkRef,
    PruneNetworksRequest, PruneResponse,
};
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::containers::connect::Connection;
use crate::daemon::Daemon;
use crate::error::{conflict, from_filter};
use crate::networks::NewNetwork;
use crate::networks::record::NetworkRecord;
use hoist_api::filters::Filters;

/// Serves network requests against a daemon.
#[derive(Debug, Clone)]
pub struct NetworksApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

impl NetworksApi {
    /// A network as the API shows it, with the containers on it.
    async fn message(&self, record: NetworkRecord) -> Network {
        let mut containers = Vec::new();
        let mut used_by = Vec::new();
        for container in self.daemon.containers.all() {
            let c = container.record.lock().await;
            for endpoint in c.networks.iter().filter(|e| e.network_id == record.id) {
                used_by.push(c.id.clone());
                if let Some(live) = &endpoint.live {
                    containers.push(NetworkEndpoint {
                        container_id: c.id.clone(),
                        name: c.name.clone(),
                        endpoint_id: live.endpoint_id.clone(),
                        mac_address: live.mac.clone(),
                        ipv4_address: live.address.to_string(),
                    });
                }
            }
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let ipam = record.ipam;
        Network {
            subnet: ipam.map(|i| i.subnet.to_string()).unwrap_or_default(),
            gateway: ipam.map(|i| i.gateway.to_string()).unwrap_or_default(),
            ip_range: ipam
                .and_then(|i| i.ip_range)
                .map(|r| r.to_string())
                .unwrap_or_default(),
            id: record.id,
            name: record.name,
            driver: record.driver,
            created: record.created,
            internal: record.internal,
            attachable: record.attachable,
            labels: record.labels.into_iter().collect(),
            options: record.options.into_iter().collect(),
            bridge: record.bridge,
            containers,
            predefined: record.predefined,
            used_by,
        }
    }

    /// The networks, as messages, that pass every filter.
    /// The networks `filters` take (`network ls` or, with `what` set to
    /// it, `network prune` keys).
    async fn filtered(
        &self,
        given: &[String],
        what: &'static str,
        keys: &[&str],
    ) -> Result<Vec<Network>, Status> {
        let filters = Filters::parse(given, what, keys).map_err(from_filter)?;
        if filters
            .get("type")
            .iter()
            .any(|t| t != "custom" && t != "builtin")
        {
            return Err(from_filter(
                filters.bad_value("type", "use custom or builtin"),
            ));
        }
        let dangling = filters.boolean("dangling").map_err(from_filter)?;
        let until = filters
            .time("until", chrono::Utc::now())
            .map_err(from_filter)?;
        let names = filters.patterns("name");
        let mut out = Vec::new();
        for record in self.daemon.networks.list() {
            let network = self.message(record).await;
            let created = chrono::DateTime::parse_from_rfc3339(&network.created).ok();
            let keep = names.matches(&network.name)
                && filters.any("id", |id| network.id.starts_with(id))
                && filters.exact("driver", &network.driver)
                && filters.any("type", |t| (t == "builtin") == network.predefined)
                && filters.exact("scope", "local")
                && dangling.is_none_or(|d| d == network.used_by.is_empty())
                && until.is_none_or(|until| created.is_some_and(|c| c < until))
                && filters.labels_match(|k| network.labels.get(k).map(String::as_str));
            if keep {
                out.push(network);
            }
        }
        Ok(out)
    }
}

/// Docker's `network ls --filter` keys.
const LIST_KEYS: [&str; 7] = hoist_api::network::LS_FILTERS;
/// Docker's `network prune --filter` keys.
const PRUNE_KEYS: [&str; 3] = ["until", "label", "label!"];

#[tonic::async_trait]
impl Networks for NetworksApi {
    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create(
        &self,
        request: Request<CreateNetworkRequest>,
    ) -> Result<Response<Network>, Status> {
        let r = request.into_inner();
        let optional = |s: String| (!s.is_empty()).then_some(s);
        let record = self
            .daemon
            .networks
            .create(NewNetwork {
                name: r.name,
                driver: r.driver,
                subnet: optional(r.subnet),
                gateway: optional(r.gateway),
                ip_range: optional(r.ip_range),
                internal: r.internal,
                attachable: r.attachable,
                labels: r.labels.into_iter().collect(),
                options: r.options.into_iter().collect(),
            })
            .await?;
        self.daemon
            .network_event("create", &record.id, &record.name, &record.driver, None);
        Ok(Response::new(self.message(record).await))
    }

    #[instrument(skip_all)]
    async fn list(
        &self,
        request: Request<ListNetworksRequest>,
    ) -> Result<Response<ListNetworksResponse>, Status> {
        let networks = self
            .filtered(&request.into_inner().filters, "network ls", &LIST_KEYS)
            .await?;
        Ok(Response::new(ListNetworksResponse { networks }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn inspect(&self, request: Request<NetworkRef>) -> Result<Response<Network>, Status> {
        let record = self.daemon.networks.find(&request.get_ref().name)?;
        Ok(Response::new(self.message(record).await))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn remove(&self, request: Request<NetworkRef>) -> Result<Response<Empty>, Status> {
        let record = self.daemon.networks.find(&request.get_ref().name)?;
        let network = self.message(record.clone()).await;
        if !network.containers.is_empty() {
            let names: Vec<_> = network.containers.iter().map(|c| c.name.as_str()).collect();
            return Err(conflict(format!(
                "network {} has active endpoints ({}): stop those containers or disconnect them first",
                record.name,
                names.join(", ")
            )));
        }
        self.daemon.networks.remove(&record).await?;
        self.daemon
            .network_event("destroy", &record.id, &record.name, &record.driver, None);
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all)]
    async fn prune(
        &self,
        request: Request<PruneNetworksRequest>,
    ) -> Result<Response<PruneResponse>, Status> {
        let mut deleted = Vec::new();
        let given = request.into_inner().filters;
        for network in self.filtered(&given, "network prune", &PRUNE_KEYS).await? {
            if network.predefined || !network.used_by.is_empty() {
                continue;
            }
            let record = self.daemon.networks.find(&network.id)?;
            self.daemon.networks.remove(&record).await?;
            self.daemon
                .network_event("destroy", &record.id, &record.name, &record.driver, None);
            deleted.push(network.name);
        }
        self.daemon.prune_event(EventType::Network, 0);
        Ok(Response::new(PruneResponse {
            deleted,
            space_reclaimed: 0,
        }))
    }

    #[instrument(skip_all, fields(network = %request.get_ref().network, container = %request.get_ref().container))]
    async fn connect_container(
        &self,
        request: Request<ConnectNetworkRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.daemon.containers.find(&request.container)?;
        let connection = Connection {
            network: request.network,
            aliases: request.aliases,
            ipv4_address: Some(request.ipv4_address).filter(|ip| !ip.is_empty()),
        };
        self.daemon
            .connect_container(&container, connection)
            .await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(network = %request.get_ref().network, container = %request.get_ref().container))]
    async fn disconnect_container(
        &self,
        request: Request<DisconnectNetworkRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.daemon.containers.find(&request.container)?;
        self.daemon
            .disconnect_container(&container, &request.network, request.force)
            .await?;
        Ok(Response::new(Empty {}))
    }
}
