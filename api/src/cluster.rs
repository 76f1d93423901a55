//! What the cluster API returns to clients (`node ls`, `node inspect`,
//! `cluster inspect`), as JSON documents with stable field names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The port managers listen on for cluster traffic unless told otherwise
/// (Docker Swarm's, so firewall habits carry over).
pub const DEFAULT_CLUSTER_PORT: u16 = 2377;

/// A node as `node ls` and `node inspect` show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeView {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// `ready`, `down` or `unknown`.
    pub status: String,
    /// Why it has this status.
    pub message: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// `manager` or `worker`.
    pub role: String,
    /// For managers: `Leader`, `Reachable` or `Unreachable`; empty for workers.
    pub manager_status: String,
    /// hoist's version on the node.
    pub engine_version: String,
    /// The address the node's traffic comes from.
    pub addr: String,
    /// For managers: the cluster address.
    pub manager_addr: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// OS and architecture (`linux/x86_64`).
    pub platform: String,
    /// Logical CPUs.
    pub cpus: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// Store version of the node object.
    pub version: u64,
    /// When it joined (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Whether this is the node that answered.
    #[serde(rename = "Self")]
    pub is_self: bool,
}

/// The cluster as `cluster inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterView {
    /// Cluster ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// SHA-256 fingerprint of the root CA certificate.
    pub ca_fingerprint: String,
    /// Node certificate lifetime in seconds.
    pub cert_expiry_secs: u64,
    /// Heartbeat period of agents in milliseconds.
    pub heartbeat_period_ms: u64,
    /// Managers / all nodes.
    pub managers: usize,
    /// All nodes.
    pub nodes: usize,
    /// Raft: the leader's node ID.
    pub leader: String,
    /// Raft: current term.
    pub raft_term: u64,
    /// Raft: last applied index (the store's version).
    pub raft_applied: u64,
    /// The root CA certificate (PEM).
    pub ca_certificate: String,
    /// Whether a root CA rotation is under way.
    pub ca_rotation_in_progress: bool,
    /// During a rotation: nodes (not down) holding a certificate of the
    /// new root, and all nodes not down.
    pub ca_rotation_renewed: usize,
    /// During a rotation: nodes that must renew (those not down).
    pub ca_rotation_nodes: usize,
    /// Whether the answer is only this manager's last known state
    /// (no quorum to confirm it).
    pub stale: bool,
}

/// A list of nodes, and whether it could be confirmed with the leader.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    /// The nodes.
    pub nodes: Vec<NodeView>,
    /// Set when no leader with a quorum confirmed the state: the list is
    /// this manager's last known state, and why.
    pub stale: Option<String>,
}

/// A service as `service ls` and `service inspect` show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceView {
    /// Service ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// `replicated` or `global`.
    pub mode: String,
    /// Tasks running now.
    pub running: u64,
    /// Tasks wanted (the replica count, or the nodes a global service
    /// has a task for).
    pub desired: u64,
    /// The image its tasks run.
    pub image: String,
    /// Published ports, as `*:8080->80/tcp`.
    pub ports: Vec<String>,
    /// What the user asked for.
    pub spec: crate::service::ServiceSpec,
    /// Counts changes of the task template.
    pub spec_version: u64,
    /// Store version of the service object (quote it to update it).
    pub version: u64,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// A task as `service ps` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskView {
    /// Task ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// `<service>.<slot>`, or `<service>.<node id>` in a global service.
    pub name: String,
    /// The service's ID.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Its slot (0 in a global service).
    pub slot: u64,
    /// The image it runs.
    pub image: String,
    /// The hostname of its node; empty until placed.
    pub node: String,
    /// Its node's ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// What the cluster wants of it (`Running`, `Shutdown`, `Remove`).
    pub desired_state: String,
    /// What it is (`Running`, `Pending`, `Failed`…).
    pub current_state: String,
    /// When it reached that state (RFC 3339).
    pub state_since: String,
    /// What happened last (`started`, `no suitable node (…)`).
    pub message: String,
    /// Why it failed.
    pub error: String,
    /// Its container, once made.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// The container's exit code, once it exited.
    pub exit_code: Option<i64>,
    /// Host-mode ports bound on its node, as `*:8080->80/tcp`.
    pub ports: Vec<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

/// A secret as `secret ls` and `secret inspect` show it: never its data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretView {
    /// Secret ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Where it is kept (`internal`: the cluster's encrypted store).
    pub driver: String,
    /// Store version of the secret object.
    pub version: u64,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// A config as `config ls` and `config inspect` show it, data included
/// (as Docker shows it: configs are not secret).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigView {
    /// Config ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Its content, base64-encoded (Docker's `Spec.Data`).
    pub data: String,
    /// Store version of the config object.
    pub version: u64,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}
