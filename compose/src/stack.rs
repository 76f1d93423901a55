//! A loaded project as a stack (`hoist stack deploy -c compose.yaml app`,
//! Docker's `docker stack deploy`): every service a cluster
//! [`ServiceSpec`] named `<stack>_<service>`, its container made by the
//! single-host mapping ([`container_spec`]) from the fields a container
//! has, and the `deploy:` section, `ports`, `secrets` and `configs` turned
//! into the service's mode, placement, reservations, restart, update and
//! rollback policies, endpoint, network attachments and file references.
//! Secrets, configs and networks are listed with their real names
//! (`<stack>_<key>` unless named or external) for the deploy to create.
//! As with Docker, each service's tasks answer on their networks to the
//! service's key as well as to its stack name.
//!
//! What a stack cannot honour is handled as Docker does: the options
//! `docker stack deploy` ignores (`build` next to an `image`,
//! `container_name`, `depends_on`, `restart`, `privileged`, …) are dropped
//! with one warning per service and field; what cannot be deployed at all
//! (a service that is only built, job modes, a secret with no source) is a
//! [`StackError`] naming the service and what to do. Every key of a
//! compose service is either mapped, read here, ignored with a warning, or
//! refused by the single-host mapping as hoist refuses it for `up`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_api::network::{NetworkSpec, OVERLAY};
use hoist_api::service::{
    EndpointSpec, FailureAction, FileReference, NetworkAttachment, Placement, PortConfig,
    PublishMode, Reservations, RestartCondition, ServiceMode, ServiceSpec, TaskRestartPolicy,
    TaskTemplate, UpdateConfig, UpdateOrder, labels,
};
use hoist_api::spec::{ContainerSpec, RestartPolicy};
use hoist_api::units::{parse_bytes, parse_duration};
use serde_json::{Map, Value as Json};

use crate::project::Project;
use crate::spec::{SpecContext, SpecError, container_spec, is_set};

/// The label Docker puts on everything of a stack, set beside
/// [`labels::STACK_NAMESPACE`] so that Docker's tools recognise a stack.
pub const DOCKER_STACK_NAMESPACE: &str = "com.docker.stack.namespace";

/// A project translated for `stack deploy`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// The stack's name, the prefix of every name it owns.
    pub namespace: String,
    /// One spec per service, named `<stack>_<service>`.
    pub services: Vec<ServiceSpec>,
    /// The networks the file declares.
    pub networks: Vec<StackNetwork>,
    /// The secrets the services use.
    pub secrets: Vec<StackFile>,
    /// The configs the services use.
    pub configs: Vec<StackFile>,
    /// What the stack ignores of the file, one line per service and field.
    pub warnings: Vec<String>,
}

/// A top-level secret or config of the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFile {
    /// Its key in the compose file.
    pub key: String,
    /// Its real name: `<stack>_<key>`, its `name:`, or the external name.
    pub name: String,
    /// Made elsewhere: must exist, is never created or removed.
    pub external: bool,
    /// `file:`, absolute (resolved against the project directory).
    pub file: Option<PathBuf>,
    /// A config's inline `content:`.
    pub content: Option<String>,
    /// The value of the variable `environment:` names, from the project's
    /// variables.
    pub environment: Option<String>,
    /// Its labels, the stack's namespace included unless external.
    pub labels: BTreeMap<String, String>,
}

/// A top-level network of the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackNetwork {
    /// Its key in the compose file.
    pub key: String,
    /// Made elsewhere: must exist, is never created or removed.
    pub external: bool,
    /// The cluster network: its real name (`<stack>_<key>` unless named
    /// or external), the overlay driver, its labels (the stack's namespace
    /// included unless external), `internal`, `attachable`, `driver_opts`
    /// and the first `ipam.config` entry's subnet and gateway.
    pub spec: NetworkSpec,
}

/// Why a project cannot be deployed as a stack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// The stack name cannot prefix service names.
    #[error(
        "invalid stack name {0:?}: use letters, digits, `_`, `.` and `-`, starting with a letter or digit"
    )]
    Namespace(String),
    /// A service has no image to deploy.
    #[error(
        "service {service} has build: but no image: a stack deploys images from a registry; build and push it, then set image:"
    )]
    BuildOnly {
        /// The service.
        service: String,
    },
    /// A deploy mode the cluster does not run.
    #[error("service {service}: deploy.mode {mode} is not supported yet: use replicated or global")]
    Mode {
        /// The service.
        service: String,
        /// The mode asked for.
        mode: String,
    },
    /// A service refers to a secret or config the file does not declare.
    #[error(
        "service {service} refers to {kind} {name:?}, which is not declared: add it under the top-level `{kind}s:` key"
    )]
    Undeclared {
        /// The service.
        service: String,
        /// `secret` or `config`.
        kind: &'static str,
        /// The name the service uses.
        name: String,
    },
    /// A secret or config with nothing to make it from.
    #[error(
        "{kind} {key} (used by {users}) has no source: give it `file:`{others}, or mark it `external: true`"
    )]
    NoSource {
        /// `secret` or `config`.
        kind: &'static str,
        /// Its key.
        key: String,
        /// The services that use it.
        users: String,
        /// The other sources that kind accepts, for the hint.
        others: &'static str,
    },
    /// A secret or config from a variable that is not set.
    #[error(
        "{kind} {key} (used by {users}) comes from the variable {variable}, which is not set: set it, or give the {kind} `file:`"
    )]
    UnsetVariable {
        /// `secret` or `config`.
        kind: &'static str,
        /// Its key.
        key: String,
        /// The services that use it.
        users: String,
        /// The variable.
        variable: String,
    },
    /// A value of a service that a stack cannot use.
    #[error("service {service}: {path}: {message}")]
    Field {
        /// The service.
        service: String,
        /// Where in the model (`services.web.deploy.replicas`).
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The service's container cannot be made (as `up` would refuse it).
    #[error("service {service}: {source}")]
    Spec {
        /// The service.
        service: String,
        /// Why.
        source: SpecError,
    },
}

/// Service keys the container mapping reads (or refuses, as for `up`).
const CONTAINER_FIELDS: &[&str] = &[
    "annotations",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "command",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "device_cgroup_rules",
    "dns",
    "dns_opt",
    "dns_search",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "isolation",
    "label_file",
    "labels",
    "logging",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "pids_limit",
    "platform",
    "post_start",
    "pre_stop",
    "provider",
    "read_only",
    "runtime",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "uts",
    "volumes",
    "working_dir",
];

