//! What the container's init and exec'd processes share: talking to the
//! shim over their sync socket, wiring stdio, and the last steps from root
//! to the user's program (limits, user, capabilities, no_new_privs,
//! seccomp, exec).

use std::convert::Infallible;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, setsid};
use oci_spec::runtime::Process;
use serde::{Deserialize, Serialize};

use super::process::{StartError, exec, set_rlimits, switch_user};
use super::security::{
    SeccompMode, default_filter, install_filters, limit_bounding_set, set_capabilities,
    set_no_new_privileges,
};
use super::tty::{open_controlling_pty, recv_with_fd, send_with_fd};

/// What a child tells the shim over its sync socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ChildMessage {
    /// (exec only) the PID of the process that will run the command.
    Pid(i32),
    /// Set up and waiting (init) or about to exec (exec); a pty master is
    /// attached when the process has a terminal.
    Ready,
    /// Could not start: the process exits with this code.
    Failed(StartError),
}

/// The descriptors a child's stdio is made of (its ends of the pipes).
#[derive(Debug)]
pub struct ChildStdio {
    /// Read end of the stdin pipe, or /dev/null.
    pub stdin: OwnedFd,
    /// Write end of the stdout pipe.
    pub stdout: OwnedFd,
    /// Write end of the stderr pipe.
    pub stderr: OwnedFd,
}

/// /dev/null, the stdin of processes started without `-i`.
pub fn dev_null() -> io::Result<OwnedFd> {
    Ok(std::fs::File::open("/dev/null")?.into())
}

/// A seqpacket socket pair (close-on-exec): the shim's end and the child's.
pub fn sync_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Largest message on a sync socket: a packet socket cuts off what does not
/// fit the receiver's buffer, so senders shorten error texts to fit.
const MESSAGE_MAX: usize = 8 * 1024;

/// Sends a message, with a descriptor when given.
pub fn send_message(socket: RawFd, message: &ChildMessage, fd: Option<RawFd>) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    if let ChildMessage::Failed(error) = message
        && bytes.len() > MESSAGE_MAX
    {
        let mut cut = MESSAGE_MAX / 2;
        while !error.message.is_char_boundary(cut) {
            cut -= 1;
        }
        let short = ChildMessage::Failed(StartError {
            code: error.code,
            message: format!("{}…", &error.message[..cut]),
        });
        bytes = serde_json::to_vec(&short).map_err(io::Error::other)?;
    }
    match fd {
        Some(fd) => send_with_fd(socket, &bytes, fd).map_err(io::Error::from),
        None => nix::unistd::write(
            // SAFETY: the caller owns `socket` for the duration of the call.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(socket) },
            &bytes,
        )
        .map(drop)
        .map_err(io::Error::from),
    }
}

/// Receives a message; `None` at end of stream (the child exec'd or died).
pub fn recv_message(socket: RawFd) -> io::Result<Option<(ChildMessage, Option<OwnedFd>)>> {
    let mut buf = [0u8; MESSAGE_MAX];
    let (n, fd) = recv_with_fd(socket, &mut buf).map_err(io::Error::from)?;
    if n == 0 {
        return Ok(None);
    }
    let message = serde_json::from_slice(&buf[..n])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((message, fd)))
}

/// Blocks until the shim sends one byte (a go-ahead); errors if it went away.
pub fn wait_for_go(socket: RawFd) -> Result<(), StartError> {
    let mut byte = [0u8; 1];
    // SAFETY: the caller owns `socket`.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(socket) };
    match nix::unistd::read(fd, &mut byte) {
        Ok(1) => Ok(()),
        Ok(_) => Err(StartError::runtime(
            "the shim went away before starting the container",
        )),
        Err(e) => Err(StartError::runtime(format!("waiting for the shim: {e}"))),
    }
}

/// Kills the calling process with `signal` when its parent (the shim)
/// dies, so a container never outlives the process holding its stdio.
pub fn die_with_parent() -> Result<(), StartError> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| StartError::runtime(format!("prctl(PR_SET_PDEATHSIG): {e}")))
}

/// Makes the process a session leader with `stdio` (or a new pty when the
/// process has a terminal) as fds 0–2, then tells the shim it is ready,
/// passing the pty master.
pub fn wire_stdio_and_report_ready(
    socket: RawFd,
    process: &Process,
    stdio: Option<ChildStdio>,
) -> Result<(), StartError> {
    let user = process.user();
    if process.terminal().unwrap_or(false) {
        let size = process
            .console_size()
            .as_ref()
            .map(|s| (s.height() as u16, s.width() as u16));
        let master = open_controlling_pty(size, user.uid(), user.gid())
            .map_err(|e| StartError::runtime(format!("allocate a terminal: {e}")))?;
        send_message(socket, &ChildMessage::Ready, Some(master.as_raw_fd()))
            .map_err(|e| StartError::runtime(format!("hand the terminal to the shim: {e}")))?;
    } else {
        let stdio = stdio
            .ok_or_else(|| StartError::runtime("no stdio for a process without a terminal"))?;
        setsid().map_err(|e| StartError::runtime(format!("setsid: {e}")))?;
        let wire = || -> nix::Result<()> {
            dup2_stdin(&stdio.stdin)?;
            dup2_stdout(&stdio.stdout)?;
            dup2_stderr(&stdio.stderr)
        };
        wire().map_err(|e| StartError::runtime(format!("set up stdio: {e}")))?;
        send_message(socket, &ChildMessage::Ready, None)
            .map_err(|e| StartError::runtime(format!("report to the shim: {e}")))?;
    }
    Ok(())
}

