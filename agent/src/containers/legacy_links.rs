//! Docker's legacy links: `--link NAME[:ALIAS]` on the default bridge,
//! where there is no embedded DNS. The linked container (which must be
//! running) is written into the linking container's /etc/hosts under the
//! alias, its hostname and name, and its exposed ports, name and
//! environment are given as Docker's `ALIAS_PORT_…`, `ALIAS_NAME` and
//! `ALIAS_ENV_…` variables. On user-defined networks links are DNS
//! aliases instead (see `networks::names`).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use super::record::{ContainerRecord, Status as RunStatus};
use crate::daemon::Daemon;
use crate::error::{conflict, invalid};
use crate::networks::record::DEFAULT_BRIDGE;

/// How long a start waits for a linked container that is busy changing
/// state (two containers linking each other and starting at once would
/// otherwise wait on each other for ever).
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// A linked container, as the linking one sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The name it goes by here.
    pub alias: String,
    /// Its container name.
    pub name: String,
    /// Its hostname.
    pub hostname: String,
    /// Its address on the default bridge.
    pub address: Ipv4Addr,
    /// Its exposed ports (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// Its environment (`K=V`).
    pub env: Vec<String>,
}

impl Linked {
    /// Its /etc/hosts names: the alias, its hostname, and its name when
    /// that differs from the alias (Docker's order).
    pub fn hosts_names(&self) -> String {
        let mut names = format!("{} {}", self.alias, self.hostname);
        if self.name != self.alias {
            names.push(' ');
            names.push_str(&self.name);
        }
        names
    }

    /// Docker's variables for this link, seen from container `parent`:
    /// `ALIAS_PORT` (the lowest tcp port), per port `ALIAS_PORT_80_TCP` with
    /// its `_ADDR`, `_PORT` and `_PROTO`, `ALIAS_NAME=/parent/alias`, and
    /// its environment as `ALIAS_ENV_K` (but HOME, PATH and HOSTNAME).
    pub fn env_for(&self, parent: &str) -> Vec<String> {
        let prefix = self.alias.to_uppercase().replace('-', "_");
        let mut ports: Vec<(u16, String)> = self
            .exposed_ports
            .iter()
            .filter_map(|p| {
                let (number, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                Some((number.parse().ok()?, proto.to_lowercase()))
            })
            .collect();
        // By number, tcp first on a tie; the default port is the lowest
        // tcp one (any protocol's when there is no tcp), as Docker picks.
        ports.sort_by_key(|(port, proto)| (*port, proto != "tcp"));
        let mut env = Vec::new();
        let default = ports
            .iter()
            .min_by_key(|(port, proto)| (proto != "tcp", *port));
        if let Some((port, proto)) = default {
            env.push(format!("{prefix}_PORT={proto}://{}:{port}", self.address));
        }
        for (port, proto) in &ports {
            let key = format!("{prefix}_PORT_{port}_{}", proto.to_uppercase());
            env.push(format!("{key}={proto}://{}:{port}", self.address));
            env.push(format!("{key}_ADDR={}", self.address));
            env.push(format!("{key}_PORT={port}"));
            env.push(format!("{key}_PROTO={proto}"));
        }
        env.push(format!("{prefix}_NAME=/{parent}/{}", self.alias));
        for variable in &self.env {
            // HOSTNAME is the daemon's, not the container's configuration;
            // Docker leaves HOME and PATH out too.
            if let Some((key, value)) = variable.split_once('=')
                && !matches!(key, "HOME" | "PATH" | "HOSTNAME")
            {
                env.push(format!("{prefix}_ENV_{key}={value}"));
            }
        }
        env
    }
}

/// `variables` (a container's own), after `links`' variables that it
/// does not set itself: the container's environment wins, as in Docker.
pub fn with_link_env(variables: &[String], links: &[String]) -> Vec<String> {
    let own = |candidate: &str| {
        let key = candidate.split('=').next().unwrap_or(candidate);
        variables.iter().any(|v| v.split('=').next() == Some(key))
    };
    links
        .iter()
        .filter(|l| !own(l))
        .chain(variables)
        .cloned()
        .collect()
}

impl Daemon {
    /// After container `started` (ID, name) has started, perhaps with a
    /// new address: rewrites the /etc/hosts of the running containers
    /// whose legacy links name it, as Docker does. On a task of its own,
    /// the started container's record being free again.
    pub fn refresh_linking_hosts(self: &Arc<Self>, started: (String, String)) {
        let daemon = self.clone();
        tokio::spawn(async move {
            let (id, name) = started;
            // A link names it as `find` resolves names and ID prefixes.
            let names_it = |links: &[String]| {
                links.iter().any(|link| {
                    let (target, _) = hoist_api::spec::link_parts(link);
                    daemon.containers.find(target).is_ok_and(|c| c.id == id)
                })
            };
            let linking = daemon
                .containers
                .all()
                .into_iter()
                .filter(|c| c.id != id && names_it(&c.links));
            for container in linking {
                let record = container.record.lock().await;
                let on_bridge = record
                    .networks
                    .iter()
                    .any(|e| e.network_name == DEFAULT_BRIDGE);
                let running = matches!(record.state.status, RunStatus::Running | RunStatus::Paused);
                if !on_bridge || !running {
                    continue;
                }
                let embedded_dns = daemon.networks.has_names(&record.networks);
                let refreshed = match daemon.legacy_links(&record).await {
                    Ok(links) => daemon.write_etc_files(&record, embedded_dns, &links),
                    Err(e) => Err(e),
                };
                if let Err(e) = refreshed {
                    tracing::warn!(id = %record.id, linked = %name, "cannot refresh the links in /etc/hosts: {}", e.message());
                }
            }
        });
    }

