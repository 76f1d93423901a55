//! The normalised model: every short syntax turned into its long form
//! (ports, volumes, depends_on, networks, secrets, configs, environment,
//! build), relative host paths made absolute against the project directory,
//! resources given their real names (`<project>_<name>`), the implicit
//! `default` network added, and every reference between them checked
//! (undefined services, networks, volumes, secrets, configs; dependency
//! cycles). This is what `hoist compose config` prints and `up` runs.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::error::{LoadError, ModelPath};
use crate::node::{Key, Map, Node, Origin, Value};
use crate::ports::parse_ports;
use crate::words::split_command;

/// What normalisation needs to know about the project.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The project name (already checked).
    pub name: &'a str,
}

/// Normalises a loaded, merged, schema-valid project in place.
pub fn normalize(root: &mut Node, context: &Context<'_>) -> Result<(), LoadError> {
    let origin = root.origin.clone();
    let Some(map) = root.as_map_mut() else {
        return Err(LoadError::at(
            origin,
            None,
            "a compose file must be a mapping",
        ));
    };
    map.remove("version");
    map.insert(key("name", &origin), string(context.name, &origin));
    let declared = Declared::of(map);
    let mut uses_default_network = false;
    if let Some(services) = map.get_mut("services").and_then(Node::as_map_mut) {
        for (name, service) in services.entries.iter_mut() {
            let path = ModelPath::root().key("services").key(&name.name);
            uses_default_network |= normalize_service(&name.name, service, &path, &declared)?;
        }
        check_cycles(services)?;
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        if kind == "networks" && uses_default_network && !declared.networks.contains("default") {
            if map.get("networks").and_then(Node::as_map).is_none() {
                map.insert(
                    key("networks", &origin),
                    Node::new(Value::Map(Map::default()), origin.clone()),
                );
            }
            if let Some(networks) = map.get_mut("networks").and_then(Node::as_map_mut) {
                networks.insert(
                    key("default", &origin),
                    Node::new(Value::Map(Map::default()), origin.clone()),
                );
            }
        }
        if let Some(resources) = map.get_mut(kind).and_then(Node::as_map_mut) {
            for (name, resource) in resources.entries.iter_mut() {
                name_resource(&name.name, resource, context)?;
            }
        }
    }
    Ok(())
}

/// The resources the top level declares, for reference checks.
struct Declared {
    services: BTreeSet<String>,
    networks: BTreeSet<String>,
    volumes: BTreeSet<String>,
    secrets: BTreeSet<String>,
    configs: BTreeSet<String>,
}

impl Declared {
    fn of(map: &Map) -> Self {
        let names = |kind: &str| -> BTreeSet<String> {
            map.get(kind)
                .and_then(Node::as_map)
                .map(|m| m.keys().map(str::to_string).collect())
                .unwrap_or_default()
        };
        Self {
            services: names("services"),
            networks: names("networks"),
            volumes: names("volumes"),
            secrets: names("secrets"),
            configs: names("configs"),
        }
    }
}

