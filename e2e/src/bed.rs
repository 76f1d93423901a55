//! The test bed: its hosts, the switch between them, partitions, and the
//! teardown that removes all of it.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::host::{COMMAND_TIMEOUT, Host, Shared};
use crate::sys;

/// Every name a bed gives starts with this, then its id.
const PREFIX: &str = "hoist-e2e-";
/// The most hosts a bed may have (addresses .10 to .109 of its /24).
const MAX_HOSTS: usize = 100;
/// The bridge in the switch namespace.
const BRIDGE: &str = "hsebr";

/// Options of a bed before it starts: extra daemon arguments, for every
/// host or for one. Made by [`TestBed::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    hoist: PathBuf,
    daemon_args: Vec<Vec<String>>,
}

impl Builder {
    /// Passes `args` to every host's `hoist daemon` (after the bed's own
    /// arguments), on every spawn.
    pub fn daemon_args(mut self, args: &[&str]) -> Self {
        for host_args in &mut self.daemon_args {
            host_args.extend(args.iter().map(|arg| arg.to_string()));
        }
        self
    }

    /// Passes `args` to host `host`'s `hoist daemon` only, on every spawn.
    pub fn host_daemon_args(mut self, host: usize, args: &[&str]) -> Self {
        let hosts = self.daemon_args.len();
        self.daemon_args
            .get_mut(host)
            .unwrap_or_else(|| panic!("host {host} out of range: the bed has {hosts} hosts"))
            .extend(args.iter().map(|arg| arg.to_string()));
        self
    }

    /// Makes the bed: the switch and host namespaces, their links and
    /// addresses, and every host's daemon, started together and answering.
    /// Whatever was made is removed again if this panics half way.
    pub fn start(self) -> TestBed {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "a hoist test bed makes network namespaces and runs daemons: run as root"
        );
        let id = sys::random_hex(4);
        let octet = sys::random_bytes(1)[0];
        let dir = PathBuf::from(format!("/tmp/{PREFIX}{id}"));
        let switch = format!("{PREFIX}{id}-sw");
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            busybox: Mutex::new(None),
        });
        let hosts = self
            .daemon_args
            .into_iter()
            .enumerate()
            .map(|(index, daemon_args)| {
                let name = format!("{PREFIX}{id}-h{index}");
                let host_dir = dir.join(format!("h{index}"));
                Host {
                    index,
                    addr: Ipv4Addr::new(10, 237, octet, 10 + index as u8),
                    socket: host_dir.join("hoist.sock"),
                    dir: host_dir,
                    cgroup_parent: name.clone(),
                    name,
                    switch: switch.clone(),
                    port: format!("hse{index}"),
                    hoist: self.hoist.clone(),
                    daemon_args,
                    daemon: None,
                    shared: shared.clone(),
                }
            })
            .collect();
        // From here on, Drop removes whatever exists of the bed.
        let mut bed = TestBed {
            id,
            dir,
            switch,
            subnet: Ipv4Addr::new(10, 237, octet, 0),
            hosts,
        };
        fs::create_dir_all(&bed.dir)
            .unwrap_or_else(|e| panic!("create {}: {e}", bed.dir.display()));
        bed.wire();
        for host in &mut bed.hosts {
            host.spawn_daemon();
        }
        for host in &mut bed.hosts {
            host.wait_for_daemon();
        }
        bed
    }
}

/// A test bed: hosts (network namespaces, each running its own `hoist
/// daemon`) on one switch. Dropping it removes everything it made; see the
/// crate documentation.
pub struct TestBed {
    id: String,
    dir: PathBuf,
    switch: String,
    subnet: Ipv4Addr,
    hosts: Vec<Host>,
}

impl TestBed {
    /// Starts a bed of `hosts` hosts running daemons of the `hoist` binary
    /// (`hoist-shim` must sit beside it).
    pub fn new(hoist: &Path, hosts: usize) -> TestBed {
        Self::builder(hoist, hosts).start()
    }

    /// A bed of `hosts` hosts to configure before [`Builder::start`].
    pub fn builder(hoist: &Path, hosts: usize) -> Builder {
        assert!(
            (1..=MAX_HOSTS).contains(&hosts),
            "a test bed has 1 to {MAX_HOSTS} hosts, not {hosts}"
        );
        Builder {
            hoist: hoist.to_path_buf(),
            daemon_args: vec![Vec::new(); hosts],
        }
    }