/// Service keys a stack ignores, each with why: Docker's "unsupported
/// options" of `stack deploy`, and what only `compose up` uses.
const IGNORED: &[(&str, &str)] = &[
    (
        "attach",
        "nothing attaches to the output of a stack's tasks",
    ),
    (
        "build",
        "a stack deploys the image; build and push it before deploying",
    ),
    ("cgroup", "not supported in a stack (as in Docker Swarm)"),
    (
        "cgroup_parent",
        "not supported in a stack (as in Docker Swarm)",
    ),
    (
        "container_name",
        "tasks are named <service>.<slot>.<task id>",
    ),
    (
        "depends_on",
        "a stack starts every service at once; make services wait for what they need",
    ),
    ("develop", "it is for `compose watch` only"),
    ("devices", "not supported in a stack (as in Docker Swarm)"),
    (
        "domainname",
        "not supported in a stack (as in Docker Swarm)",
    ),
    ("external_links", "services reach each other by name"),
    ("ipc", "not supported in a stack (as in Docker Swarm)"),
    ("links", "services reach each other by name"),
    (
        "mac_address",
        "not supported in a stack (as in Docker Swarm)",
    ),
    (
        "network_mode",
        "a stack's tasks join the stack's networks (networks:)",
    ),
    ("pid", "not supported in a stack (as in Docker Swarm)"),
    (
        "privileged",
        "not supported in a stack (as in Docker Swarm)",
    ),
    (
        "pull_policy",
        "each node pulls the image when it does not have it",
    ),
    (
        "pull_refresh_after",
        "each node pulls the image when it does not have it",
    ),
    (
        "restart",
        "deploy.restart_policy governs a stack's tasks (default: any, after 5s)",
    ),
    (
        "security_opt",
        "not supported in a stack (as in Docker Swarm)",
    ),
    ("shm_size", "not supported in a stack (as in Docker Swarm)"),
    (
        "userns_mode",
        "not supported in a stack (as in Docker Swarm)",
    ),
    (
        "volumes_from",
        "other services' containers are not known by name on a node; mount the same named volume instead",
    ),
];

/// The settings of a service's network entry a stack does not honour.
const IGNORED_ATTACHMENT: &[&str] = &[
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "driver_opts",
];

/// Secrets or configs, as the stack reads them.
struct FileKind {
    /// The key at the top level and in a service.
    field: &'static str,
    /// One of them, for messages.
    singular: &'static str,
    /// Whether inline `content:` is a source.
    content: bool,
    /// The sources besides `file:` and `external:`, for the hint.
    others: &'static str,
}

const SECRETS: FileKind = FileKind {
    field: "secrets",
    singular: "secret",
    content: false,
    others: " or `environment:`",
};

const CONFIGS: FileKind = FileKind {
    field: "configs",
    singular: "config",
    content: true,
    others: ", `environment:` or `content:`",
};

/// Translates `project` into the stack `namespace`.
pub fn stack(project: &Project, namespace: &str) -> Result<Stack, StackError> {
    check_namespace(namespace)?;
    let mut model = project.model.to_json();
    name_resources(&mut model, &project.name, namespace);
    let mut warnings = Vec::new();
    let secrets = files(&model, &SECRETS, project, namespace, &mut warnings)?;
    let configs = files(&model, &CONFIGS, project, namespace, &mut warnings)?;
    let networks = networks(&model, namespace, &mut warnings);
    let containers = container_model(&model);
    let context = SpecContext {
        model: &containers,
        environment: &project.environment,
    };
    let translation = Translation {
        namespace,
        context: &context,
        secrets: &secrets,
        configs: &configs,
        networks: &networks,
    };
    let mut services = Vec::new();
    for (key, service) in entries(&model, "services") {
        services.push(translation.service(key, service, &mut warnings)?);
    }
    Ok(Stack {
        namespace: namespace.to_string(),
        services,
        networks,
        secrets,
        configs,
        warnings,
    })
}

/// A stack name must prefix service names (a DNS label's characters).
fn check_namespace(namespace: &str) -> Result<(), StackError> {
    let valid = namespace.starts_with(|c: char| c.is_ascii_alphanumeric())
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(StackError::Namespace(namespace.to_string()))
    }
}

/// The entries of a mapping of the model (none when absent).
fn entries<'a>(value: &'a Json, key: &str) -> impl Iterator<Item = (&'a String, &'a Json)> {
    value[key].as_object().into_iter().flat_map(|m| m.iter())
}

/// Whether a resource is `external` (`true`, or the legacy mapping).
fn is_external(resource: &Json) -> bool {
    match &resource["external"] {
        Json::Bool(b) => *b,
        Json::String(s) => s == "true",
        Json::Object(_) => true,
        _ => false,
    }
}

/// Gives every network, volume, secret and config its name in the stack:
/// the name normalisation gave it for the project (`<project>_<key>`)
/// becomes `<stack>_<key>`; `name:` and external names stay. (The model
/// does not say whether a name was written or given: a `name:` written as
/// exactly `<project>_<key>` is taken as the default.)
fn name_resources(model: &mut Json, project: &str, namespace: &str) {
    for kind in ["networks", "volumes", "secrets", "configs"] {
        let Some(resources) = model.get_mut(kind).and_then(Json::as_object_mut) else {
            continue;
        };
        for (key, resource) in resources.iter_mut() {
            let name = real_name(key, resource, project, namespace);
            if let Some(map) = resource.as_object_mut() {
                map.insert("name".to_string(), Json::String(name));
            }
        }
    }
}

/// The name a resource has in the stack.
fn real_name(key: &str, resource: &Json, project: &str, namespace: &str) -> String {
    let given = resource["name"].as_str();
    let defaulted = given.is_none_or(|name| name == format!("{project}_{key}"));
    let legacy = resource["external"]["name"].as_str();
    match (is_external(resource), legacy, defaulted) {
        (true, Some(legacy), _) => legacy.to_string(),
        (true, None, true) => key.to_string(),
        (false, _, true) => format!("{namespace}_{key}"),
        (_, _, false) => given.unwrap_or(key).to_string(),
    }
}

/// The stack's namespace labels.
fn namespace_labels(namespace: &str) -> [(String, String); 2] {
    [
        (labels::STACK_NAMESPACE.to_string(), namespace.to_string()),
        (DOCKER_STACK_NAMESPACE.to_string(), namespace.to_string()),
    ]
}

