//! Docker's `--filter key=value` arguments as the daemon applies them to a
//! listing or a prune, with Docker's rules: several values of one key are
//! alternatives, different keys must all match, every `label` filter must
//! match and an object whose labels match every `label!` filter is left
//! out. A key the command does not take, or a value it cannot read, is an
//! error naming it (Docker's `invalid filter '…'`), never a filter quietly
//! ignored: `image prune --filter until=24h` that pruned every image would
//! lose what the user meant to keep.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A filter the daemon cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not `key=value`.
    #[error("bad filter {0:?}: use key=value")]
    Malformed(String),
    /// A key this command does not take.
    #[error("invalid filter '{key}': {what} takes {accepted}")]
    UnknownKey {
        /// The key given.
        key: String,
        /// What is being filtered (`image prune`).
        what: &'static str,
        /// The keys it takes, for the message.
        accepted: String,
    },
    /// A value the key cannot take.
    #[error("invalid filter '{key}={value}': {why}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// Why it cannot be read, and what to give instead.
        why: String,
    },
}

/// The filters of one request, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    values: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Parses `key=value` filters, refusing keys not in `accepted`; `what`
    /// names the command in the error.
    pub fn parse(
        filters: &[String],
        what: &'static str,
        accepted: &[&str],
    ) -> Result<Self, FilterError> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for filter in filters {
            let (key, value) = filter
                .split_once('=')
                .ok_or_else(|| FilterError::Malformed(filter.clone()))?;
            if !accepted.contains(&key) {
                return Err(FilterError::UnknownKey {
                    key: key.to_string(),
                    what,
                    accepted: accepted.join(", "),
                });
            }
            values
                .entry(key.to_string())
                .or_default()
                .push(value.to_string());
        }
        Ok(Self { values })
    }

    /// The values given for `key` (none when it was not given).
    pub fn get(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether `key` was given at all.
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// True when `key` was not given, or one of its values satisfies `test`.
    pub fn any(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        let wanted = self.get(key);
        wanted.is_empty() || wanted.iter().any(|value| test(value))
    }

    /// The values of `key` as Docker's name patterns, compiled once for a
    /// whole listing.
    pub fn patterns(&self, key: &str) -> Patterns {
        Patterns(
            self.get(key)
                .iter()
                .map(|value| (value.clone(), regex::Regex::new(value).ok()))
                .collect(),
        )
    }

    /// True when `key` was not given, or one of its values is `source`.
    pub fn exact(&self, key: &str, source: &str) -> bool {
        self.any(key, |value| value == source)
    }

    /// Docker's label rules against an object's labels (`label` read by
    /// `get`): every `label=KEY` / `label=KEY=VALUE` must be there, and
    /// when `label!` filters were given, not all of them may be.
    pub fn labels_match<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.labels_under("label", &get)
            && !(self.contains("label!") && self.get("label!").iter().all(|f| has(f, &get)))
    }

    /// Every `key=LABEL` / `key=LABEL=VALUE` filter (`node.label=zone`)
    /// names a label `get` has.
    pub fn labels_under<'a>(&self, key: &str, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.get(key).iter().all(|filter| has(filter, &get))
    }

    /// A yes/no key (`dangling=true`), as Docker reads it: `true`/`1` or
    /// `false`/`0`; `None` when not given.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let values = self.get(key);
        if values.is_empty() {
            return Ok(None);
        }
        let yes = values.iter().any(|v| v == "true" || v == "1");
        let no = values.iter().any(|v| v == "false" || v == "0");
        if yes == no
            || values
                .iter()
                .any(|v| !matches!(v.as_str(), "true" | "1" | "false" | "0"))
        {
            return Err(self.bad_value(key, "use true or false"));
        }
        Ok(Some(yes))
    }

    /// A key that names one point in time (`until=24h`); `None` when not
    /// given. Durations count back from `now`.
    pub fn time(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, FilterError> {
        match self.get(key) {
            [] => Ok(None),
            [value] => {
                crate::timestamp::parse(value, now)
                    .map(Some)
                    .map_err(|e| FilterError::BadValue {
                        key: key.to_string(),
                        value: value.clone(),
                        why: e.to_string(),
                    })
            }
            _ => Err(self.bad_value(key, "give it once")),
        }
    }

    /// The error for a value of `key` that cannot be taken.
    pub fn bad_value(&self, key: &str, why: &str) -> FilterError {
        FilterError::BadValue {
            key: key.to_string(),
            value: self.get(key).join(","),
            why: why.to_string(),
        }
    }
}

/// Whether labels `get` reads have `LABEL` or `LABEL=VALUE`.
fn has<'a>(filter: &str, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    match filter.split_once('=') {
        Some((key, value)) => get(key) == Some(value),
        None => get(filter).is_some(),
    }
}

/// The creation times `before=`, `since=` and `until=` leave: after
/// `after` and before `before`, each bound optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedWindow {
    /// Made before this.
    pub before: Option<DateTime<Utc>>,
    /// Made after this.
    pub after: Option<DateTime<Utc>>,
}

impl CreatedWindow {
    /// Also made before `before` and after `after`: the window narrows.
    pub fn narrow(&mut self, before: Option<DateTime<Utc>>, after: Option<DateTime<Utc>>) {
        self.before = [self.before, before].into_iter().flatten().min();
        self.after = [self.after, after].into_iter().flatten().max();
    }

