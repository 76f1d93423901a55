//! The embedded DNS server each container on a user-defined network asks:
//! hoist's take on Docker's `127.0.0.11`.
//!
//! For every such container the daemon binds a UDP socket and a TCP
//! listener on `127.0.0.11:53` inside the container's network namespace
//! (on a thread that entered it) and hands them to [`DnsServer::serve`],
//! which serves them on the daemon's tokio runtime:
//!
//! - `A`/`AAAA` queries for a name the daemon knows ([`Names::lookup`]) are
//!   answered here, authoritatively, with TTL 600 (Docker's); a known name
//!   with no address of the asked family, or asked for another type, gets
//!   an empty NOERROR answer (NODATA), never NXDOMAIN;
//! - `PTR` queries for an address the daemon knows ([`Names::reverse`])
//!   are answered the same way;
//! - everything else is forwarded, as raw bytes under a fresh random id, to
//!   the upstream resolvers in order ([`Upstreams`]): over UDP, retried over
//!   TCP when the answer is truncated; over TCP when the client asked over
//!   TCP. The first usable answer goes back with the client's id; when none
//!   comes, the client gets SERVFAIL. Nothing is cached.
//!
//! Forwarding sockets are opened by the runtime's threads, so from the
//! daemon's network namespace: a loopback upstream such as systemd-resolved's
//! `127.0.0.53` works.
//!
//! The server is its own small loop over tokio sockets, with hickory-proto
//! for the messages, rather than hickory-server's `Server`: that server
//! only sends responses it builds from parsed records, so every forwarded
//! answer would be decoded and encoded again (not forwarded as is, and
//! re-truncated by hickory's rules), and it logs each request at info
//! level. Here a local answer is parsed, looked up and encoded on the task
//! that received it; only forwards get a task of their own, so a slow
//! upstream never delays a local answer.

mod answer;
mod forward;
mod resolv;
mod serve;
mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, debug_span};

pub use resolv::upstreams_from_resolv_conf;

use answer::Asker;
use serve::Shared;

/// What the server asks the daemon: the names one container can see.
///
/// Called on the runtime's threads for every query, so it must answer
/// from memory and quickly (a read lock on a map, no I/O).
pub trait Names: Send + Sync + 'static {
    /// Addresses of `name` (lower-case, no trailing dot) as seen by the
    /// container `asker` (the id given to [`DnsServer::serve`]); `None`
    /// when the name is not a container's, service's or alias's, and the
    /// query is then forwarded. `Some` may hold addresses of both
    /// families: the server keeps those of the asked type.
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>>;

    /// The name of `ip` as seen by `asker` (for `PTR`, without or with a
    /// trailing dot), `None` when it is not a container's address, and the
    /// query is then forwarded.
    fn reverse(&self, asker: &str, ip: IpAddr) -> Option<String>;
}

/// How long the server waits for one upstream before it asks the next.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The resolvers the server forwards what it cannot answer to, and how
/// long it waits for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Upstreams {
    /// Upstreams asked in this order, each for at most
    /// [`DEFAULT_UPSTREAM_TIMEOUT`]. With none, forwarded queries get
    /// SERVFAIL.
    pub fn new(servers: Vec<SocketAddr>) -> Self {
        Self {
            servers,
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }

    /// The same upstreams, each waited for at most `timeout` (per
    /// transport: a truncated UDP answer gets another `timeout` over TCP).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `serve` was called outside a tokio runtime.
    #[error("the DNS server must be started on a tokio runtime")]
    NoRuntime,
    /// A socket handed to `serve` could not be made nonblocking or
    /// registered with the runtime.
    #[error("cannot serve DNS on the {transport} socket: {source}")]
    Socket {
        /// `"UDP"` or `"TCP"`.
        transport: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// A running server for one container; dropping it (or [`stop`]) ends it
/// and closes its sockets.
///
/// [`stop`]: DnsServer::stop
#[derive(Debug)]
#[must_use = "dropping the server stops it"]
pub struct DnsServer {
    udp: JoinHandle<()>,
    tcp: JoinHandle<()>,
}

impl DnsServer {
    /// Starts serving `udp` and `tcp` (bound, blocking or not) on the
    /// current tokio runtime, for the container `asker`: its names come
    /// from `names`, everything else goes to `upstreams`.
    pub fn serve(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        asker: String,
        names: Arc<dyn Names>,
        upstreams: Upstreams,
    ) -> Result<Self, DnsError> {
        let runtime = Handle::try_current().map_err(|_| DnsError::NoRuntime)?;
        let udp = tokio_udp(udp)?;
        let tcp = tokio_tcp(tcp)?;
        let span = debug_span!("dns_server", asker = %asker);
        span.in_scope(|| debug!(udp = ?udp.local_addr().ok(), ?upstreams, "serving"));
        let shared = Arc::new(Shared {
            asker: Asker::new(asker, names),
            upstreams,
        });
        Ok(Self {
            udp: runtime.spawn(serve::udp(udp, shared.clone()).instrument(span.clone())),
            tcp: runtime.spawn(serve::tcp(tcp, shared).instrument(span)),
        })
    }

    /// Stops the server and returns once its sockets are closed (dropping
    /// it closes them too, but a moment later, on the runtime).
    pub async fn stop(mut self) {
        self.abort();
        // Both tasks only end by being aborted: their JoinError says so.
        let _ = (&mut self.udp).await;
        let _ = (&mut self.tcp).await;
    }

    fn abort(&self) {
        self.udp.abort();
        self.tcp.abort();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.abort();
    }
}

fn tokio_udp(socket: std::net::UdpSocket) -> Result<tokio::net::UdpSocket, DnsError> {
    socket
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UdpSocket::from_std(socket))
        .map_err(|source| DnsError::Socket {
            transport: "UDP",
            source,
        })
}

fn tokio_tcp(listener: std::net::TcpListener) -> Result<tokio::net::TcpListener, DnsError> {
    listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
        .map_err(|source| DnsError::Socket {
            transport: "TCP",
            source,
        })
}
