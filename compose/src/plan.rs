//! A loaded project as what one host must make: its networks and volumes
//! with their real names and labels, and its services in dependency order,
//! each with the container spec of its replicas, the networks it joins and
//! a hash of its configuration (a container whose hash differs is
//! recreated by `up`). Labels follow Docker Compose's, so `hoist compose`
//! finds what it made, and so would tools that know Docker's labels.

use std::collections::{BTreeMap, BTreeSet};

use hoist_api::spec::ContainerSpec;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::project::Project;
use crate::spec::{BuildSecret, SpecContext, SpecError, build_secrets, container_spec};

/// Docker Compose's label names.
pub mod labels {
    /// The project a resource belongs to.
    pub const PROJECT: &str = "com.docker.compose.project";
    /// The service a container runs.
    pub const SERVICE: &str = "com.docker.compose.service";
    /// The replica number of a container (1, 2, …).
    pub const NUMBER: &str = "com.docker.compose.container-number";
    /// Whether a container is a one-off (`compose run`).
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    /// The hash of the service configuration a container was made from.
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    /// The project directory.
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    /// The compose files, comma-separated.
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    /// `service:condition:restart` of each dependency, comma-separated.
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    /// The key of a network in the compose file.
    pub const NETWORK: &str = "com.docker.compose.network";
    /// The key of a volume in the compose file.
    pub const VOLUME: &str = "com.docker.compose.volume";
}

/// Everything `up` makes for a project.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The project name.
    pub project: String,
    /// The networks, in the order the file declares them.
    pub networks: Vec<NetworkPlan>,
    /// The named volumes.
    pub volumes: Vec<VolumePlan>,
    /// The services, every one after those it depends on.
    pub services: Vec<ServicePlan>,
}

/// One network of the project.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    /// Its key in the compose file.
    pub key: String,
    /// Its real name (`<project>_<key>` unless named).
    pub name: String,
    /// Made elsewhere: must exist, is never created or removed.
    pub external: bool,
    /// No route to the outside.
    pub internal: bool,
    /// `bridge` (the only driver one host has).
    pub driver: String,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// Labels, the project's own included.
    pub labels: BTreeMap<String, String>,
    /// `ipam.config[0].subnet`.
    pub subnet: Option<String>,
    /// `ipam.config[0].gateway`.
    pub gateway: Option<String>,
    /// `ipam.config[0].ip_range`.
    pub ip_range: Option<String>,
}

/// One named volume of the project.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumePlan {
    /// Its key in the compose file.
    pub key: String,
    /// Its real name.
    pub name: String,
    /// Made elsewhere: must exist, is never created or removed.
    pub external: bool,
    /// Labels, the project's own included.
    pub labels: BTreeMap<String, String>,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Its containers are running.
    Started,
    /// Its containers are running and healthy.
    Healthy,
    /// Its containers have exited with status 0.
    CompletedSuccessfully,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The service depended on.
    pub service: String,
    /// When it counts as ready.
    pub condition: Condition,
    /// Restart this service when that one is recreated.
    pub restart: bool,
    /// `false`: a missing or failing dependency only warns.
    pub required: bool,
}

/// A network a service's containers join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The network's real name.
    pub network: String,
    /// Names besides the service name on that network.
    pub aliases: Vec<String>,
    /// A fixed IPv4 address.
    pub ipv4_address: Option<String>,
}

/// One service: how to make each of its containers.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The service name.
    pub name: String,
    /// How many containers (`deploy.replicas`, `scale`; default 1).
    pub replicas: u32,
    /// `container_name`, when set (one replica only).
    pub container_name: Option<String>,
    /// What it waits for.
    pub depends_on: Vec<Dependency>,
    /// The networks it joins, the first one at creation, the others
    /// connected before the start. Empty with a `network_mode`.
    pub networks: Vec<Attachment>,
    /// `host`, `none`, `service:<name>` or `container:<name>`.
    pub network_mode: Option<String>,
    /// The container spec (networks not set; compose labels set except the
    /// container number).
    pub spec: ContainerSpec,
    /// A hash of the service's configuration.
    pub config_hash: String,
    /// The image is built from a context (`build:`), not pulled.
    pub build: Option<Json>,
    /// `build.secrets`, resolved.
    pub build_secrets: Vec<BuildSecret>,
    /// `pull_policy` (`missing` by default).
    pub pull_policy: String,
}

impl ServicePlan {
    /// The container name of replica `number`.
    pub fn container_name(&self, project: &str, number: u32) -> String {
        match &self.container_name {
            Some(name) => name.clone(),
            None => format!("{project}-{}-{number}", self.name),
        }
    }