/// Labels as a list of `KEY=VALUE` or a mapping.
fn label_map(value: &Json) -> BTreeMap<String, String> {
    match value {
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
            .collect(),
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (item.to_string(), String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A scalar as text.
fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The labels of a resource the stack makes: its own and the namespace's.
fn resource_labels(resource: &Json, external: bool, namespace: &str) -> BTreeMap<String, String> {
    let mut out = label_map(&resource["labels"]);
    if !external {
        out.extend(namespace_labels(namespace));
    }
    out
}

/// The top-level networks; a driver other than overlay is warned about
/// (a cluster's networks are overlay networks).
fn networks(model: &Json, namespace: &str, warnings: &mut Vec<String>) -> Vec<StackNetwork> {
    entries(model, "networks")
        .map(|(key, network)| {
            let external = is_external(network);
            let driver = network["driver"].as_str().unwrap_or(OVERLAY);
            if !external && driver != OVERLAY {
                warnings.push(format!(
                    "network {key}: driver {driver} is ignored: a stack's networks are overlay networks"
                ));
            }
            let ipam = &network["ipam"]["config"][0];
            let text = |value: &Json| value.as_str().unwrap_or_default().to_string();
            StackNetwork {
                key: key.clone(),
                external,
                spec: NetworkSpec {
                    name: network["name"].as_str().unwrap_or(key).to_string(),
                    driver: OVERLAY.to_string(),
                    labels: resource_labels(network, external, namespace),
                    internal: network["internal"].as_bool().unwrap_or(false),
                    attachable: network["attachable"].as_bool().unwrap_or(false),
                    options: label_map(&network["driver_opts"]),
                    subnet: text(&ipam["subnet"]),
                    gateway: text(&ipam["gateway"]),
                },
            }
        })
        .collect()
}

/// The services that use the secret or config `key`, as `service <name>`.
fn users(model: &Json, kind: &FileKind, key: &str) -> Vec<String> {
    entries(model, "services")
        .filter(|(_, service)| {
            service[kind.field]
                .as_array()
                .into_iter()
                .flatten()
                .any(|grant| grant["source"].as_str() == Some(key))
        })
        .map(|(name, _)| format!("service {name}"))
        .collect()
}

/// The top-level secrets or configs some service uses, each with a
/// source (one that no service uses is not part of the stack).
fn files(
    model: &Json,
    kind: &FileKind,
    project: &Project,
    namespace: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<StackFile>, StackError> {
    let mut out = Vec::new();
    for (key, resource) in entries(model, kind.field) {
        let users = users(model, kind, key).join(", ");
        if users.is_empty() {
            continue;
        }
        for field in ["driver", "driver_opts", "template_driver"] {
            if resource.get(field).is_some_and(|v| !v.is_null()) {
                warnings.push(format!(
                    "{} {key} (used by {users}): {field} is ignored: the cluster stores {}s itself",
                    kind.singular, kind.singular
                ));
            }
        }
        out.push(file(key, resource, kind, project, namespace, &users)?);
    }
    Ok(out)
}

/// One top-level secret or config; `users` names the services that use
/// it, for messages.
fn file(
    key: &str,
    resource: &Json,
    kind: &FileKind,
    project: &Project,
    namespace: &str,
    users: &str,
) -> Result<StackFile, StackError> {
    let external = is_external(resource);
    let mut out = StackFile {
        key: key.to_string(),
        name: resource["name"].as_str().unwrap_or(key).to_string(),
        external,
        labels: resource_labels(resource, external, namespace),
        ..StackFile::default()
    };
    if external {
        return Ok(out);
    }
    out.file = resource["file"]
        .as_str()
        .map(|file| project.directory.join(file));
    out.content = resource["content"]
        .as_str()
        .filter(|_| kind.content)
        .map(str::to_string);
    if let Some(variable) = resource["environment"].as_str() {
        match project.environment.get(variable) {
            Some(value) => out.environment = Some(value.clone()),
            None => {
                return Err(StackError::UnsetVariable {
                    kind: kind.singular,
                    key: key.to_string(),
                    users: users.to_string(),
                    variable: variable.to_string(),
                });
            }
        }
    }
    if out.file.is_none() && out.content.is_none() && out.environment.is_none() {
        return Err(StackError::NoSource {
            kind: kind.singular,
            key: key.to_string(),
            users: users.to_string(),
            others: kind.others,
        });
    }
    Ok(out)
}

/// The model the container mapping reads: each service with only the
/// keys a container has, and of `deploy` only `resources` (the limits).
fn container_model(model: &Json) -> Json {
    let mut out = model.clone();
    let Some(services) = out.get_mut("services").and_then(Json::as_object_mut) else {
        return out;
    };
    for service in services.values_mut() {
        let Some(map) = service.as_object_mut() else {
            continue;
        };
        let resources = map.get("deploy").map(|deploy| deploy["resources"].clone());
        map.retain(|key, _| CONTAINER_FIELDS.contains(&key.as_str()));
        if let Some(resources) = resources.filter(|r| !r.is_null()) {
            let deploy = Map::from_iter([("resources".to_string(), resources)]);
            map.insert("deploy".to_string(), Json::Object(deploy));
        }
    }
    out
}

/// A value of one service, read with errors that name the service and
/// the field.
#[derive(Debug, Clone)]
struct Field<'a> {
    service: &'a str,
    value: &'a Json,
    path: String,
}

impl<'a> Field<'a> {
    /// The service `name` itself.
    fn service(name: &'a str, value: &'a Json) -> Self {
        Self {
            service: name,
            value,
            path: format!("services.{name}"),
        }
    }

    /// `key` below this value, unless absent or null.
    fn get(&self, key: &str) -> Option<Field<'a>> {
        self.value
            .get(key)
            .filter(|value| !value.is_null())
            .map(|value| Field {
                service: self.service,
                value,
                path: format!("{}.{key}", self.path),
            })
    }

    /// The items of a sequence.
    fn items(&self) -> Vec<Field<'a>> {
        self.value
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, value)| Field {
                service: self.service,
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect()
    }

    /// An error about this value.
    fn error(&self, message: impl Into<String>) -> StackError {
        StackError::Field {
            service: self.service.to_string(),
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// The value as text.
    fn text(&self) -> Result<String, StackError> {
        scalar(self.value).ok_or_else(|| self.error("expected a string"))
    }

    /// A count (a number or a string holding one).
    fn count(&self) -> Result<u64, StackError> {
        let parsed = match self.value {
            Json::Number(n) => n.as_u64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.error("expected a whole number, 0 or more"))
    }

    /// A number (or a string holding one).
    fn number(&self) -> Result<f64, StackError> {
        let parsed = match self.value {
            Json::Number(n) => n.as_f64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| self.error("expected a number, 0 or more"))
    }

    /// A Go duration (`1m30s`) in nanoseconds.
    fn duration(&self) -> Result<i64, StackError> {
        parse_duration(&self.text()?).map_err(|e| self.error(e))
    }

    /// A size (`512m`) in bytes.
    fn bytes(&self) -> Result<i64, StackError> {
        let bytes = match self.value {
            Json::Number(n) => n.as_i64().ok_or_else(|| self.error("expected a size")),
            _ => parse_bytes(&self.text()?).map_err(|e| self.error(e)),
        }?;
        if bytes < 0 {
            return Err(self.error("a size cannot be negative"));
        }
        Ok(bytes)
    }
}

/// What translating a service needs.
struct Translation<'a> {
    namespace: &'a str,
    context: &'a SpecContext<'a>,
    secrets: &'a [StackFile],
    configs: &'a [StackFile],
    networks: &'a [StackNetwork],
}

impl Translation<'_> {
    /// The spec of the service `key`.
    fn service(
        &self,
        key: &str,
        value: &Json,
        warnings: &mut Vec<String>,
    ) -> Result<ServiceSpec, StackError> {
        let service = Field::service(key, value);
        if service.get("image").is_none() {
            return Err(StackError::BuildOnly {
                service: key.to_string(),
            });
        }
        warn_ignored(&service, warnings);
        let deploy = service.get("deploy");
        let deploy = deploy.as_ref();
        let mut service_labels = deploy
            .and_then(|d| d.get("labels"))
            .map(|l| label_map(l.value))
            .unwrap_or_default();
        service_labels.extend(namespace_labels(self.namespace));
        Ok(ServiceSpec {
            name: format!("{}_{key}", self.namespace),
            labels: service_labels,
            task: TaskTemplate {
                container: self.container(key)?,
                reservations: reservations(deploy, warnings)?,
                restart_policy: restart_policy(deploy)?,
                placement: placement(deploy)?,
                force_update: 0,
                secrets: file_references(&service, &SECRETS, self.secrets)?,
                configs: file_references(&service, &CONFIGS, self.configs)?,
                networks: self.attachments(&service, warnings),
            },
            mode: mode(&service, deploy)?,
            endpoint: EndpointSpec {
                mode: match deploy.and_then(|d| d.get("endpoint_mode")) {
                    Some(mode) => endpoint_mode(&mode)?,
                    None => "vip".to_string(),
                },
                ports: ports(&service, warnings)?,
            },
            update_config: update_config(deploy, "update_config")?,
            rollback_config: update_config(deploy, "rollback_config")?,
        })
    }

    /// The networks the service joins, by `priority` (highest first) then
    /// name, answering to the service's key and its `aliases` on each.
    fn attachments(
        &self,
        service: &Field<'_>,
        warnings: &mut Vec<String>,
    ) -> Vec<NetworkAttachment> {
        let mut joined: Vec<(i64, NetworkAttachment)> = entries(service.value, "networks")
            .map(|(key, settings)| {
                for field in IGNORED_ATTACHMENT {
                    if settings.get(*field).is_some_and(is_set) {
                        warnings.push(format!(
                            "service {}: networks.{key}.{field} is ignored: the network's addresses are given out on each node",
                            service.service
                        ));
                    }
                }
                let name = self
                    .networks
                    .iter()
                    .find(|n| n.key == *key)
                    .map_or(key.as_str(), |n| n.spec.name.as_str());
                let mut aliases = vec![service.service.to_string()];
                aliases.extend(
                    settings["aliases"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(scalar),
                );
                aliases.dedup();
                let attachment = NetworkAttachment {
                    target: name.to_string(),
                    aliases,
                    ..NetworkAttachment::default()
                };
                (settings["priority"].as_i64().unwrap_or(0), attachment)
            })
            .collect();
        joined.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.target.cmp(&b.1.target)));
        joined.into_iter().map(|(_, a)| a).collect()
    }

    /// The container of the service `key`, labelled with the stack; its
    /// restart policy is `no` (the cluster replaces tasks).
    fn container(&self, key: &str) -> Result<ContainerSpec, StackError> {
        let mut container =
            container_spec(self.context, key).map_err(|source| StackError::Spec {
                service: key.to_string(),
                source,
            })?;
        container.labels.extend(namespace_labels(self.namespace));
        container.restart_policy = RestartPolicy {
            name: "no".to_string(),
            maximum_retry_count: 0,
        };
        Ok(container)
    }
}

