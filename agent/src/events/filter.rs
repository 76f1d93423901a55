//! `docker events --filter`: which events a listener wants, with Docker's
//! rules. Several values of one key are alternatives; different keys must
//! all match; every `label` filter must match. `container`, `network` and
//! `volume` match the actor's ID or name, exactly or by prefix; `image`
//! matches the image (a container's `image` attribute, an image's ID or
//! name) with or without its tag; `event` matches the action exactly, or
//! by prefix for `health_status`, `exec_create` and `exec_start` (whose
//! actions carry a suffix).

use hoist_api::events::{Event, EventType, LOCAL_SCOPE};
use hoist_api::filters::{FilterError, Filters};

/// Filter keys this daemon knows.
const KEYS: [&str; 8] = [
    "type",
    "event",
    "container",
    "image",
    "label",
    "network",
    "volume",
    "scope",
];

/// Actions whose filter matches by prefix (Docker's rule for #25798).
const PREFIX_ACTIONS: [&str; 3] = ["health_status", "exec_create", "exec_start"];

/// The filters of one listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    filters: Filters,
}

impl EventFilter {
    /// Parses `key=value` filters.
    pub fn parse(given: &[String]) -> Result<Self, FilterError> {
        let filters = Filters::parse(given, "events", &KEYS)?;
        if filters
            .get("type")
            .iter()
            .any(|t| t.parse::<EventType>().is_err())
        {
            return Err(filters.bad_value("type", "use container, image, network or volume"));
        }
        if filters
            .get("scope")
            .iter()
            .any(|s| s != LOCAL_SCOPE && s != "swarm")
        {
            return Err(filters.bad_value("scope", "use local or swarm"));
        }
        Ok(Self { filters })
    }

    /// Whether the listener wants `event`.
    pub fn matches(&self, event: &Event) -> bool {
        self.any_exact("type", event.kind.as_str())
            && self.any_exact("scope", &event.scope)
            && self.action_matches(&event.action)
            && self.name_matches("container", event)
            && self.name_matches("network", event)
            && self.name_matches("volume", event)
            && self.image_matches(event)
            && self.labels_match(event)
    }

    fn get(&self, key: &str) -> &[String] {
        self.filters.get(key)
    }

    /// No value for `key`, or one equal to `source`.
    fn any_exact(&self, key: &str, source: &str) -> bool {
        self.filters.exact(key, source)
    }

    /// No value for `key`, or one equal to or a prefix of `source`.
    fn any_prefix(&self, key: &str, source: &str) -> bool {
        self.filters.any(key, |w| source.starts_with(w))
    }

    fn action_matches(&self, action: &str) -> bool {
        if self
            .get("event")
            .iter()
            .any(|w| PREFIX_ACTIONS.contains(&w.as_str()))
        {
            self.any_prefix("event", action)
        } else {
            self.any_exact("event", action)
        }
    }

    /// `container=`, `network=`, `volume=`: the actor's ID or name.
    fn name_matches(&self, key: &str, event: &Event) -> bool {
        self.any_prefix(key, &event.actor.id)
            || event
                .attribute("name")
                .is_some_and(|name| self.any_prefix(key, name))
    }

    fn image_matches(&self, event: &Event) -> bool {
        if self.get("image").is_empty() {
            return true;
        }
        let name_attribute = if event.kind == EventType::Image {
            "name"
        } else {
            "image"
        };
        let name = event.attribute(name_attribute).unwrap_or_default();
        [event.actor.id.as_str(), name]
            .into_iter()
            .filter(|s| !s.is_empty())
            .any(|s| self.any_exact("image", s) || self.any_exact("image", strip_tag(s)))
    }

    /// Every `label=key` / `label=key=value` against the attributes.
    fn labels_match(&self, event: &Event) -> bool {
        self.filters.labels_match(|k| event.attribute(k))
    }
}

