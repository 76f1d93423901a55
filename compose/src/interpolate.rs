//! Variable interpolation, as Compose does it: `$VAR`, `${VAR}`, the
//! `:-` `-` `:?` `?` `:+` `+` modifiers (nested as deep as wanted) and `$$`
//! for a literal `$`, applied to every string value of a compose file.
//! Values at the paths Compose reads as numbers or booleans are then cast,
//! as compose-go's loader casts them.
//!
//! Mapping keys are not interpolated: the spec says interpolation "applies
//! only to YAML values, not to keys", and compose-go leaves them alone.

use crate::error::{LoadError, ModelPath, Segment};
use crate::node::{Node, Origin, Value};

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteError {
    /// A `${` without its `}`, or something in braces that is not a
    /// variable name with a modifier.
    #[error("invalid interpolation format: {template:?}; {ESCAPE_HINT}")]
    Invalid {
        /// The whole string being interpolated.
        template: String,
    },
    /// `${NAME:?reason}` or `${NAME?reason}` with `NAME` missing.
    #[error("required variable {name} is missing a value{}", reason_suffix(.reason))]
    MissingRequired {
        /// The variable.
        name: String,
        /// What the file says about it (itself interpolated), maybe empty.
        reason: String,
    },
}

const ESCAPE_HINT: &str = "you may need to escape any $ with another $";

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Replaces the variable references in `text` with their values from
/// `vars`. A variable `vars` does not know is empty, unless a modifier says
/// otherwise. A `$` not followed by `$`, `{` or a name is kept as it is.
pub fn substitute(
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstituteError> {
    Expander {
        template: text,
        vars,
    }
    .expand(text)
}

/// Interpolates every string value under `root` (sequence items and
/// mapping values, not mapping keys) with `vars`, then casts the strings at
/// the paths Compose reads as integers, numbers or booleans.
pub fn interpolate(
    root: &mut Node,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LoadError> {
    walk(root, &ModelPath::root(), vars)
}

fn walk(
    node: &mut Node,
    path: &ModelPath,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<(), LoadError> {
    match &mut node.value {
        Value::String(text) => {
            let text =
                substitute(text, vars).map_err(|e| interpolation_error(&node.origin, path, e))?;
            node.value = cast(path, text)
                .map_err(|message| LoadError::at(node.origin.clone(), Some(path), message))?;
        }
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(index), vars)?;
            }
        }
        Value::Map(map) => {
            for (key, value) in &mut map.entries {
                walk(value, &path.key(&key.name), vars)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
    }
    Ok(())
}

fn interpolation_error(origin: &Origin, path: &ModelPath, error: SubstituteError) -> LoadError {
    let message = match error {
        SubstituteError::Invalid { template } => {
            format!("invalid interpolation format {template:?}; {ESCAPE_HINT}")
        }
        missing @ SubstituteError::MissingRequired { .. } => missing.to_string(),
    };
    LoadError::at(origin.clone(), Some(path), message)
}

/// Expands references, reporting invalid syntax against the whole
/// `template` even when it is found in a nested default.
struct Expander<'a> {
    template: &'a str,
    vars: &'a dyn Fn(&str) -> Option<String>,
}

impl Expander<'_> {
    fn expand(&self, text: &str) -> Result<String, SubstituteError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            rest = self.reference(&rest[dollar + 1..], &mut out)?;
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Expands the reference whose `$` comes just before `after` onto
    /// `out`; returns the text that follows it.
    fn reference<'t>(&self, after: &'t str, out: &mut String) -> Result<&'t str, SubstituteError> {
        if let Some(rest) = after.strip_prefix('$') {
            out.push('$');
            return Ok(rest);
        }
        if let Some(inner) = after.strip_prefix('{') {
            let (body, rest) = split_braced(inner).ok_or_else(|| self.invalid())?;
            out.push_str(&self.braced(body)?);
            return Ok(rest);
        }
        let (name, rest) = after.split_at(name_len(after));
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(&(self.vars)(name).unwrap_or_default());
        }
        Ok(rest)
    }

    /// The value of `NAME`, `NAME:-default`, `NAME?reason`, … (what was
    /// between the braces).
    fn braced(&self, body: &str) -> Result<String, SubstituteError> {
        let (name, modifier) = body.split_at(name_len(body));
        if name.is_empty() {
            return Err(self.invalid());
        }
        let value = (self.vars)(name);
        if modifier.is_empty() {
            return Ok(value.unwrap_or_default());
        }
        let (unset_if_empty, modifier) = match modifier.strip_prefix(':') {
            Some(modifier) => (true, modifier),
            None => (false, modifier),
        };
        let mut chars = modifier.chars();
        let operator = chars.next();
        let argument = chars.as_str();
        let set = value.filter(|v| !(unset_if_empty && v.is_empty()));
        match (operator, set) {
            (Some('-'), Some(value)) | (Some('?'), Some(value)) => Ok(value),
            (Some('-'), None) | (Some('+'), Some(_)) => self.expand(argument),
            (Some('+'), None) => Ok(String::new()),
            (Some('?'), None) => Err(SubstituteError::MissingRequired {
                name: name.to_string(),
                reason: self.expand(argument)?,
            }),
            _ => Err(self.invalid()),
        }
    }

    fn invalid(&self) -> SubstituteError {
        SubstituteError::Invalid {
            template: self.template.to_string(),
        }
    }
}