/// One warning per field the stack ignores.
fn warn_ignored(service: &Field<'_>, warnings: &mut Vec<String>) {
    let name = service.service;
    for (field, why) in IGNORED {
        if service.get(field).is_some_and(|f| is_set(f.value)) {
            warnings.push(format!("service {name}: {field} is ignored: {why}"));
        }
    }
}

/// `deploy.mode` and `deploy.replicas` (else `scale`, else 1).
fn mode(service: &Field<'_>, deploy: Option<&Field<'_>>) -> Result<ServiceMode, StackError> {
    let replicas_field = deploy.and_then(|d| d.get("replicas"));
    let replicas = match (&replicas_field, service.get("scale")) {
        (Some(replicas), _) => replicas.count()?,
        (None, Some(scale)) => scale.count()?,
        (None, None) => 1,
    };
    let Some(mode) = deploy.and_then(|d| d.get("mode")) else {
        return Ok(ServiceMode::Replicated { replicas });
    };
    match mode.text()?.as_str() {
        "replicated" => Ok(ServiceMode::Replicated { replicas }),
        "global" => match replicas_field {
            Some(replicas) => {
                Err(replicas.error("replicas cannot be used with mode: global: remove one of them"))
            }
            None => Ok(ServiceMode::Global),
        },
        job @ ("replicated-job" | "global-job") => Err(StackError::Mode {
            service: service.service.to_string(),
            mode: job.to_string(),
        }),
        other => Err(mode.error(format!("unknown mode {other:?}: use replicated or global"))),
    }
}

/// `deploy.endpoint_mode`: `vip` or `dnsrr`.
fn endpoint_mode(mode: &Field<'_>) -> Result<String, StackError> {
    let text = mode.text()?;
    match text.as_str() {
        "vip" | "dnsrr" => Ok(text),
        other => Err(mode.error(format!("unknown endpoint mode {other:?}: use vip or dnsrr"))),
    }
}

/// `deploy.resources.reservations`: CPUs and memory (`generic_resources`
/// are ignored; `devices` are refused by the container mapping).
fn reservations(
    deploy: Option<&Field<'_>>,
    warnings: &mut Vec<String>,
) -> Result<Reservations, StackError> {
    let Some(reserved) = deploy.and_then(|d| d.get("resources")?.get("reservations")) else {
        return Ok(Reservations::default());
    };
    if reserved
        .get("generic_resources")
        .is_some_and(|g| is_set(g.value))
    {
        warnings.push(format!(
            "service {}: deploy.resources.reservations.generic_resources is ignored: the scheduler reserves CPUs and memory only",
            reserved.service
        ));
    }
    Ok(Reservations {
        nano_cpus: match reserved.get("cpus") {
            Some(cpus) => (cpus.number()? * 1e9).round() as i64,
            None => 0,
        },
        memory_bytes: match reserved.get("memory") {
            Some(memory) => memory.bytes()?,
            None => 0,
        },
    })
}

/// `deploy.restart_policy`, Swarm's default (any, 5 s) for what is unset.
fn restart_policy(deploy: Option<&Field<'_>>) -> Result<TaskRestartPolicy, StackError> {
    let mut policy = TaskRestartPolicy::default();
    let Some(given) = deploy.and_then(|d| d.get("restart_policy")) else {
        return Ok(policy);
    };
    if let Some(condition) = given.get("condition") {
        policy.condition = condition
            .text()?
            .parse::<RestartCondition>()
            .map_err(|e| condition.error(e))?;
    }
    if let Some(delay) = given.get("delay") {
        policy.delay_ns = delay.duration()?;
    }
    if let Some(attempts) = given.get("max_attempts") {
        policy.max_attempts = attempts.count()?;
    }
    if let Some(window) = given.get("window") {
        policy.window_ns = window.duration()?;
    }
    Ok(policy)
}

