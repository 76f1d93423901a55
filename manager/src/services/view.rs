//! How services and tasks are shown (`service ls`, `service ps`).

use hoist_api::cluster::{ServiceView, TaskView};
use hoist_api::service::{DesiredState, EndpointSpec, PublishMode, ServiceMode, TaskState};

use std::collections::HashMap;

use crate::control::rfc3339;
use crate::store::Store;
use crate::store::objects::{Node, Service, Task};

/// How many tasks of each service should run, and how many do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Tasks with desired state Running.
    pub wanted: u64,
    /// Of those, the ones running.
    pub running: u64,
}

/// Counts the tasks of every service in `store`, by service ID, without
/// copying them.
pub fn task_counts(store: &Store) -> HashMap<String, TaskCounts> {
    let mut counts: HashMap<String, TaskCounts> = HashMap::new();
    store.scan::<Task>(|t| {
        if t.desired_state == DesiredState::Running {
            let count = counts.entry(t.service_id.clone()).or_default();
            count.wanted += 1;
            count.running += u64::from(t.status.state == TaskState::Running);
        }
    });
    counts
}

/// `service ls`'s view of `service`, with its task counts.
pub fn service_view(service: &Service, counts: TaskCounts) -> ServiceView {
    let running = counts.running;
    let (mode, desired) = match service.spec.mode {
        ServiceMode::Replicated { replicas } => ("replicated", replicas),
        ServiceMode::Global => ("global", counts.wanted),
    };
    ServiceView {
        id: service.meta.id.clone(),
        name: service.spec.name.clone(),
        mode: mode.to_string(),
        running,
        desired,
        image: service.spec.task.container.image.clone(),
        ports: ports(&service.spec.endpoint, None),
        spec: service.spec.clone(),
        spec_version: service.spec_version,
        version: service.meta.version,
        created_at: rfc3339(service.meta.created_at),
        updated_at: rfc3339(service.meta.updated_at),
    }
}

/// `service ps`'s view of `task`, naming its node from `nodes`.
pub fn task_view(task: &Task, nodes: &[Node]) -> TaskView {
    let node = nodes
        .iter()
        .find(|n| n.meta.id == task.node_id)
        .map(|n| n.description.hostname.clone())
        .unwrap_or_default();
    let name = if task.slot == 0 {
        format!("{}.{}", task.service_name, task.node_id)
    } else {
        format!("{}.{}", task.service_name, task.slot)
    };
    TaskView {
        id: task.meta.id.clone(),
        name,
        service_id: task.service_id.clone(),
        slot: task.slot,
        image: task.spec.container.image.clone(),
        node,
        node_id: task.node_id.clone(),
        desired_state: task.desired_state.to_string(),
        current_state: task.status.state.to_string(),
        state_since: rfc3339(task.status.timestamp),
        message: task.status.message.clone(),
        error: task.status.err.clone(),
        container_id: task.status.container_id.clone(),
        exit_code: task.status.exit_code,
        ports: ports(&task.endpoint, Some(PublishMode::Host)),
        created_at: rfc3339(task.meta.created_at),
    }
}

/// Published ports as Docker prints them (`*:8080->80/tcp`), only those of
/// `mode` when given.
fn ports(endpoint: &EndpointSpec, mode: Option<PublishMode>) -> Vec<String> {
    endpoint
        .ports
        .iter()
        .filter(|p| mode.is_none_or(|m| m == p.publish_mode))
        .map(|p| format!("*:{}->{}/{}", p.published_port, p.target_port, p.protocol))
        .collect()
}

/// Orders tasks as `service ps` lists them: by service, slot (or node),
/// then the running one before its history, newest first.
pub fn sort_for_ps(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        (&a.service_name, a.slot, &a.node_id)
            .cmp(&(&b.service_name, b.slot, &b.node_id))
            .then(a.desired_state.cmp(&b.desired_state))
            .then(b.meta.created_at.cmp(&a.meta.created_at))
    });
}
