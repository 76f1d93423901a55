//! The shim launcher: a small, single-threaded `hoist-shim --launcher`
//! process the daemon keeps running, which forks each container's shim on
//! request. A fork of this small process costs a fraction of starting the
//! shim executable afresh (exec, dynamic loading, page faults), and that
//! cost sits on every container start.
//!
//! The daemon sends `(runtime dir)` with the shim's listening socket and
//! stderr attached; the launcher forks, and the child becomes the shim of
//! that directory exactly as `hoist-shim <dir>` would. The launcher answers
//! with the child's PID and a pidfd, which the daemon watches to learn that
//! the shim ended; the launcher reaps it. Shims do not depend on the
//! launcher: they run on when it or the daemon goes (live restore). The
//! launcher ends when the daemon closes its end of the control socket.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::{ShimProcess, server};
use crate::container::tty::{recv_with_fds, send_with_fds};

/// The flag that makes `hoist-shim` a launcher.
pub const LAUNCHER_FLAG: &str = "--launcher";
/// Where the launcher reads requests (a seqpacket socket).
const CONTROL_FD: RawFd = 3;
/// Room kept in the launcher's command line so that each forked shim can
/// rewrite it to `hoist-shim <runtime dir>` (what `ps` and tests look for):
/// a container ID is 64 hex digits.
const TITLE_ROOM: usize = 80;

/// Entry point of `hoist-shim --launcher <containers-dir> <room>`; returns
/// the process exit code (in the launcher when the daemon goes, in each
/// forked shim when its container is done).
pub fn main() -> i32 {
    let _ = nix::unistd::setsid();
    // SAFETY: the daemon put the control socket on CONTROL_FD for us and
    // nothing else in this process owns that descriptor.
    let control = unsafe { OwnedFd::from_raw_fd(CONTROL_FD) };
    match serve(control) {
        Ok(Served::Launcher) => 0,
        Ok(Served::Shim(dir)) => server::main(&dir),
        Err(e) => {
            eprintln!("hoist-shim launcher: {e}");
            1
        }
    }
}

/// How [`serve`] returned: in the launcher, or in a forked shim.
enum Served {
    Launcher,
    Shim(PathBuf),
}

fn serve(control: OwnedFd) -> io::Result<Served> {
    let mut children = SigSet::empty();
    children.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&children), None)?;
    let exits = SignalFd::with_flags(&children, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    loop {
        let mut fds = [
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
            PollFd::new(exits.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            other => other?,
        };
        if fds[1].any().unwrap_or(false) {
            while exits.read_signal()?.is_some() {}
            reap();
        }
        if !fds[0].any().unwrap_or(false) {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        let (n, received) = match recv_with_fds(control.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            other => other?,
        };
        if n == 0 {
            return Ok(Served::Launcher);
        }
        let dir = PathBuf::from(OsStr::from_bytes(&buf[..n]));
        let [listener, stderr] = <[OwnedFd; 2]>::try_from(received).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a launch request needs two descriptors",
            )
        })?;
        // SAFETY: this process is single-threaded (no runtime, no helper
        // threads), so the child may go on running Rust code after fork.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(control);
                drop(exits);
                sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&children), None)?;
                become_shim(&dir, listener, stderr)?;
                return Ok(Served::Shim(dir));
            }
            Ok(ForkResult::Parent { child }) => {
                drop((listener, stderr));
                let reply = pidfd_open(child)
                    .map(|pidfd| (child.as_raw().to_string(), Some(pidfd)))
                    .unwrap_or_else(|e| (format!("error: {e}"), None));
                let fds: Vec<RawFd> = reply.1.iter().map(|fd| fd.as_raw_fd()).collect();
                send_with_fds(control.as_raw_fd(), reply.0.as_bytes(), &fds)?;
            }
            Err(e) => {
                send_with_fds(
                    control.as_raw_fd(),
                    format!("error: fork: {e}").as_bytes(),
                    &[],
                )?;
            }
        }
    }
}

