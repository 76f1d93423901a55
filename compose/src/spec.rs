//! One service of a normalised compose model as the [`ContainerSpec`] its
//! containers are created from, field by field as Docker Compose maps a
//! service onto a container: the image (or the name of the image `build:`
//! makes), command and entrypoint, the environment (env files under
//! `environment`), labels, mounts (volumes, tmpfs, and secrets and configs
//! as read-only binds), ports, cgroup limits, the restart policy, the
//! healthcheck and the rest of `docker run`'s settings.
//!
//! Networks and Compose's own `com.docker.compose.*` labels are the
//! caller's. A setting hoist cannot honour yet is refused with a
//! [`SpecError`] rather than dropped, so a service never runs differently
//! from what its file says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_api::blkio::{ThrottleDevice, WeightDevice, check_weight};
use hoist_api::device::{DEFAULT_PERMISSIONS, DeviceMapping, check_cgroup_rule};
use hoist_api::spec::{
    ContainerSpec, HealthcheckSpec, LogConfig, MountKind, MountSpec, PortBinding, Resources,
    RestartPolicy, Ulimit,
};
use hoist_api::units::{parse_bytes, parse_duration};
use serde_json::{Map, Value};

use crate::dotenv;
use crate::error::ModelPath;

/// What the mapping needs besides the service itself.
#[derive(Debug, Clone, Copy)]
pub struct SpecContext<'a> {
    /// The normalised model as JSON (`project.model.to_json()`): top-level
    /// volumes, secrets and configs are looked up here.
    pub model: &'a Value,
    /// The variables the project was interpolated with (process environment
    /// over `.env`): `environment: {A: null}` takes `A` from here, and
    /// env_file values are expanded with it.
    pub environment: &'a BTreeMap<String, String>,
}

/// A field whose value cannot be turned into a container setting: names
/// the model path and says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// Where in the model, as users read it (`services.web.ports[0]`).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl SpecError {
    /// An error about the value at `path`.
    fn new(path: &ModelPath, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Service fields hoist cannot honour yet and that would change how the
/// service runs if they were ignored.
const UNSUPPORTED: &[&str] = &[
    "cpu_count",
    "cpu_percent",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "credential_spec",
    "external_links",
    "gpus",
    "isolation",
    "models",
    "post_start",
    "pre_stop",
    "provider",
    "runtime",
    "storage_opt",
    "use_api_socket",
];

/// Durations are in nanoseconds, `stop_timeout` in seconds.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The container spec for one service of a normalised model. Networks are
/// NOT set here (the caller sets network_mode/aliases); compose labels are
/// NOT added here (the caller adds com.docker.compose.*), only the
/// service's own `labels`/`label_file`.
pub fn container_spec(
    context: &SpecContext<'_>,
    service: &str,
) -> Result<ContainerSpec, SpecError> {
    let path = ModelPath::root().key("services").key(service);
    let fields = match context.model.get("services").and_then(|s| s.get(service)) {
        Some(value) => Fields::of(value, path)?,
        None => return Err(SpecError::new(&path, "no such service in the model")),
    };
    refuse_unsupported(&fields)?;
    Ok(ContainerSpec {
        image: image(context, &fields, service)?,
        entrypoint: fields.command("entrypoint")?,
        cmd: fields.command("command")?,
        env: environment(context, &fields)?,
        working_dir: fields.string("working_dir")?,
        user: fields.string("user")?,
        group_add: fields.strings("group_add")?,
        hostname: fields.string("hostname")?,
        domainname: fields.string("domainname")?,
        labels: labels(context, &fields)?,
        tty: fields.flag("tty")?,
        open_stdin: fields.flag("stdin_open")?,
        stop_signal: fields.string("stop_signal")?,
        stop_timeout: fields
            .read("stop_grace_period", duration)?
            .map(|ns| ns / NANOS_PER_SECOND),
        healthcheck: healthcheck(&fields)?,
        exposed_ports: exposed_ports(&fields)?,
        mounts: mounts(context, &fields)?,
        resources: resources(&fields)?,
        restart_policy: restart_policy(&fields)?,
        mac_address: fields.string("mac_address")?,
        port_bindings: port_bindings(&fields)?,
        dns: fields.strings("dns")?,
        dns_search: fields.strings("dns_search")?,
        dns_options: fields.strings("dns_opt")?,
        extra_hosts: extra_hosts(&fields)?,
        links: fields.strings("links")?,
        read_only: fields.flag("read_only")?,
        privileged: fields.flag("privileged")?,
        cap_add: fields.strings("cap_add")?,
        cap_drop: fields.strings("cap_drop")?,
        security_opt: fields.strings("security_opt")?,
        sysctls: sysctls(&fields)?,
        devices: devices(&fields)?,
        device_cgroup_rules: device_cgroup_rules(&fields)?,
        ulimits: ulimits(&fields)?,
        shm_size: fields.read("shm_size", size)?.unwrap_or(0),
        init: fields.flag("init")?,
        volumes_from: volumes_from(&fields)?,
        pid_mode: namespace_mode(&fields, "pid")?,
        ipc_mode: namespace_mode(&fields, "ipc")?,
        annotations: annotations(&fields)?,
        uts_mode: namespace_mode(&fields, "uts")?,
        userns_mode: namespace_mode(&fields, "userns_mode")?,
        cgroupns_mode: namespace_mode(&fields, "cgroup")?,
        cgroup_parent: fields.string("cgroup_parent")?.unwrap_or_default(),
        oom_score_adj: fields.integer("oom_score_adj")?.unwrap_or(0),
        log_config: log_config(&fields)?,
        platform: fields.string("platform")?.unwrap_or_default(),
        ..ContainerSpec::default()
    })
}

/// A mapping of the model with its path, read field by field.
#[derive(Debug, Clone)]
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: ModelPath,
}

impl<'a> Fields<'a> {
    /// `value`, which must be a mapping, at `path`.
    fn of(value: &'a Value, path: ModelPath) -> Result<Self, SpecError> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(expected(&path, "a mapping", other)),
        }
    }

    /// The value of `key` with its path, unless absent or null.
    fn get(&self, key: &str) -> Option<(&'a Value, ModelPath)> {
        self.map
            .get(key)
            .filter(|value| !value.is_null())
            .map(|value| (value, self.path.key(key)))
    }

    /// The value of `key` converted by `convert`, when set.
    fn read<T>(
        &self,
        key: &str,
        convert: impl FnOnce(&Value, &ModelPath) -> Result<T, SpecError>,
    ) -> Result<Option<T>, SpecError> {
        self.get(key)
            .map(|(value, path)| convert(value, &path))
            .transpose()
    }

    /// `key` as text.
    fn string(&self, key: &str) -> Result<Option<String>, SpecError> {
        self.read(key, text)
    }

    /// `key` as a boolean; false when absent.
    fn flag(&self, key: &str) -> Result<bool, SpecError> {
        Ok(self.read(key, flag)?.unwrap_or(false))
    }

    /// `key` as an integer.
    fn integer(&self, key: &str) -> Result<Option<i64>, SpecError> {
        self.read(key, integer)
    }

    /// `key` as a memory size in bytes (`-1` kept as it is).
    fn bytes(&self, key: &str) -> Result<Option<i64>, SpecError> {
        self.read(key, bytes)
    }

    /// `key`, which must be a mapping.
    fn fields(&self, key: &str) -> Result<Option<Fields<'a>>, SpecError> {
        self.get(key)
            .map(|(value, path)| Fields::of(value, path))
            .transpose()
    }

    /// The mapping at `keys` below this one, when every step is set.
    fn nested(&self, keys: &[&str]) -> Result<Option<Fields<'a>>, SpecError> {
        let mut current = self.clone();
        for key in keys {
            match current.fields(key)? {
                Some(next) => current = next,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// The items of the sequence `key` with their paths (a single value as
    /// a one-item list).
    fn items(&self, key: &str) -> Vec<(&'a Value, ModelPath)> {
        match self.get(key) {
            None => Vec::new(),
            Some((Value::Array(items), path)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (item, path.index(i)))
                .collect(),
            Some(single) => vec![single],
        }
    }

    /// The sequence `key` as text items.
    fn strings(&self, key: &str) -> Result<Vec<String>, SpecError> {
        self.items(key)
            .into_iter()
            .map(|(value, path)| text(value, &path))
            .collect()
    }

    /// A command (`command`, `entrypoint`): its words, when set.
    fn command(&self, key: &str) -> Result<Option<Vec<String>>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some((Value::Array(_), _)) => self.strings(key).map(Some),
            Some((other, path)) => Err(expected(&path, "a list of words", other)),
        }
    }

    /// The entries of this mapping with their paths.
    fn entries(&self) -> impl Iterator<Item = (&'a str, &'a Value, ModelPath)> + '_ {
        self.map
            .iter()
            .map(|(key, value)| (key.as_str(), value, self.path.key(key)))
    }

    /// An error about `key`.
    fn error(&self, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::new(&self.path.key(key), message)
    }
}

/// "expected X, got Y".
fn expected(path: &ModelPath, what: &str, value: &Value) -> SpecError {
    let got = match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a sequence".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    };
    SpecError::new(path, format!("expected {what}, got {got}"))
}

/// A scalar as text: strings as they are, numbers and booleans as written.
fn text(value: &Value, path: &ModelPath) -> Result<String, SpecError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(expected(path, "a string", other)),
    }
}

/// A boolean, or a string compose-go reads as one (`yes`, `off`, …).
fn flag(value: &Value, path: &ModelPath) -> Result<bool, SpecError> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Some(true),
            "false" | "no" | "n" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| expected(path, "a boolean (true or false)", value))
}

/// An integer, or a string holding one.
fn integer(value: &Value, path: &ModelPath) -> Result<i64, SpecError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| expected(path, "an integer", value))
}

/// A number, or a string holding one.
fn float(value: &Value, path: &ModelPath) -> Result<f64, SpecError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed
        .filter(|x| x.is_finite())
        .ok_or_else(|| expected(path, "a number", value))
}

