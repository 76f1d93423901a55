//! `images --filter` and `image prune --filter`: which images a listing
//! shows and a prune removes, by Docker's keys and rules.

use chrono::{DateTime, Utc};
use hoist_api::filters::{CreatedWindow, FilterError, Filters};
use hoist_runtime::image::build::path_match;
use hoist_runtime::image::{Image, Reference};
use tonic::Status;

use crate::error::from_filter;

/// The keys `docker images --filter` takes.
const LIST_KEYS: [&str; 6] = ["dangling", "label", "before", "since", "reference", "until"];
/// The keys `docker image prune --filter` takes.
const PRUNE_KEYS: [&str; 4] = ["dangling", "label", "label!", "until"];

/// Which images a listing or a prune takes.
#[derive(Debug)]
pub struct ImageFilter {
    filters: Filters,
    /// `Some(true)`: only untagged images; `Some(false)`: only tagged ones.
    dangling: Option<bool>,
    /// `before`, `since`, `until`.
    created: CreatedWindow,
}

/// When `image` was made, to the nanosecond its config gives (images made
/// in the same second still compare as Docker compares them).
pub fn created_at(image: &Image) -> Option<DateTime<Utc>> {
    let created = image.config.created.as_deref()?;
    DateTime::parse_from_rfc3339(created)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl ImageFilter {
    /// `docker images --filter`; `created_of` gives the creation time of
    /// the image a `before=` or `since=` names.
    pub fn for_list(
        given: &[String],
        now: DateTime<Utc>,
        created_of: impl Fn(&str) -> Result<Option<DateTime<Utc>>, Status>,
    ) -> Result<Self, Status> {
        let filters = Filters::parse(given, "images", &LIST_KEYS).map_err(from_filter)?;
        for pattern in filters.get("reference") {
            path_match(pattern, "").map_err(|why| {
                from_filter(FilterError::BadValue {
                    key: "reference".into(),
                    value: pattern.clone(),
                    why,
                })
            })?;
        }
        let named = |key: &str| -> Result<Option<DateTime<Utc>>, Status> {
            let times = filters
                .get(key)
                .iter()
                .map(|name| created_of(name))
                .collect::<Result<Vec<_>, Status>>()?
                .into_iter()
                .flatten();
            Ok(if key == "before" {
                times.into_iter().min()
            } else {
                times.into_iter().max()
            })
        };
        let until = filters.time("until", now).map_err(from_filter)?;
        Ok(Self {
            dangling: filters.boolean("dangling").map_err(from_filter)?,
            created: {
                let mut window = CreatedWindow::default();
                window.narrow(until, named("since")?);
                window.narrow(named("before")?, None);
                window
            },
            filters,
        })
    }

    /// `docker image prune [--all] --filter`: untagged images, or with
    /// `all` (Docker's `dangling=false`) tagged ones too.
    pub fn for_prune(given: &[String], all: bool, now: DateTime<Utc>) -> Result<Self, FilterError> {
        let filters = Filters::parse(given, "image prune", &PRUNE_KEYS)?;
        let dangling_only = filters.boolean("dangling")?.unwrap_or(!all);
        Ok(Self {
            dangling: dangling_only.then_some(true),
            created: CreatedWindow {
                before: filters.time("until", now)?,
                after: None,
            },
            filters,
        })
    }

    /// Whether `image` is taken.
    pub fn selects(&self, image: &Image) -> bool {
        let untagged = image.references.is_empty();
        let created = created_at(image);
        let labels = &image.config.config.labels;
        self.dangling.is_none_or(|dangling| dangling == untagged)
            && self.created.holds(created)
            && self
                .filters
                .labels_match(|key| labels.get(key).map(String::as_str))
            && (!self.by_reference() || image.references.iter().any(|r| self.names(r)))
    }

    /// Whether `reference=` patterns were given: then only the names they
    /// match are listed, and images without one are left out.
    pub fn by_reference(&self) -> bool {
        self.filters.contains("reference")
    }

    /// Whether `reference` is one the `reference=` patterns name (each
    /// matched as Docker does, against `busybox:latest` and `busybox`).
    pub fn names(&self, reference: &Reference) -> bool {
        self.filters.any("reference", |pattern| {
            let matches = |text: &str| path_match(pattern, text).unwrap_or(false);
            matches(&reference.familiar()) || matches(&reference.familiar_repository())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hoist_runtime::image::config::ImageConfig;

    fn image(created: i64, names: &[&str], labels: &[(&str, &str)]) -> Image {
        let mut config = ImageConfig {
            created: Utc
                .timestamp_opt(created, 0)
                .single()
                .map(|t| t.to_rfc3339()),
            ..ImageConfig::default()
        };
        config.config.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Image {
            id: format!("sha256:{created:064}"),
            manifest_digest: String::new(),
            config,
            chain_ids: Vec::new(),
            references: names.iter().map(|n| Reference::parse(n).unwrap()).collect(),
            size: 0,
            created,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(10_000, 0).unwrap()
    }

    fn list(given: &[&str]) -> Result<ImageFilter, Status> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        ImageFilter::for_list(&given, now(), |name| match name {
            "old:1" => Ok(Utc.timestamp_opt(1_000, 0).single()),
            _ => Err(Status::not_found(format!("no such image: {name}"))),
        })
    }

    #[test]
    fn a_listing_takes_dockers_keys() {
        let tagged = image(2_000, &["busybox:latest", "team/app:1"], &[("tier", "web")]);
        let untagged = image(500, &[], &[]);
        let takes = |given: &[&str], image: &Image| list(given).unwrap().selects(image);
        assert!(takes(&["dangling=true"], &untagged));
        assert!(!takes(&["dangling=true"], &tagged));
        assert!(takes(&["dangling=false"], &tagged));
        assert!(takes(&["label=tier=web"], &tagged));
        assert!(!takes(&["label=tier=db"], &tagged));
        assert!(takes(&["before=old:1"], &untagged));
        assert!(!takes(&["before=old:1"], &tagged));
        assert!(takes(&["since=old:1"], &tagged));
        assert!(
            takes(&["until=9000s"], &untagged),
            "created 500, until 1000"
        );
        assert!(!takes(&["until=9000s"], &tagged));
        assert!(takes(&["reference=busy*"], &tagged));
        assert!(takes(&["reference=*/app:1"], &tagged));
        assert!(!takes(&["reference=*app"], &tagged), "* does not cross a /");
        assert!(!takes(&["reference=busy*"], &untagged));
    }

    #[test]
    fn only_the_names_a_reference_pattern_matches_are_named() {
        let filter = list(&["reference=busybox"]).unwrap();
        assert!(filter.names(&Reference::parse("busybox:latest").unwrap()));
        assert!(!filter.names(&Reference::parse("team/app:1").unwrap()));
        let all = list(&[]).unwrap();
        assert!(all.names(&Reference::parse("team/app:1").unwrap()));
    }

    #[test]
    fn bad_filters_are_refused_by_name() {
        let error = |given: &[&str]| list(given).unwrap_err().message().to_string();
        assert!(error(&["label!=x"]).starts_with("invalid filter 'label!': images takes"));
        assert!(error(&["dangling=yes"]).starts_with("invalid filter 'dangling=yes'"));
        assert!(error(&["reference=[a"]).starts_with("invalid filter 'reference=[a'"));
        assert_eq!(error(&["before=missing"]), "no such image: missing");
    }

    #[test]
    fn a_prune_takes_untagged_images_unless_all() {
        let given = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let tagged = image(2_000, &["busybox:latest"], &[("keep", "")]);
        let untagged = image(500, &[], &[]);
        let prune = |g: &[&str], all| ImageFilter::for_prune(&given(g), all, now()).unwrap();
        assert!(prune(&[], false).selects(&untagged));
        assert!(!prune(&[], false).selects(&tagged));
        assert!(prune(&[], true).selects(&tagged));
        assert!(!prune(&["label!=keep"], true).selects(&tagged));
        assert!(prune(&["label!=keep"], true).selects(&untagged));
        assert!(!prune(&["until=9000s"], true).selects(&tagged), "too new");
        assert!(prune(&["until=9000s"], true).selects(&untagged));
        assert!(prune(&["dangling=false"], false).selects(&tagged));
        let error = ImageFilter::for_prune(&given(&["reference=x"]), false, now()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid filter 'reference': image prune takes")
        );
    }
}