/// Writes the process's OOM score adjustment. Lowering it below what the
/// daemon was given needs CAP_SYS_RESOURCE: said so when it is refused.
fn set_oom_score_adj(adjustment: i32) -> Result<(), StartError> {
    std::fs::write("/proc/self/oom_score_adj", adjustment.to_string()).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (lowering it needs CAP_SYS_RESOURCE, which the daemon does not have)"
        } else {
            ""
        };
        StartError::runtime(format!("set oom_score_adj to {adjustment}: {e}{why}"))
    })
}

/// From root in the container to the user's program: rlimits, OOM score
/// adjustment, working directory, user, capabilities, no_new_privs,
/// seccomp, exec. With `init` (the sync socket of the container's init), a
/// minimal init stays PID 1 and the program runs as its child. Only
/// returns on failure.
pub fn become_process(process: &Process, seccomp: SeccompMode, init: Option<RawFd>) -> StartError {
    match try_become_process(process, seccomp, init) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_become_process(
    process: &Process,
    seccomp: SeccompMode,
    init: Option<RawFd>,
) -> Result<Infallible, StartError> {
    if let Some(limits) = process.rlimits() {
        set_rlimits(limits)?;
    }
    if let Some(adjustment) = process.oom_score_adj() {
        set_oom_score_adj(adjustment)?;
    }
    let cwd = process.cwd();
    // Docker creates a missing working directory.
    if std::fs::metadata(cwd).is_err() {
        std::fs::create_dir_all(cwd).map_err(|e| {
            StartError::runtime(format!("create working directory {}: {e}", cwd.display()))
        })?;
    }
    nix::unistd::chdir(cwd).map_err(|e| StartError {
        code: 126,
        message: format!("chdir to working directory {}: {e}", cwd.display()),
    })?;
    let capabilities: Vec<String> = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().as_ref())
        .map(|set| {
            set.iter()
                .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let filters = match seccomp {
        SeccompMode::Default => {
            default_filter(&capabilities).map_err(|e| StartError::runtime(e.to_string()))?
        }
        SeccompMode::Unconfined => Vec::new(),
    };
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, seccomp needs CAP_SYS_ADMIN, which we still
    // have now and drop below; the default filter allows what follows.
    if !no_new_privileges {
        install_filters(&filters).map_err(|e| StartError::runtime(e.to_string()))?;
    }
    limit_bounding_set(&capabilities)
        .map_err(|e| StartError::runtime(format!("limit the capability bounding set: {e}")))?;
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| StartError::runtime(format!("prctl(PR_SET_KEEPCAPS): {e}")))?;
    let user = process.user();
    switch_user(user).map_err(|e| {
        StartError::runtime(format!("switch to user {}:{}: {e}", user.uid(), user.gid()))
    })?;
    nix::sys::prctl::set_keepcaps(false)
        .map_err(|e| StartError::runtime(format!("prctl(PR_SET_KEEPCAPS): {e}")))?;
    set_capabilities(&capabilities, user.uid() == 0)
        .map_err(|e| StartError::runtime(format!("set capabilities: {e}")))?;
    // Changing credentials cleared the parent-death signal: set it again.
    die_with_parent()?;
    if no_new_privileges {
        set_no_new_privileges()
            .map_err(|e| StartError::runtime(format!("set no_new_privs: {e}")))?;
        install_filters(&filters).map_err(|e| StartError::runtime(e.to_string()))?;
    }
    if let Some(sync) = init {
        super::reaper::fork_reaper(sync)?;
    }
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    Err(exec(&args, &env))
}

/// `clone(2)` used like fork, with namespace flags: the child runs on a
/// copy of the caller's stack. Returns the child's PID in the parent and 0
/// in the child.
///
/// The caller must be single-threaded (the shim is), as with fork.
pub fn clone_process(flags: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: with a NULL stack pointer clone behaves like fork: the child
    // resumes here on a copy-on-write copy of the caller's memory. The shim
    // calls this while it has a single thread, so no lock is held by a
    // thread that would be missing in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            0usize,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as i32)
}

/// Ends a child process immediately (no destructors, no atexit handlers:
/// they belong to the shim whose memory the child copied).
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// Reports a failure to the shim and exits with its code.
pub fn fail_child(socket: RawFd, error: StartError) -> ! {
    let _ = send_message(socket, &ChildMessage::Failed(error.clone()), None);
    exit_child(error.code)
}
