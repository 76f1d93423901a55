//! The desired state itself: objects by kind and ID, and the deterministic
//! rule that applies a [`Batch`] to them. Every manager applies the same
//! entries in the same order and so holds the same state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::batch::{Batch, Op, Outcome, Rejection};
use hoist_api::service::{DesiredState, TaskState, TaskStatus};

use super::objects::{Kind, Object, Stored, Task};

/// One object's change, as watchers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The version (log index) of the write.
    pub version: u64,
    /// Kind of the object.
    pub kind: Kind,
    /// Its ID.
    pub id: String,
    /// The object after the write; `None` when it was deleted.
    pub object: Option<Object>,
}

/// All objects, by kind then ID.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    objects: BTreeMap<Kind, BTreeMap<String, Object>>,
}

impl State {
    /// The object of `kind` with `id`.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&Object> {
        self.objects.get(&kind)?.get(id)
    }

    /// Every object of `kind`, by ID.
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.values())
    }

    /// Every object, for snapshots.
    pub fn all(&self) -> impl Iterator<Item = &Object> {
        self.objects.values().flat_map(|m| m.values())
    }

    /// Rebuilds a state from a snapshot's objects.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Self {
        let mut state = Self::default();
        for object in objects {
            state
                .objects
                .entry(object.kind())
                .or_default()
                .insert(object.meta().id.clone(), object);
        }
        state
    }

    /// Applies `batch` at log index `version`: every operation or none.
    /// Returns the outcome and, when applied, the changes to publish.
    pub fn apply(&mut self, version: u64, batch: &Batch) -> (Outcome, Vec<Change>) {
        match self.stage(version, batch) {
            Err(rejection) => (Outcome::Rejected(rejection), Vec::new()),
            Ok(changes) => {
                for change in &changes {
                    let objects = self.objects.entry(change.kind).or_default();
                    match &change.object {
                        Some(object) => {
                            objects.insert(change.id.clone(), object.clone());
                        }
                        None => {
                            objects.remove(&change.id);
                        }
                    }
                }
                (Outcome::Applied { version }, changes)
            }
        }
    }

    /// Checks every operation against the state as the earlier operations
    /// of the batch leave it, without changing anything.
    fn stage(&self, version: u64, batch: &Batch) -> Result<Vec<Change>, Rejection> {
        let mut changes: Vec<Change> = Vec::with_capacity(batch.ops.len());
        for op in &batch.ops {
            let current = |kind: Kind, id: &str| -> Option<&Object> {
                match changes.iter().rev().find(|c| c.kind == kind && c.id == id) {
                    Some(change) => change.object.as_ref(),
                    None => self.get(kind, id),
                }
            };
            let change = match op {
                Op::Create(object) => {
                    let (kind, id) = (object.kind(), object.meta().id.clone());
                    if current(kind, &id).is_some() {
                        return Err(Rejection::Exists { kind, id });
                    }
                    self.check_name(&changes, object)?;
                    stamped(version, object.clone())
                }
                Op::Update(object) => {
                    let (kind, id) = (object.kind(), object.meta().id.clone());
                    let Some(stored) = current(kind, &id) else {
                        return Err(Rejection::NotFound { kind, id });
                    };
                    check_version(kind, &id, object.meta().version, stored)?;
                    stamped(version, object.clone())
                }
                Op::Delete {
                    kind,
                    id,
                    version: expected,
                } => {
                    let Some(stored) = current(*kind, id) else {
                        return Err(Rejection::NotFound {
                            kind: *kind,
                            id: id.clone(),
                        });
                    };
                    if let Some(expected) = *expected {
                        check_version(*kind, id, expected, stored)?;
                    }
                    Change {
                        version,
                        kind: *kind,
                        id: id.clone(),
                        object: None,
                    }
                }
                Op::Assign { task_id, .. }
                | Op::TaskStatus { task_id, .. }
                | Op::Desire { task_id, .. } => {
                    let task = current(Kind::Task, task_id).and_then(Task::from_object);
                    match task.and_then(|task| guarded(task, op)) {
                        Some(task) => stamped(version, Object::Task(task)),
                        None => continue,
                    }
                }
            };
            changes.push(change);
        }
        Ok(changes)
    }
}