    /// The spec of replica `number`: the service's, numbered.
    pub fn replica_spec(&self, number: u32) -> ContainerSpec {
        let mut spec = self.spec.clone();
        spec.labels
            .insert(labels::NUMBER.to_string(), number.to_string());
        spec
    }
}

/// Why a project cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A service setting has no container equivalent.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Something else about the model.
    #[error("{0}")]
    Invalid(String),
}

/// Plans `project`.
pub fn plan(project: &Project) -> Result<Plan, PlanError> {
    let model = project.model.to_json();
    let context = SpecContext {
        model: &model,
        environment: &project.environment,
    };
    let project_labels = BTreeMap::from([(labels::PROJECT.to_string(), project.name.clone())]);
    let networks = resources(&model, "networks")
        .map(|(key, network)| network_plan(key, network, &project_labels))
        .collect();
    let volumes = resources(&model, "volumes")
        .map(|(key, volume)| VolumePlan {
            key: key.clone(),
            name: text(&volume["name"]).unwrap_or_else(|| key.clone()),
            external: volume["external"].as_bool().unwrap_or(false),
            labels: with_labels(&project_labels, &volume["labels"], labels::VOLUME, key),
        })
        .collect();
    let mut services = Vec::new();
    for name in dependency_order(&model) {
        let service = &model["services"][&name];
        let mut spec = container_spec(&context, &name)?;
        let config_hash = config_hash(service);
        let depends_on = dependencies(service);
        spec.labels.extend([
            (labels::PROJECT.to_string(), project.name.clone()),
            (labels::SERVICE.to_string(), name.clone()),
            (labels::ONEOFF.to_string(), "False".to_string()),
            (labels::CONFIG_HASH.to_string(), config_hash.clone()),
            (
                labels::WORKING_DIR.to_string(),
                project.directory.display().to_string(),
            ),
            (
                labels::CONFIG_FILES.to_string(),
                project
                    .files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (labels::DEPENDS_ON.to_string(), depends_label(&depends_on)),
        ]);
        let network_mode = text(&service["network_mode"]);
        let attachments = if network_mode.is_some() {
            Vec::new()
        } else {
            attachments(&model, &name, service)
        };
        let replicas = replicas(service);
        let container_name = text(&service["container_name"]);
        if container_name.is_some() && replicas > 1 {
            return Err(PlanError::Invalid(format!(
                "services.{name}: container_name {:?} cannot be used with {replicas} replicas: container names are unique",
                container_name.unwrap_or_default()
            )));
        }
        services.push(ServicePlan {
            name: name.clone(),
            replicas,
            container_name,
            depends_on,
            networks: attachments,
            network_mode,
            spec,
            config_hash,
            build: service.get("build").cloned(),
            build_secrets: build_secrets(&context, &name)?,
            pull_policy: text(&service["pull_policy"]).unwrap_or_else(|| "missing".into()),
        });
    }
    Ok(Plan {
        project: project.name.clone(),
        networks,
        volumes,
        services,
    })
}

/// The entries of a top-level mapping.
fn resources<'a>(model: &'a Json, kind: &str) -> impl Iterator<Item = (&'a String, &'a Json)> {
    model[kind].as_object().into_iter().flat_map(|m| m.iter())
}

fn network_plan(key: &str, network: &Json, project: &BTreeMap<String, String>) -> NetworkPlan {
    let ipam = &network["ipam"]["config"][0];
    NetworkPlan {
        key: key.to_string(),
        name: text(&network["name"]).unwrap_or_else(|| key.to_string()),
        external: network["external"].as_bool().unwrap_or(false),
        internal: network["internal"].as_bool().unwrap_or(false),
        driver: text(&network["driver"]).unwrap_or_else(|| "bridge".into()),
        options: string_map(&network["driver_opts"]),
        labels: with_labels(project, &network["labels"], labels::NETWORK, key),
        subnet: text(&ipam["subnet"]),
        gateway: text(&ipam["gateway"]),
        ip_range: text(&ipam["ip_range"]),
    }
}

/// The project's labels, the resource's own, and its key label.
fn with_labels(
    project: &BTreeMap<String, String>,
    own: &Json,
    key_label: &str,
    key: &str,
) -> BTreeMap<String, String> {
    let mut out = project.clone();
    out.extend(string_map(own));
    out.insert(key_label.to_string(), key.to_string());
    out
}

