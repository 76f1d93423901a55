//! Validation of a loaded project (interpolated, merged) against the
//! Compose specification's own JSON schema (`compose/schema/`), as the
//! reference implementation does. The schema's verdicts are turned into
//! one plain sentence at the file, line and column of the value, with its
//! path in the model: unknown keys (except `x-` extensions), wrong types,
//! values outside an enumeration, missing required keys.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{JsonType, ValidationError, Validator};

use crate::error::{LoadError, ModelPath};
use crate::node::{Node, Origin};

/// The schema, as published.
const SCHEMA: &str = include_str!("../schema/compose-spec.json");

/// The compiled schema (compiled once per process).
fn validator() -> Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema = schema_document().ok_or("it is not valid JSON")?;
            jsonschema::draft7::options()
                .should_validate_formats(false)
                .build(schema)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Checks `root` (a whole project) against the schema; the error is the
/// first problem in document order.
pub fn validate(root: &Node) -> Result<(), LoadError> {
    let validator = validator().map_err(|e| {
        LoadError::at(
            root.origin.clone(),
            None,
            format!("hoist's copy of the Compose schema does not compile: {e}"),
        )
    })?;
    let instance = root.to_json();
    let mut problems: Vec<LoadError> = validator
        .iter_errors(&instance)
        .map(|error| describe(root, &error))
        .collect();
    problems.sort_by(|a, b| {
        (a.origin.file.as_path(), a.origin.line, a.origin.column).cmp(&(
            b.origin.file.as_path(),
            b.origin.line,
            b.origin.column,
        ))
    });
    match problems.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// The node an error is about, its path and the best origin to show.
struct Target<'a> {
    node: &'a Node,
    path: ModelPath,
    origin: Origin,
}

/// Follows an error's instance path through the tree.
fn target<'a>(root: &'a Node, error: &ValidationError<'_>) -> Target<'a> {
    let mut node = root;
    let mut path = ModelPath::root();
    for segment in error.instance_path().segments() {
        let next = match &segment {
            LocationSegment::Property(name) => {
                path = path.key(name);
                node.get(name)
            }
            LocationSegment::Index(index) => {
                path = path.index(*index);
                node.as_seq().and_then(|items| items.get(*index))
            }
        };
        match next {
            Some(child) => node = child,
            None => break,
        }
    }
    Target {
        origin: node.origin.clone(),
        node,
        path,
    }
}

/// One schema verdict as a located, plain sentence.
fn describe(root: &Node, error: &ValidationError<'_>) -> LoadError {
    let target = target(root, error);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let name = unexpected.first().map(String::as_str).unwrap_or_default();
            let origin = target
                .node
                .as_map()
                .and_then(|map| map.key(name))
                .map_or(target.origin.clone(), |key| key.origin.clone());
            let place = if target.path.is_root() {
                "at the top level".to_string()
            } else {
                format!("in {}", target.path)
            };
            let hint = match suggestion(error.schema_path().as_str(), name) {
                Some(known) => format!(
                    "did you mean {known:?}? Or name it \"x-{name}\" to keep it as an extension"
                ),
                None => format!(
                    "check its spelling, or name it \"x-{name}\" to keep it as an extension"
                ),
            };
            LoadError::at(
                origin,
                Some(&target.path.key(name)),
                format!("{name:?} is not a Compose key {place}: {hint}"),
            )
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            match type_union(context) {
                Some(types) => located(
                    &target,
                    format!("expected {types}, got {}", shown(target.node)),
                ),
                None => match deepest(context) {
                    Some(inner) => describe(root, inner),
                    None => located(
                        &target,
                        format!("{} is not a valid form here", shown(target.node)),
                    ),
                },
            }
        }
        kind => located(&target, sentence(kind, target.node)),
    }
}

/// The key the author probably meant by `unexpected`: one the schema
/// allows at that place (the object whose `additionalProperties` refused
/// it, found by following `schema_path`) spelled nearly the same.
fn suggestion(schema_path: &str, unexpected: &str) -> Option<String> {
    let schema = schema_document()?;
    let segments: Vec<String> = schema_path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (_, parents) = segments.split_last()?;
    let mut node = schema;
    for segment in parents {
        node = if segment == "$ref" {
            let reference = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            schema.pointer(reference)?
        } else {
            match node {
                serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => node.get(segment)?,
            }
        };
    }
    let limit = (unexpected.len() / 3).max(1);
    node.get("properties")?
        .as_object()?
        .keys()
        .map(|known| (strsim::damerau_levenshtein(unexpected, known), known))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, known)| known.clone())
}

/// The schema as JSON (parsed once per process).
fn schema_document() -> Option<&'static serde_json::Value> {
    static DOCUMENT: OnceLock<Option<serde_json::Value>> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| serde_json::from_str(SCHEMA).ok())
        .as_ref()
}

/// A problem at the target's place.
fn located(target: &Target<'_>, message: String) -> LoadError {
    LoadError::at(target.origin.clone(), Some(&target.path), message)
}

