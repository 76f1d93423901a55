//! A global service: one running task on every node that may run it.

use std::collections::BTreeMap;

use hoist_api::service::DesiredState;

use super::plan::Plan;
use super::restart::{self, Decision};
use super::{ReconcileError, slot};
use crate::scheduler::constraint::{Constraint, all_match};
use crate::store::Op;
use crate::store::objects::{Availability, Node, NodeState, Service, Task};

/// Adds the steps that give every suitable node one task of `service`.
/// Constraints that do not parse match no node.
pub(super) fn reconcile(
    plan: &mut Plan,
    service: &Service,
    tasks: &[&Task],
    nodes: &BTreeMap<&str, &Node>,
) -> Result<(), ReconcileError> {
    let constraints = Constraint::parse_all(&service.spec.task.placement.constraints).ok();
    let mut by_node: BTreeMap<&str, Vec<&Task>> =
        nodes.keys().map(|id| (*id, Vec::new())).collect();
    let mut strays = Vec::new();
    for task in tasks {
        if task.slot == 0 {
            by_node.entry(task.node_id.as_str()).or_default().push(task);
        } else {
            // Left over from replicated mode.
            strays.extend(plan.desire(task, DesiredState::Shutdown));
        }
    }
    plan.step(strays);
    for (node_id, history) in by_node {
        let mut ops = Vec::new();
        match nodes.get(node_id) {
            Some(node) => {
                let fits = constraints
                    .as_deref()
                    .is_some_and(|constraints| all_match(constraints, node));
                on_node(plan, service, node, fits, &history, &mut ops)?;
            }
            None => {
                // The node left the cluster: nothing of it is kept.
                for task in history {
                    ops.extend(plan.desire(task, DesiredState::Remove));
                }
            }
        }
        plan.step(ops);
    }
    Ok(())
}

/// The operations that leave `node` with one task of `service` meant to
/// run when it may have one (`fits`: it satisfies the constraints), and
/// none when it may not.
fn on_node(
    plan: &mut Plan,
    service: &Service,
    node: &Node,
    fits: bool,
    history: &[&Task],
    ops: &mut Vec<Op>,
) -> Result<(), ReconcileError> {
    let (current, extra) = slot::current(history);
    for task in extra {
        ops.extend(plan.desire(task, DesiredState::Shutdown));
    }
    if !fits || node.spec.availability == Availability::Drain {
        ops.extend(current.and_then(|task| plan.desire(task, DesiredState::Shutdown)));
        return Ok(());
    }
    // A paused or down node keeps its task but gets no new one.
    let accepts =
        node.spec.availability == Availability::Active && node.status.state != NodeState::Down;
    let decision = match current {
        Some(task) if task.status.state.is_terminal() => {
            ops.extend(plan.desire(task, DesiredState::Shutdown));
            restart::decide(service, task, history, plan.now)
        }
        Some(task) if accepts && task.spec_version < service.spec_version => {
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
        Decision::Now if accepts => {
            ops.push(plan.create(service, 0, &node.meta.id, slot::next_attempt(history))?)
        }
        Decision::At(at) if accepts => plan.wake_at(at),
        // A node that accepts tasks again is a change to the store, which
        // brings another pass.
        Decision::Now | Decision::At(_) | Decision::Never => {}
    }
    Ok(())
}