/// Reaps every ended child.
fn reap() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// In the forked child: the descriptors and title `hoist-shim <dir>` has.
fn become_shim(dir: &Path, listener: OwnedFd, stderr: OwnedFd) -> io::Result<()> {
    for (fd, target) in [(&stderr, 2), (&listener, server::LISTEN_FD)] {
        // SAFETY: dup2 only redefines descriptor `target`, which nothing in
        // this process owns now (stderr is replaced on purpose; the
        // launcher's control socket that held 3 was closed).
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    drop((listener, stderr));
    let mut title = b"hoist-shim\0".to_vec();
    title.extend_from_slice(dir.as_os_str().as_bytes());
    set_title(&title);
    Ok(())
}

/// Rewrites this process's command line in place (`/proc/<pid>/cmdline`
/// reads it from our memory), padding with NULs; leaves it alone when the
/// title does not fit.
fn set_title(title: &[u8]) {
    let Some((start, end)) = arg_area() else {
        return;
    };
    let len = end.saturating_sub(start);
    if title.len() >= len {
        return;
    }
    // SAFETY: [start, end) is this process's argument area, mapped
    // read-write in its own stack by the kernel at exec; nothing reads it
    // after startup (the arguments were parsed before the fork).
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, len);
        area[..title.len()].copy_from_slice(title);
        area[title.len()..].fill(0);
    }
}

/// The bounds of the argument area, from /proc/self/stat (fields 48, 49).
fn arg_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    Some((start, end))
}

/// A pidfd for `pid`.
pub(super) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor
    // or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The daemon's handle on its launcher: started on first use, restarted
/// after a failure; when it cannot be used, shims are started directly.
#[derive(Debug)]
pub struct Launcher {
    exe: PathBuf,
    containers_dir: PathBuf,
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    control: OwnedFd,
    process: ShimProcess,
}

impl Launcher {
    /// A launcher of `exe` for runtime directories under `containers_dir`.
    pub fn new(exe: &Path, containers_dir: &Path) -> Self {
        Self {
            exe: exe.to_path_buf(),
            containers_dir: containers_dir.to_path_buf(),
            running: Mutex::new(None),
        }
    }

    /// Starts the shim for the bundle in `dir` (see [`super::spawn`]).
    pub fn spawn(&self, dir: &Path) -> io::Result<ShimProcess> {
        let (listener, stderr) = super::shim_fds(dir)?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_none() {
            *running = self.start().ok();
        }
        if let Some(launcher) = running.as_ref() {
            match launch(&launcher.control, dir, &listener, &stderr) {
                Ok(process) => return Ok(process),
                Err(e) => {
                    tracing::warn!(error = %e, "the shim launcher failed; starting shims directly");
                    if let Some(launcher) = running.take() {
                        launcher.process.kill();
                    }
                }
            }
        }
        drop(running);
        super::spawn_with(&self.exe, dir, listener, stderr)
    }

    fn start(&self) -> io::Result<Running> {
        let (control, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let room = " ".repeat(TITLE_ROOM);
        let args = [
            OsStr::new(LAUNCHER_FLAG),
            self.containers_dir.as_os_str(),
            OsStr::new(&room),
        ];
        let stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
        let process = super::posix_spawn_shim(&self.exe, &args, &theirs, &stderr)?;
        Ok(Running { control, process })
    }
}

/// One request and its reply.
fn launch(
    control: &OwnedFd,
    dir: &Path,
    listener: &OwnedFd,
    stderr: &OwnedFd,
) -> io::Result<ShimProcess> {
    send_with_fds(
        control.as_raw_fd(),
        dir.as_os_str().as_bytes(),
        &[listener.as_raw_fd(), stderr.as_raw_fd()],
    )?;
    let mut buf = [0u8; 256];
    let (n, mut fds) = recv_with_fds(control.as_raw_fd(), &mut buf)?;
    let reply = String::from_utf8_lossy(&buf[..n]);
    match (reply.parse::<i32>(), fds.pop()) {
        (Ok(pid), Some(pidfd)) => Ok(ShimProcess::not_ours(Pid::from_raw(pid), pidfd)),
        _ if n == 0 => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the shim launcher is gone",
        )),
        _ => Err(io::Error::other(format!(
            "the shim launcher answered {reply:?}"
        ))),
    }
}
