//! Asking the upstream resolvers what the daemon's names do not answer.
//!
//! Each attempt opens its own socket (a random source port) and sends the
//! client's bytes under a fresh random id; only a response with that id
//! from that upstream is taken, and it goes back with the client's id.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use tracing::debug;

use super::Upstreams;
use super::answer::{Forward, MAX_MESSAGE, Transport};
use super::wire;

/// The reply for the client of `forward`, received over `transport`: the
/// first usable upstream answer under the client's id, else SERVFAIL.
pub(super) async fn resolve(
    upstreams: &Upstreams,
    forward: &Forward,
    transport: Transport,
) -> Option<Vec<u8>> {
    for &server in &upstreams.servers {
        match ask(server, forward, transport, upstreams.timeout).await {
            Ok(mut answer) if usable(&answer) => {
                debug!(%server, len = answer.len(), "forwarded");
                wire::set_id(&mut answer, forward.id());
                return Some(answer);
            }
            Ok(answer) => {
                debug!(%server, code = ?wire::response_code(&answer), "upstream failed");
            }
            Err(error) => debug!(%server, %error, "upstream failed"),
        }
    }
    debug!("no upstream answered: SERVFAIL");
    forward.servfail()
}

/// Whether `answer` is one to pass on: after SERVFAIL or REFUSED, which
/// one resolver may say alone, the next is asked instead (as Docker does).
fn usable(answer: &[u8]) -> bool {
    !matches!(
        wire::response_code(answer),
        Some(ResponseCode::ServFail | ResponseCode::Refused)
    )
}

/// One upstream's answer: over TCP for TCP clients; over UDP for UDP
/// clients, asked again over TCP when truncated, and then kept only if
/// it fits what the client takes (else the truncated answer tells it to
/// ask over TCP itself).
async fn ask(
    server: SocketAddr,
    forward: &Forward,
    transport: Transport,
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let id = wire::random_id();
    let mut query = forward.raw.clone();
    wire::set_id(&mut query, id);
    if transport == Transport::Tcp {
        return within(limit, ask_tcp(server, &query, id)).await;
    }
    let answer = within(limit, ask_udp(server, &query, id)).await?;
    if !wire::truncated(&answer) {
        return Ok(answer);
    }
    match within(limit, ask_tcp(server, &query, id)).await {
        Ok(full) if full.len() <= forward.udp_limit() => Ok(full),
        Ok(_) => Ok(answer),
        Err(error) => {
            debug!(%server, %error, "retry over TCP failed, passing the truncated answer on");
            Ok(answer)
        }
    }
}

async fn within<T>(limit: Duration, asking: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    timeout(limit, asking).await.unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "upstream timed out",
        ))
    })
}

/// `query` (carrying `id`) over UDP from a connected socket, so only
/// `server` is heard, and an ICMP unreachable fails at once.
async fn ask_udp(server: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buffer = vec![0; MAX_MESSAGE];
    loop {
        let len = socket.recv(&mut buffer).await?;
        if let Some(answer) = buffer.get(..len)
            && wire::answers(answer, id)
        {
            buffer.truncate(len);
            return Ok(buffer);
        }
    }
}

/// `query` (carrying `id`) over a new TCP connection.
async fn ask_tcp(server: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    wire::write_frame(&mut stream, query).await?;
    let answer = wire::read_frame(&mut stream).await?;
    if wire::answers(&answer, id) {
        Ok(answer)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "upstream answered another id",
        ))
    }
}