/// Normalises one service; returns whether it joins the default network.
fn normalize_service(
    name: &str,
    service: &mut Node,
    path: &ModelPath,
    declared: &Declared,
) -> Result<bool, LoadError> {
    let origin = service.origin.clone();
    if matches!(service.value, Value::Null) {
        service.value = Value::Map(Map::default());
    }
    let Some(map) = service.as_map_mut() else {
        return Err(LoadError::at(
            origin,
            Some(path),
            "a service must be a mapping",
        ));
    };
    if map.get("image").is_none() && map.get("build").is_none() {
        return Err(LoadError::at(
            origin,
            Some(path),
            format!(
                "service {name:?} has neither an image nor a build context: give it `image:` or `build:`"
            ),
        ));
    }
    if let Some(build) = map.get_mut("build") {
        normalize_build(build, &path.key("build"))?;
    }
    check_build_platform(name, map, path)?;
    for field in ["command", "entrypoint"] {
        if let Some(node) = map.get_mut(field) {
            shell_words(node, &path.key(field))?;
        }
    }
    if let Some(test) = map
        .get_mut("healthcheck")
        .and_then(|h| h.as_map_mut())
        .and_then(|h| h.get_mut("test"))
        && let Value::String(command) = &test.value
    {
        let shell = string("CMD-SHELL", &test.origin);
        let command = string(command, &test.origin);
        test.value = Value::Seq(vec![shell, command]);
    }
    for field in ["environment", "labels", "annotations", "sysctls"] {
        if let Some(node) = map.get_mut(field) {
            to_string_map(node, &path.key(field))?;
        }
    }
    for field in ["dns", "dns_search", "tmpfs", "env_file", "label_file"] {
        if let Some(node) = map.get_mut(field)
            && let Value::String(_) = node.value
        {
            node.value = Value::Seq(vec![node.clone()]);
        }
    }
    if let Some(env_files) = map.get_mut("env_file").and_then(|n| match &mut n.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }) {
        for item in env_files.iter_mut() {
            long_env_file(item);
        }
    }
    if let Some(expose) = map.get_mut("expose").and_then(|n| match &mut n.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }) {
        for item in expose.iter_mut() {
            if let Some(text) = item.scalar_text() {
                item.value = Value::String(text);
            }
        }
    }
    if let Some(ports) = map.get_mut("ports") {
        let items = ports.as_seq().unwrap_or_default();
        let mut long = Vec::new();
        for (i, item) in items.iter().enumerate() {
            long.extend(parse_ports(item, &path.key("ports").index(i))?);
        }
        ports.value = Value::Seq(long);
    }
    if let Some(volumes) = map.get_mut("volumes") {
        normalize_volumes(volumes, &path.key("volumes"), declared)?;
    }
    if let Some(depends) = map.get_mut("depends_on") {
        normalize_depends_on(name, depends, &path.key("depends_on"), declared)?;
    }
    for (field, names) in [
        ("secrets", &declared.secrets),
        ("configs", &declared.configs),
    ] {
        if let Some(node) = map.get_mut(field) {
            normalize_file_refs(field, node, &path.key(field), names)?;
        }
    }
    for field in ["pid", "ipc"] {
        let Some(other) = map
            .get(field)
            .and_then(Node::as_str)
            .and_then(|m| m.strip_prefix("service:"))
            .map(str::to_string)
        else {
            continue;
        };
        if !declared.services.contains(&other) {
            return Err(LoadError::at(
                origin,
                Some(&path.key(field)),
                format!(
                    "service {name:?} shares the {field} namespace of undefined service {other:?}"
                ),
            ));
        }
        depend_on(map, &other, true, &origin);
    }
    for entry in string_items(map.get("volumes_from")) {
        if entry.starts_with("container:") {
            continue;
        }
        let other = entry.split(':').next().unwrap_or_default().to_string();
        if !declared.services.contains(&other) {
            return Err(LoadError::at(
                origin,
                Some(&path.key("volumes_from")),
                format!("service {name:?} mounts the volumes of undefined service {other:?}"),
            ));
        }
        depend_on(map, &other, false, &origin);
    }
    // A link starts the service after the one it links to, as compose-go
    // adds it.
    for (i, link) in string_items(map.get("links")).into_iter().enumerate() {
        let other = link.split(':').next().unwrap_or_default().to_string();
        if !declared.services.contains(&other) {
            return Err(LoadError::at(
                origin,
                Some(&path.key("links").index(i)),
                format!("service {name:?} links to undefined service {other:?}"),
            ));
        }
        depend_on(map, &other, true, &origin);
    }
    let network_mode = map
        .get("network_mode")
        .and_then(Node::as_str)
        .map(str::to_string);
    match map.get_mut("networks") {
        Some(networks) => {
            normalize_networks(networks, &path.key("networks"), &declared.networks)?;
            Ok(networks.get("default").is_some())
        }
        None if network_mode.is_none() => {
            let mut networks = Map::default();
            networks.insert(
                key("default", &origin),
                Node::new(Value::Null, origin.clone()),
            );
            map.insert(
                key("networks", &origin),
                Node::new(Value::Map(networks), origin),
            );
            Ok(true)
        }
        None => {
            if let Some(other) = network_mode
                .as_deref()
                .and_then(|m| m.strip_prefix("service:"))
            {
                if !declared.services.contains(other) {
                    return Err(LoadError::at(
                        origin,
                        Some(&path.key("network_mode")),
                        format!("service {name:?} uses the network of undefined service {other:?}"),
                    ));
                }
                depend_on(map, other, true, &origin);
            }
            Ok(false)
        }
    }
}

