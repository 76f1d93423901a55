//! The documents `hoist inspect` prints, shaped and named as Docker's so that
//! scripts reading `.State.Status` or `.HostConfig.Memory` keep working.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blkio::{ThrottleDevice, WeightDevice};
use crate::device::DeviceMapping;
use crate::spec::{HealthcheckSpec, LogConfig, RestartPolicy, Ulimit};

/// `hoist inspect <container>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// Full container ID (64 hex digits).
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The executable of the main process.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Runtime state.
    pub state: ContainerState,
    /// The image ID (`sha256:…`).
    pub image: String,
    /// Files the runtime generated for the container.
    pub resolv_conf_path: String,
    /// Path of the generated /etc/hostname.
    pub hostname_path: String,
    /// Path of the generated /etc/hosts.
    pub hosts_path: String,
    /// Path of the json-file log.
    pub log_path: String,
    /// `/name`, as Docker prints it.
    pub name: String,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// The storage driver (`overlay2`, as Docker names overlayfs).
    pub driver: String,
    /// `linux`.
    pub platform: String,
    /// Host-side settings.
    pub host_config: HostConfig,
    /// Where the container's filesystem lives.
    pub graph_driver: GraphDriver,
    /// What is mounted into the container.
    pub mounts: Vec<MountPoint>,
    /// The container's configuration, merged with the image's.
    pub config: ContainerConfig,
    /// Network state.
    pub network_settings: NetworkSettings,
}

/// `.State` of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// created, running, paused, restarting, removing, exited or dead.
    pub status: String,
    /// True while the process runs (also when paused).
    pub running: bool,
    /// True while frozen.
    pub paused: bool,
    /// True while waiting to be restarted by its policy.
    pub restarting: bool,
    /// True when the last exit was the kernel's OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// True when the container could not be cleaned up.
    pub dead: bool,
    /// Host PID of the main process, 0 when not running.
    pub pid: i64,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Why the last start failed.
    pub error: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` before the first start.
    pub started_at: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` before the first exit.
    pub finished_at: String,
    /// Present when the container has a healthcheck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `.State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// starting, healthy or unhealthy.
    pub status: String,
    /// Consecutive failed checks.
    pub failing_streak: i64,
    /// The last five results, oldest first.
    pub log: Vec<HealthLogEntry>,
}

/// One healthcheck run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
    /// 0 healthy, 1 unhealthy, -1 the check could not run.
    pub exit_code: i64,
    /// The check's output, cut at 4 KiB.
    pub output: String,
}

/// `.HostConfig`: the host-side settings, in Docker's units.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `-v` strings as given, for bind mounts and named volumes.
    pub binds: Vec<String>,
    /// `--volumes-from` as given.
    pub volumes_from: Vec<String>,
    /// Network mode.
    pub network_mode: String,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// DNS options.
    pub dns_options: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// `--add-host` entries.
    pub extra_hosts: Vec<String>,
    /// Extra groups.
    pub group_add: Vec<String>,
    /// IPC namespace mode.
    pub ipc_mode: String,
    /// PID namespace mode.
    pub pid_mode: String,
    /// `host` or empty.
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// `private` or `host`.
    pub cgroupns_mode: String,
    /// `host` or empty.
    pub userns_mode: String,
    /// `--annotation`s.
    pub annotations: BTreeMap<String, String>,
    /// `--link`s, as Docker shows them: `/NAME:/CONTAINER/ALIAS`.
    pub links: Vec<String>,
    /// `--cgroup-parent`.
    pub cgroup_parent: String,
    /// `--oom-score-adj`.
    pub oom_score_adj: i64,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// `--security-opt` values.
    pub security_opt: Vec<String>,
    /// tmpfs mounts: target → options.
    pub tmpfs: BTreeMap<String, String>,
    /// /dev/shm size in bytes.
    pub shm_size: u64,
    /// Namespaced sysctls.
    pub sysctls: BTreeMap<String, String>,
    /// `--init`.
    pub init: bool,
    /// Log driver.
    pub log_config: LogConfig,
    /// Memory limit in bytes.
    pub memory: i64,
    /// Memory + swap limit in bytes.
    pub memory_swap: i64,
    /// Soft memory limit in bytes.
    pub memory_reservation: i64,
    /// CPUs in billionths.
    pub nano_cpus: i64,
    /// CPU weight.
    pub cpu_shares: i64,
    /// CFS period (µs).
    pub cpu_period: i64,
    /// CFS quota (µs).
    pub cpu_quota: i64,
    /// Allowed CPUs.
    pub cpuset_cpus: String,
    /// Allowed memory nodes.
    pub cpuset_mems: String,
    /// Process limit; null when unlimited.
    pub pids_limit: Option<i64>,
    /// OOM killer disabled.
    pub oom_kill_disable: bool,
    /// `--memory-swappiness`; null when the kernel's is kept.
    pub memory_swappiness: Option<i64>,
    /// `--blkio-weight`.
    pub blkio_weight: u16,
    /// `--blkio-weight-device`.
    pub blkio_weight_device: Vec<WeightDevice>,
    /// `--device-read-bps`.
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    /// `--device-write-bps`.
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    /// `--device-read-iops`.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    /// `--device-write-iops`.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    /// Process resource limits.
    pub ulimits: Vec<Ulimit>,
    /// Host devices (`--device`).
    pub devices: Vec<DeviceMapping>,
    /// Extra device cgroup rules (`--device-cgroup-rule`).
    pub device_cgroup_rules: Vec<String>,
    /// Published ports: `80/tcp` → bindings.
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`.
    pub publish_all_ports: bool,
}

/// A host address and port a container port is published on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// Host address; empty means all.
    pub host_ip: String,
    /// Host port.
    pub host_port: String,
}

/// `.GraphDriver`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    /// `overlay2`.
    pub name: String,
    /// `LowerDir`, `UpperDir`, `WorkDir`, `MergedDir`.
    pub data: BTreeMap<String, String>,
}

/// One entry of `.Mounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// bind, volume or tmpfs.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// `local` for volumes.
    pub driver: String,
    /// Mount mode as given (`ro`, `z`, …).
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Bind propagation.
    pub propagation: String,
}

