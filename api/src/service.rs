//! What a user asks of the cluster: a service spec (the template of its
//! tasks, how many, where and how they restart) and the states tasks go
//! through. The CLI builds them from flags, the compose crate from a stack
//! file; the manager stores them and the agent runs what they describe.
//!
//! Names and defaults follow Docker Swarm's, so `docker service create`
//! habits carry over.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::ContainerSpec;

/// Everything a service is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    /// The service's name, unique in the cluster (`<stack>_<name>` in a stack).
    pub name: String,
    /// Labels on the service itself (`--label`).
    pub labels: BTreeMap<String, String>,
    /// What each task runs and where.
    pub task: TaskTemplate,
    /// Replicated with a count, or one task per node.
    pub mode: ServiceMode,
    /// Ports the service publishes.
    pub endpoint: EndpointSpec,
    /// How a change of the task template rolls out.
    pub update_config: UpdateConfig,
    /// How a failed rollout rolls back.
    pub rollback_config: UpdateConfig,
}

/// What a rollout does when a task fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Stop the rollout (Swarm's default).
    #[default]
    Pause,
    /// Go on with the next batch.
    Continue,
    /// Go back to the previous spec.
    Rollback,
}

/// Whether a replacement starts before or after the task it replaces stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop the old task, then start the new one (Swarm's default).
    #[default]
    StopFirst,
    /// Start the new task, then stop the old one.
    StartFirst,
}

/// Swarm's update (and rollback) settings of a service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Tasks replaced at once (0: all).
    pub parallelism: u64,
    /// Wait between batches, in nanoseconds.
    pub delay_ns: i64,
    /// What to do when a task fails to update.
    pub failure_action: FailureAction,
    /// How long a new task is watched for failure, in nanoseconds (Swarm's
    /// default: 5 s).
    pub monitor_ns: i64,
    /// Failed tasks tolerated, as a fraction of all.
    pub max_failure_ratio: f64,
    /// Stop-first or start-first.
    pub order: UpdateOrder,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        Self {
            parallelism: 1,
            delay_ns: 0,
            failure_action: FailureAction::Pause,
            monitor_ns: 5_000_000_000,
            max_failure_ratio: 0.0,
            order: UpdateOrder::StopFirst,
        }
    }
}

/// The template every task of a service is made from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskTemplate {
    /// The container. Its own restart policy is unused: the cluster
    /// restarts tasks by making new ones.
    pub container: ContainerSpec,
    /// What the scheduler reserves on a node for each task.
    pub reservations: Reservations,
    /// When and how often a finished task is replaced.
    pub restart_policy: TaskRestartPolicy,
    /// Where tasks may go.
    pub placement: Placement,
    /// Changes when `service update --force` asks for new tasks with an
    /// unchanged spec.
    pub force_update: u64,
    /// Secrets mounted into the container (under `/run/secrets/` by default).
    pub secrets: Vec<FileReference>,
    /// Configs mounted into the container (at `/<name>` by default).
    pub configs: Vec<FileReference>,
    /// The cluster networks the task joins (none: the node's default
    /// bridge).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
}

/// A task's place on a cluster network (`--network name=front,alias=web`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    /// The network's name, ID or ID prefix as given; the manager stores
    /// its name.
    pub target: String,
    /// Its ID, filled in by the manager when the service is stored.
    pub id: String,
    /// More names the task answers to on it, beside the service's name.
    pub aliases: Vec<String>,
    /// The network itself, filled in by the manager: what a node needs to
    /// carry it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::network::NetworkSpec>,
}

/// A secret or config a task's container gets as a file, on a tmpfs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileReference {
    /// The secret's or config's name.
    pub name: String,
    /// Its ID, filled in by the manager when the service is stored.
    pub id: String,
    /// Where the file appears: a path, or a file name under the default
    /// directory. Empty: the name.
    pub target: String,
    /// Owner of the file (default `0`).
    pub uid: String,
    /// Group of the file (default `0`).
    pub gid: String,
    /// Permission bits (default `0o444`).
    pub mode: u32,
}

/// Resources a node must have free for a task to be placed there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reservations {
    /// CPUs in billionths (`--reserve-cpu 0.5` = 500 000 000).
    pub nano_cpus: i64,
    /// Memory in bytes (`--reserve-memory 64m`).
    pub memory_bytes: i64,
}

/// When a task that ended is replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// Never.
    None,
    /// When it failed (non-zero exit, or could not start).
    OnFailure,
    /// Whenever it ended (Swarm's default).
    #[default]
    Any,
}

impl fmt::Display for RestartCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartCondition::None => "none",
            RestartCondition::OnFailure => "on-failure",
            RestartCondition::Any => "any",
        })
    }
}

impl std::str::FromStr for RestartCondition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "on-failure" => Ok(Self::OnFailure),
            "any" => Ok(Self::Any),
            _ => Err(format!(
                "invalid restart condition {s:?}: use none, on-failure or any"
            )),
        }
    }
}

/// Swarm's restart policy of a service's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskRestartPolicy {
    /// When to replace a task that ended.
    pub condition: RestartCondition,
    /// Wait between a task ending and its replacement starting, in
    /// nanoseconds (Swarm's default: 5 s).
    pub delay_ns: i64,
    /// Replacements allowed within `window_ns` (0: no limit).
    pub max_attempts: u64,
    /// The window `max_attempts` counts in, in nanoseconds (0: the whole
    /// life of the slot).
    pub window_ns: i64,
}

impl Default for TaskRestartPolicy {
    fn default() -> Self {
        Self {
            condition: RestartCondition::Any,
            delay_ns: 5_000_000_000,
            max_attempts: 0,
            window_ns: 0,
        }
    }
}

