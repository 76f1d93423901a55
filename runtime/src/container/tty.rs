//! Pseudo-terminals made inside the container (so `tty` there names its own
//! /dev/pts entry), and handing their master side to the shim over a unix
//! socket.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::pty::{Winsize, grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use nix::unistd::{Gid, Uid, dup2_stderr, dup2_stdin, dup2_stdout, fchown, setsid};

nix::ioctl_write_ptr_bad!(set_winsize_ioctl, libc::TIOCSWINSZ, Winsize);
nix::ioctl_write_int_bad!(set_controlling_tty, libc::TIOCSCTTY);

/// Opens a new pty from the calling process's /dev/ptmx, makes its slave
/// the caller's controlling terminal and stdio (owned by `uid`/`gid`), and
/// returns the master.
pub fn open_controlling_pty(size: Option<(u16, u16)>, uid: u32, gid: u32) -> nix::Result<OwnedFd> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave_name = ptsname_r(&master)?;
    setsid()?;
    let slave_fd = nix::fcntl::open(
        slave_name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        nix::sys::stat::Mode::empty(),
    )?;
    fchown(
        &slave_fd,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    )?;
    if let Some((rows, cols)) = size {
        set_size(slave_fd.as_raw_fd(), rows, cols)?;
    }
    // SAFETY: slave_fd is an open terminal we own; TIOCSCTTY takes an int.
    unsafe { set_controlling_tty(slave_fd.as_raw_fd(), 0) }?;
    dup2_stdin(&slave_fd)?;
    dup2_stdout(&slave_fd)?;
    dup2_stderr(&slave_fd)?;
    // SAFETY: posix_openpt returned an owned descriptor; PtyMaster is a
    // wrapper we unwrap into an OwnedFd without closing it.
    let raw = master.as_raw_fd();
    std::mem::forget(master);
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sets a terminal's window size.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> nix::Result<()> {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is a terminal descriptor and `size` a valid Winsize.
    unsafe { set_winsize_ioctl(fd, &size) }.map(drop)
}

/// Sends one message with a descriptor (SCM_RIGHTS).
pub fn send_with_fd(socket: RawFd, payload: &[u8], fd: RawFd) -> nix::Result<()> {
    send_with_fds(socket, payload, &[fd])
}

/// Sends one message with descriptors (SCM_RIGHTS).
pub fn send_with_fds(socket: RawFd, payload: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let cmsg = [ControlMessage::ScmRights(fds)];
    sendmsg::<()>(
        socket,
        &[IoSlice::new(payload)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map(drop)
}

/// Receives one message and the descriptor sent with it, if any.
pub fn recv_with_fd(socket: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let (n, fds) = recv_with_fds(socket, buf)?;
    Ok((n, fds.into_iter().next()))
}

/// Receives one message and the descriptors (at most four) sent with it.
pub fn recv_with_fds(socket: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Vec<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // SAFETY: the kernel just installed these descriptors for us.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok((msg.bytes, fds))
}
