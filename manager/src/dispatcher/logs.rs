//! The log broker (`service logs`), on the leader, as SwarmKit's: a
//! subscriber asks for the logs of some tasks; the broker sends the request
//! to the nodes that run them — only those — over the stream each node
//! keeps open (`LogSubscriptions`), and relays what the nodes publish
//! (`PublishLogs`) to the subscriber. A subscription ends when every node
//! concerned has closed its part, is down, or did not connect in time (each
//! of the last two with a warning); dropping it cancels it on the nodes.
//! A subscription that follows services gains their new tasks as they get
//! containers ([`Subscription::extend`]) and stays open until dropped.
//! Subscriptions live in memory only: after a failover, callers ask again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_api::cluster_proto::{
    Empty, LogSubscription, LogSubscriptionsRequest, PublishedLogs, TaskLogEntry,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, debug, info};

use crate::auth::Access;
use crate::store::Store;
use crate::store::objects::{Node, NodeState};

/// How long a node that is not down may take to connect its log stream
/// before its part of a subscription is given up.
const CONNECT_GRACE: Duration = Duration::from_secs(5);
/// How often a subscription looks for nodes that went down.
const CHECK: Duration = Duration::from_millis(500);
/// Events a subscriber may have queued before publishing nodes wait.
const QUEUE: usize = 64;
/// How often a node's stream checks that this manager still leads.
const LEADERSHIP_CHECK: Duration = Duration::from_secs(1);

/// What a subscriber wants of each task's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Keep sending new lines until the subscription is dropped.
    pub follow: bool,
    /// Lines from the end of each log; negative means all.
    pub tail: i64,
    /// Only lines from then on (Unix nanoseconds; 0: all).
    pub since: i64,
}

/// What the broker hands a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Log data a node published for tasks of its part.
    Entries {
        /// The node that published them.
        node_id: String,
        /// The data, in the order the node read it.
        entries: Vec<TaskLogEntry>,
    },
    /// A node's logs are unavailable, and why (`node h4 is down`).
    Warning(String),
}

/// What nodes tell a subscription.
#[derive(Debug)]
enum Event {
    Entries(String, Vec<TaskLogEntry>),
    /// The node has sent everything of its part.
    Closed(String),
    /// The node's stream ended before it closed its part.
    Lost(String),
    /// The node connected and received its part.
    Sent(String),
}

/// A node's open `LogSubscriptions` stream.
#[derive(Debug)]
struct Link {
    id: u64,
    tx: mpsc::UnboundedSender<LogSubscription>,
}

/// A subscription as the broker routes it.
#[derive(Debug)]
struct Active {
    window: Window,
    /// Tasks by node: what each node may publish for it.
    parts: BTreeMap<String, Vec<String>>,
    /// Tasks of nodes not connected yet, sent when they connect.
    pending: HashMap<String, Vec<String>>,
    events: mpsc::Sender<Event>,
}

