//! The per-container shim: a small process that owns one container's init,
//! stdio and log, so containers outlive the daemon (live restore).

pub mod client;
pub mod launcher;
pub mod protocol;
pub mod server;
pub mod stack;

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
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

use crate::bundle::SOCKET_FILE;

/// A short path naming `<dir>/shim.sock` through an open descriptor of
/// `dir` (`/proc/self/fd/N/shim.sock`): unix socket paths are limited to
/// 108 bytes, and a container's runtime directory can be longer than that.
/// Keep the returned descriptor open while using the path.
pub fn socket_path(dir: &Path) -> io::Result<(OwnedFd, PathBuf)> {
    let fd: OwnedFd = std::fs::File::open(dir)?.into();
    let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_FILE}", fd.as_raw_fd()));
    Ok((fd, path))
}

/// The listening socket (bound here, before the shim runs, so a client may
/// connect at once, with no readiness race) and the stderr a shim for `dir`
/// gets as fd 3 and fd 2. Shims share the daemon's stderr (its log): their
/// few messages name their container, and a file per container would cost
/// a file creation on every start.
fn shim_fds(dir: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    crate::fsutil::remove_all(&dir.join(SOCKET_FILE))?;
    let (_dir_fd, socket) = socket_path(dir)?;
    let listener: OwnedFd = std::os::unix::net::UnixListener::bind(&socket)?.into();
    let stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
    Ok((listener, stderr))
}

/// Starts the shim executable (`hoist-shim <dir>`) for the bundle in `dir`
/// with its socket and stderr (see [`shim_fds`]); the launcher does this
/// when it can, faster.
fn spawn_with(
    exe: &Path,
    dir: &Path,
    listener: OwnedFd,
    stderr: OwnedFd,
) -> io::Result<ShimProcess> {
    posix_spawn_shim(exe, &[dir.as_os_str()], &listener, &stderr)
}

/// Runs `exe args…` with `fd3` as descriptor 3, `stderr` as stderr, no environment and default signal handling. `posix_spawn` (a
/// vfork, not a fork) keeps the cost independent of the daemon's size.
fn posix_spawn_shim(
    exe: &Path,
    args: &[&OsStr],
    fd3: &OwnedFd,
    stderr: &OwnedFd,
) -> io::Result<ShimProcess> {
    // Above the descriptors the child gets, so no dup2 below overwrites
    // one still to be copied.
    let fd3 = high_fd(fd3)?;
    let stderr = high_fd(stderr)?;
    let mut actions = PosixSpawnFileActions::init()?;
    actions.add_open(0, "/dev/null", OFlag::O_RDONLY, Mode::empty())?;
    actions.add_open(1, "/dev/null", OFlag::O_WRONLY, Mode::empty())?;
    actions.add_dup2(stderr.as_raw_fd(), 2)?;
    actions.add_dup2(fd3.as_raw_fd(), server::LISTEN_FD)?;
    let mut attr = PosixSpawnAttr::init()?;
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    attr.set_sigdefault(&pipe)?;
    attr.set_sigmask(&SigSet::empty())?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK,
    )?;
    let c = |s: &OsStr| CString::new(s.as_bytes()).map_err(io::Error::other);
    let exe_c = c(exe.as_os_str())?;
    let mut argv = vec![exe_c.clone()];
    for arg in args {
        argv.push(c(arg)?);
    }
    let no_env: [&CStr; 0] = [];
    let pid = posix_spawn(exe_c.as_c_str(), &actions, &attr, &argv, &no_env)?;
    Ok(ShimProcess {
        pid,
        pidfd: launcher::pidfd_open(pid)?,
        ours: true,
    })
}

/// A duplicate of `fd` numbered 10 or above (close-on-exec).
fn high_fd(fd: &OwnedFd) -> io::Result<OwnedFd> {
    let raw = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(10))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// A running shim process, watched through a pidfd.
#[derive(Debug)]
pub struct ShimProcess {
    pid: Pid,
    pidfd: OwnedFd,
    /// Our child (started directly), which we must reap; the launcher
    /// reaps the shims it forks.
    ours: bool,
}

impl ShimProcess {
    /// A shim some other process (the launcher) reaps.
    fn not_ours(pid: Pid, pidfd: OwnedFd) -> Self {
        Self {
            pid,
            pidfd,
            ours: false,
        }
    }

    /// Waits for the shim to end (and reaps it if it is our child).
    pub async fn wait(self) -> io::Result<()> {
        // SAFETY: the OwnedFd moves into the AsyncFd, so it stays open and
        // names the same pidfd for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(self.pidfd, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let _ = fd.readable().await?;
        if self.ours {
            waitpid(self.pid, None)?;
        }
        Ok(())
    }

    /// Kills the process and, if it is our child, reaps it.
    fn kill(self) {
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        if self.ours {
            let _ = waitpid(self.pid, None);
        }
    }
}