/// `deploy.placement`: constraints (a list, or the legacy mapping of
/// `key: value`, meaning `key==value`), spread preferences and
/// `max_replicas_per_node`.
fn placement(deploy: Option<&Field<'_>>) -> Result<Placement, StackError> {
    let Some(given) = deploy.and_then(|d| d.get("placement")) else {
        return Ok(Placement::default());
    };
    let constraints = match given.get("constraints") {
        Some(map) if map.value.is_object() => entries_as_constraints(&map)?,
        Some(list) => list
            .items()
            .iter()
            .map(Field::text)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut preferences = Vec::new();
    for preference in given
        .get("preferences")
        .map(|p| p.items())
        .unwrap_or_default()
    {
        match preference.get("spread") {
            Some(spread) => preferences.push(format!("spread={}", spread.text()?)),
            None => {
                return Err(
                    preference.error("a placement preference needs `spread: node.labels.<name>`")
                );
            }
        }
    }
    Ok(Placement {
        constraints,
        preferences,
        max_replicas_per_node: match given.get("max_replicas_per_node") {
            Some(max) => max.count()?,
            None => 0,
        },
    })
}

/// `{node.role: manager}` → `["node.role==manager"]`.
fn entries_as_constraints(map: &Field<'_>) -> Result<Vec<String>, StackError> {
    let mut out = Vec::new();
    for key in map.value.as_object().into_iter().flat_map(|m| m.keys()) {
        if let Some(value) = map.get(key) {
            out.push(format!("{key}=={}", value.text()?));
        }
    }
    Ok(out)
}

/// `deploy.update_config` or `deploy.rollback_config`, Swarm's defaults
/// for what is unset.
fn update_config(deploy: Option<&Field<'_>>, key: &str) -> Result<UpdateConfig, StackError> {
    let mut config = UpdateConfig::default();
    let Some(given) = deploy.and_then(|d| d.get(key)) else {
        return Ok(config);
    };
    if let Some(parallelism) = given.get("parallelism") {
        config.parallelism = parallelism.count()?;
    }
    if let Some(delay) = given.get("delay") {
        config.delay_ns = delay.duration()?;
    }
    if let Some(action) = given.get("failure_action") {
        config.failure_action = failure_action(&action, key == "update_config")?;
    }
    if let Some(monitor) = given.get("monitor") {
        config.monitor_ns = monitor.duration()?;
    }
    if let Some(ratio) = given.get("max_failure_ratio") {
        config.max_failure_ratio = ratio.number()?;
        if config.max_failure_ratio > 1.0 {
            return Err(ratio.error("max_failure_ratio is a fraction, from 0 to 1"));
        }
    }
    if let Some(order) = given.get("order") {
        config.order = match order.text()?.as_str() {
            "stop-first" => UpdateOrder::StopFirst,
            "start-first" => UpdateOrder::StartFirst,
            other => {
                return Err(order.error(format!(
                    "unknown order {other:?}: use stop-first or start-first"
                )));
            }
        };
    }
    Ok(config)
}

/// `pause`, `continue`, or (for an update) `rollback`.
fn failure_action(action: &Field<'_>, update: bool) -> Result<FailureAction, StackError> {
    match action.text()?.as_str() {
        "pause" => Ok(FailureAction::Pause),
        "continue" => Ok(FailureAction::Continue),
        "rollback" if update => Ok(FailureAction::Rollback),
        other if update => Err(action.error(format!(
            "unknown failure action {other:?}: use pause, continue or rollback"
        ))),
        other => Err(action.error(format!(
            "unknown failure action {other:?}: use pause or continue"
        ))),
    }
}

/// `ports` (long form after normalisation; a short range is already one
/// entry per port): published on every node (`ingress`) unless
/// `mode: host`; a `host_ip` is ignored with a warning.
fn ports(service: &Field<'_>, warnings: &mut Vec<String>) -> Result<Vec<PortConfig>, StackError> {
    let mut out = Vec::new();
    for port in service.get("ports").map(|p| p.items()).unwrap_or_default() {
        if let Some(ip) = port.get("host_ip").filter(|ip| is_set(ip.value)) {
            warnings.push(format!(
                "service {}: {}.host_ip {} is ignored: a stack publishes its ports on every address of a node",
                service.service,
                port.path.trim_start_matches(&format!("{}.", service.path)),
                ip.text()?
            ));
        }
        out.push(port_config(&port)?);
    }
    Ok(out)
}

/// One long-form port.
fn port_config(port: &Field<'_>) -> Result<PortConfig, StackError> {
    let number = |field: &Field<'_>, text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| field.error(format!("{text:?} is not a port number (1-65535)")))
    };
    let Some(target) = port.get("target") else {
        return Err(port.error("a port needs `target`"));
    };
    let published_port = match port.get("published") {
        Some(published) => {
            let text = published.text()?;
            match text.split_once('-') {
                _ if text.is_empty() => 0,
                Some((first, last)) if first == last => number(&published, first)?,
                Some(_) => {
                    return Err(published.error(format!(
                        "a stack publishes one port per target port, not the range {text}: give a single port"
                    )));
                }
                None => number(&published, &text)?,
            }
        }
        None => 0,
    };
    let publish_mode = match port.get("mode").map(|m| m.text()).transpose()?.as_deref() {
        None | Some("ingress") => PublishMode::Ingress,
        Some("host") => PublishMode::Host,
        Some(other) => {
            return Err(port.error(format!(
                "unknown publish mode {other:?}: use ingress or host"
            )));
        }
    };
    Ok(PortConfig {
        target_port: number(&target, &target.text()?)?,
        published_port,
        protocol: match port.get("protocol") {
            Some(protocol) => protocol.text()?.to_ascii_lowercase(),
            None => "tcp".to_string(),
        },
        publish_mode,
    })
}

/// The service's `secrets:` or `configs:` as references to the stack's
/// real names; the target defaults to the key, owner and group to `0`
/// and the mode to `0444`, as Docker's.
fn file_references(
    service: &Field<'_>,
    kind: &FileKind,
    declared: &[StackFile],
) -> Result<Vec<FileReference>, StackError> {
    let mut out = Vec::new();
    for grant in service
        .get(kind.field)
        .map(|g| g.items())
        .unwrap_or_default()
    {
        let source = match grant.get("source") {
            Some(source) => source.text()?,
            None => grant.text()?,
        };
        let Some(file) = declared.iter().find(|f| f.key == source) else {
            return Err(StackError::Undeclared {
                service: service.service.to_string(),
                kind: kind.singular,
                name: source,
            });
        };
        let text_or = |key: &str, default: &str| match grant.get(key) {
            Some(value) => value.text(),
            None => Ok(default.to_string()),
        };
        out.push(FileReference {
            name: file.name.clone(),
            id: String::new(),
            target: text_or("target", &source)?,
            uid: text_or("uid", "0")?,
            gid: text_or("gid", "0")?,
            mode: match grant.get("mode") {
                Some(mode) => file_mode(&mode)?,
                None => 0o444,
            },
        });
    }
    Ok(out)
}

