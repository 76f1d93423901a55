//! The `Networks` gRPC service: cluster networks for `hoist network
//! create -d overlay`, `network ls`, `inspect` and `rm`, for the same
//! callers as the `Services` service.

use std::sync::Arc;

use hoist_api::cluster_proto::networks_server::Networks;
use hoist_api::cluster_proto::{Empty, JsonDocument, NetworkName};
use hoist_api::network::NetworkSpec;
use tonic::{Request, Response, Status};

use super::ClusterNode;
use super::service::{authorized_manager, json};
use crate::networks::view::network_view;

/// Cluster networks for one daemon.
#[derive(Debug, Clone)]
pub struct NetworksService {
    /// The daemon's cluster membership.
    pub node: Arc<ClusterNode>,
}

#[tonic::async_trait]
impl Networks for NetworksService {
    #[tracing::instrument(skip_all)]
    async fn create(
        &self,
        request: Request<JsonDocument>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let spec: NetworkSpec = serde_json::from_slice(&request.into_inner().json)
            .map_err(|e| Status::invalid_argument(format!("unreadable network spec: {e}")))?;
        let network = manager.create_network(spec).await?;
        json(&network_view(&network, Vec::new()))
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, request: Request<Empty>) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let views: Vec<_> = manager
            .list_networks()
            .await?
            .into_iter()
            .map(|(network, services)| network_view(&network, services))
            .collect();
        json(&views)
    }

    #[tracing::instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn inspect(
        &self,
        request: Request<NetworkName>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let (network, services) = manager
            .inspect_network(&request.into_inner().reference)
            .await?;
        json(&network_view(&network, services))
    }

    #[tracing::instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn remove(&self, request: Request<NetworkName>) -> Result<Response<Empty>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        manager
            .remove_network(&request.into_inner().reference)
            .await?;
        Ok(Response::new(Empty {}))
    }
}
