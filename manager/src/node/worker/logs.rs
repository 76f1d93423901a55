//! The node's side of `service logs`: it keeps a `LogSubscriptions`
//! stream open to the leader's log broker (following the leader across
//! failovers) and answers each subscription for the tasks it runs, reading
//! their containers' logs through the [`Executor`] and publishing them on
//! a `PublishLogs` call of its own. A subscription that does not follow is
//! closed once every log was read; a cancelled one stops at once.

use std::collections::HashMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use hoist_api::cluster_proto::dispatcher_client::DispatcherClient;
use hoist_api::cluster_proto::{
    LogStream, LogSubscription, LogSubscriptionsRequest, PublishedLogs, TaskLogEntry,
};
use hoist_api::tls;
use rustls::ClientConfig;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt, StreamMap};
use tonic::transport::Channel;
use tracing::{Instrument, debug, info, info_span, warn};

use super::executor::{Executor, LogLine, LogLines, LogOptions};
use crate::node::leader::{self, Ended, Managers};

/// Most entries in one published message.
const BATCH: usize = 256;
/// Published messages waiting for the leader.
const QUEUE: usize = 16;

/// Answers the leader's log subscriptions until the task is aborted.
pub(super) async fn run(tls: Arc<ClientConfig>, managers: Managers, executor: Arc<dyn Executor>) {
    leader::follow(&managers, "log subscriptions", |addr| {
        let span = info_span!("log_subscriptions", manager = %addr);
        subscriptions(&tls, addr, &executor).instrument(span)
    })
    .await;
}

/// One `LogSubscriptions` stream from the manager at `addr`; the
/// publishers it started stop with it (or when it is dropped).
async fn subscriptions(
    tls: &Arc<ClientConfig>,
    addr: String,
    executor: &Arc<dyn Executor>,
) -> Ended {
    let channel = match tls::connect(&addr, tls.clone()).await {
        Ok(channel) => channel,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let mut client = DispatcherClient::new(channel);
    let mut stream = match client.log_subscriptions(LogSubscriptionsRequest {}).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status.into(),
    };
    info!("answering log subscriptions from the leader");
    let mut running = JoinSet::new();
    // A following subscription may name more tasks later (new tasks of
    // its services): each request gets a publisher of its own.
    let mut publishers: HashMap<String, Vec<AbortHandle>> = HashMap::new();
    loop {
        let subscription = match stream.next().await {
            Some(Ok(subscription)) => subscription,
            Some(Err(status)) => return status.into(),
            None => return Ended::Failed("the leader closed the log subscriptions stream".into()),
        };
        while running.try_join_next().is_some() {}
        publishers.retain(|_, handles| {
            handles.retain(|publisher| !publisher.is_finished());
            !handles.is_empty()
        });
        if subscription.cancel {
            if let Some(handles) = publishers.remove(&subscription.id) {
                debug!(subscription = %subscription.id, "log subscription cancelled");
                handles.iter().for_each(AbortHandle::abort);
            }
            continue;
        }
        let span = info_span!("publish_logs", subscription = %subscription.id);
        let id = subscription.id.clone();
        let publisher = publish(client.clone(), executor.clone(), subscription).instrument(span);
        publishers
            .entry(id)
            .or_default()
            .push(running.spawn(publisher));
    }
}

/// Publishes the logs `subscription` asks for, until they are all sent
/// (or, following, until the containers stop) or the leader refuses more.
async fn publish(
    mut client: DispatcherClient<Channel>,
    executor: Arc<dyn Executor>,
    subscription: LogSubscription,
) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let call = client.publish_logs(ReceiverStream::new(rx));
    tokio::pin!(call);
    let result = tokio::select! {
        result = &mut call => result,
        () = gather(executor.as_ref(), &subscription, tx) => call.await,
    };
    match result {
        Ok(_) => debug!("logs published"),
        Err(status) => debug!(reason = %status.message(), "the leader took no more logs"),
    }
}

/// Reads the logs of the subscription's tasks that run here, sending them
/// to `out`, then the message closing the node's part.
pub(super) async fn gather(
    executor: &dyn Executor,
    subscription: &LogSubscription,
    out: mpsc::Sender<PublishedLogs>,
) {
    let options = LogOptions {
        follow: subscription.follow,
        tail: subscription.tail,
        since: subscription.since,
    };
    let containers = match executor.list().await {
        Ok(containers) => containers,
        Err(e) => {
            warn!(error = %e, "cannot list the node's task containers for their logs");
            Vec::new()
        }
    };
    let mut logs: StreamMap<String, LogLines> = StreamMap::new();
    for task_id in &subscription.task_ids {
        let Some(container) = containers.iter().find(|c| c.task_id == *task_id) else {
            debug!(task = %task_id, "no container for the task here: no logs");
            continue;
        };
        match executor.logs(&container.container_id, &options).await {
            Ok(lines) => {
                logs.insert(task_id.clone(), lines);
            }
            Err(e) => warn!(task = %task_id, error = %e, "cannot read the task's logs"),
        }
    }
    while let Some(first) = logs.next().await {
        let mut entries = Vec::new();
        let mut next = Some(first);
        while let Some((task_id, line)) = next {
            match line {
                Ok(line) => entries.push(entry(task_id, line)),
                Err(e) => warn!(task = %task_id, error = %e, "a task's log broke off"),
            }
            next = if entries.len() < BATCH {
                ready_now(&mut logs).await
            } else {
                None
            };
        }
        if !entries.is_empty()
            && out
                .send(message(subscription, entries, false))
                .await
                .is_err()
        {
            return;
        }
    }
    let _ = out.send(message(subscription, Vec::new(), true)).await;
}

