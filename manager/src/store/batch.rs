//! Writes to the store: a [`Batch`] of operations that the state machine
//! applies atomically at one Raft log index, each checked against the
//! version its writer read (compare-and-set). Task changes made by the
//! leader's control loops at high rates are guarded operations instead:
//! they check the task's fields, not its version, and are skipped when
//! overtaken, so that one stale decision never rejects a whole batch.

use hoist_api::service::{DesiredState, TaskStatus};
use serde::{Deserialize, Serialize};

use super::objects::{Kind, Object};

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Stores a new object; fails when its ID is taken.
    Create(Object),
    /// Replaces an object; fails unless `meta.version` is the stored one.
    Update(Object),
    /// Removes an object; with a version, only if it is still that one.
    Delete {
        /// Kind of the object.
        kind: Kind,
        /// Its ID.
        id: String,
        /// The version the writer read, if the delete is conditional.
        version: Option<u64>,
    },
    /// Places an unplaced task on a node (or confirms a global service's
    /// task on its own node). Skipped (not rejected) unless the task still
    /// waits for a node, is not meant for another, and should run: the scheduler's
    /// decisions are made on a snapshot and may be overtaken.
    Assign {
        /// The task.
        task_id: String,
        /// The node chosen.
        node_id: String,
        /// When (Unix milliseconds).
        at: i64,
    },
    /// Records a task's observed state. Skipped unless it moves the task
    /// forward (or, in the same state, changes its message): reports may
    /// arrive late or twice.
    TaskStatus {
        /// The task.
        task_id: String,
        /// Its new status.
        status: TaskStatus,
    },
    /// Raises what the cluster wants of a task (run → shut down →
    /// remove). Skipped unless it is a raise.
    Desire {
        /// The task.
        task_id: String,
        /// The new desired state.
        desired: DesiredState,
        /// When (Unix milliseconds).
        at: i64,
    },
}

/// Operations applied all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The operations, in order: a later one sees the earlier ones.
    pub ops: Vec<Op>,
}

impl Batch {
    /// A batch of one operation.
    pub fn one(op: Op) -> Self {
        Self { ops: vec![op] }
    }
}

/// What one Raft entry carries: batches from concurrent writers committed
/// together (group commit: one log write and one round of replication for
/// all of them), each applied on its own, in order, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The batches.
    pub batches: Vec<Batch>,
}

/// Why a batch was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Rejection {
    /// Create of an ID that exists.
    #[error("{kind} {id} already exists")]
    Exists {
        /// Kind of the object.
        kind: Kind,
        /// Its ID.
        id: String,
    },
    /// Update or delete of an ID that does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Kind of the object.
        kind: Kind,
        /// Its ID.
        id: String,
    },
    /// The object changed since the writer read it.
    #[error(
        "{kind} {id} changed since it was read (version {expected}, now {actual}): read it again and retry"
    )]
    Conflict {
        /// Kind of the object.
        kind: Kind,
        /// Its ID.
        id: String,
        /// The version the writer quoted.
        expected: u64,
        /// The version stored.
        actual: u64,
    },
}

/// The outcome of one Raft log entry, returned to its proposer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Applied; objects written carry this version (the entry's log index).
    Applied {
        /// The log index of the entry.
        version: u64,
    },
    /// Nothing was written.
    Rejected(Rejection),
}

impl Outcome {
    /// The version of an applied batch, or why it was rejected.
    pub fn into_result(self) -> Result<u64, Rejection> {
        match self {
            Outcome::Applied { version } => Ok(version),
            Outcome::Rejected(rejection) => Err(rejection),
        }
    }
}