/// `network_mode`, `pid` or `ipc` `service:<other>`, or `volumes_from:
/// [<other>]`, implies a dependency on `other`, as compose-go adds it:
/// started first; `restart` when the service lives in the other's
/// namespace.
fn depend_on(service: &mut Map, other: &str, restart: bool, origin: &Origin) {
    if service.get("depends_on").is_none() {
        service.insert(
            key("depends_on", origin),
            Node::new(Value::Map(Map::default()), origin.clone()),
        );
    }
    let Some(depends) = service.get_mut("depends_on").and_then(Node::as_map_mut) else {
        return;
    };
    if depends.get(other).is_some() {
        return;
    }
    let mut dependency = Map::default();
    dependency.insert(key("condition", origin), string("service_started", origin));
    dependency.insert(
        key("required", origin),
        Node::new(Value::Bool(true), origin.clone()),
    );
    dependency.insert(
        key("restart", origin),
        Node::new(Value::Bool(restart), origin.clone()),
    );
    depends.insert(
        key(other, origin),
        Node::new(Value::Map(dependency), origin.clone()),
    );
}

/// The strings of a sequence node (none when absent or not a sequence).
fn string_items(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::scalar_text)
        .collect()
}

/// `build: dir` → `{context: dir, dockerfile: Dockerfile}`.
fn normalize_build(build: &mut Node, path: &ModelPath) -> Result<(), LoadError> {
    let origin = build.origin.clone();
    if let Value::String(dir) = &build.value {
        let mut map = Map::default();
        map.insert(key("context", &origin), string(dir, &origin));
        build.value = Value::Map(map);
    }
    let Some(map) = build.as_map_mut() else {
        return Err(LoadError::at(
            origin,
            Some(path),
            "expected a build context path or a mapping",
        ));
    };
    if map.get("dockerfile").is_none() && map.get("dockerfile_inline").is_none() {
        map.insert(key("dockerfile", &origin), string("Dockerfile", &origin));
    }
    Ok(())
}

/// A service's `platform` must be one its `build.platforms` makes.
fn check_build_platform(name: &str, service: &Map, path: &ModelPath) -> Result<(), LoadError> {
    let (Some(platform_node), Some(platforms)) = (
        service.get("platform"),
        service
            .get("build")
            .and_then(|b| b.get("platforms"))
            .and_then(Node::as_seq),
    ) else {
        return Ok(());
    };
    let platform = platform_node.scalar_text().unwrap_or_default();
    if platforms
        .iter()
        .any(|p| p.scalar_text().as_deref() == Some(platform.as_str()))
    {
        return Ok(());
    }
    let listed: Vec<String> = platforms.iter().filter_map(Node::scalar_text).collect();
    Err(LoadError::at(
        platform_node.origin.clone(),
        Some(&path.key("platform")),
        format!(
            "service {name:?} runs on {platform} but build.platforms builds only {}: add {platform} to build.platforms",
            listed.join(", ")
        ),
    ))
}

/// A string command becomes its words, as a shell would split them.
fn shell_words(node: &mut Node, path: &ModelPath) -> Result<(), LoadError> {
    if let Value::String(command) = &node.value {
        let words = split_command(command)
            .map_err(|e| LoadError::at(node.origin.clone(), Some(path), e))?;
        let origin = node.origin.clone();
        node.value = Value::Seq(words.iter().map(|w| string(w, &origin)).collect());
    }
    Ok(())
}

/// `["A=1", "B"]` or `{A: 1}` → `{A: "1", B: null}`.
fn to_string_map(node: &mut Node, path: &ModelPath) -> Result<(), LoadError> {
    let origin = node.origin.clone();
    let mut out = Map::default();
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(text) = item.scalar_text() else {
                    return Err(LoadError::at(
                        item.origin.clone(),
                        Some(&path.index(i)),
                        format!("expected KEY=VALUE, got {}", item.kind()),
                    ));
                };
                let value = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), string(v, &item.origin)),
                    None => (text.clone(), Node::new(Value::Null, item.origin.clone())),
                };
                out.insert(key(&value.0, &item.origin), value.1);
            }
        }
        Value::Map(map) => {
            for (k, v) in &map.entries {
                let value = match v.scalar_text() {
                    Some(text) => string(&text, &v.origin),
                    None => Node::new(Value::Null, v.origin.clone()),
                };
                out.insert(k.clone(), value);
            }
        }
        Value::Null => {}
        _ => {
            return Err(LoadError::at(
                origin,
                Some(path),
                format!(
                    "expected a list of KEY=VALUE or a mapping, got {}",
                    node.kind()
                ),
            ));
        }
    }
    node.value = Value::Map(out);
    Ok(())
}

