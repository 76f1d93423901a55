//! Relative host paths of one loaded compose model made absolute against
//! its project directory (`~` against the home directory): build contexts,
//! `env_file`s, `label_file`s, bind-mount sources and secret/config files.
//! Done per loaded model, before models are merged or included, so every
//! path keeps the meaning it had in the file it was written in.

use std::path::{Component, Path, PathBuf};

use crate::node::{Key, Map, Node, Value};

/// Where relative paths of a model resolve.
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    /// The model's project directory.
    pub directory: &'a Path,
    /// The user's home directory, for `~`.
    pub home: Option<&'a Path>,
}

/// Makes every host path in `root` absolute.
pub fn resolve_paths(root: &mut Node, base: Base<'_>) {
    let Some(map) = root.as_map_mut() else {
        return;
    };
    if let Some(services) = map.get_mut("services").and_then(Node::as_map_mut) {
        for (_, service) in services.entries.iter_mut() {
            if let Some(service) = service.as_map_mut() {
                resolve_service(service, base);
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(resources) = map.get_mut(kind).and_then(Node::as_map_mut) {
            for (_, resource) in resources.entries.iter_mut() {
                if let Some(file) = resource.as_map_mut().and_then(|r| r.get_mut("file")) {
                    resolve_string(file, base);
                }
            }
        }
    }
}

fn resolve_service(service: &mut Map, base: Base<'_>) {
    if let Some(build) = service.get_mut("build") {
        let origin = build.origin.clone();
        match &mut build.value {
            Value::String(_) => resolve_context(build, base),
            Value::Map(build) => {
                if let Some(contexts) = build.get_mut("additional_contexts") {
                    resolve_named_contexts(contexts, base);
                }
                match build.get_mut("context") {
                    Some(context) => resolve_context(context, base),
                    None => build.insert(
                        Key {
                            name: "context".into(),
                            origin: origin.clone(),
                        },
                        Node::new(Value::String(base.directory.display().to_string()), origin),
                    ),
                }
            }
            _ => {}
        }
    }
    for field in ["env_file", "label_file"] {
        if let Some(files) = service.get_mut(field) {
            match &mut files.value {
                Value::String(_) => resolve_string(files, base),
                Value::Seq(items) => {
                    for item in items.iter_mut() {
                        match &mut item.value {
                            Value::String(_) => resolve_string(item, base),
                            Value::Map(long) => {
                                if let Some(path) = long.get_mut("path") {
                                    resolve_string(path, base);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(Value::Seq(volumes)) = service.get_mut("volumes").map(|v| &mut v.value) {
        for volume in volumes.iter_mut() {
            resolve_volume(volume, base);
        }
    }
}

/// `build.additional_contexts` (a mapping, or `NAME=VALUE` items): the
/// directories among them, as the context is (`docker-image://…` and
/// other `type://` values, and URLs, stay as they are).
fn resolve_named_contexts(contexts: &mut Node, base: Base<'_>) {
    match &mut contexts.value {
        Value::Map(named) => {
            for (_, value) in named.entries.iter_mut() {
                if value.as_str().is_some_and(|v| !v.contains("://")) {
                    resolve_context(value, base);
                }
            }
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                if let Value::String(entry) = &mut item.value
                    && let Some((name, value)) = entry.split_once('=')
                    && !value.contains("://")
                    && !is_remote(value)
                {
                    *entry = format!("{name}={}", host_path(value, base).display());
                }
            }
        }
        _ => {}
    }
}

/// A build context: a directory unless it is a URL.
fn resolve_context(context: &mut Node, base: Base<'_>) {
    if let Value::String(dir) = &context.value
        && !is_remote(dir)
    {
        context.value = Value::String(host_path(dir, base).display().to_string());
    }
}

/// A service volume: the source of a bind mount (short syntax: a source
/// starting with `.`, `/` or `~`).
fn resolve_volume(volume: &mut Node, base: Base<'_>) {
    match &mut volume.value {
        Value::String(spec) => {
            if let Some((source, rest)) = spec.split_once(':')
                && source.starts_with(['.', '~'])
            {
                *spec = format!("{}:{rest}", host_path(source, base).display());
            }
        }
        Value::Map(long) => {
            if long.get("type").and_then(Node::as_str) == Some("bind")
                && let Some(source) = long.get_mut("source")
            {
                resolve_string(source, base);
            }
        }
        _ => {}
    }
}

fn resolve_string(node: &mut Node, base: Base<'_>) {
    if let Value::String(path) = &node.value {
        node.value = Value::String(host_path(path, base).display().to_string());
    }
}

/// A host path from a compose file: `~` is the home directory, relative
/// paths are against the project directory.
pub fn host_path(path: &str, base: Base<'_>) -> PathBuf {
    if let (Some(rest), Some(home)) = (path.strip_prefix('~'), base.home)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return home.join(rest.trim_start_matches('/'));
    }
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    clean(&base.directory.join(path))
}

/// `a/./b/../c` → `a/c`, without touching the filesystem.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether a build context is a URL (git or HTTP) rather than a directory.
pub fn is_remote(context: &str) -> bool {
    ["http://", "https://", "git://", "git@", "ssh://"]
        .iter()
        .any(|prefix| context.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute() {
        let mut root = Node::parse(
            Path::new("/p/compose.yaml"),
            "services:\n  a:\n    build: ./app\n    env_file: [.env.a, {path: ../b.env}]\n    volumes: [\"./data:/data:ro\", \"named:/n\", {type: bind, source: ~/x, target: /x}]\n  b:\n    build: {dockerfile: D, additional_contexts: {lib: ../lib, base: \"docker-image://alpine\"}}\n  c:\n    build: {context: https://github.com/x/y.git, additional_contexts: [\"more=./more\", \"git=https://h/r.git\"]}\nsecrets:\n  s: {file: ./s.txt}\n",
        )
        .unwrap();
        resolve_paths(
            &mut root,
            Base {
                directory: Path::new("/p"),
                home: Some(Path::new("/home/u")),
            },
        );
        let json = root.to_json();
        let a = &json["services"]["a"];
        assert_eq!(a["build"], "/p/app");
        assert_eq!(a["env_file"][0], "/p/.env.a");
        assert_eq!(a["env_file"][1]["path"], "/b.env");
        assert_eq!(a["volumes"][0], "/p/data:/data:ro");
        assert_eq!(a["volumes"][1], "named:/n");
        assert_eq!(a["volumes"][2]["source"], "/home/u/x");
        assert_eq!(json["services"]["b"]["build"]["context"], "/p");
        let b = &json["services"]["b"]["build"];
        assert_eq!(b["additional_contexts"]["lib"], "/lib");
        assert_eq!(b["additional_contexts"]["base"], "docker-image://alpine");
        let c = &json["services"]["c"]["build"];
        assert_eq!(c["context"], "https://github.com/x/y.git");
        assert_eq!(c["additional_contexts"][0], "more=/p/more");
        assert_eq!(c["additional_contexts"][1], "git=https://h/r.git");
        assert_eq!(json["secrets"]["s"]["file"], "/p/s.txt");
    }
}