/// Services so that each comes after what it depends on (the model has
/// no cycles: normalisation refused them); otherwise in name order.
fn dependency_order(model: &Json) -> Vec<String> {
    let names: Vec<String> = model["services"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    let mut placed = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < names.len() {
        let before = order.len();
        for name in &names {
            if placed.contains(name) {
                continue;
            }
            let ready = model["services"][name]["depends_on"]
                .as_object()
                .is_none_or(|deps| deps.keys().all(|d| placed.contains(d)));
            if ready {
                placed.insert(name.clone());
                order.push(name.clone());
            }
        }
        if order.len() == before {
            // Unreachable for a normalised model; keep the rest in name order.
            order.extend(names.iter().filter(|n| !placed.contains(*n)).cloned());
            break;
        }
    }
    order
}

/// The `depends_on` entries of a normalised service.
fn dependencies(service: &Json) -> Vec<Dependency> {
    resources(service, "depends_on")
        .map(|(name, dependency)| Dependency {
            service: name.clone(),
            condition: match dependency["condition"].as_str() {
                Some("service_healthy") => Condition::Healthy,
                Some("service_completed_successfully") => Condition::CompletedSuccessfully,
                _ => Condition::Started,
            },
            restart: dependency["restart"].as_bool().unwrap_or(false),
            required: dependency["required"].as_bool().unwrap_or(true),
        })
        .collect()
}

/// Docker Compose's `depends_on` label: `db:service_healthy:false,…`.
fn depends_label(dependencies: &[Dependency]) -> String {
    dependencies
        .iter()
        .map(|d| {
            let condition = match d.condition {
                Condition::Started => "service_started",
                Condition::Healthy => "service_healthy",
                Condition::CompletedSuccessfully => "service_completed_successfully",
            };
            format!("{}:{condition}:{}", d.service, d.restart)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The networks a service joins, by `priority` (highest first) then name,
/// each with the service name as an alias.
fn attachments(model: &Json, name: &str, service: &Json) -> Vec<Attachment> {
    let mut entries: Vec<(i64, String, &Json)> = resources(service, "networks")
        .map(|(key, settings)| {
            (
                settings["priority"].as_i64().unwrap_or(0),
                key.clone(),
                settings,
            )
        })
        .collect();
    entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    entries
        .into_iter()
        .map(|(_, key, settings)| {
            let mut aliases = vec![name.to_string()];
            aliases.extend(
                settings["aliases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text),
            );
            Attachment {
                network: text(&model["networks"][&key]["name"]).unwrap_or(key),
                aliases,
                ipv4_address: text(&settings["ipv4_address"]),
            }
        })
        .collect()
}

/// `deploy.replicas`, else `scale`, else 1.
fn replicas(service: &Json) -> u32 {
    service["deploy"]["replicas"]
        .as_u64()
        .or_else(|| service["scale"].as_u64())
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A stable hash of a service's configuration, without what does not
/// change its containers (how many there are).
fn config_hash(service: &Json) -> String {
    let mut service = service.clone();
    if let Some(map) = service.as_object_mut() {
        map.remove("scale");
        if let Some(deploy) = map.get_mut("deploy").and_then(Json::as_object_mut) {
            deploy.remove("replicas");
        }
    }
    hex::encode(Sha256::digest(service.to_string().as_bytes()))
}

/// A scalar as text.
fn text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A mapping of scalars as strings.
fn string_map(value: &Json) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| text(v).map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{LoadOptions, load};

    fn planned(compose: &str) -> Result<Plan, PlanError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
        let project = load(&LoadOptions {
            files: vec![dir.path().join("compose.yaml")],
            working_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        plan(&project)
    }

    fn service<'a>(plan: &'a Plan, name: &str) -> &'a ServicePlan {
        plan.services.iter().find(|s| s.name == name).unwrap()
    }

    const SHOP: &str = r#"
name: shop
services:
  web:
    image: busybox
    depends_on:
      api: {condition: service_started, restart: true}
    networks:
      front: {}
      back: {priority: 10, aliases: [www]}
  api:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully, required: false}
    networks: [back]
  db:
    image: busybox
    deploy: {replicas: 2}
    volumes: [data:/var/lib/db]
    networks: [back]
  migrate:
    image: busybox
    network_mode: none
networks:
  front:
    ipam:
      config: [{subnet: 10.77.0.0/24, gateway: 10.77.0.1}]
  back:
    internal: true
    labels: {team: data}
  outside:
    external: true
    name: corp
volumes:
  data: {}
  archive: {name: shared-archive, external: true}
"#;

    #[test]
    fn services_come_after_what_they_depend_on() {
        let plan = planned(SHOP).unwrap();
        let order: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
        let at = |name| order.iter().position(|n| *n == name).unwrap();
        assert!(
            at("db") < at("api") && at("migrate") < at("api") && at("api") < at("web"),
            "{order:?}"
        );
        let api = service(&plan, "api");
        assert_eq!(
            api.depends_on,
            vec![
                Dependency {
                    service: "db".into(),
                    condition: Condition::Healthy,
                    restart: false,
                    required: true,
                },
                Dependency {
                    service: "migrate".into(),
                    condition: Condition::CompletedSuccessfully,
                    restart: false,
                    required: false,
                },
            ]
        );
        assert_eq!(
            api.spec.labels[labels::DEPENDS_ON],
            "db:service_healthy:false,migrate:service_completed_successfully:false"
        );
        assert!(service(&plan, "web").depends_on[0].restart);
    }

    #[test]
    fn a_link_starts_its_service_after_the_one_it_names_and_gives_its_alias() {
        let plan = planned(
            "services:\n  app:\n    image: busybox\n    links: [\"db:database\"]\n  db:\n    image: busybox\n",
        )
        .unwrap();
        let order: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["db", "app"]);
        let app = service(&plan, "app");
        assert_eq!(
            app.depends_on,
            vec![Dependency {
                service: "db".into(),
                condition: Condition::Started,
                restart: true,
                required: true,
            }]
        );
        assert_eq!(app.spec.links, ["db:database"]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("compose.yaml"),
            "services:\n  app:\n    image: busybox\n    links: [nodb]\n",
        )
        .unwrap();
        let error = load(&LoadOptions {
            files: vec![dir.path().join("compose.yaml")],
            working_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("links to undefined service \"nodb\""),
            "{error}"
        );
    }

    #[test]
    fn resources_get_project_names_and_labels() {
        let plan = planned(SHOP).unwrap();
        let front = plan.networks.iter().find(|n| n.key == "front").unwrap();
        assert_eq!(front.name, "shop_front");
        assert_eq!(front.subnet.as_deref(), Some("10.77.0.0/24"));
        assert_eq!(front.gateway.as_deref(), Some("10.77.0.1"));
        assert_eq!(front.labels[labels::PROJECT], "shop");
        assert_eq!(front.labels[labels::NETWORK], "front");
        let back = plan.networks.iter().find(|n| n.key == "back").unwrap();
        assert!(back.internal && !back.external);
        assert_eq!(back.labels["team"], "data");
        let outside = plan.networks.iter().find(|n| n.key == "outside").unwrap();
        assert!(outside.external);
        assert_eq!(outside.name, "corp");
        let data = plan.volumes.iter().find(|v| v.key == "data").unwrap();
        assert_eq!((data.name.as_str(), data.external), ("shop_data", false));
        assert_eq!(data.labels[labels::VOLUME], "data");
        let archive = plan.volumes.iter().find(|v| v.key == "archive").unwrap();
        assert_eq!(
            (archive.name.as_str(), archive.external),
            ("shared-archive", true)
        );
    }

    #[test]
    fn containers_are_named_numbered_and_attached() {
        let plan = planned(SHOP).unwrap();
        let db = service(&plan, "db");
        assert_eq!(db.replicas, 2);
        assert_eq!(db.container_name("shop", 2), "shop-db-2");
        let second = db.replica_spec(2);
        assert_eq!(second.labels[labels::NUMBER], "2");
        assert_eq!(second.labels[labels::SERVICE], "db");
        assert_eq!(second.labels[labels::PROJECT], "shop");
        assert_eq!(second.labels[labels::ONEOFF], "False");
        assert_eq!(second.labels[labels::CONFIG_HASH], db.config_hash);

        // The highest priority network first; the service name is an alias.
        let web = service(&plan, "web");
        let networks: Vec<(&str, &[String])> = web
            .networks
            .iter()
            .map(|a| (a.network.as_str(), a.aliases.as_slice()))
            .collect();
        assert_eq!(
            networks,
            vec![
                ("shop_back", &["web".to_string(), "www".to_string()][..]),
                ("shop_front", &["web".to_string()][..]),
            ]
        );
        let migrate = service(&plan, "migrate");
        assert_eq!(migrate.network_mode.as_deref(), Some("none"));
        assert!(migrate.networks.is_empty());
    }

    #[test]
    fn the_hash_follows_configuration_but_not_replica_count() {
        let base = planned(SHOP).unwrap();
        let rescaled = planned(&SHOP.replace("replicas: 2", "replicas: 5")).unwrap();
        let edited = planned(&SHOP.replace("/var/lib/db", "/srv/db")).unwrap();
        let hash = |plan: &Plan, name| service(plan, name).config_hash.clone();
        assert_eq!(hash(&base, "db"), hash(&rescaled, "db"));
        assert_ne!(hash(&base, "db"), hash(&edited, "db"));
        assert_eq!(hash(&base, "web"), hash(&edited, "web"));
    }

    #[test]
    fn a_fixed_container_name_allows_one_replica() {
        let error = planned(
            "services:\n  app:\n    image: busybox\n    container_name: only\n    deploy: {replicas: 2}\n",
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("container_name \"only\" cannot be used with 2 replicas"),
            "{error}"
        );
    }
}
