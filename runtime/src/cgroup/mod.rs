//! cgroups: one per container, on cgroup v1 (one directory per controller
//! hierarchy) or v2 (one directory in the unified tree), with the limits,
//! freezer, counters and cleanup the runtime needs.
//!
//! The two versions differ only in file names and value formats, so one
//! [`Cgroup`] type holds the directories and a [`Version`] decides how each
//! setting is written or read.

pub mod blkio;
mod device_filter;
mod stats;
mod v1;
mod v2;

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use stats::CgroupStats;

/// The limits hoist applies, in the units of [`hoist_api::spec::Resources`].
pub use hoist_api::spec::Resources;

/// Which cgroup interface the host offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// Per-controller hierarchies (`/sys/fs/cgroup/<controller>`).
    V1,
    /// The unified hierarchy.
    V2,
}

/// Where the host's cgroup hierarchies are mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// v2: the unified mount. v1: unused (see `controllers`).
    pub root: PathBuf,
    /// v1: controller name → mount point of its hierarchy.
    pub controllers: Vec<(String, PathBuf)>,
    /// Whether each container's device access is limited by its cgroup:
    /// always on v1 (the devices controller); on v2 where this kernel lets
    /// hoist load the eBPF device filter ([`Hierarchy::detect`] tries).
    #[serde(default)]
    pub limits_devices: bool,
}

/// The v1 controllers hoist uses, in the order directories are made.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices",
];

impl Hierarchy {
    /// Whether this host can weigh block I/O: on v1 an I/O scheduler with
    /// weights (BFQ) offers the files at the `blkio` root; v2 has them only
    /// below its root, so there a block device must be using BFQ.
    pub fn block_io_weights(&self) -> bool {
        match self.version {
            Version::V1 => self
                .controllers
                .iter()
                .find(|(c, _)| c == "blkio")
                .is_some_and(|(_, dir)| blkio::weights_supported(dir)),
            Version::V2 => blkio::bfq_in_use(Path::new("/sys/block")),
        }
    }