impl Active {
    fn request(&self, id: &str, task_ids: Vec<String>) -> LogSubscription {
        LogSubscription {
            id: id.to_string(),
            task_ids,
            follow: self.window.follow,
            tail: self.window.tail,
            since: self.window.since,
            cancel: false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    links: HashMap<String, Link>,
    subscriptions: HashMap<String, Active>,
    counter: u64,
}

/// The broker of one manager (used while it leads).
#[derive(Debug, Clone)]
pub struct LogBroker {
    state: Arc<Mutex<State>>,
    store: Store,
}

/// Where [`LogBroker::extend`] put the new tasks of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extended {
    /// Sent to the connected node: one more part to close.
    Sent,
    /// The node is not connected: sent when it connects (a part of its
    /// own unless one was waiting already).
    Queued { new_part: bool },
    /// The subscription has ended.
    Gone,
}

/// A node's end of the broker: the subscriptions it must answer.
#[derive(Debug)]
pub struct NodeLink {
    /// Tells this link from the node's later ones.
    pub id: u64,
    /// Subscriptions (and cancellations) for the node.
    pub requests: mpsc::UnboundedReceiver<LogSubscription>,
}

impl LogBroker {
    /// A broker that names nodes and sees them go down in `store`.
    pub fn new(store: Store) -> Self {
        Self {
            state: Arc::default(),
            store,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a subscription to the logs of `tasks` (task IDs by node ID).
    /// Nodes connected now receive their part at once, the others when
    /// they connect.
    pub async fn subscribe(
        &self,
        tasks: BTreeMap<String, Vec<String>>,
        window: Window,
    ) -> Subscription {
        let (events, rx) = mpsc::channel(QUEUE);
        let now = Instant::now();
        let mut parts = HashMap::new();
        let id = {
            let mut state = self.state();
            state.counter += 1;
            let id = format!("logs-{}", state.counter);
            let mut active = Active {
                window,
                parts: tasks,
                pending: HashMap::new(),
                events,
            };
            for (node_id, task_ids) in &active.parts {
                let sent = state.links.get(node_id).is_some_and(|link| {
                    link.tx.send(active.request(&id, task_ids.clone())).is_ok()
                });
                let awaited = if sent {
                    None
                } else {
                    active.pending.insert(node_id.clone(), task_ids.clone());
                    Some(now)
                };
                parts.insert(node_id.clone(), Part { awaited, open: 1 });
            }
            state.subscriptions.insert(id.clone(), active);
            id
        };
        debug!(subscription = %id, nodes = parts.len(), "log subscription started");
        Subscription {
            id,
            events: rx,
            parts,
            ready: VecDeque::new(),
            broker: self.clone(),
            check: tokio::time::interval(CHECK),
            open_ended: false,
        }
    }

    /// Adds `task_ids` of `node_id` to subscription `id`.
    fn extend(&self, id: &str, node_id: &str, task_ids: Vec<String>) -> Extended {
        let mut state = self.state();
        let State {
            links,
            subscriptions,
            ..
        } = &mut *state;
        let Some(active) = subscriptions.get_mut(id) else {
            return Extended::Gone;
        };
        active
            .parts
            .entry(node_id.to_string())
            .or_default()
            .extend(task_ids.iter().cloned());
        if let Some(waiting) = active.pending.get_mut(node_id) {
            waiting.extend(task_ids);
            return Extended::Queued { new_part: false };
        }
        let request = active.request(id, task_ids.clone());
        if links
            .get(node_id)
            .is_some_and(|link| link.tx.send(request).is_ok())
        {
            return Extended::Sent;
        }
        active.pending.insert(node_id.to_string(), task_ids);
        Extended::Queued { new_part: true }
    }

    /// Connects a node's stream: it receives every subscription waiting
    /// for the node, then new ones. A node has one link; a new one
    /// replaces the last.
    pub async fn connect(&self, node_id: &str) -> NodeLink {
        let (tx, requests) = mpsc::unbounded_channel();
        let mut notify = Vec::new();
        let id = {
            let mut state = self.state();
            state.counter += 1;
            let id = state.counter;
            for (sub_id, active) in &mut state.subscriptions {
                if let Some(task_ids) = active.pending.remove(node_id) {
                    let _ = tx.send(active.request(sub_id, task_ids));
                    notify.push(active.events.clone());
                }
            }
            state.links.insert(node_id.to_string(), Link { id, tx });
            id
        };
        for events in notify {
            let _ = events.send(Event::Sent(node_id.to_string())).await;
        }
        NodeLink { id, requests }
    }

    /// The node's stream `link_id` ended: the subscriptions it had not
    /// finished lose its part.
    pub async fn disconnect(&self, node_id: &str, link_id: u64) {
        let notify: Vec<mpsc::Sender<Event>> = {
            let mut state = self.state();
            if state.links.get(node_id).is_none_or(|l| l.id != link_id) {
                return;
            }
            state.links.remove(node_id);
            state
                .subscriptions
                .values()
                .filter(|a| a.parts.contains_key(node_id))
                .map(|a| a.events.clone())
                .collect()
        };
        for events in notify {
            let _ = events.send(Event::Lost(node_id.to_string())).await;
        }
    }

    /// Relays what `node_id` published; entries of tasks outside its part
    /// are dropped. Fails when the subscription is gone: the node stops.
    pub async fn publish(&self, node_id: &str, published: PublishedLogs) -> Result<(), Status> {
        let (events, entries) = {
            let state = self.state();
            let tasks = state
                .subscriptions
                .get(&published.subscription_id)
                .and_then(|a| Some((a, a.parts.get(node_id)?)));
            let Some((active, tasks)) = tasks else {
                return Err(Status::not_found(format!(
                    "log subscription {} ended or is not for node {node_id}: stop publishing",
                    published.subscription_id
                )));
            };
            let entries: Vec<TaskLogEntry> = published
                .entries
                .into_iter()
                .filter(|e| tasks.contains(&e.task_id))
                .collect();
            (active.events.clone(), entries)
        };
        let gone = || {
            Status::cancelled(format!(
                "log subscription {} ended",
                published.subscription_id
            ))
        };
        if !entries.is_empty() {
            events
                .send(Event::Entries(node_id.to_string(), entries))
                .await
                .map_err(|_| gone())?;
        }
        if published.close {
            events
                .send(Event::Closed(node_id.to_string()))
                .await
                .map_err(|_| gone())?;
        }
        Ok(())
    }

    /// Ends subscription `id`: the nodes it concerns are told to stop.
    fn cancel(&self, id: &str) {
        let mut state = self.state();
        let Some(active) = state.subscriptions.remove(id) else {
            return;
        };
        for node_id in active.parts.keys() {
            if let Some(link) = state.links.get(node_id) {
                let _ = link.tx.send(LogSubscription {
                    id: id.to_string(),
                    cancel: true,
                    ..LogSubscription::default()
                });
            }
        }
        debug!(subscription = %id, "log subscription ended");
    }

    /// The node's hostname, or its ID when it has none.
    fn name_of(&self, node_id: &str) -> String {
        self.store
            .get::<Node>(node_id)
            .map(|n| n.description.hostname)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| node_id.to_string())
    }

    fn is_down(&self, node_id: &str) -> bool {
        self.store
            .get::<Node>(node_id)
            .is_none_or(|n| n.status.state == NodeState::Down)
    }
}

/// What a subscription still awaits of one node.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// Since when the node is awaited, while it is not connected.
    awaited: Option<Instant>,
    /// Requests sent (or to send) to the node and not closed yet.
    open: usize,
}

/// A subscriber's end: the logs as nodes publish them, until every part
/// is done (or, open-ended, until dropped). Dropping it cancels the
/// subscription on the nodes.
#[derive(Debug)]
pub struct Subscription {
    /// The subscription's ID.
    pub id: String,
    events: mpsc::Receiver<Event>,
    /// Parts not done yet, by node.
    parts: HashMap<String, Part>,
    ready: VecDeque<Output>,
    broker: LogBroker,
    check: tokio::time::Interval,
    /// Whether it lasts beyond its parts (it may be extended).
    open_ended: bool,
}

impl Subscription {
    /// Keeps the subscription open while it has no parts (`open`), for
    /// tasks [`extend`](Self::extend) may add; otherwise it ends once its
    /// parts are done.
    pub fn keep_open(&mut self, open: bool) {
        self.open_ended = open;
    }

