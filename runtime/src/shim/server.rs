//! The shim process (`hoist-shim <dir>`): one per container. It creates the
//! cgroup, clones the container's init, holds its stdio (pipes or a pty),
//! writes its log, starts exec'd processes, reaps every exit and records
//! the init's in `exit.json`. It is single-threaded so that it can fork
//! safely, and it outlives the daemon: a daemon restart never touches the
//! container.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::spawn_local;

use super::protocol::{
    Event, FrameKind, Hello, Input, decode, read_frame, write_frame, write_json,
};
use crate::bundle::{Bundle, EXIT_FILE, ExecProcess, ExitInfo, ROOTFS_DIR};
use crate::container::child::{ChildMessage, ChildStdio, dev_null, recv_message, sync_pair};
use crate::container::exec::spawn_exec;
use crate::container::init::spawn_init;
use crate::container::process::StartError;
use crate::container::tty::set_size;
use crate::logs::Stream;
use crate::logs::writer::LogWriter;

/// The descriptor the daemon passes the listening socket on.
pub const LISTEN_FD: RawFd = 3;

/// How long a prepared container waits for its start before giving up.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// When a running shim gives back the stack its setup used.
const RELEASE_STACK_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for output to drain after a process exits (a process
/// that escaped the PID namespace may still hold the pipe).
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// Entry point of `hoist-shim <dir>`; returns the process exit code.
pub fn main(dir: &Path) -> i32 {
    match run(dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hoist-shim {}: {e}", dir.display());
            1
        }
    }
}

