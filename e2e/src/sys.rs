//! What the test bed reads from and does to the machine below the level of
//! hosts: random names, programs run with a time limit, processes found by
//! command line or network namespace, cgroup and mount tables. Nothing
//! here panics: teardown runs in `Drop`, possibly while a test unwinds.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Run;

/// `n` random bytes from the kernel (zeros if it has none to give, which
/// only makes a name less unique).
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    if let Ok(mut urandom) = fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut bytes);
    }
    bytes
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` with stdin closed, collecting its output; kills it when
/// it has not ended after `timeout` (then `code` is -1 and `stderr` says
/// so). A program that cannot be started gives code -1 and the reason.
pub(crate) fn run_with_timeout(command: Command, timeout: Duration) -> Run {
    run_with_input(command, None, timeout)
}

/// [`run_with_timeout`], writing `input` (a short script: it must fit in
/// the pipe) to the program's stdin first when given.
pub(crate) fn run_with_input(mut command: Command, input: Option<&str>, timeout: Duration) -> Run {
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = match command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Run {
                code: -1,
                stdout: String::new(),
                stderr: format!("cannot start {:?}: {e}", command.get_program()),
            };
        }
    };
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(input.as_bytes());
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break -2;
            }
        }
    };
    // A killed program's own children may still hold its pipes open: give
    // the readers a moment, then leave them.
    let grace = Instant::now() + Duration::from_secs(1);
    let collect = |reader: thread::JoinHandle<String>| {
        while code == -2 && !reader.is_finished() && Instant::now() < grace {
            thread::sleep(Duration::from_millis(5));
        }
        if code == -2 && !reader.is_finished() {
            return String::new();
        }
        reader.join().unwrap_or_default()
    };
    let stdout = collect(stdout);
    let mut stderr = collect(stderr);
    let code = if code == -2 {
        stderr.push_str(&format!("\n(killed: still running after {timeout:?})"));
        -1
    } else {
        code
    };
    Run {
        code,
        stdout,
        stderr,
    }
}

/// A process found in /proc: its PID and command line (arguments joined
/// by spaces).
pub(crate) struct Process {
    pub pid: i32,
    pub cmdline: String,
}

/// Every process but this one for which `select` holds.
fn processes(mut select: impl FnMut(&Process, &Path) -> bool) -> Vec<Process> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let process = Process {
            pid,
            cmdline: String::from_utf8_lossy(&cmdline)
                .trim_end_matches('\0')
                .replace('\0', " "),
        };
        if select(&process, &entry.path()) {
            found.push(process);
        }
    }
    found
}

/// Processes whose command line contains `marker`.
pub(crate) fn processes_with(marker: &str) -> Vec<Process> {
    processes(|p, _| p.cmdline.contains(marker))
}

/// The inode of a network namespace file (what `/proc/PID/ns/net` links to
/// as `net:[INODE]`), if it exists.
pub(crate) fn netns_inode(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

/// Processes inside one of the network namespaces `inodes`.
pub(crate) fn processes_in_netns(inodes: &[u64]) -> Vec<Process> {
    processes(|_, dir| {
        fs::read_link(dir.join("ns/net"))
            .ok()
            .and_then(|link| {
                let link = link.to_string_lossy().into_owned();
                link.strip_prefix("net:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            })
            .is_some_and(|inode| inodes.contains(&inode))
    })
}

/// SIGKILLs what `find` returns until it returns nothing (a killed process
/// leaves /proc, or stays only as a zombie with an empty command line and
/// no namespaces) or `timeout` passes.
pub(crate) fn kill_all(find: impl Fn() -> Vec<Process>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let found = find();
        if found.is_empty() || Instant::now() >= deadline {
            return;
        }
        for process in found {
            let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Mount points of every cgroup hierarchy on the machine (each v1
/// hierarchy, named or with controllers, and the v2 tree), from
/// /proc/self/mountinfo.
pub(crate) fn cgroup_mounts() -> Vec<PathBuf> {
    let mut mounts: Vec<PathBuf> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let mount_point = left.split_whitespace().nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| PathBuf::from(unescape(mount_point)))
        })
        .collect();
    mounts.sort();
    mounts.dedup();
    mounts
}

/// Mount points that contain `marker` (from /proc/self/mountinfo), deepest
/// first, as often as each is mounted.
pub(crate) fn mounts_with(marker: &str) -> Vec<String> {
    let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4).map(unescape))
        .filter(|mount| mount.contains(marker))
        .collect();
    mounts.sort_by_key(|mount| std::cmp::Reverse(mount.len()));
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches every mount whose mount point contains `marker`, deepest
/// first, until none is left (stacked mounts take several rounds).
pub(crate) fn unmount_all(marker: &str) {
    for _ in 0..10 {
        let mounts = mounts_with(marker);
        if mounts.is_empty() {
            return;
        }
        for mount in mounts {
            let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Kills every process in a cgroup tree and removes its directories,
/// children first (a frozen v1 cgroup is thawed so that SIGKILL lands; a
/// v2 one is killed whole through `cgroup.kill`).
pub(crate) fn remove_cgroup_tree(dir: &Path) {
    if !dir.is_dir() {
        return;
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&entry.path());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let _ = fs::write(dir.join("cgroup.kill"), "1");
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/tmp/back\134slash"), r"/tmp/back\slash");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/odd\04"), r"/odd\04");
    }

    #[test]
    fn random_hex_has_two_digits_per_byte() {
        let hex = random_hex(4);
        assert_eq!(hex.len(), 8);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_slow_program_is_killed_at_its_time_limit() {
        let mut command = Command::new("sleep");
        command.arg("10");
        let started = Instant::now();
        let run = run_with_timeout(command, Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(run.code, -1);
        assert!(run.stderr.contains("killed"), "{}", run.stderr);
    }

    #[test]
    fn input_reaches_the_program() {
        let mut command = Command::new("cat");
        command.arg("-");
        let run = run_with_input(command, Some("script\n"), Duration::from_secs(10));
        assert_eq!((run.code, run.stdout.as_str()), (0, "script\n"));
    }

    #[test]
    fn output_and_exit_code_are_collected() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let run = run_with_timeout(command, Duration::from_secs(10));
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (3, "out\n", "err\n")
        );
    }
}
