//! Turning a [`ContainerSpec`] and its image into a container record:
//! Docker's merge rules (ENTRYPOINT/CMD, Env, WorkingDir, User, Volumes,
//! Healthcheck…), validation with messages that name the bad value, and the
//! files a container gets (hosts, hostname, resolv.conf).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use hoist_api::blkio::check_weight;
use hoist_api::spec::{ContainerSpec, HealthcheckSpec, MountKind, MountSpec, Resources};
use hoist_runtime::container::security::effective_capabilities;
use hoist_runtime::devices::block_numbers;
use hoist_runtime::image::Image;
use hoist_runtime::image::changes::set_env;
use tonic::Status;

use super::record::{MountRecord, Settings};
use crate::error::invalid;

/// Docker's default PATH, added when the image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Docker's smallest memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Docker's rule for container names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks the block I/O settings: weights in range, every device a block
/// device of this host.
fn check_block_io(r: &Resources) -> Result<(), Status> {
    check_weight(r.blkio_weight).map_err(invalid)?;
    for d in &r.blkio_weight_device {
        check_weight(d.weight).map_err(invalid)?;
    }
    let limited = [
        &r.blkio_device_read_bps,
        &r.blkio_device_write_bps,
        &r.blkio_device_read_iops,
        &r.blkio_device_write_iops,
    ];
    let paths = r
        .blkio_weight_device
        .iter()
        .map(|d| &d.path)
        .chain(limited.into_iter().flatten().map(|d| &d.path));
    for path in paths {
        block_numbers(Path::new(path)).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}

/// Checks `--uts` and `--cgroupns`. A container in the host's UTS
/// namespace must not name itself: that would rename the host.
fn check_namespace_modes(spec: &ContainerSpec) -> Result<(), Status> {
    match spec.uts_mode.as_str() {
        "" => {}
        "host" => {
            let named = |n: &Option<String>| n.as_deref().is_some_and(|n| !n.is_empty());
            if named(&spec.hostname) || named(&spec.domainname) {
                return Err(invalid(
                    "conflicting options: --hostname/--domainname and --uts host (the container would rename the host)",
                ));
            }
        }
        other => {
            return Err(invalid(format!(
                "invalid --uts {other:?}: use host, or leave it unset"
            )));
        }
    }
    if spec
        .cgroup_parent
        .split('/')
        .any(|part| matches!(part, "." | "..") || part.contains('\n'))
    {
        return Err(invalid(format!(
            "invalid --cgroup-parent {:?}: give a path of cgroup names, without . or ..",
            spec.cgroup_parent
        )));
    }
    if !matches!(spec.userns_mode.as_str(), "" | "host") {
        return Err(invalid(format!(
            "invalid --userns {:?}: use host (hoist runs containers in the host's user namespace and does not remap users)",
            spec.userns_mode
        )));
    }
    if !matches!(spec.cgroupns_mode.as_str(), "" | "host" | "private") {
        return Err(invalid(format!(
            "invalid --cgroupns {:?}: use host or private",
            spec.cgroupns_mode
        )));
    }
    Ok(())
}

/// Checks the parts of a spec that need no image or state.
pub fn validate(spec: &ContainerSpec) -> Result<(), Status> {
    if spec.auto_remove && !spec.restart_policy.is_none() {
        return Err(invalid(
            "conflicting options: --restart and --rm cannot be used together",
        ));
    }
    let r = &spec.resources;
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err(invalid(format!(
            "minimum memory limit allowed is 6MB (got {} bytes)",
            r.memory
        )));
    }
    if r.memory_swap > 0 && r.memory > 0 && r.memory_swap < r.memory {
        return Err(invalid(
            "--memory-swap must be larger than --memory (it counts memory plus swap)",
        ));
    }
    if r.memory_swap > 0 && r.memory == 0 {
        return Err(invalid(
            "--memory-swap needs --memory: set the memory limit too",
        ));
    }
    if r.nano_cpus != 0 {
        // Counted only when asked for: it reads /proc and cgroup files.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if r.nano_cpus < 0 || r.nano_cpus > cpus * 1_000_000_000 {
            return Err(invalid(format!(
                "range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
    }
    if r.nano_cpus > 0 && (r.cpu_quota > 0 || r.cpu_period > 0) {
        return Err(invalid(
            "conflicting options: --cpus cannot be used with --cpu-quota or --cpu-period",
        ));
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err(invalid("--cpu-quota must be at least 1000 microseconds"));
    }
    if r.cpu_shares < 0 {
        return Err(invalid("--cpu-shares must be positive"));
    }
    effective_capabilities(spec.privileged, &spec.cap_add, &spec.cap_drop)
        .map_err(|e| invalid(e.to_string()))?;
    super::devices::check(spec)?;
    for opt in &spec.security_opt {
        security_option(opt)?;
    }
    match spec.log_config.driver.as_str() {
        "" | "json-file" | "none" => {}
        other => {
            return Err(invalid(format!(
                "logging driver {other:?} is not available: use json-file or none"
            )));
        }
    }
    super::log_attrs::check(&spec.log_config.config).map_err(invalid)?;
    let joins = |mode: &str| {
        mode.strip_prefix("container:")
            .is_some_and(|c| !c.is_empty())
    };
    if !matches!(spec.pid_mode.as_str(), "" | "host" | "private") && !joins(&spec.pid_mode) {
        return Err(invalid(format!(
            "invalid --pid {:?}: use host, container:<name|id>, or leave it unset",
            spec.pid_mode
        )));
    }
    if !matches!(
        spec.ipc_mode.as_str(),
        "" | "private" | "shareable" | "host" | "none"
    ) && !joins(&spec.ipc_mode)
    {
        return Err(invalid(format!(
            "invalid --ipc {:?}: use private, shareable, host, none or container:<name|id>",
            spec.ipc_mode
        )));
    }
    check_namespace_modes(spec)?;
    check_block_io(r)?;
    for link in &spec.links {
        let (name, alias) = hoist_api::spec::link_parts(link);
        if !valid_name(name) || !valid_name(alias) {
            return Err(invalid(format!(
                "invalid --link {link:?}: use NAME[:ALIAS], a container (or service) and the name it goes by here"
            )));
        }
    }
    for entry in &spec.extra_hosts {
        check_extra_host(entry)?;
    }
    if !(-1000..=1000).contains(&spec.oom_score_adj) {
        return Err(invalid(format!(
            "invalid --oom-score-adj {}: the range is -1000 to 1000",
            spec.oom_score_adj
        )));
    }
    if let Some(swappiness) = r.memory_swappiness
        && !(0..=100).contains(&swappiness)
    {
        return Err(invalid(format!(
            "invalid --memory-swappiness {swappiness}: use 0 to 100 (or -1 for the kernel's)"
        )));
    }
    let own_netns = spec.network_mode != "host";
    for key in spec.sysctls.keys() {
        let namespaced = key.starts_with("kernel.shm")
            || key.starts_with("kernel.msg")
            || key == "kernel.sem"
            || key.starts_with("fs.mqueue.")
            || (own_netns && key.starts_with("net."));
        if !namespaced {
            return Err(invalid(format!(
                "sysctl {key:?} is not allowed: only namespaced kernel parameters (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, and net.* with a private network) can be set per container"
            )));
        }
    }
    for ulimit in &spec.ulimits {
        if hoist_runtime::container::process::rlimit_by_name(&ulimit.name).is_none() {
            return Err(invalid(format!("unknown ulimit {:?}", ulimit.name)));
        }
        if ulimit.soft > ulimit.hard {
            return Err(invalid(format!(
                "ulimit {}: soft limit {} is above the hard limit {}",
                ulimit.name, ulimit.soft, ulimit.hard
            )));
        }
    }
    super::files::validate(spec)?;
    let mut targets = BTreeSet::new();
    for m in &spec.mounts {
        if !m.target.starts_with('/') {
            return Err(invalid(format!(
                "invalid mount target {:?}: it must be an absolute path",
                m.target
            )));
        }
        if m.target == "/" {
            return Err(invalid(
                "invalid mount target \"/\": the root cannot be a mount",
            ));
        }
        if !targets.insert(m.target.trim_end_matches('/').to_string()) {
            return Err(invalid(format!("duplicate mount point: {}", m.target)));
        }
        if m.kind == MountKind::Bind && !m.source.starts_with('/') {
            return Err(invalid(format!(
                "invalid bind mount source {:?}: it must be an absolute host path",
                m.source
            )));
        }
    }
    Ok(())
}

/// What `--security-opt` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityOption {
    /// `seccomp=unconfined`.
    SeccompUnconfined,
    /// `no-new-privileges[=true|false]`.
    NoNewPrivileges(bool),
    /// Options of LSMs this host does not run (label, apparmor): accepted.
    Ignored,
}

/// Parses one `--security-opt` value (`key=value` or Docker's old `key:value`).
pub fn security_option(opt: &str) -> Result<SecurityOption, Status> {
    let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt, ""));
    match (key, value) {
        ("seccomp", "unconfined") => Ok(SecurityOption::SeccompUnconfined),
        ("seccomp", profile) => Err(invalid(format!(
            "seccomp profile {profile:?} is not supported yet: use the default or seccomp=unconfined"
        ))),
        ("no-new-privileges", "" | "true") => Ok(SecurityOption::NoNewPrivileges(true)),
        ("no-new-privileges", "false") => Ok(SecurityOption::NoNewPrivileges(false)),
        ("label" | "apparmor", _) => Ok(SecurityOption::Ignored),
        _ => Err(invalid(format!(
            "invalid --security-opt {opt:?}: use seccomp=unconfined or no-new-privileges[=true|false]"
        ))),
    }
}