impl State {
    /// Names are unique among services, among secrets, among configs and
    /// among networks:
    /// fails when another object of the kind of `object`, stored or created
    /// earlier in the batch, has its name.
    fn check_name(&self, changes: &[Change], object: &Object) -> Result<(), Rejection> {
        let Some(name) = unique_name(object) else {
            return Ok(());
        };
        let (kind, id) = (object.kind(), &object.meta().id);
        let named = |other: &Object| {
            other.kind() == kind && unique_name(other) == Some(name) && other.meta().id != *id
        };
        let in_batch = changes.iter().any(|c| c.object.as_ref().is_some_and(named));
        let stored = self.list(kind).any(|o| {
            named(o)
                && !changes
                    .iter()
                    .any(|c| c.kind == kind && c.id == o.meta().id)
        });
        if in_batch || stored {
            return Err(Rejection::Exists {
                kind,
                id: name.to_string(),
            });
        }
        Ok(())
    }
}

/// The name of an object whose kind has unique names.
fn unique_name(object: &Object) -> Option<&str> {
    match object {
        Object::Service(o) => Some(&o.spec.name),
        Object::Secret(o) => Some(&o.spec.name),
        Object::Config(o) => Some(&o.spec.name),
        Object::Network(o) => Some(&o.spec.name),
        _ => None,
    }
}

/// Fails unless `stored` is at the version the writer read.
fn check_version(kind: Kind, id: &str, expected: u64, stored: &Object) -> Result<(), Rejection> {
    let actual = stored.meta().version;
    if expected == actual {
        return Ok(());
    }
    Err(Rejection::Conflict {
        kind,
        id: id.to_string(),
        expected,
        actual,
    })
}

/// The task after a guarded operation, or `None` when its guard does not
/// hold and it is skipped.
fn guarded(task: &Task, op: &Op) -> Option<Task> {
    let mut task = task.clone();
    match op {
        Op::Assign { node_id, at, .. } => {
            // A global service's task is made for its node and still
            // waits for the scheduler to check that it fits there.
            let waiting = (task.node_id.is_empty() || task.node_id == *node_id)
                && task.status.state < TaskState::Assigned
                && task.desired_state == DesiredState::Running;
            if !waiting {
                return None;
            }
            task.node_id = node_id.clone();
            task.status = TaskStatus {
                state: TaskState::Assigned,
                message: "scheduler assigned task to node".into(),
                timestamp: *at,
                ..TaskStatus::default()
            };
            task.meta.updated_at = *at;
        }
        Op::TaskStatus { status, .. } => {
            let forward = status.state > task.status.state
                || (status.state == task.status.state && *status != task.status);
            if !forward {
                return None;
            }
            task.meta.updated_at = status.timestamp;
            task.status = status.clone();
        }
        Op::Desire { desired, at, .. } => {
            if *desired <= task.desired_state {
                return None;
            }
            task.desired_state = *desired;
            task.meta.updated_at = *at;
        }
        Op::Create(_) | Op::Update(_) | Op::Delete { .. } => return None,
    }
    Some(task)
}