/// A byte count: a number, or a size such as `512m`; `-1` (unlimited
/// swap) is kept.
fn bytes(value: &Value, path: &ModelPath) -> Result<i64, SpecError> {
    match value {
        Value::Number(_) => integer(value, path),
        Value::String(s) if s.trim() == "-1" => Ok(-1),
        Value::String(s) => parse_bytes(s).map_err(|e| SpecError::new(path, e)),
        other => Err(expected(path, "a size such as 512m", other)),
    }
}

/// A byte count that cannot be negative.
fn size(value: &Value, path: &ModelPath) -> Result<u64, SpecError> {
    u64::try_from(bytes(value, path)?)
        .map_err(|_| SpecError::new(path, "a size cannot be negative"))
}

/// A Go duration (`1m30s`) in nanoseconds.
fn duration(value: &Value, path: &ModelPath) -> Result<i64, SpecError> {
    match value {
        Value::String(s) => parse_duration(s).map_err(|e| SpecError::new(path, e)),
        other => Err(expected(path, "a duration such as 30s", other)),
    }
}

/// CPUs (`0.5`) in billionths.
fn nano_cpus(value: &Value, path: &ModelPath) -> Result<i64, SpecError> {
    let cpus = float(value, path)?;
    if !(0.0..=1e6).contains(&cpus) {
        return Err(expected(path, "a positive number of CPUs", value));
    }
    Ok((cpus * 1e9).round() as i64)
}

/// Permission bits: an integer as it is (YAML's `0o755`), a string in
/// octal (`"1777"`, or `0755`, which the parser keeps as a string).
fn file_mode(value: &Value, path: &ModelPath) -> Result<u32, SpecError> {
    match value {
        Value::String(s) => parse_octal(s).map_err(|e| SpecError::new(path, e)),
        other => integer(other, path)
            .ok()
            .and_then(|mode| u32::try_from(mode).ok())
            .filter(|mode| *mode <= 0o7777)
            .ok_or_else(|| expected(path, "a file mode such as 0o755", other)),
    }
}

/// Octal permission bits (`755`, `0755`, `0o755`).
fn parse_octal(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("{text:?} is not a file mode in octal (such as 0755)"))
}

/// A port number, 1 to 65535.
fn port_number(value: &Value, path: &ModelPath) -> Result<u16, SpecError> {
    integer(value, path)
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| expected(path, "a port number (1-65535)", value))
}

/// `80` or `8000-8010`.
fn port_range(text: &str, path: &ModelPath) -> Result<(u16, u16), SpecError> {
    let number = |n: &str| {
        n.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| SpecError::new(path, format!("{n:?} is not a port number (1-65535)")))
    };
    match text.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(SpecError::new(
                    path,
                    format!("port range {text} ends before it starts"),
                ));
            }
            Ok((first, last))
        }
        None => number(text).map(|p| (p, p)),
    }
}

/// `tcp`, `udp` or `sctp`.
fn protocol(text: &str, path: &ModelPath) -> Result<String, SpecError> {
    let protocol = text.to_ascii_lowercase();
    match protocol.as_str() {
        "tcp" | "udp" | "sctp" => Ok(protocol),
        _ => Err(SpecError::new(
            path,
            format!("unknown protocol {text:?}: use tcp, udp or sctp"),
        )),
    }
}

/// A path in the container, which must be absolute.
fn absolute(target: &str, path: &ModelPath) -> Result<String, SpecError> {
    if target.starts_with('/') {
        Ok(target.to_string())
    } else {
        Err(SpecError::new(
            path,
            format!("{target:?} is not an absolute path in the container"),
        ))
    }
}

/// Whether a field is given a value that asks for something (not null,
/// false, zero or empty).
pub(crate) fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Refuses the settings hoist cannot honour yet.
fn refuse_unsupported(service: &Fields<'_>) -> Result<(), SpecError> {
    for field in UNSUPPORTED {
        if service.get(field).is_some_and(|(value, _)| is_set(value)) {
            return Err(service.error(
                field,
                format!("{field} is not supported by hoist yet: remove it to run the service"),
            ));
        }
    }
    if let Some(reservations) = service.nested(&["deploy", "resources", "reservations"])?
        && reservations
            .get("devices")
            .is_some_and(|(value, _)| is_set(value))
    {
        return Err(reservations.error(
            "devices",
            "device reservations (GPUs) are not supported by hoist yet: remove them to run the service",
        ));
    }
    Ok(())
}

/// `image`, or for a service built from `build:` the name Docker Compose
/// gives the image it builds: `<project>-<service>`.
fn image(context: &SpecContext<'_>, service: &Fields<'_>, name: &str) -> Result<String, SpecError> {
    if let Some(image) = service.string("image")? {
        return Ok(image);
    }
    match context.model.get("name").and_then(Value::as_str) {
        Some(project) => Ok(format!("{project}-{name}")),
        None => Err(SpecError::new(
            &ModelPath::root().key("name"),
            "the model has no project name to name the built image after",
        )),
    }
}

/// `KEY=value` pairs: the env files in order, then `environment` over
/// them; a variable `environment` names without a value comes from the
/// project's variables, and is left out when they do not set it.
fn environment(context: &SpecContext<'_>, service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    let mut env = env_files(context, service)?;
    if let Some(variables) = service.fields("environment")? {
        for (key, value, path) in variables.entries() {
            let value = match value {
                Value::Null => context.environment.get(key).cloned(),
                value => Some(text(value, &path)?),
            };
            match value {
                Some(value) => env.insert(key.to_string(), value),
                None => env.remove(key),
            };
        }
    }
    Ok(env
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect())
}

/// The variables of the service's env files, later files winning; values
/// are expanded with the earlier files' variables and the project's.
fn env_files(
    context: &SpecContext<'_>,
    service: &Fields<'_>,
) -> Result<BTreeMap<String, String>, SpecError> {
    let mut env = BTreeMap::new();
    for (value, path) in service.items("env_file") {
        let entry = Fields::of(value, path)?;
        let Some(file) = entry.string("path")?.map(PathBuf::from) else {
            return Err(SpecError::new(&entry.path, "an env file needs `path`"));
        };
        if !file.exists() {
            if entry.read("required", flag)?.unwrap_or(true) {
                return Err(entry.error(
                    "path",
                    format!(
                        "env file {} not found: create it, or mark it `required: false`",
                        file.display()
                    ),
                ));
            }
            continue;
        }
        let lookup = |name: &str| {
            env.get(name)
                .cloned()
                .or_else(|| context.environment.get(name).cloned())
        };
        let variables = match entry.string("format")?.as_deref() {
            None => read_dotenv(&file, &lookup, &entry.path)?,
            Some("raw") => read_raw(&file, &lookup, &entry.path)?,
            Some(other) => {
                return Err(entry.error(
                    "format",
                    format!("unknown env file format {other:?}: use raw, or leave `format` out"),
                ));
            }
        };
        env.extend(variables);
    }
    Ok(env)
}

/// An env file in Compose's `.env` syntax.
fn read_dotenv(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &ModelPath,
) -> Result<Vec<(String, String)>, SpecError> {
    dotenv::read(file, lookup).map_err(|e| SpecError::new(path, e.to_string()))
}

/// An env file in the `raw` format: `KEY=VALUE` lines taken as they are
/// (no quotes, no interpolation), blank and `#` lines skipped, a bare
/// `KEY` taken from `lookup` (and left out when it is unset).
fn read_raw(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &ModelPath,
) -> Result<Vec<(String, String)>, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(path, format!("cannot read {}: {e}", file.display())))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| match line.split_once('=') {
            Some((key, value)) => Some((key.trim_end().to_string(), value.to_string())),
            None => lookup(line.trim_end()).map(|value| (line.trim_end().to_string(), value)),
        })
        .collect())
}

/// The labels of `label_file`s in order, then `labels` over them.
fn labels(
    context: &SpecContext<'_>,
    service: &Fields<'_>,
) -> Result<BTreeMap<String, String>, SpecError> {
    let lookup = |name: &str| context.environment.get(name).cloned();
    let mut labels = BTreeMap::new();
    for (value, path) in service.items("label_file") {
        let file = PathBuf::from(text(value, &path)?);
        if !file.exists() {
            return Err(SpecError::new(
                &path,
                format!("label file {} not found", file.display()),
            ));
        }
        labels.extend(read_dotenv(&file, &lookup, &path)?);
    }
    if let Some(own) = service.fields("labels")? {
        for (key, value, path) in own.entries() {
            let value = match value {
                Value::Null => String::new(),
                value => text(value, &path)?,
            };
            labels.insert(key.to_string(), value);
        }
    }
    Ok(labels)
}

/// `healthcheck`, durations in nanoseconds; `disable: true` is Docker's
/// `["NONE"]`.
fn healthcheck(service: &Fields<'_>) -> Result<Option<HealthcheckSpec>, SpecError> {
    let Some(check) = service.fields("healthcheck")? else {
        return Ok(None);
    };
    if check.flag("disable")? {
        return Ok(Some(HealthcheckSpec {
            test: vec!["NONE".to_string()],
            ..HealthcheckSpec::default()
        }));
    }
    let duration_of = |key: &str| Ok::<_, SpecError>(check.read(key, duration)?.unwrap_or(0));
    Ok(Some(HealthcheckSpec {
        test: check.strings("test")?,
        interval: duration_of("interval")?,
        timeout: duration_of("timeout")?,
        start_period: duration_of("start_period")?,
        start_interval: duration_of("start_interval")?,
        retries: check.integer("retries")?.unwrap_or(0),
    }))
}

/// `expose: ["80", "8000-8001", "53/udp"]` → `80/tcp`, `8000/tcp`,
/// `8001/tcp`, `53/udp`.
fn exposed_ports(service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    let mut ports = Vec::new();
    for (value, path) in service.items("expose") {
        let spec = text(value, &path)?;
        let (range, given) = spec.split_once('/').unwrap_or((&spec, "tcp"));
        let protocol = protocol(given, &path)?;
        let (first, last) = port_range(range, &path)?;
        ports.extend((first..=last).map(|port| format!("{port}/{protocol}")));
    }
    Ok(ports)
}