/// Splits the text after `${` at its closing brace (braces in between
/// nest); `None` when it has none on the same line.
fn split_braced(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some((&text[..index], &text[index + 1..])),
            b'}' => depth -= 1,
            b'\n' => return None,
            _ => {}
        }
    }
    None
}

/// The length of the variable name `text` starts with
/// (`[_a-zA-Z][_a-zA-Z0-9]*`), 0 when it starts with none.
fn name_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => bytes
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count(),
        _ => 0,
    }
}

/// What a string at a typed path becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// The paths compose-go's loader casts after interpolation
/// (`interpolateTypeCastMapping`): `*` is any key or index, `[]` any
/// sequence index.
const CASTS: &[(&str, Cast)] = &[
    ("services.*.configs.[].mode", Cast::Int),
    ("services.*.cpu_count", Cast::Int),
    ("services.*.cpu_percent", Cast::Float),
    ("services.*.cpu_period", Cast::Int),
    ("services.*.cpu_quota", Cast::Int),
    ("services.*.cpu_rt_period", Cast::Int),
    ("services.*.cpu_rt_runtime", Cast::Int),
    ("services.*.cpus", Cast::Float),
    ("services.*.cpu_shares", Cast::Int),
    ("services.*.init", Cast::Bool),
    ("services.*.depends_on.*.required", Cast::Bool),
    ("services.*.depends_on.*.restart", Cast::Bool),
    ("services.*.deploy.replicas", Cast::Int),
    ("services.*.deploy.update_config.parallelism", Cast::Int),
    (
        "services.*.deploy.update_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.rollback_config.parallelism", Cast::Int),
    (
        "services.*.deploy.rollback_config.max_failure_ratio",
        Cast::Float,
    ),
    ("services.*.deploy.restart_policy.max_attempts", Cast::Int),
    (
        "services.*.deploy.placement.max_replicas_per_node",
        Cast::Int,
    ),
    ("services.*.healthcheck.retries", Cast::Int),
    ("services.*.healthcheck.disable", Cast::Bool),
    ("services.*.oom_kill_disable", Cast::Bool),
    ("services.*.oom_score_adj", Cast::Int),
    ("services.*.pids_limit", Cast::Int),
    ("services.*.ports.[].target", Cast::Int),
    ("services.*.privileged", Cast::Bool),
    ("services.*.read_only", Cast::Bool),
    ("services.*.scale", Cast::Int),
    ("services.*.secrets.[].mode", Cast::Int),
    ("services.*.stdin_open", Cast::Bool),
    ("services.*.tty", Cast::Bool),
    ("services.*.ulimits.*", Cast::Int),
    ("services.*.ulimits.*.hard", Cast::Int),
    ("services.*.ulimits.*.soft", Cast::Int),
    ("services.*.volumes.[].read_only", Cast::Bool),
    ("services.*.volumes.[].volume.nocopy", Cast::Bool),
    ("networks.*.external", Cast::Bool),
    ("networks.*.internal", Cast::Bool),
    ("networks.*.attachable", Cast::Bool),
    ("networks.*.enable_ipv4", Cast::Bool),
    ("networks.*.enable_ipv6", Cast::Bool),
    ("volumes.*.external", Cast::Bool),
    ("secrets.*.external", Cast::Bool),
    ("configs.*.external", Cast::Bool),
];

