//! The daemon's side of the shim protocol: one connection per request or
//! stream, as the protocol wants.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::protocol::{
    Event, FrameKind, Hello, Input, decode, read_frame, write_frame, write_json,
};
use crate::bundle::{ExecProcess, ExitInfo};
use crate::container::process::StartError;
use crate::logs::Stream;

/// Why a shim request failed.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The shim is gone or the socket broke.
    #[error("the container's shim is unreachable: {0}")]
    Io(#[from] io::Error),
    /// The shim refused or could not carry out the request.
    #[error("{0}")]
    Refused(String),
    /// The process could not start (with Docker's exit code).
    #[error(transparent)]
    Start(#[from] StartError),
}

/// A handle on one container's shim, by its runtime directory.
#[derive(Debug, Clone)]
pub struct ShimClient {
    dir: PathBuf,
}

/// The shim's answer to a watch: the state now, and a stream that yields
/// the exit when it comes.
#[derive(Debug)]
pub struct Watch {
    /// Host PID of the init.
    pub pid: i32,
    /// Whether the init was started.
    pub started: bool,
    /// Set when it already exited.
    pub exit: Option<ExitInfo>,
    reader: OwnedReadHalf,
    _writer: OwnedWriteHalf,
}

impl Watch {
    /// Waits for the exit; `None` when the shim went away without one
    /// (read `exit.json`, or treat the container as dead).
    pub async fn exited(mut self) -> Option<ExitInfo> {
        if let Some(exit) = self.exit {
            return Some(exit);
        }
        loop {
            match read_frame(&mut self.reader).await {
                Ok(Some((FrameKind::Json, payload))) => {
                    if let Ok(Event::Exited(info)) = decode(&payload) {
                        return Some(info);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// A start asked for (or awaited) on its own connection.
#[derive(Debug)]
pub struct PendingStart {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
}

impl PendingStart {
    /// Waits for the init to exec; the returned watch reports its exit.
    pub async fn started(mut self) -> Result<Watch, ShimError> {
        match ShimClient::reply(&mut self.reader).await? {
            Event::Started { pid } => Ok(Watch {
                pid,
                started: true,
                exit: None,
                reader: self.reader,
                _writer: self.writer,
            }),
            Event::StartFailed(e) => Err(ShimError::Start(e)),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to start: {other:?}"
            ))),
        }
    }
}

/// What an attach or exec stream yields.
#[derive(Debug)]
pub enum Output {
    /// Bytes from the process.
    Data(Stream, Vec<u8>),
    /// The process ended; nothing follows.
    Exited(ExitInfo),
}

/// Reading side of an attach or exec stream.
#[derive(Debug)]
pub struct OutputStream {
    reader: OwnedReadHalf,
}

impl OutputStream {
    /// The next chunk or the exit; `None` when the shim closed the stream
    /// without an exit (it died).
    pub async fn next(&mut self) -> io::Result<Option<Output>> {
        loop {
            let Some((kind, payload)) = read_frame(&mut self.reader).await? else {
                return Ok(None);
            };
            match kind {
                FrameKind::Stdout => return Ok(Some(Output::Data(Stream::Stdout, payload))),
                FrameKind::Stderr => return Ok(Some(Output::Data(Stream::Stderr, payload))),
                FrameKind::Json => {
                    if let Event::Exited(info) = decode(&payload)? {
                        return Ok(Some(Output::Exited(info)));
                    }
                }
                FrameKind::Stdin => {}
            }
        }
    }
}

/// Writing side of an attach or exec stream.
#[derive(Debug)]
pub struct InputSink {
    writer: OwnedWriteHalf,
}

impl InputSink {
    /// Sends bytes to the process's stdin.
    pub async fn stdin(&mut self, data: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, FrameKind::Stdin, data).await
    }

    /// Sends a control message (end of stdin, resize, signal).
    pub async fn control(&mut self, input: &Input) -> io::Result<()> {
        write_json(&mut self.writer, input).await
    }
}

impl ShimClient {
    /// The shim of the container whose runtime directory is `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    async fn open(&self, hello: &Hello) -> io::Result<(OwnedReadHalf, OwnedWriteHalf)> {
        let (_dir_fd, socket) = super::socket_path(&self.dir)?;
        let stream = UnixStream::connect(&socket).await?;
        let (reader, mut writer) = stream.into_split();
        write_json(&mut writer, hello).await?;
        Ok((reader, writer))
    }

    async fn reply(reader: &mut OwnedReadHalf) -> Result<Event, ShimError> {
        match read_frame(reader).await? {
            Some((FrameKind::Json, payload)) => Ok(decode(&payload)?),
            Some(_) => Err(ShimError::Refused("unexpected data from the shim".into())),
            None => Err(ShimError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the shim closed the connection",
            ))),
        }
    }

    async fn request(&self, hello: &Hello) -> Result<Event, ShimError> {
        let (mut reader, _writer) = self.open(hello).await?;
        Self::reply(&mut reader).await
    }

    /// Opens the connection that reports the start's outcome and then the
    /// exit. With `request` the shim starts the init right away; without,
    /// it waits for an attach that asks for the start (see
    /// [`ShimClient::attach`]), which the caller sends next — both requests
    /// travel at once instead of one after the other's answer.
    pub async fn open_start(&self, request: bool) -> Result<PendingStart, ShimError> {
        let (reader, writer) = self.open(&Hello::Start { request }).await?;
        Ok(PendingStart { reader, writer })
    }

    /// Signals the init (or every process when `all`).
    pub async fn kill(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        match self.request(&Hello::Kill { signal, all }).await? {
            Event::Done => Ok(()),
            Event::Error(e) => Err(ShimError::Refused(e)),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to kill: {other:?}"
            ))),
        }
    }

    /// Resizes the container's terminal.
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<(), ShimError> {
        match self.request(&Hello::Resize { rows, cols }).await? {
            Event::Done => Ok(()),
            Event::Error(e) => Err(ShimError::Refused(e)),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to resize: {other:?}"
            ))),
        }
    }

    /// Asks for the state and keeps the connection to learn of the exit.
    pub async fn watch(&self) -> Result<Watch, ShimError> {
        let (mut reader, writer) = self.open(&Hello::Watch).await?;
        match Self::reply(&mut reader).await? {
            Event::State { pid, started, exit } => Ok(Watch {
                pid,
                started,
                exit,
                reader,
                _writer: writer,
            }),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to watch: {other:?}"
            ))),
        }
    }

    /// Attaches to the container's stdio; output sent from now on arrives
    /// on the returned stream.
    /// With `start`, the shim then starts the init (for a client waiting on
    /// [`ShimClient::open_start`] without `request`).
    pub async fn attach(
        &self,
        [stdin, stdout, stderr]: [bool; 3],
        start: bool,
    ) -> Result<(OutputStream, InputSink), ShimError> {
        let (mut reader, writer) = self
            .open(&Hello::Attach {
                stdin,
                stdout,
                stderr,
                start,
            })
            .await?;
        match Self::reply(&mut reader).await? {
            Event::Attached => Ok((OutputStream { reader }, InputSink { writer })),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to attach: {other:?}"
            ))),
        }
    }

    /// Starts a process in the container; returns its PID and stdio.
    pub async fn exec(
        &self,
        process: ExecProcess,
    ) -> Result<(i32, OutputStream, InputSink), ShimError> {
        let (mut reader, writer) = self.open(&Hello::Exec(Box::new(process))).await?;
        match Self::reply(&mut reader).await? {
            Event::Started { pid } => Ok((pid, OutputStream { reader }, InputSink { writer })),
            Event::StartFailed(e) => Err(ShimError::Start(e)),
            other => Err(ShimError::Refused(format!(
                "unexpected answer to exec: {other:?}"
            ))),
        }
    }
}
