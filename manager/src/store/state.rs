//! The desired state itself: objects by kind and ID, and the deterministic
//! rule that applies a [`Batch`] to them. Every manager applies the same
//! entries in the same order and so holds the same state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::batch::{Batch, Op, Outcome, Rejection};
use super::objects::{Kind, Object};

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
        let current = |changes: &[Change], kind: Kind, id: &str| -> Option<u64> {
            match changes.iter().rev().find(|c| c.kind == kind && c.id == id) {
                Some(change) => change.object.as_ref().map(|o| o.meta().version),
                None => self.get(kind, id).map(|o| o.meta().version),
            }
        };
        for op in &batch.ops {
            let change = match op {
                Op::Create(object) => {
                    let (kind, id) = (object.kind(), object.meta().id.clone());
                    if current(&changes, kind, &id).is_some() {
                        return Err(Rejection::Exists { kind, id });
                    }
                    stamped(version, object)
                }
                Op::Update(object) => {
                    let (kind, id) = (object.kind(), object.meta().id.clone());
                    let Some(actual) = current(&changes, kind, &id) else {
                        return Err(Rejection::NotFound { kind, id });
                    };
                    let expected = object.meta().version;
                    if expected != actual {
                        return Err(Rejection::Conflict {
                            kind,
                            id,
                            expected,
                            actual,
                        });
                    }
                    stamped(version, object)
                }
                Op::Delete {
                    kind,
                    id,
                    version: expected,
                } => {
                    let Some(actual) = current(&changes, *kind, id) else {
                        return Err(Rejection::NotFound {
                            kind: *kind,
                            id: id.clone(),
                        });
                    };
                    if let Some(expected) = *expected
                        && expected != actual
                    {
                        return Err(Rejection::Conflict {
                            kind: *kind,
                            id: id.clone(),
                            expected,
                            actual,
                        });
                    }
                    Change {
                        version,
                        kind: *kind,
                        id: id.clone(),
                        object: None,
                    }
                }
            };
            changes.push(change);
        }
        Ok(changes)
    }
}

/// The change that stores `object` at `version`.
fn stamped(version: u64, object: &Object) -> Change {
    let mut object = object.clone();
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
    use crate::store::objects::{Meta, Node};

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
}
