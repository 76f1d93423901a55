//! The flags of `run` and `create` (Docker's names and short forms) and
//! their translation into a [`ContainerSpec`].

use std::collections::BTreeMap;

use clap::{ArgAction, Args};
use hoist_api::blkio::{ThrottleDevice, WeightDevice, check_weight};
use hoist_api::device::{DeviceMapping, check_cgroup_rule};
use hoist_api::spec::{
    ContainerSpec, HealthcheckSpec, LogConfig, MountKind, MountSpec, PortBinding, Resources,
    RestartPolicy, Ulimit,
};
use hoist_api::units::{parse_bytes, parse_duration};

use crate::exit::CliError;

/// Flags shared by `hoist run` and `hoist create`.
#[derive(Debug, Clone, Args)]
pub struct ContainerFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Set metadata on a container
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<String>,
    /// Bind mount a volume (SRC:DST[:OPTS], NAME:DST[:OPTS] or DST)
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s) (NAME[:ro|:rw])
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        allow_hyphen_values = true,
        default_value_t = 0
    )]
    pub oom_score_adj: i64,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight", default_value_t = 0)]
    pub blkio_weight: u16,
    /// Block IO weight (relative device weight, DEVICE:WEIGHT)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device (DEVICE:RATE, like /dev/sda:1mb)
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (DEVICE:RATE)
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", allow_hyphen_values = true, default_value_t = -1)]
    pub memory_swappiness: i64,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Connect a container to a network (bridge, none, host, container:<name|id>, or a network's name)
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Add link to another container (NAME[:ALIAS]): ALIAS resolves to it on the networks they share
    #[arg(long)]
    pub link: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS], permissions a mix of r, w, m)
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 42:* rmw')
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Ulimit options (name=soft[:hard])
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// Add an annotation to the container, passed through to the OCI runtime (KEY=VALUE)
    #[arg(long)]
    pub annotation: Vec<String>,
    /// User namespace to use (host: the only one, hoist does not remap users)
    #[arg(long)]
    pub userns: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long)]
    pub uts: Option<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Runtime to use for this container (hoist's own, which answers to hoist and runc)
    #[arg(long)]
    pub runtime: Option<String>,
    /// Container isolation technology (default: the only one on Linux)
    #[arg(long)]
    pub isolation: Option<String>,
    /// Kernel memory limit (ignored with a warning: deprecated, as in Docker)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Skip image verification (always: hoist does not verify image signatures)
    #[arg(long = "disable-content-trust", num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: Option<bool>,
    /// Optional volume driver for the container (local, the only one)
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
    // Docker's flags hoist cannot honour: hidden, and refused by name
    // (`refuse_docker_only`).
    /// Storage driver options (refused).
    #[arg(long = "storage-opt", hide = true)]
    pub storage_opt: Vec<String>,
    /// GPU devices (refused).
    #[arg(long, hide = true)]
    pub gpus: Option<String>,
    /// IPv6 address (refused).
    #[arg(long, hide = true)]
    pub ip6: Option<String>,
    /// Link-local addresses (refused).
    #[arg(long = "link-local-ip", hide = true)]
    pub link_local_ip: Vec<String>,
    /// Docker's API socket in the container (refused).
    #[arg(long = "use-api-socket", hide = true)]
    pub use_api_socket: bool,
    /// Real-time CPU period (refused).
    #[arg(long = "cpu-rt-period", hide = true)]
    pub cpu_rt_period: Option<String>,
    /// Real-time CPU runtime (refused).
    #[arg(long = "cpu-rt-runtime", hide = true)]
    pub cpu_rt_runtime: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long, value_parser = ["host", "private"])]
    pub cgroupns: Option<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h)
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing", value_parser = ["always", "missing", "never"])]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub image_and_command: Vec<String>,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::usage(message)
}

/// Each of `values` read by `parse`; the first refusal is a usage error.
fn parse_all<T>(
    values: &[String],
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, CliError> {
    values.iter().map(|v| parse(v).map_err(usage)).collect()
}

/// `KEY=VALUE` lines of an env or label file; `KEY` alone takes the value
/// from the environment (env files only), `#` starts a comment.
fn read_key_value_file(path: &str, from_env: bool) -> Result<Vec<String>, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {path}: {e}")))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('=') {
            out.push(line.to_string());
        } else if from_env {
            if let Ok(value) = std::env::var(line.trim()) {
                out.push(format!("{}={value}", line.trim()));
            }
        } else {
            return Err(usage(format!(
                "{path}:{}: {line:?} is not KEY=VALUE",
                n + 1
            )));
        }
    }
    Ok(out)
}

