//! Several compose files merged into one model, by the rules of the spec's
//! "Merge and override" chapter as Docker Compose (compose-go) applies them:
//! mappings merge key by key, scalars are replaced, sequences are appended,
//! except where the `RULES` table says otherwise (commands are replaced, ports and
//! mounts are unique by their target, `environment` and `labels` merge as
//! `KEY=VALUE` pairs whether written as lists or mappings, …).
//!
//! `!reset` on a later value removes the key (or sequence item) from the
//! result; `!override` replaces the earlier value instead of merging with
//! it. Every value in the result is the node of the file that supplied it,
//! so later errors point into the right file.

use crate::error::{LoadError, ModelPath, Segment};
use crate::node::{Key, Map, Node, Origin, Tag, Value};
use crate::ports::parse_ports;

/// Merges a later compose file (`overlay`) into an earlier one (`base`).
///
/// `base` may be the merge of several earlier files, or an empty (null)
/// node for the first file. Its own `!reset` / `!override` tags are
/// applied as [`settle_tags`] does; the result carries no tags.
pub fn merge(base: Node, overlay: Node) -> Result<Node, LoadError> {
    let merger = Merger { tags: Tags::Apply };
    let origin = overlay.origin.clone();
    let merged = merger.entry(Some(settle_tags(base)), overlay, &ModelPath::root())?;
    Ok(merged.unwrap_or_else(|| Node::new(Value::Null, origin)))
}

/// Merges service `name` over the service it `extends` (`base`), by the
/// same rules as [`merge`] applies under `services.<name>`.
///
/// The tags of `base` are applied (they were about its own file); the
/// `!reset` / `!override` tags of `service` are applied and also kept in
/// the result, so that they still act on earlier files when `service`'s
/// file is merged over them, as in Docker Compose.
pub fn merge_service(name: &str, base: Node, service: Node) -> Result<Node, LoadError> {
    let merger = Merger { tags: Tags::Keep };
    let path = ModelPath::root().key("services").key(name);
    let origin = service.origin.clone();
    let merged = merger.entry(Some(settle_tags(base)), service, &path)?;
    Ok(merged.unwrap_or_else(|| Node::new(Value::Null, origin)))
}

/// A file's own tags applied as if it were merged over nothing: values
/// tagged `!reset` are dropped and every tag is forgotten. For a project
/// made of one file ([`merge`] does this to its `base` itself).
pub fn settle_tags(node: Node) -> Node {
    Node {
        value: match node.value {
            Value::Map(map) => Value::Map(Map {
                entries: map
                    .entries
                    .into_iter()
                    .filter_map(|(k, v)| settled(v).map(|v| (k, v)))
                    .collect(),
            }),
            Value::Seq(items) => Value::Seq(items.into_iter().filter_map(settled).collect()),
            scalar => scalar,
        },
        tag: None,
        ..node
    }
}

/// [`settle_tags`] for a value that may itself be tagged `!reset`.
fn settled(node: Node) -> Option<Node> {
    (node.tag != Some(Tag::Reset)).then(|| settle_tags(node))
}

