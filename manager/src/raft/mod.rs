//! Raft plumbing for the store: the openraft type configuration, durable
//! log storage on redb, the state machine that applies entries to the
//! [`Store`](crate::store::Store), and the transport between managers.

pub mod election;
pub mod log_store;
pub mod network;
pub mod recover;
pub mod service;
pub mod state_machine;

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::store::{Outcome, Proposal};

/// How a manager is reached by its Raft peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its cluster address, `IP:PORT`.
    pub addr: String,
    /// Its node ID (the common name of its certificate).
    pub node_id: String,
}

openraft::declare_raft_types!(
    /// hoist's Raft types: entries carry proposals (store batches
    /// committed together) and answer with one outcome per batch; members
    /// are managers addressed by their cluster address.
    pub TypeConfig:
        D = Proposal,
        R = Vec<Outcome>,
        NodeId = u64,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A Raft member's ID.
pub type RaftId = u64;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log position.
pub type LogId = openraft::LogId<RaftId>;
/// A vote.
pub type Vote = openraft::Vote<RaftId>;
/// Storage failures, as openraft wants them.
pub type StorageError = openraft::StorageError<RaftId>;
/// The membership a state machine last applied.
pub type StoredMembership = openraft::StoredMembership<RaftId, Member>;
/// Metadata of a snapshot.
pub type SnapshotMeta = openraft::SnapshotMeta<RaftId, Member>;
/// A running Raft node.
pub type Raft = openraft::Raft<TypeConfig>;

/// Wraps a storage failure for openraft; `kind` says what was being done
/// (e.g. `StorageIOError::write_logs`).
fn io_error(
    kind: impl FnOnce(openraft::AnyError) -> openraft::StorageIOError<RaftId>,
    error: impl std::error::Error + 'static,
) -> StorageError {
    kind(openraft::AnyError::new(&error)).into()
}

#[cfg(test)]
mod tests {
    use openraft::testing::{StoreBuilder, Suite};

    use super::log_store::LogStore;
    use super::state_machine::StateMachine;
    use super::*;
    use crate::store::Store;

    struct OnDisk;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for OnDisk {
        async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
            let dir = tempfile::tempdir().expect("temporary directory");
            let log = LogStore::open(&dir.path().join("raft.redb")).expect("open log");
            let machine = StateMachine::open(&dir.path().join("snapshots"), Store::new())
                .expect("open state machine");
            Ok((dir, log, machine))
        }
    }

    /// openraft's own conformance suite for log and state machine storage.
    #[test]
    fn storage_passes_openraft_suite() {
        Suite::test_all(OnDisk).unwrap();
    }
}