/// `-e KEY` takes KEY's value from the CLI's environment (and is dropped
/// when unset), as Docker does.
fn resolve_env(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

fn key_values(entries: &[String], what: &str) -> Result<BTreeMap<String, String>, CliError> {
    entries
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(usage(format!("invalid {what} {e:?}: use KEY=VALUE"))),
        })
        .collect()
}

/// Parses `-v`: `SRC:DST[:OPTS]` (a path is a bind, a name a volume) or
/// `DST` (an anonymous volume).
pub fn parse_volume_flag(value: &str) -> Result<MountSpec, CliError> {
    let bad = |why: &str| usage(format!("invalid volume specification {value:?}: {why}"));
    let parts: Vec<&str> = value.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => return Err(bad("use SRC:DST[:OPTIONS]")),
    };
    if !target.starts_with('/') {
        return Err(bad("the container path must be absolute"));
    }
    let kind = if source.is_empty() {
        MountKind::Volume
    } else if source.starts_with('/') {
        MountKind::Bind
    } else if source.starts_with('.') || source.contains('/') {
        return Err(bad(
            "a host path must be absolute (docker compose resolves relative ones, docker run does not)",
        ));
    } else {
        MountKind::Volume
    };
    let mut mount = MountSpec {
        kind,
        source: source.to_string(),
        target: target.to_string(),
        create_source: kind == MountKind::Bind,
        ..Default::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" | "readonly" => mount.read_only = true,
            "rw" => mount.read_only = false,
            "nocopy" => mount.no_copy = true,
            "z" | "Z" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                mount.propagation = option.to_string()
            }
            other => return Err(bad(&format!("unknown option {other:?}"))),
        }
    }
    Ok(mount)
}

/// Parses `--mount type=…,source=…,target=…[,readonly][,…]`.
pub fn parse_mount_flag(value: &str) -> Result<MountSpec, CliError> {
    let bad = |why: String| usage(format!("invalid --mount {value:?}: {why}"));
    let mut mount = MountSpec {
        kind: MountKind::Volume,
        ..Default::default()
    };
    for field in value.split(',') {
        let (key, val) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => {
                mount.kind = match val {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(bad(format!(
                            "unknown type {other:?}: use bind, volume or tmpfs"
                        )));
                    }
                }
            }
            "source" | "src" => mount.source = val.to_string(),
            "target" | "destination" | "dst" => mount.target = val.to_string(),
            "readonly" | "ro" => mount.read_only = val.is_empty() || val == "true" || val == "1",
            "bind-propagation" => mount.propagation = val.to_string(),
            "volume-nocopy" => mount.no_copy = val.is_empty() || val == "true",
            "tmpfs-size" => mount.tmpfs_size = parse_bytes(val).map_err(bad)? as u64,
            "tmpfs-mode" => {
                mount.tmpfs_mode = u32::from_str_radix(val, 8)
                    .map_err(|_| bad(format!("tmpfs-mode {val:?} is not octal")))?
            }
            "consistency" | "bind-nonrecursive" | "volume-driver" | "volume-label"
            | "volume-opt" => {}
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    if mount.target.is_empty() {
        return Err(bad("target is required".into()));
    }
    if mount.kind == MountKind::Bind && mount.source.is_empty() {
        return Err(bad("a bind mount needs a source".into()));
    }
    Ok(mount)
}

/// Parses `--tmpfs PATH[:OPTIONS]` (size=…, mode=…, and mount flags).
pub fn parse_tmpfs_flag(value: &str) -> Result<MountSpec, CliError> {
    let (target, options) = value.split_once(':').unwrap_or((value, ""));
    if !target.starts_with('/') {
        return Err(usage(format!(
            "invalid --tmpfs {value:?}: the path must be absolute"
        )));
    }
    let mut mount = MountSpec {
        kind: MountKind::Tmpfs,
        target: target.to_string(),
        ..Default::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        if let Some(size) = option.strip_prefix("size=") {
            mount.tmpfs_size = parse_bytes(size)
                .map_err(|e| usage(format!("invalid --tmpfs {value:?}: {e}")))?
                as u64;
        } else if let Some(mode) = option.strip_prefix("mode=") {
            mount.tmpfs_mode = u32::from_str_radix(mode, 8).map_err(|_| {
                usage(format!(
                    "invalid --tmpfs {value:?}: mode {mode:?} is not octal"
                ))
            })?;
        } else if option == "ro" {
            mount.read_only = true;
        } else if matches!(
            option,
            "rw" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev"
        ) {
            mount.options.push(option.to_string());
        } else {
            return Err(usage(format!(
                "invalid --tmpfs {value:?}: unknown option {option:?}"
            )));
        }
    }
    Ok(mount)
}

