//! `hoist node …`: the cluster's nodes, from a manager.

use clap::Subcommand;
use hoist_api::cluster::{NodeList, NodeView, TaskView};
use hoist_api::cluster_proto::cluster_client::ClusterClient;
use hoist_api::cluster_proto::{Empty, NodeRef, RemoveNodeRequest, TaskFilter, UpdateNodeRequest};
use tonic::transport::Channel;

use crate::commands::service::{TaskOutput, ps_filters, services_client, with_desired_state};
use crate::commands::volume::pairs;
use crate::commands::{decode, for_each_printing, inspect_each, to_values};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, print_items, print_table};

/// `hoist node …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NodeCommand {
    /// List nodes in the cluster
    #[command(visible_alias = "list")]
    Ls {
        /// Only display IDs
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
        /// Filter output based on conditions provided
        #[arg(short = 'f', long)]
        filter: Vec<String>,
    },
    /// List tasks running on one or more nodes, defaults to current node
    Ps {
        #[command(flatten)]
        output: TaskOutput,
        /// Filter output (desired-state=running|shutdown|accepted)
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Nodes (ID, ID prefix or hostname); `self` (the default) for this node
        nodes: Vec<String>,
    },
    /// Display detailed information on one or more nodes
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
        /// Nodes (ID, ID prefix or hostname); `self` for this node
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Update a node
    Update {
        /// Availability of the node: active, pause or drain
        #[arg(long, value_parser = ["active", "pause", "drain"])]
        availability: Option<String>,
        /// Add or update a node label (key=value)
        #[arg(long = "label-add")]
        label_add: Vec<String>,
        /// Remove a node label if it exists
        #[arg(long = "label-rm")]
        label_rm: Vec<String>,
        /// The node
        node: String,
    },
    /// Promote one or more nodes to manager in the cluster
    Promote {
        /// Nodes
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Demote one or more nodes from manager in the cluster
    Demote {
        /// Nodes
        #[arg(required = true)]
        nodes: Vec<String>,
    },
    /// Remove one or more nodes from the cluster
    #[command(visible_alias = "remove")]
    Rm {
        /// Force remove a node that is not down
        #[arg(short = 'f', long)]
        force: bool,
        /// Nodes
        #[arg(required = true)]
        nodes: Vec<String>,
    },
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Resolves `self` to this node's ID (as Docker does).
async fn resolve(
    client: &mut ClusterClient<Channel>,
    node: String,
) -> Result<String, tonic::Status> {
    if node != "self" {
        return Ok(node);
    }
    let json = client.list_nodes(Empty {}).await?.into_inner().json;
    let list: NodeList =
        serde_json::from_slice(&json).map_err(|e| tonic::Status::internal(e.to_string()))?;
    list.nodes
        .into_iter()
        .find(|n| n.is_self)
        .map(|n| n.id)
        .ok_or_else(|| tonic::Status::not_found("this node is not in the node list"))
}

/// `node ps`: the tasks of `nodes` (this node when none is named), in
/// `service ps` order node by node.
async fn node_tasks(
    channel: Channel,
    client: &mut ClusterClient<Channel>,
    nodes: Vec<String>,
    filters: &[String],
) -> CliResult<Vec<TaskView>> {
    let (desired, node) = ps_filters(filters)?;
    if !node.is_empty() {
        return Err(CliError::usage(
            "node ps takes its nodes as arguments, not as a node= filter",
        ));
    }
    let nodes = if nodes.is_empty() {
        vec!["self".to_string()]
    } else {
        nodes
    };
    let mut services = services_client(channel);
    let mut tasks = Vec::new();
    for node in nodes {
        let node = resolve(client, node).await?;
        let listed: Vec<TaskView> = decode(
            &services
                .list_tasks(TaskFilter {
                    services: Vec::new(),
                    node,
                })
                .await?
                .into_inner()
                .json,
        )?;
        tasks.extend(listed);
    }
    Ok(with_desired_state(tasks, desired.as_deref()))
}

/// Runs a node command.
pub async fn run(channel: Channel, command: NodeCommand) -> CliResult<i32> {
    let mut client = ClusterClient::new(channel.clone());
    match command {
        NodeCommand::Ls {
            quiet,
            format,
            filter,
        } => {
            let mut list: NodeList = decode(&client.list_nodes(Empty {}).await?.into_inner().json)?;
            list.nodes = super::cluster_filters::nodes(&filter, list.nodes)?;
            if let Some(why) = &list.stale {
                eprintln!("Warning: {why}");
            }
            if quiet {
                for node in &list.nodes {
                    println!("{}", node.id);
                }
                return Ok(0);
            }
            let items = to_values(&list.nodes)?;
            print_items(&Format::parse(format.as_deref()), &items, || {
                let rows: Vec<Vec<String>> = list.nodes.iter().map(row).collect();
                print_table(
                    &[
                        "ID",
                        "HOSTNAME",
                        "STATUS",
                        "AVAILABILITY",
                        "MANAGER STATUS",
                        "ENGINE VERSION",
                    ],
                    &rows,
                );
            })?;
        }
        NodeCommand::Ps {
            output,
            filter,
            nodes,
        } => {
            let tasks = node_tasks(channel, &mut client, nodes, &filter).await?;
            output.show(&tasks)?;
        }
        NodeCommand::Inspect { format, nodes } => {
            return inspect_each(&nodes, format.as_deref(), |node| {
                let mut client = client.clone();
                async move {
                    let node = resolve(&mut client, node).await?;
                    let json = client
                        .inspect_node(NodeRef { node })
                        .await?
                        .into_inner()
                        .json;
                    crate::commands::decode_status(&json)
                }
            })
            .await;
        }
        NodeCommand::Update {
            availability,
            label_add,
            label_rm,
            node,
        } => {
            let node = resolve(&mut client, node).await?;
            let view: NodeView = decode(
                &client
                    .update_node(UpdateNodeRequest {
                        node,
                        availability: availability.unwrap_or_default(),
                        role: String::new(),
                        label_add: pairs(&label_add, "label")?,
                        label_rm,
                    })
                    .await?
                    .into_inner()
                    .json,
            )?;
            println!("{}", view.id);
        }
        NodeCommand::Promote { nodes } => {
            return change_roles(
                client,
                &nodes,
                "manager",
                "promoted to a manager in the cluster",
            )
            .await;
        }
        NodeCommand::Demote { nodes } => {
            return change_roles(client, &nodes, "worker", "demoted in the cluster").await;
        }
        NodeCommand::Rm { force, nodes } => {
            return for_each_printing(&nodes, false, |node| {
                let mut client = client.clone();
                async move {
                    client
                        .remove_node(RemoveNodeRequest {
                            node: node.clone(),
                            force,
                        })
                        .await?;
                    Ok(node)
                }
            })
            .await;
        }
    }
    Ok(0)
}

/// Sets the role of each of `nodes`, printing `done` for each.
async fn change_roles(
    client: ClusterClient<Channel>,
    nodes: &[String],
    role: &str,
    done: &str,
) -> CliResult<i32> {
    for_each_printing(nodes, false, |node| {
        let mut client = client.clone();
        async move {
            let id = resolve(&mut client, node.clone()).await?;
            client
                .update_node(UpdateNodeRequest {
                    node: id,
                    role: role.to_string(),
                    ..UpdateNodeRequest::default()
                })
                .await?;
            Ok(format!("Node {node} {done}."))
        }
    })
    .await
}

fn row(node: &NodeView) -> Vec<String> {
    let id = if node.is_self {
        format!("{} *", node.id)
    } else {
        node.id.clone()
    };
    vec![
        id,
        node.hostname.clone(),
        title(&node.status),
        title(&node.availability),
        node.manager_status.clone(),
        node.engine_version.clone(),
    ]
}
