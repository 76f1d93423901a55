//! Network commands: create, ls, inspect, rm, prune, connect, disconnect;
//! on a cluster manager, cluster (overlay) networks too (see
//! [`cluster_network`]).

use clap::Subcommand;
use hoist_api::filters::Filters;
use hoist_api::proto::networks_client::NetworksClient;
use hoist_api::proto::{
    ConnectNetworkRequest, CreateNetworkRequest, DisconnectNetworkRequest, ListNetworksRequest,
    Network, NetworkRef, PruneNetworksRequest,
};
use serde_json::json;
use tonic::transport::Channel;

use crate::commands::cluster_network;
use crate::commands::volume::pairs;
use crate::commands::{for_each, inspect_each};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, print_items, print_table, short_id};
use hoist_api::network::{NetworkSpec, NetworkView, OVERLAY};

/// `hoist network …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a network
    Create {
        /// Driver to manage the network
        #[arg(short = 'd', long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format that represents a network segment
        #[arg(long)]
        subnet: Option<String>,
        /// IPv4 gateway for the master subnet
        #[arg(long)]
        gateway: Option<String>,
        /// Allocate container IPs from a sub-range
        #[arg(long = "ip-range")]
        ip_range: Option<String>,
        /// Restrict external access to the network
        #[arg(long)]
        internal: bool,
        /// Enable manual container attachment
        #[arg(long)]
        attachable: bool,
        /// Set metadata on a network
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        /// Network name
        name: String,
    },
    /// List networks
    #[command(visible_alias = "list")]
    Ls {
        /// Only display network IDs
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Provide filter values (e.g. "driver=bridge")
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
        /// Do not truncate the output
        #[arg(long = "no-trunc")]
        no_trunc: bool,
    },
    /// Display detailed information on one or more networks
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
        /// Networks
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm {
        /// Do not error if the network does not exist
        #[arg(short = 'f', long)]
        force: bool,
        /// Networks
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// Add network-scoped alias for the container
        #[arg(long)]
        alias: Vec<String>,
        /// IPv4 address (e.g. "172.30.100.104")
        #[arg(long)]
        ip: Option<String>,
        /// The network
        network: String,
        /// The container
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect {
        /// Force the container to disconnect from a network
        #[arg(short = 'f', long)]
        force: bool,
        /// The network
        network: String,
        /// The container
        container: String,
    },
    /// Remove all unused networks
    Prune {
        /// Provide filter values
        #[arg(long)]
        filter: Vec<String>,
        /// Do not prompt for confirmation
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// The inspect document of the daemon's network `name`.
pub async fn local_document(
    client: &mut NetworksClient<Channel>,
    name: String,
) -> Result<serde_json::Value, tonic::Status> {
    Ok(document(
        &client.inspect(NetworkRef { name }).await?.into_inner(),
    ))
}

/// A network as Docker's inspect shows it.
fn document(n: &Network) -> serde_json::Value {
    let containers: serde_json::Map<String, serde_json::Value> = n
        .containers
        .iter()
        .map(|c| {
            (
                c.container_id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": c.endpoint_id,
                    "MacAddress": c.mac_address,
                    "IPv4Address": c.ipv4_address,
                    "IPv6Address": "",
                }),
            )
        })
        .collect();
    let config = if n.subnet.is_empty() {
        json!([])
    } else {
        let mut entry = json!({"Subnet": n.subnet, "Gateway": n.gateway});
        if !n.ip_range.is_empty() {
            entry["IPRange"] = json!(n.ip_range);
        }
        json!([entry])
    };
    let mut options = serde_json::Map::new();
    if !n.bridge.is_empty() {
        options.insert("com.docker.network.bridge.name".into(), json!(n.bridge));
    }
    for (k, v) in &n.options {
        options.insert(k.clone(), json!(v));
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
    })
}

/// One line of `network ls`.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    id: String,
    name: String,
    driver: String,
    scope: &'static str,
    internal: bool,
    labels: std::collections::HashMap<String, String>,
}

