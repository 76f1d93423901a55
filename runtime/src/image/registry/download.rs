//! Fetching one blob to disk: into a partial file named after its digest,
//! resumed with a `Range` request when an earlier attempt (or an earlier
//! pull) stopped half way, and checked against its digest and size before
//! anyone may use it.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode, header};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::{OwnedMutexGuard, mpsc};

use super::RegistryError;
use super::client::RegistryClient;

/// How often a download that broke off is resumed before giving up.
const ATTEMPTS: usize = 4;

/// Checks that `digest` is `sha256:` and 64 lower-case hex digits (it comes
/// from a registry and names files).
pub fn check_digest(digest: &str) -> Result<(), String> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| {
        format!("digest {digest:?} is not sha256 (the only algorithm hoist verifies)")
    })?;
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!("digest {digest:?} is malformed"))
    }
}

/// One lock per blob digest, so concurrent pulls of images that share a
/// layer download it once: the second waits, then finds it stored.
#[derive(Debug, Default)]
pub struct InFlight {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    /// Waits until no one else fetches `digest`, then holds it.
    pub async fn hold(&self, digest: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(digest.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// A copy of a download's bytes as they arrive, from the first byte on,
/// for a consumer that works while the download runs (unpacking). It is
/// dropped (the consumer sees the stream end early) whenever the download
/// has to go back: a retry, a registry that ignores a range.
pub type Tee = Option<mpsc::Sender<Bytes>>;

/// Reads what a [`Tee`] sends, blocking (for a `spawn_blocking` thread);
/// as a `BufRead`, it lends the chunks themselves, uncopied.
pub struct TeeReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl TeeReader {
    /// A tee and the reader of what it sends.
    pub fn pair() -> (Tee, Self) {
        let (tx, rx) = mpsc::channel(64);
        (
            Some(tx),
            Self {
                chunks: rx,
                current: Bytes::new(),
            },
        )
    }
}

impl BufRead for TeeReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount.min(self.current.len()));
    }
}

impl Read for TeeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Downloads blob `digest` of `size` bytes into `partial`, resuming from
/// what `partial` already holds. `progress` hears the bytes on disk so far;
/// `tee` (given only when `partial` is empty) gets every byte too. On
/// success `partial` is complete and verified; on a verification failure
/// it is deleted; on a transport failure it is kept for the next attempt.
pub async fn fetch_blob(
    client: &RegistryClient,
    digest: &str,
    size: u64,
    partial: &Path,
    mut tee: Tee,
    mut progress: impl FnMut(u64),
) -> Result<(), RegistryError> {
    check_digest(digest).map_err(RegistryError::Unsupported)?;
    let mut last_error = None;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tee = None;
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            tracing::info!(%digest, attempt, "resuming blob download");
        }
        match fetch_once(client, digest, size, partial, &mut tee, &mut progress).await {
            Ok(()) => return Ok(()),
            Err(e @ RegistryError::Unreachable { .. }) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| RegistryError::Unsupported("no download attempt".into())))
}

async fn fetch_once(
    client: &RegistryClient,
    digest: &str,
    size: u64,
    partial: &Path,
    tee: &mut Tee,
    progress: &mut impl FnMut(u64),
) -> Result<(), RegistryError> {
    let mut hasher = Sha256::new();
    let mut offset = hash_existing(partial, &mut hasher).await?;
    if offset > 0 {
        *tee = None;
    }
    if offset > size {
        tokio::fs::remove_file(partial).await?;
        hasher = Sha256::new();
        offset = 0;
    }
    let url = client.url(&format!("blobs/{digest}"));
    let response = if offset < size || size == 0 {
        let range = format!("bytes={offset}-");
        let response = client
            .send(Method::GET, &url, |b| {
                if offset > 0 {
                    b.header(header::RANGE, range.as_str())
                } else {
                    b
                }
            })
            .await?;
        Some(response)
    } else {
        None
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(partial)
        .await?;
    if let Some(response) = response {
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {}
            StatusCode::OK => {
                if offset > 0 {
                    // The registry ignored the range: start over.
                    file.set_len(0).await?;
                    hasher = Sha256::new();
                    offset = 0;
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                file.set_len(0).await?;
                return Err(RegistryError::Unreachable {
                    registry: client.domain().to_string(),
                    reason: format!("blob {digest} could not be resumed; starting over"),
                });
            }
            _ => {
                let request = format!("GET /v2/{}/blobs/{digest}", client.repository());
                return Err(client
                    .status_error(response, &request, &format!("blob {digest}"))
                    .await);
            }
        }
        progress(offset);
        let mut writer = BufWriter::with_capacity(1 << 20, &mut file);
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Unreachable {
                registry: client.domain().to_string(),
                reason: format!("download of {digest} broke off at {offset} bytes: {e}"),
            })?;
            offset += chunk.len() as u64;
            if offset > size {
                drop(writer);
                tokio::fs::remove_file(partial).await?;
                return Err(RegistryError::Invalid {
                    what: format!("blob {digest}"),
                    registry: client.domain().to_string(),
                    reason: format!("it is larger than the {size} bytes its descriptor says"),
                });
            }
            hasher.update(&chunk);
            writer.write_all(&chunk).await?;
            if let Some(sender) = tee
                && sender.send(chunk).await.is_err()
            {
                *tee = None;
            }
            progress(offset);
        }
        writer.flush().await?;
    }
    file.sync_data().await?;
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if offset != size || actual != digest {
        tokio::fs::remove_file(partial).await?;
        return Err(RegistryError::DigestMismatch {
            what: format!("blob of {}", client.repository()),
            registry: client.domain().to_string(),
            expected: format!("{digest} ({size} bytes)"),
            actual: format!("{actual} ({offset} bytes)"),
        });
    }
    Ok(())
}

/// Feeds what `partial` already holds to `hasher`; returns its length.
async fn hash_existing(partial: &Path, hasher: &mut Sha256) -> Result<u64, RegistryError> {
    let mut file = match tokio::fs::File::open(partial).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_before_they_name_files() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(check_digest(&good).is_ok());
        for bad in [
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{}", "a".repeat(128)),
            format!("sha256:{}", "a".repeat(63)),
        ] {
            assert!(check_digest(&bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn one_fetch_per_digest_at_a_time() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.hold("sha256:a").await;
        let other = in_flight.hold("sha256:b").await;
        let waiter = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let _held = in_flight.hold("sha256:a").await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.unwrap();
        drop(other);
    }
}
