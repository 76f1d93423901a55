//! What the daemon's objects look like in events, as Docker describes
//! them (a container by its name, image and every label; an image by its
//! name; a network by its name and driver; a volume by its driver), and
//! the daemon's shorthands to publish them.

use std::collections::BTreeMap;

use hoist_api::events::{Event, EventType};
use hoist_api::spec::MountKind;

use crate::containers::record::ContainerRecord;
use crate::daemon::Daemon;
use crate::networks::record::{BRIDGE, EndpointRecord};

/// A container event: `extra` attributes, the container's labels, its
/// image as asked for, and its name (later ones win, as in Docker).
pub fn container_event(record: &ContainerRecord, action: &str, extra: &[(&str, String)]) -> Event {
    let mut attributes = attributes(extra);
    attributes.extend(
        record
            .settings
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    attributes.insert("image".into(), record.spec.image.clone());
    attributes.insert("name".into(), record.name.clone());
    Event::new(EventType::Container, action, &record.id, attributes)
}

/// The events of one `exec`, all carrying its ID: `exec_create: CMD`,
/// `exec_start: CMD` and `exec_die` (with `exitCode`).
#[derive(Debug, Clone)]
pub struct ExecEvents {
    base: Event,
    command: String,
}

impl ExecEvents {
    /// The events of a new exec of `command` in the container.
    pub fn new(record: &ContainerRecord, command: &[String]) -> Self {
        let id = hoist_runtime::fsutil::new_id();
        Self {
            base: container_event(record, "", &[("execID", id)]),
            command: command.join(" "),
        }
    }

    fn with_action(&self, action: String) -> Event {
        let mut event = self.base.clone();
        event.action = action;
        event
    }

    /// `exec_create: CMD`.
    pub fn created(&self) -> Event {
        self.with_action(format!("exec_create: {}", self.command))
    }

    /// `exec_start: CMD`.
    pub fn started(&self) -> Event {
        self.with_action(format!("exec_start: {}", self.command))
    }

    /// `exec_die` with the exit code.
    pub fn died(&self, code: i32) -> Event {
        let mut event = self.with_action("exec_die".into());
        event
            .actor
            .attributes
            .insert("exitCode".into(), code.to_string());
        event
    }
}

fn attributes(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl Daemon {
    /// Publishes a container event (see [`container_event`]).
    pub fn container_event(
        &self,
        record: &ContainerRecord,
        action: &str,
        extra: &[(&str, String)],
    ) {
        self.events.publish(container_event(record, action, extra));
    }

    /// Publishes an image event: `id` is the image ID (or, for pull and
    /// push, the reference), `name` the reference it concerns.
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let attributes = attributes(&[("name", name.to_string())]);
        self.events
            .publish(Event::new(EventType::Image, action, id, attributes));
    }

    /// Publishes a network event; `container`: the container connected or
    /// disconnected.
    pub fn network_event(
        &self,
        action: &str,
        id: &str,
        name: &str,
        driver: &str,
        container: Option<&str>,
    ) {
        let mut attributes =
            attributes(&[("name", name.to_string()), ("type", driver.to_string())]);
        if let Some(container) = container {
            attributes.insert("container".into(), container.to_string());
        }
        self.events
            .publish(Event::new(EventType::Network, action, id, attributes));
    }

    /// Publishes a volume event (`driver` is always set).
    pub fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attributes = attributes(extra);
        attributes.insert("driver".into(), "local".into());
        self.events
            .publish(Event::new(EventType::Volume, action, name, attributes));
    }

    /// Publishes `connect` or `disconnect` for each network the container
    /// is plugged into.
    pub fn endpoint_events(&self, record: &ContainerRecord, action: &str) {
        for endpoint in record.networks.iter().filter(|e| e.live.is_some()) {
            self.endpoint_event(&record.id, endpoint, action);
        }
    }

    /// Publishes `connect` or `disconnect` of a container on one network.
    pub fn endpoint_event(&self, container_id: &str, endpoint: &EndpointRecord, action: &str) {
        let driver = self
            .networks
            .find(&endpoint.network_id)
            .map(|n| n.driver)
            .unwrap_or_else(|_| BRIDGE.to_string());
        self.network_event(
            action,
            &endpoint.network_id,
            &endpoint.network_name,
            &driver,
            Some(container_id),
        );
    }

    /// Publishes `mount` or `unmount` for each volume the container mounts.
    pub fn mount_events(&self, record: &ContainerRecord, action: &str) {
        for mount in record.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            let mut extra = vec![("container", record.id.clone())];
            if action == "mount" {
                extra.extend([
                    ("destination", mount.destination.clone()),
                    ("propagation", mount.propagation.clone()),
                    ("read/write", (!mount.read_only).to_string()),
                ]);
            }
            self.volume_event(action, &mount.name, &extra);
        }
    }

    /// Publishes the end of a prune of `kind` objects, with the bytes it
    /// freed.
    pub fn prune_event(&self, kind: EventType, reclaimed: u64) {
        let attributes = attributes(&[("reclaimed", reclaimed.to_string())]);
        self.events
            .publish(Event::new(kind, "prune", "", attributes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::{Settings, State};

    #[test]
    fn container_and_exec_events_carry_name_image_and_labels() {
        let record = ContainerRecord {
            id: "3f2a".into(),
            name: "shop-web-1".into(),
            created: "2024-05-01T10:00:00Z".into(),
            spec: hoist_api::spec::ContainerSpec {
                image: "busybox".into(),
                ..Default::default()
            },
            image_id: "sha256:1".into(),
            layers: Vec::new(),
            settings: Settings {
                labels: [
                    ("com.docker.compose.project".to_string(), "shop".to_string()),
                    ("name".to_string(), "a label loses to the name".to_string()),
                ]
                .into(),
                ..Default::default()
            },
            mounts: Vec::new(),
            state: State::default(),
            networks: Vec::new(),
            ports: Vec::new(),
            files: Vec::new(),
        };
        let event = container_event(&record, "die", &[("exitCode", "3".to_string())]);
        assert_eq!(event.kind, EventType::Container);
        assert_eq!(event.actor.id, "3f2a");
        assert_eq!(event.attribute("name"), Some("shop-web-1"));
        assert_eq!(event.attribute("image"), Some("busybox"));
        assert_eq!(event.attribute("exitCode"), Some("3"));
        assert_eq!(event.attribute("com.docker.compose.project"), Some("shop"));
        let exec = ExecEvents::new(
            &record,
            &["sh".to_string(), "-c".to_string(), "true".to_string()],
        );
        let (created, died) = (exec.created(), exec.died(1));
        assert_eq!(created.action, "exec_create: sh -c true");
        assert_eq!(exec.started().action, "exec_start: sh -c true");
        assert_eq!(
            (died.action.as_str(), died.attribute("exitCode")),
            ("exec_die", Some("1"))
        );
        assert_eq!(created.attribute("execID").map(str::len), Some(64));
        assert_eq!(created.attribute("execID"), died.attribute("execID"));
        assert_eq!(created.attribute("name"), Some("shop-web-1"));
    }
}
