//! The cluster's networks in `hoist network …`, as Docker shows swarm
//! networks: on a manager, `network ls` lists them beside the local ones
//! (scope `swarm`), `network create -d overlay` makes one, and `inspect`
//! and `rm` act on a cluster network when the name is one. A node's local
//! bridge that carries a cluster network is shown as that network.

use hoist_api::cluster_proto::networks_client::NetworksClient;
use hoist_api::cluster_proto::{Empty, JsonDocument, NetworkName};
use hoist_api::filters::{Filters, Patterns};
use hoist_api::network::{NetworkSpec, NetworkView};
use hoist_api::proto::Network;
use hoist_api::service::labels;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Status};

use hoist_manager::store::{Lookup, lookup_by};

use crate::commands::decode;
use crate::exit::{CliError, CliResult};

/// The cluster networks, by name; `None` when this node is not a manager
/// (or not in a cluster): then only local networks exist for it. When the
/// cluster cannot answer (no quorum), says so and carries on with the
/// local networks.
pub async fn list(channel: &Channel) -> CliResult<Option<Vec<NetworkView>>> {
    match NetworksClient::new(channel.clone()).list(Empty {}).await {
        Ok(answer) => Ok(Some(decode(&answer.into_inner().json)?)),
        Err(status) if status.code() == Code::FailedPrecondition => Ok(None),
        Err(status) => {
            eprintln!(
                "Warning: cannot list the cluster's networks: {}",
                status.message()
            );
            Ok(None)
        }
    }
}

/// The cluster network `reference` names among `networks`: its ID, its
/// name, or a unique ID prefix (as the manager finds it).
pub fn find<'a>(networks: &'a [NetworkView], reference: &str) -> Option<&'a NetworkView> {
    let all: Vec<&NetworkView> = networks.iter().collect();
    match lookup_by(all, reference, |n| &n.id, |n| &n.name) {
        Lookup::Found(network) => Some(network),
        Lookup::Missing | Lookup::Ambiguous(_) => None,
    }
}

/// Makes a cluster network; answers it as stored.
pub async fn create(channel: &Channel, spec: &NetworkSpec) -> CliResult<NetworkView> {
    let json = serde_json::to_vec(spec).map_err(|e| CliError::client(e.to_string()))?;
    let answer = NetworksClient::new(channel.clone())
        .create(JsonDocument { json })
        .await?;
    decode(&answer.into_inner().json)
}

/// `network inspect`'s document of the cluster network `reference`.
pub async fn inspect(channel: &Channel, reference: String) -> Result<serde_json::Value, Status> {
    let answer = NetworksClient::new(channel.clone())
        .inspect(NetworkName { reference })
        .await?;
    let view: NetworkView = crate::commands::decode_status(&answer.into_inner().json)?;
    Ok(document(&view))
}

/// Removes the cluster network `reference`.
pub async fn remove(channel: &Channel, reference: String) -> Result<(), Status> {
    NetworksClient::new(channel.clone())
        .remove(NetworkName { reference })
        .await?;
    Ok(())
}

/// A cluster network as Docker's `network inspect` shows a swarm network.
fn document(view: &NetworkView) -> serde_json::Value {
    let config = if view.subnet.is_empty() {
        json!([])
    } else {
        json!([{"Subnet": view.subnet, "Gateway": view.gateway}])
    };
    json!({
        "Name": view.name,
        "Id": view.id,
        "Created": view.created_at,
        "Scope": view.scope,
        "Driver": view.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": view.internal,
        "Attachable": view.attachable,
        "Ingress": false,
        "Containers": {},
        "Options": view.options,
        "Labels": view.labels,
        "Services": view.services,
        "Version": view.version,
    })
}

/// The cluster network a node's local bridge carries, if it carries one:
/// its ID.
pub fn carried(network: &Network) -> Option<&str> {
    network
        .labels
        .get(labels::CLUSTER_NETWORK_ID)
        .map(String::as_str)
}

/// Whether a cluster network passes `network ls --filter`, by the rules
/// the daemon applies to the local ones (`names` are the `name=`
/// patterns); `dangling` is for local networks alone.
pub fn matches(view: &NetworkView, filters: &Filters, names: &Patterns) -> bool {
    names.matches(&view.name)
        && filters.any("id", |id| view.id.starts_with(id))
        && filters.exact("driver", &view.driver)
        && filters.exact("scope", &view.scope)
        && filters.exact("type", "custom")
        && filters.labels_match(|k| view.labels.get(k).map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::network::LS_FILTERS;

    fn view(id: &str, name: &str) -> NetworkView {
        NetworkView {
            id: id.into(),
            name: name.into(),
            driver: "overlay".into(),
            scope: "swarm".into(),
            labels: [("team".to_string(), "a".to_string())].into(),
            ..NetworkView::default()
        }
    }

    #[test]
    fn references_find_one_network_by_id_name_or_unique_prefix() {
        let all = [view("abc1", "front"), view("abd2", "back")];
        assert_eq!(find(&all, "back").map(|n| n.id.as_str()), Some("abd2"));
        assert_eq!(find(&all, "abc").map(|n| n.name.as_str()), Some("front"));
        assert!(find(&all, "ab").is_none());
        assert!(find(&all, "").is_none());
        assert!(find(&all, "local").is_none());
    }

    #[test]
    fn filters_apply_to_cluster_networks_as_to_local_ones() {
        let front = view("abc1", "app_front");
        for (filter, expected) in [
            ("name=front", true),
            ("name=back", false),
            ("id=abc", true),
            ("driver=bridge", false),
            ("scope=swarm", true),
            ("scope=local", false),
            ("type=builtin", false),
            ("label=team", true),
            ("label=team=b", false),
            ("name=^front$", false),
            ("name=^app_front$", true),
        ] {
            let filters = Filters::parse(&[filter.to_string()], "network ls", &LS_FILTERS).unwrap();
            let names = filters.patterns("name");
            assert_eq!(matches(&front, &filters, &names), expected, "{filter}");
        }
        let either = Filters::parse(
            &["name=back".to_string(), "name=front".to_string()],
            "network ls",
            &LS_FILTERS,
        )
        .unwrap();
        assert!(matches(&front, &either, &either.patterns("name")));
    }
}