/// Permission bits: an integer as it is (YAML's `0o440`), a string in
/// octal (`"0440"`, which the parser keeps as a string).
fn file_mode(mode: &Field<'_>) -> Result<u32, StackError> {
    let parsed = match mode.value {
        Json::String(s) => u32::from_str_radix(s.strip_prefix("0o").unwrap_or(s), 8).ok(),
        Json::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    };
    parsed
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| mode.error("expected a file mode in octal, such as 0440"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Key, Node, Origin};
    use crate::project::{LoadOptions, load};
    use std::path::Path;
    use std::sync::Arc;

    /// Service keys read here rather than by the container mapping
    /// (`profiles` chose the services at load time).
    const STACK_FIELDS: &[&str] = &[
        "configs", "deploy", "networks", "ports", "profiles", "scale", "secrets",
    ];

    const SHOP: &str = r#"
name: shop
services:
  web:
    image: registry.example/shop-web:1.4
    build: ./web
    container_name: shop-web
    restart: always
    depends_on: [api]
    labels:
      tier: front
    ports:
      - "80:8080"
      - target: 443
        published: "8443"
        mode: host
      - "127.0.0.1:9000-9001:9000-9001/udp"
    networks: [front]
    secrets:
      - tls_key
      - source: api_token
        target: /etc/web/token
        uid: "101"
        gid: "102"
        mode: 0440
    configs:
      - nginx_conf
      - source: motd
        target: /etc/motd
    deploy:
      mode: replicated
      replicas: 3
      labels:
        com.example.owner: shop-team
      endpoint_mode: dnsrr
      placement:
        constraints: [node.role==worker, node.labels.zone!=b]
        preferences:
          - spread: node.labels.zone
        max_replicas_per_node: 2
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {cpus: "0.25", memory: 64M}
      restart_policy:
        condition: on-failure
        delay: 10s
        max_attempts: 3
        window: 2m
      update_config:
        parallelism: 2
        delay: 5s
        failure_action: rollback
        monitor: 30s
        max_failure_ratio: 0.25
        order: start-first
      rollback_config:
        parallelism: 0
        failure_action: continue
  api:
    image: registry.example/shop-api:1.4
    scale: 2
    privileged: true
    links: [db]
    environment:
      DB_HOST: db
    secrets: [db_password]
    volumes:
      - ./data:/srv/data:ro
      - cache:/var/cache/api
    networks: [front, back]
  db:
    image: postgres:16
    deploy:
      mode: global
      placement: {constraints: [node.labels.disk==ssd]}
    volumes: [pgdata:/var/lib/postgresql/data]
    secrets: [db_password]
    networks: [back]
  worker:
    image: busybox
    command: sleep 1d
    configs: [shared]
  admin:
    image: busybox
    profiles: [debug]
networks:
  front: {}
  back: {driver: overlay, labels: {team: data}}
  corp: {external: true, name: corp-net}
volumes:
  pgdata: {}
  cache: {}
secrets:
  tls_key: {file: ./tls.key}
  api_token: {environment: API_TOKEN}
  db_password: {external: true}
  unused: {environment: NOT_SET}
configs:
  nginx_conf: {file: ./nginx.conf, labels: [role=proxy]}
  motd: {content: hello}
  shared: {name: shared-config, external: true}
"#;

    /// Loads `compose` from a temporary project directory, with `API_TOKEN`
    /// set.
    fn project(compose: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(&file, compose).unwrap();
        let project = load(&LoadOptions {
            files: vec![file],
            environment: BTreeMap::from([("API_TOKEN".to_string(), "s3cret".to_string())]),
            working_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        // The project keeps paths into the directory; nothing reads them.
        drop(dir);
        project
    }

    fn translated(compose: &str) -> Result<Stack, StackError> {
        stack(&project(compose), "prod")
    }

    fn service<'a>(stack: &'a Stack, name: &str) -> &'a ServiceSpec {
        stack
            .services
            .iter()
            .find(|s| s.name == format!("prod_{name}"))
            .unwrap()
    }

    #[test]
    fn services_are_named_and_labelled_for_the_stack() {
        let stack = translated(SHOP).unwrap();
        let names: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["prod_api", "prod_db", "prod_web", "prod_worker"]);
        let web = service(&stack, "web");
        assert_eq!(web.labels["com.example.owner"], "shop-team");
        assert_eq!(web.labels[labels::STACK_NAMESPACE], "prod");
        assert_eq!(web.labels[DOCKER_STACK_NAMESPACE], "prod");
        assert!(!web.labels.contains_key("tier"));
        let container = &web.task.container;
        assert_eq!(container.image, "registry.example/shop-web:1.4");
        assert_eq!(container.labels["tier"], "front");
        assert_eq!(container.labels[labels::STACK_NAMESPACE], "prod");
        assert_eq!(container.labels[DOCKER_STACK_NAMESPACE], "prod");
        assert!(
            !container
                .labels
                .keys()
                .any(|k| k.starts_with("com.docker.compose")),
            "{:?}",
            container.labels
        );
        assert_eq!(container.restart_policy.name, "no");
        assert!(container.port_bindings.is_empty());
        assert_eq!(container.resources.nano_cpus, 500_000_000);
        assert_eq!(container.resources.memory, 256 << 20);
    }

    #[test]
    fn deploy_settings_become_the_service_spec() {
        let stack = translated(SHOP).unwrap();
        let web = service(&stack, "web");
        assert_eq!(web.mode, ServiceMode::Replicated { replicas: 3 });
        assert_eq!(web.endpoint.mode, "dnsrr");
        let placement = &web.task.placement;
        assert_eq!(
            placement.constraints,
            ["node.role==worker", "node.labels.zone!=b"]
        );
        assert_eq!(placement.preferences, ["spread=node.labels.zone"]);
        assert_eq!(placement.max_replicas_per_node, 2);
        assert_eq!(
            web.task.reservations,
            Reservations {
                nano_cpus: 250_000_000,
                memory_bytes: 64 << 20,
            }
        );
        assert_eq!(
            web.task.restart_policy,
            TaskRestartPolicy {
                condition: RestartCondition::OnFailure,
                delay_ns: 10_000_000_000,
                max_attempts: 3,
                window_ns: 120_000_000_000,
            }
        );
        assert_eq!(
            web.update_config,
            UpdateConfig {
                parallelism: 2,
                delay_ns: 5_000_000_000,
                failure_action: FailureAction::Rollback,
                monitor_ns: 30_000_000_000,
                max_failure_ratio: 0.25,
                order: UpdateOrder::StartFirst,
            }
        );
        assert_eq!(
            web.rollback_config,
            UpdateConfig {
                parallelism: 0,
                failure_action: FailureAction::Continue,
                ..UpdateConfig::default()
            }
        );
        assert_eq!(
            service(&stack, "api").mode,
            ServiceMode::Replicated { replicas: 2 }
        );
        let db = service(&stack, "db");
        assert_eq!(db.mode, ServiceMode::Global);
        assert_eq!(db.task.placement.constraints, ["node.labels.disk==ssd"]);
        let worker = service(&stack, "worker");
        assert_eq!(worker.mode, ServiceMode::Replicated { replicas: 1 });
        assert_eq!(worker.task.restart_policy, TaskRestartPolicy::default());
        assert_eq!(worker.update_config, UpdateConfig::default());
        assert_eq!(worker.endpoint.mode, "vip");
    }

    #[test]
    fn ports_publish_by_mode_and_ranges_expand() {
        let stack = translated(SHOP).unwrap();
        let port = |target, published, protocol: &str, publish_mode| PortConfig {
            target_port: target,
            published_port: published,
            protocol: protocol.to_string(),
            publish_mode,
        };
        assert_eq!(
            service(&stack, "web").endpoint.ports,
            [
                port(8080, 80, "tcp", PublishMode::Ingress),
                port(443, 8443, "tcp", PublishMode::Host),
                port(9000, 9000, "udp", PublishMode::Ingress),
                port(9001, 9001, "udp", PublishMode::Ingress),
            ]
        );
        let error =
            translated("services:\n  web:\n    image: nginx\n    ports: [\"8000-8010:80\"]\n")
                .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("service web: services.web.ports[0].published:")
                && error.to_string().contains("single port"),
            "{error}"
        );
    }

    #[test]
    fn secrets_and_configs_get_stack_names_and_references() {
        let stack = translated(SHOP).unwrap();
        let secret = |key: &str| stack.secrets.iter().find(|s| s.key == key).unwrap();
        let tls = secret("tls_key");
        assert_eq!(tls.name, "prod_tls_key");
        assert!(!tls.external);
        assert!(tls.file.as_ref().unwrap().is_absolute());
        assert!(tls.file.as_ref().unwrap().ends_with("tls.key"));
        assert_eq!(tls.labels[labels::STACK_NAMESPACE], "prod");
        assert_eq!(secret("api_token").environment.as_deref(), Some("s3cret"));
        let external = secret("db_password");
        assert_eq!(
            (external.name.as_str(), external.external),
            ("db_password", true)
        );
        assert!(external.labels.is_empty());
        let config = |key: &str| stack.configs.iter().find(|c| c.key == key).unwrap();
        assert_eq!(config("motd").content.as_deref(), Some("hello"));
        assert_eq!(config("nginx_conf").labels["role"], "proxy");
        assert_eq!(config("shared").name, "shared-config");
        assert!(!stack.secrets.iter().any(|s| s.key == "unused"));

        let web = service(&stack, "web");
        let reference = |name: &str, target: &str, owner: &str, mode| FileReference {
            name: name.to_string(),
            id: String::new(),
            target: target.to_string(),
            uid: owner.to_string(),
            gid: if owner == "0" { "0" } else { "102" }.to_string(),
            mode,
        };
        assert_eq!(
            web.task.secrets,
            [
                reference("prod_tls_key", "tls_key", "0", 0o444),
                reference("prod_api_token", "/etc/web/token", "101", 0o440),
            ]
        );
        assert_eq!(
            web.task.configs,
            [
                reference("prod_nginx_conf", "nginx_conf", "0", 0o444),
                reference("prod_motd", "/etc/motd", "0", 0o444),
            ]
        );
        assert_eq!(service(&stack, "db").task.secrets[0].name, "db_password");
        assert_eq!(
            service(&stack, "worker").task.configs,
            [reference("shared-config", "shared", "0", 0o444)]
        );
        // Secrets are references, not bind mounts of the container.
        assert!(web.task.container.mounts.is_empty());
    }

    #[test]
    fn volumes_and_networks_are_named_in_the_stack() {
        let stack = translated(SHOP).unwrap();
        let api = &service(&stack, "api").task.container;
        let sources: Vec<&str> = api.mounts.iter().map(|m| m.source.as_str()).collect();
        assert!(sources.contains(&"prod_cache"), "{sources:?}");
        assert!(sources.iter().any(|s| s.ends_with("/data")), "{sources:?}");
        let network = |key: &str| &stack.networks.iter().find(|n| n.key == key).unwrap().spec;
        assert_eq!(network("front").name, "prod_front");
        assert_eq!(network("front").driver, "overlay");
        assert_eq!(network("back").labels["team"], "data");
        assert_eq!(network("back").labels[DOCKER_STACK_NAMESPACE], "prod");
        assert_eq!(network("default").name, "prod_default");
        let corp = stack.networks.iter().find(|n| n.key == "corp").unwrap();
        assert_eq!((corp.spec.name.as_str(), corp.external), ("corp-net", true));
        let joined = |name: &str| -> Vec<(String, Vec<String>)> {
            service(&stack, name)
                .task
                .networks
                .iter()
                .map(|a| (a.target.clone(), a.aliases.clone()))
                .collect()
        };
        let alias = |key: &str| vec![key.to_string()];
        assert_eq!(
            joined("api"),
            [
                ("prod_back".to_string(), alias("api")),
                ("prod_front".to_string(), alias("api"))
            ]
        );
        assert_eq!(
            joined("worker"),
            [("prod_default".to_string(), alias("worker"))]
        );
    }

    #[test]
    fn network_settings_priorities_and_aliases_carry_over() {
        let stack = translated(
            r#"
services:
  web:
    image: busybox
    networks:
      low: {aliases: [www, site]}
      high: {priority: 10, ipv4_address: 10.9.0.5}
networks:
  low:
    driver: bridge
    internal: true
    ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.9.0.1}]}
  high:
    attachable: true
    driver_opts: {encrypted: ""}
