//! The shim's socket protocol. Each connection has one purpose, named by
//! its first frame ([`Hello`]); frames are a kind byte, a big-endian u32
//! length and the payload. Control messages are JSON; stdio is raw bytes.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::bundle::{ExecProcess, ExitInfo};
use crate::container::process::StartError;

/// Largest frame accepted (stdio chunks are far smaller).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A JSON [`Hello`], [`Input`] or [`Event`].
    Json = 1,
    /// Bytes for the process's stdin.
    Stdin = 2,
    /// Bytes the process wrote to stdout (or its terminal).
    Stdout = 3,
    /// Bytes the process wrote to stderr.
    Stderr = 4,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Json,
            2 => Self::Stdin,
            3 => Self::Stdout,
            4 => Self::Stderr,
            _ => return None,
        })
    }
}

/// The first frame of a connection: what it is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Hello {
    /// Report the state now and [`Event::Exited`] when the container ends.
    Watch,
    /// Report how the start went (`Started` or `StartFailed`), then
    /// [`Event::Exited`] when the container ends. With `request` this asks
    /// for the start; without, it waits for an attach with `start` to ask,
    /// so a client can send both at once and still miss no output.
    Start {
        /// Ask for the start (rather than wait for an attach to ask).
        request: bool,
    },
    /// Send a signal to the init process (or every process of the container).
    Kill {
        /// Signal number.
        signal: i32,
        /// Every process in the cgroup, not just PID 1.
        all: bool,
    },
    /// Resize the container's terminal.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Stream the container's output; accept stdin frames when `stdin`.
    Attach {
        /// Forward stdin frames.
        stdin: bool,
        /// Send stdout.
        stdout: bool,
        /// Send stderr.
        stderr: bool,
        /// Ask for the start once the attach is in place.
        start: bool,
    },
    /// Start a process in the container and stream its stdio.
    Exec(Box<ExecProcess>),
}

/// What a client sends on an attach or exec connection after the hello.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Input {
    /// The client's stdin ended.
    CloseStdin,
    /// The client's terminal changed size.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Signal the exec'd process.
    Kill {
        /// Signal number.
        signal: i32,
    },
}

/// What the shim tells a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// Answer to `Watch`: the init PID and, if it ended, how.
    State {
        /// Host PID of the container's init.
        pid: i32,
        /// Whether it was started (exec'd).
        started: bool,
        /// Set once it exited.
        exit: Option<ExitInfo>,
    },
    /// The request was carried out.
    Done,
    /// The attach is in place: output from now on will be sent.
    Attached,
    /// The process runs.
    Started {
        /// Its host PID.
        pid: i32,
    },
    /// The process could not start.
    StartFailed(StartError),
    /// The process ended.
    Exited(ExitInfo),
    /// The request was refused or failed.
    Error(String),
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: FrameKind,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut header = [0u8; 5];
    header[0] = kind as u8;
    header[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    w.write_all(&header).await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// Writes a JSON frame.
pub async fn write_json<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> std::io::Result<()> {
    let payload = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_frame(w, FrameKind::Json, &payload).await
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(FrameKind, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let kind = FrameKind::from_byte(header[0]).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unknown frame kind {}", header[0]),
        )
    })?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is too large"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some((kind, payload)))
}

/// Decodes a JSON frame's payload.
pub fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> std::io::Result<T> {
    serde_json::from_slice(payload)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_json(
            &mut a,
            &Hello::Kill {
                signal: 15,
                all: false,
            },
        )
        .await
        .unwrap();
        write_frame(&mut a, FrameKind::Stdin, b"data")
            .await
            .unwrap();
        drop(a);
        let (kind, payload) = read_frame(&mut b).await.unwrap().unwrap();
        assert_eq!(kind, FrameKind::Json);
        assert!(matches!(
            decode::<Hello>(&payload).unwrap(),
            Hello::Kill {
                signal: 15,
                all: false
            }
        ));
        let (kind, payload) = read_frame(&mut b).await.unwrap().unwrap();
        assert_eq!((kind, payload.as_slice()), (FrameKind::Stdin, &b"data"[..]));
        assert!(read_frame(&mut b).await.unwrap().is_none());
    }
}
