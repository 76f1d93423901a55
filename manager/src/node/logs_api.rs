//! `Services.Logs` (`hoist service logs`): the leader answers from its log
//! broker; any other manager relays the call to the leader (with its own
//! manager certificate) and the answer back, so the command works from
//! every manager while the broker runs in one place only.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hoist_api::cluster_proto::services_client::ServicesClient;
use hoist_api::cluster_proto::{ServiceLogLine, ServiceLogMessage, ServiceLogsRequest};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};
use tracing::{Instrument, debug, info_span};

use crate::dispatcher::logs::{Output, Window};
use crate::manager::Manager;
use crate::services::logs::{NewTasks, log_task};
use crate::store::objects::{Node, Task};

/// Metadata key marking a call a manager relayed to the leader: it is not
/// relayed again (a stale idea of who leads must not bounce it around).
const RELAYED: &str = "hoist-relayed";
/// How often a stream checks that this manager still leads.
const LEADERSHIP_CHECK: Duration = Duration::from_secs(1);

/// What `Services.Logs` answers.
pub type LogMessages = Pin<Box<dyn Stream<Item = Result<ServiceLogMessage, Status>> + Send>>;

/// Answers `request` on the leader, or relays it there.
pub async fn logs(
    manager: Arc<Manager>,
    request: Request<ServiceLogsRequest>,
) -> Result<LogMessages, Status> {
    if manager.is_leader() {
        return serve(&manager, request.into_inner()).await;
    }
    if request.metadata().contains_key(RELAYED) {
        return Err(Status::unavailable(
            "this manager is no longer the leader: run the command again",
        ));
    }
    relay(&manager, request.into_inner()).await
}

/// Relays `request` to the leader; its answer streams through.
async fn relay(manager: &Manager, request: ServiceLogsRequest) -> Result<LogMessages, Status> {
    let (_, leader) = manager.leader().ok_or_else(|| {
        Status::unavailable("no leader is known (an election is under way?): try again shortly")
    })?;
    let channel = manager.channel(&leader.addr).map_err(|e| {
        Status::unavailable(format!("cannot reach the leader at {}: {e}", leader.addr))
    })?;
    debug!(leader = %leader.addr, "relaying service logs to the leader");
    let mut request = Request::new(request);
    request
        .metadata_mut()
        .insert(RELAYED, MetadataValue::from_static("1"));
    let answer = ServicesClient::new(channel).logs(request).await?;
    Ok(Box::pin(answer.into_inner()))
}

/// Subscribes to the tasks' logs with the broker and streams them: the
/// tasks first, then lines and warnings, until the subscription ends or
/// the caller goes away (which cancels it on the nodes). Following
/// services, their tasks that get a container later join the stream
/// (each announced before its lines), until the services are removed.
async fn serve(manager: &Arc<Manager>, request: ServiceLogsRequest) -> Result<LogMessages, Status> {
    // Read before the tasks: a task changed after the reading is seen.
    let from = manager.store.version();
    let targets = manager.log_tasks(&request.targets)?;
    let tasks = targets.tasks;
    let mut new_tasks = if request.follow && !targets.services.is_empty() {
        let known = tasks
            .iter()
            .filter(|t| !t.status.container_id.is_empty())
            .map(|t| t.meta.id.clone());
        NewTasks::watch(&manager.store, from, targets.services, known)
    } else {
        None
    };
    let nodes = manager.store.list::<Node>();
    let context = ServiceLogMessage {
        tasks: tasks.iter().map(|t| log_task(t, &nodes)).collect(),
        ..ServiceLogMessage::default()
    };
    let mut parts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for task in &tasks {
        parts
            .entry(task.node_id.clone())
            .or_default()
            .push(task.meta.id.clone());
    }
    let mut services: HashMap<String, String> = tasks
        .into_iter()
        .map(|t| (t.meta.id, t.service_id))
        .collect();
    let window = Window {
        follow: request.follow,
        tail: request.tail,
        since: request.since,
    };
    let mut subscription = manager.logs.subscribe(parts, window).await;
    subscription.keep_open(new_tasks.is_some());
    let span = info_span!("service_logs", subscription = %subscription.id, follow = window.follow);
    let (tx, rx) = mpsc::channel(16);
    let store = manager.store.clone();
    let manager: Weak<Manager> = Arc::downgrade(manager);
    tokio::spawn(
        async move {
            if tx.send(Ok(context)).await.is_err() {
                return;
            }
            let mut check = tokio::time::interval(LEADERSHIP_CHECK);
            loop {
                let message = tokio::select! {
                    output = subscription.next() => match output {
                        Some(output) => message(output, &services),
                        None => break,
                    },
                    found = next_new(&mut new_tasks) => match found {
                        Some(found) => {
                            let nodes = store.list::<Node>();
                            let announced = ServiceLogMessage {
                                tasks: found.iter().map(|t| log_task(t, &nodes)).collect(),
                                ..ServiceLogMessage::default()
                            };
                            for task in found {
                                subscription.extend(&task.node_id, vec![task.meta.id.clone()]);
                                services.insert(task.meta.id, task.service_id);
                            }
                            announced
                        }
                        None => {
                            debug!("the followed services are gone");
                            new_tasks = None;
                            subscription.keep_open(false);
                            continue;
                        }
                    },
                    _ = check.tick() => {
                        if !manager.upgrade().is_some_and(|m| m.is_leader()) {
                            let _ = tx.send(Err(Status::unavailable(
                                "the leader changed while streaming logs: run the command again",
                            ))).await;
                            break;
                        }
                        continue;
                    }
                    _ = tx.closed() => break,
                };
                if tx.send(Ok(message)).await.is_err() {
                    break;
                }
            }
            debug!("service logs stream ended");
        }
        .instrument(span),
    );
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The next tasks `new_tasks` hands out; pending forever without it.
async fn next_new(new_tasks: &mut Option<NewTasks>) -> Option<Vec<Task>> {
    match new_tasks {
        Some(new_tasks) => new_tasks.next().await,
        None => std::future::pending().await,
    }
}

/// The broker's output as the caller receives it.
fn message(output: Output, services: &HashMap<String, String>) -> ServiceLogMessage {
    match output {
        Output::Entries { node_id, entries } => ServiceLogMessage {
            lines: entries
                .into_iter()
                .map(|e| ServiceLogLine {
                    service_id: services.get(&e.task_id).cloned().unwrap_or_default(),
                    task_id: e.task_id,
                    node_id: node_id.clone(),
                    stream: e.stream,
                    time: e.time,
                    data: e.data,
                })
                .collect(),
            ..ServiceLogMessage::default()
        },
        Output::Warning(warning) => ServiceLogMessage {
            warnings: vec![format!("some logs are unavailable: {warning}")],
            ..ServiceLogMessage::default()
        },
    }
}