/// Merges the spec over the image config, as Docker does.
pub fn settings(spec: &ContainerSpec, image: &Image, id: &str) -> Result<Settings, Status> {
    let config = &image.config.config;
    let entrypoint = match &spec.entrypoint {
        Some(e) => e.clone(),
        None => config.entrypoint.clone().unwrap_or_default(),
    };
    // A new ENTRYPOINT drops the image's CMD.
    let cmd = match (&spec.cmd, &spec.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => config.cmd.clone().unwrap_or_default(),
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(invalid(format!(
            "no command specified: image {} has no CMD or ENTRYPOINT; give a command after the image name",
            spec.image
        )));
    }
    let hostname = match &spec.hostname {
        Some(h) if !h.is_empty() => h.clone(),
        _ if spec.network_mode == "host" || spec.uts_mode == "host" => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| id[..12].to_string()),
        _ => id[..12].to_string(),
    };
    if hostname.len() > 64 {
        return Err(invalid(format!(
            "invalid hostname {hostname:?}: at most 64 characters"
        )));
    }
    let mut env = vec![format!("HOSTNAME={hostname}")];
    for entry in config.env.iter().chain(&spec.env) {
        match entry.split_once('=') {
            Some((key, value)) => set_env(&mut env, key, value),
            None => set_env(&mut env, entry, ""),
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_string());
    }
    if spec.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    let mut labels = config.labels.clone();
    labels.extend(spec.labels.clone());
    let mut exposed: BTreeSet<String> = config.exposed_ports.keys().cloned().collect();
    exposed.extend(spec.exposed_ports.iter().cloned());
    exposed.extend(spec.port_bindings.iter().map(|b| b.port_key()));
    Ok(Settings {
        entrypoint,
        cmd,
        env,
        working_dir: spec
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| {
                if config.working_dir.is_empty() {
                    "/".into()
                } else {
                    config.working_dir.clone()
                }
            }),
        user: spec.user.clone().unwrap_or_else(|| config.user.clone()),
        hostname,
        labels,
        stop_signal: spec
            .stop_signal
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                if config.stop_signal.is_empty() {
                    "SIGTERM".into()
                } else {
                    config.stop_signal.clone()
                }
            }),
        stop_timeout: spec.stop_timeout.unwrap_or(10),
        healthcheck: merge_healthcheck(config.healthcheck.as_ref(), spec.healthcheck.as_ref()),
        exposed_ports: exposed.into_iter().collect(),
    })
}