/// The lines of `network ls`: the local networks, then the cluster's
/// (`cluster`, on a manager) that pass `filters`. A local bridge carrying
/// a cluster network is shown as the cluster network, once.
fn listed(local: &[Network], cluster: Option<&[NetworkView]>, filters: &[String]) -> Vec<Listed> {
    let mut rows: Vec<Listed> = Vec::new();
    for n in local {
        let carried = cluster_network::carried(n);
        if carried.is_some() && cluster.is_some() {
            continue;
        }
        rows.push(Listed {
            id: carried.unwrap_or(&n.id).to_string(),
            name: n.name.clone(),
            driver: if carried.is_some() {
                OVERLAY
            } else {
                &n.driver
            }
            .to_string(),
            scope: if carried.is_some() { "swarm" } else { "local" },
            internal: n.internal,
            labels: n.labels.clone(),
        });
    }
    // The daemon checked the filters already: they parse.
    let filters =
        Filters::parse(filters, "network ls", &hoist_api::network::LS_FILTERS).unwrap_or_default();
    let names = filters.patterns("name");
    for view in cluster.unwrap_or_default() {
        if cluster_network::matches(view, &filters, &names) {
            rows.push(Listed {
                id: view.id.clone(),
                name: view.name.clone(),
                driver: view.driver.clone(),
                scope: "swarm",
                internal: view.internal,
                labels: view.labels.clone().into_iter().collect(),
            });
        }
    }
    rows
}

/// Runs a network command. Like `docker network`, every refusal by the
/// daemon exits 1.
pub async fn run(channel: Channel, command: NetworkCommand) -> CliResult<i32> {
    run_command(channel, command).await.map_err(|e| {
        if e.from_daemon {
            CliError { code: 1, ..e }
        } else {
            e
        }
    })
}

