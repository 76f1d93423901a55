//! Where a daemon keeps its state and how it is reached.

use std::path::PathBuf;

use hoist_runtime::image::registry::RegistryConfig;

use crate::networks::NetworkConfig;

/// Settings of one `hoist daemon`. Several daemons run side by side on one
/// machine when each has its own root, exec root, socket and cgroup parent.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Persistent state: images, containers, volumes (`--root`).
    pub root: PathBuf,
    /// Runtime state that dies with the host: shim sockets, bundles
    /// (`--exec-root`).
    pub exec_root: PathBuf,
    /// The API socket (`--host unix://…`).
    pub socket: PathBuf,
    /// cgroup under which every container's cgroup is made (`--cgroup-parent`).
    pub cgroup_parent: String,
    /// The `hoist-shim` executable started for each container.
    pub shim: PathBuf,
    /// Insecure registries.
    pub registries: RegistryConfig,
    /// Bridge, default subnet and address pools.
    pub network: NetworkConfig,
}

impl DaemonConfig {
    /// Directory of a container's persistent state.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// A container's writable layer: the upper directory of its overlay.
    pub fn upper_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("upper")
    }

    /// Bytes of a container's writable layer (a walk of its files: call
    /// off the async threads).
    pub fn writable_layer_size(&self, id: &str) -> u64 {
        hoist_runtime::fsutil::disk_usage(&self.upper_dir(id))
    }

    /// Directory of a container's hosts, hostname and resolv.conf: its
    /// runtime directory for a `--rm` container (they go when it goes, and
    /// the exec root is a tmpfs on most hosts: three files fewer on disk per
    /// `run --rm`), its persistent directory otherwise (they survive a
    /// reboot, as Docker's do).
    pub fn etc_files_dir(&self, id: &str, auto_remove: bool) -> PathBuf {
        if auto_remove {
            self.container_run_dir(id)
        } else {
            self.container_dir(id)
        }
    }

    /// The init layer every container's overlay has under its own layer.
    pub fn init_layer(&self) -> PathBuf {
        self.root.join("init-layer")
    }

    /// Directory of a container's runtime state (bundle, shim socket).
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// Where builds keep their contexts and their read-only mounts of
    /// stages and images (in the exec root: gone at reboot, swept at
    /// start).
    pub fn builds_dir(&self) -> PathBuf {
        self.exec_root.join("builds")
    }

    /// Where containers' sandboxes (pinned network namespaces) live.
    pub fn sandboxes_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    /// The cgroup path (relative to each hierarchy) of a container: under
    /// its own `parent` (`--cgroup-parent`), else under the daemon's.
    pub fn cgroup_path(&self, parent: &str, id: &str) -> String {
        let parent = if parent.is_empty() {
            &self.cgroup_parent
        } else {
            parent
        };
        format!("{}/{id}", parent.trim_matches('/'))
    }
}