/// The sentence for one simple schema keyword.
fn sentence(kind: &ValidationErrorKind, node: &Node) -> String {
    match kind {
        ValidationErrorKind::Type { kind } => {
            format!("expected {}, got {}", type_words(kind), shown(node))
        }
        ValidationErrorKind::Required { property } => {
            format!("{} is required here but missing", plain(property))
        }
        ValidationErrorKind::Enum { options } => format!(
            "{} is not one of the allowed values: {}",
            shown(node),
            options
                .as_array()
                .map(|values| values.iter().map(plain).collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|| options.to_string())
        ),
        ValidationErrorKind::Constant { expected_value } => {
            format!("expected {}, got {}", plain(expected_value), shown(node))
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!(
                "{} does not have the form this key needs ({pattern})",
                shown(node)
            )
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be more than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::MinItems { limit } => format!("needs at least {limit} item(s)"),
        ValidationErrorKind::MaxItems { limit } => format!("takes at most {limit} item(s)"),
        ValidationErrorKind::MinLength { limit } => {
            format!("must be at least {limit} character(s) long")
        }
        ValidationErrorKind::MinProperties { limit } => format!("needs at least {limit} key(s)"),
        ValidationErrorKind::UniqueItems => "lists the same item more than once".to_string(),
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            "could be read in more than one way; use the long syntax".to_string()
        }
        ValidationErrorKind::Not { .. } | ValidationErrorKind::FalseSchema => {
            "is not allowed here".to_string()
        }
        other => format!("is not valid here ({})", other.keyword()),
    }
}

/// When every alternative failed only on its type at the same place:
/// the types they wanted, as words ("a string or a mapping").
fn type_union(context: &[Vec<ValidationError<'static>>]) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut place = None;
    for branch in context {
        let [only] = branch.as_slice() else {
            return None;
        };
        let ValidationErrorKind::Type { kind } = only.kind() else {
            return None;
        };
        let here = only.instance_path().as_str().to_string();
        if place.get_or_insert_with(|| here.clone()) != &here {
            return None;
        }
        for word in type_list(kind) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
    }
    (!words.is_empty()).then(|| or_list(&words))
}

/// The error of the alternative that got furthest into the value (the one
/// the user most likely meant).
fn deepest<'e>(
    context: &'e [Vec<ValidationError<'static>>],
) -> Option<&'e ValidationError<'static>> {
    context
        .iter()
        .filter_map(|branch| branch.first())
        .max_by_key(|error| error.instance_path().segments().count())
}

fn type_words(kind: &TypeKind) -> String {
    or_list(&type_list(kind))
}

fn type_list(kind: &TypeKind) -> Vec<String> {
    match kind {
        TypeKind::Single(single) => vec![type_word(*single).to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| type_word(t).to_string()).collect(),
    }
}

fn type_word(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Null => "null",
        JsonType::Boolean => "a boolean (true or false)",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "a sequence",
        JsonType::Object => "a mapping",
    }
}

/// "a, b or c".
fn or_list(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A node for a message: scalars as written, others by kind.
fn shown(node: &Node) -> String {
    match node.scalar_text() {
        Some(text) => format!("{} {text:?}", node.kind()),
        None => node.kind().to_string(),
    }
}

/// A JSON value without quotes around strings.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn check(text: &str) -> Result<(), LoadError> {
        validate(&Node::parse(Path::new("compose.yaml"), text).unwrap())
    }

    #[test]
    fn a_valid_project_passes() {
        check(
            "services:\n  web:\n    image: busybox\n    ports: [\"80:80\", {target: 90}]\n    x-mine: 1\nx-top: {a: 1}\nvolumes:\n  data: {}\n",
        )
        .unwrap();
    }

    #[test]
    fn unknown_keys_are_named_where_they_were_written() {
        let err = check("services:\n  web:\n    image: busybox\n    imgae: x\n").unwrap_err();
        assert_eq!(err.origin.to_string(), "compose.yaml:4:5");
        assert_eq!(
            err.path.as_ref().map(ToString::to_string).as_deref(),
            Some("services.web.imgae")
        );
        assert!(
            err.to_string()
                .contains("\"imgae\" is not a Compose key in services.web"),
            "{err}"
        );
        let err = check("servics: {}\n").unwrap_err();
        assert!(err.to_string().contains("at the top level"), "{err}");
    }

    #[test]
    fn misspelt_keys_get_the_nearest_real_one() {
        for (text, expected) in [
            (
                "services:\n  web:\n    imgae: x\n",
                "did you mean \"image\"?",
            ),
            ("servics: {}\n", "did you mean \"services\"?"),
            (
                "services:\n  web:\n    image: x\n    healthcheck: {intervall: 1s}\n",
                "did you mean \"interval\"?",
            ),
            (
                "services:\n  web:\n    image: x\n    deploy: {resources: {limits: {memroy: 1m}}}\n",
                "did you mean \"memory\"?",
            ),
        ] {
            let err = check(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let far = check("services:\n  web:\n    image: x\n    completely_else: 1\n").unwrap_err();
        assert!(!far.to_string().contains("did you mean"), "{far}");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let err = check("services:\n  web:\n    image: busybox\n    cap_add: ALL\n").unwrap_err();
        assert_eq!(err.origin.to_string(), "compose.yaml:4:14");
        assert!(
            err.to_string()
                .contains("services.web.cap_add: expected a sequence, got a string \"ALL\""),
            "{err}"
        );
        let err =
            check("services:\n  web:\n    image: busybox\n    ports:\n      - 80\n      - [1]\n")
                .unwrap_err();
        assert_eq!(
            err.path.as_ref().map(ToString::to_string).as_deref(),
            Some("services.web.ports[1]")
        );
        assert!(err.to_string().contains("got a sequence"), "{err}");
    }

    #[test]
    fn enumerations_list_their_values() {
        let err = check(
            "services:\n  web:\n    image: busybox\n    depends_on:\n      db: {condition: service_ready}\n  db: {image: busybox}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.path.as_ref().map(ToString::to_string).as_deref(),
            Some("services.web.depends_on.db.condition")
        );
        assert!(
            err.to_string().contains(
                "a string \"service_ready\" is not one of the allowed values: service_started, service_healthy, service_completed_successfully"
            ),
            "{err}"
        );
    }
}
