//! Why a compose project could not be loaded: always the file, and when
//! known the line, column and path in the model (`services.web.ports[1]`),
//! with a plain sentence saying what was expected.

use std::fmt;
use std::path::Path;

use crate::node::Origin;

/// A path in the compose model, as users read it: `services.web.ports[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPath(Vec<Segment>);

/// One step of a [`ModelPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl ModelPath {
    /// The root of the model.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path with a key appended.
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_string()));
        next
    }

    /// This path with a sequence index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// The steps.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ModelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A compose project that cannot be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct LoadError {
    /// The file and place the problem is at.
    pub origin: Origin,
    /// Where in the model, when the problem is about a value.
    pub path: Option<ModelPath>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl LoadError {
    /// A problem at `origin` (and `path` in the model).
    pub fn at(origin: Origin, path: Option<&ModelPath>, message: impl Into<String>) -> Self {
        Self {
            origin,
            path: path.filter(|p| !p.is_root()).cloned(),
            message: message.into(),
        }
    }

    /// A file that is not valid YAML; `message` is the parser's (it says
    /// the line and column, with a snippet).
    pub fn yaml(file: &Path, message: &str) -> Self {
        Self {
            origin: Origin::file(std::sync::Arc::new(file.to_path_buf())),
            path: None,
            message: format!(
                "not valid YAML: {}",
                message
                    .trim_start_matches("error: ")
                    .replace("<input>", &file.display().to_string())
            ),
        }
    }

    /// A problem with a whole file (missing, unreadable, empty).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            origin: Origin::file(std::sync::Arc::new(file.to_path_buf())),
            path: None,
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        match &self.path {
            Some(path) => format!("{}: {path}: {}", self.origin, self.message),
            None => format!("{}: {}", self.origin, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn paths_read_as_users_write_them() {
        let path = ModelPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .index(1);
        assert_eq!(path.to_string(), "services.web.ports[1]");
        let err = LoadError::at(
            Origin::new(Arc::new(PathBuf::from("compose.yaml")), 7, 9),
            Some(&path),
            "expected a port number between 1 and 65535",
        );
        assert_eq!(
            err.to_string(),
            "compose.yaml:7:9: services.web.ports[1]: expected a port number between 1 and 65535"
        );
    }
}
