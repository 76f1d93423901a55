//! What `--log-opt` sets for a container's json-file log beyond rotation:
//! `labels=`, `labels-regex=`, `env=`, `env-regex=` and `tag=` name the
//! attributes every line carries (Docker's `attrs`, which `logs --details`
//! shows), and `compress=` whether rotated files are gzip-compressed.

use std::collections::BTreeMap;

use regex::Regex;

use super::record::ContainerRecord;

/// The options json-file takes.
const OPTIONS: [&str; 8] = [
    "max-size",
    "max-file",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// Checks a container's `--log-opt`s before it is made: known keys,
/// `compress` a boolean, the patterns regular expressions.
pub fn check(config: &BTreeMap<String, String>) -> Result<(), String> {
    for key in config.keys() {
        if !OPTIONS.contains(&key.as_str()) {
            return Err(format!(
                "unknown log opt {key:?} for json-file: use {}",
                OPTIONS.join(", ")
            ));
        }
    }
    compress(config)?;
    for key in ["labels-regex", "env-regex"] {
        if let Some(pattern) = config.get(key) {
            Regex::new(pattern)
                .map_err(|e| format!("log opt {key} {pattern:?} is no regular expression: {e}"))?;
        }
    }
    Ok(())
}

/// `compress=true|false` (false when not given).
pub fn compress(config: &BTreeMap<String, String>) -> Result<bool, String> {
    match config.get("compress").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!("log opt compress {other:?}: use true or false")),
    }
}

/// The attributes every log line of `record` carries.
pub fn attrs(record: &ContainerRecord) -> Result<BTreeMap<String, String>, String> {
    let config = &record.spec.log_config.config;
    let env: BTreeMap<&str, &str> = record
        .settings
        .env
        .iter()
        .filter_map(|variable| variable.split_once('='))
        .collect();
    let labels: BTreeMap<&str, &str> = record
        .settings
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut attrs = BTreeMap::new();
    for (names, pattern, source) in [
        ("labels", "labels-regex", &labels),
        ("env", "env-regex", &env),
    ] {
        if let Some(names) = config.get(names) {
            for name in names.split(',').map(str::trim) {
                if let Some(value) = source.get(name) {
                    attrs.insert(name.to_string(), value.to_string());
                }
            }
        }
        if let Some(pattern) = config.get(pattern) {
            let pattern = Regex::new(pattern).map_err(|e| format!("log opt {pattern:?}: {e}"))?;
            for (name, value) in source.iter().filter(|(name, _)| pattern.is_match(name)) {
                attrs.insert(name.to_string(), value.to_string());
            }
        }
    }
    if let Some(template) = config.get("tag").filter(|t| !t.is_empty()) {
        attrs.insert("tag".to_string(), tag(template, record));
    }
    Ok(attrs)
}

/// Docker's log tag template: `{{.ID}}`, `{{.FullID}}`, `{{.Name}}`,
/// `{{.ImageID}}`, `{{.ImageFullID}}`, `{{.ImageName}}`, `{{.DaemonName}}`.
fn tag(template: &str, record: &ContainerRecord) -> String {
    let image = record.image_id.trim_start_matches("sha256:");
    [
        ("{{.ID}}", record.short_id()),
        ("{{.FullID}}", record.id.as_str()),
        ("{{.Name}}", record.name.as_str()),
        ("{{.ImageID}}", &image[..image.len().min(12)]),
        ("{{.ImageFullID}}", record.image_id.as_str()),
        ("{{.ImageName}}", record.spec.image.as_str()),
        ("{{.DaemonName}}", "hoist"),
    ]
    .iter()
    .fold(template.to_string(), |text, (field, value)| {
        text.replace(field, value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_by_name() {
        let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(
            check(&config(&[
                ("max-size", "1m"),
                ("labels", "a"),
                ("env-regex", "^A")
            ]))
            .is_ok()
        );
        assert!(
            check(&config(&[("colour", "red")]))
                .unwrap_err()
                .contains("unknown log opt \"colour\"")
        );
        assert!(
            check(&config(&[("compress", "yes")]))
                .unwrap_err()
                .contains("use true or false")
        );
        assert!(
            check(&config(&[("env-regex", "(")]))
                .unwrap_err()
                .contains("no regular expression")
        );
        assert_eq!(compress(&config(&[("compress", "true")])), Ok(true));
        assert_eq!(compress(&config(&[])), Ok(false));
    }
}