/// `ports` in the long form, one binding each.
fn port_bindings(service: &Fields<'_>) -> Result<Vec<PortBinding>, SpecError> {
    service
        .items("ports")
        .into_iter()
        .map(|(value, path)| port_binding(&Fields::of(value, path)?))
        .collect()
}

/// `{target, published, host_ip, protocol}`: a published range
/// (`8000-8010`) lets the host port be any free one in it; none, any free
/// port.
fn port_binding(port: &Fields<'_>) -> Result<PortBinding, SpecError> {
    let Some(container_port) = port.read("target", port_number)? else {
        return Err(SpecError::new(&port.path, "a port needs `target`"));
    };
    let protocol = match port.get("protocol") {
        Some((value, path)) => protocol(&text(value, &path)?, &path)?,
        None => "tcp".to_string(),
    };
    let (host_port, host_port_end) = match port.get("published") {
        Some((value, path)) => match text(value, &path)? {
            published if published.is_empty() => (0, 0),
            published => port_range(&published, &path)?,
        },
        None => (0, 0),
    };
    Ok(PortBinding {
        container_port,
        protocol,
        host_ip: port.string("host_ip")?.unwrap_or_default(),
        host_port,
        host_port_end,
    })
}

/// Volumes, tmpfs mounts, then secrets and configs (which a volume at the
/// same path replaces, as in Docker Compose).
fn mounts(context: &SpecContext<'_>, service: &Fields<'_>) -> Result<Vec<MountSpec>, SpecError> {
    let mut mounts = Vec::new();
    for (value, path) in service.items("volumes") {
        mounts.push(volume_mount(context, &Fields::of(value, path)?)?);
    }
    for (value, path) in service.items("tmpfs") {
        mounts.push(tmpfs_mount(&text(value, &path)?, &path)?);
    }
    for kind in [&SECRETS, &CONFIGS] {
        for mount in file_mounts(context, service, kind)? {
            if !mounts.iter().any(|m| m.target == mount.target) {
                mounts.push(mount);
            }
        }
    }
    Ok(mounts)
}

/// One long-form `volumes` entry.
fn volume_mount(context: &SpecContext<'_>, volume: &Fields<'_>) -> Result<MountSpec, SpecError> {
    let target = match volume.get("target") {
        Some((value, path)) => absolute(&text(value, &path)?, &path)?,
        None => {
            return Err(SpecError::new(
                &volume.path,
                "a volume needs `target`, the path in the container",
            ));
        }
    };
    let mount = MountSpec {
        target,
        read_only: volume.flag("read_only")?,
        ..MountSpec::default()
    };
    match volume.string("type")?.as_deref().unwrap_or("volume") {
        "bind" => bind_mount(volume, mount),
        "volume" => named_volume(context, volume, mount),
        "tmpfs" => tmpfs_volume(volume, mount),
        other => Err(volume.error(
            "type",
            format!("{other} mounts are not supported by hoist yet: use bind, volume or tmpfs"),
        )),
    }
}

/// `type: bind`: the host path, `bind.create_host_path` and
/// `bind.propagation`.
fn bind_mount(volume: &Fields<'_>, mount: MountSpec) -> Result<MountSpec, SpecError> {
    let Some(source) = volume.string("source")? else {
        return Err(SpecError::new(
            &volume.path,
            "a bind mount needs `source`, the path on the host",
        ));
    };
    let (create_source, propagation) = match volume.fields("bind")? {
        Some(bind) => (bind.flag("create_host_path")?, bind_options(&bind)?),
        None => (false, String::new()),
    };
    Ok(MountSpec {
        kind: MountKind::Bind,
        source,
        create_source,
        propagation,
        ..mount
    })
}

/// The propagation of a bind; non-recursive binds are refused.
fn bind_options(bind: &Fields<'_>) -> Result<String, SpecError> {
    if let Some(recursive) = bind.string("recursive")?
        && recursive != "enabled"
    {
        return Err(bind.error(
            "recursive",
            format!(
                "recursive: {recursive} is not supported by hoist yet: binds are always recursive"
            ),
        ));
    }
    match bind.string("propagation")? {
        None => Ok(String::new()),
        Some(mode) => match mode.as_str() {
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => Ok(mode),
            _ => Err(bind.error(
                "propagation",
                format!(
                    "unknown propagation {mode:?}: use shared, slave, private, rshared, rslave or rprivate"
                ),
            )),
        },
    }
}

/// `type: volume`: the top-level volume's real name (anonymous without a
/// source) and `volume.nocopy`.
fn named_volume(
    context: &SpecContext<'_>,
    volume: &Fields<'_>,
    mount: MountSpec,
) -> Result<MountSpec, SpecError> {
    let no_copy = match volume.fields("volume")? {
        Some(options) if options.get("subpath").is_some() => {
            return Err(options.error("subpath", "volume subpaths are not supported by hoist yet"));
        }
        Some(options) => options.flag("nocopy")?,
        None => false,
    };
    let source = match volume.get("source") {
        Some((value, path)) => volume_name(context, &text(value, &path)?, &path)?,
        None => String::new(),
    };
    Ok(MountSpec {
        kind: MountKind::Volume,
        source,
        no_copy,
        ..mount
    })
}

/// The real name of the top-level volume `key`.
fn volume_name(
    context: &SpecContext<'_>,
    key: &str,
    path: &ModelPath,
) -> Result<String, SpecError> {
    context
        .model
        .get("volumes")
        .and_then(|volumes| volumes.get(key))
        .and_then(|volume| volume.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            SpecError::new(
                path,
                format!("volume {key:?} is not declared under the top-level `volumes:` key"),
            )
        })
}

/// `type: tmpfs`: `tmpfs.size` and `tmpfs.mode`.
fn tmpfs_volume(volume: &Fields<'_>, mount: MountSpec) -> Result<MountSpec, SpecError> {
    let (tmpfs_size, tmpfs_mode) = match volume.fields("tmpfs")? {
        Some(tmpfs) => (
            tmpfs.read("size", size)?.unwrap_or(0),
            tmpfs.read("mode", file_mode)?.unwrap_or(0),
        ),
        None => (0, 0),
    };
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        tmpfs_size,
        tmpfs_mode,
        ..mount
    })
}

/// One `tmpfs` entry: `PATH[:OPTIONS]`.
fn tmpfs_mount(spec: &str, path: &ModelPath) -> Result<MountSpec, SpecError> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    let mut mount = MountSpec {
        kind: MountKind::Tmpfs,
        target: absolute(target, path)?,
        ..MountSpec::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        tmpfs_option(&mut mount, option)
            .map_err(|why| SpecError::new(path, format!("{spec:?}: {why}")))?;
    }
    Ok(mount)
}

/// Applies one tmpfs option: `size=`, `mode=` (octal), `uid=`, `gid=`,
/// `ro`, or a mount flag.
fn tmpfs_option(mount: &mut MountSpec, option: &str) -> Result<(), String> {
    match option.split_once('=') {
        Some(("size", size)) => mount.tmpfs_size = parse_bytes(size)?.unsigned_abs(),
        Some(("mode", mode)) => mount.tmpfs_mode = parse_octal(mode)?,
        Some(("uid" | "gid", id)) if id.parse::<u32>().is_ok() => {
            mount.options.push(option.to_string());
        }
        None if option == "ro" => mount.read_only = true,
        None if matches!(
            option,
            "rw" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev"
        ) =>
        {
            mount.options.push(option.to_string());
        }
        _ => {
            return Err(format!(
                "unknown tmpfs option {option:?}: use size=, mode=, uid=, gid=, ro or a mount flag such as noexec"
            ));
        }
    }
    Ok(())
}

/// Secrets or configs: top-level files bind-mounted read-only.
struct FileResource {
    /// The key, at the top level and in a service.
    field: &'static str,
    /// One of them, for messages.
    singular: &'static str,
    /// Where a relative target (or the source name) goes.
    directory: &'static str,
}

const SECRETS: FileResource = FileResource {
    field: "secrets",
    singular: "secret",
    directory: "/run/secrets/",
};

const CONFIGS: FileResource = FileResource {
    field: "configs",
    singular: "config",
    directory: "/",
};

/// The service's secrets or configs as read-only binds of their files.
/// `uid`, `gid` and `mode` are ignored, as Docker Compose ignores them for
/// file-backed ones (a bind keeps the file's owner and mode).
fn file_mounts(
    context: &SpecContext<'_>,
    service: &Fields<'_>,
    kind: &FileResource,
) -> Result<Vec<MountSpec>, SpecError> {
    let mut mounts = Vec::new();
    for (value, path) in service.items(kind.field) {
        let grant = Fields::of(value, path)?;
        let Some(source) = grant.string("source")? else {
            return Err(SpecError::new(
                &grant.path,
                format!("a {} needs `source`", kind.singular),
            ));
        };
        let target = match grant.string("target")? {
            Some(target) if target.starts_with('/') => target,
            Some(target) => format!("{}{target}", kind.directory),
            None => format!("{}{source}", kind.directory),
        };
        mounts.push(MountSpec {
            kind: MountKind::Bind,
            source: resource_file(context, kind, &source, &grant.path)?,
            target,
            read_only: true,
            ..MountSpec::default()
        });
    }
    Ok(mounts)
}

/// The host file of the top-level secret or config `name`; the kinds one
/// host cannot provide yet are refused (the error is at `path`, the
/// service's grant).
fn resource_file(
    context: &SpecContext<'_>,
    kind: &FileResource,
    name: &str,
    path: &ModelPath,
) -> Result<String, SpecError> {
    match declared_resource(context, kind, name, path)? {
        Resource::File(file) => Ok(file),
        Resource::Variable(variable) => Err(SpecError::new(
            path,
            format!(
                "{} {name:?} comes from the variable {variable}: {}s from `environment:` are not supported on one host yet; give it a `file:`",
                kind.singular, kind.singular
            ),
        )),
    }
}

