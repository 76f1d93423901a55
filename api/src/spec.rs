//! What a user asks for: the container and exec specs the CLI (and later the
//! compose crate and the cluster agent) hand to the daemon.
//!
//! They keep Docker's vocabulary so a `docker run` command line maps onto
//! them one flag to one field, but they are normalised: short forms
//! (`-v a:b:ro`, `--tmpfs /x`) are already turned into [`MountSpec`]s, sizes
//! into bytes and durations into nanoseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blkio::{ThrottleDevice, WeightDevice};
use crate::device::DeviceMapping;

/// Everything needed to create a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// The image reference as the user wrote it (`busybox`, `app:v2`, an ID).
    pub image: String,
    /// Replaces the image's ENTRYPOINT when set; `Some(vec![])` clears it
    /// (`--entrypoint ""`).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's CMD when set.
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` pairs added to (and overriding) the image's Env.
    pub env: Vec<String>,
    /// Replaces the image's WorkingDir when set.
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group` or `uid:gid`; names are resolved from the
    /// image's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// Extra groups (names or GIDs) for the process.
    pub group_add: Vec<String>,
    /// The container's hostname; defaults to the first 12 characters of its ID.
    pub hostname: Option<String>,
    /// The container's NIS domain name.
    pub domainname: Option<String>,
    /// Labels on the container (merged over the image's).
    pub labels: BTreeMap<String, String>,
    /// Allocate a pseudo-terminal (`-t`).
    pub tty: bool,
    /// Keep stdin open (`-i`).
    pub open_stdin: bool,
    /// Close stdin after the first attached client detaches.
    pub stdin_once: bool,
    /// Replaces the image's StopSignal.
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before SIGKILL (default 10).
    pub stop_timeout: Option<i64>,
    /// Replaces the image's HEALTHCHECK; `test: ["NONE"]` disables it.
    pub healthcheck: Option<HealthcheckSpec>,
    /// Ports the container listens on (`80/tcp`), added to the image's.
    pub exposed_ports: Vec<String>,
    /// Binds, volumes and tmpfs mounts, in the order given.
    pub mounts: Vec<MountSpec>,
    /// `--volumes-from`: containers (`NAME[:ro|:rw]`) whose binds and
    /// volumes this one mounts too, at the same places.
    pub volumes_from: Vec<String>,
    /// cgroup limits.
    pub resources: Resources,
    /// What to do when the container exits.
    pub restart_policy: RestartPolicy,
    /// Remove the container (and its anonymous volumes) when it exits (`--rm`).
    pub auto_remove: bool,
    /// `bridge` (the default), `none`, `host`, `container:<name|id>`, or
    /// the name or ID of a user-defined network. Empty means `bridge`.
    pub network_mode: String,
    /// Extra names of the container on its user-defined network
    /// (`--network-alias`).
    pub network_aliases: Vec<String>,
    /// A fixed IPv4 address on its user-defined network (`--ip`).
    pub ipv4_address: Option<String>,
    /// A fixed MAC address (`--mac-address`).
    pub mac_address: Option<String>,
    /// Container ports published on the host (`-p`).
    pub port_bindings: Vec<PortBinding>,
    /// Publish every exposed port on a free host port (`-P`).
    pub publish_all_ports: bool,
    /// DNS servers written to the container's /etc/resolv.conf.
    pub dns: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// resolv.conf options.
    pub dns_options: Vec<String>,
    /// `host:ip` lines added to /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// Other containers or services by `NAME[:ALIAS]` (`--link`): in this
    /// container, ALIAS resolves to NAME on the user-defined networks they
    /// share.
    pub links: Vec<String>,
    /// Mount the root filesystem read-only.
    pub read_only: bool,
    /// All capabilities, all devices, no seccomp, no masked paths.
    pub privileged: bool,
    /// Capabilities added to Docker's default set (`NET_ADMIN` or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities removed from it.
    pub cap_drop: Vec<String>,
    /// `seccomp=unconfined`, `no-new-privileges[:true|false]`, …
    pub security_opt: Vec<String>,
    /// Namespaced kernel parameters (`net.ipv4.ip_forward=1`).
    pub sysctls: BTreeMap<String, String>,
    /// Host devices made available in the container (`--device`).
    pub devices: Vec<DeviceMapping>,
    /// Device cgroup rules added to the default ones (`--device-cgroup-rule
    /// 'c 42:* rmw'`): access to devices the container makes itself.
    pub device_cgroup_rules: Vec<String>,
    /// Resource limits for the process (`nofile=1024:2048`).
    pub ulimits: Vec<Ulimit>,
    /// Size of /dev/shm in bytes; 0 means Docker's 64 MiB.
    pub shm_size: u64,
    /// Run a minimal init as PID 1 that forwards signals and reaps zombies.
    pub init: bool,
    /// `host` to share the host's PID namespace, `container:<id>` another's.
    pub pid_mode: String,
    /// `host`, `private`, `shareable` or `container:<id>`.
    pub ipc_mode: String,
    /// Annotations handed to the runtime in the container's OCI spec
    /// (`--annotation`), as Docker hands them to runc.
    pub annotations: BTreeMap<String, String>,
    /// `host` to share the host's UTS namespace (its hostname); empty for
    /// the container's own.
    pub uts_mode: String,
    /// `host` (or empty): the host's user namespace, the only one hoist
    /// runs containers in (it does not remap users).
    pub userns_mode: String,
    /// `host` to share the host's cgroup namespace; `private` or empty for
    /// the container's own.
    pub cgroupns_mode: String,
    /// The cgroup the container's own is made under, from each hierarchy's
    /// root (`--cgroup-parent`); the daemon's `--cgroup-parent` when empty.
    pub cgroup_parent: String,
    /// Added to the container's OOM badness score (-1000 to 1000), which
    /// its processes start from whatever the daemon's own is.
    pub oom_score_adj: i64,
    /// How the container's output is stored.
    pub log_config: LogConfig,
    /// Platform the image must match (`linux/amd64`); empty means the host's.
    pub platform: String,
    /// Files the container gets from memory (a cluster's secrets and
    /// configs): the daemon writes them into a tmpfs of the container's and
    /// bind-mounts each one read-only at its target. They never reach the
    /// daemon's disk: the container's record is saved without them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<InlineFile>,
}

