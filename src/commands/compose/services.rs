//! Which containers a per-project command acts on, and in which order:
//! the containers of the named services (all when none are named), and
//! the services grouped into waves so that a service starts after what it
//! depends on and stops before it, as Docker Compose orders them.

use std::collections::{BTreeMap, BTreeSet};

use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::{Plan, labels};

use super::engine::Engine;
use super::up::selection;
use crate::exit::CliResult;

/// The service a container runs, from its label.
pub fn service_of(container: &ContainerSummary) -> Option<&str> {
    container.labels.get(labels::SERVICE).map(String::as_str)
}

/// Whether a container was made by `compose run` rather than for a
/// service's replicas.
pub fn is_one_off(container: &ContainerSummary) -> bool {
    container
        .labels
        .get(labels::ONEOFF)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The containers of the `selected` services (see `up::selection`):
/// containers of services the file no longer has (orphans) are left out.
pub fn of_services(
    containers: Vec<ContainerSummary>,
    selected: &BTreeSet<String>,
) -> Vec<ContainerSummary> {
    containers
        .into_iter()
        .filter(|c| service_of(c).is_some_and(|s| selected.contains(s)))
        .collect()
}

/// The running (or paused) service containers of the named services (all
/// when none are named); one-off containers are left out.
pub async fn running_containers(
    engine: &Engine,
    plan: &Plan,
    names: &[String],
) -> CliResult<Vec<ContainerSummary>> {
    let selected = selection(plan, names, true)?;
    let running = engine.project_containers(&plan.project, false).await?;
    Ok(of_services(running, &selected)
        .into_iter()
        .filter(|c| !is_one_off(c))
        .collect())
}

/// What `restart` restarts: the named services (all when none are
/// named) and, unless `no_deps`, every service that depends on one of them
/// with `restart: true`, transitively.
pub fn with_dependents(plan: &Plan, named: &BTreeSet<String>, no_deps: bool) -> BTreeSet<String> {
    let mut selected = named.clone();
    if no_deps {
        return selected;
    }
    // Dependents come after what they depend on: one pass reaches them all.
    for service in &plan.services {
        if service
            .depends_on
            .iter()
            .any(|d| d.restart && selected.contains(&d.service))
        {
            selected.insert(service.name.clone());
        }
    }
    selected
}

/// The selected services in start order: each wave after every wave
/// holding something its services depend on.
pub fn start_waves(plan: &Plan, selected: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    // The plan lists every service after those it depends on.
    for service in &plan.services {
        let level = service
            .depends_on
            .iter()
            .filter_map(|d| depth.get(d.service.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        depth.insert(&service.name, level);
    }
    waves(plan, selected, &depth)
}

/// The selected services in stop order: each wave before every wave
/// holding something its services depend on.
pub fn stop_waves(plan: &Plan, selected: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut height: BTreeMap<&str, usize> = BTreeMap::new();
    for service in plan.services.iter().rev() {
        let level = plan
            .services
            .iter()
            .filter(|s| s.depends_on.iter().any(|d| d.service == service.name))
            .filter_map(|s| height.get(s.name.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        height.insert(&service.name, level);
    }
    waves(plan, selected, &height)
}

/// The selected services grouped by level, lowest level first.
fn waves(
    plan: &Plan,
    selected: &BTreeSet<String>,
    level: &BTreeMap<&str, usize>,
) -> Vec<Vec<String>> {
    let mut grouped: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for service in plan.services.iter().filter(|s| selected.contains(&s.name)) {
        let at = level.get(service.name.as_str()).copied().unwrap_or(0);
        grouped.entry(at).or_default().push(service.name.clone());
    }
    grouped.into_values().collect()
}

/// The containers among `containers` that run one of `services`.
pub fn in_wave(containers: &[ContainerSummary], services: &[String]) -> Vec<ContainerSummary> {
    containers
        .iter()
        .filter(|c| service_of(c).is_some_and(|s| services.iter().any(|n| n == s)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_compose::plan::{Condition, Dependency, ServicePlan};

    fn service(name: &str, depends_on: &[&str]) -> ServicePlan {
        ServicePlan {
            name: name.into(),
            replicas: 1,
            container_name: None,
            depends_on: depends_on
                .iter()
                .map(|d| Dependency {
                    service: d.to_string(),
                    condition: Condition::Started,
                    restart: false,
                    required: true,
                })
                .collect(),
            networks: Vec::new(),
            network_mode: None,
            spec: Default::default(),
            config_hash: String::new(),
            build: None,
            build_secrets: Vec::new(),
            pull_policy: String::new(),
        }
    }

    fn shop() -> Plan {
        Plan {
            project: "shop".into(),
            networks: Vec::new(),
            volumes: Vec::new(),
            services: vec![
                service("db", &[]),
                service("cache", &[]),
                service("api", &["db", "cache"]),
                service("web", &["api"]),
                service("docs", &[]),
            ],
        }
    }

    fn all(plan: &Plan) -> BTreeSet<String> {
        plan.services.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn starts_dependencies_first_and_stops_them_last() {
        let plan = shop();
        assert_eq!(
            start_waves(&plan, &all(&plan)),
            vec![vec!["db", "cache", "docs"], vec!["api"], vec!["web"]]
        );
        assert_eq!(
            stop_waves(&plan, &all(&plan)),
            vec![vec!["web", "docs"], vec!["api"], vec!["db", "cache"]]
        );
        let some: BTreeSet<String> = ["db".to_string(), "web".to_string()].into();
        assert_eq!(stop_waves(&plan, &some), vec![vec!["web"], vec!["db"]]);
    }

    #[test]
    fn restart_takes_dependents_that_ask_for_it() {
        let mut plan = shop();
        plan.services[2].depends_on[0].restart = true; // api restarts with db
        plan.services[3].depends_on[0].restart = true; // web restarts with api
        let db: BTreeSet<String> = ["db".to_string()].into();
        let cache: BTreeSet<String> = ["cache".to_string()].into();
        assert_eq!(
            with_dependents(&plan, &db, false),
            ["api", "db", "web"].map(String::from).into()
        );
        assert_eq!(with_dependents(&plan, &db, true), db);
        assert_eq!(with_dependents(&plan, &cache, false), cache);
    }
}