/// `env_file: path` entries → `{path: path, required: true}`.
fn long_env_file(item: &mut Node) {
    let origin = item.origin.clone();
    if let Value::String(file) = &item.value {
        let mut map = Map::default();
        map.insert(key("path", &origin), string(file, &origin));
        item.value = Value::Map(map);
    }
    if let Some(map) = item.as_map_mut()
        && map.get("required").is_none()
    {
        map.insert(
            key("required", &origin),
            Node::new(Value::Bool(true), origin.clone()),
        );
    }
}

/// Service volumes in the long form, named volumes declared.
fn normalize_volumes(
    volumes: &mut Node,
    path: &ModelPath,
    declared: &Declared,
) -> Result<(), LoadError> {
    let Value::Seq(items) = &mut volumes.value else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let item_path = path.index(i);
        if let Value::String(spec) = &item.value {
            let long = short_volume(spec, &item.origin, &item_path)?;
            item.value = long;
        }
        let origin = item.origin.clone();
        let Some(map) = item.as_map_mut() else {
            continue;
        };
        let kind = map
            .get("type")
            .and_then(Node::as_str)
            .unwrap_or("volume")
            .to_string();
        let source = map.get("source").and_then(Node::as_str).map(str::to_string);
        match (kind.as_str(), source) {
            ("volume", Some(source)) if !declared.volumes.contains(&source) => {
                return Err(LoadError::at(
                    origin,
                    Some(&item_path),
                    format!(
                        "service refers to undefined volume {source:?}: declare it under the top-level `volumes:` key"
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `src:dst[:mode]` → the long form.
fn short_volume(spec: &str, origin: &Origin, path: &ModelPath) -> Result<Value, LoadError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => {
            return Err(LoadError::at(
                origin.clone(),
                Some(path),
                format!("{spec:?} is not a volume: expected [SOURCE:]TARGET[:MODE]"),
            ));
        }
    };
    let mut map = Map::default();
    let is_bind = source.is_some_and(|s| s.starts_with(['/', '.', '~']));
    map.insert(
        key("type", origin),
        string(if is_bind { "bind" } else { "volume" }, origin),
    );
    if let Some(source) = source {
        map.insert(key("source", origin), string(source, origin));
    }
    map.insert(key("target", origin), string(target, origin));
    let mut options: Vec<&str> = mode.map(|m| m.split(',').collect()).unwrap_or_default();
    if options.contains(&"ro") {
        map.insert(
            key("read_only", origin),
            Node::new(Value::Bool(true), origin.clone()),
        );
    }
    options.retain(|o| !matches!(*o, "ro" | "rw"));
    if is_bind {
        let mut bind = Map::default();
        bind.insert(
            key("create_host_path", origin),
            Node::new(Value::Bool(true), origin.clone()),
        );
        if let Some(label) = options.iter().find(|o| matches!(**o, "z" | "Z")) {
            bind.insert(key("selinux", origin), string(label, origin));
        }
        if let Some(propagation) = options
            .iter()
            .find(|o| o.contains("private") || o.contains("shared") || o.contains("slave"))
        {
            bind.insert(key("propagation", origin), string(propagation, origin));
        }
        map.insert(
            key("bind", origin),
            Node::new(Value::Map(bind), origin.clone()),
        );
    } else if options.contains(&"nocopy") {
        let mut volume = Map::default();
        volume.insert(
            key("nocopy", origin),
            Node::new(Value::Bool(true), origin.clone()),
        );
        map.insert(
            key("volume", origin),
            Node::new(Value::Map(volume), origin.clone()),
        );
    }
    Ok(Value::Map(map))
}

/// `depends_on: [a]` → `{a: {condition: service_started, required: true}}`,
/// every name a defined service other than this one.
fn normalize_depends_on(
    name: &str,
    depends: &mut Node,
    path: &ModelPath,
    declared: &Declared,
) -> Result<(), LoadError> {
    let mut out = Map::default();
    let entries: Vec<(Key, Option<Node>)> = match &depends.value {
        Value::Seq(items) => items
            .iter()
            .map(|item| {
                (
                    key(&item.scalar_text().unwrap_or_default(), &item.origin),
                    None,
                )
            })
            .collect(),
        Value::Map(map) => map
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
        _ => Vec::new(),
    };
    for (dependency, long) in entries {
        if !declared.services.contains(&dependency.name) {
            return Err(LoadError::at(
                dependency.origin.clone(),
                Some(&path.key(&dependency.name)),
                format!(
                    "service {name:?} depends on undefined service {:?}",
                    dependency.name
                ),
            ));
        }
        let mut long = match long {
            Some(node) if node.as_map().is_some() => node,
            _ => Node::new(Value::Map(Map::default()), dependency.origin.clone()),
        };
        let node_origin = long.origin.clone();
        if let Some(map) = long.as_map_mut() {
            if map.get("condition").is_none() {
                map.insert(
                    key("condition", &node_origin),
                    string("service_started", &node_origin),
                );
            }
            if map.get("required").is_none() {
                map.insert(
                    key("required", &node_origin),
                    Node::new(Value::Bool(true), node_origin.clone()),
                );
            }
        }
        out.insert(dependency, long);
    }
    depends.value = Value::Map(out);
    Ok(())
}

/// Service `secrets:` / `configs:`: names → `{source: name}`, declared.
fn normalize_file_refs(
    kind: &str,
    node: &mut Node,
    path: &ModelPath,
    declared: &BTreeSet<String>,
) -> Result<(), LoadError> {
    let Value::Seq(items) = &mut node.value else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let origin = item.origin.clone();
        if let Value::String(source) = &item.value {
            let mut map = Map::default();
            map.insert(key("source", &origin), string(source, &origin));
            item.value = Value::Map(map);
        }
        let source = item
            .get("source")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        if !declared.contains(&source) {
            return Err(LoadError::at(
                origin,
                Some(&path.index(i)),
                format!(
                    "service refers to undefined {} {source:?}: declare it under the top-level `{kind}:` key",
                    &kind[..kind.len() - 1]
                ),
            ));
        }
    }
    Ok(())
}

/// Service `networks: [a]` → `{a: null}`, every one declared (or `default`).
fn normalize_networks(
    networks: &mut Node,
    path: &ModelPath,
    declared: &BTreeSet<String>,
) -> Result<(), LoadError> {
    if let Value::Seq(items) = &networks.value {
        let mut map = Map::default();
        for item in items {
            let name = item.scalar_text().unwrap_or_default();
            map.insert(
                key(&name, &item.origin),
                Node::new(Value::Null, item.origin.clone()),
            );
        }
        networks.value = Value::Map(map);
    }
    if let Some(map) = networks.as_map() {
        for (name, _) in &map.entries {
            if name.name != "default" && !declared.contains(&name.name) {
                return Err(LoadError::at(
                    name.origin.clone(),
                    Some(&path.key(&name.name)),
                    format!(
                        "service refers to undefined network {:?}: declare it under the top-level `networks:` key",
                        name.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Gives a top-level network, volume, secret or config its real name
/// (`<project>_<name>` unless external or named).
fn name_resource(name: &str, resource: &mut Node, context: &Context<'_>) -> Result<(), LoadError> {
    let origin = resource.origin.clone();
    if matches!(resource.value, Value::Null) {
        resource.value = Value::Map(Map::default());
    }
    let Some(map) = resource.as_map_mut() else {
        return Ok(());
    };
    let external = matches!(
        map.get("external").map(|n| &n.value),
        Some(Value::Bool(true))
    );
    if map.get("name").is_none() {
        let real = if external {
            name.to_string()
        } else {
            format!("{}_{name}", context.name)
        };
        map.insert(key("name", &origin), string(&real, &origin));
    }
    Ok(())
}

/// Refuses dependency cycles (`a -> b -> a`, or a service on itself).
fn check_cycles(services: &Map) -> Result<(), LoadError> {
    fn visit<'a>(
        name: &'a str,
        services: &'a Map,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), LoadError> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(start) = stack.iter().position(|n| *n == name) {
            let mut cycle: Vec<&str> = stack[start..].to_vec();
            cycle.push(name);
            let origin = services
                .key(stack[start])
                .map(|k| k.origin.clone())
                .unwrap_or_else(|| Origin::file(std::sync::Arc::new(PathBuf::new())));
            return Err(LoadError::at(
                origin,
                Some(
                    &ModelPath::root()
                        .key("services")
                        .key(stack[start])
                        .key("depends_on"),
                ),
                format!("dependency cycle detected: {}", cycle.join(" -> ")),
            ));
        }
        stack.push(name);
        if let Some(depends) = services
            .get(name)
            .and_then(|s| s.get("depends_on"))
            .and_then(Node::as_map)
        {
            for dependency in depends.keys() {
                visit(dependency, services, stack, done)?;
            }
        }
        stack.pop();
        done.insert(name);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for name in services.keys() {
        visit(name, services, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

fn key(name: &str, origin: &Origin) -> Key {
    Key {
        name: name.to_string(),
        origin: origin.clone(),
    }
}

fn string(text: &str, origin: &Origin) -> Node {
    Node::new(Value::String(text.to_string()), origin.clone())
}
