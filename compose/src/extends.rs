//! Service `extends`: a service built on another one, of the same file
//! (`extends: base` or `extends: {service: base}`) or of another file
//! (`extends: {service: base, file: common.yaml}`), merged by the rules of
//! [`crate::merge`] with the extending service's values winning.
//!
//! As in Docker Compose, everything of the extended service is inherited,
//! `depends_on`, `links`, `volumes_from` and `network_mode: service:…`
//! included: the spec leaves declaring what they refer to to the author.
//! Chains are followed to their end; a cycle is an error naming every hop.
//! The relative paths of a service from another file (build context,
//! `env_file`, bind-mount sources, …) are rebased so that they keep
//! pointing where they did, now relative to the extending file's folder.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{LoadError, ModelPath};
use crate::merge::merge_service;
use crate::node::{Map, Node, Origin, Value};

/// Reads another compose file (parsed and interpolated as the project's
/// files are): the I/O and its policy stay with the caller.
pub type Loader<'a> = dyn Fn(&Path) -> Result<Node, LoadError> + 'a;

/// Resolves the `extends` of every service of `root`, the compose file at
/// `file`: each such service becomes the merge of the service it extends
/// (resolved first, itself) with its own definition, without `extends`.
///
/// Other files named by `extends.file` (relative to `file`'s folder) are
/// read with `load`, once each.
pub fn resolve(root: &mut Node, file: &Path, load: &Loader<'_>) -> Result<(), LoadError> {
    let Some(services) = root.get("services").and_then(Node::as_map) else {
        return Ok(());
    };
    let services = services.entries.clone();
    let file = clean(file);
    let mut resolver = Resolver {
        load,
        files: HashMap::from([(file.clone(), root.clone())]),
        done: HashMap::new(),
    };
    let mut resolved = Vec::new();
    for (key, service) in services {
        let hop = (file.clone(), key.name.clone());
        resolved.push((key, resolver.service(hop, service, &mut Vec::new())?));
    }
    if let Some(services) = root
        .as_map_mut()
        .and_then(|r| r.get_mut("services"))
        .and_then(Node::as_map_mut)
    {
        for (key, service) in resolved {
            services.insert(key, service);
        }
    }
    Ok(())
}

/// A service of a file: one hop of an `extends` chain.
type Hop = (PathBuf, String);

/// The files read so far and the services resolved so far.
struct Resolver<'l, 'a> {
    load: &'l Loader<'a>,
    /// Compose files as read, by (cleaned) path.
    files: HashMap<PathBuf, Node>,
    /// Services with their `extends` resolved, paths relative to their own
    /// file.
    done: HashMap<Hop, Node>,
}

/// What an `extends` names.
struct Reference {
    /// The service extended.
    service: String,
    /// Where its name was written.
    origin: Origin,
    /// The file it is in, as written; `None` for the same file.
    file: Option<String>,
}

impl Resolver<'_, '_> {
    /// `service` (the service `hop` names, as written) with its `extends`
    /// resolved. `chain` holds the services whose resolution led here.
    fn service(
        &mut self,
        hop: Hop,
        service: Node,
        chain: &mut Vec<Hop>,
    ) -> Result<Node, LoadError> {
        if let Some(done) = self.done.get(&hop) {
            return Ok(done.clone());
        }
        let resolved = self.extend(&hop, service, chain)?;
        self.done.insert(hop, resolved.clone());
        Ok(resolved)
    }

    /// `service` merged over the service its `extends` names, if any.
    fn extend(
        &mut self,
        hop: &Hop,
        mut service: Node,
        chain: &mut Vec<Hop>,
    ) -> Result<Node, LoadError> {
        let Some(extends) = service.as_map_mut().and_then(|s| s.remove("extends")) else {
            return Ok(service);
        };
        let (file, name) = hop;
        let path = ModelPath::root().key("services").key(name).key("extends");
        let reference = Reference::parse(&extends, &path)?;
        chain.push(hop.clone());
        let mut base = self.base(file, &reference, &path, chain)?;
        chain.pop();
        if let Some(other) = &reference.file {
            rebase_service(&mut base, parent(Path::new(other)));
        }
        match base.value {
            Value::Null => Ok(service),
            _ => merge_service(name, base, service),
        }
    }

