//! Test bed for root integration tests: a private `hoist daemon` per test
//! (own root, exec root, socket, cgroup parent, and network namespace
//! standing in for the host, so its bridges and nftables table are its
//! own), with busybox imported, and a teardown that removes everything the
//! test made — containers, shims, mounts, cgroups, links, files — even when
//! the test fails.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hoist_runtime::cgroup::{Hierarchy, Version};

pub mod cluster;
pub mod compose;
pub mod registry;

/// The hoist binary under test.
pub const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// Whether this host's cgroups are v1 (what tests read limits from).
pub fn cgroup_v1() -> bool {
    Hierarchy::detect().unwrap().version == Version::V1
}

/// Where the repository is (for scripts/).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "these integration tests run real containers and must run as root (as CI does)"
    );
}

/// A daemon of our own.
pub struct Daemon {
    /// Everything of this daemon lives under here.
    pub dir: PathBuf,
    /// Its API socket.
    pub socket: PathBuf,
    /// Its cgroup parent.
    pub cgroup_parent: String,
    /// The network namespace it runs in (a name under /run/netns).
    pub netns: String,
    /// Extra arguments passed to `hoist daemon` on every (re)spawn.
    extra_args: Vec<String>,
    child: Option<Child>,
}

/// Output of a CLI call.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Daemon {
    /// Starts a daemon with an empty state.
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts a daemon with an empty state, passing `extra` to `hoist
    /// daemon` on this and every later (re)spawn.
    pub fn start_with_args(extra: &[&str]) -> Self {
        require_root();
        let suffix = hoist_runtime::fsutil::random_hex(4);
        let dir = PathBuf::from(format!("/tmp/hoist-test-{suffix}"));
        fs::create_dir_all(&dir).expect("create test dir");
        let netns = format!("hoist-test-{suffix}");
        let mut daemon = Daemon {
            socket: dir.join("hoist.sock"),
            dir,
            cgroup_parent: format!("hoist-test-{suffix}"),
            netns,
            extra_args: extra.iter().map(|arg| arg.to_string()).collect(),
            child: None,
        };
        for args in [
            vec!["netns", "add", daemon.netns.as_str()],
            vec!["-n", daemon.netns.as_str(), "link", "set", "lo", "up"],
        ] {
            let status = Command::new("ip").args(&args).status().expect("run ip");
            assert!(status.success(), "ip {args:?} failed");
        }
        daemon.spawn();
        daemon
    }

    /// Starts a daemon and imports busybox as `busybox:latest`.
    pub fn with_busybox() -> Self {
        let daemon = Self::start();
        daemon.import_busybox();
        daemon
    }

    /// Builds the busybox rootfs tarball and imports it.
    pub fn import_busybox(&self) {
        let tarball = self.dir.join("busybox.tar");
        if !tarball.exists() {
            let status = Command::new(repo_root().join("scripts/busybox-rootfs.sh"))
                .arg(&tarball)
                .status()
                .expect("run busybox-rootfs.sh");
            assert!(
                status.success(),
                "scripts/busybox-rootfs.sh failed (is busybox-static installed?)"
            );
        }
        self.ok(&[
            "image",
            "import",
            "--change",
            "ENV PATH=/bin",
            tarball.to_str().unwrap(),
            "busybox:latest",
        ]);
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg(HOIST)
            .args(["daemon", "--root"])
            .arg(self.dir.join("root"))
            .arg("--exec-root")
            .arg(self.dir.join("run"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args([
                "--cgroup-parent",
                &self.cgroup_parent,
                "--log-level",
                "info,hoist_agent=debug",
            ])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start hoist daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "daemon did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the daemon with SIGKILL (containers must survive).
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same state.
    pub fn restart_daemon(&mut self) {
        self.kill_daemon();
        self.spawn();
    }

    /// The CLI as a command talking to this daemon, to spawn and watch.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(HOIST);
        // Credential files of the test's own, never the machine's.
        command
            .env("HOIST_CONFIG", self.dir.join("hoist-config"))
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args);
        command
    }

    /// The ID of an image (`inspect`'s `Id`).
    pub fn image_id(&self, image: &str) -> String {
        self.inspect(image)["Id"]
            .as_str()
            .unwrap_or_else(|| panic!("{image} has no Id"))
            .to_string()
    }

    /// Runs the CLI.
    pub fn hoist(&self, args: &[&str]) -> Run {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hoist")
            .into()
    }

    /// Runs the CLI with `input` on stdin.
    pub fn hoist_with_input(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run hoist");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap().into()
    }

    /// Runs a program in the daemon's network namespace (the test's
    /// "host"), as `ip netns exec` would, without touching mounts.
    pub fn on_host(&self, program: &str, args: &[&str]) -> Run {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run nsenter")
            .into()
    }

    /// Links on the test's host whose names start with `prefix`.
    pub fn host_links(&self, prefix: &str) -> Vec<String> {
        self.on_host("ip", &["-o", "link", "show"])
            .stdout
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|name| name.trim().split('@').next().unwrap_or("").to_string())
            .filter(|name| name.starts_with(prefix))
            .collect()
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.hoist(args);
        assert_eq!(
            run.code, 0,
            "hoist {args:?} failed:\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        run.stdout
    }

    /// Runs the CLI in a fresh pseudo-terminal, typing `input` after
    /// `settle`; returns what the terminal showed and the exit code.
    pub fn in_pty(&self, args: &[&str], input: &[&[u8]], settle: Duration) -> (String, i32) {
        let pty = nix::pty::openpty(
            Some(&nix::pty::Winsize {
                ws_row: 40,
                ws_col: 120,
                ws_xpixel: 0,
                ws_ypixel: 0,
            }),
            None,
        )
        .unwrap();
        let slave = fs::File::from(pty.slave);
        let mut command = self.command(args);
        command
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: setsid and TIOCSCTTY are async-signal-safe; they make the
        // pty our child's controlling terminal, as a shell would.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        drop(command);
        let mut master = fs::File::from(pty.master);
        let fd = master.as_raw_fd();
        // SAFETY: fcntl on our own descriptor.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            )
        };
        let mut output = Vec::new();
        let pump = |master: &mut fs::File, output: &mut Vec<u8>, wait: Duration| {
            let end = Instant::now() + wait;
            while Instant::now() < end {
                let mut buf = [0u8; 4096];
                match master.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => output.extend_from_slice(&buf[..n]),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        };
        pump(&mut master, &mut output, settle);
        for chunk in input {
            master.write_all(chunk).unwrap();
            pump(&mut master, &mut output, settle);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "hoist {args:?} in a pty did not exit; output:\n{}",
                    String::from_utf8_lossy(&output)
                );
            }
            pump(&mut master, &mut output, Duration::from_millis(50));
        };
        pump(&mut master, &mut output, Duration::from_millis(100));
        (String::from_utf8_lossy(&output).into_owned(), code)
    }

    /// Polls `check` until it holds or `timeout` passes.
    pub fn eventually(&self, timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\ndaemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `hoist ARGS` fails, saying `says` on stderr.
    pub fn assert_fails(&self, args: &[&str], says: &str) {
        let run = self.hoist(args);
        assert_ne!(run.code, 0, "{args:?} succeeded: {}", run.stdout);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }

    /// Asserts that `run --rm FLAGS busybox true` is refused as Docker
    /// refuses bad flags (exit 125) with an error containing `says`.
    pub fn assert_run_refused(&self, flags: &[&str], says: &str) {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let run = self.hoist(&args);
        assert_eq!(run.code, 125, "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{flags:?}: {}", run.stderr);
    }

    /// The inspect document of a container, as JSON.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let mut list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        list.remove(0)
    }

    /// cgroup directories of this daemon's parent (one per controller on v1).
    pub fn cgroup_roots(&self) -> Vec<PathBuf> {
        let hierarchy = Hierarchy::detect().unwrap();
        match hierarchy.version {
            Version::V2 => vec![hierarchy.root.join(&self.cgroup_parent)],
            Version::V1 => hierarchy
                .controllers
                .iter()
                .map(|(_, m)| m.join(&self.cgroup_parent))
                .collect(),
        }
    }

    /// Container cgroups still present under our parent.
    pub fn leftover_cgroups(&self) -> Vec<PathBuf> {
        self.cgroup_roots()
            .iter()
            .flat_map(|root| {
                fs::read_dir(root)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
            })
            .collect()
    }

    /// Mounts whose mount point is under our directory.
    pub fn leftover_mounts(&self) -> Vec<String> {
        let prefix = self.dir.to_string_lossy().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect()
    }

    /// Shim processes started for this daemon.
    pub fn leftover_shims(&self) -> Vec<i32> {
        let marker = format!("shim {}", self.dir.join("run").display());
        processes_with(&marker)
    }

    /// Asserts nothing of any container is left: no cgroup, no mount, no
    /// shim, no runtime or state directory (removal deletes directories in
    /// the background, so all of it gets a few seconds to go).
    pub fn assert_no_container_leftovers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let cgroups = self.leftover_cgroups();
            let mounts = self.leftover_mounts();
            let shims = self.leftover_shims();
            let run_dirs = entries(&self.dir.join("run/containers"));
            let dirs = entries(&self.dir.join("root/containers"));
            let sandboxes = entries(&self.dir.join("run/netns"));
            let veths = self.host_links("hsv");
            if cgroups.is_empty()
                && mounts.is_empty()
                && shims.is_empty()
                && run_dirs.is_empty()
                && dirs.is_empty()
                && sandboxes.is_empty()
                && veths.is_empty()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "container leftovers: cgroups {cgroups:?}, mounts {mounts:?}, shims {shims:?}, \
                 runtime directories {run_dirs:?}, container directories {dirs:?}, \
                 network namespaces {sandboxes:?}, veth links {veths:?}\ndaemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The entries of a directory (none when it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// Mount points on this machine (from /proc/self/mountinfo) with their
