//! The worker: the node side of task dispatch. It keeps the leader's
//! assignments stream open (following the leader across failovers), runs
//! the node's tasks through an [`Executor`] — one controller per task —
//! and reports their states back in batches. It also answers the
//! leader's log subscriptions (`service logs`) for the tasks it runs.
//!
//! At start it lists the task containers the node already has, so that a
//! restarted agent adopts its running tasks instead of starting them
//! again; the first complete set then decides which of them stay.

mod container;
mod controller;
mod executor;
mod files;
mod logs;
mod reconcile;
mod reports;
mod simulated;

use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster_proto::dispatcher_client::DispatcherClient;
use hoist_api::cluster_proto::{AssignmentsMessage, AssignmentsRequest};
use hoist_api::tls;
use rustls::ClientConfig;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tracing::{Instrument, debug, info, info_span, warn};

pub use container::ContainerExecutor;
pub use executor::{
    Executor, ExecutorError, Existing, Exit, LogLine, LogLines, LogOptions, Observed,
};
pub use simulated::SimulatedExecutor;

use super::leader::{self, Ended, Managers};
use reconcile::Reconciler;
use reports::Report;

/// Messages of the assignments stream waiting for the reconciler.
const QUEUE: usize = 16;
/// Longest wait between attempts to list the node's task containers.
const MAX_LIST_BACKOFF: Duration = Duration::from_secs(2);

/// The leader's dispatcher, while the worker is connected to it.
type Leader = watch::Sender<Option<DispatcherClient<Channel>>>;

/// How long a task's container has to stop when its node leaves the
/// cluster before it is killed (Docker's default stop timeout).
const LEAVE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Stops and removes every task container on the node, all at once: a
/// node that left the cluster runs none of its tasks (as in Swarm). What
/// cannot be removed is logged and left.
pub async fn remove_all(executor: Arc<dyn Executor>) {
    let existing = match executor.list().await {
        Ok(existing) => existing,
        Err(e) => {
            warn!(error = %e, "cannot list the task containers to remove them");
            return;
        }
    };
    let count = existing.len();
    let mut removals = JoinSet::new();
    for task in existing {
        let executor = executor.clone();
        removals.spawn(async move {
            let stopped = executor.stop(&task.container_id, LEAVE_STOP_TIMEOUT).await;
            if let Err(e) = stopped.and(executor.remove(&task.container_id).await) {
                warn!(task = %task.task_id, error = %e, "cannot remove the task's container");
            }
        });
    }
    removals.join_all().await;
    info!(count, "removed the node's task containers");
}

/// Runs the node's tasks until the task is aborted: `tls` is the node's
/// client configuration, `managers` where to look for the leader (shared
/// with the session, which keeps it current), `node_id` the node's ID (for
/// logs) and `executor` the runtime that runs the tasks.
///
/// Aborting it aborts the task controllers but leaves the containers
/// running: the next worker adopts them.
pub async fn run(
    tls: Arc<ClientConfig>,
    managers: Managers,
    node_id: String,
    executor: Arc<dyn Executor>,
) {
    let span = info_span!("worker", node = %node_id);
    async move {
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let (leader, leader_rx) = watch::channel(None);
        let (messages_tx, messages_rx) = mpsc::channel(QUEUE);
        let mut background = JoinSet::new();
        background.spawn(reports::send(reports_rx, leader_rx).in_current_span());
        background
            .spawn(logs::run(tls.clone(), managers.clone(), executor.clone()).in_current_span());
        background.spawn(reconcile(executor, reports_tx, messages_rx).in_current_span());
        leader::follow(&managers, "assignments", |addr| {
            let span = info_span!("assignments", manager = %addr);
            assignments(&tls, addr, &messages_tx, &leader).instrument(span)
        })
        .await;
    }
    .instrument(span)
    .await;
}

/// Adopts the node's task containers, then applies the assignments.
async fn reconcile(
    executor: Arc<dyn Executor>,
    reports: mpsc::UnboundedSender<Report>,
    mut messages: mpsc::Receiver<AssignmentsMessage>,
) {
    let mut reconciler = Reconciler::new(executor.clone(), reports);
    let mut backoff = Duration::from_millis(100);
    let existing = loop {
        match executor.list().await {
            Ok(existing) => break existing,
            Err(e) => {
                warn!(error = %e, "cannot list the node's task containers; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_LIST_BACKOFF);
            }
        }
    };
    if !existing.is_empty() {
        info!(
            containers = existing.len(),
            "found task containers from before"
        );
    }
    reconciler.adopt(existing);
    while let Some(message) = messages.recv().await {
        debug!(
            complete = message.complete,
            tasks = message.tasks_json.len(),
            removed = message.removed.len(),
            "assignments"
        );
        reconciler.apply(message);
    }
}

/// One assignments stream from the manager at `addr`: its messages go to
/// `messages`; while it is open, `leader` holds the manager (where status
/// reports go).
async fn assignments(
    tls: &Arc<ClientConfig>,
    addr: String,
    messages: &mpsc::Sender<AssignmentsMessage>,
    leader: &Leader,
) -> Ended {
    let channel = match tls::connect(&addr, tls.clone()).await {
        Ok(channel) => channel,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let mut client = DispatcherClient::new(channel);
    let mut stream = match client.assignments(AssignmentsRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status.into(),
    };
    info!("receiving assignments from the leader");
    leader.send_replace(Some(client));
    let ended = loop {
        match stream.next().await {
            Some(Ok(message)) => {
                if messages.send(message).await.is_err() {
                    break Ended::Failed("the worker stopped".into());
                }
            }
            Some(Err(status)) => break status.into(),
            None => break Ended::Failed("the leader closed the assignments stream".into()),
        }
    };
    leader.send_replace(None);
    info!("assignments stream ended");
    ended
}
