//! The per-container shim: a small process that owns one container's init,
//! stdio and log, so containers outlive the daemon (live restore).

pub mod client;
pub mod protocol;
pub mod server;

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::bundle::{SHIM_LOG_FILE, SOCKET_FILE};

/// A short path naming `<dir>/shim.sock` through an open descriptor of
/// `dir` (`/proc/self/fd/N/shim.sock`): unix socket paths are limited to
/// 108 bytes, and a container's runtime directory can be longer than that.
/// Keep the returned descriptor open while using the path.
pub fn socket_path(dir: &Path) -> io::Result<(OwnedFd, PathBuf)> {
    let fd: OwnedFd = std::fs::File::open(dir)?.into();
    let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_FILE}", fd.as_raw_fd()));
    Ok((fd, path))
}

/// Starts the shim executable (`hoist-shim <dir>`) for the bundle in
/// `dir`. The socket is bound here, before the shim runs, and handed to it
/// as fd 3: a client may connect at once, with no readiness race.
///
/// `posix_spawn` (a vfork, not a fork) keeps the cost of starting a shim
/// independent of the daemon's size.
pub fn spawn(exe: &Path, dir: &Path) -> io::Result<ShimProcess> {
    crate::fsutil::remove_all(&dir.join(SOCKET_FILE))?;
    let (_dir_fd, socket) = socket_path(dir)?;
    let listener: OwnedFd = std::os::unix::net::UnixListener::bind(&socket)?.into();
    let log: OwnedFd = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(SHIM_LOG_FILE))?
        .into();
    // Above the descriptors the child gets, so no dup2 below overwrites
    // one still to be copied.
    let listener = high_fd(&listener)?;
    let log = high_fd(&log)?;
    let mut actions = PosixSpawnFileActions::init()?;
    actions.add_open(0, "/dev/null", OFlag::O_RDONLY, Mode::empty())?;
    actions.add_open(1, "/dev/null", OFlag::O_WRONLY, Mode::empty())?;
    actions.add_dup2(log.as_raw_fd(), 2)?;
    actions.add_dup2(listener.as_raw_fd(), server::LISTEN_FD)?;
    let mut attr = PosixSpawnAttr::init()?;
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    attr.set_sigdefault(&pipe)?;
    attr.set_sigmask(&SigSet::empty())?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK,
    )?;
    let exe_c = CString::new(exe.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let dir_c = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let no_env: [&CStr; 0] = [];
    let pid = posix_spawn(
        exe_c.as_c_str(),
        &actions,
        &attr,
        &[exe_c.as_c_str(), dir_c.as_c_str()],
        &no_env,
    )?;
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor
    // or -1; the PID is our unreaped child, so it cannot have been reused.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    Ok(ShimProcess { pid, pidfd })
}

/// A duplicate of `fd` numbered 10 or above (close-on-exec).
fn high_fd(fd: &OwnedFd) -> io::Result<OwnedFd> {
    let raw = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(10))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// A running shim process, the daemon's child until it ends.
#[derive(Debug)]
pub struct ShimProcess {
    pid: Pid,
    pidfd: OwnedFd,
}

impl ShimProcess {
    /// Waits for the shim to end and reaps it.
    pub async fn wait(self) -> io::Result<()> {
        // SAFETY: the OwnedFd moves into the AsyncFd, so it stays open and
        // names the same pidfd for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(self.pidfd, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let _ = fd.readable().await?;
        waitpid(self.pid, None)?;
        Ok(())
    }
}