    /// Reads /proc/self/mountinfo to find the host's cgroup mounts. A host
    /// whose unified tree offers the memory controller is v2; otherwise v1
    /// (a hybrid host may offer a few minor controllers, such as hugetlb, in
    /// its unified tree while memory, cpu and pids stay on v1).
    pub fn detect() -> io::Result<Self> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        let unified_controllers =
            |root: &Path| fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let mut hierarchy = Self::from_mountinfo(&mountinfo, unified_controllers).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no usable cgroup hierarchy is mounted (need cgroup v1 controllers or cgroup v2 with controllers)")
        })?;
        if hierarchy.version == Version::V2 {
            match device_filter::supported() {
                Ok(()) => hierarchy.limits_devices = true,
                Err(e) => tracing::warn!(
                    error = %e,
                    "cgroup v2 without a device filter: containers' device access is not limited by their cgroup, so CAP_MKNOD is withheld and --device permissions narrower than rwm are refused"
                ),
            }
        }
        Ok(hierarchy)
    }

    /// Parses mountinfo text; `unified_controllers` reads the controller
    /// list of a cgroup2 mount (split out for tests).
    pub fn from_mountinfo(
        mountinfo: &str,
        unified_controllers: impl Fn(&Path) -> String,
    ) -> Option<Self> {
        let mut unified = None;
        let mut controllers = Vec::new();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split_whitespace().nth(4)?;
            let mut right = right.split_whitespace();
            let fstype = right.next()?;
            let super_options = right.nth(1).unwrap_or("");
            match fstype {
                "cgroup2" => unified = Some(PathBuf::from(mount_point)),
                "cgroup" => {
                    for option in super_options.split(',') {
                        if V1_CONTROLLERS.contains(&option) {
                            controllers.push((option.to_string(), PathBuf::from(mount_point)));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(root) = &unified {
            let has_memory = unified_controllers(root)
                .split_whitespace()
                .any(|c| c == "memory");
            if has_memory || controllers.is_empty() {
                return Some(Self::v2_at(root));
            }
        }
        (!controllers.is_empty()).then(|| Self {
            version: Version::V1,
            root: PathBuf::new(),
            controllers,
            limits_devices: true,
        })
    }

    /// A v2 hierarchy rooted at `root` (tests use a fake tree), taken to
    /// have no device filter until [`Hierarchy::detect`] finds one.
    pub fn v2_at(root: &Path) -> Self {
        Self {
            version: Version::V2,
            root: root.to_path_buf(),
            controllers: Vec::new(),
            limits_devices: false,
        }
    }

    /// A v1 hierarchy with each controller under `root/<controller>` (tests).
    pub fn v1_at(root: &Path) -> Self {
        Self {
            version: Version::V1,
            root: PathBuf::new(),
            controllers: V1_CONTROLLERS
                .iter()
                .map(|c| (c.to_string(), root.join(c)))
                .collect(),
            limits_devices: true,
        }
    }

    /// The cgroup at `relative` (e.g. `hoist/<id>`), without creating it.
    pub fn cgroup(&self, relative: &str) -> Cgroup {
        let relative = relative.trim_start_matches('/');
        let dirs = match self.version {
            Version::V2 => vec![(String::new(), self.root.join(relative))],
            Version::V1 => self
                .controllers
                .iter()
                .map(|(name, mount)| (name.clone(), mount.join(relative)))
                .collect(),
        };
        Cgroup {
            version: self.version,
            dirs,
            relative: PathBuf::from(relative),
        }
    }
}

/// Devices a default container may use (Docker's allow list), as
/// `devices.allow` lines (v1) or the rules of the device filter (v2).
/// Everything else is denied, so a device node made with CAP_MKNOD cannot
/// be opened.
pub const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",   // null
    "c 1:5 rwm",   // zero
    "c 1:7 rwm",   // full
    "c 1:8 rwm",   // random
    "c 1:9 rwm",   // urandom
    "c 5:0 rwm",   // tty
    "c 5:1 rwm",   // console
    "c 5:2 rwm",   // ptmx
    "c 136:* rwm", // pts
];

/// Which devices a container's processes may use.
#[derive(Debug, Clone, Copy)]
pub enum Devices<'a> {
    /// Every device (a privileged container).
    All,
    /// Docker's default list, plus these `devices.allow` rules (the
    /// container's `--device`s and `--device-cgroup-rule`s).
    Listed(&'a [String]),
}

/// One container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    version: Version,
    /// (controller, directory); on v2 one entry with an empty controller.
    dirs: Vec<(String, PathBuf)>,
    /// The directories relative to their hierarchy's mount point.
    #[serde(default)]
    relative: PathBuf,
}

impl Cgroup {
    /// The cgroup interface in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The directory of `controller` (v1) or the unified directory (v2).
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| self.version == Version::V2 || c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Creates the directories (and missing parents, enabling controllers on
    /// v2 and copying cpusets on v1), limits device access as `devices`
    /// says (v1's devices controller, v2's eBPF device filter) and writes
    /// the limits.
    pub fn create(&self, resources: &Resources, devices: Devices<'_>) -> io::Result<()> {
        match self.version {
            Version::V1 => {
                v1::create(&self.dirs)?;
                if let Devices::Listed(extra) = devices {
                    v1::restrict_devices(self, extra)?;
                }
            }
            Version::V2 => {
                let dir = &self.dirs[0].1;
                v2::create(dir)?;
                if let Devices::Listed(extra) = devices {
                    device_filter::restrict(dir, extra)?;
                }
            }
        }
        self.apply(resources)
    }

    /// Writes the limits (also used by `update`).
    pub fn apply(&self, resources: &Resources) -> io::Result<()> {
        match self.version {
            Version::V1 => v1::apply(self, resources),
            Version::V2 => v2::apply(&self.dirs[0].1, resources),
        }
    }

    /// Moves a process into the cgroup.
    pub fn add_process(&self, pid: i32) -> io::Result<()> {
        for (_, dir) in &self.dirs {
            fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// Moves the calling process — which must be single-threaded — into the
    /// cgroup (see [`Hierarchies::enter`]).
    pub fn enter(&self) -> io::Result<()> {
        self.open_hierarchies()?.enter()
    }

    /// Holds each hierarchy of this cgroup open, so that a process can join
    /// the cgroup after pivot_root has put the host's cgroup mounts out of
    /// its reach, and before the cgroup even exists: a container's init
    /// builds its root filesystem while the shim creates its cgroup.
    pub fn open_hierarchies(&self) -> io::Result<Hierarchies> {
        let depth = self.relative.components().count();
        let roots = self
            .dirs
            .iter()
            .map(|(_, dir)| {
                let root = dir.ancestors().nth(depth).unwrap_or(dir);
                fs::File::open(root).map(OwnedFd::from).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open {}: {e}", root.display()))
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Hierarchies {
            version: self.version,
            relative: self.relative.clone(),
            roots,
        })
    }

    /// PIDs (in the host's namespace) of every process in the cgroup.
    pub fn processes(&self) -> io::Result<Vec<i32>> {
        let dir = match self.version {
            Version::V1 => self.dir("pids").or_else(|| self.dir("memory")),
            Version::V2 => self.dir(""),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "cgroup has no pids or memory directory",
            )
        })?;
        let text = fs::read_to_string(dir.join("cgroup.procs"))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Freezes (pause) or thaws (unpause) every process in the cgroup and
    /// waits until the kernel reports the new state.
    pub fn set_frozen(&self, frozen: bool) -> io::Result<()> {
        match self.version {
            Version::V1 => v1::set_frozen(self, frozen),
            Version::V2 => v2::set_frozen(&self.dirs[0].1, frozen),
        }
    }

    /// How many times the OOM killer killed a process of this cgroup.
    pub fn oom_kills(&self) -> u64 {
        match self.version {
            Version::V1 => self.dir("memory").map_or(0, |d| {
                stats::keyed_value(&d.join("memory.oom_control"), "oom_kill")
            }),
            Version::V2 => stats::keyed_value(&self.dirs[0].1.join("memory.events"), "oom_kill"),
        }
    }

    /// Counters for `stats`.
    pub fn stats(&self) -> CgroupStats {
        stats::read(self)
    }

    /// Kills whatever still runs in the cgroup and removes its directories.
    /// Missing directories are fine: removal is idempotent.
    pub fn destroy(&self) -> io::Result<()> {
        for attempt in 0..50 {
            let mut busy = false;
            for (_, dir) in &self.dirs {
                match fs::remove_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy = true,
                    Err(e) => return Err(e),
                }
            }
            if !busy {
                return Ok(());
            }
            // Something still runs in it. Removing first spares the usual
            // case, a cgroup whose processes have all exited, a read of
            // its process list.
            let pids = self.processes().unwrap_or_default();
            if !pids.is_empty() {
                // A frozen process cannot die: thaw first.
                let _ = self.set_frozen(false);
                for pid in &pids {
                    let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                }
            }
            thread::sleep(Duration::from_millis(if attempt < 10 { 2 } else { 20 }));
        }
        Err(io::Error::other(format!(
            "cgroup {} still has processes after SIGKILL",
            self.dirs
                .first()
                .map_or(String::new(), |(_, d)| d.display().to_string())
        )))
    }

    /// Whether any of the directories exist.
    pub fn exists(&self) -> bool {
        self.dirs.iter().any(|(_, d)| d.exists())
    }
}

/// Writes one cgroup file, saying which one failed.
/// The hierarchies of a cgroup, held open by [`Cgroup::open_hierarchies`].
#[derive(Debug)]
pub struct Hierarchies {
    version: Version,
    relative: PathBuf,
    roots: Vec<OwnedFd>,
}

impl Hierarchies {
    /// Moves the calling process — which must be single-threaded — into the
    /// cgroup. On v1 it writes `0` to each hierarchy's `tasks` file: moving
    /// only oneself, the kernel skips the global threadgroup lock whose
    /// first use in a while waits out an RCU grace period (~20 ms on our
    /// machines). v2 has no such path (`cgroup.threads` needs a threaded
    /// cgroup), so it writes `cgroup.procs`.
    pub fn enter(&self) -> io::Result<()> {
        let file = self.relative.join(match self.version {
            Version::V1 => "tasks",
            Version::V2 => "cgroup.procs",
        });
        for root in &self.roots {
            let fd = nix::fcntl::openat(
                root,
                &file,
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot open {}: {e}", file.display()),
                )
            })?;
            nix::unistd::write(&fd, b"0").map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot join the cgroup through {}: {e}", file.display()),
                )
            })?;
        }
        Ok(())
    }
}

fn write_file(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(file), value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot write {value:?} to {}: {e}",
                dir.join(file).display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_v1_from_mountinfo() {
        let info = "\
30 23 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let h = Hierarchy::from_mountinfo(info, |_| "hugetlb\n".to_string()).unwrap();
        assert_eq!(h.version, Version::V1);
        assert_eq!(
            h.controllers,
            vec![
                ("cpu".to_string(), PathBuf::from("/sys/fs/cgroup/cpu")),
                ("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory")),
            ]
        );
        let cg = h.cgroup("hoist/abc");
        assert_eq!(
            cg.dir("memory"),
            Some(Path::new("/sys/fs/cgroup/memory/hoist/abc"))
        );
    }

    #[test]
    fn detects_pure_v2() {
        let info = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchy::from_mountinfo(info, |_| "cpu memory pids\n".to_string()).unwrap();
        assert_eq!(h.version, Version::V2);
        assert_eq!(
            h.cgroup("/hoist/x").dir(""),
            Some(Path::new("/sys/fs/cgroup/hoist/x"))
        );
    }
}
