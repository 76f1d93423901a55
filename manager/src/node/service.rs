//! The `Cluster` service: on the daemon's local socket every call; on the
//! cluster port (mutual TLS) the control calls, for managers' and remote
//! clients' certificates that belong to a manager of the cluster.

use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster_proto::cluster_server::Cluster as ClusterApi;
use hoist_api::cluster_proto::{
    BenchRequest, BenchResponse, ClientCertificate, ClientCertificateRequest, Empty, InitRequest,
    InitResponse, JoinClusterRequest, JoinClusterResponse, JoinTokenRequest, JoinTokenResponse,
    JsonDocument, LeaveRequest, NodeRef, RemoveNodeRequest, UpdateClusterRequest,
    UpdateNodeRequest,
};
use hoist_api::tls::peer_of;
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::ClusterNode;
use crate::auth::Access;
use crate::ca::CLIENT_UNIT;
use crate::control::NodeChange;
use crate::manager::Manager;
use crate::store::objects::{Availability, Role};

/// Cluster control for one daemon.
#[derive(Debug, Clone)]
pub struct ClusterService {
    /// The daemon's cluster membership.
    pub node: Arc<ClusterNode>,
}

/// `value` as a JSON document answer.
pub(super) fn json<T: Serialize>(value: &T) -> Result<Response<JsonDocument>, Status> {
    serde_json::to_vec(value)
        .map(|json| Response::new(JsonDocument { json }))
        .map_err(|e| Status::internal(e.to_string()))
}

fn local_only<T>(request: &Request<T>, what: &str) -> Result<(), Status> {
    match peer_of(request) {
        None => Ok(()),
        Some(_) => Err(Status::permission_denied(format!(
            "`cluster {what}` acts on the node itself: run it on that node"
        ))),
    }
}

/// `value` in `unit`, or `None` for 0 (protobuf's "not given").
fn nonzero(value: u64, unit: fn(u64) -> Duration) -> Option<Duration> {
    (value > 0).then(|| unit(value))
}

fn role(text: &str) -> Result<Role, Status> {
    match text {
        "worker" => Ok(Role::Worker),
        "manager" => Ok(Role::Manager),
        other => Err(Status::invalid_argument(format!(
            "unknown role {other:?}: use worker or manager"
        ))),
    }
}

fn availability(text: &str) -> Result<Availability, Status> {
    match text {
        "active" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        other => Err(Status::invalid_argument(format!(
            "unknown availability {other:?}: use active, pause or drain"
        ))),
    }
}

/// The manager that answers a control call on `node`, after checking a
/// remote caller's certificate.
pub(super) async fn authorized_manager<T>(
    node: &ClusterNode,
    request: &Request<T>,
) -> Result<Arc<Manager>, Status> {
    let manager = node.manager().await?;
    if peer_of(request).is_some() {
        manager.authorize(request, Access::Manager)?;
    }
    Ok(manager)
}

impl ClusterService {
    async fn manager<T>(&self, request: &Request<T>) -> Result<Arc<Manager>, Status> {
        authorized_manager(&self.node, request).await
    }
}

#[tonic::async_trait]
impl ClusterApi for ClusterService {
    #[tracing::instrument(skip_all)]
    async fn init(&self, request: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        local_only(&request, "init")?;
        self.node
            .init(request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn join(
        &self,
        request: Request<JoinClusterRequest>,
    ) -> Result<Response<JoinClusterResponse>, Status> {
        local_only(&request, "join")?;
        self.node
            .join(request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn leave(&self, request: Request<LeaveRequest>) -> Result<Response<Empty>, Status> {
        local_only(&request, "leave")?;
        self.node.leave(request.into_inner().force).await?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all)]
    async fn inspect(&self, request: Request<Empty>) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        json(&manager.cluster_view().await?)
    }

    #[tracing::instrument(skip_all)]
    async fn join_token(
        &self,
        request: Request<JoinTokenRequest>,
    ) -> Result<Response<JoinTokenResponse>, Status> {
        let manager = self.manager(&request).await?;
        let request = request.into_inner();
        let token = manager
            .join_token(role(&request.role)?, request.rotate)
            .await?;
        Ok(Response::new(JoinTokenResponse {
            token,
            manager_addr: manager.settings().addr.clone(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update(
        &self,
        request: Request<UpdateClusterRequest>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        let request = request.into_inner();
        let view = manager
            .update_cluster(
                nonzero(request.cert_expiry_secs, Duration::from_secs),
                nonzero(request.heartbeat_period_ms, Duration::from_millis),
            )
            .await?;
        json(&view)
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_ca(&self, request: Request<Empty>) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        json(&manager.rotate_ca().await?)
    }

    #[tracing::instrument(skip_all)]
    async fn list_nodes(&self, request: Request<Empty>) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        json(&manager.node_list().await)
    }

    #[tracing::instrument(skip_all)]
    async fn inspect_node(
        &self,
        request: Request<NodeRef>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        // The leader's view when it answers; what is known here otherwise.
        let list = manager.node_list().await;
        let node = manager.find_node(&request.into_inner().node)?;
        match list.nodes.iter().find(|n| n.id == node.meta.id) {
            Some(view) => json(view),
            None => json(&manager.node_view(&node)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn update_node(
        &self,
        request: Request<UpdateNodeRequest>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = self.manager(&request).await?;
        let request = request.into_inner();
        let change = NodeChange {
            availability: match request.availability.as_str() {
                "" => None,
                text => Some(availability(text)?),
            },
            role: match request.role.as_str() {
                "" => None,
                text => Some(role(text)?),
            },
            label_add: request.label_add.into_iter().collect(),
            label_rm: request.label_rm,
        };
        json(&manager.update_node(&request.node, &change).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn remove_node(
        &self,
        request: Request<RemoveNodeRequest>,
    ) -> Result<Response<Empty>, Status> {
        let manager = self.manager(&request).await?;
        let request = request.into_inner();
        manager.remove_node(&request.node, request.force).await?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all)]
    async fn issue_client_certificate(
        &self,
        request: Request<ClientCertificateRequest>,
    ) -> Result<Response<ClientCertificate>, Status> {
        let manager = self.manager(&request).await?;
        let by_client = peer_of(&request)
            .and_then(|peer| peer.identity.as_ref())
            .is_some_and(|identity| identity.role == CLIENT_UNIT);
        if by_client {
            return Err(Status::permission_denied(
                "a client certificate cannot issue others: run `hoist cluster client-cert` on a manager",
            ));
        }
        let request = request.into_inner();
        let lifetime = nonzero(request.lifetime_secs, Duration::from_secs);
        Ok(Response::new(
            manager.issue_client_certificate(&request.csr_pem, lifetime)?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn bench(
        &self,
        request: Request<BenchRequest>,
    ) -> Result<Response<BenchResponse>, Status> {
        let manager = self.manager(&request).await?;
        let request = request.into_inner();
        crate::bench::run(&manager, request.count, request.concurrency)
            .await
            .map(Response::new)
    }
}
