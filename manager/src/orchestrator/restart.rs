//! Swarm's restart policy, decided from the store alone: whether and when
//! the last task of a slot that no longer runs gets a replacement.
//!
//! How the task ended tells why: Complete, Failed and Rejected tasks ended
//! on their own and fall under the policy; a task that was stopped on
//! request (Shutdown), lost with its node (Orphaned) or is still stopping
//! was shut down by the cluster, and its slot is filled again at once.

use hoist_api::service::{RestartCondition, TaskState};

use crate::store::objects::{Service, Task};

/// When a slot whose last task no longer runs gets a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// In this pass.
    Now,
    /// Once this time (Unix milliseconds) has come.
    At(i64),
    /// Not at all: the policy gave up on the slot (until the spec changes).
    Never,
}

/// Whether `last`, the most recent task of a slot whose tasks are all
/// shut down (or about to be), is replaced at `now`. `history` is every
/// task of the slot.
pub(super) fn decide(service: &Service, last: &Task, history: &[&Task], now: i64) -> Decision {
    if last.spec_version < service.spec_version {
        return Decision::Now;
    }
    let policy = &service.spec.task.restart_policy;
    let failed = match last.status.state {
        TaskState::Complete => false,
        TaskState::Failed | TaskState::Rejected => true,
        _ => return Decision::Now,
    };
    let wanted = match policy.condition {
        RestartCondition::Any => true,
        RestartCondition::OnFailure => failed,
        RestartCondition::None => false,
    };
    if !wanted
        || (policy.max_attempts > 0
            && restarts(last, history, policy.window_ns) >= policy.max_attempts)
    {
        return Decision::Never;
    }
    let due = last
        .status
        .timestamp
        .saturating_add(policy.delay_ns.max(0) / 1_000_000);
    if due <= now {
        Decision::Now
    } else {
        Decision::At(due)
    }
}

/// Whether a task's end was its own (the policy's business) rather than
/// the cluster's.
fn ended_on_its_own(task: &Task) -> bool {
    matches!(
        task.status.state,
        TaskState::Complete | TaskState::Failed | TaskState::Rejected
    )
}

/// How many replacements the restart policy made in the slot up to `last`
/// that count against `max_attempts`: those since the slot's current spec
/// version began and since the cluster last replaced a task for its own
/// reasons (node lost, scale), and, with a window, those made within the
/// window before `last` ended.
///
/// Task numbers (`attempt`) tell how many tasks came before; the slot's
/// kept history tells where counting starts. Once that history has been
/// reaped, every earlier task counts: the count errs on the side of
/// giving up rather than restarting forever.
fn restarts(last: &Task, history: &[&Task], window_ns: i64) -> u64 {
    let window_start = (window_ns > 0).then(|| last.status.timestamp - window_ns / 1_000_000);
    // Tasks numbered above `floor` were made by the policy and count.
    let mut floor = 0;
    for task in history.iter().filter(|t| t.attempt <= last.attempt) {
        let before = task.attempt < last.attempt;
        if before && (task.spec_version != last.spec_version || !ended_on_its_own(task)) {
            floor = floor.max(task.attempt + 1);
        }
        if window_start.is_some_and(|start| task.meta.created_at <= start) {
            floor = floor.max(task.attempt);
        }
    }
    last.attempt.saturating_sub(floor)
}