/// How a value at some path merges with the value an earlier file gave it.
#[derive(Clone, Copy)]
enum Rule {
    /// Mappings merge key by key, sequences are appended, scalars replaced.
    Deep,
    /// The later value replaces the earlier one.
    Replace,
    /// A string is shorthand for a mapping with this one key (`build: .`
    /// is `build: {context: .}`); mappings then merge.
    Shorthand(&'static str),
    /// Mappings merge unless both name a different value under this key
    /// (`logging.driver`, a mount's `type`); otherwise the later replaces.
    SameKind(&'static str),
    /// Mappings merge; any other shape is replaced (`ulimits.nofile: 1024`
    /// over `{soft, hard}`).
    MappingOrReplace,
    /// `KEY=VALUE` pairs as a list or a mapping: two lists are appended
    /// with one entry per key; otherwise both become mappings and the later
    /// value of a key replaces the earlier.
    KeyValue,
    /// A sequence (or a single string) whose items are unique by the
    /// identity this function gives them: an item sharing an identity with
    /// an earlier one is merged into its place, others are appended.
    Unique(Identity),
    /// `extra_hosts`: lists or mappings of host to address(es), merged as
    /// a list of `host=address` with repeats removed.
    ExtraHosts,
    /// Service names as a list or as a mapping of names to options
    /// (`networks`, `models`): two lists are united, otherwise both become
    /// mappings and merge.
    Names,
    /// `depends_on`: as [`Rule::Names`], a listed name standing for
    /// `{condition: service_started, required: true}`.
    DependsOn,
}

/// What identifies an item of a [`Rule::Unique`] sequence; `None` for an
/// item without identity (appended as it is).
type Identity = fn(&Node) -> Option<String>;

/// The merge rules, by path in the model (`*`: any key or index). Paths
/// not listed use [`Rule::Deep`].
const RULES: &[(&str, Rule)] = &[
    ("services.*.command", Rule::Replace),
    ("services.*.entrypoint", Rule::Replace),
    ("services.*.healthcheck.test", Rule::Replace),
    ("services.*.build", Rule::Shorthand("context")),
    ("services.*.extends", Rule::Shorthand("service")),
    ("services.*.logging", Rule::SameKind("driver")),
    ("services.*.ulimits.*", Rule::MappingOrReplace),
    ("services.*.environment", Rule::KeyValue),
    ("services.*.labels", Rule::KeyValue),
    ("services.*.annotations", Rule::KeyValue),
    ("services.*.sysctls", Rule::KeyValue),
    ("services.*.build.args", Rule::KeyValue),
    ("services.*.build.labels", Rule::KeyValue),
    ("services.*.build.additional_contexts", Rule::KeyValue),
    ("services.*.deploy.labels", Rule::KeyValue),
    ("services.*.volumes.*.volume.labels", Rule::KeyValue),
    ("networks.*.labels", Rule::KeyValue),
    ("volumes.*.labels", Rule::KeyValue),
    ("configs.*.labels", Rule::KeyValue),
    ("secrets.*.labels", Rule::KeyValue),
    ("services.*.extra_hosts", Rule::ExtraHosts),
    ("services.*.build.extra_hosts", Rule::ExtraHosts),
    ("services.*.networks", Rule::Names),
    ("services.*.models", Rule::Names),
    ("services.*.depends_on", Rule::DependsOn),
    ("services.*.ports", Rule::Unique(port_identity)),
    ("services.*.ports.*", Rule::MappingOrReplace),
    ("services.*.volumes", Rule::Unique(container_path)),
    ("services.*.volumes.*", Rule::SameKind("type")),
    ("services.*.secrets", Rule::Unique(secret_target)),
    ("services.*.secrets.*", Rule::MappingOrReplace),
    ("services.*.configs", Rule::Unique(config_target)),
    ("services.*.configs.*", Rule::MappingOrReplace),
    ("services.*.devices", Rule::Unique(device_path)),
    ("services.*.devices.*", Rule::MappingOrReplace),
    ("services.*.env_file", Rule::Unique(env_file_path)),
    ("services.*.env_file.*", Rule::MappingOrReplace),
    ("services.*.tmpfs", Rule::Unique(tmpfs_path)),
    (
        "services.*.blkio_config.device_read_bps",
        Rule::Unique(path_field),
    ),
    (
        "services.*.blkio_config.device_read_iops",
        Rule::Unique(path_field),
    ),
    (
        "services.*.blkio_config.device_write_bps",
        Rule::Unique(path_field),
    ),
    (
        "services.*.blkio_config.device_write_iops",
        Rule::Unique(path_field),
    ),
    (
        "services.*.blkio_config.weight_device",
        Rule::Unique(path_field),
    ),
    ("services.*.expose", Rule::Unique(text)),
    ("services.*.label_file", Rule::Unique(text)),
    ("services.*.dns", Rule::Unique(text)),
    ("services.*.dns_opt", Rule::Unique(text)),
    ("services.*.dns_search", Rule::Unique(text)),
    ("services.*.cap_add", Rule::Unique(text)),
    ("services.*.cap_drop", Rule::Unique(text)),
    ("services.*.security_opt", Rule::Unique(text)),
    ("services.*.device_cgroup_rules", Rule::Unique(text)),
    ("services.*.links", Rule::Unique(text)),
    ("services.*.external_links", Rule::Unique(text)),
    ("services.*.volumes_from", Rule::Unique(text)),
    ("services.*.profiles", Rule::Unique(text)),
    ("services.*.networks.*.aliases", Rule::Unique(text)),
    ("services.*.networks.*.link_local_ips", Rule::Unique(text)),
    ("services.*.build.tags", Rule::Unique(text)),
    ("services.*.build.platforms", Rule::Unique(text)),
    ("networks.*.ipam.config", Rule::Unique(subnet)),
    ("networks.*.ipam.config.*", Rule::MappingOrReplace),
];

/// The rule for the value at `path`.
fn rule_at(path: &ModelPath) -> Rule {
    RULES
        .iter()
        .find(|(pattern, _)| matches(pattern, path))
        .map_or(Rule::Deep, |(_, rule)| *rule)
}

/// Whether `path` fits `pattern` (`services.*.ports`).
fn matches(pattern: &str, path: &ModelPath) -> bool {
    let segments = path.segments();
    pattern.split('.').count() == segments.len()
        && pattern
            .split('.')
            .zip(segments)
            .all(|(part, segment)| match segment {
                _ if part == "*" => true,
                Segment::Key(key) => key == part,
                Segment::Index(_) => false,
            })
}

/// What becomes of the overlay's `!reset` / `!override` tags.
#[derive(Clone, Copy)]
enum Tags {
    /// Applied, then forgotten: merging whole files.
    Apply,
    /// Applied, and kept in the result: `extends`, whose result is merged
    /// over earlier files afterwards.
    Keep,
}

/// One merge, with its handling of tags.
struct Merger {
    tags: Tags,
}

impl Merger {
    /// Merges `overlay` into what an earlier file said at `path` (`base`,
    /// when it said anything); `None` when the result has no value there.
    fn entry(
        &self,
        base: Option<Node>,
        overlay: Node,
        path: &ModelPath,
    ) -> Result<Option<Node>, LoadError> {
        match base {
            Some(base) if overlay.tag.is_none() => self.value(base, overlay, path).map(Some),
            _ => Ok(self.added(overlay)),
        }
    }

    /// A value of the overlay taken as it is: `None` for a `!reset` whose
    /// tag is applied, else the node with its tags applied (or kept).
    fn added(&self, node: Node) -> Option<Node> {
        match self.tags {
            Tags::Apply => settled(node),
            Tags::Keep => Some(node),
        }
    }

    /// [`Merger::added`] for a node known not to be tagged `!reset`.
    fn taken(&self, node: Node) -> Node {
        match self.tags {
            Tags::Apply => settle_tags(node),
            Tags::Keep => node,
        }
    }

    /// Merges two untagged-at-the-top values by the rule for `path`.
    fn value(&self, base: Node, overlay: Node, path: &ModelPath) -> Result<Node, LoadError> {
        if overlay.value == Value::Null {
            return Ok(base);
        }
        if base.value == Value::Null {
            return Ok(self.taken(overlay));
        }
        match rule_at(path) {
            Rule::Deep => self.deep(base, overlay, path),
            Rule::Replace => Ok(self.taken(overlay)),
            Rule::Shorthand(key) => self.shorthand(key, base, overlay, path),
            Rule::SameKind(key) => self.same_kind(key, base, overlay, path),
            Rule::MappingOrReplace => match (base.value, overlay.value) {
                (Value::Map(a), Value::Map(b)) => self.mapping(a, b, base.origin, path),
                (_, value) => Ok(self.taken(Node { value, ..overlay })),
            },
            Rule::KeyValue => self.key_value(base, overlay, path),
            Rule::Unique(identity) => self.unique(identity, base, overlay, path),
            Rule::ExtraHosts => self.extra_hosts(base, overlay, path),
            Rule::Names => self.names(None, base, overlay, path),
            Rule::DependsOn => self.names(Some(started), base, overlay, path),
        }
    }

    /// [`Rule::Deep`].
    fn deep(&self, base: Node, overlay: Node, path: &ModelPath) -> Result<Node, LoadError> {
        match (base.value, overlay.value) {
            (Value::Map(a), Value::Map(b)) => self.mapping(a, b, base.origin, path),
            (Value::Seq(mut a), Value::Seq(b)) => {
                a.extend(b.into_iter().filter_map(|item| self.added(item)));
                Ok(Node::new(Value::Seq(a), base.origin))
            }
            (a @ (Value::Map(_) | Value::Seq(_)), b) => Err(mismatch(
                &Node::new(a, base.origin),
                &Node {
                    value: b,
                    ..overlay
                },
                path,
            )),
            (_, value) => Ok(self.taken(Node { value, ..overlay })),
        }
    }

    /// Merges two mappings key by key; the result has `origin`.
    fn mapping(
        &self,
        mut base: Map,
        overlay: Map,
        origin: Origin,
        path: &ModelPath,
    ) -> Result<Node, LoadError> {
        for (key, value) in overlay.entries {
            let here = path.key(&key.name);
            match base.entries.iter().position(|(k, _)| k.name == key.name) {
                Some(index) => {
                    let earlier = take(&mut base.entries[index].1);
                    match self.entry(Some(earlier), value, &here)? {
                        Some(merged) => base.entries[index].1 = merged,
                        None => {
                            base.entries.remove(index);
                        }
                    }
                }
                None => base
                    .entries
                    .extend(self.added(value).map(|added| (key, added))),
            }
        }
        Ok(Node::new(Value::Map(base), origin))
    }

    /// [`Rule::Shorthand`].
    fn shorthand(
        &self,
        key: &str,
        base: Node,
        overlay: Node,
        path: &ModelPath,
    ) -> Result<Node, LoadError> {
        if is_scalar(&base) && is_scalar(&overlay) {
            return Ok(self.taken(overlay));
        }
        match (expand(key, base), expand(key, overlay)) {
            (Ok(a), Ok(b)) => self.deep(a, b, path),
            (Err(a), Err(b) | Ok(b)) | (Ok(a), Err(b)) => Err(mismatch(&a, &b, path)),
        }
    }

    /// [`Rule::SameKind`].
    fn same_kind(
        &self,
        key: &str,
        base: Node,
        overlay: Node,
        path: &ModelPath,
    ) -> Result<Node, LoadError> {
        let kind = |node: &Node| node.get(key).and_then(Node::scalar_text);
        let differ = matches!((kind(&base), kind(&overlay)), (Some(a), Some(b)) if a != b);
        match (base.value, overlay.value) {
            (Value::Map(a), Value::Map(b)) if !differ => self.mapping(a, b, base.origin, path),
            (_, value) => Ok(self.taken(Node { value, ..overlay })),
        }
    }

    /// [`Rule::KeyValue`].
    fn key_value(&self, base: Node, overlay: Node, path: &ModelPath) -> Result<Node, LoadError> {
        if let (Value::Seq(_), Value::Seq(_)) = (&base.value, &overlay.value) {
            return self.unique(key_of_pair, base, overlay, path);
        }
        if !is_collection(&base) || !is_collection(&overlay) {
            return Err(mismatch(&base, &overlay, path));
        }
        let origin = base.origin.clone();
        let mut pairs = to_pairs(base, path)?;
        for (key, value) in to_pairs(overlay, path)?.entries {
            match self.added(value) {
                Some(value) => pairs.insert(key, value),
                None => {
                    pairs.remove(&key.name);
                }
            }
        }
        Ok(Node::new(Value::Map(pairs), origin))
    }

    /// [`Rule::Unique`].
    fn unique(
        &self,
        identity: Identity,
        base: Node,
        overlay: Node,
        path: &ModelPath,
    ) -> Result<Node, LoadError> {
        if matches!(base.value, Value::Map(_)) || matches!(overlay.value, Value::Map(_)) {
            return Err(mismatch(&base, &overlay, path));
        }
        let origin = base.origin.clone();
        let mut items = Vec::new();
        for item in into_items(base).into_iter().chain(into_items(overlay)) {
            self.add_unique(&mut items, item, identity, path)?;
        }
        Ok(Node::new(Value::Seq(items), origin))
    }

    /// Adds `item` to `items`, or merges it into the item of the same
    /// identity.
    fn add_unique(
        &self,
        items: &mut Vec<Node>,
        item: Node,
        identity: Identity,
        path: &ModelPath,
    ) -> Result<(), LoadError> {
        let same = identity(&item)
            .and_then(|id| items.iter().position(|i| identity(i).as_ref() == Some(&id)));
        match same {
            Some(index) => {
                let earlier = take(&mut items[index]);
                match self.entry(Some(earlier), item, &path.index(index))? {
                    Some(merged) => items[index] = merged,
                    None => {
                        items.remove(index);
                    }
                }
            }
            None => items.extend(self.added(item)),
        }
        Ok(())
    }

    /// [`Rule::ExtraHosts`].
    fn extra_hosts(&self, base: Node, overlay: Node, path: &ModelPath) -> Result<Node, LoadError> {
        if !is_collection(&base) || !is_collection(&overlay) {
            return Err(mismatch(&base, &overlay, path));
        }
        let origin = base.origin.clone();
        let mut hosts = host_entries(base);
        for entry in host_entries(overlay) {
            let text = entry.scalar_text();
            if !hosts.iter().any(|h| h.scalar_text() == text) {
                hosts.extend(self.added(entry));
            }
        }
        Ok(Node::new(Value::Seq(hosts), origin))
    }

    /// [`Rule::Names`] and, with `listed` giving a listed name's options,
    /// [`Rule::DependsOn`].
    fn names(
        &self,
        listed: Option<fn(&Origin) -> Node>,
        base: Node,
        overlay: Node,
        path: &ModelPath,
    ) -> Result<Node, LoadError> {
        if !is_collection(&base) || !is_collection(&overlay) {
            return Err(mismatch(&base, &overlay, path));
        }
        if let (Value::Seq(_), Value::Seq(_)) = (&base.value, &overlay.value) {
            return self.unique(text, base, overlay, path);
        }
        let origin = base.origin.clone();
        let base = name_mapping(base, listed, path)?;
        let overlay = match overlay.value {
            // A name only listed again keeps the options an earlier file
            // gave it.
            Value::Seq(items) => Node {
                value: Value::Seq(
                    items
                        .into_iter()
                        .filter(|item| {
                            item.tag.is_some() || text(item).is_none_or(|n| base.get(&n).is_none())
                        })
                        .collect(),
                ),
                ..overlay
            },
            _ => overlay,
        };
        let overlay = name_mapping(overlay, listed, path)?;
        self.mapping(base, overlay, origin, path)
    }
}

/// The value out of `slot`, leaving a null in its place.
fn take(slot: &mut Node) -> Node {
    let origin = slot.origin.clone();
    std::mem::replace(slot, Node::new(Value::Null, origin))
}

/// Why `overlay` cannot merge with `base`.
fn mismatch(base: &Node, overlay: &Node, path: &ModelPath) -> LoadError {
    LoadError::at(
        overlay.origin.clone(),
        Some(path),
        format!(
            "cannot merge {} into {} (the earlier value, at {})",
            overlay.kind(),
            base.kind(),
            base.origin
        ),
    )
}

fn is_scalar(node: &Node) -> bool {
    !matches!(node.value, Value::Map(_) | Value::Seq(_))
}

fn is_collection(node: &Node) -> bool {
    matches!(node.value, Value::Map(_) | Value::Seq(_))
}

/// A key named `name` written at `origin`.
fn key(name: &str, origin: &Origin) -> Key {
    Key {
        name: name.to_string(),
        origin: origin.clone(),
    }
}

/// A string node made from `from` (its place and tag).
fn string_from(text: String, from: &Node) -> Node {
    Node {
        value: Value::String(text),
        origin: from.origin.clone(),
        tag: from.tag,
    }
}

/// `.` as `{key: .}`; a mapping as it is; other shapes given back.
fn expand(key_name: &str, node: Node) -> Result<Node, Node> {
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Seq(_) => Err(node),
        _ => {
            let mut map = Map::default();
            let origin = node.origin.clone();
            map.insert(key(key_name, &origin), Node { tag: None, ..node });
            Ok(Node::new(Value::Map(map), origin))
        }
    }
}

/// A sequence's items; a single value as a one-item list (`dns: 1.1.1.1`).
fn into_items(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        _ => vec![node],
    }
}