/// Parses `--ulimit name=soft[:hard]`.
pub fn parse_ulimit(value: &str) -> Result<Ulimit, CliError> {
    Ulimit::parse(value).map_err(usage)
}

/// `--cpus` in billionths of a CPU, as the daemon takes it.
pub fn nano_cpus(cpus: Option<f64>) -> Result<Option<i64>, CliError> {
    match cpus {
        Some(c) if !(0.0..=1e6).contains(&c) => Err(usage(format!(
            "invalid argument {c} for --cpus: use a positive number"
        ))),
        Some(c) => Ok(Some((c * 1e9).round() as i64)),
        None => Ok(None),
    }
}

/// A size flag in bytes (`64m`; `-1` for unlimited); 0 when not given.
pub fn bytes(value: &Option<String>, flag: &str) -> Result<i64, CliError> {
    match value {
        None => Ok(0),
        Some(v) if v == "-1" => Ok(-1),
        Some(v) => {
            parse_bytes(v).map_err(|e| usage(format!("invalid argument {v:?} for {flag}: {e}")))
        }
    }
}

fn duration(value: &Option<String>, flag: &str) -> Result<i64, CliError> {
    match value {
        None => Ok(0),
        Some(v) => {
            parse_duration(v).map_err(|e| usage(format!("invalid argument {v:?} for {flag}: {e}")))
        }
    }
}

impl ContainerFlags {
    /// The image reference and the command after it.
    pub fn image_and_command(&self) -> Result<(String, Vec<String>), CliError> {
        let (image, command) = self
            .image_and_command
            .split_first()
            .ok_or_else(|| usage("\"run\" requires at least 1 argument: the image"))?;
        if image.starts_with('-') {
            return Err(usage(format!("unknown flag: {image}")));
        }
        Ok((image.clone(), command.to_vec()))
    }

    /// Docker's flags that hoist accepts as they are (the values that mean
    /// what hoist does anyway) or refuses by name, saying why: not the
    /// parser's bare "unexpected argument".
    fn refuse_docker_only(&self) -> Result<(), CliError> {
        let refuse = |flag: &str, why: &str| Err(usage(format!("{flag}: {why}")));
        if let Some(runtime) = self
            .runtime
            .as_deref()
            .filter(|r| !matches!(*r, "hoist" | "runc"))
        {
            return refuse(
                &format!("--runtime {runtime}"),
                "hoist runs containers with its own runtime (it answers to hoist and runc); leave --runtime out",
            );
        }
        if let Some(isolation) = self
            .isolation
            .as_deref()
            .filter(|i| !matches!(*i, "" | "default"))
        {
            return refuse(
                &format!("--isolation {isolation}"),
                "Linux containers have one isolation, default",
            );
        }
        if self.disable_content_trust == Some(false) {
            return refuse(
                "--disable-content-trust=false",
                "hoist does not verify image signatures (content trust); leave the flag out",
            );
        }
        if let Some(driver) = self.volume_driver.as_deref().filter(|d| *d != "local") {
            return refuse(
                &format!("--volume-driver {driver}"),
                "hoist has the local volume driver only",
            );
        }
        let unsupported = [
            (
                !self.storage_opt.is_empty(),
                "--storage-opt",
                "hoist's overlay storage has no per-container options (size quotas)",
            ),
            (
                self.gpus.is_some(),
                "--gpus",
                "hoist does not give containers GPUs",
            ),
            (self.ip6.is_some(), "--ip6", "hoist networks are IPv4 only"),
            (
                !self.link_local_ip.is_empty(),
                "--link-local-ip",
                "hoist networks have no link-local addresses",
            ),
            (
                self.use_api_socket,
                "--use-api-socket",
                "it gives a container Docker's API, which hoist does not serve",
            ),
            (
                self.cpu_rt_period.is_some() || self.cpu_rt_runtime.is_some(),
                "--cpu-rt-period/--cpu-rt-runtime",
                "hoist does not give containers real-time CPU time",
            ),
        ];
        if let Some((_, flag, why)) = unsupported.iter().find(|(given, _, _)| *given) {
            return refuse(flag, &format!("not supported: {why}"));
        }
        if self.kernel_memory.is_some() {
            eprintln!(
                "WARNING: --kernel-memory is ignored: kernel memory limits are deprecated (as in Docker) and hoist does not set them"
            );
        }
        Ok(())
    }

