//! Task status reports from agents: checked against the store (a node
//! reports only its own tasks) and written as guarded status operations,
//! which skip late or repeated reports. Reports from many nodes at once
//! share Raft entries through the manager's group commit.

use hoist_api::cluster_proto::TaskStatusBatch;
use hoist_api::service::TaskStatus;
use tonic::Status;
use tracing::debug;

use crate::manager::Manager;
use crate::store::objects::Task;
use crate::store::{Batch, Op};

/// Records the statuses `node_id` reported.
pub async fn record(
    manager: &Manager,
    node_id: &str,
    batch: TaskStatusBatch,
) -> Result<(), Status> {
    let mut ops = Vec::with_capacity(batch.updates.len());
    for update in batch.updates {
        let status: TaskStatus = serde_json::from_slice(&update.status_json).map_err(|e| {
            Status::invalid_argument(format!("task {}: unreadable status: {e}", update.task_id))
        })?;
        match manager.store.get::<Task>(&update.task_id) {
            Some(task) if task.node_id == node_id => ops.push(Op::TaskStatus {
                task_id: update.task_id,
                status,
            }),
            // Deleted meanwhile, or moved: the node learns from its
            // assignments; the report is stale.
            _ => debug!(task = %update.task_id, "status report for a task not on the node ignored"),
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    manager
        .write(Batch { ops })
        .await
        .map(|_| ())
        .map_err(|e| Status::unavailable(format!("cannot record task statuses: {e}")))
}
