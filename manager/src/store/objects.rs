//! The typed objects of the cluster's desired state. Every object carries
//! [`Meta`]: its ID and the version (the Raft log index) of its last write,
//! which writers quote back to update it with compare-and-set.

use std::collections::BTreeMap;
use std::fmt;

use hoist_api::network::NetworkSpec;
use hoist_api::service::{DesiredState, EndpointSpec, ServiceSpec, TaskStatus, TaskTemplate};
use serde::{Deserialize, Serialize};

/// What every stored object has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The object's ID, unique within its kind.
    pub id: String,
    /// The Raft log index of the write that last changed it (0 before it is
    /// stored). An update must quote the version it read.
    pub version: u64,
    /// When it was created (Unix milliseconds, set by the proposer).
    pub created_at: i64,
    /// When it last changed (Unix milliseconds, set by the proposer).
    pub updated_at: i64,
}

/// The kinds of objects the store holds; more arrive with services and tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The cluster-wide settings, CA and join tokens (one object).
    Cluster,
    /// A machine in the cluster.
    Node,
    /// A small object `hoist cluster bench` writes to measure the
    /// replicated write path, and deletes afterwards.
    Probe,
    /// A service: the desired tasks.
    Service,
    /// One instance of a service, on one node.
    Task,
    /// A secret: data for services' containers, encrypted in the store.
    Secret,
    /// A config: like a secret, but shown back to users.
    Config,
    /// A cluster network that services join.
    Network,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Cluster => "cluster",
            Kind::Node => "node",
            Kind::Probe => "probe",
            Kind::Service => "service",
            Kind::Task => "task",
            Kind::Secret => "secret",
            Kind::Config => "config",
            Kind::Network => "network",
        })
    }
}

/// Any stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Object {
    /// The cluster object.
    Cluster(Cluster),
    /// A node.
    Node(Node),
    /// A benchmark probe.
    Probe(Probe),
    /// A service.
    Service(Service),
    /// A task.
    Task(Task),
    /// A secret.
    Secret(Secret),
    /// A config.
    Config(Config),
    /// A cluster network.
    Network(Network),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Cluster(_) => Kind::Cluster,
            Object::Node(_) => Kind::Node,
            Object::Probe(_) => Kind::Probe,
            Object::Service(_) => Kind::Service,
            Object::Task(_) => Kind::Task,
            Object::Secret(_) => Kind::Secret,
            Object::Config(_) => Kind::Config,
            Object::Network(_) => Kind::Network,
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &Meta {
        match self {
            Object::Cluster(o) => &o.meta,
            Object::Node(o) => &o.meta,
            Object::Probe(o) => &o.meta,
            Object::Service(o) => &o.meta,
            Object::Task(o) => &o.meta,
            Object::Secret(o) => &o.meta,
            Object::Config(o) => &o.meta,
            Object::Network(o) => &o.meta,
        }
    }

    /// The object's metadata, to change.
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Object::Cluster(o) => &mut o.meta,
            Object::Node(o) => &mut o.meta,
            Object::Probe(o) => &mut o.meta,
            Object::Service(o) => &mut o.meta,
            Object::Task(o) => &mut o.meta,
            Object::Secret(o) => &mut o.meta,
            Object::Config(o) => &mut o.meta,
            Object::Network(o) => &mut o.meta,
        }
    }
}

/// A Rust type stored as one kind of [`Object`], for typed reads.
pub trait Stored: Clone + Sized {
    /// Its kind.
    const KIND: Kind;
    /// Its metadata.
    fn meta(&self) -> &Meta;
    /// Wraps it as an [`Object`].
    fn into_object(self) -> Object;
    /// Unwraps an [`Object`] of this kind.
    fn from_object(object: &Object) -> Option<&Self>;
}

macro_rules! stored {
    ($ty:ident) => {
        impl Stored for $ty {
            const KIND: Kind = Kind::$ty;
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn into_object(self) -> Object {
                Object::$ty(self)
            }
            fn from_object(object: &Object) -> Option<&Self> {
                match object {
                    Object::$ty(o) => Some(o),
                    _ => None,
                }
            }
        }
    };
}
stored!(Cluster);
stored!(Node);
stored!(Probe);
stored!(Service);
stored!(Task);
stored!(Secret);
stored!(Config);
stored!(Network);