/// The stream's next item when it has one ready now.
async fn ready_now<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| match Pin::new(&mut *stream).poll_next(cx) {
        Poll::Ready(item) => Poll::Ready(item),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

fn entry(task_id: String, line: LogLine) -> TaskLogEntry {
    TaskLogEntry {
        task_id,
        stream: if line.stderr {
            LogStream::Stderr
        } else {
            LogStream::Stdout
        } as i32,
        time: line.time,
        data: line.data,
    }
}

fn message(
    subscription: &LogSubscription,
    entries: Vec<TaskLogEntry>,
    close: bool,
) -> PublishedLogs {
    PublishedLogs {
        subscription_id: subscription.id.clone(),
        entries,
        close,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::node::worker::executor::Inputs;
    use crate::node::worker::{ExecutorError, Existing, Exit, Observed};
    use crate::store::objects::Task;

    /// Two task containers, each with a fixed log; `follow` keeps the
    /// second's open after its lines.
    struct Talkative;

    #[tonic::async_trait]
    impl Executor for Talkative {
        async fn list(&self) -> Result<Vec<Existing>, ExecutorError> {
            Ok(["t1", "t2"]
                .iter()
                .map(|t| Existing {
                    task_id: t.to_string(),
                    container_id: format!("c-{t}"),
                    state: Observed::Running,
                })
                .collect())
        }
        async fn prepare(&self, _: &Task, _: &Inputs) -> Result<String, ExecutorError> {
            panic!("nothing to prepare")
        }
        async fn start(&self, _: &str) -> Result<(), ExecutorError> {
            panic!("nothing to start")
        }
        async fn wait(&self, _: &str) -> Result<Exit, ExecutorError> {
            panic!("nothing to wait for")
        }
        async fn stop(&self, _: &str, _: Duration) -> Result<(), ExecutorError> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> Result<(), ExecutorError> {
            Ok(())
        }
        async fn logs(
            &self,
            container_id: &str,
            options: &LogOptions,
        ) -> Result<LogLines, ExecutorError> {
            let all: Vec<Result<LogLine, ExecutorError>> = (1..=3)
                .map(|n| {
                    Ok(LogLine {
                        stderr: n == 3,
                        time: n,
                        data: format!("{container_id} line {n}\n").into_bytes(),
                    })
                })
                .collect();
            let skip = if options.tail < 0 {
                0
            } else {
                all.len().saturating_sub(options.tail as usize)
            };
            let lines = tokio_stream::iter(all.into_iter().skip(skip));
            if options.follow && container_id == "c-t2" {
                Ok(Box::pin(lines.chain(tokio_stream::pending())))
            } else {
                Ok(Box::pin(lines))
            }
        }
    }

    fn subscription(task_ids: &[&str], follow: bool, tail: i64) -> LogSubscription {
        LogSubscription {
            id: "s1".into(),
            task_ids: task_ids.iter().map(|t| t.to_string()).collect(),
            follow,
            tail,
            since: 0,
            cancel: false,
        }
    }

    fn lines(messages: &[PublishedLogs]) -> Vec<String> {
        let mut lines: Vec<String> = messages
            .iter()
            .flat_map(|m| &m.entries)
            .map(|e| format!("{} {}", e.task_id, String::from_utf8_lossy(&e.data).trim()))
            .collect();
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn the_logs_of_the_tasks_asked_for_are_published_then_the_part_is_closed() {
        let (tx, mut rx) = mpsc::channel(64);
        gather(
            &Talkative,
            &subscription(&["t2", "elsewhere"], false, -1),
            tx,
        )
        .await;
        let mut messages = Vec::new();
        while let Some(message) = rx.recv().await {
            messages.push(message);
        }
        assert_eq!(
            lines(&messages),
            ["t2 c-t2 line 1", "t2 c-t2 line 2", "t2 c-t2 line 3"],
            "only the task asked for that runs here"
        );
        let stderr: Vec<bool> = messages
            .iter()
            .flat_map(|m| &m.entries)
            .map(|e| e.stream == LogStream::Stderr as i32)
            .collect();
        assert_eq!(stderr, [false, false, true]);
        let last = messages.last().unwrap();
        assert!(last.close && last.entries.is_empty());
        assert_eq!(messages.iter().filter(|m| m.close).count(), 1);
    }

    #[tokio::test]
    async fn a_following_subscription_stays_open_and_honours_the_tail() {
        let (tx, mut rx) = mpsc::channel(64);
        let following = subscription(&["t1", "t2"], true, 1);
        let gathering = tokio::spawn(async move { gather(&Talkative, &following, tx).await });
        let mut messages = Vec::new();
        while lines(&messages).len() < 2 {
            let message = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
            messages.push(message);
        }
        assert_eq!(lines(&messages), ["t1 c-t1 line 3", "t2 c-t2 line 3"]);
        assert!(messages.iter().all(|m| !m.close));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!gathering.is_finished(), "t2 is still followed");
        assert!(rx.try_recv().is_err());
        gathering.abort();
    }
}