/// filesystem type.
pub fn mount_points() -> Vec<(PathBuf, String)> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let point = fields.get(4)?;
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(dash + 1)?;
            Some((PathBuf::from(point), fstype.to_string()))
        })
        .collect()
}

/// The files on disk under `dir` whose content holds `needle`: every file
/// is read, but mounts under `dir` (tmpfs, overlays) are not entered,
/// as `grep -r` on the directory's own filesystem would do.
pub fn files_on_disk_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mounts: Vec<PathBuf> = mount_points()
        .into_iter()
        .map(|(point, _)| point)
        .filter(|point| point.starts_with(dir) && point != dir)
        .collect();
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if mounts.contains(&path) {
                continue;
            }
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

/// PIDs of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .contains(marker)
        {
            pids.push(pid);
        }
    }
    pids
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Containers first, through the daemon, while it still runs.
        if self.child.is_some() {
            let ids = self.hoist(&["ps", "-aq", "--no-trunc"]).stdout;
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids);
                let _ = self.hoist(&args);
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Then whatever a failed test left behind.
        for pid in self.leftover_shims() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for root in self.cgroup_roots() {
            remove_cgroup_tree(&root);
        }
        let mut mounts = self.leftover_mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in mounts {
            let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(&self.dir);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// Kills every process in a cgroup tree and removes its directories.
fn remove_cgroup_tree(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            remove_cgroup_tree(&entry.path());
        }
    }
    for _ in 0..100 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The objects of `--format json` output: one JSON document per line, as
/// Docker prints them.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}
