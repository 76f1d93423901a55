//! `--init`: PID 1 stays hoist's own code — a minimal init, as Docker's
//! docker-init (tini) — that forwards signals to the program and reaps
//! every orphan, so a program not written to be PID 1 still dies on SIGTERM
//! and leaves no zombies.

use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::child::exit_child;
use super::process::StartError;

/// Forks. Returns in the child, which goes on to exec the program. The
/// parent never returns: it closes `sync` (so the shim sees the exec), then
/// forwards every signal it gets to the child and reaps, and exits with the
/// child's status (128 + signal when killed).
pub fn fork_reaper(sync: RawFd) -> Result<(), StartError> {
    let mut previous = SigSet::empty();
    // Block everything before forking: no signal may slip between the fork
    // and the parent's first wait.
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&SigSet::all()),
        Some(&mut previous),
    )
    .map_err(|e| StartError::runtime(format!("block signals for the init: {e}")))?;
    // SAFETY: the container's init is single-threaded; the child only
    // restores its signal mask and execs.
    match unsafe { fork() } {
        Err(e) => Err(StartError::runtime(format!("fork the init's child: {e}"))),
        Ok(ForkResult::Child) => {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None)
                .map_err(|e| StartError::runtime(format!("restore the signal mask: {e}")))?;
            Ok(())
        }
        Ok(ForkResult::Parent { child }) => {
            // SAFETY: closing our copy of the sync socket; the child keeps
            // its own until it execs.
            unsafe { libc::close(sync) };
            rename_self();
            reap(child)
        }
    }
}

/// The name the init shows inside the container.
const INIT_NAME: &[u8] = b"hoist-init";

/// The init is a copy of the shim: without this, `/proc/1/cmdline` would
/// show the shim's command line and with it a host path. Renames the
/// thread (`comm`) and overwrites the argument area in place, as
/// setproctitle does (moving it would need CAP_SYS_RESOURCE).
fn rename_self() {
    let _ = nix::sys::prctl::set_name(c"hoist-init");
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // arg_start and arg_end are fields 48 and 49 of stat (45, 46 after the name).
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    if end <= start {
        return;
    }
    let len = end - start;
    // SAFETY: [arg_start, arg_end) is this process's own argument area,
    // mapped writable for its whole life; nothing else reads it while we
    // overwrite it (the process is single-threaded).
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len) };
    area.fill(0);
    let n = INIT_NAME.len().min(len.saturating_sub(2));
    area[..n].copy_from_slice(&INIT_NAME[..n]);
    // A last byte that is not NUL tells the kernel the area was rewritten:
    // /proc/<pid>/cmdline then ends at the first NUL.
    area[len - 1] = b' ';
}

fn reap(child: Pid) -> ! {
    let all = SigSet::all();
    loop {
        let Ok(signal) = all.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => exit_child(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                    exit_child(128 + signal as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}