fn run(dir: &Path) -> io::Result<()> {
    let bundle = Bundle::load(dir)?;
    // Our own session: no terminal signal from the daemon's reaches us.
    let _ = nix::unistd::setsid();
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
    // SAFETY: the daemon put the listening socket on LISTEN_FD for us and
    // nothing else in this process owns that descriptor.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(LISTEN_FD) };
    fcntl(&listener, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    listener.set_nonblocking(true)?;
    let prepared = prepare(&bundle, dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    // Boxed: on the stack, the whole future (tens of KB) would be probed
    // page by page, and each shim would keep those pages for its life.
    local.block_on(
        &runtime,
        Box::pin(serve(bundle, dir.to_path_buf(), listener, prepared)),
    )
}

/// The init process, cloned and waiting, with the shim's ends of its stdio.
struct Prepared {
    pid: i32,
    sync: OwnedFd,
    /// The shim's ends of the stdio pipes; `None` with a terminal.
    pipes: Option<PipeEnds>,
}

/// The shim's ends of a process's stdio pipes.
struct PipeEnds {
    /// Write end of stdin (only with `-i`).
    stdin: Option<OwnedFd>,
    /// Read end of stdout.
    stdout: OwnedFd,
    /// Read end of stderr.
    stderr: OwnedFd,
}

/// Pipes for a process without a terminal: the shim's ends and the child's.
fn stdio_pipes(open_stdin: bool) -> io::Result<(PipeEnds, ChildStdio)> {
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC)?;
    let (stdin_w, stdin_r) = if open_stdin {
        let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
        (Some(w), r)
    } else {
        (None, dev_null()?)
    };
    Ok((
        PipeEnds {
            stdin: stdin_w,
            stdout: out_r,
            stderr: err_r,
        },
        ChildStdio {
            stdin: stdin_r,
            stdout: out_w,
            stderr: err_w,
        },
    ))
}

/// Clones the init, then creates its cgroup while the init builds its root
/// filesystem (it joins the cgroup only when told to start).
fn prepare(bundle: &Bundle, dir: &Path) -> Result<Prepared, StartError> {
    let process = bundle
        .process()
        .ok_or_else(|| StartError::runtime("the bundle has no process"))?;
    let terminal = process.terminal().unwrap_or(false);
    let (pipes, child) = if terminal {
        (None, None)
    } else {
        let (ends, child) = stdio_pipes(bundle.open_stdin)
            .map_err(|e| StartError::runtime(format!("create stdio pipes: {e}")))?;
        (Some(ends), Some(child))
    };
    let (sync, sync_child) =
        sync_pair().map_err(|e| StartError::runtime(format!("socketpair: {e}")))?;
    let target = dir.join(ROOTFS_DIR);
    std::fs::create_dir_all(&target)
        .map_err(|e| StartError::runtime(format!("create {}: {e}", target.display())))?;
    let pid = spawn_init(bundle, &target, sync_child, child)?;
    if let Err(e) = bundle.cgroup.create(&bundle.resources, bundle.devices()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        return Err(StartError::runtime(format!(
            "create the container's cgroup: {e}"
        )));
    }
    Ok(Prepared { pid, sync, pipes })
}

/// Where the container's startup stands.
#[derive(Debug, Clone)]
enum StartState {
    /// Setting up (mounts, …).
    Preparing,
    /// Set up, waiting for the start request.
    Ready,
    /// Exec'd.
    Started,
    /// Gave up.
    Failed(StartError),
}

/// Where stdin goes: a pipe or the pty master.
enum StdinTarget {
    Pipe(pipe::Sender),
    Pty(Rc<AsyncFd<OwnedFd>>),
}

/// A client receiving output: which streams, and its queue.
struct Subscriber {
    stdout: bool,
    stderr: bool,
    queue: mpsc::UnboundedSender<(FrameKind, Vec<u8>)>,
}

struct Shim {
    bundle: Bundle,
    dir: PathBuf,
    init_pid: i32,
    start: watch::Sender<StartState>,
    start_requested: Notify,
    stdin: tokio::sync::Mutex<Option<StdinTarget>>,
    pty: RefCell<Option<Rc<AsyncFd<OwnedFd>>>>,
    subscribers: RefCell<Vec<Subscriber>>,
    log: RefCell<Option<LogWriter>>,
    /// Open output streams of the init (pipes or pty).
    open_outputs: Cell<usize>,
    outputs_closed: Notify,
    init_status: watch::Sender<Option<WaitStatus>>,
    exit: watch::Sender<Option<ExitInfo>>,
    /// Exec'd processes waiting for their exit status.
    exec_waiters: RefCell<HashMap<i32, oneshot::Sender<WaitStatus>>>,
    /// Statuses reaped before anyone waited for them.
    early_exits: RefCell<HashMap<i32, WaitStatus>>,
    /// Intermediate processes of exec: reaped and forgotten.
    intermediates: RefCell<HashSet<i32>>,
    connections: Cell<usize>,
}

async fn serve(
    bundle: Bundle,
    dir: PathBuf,
    listener: std::os::unix::net::UnixListener,
    prepared: Result<Prepared, StartError>,
) -> io::Result<()> {
    let listener = UnixListener::from_std(listener)?;
    let log = match &bundle.log {
        Some(options) => Some(LogWriter::open(options.clone())?),
        None => None,
    };
    let (start, _) = watch::channel(StartState::Preparing);
    let (init_status, _) = watch::channel(None);
    let (exit, _) = watch::channel(None);
    let init_pid = prepared.as_ref().map_or(0, |p| p.pid);
    let shim = Rc::new(Shim {
        bundle,
        dir,
        init_pid,
        start,
        start_requested: Notify::new(),
        stdin: tokio::sync::Mutex::new(None),
        pty: RefCell::new(None),
        subscribers: RefCell::new(Vec::new()),
        log: RefCell::new(log),
        open_outputs: Cell::new(0),
        outputs_closed: Notify::new(),
        init_status,
        exit,
        exec_waiters: RefCell::new(HashMap::new()),
        early_exits: RefCell::new(HashMap::new()),
        intermediates: RefCell::new(HashSet::new()),
        connections: Cell::new(0),
    });
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    match prepared {
        Ok(p) => {
            if let Some(pipes) = p.pipes {
                if let Some(fd) = pipes.stdin {
                    *shim.stdin.lock().await =
                        Some(StdinTarget::Pipe(pipe::Sender::from_owned_fd(fd)?));
                }
                for (fd, stream) in [
                    (pipes.stdout, Stream::Stdout),
                    (pipes.stderr, Stream::Stderr),
                ] {
                    let receiver = pipe::Receiver::from_owned_fd(fd)?;
                    shim.open_outputs.set(shim.open_outputs.get() + 1);
                    spawn_local(pump_pipe(shim.clone(), receiver, stream));
                }
            }
            spawn_local(startup(shim.clone(), p.sync));
        }
        Err(e) => {
            shim.start.send_replace(StartState::Failed(e));
        }
    }
    let mut lifecycle = spawn_local(lifecycle(shim.clone()));
    // Once set up, a shim that lives on gives back the stack its setup
    // used (a short-lived one ends before it matters).
    spawn_local(async {
        tokio::time::sleep(RELEASE_STACK_AFTER).await;
        if let Err(e) = super::stack::release_unused() {
            eprintln!("hoist-shim: cannot release unused stack: {e}");
        }
    });
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    shim.connections.set(shim.connections.get() + 1);
                    let shim = shim.clone();
                    spawn_local(async move {
                        if let Err(e) = handle_connection(&shim, stream).await
                            && e.kind() != io::ErrorKind::BrokenPipe && e.kind() != io::ErrorKind::ConnectionReset {
                                eprintln!("hoist-shim {}: connection: {e}", shim.bundle.id);
                            }
                        shim.connections.set(shim.connections.get() - 1);
                    });
                }
            }
            _ = sigchld.recv() => reap(&shim),
            done = &mut lifecycle => return done.map_err(io::Error::other)?,
        }
    }
}

