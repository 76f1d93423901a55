//! Lexical path cleaning as Go's `filepath.Clean` does it on Unix, which is
//! how Docker normalises `.dockerignore` patterns and COPY sources, and the
//! conversion of relative paths to the `/`-separated strings patterns match.

use std::path::{Component, Path};

/// Cleans a `/`-separated path as Go's `filepath.Clean`: repeated slashes
/// and `.` elements go, `..` removes the element before it (and is dropped
/// at the root of a rooted path), and an empty result is `.`.
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `path` as a `/`-separated string, as Docker's matchers see it (names
/// that are not UTF-8 are read lossily); `.` for an empty path.
pub(crate) fn slash_path(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::RootDir => Some("".into()),
            Component::CurDir => None,
            other => Some(other.as_os_str().to_string_lossy()),
        })
        .collect();
    match parts.as_slice() {
        [] => ".".to_string(),
        [root] if root.is_empty() => "/".to_string(),
        _ => parts.join("/"),
    }
}