/// A list of `KEY=VALUE` (or `KEY`) strings as a mapping; a mapping as it
/// is.
fn to_pairs(node: Node, path: &ModelPath) -> Result<Map, LoadError> {
    let items = match node.value {
        Value::Map(map) => return Ok(map),
        Value::Seq(items) => items,
        _ => Vec::new(),
    };
    let mut map = Map::default();
    for (index, item) in items.into_iter().enumerate() {
        let Some(text) = item.scalar_text() else {
            return Err(LoadError::at(
                item.origin.clone(),
                Some(&path.index(index)),
                format!("expected a KEY=VALUE string, got {}", item.kind()),
            ));
        };
        let (name, value) = match text.split_once('=') {
            Some((name, value)) => (name.to_string(), Value::String(value.to_string())),
            None => (text, Value::Null),
        };
        let value = Node {
            value,
            origin: item.origin.clone(),
            tag: item.tag,
        };
        map.insert(key(&name, &item.origin), value);
    }
    Ok(map)
}

/// `extra_hosts` as a list of `host=address` (or as written) entries.
fn host_entries(node: Node) -> Vec<Node> {
    let map = match node.value {
        Value::Map(map) => map,
        Value::Seq(items) => return items,
        _ => return vec![node],
    };
    let mut entries = Vec::new();
    for (host, addresses) in map.entries {
        match &addresses.value {
            Value::Seq(items) => entries.extend(items.iter().map(|address| {
                let text = address.scalar_text().unwrap_or_default();
                string_from(format!("{}={text}", host.name), address)
            })),
            _ => entries.push(match addresses.scalar_text() {
                Some(text) => string_from(format!("{}={text}", host.name), &addresses),
                None => string_from(host.name, &addresses),
            }),
        }
    }
    entries
}