    /// Whether something made at `created` is inside; something of unknown
    /// age is only in a window without bounds.
    pub fn holds(&self, created: Option<DateTime<Utc>>) -> bool {
        self.before.is_none_or(|t| created.is_some_and(|c| c < t))
            && self.after.is_none_or(|t| created.is_some_and(|c| c > t))
    }
}

/// Docker's `Match` for names: a value matches a name it equals or, read
/// as a regular expression, one it matches anywhere (`name=web` takes
/// `web-1`, `name=^web$` only `web`). No values match every name.
#[derive(Debug, Clone)]
pub struct Patterns(Vec<(String, Option<regex::Regex>)>);

impl Patterns {
    /// Whether `source` is taken.
    pub fn matches(&self, source: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|(value, pattern)| {
                value == source || pattern.as_ref().is_some_and(|p| p.is_match(source))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn filters(given: &[&str], accepted: &[&str]) -> Result<Filters, FilterError> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        Filters::parse(&given, "image prune", accepted)
    }

    #[test]
    fn values_of_one_key_are_alternatives() {
        let f = filters(&["status=exited", "status=created"], &["status", "id"]).unwrap();
        assert!(f.exact("status", "exited"));
        assert!(f.exact("status", "created"));
        assert!(!f.exact("status", "running"));
        assert!(
            f.exact("id", "anything"),
            "a key not given lets everything through"
        );
        assert!(f.any("status", |v| v.starts_with("exit")));
    }

    #[test]
    fn unknown_keys_and_malformed_filters_are_named() {
        let error = filters(&["bogus=1"], &["until", "label"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid filter 'bogus': image prune takes until, label"
        );
        let error = filters(&["until"], &["until"]).unwrap_err();
        assert_eq!(error.to_string(), "bad filter \"until\": use key=value");
    }

    #[test]
    fn labels_all_match_and_negated_labels_exclude() {
        let labels: HashMap<&str, &str> = [("team", "web"), ("keep", "")].into();
        let get = |k: &str| labels.get(k).copied();
        let accepted = ["label", "label!"];
        assert!(
            filters(&["label=team"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            filters(&["label=team=web", "label=keep"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            !filters(&["label=team=web", "label=other"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            !filters(&["label=team=db"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            !filters(&["label!=keep"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            filters(&["label!=other"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(
            filters(&["label!=team=db"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        // Excluded only when every `label!` filter matches, as Docker.
        assert!(
            filters(&["label!=keep", "label!=other"], &accepted)
                .unwrap()
                .labels_match(get)
        );
        assert!(filters(&[], &accepted).unwrap().labels_match(get));
    }

    #[test]
    fn name_patterns_are_regular_expressions_or_names() {
        let f = filters(&["name=^web$", "name=db", "name=a[b"], &["name"]).unwrap();
        let names = f.patterns("name");
        assert!(names.matches("web"));
        assert!(!names.matches("web-1"));
        assert!(names.matches("app-db-1"), "found anywhere");
        assert!(
            names.matches("a[b"),
            "an invalid expression still matches itself"
        );
        assert!(!names.matches("api"));
        assert!(
            filters(&[], &["name"])
                .unwrap()
                .patterns("name")
                .matches("any")
        );
    }

    #[test]
    fn created_windows_narrow_and_hold() {
        use chrono::TimeZone;
        let at = |s| Utc.timestamp_opt(s, 0).single();
        let mut window = CreatedWindow::default();
        assert!(window.holds(None) && window.holds(at(5)));
        window.narrow(at(10), None);
        window.narrow(at(20), at(2));
        window.narrow(None, at(1));
        assert_eq!(
            window,
            CreatedWindow {
                before: at(10),
                after: at(2)
            }
        );
        assert!(window.holds(at(5)));
        assert!(!window.holds(at(10)) && !window.holds(at(2)) && !window.holds(None));
    }

    #[test]
    fn booleans_read_as_docker_reads_them() {
        let read = |given: &[&str]| filters(given, &["dangling"]).unwrap().boolean("dangling");
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&["dangling=true"]), Ok(Some(true)));
        assert_eq!(read(&["dangling=1"]), Ok(Some(true)));
        assert_eq!(read(&["dangling=false"]), Ok(Some(false)));
        assert_eq!(
            read(&["dangling=maybe"]).unwrap_err().to_string(),
            "invalid filter 'dangling=maybe': use true or false"
        );
        assert!(read(&["dangling=true", "dangling=false"]).is_err());
    }

    #[test]
    fn until_is_one_point_in_time() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let time = |given: &[&str]| filters(given, &["until"]).unwrap().time("until", now);
        assert_eq!(time(&[]), Ok(None));
        assert_eq!(
            time(&["until=1h"]),
            Ok(Some(now - chrono::Duration::hours(1)))
        );
        let error = time(&["until=soon"]).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid filter 'until=soon': cannot read \"soon\""),
            "{error}"
        );
        let error = time(&["until=1h", "until=2h"]).unwrap_err().to_string();
        assert_eq!(error, "invalid filter 'until=1h,2h': give it once");
    }
}