"#,
        )
        .unwrap();
        let web = service(&stack, "web");
        let joined: Vec<(&str, Vec<&str>)> = web
            .task
            .networks
            .iter()
            .map(|a| {
                (
                    a.target.as_str(),
                    a.aliases.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            joined,
            [
                ("prod_high", vec!["web"]),
                ("prod_low", vec!["web", "www", "site"])
            ]
        );
        let low = &stack.networks.iter().find(|n| n.key == "low").unwrap().spec;
        assert_eq!(low.driver, "overlay");
        assert!(low.internal);
        assert_eq!(
            (low.subnet.as_str(), low.gateway.as_str()),
            ("10.9.0.0/24", "10.9.0.1")
        );
        let high = &stack
            .networks
            .iter()
            .find(|n| n.key == "high")
            .unwrap()
            .spec;
        assert!(high.attachable);
        assert_eq!(high.options["encrypted"], "");
        for expected in [
            "network low: driver bridge is ignored",
            "service web: networks.high.ipv4_address is ignored",
        ] {
            assert!(
                stack.warnings.iter().any(|w| w.starts_with(expected)),
                "{expected:?} in {:#?}",
                stack.warnings
            );
        }
    }

    #[test]
    fn ignored_options_warn_once_per_service_and_field() {
        let stack = translated(SHOP).unwrap();
        let warnings = &stack.warnings;
        for expected in [
            "service web: build is ignored",
            "service web: container_name is ignored",
            "service web: restart is ignored: deploy.restart_policy governs",
            "service web: depends_on is ignored",
            "service web: ports[2].host_ip 127.0.0.1 is ignored",
            "service web: ports[3].host_ip 127.0.0.1 is ignored",
            "service api: privileged is ignored",
            "service api: links is ignored",
            // The start order its link implies, as compose-go adds it.
            "service api: depends_on is ignored",
        ] {
            assert_eq!(
                warnings.iter().filter(|w| w.starts_with(expected)).count(),
                1,
                "{expected:?} in {warnings:#?}"
            );
        }
        assert!(
            !warnings.iter().any(|w| w.contains("worker")),
            "{warnings:#?}"
        );
        assert_eq!(warnings.len(), 9, "{warnings:#?}");
    }

    #[test]
    fn what_cannot_be_deployed_is_refused_naming_the_service() {
        let refused = |compose: &str| translated(compose).unwrap_err().to_string();
        assert_eq!(
            refused("services:\n  web:\n    build: .\n"),
            "service web has build: but no image: a stack deploys images from a registry; build and push it, then set image:"
        );
        for job in ["replicated-job", "global-job"] {
            let message = refused(&format!(
                "services:\n  once:\n    image: busybox\n    deploy: {{mode: {job}}}\n"
            ));
            assert!(
                message.starts_with(&format!("service once: deploy.mode {job} is not supported")),
                "{message}"
            );
        }
        let message = refused(
            "services:\n  web:\n    image: nginx\n    secrets: [key]\nsecrets:\n  key: {}\n",
        );
        assert!(
            message.starts_with("secret key (used by service web) has no source: give it `file:`"),
            "{message}"
        );
        let message = refused(
            "services:\n  web:\n    image: nginx\n    configs: [conf]\nconfigs:\n  conf: {}\n",
        );
        assert!(message.contains("`content:`"), "{message}");
        let message = refused(
            "services:\n  web:\n    image: nginx\n    secrets: [key]\nsecrets:\n  key: {environment: NOT_SET}\n",
        );
        assert!(
            message.contains("comes from the variable NOT_SET, which is not set"),
            "{message}"
        );
        let message = refused(
            "services:\n  web:\n    image: nginx\n    deploy: {restart_policy: {condition: always}}\n",
        );
        assert!(
            message.starts_with("service web: services.web.deploy.restart_policy.condition:"),
            "{message}"
        );
        let message = refused("services:\n  web:\n    image: nginx\n    gpus: all\n");
        assert!(
            message.starts_with("service web: services.web.gpus"),
            "{message}"
        );
        let error = stack(&project("services:\n  web:\n    image: nginx\n"), "-x").unwrap_err();
        assert!(matches!(error, StackError::Namespace(_)), "{error}");
    }

    /// Puts `value` (YAML) at `keys` under the service `name` of the model.
    fn set(project: &mut Project, name: &str, keys: &[&str], value: Option<&str>) {
        let origin = Origin::file(Arc::new(PathBuf::from("test.yaml")));
        let mut node = project
            .model
            .as_map_mut()
            .and_then(|m| m.get_mut("services"))
            .and_then(Node::as_map_mut)
            .and_then(|s| s.get_mut(name))
            .unwrap();
        let (last, path) = keys.split_last().unwrap();
        for key in path {
            node = node.as_map_mut().and_then(|m| m.get_mut(key)).unwrap();
        }
        let map = node.as_map_mut().unwrap();
        match value {
            Some(yaml) => map.insert(
                Key {
                    name: last.to_string(),
                    origin,
                },
                Node::parse(Path::new("test.yaml"), yaml).unwrap(),
            ),
            None => {
                map.remove(last);
            }
        }
    }

    #[test]
    fn legacy_constraint_maps_and_undeclared_references_are_handled() {
        let mut legacy = project(SHOP);
        set(
            &mut legacy,
            "db",
            &["deploy", "placement", "constraints"],
            Some("{node.role: manager, node.labels.disk: ssd}"),
        );
        let stack = stack(&legacy, "prod").unwrap();
        assert_eq!(
            service(&stack, "db").task.placement.constraints,
            ["node.labels.disk==ssd", "node.role==manager"]
        );
        let mut undeclared = project(SHOP);
        if let Some(top) = undeclared.model.as_map_mut() {
            top.get_mut("secrets")
                .and_then(Node::as_map_mut)
                .unwrap()
                .remove("tls_key");
        }
        assert_eq!(
            super::stack(&undeclared, "prod").unwrap_err().to_string(),
            "service web refers to secret \"tls_key\", which is not declared: add it under the top-level `secrets:` key"
        );
    }

    #[test]
    fn every_service_key_of_the_spec_is_mapped_ignored_or_refused() {
        let schema: Json =
            serde_json::from_str(include_str!("../schema/compose-spec.json")).unwrap();
        let keys = schema["definitions"]["service"]["properties"]
            .as_object()
            .unwrap();
        let unclassified: Vec<&String> = keys
            .keys()
            .filter(|key| *key != "extends")
            .filter(|key| {
                !CONTAINER_FIELDS.contains(&key.as_str())
                    && !STACK_FIELDS.contains(&key.as_str())
                    && !IGNORED.iter().any(|(ignored, _)| ignored == key)
            })
            .collect();
        assert!(unclassified.is_empty(), "{unclassified:?}");
    }

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compose-corpus")
    }

    #[test]
    fn every_loadable_corpus_file_deploys_or_is_refused_naming_a_service() {
        let manifest = std::fs::read_to_string(corpus().join("manifest.tsv")).unwrap();
        let mut deployed = 0;
        let mut refused = Vec::new();
        for line in manifest.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.get(1) != Some(&"valid") {
                continue;
            }
            let file = corpus().join(fields[0]);
            let dir = file.parent().unwrap().to_path_buf();
            let project = load(&LoadOptions {
                files: vec![file],
                environment: BTreeMap::from([("HOME".to_string(), "/home/user".to_string())]),
                working_dir: dir,
                ..Default::default()
            })
            .unwrap();
            match stack(&project, "corpus") {
                Ok(stack) => {
                    deployed += 1;
                    assert!(stack.services.iter().all(|s| s.name.starts_with("corpus_")));
                }
                Err(error) => {
                    let message = error.to_string();
                    let names_a_service = entries(&project.model.to_json(), "services")
                        .any(|(name, _)| message.contains(&format!("service {name}")));
                    assert!(names_a_service, "{}: {message}", fields[0]);
                    refused.push(format!("{}: {message}", fields[0]));
                }
            }
        }
        assert!(
            deployed >= 50,
            "only {deployed} deployed; refused:\n{}",
            refused.join("\n")
        );
    }
}