    /// Translates the flags into a spec.
    pub fn to_spec(&self) -> Result<ContainerSpec, CliError> {
        self.refuse_docker_only()?;
        let (image, command) = self.image_and_command()?;
        let mut port_bindings = Vec::new();
        for value in &self.publish {
            port_bindings.extend(PortBinding::parse(value).map_err(usage)?);
        }
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(read_key_value_file(file, true)?);
        }
        env.extend(self.env.iter().filter_map(|e| resolve_env(e)));
        let mut labels = Vec::new();
        for file in &self.label_file {
            labels.extend(read_key_value_file(file, false)?);
        }
        labels.extend(self.label.iter().map(|l| {
            if l.contains('=') {
                l.clone()
            } else {
                format!("{l}=")
            }
        }));
        let mut mounts = Vec::new();
        for v in &self.volume {
            mounts.push(parse_volume_flag(v)?);
        }
        for m in &self.mount {
            mounts.push(parse_mount_flag(m)?);
        }
        for t in &self.tmpfs {
            mounts.push(parse_tmpfs_flag(t)?);
        }
        let nano_cpus = nano_cpus(self.cpus)?.unwrap_or(0);
        let restart_policy = RestartPolicy::parse(&self.restart).map_err(usage)?;
        let healthcheck = self.healthcheck()?;
        let mut log_options = BTreeMap::new();
        for opt in &self.log_opt {
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| usage(format!("invalid --log-opt {opt:?}: use key=value")))?;
            log_options.insert(k.to_string(), v.to_string());
        }
        let entrypoint = self.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        });
        let mut extra_hosts = Vec::new();
        for host in &self.add_host {
            let (name, ip) = host
                .split_once([':', '='])
                .ok_or_else(|| usage(format!("invalid --add-host {host:?}: use host:ip")))?;
            let ip = ip
                .strip_prefix('[')
                .and_then(|ip| ip.strip_suffix(']'))
                .unwrap_or(ip);
            extra_hosts.push(format!("{name}:{ip}"));
        }
        Ok(ContainerSpec {
            image,
            entrypoint,
            cmd: (!command.is_empty()).then_some(command),
            env,
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            group_add: self.group_add.clone(),
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            labels: key_values(&labels, "label")?,
            tty: self.tty,
            open_stdin: self.interactive,
            stdin_once: false,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            healthcheck,
            exposed_ports: self
                .expose
                .iter()
                .map(|p| {
                    if p.contains('/') {
                        p.clone()
                    } else {
                        format!("{p}/tcp")
                    }
                })
                .collect(),
            mounts,
            volumes_from: self.volumes_from.clone(),
            resources: Resources {
                memory: bytes(&self.memory, "--memory")?,
                memory_swap: bytes(&self.memory_swap, "--memory-swap")?,
                memory_reservation: bytes(&self.memory_reservation, "--memory-reservation")?,
                nano_cpus,
                cpu_shares: self.cpu_shares.unwrap_or(0),
                cpu_period: self.cpu_period.unwrap_or(0),
                cpu_quota: self.cpu_quota.unwrap_or(0),
                cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
                cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
                pids_limit: self.pids_limit,
                oom_kill_disable: self.oom_kill_disable,
                memory_swappiness: (self.memory_swappiness != -1).then_some(self.memory_swappiness),
                blkio_weight: check_weight(self.blkio_weight)
                    .map(|()| self.blkio_weight)
                    .map_err(usage)?,
                blkio_weight_device: parse_all(&self.blkio_weight_device, WeightDevice::parse)?,
                blkio_device_read_bps: parse_all(&self.device_read_bps, ThrottleDevice::parse_bps)?,
                blkio_device_write_bps: parse_all(
                    &self.device_write_bps,
                    ThrottleDevice::parse_bps,
                )?,
                blkio_device_read_iops: parse_all(
                    &self.device_read_iops,
                    ThrottleDevice::parse_iops,
                )?,
                blkio_device_write_iops: parse_all(
                    &self.device_write_iops,
                    ThrottleDevice::parse_iops,
                )?,
            },
            restart_policy,
            auto_remove: self.rm,
            network_mode: self.network.clone().unwrap_or_default(),
            network_aliases: self.network_alias.clone(),
            ipv4_address: self.ip.clone(),
            mac_address: self.mac_address.clone(),
            port_bindings,
            publish_all_ports: self.publish_all,
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            extra_hosts,
            links: self.link.clone(),
            read_only: self.read_only,
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            sysctls: key_values(&self.sysctl, "sysctl")?,
            devices: parse_all(&self.device, DeviceMapping::parse)?,
            device_cgroup_rules: self
                .device_cgroup_rule
                .iter()
                .map(|rule| {
                    check_cgroup_rule(rule)
                        .map(|()| rule.clone())
                        .map_err(usage)
                })
                .collect::<Result<_, _>>()?,
            ulimits: self
                .ulimit
                .iter()
                .map(|u| parse_ulimit(u))
                .collect::<Result<_, _>>()?,
            shm_size: bytes(&self.shm_size, "--shm-size")?.max(0) as u64,
            init: self.init,
            pid_mode: self.pid.clone().unwrap_or_default(),
            ipc_mode: self.ipc.clone().unwrap_or_default(),
            annotations: key_values(&self.annotation, "annotation")?,
            uts_mode: self.uts.clone().unwrap_or_default(),
            userns_mode: self.userns.clone().unwrap_or_default(),
            cgroupns_mode: self.cgroupns.clone().unwrap_or_default(),
            cgroup_parent: self.cgroup_parent.clone().unwrap_or_default(),
            oom_score_adj: self.oom_score_adj,
            log_config: LogConfig {
                driver: self.log_driver.clone().unwrap_or_default(),
                config: log_options,
            },
            platform: self.platform.clone().unwrap_or_default(),
            files: Vec::new(),
        })
    }

    fn healthcheck(&self) -> Result<Option<HealthcheckSpec>, CliError> {
        let flags = HealthcheckSpec {
            test: match &self.health_cmd {
                Some(cmd) => vec!["CMD-SHELL".to_string(), cmd.clone()],
                None => Vec::new(),
            },
            interval: duration(&self.health_interval, "--health-interval")?,
            timeout: duration(&self.health_timeout, "--health-timeout")?,
            start_period: duration(&self.health_start_period, "--health-start-period")?,
            start_interval: duration(&self.health_start_interval, "--health-start-interval")?,
            retries: self.health_retries.unwrap_or(0),
        };
        if self.no_healthcheck {
            if flags != HealthcheckSpec::default() {
                return Err(usage("--no-healthcheck conflicts with --health-* options"));
            }
            return Ok(Some(HealthcheckSpec {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        if flags.retries < 0 {
            return Err(usage("--health-retries cannot be negative"));
        }
        Ok((flags != HealthcheckSpec::default()).then_some(flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_follow_docker() {
        let bind = parse_volume_flag("/host/dir:/data:ro").unwrap();
        assert_eq!(
            (bind.kind, bind.read_only, bind.create_source),
            (MountKind::Bind, true, true)
        );
        let named = parse_volume_flag("named:/vol").unwrap();
        assert_eq!(
            (named.kind, named.source.as_str()),
            (MountKind::Volume, "named")
        );
        let anonymous = parse_volume_flag("/scratch").unwrap();
        assert_eq!(
            (anonymous.kind, anonymous.source.as_str()),
            (MountKind::Volume, "")
        );
        for bad in ["rel/path:/x", "./x:/y", "a:b", "/a:/b:bogus", "a:b:c:d"] {
            assert!(parse_volume_flag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_and_tmpfs_flags() {
        let m = parse_mount_flag("type=bind,source=/src,target=/dst,readonly").unwrap();
        assert_eq!(
            (m.kind, m.read_only, m.create_source),
            (MountKind::Bind, true, false)
        );
        let t = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap();
        assert_eq!((t.tmpfs_size, t.tmpfs_mode), (1 << 20, 0o700));
        assert!(parse_mount_flag("type=bind,target=/x").is_err());
        let f = parse_tmpfs_flag("/scratch:size=64m,mode=1770,noexec").unwrap();
        assert_eq!(
            (f.tmpfs_size, f.tmpfs_mode, f.options.clone()),
            (64 << 20, 0o1770, vec!["noexec".to_string()])
        );
        assert!(parse_tmpfs_flag("relative").is_err());
    }

    #[test]
    fn ulimits_parse() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(parse_ulimit("nproc=10").unwrap().hard, 10);
        assert!(parse_ulimit("nofile").is_err());
    }
}