/// The change that stores `object` at `version`.
fn stamped(version: u64, mut object: Object) -> Change {
    object.meta_mut().version = version;
    Change {
        version,
        kind: object.kind(),
        id: object.meta().id.clone(),
        object: Some(object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::objects::{Config, Meta, Node, Secret, Service};

    fn node(id: &str, version: u64) -> Object {
        Object::Node(Node {
            meta: Meta {
                id: id.to_string(),
                version,
                ..Meta::default()
            },
            ..Node::default()
        })
    }

    #[test]
    fn create_then_update_with_the_read_version() {
        let mut state = State::default();
        let (outcome, changes) = state.apply(5, &Batch::one(Op::Create(node("n1", 0))));
        assert_eq!(outcome, Outcome::Applied { version: 5 });
        assert_eq!(changes.len(), 1);
        assert_eq!(state.get(Kind::Node, "n1").unwrap().meta().version, 5);

        let (outcome, _) = state.apply(6, &Batch::one(Op::Update(node("n1", 5))));
        assert_eq!(outcome, Outcome::Applied { version: 6 });
        assert_eq!(state.get(Kind::Node, "n1").unwrap().meta().version, 6);
    }

    #[test]
    fn a_stale_version_is_a_conflict_and_changes_nothing() {
        let mut state = State::default();
        state.apply(1, &Batch::one(Op::Create(node("n1", 0))));
        state.apply(2, &Batch::one(Op::Update(node("n1", 1))));
        let (outcome, changes) = state.apply(3, &Batch::one(Op::Update(node("n1", 1))));
        assert_eq!(
            outcome,
            Outcome::Rejected(Rejection::Conflict {
                kind: Kind::Node,
                id: "n1".into(),
                expected: 1,
                actual: 2
            })
        );
        assert!(changes.is_empty());
        assert_eq!(state.get(Kind::Node, "n1").unwrap().meta().version, 2);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let mut state = State::default();
        state.apply(1, &Batch::one(Op::Create(node("n1", 0))));
        let batch = Batch {
            ops: vec![Op::Create(node("n2", 0)), Op::Create(node("n1", 0))],
        };
        let (outcome, _) = state.apply(2, &batch);
        assert_eq!(
            outcome,
            Outcome::Rejected(Rejection::Exists {
                kind: Kind::Node,
                id: "n1".into()
            })
        );
        assert!(state.get(Kind::Node, "n2").is_none());
    }

    #[test]
    fn later_operations_see_earlier_ones_in_the_same_batch() {
        let mut state = State::default();
        let batch = Batch {
            ops: vec![
                Op::Create(node("n1", 0)),
                Op::Update(node("n1", 7)),
                Op::Delete {
                    kind: Kind::Node,
                    id: "n1".into(),
                    version: Some(7),
                },
            ],
        };
        let (outcome, changes) = state.apply(7, &batch);
        assert_eq!(outcome, Outcome::Applied { version: 7 });
        assert_eq!(changes.len(), 3);
        assert!(state.get(Kind::Node, "n1").is_none());
    }

    #[test]
    fn deleting_a_missing_object_is_not_found() {
        let mut state = State::default();
        let (outcome, _) = state.apply(
            1,
            &Batch::one(Op::Delete {
                kind: Kind::Node,
                id: "gone".into(),
                version: None,
            }),
        );
        assert!(matches!(
            outcome,
            Outcome::Rejected(Rejection::NotFound { .. })
        ));
    }

    fn task(id: &str) -> Object {
        Object::Task(Task {
            meta: Meta {
                id: id.to_string(),
                ..Meta::default()
            },
            ..Task::default()
        })
    }

    fn assign(id: &str, node: &str) -> Op {
        Op::Assign {
            task_id: id.into(),
            node_id: node.into(),
            at: 1,
        }
    }

    fn status(id: &str, state: TaskState, message: &str) -> Op {
        Op::TaskStatus {
            task_id: id.into(),
            status: TaskStatus {
                state,
                message: message.into(),
                ..TaskStatus::default()
            },
        }
    }

    fn stored_task(state: &State, id: &str) -> Task {
        Task::from_object(state.get(Kind::Task, id).unwrap())
            .unwrap()
            .clone()
    }

    #[test]
    fn an_overtaken_assignment_is_skipped_without_rejecting_its_batch() {
        let mut state = State::default();
        state.apply(
            1,
            &Batch {
                ops: vec![Op::Create(task("t1")), Op::Create(task("t2"))],
            },
        );
        state.apply(2, &Batch::one(assign("t1", "n1")));
        let (outcome, changes) = state.apply(
            3,
            &Batch {
                ops: vec![assign("t1", "n2"), assign("t2", "n2")],
            },
        );
        assert_eq!(outcome, Outcome::Applied { version: 3 });
        assert_eq!(changes.len(), 1, "only t2 changed");
        assert_eq!(stored_task(&state, "t1").node_id, "n1");
        assert_eq!(stored_task(&state, "t2").node_id, "n2");
        assert_eq!(stored_task(&state, "t2").status.state, TaskState::Assigned);
    }

    #[test]
    fn task_status_only_moves_forward() {
        let mut state = State::default();
        state.apply(1, &Batch::one(Op::Create(task("t1"))));
        state.apply(2, &Batch::one(status("t1", TaskState::Running, "started")));
        let (_, changes) = state.apply(3, &Batch::one(status("t1", TaskState::Starting, "late")));
        assert!(changes.is_empty(), "a late report is skipped");
        let (_, changes) = state.apply(4, &Batch::one(status("t1", TaskState::Running, "started")));
        assert!(changes.is_empty(), "a repeated report is skipped");
        state.apply(5, &Batch::one(status("t1", TaskState::Failed, "exit 1")));
        let task = stored_task(&state, "t1");
        assert_eq!(
            (task.status.state, task.meta.version),
            (TaskState::Failed, 5)
        );
    }

    #[test]
    fn desired_state_only_rises_and_assignments_need_a_runnable_task() {
        let mut state = State::default();
        state.apply(1, &Batch::one(Op::Create(task("t1"))));
        let desire = |desired| Op::Desire {
            task_id: "t1".into(),
            desired,
            at: 2,
        };
        state.apply(2, &Batch::one(desire(DesiredState::Remove)));
        let (_, changes) = state.apply(3, &Batch::one(desire(DesiredState::Shutdown)));
        assert!(changes.is_empty());
        let (_, changes) = state.apply(4, &Batch::one(assign("t1", "n1")));
        assert!(changes.is_empty(), "a task to remove is not placed");
        let (outcome, changes) = state.apply(5, &Batch::one(assign("missing", "n1")));
        assert_eq!(
            (outcome, changes.len()),
            (Outcome::Applied { version: 5 }, 0)
        );
    }

    fn service(id: &str, name: &str) -> Op {
        let mut service = Service {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            ..Service::default()
        };
        service.spec.name = name.into();
        Op::Create(Object::Service(service))
    }

    #[test]
    fn service_names_are_unique_in_the_store_and_in_a_batch() {
        let mut state = State::default();
        state.apply(1, &Batch::one(service("s1", "web")));
        let (outcome, _) = state.apply(2, &Batch::one(service("s2", "web")));
        assert_eq!(
            outcome,
            Outcome::Rejected(Rejection::Exists {
                kind: Kind::Service,
                id: "web".into()
            })
        );
        let (outcome, _) = state.apply(
            3,
            &Batch {
                ops: vec![service("s3", "db"), service("s4", "db")],
            },
        );
        assert!(matches!(
            outcome,
            Outcome::Rejected(Rejection::Exists { .. })
        ));
        let delete_then_create = Batch {
            ops: vec![
                Op::Delete {
                    kind: Kind::Service,
                    id: "s1".into(),
                    version: None,
                },
                service("s5", "web"),
            ],
        };
        let (outcome, _) = state.apply(4, &delete_then_create);
        assert_eq!(
            outcome,
            Outcome::Applied { version: 4 },
            "a name is free once its service is gone"
        );
    }

    #[test]
    fn secret_and_config_names_are_unique_per_kind() {
        let meta = |id: &str| Meta {
            id: id.into(),
            ..Meta::default()
        };
        let secret = |id: &str, name: &str| {
            let mut secret = Secret {
                meta: meta(id),
                ..Secret::default()
            };
            secret.spec.name = name.into();
            Op::Create(Object::Secret(secret))
        };
        let config = |id: &str, name: &str| {
            let mut config = Config {
                meta: meta(id),
                ..Config::default()
            };
            config.spec.name = name.into();
            Op::Create(Object::Config(config))
        };
        let mut state = State::default();
        state.apply(1, &Batch::one(secret("s1", "db_pw")));
        let (outcome, _) = state.apply(2, &Batch::one(secret("s2", "db_pw")));
        assert_eq!(
            outcome,
            Outcome::Rejected(Rejection::Exists {
                kind: Kind::Secret,
                id: "db_pw".into()
            })
        );
        let (outcome, _) = state.apply(3, &Batch::one(config("c1", "db_pw")));
        assert_eq!(
            outcome,
            Outcome::Applied { version: 3 },
            "a config may share a secret's name"
        );
        let (outcome, _) = state.apply(4, &Batch::one(service("x1", "db_pw")));
        assert_eq!(outcome, Outcome::Applied { version: 4 });
        let (outcome, _) = state.apply(
            5,
            &Batch {
                ops: vec![config("c2", "site"), config("c3", "site")],
            },
        );
        assert!(matches!(
            outcome,
            Outcome::Rejected(Rejection::Exists {
                kind: Kind::Config,
                ..
            })
        ));
    }
}
