//! Bridging a client's gRPC stream and a shim's attach or exec stream:
//! stdin and terminal resizes one way, output and the exit the other.

use hoist_api::proto::{
    ExitStatus, IoInput, IoOutput, OutputChunk, StdStream, io_input, io_output,
};
use hoist_runtime::bundle::ExitInfo;
use hoist_runtime::logs::Stream;
use hoist_runtime::shim::client::{InputSink, Output, OutputStream};
use hoist_runtime::shim::protocol::Input;
use tokio::sync::mpsc;
use tonic::Status;

/// The sending side of a server stream of [`IoOutput`].
pub type OutputSender = mpsc::Sender<Result<IoOutput, Status>>;

/// An [`IoOutput`] carrying a chunk.
pub fn chunk(stream: Stream, data: Vec<u8>) -> IoOutput {
    let stream = match stream {
        Stream::Stdout => StdStream::Stdout,
        Stream::Stderr => StdStream::Stderr,
    };
    IoOutput {
        kind: Some(io_output::Kind::Chunk(OutputChunk {
            stream: stream as i32,
            data,
        })),
    }
}

/// An [`IoOutput`] carrying an exit.
pub fn exit(code: i32, error: &str, oom_killed: bool) -> IoOutput {
    IoOutput {
        kind: Some(io_output::Kind::Exit(ExitStatus {
            code,
            error: error.to_string(),
            oom_killed,
        })),
    }
}

/// An [`IoOutput`] carrying a notice for the user.
pub fn notice(text: impl Into<String>) -> IoOutput {
    IoOutput {
        kind: Some(io_output::Kind::Notice(text.into())),
    }
}

/// Forwards the shim's output to the client until the process exits.
/// Returns the exit, or `None` when the shim went away without one or the
/// client left.
pub async fn pump_output(mut output: OutputStream, tx: &OutputSender) -> Option<ExitInfo> {
    loop {
        match output.next().await {
            Ok(Some(Output::Data(stream, data))) => {
                if tx.send(Ok(chunk(stream, data))).await.is_err() {
                    return None;
                }
            }
            Ok(Some(Output::Exited(info))) => return Some(info),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Forwards the client's input (after its opening message) to the shim,
/// unwrapping each request with `io`.
pub fn pump_input<M: Send + 'static>(
    mut input: tonic::Streaming<M>,
    mut sink: InputSink,
    io: fn(M) -> Option<IoInput>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(Some(message)) = input.message().await {
            let Some(IoInput { kind: Some(kind) }) = io(message) else {
                continue;
            };
            let sent = match kind {
                io_input::Kind::Stdin(data) => sink.stdin(&data).await,
                io_input::Kind::StdinEof(_) => sink.control(&Input::CloseStdin).await,
                io_input::Kind::Resize(size) => {
                    sink.control(&Input::Resize {
                        rows: size.rows as u16,
                        cols: size.cols as u16,
                    })
                    .await
                }
            };
            if sent.is_err() {
                break;
            }
        }
    })
}
