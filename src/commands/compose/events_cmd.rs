//! `hoist compose events`: the project's container events, as Docker
//! Compose prints them: a line each (`2024-05-01 10:00:00.123456 container
//! start <id> (image=busybox, name=shop-web-1)`) or with `--json` one
//! object each (`time`, `type`, `action`, `id`, `service`, `attributes`).
//! One-off containers (`compose run`) are left out and compose's own labels
//! are not repeated among the attributes, as in Docker Compose.

use std::collections::BTreeMap;

use clap::Args;
use hoist_api::events::{Event, EventType};
use hoist_compose::plan::labels;

use super::engine::Engine;
use crate::commands::events::{EventStream, go_json_time};
use crate::exit::{CliError, CliResult};

/// Prefix of the labels compose puts on what it makes.
const COMPOSE_LABELS: &str = "com.docker.compose.";

/// Receive real time events from containers
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    json: bool,
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Services whose events to show (default: all)
    services: Vec<String>,
}

/// An event of one of the project's service containers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServiceEvent {
    time_nano: i64,
    service: String,
    container: String,
    action: String,
    attributes: BTreeMap<String, String>,
}

impl ServiceEvent {
    /// The event as compose shows it, if it is one of `services`' (all
    /// when empty) and not a one-off's.
    fn of(event: &Event, services: &[String]) -> Option<Self> {
        if event.kind != EventType::Container || event.attribute(labels::ONEOFF) == Some("True") {
            return None;
        }
        let service = event.attribute(labels::SERVICE).unwrap_or_default();
        if !services.is_empty() && !services.iter().any(|s| s == service) {
            return None;
        }
        Some(Self {
            time_nano: event.time_nano,
            service: service.to_string(),
            container: event.actor.id.clone(),
            action: event.action.clone(),
            attributes: event
                .actor
                .attributes
                .iter()
                .filter(|(k, _)| !k.starts_with(COMPOSE_LABELS))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Docker Compose's line.
    fn line(&self) -> String {
        let time = chrono::DateTime::from_timestamp_nanos(self.time_nano)
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S%.6f");
        let attributes: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{time} container {} {} ({})",
            self.action,
            self.container,
            attributes.join(", ")
        )
    }

    /// Docker Compose's JSON object (keys sorted, as Go writes a map).
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "time": go_json_time(self.time_nano),
            "type": "container",
            "service": self.service,
            "id": self.container,
            "action": self.action,
            "attributes": self.attributes,
        })
    }
}

/// Prints the project's container events until the stream ends.
pub async fn events(engine: Engine, project: &str, args: EventsArgs) -> CliResult<i32> {
    let filters = vec![
        format!("type={}", EventType::Container),
        format!("label={}={project}", labels::PROJECT),
    ];
    let mut stream = EventStream::open(
        engine.channel(),
        args.since.as_deref(),
        args.until.as_deref(),
        filters,
    )
    .await?;
    while let Some(event) = stream.next().await? {
        let Some(event) = ServiceEvent::of(&event, &args.services) else {
            continue;
        };
        if args.json {
            let json = serde_json::to_string(&event.json())
                .map_err(|e| CliError::client(e.to_string()))?;
            println!("{json}");
        } else {
            println!("{}", event.line());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(service: &str, oneoff: &str) -> Event {
        Event::new(
            EventType::Container,
            "start",
            "3f2a",
            [
                ("name".to_string(), format!("shop-{service}-1")),
                ("image".to_string(), "busybox".to_string()),
                (labels::PROJECT.to_string(), "shop".to_string()),
                (labels::SERVICE.to_string(), service.to_string()),
                (labels::ONEOFF.to_string(), oneoff.to_string()),
                ("tier".to_string(), "front".to_string()),
            ]
            .into(),
        )
        .stamped(1_714_557_600_123_456_789)
    }

    #[test]
    fn keeps_the_services_asked_for_and_no_one_offs() {
        let web = event("web", "False");
        assert!(ServiceEvent::of(&web, &[]).is_some());
        assert!(ServiceEvent::of(&web, &["web".to_string()]).is_some());
        assert!(ServiceEvent::of(&web, &["db".to_string()]).is_none());
        assert!(ServiceEvent::of(&event("web", "True"), &[]).is_none());
        let volume = Event::new(EventType::Volume, "create", "data", Default::default());
        assert!(ServiceEvent::of(&volume, &[]).is_none());
    }

    #[test]
    fn prints_as_docker_compose() {
        let shown = ServiceEvent::of(&event("web", "False"), &[]).unwrap();
        let line = shown.line();
        assert!(
            line.ends_with(" container start 3f2a (image=busybox, name=shop-web-1, tier=front)"),
            "{line}"
        );
        assert_eq!(line.split(' ').nth(1).map(str::len), Some(15), "{line}");
        let json = shown.json();
        assert_eq!(json["service"], "web");
        assert_eq!(json["action"], "start");
        assert_eq!(json["id"], "3f2a");
        assert_eq!(json["type"], "container");
        assert_eq!(
            json["attributes"],
            serde_json::json!({"image": "busybox", "name": "shop-web-1", "tier": "front"})
        );
        assert_eq!(json["time"], go_json_time(1_714_557_600_123_456_789));
    }
}
