//! Swarm's placement preferences: `spread=node.labels.zone` spreads a
//! service's tasks evenly over the values of a node label, parsed once per
//! service and read off nodes while placing.

use crate::store::objects::Node;

/// Where a spread preference reads its value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A node label (`node.labels.<name>`).
    NodeLabel(String),
    /// An engine label (`engine.labels.<name>`): hoist's nodes report
    /// none, so every node lacks it, as in Swarm on such nodes.
    EngineLabel,
}

/// One parsed `spread=` preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spread {
    source: Source,
}

/// Why a placement preference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid placement preference {text:?}: {why}")]
pub struct PreferenceError {
    /// The preference as written.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

impl Spread {
    /// Parses `spread=node.labels.<name>` (or `spread=engine.labels.<name>`).
    pub fn parse(text: &str) -> Result<Self, PreferenceError> {
        let bad = |why: &str| PreferenceError {
            text: text.to_string(),
            why: why.to_string(),
        };
        let Some((strategy, descriptor)) = text.split_once('=') else {
            return Err(bad("use spread=node.labels.<name>"));
        };
        if !strategy.trim().eq_ignore_ascii_case("spread") {
            return Err(bad("the only strategy is spread"));
        }
        let descriptor = descriptor.trim();
        let label = |prefix: &str| {
            descriptor
                .get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &descriptor[prefix.len()..])
                .filter(|name| !name.is_empty())
        };
        let source = match (label("node.labels."), label("engine.labels.")) {
            (Some(name), _) => Source::NodeLabel(name.to_string()),
            (_, Some(_)) => Source::EngineLabel,
            _ => {
                return Err(bad(
                    "spread over node.labels.<name> or engine.labels.<name>",
                ));
            }
        };
        Ok(Self { source })
    }

    /// Parses every preference of a service, in order.
    pub fn parse_all(texts: &[String]) -> Result<Vec<Self>, PreferenceError> {
        texts.iter().map(|t| Self::parse(t)).collect()
    }

    /// The value `node` has for this preference; `None` when it lacks the
    /// label (such nodes form a group of their own).
    pub fn value<'n>(&self, node: &'n Node) -> Option<&'n str> {
        match &self.source {
            Source::NodeLabel(name) => node.spec.labels.get(name).map(String::as_str),
            Source::EngineLabel => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_reads_a_node_label_and_missing_labels_are_none() {
        let spread = Spread::parse("spread=node.labels.zone").unwrap();
        let mut node = Node::default();
        assert_eq!(spread.value(&node), None);
        node.spec.labels.insert("zone".into(), "a".into());
        assert_eq!(spread.value(&node), Some("a"));
        let engine = Spread::parse("SPREAD = engine.labels.disk").unwrap();
        assert_eq!(engine.value(&node), None);
    }

    #[test]
    fn malformed_preferences_say_what_is_wrong() {
        for text in [
            "node.labels.zone",
            "pack=node.labels.zone",
            "spread=node.labels.",
            "spread=node.hostname",
        ] {
            let error = Spread::parse(text).unwrap_err();
            assert_eq!(error.text, text);
            assert!(
                error
                    .to_string()
                    .starts_with("invalid placement preference")
            );
        }
    }
}
