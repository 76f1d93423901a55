//! Which tasks `service logs` shows, and what names them: the caller names
//! services or tasks; each task placed on a node counts, running or
//! exited (their containers stay until the task history is pruned).
//! Following, the services' tasks that get a container later count too
//! ([`NewTasks`]), as with Swarm: a restarted or rescheduled replica's
//! logs appear in a running `service logs -f`.

use std::collections::{HashSet, VecDeque};

use hoist_api::cluster_proto::LogTask;
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use super::ServiceError;
use super::view::sort_for_ps;
use crate::manager::Manager;
use crate::store::objects::{Node, Service, Task};
use crate::store::{Change, Kind, Lookup, Object, Store, lookup};

/// What `service logs` targets name.
#[derive(Debug, Default)]
pub struct LogTargets {
    /// The placed tasks, in `service ps` order, each once.
    pub tasks: Vec<Task>,
    /// IDs of the services named (not those of tasks named alone).
    pub services: Vec<String>,
}

impl Manager {
    /// The placed tasks of the services or tasks `targets` name (a
    /// service's ID, name or unique ID prefix; a task's ID or unique ID
    /// prefix), and the services named.
    pub fn log_tasks(&self, targets: &[String]) -> Result<LogTargets, ServiceError> {
        let all = self.store.list::<Task>();
        let mut chosen = LogTargets::default();
        for target in targets {
            let matching: Vec<Task> = match self.find_service(target) {
                Ok(service) => {
                    chosen.services.push(service.meta.id.clone());
                    all.iter()
                        .filter(|t| t.service_id == service.meta.id)
                        .cloned()
                        .collect()
                }
                Err(ServiceError::NotFound(_)) => vec![find_task(&all, target)?],
                Err(e) => return Err(e),
            };
            for task in matching {
                if !task.node_id.is_empty()
                    && !chosen.tasks.iter().any(|t| t.meta.id == task.meta.id)
                {
                    chosen.tasks.push(task);
                }
            }
        }
        sort_for_ps(&mut chosen.tasks);
        Ok(chosen)
    }
}

/// The tasks of some services that get a container after a point in the
/// store's history: what a following `service logs` adds as it goes.
pub struct NewTasks {
    store: Store,
    /// Services followed; one that is deleted is no longer.
    services: HashSet<String>,
    /// Tasks already handed out (or there from the start).
    known: HashSet<String>,
    /// Tasks found by reading the store whole, to hand out first.
    found: Vec<Task>,
    backlog: VecDeque<Change>,
    live: tokio::sync::broadcast::Receiver<Change>,
}

impl NewTasks {
    /// Watches `services` from store version `from` on; `known` tasks are
    /// not handed out again. `None` when the store cannot be watched.
    pub fn watch(
        store: &Store,
        from: u64,
        services: impl IntoIterator<Item = String>,
        known: impl IntoIterator<Item = String>,
    ) -> Option<Self> {
        // A snapshot may have replaced the history since `from`: then the
        // tasks are read whole once (see `next`'s rescan).
        let (watch, rescan) = match store.watch(from) {
            Ok(watch) => (watch, false),
            Err(_) => match store.watch(store.version()) {
                Ok(watch) => (watch, true),
                Err(e) => {
                    warn!(error = %e, "cannot watch the store for new tasks to follow");
                    return None;
                }
            },
        };
        let mut new_tasks = Self {
            store: store.clone(),
            services: services.into_iter().collect(),
            known: known.into_iter().collect(),
            found: Vec::new(),
            backlog: watch.backlog.into(),
            live: watch.live,
        };
        if rescan {
            new_tasks.found = new_tasks.rescan();
        }
        Some(new_tasks)
    }