    /// Adds tasks of `node_id` (which have containers there) to the
    /// subscription: the node publishes their logs too.
    pub fn extend(&mut self, node_id: &str, task_ids: Vec<String>) {
        let now = Instant::now();
        let part = match self.broker.extend(&self.id, node_id, task_ids) {
            Extended::Gone | Extended::Queued { new_part: false } => return,
            Extended::Sent => self.parts.entry(node_id.to_string()).or_insert(Part {
                awaited: None,
                open: 0,
            }),
            Extended::Queued { new_part: true } => {
                let part = self.parts.entry(node_id.to_string()).or_insert(Part {
                    awaited: Some(now),
                    open: 0,
                });
                part.awaited.get_or_insert(now);
                part
            }
        };
        part.open += 1;
    }

    /// The next output; `None` once every node's part is done (never,
    /// while kept open).
    pub async fn next(&mut self) -> Option<Output> {
        loop {
            if let Some(output) = self.ready.pop_front() {
                return Some(output);
            }
            if self.parts.is_empty() && !self.open_ended {
                return None;
            }
            tokio::select! {
                event = self.events.recv() => match event? {
                    Event::Entries(node_id, entries) => {
                        return Some(Output::Entries { node_id, entries });
                    }
                    Event::Closed(node_id) => {
                        if let Some(part) = self.parts.get_mut(&node_id) {
                            part.open = part.open.saturating_sub(1);
                            if part.open == 0 {
                                self.parts.remove(&node_id);
                            }
                        }
                    }
                    Event::Sent(node_id) => {
                        if let Some(part) = self.parts.get_mut(&node_id) {
                            part.awaited = None;
                        }
                    }
                    Event::Lost(node_id) => {
                        if self.parts.remove(&node_id).is_some() {
                            let name = self.broker.name_of(&node_id);
                            self.ready.push_back(Output::Warning(format!(
                                "node {name} is down (its connection to the leader ended)"
                            )));
                        }
                    }
                },
                _ = self.check.tick() => self.check_nodes(),
            }
        }
    }

