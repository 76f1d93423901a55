//! The bytes of DNS messages: header fields of forwarded messages, random
//! ids, and TCP framing (RFC 1035 4.2.2: a two-byte length first).

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Header, MessageType, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The header of `message`, `None` when it is shorter than one.
pub(super) fn header(message: &[u8]) -> Option<Header> {
    Header::read(&mut BinDecoder::new(message)).ok()
}

/// Whether `message` is a response carrying `id`.
pub(super) fn answers(message: &[u8], id: u16) -> bool {
    header(message).is_some_and(|header| {
        header.metadata.id == id && header.metadata.message_type == MessageType::Response
    })
}

/// Whether `message` has its TC bit set.
pub(super) fn truncated(message: &[u8]) -> bool {
    header(message).is_some_and(|header| header.metadata.truncation)
}

/// The response code in the header of `message` (its low four bits).
pub(super) fn response_code(message: &[u8]) -> Option<ResponseCode> {
    header(message).map(|header| header.metadata.response_code)
}

/// Puts `id` in the header of `message` (a no-op on less than two bytes).
pub(super) fn set_id(message: &mut [u8], id: u16) {
    if let Some(field) = message.get_mut(..2) {
        field.copy_from_slice(&id.to_be_bytes());
    }
}

/// An id nobody off the path can guess: SipHash of a counter under the
/// process's random keys.
pub(super) fn random_id() -> u16 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let hash = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hash >> 48) as u16
}

/// Reads one length-prefixed message; an empty one is an error.
pub(super) async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
    let len = stream.read_u16().await?;
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty DNS message",
        ));
    }
    let mut message = vec![0; usize::from(len)];
    stream.read_exact(&mut message).await?;
    Ok(message)
}

/// Writes `message` with its length first, in one write.
pub(super) async fn write_frame(
    stream: &mut (impl AsyncWrite + Unpin),
    message: &[u8],
) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "DNS message over 64 KiB"))?;
    let mut frame = Vec::with_capacity(2 + message.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame).await
}
