//! The `Secrets` gRPC service: secrets and configs for `hoist secret` and
//! `hoist config`, on the daemon's local socket and, for managers'
//! certificates, on the cluster port.

use std::sync::Arc;

use hoist_api::cluster_proto::secrets_server::Secrets;
use hoist_api::cluster_proto::{
    CreateFileRequest, Empty, FileKind, FileKindRequest, FileRef, JsonDocument,
};
use tonic::{Request, Response, Status};

use super::ClusterNode;
use super::service::{authorized_manager, json};
use crate::manager::Manager;
use crate::secrets::view::{config_view, secret_view};
use crate::store::objects::{Config, Secret};

/// Secrets and configs for one daemon.
#[derive(Debug, Clone)]
pub struct SecretsService {
    /// The daemon's cluster membership.
    pub node: Arc<ClusterNode>,
}

fn kind(value: i32) -> Result<FileKind, Status> {
    FileKind::try_from(value)
        .map_err(|_| Status::invalid_argument(format!("unknown kind {value}: secret or config")))
}

fn config_json(manager: &Manager, config: &Config) -> Result<serde_json::Value, Status> {
    let data = manager.open_file(config)?;
    serde_json::to_value(config_view(config, &data)).map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create(
        &self,
        request: Request<CreateFileRequest>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        let labels = request.labels.into_iter().collect();
        match kind(request.kind)? {
            FileKind::Secret => {
                let secret: Secret = manager
                    .create_file(&request.name, labels, &request.data)
                    .await?;
                json(&secret_view(&secret))
            }
            FileKind::Config => {
                let config: Config = manager
                    .create_file(&request.name, labels, &request.data)
                    .await?;
                json(&config_json(&manager, &config)?)
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn list(
        &self,
        request: Request<FileKindRequest>,
    ) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        match kind(request.into_inner().kind)? {
            FileKind::Secret => {
                let secrets = manager.list_files::<Secret>().await?;
                json(&secrets.iter().map(secret_view).collect::<Vec<_>>())
            }
            FileKind::Config => {
                let configs = manager.list_files::<Config>().await?;
                let views = configs
                    .iter()
                    .map(|c| config_json(&manager, c))
                    .collect::<Result<Vec<_>, _>>()?;
                json(&views)
            }
        }
    }

    #[tracing::instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn inspect(&self, request: Request<FileRef>) -> Result<Response<JsonDocument>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        match kind(request.kind)? {
            FileKind::Secret => {
                let secret = manager.inspect_file::<Secret>(&request.reference).await?;
                json(&secret_view(&secret))
            }
            FileKind::Config => {
                let config = manager.inspect_file::<Config>(&request.reference).await?;
                json(&config_json(&manager, &config)?)
            }
        }
    }

    #[tracing::instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn remove(&self, request: Request<FileRef>) -> Result<Response<Empty>, Status> {
        let manager = authorized_manager(&self.node, &request).await?;
        let request = request.into_inner();
        match kind(request.kind)? {
            FileKind::Secret => manager.remove_file::<Secret>(&request.reference).await?,
            FileKind::Config => manager.remove_file::<Config>(&request.reference).await?,
        }
        Ok(Response::new(Empty {}))
    }
}