async fn run_command(channel: Channel, command: NetworkCommand) -> CliResult<i32> {
    let mut client = NetworksClient::new(channel.clone());
    match command {
        NetworkCommand::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            internal,
            attachable,
            label,
            opt,
            name,
        } => {
            let labels = pairs(&label, "label")?;
            let options = pairs(&opt, "option")?;
            let subnet = subnet.unwrap_or_default();
            let gateway = gateway.unwrap_or_default();
            let id = if driver == OVERLAY {
                if ip_range.is_some() {
                    return Err(CliError::usage(
                        "--ip-range is not supported for overlay networks: give --subnet only",
                    ));
                }
                let spec = NetworkSpec {
                    name,
                    driver,
                    labels: labels.into_iter().collect(),
                    internal,
                    attachable,
                    options: options.into_iter().collect(),
                    subnet,
                    gateway,
                };
                cluster_network::create(&channel, &spec).await?.id
            } else {
                let request = CreateNetworkRequest {
                    name,
                    driver,
                    subnet,
                    gateway,
                    ip_range: ip_range.unwrap_or_default(),
                    internal,
                    attachable,
                    labels,
                    options,
                };
                client.create(request).await?.into_inner().id
            };
            println!("{id}");
        }
        NetworkCommand::Ls {
            quiet,
            filter,
            format,
            no_trunc,
        } => {
            let local = client
                .list(ListNetworksRequest {
                    filters: filter.clone(),
                })
                .await?
                .into_inner()
                .networks;
            let cluster = cluster_network::list(&channel).await?;
            let rows = listed(&local, cluster.as_deref(), &filter);
            let id = |r: &Listed| {
                if no_trunc {
                    r.id.clone()
                } else {
                    short_id(&r.id)
                }
            };
            if quiet {
                for r in &rows {
                    println!("{}", id(r));
                }
                return Ok(0);
            }
            let items: Vec<serde_json::Value> = rows
                .iter()
                // The fields of Docker's `network ls --format json`, as strings.
                .map(|r| {
                    json!({
                        "Driver": r.driver,
                        "ID": id(r),
                        "IPv4": "true",
                        "IPv6": "false",
                        "Internal": r.internal.to_string(),
                        "Labels": crate::format::labels_text(&r.labels),
                        "Name": r.name,
                        "Scope": r.scope,
                    })
                })
                .collect();
            print_items(&Format::parse(format.as_deref()), &items, || {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| vec![id(r), r.name.clone(), r.driver.clone(), r.scope.into()])
                    .collect();
                print_table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &table);
            })?;
        }
        NetworkCommand::Inspect { format, names } => {
            let cluster = cluster_network::list(&channel).await?.unwrap_or_default();
            return inspect_each(&names, format.as_deref(), |name| {
                let mut client = client.clone();
                let channel = channel.clone();
                let in_cluster = cluster_network::find(&cluster, &name).is_some();
                async move {
                    if in_cluster {
                        return cluster_network::inspect(&channel, name).await;
                    }
                    local_document(&mut client, name).await
                }
            })
            .await;
        }
        NetworkCommand::Rm { force, names } => {
            let cluster = cluster_network::list(&channel).await?.unwrap_or_default();
            return for_each(&names, force, |name| {
                let mut client = client.clone();
                let channel = channel.clone();
                let in_cluster = cluster_network::find(&cluster, &name).is_some();
                async move {
                    if in_cluster {
                        return cluster_network::remove(&channel, name).await;
                    }
                    client.remove(NetworkRef { name }).await?;
                    Ok(())
                }
            })
            .await;
        }
        NetworkCommand::Connect {
            alias,
            ip,
            network,
            container,
        } => {
            client
                .connect_container(ConnectNetworkRequest {
                    network,
                    container,
                    aliases: alias,
                    ipv4_address: ip.unwrap_or_default(),
                })
                .await?;
        }
        NetworkCommand::Disconnect {
            force,
            network,
            container,
        } => {
            client
                .disconnect_container(DisconnectNetworkRequest {
                    network,
                    container,
                    force,
                })
                .await?;
        }
        NetworkCommand::Prune { filter, force } => {
            super::prune::confirm(
                force,
                "This will remove all custom networks not used by at least one container.",
                "network prune",
            )?;
            let response = client
                .prune(PruneNetworksRequest { filters: filter })
                .await?
                .into_inner();
            super::prune::report("Networks", response.deleted, None);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::service::labels;

    fn local(id: &str, name: &str, carries: Option<&str>) -> Network {
        let mut network = Network {
            id: id.into(),
            name: name.into(),
            driver: "bridge".into(),
            ..Network::default()
        };
        if let Some(cluster_id) = carries {
            network
                .labels
                .insert(labels::CLUSTER_NETWORK_ID.into(), cluster_id.into());
        }
        network
    }

    fn summary(rows: &[Listed]) -> Vec<(String, String, String, &'static str)> {
        rows.iter()
            .map(|r| (r.id.clone(), r.name.clone(), r.driver.clone(), r.scope))
            .collect()
    }

    #[test]
    fn a_carrier_shows_as_its_cluster_network_once() {
        let local = [
            local("l1", "bridge", None),
            local("l2", "app_front", Some("c1")),
        ];
        let on_a_worker = listed(&local, None, &[]);
        assert_eq!(
            summary(&on_a_worker),
            [
                ("l1".into(), "bridge".into(), "bridge".into(), "local"),
                ("c1".into(), "app_front".into(), "overlay".into(), "swarm"),
            ]
        );
        let cluster = [
            NetworkView {
                id: "c1".into(),
                name: "app_front".into(),
                driver: "overlay".into(),
                ..NetworkView::default()
            },
            NetworkView {
                id: "c2".into(),
                name: "app_back".into(),
                driver: "overlay".into(),
                ..NetworkView::default()
            },
        ];
        let on_a_manager = listed(&local, Some(&cluster), &["name=front".into()]);
        assert_eq!(
            summary(&on_a_manager),
            [
                ("l1".into(), "bridge".into(), "bridge".into(), "local"),
                ("c1".into(), "app_front".into(), "overlay".into(), "swarm"),
            ]
        );
    }
}
