//! The bundle: everything the shim needs to run one container, written by
//! the daemon as `bundle.json` in the container's runtime directory.
//!
//! The process, mounts, namespaces and security settings are an OCI runtime
//! spec (oci-spec), so the shim is a runtime in the runc sense. What OCI
//! leaves to the caller — the overlay root filesystem, the cgroup limits in
//! Docker's units, the seccomp mode, stdio and logging — sits beside it.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};
use serde::{Deserialize, Serialize};

use crate::cgroup::{Cgroup, Devices, Resources};
use crate::container::security::SeccompMode;
use crate::logs::LogOptions;

/// File name of the bundle in the container's runtime directory.
pub const BUNDLE_FILE: &str = "bundle.json";
/// File the shim writes (atomically) when the container's main process ends.
pub const EXIT_FILE: &str = "exit.json";
/// The shim's socket in the container's runtime directory.
pub const SOCKET_FILE: &str = "shim.sock";
/// Where the root filesystem is mounted, inside the container's mount
/// namespace only.
pub const ROOTFS_DIR: &str = "rootfs";

/// One container, ready to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// The container ID.
    pub id: String,
    /// Process, mounts, namespaces, hostname, masked paths, sysctls.
    pub spec: Spec,
    /// The overlay to mount as `/`.
    pub rootfs: RootfsMount,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    /// Limits written into it.
    pub resources: Resources,
    /// Privileged: every device allowed.
    pub all_devices: bool,
    /// Otherwise, `devices.allow` rules beyond Docker's default list: the
    /// container's `--device`s and `--device-cgroup-rule`s.
    #[serde(default)]
    pub device_rules: Vec<String>,
    /// The seccomp filter to install.
    pub seccomp: SeccompMode,
    /// Keep the container's stdin open for attached clients (`-i`).
    pub open_stdin: bool,
    /// Close stdin when the first attached client detaches.
    pub stdin_once: bool,
    /// Where output goes; `None` discards it (`--log-driver none`).
    pub log: Option<LogOptions>,
    /// Keep a minimal init as PID 1 that forwards signals and reaps
    /// (`--init`).
    pub init: bool,
    /// Mount destinations whose (volume) source, when empty, is first
    /// filled with what the image has at that path, as Docker does.
    pub copy_up: Vec<PathBuf>,
}

/// An overlay mount: image layers below, the container's own layer above.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootfsMount {
    /// Directory the lower layers are relative to (keeps the mount options
    /// under the kernel's one-page limit).
    pub layers_root: PathBuf,
    /// Lower layer directories relative to `layers_root`, top first.
    pub lower: Vec<String>,
    /// The container's writable layer.
    pub upper: PathBuf,
    /// overlayfs' work directory (same filesystem as `upper`).
    pub work: PathBuf,
    /// Mount with `volatile`: no sync of the upper filesystem at unmount.
    /// For `--rm` containers, whose layer is deleted at exit anyway: the
    /// sync would flush the host's whole filesystem on every exit.
    #[serde(default)]
    pub volatile: bool,
}

impl RootfsMount {
    /// The `-o` option string for mount(2).
    pub fn options(&self) -> String {
        format!(
            "lowerdir={},upperdir={},workdir={}{}",
            self.lower.join(":"),
            self.upper.display(),
            self.work.display(),
            if self.volatile { ",volatile" } else { "" }
        )
    }

    /// The marker a `volatile` mount leaves in the work directory; the
    /// kernel refuses to mount again while it exists.
    pub fn volatile_marker(&self) -> PathBuf {
        self.work.join("work/incompat/volatile")
    }
}

/// A process to start in a running container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecProcess {
    /// Args, env, cwd, user, capabilities, terminal.
    pub process: Process,
    /// Its seccomp filter.
    pub seccomp: SeccompMode,
    /// Keep stdin open.
    pub open_stdin: bool,
}

impl Bundle {
    /// The devices the container's cgroup allows.
    pub fn devices(&self) -> Devices<'_> {
        if self.all_devices {
            Devices::All
        } else {
            Devices::Listed(&self.device_rules)
        }
    }

    /// Reads `bundle.json` from a runtime directory.
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        crate::fsutil::read_json(&dir.join(BUNDLE_FILE))
    }

    /// Writes `bundle.json` into a runtime directory.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        crate::fsutil::replace_json_atomic(&dir.join(BUNDLE_FILE), self)
    }

    /// The process to run (a bundle always has one; the daemon builds it).
    pub fn process(&self) -> Option<&Process> {
        self.spec.process().as_ref()
    }
}

/// How the main process ended, as written to `exit.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// RFC 3339.
    pub finished_at: String,
    /// Set when the container never started: why.
    pub error: Option<String>,
}
