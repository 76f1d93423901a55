//! `hoist service create`'s flags, Docker's names, and their translation
//! into a [`ServiceSpec`].

use std::collections::BTreeMap;

use clap::Args;
use hoist_api::service::{
    FileReference, NetworkAttachment, PortConfig, PublishMode, Reservations, RestartCondition,
    ServiceMode, ServiceSpec, TaskRestartPolicy,
};
use hoist_api::spec::{ContainerSpec, HealthcheckSpec, Resources};
use hoist_api::units::{parse_bytes, parse_duration};

use crate::commands::container_flags::{parse_mount_flag, parse_ulimit};
use crate::exit::{CliError, CliResult};

// Flags of `service create`. (A `///` comment here would replace the
// command's help text: clap takes a flattened struct's doc comment.)
#[derive(Debug, Args)]
pub struct CreateFlags {
    /// Service name
    #[arg(long)]
    pub name: Option<String>,
    /// Service mode ("replicated" or "global")
    #[arg(long, default_value = "replicated", value_parser = ["replicated", "global"])]
    pub mode: String,
    /// Number of tasks
    #[arg(long)]
    pub replicas: Option<u64>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long = "replicas-max-per-node", default_value_t = 0)]
    pub replicas_max_per_node: u64,
    /// Placement constraints (node.labels.zone==a)
    #[arg(long)]
    pub constraint: Vec<String>,
    /// Add a placement preference (spread=node.labels.zone)
    #[arg(long = "placement-pref")]
    pub placement_pref: Vec<String>,
    /// Reserve CPUs
    #[arg(long = "reserve-cpu")]
    pub reserve_cpu: Option<f64>,
    /// Reserve memory
    #[arg(long = "reserve-memory")]
    pub reserve_memory: Option<String>,
    /// Limit CPUs
    #[arg(long = "limit-cpu")]
    pub limit_cpu: Option<f64>,
    /// Limit memory
    #[arg(long = "limit-memory")]
    pub limit_memory: Option<String>,
    /// Limit maximum number of processes (default 0 = unlimited)
    #[arg(long = "limit-pids")]
    pub limit_pids: Option<i64>,
    /// Restart when condition is met ("none", "on-failure", "any")
    #[arg(long = "restart-condition")]
    pub restart_condition: Option<String>,
    /// Delay between restart attempts (ns|us|ms|s|m|h)
    #[arg(long = "restart-delay")]
    pub restart_delay: Option<String>,
    /// Maximum number of restarts before giving up
    #[arg(long = "restart-max-attempts")]
    pub restart_max_attempts: Option<u64>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long = "restart-window")]
    pub restart_window: Option<String>,
    /// Publish a port as a node port (8080:80[/udp] or published=8080,target=80,mode=host)
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Endpoint mode (vip or dnsrr)
    #[arg(long = "endpoint-mode", default_value = "vip", value_parser = ["vip", "dnsrr"])]
    pub endpoint_mode: String,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Service labels
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Container labels
    #[arg(long = "container-label")]
    pub container_label: Vec<String>,
    /// Attach a filesystem mount to the service
    #[arg(long)]
    pub mount: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container hostname
    #[arg(long)]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Time to wait before force killing a container (ns|us|ms|s|m|h)
    #[arg(long = "stop-grace-period")]
    pub stop_grace_period: Option<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Use an init inside each service container
    #[arg(long)]
    pub init: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "host")]
    pub host: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Give the service a secret (NAME, or source=NAME,target=PATH,uid=,gid=,mode=)
    #[arg(long)]
    pub secret: Vec<String>,
    /// Give the service a config (NAME, or source=NAME,target=PATH,uid=,gid=,mode=)
    #[arg(long)]
    pub config: Vec<String>,
    /// Network attachments (NAME, or name=NAME,alias=ALIAS…)
    #[arg(long)]
    pub network: Vec<String>,
    /// The image, then the command and its arguments
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub image_and_command: Vec<String>,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::usage(message)
}

fn nanos(value: &Option<String>, flag: &str) -> CliResult<Option<i64>> {
    value
        .as_deref()
        .map(|v| {
            parse_duration(v).map_err(|e| usage(format!("invalid argument {v:?} for {flag}: {e}")))
        })
        .transpose()
}