/// A file given with a container spec, its content inline (see
/// [`ContainerSpec::files`]). Its `Debug` leaves the content out, so that a
/// logged spec never shows a secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InlineFile {
    /// Absolute path of the file in the container.
    pub target: String,
    /// Its content.
    pub data: Vec<u8>,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// Its permission bits (`0o444`).
    pub mode: u32,
}

impl std::fmt::Debug for InlineFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineFile")
            .field("target", &self.target)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// A healthcheck as Docker stores it: durations in nanoseconds, 0 = default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthcheckSpec {
    /// `["NONE"]`, `["CMD", arg…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// Time between checks (default 30 s).
    pub interval: i64,
    /// Time a check may take before it counts as failed (default 30 s).
    pub timeout: i64,
    /// Time at start during which failures do not count (default 0).
    pub start_period: i64,
    /// Time between checks during the start period (default 5 s).
    pub start_interval: i64,
    /// Consecutive failures that make the container unhealthy (default 3).
    pub retries: i64,
}

/// What kind of thing is mounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    #[default]
    Bind,
    /// A named or anonymous volume managed by hoist.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

/// One mount into the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountSpec {
    /// Bind, volume or tmpfs.
    pub kind: MountKind,
    /// Host path (bind), volume name (empty for an anonymous volume), unused
    /// for tmpfs.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Do not copy the image's content at `target` into a new empty volume.
    pub no_copy: bool,
    /// Bind propagation (`rprivate` by default).
    pub propagation: String,
    /// Create a missing bind source as a directory (the `-v` short form
    /// does, Docker's `--mount` does not).
    pub create_source: bool,
    /// tmpfs size in bytes; 0 means unlimited (half of RAM, as the kernel).
    pub tmpfs_size: u64,
    /// tmpfs permission bits; 0 means 1777.
    pub tmpfs_mode: u32,
    /// Extra mount options as given (`tmpfs` options such as `noexec`).
    pub options: Vec<String>,
}