    /// The service `reference` (written in `file`) names, resolved.
    fn base(
        &mut self,
        file: &Path,
        reference: &Reference,
        path: &ModelPath,
        chain: &mut Vec<Hop>,
    ) -> Result<Node, LoadError> {
        let target = match &reference.file {
            Some(other) => self.read(&join(parent(file), other))?,
            None => file.to_path_buf(),
        };
        let next = (target, reference.service.clone());
        if chain.contains(&next) {
            return Err(cycle(chain, &next, reference, path));
        }
        let Some(base) = self.lookup(&next.0, &next.1).cloned() else {
            return Err(not_found(reference, &next.0, path));
        };
        self.service(next, base, chain)
    }

    /// Service `name` of `file`, as written.
    fn lookup(&self, file: &Path, name: &str) -> Option<&Node> {
        self.files.get(file)?.get("services")?.get(name)
    }

    /// Reads `file` unless it was read already; gives its key.
    fn read(&mut self, file: &Path) -> Result<PathBuf, LoadError> {
        let file = clean(file);
        if !self.files.contains_key(&file) {
            let node = (self.load)(&file)?;
            self.files.insert(file.clone(), node);
        }
        Ok(file)
    }
}

impl Reference {
    /// `extends: name` or `extends: {service: name, file: path}`.
    fn parse(extends: &Node, path: &ModelPath) -> Result<Reference, LoadError> {
        match &extends.value {
            Value::String(service) => Ok(Reference {
                service: service.clone(),
                origin: extends.origin.clone(),
                file: None,
            }),
            Value::Map(map) => Self::parse_mapping(extends, map, path),
            _ => Err(invalid(
                extends,
                path,
                "expected the name of a service or a mapping with `service` and `file`",
            )),
        }
    }

    /// `{service: name, file: path}`, `file` optional.
    fn parse_mapping(extends: &Node, map: &Map, path: &ModelPath) -> Result<Reference, LoadError> {
        let file = map
            .get("file")
            .map(|file| {
                string(
                    file,
                    &path.key("file"),
                    "expected the path of a compose file",
                )
            })
            .transpose()?;
        let service = map.get("service").ok_or_else(|| {
            invalid(
                extends,
                path,
                "`service` is required: the name of the service to extend",
            )
        })?;
        Ok(Reference {
            service: string(
                service,
                &path.key("service"),
                "expected the name of a service",
            )?,
            origin: service.origin.clone(),
            file,
        })
    }
}

/// The string `node` holds, else an error saying what was `expected`.
fn string(node: &Node, path: &ModelPath, expected: &str) -> Result<String, LoadError> {
    node.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(node, path, expected))
}

/// The error for a malformed `extends`.
fn invalid(node: &Node, path: &ModelPath, message: &str) -> LoadError {
    LoadError::at(node.origin.clone(), Some(path), message)
}

/// The error for a reference to a service its file does not have.
fn not_found(reference: &Reference, file: &Path, path: &ModelPath) -> LoadError {
    let message = match &reference.file {
        Some(_) => format!(
            "service {:?} not found in {}",
            reference.service,
            file.display()
        ),
        None => format!("service {:?} not found in this file", reference.service),
    };
    LoadError::at(reference.origin.clone(), Some(path), message)
}

/// The error for an `extends` chain that comes back to `next`.
fn cycle(chain: &[Hop], next: &Hop, reference: &Reference, path: &ModelPath) -> LoadError {
    let here = clean(&reference.origin.file);
    let hops: Vec<String> = chain
        .iter()
        .skip_while(|hop| *hop != next)
        .chain([next])
        .map(|(file, name)| {
            if *file == here {
                name.clone()
            } else {
                format!("{name} ({})", file.display())
            }
        })
        .collect();
    LoadError::at(
        reference.origin.clone(),
        Some(path),
        format!("circular extends: {}", hops.join(" -> ")),
    )
}

/// The folder of `file`, empty for a bare file name.
fn parent(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}

/// `dir/path`, cleaned; `path` itself when absolute.
fn join(dir: &Path, path: &str) -> PathBuf {
    clean(&dir.join(path))
}

/// `a/./b/../c` → `a/c` and `../x/../y` → `../y`, without touching the
/// filesystem.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(Component::ParentDir | Component::CurDir) | None => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