/// `.Config`: the container's configuration merged with its image's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// Hostname.
    pub hostname: String,
    /// Domain name.
    pub domainname: String,
    /// User.
    pub user: String,
    /// Whether stdin is attached.
    pub attach_stdin: bool,
    /// Whether stdout is attached.
    pub attach_stdout: bool,
    /// Whether stderr is attached.
    pub attach_stderr: bool,
    /// Exposed ports as a set (`{"80/tcp": {}}`).
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub open_stdin: bool,
    /// Close stdin after the first attach.
    pub stdin_once: bool,
    /// Environment.
    pub env: Vec<String>,
    /// CMD.
    pub cmd: Option<Vec<String>>,
    /// Healthcheck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthcheckSpec>,
    /// The image reference as given.
    pub image: String,
    /// Anonymous volume targets as a set.
    pub volumes: BTreeMap<String, EmptyObject>,
    /// Working directory.
    pub working_dir: String,
    /// ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Stop signal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Stop timeout in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
}

/// Go's `struct{}` as JSON: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// `.NetworkSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Path of the network namespace, when the container has its own.
    pub sandbox_key: String,
    /// Published ports: `80/tcp` → bindings (null when not published).
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
    /// The address on the first network (Docker's legacy top-level field).
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Its gateway.
    pub gateway: String,
    /// Its MAC address.
    pub mac_address: String,
    /// The networks it is connected to, by name.
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// A container's endpoint on one network, as Docker's inspect shows it;
/// the addresses are empty while the container is stopped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    /// `--network-alias` names.
    pub aliases: Vec<String>,
    /// The network's ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Random, per plugging.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The network's gateway.
    pub gateway: String,
    /// The container's address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// The subnet's prefix length.
    pub ip_prefix_len: u8,
    /// The interface's MAC address.
    pub mac_address: String,
}

/// `hoist image inspect <image>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// `sha256:` + the config digest.
    pub id: String,
    /// `repository:tag` references.
    pub repo_tags: Vec<String>,
    /// `repository@sha256:…` references.
    pub repo_digests: Vec<String>,
    /// RFC 3339.
    pub created: String,
    /// Author from the config.
    pub author: String,
    /// The image's default configuration.
    pub config: serde_json::Value,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, … for arm.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// `linux`.
    pub os: String,
    /// Size of the unpacked layers in bytes.
    pub size: u64,
    /// Where the layers live.
    pub graph_driver: GraphDriver,
    /// The layer diff IDs.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Extra: the manifest digest hoist stores it under.
    pub descriptor: serde_json::Value,
}

/// `.RootFS` of an image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Uncompressed layer digests, bottom first.
    pub layers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `inspect` leaves out when empty reads back as empty: a bind
    /// mount has no volume name, a container may have no stop signal.
    #[test]
    fn documents_read_back_with_their_empty_fields_left_out() {
        let container = ContainerInspect {
            name: "/web".into(),
            mounts: vec![MountPoint {
                kind: "bind".into(),
                source: "/srv".into(),
                destination: "/www".into(),
                ..MountPoint::default()
            }],
            ..ContainerInspect::default()
        };
        let json = serde_json::to_string(&container).unwrap();
        assert!(!json.contains("\"StopSignal\""), "{json}");
        let back: ContainerInspect = serde_json::from_str(&json).unwrap();
        assert_eq!(back.mounts[0].name, "");
        assert_eq!(back.mounts[0].destination, "/www");
        assert_eq!(back.config.stop_signal, "");
        let image: ImageInspect =
            serde_json::from_str(&serde_json::to_string(&ImageInspect::default()).unwrap())
                .unwrap();
        assert_eq!(image.variant, "");
    }
}
