//! Swarm's placement constraints: `node.labels.zone==a`,
//! `node.role!=manager`, … parsed once and matched against nodes. Values
//! compare without regard to case, as in Swarm; a label a node lacks never
//! equals anything (so `!=` holds).

use std::fmt;

use crate::store::objects::Node;

/// What a constraint looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attribute {
    Id,
    Hostname,
    Role,
    Os,
    Arch,
    NodeLabel(String),
    EngineLabel(String),
}

/// One parsed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    attribute: Attribute,
    equal: bool,
    value: String,
    text: String,
}

/// Why a constraint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid constraint {text:?}: {why}")]
pub struct ConstraintError {
    /// The constraint as written.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

impl Constraint {
    /// Parses `KEY==VALUE` or `KEY!=VALUE`.
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let bad = |why: &str| ConstraintError {
            text: text.to_string(),
            why: why.to_string(),
        };
        let (key, equal, value) = if let Some((key, value)) = text.split_once("!=") {
            (key, false, value)
        } else if let Some((key, value)) = text.split_once("==") {
            (key, true, value)
        } else {
            return Err(bad("use KEY==VALUE or KEY!=VALUE"));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() || value.contains(char::is_whitespace) || value.contains('=') {
            return Err(bad("the value must be one word"));
        }
        let label = |prefix: &str| {
            key.strip_prefix(prefix)
                .filter(|name| {
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
                })
                .map(str::to_string)
        };
        let attribute = match key.to_ascii_lowercase().as_str() {
            "node.id" => Attribute::Id,
            "node.hostname" => Attribute::Hostname,
            "node.role" => Attribute::Role,
            "node.platform.os" => Attribute::Os,
            "node.platform.arch" => Attribute::Arch,
            _ => match (label("node.labels."), label("engine.labels.")) {
                (Some(name), _) => Attribute::NodeLabel(name),
                (_, Some(name)) => Attribute::EngineLabel(name),
                _ => {
                    return Err(bad(
                        "the key must be node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>",
                    ));
                }
            },
        };
        if attribute == Attribute::Role && !matches!(value, "manager" | "worker") {
            return Err(bad("node.role is manager or worker"));
        }
        Ok(Self {
            attribute,
            equal,
            value: value.to_string(),
            text: text.trim().to_string(),
        })
    }

    /// Parses every constraint of a service.
    pub fn parse_all(texts: &[String]) -> Result<Vec<Self>, ConstraintError> {
        texts.iter().map(|t| Self::parse(t)).collect()
    }

    /// Whether `node` satisfies it.
    pub fn matches(&self, node: &Node) -> bool {
        let role = node.spec.role.to_string();
        let actual: Option<&str> = match &self.attribute {
            Attribute::Id => Some(&node.meta.id),
            Attribute::Hostname => Some(&node.description.hostname),
            Attribute::Role => Some(&role),
            Attribute::Os => Some(&node.description.os),
            Attribute::Arch => Some(&node.description.arch),
            Attribute::NodeLabel(name) => node.spec.labels.get(name).map(String::as_str),
            Attribute::EngineLabel(_) => None,
        };
        let equal = actual
            .is_some_and(|a| a.eq_ignore_ascii_case(&self.value) || arch_alias(a, &self.value));
        equal == self.equal
    }
}

/// Docker and Go name architectures differently from the kernel
/// (`amd64`/`x86_64`, `arm64`/`aarch64`): either spelling matches.
fn arch_alias(actual: &str, wanted: &str) -> bool {
    let canonical = |a: &str| match a.to_ascii_lowercase().as_str() {
        "amd64" | "x86_64" => "x86_64".to_string(),
        "arm64" | "aarch64" => "aarch64".to_string(),
        other => other.to_string(),
    };
    canonical(actual) == canonical(wanted)
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether `node` satisfies every constraint.
pub fn all_match(constraints: &[Constraint], node: &Node) -> bool {
    constraints.iter().all(|c| c.matches(node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::objects::Role;

    fn node() -> Node {
        let mut node = Node::default();
        node.meta.id = "abc123".into();
        node.description.hostname = "host-1".into();
        node.description.os = "linux".into();
        node.description.arch = "x86_64".into();
        node.spec.role = Role::Manager;
        node.spec.labels.insert("zone".into(), "a".into());
        node
    }

    fn matches(text: &str) -> bool {
        Constraint::parse(text).unwrap().matches(&node())
    }

    #[test]
    fn node_attributes_and_labels_match_as_in_swarm() {
        assert!(matches("node.labels.zone==a"));
        assert!(matches("node.labels.zone == A"));
        assert!(!matches("node.labels.zone!=a"));
        assert!(!matches("node.labels.disk==ssd"));
        assert!(matches("node.labels.disk!=ssd"));
        assert!(matches("node.role==manager"));
        assert!(matches("node.role!=worker"));
        assert!(matches("node.hostname==host-1"));
        assert!(matches("node.id==abc123"));
        assert!(matches("node.platform.os==linux"));
        assert!(matches("node.platform.arch==amd64"));
        assert!(!matches("engine.labels.x==y"));
    }

    #[test]
    fn malformed_constraints_say_what_is_wrong() {
        for text in [
            "node.labels.zone",
            "node.labels.==a",
            "node.color==red",
            "node.role==boss",
            "node.labels.zone==",
            "node.labels.zone==a b",
        ] {
            let error = Constraint::parse(text).unwrap_err();
            assert_eq!(error.text, text);
        }
        let error = Constraint::parse("node.color==red").unwrap_err();
        assert!(error.to_string().contains("node.labels.<name>"), "{error}");
    }
}
