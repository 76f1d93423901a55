//! The tasks of one slot (or, in a global service, of one node): which one
//! is current, which came last, what number the next one gets.

use hoist_api::service::DesiredState;

use crate::store::objects::Task;

/// The task of the slot meant to run (the newest, if several are by
/// accident) and the other ones meant to run, which must be shut down.
pub(super) fn current<'a>(history: &[&'a Task]) -> (Option<&'a Task>, Vec<&'a Task>) {
    let mut running: Vec<&Task> = history
        .iter()
        .copied()
        .filter(|t| t.desired_state == DesiredState::Running)
        .collect();
    running.sort_by(|a, b| {
        (a.meta.created_at, a.attempt, &a.meta.id).cmp(&(b.meta.created_at, b.attempt, &b.meta.id))
    });
    let newest = running.pop();
    (newest, running)
}

/// The slot's most recent task.
pub(super) fn last<'a>(history: &[&'a Task]) -> Option<&'a Task> {
    history.iter().copied().max_by(|a, b| {
        (a.attempt, a.meta.created_at, &a.meta.id).cmp(&(b.attempt, b.meta.created_at, &b.meta.id))
    })
}

/// The `attempt` of the slot's next task: one more than any before it.
pub(super) fn next_attempt(history: &[&Task]) -> u64 {
    history.iter().map(|t| t.attempt + 1).max().unwrap_or(0)
}
