//! One host of a test bed: a network namespace with its own `hoist daemon`,
//! the CLI and any program run inside it, and the ways to cut it off.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::sys::{run_with_input, run_with_timeout};

/// Log filter every daemon of a bed runs with.
const LOG_LEVEL: &str = "info,hoist_agent=debug,hoist_manager=debug";
/// How long a daemon gets to answer on its socket after a spawn.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a daemon gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a CLI call or a program on a host may run before it is killed
/// (so that a hung command fails the test instead of hanging it).
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// The nftables table a bed adds to a host for cut-offs and partitions.
const NFT_TABLE: &str = "inet hoist_e2e";
/// Lines of daemon log quoted in assertion messages.
const LOG_TAIL_LINES: usize = 40;

/// What a bed shares among its hosts.
pub(crate) struct Shared {
    /// The bed's directory (holds every host's directory).
    pub dir: PathBuf,
    /// The busybox rootfs tarball, once built.
    pub busybox: Mutex<Option<PathBuf>>,
}

/// The outcome of a program run to its end.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (-1 when killed by a signal, when it hit the time limit, or
    /// when it could not be started).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Whether the program exited with 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// How [`Host::cut_off`] isolates a host from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The host's port on the switch goes down, as if its cable were pulled:
    /// its `eth0` loses carrier and nothing passes either way.
    LinkDown,
    /// An nftables table of the bed's own in the host (`table inet
    /// hoist_e2e`) drops every IP packet in and out on `eth0`, forwarded
    /// ones included; the link stays up, as in a firewall partition.
    Firewall,
}

/// One "host": a network namespace named [`Host::name`] with an `eth0` on
/// the bed's switch at [`Host::addr`], running its own `hoist daemon`
/// whose state lives under [`Host::dir`].
///
/// Everything run on the host (the daemon, the CLI, [`Host::on_host`]) runs
/// in its network namespace and in a fresh UTS namespace whose hostname is
/// the host's name, so each daemon sees its own hostname as machines of a
/// real cluster do. Mounts, PIDs and cgroups are the machine's.
pub struct Host {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) addr: Ipv4Addr,
    pub(crate) dir: PathBuf,
    pub(crate) socket: PathBuf,
    pub(crate) cgroup_parent: String,
    /// The bed's switch namespace and this host's port on it.
    pub(crate) switch: String,
    pub(crate) port: String,
    pub(crate) hoist: PathBuf,
    pub(crate) daemon_args: Vec<String>,
    pub(crate) daemon: Option<Child>,
    pub(crate) shared: Arc<Shared>,
}