/// A list of names as a mapping of each name to `listed` (or null); a
/// mapping as it is.
fn name_mapping(
    node: Node,
    listed: Option<fn(&Origin) -> Node>,
    path: &ModelPath,
) -> Result<Map, LoadError> {
    let items = match node.value {
        Value::Map(map) => return Ok(map),
        Value::Seq(items) => items,
        _ => Vec::new(),
    };
    let mut map = Map::default();
    for (index, item) in items.into_iter().enumerate() {
        let Some(name) = item.scalar_text() else {
            return Err(LoadError::at(
                item.origin.clone(),
                Some(&path.index(index)),
                format!("expected a name, got {}", item.kind()),
            ));
        };
        let options = match listed {
            Some(listed) => listed(&item.origin),
            None => Node::new(Value::Null, item.origin.clone()),
        };
        map.insert(
            key(&name, &item.origin),
            Node {
                tag: item.tag,
                ..options
            },
        );
    }
    Ok(map)
}

/// What `depends_on: [name]` means: `{condition: service_started,
/// required: true}`.
fn started(origin: &Origin) -> Node {
    let mut map = Map::default();
    let condition = Value::String("service_started".to_string());
    map.insert(
        key("condition", origin),
        Node::new(condition, origin.clone()),
    );
    map.insert(
        key("required", origin),
        Node::new(Value::Bool(true), origin.clone()),
    );
    Node::new(Value::Map(map), origin.clone())
}

/// An item's text (`80` and `"80"` alike).
fn text(node: &Node) -> Option<String> {
    node.scalar_text()
}

/// The key of a `KEY=VALUE` (or `KEY`) item.
fn key_of_pair(node: &Node) -> Option<String> {
    let text = node.scalar_text()?;
    Some(match text.split_once('=') {
        Some((key, _)) => key.to_string(),
        None => text,
    })
}

/// A string field of a mapping item.
fn field(node: &Node, name: &str) -> Option<String> {
    node.get(name).and_then(Node::scalar_text)
}