/// Where a top-level secret or config keeps its value.
enum Resource {
    /// `file:` (made absolute when the project loaded).
    File(String),
    /// `environment:`, a variable's name.
    Variable(String),
}

/// The top-level secret or config `name`, checked for what one host can
/// give (the error is at `path`, the grant that names it).
fn declared_resource(
    context: &SpecContext<'_>,
    kind: &FileResource,
    name: &str,
    path: &ModelPath,
) -> Result<Resource, SpecError> {
    let what = format!("{} {name:?}", kind.singular);
    let Some(declared) = context.model.get(kind.field).and_then(|r| r.get(name)) else {
        return Err(SpecError::new(
            path,
            format!(
                "{what} is not declared under the top-level `{}:` key",
                kind.field
            ),
        ));
    };
    let resource = Fields::of(declared, ModelPath::root().key(kind.field).key(name))?;
    let refuse = |why: String| Err(SpecError::new(path, format!("{what} {why}")));
    if resource
        .get("external")
        .is_some_and(|(value, _)| is_set(value))
    {
        return refuse(format!(
            "is external, which needs a {} store that hoist does not have on one host: give it a `file:`",
            kind.singular
        ));
    }
    if resource.get("content").is_some() {
        return refuse(
            "has inline `content:`, which hoist does not support yet: put it in a file and give it a `file:`"
                .to_string(),
        );
    }
    for field in ["driver", "template_driver"] {
        if resource.get(field).is_some() {
            return refuse(format!("sets `{field}:`, which hoist does not support"));
        }
    }
    if let Some(file) = resource.string("file")? {
        return Ok(Resource::File(file));
    }
    match resource.string("environment")? {
        Some(variable) => Ok(Resource::Variable(variable)),
        None => refuse("has no `file:` to mount".to_string()),
    }
}

/// Where one of a build's secrets comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum BuildSecretSource {
    /// A file on this host.
    File(String),
    /// The value of a variable of the project's environment.
    Value(Vec<u8>),
}

impl std::fmt::Debug for BuildSecretSource {
    /// A value is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// One of a service's `build.secrets`: the id a Dockerfile's
/// `RUN --mount=type=secret,id=…` names (the grant's `target`, else its
/// `source`), and where its value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSecret {
    /// The id in the build.
    pub id: String,
    /// Its value's origin.
    pub source: BuildSecretSource,
}

/// The service's `build.secrets`, from the top-level `secrets:` (a `file:`
/// or, as Docker Compose allows for builds, an `environment:` variable of
/// the project's environment).
pub fn build_secrets(
    context: &SpecContext<'_>,
    service: &str,
) -> Result<Vec<BuildSecret>, SpecError> {
    let path = ModelPath::root().key("services").key(service).key("build");
    let Some(build) = context
        .model
        .get("services")
        .and_then(|s| s.get(service))
        .and_then(|s| s.get("build"))
        .filter(|build| build.is_object())
    else {
        return Ok(Vec::new());
    };
    let build = Fields::of(build, path)?;
    let mut secrets = Vec::new();
    for (value, path) in build.items("secrets") {
        let (name, target) = match value {
            Value::String(name) => (name.clone(), None),
            _ => {
                let grant = Fields::of(value, path.clone())?;
                let Some(name) = grant.string("source")? else {
                    return Err(SpecError::new(&path, "a secret needs `source`"));
                };
                (name, grant.string("target")?)
            }
        };
        let source = match declared_resource(context, &SECRETS, &name, &path)? {
            Resource::File(file) => BuildSecretSource::File(file),
            Resource::Variable(variable) => match context.environment.get(&variable) {
                Some(value) => BuildSecretSource::Value(value.clone().into_bytes()),
                None => {
                    return Err(SpecError::new(
                        &path,
                        format!(
                            "secret {name:?} comes from the variable {variable}, which is not set"
                        ),
                    ));
                }
            },
        };
        secrets.push(BuildSecret {
            id: target.unwrap_or(name),
            source,
        });
    }
    Ok(secrets)
}

/// cgroup limits: the service's fields, with `deploy.resources.limits`
/// and `reservations.memory` over them, as Docker Compose does.
fn resources(service: &Fields<'_>) -> Result<Resources, SpecError> {
    let mut resources = Resources {
        memory: service.bytes("mem_limit")?.unwrap_or(0),
        memory_swap: service.bytes("memswap_limit")?.unwrap_or(0),
        memory_reservation: service.bytes("mem_reservation")?.unwrap_or(0),
        nano_cpus: service.read("cpus", nano_cpus)?.unwrap_or(0),
        cpu_shares: service.integer("cpu_shares")?.unwrap_or(0),
        cpu_period: service.integer("cpu_period")?.unwrap_or(0),
        cpu_quota: service.integer("cpu_quota")?.unwrap_or(0),
        cpuset_cpus: service.string("cpuset")?.unwrap_or_default(),
        pids_limit: service.integer("pids_limit")?.filter(|p| *p != 0),
        oom_kill_disable: service.flag("oom_kill_disable")?,
        memory_swappiness: service.integer("mem_swappiness")?,
        ..Resources::default()
    };
    if let Some(blkio) = service.fields("blkio_config")? {
        block_io(&blkio, &mut resources)?;
    }
    if let Some(limits) = service.nested(&["deploy", "resources", "limits"])? {
        if let Some(memory) = limits.bytes("memory")?.filter(|m| *m != 0) {
            resources.memory = memory;
        }
        if let Some(cpus) = limits.read("cpus", nano_cpus)?.filter(|c| *c != 0) {
            resources.nano_cpus = cpus;
        }
        if let Some(pids) = limits.integer("pids")?.filter(|p| *p > 0) {
            resources.pids_limit = Some(pids);
        }
    }
    if let Some(reservations) = service.nested(&["deploy", "resources", "reservations"])?
        && let Some(memory) = reservations.bytes("memory")?.filter(|m| *m != 0)
    {
        resources.memory_reservation = memory;
    }
    Ok(resources)
}

/// `deploy.restart_policy` when set (as Docker Compose and the spec have
/// it), else `restart`.
fn restart_policy(service: &Fields<'_>) -> Result<RestartPolicy, SpecError> {
    if let Some(policy) = service.nested(&["deploy", "restart_policy"])? {
        return deploy_restart_policy(&policy);
    }
    match service.string("restart")? {
        Some(restart) => RestartPolicy::parse(&restart).map_err(|e| service.error("restart", e)),
        None => Ok(RestartPolicy::default()),
    }
}

/// `condition` (`none`, `on-failure`, `any` by default) and
/// `max_attempts`; `delay` and `window` are ignored, as Docker Compose
/// ignores them.
fn deploy_restart_policy(policy: &Fields<'_>) -> Result<RestartPolicy, SpecError> {
    let condition = policy.string("condition")?;
    let name = match condition.as_deref().unwrap_or("any") {
        "none" | "no" => "no",
        "on-failure" => "on-failure",
        "any" | "always" => "always",
        "unless-stopped" => "unless-stopped",
        other => {
            return Err(policy.error(
                "condition",
                format!("unknown restart condition {other:?}: use none, on-failure or any"),
            ));
        }
    };
    let attempts = policy.integer("max_attempts")?.unwrap_or(0);
    if attempts < 0 {
        return Err(policy.error("max_attempts", "max_attempts cannot be negative"));
    }
    if attempts > 0 && name != "on-failure" {
        return Err(policy.error(
            "max_attempts",
            "max_attempts needs `condition: on-failure`: a container restarted whatever its exit status is never given up on",
        ));
    }
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: attempts,
    })
}

/// `extra_hosts` as `host:ip` lines: a list of `HOST=IP` or `HOST:IP`
/// (IPs separated by commas), or a mapping of hosts to an IP or a list of
/// them; IPv6 addresses may be in brackets.
fn extra_hosts(service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    match service.get("extra_hosts") {
        None => Ok(Vec::new()),
        Some((hosts @ Value::Object(_), path)) => host_mapping(&Fields::of(hosts, path)?),
        Some(_) => host_list(service),
    }
}

/// `extra_hosts: [HOST=IP, HOST:IP1,IP2]`.
fn host_list(service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    let mut lines = Vec::new();
    for (value, path) in service.items("extra_hosts") {
        let entry = text(value, &path)?;
        let Some((host, ips)) = entry.split_once('=').or_else(|| entry.split_once(':')) else {
            return Err(SpecError::new(&path, format!("{entry:?} is not HOST=IP")));
        };
        for ip in ips.split(',') {
            lines.push(host_line(host, ip, &path)?);
        }
    }
    Ok(lines)
}

/// `extra_hosts: {HOST: IP, OTHER: [IP1, IP2]}`.
fn host_mapping(hosts: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    let mut lines = Vec::new();
    for (host, ips, path) in hosts.entries() {
        let ips = match ips {
            Value::Array(_) => hosts.strings(host)?,
            ip => vec![text(ip, &path)?],
        };
        for ip in ips {
            lines.push(host_line(host, &ip, &path)?);
        }
    }
    Ok(lines)
}

/// One `host:ip` line, the brackets of an IPv6 address removed.
fn host_line(host: &str, ip: &str, path: &ModelPath) -> Result<String, SpecError> {
    let ip = ip
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .unwrap_or(ip);
    if host.is_empty() || host.contains([':', '=']) || ip.is_empty() {
        return Err(SpecError::new(
            path,
            format!("{host}={ip} is not a host name and an IP address"),
        ));
    }
    Ok(format!("{host}:{ip}"))
}

/// `sysctls` (a mapping once normalised); every one needs a value.
fn sysctls(service: &Fields<'_>) -> Result<BTreeMap<String, String>, SpecError> {
    let Some(sysctls) = service.fields("sysctls")? else {
        return Ok(BTreeMap::new());
    };
    sysctls
        .entries()
        .map(|(key, value, path)| match value {
            Value::Null => Err(SpecError::new(
                &path,
                format!("sysctl {key} needs a value: {key}=VALUE"),
            )),
            value => Ok((key.to_string(), text(value, &path)?)),
        })
        .collect()
}

