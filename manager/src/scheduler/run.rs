//! The scheduler's loop on the leader: each time the store has moved, it
//! plans from the nodes and tasks as they are and writes the decisions,
//! assignments and the reasons of tasks left waiting. Decisions are
//! guarded operations, so one made on a state that has moved on since is
//! skipped by the store rather than failing its batch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hoist_api::service::{TaskState, TaskStatus};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::plan::{Plan, plan};
use crate::control::now_millis;
use crate::manager::{Manager, while_leading};
use crate::store::objects::{Node, Task};
use crate::store::{Batch, Op};

/// How often the leader checks whether the store has moved.
const TICK: Duration = Duration::from_millis(100);
/// Most operations written in one batch.
const BATCH_LIMIT: usize = 1000;

/// Schedules while this manager leads: every 100 ms, if the store's
/// version (or the leadership) changed since the last complete round,
/// places waiting tasks and records why the others wait. A round whose
/// writes fail is logged and tried again at the next tick. Returns when
/// the manager is gone.
pub async fn run(manager: Weak<Manager>) {
    // The leadership (by its start) and store version last scheduled.
    let done: Arc<Mutex<Option<(Instant, u64)>>> = Arc::default();
    while_leading(manager, TICK, move |manager, since| {
        let done = done.clone();
        async move {
            let version = manager.store.version();
            let lock = || done.lock().unwrap_or_else(|e| e.into_inner());
            if *lock() == Some((since, version)) {
                return;
            }
            if round(&manager).await {
                *lock() = Some((since, version));
            }
        }
    })
    .await;
}

/// One round: plans (off the async threads: a round over many tasks takes
/// milliseconds) and writes the decisions. Returns whether all were
/// written.
async fn round(manager: &Manager) -> bool {
    let store = manager.store.clone();
    let decided = tokio::task::spawn_blocking(move || {
        let nodes = store.list::<Node>();
        let tasks = store.list::<Task>();
        ops(&plan(&nodes, &tasks), &tasks, now_millis())
    })
    .await;
    let ops = match decided {
        Ok(ops) => ops,
        Err(e) => {
            warn!(error = %e, "scheduling round failed; retrying next round");
            return false;
        }
    };
    if ops.is_empty() {
        return true;
    }
    let placed = ops
        .iter()
        .filter(|op| matches!(op, Op::Assign { .. }))
        .count();
    log_reasons(&ops);
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        let batch = Batch {
            ops: ops.by_ref().take(BATCH_LIMIT).collect(),
        };
        if let Err(e) = manager.write(batch).await {
            warn!(error = %e, "scheduler could not write its decisions; retrying next round");
            return false;
        }
    }
    if placed > 0 {
        info!(placed, "scheduler placed tasks");
    }
    true
}

/// Logs, at debug level, why tasks newly wait: one line per reason.
fn log_reasons(ops: &[Op]) {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for op in ops {
        if let Op::TaskStatus { status, .. } = op {
            *reasons.entry(&status.message).or_default() += 1;
        }
    }
    for (reason, tasks) in reasons {
        debug!(tasks, %reason, "tasks wait for a node");
    }
}

/// The writes that carry out `plan`, made from `tasks`: an assignment for
/// each task placed, and a Pending status with its reason for each task
/// left waiting whose state or message is not that already, so that a
/// cluster with nothing to change writes nothing. `at` stamps them (Unix
/// milliseconds).
pub fn ops(plan: &Plan, tasks: &[Task], at: i64) -> Vec<Op> {
    let by_id: HashMap<&str, &Task> = tasks.iter().map(|t| (t.meta.id.as_str(), t)).collect();
    let assign = plan.assign.iter().map(|a| Op::Assign {
        task_id: a.task_id.clone(),
        node_id: a.node_id.clone(),
        at,
    });
    let pending = plan
        .pending
        .iter()
        .filter(|u| {
            !by_id.get(u.task_id.as_str()).is_some_and(|t| {
                t.status.state == TaskState::Pending && t.status.message == u.reason
            })
        })
        .map(|u| Op::TaskStatus {
            task_id: u.task_id.clone(),
            status: TaskStatus {
                state: TaskState::Pending,
                message: u.reason.clone(),
                timestamp: at,
                ..TaskStatus::default()
            },
        });
    assign.chain(pending).collect()
}