/// cgroup limits; zero values mean "no limit" / "kernel default", as Docker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Hard memory limit in bytes.
    pub memory: i64,
    /// Memory plus swap in bytes; -1 unlimited swap, 0 = twice `memory`.
    pub memory_swap: i64,
    /// Soft limit in bytes.
    pub memory_reservation: i64,
    /// CPUs in billionths (`--cpus 0.5` = 500 000 000).
    pub nano_cpus: i64,
    /// Relative CPU weight (Docker's 2–262144, default 1024).
    pub cpu_shares: i64,
    /// CFS period in microseconds.
    pub cpu_period: i64,
    /// CFS quota in microseconds.
    pub cpu_quota: i64,
    /// CPUs the container may run on (`0-1,3`).
    pub cpuset_cpus: String,
    /// Memory nodes it may use.
    pub cpuset_mems: String,
    /// Maximum number of processes; `None` or ≤ 0 means unlimited.
    pub pids_limit: Option<i64>,
    /// Do not let the OOM killer kill the container (cgroup v1 only).
    pub oom_kill_disable: bool,
    /// How readily the kernel swaps the container's memory (0–100, cgroup
    /// v1 only); `None` keeps the kernel's.
    pub memory_swappiness: Option<i64>,
    /// Relative block I/O weight (10–1000); 0 keeps the kernel's. Only
    /// with an I/O scheduler that weighs (BFQ).
    pub blkio_weight: u16,
    /// Weights for single block devices.
    pub blkio_weight_device: Vec<WeightDevice>,
    /// Read limits in bytes per second, per block device.
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    /// Write limits in bytes per second, per block device.
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    /// Read limits in operations per second, per block device.
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    /// Write limits in operations per second, per block device.
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
}

/// The parts of a `--link NAME[:ALIAS]`: the container or service it
/// names (a leading `/` dropped, as Docker allows) and the name it goes by
/// in the linking container, NAME when no ALIAS is given.
pub fn link_parts(link: &str) -> (&str, &str) {
    let (name, alias) = link.split_once(':').unwrap_or((link, link));
    (name.trim_start_matches('/'), alias)
}

