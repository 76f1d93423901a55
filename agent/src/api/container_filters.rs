//! `ps --filter` and `container prune --filter`: which containers a
//! listing shows and a prune removes, by Docker's keys and rules.

use chrono::{DateTime, Utc};
use hoist_api::filters::{CreatedWindow, FilterError, Filters, Patterns};
use hoist_api::service::labels::TASK_ID;
use tonic::Status;

use crate::containers::record::{ContainerRecord, Status as RunStatus};
use crate::error::from_filter;

/// The keys `docker ps --filter` takes.
const LIST_KEYS: [&str; 14] = [
    "id", "name", "label", "exited", "status", "ancestor", "before", "since", "volume", "network",
    "publish", "expose", "health", "is-task",
];
/// The keys `docker container prune --filter` takes.
const PRUNE_KEYS: [&str; 3] = ["until", "label", "label!"];
/// What `status=` takes.
const STATUSES: [RunStatus; 7] = [
    RunStatus::Created,
    RunStatus::Running,
    RunStatus::Paused,
    RunStatus::Restarting,
    RunStatus::Removing,
    RunStatus::Exited,
    RunStatus::Dead,
];
/// What `health=` takes.
const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// Which containers a listing or a prune takes.
#[derive(Debug)]
pub struct ContainerFilter {
    filters: Filters,
    names: Patterns,
    exited: Vec<i32>,
    is_task: Option<bool>,
    publish: Vec<PortRange>,
    expose: Vec<PortRange>,
    /// `before=`, `since=`, `until=`.
    created: CreatedWindow,
    /// The images `ancestor=` names, as their layers' chain IDs: a
    /// container descends from one when its layers start with them.
    ancestors: Vec<Vec<String>>,
}

impl ContainerFilter {
    /// `docker ps --filter`. The containers `before=`/`since=` name and the
    /// images `ancestor=` names are for the caller to resolve
    /// ([`Self::named`], [`Self::bound`], [`Self::descending_from`]).
    pub fn for_list(given: &[String]) -> Result<Self, Status> {
        let filters = Filters::parse(given, "ps", &LIST_KEYS).map_err(from_filter)?;
        let bad = |key: &str, why: &str| from_filter(filters.bad_value(key, why));
        if filters
            .get("status")
            .iter()
            .any(|s| !STATUSES.iter().any(|known| known.as_str() == s))
        {
            return Err(bad(
                "status",
                "use created, running, paused, restarting, removing, exited or dead",
            ));
        }
        if filters
            .get("health")
            .iter()
            .any(|h| !HEALTH.contains(&h.as_str()))
        {
            return Err(bad("health", "use starting, healthy, unhealthy or none"));
        }
        let exited = filters
            .get("exited")
            .iter()
            .map(|code| code.parse::<i32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("exited", "use an exit code"))?;
        let ports = |key: &str| {
            filters
                .get(key)
                .iter()
                .map(|spec| PortRange::parse(spec))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|why| bad(key, &why))
        };
        Ok(Self {
            names: filters.patterns("name"),
            exited,
            is_task: filters.boolean("is-task").map_err(from_filter)?,
            publish: ports("publish")?,
            expose: ports("expose")?,
            created: CreatedWindow::default(),
            ancestors: Vec::new(),
            filters,
        })
    }

    /// `docker container prune --filter`.
    pub fn for_prune(given: &[String], now: DateTime<Utc>) -> Result<Self, FilterError> {
        let filters = Filters::parse(given, "container prune", &PRUNE_KEYS)?;
        Ok(Self {
            names: filters.patterns("name"),
            exited: Vec::new(),
            is_task: None,
            publish: Vec::new(),
            expose: Vec::new(),
            created: CreatedWindow {
                before: filters.time("until", now)?,
                after: None,
            },
            ancestors: Vec::new(),
            filters,
        })
    }

    /// The values of `key` (`before`, `since`, `ancestor`) for the caller
    /// to resolve.
    pub fn named(&self, key: &str) -> &[String] {
        self.filters.get(key)
    }

    /// Keeps only containers created between `after` and `before`.
    pub fn bound(&mut self, before: Option<DateTime<Utc>>, after: Option<DateTime<Utc>>) {
        self.created.narrow(before, after);
    }

    /// Keeps only containers whose image is, or is built on, one of these
    /// (each as its layers' chain IDs). With `ancestor=` given and none of
    /// its images found, nothing is kept, as Docker.
    pub fn descending_from(&mut self, images: Vec<Vec<String>>) {
        self.ancestors = images;
    }

    /// Whether a status filter asks for containers that are not running
    /// (Docker then lists stopped ones without `-a`).
    pub fn wants_stopped(&self) -> bool {
        self.filters.contains("status")
    }

    /// Whether `record` is taken.
    pub fn selects(&self, record: &ContainerRecord) -> bool {
        let f = &self.filters;
        let status = record.state.status;
        let created = DateTime::parse_from_rfc3339(&record.created)
            .ok()
            .map(|t| t.with_timezone(&Utc));
        let health = record.state.health.as_ref().map_or("none", |h| &h.status);
        let labels = &record.settings.labels;
        let published = record
            .spec
            .port_bindings
            .iter()
            .map(|b| (b.container_port, b.protocol.as_str()))
            .chain(
                record
                    .ports
                    .iter()
                    .map(|p| (p.container_port, p.protocol.as_str())),
            );
        let exposed = record
            .settings
            .exposed_ports
            .iter()
            .filter_map(|key| PortRange::parse(key).ok())
            .map(|p| (p.first, p.protocol))
            .collect::<Vec<_>>();
        f.any("id", |id| record.id.starts_with(id))
            && (self.names.matches(&record.name)
                || self.names.matches(&format!("/{}", record.name)))
            && f.exact("status", status.as_str())
            && (self.exited.is_empty()
                || (status == RunStatus::Exited && self.exited.contains(&record.state.exit_code)))
            && f.exact("health", health)
            && self
                .is_task
                .is_none_or(|task| task == labels.contains_key(TASK_ID))
            && f.labels_match(|k| labels.get(k).map(String::as_str))
            && f.any("volume", |v| {
                record
                    .mounts
                    .iter()
                    .any(|m| m.name == v || m.destination == v)
            })
            && f.any("network", |n| {
                record
                    .networks
                    .iter()
                    .any(|e| e.network_name == n || (!n.is_empty() && e.network_id.starts_with(n)))
            })
            && (self.publish.is_empty()
                || published
                    .into_iter()
                    .any(|(port, proto)| self.publish.iter().any(|r| r.contains(port, proto))))
            && (self.expose.is_empty()
                || exposed
                    .iter()
                    .any(|(port, proto)| self.expose.iter().any(|r| r.contains(*port, proto))))
            && (!f.contains("ancestor")
                || self
                    .ancestors
                    .iter()
                    .any(|layers| !layers.is_empty() && record.layers.starts_with(layers)))
            && self.created.holds(created)
    }
}

