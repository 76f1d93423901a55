//! The `Services` gRPC service: service control for `hoist service` and
//! `hoist stack`, on the daemon's local socket and, for managers'
//! certificates, on the cluster port.

use std::sync::Arc;

use hoist_api::cluster_proto::services_server::Services;
use hoist_api::cluster_proto::{
    CreateServiceRequest, Empty, JsonDocument, ServiceCreated, ServiceLogsRequest, ServiceRef,
    TaskFilter, UpdateServiceRequest,
};
use hoist_api::service::ServiceSpec;
use tonic::{Request, Response, Status};

use super::ClusterNode;
use super::service::{authorized_manager, json};
use crate::services::Stored;

/// Service control for one daemon.
#[derive(Debug, Clone)]
pub struct ServicesService {
    /// The daemon's cluster membership.
    pub node: Arc<ClusterNode>,
}

fn spec(json: &[u8]) -> Result<ServiceSpec, Status> {
    serde_json::from_slice(json)
        .map_err(|e| Status::invalid_argument(format!("unreadable service spec: {e}")))
}

fn created(stored: Stored) -> Result<Response<ServiceCreated>, Status> {
    let view_json =
        serde_json::to_vec(&stored.view).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(ServiceCreated {
        view_json,
        warnings: stored.warnings,
    }))
}

#[tonic::async_trait]
impl Services for ServicesService {
    type LogsStream = super::logs_api::LogMessages;

    #[tracing::instrument(skip_all)]
    async fn logs(
        &self,
        request: Request<ServiceLogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        super::logs_api::logs(manager, request)
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn create(
        &self,
        request: Request<CreateServiceRequest>,
    ) -> Result<Response<ServiceCreated>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        let spec = spec(&request.spec_json)?;
        created(manager.create_service(spec, request.registry_auth).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn update(
        &self,
        request: Request<UpdateServiceRequest>,
    ) -> Result<Response<ServiceCreated>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        let spec = spec(&request.spec_json)?;
        created(
            manager
                .update_service(&request.service, spec, request.version)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn remove(&self, request: Request<ServiceRef>) -> Result<Response<Empty>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        manager
            .remove_service(&request.into_inner().service)
            .await?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all)]
    async fn inspect(
        &self,
        request: Request<ServiceRef>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        json(
            &manager
                .inspect_service(&request.into_inner().service)
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, request: Request<Empty>) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        json(&manager.list_services().await?)
    }

    #[tracing::instrument(skip_all)]
    async fn list_tasks(
        &self,
        request: Request<TaskFilter>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let filter = request.into_inner();
        let node = (!filter.node.is_empty()).then_some(filter.node.as_str());
        json(&manager.list_tasks(&filter.services, node).await?)
    }
}
