//! Task status reports on their way to the leader: batched (many tasks
//! changing at once cost one call, and one Raft entry on the leader),
//! reduced to the latest status of each task, and kept until the leader
//! acknowledges them — a report that fails goes again on the next try or
//! the next connection.

use std::collections::HashMap;
use std::time::Duration;

use hoist_api::cluster_proto::dispatcher_client::DispatcherClient;
use hoist_api::cluster_proto::{TaskStatusBatch, TaskStatusUpdate};
use hoist_api::service::TaskStatus;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::transport::Channel;
use tracing::{debug, warn};

/// How often waiting reports are sent.
const FLUSH_PERIOD: Duration = Duration::from_millis(100);
/// Most reports in one call; more waiting sends at once, without waiting
/// for the next period.
const MAX_BATCH: usize = 200;
/// Longest wait before retrying a refused batch on the same connection.
const MAX_RETRY: Duration = Duration::from_secs(2);

/// A task's new status, from its controller.
pub(super) type Report = (String, TaskStatus);

/// The reports not yet acknowledged: the latest status of each task, with
/// a sequence number telling whether it changed while a batch was out.
#[derive(Debug, Default)]
pub(super) struct Pending {
    latest: HashMap<String, (u64, TaskStatus)>,
    sequence: u64,
}

/// A batch on its way, and what to forget once it is acknowledged.
#[derive(Debug)]
pub(super) struct Batch {
    /// The call's message.
    pub(super) message: TaskStatusBatch,
    sent: Vec<(String, u64)>,
}

impl Pending {
    /// Records `status` of `task_id`, replacing any older one waiting.
    pub(super) fn push(&mut self, task_id: String, status: TaskStatus) {
        self.sequence += 1;
        self.latest.insert(task_id, (self.sequence, status));
    }

    /// Whether nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// Up to `max` waiting reports, those waiting longest first. They stay
    /// until [`acknowledged`](Self::acknowledged).
    pub(super) fn batch(&self, max: usize) -> Batch {
        let mut waiting: Vec<(&String, &(u64, TaskStatus))> = self.latest.iter().collect();
        waiting.sort_by_key(|(_, (sequence, _))| *sequence);
        waiting.truncate(max);
        let mut message = TaskStatusBatch {
            updates: Vec::with_capacity(waiting.len()),
        };
        let mut sent = Vec::with_capacity(waiting.len());
        for (task_id, (sequence, status)) in waiting {
            match serde_json::to_vec(status) {
                Ok(status_json) => message.updates.push(TaskStatusUpdate {
                    task_id: task_id.clone(),
                    status_json,
                }),
                Err(e) => warn!(task = %task_id, error = %e, "cannot encode a task status"),
            }
            sent.push((task_id.clone(), *sequence));
        }
        Batch { message, sent }
    }

    /// Forgets the reports of `batch`, except those replaced meanwhile.
    pub(super) fn acknowledged(&mut self, batch: &Batch) {
        for (task_id, sequence) in &batch.sent {
            if self.latest.get(task_id).is_some_and(|(s, _)| s == sequence) {
                self.latest.remove(task_id);
            }
        }
    }
}

/// Sends the controllers' `reports` to the leader the worker is connected
/// to (`leader`; `None` between connections) until the task is aborted.
pub(super) async fn send(
    mut reports: mpsc::UnboundedReceiver<Report>,
    mut leader: watch::Receiver<Option<DispatcherClient<Channel>>>,
) {
    let mut pending = Pending::default();
    let mut tick = tokio::time::interval(FLUSH_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut retry_at = Instant::now();
    let mut backoff = FLUSH_PERIOD;
    loop {
        tokio::select! {
            received = reports.recv() => {
                let Some((task_id, status)) = received else { return };
                pending.push(task_id, status);
                while let Ok((task_id, status)) = reports.try_recv() {
                    pending.push(task_id, status);
                }
                if pending.latest.len() < MAX_BATCH {
                    continue;
                }
            }
            _ = tick.tick() => {}
            changed = leader.changed() => {
                if changed.is_err() {
                    return;
                }
                retry_at = Instant::now();
                backoff = FLUSH_PERIOD;
            }
        }
        while !pending.is_empty() && Instant::now() >= retry_at {
            let client = leader.borrow().clone();
            let Some(mut client) = client else { break };
            let batch = pending.batch(MAX_BATCH);
            match client.update_task_status(batch.message.clone()).await {
                Ok(_) => {
                    pending.acknowledged(&batch);
                    backoff = FLUSH_PERIOD;
                }
                Err(status) => {
                    debug!(error = %status.message(), waiting = pending.latest.len(), "task status reports not accepted; kept");
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_RETRY);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::service::TaskState;

    fn status(state: TaskState) -> TaskStatus {
        TaskStatus {
            state,
            ..TaskStatus::default()
        }
    }

    fn states(batch: &Batch) -> Vec<(String, TaskState)> {
        let mut states: Vec<_> = batch
            .message
            .updates
            .iter()
            .map(|u| {
                let status: TaskStatus = serde_json::from_slice(&u.status_json).unwrap();
                (u.task_id.clone(), status.state)
            })
            .collect();
        states.sort();
        states
    }

    #[test]
    fn only_the_latest_status_of_a_task_is_sent() {
        let mut pending = Pending::default();
        pending.push("a".into(), status(TaskState::Accepted));
        pending.push("a".into(), status(TaskState::Preparing));
        pending.push("b".into(), status(TaskState::Accepted));
        pending.push("a".into(), status(TaskState::Running));
        let batch = pending.batch(MAX_BATCH);
        assert_eq!(
            states(&batch),
            vec![
                ("a".into(), TaskState::Running),
                ("b".into(), TaskState::Accepted)
            ]
        );
        pending.acknowledged(&batch);
        assert!(pending.is_empty());
    }

    #[test]
    fn unacknowledged_reports_are_sent_again() {
        let mut pending = Pending::default();
        pending.push("a".into(), status(TaskState::Running));
        pending.push("b".into(), status(TaskState::Running));
        let failed = pending.batch(MAX_BATCH);
        assert_eq!(failed.message.updates.len(), 2);
        // The call failed: nothing acknowledged, everything goes again.
        let again = pending.batch(MAX_BATCH);
        assert_eq!(states(&again), states(&failed));
        pending.acknowledged(&again);
        assert!(pending.is_empty());
    }

    #[test]
    fn a_status_replaced_while_its_batch_was_out_is_kept() {
        let mut pending = Pending::default();
        pending.push("a".into(), status(TaskState::Running));
        pending.push("b".into(), status(TaskState::Running));
        let out = pending.batch(MAX_BATCH);
        pending.push("a".into(), status(TaskState::Complete));
        pending.acknowledged(&out);
        let next = pending.batch(MAX_BATCH);
        assert_eq!(states(&next), vec![("a".into(), TaskState::Complete)]);
    }

    #[test]
    fn a_batch_is_bounded_and_the_oldest_go_first() {
        let mut pending = Pending::default();
        for i in 0..5 {
            pending.push(format!("t{i}"), status(TaskState::Running));
        }
        let first = pending.batch(2);
        assert_eq!(
            first
                .message
                .updates
                .iter()
                .map(|u| u.task_id.as_str())
                .collect::<Vec<_>>(),
            vec!["t0", "t1"]
        );
        pending.acknowledged(&first);
        assert_eq!(pending.batch(10).message.updates.len(), 3);
    }
}