/// `busybox:1.36` → `busybox`; a registry port is not a tag.
fn strip_tag(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(filters: &[&str]) -> EventFilter {
        EventFilter::parse(&filters.iter().map(|f| f.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn container(action: &str, id: &str, name: &str, image: &str) -> Event {
        Event::new(
            EventType::Container,
            action,
            id,
            [
                ("name".to_string(), name.to_string()),
                ("image".to_string(), image.to_string()),
                ("com.docker.compose.project".to_string(), "shop".to_string()),
                ("tier".to_string(), "front".to_string()),
            ]
            .into(),
        )
    }

    #[test]
    fn no_filter_matches_everything() {
        let f = filter(&[]);
        assert!(f.matches(&container("start", "abc", "web", "busybox")));
    }

    #[test]
    fn values_of_a_key_are_alternatives_and_keys_combine() {
        let f = filter(&["event=start", "event=die", "type=container"]);
        assert!(f.matches(&container("start", "abc", "web", "busybox")));
        assert!(f.matches(&container("die", "abc", "web", "busybox")));
        assert!(!f.matches(&container("create", "abc", "web", "busybox")));
        let volume = Event::new(EventType::Volume, "create", "data", Default::default());
        assert!(!f.matches(&volume));
        assert!(filter(&["type=volume"]).matches(&volume));
    }

    #[test]
    fn health_and_exec_events_match_by_prefix() {
        let healthy = container("health_status: healthy", "abc", "web", "busybox");
        assert!(filter(&["event=health_status"]).matches(&healthy));
        assert!(filter(&["event=health_status: healthy"]).matches(&healthy));
        assert!(!filter(&["event=health"]).matches(&healthy));
        let exec = container("exec_start: sh -c true", "abc", "web", "busybox");
        assert!(filter(&["event=exec_start"]).matches(&exec));
    }

    #[test]
    fn containers_match_by_id_or_name_prefix() {
        let event = container("start", "3f2a99", "web-1", "busybox");
        assert!(filter(&["container=3f2a"]).matches(&event));
        assert!(filter(&["container=web-1"]).matches(&event));
        assert!(filter(&["container=web"]).matches(&event));
        assert!(!filter(&["container=db"]).matches(&event));
        assert!(filter(&["container=db", "container=web"]).matches(&event));
    }

    #[test]
    fn images_match_with_or_without_tag() {
        let event = container("start", "abc", "web", "busybox:1.36");
        assert!(filter(&["image=busybox"]).matches(&event));
        assert!(filter(&["image=busybox:1.36"]).matches(&event));
        assert!(!filter(&["image=alpine"]).matches(&event));
        let pulled = Event::new(
            EventType::Image,
            "pull",
            "localhost:5000/app:v2",
            [("name".to_string(), "localhost:5000/app:v2".to_string())].into(),
        );
        assert!(filter(&["image=localhost:5000/app"]).matches(&pulled));
        assert!(!filter(&["image=localhost"]).matches(&pulled));
        assert_eq!(strip_tag("localhost:5000/app"), "localhost:5000/app");
    }

    #[test]
    fn every_label_filter_must_match() {
        let event = container("start", "abc", "web", "busybox");
        assert!(filter(&["label=tier"]).matches(&event));
        assert!(filter(&["label=tier=front"]).matches(&event));
        assert!(
            filter(&["label=com.docker.compose.project=shop", "label=tier=front"]).matches(&event)
        );
        assert!(
            !filter(&["label=com.docker.compose.project=shop", "label=tier=back"]).matches(&event)
        );
        assert!(!filter(&["label=com.docker.compose.project=other"]).matches(&event));
    }

    #[test]
    fn networks_and_volumes_match_their_actor() {
        let network = Event::new(
            EventType::Network,
            "connect",
            "n123",
            [
                ("name".to_string(), "shop_default".to_string()),
                ("container".to_string(), "abc".to_string()),
            ]
            .into(),
        );
        assert!(filter(&["network=shop_default"]).matches(&network));
        assert!(filter(&["network=n1"]).matches(&network));
        assert!(!filter(&["network=other"]).matches(&network));
        let volume = Event::new(EventType::Volume, "destroy", "data", Default::default());
        assert!(filter(&["volume=data"]).matches(&volume));
        assert!(!filter(&["volume=logs"]).matches(&volume));
    }

    #[test]
    fn bad_filters_are_refused() {
        let parse = |f: &str| EventFilter::parse(&[f.to_string()]).map_err(|e| e.to_string());
        assert_eq!(
            parse("event"),
            Err("bad filter \"event\": use key=value".to_string())
        );
        assert!(
            parse("colour=red")
                .unwrap_err()
                .starts_with("invalid filter 'colour': events takes type, event")
        );
        assert_eq!(
            parse("type=daemon"),
            Err(
                "invalid filter 'type=daemon': use container, image, network or volume".to_string()
            )
        );
        assert_eq!(
            parse("scope=global"),
            Err("invalid filter 'scope=global': use local or swarm".to_string())
        );
        assert!(parse("scope=local").is_ok());
        assert!(!filter(&["scope=swarm"]).matches(&container("start", "a", "b", "c")));
    }
}
