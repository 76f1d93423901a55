//! Cluster networks (Docker's swarm-scoped `overlay` networks): what a
//! user asks for with `hoist network create -d overlay` or a stack's
//! `networks:`, and how `network ls` / `inspect` show one. Services join
//! them with [`NetworkAttachment`](crate::service::NetworkAttachment)s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The keys `network ls --filter` takes, for local and cluster networks
/// alike.
pub const LS_FILTERS: [&str; 7] = ["name", "id", "driver", "type", "dangling", "label", "scope"];

/// The only driver a cluster network has.
pub const OVERLAY: &str = "overlay";

/// What a cluster network is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSpec {
    /// Its name, unique among cluster networks (`<stack>_<name>` in a stack).
    pub name: String,
    /// Always [`OVERLAY`].
    pub driver: String,
    /// User labels (a stack's namespace among them).
    pub labels: BTreeMap<String, String>,
    /// No traffic leaves the network (`--internal`).
    pub internal: bool,
    /// Standalone containers may join it too (`--attachable`).
    pub attachable: bool,
    /// Driver options (`-o`).
    pub options: BTreeMap<String, String>,
    /// Its subnet (`--subnet`); empty: the node's address pool picks one.
    pub subnet: String,
    /// Its gateway (`--gateway`); empty: the subnet's first address.
    pub gateway: String,
}

/// A cluster network as `network ls` and `network inspect` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkView {
    /// Network ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its driver (`overlay`).
    pub driver: String,
    /// `swarm`, as Docker shows cluster networks.
    pub scope: String,
    /// No traffic leaves the network.
    pub internal: bool,
    /// Standalone containers may join it.
    pub attachable: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// Its subnet, when one was asked for.
    pub subnet: String,
    /// Its gateway, when one was asked for.
    pub gateway: String,
    /// The services attached to it, by name.
    pub services: Vec<String>,
    /// Store version of the network object.
    pub version: u64,
    /// When it was made (RFC 3339).
    pub created_at: String,
}
