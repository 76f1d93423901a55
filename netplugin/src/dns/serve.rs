//! The server's two tasks: one receives and answers UDP queries, one
//! accepts TCP connections. Local answers are given on the receiving
//! task; forwards run as tasks of their own, so a slow upstream never
//! delays a local answer.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};
use tracing::{Instrument, debug};

use super::Upstreams;
use super::answer::{Asker, MAX_MESSAGE, Outcome, Transport};
use super::{forward, wire};

/// Forwards of UDP queries in flight at once; past it, SERVFAIL at once.
const MAX_FORWARDS: usize = 1024;
/// TCP connections open at once; past it, new ones are closed.
const MAX_CONNECTIONS: usize = 64;
/// How long a TCP connection may wait for a query, or for its reply to
/// be taken.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How long a task rests after a socket error, lest it spin on one that
/// lasts (such as running out of file descriptors).
const ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What both tasks and every forward need.
pub(super) struct Shared {
    pub(super) asker: Asker,
    pub(super) upstreams: Upstreams,
}

/// Serves `socket` until aborted. Forwarded answers come back to this
/// task, the socket's only owner, so aborting it closes the socket.
pub(super) async fn udp(socket: UdpSocket, shared: Arc<Shared>) {
    let mut buffer = vec![0; MAX_MESSAGE];
    let mut forwards = JoinSet::new();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, peer)) => {
                    let query = buffer.get(..len).unwrap_or_default();
                    if let Some(reply) = on_datagram(query, peer, &shared, &mut forwards) {
                        send(&socket, &reply, peer).await;
                    }
                }
                Err(error) => pause(&error).await,
            },
            Some(done) = forwards.join_next(), if !forwards.is_empty() => {
                if let Ok((Some(reply), peer)) = done {
                    send(&socket, &reply, peer).await;
                }
            }
        }
    }
}

/// The reply to send at once, if any; a forward is started instead when
/// the query is not the daemon's to answer.
fn on_datagram(
    query: &[u8],
    peer: SocketAddr,
    shared: &Arc<Shared>,
    forwards: &mut JoinSet<(Option<Vec<u8>>, SocketAddr)>,
) -> Option<Vec<u8>> {
    match shared.asker.handle(query, Transport::Udp, peer) {
        Outcome::Reply(reply) => Some(reply),
        Outcome::Ignore => None,
        Outcome::Forward(forward) if forwards.len() >= MAX_FORWARDS => {
            forward
                .span
                .in_scope(|| debug!("too many forwards in flight: SERVFAIL"));
            forward.servfail()
        }
        Outcome::Forward(forward) => {
            let shared = shared.clone();
            let span = forward.span.clone();
            forwards.spawn(
                async move {
                    let reply = forward::resolve(&shared.upstreams, &forward, Transport::Udp).await;
                    (reply, peer)
                }
                .instrument(span),
            );
            None
        }
    }
}

async fn send(socket: &UdpSocket, reply: &[u8], peer: SocketAddr) {
    if let Err(error) = socket.send_to(reply, peer).await {
        debug!(%peer, %error, "cannot send a DNS reply");
    }
}

/// Accepts connections on `listener` until aborted; their tasks end with
/// this one.
pub(super) async fn tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                pause(&error).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            debug!(%peer, "too many DNS connections, closing this one");
            continue;
        }
        connections.spawn(connection(stream, peer, shared.clone()).in_current_span());
    }
}

/// Answers the queries of one TCP connection in turn, until the client
/// closes it, sends garbage framing or idles.
async fn connection(mut stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    while let Ok(Ok(query)) = timeout(TCP_IDLE, wire::read_frame(&mut stream)).await {
        let reply = match shared.asker.handle(&query, Transport::Tcp, peer) {
            Outcome::Reply(reply) => Some(reply),
            Outcome::Ignore => None,
            Outcome::Forward(forward) => {
                let span = forward.span.clone();
                forward::resolve(&shared.upstreams, &forward, Transport::Tcp)
                    .instrument(span)
                    .await
            }
        };
        let Some(reply) = reply else { continue };
        if !matches!(
            timeout(TCP_IDLE, wire::write_frame(&mut stream, &reply)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}

async fn pause(error: &io::Error) {
    debug!(%error, "DNS socket error");
    sleep(ERROR_PAUSE).await;
}
