//! Compose files as trees of [`Node`]s: YAML values (anchors and merge keys
//! already applied) that each remember the file, line and column they came
//! from, so every later step (interpolation, merging, validation) can say
//! where a wrong value was written.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};

use crate::error::LoadError;

/// Where a value was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The compose (or env) file.
    pub file: Arc<PathBuf>,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column; 0 when unknown.
    pub column: usize,
}

impl Origin {
    /// A place in `file`.
    pub fn new(file: Arc<PathBuf>, line: usize, column: usize) -> Self {
        Self { file, line, column }
    }

    /// The file itself, for values that have no place in it (defaults,
    /// values made by hoist).
    pub fn file(file: Arc<PathBuf>) -> Self {
        Self::new(file, 0, 0)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// The Compose-specific YAML tags that steer merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `!reset`: the value (and whatever earlier files said) is removed.
    Reset,
    /// `!override`: the value replaces what earlier files said instead of
    /// being merged with it.
    Override,
}

/// A YAML value whose children are [`Node`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false` (YAML 1.2 spellings only, as Compose reads them).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order it was written.
    Map(Map),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key was written.
    pub origin: Origin,
}

/// A mapping that keeps the order its keys were written in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    /// The entries.
    pub entries: Vec<(Key, Node)>,
}

impl Map {
    /// The node under `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node under `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The key entry named `key`.
    pub fn key(&self, key: &str) -> Option<&Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }

    /// Sets `key` to `value`: in place when present, else at the end.
    pub fn insert(&mut self, key: Key, value: Node) {
        match self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`; returns its node.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let index = self.entries.iter().position(|(k, _)| k.name == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.name.as_str())
    }

    /// Whether the mapping has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One value of a compose file with its origin and Compose tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub origin: Origin,
    /// `!reset` / `!override`, when written.
    pub tag: Option<Tag>,
}

impl Node {
    /// A node made by hoist (no tag).
    pub fn new(value: Value, origin: Origin) -> Self {
        Self {
            value,
            origin,
            tag: None,
        }
    }

    /// Parses one YAML document. An empty file is a null node.
    pub fn parse(file: &Path, text: &str) -> Result<Node, LoadError> {
        let options = serde_saphyr::options! {
            strict_booleans: true,
            leading_zero_numbers_as_strings: true,
        };
        let raw: Option<RawNode> = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| LoadError::yaml(file, &e.to_string()))?;
        let file = Arc::new(file.to_path_buf());
        Ok(match raw {
            Some(raw) => raw.into_node(&file)?,
            None => Node::new(Value::Null, Origin::new(file, 1, 1)),
        })
    }

    /// The mapping, when this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The mapping, to change it, when this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The sequence, when this is one.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The node under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|map| map.get(key))
    }

    /// A scalar as the text Compose uses for it (numbers and booleans as
    /// written by YAML 1.2); `None` for null, sequences and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// "a string", "a mapping", …: what this node is, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// The tree as JSON (for schema validation and `config --format json`).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(map) => serde_json::Value::Object(
                map.entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Node {
    /// The tree as YAML (`compose config`): keys sorted, strings that would
    /// read as another type quoted.
    pub fn to_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(&self.to_json()).map_err(|e| e.to_string())
    }
}

/// What serde-saphyr gives: values with spans and tags, before they are
/// tied to a file.
struct RawNode {
    value: RawValue,
    line: usize,
    column: usize,
    tag: Option<String>,
}

enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<RawNode>),
    Map(Vec<(Spanned<RawKey>, RawNode)>),
}

/// A mapping key: Compose keys are strings, but YAML lets people write
/// `80: …` or `true: …`; they are read as their text.
struct RawKey(String);

impl RawNode {
    fn into_node(self, file: &Arc<PathBuf>) -> Result<Node, LoadError> {
        let origin = Origin::new(file.clone(), self.line, self.column);
        let tag = match self.tag.as_deref() {
            None => None,
            Some("!reset") => Some(Tag::Reset),
            Some("!override") => Some(Tag::Override),
            // Core-schema tags (`!!str`, …) were applied by the parser.
            Some(t) if t.starts_with("!!") || t.starts_with("tag:yaml.org,2002:") => None,
            Some(other) => {
                return Err(LoadError::at(
                    origin,
                    None,
                    format!("unknown YAML tag {other}: Compose knows only !reset and !override"),
                ));
            }
        };
        let value = match self.value {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Int(i) => Value::Int(i),
            RawValue::Float(x) => Value::Float(x),
            RawValue::String(s) => Value::String(s),
            RawValue::Seq(items) => Value::Seq(
                items
                    .into_iter()
                    .map(|item| item.into_node(file))
                    .collect::<Result<_, _>>()?,
            ),
            RawValue::Map(entries) => {
                let mut map = Map::default();
                for (key, value) in entries {
                    let key = Key {
                        origin: Origin::new(
                            file.clone(),
                            key.referenced.line() as usize,
                            key.referenced.column() as usize,
                        ),
                        name: key.value.0,
                    };
                    map.insert(key, value.into_node(file)?);
                }
                Value::Map(map)
            }
        };
        Ok(Node { value, origin, tag })
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned: Spanned<Tagged<RawValue>> = Spanned::deserialize(deserializer)?;
        Ok(RawNode {
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
            tag: spanned.value.1,
            value: spanned.value.0,
        })
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawValueVisitor)
    }
}

struct RawValueVisitor;

impl<'de> Visitor<'de> for RawValueVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawValue, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E>(self, b: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<RawValue, E> {
        i64::try_from(u)
            .map(RawValue::Int)
            .or(Ok(RawValue::Float(u as f64)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<RawValue, E> {
        Ok(RawValue::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<RawValue, E> {
        Ok(RawValue::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawValue::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match RawValue::deserialize(deserializer)? {
            RawValue::String(s) => Ok(RawKey(s)),
            RawValue::Int(i) => Ok(RawKey(i.to_string())),
            RawValue::Float(x) => Ok(RawKey(x.to_string())),
            RawValue::Bool(b) => Ok(RawKey(b.to_string())),
            RawValue::Null => Ok(RawKey(String::new())),
            RawValue::Seq(_) | RawValue::Map(_) => Err(de::Error::custom(
                "a mapping key must be a string, not a sequence or mapping",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        Node::parse(Path::new("compose.yaml"), text).unwrap()
    }

    #[test]
    fn nodes_remember_where_they_were_written() {
        let root = parse("services:\n  web:\n    image: busybox\n    ports:\n      - \"80:80\"\n");
        let web = root.get("services").and_then(|s| s.get("web")).unwrap();
        let image = web.get("image").unwrap();
        assert_eq!(image.as_str(), Some("busybox"));
        assert_eq!((image.origin.line, image.origin.column), (3, 12));
        let port = &web.get("ports").unwrap().as_seq().unwrap()[0];
        assert_eq!(port.origin.to_string(), "compose.yaml:5:9");
        let key = web.as_map().unwrap().key("ports").unwrap();
        assert_eq!((key.origin.line, key.origin.column), (4, 5));
    }

    #[test]
    fn anchors_merge_keys_and_tags() {
        let root = parse(
            "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  a:\n    <<: *base\n    restart: \"no\"\n    command: !reset null\n    ports: !override [\"1:1\"]\n",
        );
        let a = root.get("services").and_then(|s| s.get("a")).unwrap();
        assert_eq!(a.get("image").and_then(Node::as_str), Some("busybox"));
        assert_eq!(a.get("restart").and_then(Node::as_str), Some("no"));
        assert_eq!(a.get("command").unwrap().tag, Some(Tag::Reset));
        assert_eq!(a.get("ports").unwrap().tag, Some(Tag::Override));
    }

    #[test]
    fn yaml_1_2_scalars() {
        let root = parse("a: yes\nb: on\nc: true\nd: 0755\ne: 1.5\nf: ~\ng: 80\n");
        let map = root.as_map().unwrap();
        assert_eq!(map.get("a").unwrap().value, Value::String("yes".into()));
        assert_eq!(map.get("b").unwrap().value, Value::String("on".into()));
        assert_eq!(map.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(map.get("d").unwrap().value, Value::String("0755".into()));
        assert_eq!(map.get("e").unwrap().value, Value::Float(1.5));
        assert_eq!(map.get("f").unwrap().value, Value::Null);
        assert_eq!(map.get("g").unwrap().value, Value::Int(80));
    }

    #[test]
    fn bad_yaml_names_the_file_and_place() {
        let err = Node::parse(Path::new("c.yaml"), "a: [1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("c.yaml") && text.contains("line 1"), "{text}");
        let err = Node::parse(Path::new("c.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
        let err = Node::parse(Path::new("c.yaml"), "a: !custom 1\n").unwrap_err();
        assert!(err.to_string().contains("c.yaml:1:12"), "{err}");
        assert_eq!(parse("").value, Value::Null);
    }
}