/// What `hoist update` changes in a container: each field set replaces
/// the container's; the rest stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerUpdate {
    /// `-m`.
    pub memory: Option<i64>,
    /// `--memory-swap`.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<i64>,
    /// `--cpus`, in billionths.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--cpu-period`.
    pub cpu_period: Option<i64>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit` (0 or less: unlimited).
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<u16>,
    /// `--restart`.
    pub restart_policy: Option<RestartPolicy>,
}

impl ContainerUpdate {
    /// Whether it changes nothing (Docker asks for at least one flag).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `spec` with the update's fields in place of its own.
    pub fn apply(&self, spec: &mut ContainerSpec) {
        let r = &mut spec.resources;
        let set = |field: &mut i64, value: Option<i64>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut r.memory, self.memory);
        set(&mut r.memory_swap, self.memory_swap);
        set(&mut r.memory_reservation, self.memory_reservation);
        set(&mut r.nano_cpus, self.nano_cpus);
        set(&mut r.cpu_shares, self.cpu_shares);
        set(&mut r.cpu_period, self.cpu_period);
        set(&mut r.cpu_quota, self.cpu_quota);
        if let Some(cpus) = &self.cpuset_cpus {
            r.cpuset_cpus = cpus.clone();
        }
        if let Some(mems) = &self.cpuset_mems {
            r.cpuset_mems = mems.clone();
        }
        if let Some(pids) = self.pids_limit {
            r.pids_limit = Some(pids);
        }
        if let Some(weight) = self.blkio_weight {
            r.blkio_weight = weight;
        }
        if let Some(policy) = &self.restart_policy {
            spec.restart_policy = policy.clone();
        }
    }
}

/// Docker's restart policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `no`, `always`, `on-failure` or `unless-stopped`.
    pub name: String,
    /// For `on-failure`: give up after this many restarts (0 = never give up).
    pub maximum_retry_count: i64,
}

impl RestartPolicy {
    /// Parses Docker's `--restart` value: `no`, `always`, `unless-stopped`,
    /// `on-failure` or `on-failure:N`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let (name, count) = match value.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (value, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(n)) => n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                format!("invalid restart policy {value:?}: the retry count must be a non-negative number")
            })?,
            (_, Some(_)) => {
                return Err(format!(
                    "invalid restart policy {value:?}: only on-failure takes a retry count"
                ));
            }
            _ => 0,
        };
        match name {
            "" | "no" | "always" | "on-failure" | "unless-stopped" => Ok(Self {
                name: if name.is_empty() {
                    "no".into()
                } else {
                    name.into()
                },
                maximum_retry_count,
            }),
            _ => Err(format!(
                "invalid restart policy {value:?}: use no, always, on-failure[:max-retries] or unless-stopped"
            )),
        }
    }

    /// True for `no` (and the empty default).
    pub fn is_none(&self) -> bool {
        self.name.is_empty() || self.name == "no"
    }
}

/// A container port published on the host: one `-p` entry (a range of
/// container ports makes one binding per port).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// The port in the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The host address to publish on; empty for all of the host's.
    pub host_ip: String,
    /// The first host port that may be used; 0 for any free one from the
    /// host's ephemeral range.
    pub host_port: u16,
    /// The last host port that may be used (`-p 8000-8010:80`); equal to
    /// `host_port` for one port.
    pub host_port_end: u16,
}

impl PortBinding {
    /// Parses one `-p` value as Docker does:
    /// `[[HOST_IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/PROTOCOL]`, the
    /// host address of IPv6 in brackets. A container range maps onto a host
    /// range of the same length, or onto free ports when no host port is
    /// given.
    pub fn parse(value: &str) -> Result<Vec<Self>, String> {
        let bad = |why: &str| format!("invalid port specification {value:?}: {why}");
        let (rest, protocol) = match value.rsplit_once('/') {
            Some((rest, protocol)) => (rest, protocol.to_ascii_lowercase()),
            None => (value, "tcp".to_string()),
        };
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(bad("the protocol must be tcp, udp or sctp"));
        }
        let (host_ip, rest) = match rest.strip_prefix('[') {
            Some(bracketed) => {
                let (ip, rest) = bracketed.split_once("]:").ok_or_else(|| {
                    bad("an IPv6 host address in brackets must be followed by ':'")
                })?;
                (ip.to_string(), rest)
            }
            None => match rest.matches(':').count() {
                0 | 1 => (String::new(), rest),
                2 => {
                    let (ip, rest) = rest.split_once(':').unwrap_or_default();
                    (ip.to_string(), rest)
                }
                _ => return Err(bad("put an IPv6 host address in brackets: [::1]:8080:80")),
            },
        };
        let (host, container) = match rest.split_once(':') {
            Some((host, container)) => (host, container),
            None => ("", rest),
        };
        let port_range = |text: &str, what: &str| -> Result<(u16, u16), String> {
            let number = |n: &str| {
                n.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(&format!("{what} {n:?} is not a port number (1-65535)")))
            };
            match text.split_once('-') {
                Some((start, end)) => {
                    let (start, end) = (number(start)?, number(end)?);
                    if end < start {
                        return Err(bad(&format!("{what} range {text} ends before it starts")));
                    }
                    Ok((start, end))
                }
                None => number(text).map(|p| (p, p)),
            }
        };
        let (first, last) = port_range(container, "container port")?;
        let host = if host.is_empty() {
            None
        } else {
            Some(port_range(host, "host port")?)
        };
        let count = last - first;
        if let Some((start, end)) = host
            && count != 0
            && end - start != count
        {
            return Err(bad(
                "a range of container ports needs a host range of the same length",
            ));
        }
        Ok((0..=count)
            .map(|offset| {
                let (host_port, host_port_end) = match host {
                    None => (0, 0),
                    Some((start, end)) if count == 0 => (start, end),
                    Some((start, _)) => (start + offset, start + offset),
                };
                Self {
                    container_port: first + offset,
                    protocol: protocol.clone(),
                    host_ip: host_ip.clone(),
                    host_port,
                    host_port_end,
                }
            })
            .collect())
    }

    /// `80/tcp`, the key Docker files bindings under.
    pub fn port_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    /// The port and protocol of a key such as `80/tcp` (an exposed port;
    /// `80` alone is TCP); `None` when the port is not a number.
    pub fn split_key(key: &str) -> Option<(u16, &str)> {
        let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
        Some((port.parse().ok()?, protocol))
    }

    /// The host port(s) as Docker shows them: empty (any), `8080`, or
    /// `8000-8010`.
    pub fn host_port_text(&self) -> String {
        match (self.host_port, self.host_port_end) {
            (0, _) => String::new(),
            (start, end) if end > start => format!("{start}-{end}"),
            (start, _) => start.to_string(),
        }
    }
}

/// One process resource limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, `core`, … (without the `RLIMIT_` prefix).
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

impl Ulimit {
    /// Parses `name=soft[:hard]` (`--ulimit nofile=1024:2048`); the hard
    /// limit is the soft one when not given.
    pub fn parse(value: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid --ulimit {value:?}: use name=soft[:hard], e.g. nofile=1024:2048");
        let (name, limits) = value.split_once('=').ok_or_else(bad)?;
        let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
        Ok(Ulimit {
            name: name.to_string(),
            soft: soft.parse().map_err(|_| bad())?,
            hard: hard.parse().map_err(|_| bad())?,
        })
    }
}

/// The logging driver and its options (`json-file` with `max-size`,
/// `max-file`; `none`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    /// `json-file` (default) or `none`.
    #[serde(rename = "Type")]
    pub driver: String,
    /// Driver options.
    pub config: BTreeMap<String, String>,
}

/// A process to start in a running container (`hoist exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// `KEY=value` pairs added to the container's environment.
    pub env: Vec<String>,
    /// Working directory; defaults to the container's.
    pub working_dir: Option<String>,
    /// User to run as; defaults to the container's.
    pub user: Option<String>,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Give the process all capabilities and no seccomp filter.
    pub privileged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policy_parses_docker_forms() {
        assert_eq!(RestartPolicy::parse("no").unwrap().name, "no");
        assert_eq!(RestartPolicy::parse("always").unwrap().name, "always");
        let p = RestartPolicy::parse("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn an_update_replaces_only_what_it_sets() {
        let mut spec = ContainerSpec {
            resources: Resources {
                memory: 64 << 20,
                cpu_shares: 512,
                cpuset_cpus: "0".into(),
                ..Resources::default()
            },
            ..ContainerSpec::default()
        };
        let update = ContainerUpdate {
            memory: Some(128 << 20),
            pids_limit: Some(50),
            restart_policy: Some(RestartPolicy::parse("always").unwrap()),
            ..ContainerUpdate::default()
        };
        assert!(!update.is_empty() && ContainerUpdate::default().is_empty());
        update.apply(&mut spec);
        assert_eq!(spec.resources.memory, 128 << 20);
        assert_eq!(spec.resources.cpu_shares, 512);
        assert_eq!(spec.resources.cpuset_cpus, "0");
        assert_eq!(spec.resources.pids_limit, Some(50));
        assert_eq!(spec.restart_policy.name, "always");
    }

    fn binding(container: u16, protocol: &str, ip: &str, host: (u16, u16)) -> PortBinding {
        PortBinding {
            container_port: container,
            protocol: protocol.into(),
            host_ip: ip.into(),
            host_port: host.0,
            host_port_end: host.1,
        }
    }

    #[test]
    fn port_specifications_parse_like_docker() {
        let one = |v: &str| PortBinding::parse(v).unwrap();
        assert_eq!(one("80"), [binding(80, "tcp", "", (0, 0))]);
        assert_eq!(one("8080:80"), [binding(80, "tcp", "", (8080, 8080))]);
        assert_eq!(
            one("127.0.0.1:9090:90/udp"),
            [binding(90, "udp", "127.0.0.1", (9090, 9090))]
        );
        assert_eq!(
            one("127.0.0.1::90"),
            [binding(90, "tcp", "127.0.0.1", (0, 0))]
        );
        assert_eq!(
            one("[::1]:8080:80"),
            [binding(80, "tcp", "::1", (8080, 8080))]
        );
        assert_eq!(one("8000-8010:80"), [binding(80, "tcp", "", (8000, 8010))]);
        assert_eq!(
            one("7000-7001:80-81/UDP"),
            [
                binding(80, "udp", "", (7000, 7000)),
                binding(81, "udp", "", (7001, 7001))
            ]
        );
        assert_eq!(
            one("80-81"),
            [
                binding(80, "tcp", "", (0, 0)),
                binding(81, "tcp", "", (0, 0))
            ]
        );
        assert_eq!(
            one("8080:80").first().map(|b| b.port_key()),
            Some("80/tcp".into())
        );
        assert_eq!(one("8000-8010:80")[0].host_port_text(), "8000-8010");
        assert_eq!(PortBinding::split_key("53/udp"), Some((53, "udp")));
        assert_eq!(PortBinding::split_key("80"), Some((80, "tcp")));
        assert_eq!(PortBinding::split_key("http/tcp"), None);
    }

    #[test]
    fn bad_port_specifications_say_what_is_wrong() {
        for (value, why) in [
            ("80/icmp", "tcp, udp or sctp"),
            ("0", "not a port number"),
            ("70000:80", "not a port number"),
            ("x:80", "not a port number"),
            ("8080:90-80", "ends before it starts"),
            ("8000-8002:80-81", "same length"),
            ("::1:8080:80", "brackets"),
        ] {
            let error = PortBinding::parse(value).unwrap_err();
            assert!(
                error.contains(value) && error.contains(why),
                "{value}: {error}"
            );
        }
    }

    #[test]
    fn container_spec_round_trips_through_json() {
        let spec = ContainerSpec {
            image: "busybox".into(),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            restart_policy: RestartPolicy::parse("on-failure:2").unwrap(),
            ..Default::default()
        };
        let json = serde_json::to_vec(&spec).unwrap();
        let back: ContainerSpec = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, spec);
    }
}
