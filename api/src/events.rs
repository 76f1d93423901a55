//! Daemon events, shaped and named as Docker's (`docker events --format
//! json`): what happened (`Type`, `Action`), to which object (`Actor.ID`,
//! with its name, image and labels in `Actor.Attributes`), and when.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The scope of every event a single daemon reports.
pub const LOCAL_SCOPE: &str = "local";

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A container (`Actor.ID` is its full ID).
    Container,
    /// An image (`Actor.ID` is its ID, or the reference pulled or pushed).
    Image,
    /// A network (`Actor.ID` is its ID).
    Network,
    /// A volume (`Actor.ID` is its name).
    Volume,
}

impl EventType {
    /// Docker's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::Image => "image",
            Self::Network => "network",
            Self::Volume => "volume",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}: use container, image, network or volume")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "container" => Ok(Self::Container),
            "image" => Ok(Self::Image),
            "network" => Ok(Self::Network),
            "volume" => Ok(Self::Volume),
            other => Err(UnknownEventType(other.to_string())),
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Container or network ID, image ID or reference, volume name.
    #[serde(rename = "ID")]
    pub id: String,
    /// `name`, `image`, the object's labels, and what the action adds
    /// (`exitCode`, `signal`, `container`, …).
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as Docker's API sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What kind of object.
    #[serde(rename = "Type")]
    pub kind: EventType,
    /// What happened: `create`, `start`, `die`, `health_status: healthy`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// To which object.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// `local` (a daemon's own objects).
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event not stamped yet (the daemon's event bus sets the time).
    pub fn new(
        kind: EventType,
        action: impl Into<String>,
        id: impl Into<String>,
        attributes: BTreeMap<String, String>,
    ) -> Self {
        Self {
            kind,
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: LOCAL_SCOPE.to_string(),
            time: 0,
            time_nano: 0,
        }
    }

    /// Sets the time (Unix nanoseconds) of the event.
    pub fn stamped(mut self, time_nano: i64) -> Self {
        self.time_nano = time_nano;
        self.time = time_nano.div_euclid(1_000_000_000);
        self
    }

    /// An attribute of the actor, if it has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.actor.attributes.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_dockers_messages() {
        let event = Event::new(
            EventType::Container,
            "start",
            "abc",
            [("name".to_string(), "web".to_string())].into(),
        )
        .stamped(1_714_557_600_123_456_789);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Type": "container",
                "Action": "start",
                "Actor": {"ID": "abc", "Attributes": {"name": "web"}},
                "scope": "local",
                "time": 1_714_557_600,
                "timeNano": 1_714_557_600_123_456_789_i64,
            })
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.attribute("name"), Some("web"));
    }

    #[test]
    fn types_parse_from_dockers_names() {
        for kind in [
            EventType::Container,
            EventType::Image,
            EventType::Network,
            EventType::Volume,
        ] {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
        }
        assert!("daemon".parse::<EventType>().is_err());
    }
}