/// `text` as the value its path holds: cast when the path is typed, else
/// the string; the message says what was expected.
fn cast(path: &ModelPath, text: String) -> Result<Value, String> {
    let Some(cast) = CASTS
        .iter()
        .find(|(pattern, _)| path_matches(pattern, path))
        .map(|(_, cast)| *cast)
    else {
        return Ok(Value::String(text));
    };
    let value = match cast {
        Cast::Int => parse_int(&text).map(Value::Int),
        Cast::Float => text
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Value::Float),
        Cast::Bool => parse_bool(&text).map(Value::Bool),
    };
    value.ok_or_else(|| format!("expected {}, got {text:?}", cast.expected()))
}

impl Cast {
    fn expected(self) -> &'static str {
        match self {
            Cast::Int => "an integer",
            Cast::Float => "a number",
            Cast::Bool => "a boolean (true or false)",
        }
    }
}

fn path_matches(pattern: &str, path: &ModelPath) -> bool {
    let segments = path.segments();
    pattern.split('.').count() == segments.len()
        && pattern
            .split('.')
            .zip(segments)
            .all(|(part, segment)| match (part, segment) {
                ("*", _) => true,
                ("[]", segment) => matches!(segment, Segment::Index(_)),
                (part, Segment::Key(key)) => part == key,
                (_, Segment::Index(_)) => false,
            })
}

/// A decimal integer, or an octal one when written with a leading zero:
/// the compose parser keeps YAML's unquoted `0440` as that string, and
/// compose-go (whose YAML parser reads it as octal) gets 288 from it.
fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let octal = digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if octal {
        i64::from_str_radix(text, 8).ok()
    } else {
        text.parse().ok()
    }
}

