//! `cluster init --force-new-cluster`: a surviving manager of a cluster
//! that lost its quorum becomes the only member of a new Raft group that
//! starts from everything its own log holds. The other managers are made
//! workers in that state: if they come back, they follow the new group as
//! workers (they drop their old Raft state when they learn their role).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;

use openraft::storage::{RaftLogReader, RaftLogStorage, RaftStateMachine};
use openraft::{Membership, SnapshotMeta};

use super::log_store::LogStore;
use super::state_machine::{StateMachine, snapshot_data};
use super::{Member, RaftId, StoredMembership, Vote};
use crate::store::objects::{Node, NodeState, Object, Role};
use crate::store::{Batch, Op, Store};

/// Why the Raft state could not be rebuilt.
#[derive(Debug, thiserror::Error)]
#[error("cannot rebuild the raft state under {dir}: {detail}")]
pub struct RecoverError {
    dir: String,
    detail: String,
}

/// Rebuilds the Raft state in `dir` so that `raft_id` (reached as
/// `member`) is the only voter, keeping every object its log holds.
pub async fn force_new_cluster(
    dir: &Path,
    raft_id: RaftId,
    member: Member,
) -> Result<(), RecoverError> {
    let fail = |detail: String| RecoverError {
        dir: dir.display().to_string(),
        detail,
    };
    // Everything this manager knows: its snapshot, then its whole log.
    let store = Store::new();
    let mut machine = StateMachine::open(&dir.join("snapshots"), store.clone())
        .map_err(|e| fail(e.to_string()))?;
    let mut log = LogStore::open_when_free(&dir.join("raft.redb"))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let (applied, _) = machine
        .applied_state()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let from = applied.map_or(0, |l| l.index + 1);
    let entries = log
        .try_get_log_entries(from..)
        .await
        .map_err(|e| fail(e.to_string()))?;
    machine
        .apply(entries)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let (last, _) = machine
        .applied_state()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let last = last.ok_or_else(|| fail("the log is empty: nothing to recover".into()))?;
    let vote = log.read_vote().await.map_err(|e| fail(e.to_string()))?;
    drop((machine, log));

    // The other managers become workers, known to be down.
    let (mut state, version) = store.snapshot();
    let demote: Vec<Op> = store
        .list::<Node>()
        .into_iter()
        .filter(|n| n.spec.role == Role::Manager && n.meta.id != member.node_id)
        .map(|mut n| {
            n.spec.role = Role::Worker;
            n.manager = None;
            n.status.state = NodeState::Down;
            n.status.message =
                "left the raft group: the cluster was recovered with --force-new-cluster".into();
            Op::Update(Object::Node(n))
        })
        .collect();
    if !demote.is_empty() {
        state.apply(version, &Batch { ops: demote });
    }

    // A fresh log and a snapshot of that state with this manager alone.
    let membership = Membership::new(
        vec![BTreeSet::from([raft_id])],
        BTreeMap::from([(raft_id, member)]),
    );
    let stored = StoredMembership::new(Some(last), membership);
    let data = snapshot_data(Some(last), stored.clone(), state).map_err(|e| fail(e.to_string()))?;
    let aside = dir.with_extension(format!("before-recovery-{}", last.index));
    std::fs::rename(dir, &aside).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let mut log = LogStore::open(&dir.join("raft.redb")).map_err(|e| fail(e.to_string()))?;
    let mut machine = StateMachine::open(&dir.join("snapshots"), Store::new())
        .map_err(|e| fail(e.to_string()))?;
    let meta = SnapshotMeta {
        last_log_id: Some(last),
        last_membership: stored,
        snapshot_id: format!("{}-recovered", last.index),
    };
    machine
        .install_snapshot(&meta, Box::new(Cursor::new(data)))
        .await
        .map_err(|e| fail(e.to_string()))?;
    log.purge(last).await.map_err(|e| fail(e.to_string()))?;
    let term = vote
        .map_or(0, |v| v.leader_id().term)
        .max(last.leader_id.term);
    log.save_vote(&Vote::new(term, raft_id))
        .await
        .map_err(|e| fail(e.to_string()))?;
    std::fs::remove_dir_all(&aside).map_err(|e| fail(e.to_string()))
}
