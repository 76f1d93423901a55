//! The cluster port of a manager: Raft, enrollment, the dispatcher and
//! remote cluster control (services, secrets, configs and networks
//! included), over
//! mutual TLS.

use std::sync::Arc;

use hoist_api::cluster_proto::cluster_server::ClusterServer as ClusterApiServer;
use hoist_api::cluster_proto::dispatcher_server::DispatcherServer;
use hoist_api::cluster_proto::enrollment_server::EnrollmentServer;
use hoist_api::cluster_proto::networks_server::NetworksServer;
use hoist_api::cluster_proto::raft_server::RaftServer;
use hoist_api::cluster_proto::secrets_server::SecretsServer;
use hoist_api::cluster_proto::services_server::ServicesServer;
use hoist_api::cluster_proto::stacks_server::StacksServer;
use hoist_api::tls::{self, Credentials};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Status;
use tracing::{info, warn};

use super::ClusterNode;
use super::networks_api::NetworksService;
use super::secrets_api::SecretsService;
use super::service::ClusterService;
use super::services_api::ServicesService;
use super::stacks_api::StacksService;
use crate::dispatcher::DispatcherService;
use crate::enrollment::EnrollmentService;
use crate::manager::Manager;
use crate::raft::service::RaftService;

/// Largest message on the cluster port (snapshots travel whole).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// A running cluster port.
pub struct ClusterServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ClusterServer {
    /// Listens on `listen` (`IP:PORT`) and serves until stopped.
    pub async fn start(
        listen: &str,
        credentials: &Credentials,
        manager: Arc<Manager>,
        node: Arc<ClusterNode>,
    ) -> Result<Self, Status> {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            Status::unavailable(format!(
                "cannot listen for cluster traffic on {listen}: {e} (choose another with --listen-addr)"
            ))
        })?;
        let config = credentials
            .server_config()
            .map_err(|e| Status::internal(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let routes = tonic::transport::Server::builder()
            .add_service(
                RaftServer::new(RaftService {
                    manager: manager.clone(),
                })
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            )
            .add_service(EnrollmentServer::new(EnrollmentService {
                manager: manager.clone(),
            }))
            .add_service(DispatcherServer::new(DispatcherService::start(manager)))
            .add_service(ClusterApiServer::new(ClusterService { node: node.clone() }))
            .add_service(ServicesServer::new(ServicesService { node: node.clone() }))
            .add_service(SecretsServer::new(SecretsService { node: node.clone() }))
            .add_service(NetworksServer::new(NetworksService { node: node.clone() }))
            .add_service(StacksServer::new(StacksService { node }));
        let incoming = tls::incoming(listener, config);
        info!(%listen, "serving the cluster port");
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = routes
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                warn!(error = %e, "the cluster port failed");
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops serving.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.abort();
        let _ = self.task.await;
    }
}