/// Docker merges `--health-*` flags field by field over the image's
/// HEALTHCHECK; `NONE` (from either) disables it.
fn merge_healthcheck(
    image: Option<&HealthcheckSpec>,
    spec: Option<&HealthcheckSpec>,
) -> Option<HealthcheckSpec> {
    let mut merged = image.cloned().unwrap_or_default();
    if let Some(spec) = spec {
        if !spec.test.is_empty() {
            merged.test = spec.test.clone();
        }
        for (field, value) in [
            (&mut merged.interval, spec.interval),
            (&mut merged.timeout, spec.timeout),
            (&mut merged.start_period, spec.start_period),
            (&mut merged.start_interval, spec.start_interval),
            (&mut merged.retries, spec.retries),
        ] {
            if value != 0 {
                *field = value;
            }
        }
    }
    match merged.test.first().map(String::as_str) {
        None | Some("NONE") => None,
        _ => Some(merged),
    }
}

/// Resolves the spec's mounts, then those `inherited` from
/// `--volumes-from`, plus the image's VOLUMEs into host paths. `volume`
/// gets or creates a volume (`None` = anonymous) and returns its name and
/// data directory.
pub fn mounts(
    spec: &ContainerSpec,
    image: &Image,
    inherited: Vec<MountRecord>,
    mut volume: impl FnMut(Option<&str>) -> Result<(String, PathBuf), Status>,
) -> Result<Vec<MountRecord>, Status> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let mut out = Vec::new();
    for m in &spec.mounts {
        out.push(mount(m, &mut volume)?);
    }
    // `--volumes-from`: the container's own mounts win at the same place.
    for m in inherited {
        if !out.iter().any(|own| same(&own.destination, &m.destination)) {
            out.push(m);
        }
    }
    for target in image.config.config.volumes.keys() {
        let covered = out.iter().any(|m| same(&m.destination, target));
        if !covered {
            let (name, source) = volume(None)?;
            out.push(MountRecord {
                kind: MountKind::Volume,
                name,
                source,
                destination: target.clone(),
                read_only: false,
                propagation: String::new(),
                anonymous: true,
                copy_up: true,
                options: Vec::new(),
            });
        }
    }
    Ok(out)
}

