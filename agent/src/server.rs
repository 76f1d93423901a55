//! Serving the local API on the daemon's unix socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use hoist_api::proto::containers_server::ContainersServer;
use hoist_api::proto::images_server::ImagesServer;
use hoist_api::proto::networks_server::NetworksServer;
use hoist_api::proto::system_server::SystemServer;
use hoist_api::proto::volumes_server::VolumesServer;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::service::Routes;
use tonic::transport::Server;

use crate::api::containers::ContainersApi;
use crate::api::images::ImagesApi;
use crate::api::networks::NetworksApi;
use crate::api::system::SystemApi;
use crate::api::volumes::VolumesApi;
use crate::daemon::Daemon;

/// Largest message the API takes (image and tar chunks stay far below).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Binds the socket, refusing to take over one another daemon answers on.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "another hoist daemon is already listening on {}: stop it, or give this one its own --host",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("cannot set permissions on {}", path.display()))?;
    Ok(listener)
}

/// Serves every service, and the `extra` routes (the cluster's), until
/// `shutdown` resolves.
pub async fn serve(
    daemon: Arc<Daemon>,
    listener: UnixListener,
    extra: Routes,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    Server::builder()
        .add_routes(extra)
        .add_service(
            ContainersServer::new(ContainersApi {
                daemon: daemon.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            ImagesServer::new(ImagesApi {
                daemon: daemon.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(NetworksServer::new(NetworksApi {
            daemon: daemon.clone(),
        }))
        .add_service(VolumesServer::new(VolumesApi {
            daemon: daemon.clone(),
        }))
        .add_service(SystemServer::new(SystemApi { daemon }))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await
        .context("the API server failed")
}