/// Rebases the relative host paths of a service written in folder `dir`
/// (relative to the extending file's folder, or absolute), the fields
/// compose-go's `ResolveRelativePaths` knows.
fn rebase_service(service: &mut Node, dir: &Path) {
    if dir.as_os_str().is_empty() {
        return;
    }
    let Some(map) = service.as_map_mut() else {
        return;
    };
    if let Some(build) = map.get_mut("build") {
        rebase_build(build, dir);
    }
    for field in ["env_file", "label_file"] {
        if let Some(files) = map.get_mut(field) {
            for_each_item(files, |file| match file.as_map_mut() {
                Some(long) => rebase_field(long.get_mut("path"), dir),
                None => rebase(file, dir),
            });
        }
    }
    if let Some(volumes) = map.get_mut("volumes") {
        for_each_item(volumes, |volume| rebase_volume(volume, dir));
    }
    let watch = map
        .get_mut("develop")
        .and_then(Node::as_map_mut)
        .and_then(|develop| develop.get_mut("watch"));
    if let Some(watch) = watch {
        for_each_item(watch, |rule| {
            rebase_field(rule.as_map_mut().and_then(|r| r.get_mut("path")), dir);
        });
    }
}

/// `build: dir` or `build: {context, additional_contexts, ssh}`.
fn rebase_build(build: &mut Node, dir: &Path) {
    let Some(map) = build.as_map_mut() else {
        return rebase_context(build, dir);
    };
    if let Some(context) = map.get_mut("context") {
        rebase_context(context, dir);
    }
    if let Some(contexts) = map.get_mut("additional_contexts") {
        match contexts.as_map_mut() {
            Some(named) => named
                .entries
                .iter_mut()
                .for_each(|(_, c)| rebase_context(c, dir)),
            None => for_each_item(contexts, |c| rebase_pair(c, dir, is_path_context)),
        }
    }
    if let Some(ssh) = map.get_mut("ssh") {
        match ssh.as_map_mut() {
            Some(keys) => keys
                .entries
                .iter_mut()
                .for_each(|(_, key)| rebase(key, dir)),
            None => for_each_item(ssh, |key| rebase_pair(key, dir, |_| true)),
        }
    }
}

/// A build context, unless it is a URL or another service or image.
fn rebase_context(context: &mut Node, dir: &Path) {
    if context.as_str().is_some_and(is_path_context) {
        rebase(context, dir);
    }
}

/// Whether a build context names a folder (not `https://…`, `git@…`,
/// `docker-image://…`, `service:…`).
fn is_path_context(context: &str) -> bool {
    !(context.contains("://") || context.starts_with("git@") || context.starts_with("service:"))
}

/// The value of a `NAME=value` item, when `wanted` says it is a path.
fn rebase_pair(item: &mut Node, dir: &Path, wanted: fn(&str) -> bool) {
    let Some((name, value)) = item.as_str().and_then(|s| s.split_once('=')) else {
        return;
    };
    if let Some(rebased) = rebased(value, dir).filter(|_| wanted(value)) {
        item.value = Value::String(format!("{name}={rebased}"));
    }
}

/// A short-syntax bind mount (`./data:/data`) or a long one with `type:
/// bind`.
fn rebase_volume(volume: &mut Node, dir: &Path) {
    if let Some(long) = volume.as_map_mut() {
        if long.get("type").and_then(Node::as_str) == Some("bind") {
            rebase_field(long.get_mut("source"), dir);
        }
        return;
    }
    let Some((source, rest)) = volume.as_str().and_then(|s| s.split_once(':')) else {
        return;
    };
    if source.starts_with('.')
        && let Some(source) = rebased(source, dir)
    {
        volume.value = Value::String(format!("{source}:{rest}"));
    }
}

/// [`rebase`] for a field that may be missing.
fn rebase_field(node: Option<&mut Node>, dir: &Path) {
    if let Some(node) = node {
        rebase(node, dir);
    }
}

/// Rebases a string path in place.
fn rebase(node: &mut Node, dir: &Path) {
    if let Some(path) = node.as_str().and_then(|path| rebased(path, dir)) {
        node.value = Value::String(path);
    }
}

/// `path` (relative to `dir`) relative to where `dir` is relative to;
/// `None` for paths that are not relative (absolute, `~`, empty). A
/// relative result starts with `.` so that it still reads as a path.
fn rebased(path: &str, dir: &Path) -> Option<String> {
    if path.is_empty() || path.starts_with('~') || Path::new(path).is_absolute() {
        return None;
    }
    let joined = join(dir, path);
    let text = joined.to_string_lossy();
    Some(match text.as_ref() {
        "" => ".".to_string(),
        t if joined.is_absolute() || t.starts_with("..") => t.to_string(),
        t => format!("./{t}"),
    })
}