    /// The bed's random id, part of every name it gives.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bed's directory, `/tmp/hoist-e2e-<id>`, holding one directory per
    /// host.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network namespace holding the switch: the bridge `hsebr` and one
    /// port `hse<i>` per host.
    pub fn switch_netns(&self) -> &str {
        &self.switch
    }

    /// The underlay network: `10.237.<random>.0`, prefix length 24.
    pub fn subnet(&self) -> (Ipv4Addr, u8) {
        (self.subnet, 24)
    }

    /// All hosts, in index order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// All hosts, to start, stop or reconfigure their daemons.
    pub fn hosts_mut(&mut self) -> &mut [Host] {
        &mut self.hosts
    }

    /// Host `i`.
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// Host `i`, to start, stop or reconfigure its daemon.
    pub fn host_mut(&mut self, i: usize) -> &mut Host {
        &mut self.hosts[i]
    }

    /// Imports busybox on every host, in parallel (see
    /// [`Host::import_busybox`]).
    pub fn import_busybox(&self) {
        thread::scope(|scope| {
            for host in &self.hosts {
                scope.spawn(|| host.import_busybox());
            }
        });
    }

    /// Drops all traffic between the hosts of `a` and those of `b`, both
    /// ways, on both sides (nftables rules by underlay address in each
    /// host's table); other pairs stay connected. [`Host::heal`] or
    /// [`TestBed::heal_all`] undo it.
    pub fn partition(&self, a: &[usize], b: &[usize]) {
        assert!(
            !a.iter().any(|i| b.contains(i)),
            "a partition splits two disjoint groups, not {a:?} and {b:?}"
        );
        let addrs = |group: &[usize]| -> Vec<Ipv4Addr> {
            group.iter().map(|&i| self.hosts[i].addr()).collect()
        };
        let (to_a, to_b) = (addrs(a), addrs(b));
        for &i in a {
            self.hosts[i].block(&to_b);
        }
        for &i in b {
            self.hosts[i].block(&to_a);
        }
    }

    /// Heals every host (see [`Host::heal`]).
    pub fn heal_all(&self) {
        for host in &self.hosts {
            host.heal();
        }
    }