/// `publish=`/`expose=` values: `80`, `80/udp`, `8000-8080/tcp` (tcp
/// unless a protocol is given).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortRange {
    first: u16,
    last: u16,
    protocol: String,
}

impl PortRange {
    fn parse(spec: &str) -> Result<Self, String> {
        let (ports, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| "use a port, a range (8000-8080) and a protocol (80/udp)".to_string())
        };
        let (first, last) = match ports.split_once('-') {
            Some((first, last)) => (port(first)?, port(last)?),
            None => (port(ports)?, port(ports)?),
        };
        if first > last || !matches!(protocol, "tcp" | "udp" | "sctp") {
            return Err("use a port, a range (8000-8080) and a protocol (80/udp)".to_string());
        }
        Ok(Self {
            first,
            last,
            protocol: protocol.to_string(),
        })
    }

    fn contains(&self, port: u16, protocol: &str) -> bool {
        (self.first..=self.last).contains(&port) && self.protocol == protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(filters: &[&str]) -> Vec<String> {
        filters.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let error = |g: &[&str]| {
            ContainerFilter::for_list(&given(g))
                .unwrap_err()
                .message()
                .to_string()
        };
        assert!(
            error(&["status=sleeping"])
                .starts_with("invalid filter 'status=sleeping': use created")
        );
        assert!(error(&["health=fine"]).starts_with("invalid filter 'health=fine'"));
        assert!(
            error(&["exited=zero"]).starts_with("invalid filter 'exited=zero': use an exit code")
        );
        assert!(error(&["publish=http"]).starts_with("invalid filter 'publish=http'"));
        assert!(error(&["until=1h"]).starts_with("invalid filter 'until': ps takes id, name"));
        let prune = ContainerFilter::for_prune(&given(&["status=exited"]), Utc::now()).unwrap_err();
        assert!(
            prune
                .to_string()
                .starts_with("invalid filter 'status': container prune takes")
        );
    }

    #[test]
    fn port_filters_read_ports_ranges_and_protocols() {
        let range = PortRange::parse("8000-8080/udp").unwrap();
        assert!(range.contains(8000, "udp") && range.contains(8080, "udp"));
        assert!(!range.contains(8081, "udp") && !range.contains(8000, "tcp"));
        assert!(PortRange::parse("80").unwrap().contains(80, "tcp"));
        assert!(PortRange::parse("90-80").is_err());
        assert!(PortRange::parse("80/icmp").is_err());
    }

    #[test]
    fn a_status_filter_lists_stopped_containers() {
        assert!(
            ContainerFilter::for_list(&given(&["status=exited"]))
                .unwrap()
                .wants_stopped()
        );
        assert!(
            !ContainerFilter::for_list(&given(&["name=web"]))
                .unwrap()
                .wants_stopped()
        );
    }
}