/// Where a service's tasks may be placed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// Swarm constraints: `node.labels.zone==a`, `node.role!=manager`,
    /// `node.hostname==h`, `node.id==…`, `node.platform.os==linux`,
    /// `node.platform.arch==x86_64`, `engine.labels.…`.
    pub constraints: Vec<String>,
    /// Spread preferences, in order: `spread=node.labels.zone`.
    pub preferences: Vec<String>,
    /// At most this many tasks of the service on one node (0: no limit).
    pub max_replicas_per_node: u64,
}

/// Replicated or global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceMode {
    /// This many tasks, wherever they fit.
    Replicated {
        /// The number of tasks.
        replicas: u64,
    },
    /// One task on every node that satisfies the placement.
    Global,
}

impl Default for ServiceMode {
    fn default() -> Self {
        ServiceMode::Replicated { replicas: 1 }
    }
}

/// How a published port reaches the service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// Swarm's routing mesh: the port on every node.
    #[default]
    Ingress,
    /// The port on the node a task runs on, bound by that task.
    Host,
}

impl fmt::Display for PublishMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublishMode::Ingress => "ingress",
            PublishMode::Host => "host",
        })
    }
}

/// One published port of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortConfig {
    /// The port in the container.
    pub target_port: u16,
    /// The port on the node(s); 0 lets the cluster choose (ingress only).
    pub published_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// Ingress or host.
    pub publish_mode: PublishMode,
}

/// How the service is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSpec {
    /// `vip` (the default) or `dnsrr`.
    pub mode: String,
    /// Published ports.
    pub ports: Vec<PortConfig>,
}

/// The life of a task, in order: a task's state only ever moves forward.
/// Swarm's names, as `service ps` shows them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Just made by the orchestrator.
    #[default]
    New,
    /// Waiting for a node (the message says why, when none fits).
    Pending,
    /// Placed on a node, not yet seen by its agent.
    Assigned,
    /// The agent has it.
    Accepted,
    /// The agent is getting the image and creating the container.
    Preparing,
    /// The container exists and is about to start.
    Starting,
    /// The container runs.
    Running,
    /// The container exited with status 0.
    Complete,
    /// Stopped because it was asked to.
    Shutdown,
    /// The container exited non-zero or could not be made.
    Failed,
    /// The node refused the task (image missing, port taken…).
    Rejected,
    /// The node it ran on left the cluster or has been down too long.
    Orphaned,
}

impl TaskState {
    /// Whether the task has ended for good.
    pub fn is_terminal(self) -> bool {
        self >= TaskState::Complete
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::New => "New",
            TaskState::Pending => "Pending",
            TaskState::Assigned => "Assigned",
            TaskState::Accepted => "Accepted",
            TaskState::Preparing => "Preparing",
            TaskState::Starting => "Starting",
            TaskState::Running => "Running",
            TaskState::Complete => "Complete",
            TaskState::Shutdown => "Shutdown",
            TaskState::Failed => "Failed",
            TaskState::Rejected => "Rejected",
            TaskState::Orphaned => "Orphaned",
        })
    }
}

/// What the cluster wants of a task; it only ever moves forward.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Run it.
    #[default]
    Running,
    /// Stop it and keep it (task history).
    Shutdown,
    /// Stop it; it is deleted once stopped (its service is gone).
    Remove,
}

impl fmt::Display for DesiredState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DesiredState::Running => "Running",
            DesiredState::Shutdown => "Shutdown",
            DesiredState::Remove => "Remove",
        })
    }
}

/// A task's observed state, as its agent (or the scheduler) reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskStatus {
    /// Where the task is in its life.
    pub state: TaskState,
    /// A short description (`started`, `no suitable node (…)`).
    pub message: String,
    /// Why it failed, when it did.
    pub err: String,
    /// When this state was reached (Unix milliseconds).
    pub timestamp: i64,
    /// The container running it, once there is one.
    pub container_id: String,
    /// The container's exit code, once it exited.
    pub exit_code: Option<i64>,
}

/// Labels the agent puts on a task's container, so that it finds its
/// tasks again after a restart (as Swarm's `com.docker.swarm.*`).
pub mod labels {
    /// The task's ID.
    pub const TASK_ID: &str = "hoist.task.id";
    /// The task's name (`<service>.<slot>.<task id>`).
    pub const TASK_NAME: &str = "hoist.task.name";
    /// The service's ID.
    pub const SERVICE_ID: &str = "hoist.service.id";
    /// The service's name.
    pub const SERVICE_NAME: &str = "hoist.service.name";
    /// The node's ID.
    pub const NODE_ID: &str = "hoist.node.id";
    /// The stack a service belongs to (`stack deploy`).
    pub const STACK_NAMESPACE: &str = "hoist.stack.namespace";
    /// On a node's local bridge: the ID of the cluster network it carries.
    pub const CLUSTER_NETWORK_ID: &str = "hoist.cluster.network.id";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_order_as_a_life() {
        assert!(TaskState::New < TaskState::Pending);
        assert!(TaskState::Running < TaskState::Complete);
        assert!(!TaskState::Running.is_terminal());
        assert!(TaskState::Rejected.is_terminal());
        assert!(DesiredState::Running < DesiredState::Shutdown);
    }

    #[test]
    fn a_spec_round_trips_through_json_with_defaults_filled() {
        let spec: ServiceSpec = serde_json::from_str(r#"{"name":"web"}"#).unwrap();
        assert_eq!(spec.mode, ServiceMode::Replicated { replicas: 1 });
        assert_eq!(spec.task.restart_policy.delay_ns, 5_000_000_000);
        let back: ServiceSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }
}