/// compose-go's `toBoolean`: YAML 1.1's spellings, in any case.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" => Some(true),
        "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("first".into()),
            "BAR" => Some(String::new()),
            "REPLICAS" => Some("3".into()),
            "YES" => Some("yes".into()),
            _ => None,
        }
    }

    fn sub(text: &str) -> Result<String, SubstituteError> {
        substitute(text, &vars)
    }

    fn ok(text: &str) -> String {
        sub(text).unwrap()
    }

    fn missing(text: &str) -> String {
        match sub(text) {
            Err(e @ SubstituteError::MissingRequired { .. }) => e.to_string(),
            other => panic!("{text}: expected a missing-variable error, got {other:?}"),
        }
    }

    #[test]
    fn plain_and_braced_references() {
        assert_eq!(ok("no variables"), "no variables");
        assert_eq!(ok("This $FOO var"), "This first var");
        assert_eq!(ok("This ${FOO} var"), "This first var");
        assert_eq!(ok("$FOO$FOO ${FOO}${FOO}"), "firstfirst firstfirst");
        assert_eq!(ok("$FOO-bar"), "first-bar");
        assert_eq!(ok("$FOO_bar"), "");
        assert_eq!(ok("é ${FOO} ü"), "é first ü");
    }

    #[test]
    fn unknown_and_empty_variables_are_blank() {
        assert_eq!(ok("This ${missing} var"), "This  var");
        assert_eq!(ok("This ${BAR} var"), "This  var");
        assert_eq!(ok("This $missing var"), "This  var");
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(ok("$${foo}"), "${foo}");
        assert_eq!(ok("$$FOO"), "$FOO");
        assert_eq!(ok("$$$FOO"), "$first");
        assert_eq!(ok("a$$"), "a$");
    }

    #[test]
    fn a_dollar_before_no_name_is_kept() {
        assert_eq!(ok("cost: 5$"), "cost: 5$");
        assert_eq!(ok("$1 and $ and $}"), "$1 and $ and $}");
        assert_eq!(ok("$-x"), "$-x");
    }

    #[test]
    fn defaults() {
        assert_eq!(ok("ok ${missing:-def}"), "ok def");
        assert_eq!(ok("ok ${missing-def}"), "ok def");
        assert_eq!(ok("ok ${BAR:-def}"), "ok def");
        assert_eq!(ok("ok ${BAR-def}"), "ok ");
        assert_eq!(ok("ok ${FOO:-def}"), "ok first");
        assert_eq!(ok("ok ${FOO-def}"), "ok first");
        assert_eq!(ok("ok ${BAR:-/non:-alphanumeric}"), "ok /non:-alphanumeric");
        assert_eq!(ok("${missing:-}"), "");
        assert_eq!(ok("${missing:-a b c}"), "a b c");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(ok("ok ${UNSET-$FOO}"), "ok first");
        assert_eq!(ok("ok ${UNSET-${FOO}}"), "ok first");
        assert_eq!(ok("ok ${UNSET-${FOO} ${FOO}}"), "ok first first");
        assert_eq!(ok("ok ${BAR:-${FOO}}"), "ok first");
        assert_eq!(ok("${A:-${B:-c}}"), "c");
        assert_eq!(ok("${A:-${B:-${FOO}}}!"), "first!");
        assert_eq!(ok("${A:-x}${B:-y}"), "xy");
        assert_eq!(ok("${A:-x}b}"), "xb}");
        assert_eq!(ok("${A:-$${B}}"), "${B}");
        assert_eq!(ok("${A:-{braces}}"), "{braces}");
    }

    #[test]
    fn defaults_are_only_expanded_when_used() {
        assert_eq!(ok("${FOO:-${MISSING:?never}}"), "first");
        assert_eq!(ok("${missing:+${MISSING:?never}}"), "");
    }

    #[test]
    fn alternatives() {
        assert_eq!(ok("${FOO:+alt}"), "alt");
        assert_eq!(ok("${FOO+alt}"), "alt");
        assert_eq!(ok("${BAR:+alt}"), "");
        assert_eq!(ok("${BAR+alt}"), "alt");
        assert_eq!(ok("${missing:+alt}"), "");
        assert_eq!(ok("${missing+alt}"), "");
        assert_eq!(ok("${FOO:+-${FOO}-}"), "-first-");
    }

    #[test]
    fn required_variables() {
        assert_eq!(ok("ok ${FOO:?err}"), "ok first");
        assert_eq!(ok("ok ${FOO?err}"), "ok first");
        assert_eq!(ok("ok ${BAR?err}"), "ok ");
        assert_eq!(
            missing("not ok ${UNSET:?Mandatory Variable Unset}"),
            "required variable UNSET is missing a value: Mandatory Variable Unset"
        );
        assert_eq!(
            missing("not ok ${BAR:?Mandatory Variable Empty}"),
            "required variable BAR is missing a value: Mandatory Variable Empty"
        );
        assert_eq!(
            missing("${UNSET:?}"),
            "required variable UNSET is missing a value"
        );
        assert_eq!(
            missing("${UNSET?}"),
            "required variable UNSET is missing a value"
        );
        assert_eq!(
            missing("${UNSET?Mandatory ${FOO}}"),
            "required variable UNSET is missing a value: Mandatory first"
        );
    }

    #[test]
    fn the_first_modifier_wins() {
        assert_eq!(
            missing("${UNSET?bar-baz}"),
            "required variable UNSET is missing a value: bar-baz"
        );
        assert_eq!(ok("${UNSET-myerror?msg}"), "myerror?msg");
        assert_eq!(ok("${FOO?bar-baz}"), "first");
        assert_eq!(ok("${UNSET:-a:?b}"), "a:?b");
    }

    #[test]
    fn invalid_templates() {
        for template in [
            "${",
            "${}",
            "${ }",
            "${ foo}",
            "${foo }",
            "${foo!}",
            "${foo:x}",
            "${foo:}",
            "${1abc}",
            "${FOO",
            "x ${FOO:-${BAR}",
            "${FOO:-a\nb}",
            "${MISSING:-${}}",
        ] {
            assert_eq!(
                sub(template),
                Err(SubstituteError::Invalid {
                    template: template.to_string()
                }),
                "{template:?}"
            );
        }
        assert_eq!(
            sub("${").unwrap_err().to_string(),
            "invalid interpolation format: \"${\"; you may need to escape any $ with another $"
        );
    }

    fn interpolated(yaml: &str) -> Result<Node, LoadError> {
        let mut root = Node::parse(Path::new("compose.yaml"), yaml).unwrap();
        interpolate(&mut root, &vars).map(|()| root)
    }

    fn at<'a>(root: &'a Node, path: &[&str]) -> &'a Node {
        path.iter()
            .fold(root, |node, step| match step.parse::<usize>() {
                Ok(index) => &node.as_seq().unwrap()[index],
                Err(_) => node.get(step).unwrap(),
            })
    }

    #[test]
    fn interpolates_values_in_mappings_and_sequences() {
        let root = interpolated(
            "services:\n  web:\n    image: \"busybox:${TAG:-latest}\"\n    command: [echo, $FOO, \"$$HOME\"]\n    environment:\n      A: ${FOO}\n      B: [\"x-${FOO}\"]\n    labels:\n      $FOO: ${FOO}\n",
        )
        .unwrap();
        let web = at(&root, &["services", "web"]);
        assert_eq!(at(web, &["image"]).as_str(), Some("busybox:latest"));
        let command: Vec<_> = at(web, &["command"])
            .as_seq()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(command, ["echo", "first", "$HOME"]);
        assert_eq!(at(web, &["environment", "A"]).as_str(), Some("first"));
        assert_eq!(
            at(web, &["environment", "B", "0"]).as_str(),
            Some("x-first")
        );
        let labels = at(web, &["labels"]).as_map().unwrap();
        assert_eq!(labels.keys().collect::<Vec<_>>(), ["$FOO"]);
        assert_eq!(labels.get("$FOO").and_then(Node::as_str), Some("first"));
    }

    #[test]
    fn keeps_origins_tags_and_non_strings() {
        let root = interpolated(
            "services:\n  web:\n    image: $FOO\n    command: !override [\"$FOO\"]\n    x-n: 80\n    x-b: true\n    x-null: ~\n    environment:\n      PORT: \"80\"\n",
        )
        .unwrap();
        let web = at(&root, &["services", "web"]);
        let image = at(web, &["image"]);
        assert_eq!((image.origin.line, image.origin.column), (3, 12));
        assert_eq!(at(web, &["command"]).tag, Some(crate::node::Tag::Override));
        assert_eq!(at(web, &["x-n"]).value, Value::Int(80));
        assert_eq!(at(web, &["x-b"]).value, Value::Bool(true));
        assert_eq!(at(web, &["x-null"]).value, Value::Null);
        assert_eq!(
            at(web, &["environment", "PORT"]).value,
            Value::String("80".into())
        );
    }

    #[test]
    fn a_missing_required_variable_names_the_place() {
        let err = interpolated("services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:3:12: services.web.image: required variable IMAGE is missing a value: set IMAGE"
        );
        let err = interpolated("services:\n  web:\n    ports:\n      - \"${P:?}\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:9: services.web.ports[0]: required variable P is missing a value"
        );
    }

    #[test]
    fn invalid_syntax_names_the_place() {
        let err = interpolated("services:\n  web:\n    image: \"${\"\n").unwrap_err();
        assert_eq!(
            err.path.as_ref().map(ToString::to_string).as_deref(),
            Some("services.web.image")
        );
        assert_eq!(
            err.message,
            "invalid interpolation format \"${\"; you may need to escape any $ with another $"
        );
        assert_eq!((err.origin.line, err.origin.column), (3, 12));
    }

    #[test]
    fn casts_typed_paths() {
        let root = interpolated(concat!(
            "services:\n  web:\n",
            "    deploy:\n      replicas: ${REPLICAS}\n",
            "      restart_policy: {max_attempts: \"5\"}\n",
            "      update_config: {max_failure_ratio: \"0.5\"}\n",
            "    privileged: ${YES}\n    read_only: \"OFF\"\n    tty: \"True\"\n    init: n\n",
            "    cpus: \"1.5\"\n    pids_limit: \"-1\"\n",
            "    ports:\n      - target: \"${PORT:-80}\"\n        published: \"8080\"\n",
            "    healthcheck: {retries: \"3\", disable: \"false\"}\n",
            "    ulimits:\n      nproc: \"65535\"\n      nofile: {soft: \"20000\", hard: \"40000\"}\n",
            "    configs:\n      - source: c\n        mode: 0440\n",
            "    volumes:\n      - type: volume\n        source: v\n        target: /v\n        read_only: \"yes\"\n        volume: {nocopy: \"on\"}\n",
            "    depends_on:\n      db: {condition: service_started, required: \"false\"}\n",
            "    environment:\n      REPLICAS: ${REPLICAS}\n",
            "networks:\n  n:\n    external: \"true\"\n    enable_ipv6: \"no\"\n",
            "volumes:\n  v:\n    external: \"${YES}\"\n",
        ))
        .unwrap();
        let web = at(&root, &["services", "web"]);
        let expect = [
            (vec!["deploy", "replicas"], Value::Int(3)),
            (
                vec!["deploy", "restart_policy", "max_attempts"],
                Value::Int(5),
            ),
            (
                vec!["deploy", "update_config", "max_failure_ratio"],
                Value::Float(0.5),
            ),
            (vec!["privileged"], Value::Bool(true)),
            (vec!["read_only"], Value::Bool(false)),
            (vec!["tty"], Value::Bool(true)),
            (vec!["init"], Value::Bool(false)),
            (vec!["cpus"], Value::Float(1.5)),
            (vec!["pids_limit"], Value::Int(-1)),
            (vec!["ports", "0", "target"], Value::Int(80)),
            (
                vec!["ports", "0", "published"],
                Value::String("8080".into()),
            ),
            (vec!["healthcheck", "retries"], Value::Int(3)),
            (vec!["healthcheck", "disable"], Value::Bool(false)),
            (vec!["ulimits", "nproc"], Value::Int(65535)),
            (vec!["ulimits", "nofile", "soft"], Value::Int(20000)),
            (vec!["ulimits", "nofile", "hard"], Value::Int(40000)),
            (vec!["configs", "0", "mode"], Value::Int(0o440)),
            (vec!["volumes", "0", "read_only"], Value::Bool(true)),
            (vec!["volumes", "0", "volume", "nocopy"], Value::Bool(true)),
            (vec!["depends_on", "db", "required"], Value::Bool(false)),
            (vec!["environment", "REPLICAS"], Value::String("3".into())),
        ];
        for (path, value) in expect {
            assert_eq!(at(web, &path).value, value, "{path:?}");
        }
        assert_eq!(
            at(&root, &["networks", "n", "external"]).value,
            Value::Bool(true)
        );
        assert_eq!(
            at(&root, &["networks", "n", "enable_ipv6"]).value,
            Value::Bool(false)
        );
        assert_eq!(
            at(&root, &["volumes", "v", "external"]).value,
            Value::Bool(true)
        );
    }

    #[test]
    fn a_value_that_cannot_be_cast_names_the_path() {
        let err =
            interpolated("services:\n  web:\n    deploy:\n      replicas: three\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:4:17: services.web.deploy.replicas: expected an integer, got \"three\""
        );
        let err = interpolated("services:\n  web:\n    privileged: \"${FOO}\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:3:17: services.web.privileged: expected a boolean (true or false), got \"first\""
        );
        let err = interpolated("services:\n  web:\n    cpus: lots\n").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("services.web.cpus: expected a number, got \"lots\""),
            "{err}"
        );
        let err =
            interpolated("services:\n  web:\n    deploy:\n      replicas: \"\"\n").unwrap_err();
        assert!(
            err.to_string().ends_with("expected an integer, got \"\""),
            "{err}"
        );
    }

    #[test]
    fn integers_with_a_leading_zero_are_octal() {
        assert_eq!(parse_int("0440"), Some(288));
        assert_eq!(parse_int("-010"), Some(-8));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("08"), Some(8));
        assert_eq!(parse_int("+12"), Some(12));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int(" 1"), None);
    }

    #[test]
    fn patterns_match_whole_paths() {
        let replicas = ModelPath::root()
            .key("services")
            .key("web")
            .key("deploy")
            .key("replicas");
        assert!(path_matches("services.*.deploy.replicas", &replicas));
        assert!(!path_matches("services.*.deploy", &replicas));
        let target = ModelPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .index(2)
            .key("target");
        assert!(path_matches("services.*.ports.[].target", &target));
        let keyed = ModelPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .key("[]")
            .key("target");
        assert!(!path_matches("services.*.ports.[].target", &keyed));
    }
}