/// Reaps every exited child: the init's status is published, exec'd
/// processes' go to their waiters.
fn reap(shim: &Shim) {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                let Some(pid) = status.pid().map(Pid::as_raw) else {
                    continue;
                };
                if pid == shim.init_pid {
                    shim.init_status.send_replace(Some(status));
                } else if shim.intermediates.borrow_mut().remove(&pid) {
                } else if let Some(waiter) = shim.exec_waiters.borrow_mut().remove(&pid) {
                    let _ = waiter.send(status);
                } else {
                    shim.early_exits.borrow_mut().insert(pid, status);
                }
            }
        }
    }
}

/// Docker's exit code for a wait status: the code, or 128 + signal.
fn exit_code(status: &WaitStatus) -> (i32, Option<i32>) {
    match status {
        WaitStatus::Exited(_, code) => (*code, None),
        WaitStatus::Signaled(_, signal, _) => (128 + *signal as i32, Some(*signal as i32)),
        _ => (255, None),
    }
}

/// Drives the init from prepared to started over its sync socket.
async fn startup(shim: Rc<Shim>, sync: OwnedFd) {
    let sync = match async_socket(sync) {
        Ok(s) => s,
        Err(e) => {
            shim.start
                .send_replace(StartState::Failed(StartError::runtime(format!(
                    "watch the init: {e}"
                ))));
            return;
        }
    };
    let state = match receive(&sync).await {
        Ok(Some((ChildMessage::Ready, fd))) => {
            if let Some(master) = fd {
                if let Err(e) = attach_pty(&shim, master).await {
                    StartState::Failed(StartError::runtime(format!("use the terminal: {e}")))
                } else {
                    StartState::Ready
                }
            } else {
                StartState::Ready
            }
        }
        Ok(Some((ChildMessage::Failed(e), _))) => StartState::Failed(e),
        Ok(Some((ChildMessage::Pid(_), _))) => {
            StartState::Failed(StartError::runtime("unexpected message from the init"))
        }
        Ok(None) => StartState::Failed(StartError::runtime(
            "the container's init died while setting up",
        )),
        Err(e) => StartState::Failed(StartError::runtime(format!("talk to the init: {e}"))),
    };
    let ready = matches!(state, StartState::Ready);
    shim.start.send_replace(state);
    if !ready {
        return;
    }
    if tokio::time::timeout(START_DEADLINE, shim.start_requested.notified())
        .await
        .is_err()
    {
        let _ = kill(Pid::from_raw(shim.init_pid), Signal::SIGKILL);
        shim.start
            .send_replace(StartState::Failed(StartError::runtime(
                "the container was not started in time",
            )));
        return;
    }
    if let Err(e) = nix::unistd::write(sync.get_ref(), b"s") {
        shim.start
            .send_replace(StartState::Failed(StartError::runtime(format!(
                "start the init: {e}"
            ))));
        return;
    }
    let state = match receive(&sync).await {
        Ok(None) => StartState::Started,
        Ok(Some((ChildMessage::Failed(e), _))) => StartState::Failed(e),
        Ok(Some(_)) => StartState::Failed(StartError::runtime("unexpected message from the init")),
        Err(e) => StartState::Failed(StartError::runtime(format!("talk to the init: {e}"))),
    };
    shim.start.send_replace(state);
}

