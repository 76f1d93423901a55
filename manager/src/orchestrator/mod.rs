//! The orchestrator: keeps the tasks of every service equal to what the
//! service asks for (Swarm's replicated and global orchestrators, restart
//! supervisor and task reaper in one pass).
//!
//! [`reconcile`] is a pure function of the store's services, tasks and
//! nodes (and the time): it keeps no memory between passes, so a new
//! leader that recomputes after a failover neither loses nor duplicates
//! tasks. [`run`] calls it on the leader whenever the store moved or a
//! restart delay ran out, and writes what it returns.
//!
//! A task whose spec is out of date is replaced at once, together with all
//! others of its service: rolling updates (parallelism, delay, failure
//! action) come later.

mod global;
mod plan;
mod reaper;
mod replicated;
mod restart;
mod run;
mod slot;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use hoist_api::service::{DesiredState, ServiceMode};

use crate::store::objects::{Node, Service, Task};
use crate::store::{Batch, Op};
use plan::Plan;

pub use run::run;

/// How many tasks a slot (a node, in a global service) keeps, the running
/// one included: older ended ones are deleted (Swarm's default
/// `task-history-limit`).
pub const TASK_HISTORY_LIMIT: usize = 5;

/// What one pass decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    /// The writes, in a deterministic order. Each group must be committed
    /// in one batch (a task shut down and its replacement go together, so
    /// that no pass ever sees a slot half replaced); groups may be split
    /// over batches.
    pub steps: Vec<Vec<Op>>,
    /// The earliest future time (Unix milliseconds) at which a pass has
    /// work to do although the store did not change: a restart delay ends.
    pub wake_at: Option<i64>,
}

impl Reconciled {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every operation, in order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.steps.iter().flatten()
    }

    /// The steps packed into batches of at most `max_ops` operations (a
    /// single larger step stays whole), in order.
    pub fn into_batches(self, max_ops: usize) -> Vec<Batch> {
        let mut batches: Vec<Batch> = Vec::new();
        for step in self.steps {
            match batches.last_mut() {
                Some(batch) if batch.ops.len() + step.len() <= max_ops => batch.ops.extend(step),
                _ => batches.push(Batch { ops: step }),
            }
        }
        batches
    }
}

/// Why a pass could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The system's random source failed.
    #[error("cannot make a task ID: {0}")]
    TaskId(getrandom::Error),
}

/// Computes the writes that bring the tasks in line with the services:
///
/// * a replicated service has one running task in each slot `1..=replicas`
///   and none above; a global one has one on every node that is not down
///   or drained and satisfies its constraints (a paused node keeps its
///   task but gets no new one);
/// * a task that ended is replaced per its service's restart policy,
///   after its delay (see [`Reconciled::wake_at`]);
/// * a replicated task on a node that is down, drained or gone is replaced
///   at once;
/// * a task made from an older spec is replaced at once;
/// * the tasks of a deleted service are to be removed;
/// * ended tasks beyond [`TASK_HISTORY_LIMIT`] per slot, and removed ones,
///   are deleted.
///
/// `now_ms` is the time (Unix milliseconds) new tasks and changes carry.
pub fn reconcile(
    services: &[Service],
    tasks: &[Task],
    nodes: &[Node],
    now_ms: i64,
) -> Result<Reconciled, ReconcileError> {
    let nodes: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.meta.id.as_str(), n)).collect();
    let mut by_service: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in tasks {
        by_service
            .entry(task.service_id.as_str())
            .or_default()
            .push(task);
    }
    let mut services: Vec<&Service> = services.iter().collect();
    services.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));

    let mut plan = Plan::new(now_ms);
    for service in services {
        let tasks = by_service
            .remove(service.meta.id.as_str())
            .unwrap_or_default();
        match service.spec.mode {
            ServiceMode::Replicated { replicas } => {
                replicated::reconcile(&mut plan, service, replicas, &tasks, &nodes)?
            }
            ServiceMode::Global => global::reconcile(&mut plan, service, &tasks, &nodes)?,
        }
    }
    for task in by_service.into_values().flatten() {
        let op = plan.desire(task, DesiredState::Remove);
        plan.step(op.into_iter().collect());
    }
    let projected = plan.project(tasks);
    reaper::reap(&mut plan, &projected, &nodes);
    Ok(plan.finish())
}