/// `blkio_config`: the weight, and per-device weights and rate limits
/// (`{path, weight}`, `{path, rate}`), each entry checked as the matching
/// `docker run` flag checks `DEVICE:VALUE`.
fn block_io(blkio: &Fields<'_>, resources: &mut Resources) -> Result<(), SpecError> {
    if let Some((value, path)) = blkio.get("weight") {
        let weight = text(value, &path)?;
        resources.blkio_weight = weight
            .parse()
            .map_err(|_| format!("invalid block I/O weight {weight:?}: use 10 to 1000"))
            .and_then(|w| check_weight(w).map(|()| w))
            .map_err(|e| SpecError::new(&path, e))?;
    }
    resources.blkio_weight_device =
        device_entries(blkio, "weight_device", "weight", WeightDevice::parse)?;
    resources.blkio_device_read_bps =
        device_entries(blkio, "device_read_bps", "rate", ThrottleDevice::parse_bps)?;
    resources.blkio_device_write_bps =
        device_entries(blkio, "device_write_bps", "rate", ThrottleDevice::parse_bps)?;
    resources.blkio_device_read_iops = device_entries(
        blkio,
        "device_read_iops",
        "rate",
        ThrottleDevice::parse_iops,
    )?;
    resources.blkio_device_write_iops = device_entries(
        blkio,
        "device_write_iops",
        "rate",
        ThrottleDevice::parse_iops,
    )?;
    Ok(())
}