/// A port by host address, published port(s), target and protocol, short
/// and long syntax alike (`"8080:80"` is `{target: 80, published: 8080}`).
fn port_identity(node: &Node) -> Option<String> {
    let entries = parse_ports(node, &ModelPath::root()).ok()?;
    let ids: Vec<String> = entries
        .iter()
        .map(|entry| {
            let host = field(entry, "host_ip").filter(|ip| ip != "0.0.0.0");
            format!(
                "{}:{}:{}/{}",
                host.unwrap_or_default(),
                field(entry, "published").unwrap_or_default(),
                field(entry, "target").unwrap_or_default(),
                field(entry, "protocol").unwrap_or_default(),
            )
        })
        .collect();
    Some(ids.join(","))
}

/// A service volume by its path in the container, short syntax
/// (`src:/target:ro`) and long syntax (`target:`) alike.
fn container_path(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(short) => {
            let mut parts = short.split(':');
            let first = parts.next()?;
            Some(parts.next().unwrap_or(first).to_string())
        }
        _ => field(node, "target"),
    }
}

/// A device by its path in the container: the short syntax as `--device`
/// reads it (`/dev/sda:r` is at `/dev/sda`), the long syntax's `target`,
/// else its `source`.
fn device_path(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(short) => hoist_api::device::DeviceMapping::parse(short)
            .ok()
            .map(|d| d.path_in_container),
        _ => field(node, "target").or_else(|| field(node, "source")),
    }
}

/// A secret by the path it is mounted at.
fn secret_target(node: &Node) -> Option<String> {
    mount_target(node, "/run/secrets/")
}

/// A config by the path it is mounted at.
fn config_target(node: &Node) -> Option<String> {
    mount_target(node, "/")
}

/// Where a secret or config is mounted: `target`, else under `dir` by its
/// source name; a relative target is under `dir` too.
fn mount_target(node: &Node, dir: &str) -> Option<String> {
    let name = match &node.value {
        Value::String(source) => source.clone(),
        _ => field(node, "target").or_else(|| field(node, "source"))?,
    };
    if name.starts_with('/') {
        Some(name)
    } else {
        Some(format!("{dir}{name}"))
    }
}

/// An env file by its path.
fn env_file_path(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(path) => Some(path.clone()),
        _ => field(node, "path"),
    }
}

/// A tmpfs mount by its path (`/run:size=64m` → `/run`).
fn tmpfs_path(node: &Node) -> Option<String> {
    let text = node.scalar_text()?;
    Some(text.split(':').next().unwrap_or_default().to_string())
}

/// A `blkio_config` device entry by its `path`.
fn path_field(node: &Node) -> Option<String> {
    field(node, "path")
}