/// A small object for benchmarks of the write path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// ID and version.
    pub meta: Meta,
    /// Some bytes, as a small real object would carry.
    pub payload: String,
}

/// The ID of the one cluster object.
pub const CLUSTER_ID_KEY: &str = "cluster";

/// Cluster-wide settings and secrets. Its `meta.id` is [`CLUSTER_ID_KEY`];
/// the cluster's own ID is `cluster_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// ID and version.
    pub meta: Meta,
    /// The cluster's ID, written into every node certificate.
    pub cluster_id: String,
    /// Settings users may change.
    pub spec: ClusterSpec,
    /// The root CA every node certificate chains to.
    pub root_ca: RootCa,
    /// The secrets of the current join tokens.
    pub join_secrets: JoinSecrets,
    /// IDs of nodes removed from the cluster: their certificates are
    /// refused from then on, though they have not expired.
    #[serde(default)]
    pub removed_nodes: std::collections::BTreeSet<String>,
}

/// Cluster settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Lifetime of node certificates, in seconds (Swarm's default: 90 days).
    pub cert_expiry_secs: u64,
    /// How often agents send heartbeats, in milliseconds.
    pub heartbeat_period_ms: u64,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            cert_expiry_secs: 90 * 24 * 3600,
            heartbeat_period_ms: 1000,
        }
    }
}

/// The cluster's root certificate authority.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootCa {
    /// The CA certificate (PEM).
    pub cert_pem: String,
    /// The CA private key (PEM); every manager can sign, so issuing goes on
    /// after a leader change.
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, hex: what join tokens pin.
    pub digest: String,
    /// During a rotation: the previous root's certificate, still trusted
    /// until every node holds a certificate of this one.
    #[serde(default)]
    pub previous_cert_pem: String,
    /// During a rotation: this root's certificate signed by the previous
    /// root, sent after node certificates so that nodes which trust only
    /// the previous root accept them.
    #[serde(default)]
    pub cross_signed_pem: String,
}

impl RootCa {
    /// Whether a rotation is under way.
    pub fn rotating(&self) -> bool {
        !self.previous_cert_pem.is_empty()
    }

    /// The certificates nodes trust: this root, and the previous one
    /// during a rotation.
    pub fn trust_bundle(&self) -> String {
        format!("{}{}", self.cert_pem, self.previous_cert_pem)
    }
}

/// The random parts of the current join tokens. Rotating one replaces it:
/// the old token stops working for new joins; joined nodes are unaffected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinSecrets {
    /// Secret of the worker token.
    pub worker: String,
    /// Secret of the manager token.
    pub manager: String,
}

/// A node's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs tasks only.
    #[default]
    Worker,
    /// Also a member of the Raft group.
    Manager,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Worker => "worker",
            Role::Manager => "manager",
        })
    }
}

/// Whether the scheduler may use a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// New tasks may be placed on it.
    #[default]
    Active,
    /// No new tasks; running ones stay.
    Pause,
    /// No tasks: running ones move elsewhere.
    Drain,
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Availability::Active => "active",
            Availability::Pause => "pause",
            Availability::Drain => "drain",
        })
    }
}

/// What a node is, as its agent last reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Not heard from yet.
    #[default]
    Unknown,
    /// Its agent holds a session and sends heartbeats.
    Ready,
    /// Its heartbeats stopped.
    Down,
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Unknown => "unknown",
            NodeState::Ready => "ready",
            NodeState::Down => "down",
        })
    }
}

/// A machine of the cluster. `meta.id` is its node ID, the common name of
/// its certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// ID and version.
    pub meta: Meta,
    /// What users set.
    pub spec: NodeSpec,
    /// What the node reported about itself when it joined.
    pub description: NodeDescription,
    /// Its last known state.
    pub status: NodeStatus,
    /// Set on managers: where its Raft peers reach it.
    pub manager: Option<ManagerInfo>,
    /// Fingerprint of the root CA that signed its current certificate
    /// (a CA rotation ends when every node's is the new root's).
    #[serde(default)]
    pub cert_ca_digest: String,
}

