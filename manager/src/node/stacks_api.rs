//! The `Stacks` gRPC service (`hoist stack deploy` and `rm`), for the same
//! callers as the `Services` service.

use std::sync::Arc;

use hoist_api::cluster_proto::stacks_server::Stacks;
use hoist_api::cluster_proto::{DeployStackRequest, StackChanges, StackRef};
use hoist_api::network::NetworkSpec;
use hoist_api::service::ServiceSpec;
use tonic::{Request, Response, Status};

use super::ClusterNode;
use super::service::authorized_manager;
use crate::services::stack;

/// Stack control for one daemon.
#[derive(Debug, Clone)]
pub struct StacksService {
    /// The daemon's cluster membership.
    pub node: Arc<ClusterNode>,
}

fn answer(changes: stack::StackChanges) -> Response<StackChanges> {
    Response::new(StackChanges {
        actions: changes.actions,
        warnings: changes.warnings,
    })
}

#[tonic::async_trait]
impl Stacks for StacksService {
    #[tracing::instrument(skip_all, fields(stack = %request.get_ref().namespace))]
    async fn deploy(
        &self,
        request: Request<DeployStackRequest>,
    ) -> Result<Response<StackChanges>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        let specs = request
            .services_json
            .iter()
            .map(|json| serde_json::from_slice::<ServiceSpec>(json))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(format!("unreadable service spec: {e}")))?;
        let networks = request
            .networks
            .iter()
            .map(|n| {
                Ok(stack::StackNetwork {
                    spec: serde_json::from_slice::<NetworkSpec>(&n.spec_json)?,
                    external: n.external,
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| Status::invalid_argument(format!("unreadable network spec: {e}")))?;
        let changes = manager
            .deploy_stack(
                &request.namespace,
                networks,
                specs,
                request.registry_auths,
                request.prune,
            )
            .await?;
        Ok(answer(changes))
    }

    #[tracing::instrument(skip_all, fields(stack = %request.get_ref().namespace))]
    async fn remove(&self, request: Request<StackRef>) -> Result<Response<StackChanges>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let changes = manager
            .remove_stack(&request.into_inner().namespace)
            .await?;
        Ok(answer(changes))
    }
}