    /// The next tasks of the followed services that got a container;
    /// `None` once none of those services exists.
    pub async fn next(&mut self) -> Option<Vec<Task>> {
        loop {
            if !self.found.is_empty() {
                return Some(std::mem::take(&mut self.found));
            }
            if self.services.is_empty() {
                return None;
            }
            let change = match self.backlog.pop_front() {
                Some(change) => change,
                None => match self.live.recv().await {
                    Ok(change) => change,
                    Err(RecvError::Lagged(_)) => {
                        self.found = self.rescan();
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            match (change.kind, change.object) {
                (Kind::Task, Some(Object::Task(task))) => {
                    if let Some(task) = self.admit(task) {
                        return Some(vec![task]);
                    }
                }
                (Kind::Service, None) => {
                    self.services.remove(&change.id);
                }
                _ => {}
            }
        }
    }

    /// `task`, when it is new to the caller and has a container.
    fn admit(&mut self, task: Task) -> Option<Task> {
        let wanted = self.services.contains(&task.service_id)
            && !task.node_id.is_empty()
            && !task.status.container_id.is_empty()
            && self.known.insert(task.meta.id.clone());
        wanted.then_some(task)
    }

    /// Reads the store whole (after missing changes): the followed
    /// services that still exist, and their tasks not handed out yet.
    fn rescan(&mut self) -> Vec<Task> {
        let existing: HashSet<String> = self
            .store
            .list::<Service>()
            .into_iter()
            .map(|s| s.meta.id)
            .collect();
        self.services.retain(|id| existing.contains(id));
        let tasks = self.store.list::<Task>();
        tasks.into_iter().filter_map(|t| self.admit(t)).collect()
    }
}

/// The task `reference` names: its ID or a unique ID prefix.
fn find_task(tasks: &[Task], reference: &str) -> Result<Task, ServiceError> {
    match lookup(tasks.to_vec(), reference, |t| &t.meta.id) {
        Lookup::Found(task) => Ok(task),
        Lookup::Missing => Err(ServiceError::NotFound(format!(
            "{reference} (no service or task has that name or ID)"
        ))),
        Lookup::Ambiguous(count) => Err(ServiceError::Ambiguous {
            reference: reference.to_string(),
            count,
        }),
    }
}

/// What names `task` in log lines, its node's hostname from `nodes`.
pub fn log_task(task: &Task, nodes: &[Node]) -> LogTask {
    LogTask {
        task_id: task.meta.id.clone(),
        service_id: task.service_id.clone(),
        service_name: task.service_name.clone(),
        slot: task.slot,
        node_id: task.node_id.clone(),
        node_hostname: nodes
            .iter()
            .find(|n| n.meta.id == task.node_id)
            .map(|n| n.description.hostname.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Batch, Op};

    fn task(id: &str) -> Task {
        let mut task = Task::default();
        task.meta.id = id.into();
        task
    }

    #[test]
    fn a_task_is_found_by_id_or_unique_prefix() {
        let tasks = [task("abc1"), task("abc2"), task("abd")];
        assert_eq!(find_task(&tasks, "abc1").unwrap().meta.id, "abc1");
        assert_eq!(find_task(&tasks, "abd").unwrap().meta.id, "abd");
        assert!(matches!(
            find_task(&tasks, "abc"),
            Err(ServiceError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            find_task(&tasks, "zz"),
            Err(ServiceError::NotFound(_))
        ));
    }

    fn placed(id: &str, service: &str, container: &str) -> Task {
        let mut task = task(id);
        task.service_id = service.into();
        task.node_id = "n1".into();
        task.status.container_id = container.into();
        task
    }

    fn write(store: &Store, ops: Vec<Op>) {
        let index = store.version() + 1;
        store.apply(index, &Batch { ops });
    }

    async fn within<T>(what: impl Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(5), what)
            .await
            .expect("in time")
    }

    #[tokio::test]
    async fn following_hands_out_each_task_of_the_services_once_it_has_a_container() {
        let store = Store::new();
        let mut service = Service::default();
        service.meta.id = "s1".into();
        write(
            &store,
            vec![
                Op::Create(Object::Service(service)),
                Op::Create(Object::Task(placed("old", "s1", "c0"))),
            ],
        );
        let from = store.version();
        let mut new_tasks =
            NewTasks::watch(&store, from, ["s1".to_string()], ["old".to_string()]).unwrap();
        write(
            &store,
            vec![
                Op::Create(Object::Task(placed("other", "s2", "c9"))),
                Op::Create(Object::Task(placed("t1", "s1", ""))),
            ],
        );
        let mut started = store.get::<Task>("t1").unwrap();
        started.status.container_id = "c1".into();
        write(&store, vec![Op::Update(Object::Task(started))]);
        let found = within(new_tasks.next()).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].meta.id, "t1",
            "not before it had a container, not another service's"
        );
        let mut again = store.get::<Task>("t1").unwrap();
        again.status.message = "running".into();
        write(
            &store,
            vec![
                Op::Update(Object::Task(again)),
                Op::Delete {
                    kind: Kind::Service,
                    id: "s1".into(),
                    version: None,
                },
            ],
        );
        assert!(
            within(new_tasks.next()).await.is_none(),
            "a task is handed out once, and following ends with the service"
        );
    }
}
