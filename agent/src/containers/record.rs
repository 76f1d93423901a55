//! What the daemon persists for each container (`container.json`): the spec
//! as asked, the settings merged with the image, resolved mounts, and the
//! runtime state.

use std::path::{Path, PathBuf};

use hoist_api::inspect::Health;
use hoist_api::spec::{ContainerSpec, HealthcheckSpec, MountKind};
use serde::{Deserialize, Serialize};

use crate::networks::Identity;
use crate::networks::record::{EndpointRecord, PortMapping};

/// File name of the record in the container's directory.
pub const RECORD_FILE: &str = "container.json";

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started.
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Waiting for its restart policy's delay.
    Restarting,
    /// Being removed.
    Removing,
    /// Its process ended.
    Exited,
    /// Could not be cleaned up.
    Dead,
}

impl Status {
    /// Docker's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
        }
    }

    /// Whether a process exists (running or frozen).
    pub fn is_alive(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }
}

/// Settings after merging the spec with the image config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// ENTRYPOINT in effect.
    pub entrypoint: Vec<String>,
    /// CMD in effect.
    pub cmd: Vec<String>,
    /// Environment.
    pub env: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// User string (resolved at each start).
    pub user: String,
    /// Hostname.
    pub hostname: String,
    /// Labels (image's, then the spec's).
    pub labels: std::collections::BTreeMap<String, String>,
    /// Signal `stop` sends.
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: i64,
    /// Healthcheck in effect, if any.
    pub healthcheck: Option<HealthcheckSpec>,
    /// Exposed ports (`80/tcp`).
    pub exposed_ports: Vec<String>,
}

impl Settings {
    /// The full command line: ENTRYPOINT then CMD.
    pub fn command(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

/// A mount with its host side resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountRecord {
    /// Bind, volume or tmpfs.
    pub kind: MountKind,
    /// Volume name (volumes only).
    pub name: String,
    /// Host path (bind source or volume data directory).
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Read-only.
    pub read_only: bool,
    /// Bind propagation.
    pub propagation: String,
    /// An anonymous volume (removed with `rm -v` and `--rm`).
    pub anonymous: bool,
    /// Fill an empty volume from the image at first use.
    pub copy_up: bool,
    /// tmpfs mount options (`size=…,mode=…`).
    pub options: Vec<String>,
}

/// A file the container got from memory (see [`super::files`]): where it
/// is on the container's tmpfs and where it is mounted. Its content is not
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path in the container.
    pub target: String,
    /// The file on the container's tmpfs.
    pub source: PathBuf,
}

/// Runtime state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Docker's state.
    pub status: Status,
    /// Host PID of the init while alive.
    pub pid: i32,
    /// Last exit code.
    pub exit_code: i32,
    /// Why the last start failed.
    pub error: String,
    /// The last exit was the OOM killer's.
    pub oom_killed: bool,
    /// RFC 3339, empty before the first start.
    pub started_at: String,
    /// RFC 3339, empty before the first exit.
    pub finished_at: String,
    /// Restarts made by the restart policy.
    pub restart_count: i64,
    /// Stopped by the user: restart policies leave it alone (`always`
    /// only until the daemon restarts).
    pub manually_stopped: bool,
    /// Health, when the container has a healthcheck.
    pub health: Option<Health>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: String::new(),
            finished_at: String::new(),
            restart_count: 0,
            manually_stopped: false,
            health: None,
        }
    }
}

/// Everything the daemon knows about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique name (without Docker's leading `/`).
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The spec as the client sent it, less its files' contents.
    pub spec: ContainerSpec,
    /// `sha256:` image ID.
    pub image_id: String,
    /// Chain IDs of the image's layers, bottom first.
    pub layers: Vec<String>,
    /// Merged settings.
    pub settings: Settings,
    /// Resolved mounts, in mount order.
    pub mounts: Vec<MountRecord>,
    /// Runtime state.
    pub state: State,
    /// The networks it is connected to (none with `--network
    /// none|host|container:`).
    #[serde(default)]
    pub networks: Vec<EndpointRecord>,
    /// The host ports it holds while it runs (`-p`, `-P`).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The files it got from memory (secrets and configs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRecord>,
}

impl ContainerRecord {
    /// The first 12 hex digits, as Docker prints IDs.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// How its networks know it: for its names and its resolver.
    pub fn identity(&self) -> Identity<'_> {
        Identity {
            id: &self.id,
            name: &self.name,
            dns: &self.spec.dns,
            links: &self.spec.links,
        }
    }

    /// Writes the record atomically and durably into `dir` (create, rename:
    /// what must survive a power loss).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        hoist_runtime::fsutil::write_json_atomic(&dir.join(RECORD_FILE), self)
    }

    /// Writes the record atomically without fsync, for state transitions
    /// (running, exited, paused, health): after a power loss the processes
    /// are gone whatever the record says, and the daemon then marks them
    /// exited.
    pub fn save_state(&self, dir: &Path) -> std::io::Result<()> {
        hoist_runtime::fsutil::replace_json_atomic(&dir.join(RECORD_FILE), self)
    }

    /// [`save_state`](Self::save_state) for a start or an exit, which a
    /// `--rm` container skips unless it is on a network: a daemon restarted
    /// while it runs re-adopts it through its shim, and one that finds its
    /// shim gone removes it; but its addresses and links must be known to be
    /// given back.
    pub fn save_run_state(&self, dir: &Path) -> std::io::Result<()> {
        if self.spec.auto_remove && self.networks.is_empty() {
            return Ok(());
        }
        self.save_state(dir)
    }
}
