//! Routes task changes to the sessions of the nodes they concern. One
//! watcher follows the store for every session (not one per session), so
//! a change is looked at once however many nodes there are; each node's
//! session receives only its own tasks, with the secrets and configs
//! they use (see [`crate::secrets::delivery`]) and no others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use hoist_api::cluster_proto::AssignmentsMessage;
use hoist_api::service::DesiredState;
use tokio::sync::{Notify, broadcast};
use tracing::{Instrument, debug, warn};

use crate::secrets::delivery::files_for;
use crate::secrets::key::{DataKey, KeyError};
use crate::services::pull_auth::credentials_for;
use crate::store::objects::{Kind, Stored, Task};
use crate::store::{Change, Store};

/// Changes a slow session may have queued before it is told to resend the
/// complete set instead.
const QUEUE: usize = 4096;

/// A change for one node.
#[derive(Debug, Clone)]
pub enum Routed {
    /// The task was assigned to the node, or changed.
    Upsert(Box<Task>),
    /// The task is no longer the node's.
    Removed(String),
}

impl Routed {
    /// The task it is about.
    pub fn task_id(&self) -> &str {
        match self {
            Routed::Upsert(task) => &task.meta.id,
            Routed::Removed(id) => id,
        }
    }
}

/// What one session receives.
#[derive(Debug)]
pub struct Subscription {
    /// The node's changes, in order.
    pub changes: tokio::sync::mpsc::Receiver<Routed>,
    /// Set when changes were dropped (the queue was full, or the router
    /// fell behind the store): the session must send the complete set.
    pub resync: Arc<AtomicBool>,
    /// Woken when `resync` is set.
    pub wake: Arc<Notify>,
}