fn mount(
    m: &MountSpec,
    volume: &mut impl FnMut(Option<&str>) -> Result<(String, PathBuf), Status>,
) -> Result<MountRecord, Status> {
    let mut record = MountRecord {
        kind: m.kind,
        name: String::new(),
        source: PathBuf::new(),
        destination: m.target.clone(),
        read_only: m.read_only,
        propagation: m.propagation.clone(),
        anonymous: false,
        copy_up: false,
        options: m.options.clone(),
    };
    match m.kind {
        MountKind::Bind => {
            let source = Path::new(&m.source);
            if !source.exists() {
                if m.create_source {
                    fs::create_dir_all(source).map_err(|e| {
                        invalid(format!(
                            "cannot create bind source {}: {e}",
                            source.display()
                        ))
                    })?;
                } else {
                    return Err(invalid(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        source.display()
                    )));
                }
            }
            record.source = source.to_path_buf();
        }
        MountKind::Volume => {
            let named = (!m.source.is_empty()).then_some(m.source.as_str());
            let (name, source) = volume(named)?;
            record.anonymous = named.is_none();
            record.name = name;
            record.source = source;
            record.copy_up = !m.no_copy;
        }
        MountKind::Tmpfs => {
            if m.tmpfs_size > 0 {
                record.options.push(format!("size={}", m.tmpfs_size));
            }
            record.options.push(format!(
                "mode={:o}",
                if m.tmpfs_mode == 0 {
                    0o1777
                } else {
                    m.tmpfs_mode
                }
            ));
        }
    }
    Ok(record)
}