    /// Gives up the parts of nodes that are down or did not connect in
    /// time, with a warning each.
    fn check_nodes(&mut self) {
        let broker = &self.broker;
        let ready = &mut self.ready;
        self.parts.retain(|node_id, part| {
            let why = if broker.is_down(node_id) {
                "is down"
            } else if part
                .awaited
                .is_some_and(|since| since.elapsed() > CONNECT_GRACE)
            {
                "is not connected to the leader"
            } else {
                return true;
            };
            ready.push_back(Output::Warning(format!(
                "node {} {why}",
                broker.name_of(node_id)
            )));
            false
        });
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.broker.cancel(&self.id);
    }
}

/// The stream of log subscriptions a node receives.
pub(super) type SubscriptionsStream =
    Pin<Box<dyn Stream<Item = Result<LogSubscription, Status>> + Send>>;

impl super::DispatcherService {
    /// `LogSubscriptions`: the calling node's link to the broker, until it
    /// goes away or this manager stops leading.
    pub(super) fn log_subscriptions_stream(
        &self,
        request: Request<LogSubscriptionsRequest>,
    ) -> Result<Response<SubscriptionsStream>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        if !self.manager.is_leader() {
            return Err(self.not_leader());
        }
        let node_id = identity.node_id;
        let (tx, rx) = mpsc::channel(16);
        let service = self.clone();
        let span = tracing::info_span!("log_subscriptions", node = %node_id);
        tokio::spawn(
            async move {
                let broker = &service.manager.logs;
                let mut link = broker.connect(&node_id).await;
                info!("node connected to the log broker");
                let mut check = tokio::time::interval(LEADERSHIP_CHECK);
                loop {
                    tokio::select! {
                        request = link.requests.recv() => {
                            let Some(request) = request else { break };
                            if tx.send(Ok(request)).await.is_err() {
                                break;
                            }
                        }
                        _ = check.tick() => {
                            if !service.manager.is_leader() {
                                let _ = tx.send(Err(service.not_leader())).await;
                                break;
                            }
                        }
                        _ = tx.closed() => break,
                    }
                }
                broker.disconnect(&node_id, link.id).await;
                info!("node left the log broker");
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    /// `PublishLogs`: relays a node's logs to the broker's subscribers.
    pub(super) async fn relay_published_logs(
        &self,
        request: Request<Streaming<PublishedLogs>>,
    ) -> Result<Response<Empty>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        if !self.manager.is_leader() {
            return Err(self.not_leader());
        }
        let mut published = request.into_inner();
        while let Some(message) = published.next().await {
            self.manager
                .logs
                .publish(&identity.node_id, message?)
                .await?;
        }
        Ok(Response::new(Empty {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::objects::{Meta, Object};
    use crate::store::{Batch, Op};

    fn node(id: &str, state: NodeState) -> Node {
        let mut node = Node {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            ..Node::default()
        };
        node.description.hostname = format!("host-{id}");
        node.status.state = state;
        node
    }

    fn store_with(nodes: &[(&str, NodeState)]) -> Store {
        let store = Store::new();
        let ops = nodes
            .iter()
            .map(|(id, state)| Op::Create(Object::Node(node(id, *state))))
            .collect();
        store.apply(1, &Batch { ops });
        store
    }

    fn parts(of: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        of.iter()
            .map(|(node, tasks)| {
                (
                    node.to_string(),
                    tasks.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn entry(task: &str, data: &str) -> TaskLogEntry {
        TaskLogEntry {
            task_id: task.into(),
            data: data.as_bytes().to_vec(),
            ..TaskLogEntry::default()
        }
    }

    fn published(id: &str, entries: Vec<TaskLogEntry>, close: bool) -> PublishedLogs {
        PublishedLogs {
            subscription_id: id.into(),
            entries,
            close,
        }
    }

    async fn within<T>(what: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), what)
            .await
            .expect("in time")
    }

    #[tokio::test]
    async fn a_subscription_goes_to_the_nodes_of_its_tasks_only_and_ends_when_all_close() {
        let broker = LogBroker::new(store_with(&[
            ("n1", NodeState::Ready),
            ("n2", NodeState::Ready),
            ("n3", NodeState::Ready),
        ]));
        let mut n1 = broker.connect("n1").await;
        let mut n2 = broker.connect("n2").await;
        let mut n3 = broker.connect("n3").await;
        let window = Window {
            follow: false,
            tail: 5,
            since: 0,
        };
        let mut sub = broker
            .subscribe(parts(&[("n1", &["t1", "t2"]), ("n2", &["t3"])]), window)
            .await;
        let to_n1 = n1.requests.try_recv().unwrap();
        assert_eq!(to_n1.task_ids, ["t1", "t2"]);
        assert_eq!((to_n1.tail, to_n1.follow, to_n1.cancel), (5, false, false));
        assert_eq!(n2.requests.try_recv().unwrap().task_ids, ["t3"]);
        assert!(n3.requests.try_recv().is_err(), "n3 runs none of the tasks");

        let id = sub.id.clone();
        broker
            .publish(
                "n1",
                published(&id, vec![entry("t1", "a\n"), entry("t3", "x\n")], true),
            )
            .await
            .unwrap();
        assert_eq!(
            within(sub.next()).await,
            Some(Output::Entries {
                node_id: "n1".into(),
                entries: vec![entry("t1", "a\n")],
            }),
            "n1 cannot publish for n2's task"
        );
        broker
            .publish("n2", published(&id, vec![entry("t3", "b\n")], false))
            .await
            .unwrap();
        assert!(
            matches!(within(sub.next()).await, Some(Output::Entries { node_id, .. }) if node_id == "n2")
        );
        broker
            .publish("n2", published(&id, Vec::new(), true))
            .await
            .unwrap();
        assert_eq!(within(sub.next()).await, None, "every part closed");
        assert!(
            broker
                .publish("n3", published(&id, vec![entry("t3", "c\n")], false))
                .await
                .is_err(),
            "a node outside the subscription is refused"
        );
    }

    #[tokio::test]
    async fn a_node_that_is_down_or_drops_its_stream_ends_its_part_with_a_warning() {
        let store = store_with(&[
            ("n1", NodeState::Ready),
            ("n2", NodeState::Down),
            ("n3", NodeState::Ready),
        ]);
        let broker = LogBroker::new(store);
        let n1 = broker.connect("n1").await;
        let mut sub = broker
            .subscribe(
                parts(&[("n1", &["t1"]), ("n2", &["t2"]), ("n3", &["t3"])]),
                Window::default(),
            )
            .await;
        assert_eq!(
            within(sub.next()).await,
            Some(Output::Warning("node host-n2 is down".into()))
        );
        broker.disconnect("n1", n1.id).await;
        assert_eq!(
            within(sub.next()).await,
            Some(Output::Warning(
                "node host-n1 is down (its connection to the leader ended)".into()
            ))
        );
        // n3 is ready but never connects: given up after the grace period.
        assert_eq!(
            within(sub.next()).await,
            Some(Output::Warning(
                "node host-n3 is not connected to the leader".into()
            ))
        );
        assert_eq!(within(sub.next()).await, None);
    }

    #[tokio::test]
    async fn a_node_connecting_late_gets_its_part_and_dropping_the_subscription_cancels_it() {
        let broker = LogBroker::new(store_with(&[("n1", NodeState::Ready)]));
        let window = Window {
            follow: true,
            tail: -1,
            since: 0,
        };
        let mut sub = broker.subscribe(parts(&[("n1", &["t1"])]), window).await;
        let id = sub.id.clone();
        let mut n1 = broker.connect("n1").await;
        let request = n1.requests.try_recv().unwrap();
        assert_eq!((request.id.as_str(), request.follow), (id.as_str(), true));
        broker
            .publish("n1", published(&id, vec![entry("t1", "late\n")], false))
            .await
            .unwrap();
        assert!(matches!(
            within(sub.next()).await,
            Some(Output::Entries { .. })
        ));
        drop(sub);
        let cancel = n1.requests.try_recv().unwrap();
        assert!(cancel.cancel && cancel.id == id, "{cancel:?}");
        assert!(
            broker
                .publish("n1", published(&id, vec![entry("t1", "more\n")], false))
                .await
                .is_err(),
            "the node is told to stop publishing"
        );
    }

    #[tokio::test]
    async fn an_open_ended_subscription_gains_tasks_on_connected_and_late_nodes() {
        let broker = LogBroker::new(store_with(&[
            ("n1", NodeState::Ready),
            ("n2", NodeState::Ready),
        ]));
        let mut n1 = broker.connect("n1").await;
        let window = Window {
            follow: true,
            tail: -1,
            since: 0,
        };
        let mut sub = broker.subscribe(parts(&[("n1", &["t1"])]), window).await;
        sub.keep_open(true);
        let id = sub.id.clone();
        assert_eq!(n1.requests.try_recv().unwrap().task_ids, ["t1"]);
        broker
            .publish("n1", published(&id, Vec::new(), true))
            .await
            .unwrap();
        // Its only part closed, but it stays open: a new task comes.
        sub.extend("n1", vec!["t2".into()]);
        let more = n1.requests.try_recv().unwrap();
        assert_eq!(
            (more.id.as_str(), more.task_ids.clone()),
            (id.as_str(), vec!["t2".to_string()])
        );
        assert!(more.follow && !more.cancel);
        // A node not connected yet gets its tasks, gathered, when it connects.
        sub.extend("n2", vec!["t3".into()]);
        sub.extend("n2", vec!["t4".into()]);
        let mut n2 = broker.connect("n2").await;
        assert_eq!(n2.requests.try_recv().unwrap().task_ids, ["t3", "t4"]);
        assert!(n2.requests.try_recv().is_err(), "one request for both");
        broker
            .publish("n2", published(&id, vec![entry("t4", "new\n")], false))
            .await
            .unwrap();
        assert_eq!(
            within(sub.next()).await,
            Some(Output::Entries {
                node_id: "n2".into(),
                entries: vec![entry("t4", "new\n")],
            })
        );
        broker
            .publish("n1", published(&id, vec![entry("t2", "two\n")], true))
            .await
            .unwrap();
        assert!(
            matches!(within(sub.next()).await, Some(Output::Entries { node_id, .. }) if node_id == "n1")
        );
        broker
            .publish("n2", published(&id, Vec::new(), true))
            .await
            .unwrap();
        let pending = tokio::time::timeout(Duration::from_millis(700), sub.next()).await;
        assert!(
            pending.is_err(),
            "kept open with every part closed: {pending:?}"
        );
        sub.keep_open(false);
        assert_eq!(
            within(sub.next()).await,
            None,
            "ends once no longer kept open"
        );
    }
}
