//! The cluster's desired state as this manager has applied it: typed
//! objects with versions, read directly by the API, changed only by the
//! Raft state machine, and watchable from a version.

pub mod batch;
pub mod lookup;
pub mod objects;
pub mod state;

use std::collections::VecDeque;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use tokio::sync::{broadcast, watch};

pub use batch::{Batch, Op, Outcome, Proposal, Rejection};
pub use lookup::{Lookup, lookup, lookup_by};
pub use objects::{Kind, Meta, Object, Stored};
pub use state::{Change, State};

/// How many recent changes a watcher can start from; older ones need a
/// fresh read of the whole state.
const HISTORY: usize = 8192;

/// Why a watch could not start where asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The changes after `from` are no longer kept.
    #[error(
        "changes since version {from} are no longer kept (oldest kept: {oldest}): list the objects again and watch from the current version"
    )]
    Compacted {
        /// The version asked for.
        from: u64,
        /// The oldest version a watch can start after.
        oldest: u64,
    },
}

/// A watch: the kept changes after the asked version, then live ones.
#[derive(Debug)]
pub struct Watch {
    /// Changes already applied after the asked version, oldest first.
    pub backlog: Vec<Change>,
    /// Changes applied from now on. A receiver that falls too far behind
    /// gets `Lagged` and must start again from its last version.
    pub live: broadcast::Receiver<Change>,
}

#[derive(Debug, Default)]
struct Inner {
    state: State,
    /// The log index of the last applied entry.
    applied: u64,
    /// Recent changes, oldest first.
    history: VecDeque<Change>,
    /// Watches may start from this version or later.
    oldest: u64,
}

/// A manager's applied state, shared by the state machine and the API.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<RwLock<Inner>>,
    changes: broadcast::Sender<Change>,
    applied: watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            changes: broadcast::channel(HISTORY).0,
            applied: watch::channel(0).0,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while the lock was held cannot leave the state half
        // written (changes are staged first), so a poisoned lock is usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The object of type `T` with `id`.
    pub fn get<T: Stored>(&self, id: &str) -> Option<T> {
        self.read()
            .state
            .get(T::KIND, id)
            .and_then(T::from_object)
            .cloned()
    }

    /// Every object of type `T`.
    pub fn list<T: Stored>(&self) -> Vec<T> {
        self.read()
            .state
            .list(T::KIND)
            .filter_map(T::from_object)
            .cloned()
            .collect()
    }

    /// Calls `visit` on every object of type `T` without copying them (for
    /// counts and summaries over many objects).
    pub fn scan<T: Stored>(&self, mut visit: impl FnMut(&T)) {
        for object in self.read().state.list(T::KIND).filter_map(T::from_object) {
            visit(object);
        }
    }

    /// The log index of the last applied entry: the store's version.
    pub fn version(&self) -> u64 {
        self.read().applied
    }

    /// Waits until the store has applied `version`.
    pub async fn wait_for(&self, version: u64) {
        let mut applied = self.applied.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = applied.wait_for(|v| *v >= version).await;
    }

    /// Applies a committed batch at log index `index` and publishes its
    /// changes.
    pub fn apply(&self, index: u64, batch: &Batch) -> Outcome {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let (outcome, changes) = inner.state.apply(index, batch);
        for change in changes {
            if inner.history.len() == HISTORY
                && let Some(dropped) = inner.history.pop_front()
            {
                inner.oldest = dropped.version;
            }
            inner.history.push_back(change.clone());
            // No receiver is not an error: nobody watches.
            let _ = self.changes.send(change);
        }
        inner.applied = index;
        drop(inner);
        self.applied.send_replace(index);
        outcome
    }

    /// Records an entry that changes no object (a blank or membership
    /// entry) as applied.
    pub fn skip(&self, index: u64) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .applied = index;
        self.applied.send_replace(index);
    }

    /// Replaces the whole state with a snapshot's at `applied`. Watchers
    /// cannot continue across it: history restarts there.
    pub fn replace(&self, state: State, applied: u64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *inner = Inner {
            state,
            applied,
            history: VecDeque::new(),
            oldest: applied,
        };
        drop(inner);
        self.applied.send_replace(applied);
    }

    /// A copy of the whole state and its version, for snapshots.
    pub fn snapshot(&self) -> (State, u64) {
        let inner = self.read();
        (inner.state.clone(), inner.applied)
    }

    /// Watches changes made after version `from`.
    pub fn watch(&self, from: u64) -> Result<Watch, WatchError> {
        let inner = self.read();
        if from < inner.oldest {
            return Err(WatchError::Compacted {
                from,
                oldest: inner.oldest,
            });
        }
        // Subscribing under the lock: no change lands between the backlog
        // and the live stream, and none lands in both.
        let live = self.changes.subscribe();
        let backlog = inner
            .history
            .iter()
            .filter(|c| c.version > from)
            .cloned()
            .collect();
        Ok(Watch { backlog, live })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use objects::Node;

    fn create(id: &str) -> Batch {
        Batch::one(Op::Create(Object::Node(Node {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            ..Node::default()
        })))
    }

    #[test]
    fn typed_reads_see_applied_writes() {
        let store = Store::new();
        store.apply(3, &create("a"));
        store.apply(4, &create("b"));
        assert_eq!(store.version(), 4);
        assert_eq!(store.get::<Node>("a").unwrap().meta.version, 3);
        assert_eq!(store.list::<Node>().len(), 2);
    }

    #[test]
    fn a_watch_gets_the_backlog_then_live_changes_without_gaps() {
        let store = Store::new();
        store.apply(1, &create("a"));
        store.apply(2, &create("b"));
        let mut watch = store.watch(1).unwrap();
        assert_eq!(
            watch.backlog.iter().map(|c| c.version).collect::<Vec<_>>(),
            [2]
        );
        store.apply(3, &create("c"));
        let live = watch.live.try_recv().unwrap();
        assert_eq!((live.version, live.id.as_str()), (3, "c"));
    }

    #[test]
    fn a_watch_from_before_a_snapshot_is_refused() {
        let store = Store::new();
        store.replace(State::default(), 10);
        assert_eq!(
            store.watch(5).unwrap_err(),
            WatchError::Compacted {
                from: 5,
                oldest: 10
            }
        );
        assert!(store.watch(10).is_ok());
    }
}
