//! hoist's per-host engine: the daemon behind `hoist daemon`. It keeps the
//! image, volume and container stores, serves the local gRPC API on a unix
//! socket, supervises containers through their shims, and re-adopts them
//! after a restart.

pub mod api;
pub mod build;
pub mod config;
pub mod containers;
pub mod daemon;
pub mod error;
pub mod events;
pub mod networks;
pub mod server;
pub mod volumes;

use tracing::info;

pub use config::DaemonConfig;
pub use daemon::Daemon;

/// Runs a daemon until SIGINT or SIGTERM, serving `extra` routes (the
/// cluster API) beside its own; on the signal, `stopping` runs before the
/// server waits for its calls to end (the cluster's worker holds calls
/// open to this very daemon). Containers keep running when it stops: the
/// next daemon re-adopts them.
pub async fn run(
    config: DaemonConfig,
    extra: tonic::service::Routes,
    stopping: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let socket = config.socket.clone();
    let listener = server::bind(&socket)?;
    let daemon = Daemon::open(config).await?;
    let restored = daemon.restore().await;
    daemon
        .networks
        .apply_rules()
        .await
        .map_err(|e| anyhow::anyhow!("cannot set up hoist's firewall rules: {}", e.message()))?;
    info!(socket = %socket.display(), containers = restored, version = hoist_api::VERSION, "hoist daemon ready");
    let events = daemon.clone();
    let shutdown = async move {
        shutdown_signal().await;
        stopping.await;
        // Followed event streams end, so the server can stop.
        events.events.close();
    };
    let result = server::serve(daemon, listener, extra, shutdown).await;
    let _ = std::fs::remove_file(&socket);
    info!("hoist daemon stopped; containers keep running");
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