/// A node's desired settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Its role (what `promote`/`demote` change).
    pub role: Role,
    /// Whether the scheduler may use it.
    pub availability: Availability,
    /// User labels (`node update --label-add`).
    pub labels: BTreeMap<String, String>,
}

/// A node's self-description.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeDescription {
    /// Its hostname.
    pub hostname: String,
    /// hoist's version on it.
    pub engine_version: String,
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture (`x86_64`).
    pub arch: String,
    /// Logical CPUs.
    pub cpus: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

/// A node's observed state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Ready, down or unknown.
    pub state: NodeState,
    /// The address its agent connects from (or advertised).
    pub addr: String,
    /// Why it is in this state, for `node inspect`.
    pub message: String,
}

/// Raft membership of a manager node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerInfo {
    /// Its Raft member ID.
    pub raft_id: u64,
    /// Its cluster address (`IP:PORT`).
    pub addr: String,
}

/// A service as stored: what the user asked for, and which version of it
/// tasks are made from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// ID and version.
    pub meta: Meta,
    /// What the user asked for.
    pub spec: ServiceSpec,
    /// Counts the spec's changes; a task made from an older one is out of
    /// date.
    pub spec_version: u64,
    /// Registry credentials for its image, sealed with the cluster's data
    /// key (`--with-registry-auth`; see [`crate::services::pull_auth`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<String>,
}

impl Service {
    /// Replaces the spec; a new task template or endpoint makes the tasks
    /// out of date (a new replica count alone does not).
    pub fn replace_spec(&mut self, spec: ServiceSpec) {
        if spec.task != self.spec.task || spec.endpoint != self.spec.endpoint {
            self.spec_version += 1;
        }
        self.spec = spec;
    }
}

/// One instance of a service: made by the orchestrator, placed by the
/// scheduler, run by the agent of its node. A task is never moved: a
/// replacement is a new task in the same slot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// ID and version.
    pub meta: Meta,
    /// The service it belongs to.
    pub service_id: String,
    /// The service's name when the task was made (for names and labels).
    pub service_name: String,
    /// Its slot (1-based) in a replicated service; 0 in a global one.
    pub slot: u64,
    /// The node it is placed on; empty until the scheduler places it
    /// (a global service's tasks are made for their node).
    pub node_id: String,
    /// The template it was made from.
    pub spec: TaskTemplate,
    /// The service's published ports when it was made (host-mode ones
    /// bind on the task's node).
    pub endpoint: EndpointSpec,
    /// The service's `spec_version` it was made from.
    pub spec_version: u64,
    /// How many tasks came before it in its slot (or on its node, for a
    /// global service): the restart policy's attempts.
    pub attempt: u64,
    /// What the cluster wants of it.
    pub desired_state: DesiredState,
    /// What it is.
    pub status: TaskStatus,
}

impl Task {
    /// Swarm's task name: `<service>.<slot>.<id>`, or
    /// `<service>.<node id>.<id>` in a global service.
    pub fn name(&self) -> String {
        if self.slot == 0 {
            format!("{}.{}.{}", self.service_name, self.node_id, self.meta.id)
        } else {
            format!("{}.{}.{}", self.service_name, self.slot, self.meta.id)
        }
    }
}

/// What a user gives a secret or config besides its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSpec {
    /// Its name, unique among its kind.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
}

/// A secret: its data sealed with the cluster's data key (see
/// [`crate::secrets`]), so the Raft log and snapshots never hold it in
/// clear.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// ID and version.
    pub meta: Meta,
    /// Name and labels.
    pub spec: FileSpec,
    /// The data, sealed (base64 of nonce, ciphertext and tag).
    pub sealed: String,
}

/// A config: stored sealed as a secret is, though users may read it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// ID and version.
    pub meta: Meta,
    /// Name and labels.
    pub spec: FileSpec,
    /// The data, sealed (base64 of nonce, ciphertext and tag).
    pub sealed: String,
}

/// A cluster network: a name services' tasks share (see
/// [`crate::networks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// ID and version.
    pub meta: Meta,
    /// What it is.
    pub spec: NetworkSpec,
}
