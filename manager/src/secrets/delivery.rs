//! What the leader sends a node with its tasks: the decrypted secrets and
//! configs of those of its tasks that may still start (a task that ended
//! or is to stop needs no file any more). Nothing is sent to a node that
//! runs no task using it.

use std::collections::BTreeSet;

use hoist_api::cluster_proto::FileData;
use hoist_api::service::DesiredState;

use super::SealedFile;
use super::key::{DataKey, KeyError};
use crate::store::Store;
use crate::store::objects::{Config, Secret, Task};

/// Whether `task` may still be prepared on its node, and so needs its
/// files (and its registry credentials).
pub fn may_start(task: &Task) -> bool {
    task.desired_state == DesiredState::Running && !task.status.state.is_terminal()
}

/// The secrets and configs `tasks` need, decrypted with `key`. A reference
/// to one no longer stored is left out: the node then rejects the task.
pub fn files_for<'a>(
    store: &Store,
    key: &DataKey,
    tasks: impl IntoIterator<Item = &'a Task>,
) -> Result<(Vec<FileData>, Vec<FileData>), KeyError> {
    let mut secrets = BTreeSet::new();
    let mut configs = BTreeSet::new();
    for task in tasks.into_iter().filter(|t| may_start(t)) {
        secrets.extend(task.spec.secrets.iter().map(|r| r.id.as_str()));
        configs.extend(task.spec.configs.iter().map(|r| r.id.as_str()));
    }
    Ok((
        opened::<Secret>(store, key, &secrets)?,
        opened::<Config>(store, key, &configs)?,
    ))
}

fn opened<T: SealedFile>(
    store: &Store,
    key: &DataKey,
    ids: &BTreeSet<&str>,
) -> Result<Vec<FileData>, KeyError> {
    ids.iter()
        .filter_map(|id| store.get::<T>(id))
        .map(|file| {
            let id = file.meta().id.clone();
            let data = key.open(&T::seal_label(&id), file.sealed())?;
            Ok(FileData { id, data })
        })
        .collect()
}
