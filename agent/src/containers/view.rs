//! How containers look from outside: `inspect` documents, `ps` rows and
//! Docker's human status text.

use std::collections::BTreeMap;

use hoist_api::inspect::{
    ContainerConfig, ContainerInspect, ContainerState, EmptyObject, EndpointSettings, GraphDriver,
    HostConfig, MountPoint, NetworkSettings, PortBinding,
};
use hoist_api::proto::{ContainerSummary, PortMapping};
use hoist_api::spec::{ContainerSpec, MountKind};
use hoist_api::units::human_duration;

use super::record::{ContainerRecord, Status};
use crate::config::DaemonConfig;
use crate::networks::record::EndpointRecord;

/// Go's zero time, which Docker prints for times not reached yet.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn seconds_since(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0)
}

/// Docker's status column: `Up 5 minutes (healthy)`, `Exited (0) 2 hours ago`.
pub fn status_text(record: &ContainerRecord) -> String {
    let state = &record.state;
    let health = state.health.as_ref().map(|h| match h.status.as_str() {
        "starting" => " (health: starting)".to_string(),
        other => format!(" ({other})"),
    });
    match state.status {
        Status::Created => "Created".into(),
        Status::Running => format!(
            "Up {}{}",
            human_duration(seconds_since(&state.started_at)),
            health.unwrap_or_default()
        ),
        Status::Paused => format!(
            "Up {} (Paused)",
            human_duration(seconds_since(&state.started_at))
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            human_duration(seconds_since(&state.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            human_duration(seconds_since(&state.finished_at))
        ),
        Status::Dead => "Dead".into(),
    }
}

/// The command as `ps` quotes it.
pub fn command_text(record: &ContainerRecord) -> String {
    record.settings.command().join(" ")
}

/// A `ps` row.
pub fn summary(record: &ContainerRecord) -> ContainerSummary {
    ContainerSummary {
        id: record.id.clone(),
        name: record.name.clone(),
        image: record.spec.image.clone(),
        image_id: record.image_id.clone(),
        command: command_text(record),
        created: chrono::DateTime::parse_from_rfc3339(&record.created).map_or(0, |t| t.timestamp()),
        state: record.state.status.as_str().to_string(),
        status: status_text(record),
        ports: summary_ports(record),
        labels: record.settings.labels.clone().into_iter().collect(),
        mounts: record
            .mounts
            .iter()
            .map(|m| {
                if m.name.is_empty() {
                    m.source.display().to_string()
                } else {
                    m.name.clone()
                }
            })
            .collect(),
        networks: if record.networks.is_empty() {
            match record.spec.network_mode.as_str() {
                "" | "default" => "none".into(),
                other => other.into(),
            }
        } else {
            record
                .networks
                .iter()
                .map(|e| e.network_name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        },
        size_rw: 0,
        size_root_fs: 0,
        exit_code: record.state.exit_code,
        health: record
            .state
            .health
            .as_ref()
            .map(|h| h.status.clone())
            .unwrap_or_default(),
    }
}

/// `HostConfig.PortBindings`: the `-p` entries as asked.
fn port_bindings(spec: &ContainerSpec) -> BTreeMap<String, Vec<PortBinding>> {
    let mut bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for binding in &spec.port_bindings {
        bindings
            .entry(binding.port_key())
            .or_default()
            .push(PortBinding {
                host_ip: binding.host_ip.clone(),
                host_port: binding.host_port_text(),
            });
    }
    bindings
}

/// `NetworkSettings.Ports`: every exposed port, with the host ports it is
/// published on while the container runs (null when it is not).
fn published_ports(record: &ContainerRecord) -> BTreeMap<String, Option<Vec<PortBinding>>> {
    let mut ports: BTreeMap<String, Option<Vec<PortBinding>>> = record
        .settings
        .exposed_ports
        .iter()
        .map(|p| (p.clone(), None))
        .collect();
    for mapping in &record.ports {
        ports
            .entry(format!("{}/{}", mapping.container_port, mapping.protocol))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: mapping
                    .host_ip
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
                    .to_string(),
                host_port: mapping.host_port.to_string(),
            });
    }
    ports
}

/// `ps` ports: the published ones, then the exposed ones not published
/// (host port 0).
fn summary_ports(record: &ContainerRecord) -> Vec<PortMapping> {
    let mut ports: Vec<PortMapping> = record
        .ports
        .iter()
        .map(|m| PortMapping {
            host_ip: m
                .host_ip
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
                .to_string(),
            host_port: m.host_port.into(),
            container_port: m.container_port.into(),
            protocol: m.protocol.clone(),
        })
        .collect();
    for key in &record.settings.exposed_ports {
        let Some((port, protocol)) = hoist_api::spec::PortBinding::split_key(key) else {
            continue;
        };
        let port = u32::from(port);
        if !ports
            .iter()
            .any(|p| p.container_port == port && p.protocol == protocol)
        {
            ports.push(PortMapping {
                container_port: port,
                protocol: protocol.into(),
                ..Default::default()
            });
        }
    }
    ports
}

fn or_zero(time: &str) -> String {
    if time.is_empty() {
        ZERO_TIME.into()
    } else {
        time.into()
    }
}

/// A container's endpoint as Docker's inspect shows it.
fn endpoint_settings(endpoint: &EndpointRecord) -> EndpointSettings {
    let live = endpoint.live.as_ref();
    EndpointSettings {
        aliases: endpoint.aliases.clone(),
        network_id: endpoint.network_id.clone(),
        endpoint_id: live.map(|l| l.endpoint_id.clone()).unwrap_or_default(),
        gateway: live.map(|l| l.gateway.to_string()).unwrap_or_default(),
        ip_address: live.map(|l| l.address.ip().to_string()).unwrap_or_default(),
        ip_prefix_len: live.map(|l| l.address.prefix()).unwrap_or_default(),
        mac_address: live.map(|l| l.mac.clone()).unwrap_or_default(),
    }
}

/// The `inspect` document.
pub fn inspect(
    record: &ContainerRecord,
    config: &DaemonConfig,
    lower_dirs: &[String],
) -> ContainerInspect {
    let spec = &record.spec;
    let settings = &record.settings;
    let dir = config.container_dir(&record.id);
    let etc = config.etc_files_dir(&record.id, record.spec.auto_remove);
    let command = settings.command();
    let state = &record.state;
    let first = record.networks.iter().find_map(|e| e.live.as_ref());
    let sandbox_key = config.sandboxes_dir().join(&record.id);
    let mounts = record
        .mounts
        .iter()
        .map(|m| MountPoint {
            kind: match m.kind {
                MountKind::Bind => "bind",
                MountKind::Volume => "volume",
                MountKind::Tmpfs => "tmpfs",
            }
            .into(),
            name: m.name.clone(),
            source: m.source.display().to_string(),
            destination: m.destination.clone(),
            driver: if m.kind == MountKind::Volume {
                "local".into()
            } else {
                String::new()
            },
            mode: if m.read_only {
                "ro".into()
            } else {
                String::new()
            },
            rw: !m.read_only,
            propagation: if m.kind == MountKind::Bind {
                if m.propagation.is_empty() {
                    "rprivate".into()
                } else {
                    m.propagation.clone()
                }
            } else {
                String::new()
            },
        })
        .collect();
    let binds = spec
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs && !m.source.is_empty())
        .map(|m| {
            format!(
                "{}:{}{}",
                m.source,
                m.target,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let tmpfs: BTreeMap<String, String> = record
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| (m.destination.clone(), m.options.join(",")))
        .collect();
    let r = &spec.resources;
    ContainerInspect {
        id: record.id.clone(),
        created: record.created.clone(),
        path: command.first().cloned().unwrap_or_default(),
        args: command.iter().skip(1).cloned().collect(),
        state: ContainerState {
            status: state.status.as_str().into(),
            running: state.status.is_alive(),
            paused: state.status == Status::Paused,
            restarting: state.status == Status::Restarting,
            oom_killed: state.oom_killed,
            dead: state.status == Status::Dead,
            pid: i64::from(state.pid),
            exit_code: i64::from(state.exit_code),
            error: state.error.clone(),
            started_at: or_zero(&state.started_at),
            finished_at: or_zero(&state.finished_at),
            health: state.health.clone(),
        },
        image: record.image_id.clone(),
        resolv_conf_path: etc.join("resolv.conf").display().to_string(),
        hostname_path: etc.join("hostname").display().to_string(),
        hosts_path: etc.join("hosts").display().to_string(),
        log_path: if spec.log_config.driver == "none" {
            String::new()
        } else {
            dir.join(format!("{}-json.log", record.id))
                .display()
                .to_string()
        },
        name: format!("/{}", record.name),
        restart_count: state.restart_count,
        driver: "overlay2".into(),
        platform: "linux".into(),
        host_config: HostConfig {
            binds,
            volumes_from: spec.volumes_from.clone(),
            network_mode: if spec.network_mode.is_empty() {
                "none".into()
            } else {
                spec.network_mode.clone()
            },
            restart_policy: if spec.restart_policy.name.is_empty() {
                hoist_api::spec::RestartPolicy {
                    name: "no".into(),
                    maximum_retry_count: 0,
                }
            } else {
                spec.restart_policy.clone()
            },
            auto_remove: spec.auto_remove,
            cap_add: spec.cap_add.clone(),
            cap_drop: spec.cap_drop.clone(),
            dns: spec.dns.clone(),
            dns_options: spec.dns_options.clone(),
            dns_search: spec.dns_search.clone(),
            extra_hosts: spec.extra_hosts.clone(),
            group_add: spec.group_add.clone(),
            ipc_mode: if spec.ipc_mode.is_empty() {
                "private".into()
            } else {
                spec.ipc_mode.clone()
            },
            pid_mode: spec.pid_mode.clone(),
            uts_mode: spec.uts_mode.clone(),
            userns_mode: spec.userns_mode.clone(),
            cgroupns_mode: if spec.cgroupns_mode.is_empty() {
                "private".into()
            } else {
                spec.cgroupns_mode.clone()
            },
            oom_score_adj: spec.oom_score_adj,
            cgroup_parent: spec.cgroup_parent.clone(),
            annotations: spec.annotations.clone(),
            links: spec
                .links
                .iter()
                .map(|link| {
                    let (name, alias) = hoist_api::spec::link_parts(link);
                    format!("/{name}:/{}/{alias}", record.name)
                })
                .collect(),
            privileged: spec.privileged,
            readonly_rootfs: spec.read_only,
            security_opt: spec.security_opt.clone(),
            tmpfs,
            shm_size: if spec.shm_size > 0 {
                spec.shm_size
            } else {
                64 * 1024 * 1024
            },
            sysctls: spec.sysctls.clone(),
            init: spec.init,
            log_config: hoist_api::spec::LogConfig {
                driver: if spec.log_config.driver.is_empty() {
                    "json-file".into()
                } else {
                    spec.log_config.driver.clone()
                },
                config: spec.log_config.config.clone(),
            },
            memory: r.memory,
            memory_swap: r.memory_swap,
            memory_reservation: r.memory_reservation,
            nano_cpus: r.nano_cpus,
            cpu_shares: r.cpu_shares,
            cpu_period: r.cpu_period,
            cpu_quota: r.cpu_quota,
            cpuset_cpus: r.cpuset_cpus.clone(),
            cpuset_mems: r.cpuset_mems.clone(),
            pids_limit: r.pids_limit.filter(|p| *p > 0),
            oom_kill_disable: r.oom_kill_disable,
            memory_swappiness: r.memory_swappiness,
            blkio_weight: r.blkio_weight,
            blkio_weight_device: r.blkio_weight_device.clone(),
            blkio_device_read_bps: r.blkio_device_read_bps.clone(),
            blkio_device_write_bps: r.blkio_device_write_bps.clone(),
            blkio_device_read_iops: r.blkio_device_read_iops.clone(),
            blkio_device_write_iops: r.blkio_device_write_iops.clone(),
            devices: spec.devices.clone(),
            device_cgroup_rules: spec.device_cgroup_rules.clone(),
            ulimits: spec.ulimits.clone(),
            port_bindings: port_bindings(spec),
            publish_all_ports: spec.publish_all_ports,
        },
        graph_driver: GraphDriver {
            name: "overlay2".into(),
            data: BTreeMap::from([
                ("LowerDir".to_string(), lower_dirs.join(":")),
                (
                    "UpperDir".to_string(),
                    dir.join("upper").display().to_string(),
                ),
                (
                    "WorkDir".to_string(),
                    dir.join("work").display().to_string(),
                ),
            ]),
        },
        mounts,
        config: ContainerConfig {
            hostname: settings.hostname.clone(),
            domainname: spec.domainname.clone().unwrap_or_default(),
            user: settings.user.clone(),
            attach_stdin: spec.open_stdin,
            attach_stdout: true,
            attach_stderr: true,
            exposed_ports: settings
                .exposed_ports
                .iter()
                .map(|p| (p.clone(), EmptyObject {}))
                .collect(),
            tty: spec.tty,
            open_stdin: spec.open_stdin,
            stdin_once: spec.stdin_once,
            env: settings.env.clone(),
            cmd: Some(settings.cmd.clone()).filter(|c| !c.is_empty()),
            healthcheck: settings.healthcheck.clone(),
            image: spec.image.clone(),
            volumes: record
                .mounts
                .iter()
                .filter(|m| m.anonymous)
                .map(|m| (m.destination.clone(), EmptyObject {}))
                .collect(),
            working_dir: settings.working_dir.clone(),
            entrypoint: Some(settings.entrypoint.clone()).filter(|e| !e.is_empty()),
            labels: settings.labels.clone(),
            stop_signal: settings.stop_signal.clone(),
            stop_timeout: spec.stop_timeout,
        },
        network_settings: NetworkSettings {
            sandbox_key: if state.pid > 0 && first.is_some() {
                sandbox_key.display().to_string()
            } else if state.pid > 0 && spec.network_mode != "host" {
                format!("/proc/{}/ns/net", state.pid)
            } else {
                String::new()
            },
            ports: published_ports(record),
            ip_address: first
                .map(|l| l.address.ip().to_string())
                .unwrap_or_default(),
            gateway: first.map(|l| l.gateway.to_string()).unwrap_or_default(),
            mac_address: first.map(|l| l.mac.clone()).unwrap_or_default(),
            networks: record
                .networks
                .iter()
                .map(|e| (e.network_name.clone(), endpoint_settings(e)))
                .collect(),
        },
    }
}
