//! The client side of an attached process (`run`, `attach`, `exec`): the
//! terminal in raw mode, stdin and window sizes to the daemon, output to
//! stdout/stderr, detach keys, and signals proxied to the container.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::{
    ExitStatus, IoInput, IoOutput, KillRequest, StdStream, TerminalSize, io_input, io_output,
};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic::transport::Channel;

use crate::exit::CliResult;

/// Docker's default detach sequence: Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// How a session ended.
#[derive(Debug, Default)]
pub struct SessionEnd {
    /// What the daemon announced as started (container ID or exec PID).
    pub started_id: Option<String>,
    /// How the process ended, when it did.
    pub exit: Option<ExitStatus>,
    /// The user pressed the detach keys.
    pub detached: bool,
}

/// What a session forwards.
pub struct SessionOptions {
    /// Forward our stdin.
    pub stdin: bool,
    /// The process has a terminal.
    pub tty: bool,
    /// Keys that detach (tty sessions with stdin only).
    pub detach_keys: Vec<u8>,
    /// Proxy SIGINT/SIGTERM/… to the container (non-tty `run`/`attach`);
    /// with no ID, to the one the daemon announces as started.
    pub proxy_signals_to: Option<(ContainersClient<Channel>, Option<String>)>,
}

/// Puts the terminal in raw mode while alive.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Enters raw mode on stdin when it is a terminal.
    pub fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// The size of our terminal, if stdout is one.
pub fn terminal_size() -> Option<TerminalSize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_row > 0).then_some(TerminalSize {
        rows: u32::from(size.ws_row),
        cols: u32::from(size.ws_col),
    })
}

/// Whether stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
}

/// Drives a session until the process exits, the stream ends or the user
/// detaches. `requests` carries `wrap(IoInput)` messages to the daemon.
pub async fn drive<R: Send + 'static>(
    requests: mpsc::Sender<R>,
    wrap: fn(IoInput) -> R,
    mut output: Streaming<IoOutput>,
    options: SessionOptions,
) -> CliResult<SessionEnd> {
    let raw = if options.tty && options.stdin && stdin_is_terminal() {
        RawMode::enter()
    } else {
        None
    };
    let (detach_tx, mut detach_rx) = mpsc::channel::<()>(1);
    if options.stdin {
        let requests = requests.clone();
        let keys = if raw.is_some() {
            options.detach_keys.clone()
        } else {
            Vec::new()
        };
        std::thread::spawn(move || forward_stdin(requests, wrap, keys, detach_tx));
    } else {
        drop(detach_tx);
    }
    if options.tty {
        let requests = requests.clone();
        tokio::spawn(async move {
            let Ok(mut winch) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            else {
                return;
            };
            while winch.recv().await.is_some() {
                if let Some(size) = terminal_size()
                    && requests
                        .send(wrap(IoInput {
                            kind: Some(io_input::Kind::Resize(size)),
                        }))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        });
    }
    let mut proxy = options.proxy_signals_to;
    if let Some((client, Some(id))) = proxy.take() {
        tokio::spawn(proxy_signals(client, id));
    }
    let mut end = SessionEnd::default();
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    loop {
        tokio::select! {
            message = output.message() => match message {
                Ok(Some(IoOutput { kind: Some(kind) })) => match kind {
                    io_output::Kind::StartedId(id) => {
                        if let Some((client, None)) = proxy.take() {
                            tokio::spawn(proxy_signals(client, id.clone()));
                        }
                        end.started_id = Some(id);
                    }
                    io_output::Kind::Chunk(chunk) => {
                        if chunk.stream == StdStream::Stderr as i32 {
                            let _ = stderr.write_all(&chunk.data);
                            let _ = stderr.flush();
                        } else {
                            let _ = stdout.write_all(&chunk.data);
                            let _ = stdout.flush();
                        }
                    }
                    io_output::Kind::Exit(exit) => {
                        end.exit = Some(exit);
                        break;
                    }
                    io_output::Kind::Notice(text) => {
                        let _ = writeln!(stderr, "{text}");
                    }
                },
                Ok(Some(IoOutput { kind: None })) => {}
                Ok(None) => break,
                Err(status) => {
                    drop(raw);
                    return Err(status.into());
                }
            },
            Some(()) = detach_rx.recv() => {
                end.detached = true;
                break;
            }
        }
    }
    drop(raw);
    Ok(end)
}

/// Reads stdin on a plain thread (reads cannot be cancelled) and sends it,
/// watching for the detach sequence.
fn forward_stdin<R>(
    requests: mpsc::Sender<R>,
    wrap: fn(IoInput) -> R,
    detach_keys: Vec<u8>,
    detach: mpsc::Sender<()>,
) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 32 * 1024];
    let mut matched = 0usize;
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = requests.blocking_send(wrap(IoInput {
                    kind: Some(io_input::Kind::StdinEof(true)),
                }));
                return;
            }
            Ok(n) => n,
        };
        if !detach_keys.is_empty() {
            for byte in &buf[..n] {
                if *byte == detach_keys[matched] {
                    matched += 1;
                    if matched == detach_keys.len() {
                        let _ = detach.blocking_send(());
                        return;
                    }
                } else {
                    matched = usize::from(*byte == detach_keys[0]);
                }
            }
        }
        if requests
            .blocking_send(wrap(IoInput {
                kind: Some(io_input::Kind::Stdin(buf[..n].to_vec())),
            }))
            .is_err()
        {
            return;
        }
    }
}

/// Docker's sig-proxy: signals the CLI receives go to the container.
async fn proxy_signals(mut client: ContainersClient<Channel>, id: String) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        (SignalKind::interrupt(), "INT"),
        (SignalKind::terminate(), "TERM"),
        (SignalKind::hangup(), "HUP"),
        (SignalKind::quit(), "QUIT"),
        (SignalKind::user_defined1(), "USR1"),
        (SignalKind::user_defined2(), "USR2"),
    ];
    let (tx, mut rx) = mpsc::channel::<&'static str>(8);
    for (kind, name) in kinds {
        let Ok(mut stream) = signal(kind) else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(name).await.is_err() {
                    return;
                }
            }
        });
    }
    while let Some(name) = rx.recv().await {
        let _ = client
            .kill(KillRequest {
                id: id.clone(),
                signal: name.to_string(),
            })
            .await;
    }
}