/// An IPAM pool by its subnet.
fn subnet(node: &Node) -> Option<String> {
    field(node, "subnet")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn yaml(file: &str, text: &str) -> Node {
        Node::parse(Path::new(file), text).unwrap()
    }

    /// Merges the texts as compose.yaml, override.yaml, third.yaml, ….
    fn merged(texts: &[&str]) -> Node {
        let names = ["compose.yaml", "override.yaml", "third.yaml"];
        let mut result = yaml("empty.yaml", "");
        for (name, text) in names.iter().zip(texts) {
            result = merge(result, yaml(name, text)).unwrap();
        }
        result
    }

    fn assert_merges(texts: &[&str], want: &str) {
        let got = merged(texts);
        assert_eq!(got.to_json(), yaml("want.yaml", want).to_json());
    }

    fn error(base: &str, overlay: &str) -> String {
        let base = yaml("compose.yaml", base);
        merge(base, yaml("override.yaml", overlay))
            .unwrap_err()
            .to_string()
    }

    fn web<'a>(root: &'a Node, key: &str) -> &'a Node {
        root.get("services")
            .and_then(|s| s.get("web"))
            .and_then(|w| w.get(key))
            .unwrap()
    }

    #[test]
    fn mappings_merge_and_scalars_are_replaced() {
        assert_merges(
            &[
                "services:\n  foo:\n    key1: value1\n    key2: value2\n",
                "services:\n  foo:\n    key2: VALUE\n    key3: value3\n",
            ],
            "services:\n  foo:\n    key1: value1\n    key2: VALUE\n    key3: value3\n",
        );
    }

    #[test]
    fn sequences_are_appended() {
        assert_merges(
            &[
                "services:\n  foo:\n    DNS:\n      - 1.1.1.1\n",
                "services:\n  foo:\n    DNS:\n      - 8.8.8.8\n",
            ],
            "services:\n  foo:\n    DNS: [1.1.1.1, 8.8.8.8]\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    group_add: [a, b]\n",
                "services:\n  foo:\n    group_add: [b]\n",
            ],
            "services:\n  foo:\n    group_add: [a, b, b]\n",
        );
    }

    #[test]
    fn three_files_merge_in_order() {
        assert_merges(
            &[
                "services:\n  test:\n    image: foo\n    scale: 1\n",
                "services:\n  test:\n    image: bar\n",
                "services:\n  test:\n    scale: 2\n",
            ],
            "services:\n  test:\n    image: bar\n    scale: 2\n",
        );
    }

    #[test]
    fn shell_commands_are_replaced() {
        assert_merges(
            &[
                "services:\n  foo:\n    command: [echo, foo]\n    entrypoint: [sh, -c]\n    healthcheck:\n      test: [CMD, a]\n      interval: 5s\n",
                "services:\n  foo:\n    command: [echo, bar]\n    entrypoint: /bin/run\n    healthcheck:\n      test: [CMD, b]\n",
            ],
            "services:\n  foo:\n    command: [echo, bar]\n    entrypoint: /bin/run\n    healthcheck:\n      test: [CMD, b]\n      interval: 5s\n",
        );
    }

    #[test]
    fn volumes_are_unique_by_target() {
        assert_merges(
            &[
                "services:\n  foo:\n    volumes:\n      - foo:/work\n      - ./data:/data\n",
                "services:\n  foo:\n    volumes:\n      - bar:/work\n      - /other:/other:ro\n",
            ],
            "services:\n  foo:\n    volumes:\n      - bar:/work\n      - ./data:/data\n      - /other:/other:ro\n",
        );
        // Short and long syntax name the same target.
        assert_merges(
            &[
                "services:\n  foo:\n    volumes: [\"foo:/work\"]\n",
                "services:\n  foo:\n    volumes:\n      - {type: bind, source: ./w, target: /work}\n",
            ],
            "services:\n  foo:\n    volumes:\n      - {type: bind, source: ./w, target: /work}\n",
        );
    }

    #[test]
    fn long_volumes_merge_when_of_the_same_type() {
        assert_merges(
            &[
                "services:\n  foo:\n    volumes:\n      - {type: volume, source: a, target: /w, volume: {nocopy: true}}\n      - {type: bind, source: ./b, target: /b, bind: {create_host_path: true}}\n",
                "services:\n  foo:\n    volumes:\n      - {type: volume, source: c, target: /w, read_only: true}\n      - {type: volume, source: d, target: /b}\n",
            ],
            "services:\n  foo:\n    volumes:\n      - {type: volume, source: c, target: /w, read_only: true, volume: {nocopy: true}}\n      - {type: volume, source: d, target: /b}\n",
        );
    }

    #[test]
    fn ports_are_unique_by_address_published_target_and_protocol() {
        assert_merges(
            &[
                "services:\n  foo:\n    ports:\n      - \"8080:80\"\n      - \"80\"\n      - 443\n      - \"127.0.0.1:9000:9000\"\n",
                "services:\n  foo:\n    ports:\n      - {target: 80, published: \"8080\", name: web}\n      - \"8081:80\"\n      - \"443\"\n      - \"8080:80/udp\"\n      - \"9000:9000\"\n      - \"0.0.0.0:8081:80\"\n",
            ],
            "services:\n  foo:\n    ports:\n      - {target: 80, published: \"8080\", name: web}\n      - \"80\"\n      - \"443\"\n      - \"127.0.0.1:9000:9000\"\n      - \"0.0.0.0:8081:80\"\n      - \"8080:80/udp\"\n      - \"9000:9000\"\n",
        );
    }

    #[test]
    fn secrets_and_configs_are_unique_by_target() {
        assert_merges(
            &[
                "services:\n  foo:\n    secrets: [db, api]\n    configs: [app]\n",
                "services:\n  foo:\n    secrets:\n      - {source: db, target: /run/secrets/db, mode: 0400}\n      - {source: other, target: api}\n    configs:\n      - {source: app, target: /app, mode: 0440}\n      - {source: app, target: /etc/app}\n",
            ],
            "services:\n  foo:\n    secrets:\n      - {source: db, target: /run/secrets/db, mode: 0400}\n      - {source: other, target: api}\n    configs:\n      - {source: app, target: /app, mode: 0440}\n      - {source: app, target: /etc/app}\n",
        );
    }

    #[test]
    fn string_or_list_attributes_become_lists_without_repeats() {
        assert_merges(
            &[
                "services:\n  foo:\n    dns: 1.1.1.1\n    env_file: .env\n    tmpfs: /run:size=1m\n    cap_add: [NET_ADMIN]\n    expose: [80]\n    devices: [\"/dev/a:/dev/x\"]\n",
                "services:\n  foo:\n    dns: [8.8.8.8, 1.1.1.1]\n    env_file: [{path: .env, required: false}, other.env]\n    tmpfs: [/run:size=2m, /tmp]\n    cap_add: [NET_ADMIN, SYS_TIME]\n    expose: [\"80\", \"81\"]\n    devices: [{source: /dev/b, target: /dev/x}]\n",
            ],
            "services:\n  foo:\n    dns: [1.1.1.1, 8.8.8.8]\n    env_file: [{path: .env, required: false}, other.env]\n    tmpfs: [/run:size=2m, /tmp]\n    cap_add: [NET_ADMIN, SYS_TIME]\n    expose: [\"80\", \"81\"]\n    devices: [{source: /dev/b, target: /dev/x}]\n",
        );
    }

    #[test]
    fn devices_are_unique_by_their_path_in_the_container() {
        // `/dev/sda:r` is at /dev/sda (`r` is its permissions); a long entry
        // without a target is at its source.
        assert_merges(
            &[
                "services:\n  foo:\n    devices: [\"/dev/sda:r\", /dev/fuse]\n",
                "services:\n  foo:\n    devices: [{source: /dev/sda, permissions: rw}]\n",
            ],
            "services:\n  foo:\n    devices: [{source: /dev/sda, permissions: rw}, /dev/fuse]\n",
        );
    }

    #[test]
    fn environment_merges_by_key_in_either_form() {
        // Two mappings.
        assert_merges(
            &[
                "services:\n  foo:\n    environment:\n      A: '1'\n      B: '2'\n",
                "services:\n  foo:\n    environment:\n      B: '3'\n      C:\n",
            ],
            "services:\n  foo:\n    environment:\n      A: '1'\n      B: '3'\n      C:\n",
        );
        // Two lists stay a list, one entry per key.
        assert_merges(
            &[
                "services:\n  foo:\n    environment: [A=1, B=2, A=0]\n",
                "services:\n  foo:\n    environment: [B=3, C]\n",
            ],
            "services:\n  foo:\n    environment: [A=0, B=3, C]\n",
        );
        // A list and a mapping become a mapping.
        assert_merges(
            &[
                "services:\n  foo:\n    labels: [a=1, b=2, c]\n",
                "services:\n  foo:\n    labels:\n      b: x\n",
            ],
            "services:\n  foo:\n    labels:\n      a: '1'\n      b: x\n      c:\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    build:\n      args:\n        A: 1\n",
                "services:\n  foo:\n    build:\n      args: [A=2, B=3]\n",
            ],
            "services:\n  foo:\n    build:\n      args:\n        A: '2'\n        B: '3'\n",
        );
    }

    #[test]
    fn a_null_value_unsets_an_environment_variable_but_keeps_other_values() {
        assert_merges(
            &[
                "services:\n  foo:\n    image: a\n    environment:\n      A: '1'\n",
                "services:\n  foo:\n    image:\n    environment:\n      A:\n",
            ],
            "services:\n  foo:\n    image: a\n    environment:\n      A:\n",
        );
    }

    #[test]
    fn extra_hosts_keep_every_address_once() {
        assert_merges(
            &[
                "services:\n  foo:\n    extra_hosts: [\"a=1.1.1.1\", \"b:2.2.2.2\"]\n",
                "services:\n  foo:\n    extra_hosts:\n      a: 1.1.1.1\n      c: [3.3.3.3, \"::1\"]\n      b: 4.4.4.4\n",
            ],
            "services:\n  foo:\n    extra_hosts: [\"a=1.1.1.1\", \"b:2.2.2.2\", \"c=3.3.3.3\", \"c=::1\", \"b=4.4.4.4\"]\n",
        );
    }

    #[test]
    fn depends_on_lists_and_mappings() {
        assert_merges(
            &[
                "services:\n  foo:\n    depends_on: [a, b]\n",
                "services:\n  foo:\n    depends_on: [b, c]\n",
            ],
            "services:\n  foo:\n    depends_on: [a, b, c]\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    depends_on: [a]\n",
                "services:\n  foo:\n    depends_on:\n      b: {condition: service_healthy}\n",
            ],
            "services:\n  foo:\n    depends_on:\n      a: {condition: service_started, required: true}\n      b: {condition: service_healthy}\n",
        );
        // Listing a name again keeps the options it was given.
        assert_merges(
            &[
                "services:\n  foo:\n    depends_on:\n      a: {condition: service_healthy, required: false}\n",
                "services:\n  foo:\n    depends_on: [a, b]\n",
            ],
            "services:\n  foo:\n    depends_on:\n      a: {condition: service_healthy, required: false}\n      b: {condition: service_started, required: true}\n",
        );
    }

    #[test]
    fn service_networks_lists_and_mappings() {
        assert_merges(
            &[
                "services:\n  foo:\n    networks: [front, back]\n",
                "services:\n  foo:\n    networks:\n      back:\n        aliases: [db]\n      admin:\n",
            ],
            "services:\n  foo:\n    networks:\n      front:\n      back:\n        aliases: [db]\n      admin:\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    networks:\n      back:\n        aliases: [a, b]\n        ipv4_address: 10.0.0.2\n",
                "services:\n  foo:\n    networks:\n      back:\n        aliases: [b, c]\n        ipv4_address: 10.0.0.3\n",
                "services:\n  foo:\n    networks: [back, front]\n",
            ],
            "services:\n  foo:\n    networks:\n      back:\n        aliases: [a, b, c]\n        ipv4_address: 10.0.0.3\n      front:\n",
        );
    }

    #[test]
    fn build_string_is_the_context() {
        assert_merges(
            &[
                "services:\n  foo:\n    build: ./app\n",
                "services:\n  foo:\n    build:\n      target: dev\n",
            ],
            "services:\n  foo:\n    build:\n      context: ./app\n      target: dev\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    build:\n      context: .\n      dockerfile: A\n",
                "services:\n  foo:\n    build: ./other\n",
            ],
            "services:\n  foo:\n    build:\n      context: ./other\n      dockerfile: A\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    build: .\n",
                "services:\n  foo:\n    build: ./b\n",
            ],
            "services:\n  foo:\n    build: ./b\n",
        );
    }

    #[test]
    fn logging_options_merge_only_for_the_same_driver() {
        assert_merges(
            &[
                "services:\n  foo:\n    logging:\n      driver: json-file\n      options: {max-size: 1m, max-file: '3'}\n",
                "services:\n  foo:\n    logging:\n      options: {max-size: 2m}\n",
            ],
            "services:\n  foo:\n    logging:\n      driver: json-file\n      options: {max-size: 2m, max-file: '3'}\n",
        );
        assert_merges(
            &[
                "services:\n  foo:\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
                "services:\n  foo:\n    logging:\n      driver: syslog\n      options: {syslog-address: udp://1.2.3.4}\n",
            ],
            "services:\n  foo:\n    logging:\n      driver: syslog\n      options: {syslog-address: udp://1.2.3.4}\n",
        );
    }

    #[test]
    fn ulimits_short_and_long_syntax() {
        assert_merges(
            &[
                "services:\n  test:\n    ulimits:\n      short_over_short: 100\n      long_over_short: 100\n      short_over_long: {soft: 100, hard: 200}\n      long_over_long: {soft: 100, hard: 200}\n",
                "services:\n  test:\n    ulimits:\n      short_over_short: 500\n      long_over_short: {soft: 500}\n      short_over_long: 500\n      long_over_long: {hard: 500}\n",
            ],
            "services:\n  test:\n    ulimits:\n      short_over_short: 500\n      long_over_short: {soft: 500}\n      short_over_long: 500\n      long_over_long: {soft: 100, hard: 500}\n",
        );
    }

    #[test]
    fn ipam_pools_merge_by_subnet() {
        assert_merges(
            &[
                "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 10.0.0.0/24, gateway: 10.0.0.1}\n",
                "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 10.0.0.0/24, ip_range: 10.0.0.0/25}\n        - {subnet: 10.1.0.0/24}\n",
            ],
            "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 10.0.0.0/24, gateway: 10.0.0.1, ip_range: 10.0.0.0/25}\n        - {subnet: 10.1.0.0/24}\n",
        );
    }

    #[test]
    fn reset_removes_what_earlier_files_said() {
        // The spec's example.
        assert_merges(
            &[
                "services:\n  app:\n    image: myapp\n    ports:\n      - \"8080:80\"\n    environment:\n      FOO: BAR\n",
                "services:\n  app:\n    image: myapp\n    ports: !reset []\n    environment:\n      FOO: !reset null\n",
            ],
            "services:\n  app:\n    image: myapp\n    environment: {}\n",
        );
        // A reset of something no earlier file said leaves nothing either,
        // even inside a new service, and a reset item removes its match.
        assert_merges(
            &[
                "services:\n  app:\n    ports: [\"80:80\", \"81:81\"]\n",
                "services:\n  app:\n    command: !reset []\n    ports:\n      - !reset \"80:80\"\n  new:\n    image: x\n    ports: !reset [\"1:1\"]\n",
            ],
            "services:\n  app:\n    ports: [\"81:81\"]\n  new:\n    image: x\n",
        );
    }

    #[test]
    fn override_replaces_instead_of_merging() {
        assert_merges(
            &[
                "services:\n  app:\n    image: myapp\n    ports:\n      - \"8080:80\"\n    environment: {A: '1'}\n",
                "services:\n  app:\n    ports: !override\n      - \"8443:443\"\n    environment: !override\n      B: '2'\n",
            ],
            "services:\n  app:\n    image: myapp\n    ports: [\"8443:443\"]\n    environment: {B: '2'}\n",
        );
    }

    #[test]
    fn a_lone_file_settles_its_own_tags() {
        let file = yaml(
            "compose.yaml",
            "services:\n  app:\n    image: x\n    ports: !override [\"1:1\"]\n    command: !reset null\n",
        );
        let settled = settle_tags(file);
        let app = settled.get("services").and_then(|s| s.get("app")).unwrap();
        assert!(app.get("command").is_none());
        assert_eq!(app.get("ports").unwrap().tag, None);
        // Merging it over nothing does the same.
        let merged = merged(&[
            "services:\n  app:\n    image: x\n    ports: !override [\"1:1\"]\n    command: !reset null\n",
        ]);
        assert_eq!(merged, settled);
    }

    #[test]
    fn null_keeps_the_earlier_value_and_is_replaced_by_a_later_one() {
        assert_merges(
            &[
                "services:\n  foo:\n    image: a\n    networks: [n]\n    depends_on:\n",
                "services:\n  foo:\n    networks: null\n    depends_on: [db]\n",
                "",
            ],
            "services:\n  foo:\n    image: a\n    networks: [n]\n    depends_on: [db]\n",
        );
    }

    #[test]
    fn extensions_merge_like_any_mapping() {
        assert_merges(
            &[
                "x-common: {a: 1, b: [1]}\nservices: {}\n",
                "x-common: {c: 3, b: [2]}\n",
            ],
            "x-common: {a: 1, b: [1, 2], c: 3}\nservices: {}\n",
        );
    }

    #[test]
    fn values_keep_the_file_they_came_from() {
        let root = merged(&[
            "services:\n  web:\n    image: a\n    ports: [\"80:80\"]\n    environment: [A=1]\n",
            "services:\n  web:\n    image: b\n    ports: [\"81:81\"]\n    environment:\n      B: '2'\n",
        ]);
        assert_eq!(web(&root, "image").origin.to_string(), "override.yaml:3:12");
        let ports = web(&root, "ports").as_seq().unwrap();
        assert_eq!(ports[0].origin.to_string(), "compose.yaml:4:13");
        assert_eq!(ports[1].origin.to_string(), "override.yaml:4:13");
        let env = web(&root, "environment").as_map().unwrap();
        assert_eq!(
            env.get("A").unwrap().origin.to_string(),
            "compose.yaml:5:19"
        );
        assert_eq!(
            env.key("B").unwrap().origin.to_string(),
            "override.yaml:6:7"
        );
    }

    #[test]
    fn shapes_that_cannot_merge_say_where_both_were_written() {
        let text = error(
            "services:\n  web:\n    environment:\n      A: '1'\n",
            "services:\n  web:\n    environment: A=1\n",
        );
        assert_eq!(
            text,
            "override.yaml:3:18: services.web.environment: cannot merge a string into a mapping (the earlier value, at compose.yaml:4:7)"
        );
        let text = error(
            "services:\n  web:\n    ports: [\"80\"]\n",
            "services:\n  web:\n    ports: {a: 1}\n",
        );
        assert!(text.contains("services.web.ports: cannot merge a mapping into a sequence"));
        let text = error(
            "services:\n  web:\n    x: [1]\n",
            "services:\n  web:\n    x: 1\n",
        );
        assert!(text.contains("services.web.x: cannot merge an integer into a sequence"));
        let text = error(
            "services:\n  web:\n    labels: [a, {b: 1}]\n",
            "services:\n  web:\n    labels: {c: 1}\n",
        );
        assert_eq!(
            text,
            "compose.yaml:3:17: services.web.labels[1]: expected a KEY=VALUE string, got a mapping"
        );
    }

    #[test]
    fn merge_service_keeps_tags_for_the_file_merge() {
        let base = yaml(
            "base.yaml",
            "image: a\nports: [\"80:80\"]\ncommand: [run]\nlabels: !reset {x: '1'}\n",
        );
        let service = yaml(
            "compose.yaml",
            "ports: !reset []\ncommand: !override [other]\nenvironment: {A: '1'}\n",
        );
        let merged = merge_service("web", base, service).unwrap();
        let map = merged.as_map().unwrap();
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            ["image", "ports", "command", "environment"]
        );
        assert_eq!(map.get("ports").unwrap().tag, Some(Tag::Reset));
        assert_eq!(map.get("command").unwrap().tag, Some(Tag::Override));
        // Merged over an earlier file, the tags still act, then vanish.
        let earlier = yaml(
            "first.yaml",
            "services:\n  web:\n    ports: [\"9:9\"]\n    command: [x]\n",
        );
        let mut file = yaml("compose.yaml", "services:\n  web: {}\n");
        let services = file.as_map_mut().and_then(|f| f.get_mut("services"));
        let services = services.and_then(Node::as_map_mut).unwrap();
        services.insert(key("web", &merged.origin), merged);
        let root = merge(earlier, file).unwrap();
        let web_service = root.get("services").and_then(|s| s.get("web")).unwrap();
        assert!(web_service.get("ports").is_none());
        assert_eq!(
            web(&root, "command").to_json(),
            serde_json::json!(["other"])
        );
        assert_eq!(web(&root, "command").tag, None);
    }

    #[test]
    fn patterns_match_keys_and_indexes() {
        let path = ModelPath::root()
            .key("services")
            .key("web")
            .key("volumes")
            .index(2);
        assert!(matches("services.*.volumes.*", &path));
        assert!(!matches("services.*.volumes", &path));
        assert!(!matches("services.web.volumes.x", &path));
        assert!(matches!(rule_at(&path), Rule::SameKind("type")));
        let path = ModelPath::root().key("volumes").key("data").key("labels");
        assert!(matches!(rule_at(&path), Rule::KeyValue));
    }
}
