//! A replicated service: one running task in each slot `1..=replicas`.

use std::collections::BTreeMap;

use hoist_api::service::DesiredState;

use super::plan::Plan;
use super::restart::{self, Decision};
use super::{ReconcileError, slot};
use crate::store::Op;
use crate::store::objects::{Availability, Node, NodeState, Service, Task};

/// Adds the steps that bring `service`'s tasks to `replicas` running ones.
pub(super) fn reconcile(
    plan: &mut Plan,
    service: &Service,
    replicas: u64,
    tasks: &[&Task],
    nodes: &BTreeMap<&str, &Node>,
) -> Result<(), ReconcileError> {
    let mut slots: BTreeMap<u64, Vec<&Task>> = (1..=replicas).map(|s| (s, Vec::new())).collect();
    for task in tasks {
        slots.entry(task.slot).or_default().push(task);
    }
    for (number, history) in slots {
        let mut ops = Vec::new();
        if number == 0 || number > replicas {
            // Scaled down (or left over from global mode).
            let (current, extra) = slot::current(&history);
            for task in current.into_iter().chain(extra) {
                ops.extend(plan.desire(task, DesiredState::Shutdown));
            }
        } else {
            fill(plan, service, number, &history, nodes, &mut ops)?;
        }
        plan.step(ops);
    }
    Ok(())
}

/// The operations that leave slot `number` with one task meant to run, or
/// waiting for its restart delay, or given up on by the restart policy.
fn fill(
    plan: &mut Plan,
    service: &Service,
    number: u64,
    history: &[&Task],
    nodes: &BTreeMap<&str, &Node>,
    ops: &mut Vec<Op>,
) -> Result<(), ReconcileError> {
    let (current, extra) = slot::current(history);
    for task in extra {
        ops.extend(plan.desire(task, DesiredState::Shutdown));
    }
    let decision = match current {
        Some(task) if task.status.state.is_terminal() => {
            ops.extend(plan.desire(task, DesiredState::Shutdown));
            restart::decide(service, task, history, plan.now)
        }
        Some(task) if node_lost(task, nodes) || task.spec_version < service.spec_version => {
            ops.extend(plan.desire(task, DesiredState::Shutdown));
            Decision::Now
        }
        Some(_) => return Ok(()),
        None => match slot::last(history) {
            Some(last) => restart::decide(service, last, history, plan.now),
            None => Decision::Now,
        },
    };
    match decision {
        Decision::Now => ops.push(plan.create(service, number, "", slot::next_attempt(history))?),
        Decision::At(at) => plan.wake_at(at),
        Decision::Never => {}
    }
    Ok(())
}

/// Whether a placed task's node is down, drained or gone: its task must
/// run elsewhere (a paused node keeps its tasks).
fn node_lost(task: &Task, nodes: &BTreeMap<&str, &Node>) -> bool {
    !task.node_id.is_empty()
        && nodes.get(task.node_id.as_str()).is_none_or(|node| {
            node.status.state == NodeState::Down || node.spec.availability == Availability::Drain
        })
}
