//! `hoist events`: the daemon's event stream, printed as Docker prints it
//! (a line per event with its time, type, action, actor and attributes;
//! `--format json` one JSON object per line; or a Go template per event).

use clap::Args;
use hoist_api::events::Event;
use hoist_api::proto::system_client::SystemClient;
use hoist_api::proto::{EventMessage, EventsRequest};
use serde_json::Value;
use tonic::Streaming;
use tonic::transport::Channel;

use super::container::parse_time;
use crate::exit::{CliError, CliResult};
use crate::format::{Format, render};

/// Get real time events from the server
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (type, event, container, image, label, network, volume)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output: 'json' prints one JSON object per event; else a Go template per event
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp (RFC 3339, Unix seconds, or relative such as 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp (RFC 3339, Unix seconds, or relative such as 10m)
    #[arg(long)]
    pub until: Option<String>,
}

/// The daemon's events: the remembered ones from `since` on, then live
/// ones until `until` (times as `--since` takes them) or forever.
pub struct EventStream {
    inner: Streaming<EventMessage>,
}

impl EventStream {
    /// Subscribes with Docker's `key=value` filters.
    pub async fn open(
        channel: Channel,
        since: Option<&str>,
        until: Option<&str>,
        filters: Vec<String>,
    ) -> CliResult<Self> {
        let request = EventsRequest {
            since: since
                .map(|s| parse_time(s, "--since"))
                .transpose()?
                .unwrap_or(0),
            until: until
                .map(|s| parse_time(s, "--until"))
                .transpose()?
                .unwrap_or(0),
            filters,
        };
        let inner = SystemClient::new(channel)
            .events(request)
            .await?
            .into_inner();
        Ok(Self { inner })
    }

    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> CliResult<Option<Event>> {
        let Some(message) = self.inner.message().await? else {
            return Ok(None);
        };
        serde_json::from_slice(&message.json)
            .map(Some)
            .map_err(|e| CliError::client(format!("the daemon sent a malformed event: {e}")))
    }
}

/// Prints the daemon's events until the stream ends (or forever).
pub async fn events(channel: Channel, args: EventsArgs) -> CliResult<i32> {
    let format = Format::parse(args.format.as_deref());
    if let Format::Template(template) = &format {
        // A template that cannot work fails before any event is awaited.
        render_event(
            template,
            &Event::new(
                hoist_api::events::EventType::Container,
                "",
                "",
                Default::default(),
            ),
        )?;
    }
    let mut stream = EventStream::open(
        channel,
        args.since.as_deref(),
        args.until.as_deref(),
        args.filter,
    )
    .await?;
    while let Some(event) = stream.next().await? {
        let line = match &format {
            Format::Default => docker_line(&event),
            Format::Json => {
                serde_json::to_string(&event).map_err(|e| CliError::client(e.to_string()))?
            }
            Format::Template(template) => render_event(template, &event)?,
        };
        println!("{line}");
    }
    Ok(0)
}

/// Renders a template against an event. As in Go, an attribute the event
/// lacks (`{{.Actor.Attributes.exitCode}}` of a `start`) prints `<no
/// value>` rather than failing.
fn render_event(template: &str, event: &Event) -> CliResult<String> {
    let mut value = serde_json::to_value(event).map_err(|e| CliError::client(e.to_string()))?;
    if let Some(attributes) = value
        .pointer_mut("/Actor/Attributes")
        .and_then(Value::as_object_mut)
    {
        const PREFIX: &str = ".Actor.Attributes.";
        let mut rest = template;
        while let Some(at) = rest.find(PREFIX) {
            rest = &rest[at + PREFIX.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '}' || c == '.')
                .unwrap_or(rest.len());
            attributes.entry(&rest[..end]).or_insert(Value::Null);
        }
    }
    render(template, &value)
}

/// Docker's line for an event: `2024-05-01T10:00:00.123456789Z container
/// start 3f2a… (image=busybox, name=web)`, attributes sorted by key.
pub fn docker_line(event: &Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        docker_time(event.time_nano),
        event.kind,
        event.action,
        event.actor.id
    );
    if !event.actor.attributes.is_empty() {
        let attributes: Vec<String> = event
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attributes.join(", ")));
    }
    line
}

fn local(nanos: i64) -> chrono::DateTime<chrono::Local> {
    chrono::DateTime::from_timestamp_nanos(nanos).with_timezone(&chrono::Local)
}

/// Go's `time.RFC3339Nano` zone: `Z` in UTC, else `+02:00`.
fn zone(time: &chrono::DateTime<chrono::Local>) -> String {
    if chrono::Offset::fix(time.offset()).local_minus_utc() == 0 {
        "Z".into()
    } else {
        time.format("%:z").to_string()
    }
}

/// Local time with nine fractional digits, as the docker CLI prints it.
pub fn docker_time(nanos: i64) -> String {
    let time = local(nanos);
    format!("{}{}", time.format("%Y-%m-%dT%H:%M:%S%.9f"), zone(&time))
}

/// Local time as Go's JSON encoding writes it (RFC 3339, trailing zeros
/// of the fraction dropped): Docker Compose's `--json` time.
pub fn go_json_time(nanos: i64) -> String {
    let time = local(nanos);
    let fraction = time.format("%.9f").to_string();
    let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
    format!(
        "{}{fraction}{}",
        time.format("%Y-%m-%dT%H:%M:%S"),
        zone(&time)
    )
}

#[cfg(test)]
mod tests {
    use hoist_api::events::EventType;

    use super::*;

    fn start() -> Event {
        Event::new(
            EventType::Container,
            "start",
            "3f2a",
            [
                ("name".to_string(), "web".to_string()),
                ("image".to_string(), "busybox".to_string()),
            ]
            .into(),
        )
        .stamped(1_714_557_600_123_456_789)
    }

    #[test]
    fn lines_are_dockers() {
        let line = docker_line(&start());
        let (time, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, "container start 3f2a (image=busybox, name=web)");
        assert_eq!(time, docker_time(1_714_557_600_123_456_789));
        let bare = Event::new(EventType::Image, "prune", "", Default::default()).stamped(1);
        assert!(docker_line(&bare).ends_with(" image prune "));
    }

    #[test]
    fn times_keep_their_digits() {
        let time = docker_time(1_714_557_600_000_000_010);
        assert!(time.contains(".000000010"), "{time}");
        assert!(!go_json_time(1_714_557_600_120_000_000).contains(".120"));
        assert!(go_json_time(1_714_557_600_120_000_000).contains(".12"));
        assert!(!go_json_time(1_714_557_600_000_000_000).contains('.'));
    }

    #[test]
    fn templates_see_missing_attributes_as_no_value() {
        let event = start();
        assert_eq!(
            render_event("{{.Action}} {{.Actor.Attributes.name}}", &event).unwrap(),
            "start web"
        );
        assert_eq!(
            render_event("{{.Actor.Attributes.exitCode}}", &event).unwrap(),
            "<no value>"
        );
        assert!(render_event("{{.Nope}}", &event).is_err());
        assert_eq!(
            render_event("{{json .Type}}", &event).unwrap(),
            "\"container\""
        );
    }
}
