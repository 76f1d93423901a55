//! The durable Raft log and vote, in a redb database. Appends and votes
//! are fsynced before openraft is told they are stored (redb's immediate
//! durability); the committed index is kept without a sync of its own, as
//! openraft allows.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::StorageIOError;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Entry, LogId, StorageError, TypeConfig, Vote, io_error};

/// Entries by log index, as JSON.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Vote, committed and last purged log IDs, as JSON.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The log store. Cheap to clone: clones share the database, and serve as
/// openraft's log readers.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

/// A failure of the log database, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    /// The database failed.
    #[error("raft log database: {0}")]
    Database(#[from] redb::Error),
    /// A stored record does not decode.
    #[error("raft log database holds a record that does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// A blocking task did not finish.
    #[error("raft log write task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn db_error(e: impl Into<redb::Error>) -> LogStoreError {
    LogStoreError::Database(e.into())
}

impl LogStore {
    /// Opens (or creates) the log database at `path`.
    pub fn open(path: &Path) -> Result<Self, LogStoreError> {
        let db = Database::create(path).map_err(db_error)?;
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(LOG).map_err(db_error)?;
        txn.open_table(META).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Opens the log once a stopped Raft member's tasks let go of it:
    /// openraft's shutdown returns before its replication tasks have
    /// dropped their readers, and redb refuses a second opener until then.
    pub async fn open_when_free(path: &Path) -> Result<Self, LogStoreError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Self::open(path) {
                Err(LogStoreError::Database(redb::Error::DatabaseAlreadyOpen))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                result => return result,
            }
        }
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, LogStoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(META).map_err(db_error)?;
        let Some(value) = table.get(key).map_err(db_error)? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_slice(value.value())?))
    }

    /// Writes one meta record in its own transaction, in the background.
    async fn write_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durability: Durability,
    ) -> Result<(), LogStoreError> {
        let bytes = serde_json::to_vec(value)?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write().map_err(db_error)?;
            txn.set_durability(durability).map_err(db_error)?;
            txn.open_table(META)
                .map_err(db_error)?
                .insert(key, bytes.as_slice())
                .map_err(db_error)?;
            txn.commit().map_err(db_error)
        })
        .await?
    }

    fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry>, LogStoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(LOG).map_err(db_error)?;
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        let mut entries = Vec::new();
        for item in table.range::<u64>(range).map_err(db_error)? {
            let (_, value) = item.map_err(db_error)?;
            entries.push(serde_json::from_slice(value.value())?);
        }
        Ok(entries)
    }

    fn last_entry(&self) -> Result<Option<Entry>, LogStoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(LOG).map_err(db_error)?;
        match table.last().map_err(db_error)? {
            Some((_, value)) => Ok(Some(serde_json::from_slice(value.value())?)),
            None => Ok(None),
        }
    }

    /// Removes the entries in `range` and, when given, records the last
    /// purged log ID, in one durable transaction.
    async fn remove(
        &self,
        range: (Bound<u64>, Bound<u64>),
        purged: Option<LogId>,
    ) -> Result<(), LogStoreError> {
        let purged = purged.map(|p| serde_json::to_vec(&p)).transpose()?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(db_error)?;
            {
                let mut log = txn.open_table(LOG).map_err(db_error)?;
                log.retain_in::<u64, _>(range, |_, _| false)
                    .map_err(db_error)?;
                if let Some(purged) = &purged {
                    txn.open_table(META)
                        .map_err(db_error)?
                        .insert(LAST_PURGED, purged.as_slice())
                        .map_err(db_error)?;
                }
            }
            txn.commit().map_err(db_error)
        })
        .await?
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.entries(range)
            .map_err(|e| io_error(StorageIOError::read_logs, e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let read = || -> Result<_, LogStoreError> {
            let last_purged: Option<LogId> = self.read_meta(LAST_PURGED)?;
            let last = self.last_entry()?.map(|e| e.log_id).or(last_purged);
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last,
            })
        };
        read().map_err(|e| io_error(StorageIOError::read_logs, e))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.write_meta(VOTE, vote, Durability::Immediate)
            .await
            .map_err(|e| io_error(StorageIOError::write_vote, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.read_meta(VOTE)
            .map_err(|e| io_error(StorageIOError::read_vote, e))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.write_meta(COMMITTED, &committed, Durability::None)
            .await
            .map_err(|e| io_error(StorageIOError::write, e))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.read_meta::<Option<LogId>>(COMMITTED)
            .map(Option::flatten)
            .map_err(|e| io_error(StorageIOError::read, e))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let encoded = entries
            .into_iter()
            .map(|e| serde_json::to_vec(&e).map(|bytes| (e.log_id.index, bytes)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io_error(StorageIOError::write_logs, e))?;
        let db = self.db.clone();
        let written = tokio::task::spawn_blocking(move || -> Result<(), LogStoreError> {
            let txn = db.begin_write().map_err(db_error)?;
            {
                let mut log = txn.open_table(LOG).map_err(db_error)?;
                for (index, bytes) in &encoded {
                    log.insert(*index, bytes.as_slice()).map_err(db_error)?;
                }
            }
            txn.commit().map_err(db_error)
        })
        .await
        .map_err(LogStoreError::from)
        .and_then(|r| r);
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(io_error(StorageIOError::write_logs, e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.remove((Bound::Included(log_id.index), Bound::Unbounded), None)
            .await
            .map_err(|e| io_error(StorageIOError::write_logs, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.remove(
            (Bound::Unbounded, Bound::Included(log_id.index)),
            Some(log_id),
        )
        .await
        .map_err(|e| io_error(StorageIOError::write_logs, e))
    }
}