    /// The legacy links of `record` (on the default bridge): each linked
    /// container, which must be running with an address there.
    pub async fn legacy_links(&self, record: &ContainerRecord) -> Result<Vec<Linked>, Status> {
        let on_bridge = record
            .networks
            .iter()
            .any(|e| e.network_name == DEFAULT_BRIDGE);
        if !on_bridge || record.spec.links.is_empty() {
            return Ok(Vec::new());
        }
        let mut links = Vec::new();
        for link in &record.spec.links {
            let (name, alias) = hoist_api::spec::link_parts(link);
            let other = self.containers.find(name).map_err(|_| {
                invalid(format!(
                    "cannot link to {name}: no such container (--link {link})"
                ))
            })?;
            let other = tokio::time::timeout(BUSY_WAIT, other.record.lock())
                .await
                .map_err(|_| {
                    conflict(format!(
                        "cannot link to {name}: it has been busy changing state for {} s",
                        BUSY_WAIT.as_secs()
                    ))
                })?;
            if !matches!(other.state.status, RunStatus::Running | RunStatus::Paused) {
                return Err(conflict(format!(
                    "Cannot link to a non running container: /{} AS /{}/{alias}",
                    other.name, record.name
                )));
            }
            let address = other
                .networks
                .iter()
                .filter(|e| e.network_name == DEFAULT_BRIDGE)
                .find_map(|e| e.live.as_ref().map(|l| l.address.ip()))
                .ok_or_else(|| {
                    conflict(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        other.name
                    ))
                })?;
            links.push(Linked {
                alias: alias.to_string(),
                name: other.name.clone(),
                hostname: other.settings.hostname.clone(),
                address,
                exposed_ports: other.settings.exposed_ports.clone(),
                env: other.settings.env.clone(),
            });
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Linked {
        Linked {
            alias: "my-db".into(),
            name: "db".into(),
            hostname: "3f1b2c4d5e6f".into(),
            address: Ipv4Addr::new(172, 17, 0, 2),
            exposed_ports: vec!["6379/tcp".into(), "5432/tcp".into(), "53/udp".into()],
            env: vec![
                "HOSTNAME=3f1b2c4d5e6f".into(),
                "POSTGRES_USER=app".into(),
                "PATH=/bin".into(),
                "HOME=/root".into(),
            ],
        }
    }

    #[test]
    fn hosts_names_follow_dockers_order() {
        assert_eq!(db().hosts_names(), "my-db 3f1b2c4d5e6f db");
        let same = Linked {
            alias: "db".into(),
            ..db()
        };
        assert_eq!(same.hosts_names(), "db 3f1b2c4d5e6f");
    }

    #[test]
    fn variables_are_dockers() {
        let env = db().env_for("web");
        assert_eq!(
            env,
            [
                "MY_DB_PORT=tcp://172.17.0.2:5432",
                "MY_DB_PORT_53_UDP=udp://172.17.0.2:53",
                "MY_DB_PORT_53_UDP_ADDR=172.17.0.2",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_5432_TCP=tcp://172.17.0.2:5432",
                "MY_DB_PORT_5432_TCP_ADDR=172.17.0.2",
                "MY_DB_PORT_5432_TCP_PORT=5432",
                "MY_DB_PORT_5432_TCP_PROTO=tcp",
                "MY_DB_PORT_6379_TCP=tcp://172.17.0.2:6379",
                "MY_DB_PORT_6379_TCP_ADDR=172.17.0.2",
                "MY_DB_PORT_6379_TCP_PORT=6379",
                "MY_DB_PORT_6379_TCP_PROTO=tcp",
                "MY_DB_NAME=/web/my-db",
                "MY_DB_ENV_POSTGRES_USER=app",
            ]
        );
        let merged = with_link_env(
            &["MY_DB_NAME=mine".to_string(), "A=1".to_string()],
            &env[13..],
        );
        assert_eq!(
            merged,
            ["MY_DB_ENV_POSTGRES_USER=app", "MY_DB_NAME=mine", "A=1"]
        );
    }
}