    /// Which host reaches which over TCP on the underlay:
    /// `matrix[from][to]`, every pair tried at once (see
    /// [`Host::can_reach`]); a pair that cannot connect costs `timeout`.
    pub fn reachability(&self, timeout: Duration) -> Vec<Vec<bool>> {
        thread::scope(|scope| {
            let rows: Vec<Vec<_>> = self
                .hosts
                .iter()
                .map(|from| {
                    self.hosts
                        .iter()
                        .map(|to| scope.spawn(move || from.can_reach(to, timeout)))
                        .collect()
                })
                .collect();
            rows.into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|probe| {
                            probe
                                .join()
                                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                        })
                        .collect()
                })
                .collect()
        })
    }

    /// Polls `check` every 50 ms until it holds; panics after `timeout`
    /// with `what` and the tail of every host's daemon log.
    pub fn eventually(&self, timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n{}",
                self.log_tails()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The tail of every host's daemon log, for assertion messages.
    pub fn log_tails(&self) -> String {
        self.hosts
            .iter()
            .map(Host::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What identifies the bed's traces on the machine, to check after the
    /// bed is gone that none is left.
    pub fn footprint(&self) -> Footprint {
        Footprint::of_id(&self.id)
    }

    /// Names of every network namespace of the bed, switch first.
    fn namespaces(&self) -> Vec<String> {
        std::iter::once(self.switch.clone())
            .chain(self.hosts.iter().map(|host| host.name().to_string()))
            .collect()
    }

    /// Makes the namespaces and the links between them: the switch's bridge,
    /// a veth pair per host (`hse<i>` on the bridge, `eth0` in the host),
    /// the host's address, and `lo` up everywhere.
    fn wire(&self) {
        let mut netns = String::new();
        for name in self.namespaces() {
            netns.push_str(&format!("netns add {name}\n"));
        }
        ip(None, &netns);
        let mut switch =
            format!("link set lo up\nlink add {BRIDGE} type bridge\nlink set {BRIDGE} up\n");
        for host in &self.hosts {
            switch.push_str(&format!(
                "link add {port} type veth peer name eth0 netns {name}\n\
                 link set {port} master {BRIDGE}\n\
                 link set {port} up\n",
                port = host.port,
                name = host.name(),
            ));
        }
        ip(Some(&self.switch), &switch);
        thread::scope(|scope| {
            for host in &self.hosts {
                scope.spawn(|| {
                    ip(
                        Some(host.name()),
                        &format!(
                            "link set lo up\naddr add {}/24 dev eth0\nlink set eth0 up\n",
                            host.addr()
                        ),
                    );
                });
            }
        });
    }
}

/// Runs an `ip -batch` script, in network namespace `netns` if given;
/// panics when it fails.
fn ip(netns: Option<&str>, script: &str) {
    let mut command = Command::new("ip");
    if let Some(netns) = netns {
        command.args(["-n", netns]);
    }
    command.args(["-batch", "-"]);
    let run = sys::run_with_input(command, Some(script), COMMAND_TIMEOUT);
    assert!(run.success(), "ip -batch failed: {run}\nscript:\n{script}");
}

impl Drop for TestBed {
    /// Removes everything of the bed, in an order that lets each step
    /// succeed: containers through each daemon that runs, the daemons,
    /// leftover processes (shims), the hosts' cgroup trees (killing what is
    /// in them), processes still in the bed's namespaces, mounts under the
    /// bed's directory and the namespaces themselves, then the directory.
    /// Nothing here panics, so a test that fails still unwinds cleanly.
    fn drop(&mut self) {
        thread::scope(|scope| {
            for host in &mut self.hosts {
                let teardown = move || {
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.teardown()));
                };
                if let Err(e) = thread::Builder::new().spawn_scoped(scope, teardown) {
                    eprintln!("hoist-e2e: cannot start a teardown thread: {e}");
                }
            }
        });
        // A host whose thread could not start still has a daemon.
        for host in &mut self.hosts {
            host.kill_daemon();
        }
        let marker = format!("{PREFIX}{}", self.id);
        sys::kill_all(|| sys::processes_with(&marker), Duration::from_secs(5));
        let cgroup_mounts = sys::cgroup_mounts();
        for host in &self.hosts {
            for mount in &cgroup_mounts {
                sys::remove_cgroup_tree(&mount.join(host.cgroup_parent()));
            }
        }
        let namespaces = self.namespaces();
        let inodes: Vec<u64> = namespaces
            .iter()
            .filter_map(|name| sys::netns_inode(&Path::new("/run/netns").join(name)))
            .collect();
        sys::kill_all(|| sys::processes_in_netns(&inodes), Duration::from_secs(5));
        // `ip netns del` is a lazy unmount and an unlink: the mounts go with
        // the bed's other mounts, all of which carry the marker.
        sys::unmount_all(&marker);
        for name in &namespaces {
            let _ = fs::remove_file(Path::new("/run/netns").join(name));
        }
        for _ in 0..50 {
            if fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What identifies a bed's traces on the machine, kept past the bed's
/// life: [`Footprint::leftovers`] lists what of it remains.
#[derive(Debug, Clone)]
pub struct Footprint {
    id: String,
    dir: PathBuf,
}

impl Footprint {
    /// The footprint of the bed with id `id`, for a bed a test never got
    /// hold of (one that failed to start names its id in its panic message,
    /// in every host name).
    pub fn of_id(id: &str) -> Footprint {
        Footprint {
            id: id.to_string(),
            dir: PathBuf::from(format!("/tmp/{PREFIX}{id}")),
        }
    }

    /// The bed's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Everything of the bed still on the machine, one line each: network
    /// namespaces named with its id, processes with its id in their command
    /// line (daemons, shims, anything run with its paths), cgroups named
    /// with its id on any hierarchy, mounts whose mount point has its id
    /// (under its directory, or its namespaces), and its directory. Empty
    /// once a bed is dropped.
    pub fn leftovers(&self) -> Vec<String> {
        let marker = format!("{PREFIX}{}", self.id);
        let mut found = Vec::new();
        for entry in fs::read_dir("/run/netns").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(&marker) {
                found.push(format!("network namespace {name}"));
            }
        }
        for process in sys::processes_with(&marker) {
            found.push(format!("process {}: {}", process.pid, process.cmdline));
        }
        for mount in sys::cgroup_mounts() {
            for entry in fs::read_dir(&mount).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().contains(&marker) {
                    found.push(format!("cgroup {}", entry.path().display()));
                }
            }
        }
        for mount in sys::mounts_with(&marker) {
            found.push(format!("mount {mount}"));
        }
        if self.dir.exists() {
            found.push(format!("directory {}", self.dir.display()));
        }
        found
    }
}