/// What `--add-host NAME:host-gateway` names: the host, as containers
/// reach it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Checks an `--add-host` entry: `HOST:IP`, or `HOST:host-gateway`.
pub fn check_extra_host(entry: &str) -> Result<(), Status> {
    let ip = entry.split_once(':').map_or("", |(_, ip)| ip);
    if ip != HOST_GATEWAY && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid(format!(
            "invalid IP address {ip:?} in --add-host {entry:?}: use HOST:IP, or HOST:host-gateway for the host"
        )));
    }
    Ok(())
}

/// What a container's /etc files say of its networks.
#[derive(Debug, Clone, Copy)]
pub struct EtcNetwork<'a> {
    /// Its own addresses, for /etc/hosts.
    pub addresses: &'a [std::net::Ipv4Addr],
    /// Its resolver is the embedded DNS server (user-defined networks).
    pub embedded_dns: bool,
    /// The address `host-gateway` stands for.
    pub host_gateway: Option<std::net::Ipv4Addr>,
    /// Its legacy links (default bridge), each a line of its own.
    pub links: &'a [super::legacy_links::Linked],
}

/// Writes /etc/hostname, /etc/hosts and /etc/resolv.conf for the container
/// into its directory; its addresses on its networks are named after its
/// hostname in /etc/hosts, as Docker does.
pub fn write_etc_files(
    dir: &Path,
    spec: &ContainerSpec,
    hostname: &str,
    network: EtcNetwork<'_>,
) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
    let mut hosts = if spec.network_mode == "host" {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
    };
    for entry in &spec.extra_hosts {
        match entry.split_once(':') {
            Some((host, HOST_GATEWAY)) => {
                if let Some(ip) = network.host_gateway {
                    hosts.push_str(&format!("{ip}\t{host}\n"));
                }
            }
            Some((host, ip)) => hosts.push_str(&format!("{ip}\t{host}\n")),
            None => {}
        }
    }
    for link in network.links {
        hosts.push_str(&format!("{}\t{}\n", link.address, link.hosts_names()));
    }
    for ip in network.addresses {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    fs::write(dir.join("hosts"), hosts)?;
    fs::write(
        dir.join("resolv.conf"),
        resolv_conf(spec, network.embedded_dns),
    )
}