fn bytes(value: &Option<String>, flag: &str) -> CliResult<i64> {
    value
        .as_deref()
        .map(|v| {
            parse_bytes(v).map_err(|e| usage(format!("invalid argument {v:?} for {flag}: {e}")))
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

fn cpus(value: Option<f64>, flag: &str) -> CliResult<i64> {
    match value {
        Some(c) if !(0.0..=1e6).contains(&c) => Err(usage(format!(
            "invalid argument {c} for {flag}: use a positive number"
        ))),
        Some(c) => Ok((c * 1e9).round() as i64),
        None => Ok(0),
    }
}

fn key_values(entries: &[String]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// Parses one `--secret` or `--config` (`flag`): Docker's short form
/// `NAME`, or the long form `source=NAME,target=PATH,uid=…,gid=…,mode=…`
/// (`mode` in octal). What is not given is left to the manager's defaults.
pub fn parse_file_reference(value: &str, flag: &str) -> CliResult<FileReference> {
    let bad = |why: &str| usage(format!("invalid --{flag} {value:?}: {why}"));
    if !value.contains('=') {
        if value.is_empty() {
            return Err(bad("name a secret or config"));
        }
        return Ok(FileReference {
            name: value.to_string(),
            ..FileReference::default()
        });
    }
    let mut reference = FileReference::default();
    for field in value.split(',') {
        let (key, val) = field
            .split_once('=')
            .ok_or_else(|| bad("use key=value fields"))?;
        match key {
            "source" | "src" => reference.name = val.to_string(),
            "target" => reference.target = val.to_string(),
            "uid" => reference.uid = val.to_string(),
            "gid" => reference.gid = val.to_string(),
            "mode" => {
                reference.mode = u32::from_str_radix(val, 8)
                    .map_err(|_| bad(&format!("mode {val:?} is not an octal number")))?;
            }
            _ => return Err(bad(&format!("unknown field {key:?}"))),
        }
    }
    if reference.name.is_empty() {
        return Err(bad("source= is required"));
    }
    Ok(reference)
}

/// Parses one `--network`: Docker's short form `NAME`, or the long form
/// `name=NAME,alias=A,alias=B` (`target=` for `name=`).
pub fn parse_network(value: &str) -> CliResult<NetworkAttachment> {
    let bad = |why: &str| usage(format!("invalid --network {value:?}: {why}"));
    let mut attachment = NetworkAttachment::default();
    if !value.contains('=') {
        attachment.target = value.to_string();
    } else {
        for field in value.split(',') {
            let (key, val) = field
                .split_once('=')
                .ok_or_else(|| bad("use key=value fields"))?;
            match key {
                "name" | "target" => attachment.target = val.to_string(),
                "alias" => attachment.aliases.push(val.to_string()),
                _ => return Err(bad(&format!("unknown field {key:?}: use name= and alias="))),
            }
        }
    }
    if attachment.target.is_empty() {
        return Err(bad("name a network"));
    }
    Ok(attachment)
}

/// Parses one `--publish`: Docker's short form `[PUBLISHED:]TARGET[/PROTO]`
/// (ingress), or the long form `published=…,target=…,protocol=…,mode=…`.
pub fn parse_publish(value: &str) -> CliResult<PortConfig> {
    let bad = |why: &str| usage(format!("invalid --publish {value:?}: {why}"));
    let port = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(&format!("{text:?} is not a port number")))
    };
    let mut config = PortConfig {
        protocol: "tcp".into(),
        ..PortConfig::default()
    };
    if value.contains('=') {
        for field in value.split(',') {
            let (key, val) = field
                .split_once('=')
                .ok_or_else(|| bad("use key=value fields"))?;
            match key {
                "published" => config.published_port = port(val)?,
                "target" => config.target_port = port(val)?,
                "protocol" => config.protocol = val.to_ascii_lowercase(),
                "mode" => {
                    config.publish_mode = match val {
                        "ingress" => PublishMode::Ingress,
                        "host" => PublishMode::Host,
                        _ => return Err(bad("mode is ingress or host")),
                    }
                }
                _ => return Err(bad(&format!("unknown field {key:?}"))),
            }
        }
        if config.target_port == 0 {
            return Err(bad("target= is required"));
        }
        return Ok(config);
    }
    let (ports, protocol) = match value.split_once('/') {
        Some((ports, protocol)) => (ports, protocol.to_ascii_lowercase()),
        None => (value, "tcp".into()),
    };
    config.protocol = protocol;
    match ports.split_once(':') {
        Some((published, target)) => {
            config.published_port = port(published)?;
            config.target_port = port(target)?;
        }
        None => config.target_port = port(ports)?,
    }
    Ok(config)
}

impl CreateFlags {
    /// Translates the flags into a service spec.
    pub fn to_spec(&self) -> CliResult<ServiceSpec> {
        let (image, command) = self
            .image_and_command
            .split_first()
            .ok_or_else(|| usage("\"service create\" requires at least 1 argument: the image"))?;
        let mode = match (self.mode.as_str(), self.replicas) {
            ("global", Some(_)) => {
                return Err(usage("--replicas can only be used with replicated mode"));
            }
            ("global", None) => ServiceMode::Global,
            (_, replicas) => ServiceMode::Replicated {
                replicas: replicas.unwrap_or(1),
            },
        };
        let mut restart_policy = TaskRestartPolicy::default();
        if let Some(condition) = &self.restart_condition {
            restart_policy.condition = condition.parse::<RestartCondition>().map_err(usage)?;
        }
        if let Some(delay) = nanos(&self.restart_delay, "--restart-delay")? {
            restart_policy.delay_ns = delay;
        }
        if let Some(window) = nanos(&self.restart_window, "--restart-window")? {
            restart_policy.window_ns = window;
        }
        restart_policy.max_attempts = self.restart_max_attempts.unwrap_or(0);
        let mut mounts = Vec::new();
        for m in &self.mount {
            mounts.push(parse_mount_flag(m)?);
        }
        let mut ulimits = Vec::new();
        for u in &self.ulimit {
            ulimits.push(parse_ulimit(u)?);
        }
        let health_interval = nanos(&self.health_interval, "--health-interval")?.unwrap_or(0);
        let healthcheck = if self.no_healthcheck {
            Some(HealthcheckSpec {
                test: vec!["NONE".into()],
                ..HealthcheckSpec::default()
            })
        } else {
            self.health_cmd.as_ref().map(|cmd| HealthcheckSpec {
                test: vec!["CMD-SHELL".into(), cmd.clone()],
                interval: health_interval,
                retries: self.health_retries.unwrap_or(0),
                ..HealthcheckSpec::default()
            })
        };
        let container = ContainerSpec {
            image: image.clone(),
            entrypoint: self.entrypoint.as_ref().map(|e| vec![e.clone()]),
            cmd: (!command.is_empty()).then(|| command.to_vec()),
            env: self.env.clone(),
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            labels: key_values(&self.container_label),
            tty: self.tty,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: nanos(&self.stop_grace_period, "--stop-grace-period")?
                .map(|ns| ns / 1_000_000_000),
            healthcheck,
            mounts,
            resources: Resources {
                memory: bytes(&self.limit_memory, "--limit-memory")?,
                nano_cpus: cpus(self.limit_cpu, "--limit-cpu")?,
                pids_limit: self.limit_pids,
                ..Resources::default()
            },
            read_only: self.read_only,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            dns: self.dns.clone(),
            extra_hosts: self.host.clone(),
            ulimits,
            init: self.init,
            ..ContainerSpec::default()
        };
        let mut spec = ServiceSpec {
            name: self.name.clone().unwrap_or_default(),
            labels: key_values(&self.label),
            mode,
            ..ServiceSpec::default()
        };
        spec.task.container = container;
        spec.task.reservations = Reservations {
            nano_cpus: cpus(self.reserve_cpu, "--reserve-cpu")?,
            memory_bytes: bytes(&self.reserve_memory, "--reserve-memory")?,
        };
        spec.task.restart_policy = restart_policy;
        spec.task.placement.constraints = self.constraint.clone();
        spec.task.placement.preferences = self.placement_pref.clone();
        spec.task.placement.max_replicas_per_node = self.replicas_max_per_node;
        spec.endpoint.mode = self.endpoint_mode.clone();
        for value in &self.publish {
            spec.endpoint.ports.push(parse_publish(value)?);
        }
        for value in &self.secret {
            spec.task
                .secrets
                .push(parse_file_reference(value, "secret")?);
        }
        for value in &self.config {
            spec.task
                .configs
                .push(parse_file_reference(value, "config")?);
        }
        for value in &self.network {
            spec.task.networks.push(parse_network(value)?);
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_short_and_long_forms() {
        let short = parse_publish("8080:80/udp").unwrap();
        assert_eq!(
            (
                short.published_port,
                short.target_port,
                short.protocol.as_str(),
                short.publish_mode
            ),
            (8080, 80, "udp", PublishMode::Ingress)
        );
        let long = parse_publish("published=9000,target=90,mode=host").unwrap();
        assert_eq!(
            (long.published_port, long.target_port, long.publish_mode),
            (9000, 90, PublishMode::Host)
        );
        assert!(parse_publish("published=1").is_err());
        assert!(parse_publish("x:80").is_err());
    }

    #[test]
    fn network_short_and_long_forms() {
        assert_eq!(parse_network("front").unwrap().target, "front");
        let long = parse_network("name=front,alias=web,alias=www").unwrap();
        assert_eq!(long.target, "front");
        assert_eq!(long.aliases, ["web", "www"]);
        assert!(parse_network("alias=web").is_err());
        assert!(parse_network("name=front,ip=10.0.0.2").is_err());
    }

    #[test]
    fn secret_short_and_long_forms() {
        let short = parse_file_reference("db_pw", "secret").unwrap();
        assert_eq!((short.name.as_str(), short.target.as_str()), ("db_pw", ""));
        let long = parse_file_reference(
            "source=db_pw,target=/etc/pw,uid=33,gid=44,mode=0400",
            "secret",
        )
        .unwrap();
        assert_eq!(
            long,
            FileReference {
                name: "db_pw".into(),
                id: String::new(),
                target: "/etc/pw".into(),
                uid: "33".into(),
                gid: "44".into(),
                mode: 0o400,
            }
        );
        assert!(parse_file_reference("target=/x", "config").is_err());
        assert!(parse_file_reference("source=a,mode=9", "config").is_err());
        assert!(parse_file_reference("source=a,size=1", "config").is_err());
    }
}