/// Calls `f` on each item of a sequence, or on a single value.
fn for_each_item(node: &mut Node, mut f: impl FnMut(&mut Node)) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(f),
        _ => f(node),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::merge::{merge, settle_tags};
    use crate::node::Tag;

    const TESTDATA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/compose-corpus/compose-go/loader/testdata"
    );

    /// Reads a file from disk.
    fn read(path: &Path) -> Result<Node, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::file(path, format!("cannot read: {e}")))?;
        Node::parse(path, &text)
    }

    /// A loader over files held in memory; it records what it read.
    fn memory<'a>(
        files: &'a [(&'a str, &'a str)],
        reads: &'a RefCell<Vec<PathBuf>>,
    ) -> impl Fn(&Path) -> Result<Node, LoadError> + 'a {
        move |path| {
            reads.borrow_mut().push(path.to_path_buf());
            match files.iter().find(|(name, _)| Path::new(name) == path) {
                Some((_, text)) => Node::parse(path, text),
                None => Err(LoadError::file(path, "no such file")),
            }
        }
    }

    /// `text` as `file`, its extends resolved with `load`.
    fn resolved_with(file: &str, text: &str, load: &Loader<'_>) -> Result<Node, LoadError> {
        let mut root = Node::parse(Path::new(file), text)?;
        resolve(&mut root, Path::new(file), load)?;
        Ok(root)
    }

    /// `text` as compose.yaml, with `files` beside it.
    fn resolved(text: &str, files: &[(&str, &str)]) -> Result<Node, LoadError> {
        let reads = RefCell::new(Vec::new());
        resolved_with("compose.yaml", text, &memory(files, &reads))
    }

    /// A fixture of compose-go's loader tests, resolved.
    fn fixture(name: &str) -> Node {
        let path = PathBuf::from(TESTDATA).join(name);
        let mut root = read(&path).unwrap();
        resolve(&mut root, &path, &read).unwrap();
        root
    }

    /// Inline `text` as a file of the fixtures' folder, resolved.
    fn beside_fixtures(text: &str) -> Node {
        let file = format!("{TESTDATA}/inline.yaml");
        resolved_with(&file, text, &read).unwrap()
    }

    fn service(root: &Node, name: &str) -> serde_json::Value {
        root.to_json()["services"][name].clone()
    }

    #[test]
    fn fixture_extends_a_service_of_a_file_in_a_subfolder() {
        let root = fixture("compose-test-extends.yaml");
        assert_eq!(
            service(&root, "importer"),
            serde_json::json!({
                "image": "nginx",
                "container_name": "${SOURCE:-imported}",
                "env_file": ["./subdir/extra.env"],
                "volumes": ["/opt/data:/var/lib/mysql"],
            })
        );
    }

    #[test]
    fn fixture_keeps_a_build_context_url() {
        let root = fixture("compose-test-extends-with-context-url.yaml");
        assert_eq!(
            service(&root, "importer-with-https-url")["build"]["context"],
            "https://github.com/docker/compose.git"
        );
    }

    #[test]
    fn fixture_chains_within_and_across_files() {
        let root = fixture("extends/base.yaml");
        assert_eq!(
            service(&root, "another"),
            serde_json::json!({"image": "base"})
        );
        assert_eq!(
            service(&root, "with-build"),
            serde_json::json!({"build": "."})
        );
        let root = fixture("extends/withdir/compose.yaml");
        assert_eq!(
            service(&root, "test"),
            serde_json::json!({"image": "hello-world"})
        );
        let root = fixture("combined/dir/included.yaml");
        assert_eq!(service(&root, "service"), serde_json::json!({"build": "."}));
    }

    #[test]
    fn fixture_services_extended_from_another_folder() {
        let root = beside_fixtures(
            "services:\n  test1:\n    extends: {file: extends/base.yaml, service: base}\n    hostname: test1\n  test3:\n    extends: {file: extends/base.yaml, service: another}\n    hostname: test3\n  port:\n    image: test\n    extends: {file: extends/base.yaml, service: with-port}\n  ulimits:\n    extends: {file: extends/base.yaml, service: withUlimits}\n  build:\n    extends: {file: extends/base.yaml, service: with-build}\n  nil:\n    image: test\n    extends: {file: extends/base.yaml, service: nil}\n  volume:\n    extends: {file: extends/interpolated.yaml, service: foo}\n",
        );
        let json = root.to_json();
        let services = &json["services"];
        assert_eq!(
            services["test1"],
            serde_json::json!({"image": "base", "hostname": "test1"})
        );
        assert_eq!(
            services["test3"],
            serde_json::json!({"image": "base", "hostname": "test3"})
        );
        assert_eq!(
            services["port"],
            serde_json::json!({"image": "test", "ports": ["8000:8000"]})
        );
        assert_eq!(services["ulimits"]["ulimits"]["nproc"], 65535);
        assert_eq!(services["build"], serde_json::json!({"build": "./extends"}));
        assert_eq!(services["nil"], serde_json::json!({"image": "test"}));
        assert_eq!(
            services["volume"]["volumes"][0],
            "${SOURCE:-/dev/null}:/tmp/foo:ro"
        );
    }

    #[test]
    fn fixture_service_references_are_inherited() {
        let root = beside_fixtures(
            "services:\n  a:\n    extends: {file: extends/depends_on.yaml, service: with_depends_on}\n  b:\n    extends: {file: extends/depends_on.yaml, service: with_volumes_from}\n  c:\n    extends: {file: extends/depends_on.yaml, service: with_ipc}\n  d:\n    extends: {file: extends/depends_on.yaml, service: with_network_mode}\n",
        );
        let json = root.to_json();
        assert_eq!(
            json["services"]["a"]["depends_on"],
            serde_json::json!(["zot"])
        );
        assert_eq!(
            json["services"]["b"]["volumes_from"],
            serde_json::json!(["zot"])
        );
        assert_eq!(json["services"]["c"]["ipc"], "service:zot");
        assert_eq!(json["services"]["d"]["network_mode"], "service:zot");
        assert!(json["services"].get("zot").is_none());
    }

    #[test]
    fn fixture_reset_through_extends() {
        let base = fixture("extends/reset.yaml");
        let command = base
            .get("services")
            .and_then(|s| s.get("base"))
            .and_then(|b| b.get("command"));
        assert_eq!(command.map(|c| c.tag), Some(Some(Tag::Reset)));
        let root = beside_fixtures(
            "services:\n  test:\n    extends: {file: extends/reset.yaml, service: base}\n",
        );
        assert_eq!(
            service(&root, "test"),
            serde_json::json!({"image": "alpine:latest"})
        );
    }

    #[test]
    fn fixture_extended_ports_merge_with_the_earlier_file() {
        let first = fixture("extends/ports.yaml");
        let second = beside_fixtures(
            "services:\n  test:\n    extends: {file: extends/ports.yaml, service: test}\n",
        );
        let root = merge(first, second).unwrap();
        assert_eq!(
            service(&root, "test")["ports"],
            serde_json::json!(["8080:8080"])
        );
    }

    #[test]
    fn spec_examples() {
        let root = resolved(
            "services:\n  common:\n    image: busybox\n    environment:\n      TZ: utc\n      PORT: 80\n  cli:\n    extends:\n      service: common\n    environment:\n      PORT: 8080\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            service(&root, "cli"),
            serde_json::json!({"image": "busybox", "environment": {"TZ": "utc", "PORT": 8080}})
        );
        let root = resolved(
            "services:\n  common:\n    image: busybox\n    environment: [TZ=utc, PORT=80]\n  cli:\n    extends:\n      service: common\n    environment: [PORT=8080]\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            service(&root, "cli")["environment"],
            serde_json::json!(["TZ=utc", "PORT=8080"])
        );
        let root = resolved(
            "services:\n  common:\n    image: busybox\n    volumes:\n      - common-volume:/var/lib/backup/data:rw\n  cli:\n    extends:\n      service: common\n    volumes:\n      - cli-volume:/var/lib/backup/data:ro\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            service(&root, "cli"),
            serde_json::json!({"image": "busybox", "volumes": ["cli-volume:/var/lib/backup/data:ro"]})
        );
        let root = resolved(
            "services:\n  base:\n    image: busybox\n    user: root\n  common:\n    image: busybox\n    extends:\n      service: base\n  cli:\n    extends:\n      service: common\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            service(&root, "cli"),
            serde_json::json!({"image": "busybox", "user": "root"})
        );
        assert_eq!(
            service(&root, "common"),
            serde_json::json!({"image": "busybox", "user": "root"})
        );
    }

    #[test]
    fn the_extending_service_wins_and_values_keep_their_file() {
        let root = resolved(
            "services:\n  web:\n    extends: {file: common.yaml, service: app}\n    image: mine\n    command: [b]\n    security_opt: [label:user:USER]\n",
            &[(
                "common.yaml",
                "services:\n  app:\n    image: theirs\n    command: [a, x]\n    security_opt: [label:role:ROLE]\n    restart: always\n",
            )],
        )
        .unwrap();
        assert_eq!(
            service(&root, "web"),
            serde_json::json!({
                "image": "mine",
                "command": ["b"],
                "security_opt": ["label:role:ROLE", "label:user:USER"],
                "restart": "always",
            })
        );
        let web = root.get("services").and_then(|s| s.get("web")).unwrap();
        assert_eq!(
            web.get("restart").unwrap().origin.to_string(),
            "common.yaml:6:14"
        );
        assert_eq!(
            web.get("image").unwrap().origin.to_string(),
            "compose.yaml:4:12"
        );
    }

    #[test]
    fn relative_paths_of_other_folders_are_rebased() {
        let root = resolved(
            "services:\n  web:\n    extends: {file: lib/base.yaml, service: base}\n    env_file: ./mine.env\n",
            &[(
                "lib/base.yaml",
                "services:\n  base:\n    build:\n      context: .\n      additional_contexts: {x: ../ctx, img: \"docker-image://alpine\"}\n      ssh: [default, \"key=./id\"]\n    env_file: [.env, {path: ./b.env, required: false}, /abs.env]\n    label_file: labels\n    volumes:\n      - ./data:/data:ro\n      - named:/n\n      - ~/home:/h\n      - {type: bind, source: src, target: /src}\n      - {type: volume, source: v, target: /v}\n    develop:\n      watch:\n        - {path: ./app, action: sync, target: /app}\n",
            )],
        )
        .unwrap();
        assert_eq!(
            service(&root, "web"),
            serde_json::json!({
                "build": {
                    "context": "./lib",
                    "additional_contexts": {"x": "./ctx", "img": "docker-image://alpine"},
                    "ssh": ["default", "key=./lib/id"],
                },
                "env_file": ["./lib/.env", {"path": "./lib/b.env", "required": false}, "/abs.env", "./mine.env"],
                "label_file": "./lib/labels",
                "volumes": [
                    "./lib/data:/data:ro",
                    "named:/n",
                    "~/home:/h",
                    {"type": "bind", "source": "./lib/src", "target": "/src"},
                    {"type": "volume", "source": "v", "target": "/v"},
                ],
                "develop": {"watch": [{"path": "./lib/app", "action": "sync", "target": "/app"}]},
            })
        );
    }

    #[test]
    fn rebasing_follows_a_chain_of_folders() {
        let reads = RefCell::new(Vec::new());
        let files = [
            (
                "a/one.yaml",
                "services:\n  one:\n    extends: {file: ../b/two.yaml, service: two}\n  also:\n    extends: {file: ../b/two.yaml, service: two}\n",
            ),
            (
                "b/two.yaml",
                "services:\n  two:\n    build: ./ctx\n    volumes: [\"../up:/up\"]\n",
            ),
        ];
        let root = resolved_with(
            "compose.yaml",
            "services:\n  web:\n    extends: {file: a/one.yaml, service: one}\n  api:\n    extends: {file: ./a/one.yaml, service: also}\n  abs:\n    extends: {file: /srv/b/two.yaml, service: two}\n",
            &memory(&files, &reads),
        );
        assert!(root.is_err(), "/srv/b/two.yaml is not among the files");
        reads.borrow_mut().clear();
        let root = resolved_with(
            "compose.yaml",
            "services:\n  web:\n    extends: {file: a/one.yaml, service: one}\n  api:\n    extends: {file: ./a/one.yaml, service: also}\n",
            &memory(&files, &reads),
        )
        .unwrap();
        let expected = serde_json::json!({"build": "./b/ctx", "volumes": ["./up:/up"]});
        assert_eq!(service(&root, "web"), expected);
        assert_eq!(service(&root, "api"), expected);
        // Each file was read once.
        assert_eq!(
            *reads.borrow(),
            [PathBuf::from("a/one.yaml"), PathBuf::from("b/two.yaml")]
        );
    }

    #[test]
    fn an_absolute_file_makes_paths_absolute() {
        let files = [(
            "/srv/lib/base.yaml",
            "services:\n  base:\n    build: .\n    env_file: ../x.env\n",
        )];
        let root = resolved(
            "services:\n  web:\n    extends: {file: /srv/lib/base.yaml, service: base}\n",
            &files,
        )
        .unwrap();
        assert_eq!(
            service(&root, "web"),
            serde_json::json!({"build": "/srv/lib", "env_file": "/srv/x.env"})
        );
    }

    #[test]
    fn tags_of_the_extending_service_apply_to_the_base_and_stay() {
        let root = resolved(
            "services:\n  base:\n    image: a\n    ports: [\"80:80\"]\n    environment: {A: '1'}\n  web:\n    extends: base\n    ports: !reset []\n    environment: !override {B: '2'}\n",
            &[],
        )
        .unwrap();
        let web = root.get("services").and_then(|s| s.get("web")).unwrap();
        assert_eq!(web.get("ports").unwrap().tag, Some(Tag::Reset));
        assert_eq!(
            settle_tags(web.clone()).to_json(),
            serde_json::json!({"image": "a", "environment": {"B": "2"}})
        );
    }

    #[test]
    fn cycles_name_every_hop() {
        let err = resolved(
            "services:\n  a:\n    extends: b\n  b:\n    extends: {service: a}\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "compose.yaml:5:24: services.b.extends: circular extends: a -> b -> a"
        );
        let err = resolved("services:\n  a:\n    extends: a\n", &[]).unwrap_err();
        assert!(
            err.to_string().ends_with("circular extends: a -> a"),
            "{err}"
        );
        let err = resolved(
            "services:\n  web:\n    extends: {file: lib/base.yaml, service: base}\n",
            &[(
                "lib/base.yaml",
                "services:\n  base:\n    extends: {file: ../compose.yaml, service: web}\n",
            )],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "lib/base.yaml:3:47: services.base.extends: circular extends: web (compose.yaml) -> base -> web (compose.yaml)"
        );
    }

    #[test]
    fn wrong_references_are_errors() {
        let cases = [
            (
                "services:\n  a:\n    extends: nope\n",
                "compose.yaml:3:14: services.a.extends: service \"nope\" not found in this file",
            ),
            (
                "services:\n  a:\n    extends: {file: lib.yaml, service: nope}\n",
                "compose.yaml:3:40: services.a.extends: service \"nope\" not found in lib.yaml",
            ),
            (
                "services:\n  a:\n    extends: {file: lib.yaml}\n",
                "compose.yaml:3:14: services.a.extends: `service` is required: the name of the service to extend",
            ),
            (
                "services:\n  a:\n    extends: [b]\n",
                "compose.yaml:3:14: services.a.extends: expected the name of a service or a mapping with `service` and `file`",
            ),
            (
                "services:\n  a:\n    extends: {service: b, file: 1}\n",
                "compose.yaml:3:33: services.a.extends.file: expected the path of a compose file",
            ),
            (
                "services:\n  a:\n    extends: {service: [b]}\n",
                "compose.yaml:3:24: services.a.extends.service: expected the name of a service",
            ),
            (
                "services:\n  a:\n    extends: {file: missing.yaml, service: b}\n",
                "missing.yaml: no such file",
            ),
        ];
        for (text, want) in cases {
            let err = resolved(text, &[("lib.yaml", "services:\n  other: {}\n")]).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn files_without_services_are_left_alone() {
        let root = resolved("name: x\n", &[]).unwrap();
        assert_eq!(root.to_json(), serde_json::json!({"name": "x"}));
    }

    #[test]
    fn paths_are_cleaned_lexically() {
        assert_eq!(clean(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean(Path::new("../x/../../y")), PathBuf::from("../../y"));
        assert_eq!(clean(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(
            rebased("../ctx", Path::new("lib")),
            Some("./ctx".to_string())
        );
        assert_eq!(rebased(".", Path::new("lib/..")), Some(".".to_string()));
        assert_eq!(rebased("x", Path::new("..")), Some("../x".to_string()));
        assert_eq!(rebased("/x", Path::new("lib")), None);
    }
}
