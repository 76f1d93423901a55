//! Starting another process in a running container (`hoist exec`, health
//! checks): an intermediate process joins the container's cgroup and
//! namespaces, then clones the real process as a sibling (CLONE_PARENT), so
//! the shim is its parent and reaps its exit status directly.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::sched::{CloneFlags, setns};
use nix::unistd::{ForkResult, fork};

use super::child::{
    ChildMessage, ChildStdio, become_process, clone_process, exit_child, fail_child, send_message,
    wire_stdio_and_report_ready,
};
use super::process::StartError;
use crate::bundle::ExecProcess;
use crate::cgroup::Cgroup;

/// Namespaces an exec'd process joins, in order (mount last: after it,
/// /proc paths name the container's processes).
const JOIN_ORDER: &[(&str, CloneFlags)] = &[
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Forks the intermediate process. It sends `Pid(n)` for the real process
/// and exits; the real process sends `Ready` (with a pty master when it has
/// a terminal) and then execs, closing `sync`, or sends `Failed`.
///
/// Returns the intermediate's PID (the caller reaps it).
pub fn spawn_exec(
    init_pid: i32,
    cgroup: &Cgroup,
    exec: &ExecProcess,
    sync: OwnedFd,
    stdio: Option<ChildStdio>,
) -> Result<i32, StartError> {
    // SAFETY: the shim is single-threaded; the child only makes syscalls
    // and plain allocations before it exits or execs.
    match unsafe { fork() } {
        Err(e) => Err(StartError::runtime(format!("fork: {e}"))),
        Ok(ForkResult::Parent { child }) => Ok(child.as_raw()),
        Ok(ForkResult::Child) => {
            let socket = sync.as_raw_fd();
            match join_container(init_pid, cgroup) {
                Ok(()) => {}
                Err(e) => fail_child(socket, e),
            }
            let pid = match clone_process(libc::CLONE_PARENT as libc::c_ulong) {
                Ok(pid) => pid,
                Err(e) => fail_child(
                    socket,
                    StartError::runtime(format!("clone the exec process: {e}")),
                ),
            };
            if pid == 0 {
                if let Err(e) = wire_stdio_and_report_ready(socket, &exec.process, stdio) {
                    fail_child(socket, e);
                }
                fail_child(socket, become_process(&exec.process, exec.seccomp, None));
            }
            let _ = send_message(socket, &ChildMessage::Pid(pid), None);
            exit_child(0)
        }
    }
}

fn join_container(init_pid: i32, cgroup: &Cgroup) -> Result<(), StartError> {
    cgroup
        .enter()
        .map_err(|e| StartError::runtime(format!("join the container's cgroup: {e}")))?;
    // Open every namespace first: after joining the mount namespace the
    // host's /proc is out of reach.
    let mut targets = Vec::new();
    for (name, flag) in JOIN_ORDER {
        let path = format!("/proc/{init_pid}/ns/{name}");
        let file =
            File::open(&path).map_err(|e| StartError::runtime(format!("open {path}: {e}")))?;
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .map(|m| m.ino())
            .ok();
        let theirs = file.metadata().map(|m| m.ino()).ok();
        if ours != theirs {
            targets.push((file, *flag, path));
        }
    }
    for (file, flag, path) in targets {
        setns(&file, flag).map_err(|e| StartError::runtime(format!("join {path}: {e}")))?;
    }
    Ok(())
}
