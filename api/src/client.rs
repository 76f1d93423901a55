//! Connecting to a daemon's local API over its unix socket.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

/// The socket a daemon listens on when given no `--host`.
pub const DEFAULT_SOCKET: &str = "/run/hoist/hoist.sock";

/// Why a daemon could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address is not one hoist understands.
    #[error("unsupported daemon address {0:?}: use unix:///path/to/hoist.sock")]
    UnsupportedAddress(String),
    /// The socket exists but nothing answered, or it does not exist.
    #[error("cannot connect to the hoist daemon at unix://{path}: {source}")]
    Unreachable {
        /// The socket path tried.
        path: PathBuf,
        /// What the transport said.
        #[source]
        source: tonic::transport::Error,
    },
}

/// Turns a `--host` value (`unix:///path` or a bare path) into a socket path.
pub fn socket_path(host: &str) -> Result<PathBuf, ConnectError> {
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(PathBuf::from(path));
    }
    if host.starts_with('/') {
        return Ok(PathBuf::from(host));
    }
    Err(ConnectError::UnsupportedAddress(host.to_string()))
}

/// Opens a gRPC channel to the daemon listening on `path`.
///
/// The connection is made eagerly so that a missing daemon is reported here,
/// not at the first call.
pub async fn connect(path: &Path) -> Result<Channel, ConnectError> {
    let socket = path.to_path_buf();
    // The URI is required by tonic but never resolved: the connector below
    // always dials the unix socket.
    let endpoint = Endpoint::from_static("http://hoist.sock");
    endpoint
        .connect_with_connector(service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { UnixStream::connect(socket).await.map(TokioIo::new) }
        }))
        .await
        .map_err(|source| ConnectError::Unreachable {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_accepts_unix_urls_and_paths() {
        assert_eq!(
            socket_path("unix:///tmp/x.sock").unwrap(),
            PathBuf::from("/tmp/x.sock")
        );
        assert_eq!(
            socket_path("/tmp/y.sock").unwrap(),
            PathBuf::from("/tmp/y.sock")
        );
        assert!(matches!(
            socket_path("tcp://1.2.3.4:2375"),
            Err(ConnectError::UnsupportedAddress(_))
        ));
    }
}