/// The `{path, VALUE_KEY}` entries of `blkio_config.KEY`, each read by
/// `parse` as the matching flag's `DEVICE:VALUE`; errors at the entry.
fn device_entries<T>(
    blkio: &Fields<'_>,
    key: &str,
    value_key: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, SpecError> {
    blkio
        .items(key)
        .into_iter()
        .map(|(item, path)| {
            let entry = Fields::of(item, path.clone())?;
            let device = entry
                .string("path")?
                .ok_or_else(|| SpecError::new(&path, "an entry needs `path`, the device"))?;
            let (value, value_path) = entry
                .get(value_key)
                .ok_or_else(|| SpecError::new(&path, format!("an entry needs `{value_key}`")))?;
            parse(&format!("{device}:{}", text(value, &value_path)?))
                .map_err(|e| SpecError::new(&path, e))
        })
        .collect()
}

/// `annotations` (a mapping once normalised; a key alone has an empty
/// value, as for labels).
fn annotations(service: &Fields<'_>) -> Result<BTreeMap<String, String>, SpecError> {
    let Some(annotations) = service.fields("annotations")? else {
        return Ok(BTreeMap::new());
    };
    annotations
        .entries()
        .map(|(key, value, path)| match value {
            Value::Null => Ok((key.to_string(), String::new())),
            value => Ok((key.to_string(), text(value, &path)?)),
        })
        .collect()
}

/// `devices`: `HOST[:CONTAINER][:PERMISSIONS]` strings, or mappings
/// `{source, target, permissions}` (the schema's long syntax), each checked
/// as Docker checks `--device`.
fn devices(service: &Fields<'_>) -> Result<Vec<DeviceMapping>, SpecError> {
    service
        .items("devices")
        .into_iter()
        .map(|(value, path)| device(value, &path))
        .collect()
}

/// One `devices` entry; in the long syntax `target` defaults to `source`
/// and `permissions` to `rwm`, as in the short one. Errors are at the
/// entry's path.
fn device(value: &Value, path: &ModelPath) -> Result<DeviceMapping, SpecError> {
    let Value::Object(_) = value else {
        return DeviceMapping::parse(&text(value, path)?).map_err(|e| SpecError::new(path, e));
    };
    let entry = Fields::of(value, path.clone())?;
    let Some(source) = entry.string("source")? else {
        return Err(SpecError::new(
            path,
            "a device needs `source`, the path on the host",
        ));
    };
    let target = entry.string("target")?;
    let permissions = entry.string("permissions")?;
    let mapping = DeviceMapping::new(
        &source,
        target.as_deref().unwrap_or(&source),
        permissions.as_deref().unwrap_or(DEFAULT_PERMISSIONS),
    );
    mapping.check().map_err(|e| SpecError::new(path, e))?;
    Ok(mapping)
}

/// `device_cgroup_rules` (`c 42:* rmw`), each checked as Docker checks
/// `--device-cgroup-rule`, so a bad rule fails here rather than at start.
fn device_cgroup_rules(service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    service
        .items("device_cgroup_rules")
        .into_iter()
        .map(|(value, path)| {
            let rule = text(value, &path)?;
            check_cgroup_rule(&rule).map_err(|e| SpecError::new(&path, e))?;
            Ok(rule)
        })
        .collect()
}

/// `ulimits`: `nofile: 1024` (soft and hard) or `nofile: {soft, hard}`.
fn ulimits(service: &Fields<'_>) -> Result<Vec<Ulimit>, SpecError> {
    let Some(ulimits) = service.fields("ulimits")? else {
        return Ok(Vec::new());
    };
    ulimits
        .entries()
        .map(|(name, value, path)| ulimit(name, value, path))
        .collect()
}

/// One ulimit; the soft limit cannot be above the hard one.
fn ulimit(name: &str, value: &Value, path: ModelPath) -> Result<Ulimit, SpecError> {
    let (soft, hard) = match value {
        Value::Object(_) => {
            let limits = Fields::of(value, path.clone())?;
            let limit = |key: &str| {
                limits
                    .integer(key)?
                    .ok_or_else(|| limits.error(key, format!("ulimit {name} needs `{key}`")))
            };
            (limit("soft")?, limit("hard")?)
        }
        single => {
            let limit = integer(single, &path)?;
            (limit, limit)
        }
    };
    if soft > hard {
        return Err(SpecError::new(
            &path,
            format!("the soft limit {soft} is above the hard limit {hard}"),
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `volumes_from`: `container:<name>[:ro|:rw]` as the daemon takes it
/// (`<name>[:mode]`), a service as `service:<name>[:mode]` (resolved to
/// its first container when this one is created).
fn volumes_from(service: &Fields<'_>) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for (value, path) in service.items("volumes_from") {
        let entry = text(value, &path)?;
        out.push(match entry.strip_prefix("container:") {
            Some(container) => container.to_string(),
            None => format!("service:{entry}"),
        });
    }
    Ok(out)
}

/// `pid` or `ipc`: `host`, `container:<name>`, `service:<name>` … as they
/// are (`service:` is resolved to that service's container when it is
/// created).
fn namespace_mode(service: &Fields<'_>, field: &str) -> Result<String, SpecError> {
    Ok(service.string(field)?.unwrap_or_default())
}

/// `logging`: the driver and its options (null options left out).
fn log_config(service: &Fields<'_>) -> Result<LogConfig, SpecError> {
    let Some(logging) = service.fields("logging")? else {
        return Ok(LogConfig::default());
    };
    let mut config = BTreeMap::new();
    if let Some(options) = logging.fields("options")? {
        for (key, value, path) in options.entries().filter(|(_, v, _)| !v.is_null()) {
            config.insert(key.to_string(), text(value, &path)?);
        }
    }
    Ok(LogConfig {
        driver: logging.string("driver")?.unwrap_or_default(),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{LoadOptions, load};

    /// A project directory with a compose file and the variables it is
    /// loaded with.
    struct Fixture {
        dir: tempfile::TempDir,
        environment: BTreeMap<String, String>,
    }

    impl Fixture {
        fn new(compose: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
            Self {
                dir,
                environment: BTreeMap::new(),
            }
        }

        fn file(self, name: &str, text: &str) -> Self {
            std::fs::write(self.dir.path().join(name), text).unwrap();
            self
        }

        fn variable(mut self, name: &str, value: &str) -> Self {
            self.environment.insert(name.into(), value.into());
            self
        }

        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }

        /// `read` over the loaded project.
        fn loaded<T>(&self, read: impl FnOnce(&SpecContext<'_>) -> T) -> T {
            let project = load(&LoadOptions {
                files: vec![self.dir.path().join("compose.yaml")],
                working_dir: self.dir.path().to_path_buf(),
                environment: self.environment.clone(),
                ..Default::default()
            })
            .unwrap();
            let model = project.model.to_json();
            read(&SpecContext {
                model: &model,
                environment: &project.environment,
            })
        }

        fn spec(&self, service: &str) -> Result<ContainerSpec, SpecError> {
            self.loaded(|context| container_spec(context, service))
        }
    }

    fn spec(compose: &str) -> ContainerSpec {
        Fixture::new(compose).spec("app").unwrap()
    }

    fn error(compose: &str) -> SpecError {
        Fixture::new(compose).spec("app").unwrap_err()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn process_settings_map_one_to_one() {
        let spec = spec(
            r#"
name: demo
services:
  app:
    image: busybox:1.36
    command: echo "hello world"
    entrypoint: [/bin/sh, -c]
    working_dir: /srv
    user: "1000:1000"
    group_add: [audio, 44]
    hostname: box
    domainname: example.org
    tty: true
    stdin_open: true
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    init: true
    read_only: true
    privileged: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: [no-new-privileges:true]
    dns: 1.1.1.1
    dns_search: [example.org]
    dns_opt: [ndots:2]
    platform: linux/amd64
    mac_address: "02:42:ac:11:00:02"
"#,
        );
        assert_eq!(spec.image, "busybox:1.36");
        assert_eq!(spec.cmd, Some(strings(&["echo", "hello world"])));
        assert_eq!(spec.entrypoint, Some(strings(&["/bin/sh", "-c"])));
        assert_eq!(spec.working_dir.as_deref(), Some("/srv"));
        assert_eq!(spec.user.as_deref(), Some("1000:1000"));
        assert_eq!(spec.group_add, strings(&["audio", "44"]));
        assert_eq!(spec.hostname.as_deref(), Some("box"));
        assert_eq!(spec.domainname.as_deref(), Some("example.org"));
        assert!(spec.tty && spec.open_stdin && !spec.stdin_once);
        assert_eq!(spec.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(spec.stop_timeout, Some(90));
        assert!(spec.init && spec.read_only && spec.privileged);
        assert_eq!(spec.cap_add, strings(&["NET_ADMIN"]));
        assert_eq!(spec.cap_drop, strings(&["ALL"]));
        assert_eq!(spec.security_opt, strings(&["no-new-privileges:true"]));
        assert_eq!(spec.dns, strings(&["1.1.1.1"]));
        assert_eq!(spec.dns_search, strings(&["example.org"]));
        assert_eq!(spec.dns_options, strings(&["ndots:2"]));
        assert_eq!(spec.platform, "linux/amd64");
        assert_eq!(spec.mac_address.as_deref(), Some("02:42:ac:11:00:02"));
        assert_eq!(spec.network_mode, "", "networks are the caller's");
        assert!(spec.labels.is_empty(), "compose labels are the caller's");
    }

    #[test]
    fn unset_fields_keep_the_image_defaults() {
        let spec = spec("services:\n  app:\n    image: busybox\n");
        assert_eq!(
            spec,
            ContainerSpec {
                image: "busybox".into(),
                ..ContainerSpec::default()
            }
        );
    }

    #[test]
    fn an_empty_entrypoint_clears_the_images() {
        let spec = spec("services:\n  app:\n    image: busybox\n    entrypoint: []\n");
        assert_eq!(spec.entrypoint, Some(Vec::new()));
        assert_eq!(spec.cmd, None);
    }

    #[test]
    fn a_built_service_runs_the_image_compose_names() {
        let built = spec("name: demo\nservices:\n  app:\n    build: .\n");
        assert_eq!(built.image, "demo-app");
        let tagged = spec("services:\n  app:\n    build: .\n    image: registry.example/app:dev\n");
        assert_eq!(tagged.image, "registry.example/app:dev");
    }

    #[test]
    fn environment_wins_over_env_files_in_order() {
        let fixture = Fixture::new(
            r#"
services:
  app:
    image: busybox
    env_file:
      - a.env
      - path: b.env
      - path: missing.env
        required: false
    environment:
      FROM_B: environment
      PASSED: null
      UNSET: null
      NUMBER: 3
"#,
        )
        .file(
            "a.env",
            "# first\nFROM_A=a\nFROM_B=a\nURL=http://${HOST}:${PORT:-80}\nUNSET=from-a\n",
        )
        .file(
            "b.env",
            "FROM_B=b\nQUOTED='$HOST kept'\nCHAINED=${FROM_A}2\n",
        )
        .variable("HOST", "db")
        .variable("PASSED", "from the shell");
        let spec = fixture.spec("app").unwrap();
        assert_eq!(
            spec.env,
            strings(&[
                "CHAINED=a2",
                "FROM_A=a",
                "FROM_B=environment",
                "NUMBER=3",
                "PASSED=from the shell",
                "QUOTED=$HOST kept",
                "URL=http://db:80",
            ])
        );
    }

    #[test]
    fn a_missing_required_env_file_is_named() {
        let fixture =
            Fixture::new("services:\n  app:\n    image: busybox\n    env_file: nope.env\n");
        let error = fixture.spec("app").unwrap_err();
        assert_eq!(error.path, "services.app.env_file[0].path");
        assert!(
            error.message.contains(&fixture.path("nope.env"))
                && error.message.contains("not found"),
            "{error}"
        );
    }

    #[test]
    fn raw_env_files_are_taken_as_written() {
        let fixture = Fixture::new(
            "services:\n  app:\n    image: busybox\n    env_file:\n      - path: raw.env\n        format: raw\n",
        )
        .file("raw.env", "# comment\nQUOTED=\"$HOME\" 'x'\nINHERITED\n\nEMPTY=\n")
        .variable("INHERITED", "yes");
        let spec = fixture.spec("app").unwrap();
        assert_eq!(
            spec.env,
            strings(&["EMPTY=", "INHERITED=yes", "QUOTED=\"$HOME\" 'x'"])
        );
        let unknown = Fixture::new(
            "services:\n  app:\n    image: busybox\n    env_file:\n      - path: raw.env\n        format: ini\n",
        )
        .file("raw.env", "A=1\n")
        .spec("app")
        .unwrap_err();
        assert_eq!(unknown.path, "services.app.env_file[0].format");
    }

    #[test]
    fn labels_win_over_label_files() {
        let fixture = Fixture::new(
            r#"
services:
  app:
    image: busybox
    label_file: [one.labels, ./two.labels]
    labels:
      - com.example.kept
      - com.example.tier=web
"#,
        )
        .file("one.labels", "com.example.tier=db\ncom.example.team=core\n")
        .file("two.labels", "com.example.team=edge\n");
        let spec = fixture.spec("app").unwrap();
        assert_eq!(
            spec.labels,
            BTreeMap::from([
                ("com.example.kept".to_string(), String::new()),
                ("com.example.team".to_string(), "edge".to_string()),
                ("com.example.tier".to_string(), "web".to_string()),
            ])
        );
        let missing = Fixture::new("services:\n  app:\n    image: busybox\n    label_file: gone\n")
            .spec("app")
            .unwrap_err();
        assert_eq!(missing.path, "services.app.label_file[0]");
    }

    #[test]
    fn healthchecks_take_durations_in_nanoseconds() {
        let check = spec(
            r#"
services:
  app:
    image: busybox
    healthcheck:
      test: curl -f http://localhost
      interval: 1m30s
      timeout: 10s
      start_period: 500ms
      start_interval: 1s
      retries: 5
"#,
        );
        assert_eq!(
            check.healthcheck,
            Some(HealthcheckSpec {
                test: strings(&["CMD-SHELL", "curl -f http://localhost"]),
                interval: 90 * NANOS_PER_SECOND,
                timeout: 10 * NANOS_PER_SECOND,
                start_period: NANOS_PER_SECOND / 2,
                start_interval: NANOS_PER_SECOND,
                retries: 5,
            })
        );
        let disabled =
            spec("services:\n  app:\n    image: busybox\n    healthcheck:\n      disable: true\n");
        assert_eq!(
            disabled.healthcheck.map(|h| h.test),
            Some(strings(&["NONE"]))
        );
        let bad = error(
            "services:\n  app:\n    image: busybox\n    healthcheck:\n      interval: soon\n",
        );
        assert_eq!(bad.path, "services.app.healthcheck.interval");
        assert!(bad.message.contains("invalid duration"), "{bad}");
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
    fn ports_publish_and_expose() {
        let spec = spec(
            r#"
services:
  app:
    image: busybox
    expose: ["3000", 4000-4001, 53/udp]
    ports:
      - "8080:80"
      - "127.0.0.1:9000-9001:90-91/udp"
      - "8000-8010:443"
      - 5000
      - target: 6000
        published: "6001"
        host_ip: "::1"
        protocol: sctp
        mode: host
"#,
        );
        assert_eq!(
            spec.exposed_ports,
            strings(&["3000/tcp", "4000/tcp", "4001/tcp", "53/udp"])
        );
        assert_eq!(
            spec.port_bindings,
            [
                binding(80, "tcp", "", (8080, 8080)),
                binding(90, "udp", "127.0.0.1", (9000, 9000)),
                binding(91, "udp", "127.0.0.1", (9001, 9001)),
                binding(443, "tcp", "", (8000, 8010)),
                binding(5000, "tcp", "", (0, 0)),
                binding(6000, "sctp", "::1", (6001, 6001)),
            ]
        );
        let bad = error("services:\n  app:\n    image: busybox\n    expose: [\"80/icmp\"]\n");
        assert_eq!(bad.path, "services.app.expose[0]");
    }

    #[test]
    fn volumes_become_mounts() {
        let fixture = Fixture::new(
            r#"
name: demo
services:
  app:
    image: busybox
    volumes:
      - ./data:/data:ro
      - type: bind
        source: /srv/config
        target: /config
        bind:
          propagation: rshared
      - cache:/cache:nocopy
      - /scratch
      - type: volume
        source: shared
        target: /shared
        read_only: true
      - type: tmpfs
        target: /run
        tmpfs:
          size: 64m
          mode: "1777"
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 1024
          mode: 0755
      - type: tmpfs
        target: /private
        tmpfs:
          mode: 0o700
volumes:
  cache:
  shared:
    external: true
    name: team-shared
"#,
        );
        let spec = fixture.spec("app").unwrap();
        assert_eq!(
            spec.mounts,
            [
                MountSpec {
                    kind: MountKind::Bind,
                    source: fixture.path("data"),
                    target: "/data".into(),
                    read_only: true,
                    create_source: true,
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Bind,
                    source: "/srv/config".into(),
                    target: "/config".into(),
                    propagation: "rshared".into(),
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Volume,
                    source: "demo_cache".into(),
                    target: "/cache".into(),
                    no_copy: true,
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Volume,
                    target: "/scratch".into(),
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Volume,
                    source: "team-shared".into(),
                    target: "/shared".into(),
                    read_only: true,
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    target: "/run".into(),
                    tmpfs_size: 64 << 20,
                    tmpfs_mode: 0o1777,
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    target: "/tmp".into(),
                    tmpfs_size: 1024,
                    tmpfs_mode: 0o755,
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    target: "/private".into(),
                    tmpfs_mode: 0o700,
                    ..MountSpec::default()
                },
            ]
        );
    }

    #[test]
    fn mounts_one_host_cannot_make_are_refused() {
        for (volume, path, says) in [
            (
                "{type: npipe, source: x, target: /x}",
                "services.app.volumes[0].type",
                "npipe mounts are not supported",
            ),
            (
                "{type: volume, source: v, target: /x, volume: {subpath: a}}",
                "services.app.volumes[0].volume.subpath",
                "subpaths",
            ),
            (
                "{type: bind, source: /x, target: /x, bind: {recursive: disabled}}",
                "services.app.volumes[0].bind.recursive",
                "always recursive",
            ),
            (
                "{type: bind, source: /x, target: relative}",
                "services.app.volumes[0].target",
                "not an absolute path",
            ),
        ] {
            let error = error(&format!(
                "services:\n  app:\n    image: busybox\n    volumes:\n      - {volume}\nvolumes:\n  v:\n"
            ));
            assert_eq!(error.path, path, "{volume}");
            assert!(error.message.contains(says), "{error}");
        }
    }

    #[test]
    fn tmpfs_entries_take_their_options() {
        let spec = spec(
            "services:\n  app:\n    image: busybox\n    tmpfs:\n      - /run\n      - /data:size=1g,mode=755,uid=1009,gid=1009,noexec,ro\n",
        );
        assert_eq!(
            spec.mounts,
            [
                MountSpec {
                    kind: MountKind::Tmpfs,
                    target: "/run".into(),
                    ..MountSpec::default()
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    target: "/data".into(),
                    read_only: true,
                    tmpfs_size: 1 << 30,
                    tmpfs_mode: 0o755,
                    options: strings(&["uid=1009", "gid=1009", "noexec"]),
                    ..MountSpec::default()
                },
            ]
        );
        let bad = error("services:\n  app:\n    image: busybox\n    tmpfs: /x:mode=999\n");
        assert_eq!(bad.path, "services.app.tmpfs[0]");
        assert!(bad.message.contains("octal"), "{bad}");
    }

    #[test]
    fn secrets_and_configs_are_read_only_binds_of_their_files() {
        let fixture = Fixture::new(
            r#"
services:
  app:
    image: busybox
    volumes:
      - ./override:/etc/app.conf
    secrets:
      - token
      - source: token
        target: renamed
      - source: cert
        target: /etc/ssl/cert.pem
        mode: 0o400
    configs:
      - app
      - source: app
        target: etc/app.conf
      - source: app
        target: conf/app.ini
secrets:
  token:
    file: ./token.txt
  cert:
    file: /certs/cert.pem
configs:
  app:
    file: ./app.conf
"#,
        );
        let bind = |source: String, target: &str| MountSpec {
            kind: MountKind::Bind,
            source,
            target: target.into(),
            read_only: true,
            ..MountSpec::default()
        };
        let spec = fixture.spec("app").unwrap();
        assert_eq!(
            spec.mounts[1..],
            [
                bind(fixture.path("token.txt"), "/run/secrets/token"),
                bind(fixture.path("token.txt"), "/run/secrets/renamed"),
                bind("/certs/cert.pem".into(), "/etc/ssl/cert.pem"),
                bind(fixture.path("app.conf"), "/app"),
                bind(fixture.path("app.conf"), "/conf/app.ini"),
            ],
            "the volume at /etc/app.conf replaces the config there"
        );
        assert_eq!(spec.mounts[0].target, "/etc/app.conf");
    }

    #[test]
    fn secrets_one_host_cannot_provide_are_refused() {
        for (resource, says) in [
            (
                "secrets:\n  s:\n    environment: TOKEN\n",
                "not supported on one host",
            ),
            ("secrets:\n  s:\n    external: true\n", "is external"),
        ] {
            let error = error(&format!(
                "services:\n  app:\n    image: busybox\n    secrets: [s]\n{resource}"
            ));
            assert_eq!(error.path, "services.app.secrets[0]");
            assert!(error.message.contains(says), "{error}");
        }
        let error = error(
            "services:\n  app:\n    image: busybox\n    configs: [c]\nconfigs:\n  c:\n    content: hello\n",
        );
        assert_eq!(error.path, "services.app.configs[0]");
        assert!(error.message.contains("`content:`"), "{error}");
    }

    #[test]
    fn build_secrets_come_from_files_or_variables() {
        let fixture = Fixture::new(
            "services:\n  app:\n    build:\n      context: .\n      secrets:\n        - npmrc\n        - {source: token, target: api_token}\n\
             secrets:\n  npmrc: {file: ./npmrc}\n  token: {environment: API_TOKEN}\n",
        )
        .file("npmrc", "registry=x")
        .variable("API_TOKEN", "t0k3n");
        let secrets = fixture
            .loaded(|context| build_secrets(context, "app"))
            .unwrap();
        assert_eq!(
            secrets,
            [
                BuildSecret {
                    id: "npmrc".into(),
                    source: BuildSecretSource::File(fixture.path("npmrc")),
                },
                BuildSecret {
                    id: "api_token".into(),
                    source: BuildSecretSource::Value(b"t0k3n".to_vec()),
                },
            ]
        );
        assert!(!format!("{secrets:?}").contains("t0k3n"), "{secrets:?}");
        for (compose, says) in [
            (
                "secrets:\n  s: {environment: UNSET_HERE}\n",
                "UNSET_HERE, which is not set",
            ),
            ("secrets:\n  s: {external: true}\n", "is external"),
            ("", "not declared"),
        ] {
            let error = Fixture::new(&format!(
                "services:\n  app:\n    build:\n      context: .\n      secrets: [s]\n{compose}"
            ))
            .loaded(|context| build_secrets(context, "app"))
            .unwrap_err();
            assert_eq!(error.path, "services.app.build.secrets[0]");
            assert!(error.message.contains(says), "{error}");
        }
    }

    #[test]
    fn resources_take_deploy_limits_over_service_fields() {
        let own = spec(
            r#"
services:
  app:
    image: busybox
    mem_limit: 512m
    memswap_limit: -1
    mem_reservation: 128m
    cpus: 1.5
    cpu_shares: 512
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: 0-1
    pids_limit: 100
    oom_kill_disable: true
    mem_swappiness: 60
    blkio_config:
      weight: 300
      weight_device: [{path: /dev/sda, weight: "400"}]
      device_read_bps: [{path: /dev/sda, rate: 12mb}]
      device_write_bps: [{path: /dev/sdb, rate: 1024}]
      device_read_iops: [{path: /dev/sda, rate: "120"}]
      device_write_iops: [{path: /dev/sda, rate: 30}]
    shm_size: 1g
"#,
        );
        assert_eq!(
            own.resources,
            Resources {
                memory: 512 << 20,
                memory_swap: -1,
                memory_reservation: 128 << 20,
                nano_cpus: 1_500_000_000,
                cpu_shares: 512,
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpuset_cpus: "0-1".into(),
                cpuset_mems: String::new(),
                pids_limit: Some(100),
                oom_kill_disable: true,
                memory_swappiness: Some(60),
                blkio_weight: 300,
                blkio_weight_device: vec![WeightDevice {
                    path: "/dev/sda".into(),
                    weight: 400
                }],
                blkio_device_read_bps: vec![throttle("/dev/sda", 12 << 20)],
                blkio_device_write_bps: vec![throttle("/dev/sdb", 1024)],
                blkio_device_read_iops: vec![throttle("/dev/sda", 120)],
                blkio_device_write_iops: vec![throttle("/dev/sda", 30)],
            }
        );
        assert_eq!(own.shm_size, 1 << 30);
        let deployed = spec(
            r#"
services:
  app:
    image: busybox
    mem_limit: 512m
    cpus: 2
    pids_limit: 100
    deploy:
      resources:
        limits: {memory: 1g, cpus: "0.25", pids: 20}
        reservations: {memory: 64m, cpus: "0.1"}
"#,
        );
        assert_eq!(
            (
                deployed.resources.memory,
                deployed.resources.nano_cpus,
                deployed.resources.pids_limit,
                deployed.resources.memory_reservation
            ),
            (1 << 30, 250_000_000, Some(20), 64 << 20)
        );
        let bad = error("services:\n  app:\n    image: busybox\n    mem_limit: lots\n");
        assert_eq!(bad.path, "services.app.mem_limit");
        assert!(bad.message.contains("invalid size"), "{bad}");
    }

    #[test]
    fn restart_policies() {
        let restart = |service: &str| {
            spec(&format!("services:\n  app:\n    image: busybox\n{service}")).restart_policy
        };
        let policy = |name: &str, count| RestartPolicy {
            name: name.into(),
            maximum_retry_count: count,
        };
        assert_eq!(restart(""), RestartPolicy::default());
        assert_eq!(
            restart("    restart: unless-stopped\n"),
            policy("unless-stopped", 0)
        );
        assert_eq!(
            restart("    restart: on-failure:3\n"),
            policy("on-failure", 3)
        );
        assert_eq!(
            restart(
                "    restart: always\n    deploy:\n      restart_policy:\n        condition: on-failure\n        max_attempts: 2\n        delay: 5s\n"
            ),
            policy("on-failure", 2),
            "deploy.restart_policy wins, as in Docker Compose"
        );
        assert_eq!(
            restart("    deploy:\n      restart_policy:\n        condition: none\n"),
            policy("no", 0)
        );
        assert_eq!(
            restart("    deploy:\n      restart_policy:\n        window: 1m\n"),
            policy("always", 0),
            "the condition is `any` by default"
        );
        let bad = error("services:\n  app:\n    image: busybox\n    restart: sometimes\n");
        assert_eq!(bad.path, "services.app.restart");
        let attempts = error(
            "services:\n  app:\n    image: busybox\n    deploy:\n      restart_policy:\n        max_attempts: 3\n",
        );
        assert_eq!(
            attempts.path,
            "services.app.deploy.restart_policy.max_attempts"
        );
    }

    #[test]
    fn extra_hosts_in_every_form() {
        let list = spec(
            "services:\n  app:\n    image: busybox\n    extra_hosts:\n      - somehost=162.242.195.82\n      - otherhost:50.31.209.229\n      - myhostv6=[::1]\n      - oldv6:::1\n      - multi=10.0.0.1,10.0.0.2\n",
        );
        assert_eq!(
            list.extra_hosts,
            strings(&[
                "somehost:162.242.195.82",
                "otherhost:50.31.209.229",
                "myhostv6:::1",
                "oldv6:::1",
                "multi:10.0.0.1",
                "multi:10.0.0.2",
            ])
        );
        let mut mapping = spec(
            "services:\n  app:\n    image: busybox\n    extra_hosts:\n      one: 10.0.0.1\n      two: [\"10.0.0.2\", \"[fe80::1]\"]\n",
        )
        .extra_hosts;
        mapping.sort();
        assert_eq!(
            mapping,
            strings(&["one:10.0.0.1", "two:10.0.0.2", "two:fe80::1"])
        );
        let bad = error("services:\n  app:\n    image: busybox\n    extra_hosts: [nohost]\n");
        assert_eq!(bad.path, "services.app.extra_hosts[0]");
    }

    #[test]
    fn kernel_and_namespace_settings() {
        let mut spec = spec(
            r#"
services:
  app:
    image: busybox
    sysctls: [net.core.somaxconn=1024]
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: 40000}
    pid: host
    ipc: shareable
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: 3}
"#,
        );
        assert_eq!(
            spec.sysctls,
            BTreeMap::from([("net.core.somaxconn".to_string(), "1024".to_string())])
        );
        spec.ulimits.sort_by(|a, b| a.name.cmp(&b.name));
        let ulimit = |name: &str, soft, hard| Ulimit {
            name: name.into(),
            soft,
            hard,
        };
        assert_eq!(
            spec.ulimits,
            [
                ulimit("nofile", 20000, 40000),
                ulimit("nproc", 65535, 65535)
            ]
        );
        assert_eq!(
            (spec.pid_mode.as_str(), spec.ipc_mode.as_str()),
            ("host", "shareable")
        );
        assert_eq!(
            spec.log_config,
            LogConfig {
                driver: "json-file".into(),
                config: BTreeMap::from([
                    ("max-file".to_string(), "3".to_string()),
                    ("max-size".to_string(), "10m".to_string()),
                ]),
            }
        );
        let shared = Fixture::new(
            "services:\n  app:\n    image: busybox\n    ipc: service:db\n  db:\n    image: busybox\n",
        )
        .spec("app")
        .unwrap();
        assert_eq!(shared.ipc_mode, "service:db");
        let inverted = error(
            "services:\n  app:\n    image: busybox\n    ulimits:\n      nofile: {soft: 2, hard: 1}\n",
        );
        assert_eq!(inverted.path, "services.app.ulimits.nofile");
    }

    /// A rate limit, for comparisons.
    fn throttle(path: &str, rate: u64) -> ThrottleDevice {
        ThrottleDevice {
            path: path.into(),
            rate,
        }
    }

    #[test]
    fn bad_block_io_settings_are_refused_at_their_entry() {
        for (setting, path, says) in [
            (
                "weight: 5",
                "services.app.blkio_config.weight",
                "10 to 1000",
            ),
            (
                "device_read_bps: [{path: /dev/sda, rate: 1zb}]",
                "services.app.blkio_config.device_read_bps[0]",
                "1zb",
            ),
            (
                "device_write_iops: [{path: sda, rate: 10}]",
                "services.app.blkio_config.device_write_iops[0]",
                "absolute path",
            ),
            (
                "weight_device: [{path: /dev/sda}]",
                "services.app.blkio_config.weight_device[0]",
                "`weight`",
            ),
        ] {
            let error = error(&format!(
                "services:\n  app:\n    image: busybox\n    blkio_config:\n      {setting}\n"
            ));
            assert_eq!(error.path, path, "{setting}: {error}");
            assert!(error.message.contains(says), "{setting}: {error}");
        }
    }

    #[test]
    fn namespace_modes_and_oom_score_map() {
        let spec = spec(
            r#"
services:
  app:
    image: busybox
    uts: host
    userns_mode: host
    cgroup: private
    cgroup_parent: /batch
    annotations: [com.example.note=hi, com.example.flag]
    oom_score_adj: 500
"#,
        );
        assert_eq!(spec.uts_mode, "host");
        assert_eq!(spec.userns_mode, "host");
        assert_eq!(spec.cgroupns_mode, "private");
        assert_eq!(spec.cgroup_parent, "/batch");
        assert_eq!(
            spec.annotations,
            BTreeMap::from([
                ("com.example.flag".to_string(), String::new()),
                ("com.example.note".to_string(), "hi".to_string()),
            ])
        );
        assert_eq!(spec.oom_score_adj, 500);
        let unset = self::spec("services:\n  app:\n    image: busybox\n");
        assert_eq!(
            (
                unset.uts_mode.as_str(),
                unset.oom_score_adj,
                unset.resources.memory_swappiness
            ),
            ("", 0, None)
        );
    }

    #[test]
    fn settings_hoist_cannot_honour_are_refused() {
        for (setting, path) in [
            ("gpus: all", "services.app.gpus"),
            ("runtime: runsc", "services.app.runtime"),
            (
                "deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}",
                "services.app.deploy.resources.reservations.devices",
            ),
        ] {
            let error = error(&format!(
                "services:\n  app:\n    image: busybox\n    {setting}\n  db:\n    image: busybox\n"
            ));
            assert_eq!(error.path, path, "{setting}");
            assert!(
                error.message.contains("not supported by hoist yet"),
                "{error}"
            );
        }
    }

    #[test]
    fn devices_map_in_short_and_long_syntax() {
        let spec = spec(
            r#"
services:
  app:
    image: busybox
    devices:
      - /dev/fuse
      - /dev/sda:/dev/xvda
      - /dev/sdb:r
      - /dev/sdc:/dev/xvdc:rw
      - source: /dev/ttyUSB0
      - source: /dev/ttyUSB1
        target: /dev/serial
        permissions: mr
        x-note: extensions are ignored
    device_cgroup_rules:
      - 'c 1:3 mr'
      - 'a 7:* rmw'
"#,
        );
        assert_eq!(
            spec.devices,
            [
                DeviceMapping::new("/dev/fuse", "/dev/fuse", "rwm"),
                DeviceMapping::new("/dev/sda", "/dev/xvda", "rwm"),
                DeviceMapping::new("/dev/sdb", "/dev/sdb", "r"),
                DeviceMapping::new("/dev/sdc", "/dev/xvdc", "rw"),
                DeviceMapping::new("/dev/ttyUSB0", "/dev/ttyUSB0", "rwm"),
                DeviceMapping::new("/dev/ttyUSB1", "/dev/serial", "mr"),
            ]
        );
        assert_eq!(
            spec.device_cgroup_rules,
            strings(&["c 1:3 mr", "a 7:* rmw"])
        );
    }

    #[test]
    fn bad_devices_and_cgroup_rules_are_refused_at_their_entry() {
        for (setting, path, says) in [
            (
                "devices: [/dev/fuse, dev/sda]",
                "services.app.devices[1]",
                "device host path \"dev/sda\" is not an absolute path",
            ),
            (
                "devices: [\"/dev/sda:/dev/xvda:rwx\"]",
                "services.app.devices[0]",
                "bad device permissions \"rwx\"",
            ),
            (
                "devices: [\"/dev/sda:/dev/xvda:rw:extra\"]",
                "services.app.devices[0]",
                "invalid device specification",
            ),
            (
                "devices: [/dev/fuse, {source: /dev/sda, permissions: rwx}]",
                "services.app.devices[1]",
                "bad device permissions \"rwx\" for /dev/sda",
            ),
            (
                "devices: [{source: /dev/sda, target: xvda}]",
                "services.app.devices[0]",
                "device container path \"xvda\" is not an absolute path",
            ),
            (
                "devices: [{source: sda}]",
                "services.app.devices[0]",
                "device host path \"sda\" is not an absolute path",
            ),
            (
                "device_cgroup_rules: [\"c 1:3 mr\", \"c 1:3 rwx\"]",
                "services.app.device_cgroup_rules[1]",
                "invalid device cgroup rule \"c 1:3 rwx\"",
            ),
            (
                "device_cgroup_rules: [\"c 42 rmw\"]",
                "services.app.device_cgroup_rules[0]",
                "invalid device cgroup rule \"c 42 rmw\"",
            ),
        ] {
            let error = error(&format!(
                "services:\n  app:\n    image: busybox\n    {setting}\n"
            ));
            assert_eq!(error.path, path, "{setting}");
            assert!(error.message.contains(says), "{setting}: {error}");
        }
    }

    #[test]
    fn unknown_keys_in_long_syntax_devices_are_refused_on_load() {
        let fixture = Fixture::new(
            "services:\n  app:\n    image: busybox\n    devices:\n      - {source: /dev/sda, mode: rw}\n",
        );
        let loaded = load(&LoadOptions {
            files: vec![fixture.dir.path().join("compose.yaml")],
            working_dir: fixture.dir.path().to_path_buf(),
            ..Default::default()
        });
        let error = loaded.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains("services.app.devices[0].mode")
                && error.contains("is not a Compose key"),
            "{error:?}"
        );
    }

    #[test]
    fn volumes_from_names_services_and_containers() {
        let spec = spec(
            "services:\n  app:\n    image: busybox\n    volumes_from: [\"db:ro\", \"container:legacy\", cache]\n  db:\n    image: busybox\n  cache:\n    image: busybox\n",
        );
        assert_eq!(
            spec.volumes_from,
            strings(&["service:db:ro", "legacy", "service:cache"])
        );
    }

    #[test]
    fn informational_settings_are_left_to_the_caller() {
        let spec = spec(
            r#"
services:
  app:
    image: busybox
    container_name: the-app
    depends_on: [db]
    links: [db, "db:db"]
    pull_policy: always
    use_api_socket: false
    deploy:
      replicas: 2
    x-note: hello
    networks: [default]
  db:
    image: busybox
"#,
        );
        assert_eq!(spec.image, "busybox");
    }

    #[test]
    fn errors_name_the_path_and_what_was_expected() {
        let error = error("services:\n  app:\n    image: busybox\n    shm_size: huge\n");
        assert!(
            error
                .to_string()
                .starts_with("services.app.shm_size: invalid size \"huge\": use a number"),
            "{error}"
        );
        let missing = Fixture::new("services:\n  app:\n    image: busybox\n")
            .spec("web")
            .unwrap_err();
        assert_eq!(missing.path, "services.web");
    }
}
