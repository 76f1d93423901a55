//! The Raft state machine: committed entries applied to the in-memory
//! [`Store`], and snapshots of it on disk. On start the store is rebuilt
//! from the last snapshot, then openraft replays the committed log after
//! it (as SwarmKit does with its memory store).

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use serde::{Deserialize, Serialize};

use super::{LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig, io_error};
use crate::store::{Outcome, State, Store};

/// The snapshot file: one line of metadata (JSON), then the data.
const SNAPSHOT_FILE: &str = "snapshot";

/// What a snapshot holds: the state and where in the log it stands.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotDoc {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    state: State,
}

/// The data of a snapshot of `state` at `last_applied` with `membership`,
/// as the state machine installs it (used to recover a cluster).
pub fn snapshot_data(
    last_applied: Option<LogId>,
    membership: StoredMembership,
    state: State,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&SnapshotDoc {
        last_applied,
        membership,
        state,
    })
}

/// A failure reading or writing a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("snapshot file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The snapshot does not decode.
    #[error("snapshot does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// The snapshot file has no metadata line.
    #[error("snapshot file {0} is truncated")]
    Truncated(PathBuf),
}

/// Where snapshots live; shared by the state machine and its builders.
#[derive(Debug, Clone)]
struct SnapshotDir {
    dir: PathBuf,
    /// Serialises writers of the snapshot file.
    lock: Arc<Mutex<()>>,
}

impl SnapshotDir {
    fn path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT_FILE)
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError {
        let path = path.to_path_buf();
        move |source| SnapshotError::Io { path, source }
    }

    /// The stored snapshot, if any.
    fn read(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SnapshotError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let Some(split) = bytes.iter().position(|b| *b == b'\n') else {
            return Err(SnapshotError::Truncated(path));
        };
        let meta = serde_json::from_slice(&bytes[..split])?;
        Ok(Some((meta, bytes[split + 1..].to_vec())))
    }

    /// Replaces the stored snapshot atomically (write, fsync, rename,
    /// fsync the directory), unless the stored one is newer.
    fn write(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), SnapshotError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((stored, _)) = self.read()?
            && stored.last_log_id > meta.last_log_id
        {
            return Ok(());
        }
        let path = self.path();
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let mut file = fs::File::create(&tmp).map_err(self.io(&tmp))?;
        let mut header = serde_json::to_vec(meta)?;
        header.push(b'\n');
        file.write_all(&header).map_err(self.io(&tmp))?;
        file.write_all(data).map_err(self.io(&tmp))?;
        file.sync_all().map_err(self.io(&tmp))?;
        fs::rename(&tmp, &path).map_err(self.io(&path))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io(&self.dir))
    }
}

/// The state machine openraft drives.
#[derive(Debug)]
pub struct StateMachine {
    store: Store,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots: SnapshotDir,
}

impl StateMachine {
    /// Opens the state machine whose snapshots live in `dir`, loading the
    /// last snapshot into `store`.
    pub fn open(dir: &Path, store: Store) -> Result<Self, SnapshotError> {
        fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let snapshots = SnapshotDir {
            dir: dir.to_path_buf(),
            lock: Arc::default(),
        };
        let mut machine = Self {
            store,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshots,
        };
        if let Some((_, data)) = machine.snapshots.read()? {
            machine.load(&data)?;
        }
        Ok(machine)
    }

    /// Replaces the state with a snapshot's data.
    fn load(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        let doc: SnapshotDoc = serde_json::from_slice(data)?;
        let applied = doc.last_applied.map_or(0, |l| l.index);
        self.store.replace(doc.state, applied);
        self.last_applied = doc.last_applied;
        self.membership = doc.membership;
        Ok(())
    }
}

/// Builds a snapshot from a copy of the state taken when it was asked for.
#[derive(Debug)]
pub struct SnapshotBuilder {
    doc: SnapshotDoc,
    snapshots: SnapshotDir,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = serde_json::to_vec(&self.doc).map_err(|e| io_error(StorageIOError::write, e))?;
        let index = self.doc.last_applied.map_or(0, |l| l.index);
        let meta = SnapshotMeta {
            last_log_id: self.doc.last_applied,
            last_membership: self.doc.membership.clone(),
            snapshot_id: format!("{index}-{}", unix_nanos()),
        };
        let snapshots = self.snapshots.clone();
        let (meta, data) = tokio::task::spawn_blocking(move || {
            snapshots.write(&meta, &data).map(|()| (meta, data))
        })
        .await
        .map_err(|e| io_error(StorageIOError::write, e))?
        .map_err(|e| io_error(StorageIOError::write, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// Nanoseconds since the epoch, to tell snapshots of one index apart.
fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Outcome>>, StorageError>
    where
        I: IntoIterator<Item = super::Entry> + Send,
        I::IntoIter: Send,
    {
        let mut outcomes = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Normal(proposal) => outcomes.push(
                    proposal
                        .batches
                        .iter()
                        .map(|batch| self.store.apply(index, batch))
                        .collect(),
                ),
                EntryPayload::Blank => {
                    self.store.skip(index);
                    outcomes.push(Vec::new());
                }
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    self.store.skip(index);
                    outcomes.push(Vec::new());
                }
            }
        }
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let (state, _) = self.store.snapshot();
        SnapshotBuilder {
            doc: SnapshotDoc {
                last_applied: self.last_applied,
                membership: self.membership.clone(),
                state,
            },
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let signature = Some(meta.signature());
        self.load(&data)
            .map_err(|e| io_error(|s| StorageIOError::read_snapshot(signature.clone(), s), e))?;
        let snapshots = self.snapshots.clone();
        let stored = meta.clone();
        tokio::task::spawn_blocking(move || snapshots.write(&stored, &data))
            .await
            .map_err(|e| io_error(StorageIOError::write, e))?
            .map_err(|e| io_error(|s| StorageIOError::write_snapshot(signature, s), e))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let stored = self
            .snapshots
            .read()
            .map_err(|e| io_error(|s| StorageIOError::read_snapshot(None, s), e))?;
        Ok(stored.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