#[derive(Debug)]
struct Subscriber {
    tx: tokio::sync::mpsc::Sender<Routed>,
    resync: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Subscriber {
    fn lost(&self) {
        self.resync.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

#[derive(Debug, Default)]
struct Routes {
    /// Sessions by node ID.
    subscribers: HashMap<String, Vec<Subscriber>>,
    /// The node each task is on and what is wanted of it, to route its
    /// deletion or move, and to skip changes of its status alone (its node
    /// reported them: echoing them back would only add traffic).
    placed: HashMap<String, (String, DesiredState)>,
}

/// The router, shared by the dispatcher's sessions.
#[derive(Debug, Clone, Default)]
pub struct Assignments {
    routes: Arc<Mutex<Routes>>,
}

impl Assignments {
    /// A router following `store`; it stops when the last clone is gone.
    pub fn start(store: Store) -> Self {
        let assignments = Self::default();
        tokio::spawn(route(Arc::downgrade(&assignments.routes), store));
        assignments
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes a session of `node_id`. Subscribe first, then read the
    /// complete set from the store: a change in between arrives twice,
    /// which is harmless, and none is missed.
    pub fn subscribe(&self, node_id: &str) -> Subscription {
        let (tx, changes) = tokio::sync::mpsc::channel(QUEUE);
        let resync = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        self.routes()
            .subscribers
            .entry(node_id.to_string())
            .or_default()
            .push(Subscriber {
                tx,
                resync: resync.clone(),
                wake: wake.clone(),
            });
        Subscription {
            changes,
            resync,
            wake,
        }
    }
}

/// Every task of `node_id`, as the store holds them now.
pub fn tasks_of(store: &Store, node_id: &str) -> Vec<Task> {
    store
        .list::<Task>()
        .into_iter()
        .filter(|t| t.node_id == node_id)
        .collect()
}

async fn route(routes: Weak<Mutex<Routes>>, store: Store) {
    'rewatch: loop {
        let from = store.version();
        let Ok(watch) = store.watch(from) else {
            // A snapshot replaced the state just now: read it again.
            tokio::task::yield_now().await;
            continue;
        };
        let mut live = watch.live;
        {
            let Some(routes) = routes.upgrade() else {
                return;
            };
            let mut routes = routes.lock().unwrap_or_else(|e| e.into_inner());
            routes.placed = store
                .list::<Task>()
                .into_iter()
                .map(|t| (t.meta.id, (t.node_id, t.desired_state)))
                .collect();
            // Anything routed before this point may have been missed.
            for subscriber in routes.subscribers.values().flatten() {
                subscriber.lost();
            }
        }
        for change in watch.backlog {
            if !deliver(&routes, change) {
                return;
            }
        }
        loop {
            match live.recv().await {
                Ok(change) => {
                    if !deliver(&routes, change) {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(
                        missed,
                        "task router fell behind the store; sessions resend their tasks"
                    );
                    continue 'rewatch;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Routes one change; false when the router is no longer wanted.
fn deliver(routes: &Weak<Mutex<Routes>>, change: Change) -> bool {
    if change.kind != Kind::Task {
        return true;
    }
    let Some(routes) = routes.upgrade() else {
        return false;
    };
    let mut routes = routes.lock().unwrap_or_else(|e| e.into_inner());
    let task = change.object.as_ref().and_then(Task::from_object).cloned();
    let now = task.as_ref().map(|t| (t.node_id.clone(), t.desired_state));
    let was = match &now {
        Some(now) => routes.placed.insert(change.id.clone(), now.clone()),
        None => routes.placed.remove(&change.id),
    };
    if was == now {
        return true;
    }
    let was_on = was.map(|(node, _)| node).unwrap_or_default();
    let now_on = now.map(|(node, _)| node).unwrap_or_default();
    if !was_on.is_empty() && was_on != now_on {
        send(&mut routes, &was_on, Routed::Removed(change.id.clone()));
    }
    if let Some(task) = task
        && !now_on.is_empty()
    {
        send(&mut routes, &now_on, Routed::Upsert(Box::new(task)));
    }
    true
}

fn send(routes: &mut Routes, node_id: &str, routed: Routed) {
    let Some(subscribers) = routes.subscribers.get_mut(node_id) else {
        return;
    };
    subscribers.retain(|subscriber| match subscriber.tx.try_send(routed.clone()) {
        Ok(()) => true,
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
            debug!(
                node = node_id,
                "session queue full; it will resend its tasks"
            );
            subscriber.lost();
            true
        }
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => false,
    });
    if subscribers.is_empty() {
        routes.subscribers.remove(node_id);
    }
}

/// A task as the JSON an agent receives.
pub fn task_json(task: &Task) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(task)
}

/// The most changes sent in one message.
const MAX_CHANGES: usize = 1024;

/// How often a session checks that this manager still leads.
const LEADERSHIP_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl super::DispatcherService {
    /// Streams the tasks of `node_id`: the complete set first, then its
    /// changes, until the node goes away or this manager stops leading.
    pub(super) fn assignments_stream(
        &self,
        node_id: String,
    ) -> tokio::sync::mpsc::Receiver<Result<AssignmentsMessage, tonic::Status>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let service = self.clone();
        let span = tracing::info_span!("assignments", node = %node_id);
        tokio::spawn(
            async move {
                let mut subscription = service.assignments.subscribe(&node_id);
                let key = service.manager.settings().data_key.clone();
                let mut resync = true;
                let mut check = tokio::time::interval(LEADERSHIP_CHECK);
                loop {
                    let message = if resync {
                        resync = false;
                        subscription.resync.store(false, Ordering::SeqCst);
                        while subscription.changes.try_recv().is_ok() {}
                        complete(&service.manager.store, &key, &node_id)
                    } else {
                        tokio::select! {
                            change = subscription.changes.recv() => {
                                let Some(first) = change else { return };
                                incremental(first, &mut subscription.changes, &service.manager.store, &key)
                            }
                            _ = subscription.wake.notified() => {
                                resync = subscription.resync.load(Ordering::SeqCst);
                                continue;
                            }
                            _ = check.tick() => {
                                if !service.manager.is_leader() {
                                    let _ = tx.send(Err(service.not_leader())).await;
                                    return;
                                }
                                continue;
                            }
                            _ = tx.closed() => return,
                        }
                    };
                    let failed = message.is_err();
                    if tx.send(message).await.is_err() || failed {
                        return;
                    }
                }
            }
            .instrument(span),
        );
        rx
    }
}

fn complete(
    store: &Store,
    key: &DataKey,
    node_id: &str,
) -> Result<AssignmentsMessage, tonic::Status> {
    let tasks = tasks_of(store, node_id);
    debug!(tasks = tasks.len(), "sending the complete set");
    let (secrets, configs) = files_for(store, key, &tasks).map_err(undecryptable)?;
    let pull_credentials = credentials_for(store, key, &tasks).map_err(undecryptable)?;
    Ok(AssignmentsMessage {
        complete: true,
        tasks_json: tasks
            .iter()
            .map(task_json)
            .collect::<Result<_, _>>()
            .map_err(internal)?,
        removed: Vec::new(),
        secrets,
        configs,
        pull_credentials,
    })
}

/// One message of the changes queued now, starting with `first`. Only the
/// last change of each task counts.
fn incremental(
    first: Routed,
    queue: &mut tokio::sync::mpsc::Receiver<Routed>,
    store: &Store,
    key: &DataKey,
) -> Result<AssignmentsMessage, tonic::Status> {
    let mut latest: Vec<Routed> = vec![first];
    let mut at: HashMap<String, usize> = HashMap::from([(latest[0].task_id().to_string(), 0)]);
    while latest.len() < MAX_CHANGES {
        let Ok(routed) = queue.try_recv() else { break };
        match at.get(routed.task_id()) {
            Some(&i) => latest[i] = routed,
            None => {
                at.insert(routed.task_id().to_string(), latest.len());
                latest.push(routed);
            }
        }
    }
    let mut message = AssignmentsMessage::default();
    let mut upserted = Vec::new();
    for routed in latest {
        match routed {
            Routed::Upsert(task) => {
                message.tasks_json.push(task_json(&task).map_err(internal)?);
                upserted.push(task);
            }
            Routed::Removed(id) => message.removed.push(id),
        }
    }
    (message.secrets, message.configs) =
        files_for(store, key, upserted.iter().map(|t| &**t)).map_err(undecryptable)?;
    message.pull_credentials =
        credentials_for(store, key, upserted.iter().map(|t| &**t)).map_err(undecryptable)?;
    Ok(message)
}

fn internal(e: serde_json::Error) -> tonic::Status {
    tonic::Status::internal(format!("cannot encode a task: {e}"))
}

fn undecryptable(e: KeyError) -> tonic::Status {
    tonic::Status::internal(format!(
        "cannot send the tasks' secrets or registry credentials: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::objects::{Meta, Object};
    use crate::store::{Batch, Op};

    fn task(id: &str, node: &str, version: u64) -> Op {
        let task = Task {
            meta: Meta {
                id: id.into(),
                version,
                ..Meta::default()
            },
            node_id: node.into(),
            ..Task::default()
        };
        if version == 0 {
            Op::Create(Object::Task(task))
        } else {
            Op::Update(Object::Task(task))
        }
    }

    async fn next(subscription: &mut Subscription) -> (String, bool) {
        let routed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            subscription.changes.recv(),
        )
        .await
        .unwrap()
        .unwrap();
        (
            routed.task_id().to_string(),
            matches!(routed, Routed::Upsert(_)),
        )
    }

    #[tokio::test]
    async fn a_node_gets_its_own_tasks_and_hears_when_one_leaves_it() {
        let store = Store::new();
        let assignments = Assignments::start(store.clone());
        tokio::task::yield_now().await;
        let mut n1 = assignments.subscribe("n1");
        let mut n2 = assignments.subscribe("n2");
        store.apply(
            1,
            &Batch {
                ops: vec![task("a", "n1", 0), task("b", "n2", 0), task("c", "", 0)],
            },
        );
        assert_eq!(next(&mut n1).await, ("a".into(), true));
        assert_eq!(next(&mut n2).await, ("b".into(), true));
        store.apply(2, &Batch::one(task("a", "n2", 1)));
        assert_eq!(
            next(&mut n1).await,
            ("a".into(), false),
            "moved away from n1"
        );
        assert_eq!(next(&mut n2).await, ("a".into(), true));
        store.apply(
            3,
            &Batch::one(Op::Delete {
                kind: Kind::Task,
                id: "b".into(),
                version: None,
            }),
        );
        assert_eq!(next(&mut n2).await, ("b".into(), false));
        assert!(n1.changes.try_recv().is_err(), "n1 heard nothing of b or c");
    }

    #[tokio::test]
    async fn a_status_change_alone_is_not_echoed_to_the_node() {
        let store = Store::new();
        let assignments = Assignments::start(store.clone());
        tokio::task::yield_now().await;
        let mut n1 = assignments.subscribe("n1");
        store.apply(1, &Batch::one(task("a", "n1", 0)));
        assert_eq!(next(&mut n1).await, ("a".into(), true));
        let status = hoist_api::service::TaskStatus {
            state: hoist_api::service::TaskState::Running,
            ..Default::default()
        };
        store.apply(
            2,
            &Batch::one(Op::TaskStatus {
                task_id: "a".into(),
                status,
            }),
        );
        let desire = Op::Desire {
            task_id: "a".into(),
            desired: DesiredState::Shutdown,
            at: 3,
        };
        store.apply(3, &Batch::one(desire));
        let routed = n1.changes.recv().await.unwrap();
        match routed {
            Routed::Upsert(task) => assert_eq!(task.desired_state, DesiredState::Shutdown),
            Routed::Removed(id) => panic!("unexpected removal of {id}"),
        }
    }

    #[tokio::test]
    async fn a_full_queue_asks_the_session_to_resend_everything() {
        let store = Store::new();
        let assignments = Assignments::start(store.clone());
        tokio::task::yield_now().await;
        let n1 = assignments.subscribe("n1");
        n1.resync.store(false, Ordering::SeqCst);
        let ops: Vec<Op> = (0..QUEUE + 10)
            .map(|i| task(&format!("t{i}"), "n1", 0))
            .collect();
        store.apply(1, &Batch { ops });
        tokio::time::timeout(std::time::Duration::from_secs(5), n1.wake.notified())
            .await
            .unwrap();
        assert!(n1.resync.load(Ordering::SeqCst));
        assert_eq!(tasks_of(&store, "n1").len(), QUEUE + 10);
    }

    fn sealed_secret(key: &DataKey, id: &str, data: &[u8]) -> Op {
        let mut secret = crate::store::objects::Secret {
            sealed: key.seal(&format!("secret/{id}"), data).unwrap(),
            ..Default::default()
        };
        secret.meta.id = id.into();
        secret.spec.name = format!("name-{id}");
        Op::Create(Object::Secret(secret))
    }

    fn sealed_config(key: &DataKey, id: &str, data: &[u8]) -> Op {
        let mut config = crate::store::objects::Config {
            sealed: key.seal(&format!("config/{id}"), data).unwrap(),
            ..Default::default()
        };
        config.meta.id = id.into();
        config.spec.name = format!("name-{id}");
        Op::Create(Object::Config(config))
    }

    fn using(id: &str, node: &str, secrets: &[&str], configs: &[&str]) -> Task {
        let reference = |id: &&str| hoist_api::service::FileReference {
            name: format!("name-{id}"),
            id: id.to_string(),
            ..Default::default()
        };
        let mut task = Task {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            node_id: node.into(),
            ..Task::default()
        };
        task.spec.secrets = secrets.iter().map(reference).collect();
        task.spec.configs = configs.iter().map(reference).collect();
        task
    }

    fn delivered(files: &[hoist_api::cluster_proto::FileData]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|f| (f.id.clone(), String::from_utf8(f.data.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn a_node_gets_the_secrets_of_its_own_tasks_only() {
        let key = DataKey::generate().unwrap();
        let store = Store::new();
        let mut done = using("t3", "n1", &["s3"], &[]);
        done.desired_state = hoist_api::service::DesiredState::Shutdown;
        store.apply(
            1,
            &Batch {
                ops: vec![
                    sealed_secret(&key, "s1", b"one"),
                    sealed_secret(&key, "s2", b"two"),
                    sealed_secret(&key, "s3", b"three"),
                    sealed_config(&key, "c1", b"conf"),
                    Op::Create(Object::Task(using("t1", "n1", &["s1"], &["c1"]))),
                    Op::Create(Object::Task(using("t2", "n2", &["s2"], &[]))),
                    Op::Create(Object::Task(done)),
                ],
            },
        );
        let n1 = complete(&store, &key, "n1").unwrap();
        assert_eq!(n1.tasks_json.len(), 2);
        assert_eq!(
            delivered(&n1.secrets),
            [("s1".into(), "one".into())],
            "not n2's, nor that of a task shut down"
        );
        assert_eq!(delivered(&n1.configs), [("c1".into(), "conf".into())]);
        let n2 = complete(&store, &key, "n2").unwrap();
        assert_eq!(delivered(&n2.secrets), [("s2".into(), "two".into())]);
        assert!(n2.configs.is_empty());
        assert!(complete(&store, &key, "n3").unwrap().secrets.is_empty());

        let (tx, mut queue) = tokio::sync::mpsc::channel(8);
        tx.try_send(Routed::Removed("t9".into())).unwrap();
        let first = Routed::Upsert(Box::new(using("t2", "n2", &["s2"], &[])));
        let change = incremental(first, &mut queue, &store, &key).unwrap();
        assert_eq!(delivered(&change.secrets), [("s2".into(), "two".into())]);
        assert_eq!(change.removed, ["t9"]);
        let other = DataKey::generate().unwrap();
        assert!(
            complete(&store, &other, "n1").is_err(),
            "a foreign key opens nothing"
        );
    }
}
