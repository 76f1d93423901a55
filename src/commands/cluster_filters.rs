//! `--filter` of the cluster's listings (`node ls`, `service ls`, `secret
//! ls`, `config ls`) by Docker's keys, with the rules the daemon applies to
//! its own listings (values of a key are alternatives, different keys must
//! all match): applied here, to the lists a manager answers with.

use std::collections::BTreeMap;

use hoist_api::cluster::{NodeView, ServiceView};
use hoist_api::filters::Filters;

use crate::exit::{CliError, CliResult};

/// Parses `given` for `what`, refusing keys it does not take.
fn parse(given: &[String], what: &'static str, keys: &[&str]) -> CliResult<Filters> {
    Filters::parse(given, what, keys).map_err(|e| CliError::client(e.to_string()))
}

/// `node ls --filter`: `id` and `name` (hostname) by prefix, `role`,
/// `membership` (every node of a hoist cluster is `accepted`),
/// `node.label`; `label` asks for engine labels, which hoist's daemons do
/// not carry.
pub fn nodes(given: &[String], nodes: Vec<NodeView>) -> CliResult<Vec<NodeView>> {
    let filters = parse(
        given,
        "node ls",
        &["id", "name", "role", "membership", "label", "node.label"],
    )?;
    Ok(nodes
        .into_iter()
        .filter(|node| {
            filters.any("id", |id| node.id.starts_with(id))
                && filters.any("name", |name| node.hostname.starts_with(name))
                && filters.exact("role", &node.role)
                && filters.exact("membership", "accepted")
                && filters.labels_under("node.label", |k| node.labels.get(k).map(String::as_str))
                && filters.labels_under("label", |_| None)
        })
        .collect())
}

/// `service ls --filter`: `id` and `name` by prefix, `mode`, `label`.
pub fn services(given: &[String], services: Vec<ServiceView>) -> CliResult<Vec<ServiceView>> {
    let filters = parse(given, "service ls", &["id", "name", "mode", "label"])?;
    Ok(services
        .into_iter()
        .filter(|service| {
            filters.any("id", |id| service.id.starts_with(id))
                && filters.any("name", |name| service.name.starts_with(name))
                && filters.exact("mode", &service.mode)
                && filters.labels_match(|k| service.spec.labels.get(k).map(String::as_str))
        })
        .collect())
}

/// `secret ls` / `config ls --filter`: `id` and `name` by prefix, `label`.
pub fn stored<T>(
    given: &[String],
    what: &'static str,
    items: Vec<T>,
    fields: impl Fn(&T) -> (&str, &str, &BTreeMap<String, String>),
) -> CliResult<Vec<T>> {
    let filters = parse(given, what, &["id", "name", "label"])?;
    Ok(items
        .into_iter()
        .filter(|item| {
            let (id, name, labels) = fields(item);
            filters.any("id", |prefix| id.starts_with(prefix))
                && filters.any("name", |prefix| name.starts_with(prefix))
                && filters.labels_match(|k| labels.get(k).map(String::as_str))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(filters: &[&str]) -> Vec<String> {
        filters.iter().map(|s| s.to_string()).collect()
    }

    fn node(id: &str, hostname: &str, role: &str, labels: &[(&str, &str)]) -> NodeView {
        NodeView {
            id: id.into(),
            hostname: hostname.into(),
            role: role.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..NodeView::default()
        }
    }

    #[test]
    fn nodes_filter_as_docker_filters_them() {
        let all = || {
            vec![
                node("abc", "m1", "manager", &[("zone", "a")]),
                node("abd", "w1", "worker", &[("zone", "b")]),
                node("xyz", "w2", "worker", &[]),
            ]
        };
        let ids = |filters: &[&str]| -> Vec<String> {
            nodes(&given(filters), all())
                .unwrap()
                .into_iter()
                .map(|n| n.id)
                .collect()
        };
        assert_eq!(ids(&["role=worker"]), ["abd", "xyz"]);
        assert_eq!(ids(&["id=ab", "role=worker"]), ["abd"]);
        assert_eq!(ids(&["name=w"]), ["abd", "xyz"]);
        assert_eq!(ids(&["node.label=zone"]), ["abc", "abd"]);
        assert_eq!(ids(&["node.label=zone=b"]), ["abd"]);
        assert_eq!(ids(&["membership=accepted"]).len(), 3);
        assert!(ids(&["membership=pending"]).is_empty());
        assert!(ids(&["label=zone"]).is_empty(), "engine labels: none");
        let error = nodes(&given(&["colour=red"]), all()).unwrap_err();
        assert!(
            error
                .message
                .starts_with("invalid filter 'colour': node ls takes")
        );
    }

    #[test]
    fn stored_objects_filter_by_id_name_and_label() {
        let labels: BTreeMap<String, String> = [("team".to_string(), "web".to_string())].into();
        let none = BTreeMap::new();
        let items = vec![("s1", "db_password", &labels), ("s2", "api_key", &none)];
        let names = |filters: &[&str]| -> Vec<&str> {
            stored(
                &given(filters),
                "secret ls",
                items.clone(),
                |(id, name, labels)| (id, name, labels),
            )
            .unwrap()
            .into_iter()
            .map(|(_, name, _)| name)
            .collect()
        };
        assert_eq!(names(&["name=db"]), ["db_password"]);
        assert_eq!(names(&["label=team=web"]), ["db_password"]);
        assert_eq!(names(&["id=s2"]), ["api_key"]);
        assert_eq!(names(&["name=db", "name=api"]).len(), 2);
    }
}