fn async_socket(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open
    // and names the same file description for the AsyncFd's whole life.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

/// Receives one message from a child's sync socket.
async fn receive(sync: &AsyncFd<OwnedFd>) -> io::Result<Option<(ChildMessage, Option<OwnedFd>)>> {
    loop {
        let mut guard = sync.readable().await?;
        match guard.try_io(|inner| recv_message(inner.get_ref().as_raw_fd())) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// Takes over a pty master: output to the log and subscribers, stdin to it.
async fn attach_pty(shim: &Rc<Shim>, master: OwnedFd) -> io::Result<()> {
    let master = Rc::new(async_socket(master)?);
    *shim.pty.borrow_mut() = Some(master.clone());
    *shim.stdin.lock().await = Some(StdinTarget::Pty(master.clone()));
    shim.open_outputs.set(shim.open_outputs.get() + 1);
    spawn_local(pump_pty(shim.clone(), master));
    Ok(())
}

/// Size of the buffer a pipe is read into; left unfilled (so its memory is
/// not touched) until output arrives.
const PIPE_CHUNK: usize = 32 * 1024;

async fn pump_pipe(shim: Rc<Shim>, mut receiver: pipe::Receiver, stream: Stream) {
    let mut buf = Vec::with_capacity(PIPE_CHUNK);
    loop {
        buf.clear();
        match receiver.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => shim.output(stream, &buf),
        }
    }
    shim.output_closed();
}

async fn pump_pty(shim: Rc<Shim>, master: Rc<AsyncFd<OwnedFd>>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match read_async_fd(&master, &mut buf).await {
            // EIO: every slave descriptor closed (the processes ended).
            Ok(0) | Err(_) => break,
            Ok(n) => shim.output(Stream::Stdout, &buf[..n]),
        }
    }
    shim.output_closed();
}

async fn read_async_fd(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|inner| nix::unistd::read(inner.get_ref(), buf).map_err(io::Error::from))
        {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

async fn write_async_fd(fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let mut guard = fd.writable().await?;
        match guard
            .try_io(|inner| nix::unistd::write(inner.get_ref(), data).map_err(io::Error::from))
        {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

impl Shim {
    /// Output of the init: to the log and to every subscriber that wants it.
    fn output(&self, stream: Stream, data: &[u8]) {
        if let Some(log) = self.log.borrow_mut().as_mut()
            && let Err(e) = log.write(stream, data, &now())
        {
            eprintln!("hoist-shim {}: write log: {e}", self.bundle.id);
        }
        let kind = match stream {
            Stream::Stdout => FrameKind::Stdout,
            Stream::Stderr => FrameKind::Stderr,
        };
        self.subscribers.borrow_mut().retain(|s| {
            let wanted = match stream {
                Stream::Stdout => s.stdout,
                Stream::Stderr => s.stderr,
            };
            !wanted || s.queue.send((kind, data.to_vec())).is_ok()
        });
    }

    fn output_closed(&self) {
        self.open_outputs
            .set(self.open_outputs.get().saturating_sub(1));
        if self.open_outputs.get() == 0 {
            self.outputs_closed.notify_waiters();
        }
    }

    async fn write_stdin(&self, data: &[u8]) -> io::Result<()> {
        let mut guard = self.stdin.lock().await;
        match guard.as_mut() {
            Some(StdinTarget::Pipe(sender)) => sender.write_all(data).await,
            Some(StdinTarget::Pty(master)) => write_async_fd(master, data).await,
            None => Ok(()),
        }
    }

    async fn close_stdin(&self) {
        let mut guard = self.stdin.lock().await;
        match guard.as_ref() {
            Some(StdinTarget::Pipe(_)) => *guard = None,
            // A terminal has no end of file; ^D is the user's business.
            Some(StdinTarget::Pty(_)) | None => {}
        }
    }

    fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        match self.pty.borrow().as_ref() {
            Some(master) => {
                set_size(master.get_ref().as_raw_fd(), rows, cols).map_err(io::Error::from)
            }
            None => Ok(()),
        }
    }
}

/// Waits for the init to end, then records how and shuts the shim down.
async fn lifecycle(shim: Rc<Shim>) -> io::Result<()> {
    let mut start = shim.start.subscribe();
    let mut status = shim.init_status.subscribe();
    // A failed start ends here (after the init, if any, is gone).
    let failed = loop {
        if let StartState::Failed(e) = start.borrow().clone() {
            break Some(e);
        }
        if status.borrow().is_some() {
            break None;
        }
        tokio::select! {
            _ = start.changed() => {}
            _ = status.changed() => {}
        }
    };
    let info = match failed {
        Some(error) => {
            if shim.init_pid > 0 {
                let _ = kill(Pid::from_raw(shim.init_pid), Signal::SIGKILL);
                let _ = status.wait_for(Option::is_some).await;
            }
            ExitInfo {
                code: error.code,
                signal: None,
                oom_killed: false,
                finished_at: now(),
                error: Some(error.message),
            }
        }
        None => {
            // The init exited; the start state settles at once (its socket
            // closed), and a failure reported during exec wins.
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                start.wait_for(|s| !matches!(s, StartState::Preparing | StartState::Ready)),
            )
            .await;
            let exited = status
                .borrow()
                .as_ref()
                .map(exit_code)
                .unwrap_or((255, None));
            let start_error = match start.borrow().clone() {
                StartState::Failed(e) => Some(e),
                _ => None,
            };
            if shim.open_outputs.get() > 0 {
                let closed = shim.outputs_closed.notified();
                if shim.open_outputs.get() > 0 {
                    let _ = tokio::time::timeout(DRAIN_DEADLINE, closed).await;
                }
            }
            match start_error {
                Some(e) => ExitInfo {
                    code: e.code,
                    signal: None,
                    oom_killed: false,
                    finished_at: now(),
                    error: Some(e.message),
                },
                None => ExitInfo {
                    code: exited.0,
                    signal: exited.1,
                    oom_killed: shim.bundle.cgroup.oom_kills() > 0,
                    finished_at: now(),
                    error: None,
                },
            }
        }
    };
    if let Some(log) = shim.log.borrow_mut().as_mut() {
        let _ = log.flush_partial(&now());
    }
    if let Err(e) = crate::fsutil::replace_json_atomic(&shim.dir.join(EXIT_FILE), &info) {
        eprintln!("hoist-shim {}: write {EXIT_FILE}: {e}", shim.bundle.id);
    }
    // Clients hear of the exit first; the cgroup (whose processes are all
    // gone) is removed while they act on it.
    shim.exit.send_replace(Some(info));
    tokio::task::yield_now().await;
    if let Err(e) = shim.bundle.cgroup.destroy() {
        eprintln!("hoist-shim {}: remove cgroup: {e}", shim.bundle.id);
    }
    // Let connected clients read the exit before the socket goes away.
    for _ in 0..100 {
        if shim.connections.get() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn handle_connection(shim: &Rc<Shim>, stream: UnixStream) -> io::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    let Some((FrameKind::Json, payload)) = read_frame(&mut reader).await? else {
        return Ok(());
    };
    let hello: Hello = decode(&payload)?;
    match hello {
        Hello::Watch => {
            let exit = shim.exit.borrow().clone();
            let started = matches!(*shim.start.borrow(), StartState::Started);
            write_json(
                &mut writer,
                &Event::State {
                    pid: shim.init_pid,
                    started,
                    exit,
                },
            )
            .await?;
            report_exit(shim, &mut writer).await?;
        }
        Hello::Start { request } => {
            if request {
                shim.start_requested.notify_one();
            }
            let mut start = shim.start.subscribe();
            let state = start
                .wait_for(|s| matches!(s, StartState::Started | StartState::Failed(_)))
                .await
                .map(|s| s.clone())
                .unwrap_or(StartState::Failed(StartError::runtime(
                    "the shim is shutting down",
                )));
            if let StartState::Failed(e) = state {
                return write_json(&mut writer, &Event::StartFailed(e)).await;
            }
            write_json(&mut writer, &Event::Started { pid: shim.init_pid }).await?;
            report_exit(shim, &mut writer).await?;
        }
        Hello::Kill { signal, all } => {
            let event = match signal_container(shim, signal, all) {
                Ok(()) => Event::Done,
                Err(e) => Event::Error(e.to_string()),
            };
            write_json(&mut writer, &event).await?;
        }
        Hello::Resize { rows, cols } => {
            let event = match shim.resize(rows, cols) {
                Ok(()) => Event::Done,
                Err(e) => Event::Error(e.to_string()),
            };
            write_json(&mut writer, &event).await?;
        }
        Hello::Attach {
            stdin,
            stdout,
            stderr,
            start,
        } => attach(shim, reader, writer, [stdin, stdout, stderr], start).await?,
        Hello::Exec(process) => exec(shim, reader, writer, *process).await?,
    }
    Ok(())
}

/// Sends [`Event::Exited`] once the container ends.
async fn report_exit(shim: &Shim, writer: &mut tokio::net::unix::OwnedWriteHalf) -> io::Result<()> {
    let mut exit = shim.exit.subscribe();
    if let Ok(info) = exit.wait_for(Option::is_some).await {
        let info = info.clone().unwrap_or_default();
        write_json(writer, &Event::Exited(info)).await?;
    }
    Ok(())
}

fn signal_container(shim: &Shim, signal: i32, all: bool) -> io::Result<()> {
    if shim.exit.borrow().is_some() || shim.init_pid <= 0 {
        return Err(io::Error::other("the container is not running"));
    }
    let signal = Signal::try_from(signal).map_err(io::Error::from)?;
    if all {
        for pid in shim.bundle.cgroup.processes()? {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        Ok(())
    } else {
        kill(Pid::from_raw(shim.init_pid), signal).map_err(io::Error::from)
    }
}

async fn attach(
    shim: &Rc<Shim>,
    mut reader: tokio::net::unix::OwnedReadHalf,
    mut writer: tokio::net::unix::OwnedWriteHalf,
    [stdin, stdout, stderr]: [bool; 3],
    start: bool,
) -> io::Result<()> {
    let (queue, mut output) = mpsc::unbounded_channel();
    shim.subscribers.borrow_mut().push(Subscriber {
        stdout,
        stderr,
        queue,
    });
    let mut exit = shim.exit.subscribe();
    if start {
        shim.start_requested.notify_one();
    }
    write_json(&mut writer, &Event::Attached).await?;
    let input_shim = shim.clone();
    let input = spawn_local(async move {
        while let Ok(Some((kind, payload))) = read_frame(&mut reader).await {
            match kind {
                FrameKind::Stdin if stdin => {
                    let _ = input_shim.write_stdin(&payload).await;
                }
                FrameKind::Json => match decode::<Input>(&payload) {
                    Ok(Input::CloseStdin) if stdin => input_shim.close_stdin().await,
                    Ok(Input::Resize { rows, cols }) => {
                        let _ = input_shim.resize(rows, cols);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        // The client went away: with stdin_once its stdin ends with it.
        if stdin && input_shim.bundle.stdin_once {
            input_shim.close_stdin().await;
        }
    });
    let result = async {
        loop {
            tokio::select! {
                chunk = output.recv() => match chunk {
                    Some((kind, data)) => write_frame(&mut writer, kind, &data).await?,
                    None => break,
                },
                changed = exit.wait_for(Option::is_some) => {
                    let info = changed.map(|i| i.clone().unwrap_or_default()).unwrap_or_default();
                    while let Ok((kind, data)) = output.try_recv() {
                        write_frame(&mut writer, kind, &data).await?;
                    }
                    write_json(&mut writer, &Event::Exited(info)).await?;
                    break;
                }
            }
        }
        io::Result::Ok(())
    }
    .await;
    input.abort();
    result
}

async fn exec(
    shim: &Rc<Shim>,
    mut reader: tokio::net::unix::OwnedReadHalf,
    mut writer: tokio::net::unix::OwnedWriteHalf,
    process: ExecProcess,
) -> io::Result<()> {
    if !matches!(*shim.start.borrow(), StartState::Started) || shim.exit.borrow().is_some() {
        return write_json(
            &mut writer,
            &Event::StartFailed(StartError::runtime("the container is not running")),
        )
        .await;
    }
    let terminal = process.process.terminal().unwrap_or(false);
    let (ours, theirs) = if terminal {
        (None, None)
    } else {
        let (ends, child) = stdio_pipes(process.open_stdin)?;
        (Some(ends), Some(child))
    };
    let (sync, sync_child) = sync_pair()?;
    let spawned = spawn_exec(
        shim.init_pid,
        &shim.bundle.cgroup,
        &process,
        sync_child,
        theirs,
    );
    let intermediate = match spawned {
        Ok(pid) => pid,
        Err(e) => return write_json(&mut writer, &Event::StartFailed(e)).await,
    };
    if shim
        .early_exits
        .borrow_mut()
        .remove(&intermediate)
        .is_none()
    {
        shim.intermediates.borrow_mut().insert(intermediate);
    }
    let sync = async_socket(sync)?;
    let mut pid = None;
    let mut master = None;
    let mut failure = None;
    loop {
        match receive(&sync).await {
            Ok(Some((ChildMessage::Pid(p), _))) => pid = Some(p),
            Ok(Some((ChildMessage::Ready, fd))) => master = fd,
            Ok(Some((ChildMessage::Failed(e), _))) => failure = Some(e),
            Ok(None) => break,
            Err(e) => {
                failure = Some(StartError::runtime(format!(
                    "talk to the exec process: {e}"
                )));
                break;
            }
        }
    }
    let (Some(pid), None) = (pid, failure.clone()) else {
        let error = failure
            .unwrap_or_else(|| StartError::runtime("the exec process died before it started"));
        return write_json(&mut writer, &Event::StartFailed(error)).await;
    };
    let (status_tx, status_rx) = oneshot::channel();
    match shim.early_exits.borrow_mut().remove(&pid) {
        Some(status) => {
            let _ = status_tx.send(status);
        }
        None => {
            shim.exec_waiters.borrow_mut().insert(pid, status_tx);
        }
    }
    write_json(&mut writer, &Event::Started { pid }).await?;
    let master = match master {
        Some(fd) => Some(Rc::new(async_socket(fd)?)),
        None => None,
    };
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<(FrameKind, Vec<u8>)>();
    let mut pumps = Vec::new();
    let mut stdin_target = None;
    match &master {
        Some(master) => {
            let (master, tx) = (master.clone(), out_tx.clone());
            pumps.push(spawn_local(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = read_async_fd(&master, &mut buf).await {
                    if n == 0 || tx.send((FrameKind::Stdout, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }));
        }
        None => {
            let Some(ours) = ours else {
                return Err(io::Error::other("a process without a terminal has pipes"));
            };
            for (fd, kind) in [
                (ours.stdout, FrameKind::Stdout),
                (ours.stderr, FrameKind::Stderr),
            ] {
                let mut receiver = pipe::Receiver::from_owned_fd(fd)?;
                let tx = out_tx.clone();
                pumps.push(spawn_local(async move {
                    let mut buf = Vec::with_capacity(PIPE_CHUNK);
                    // A gone client stops forwarding, not reading: the
                    // process must never block on a full pipe.
                    while let Ok(1..) = receiver.read_buf(&mut buf).await {
                        let _ = tx.send((kind, buf.clone()));
                        buf.clear();
                    }
                }));
            }
            if let Some(fd) = ours.stdin {
                stdin_target = Some(pipe::Sender::from_owned_fd(fd)?);
            }
        }
    }
    drop(out_tx);
    let input_master = master.clone();
    let input = spawn_local(async move {
        while let Ok(Some((kind, payload))) = read_frame(&mut reader).await {
            match kind {
                FrameKind::Stdin => {
                    if let Some(master) = &input_master {
                        let _ = write_async_fd(master, &payload).await;
                    } else if let Some(sender) = stdin_target.as_mut() {
                        let _ = sender.write_all(&payload).await;
                    }
                }
                FrameKind::Json => match decode::<Input>(&payload) {
                    Ok(Input::CloseStdin) => stdin_target = None,
                    Ok(Input::Resize { rows, cols }) => {
                        if let Some(master) = &input_master {
                            let _ = set_size(master.get_ref().as_raw_fd(), rows, cols);
                        }
                    }
                    Ok(Input::Kill { signal }) => {
                        if let Ok(signal) = Signal::try_from(signal) {
                            let _ = kill(Pid::from_raw(pid), signal);
                        }
                    }
                    Err(_) => {}
                },
                _ => {}
            }
        }
    });
    let mut status_rx = status_rx;
    let mut status = None;
    let mut output_open = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            chunk = out_rx.recv(), if output_open => match chunk {
                Some((kind, data)) => {
                    if write_frame(&mut writer, kind, &data).await.is_err() {
                        // Keep draining into nothing until the process ends.
                    }
                }
                None => output_open = false,
            },
            s = &mut status_rx, if status.is_none() => {
                status = Some(s.unwrap_or(WaitStatus::StillAlive));
                deadline = Some(tokio::time::Instant::now() + DRAIN_DEADLINE);
            }
            _ = sleep => output_open = false,
        }
        if status.is_some() && !output_open {
            break;
        }
    }
    input.abort();
    for pump in pumps {
        pump.abort();
    }
    let (code, signal) = status.as_ref().map(exit_code).unwrap_or((255, None));
    let info = ExitInfo {
        code,
        signal,
        oom_killed: false,
        finished_at: now(),
        error: None,
    };
    write_json(&mut writer, &Event::Exited(info)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_docker() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(&WaitStatus::Exited(pid, 3)), (3, None));
        assert_eq!(
            exit_code(&WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            (137, Some(9))
        );
        assert_eq!(
            exit_code(&WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            (143, Some(15))
        );
    }
}
