//! The per-container shim: a small process that owns one container's init,
//! stdio and log, so containers outlive the daemon (live restore).

pub mod client;
pub mod protocol;
pub mod server;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

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

/// Starts the shim executable (`hoist-shim <dir>`) for the bundle in `dir`. The socket is bound
/// here, before the shim runs, and handed to it as fd 3: a client may
/// connect at once, with no readiness race.
pub fn spawn(exe: &Path, dir: &Path) -> io::Result<tokio::process::Child> {
    crate::fsutil::remove_all(&dir.join(SOCKET_FILE))?;
    let (_dir_fd, socket) = socket_path(dir)?;
    let listener: OwnedFd = std::os::unix::net::UnixListener::bind(&socket)?.into();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(SHIM_LOG_FILE))?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let fd = listener.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe calls (dup2, fcntl).
    unsafe {
        command.pre_exec(move || {
            if fd == server::LISTEN_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, server::LISTEN_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    drop(listener);
    Ok(child)
}