impl Host {
    /// The host's position in the bed (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The host's name: its network namespace (under /run/netns), its
    /// hostname, and its cgroup parent, `hoist-e2e-<bed id>-h<index>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address on the bed's underlay (on its `eth0`).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The daemon's API socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The host's directory: the daemon's `root/` and `run/`, its socket,
    /// `daemon.log`, and the CLI's credential files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cgroup parent the daemon puts its containers under.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// The host's network namespace file (for `nsenter --net=` or setns).
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `program` as a command to run on this host: inside its network
    /// namespace (through nsenter, which then execs `program`) and in a
    /// fresh UTS namespace named after the host. Add arguments, spawn, and
    /// wait on it as on any command.
    pub fn host_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.netns_path().display()))
            .arg("--")
            .arg(program);
        let hostname = self.name.clone();
        // SAFETY: between fork and exec the closure only makes two system
        // calls (unshare, sethostname) on memory allocated before the fork;
        // it neither allocates nor takes locks.
        unsafe {
            command.pre_exec(move || {
                nix::sched::unshare(CloneFlags::CLONE_NEWUTS)?;
                nix::unistd::sethostname(&hostname)?;
                Ok(())
            });
        }
        command
    }

    /// Runs `program` with `args` on this host to its end (killed after two
    /// minutes), stdin closed.
    pub fn on_host(&self, program: &str, args: &[&str]) -> Run {
        let mut command = self.host_command(program);
        command.args(args);
        run_with_timeout(command, COMMAND_TIMEOUT)
    }

    /// The hoist CLI with `args`, as a command to spawn on this host, talking
    /// to this host's daemon (`--host unix://…`), with credential files of
    /// its own (`HOIST_CONFIG`, `DOCKER_CONFIG` in the host's directory).
    /// Running on the host, it reaches other hosts at their underlay
    /// addresses.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.host_command(&self.hoist);
        command
            .env("HOIST_CONFIG", self.dir.join("hoist-config"))
            .env("DOCKER_CONFIG", self.dir.join("docker-config"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args);
        command
    }

    /// Runs the CLI with `args` to its end (killed after two minutes).
    pub fn hoist(&self, args: &[&str]) -> Run {
        run_with_timeout(self.command(args), COMMAND_TIMEOUT)
    }

    /// Runs the CLI with `args`, asserts it succeeded, and returns its
    /// stdout; on failure the panic message has the output and the tail of
    /// the daemon's log.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.hoist(args);
        assert!(
            run.success(),
            "hoist {args:?} on {} failed: {run}\n{}",
            self.name,
            self.log_tail()
        );
        run.stdout
    }

    /// Runs `f` on a thread inside this host's network namespace and returns
    /// its result. Sockets made in `f` stay in the host's namespace, so a
    /// test can listen or dial from the host without an external program.
    pub fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let netns = fs::File::open(self.netns_path())
            .unwrap_or_else(|e| panic!("open {}: {e}", self.netns_path().display()));
        let name = &self.name;
        thread::scope(|scope| {
            scope
                .spawn(move || {
                    nix::sched::setns(&netns, CloneFlags::CLONE_NEWNET)
                        .unwrap_or_else(|e| panic!("setns into {name}: {e}"));
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Whether a TCP connection from this host reaches `other` at its
    /// underlay address within `timeout` (a listener on an ephemeral port of
    /// `other` answers: packets went both ways).
    pub fn can_reach(&self, other: &Host, timeout: Duration) -> bool {
        let listener = other
            .in_netns(|| TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)))
            .unwrap_or_else(|e| panic!("listen on {}: {e}", other.name));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let target = SocketAddr::from((other.addr, port));
        self.in_netns(|| TcpStream::connect_timeout(&target, timeout))
            .is_ok()
    }

    /// The daemon's log so far (every spawn appends to `daemon.log`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// The last lines of the daemon's log, headed with the host's name, for
    /// assertion messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        format!(
            "--- daemon log of {} (last {} lines) ---\n{}",
            self.name,
            tail.len(),
            tail.join("\n")
        )
    }

    /// The extra arguments every later spawn of the daemon gets.
    pub fn daemon_args(&self) -> &[String] {
        &self.daemon_args
    }

    /// Replaces the extra arguments of later spawns of the daemon (the
    /// running one keeps its own until restarted).
    pub fn set_daemon_args(&mut self, args: Vec<String>) {
        self.daemon_args = args;
    }

    /// Whether the daemon process this host spawned is still running.
    pub fn daemon_running(&mut self) -> bool {
        self.daemon
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The PID of the running daemon, if any.
    pub fn daemon_pid(&mut self) -> Option<u32> {
        if self.daemon_running() {
            self.daemon.as_ref().map(Child::id)
        } else {
            None
        }
    }

    /// Starts the daemon on the host's state and waits until it answers on
    /// its socket; panics (with its log) when it exits or is silent for 30 s,
    /// or when one already runs.
    pub fn start_daemon(&mut self) {
        self.spawn_daemon();
        self.wait_for_daemon();
    }

    /// Spawns the daemon without waiting for it (the bed starts all hosts'
    /// daemons, then waits for each).
    pub(crate) fn spawn_daemon(&mut self) {
        assert!(
            !self.daemon_running(),
            "the daemon of {} already runs",
            self.name
        );
        fs::create_dir_all(&self.dir)
            .unwrap_or_else(|e| panic!("create {}: {e}", self.dir.display()));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .unwrap_or_else(|e| panic!("open the daemon log of {}: {e}", self.name));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("duplicate the daemon log of {}: {e}", self.name));
        let mut command = self.host_command(&self.hoist);
        command
            .arg("daemon")
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--exec-root")
            .arg(self.dir.join("run"))
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(["--cgroup-parent", &self.cgroup_parent])
            .args(["--log-level", LOG_LEVEL])
            .args(&self.daemon_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start the daemon of {}: {e}", self.name));
        self.daemon = Some(child);
    }

    /// Waits until the spawned daemon answers on its socket.
    pub(crate) fn wait_for_daemon(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(child) = self.daemon.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.daemon = None;
                panic!(
                    "the daemon of {} exited ({status}) before it answered\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the daemon of {} did not answer on {} within {START_TIMEOUT:?}\n{}",
                self.name,
                self.socket.display(),
                self.log_tail()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the daemon with SIGKILL and reaps it, as a crash or a lost node
    /// would; its containers run on. Does nothing when no daemon runs.
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon with SIGTERM and waits for it to exit; panics (with
    /// its log) when it is still running after 20 s. Does nothing when no
    /// daemon runs.
    pub fn stop_daemon(&mut self) {
        let stopped = self.terminate(STOP_TIMEOUT);
        assert!(
            stopped,
            "the daemon of {} did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
            self.name,
            self.log_tail()
        );
    }

    /// Stops the daemon (SIGTERM, as [`Host::stop_daemon`]) and starts it
    /// again on the same state, with the current daemon arguments.
    pub fn restart_daemon(&mut self) {
        self.stop_daemon();
        self.start_daemon();
    }

    /// Sends SIGTERM and waits up to `timeout` for the daemon to exit;
    /// returns whether it did (or none ran). A daemon still running is left
    /// in place.
    fn terminate(&mut self, timeout: Duration) -> bool {
        let Some(child) = self.daemon.as_mut() else {
            return true;
        };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => return false,
                _ => {
                    self.daemon = None;
                    return true;
                }
            }
        }
    }

    /// Imports a busybox root filesystem as `busybox:latest` (with
    /// `PATH=/bin`). The tarball is built once per bed by the repository's
    /// `scripts/busybox-rootfs.sh`, which needs Debian's busybox-static.
    pub fn import_busybox(&self) {
        let tarball = {
            let mut built = self
                .shared
                .busybox
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match built.as_ref() {
                Some(tarball) => tarball.clone(),
                None => {
                    let tarball = self.shared.dir.join("busybox.tar");
                    let script =
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/busybox-rootfs.sh");
                    let mut command = Command::new(&script);
                    command.arg(&tarball);
                    let run = run_with_timeout(command, COMMAND_TIMEOUT);
                    assert!(
                        run.success(),
                        "{} failed (is busybox-static installed?): {run}",
                        script.display()
                    );
                    *built = Some(tarball.clone());
                    tarball
                }
            }
        };
        self.ok(&[
            "image",
            "import",
            "--change",
            "ENV PATH=/bin",
            &tarball.to_string_lossy(),
            "busybox:latest",
        ]);
    }

    /// Cuts the host off from every other host, both ways, the way `cut`
    /// says; [`Host::heal`] undoes it.
    pub fn cut_off(&self, cut: Cut) {
        match cut {
            Cut::LinkDown => self.switch_port(false),
            Cut::Firewall => self.nft(&[
                "add rule inet hoist_e2e input iifname \"eth0\" drop",
                "add rule inet hoist_e2e forward iifname \"eth0\" drop",
                "add rule inet hoist_e2e forward oifname \"eth0\" drop",
                "add rule inet hoist_e2e output oifname \"eth0\" drop",
            ]),
        }
    }

    /// Drops every IP packet between this host and `peers` (underlay
    /// addresses), both ways, forwarded ones included.
    pub(crate) fn block(&self, peers: &[Ipv4Addr]) {
        let set = peers
            .iter()
            .map(Ipv4Addr::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.nft(&[
            &format!("add rule inet hoist_e2e input ip saddr {{ {set} }} drop"),
            &format!("add rule inet hoist_e2e forward ip saddr {{ {set} }} drop"),
            &format!("add rule inet hoist_e2e forward ip daddr {{ {set} }} drop"),
            &format!("add rule inet hoist_e2e output ip daddr {{ {set} }} drop"),
        ]);
    }

    /// Undoes every cut-off and partition of this host: its switch port up,
    /// the bed's nftables table in it removed (the daemon's own tables are
    /// left alone).
    pub fn heal(&self) {
        self.switch_port(true);
        self.nft_script(&format!(
            "add table {NFT_TABLE}\ndelete table {NFT_TABLE}\n"
        ));
    }

    /// Sets the host's port on the switch up or down.
    fn switch_port(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        let mut command = Command::new("ip");
        command.args(["-n", &self.switch, "link", "set", &self.port, state]);
        let run = run_with_timeout(command, COMMAND_TIMEOUT);
        assert!(
            run.success(),
            "set {} {state} for {}: {run}",
            self.port,
            self.name
        );
    }

    /// Adds `rules` to the bed's nftables table in this host, making the
    /// table and its base chains first if needed (one transaction).
    fn nft(&self, rules: &[&str]) {
        let mut script = format!("table {NFT_TABLE} {{\n");
        for hook in ["input", "forward", "output"] {
            script.push_str(&format!(
                "  chain {hook} {{ type filter hook {hook} priority -10; policy accept; }}\n"
            ));
        }
        script.push_str("}\n");
        for rule in rules {
            script.push_str(rule);
            script.push('\n');
        }
        self.nft_script(&script);
    }

    /// Runs an nft script in this host's namespace; panics when it fails.
    fn nft_script(&self, script: &str) {
        let mut command = self.host_command("nft");
        command.args(["-f", "-"]);
        let run = run_with_input(command, Some(script), COMMAND_TIMEOUT);
        assert!(
            run.success(),
            "nft on {} failed: {run}\nscript:\n{script}",
            self.name
        );
    }

    /// Removes the host's containers through its daemon (if it runs) and
    /// stops the daemon: SIGTERM, then SIGKILL after five seconds. Never
    /// panics (it runs in the bed's `Drop`).
    pub(crate) fn teardown(&mut self) {
        if self.daemon_running() {
            let ids = run_with_timeout(
                self.command(&["ps", "-aq", "--no-trunc"]),
                Duration::from_secs(30),
            )
            .stdout;
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids);
                let _ = run_with_timeout(self.command(&args), Duration::from_secs(60));
            }
        }
        if !self.terminate(Duration::from_secs(5)) {
            self.kill_daemon();
        }
    }
}