/// The host's resolv.conf, with `--dns`, `--dns-search` and `--dns-option`
/// replacing its parts when given. Loopback resolvers cannot be reached
/// from a private network namespace, so they are dropped there. With the
/// embedded DNS server, it is the only nameserver (it forwards to the
/// others) and, as in Docker, `ndots:0` unless an `ndots` is given.
fn resolv_conf(spec: &ContainerSpec, embedded_dns: bool) -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let own_netns = spec.network_mode != "host";
    let mut nameservers: Vec<String> = host
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|ns| !(own_netns && (ns.starts_with("127.") || ns == "::1")))
        .collect();
    let mut search: Vec<String> = host
        .lines()
        .filter_map(|l| l.strip_prefix("search"))
        .flat_map(|s| s.split_whitespace().map(str::to_string))
        .collect();
    let mut options: Vec<String> = host
        .lines()
        .filter_map(|l| l.strip_prefix("options"))
        .flat_map(|s| s.split_whitespace().map(str::to_string))
        .collect();
    if !spec.dns.is_empty() {
        nameservers = spec.dns.clone();
    }
    if !spec.dns_search.is_empty() {
        search = spec.dns_search.clone();
    }
    if !spec.dns_options.is_empty() {
        options = spec.dns_options.clone();
    }
    if embedded_dns {
        nameservers = vec![crate::networks::RESOLVER_ADDRESS.to_string()];
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
    }
    let mut out = String::new();
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    if !search.is_empty() && search != ["."] {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// A `--volumes-from` entry: the container and whether its mounts are
/// forced read-only (`ro`), read-write (`rw`) or kept as they are.
pub fn parse_volumes_from(entry: &str) -> Result<(&str, Option<bool>), Status> {
    match entry.rsplit_once(':') {
        Some((container, "ro")) => Ok((container, Some(true))),
        Some((container, "rw")) => Ok((container, Some(false))),
        Some((_, mode)) => Err(invalid(format!(
            "invalid --volumes-from {entry:?}: mode {mode:?} is not ro or rw"
        ))),
        None if entry.is_empty() => Err(invalid("invalid --volumes-from \"\": name a container")),
        None => Ok((entry, None)),
    }
}

/// The binds and volumes of another container as this one mounts them
/// (`--volumes-from`): same places, never owned (removing this container
/// leaves them), read-only when `read_only` says so.
pub fn inherit_mounts(from: &[MountRecord], read_only: Option<bool>) -> Vec<MountRecord> {
    from.iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| MountRecord {
            read_only: read_only.unwrap_or(m.read_only),
            anonymous: false,
            copy_up: false,
            ..m.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_from_entries_name_a_container_and_a_mode() {
        assert_eq!(parse_volumes_from("db").unwrap(), ("db", None));
        assert_eq!(parse_volumes_from("db:ro").unwrap(), ("db", Some(true)));
        assert_eq!(parse_volumes_from("db:rw").unwrap(), ("db", Some(false)));
        let bad = parse_volumes_from("db:rx").unwrap_err();
        assert!(
            bad.message().contains("mode \"rx\" is not ro or rw"),
            "{bad:?}"
        );
        assert!(parse_volumes_from("").is_err());
    }

    #[test]
    fn inherited_mounts_are_never_owned() {
        let mount = |kind, anonymous| MountRecord {
            kind,
            name: "v".into(),
            source: PathBuf::from("/var/lib/v"),
            destination: "/data".into(),
            read_only: false,
            propagation: String::new(),
            anonymous,
            copy_up: true,
            options: Vec::new(),
        };
        let from = [
            mount(MountKind::Volume, true),
            mount(MountKind::Tmpfs, false),
        ];
        let inherited = inherit_mounts(&from, Some(true));
        assert_eq!(inherited.len(), 1, "tmpfs mounts are not shared");
        assert!(inherited[0].read_only && !inherited[0].anonymous && !inherited[0].copy_up);
        assert!(!inherit_mounts(&from, None)[0].read_only);
    }
    use hoist_runtime::image::ImageConfig;

    fn image(entrypoint: Option<Vec<&str>>, cmd: Option<Vec<&str>>) -> Image {
        let mut config = ImageConfig::default();
        config.config.entrypoint = entrypoint.map(|v| v.into_iter().map(String::from).collect());
        config.config.cmd = cmd.map(|v| v.into_iter().map(String::from).collect());
        config.config.env = vec!["PATH=/bin".into(), "A=image".into()];
        config.config.working_dir = "/srv".into();
        Image {
            id: "sha256:x".into(),
            manifest_digest: String::new(),
            config,
            chain_ids: Vec::new(),
            references: Vec::new(),
            size: 0,
            created: 0,
        }
    }

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker() {
        let img = image(Some(vec!["/entry"]), Some(vec!["default"]));
        let spec = |entrypoint: Option<Vec<&str>>, cmd: Option<Vec<&str>>| ContainerSpec {
            image: "x".into(),
            entrypoint: entrypoint.map(|v| strings(&v)),
            cmd: cmd.map(|v| strings(&v)),
            ..Default::default()
        };
        assert_eq!(
            settings(&spec(None, None), &img, ID).unwrap().command(),
            strings(&["/entry", "default"])
        );
        assert_eq!(
            settings(&spec(None, Some(vec!["x"])), &img, ID)
                .unwrap()
                .command(),
            strings(&["/entry", "x"])
        );
        // A new entrypoint drops the image's CMD.
        assert_eq!(
            settings(&spec(Some(vec!["/e2"]), None), &img, ID)
                .unwrap()
                .command(),
            strings(&["/e2"])
        );
        assert_eq!(
            settings(&spec(Some(vec![]), Some(vec!["sh"])), &img, ID)
                .unwrap()
                .command(),
            strings(&["sh"])
        );
        let empty = image(None, None);
        assert_eq!(
            settings(&spec(None, None), &empty, ID).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn env_workdir_and_hostname_merge() {
        let img = image(None, Some(vec!["sh"]));
        let spec = ContainerSpec {
            image: "x".into(),
            env: strings(&["A=spec", "B=2"]),
            tty: true,
            ..Default::default()
        };
        let s = settings(&spec, &img, ID).unwrap();
        assert_eq!(
            s.env,
            strings(&[
                "HOSTNAME=0123456789ab",
                "PATH=/bin",
                "A=spec",
                "B=2",
                "TERM=xterm"
            ])
        );
        assert_eq!(s.working_dir, "/srv");
        assert_eq!(s.hostname, "0123456789ab");
        assert_eq!(s.stop_signal, "SIGTERM");
        assert_eq!(s.stop_timeout, 10);
    }

    #[test]
    fn healthcheck_flags_merge_over_the_image() {
        let image_hc = HealthcheckSpec {
            test: strings(&["CMD", "true"]),
            interval: 5,
            retries: 3,
            ..Default::default()
        };
        let flags = HealthcheckSpec {
            interval: 1,
            ..Default::default()
        };
        let merged = merge_healthcheck(Some(&image_hc), Some(&flags)).unwrap();
        assert_eq!(
            (merged.interval, merged.retries, merged.test.len()),
            (1, 3, 2)
        );
        let none = HealthcheckSpec {
            test: strings(&["NONE"]),
            ..Default::default()
        };
        assert!(merge_healthcheck(Some(&image_hc), Some(&none)).is_none());
    }

    #[test]
    fn validation_names_the_bad_value() {
        let ok = ContainerSpec {
            image: "x".into(),
            ..Default::default()
        };
        assert!(validate(&ok).is_ok());
        let bad = [
            ContainerSpec {
                auto_remove: true,
                restart_policy: hoist_api::spec::RestartPolicy::parse("always").unwrap(),
                ..ok.clone()
            },
            ContainerSpec {
                resources: hoist_api::spec::Resources {
                    memory: 1024,
                    ..Default::default()
                },
                ..ok.clone()
            },
            ContainerSpec {
                cap_add: strings(&["BOGUS"]),
                ..ok.clone()
            },
            ContainerSpec {
                security_opt: strings(&["seccomp=/x.json"]),
                ..ok.clone()
            },
            ContainerSpec {
                sysctls: [("kernel.hostname".to_string(), "x".to_string())].into(),
                ..ok.clone()
            },
            ContainerSpec {
                mounts: vec![MountSpec {
                    target: "rel".into(),
                    ..Default::default()
                }],
                ..ok.clone()
            },
        ];
        for spec in bad {
            assert_eq!(
                validate(&spec).unwrap_err().code(),
                tonic::Code::InvalidArgument,
                "{spec:?}"
            );
        }
    }

    #[test]
    fn resolv_conf_honours_dns_flags() {
        let spec = ContainerSpec {
            dns: strings(&["1.1.1.1"]),
            dns_search: strings(&["example.com"]),
            ..Default::default()
        };
        let text = resolv_conf(&spec, false);
        assert!(text.contains("nameserver 1.1.1.1\n"));
        assert!(text.contains("search example.com\n"));
        let embedded = resolv_conf(&spec, true);
        assert!(
            embedded.starts_with("nameserver 127.0.0.11\n"),
            "{embedded}"
        );
        assert!(!embedded.contains("1.1.1.1"), "{embedded}");
        assert!(embedded.contains("options ndots:0\n"), "{embedded}");
    }
}
