//! The task reaper: deletes the tasks the cluster no longer needs to keep
//! (ended ones beyond the history limit, removed ones once stopped), and
//! marks the tasks shut down before any node got them.

use std::collections::{BTreeMap, BTreeSet};

use hoist_api::service::{DesiredState, TaskState, TaskStatus};

use super::TASK_HISTORY_LIMIT;
use super::plan::Plan;
use crate::store::objects::{Node, NodeState, Task};
use crate::store::{Kind, Op};

/// The tasks of each slot (service, slot and, in a global service, node),
/// each with whether it has ended.
type Slots<'a> = BTreeMap<(&'a str, u64, &'a str), Vec<(&'a Task, bool)>>;

/// Adds the reaper's steps for `tasks`, as this pass's other steps leave
/// them.
pub(super) fn reap(plan: &mut Plan, tasks: &[Task], nodes: &BTreeMap<&str, &Node>) {
    let mut doomed: BTreeSet<&str> = BTreeSet::new();
    let mut unplaced: Vec<&Task> = Vec::new();
    let mut slots = Slots::new();
    for task in tasks {
        // No agent ever had it: it is over as soon as it is not wanted.
        let stopped_unplaced =
            task.status.state < TaskState::Assigned && task.desired_state >= DesiredState::Shutdown;
        let ended = task.status.state.is_terminal() || stopped_unplaced;
        let node_gone = nodes
            .get(task.node_id.as_str())
            .is_none_or(|node| node.status.state == NodeState::Down);
        if task.desired_state == DesiredState::Remove && (ended || node_gone) {
            doomed.insert(task.meta.id.as_str());
            continue;
        }
        if stopped_unplaced {
            unplaced.push(task);
        }
        let node = if task.slot == 0 {
            task.node_id.as_str()
        } else {
            ""
        };
        slots
            .entry((task.service_id.as_str(), task.slot, node))
            .or_default()
            .push((task, ended));
    }
    for history in slots.values_mut() {
        let Some(mut excess) = history.len().checked_sub(TASK_HISTORY_LIMIT) else {
            continue;
        };
        history.sort_by(|(a, _), (b, _)| {
            (a.meta.created_at, a.attempt, &a.meta.id).cmp(&(
                b.meta.created_at,
                b.attempt,
                &b.meta.id,
            ))
        });
        for (task, ended) in history.iter() {
            if excess == 0 {
                break;
            }
            if *ended && task.desired_state >= DesiredState::Shutdown {
                doomed.insert(task.meta.id.as_str());
                excess -= 1;
            }
        }
    }
    for task in unplaced {
        if !doomed.contains(task.meta.id.as_str()) {
            plan.step(vec![Op::TaskStatus {
                task_id: task.meta.id.clone(),
                status: TaskStatus {
                    state: TaskState::Shutdown,
                    message: "shut down before it was placed".into(),
                    timestamp: plan.now,
                    ..TaskStatus::default()
                },
            }]);
        }
    }
    for id in doomed {
        plan.step(vec![Op::Delete {
            kind: Kind::Task,
            id: id.to_string(),
            version: None,
        }]);
    }
}
