//! Containers: the registry of records, their lifecycle, and the pieces
//! that turn a spec into a running container.

pub mod commit;
pub mod connect;
pub mod create;
pub mod devices;
pub mod files;
pub mod health;
pub mod legacy_links;
pub mod lifecycle;
pub mod log_attrs;
pub mod names;
pub mod oci;
pub mod record;
pub mod restore;
pub mod rootfs;
pub mod update;
pub mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tonic::Status;

use self::record::{ContainerRecord, Status as RunStatus};
use crate::error::{invalid, not_found};

/// What waiters need to know about a container, published on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Current state.
    pub status: RunStatus,
    /// Exit code of the last exit.
    pub exit_code: i32,
    /// How many times it exited since the daemon started.
    pub exits: u64,
    /// Gone from the daemon.
    pub removed: bool,
}

/// One container in memory: its record (the lock serialises state
/// changes) and a channel announcing them.
#[derive(Debug)]
pub struct Container {
    /// The full ID.
    pub id: String,
    /// The record; held only for short state transitions, never across a
    /// wait for the process.
    pub record: tokio::sync::Mutex<ContainerRecord>,
    /// State announcements.
    pub events: watch::Sender<Snapshot>,
    /// Delay before the next restart by policy (Docker's backoff).
    pub backoff: Mutex<Duration>,
    /// Set while `restart` stops the container: its exit then neither
    /// removes a `--rm` container nor applies the restart policy, as in
    /// Docker.
    pub restarting_by_hand: std::sync::atomic::AtomicBool,
    /// Its `--cgroup-parent` (fixed at create), so that its cgroup is
    /// found without the record's lock.
    pub cgroup_parent: String,
    /// Its `--link`s (fixed at create), so that a container starting can
    /// find those that link it without taking every record's lock.
    pub links: Vec<String>,
}

impl Container {
    /// Wraps a loaded or new record.
    pub fn new(record: ContainerRecord) -> Arc<Self> {
        let snapshot = Snapshot {
            status: record.state.status,
            exit_code: record.state.exit_code,
            exits: 0,
            removed: false,
        };
        let cgroup_parent = record.spec.cgroup_parent.clone();
        let links = record.spec.links.clone();
        Arc::new(Self {
            id: record.id.clone(),
            record: tokio::sync::Mutex::new(record),
            events: watch::channel(snapshot).0,
            backoff: Mutex::new(lifecycle::INITIAL_BACKOFF),
            restarting_by_hand: std::sync::atomic::AtomicBool::new(false),
            cgroup_parent,
            links,
        })
    }

    /// Publishes the record's state (after a change).
    pub fn announce(&self, record: &ContainerRecord, exited: bool) {
        self.events.send_modify(|s| {
            s.status = record.state.status;
            s.exit_code = record.state.exit_code;
            if exited {
                s.exits += 1;
            }
        });
    }
}

/// Every container of the daemon, by ID and by name.
#[derive(Debug, Default)]
pub struct Registry {
    by_id: RwLock<HashMap<String, Arc<Container>>>,
    names: Mutex<HashMap<String, String>>,
}

impl Registry {
    /// Reserves `name` for `id`; fails when another container has it.
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<(), Status> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(owner) = names.get(name)
            && owner != id
        {
            return Err(crate::error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        names.insert(name.to_string(), id.to_string());
        Ok(())
    }

    /// Frees a name (when its container goes, or a create fails).
    pub fn release_name(&self, name: &str, id: &str) {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if names.get(name).is_some_and(|owner| owner == id) {
            names.remove(name);
        }
    }

    /// Adds a container.
    pub fn insert(&self, container: Arc<Container>) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(container.id.clone(), container);
    }

    /// Drops a container.
    pub fn remove(&self, id: &str) {
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Every container.
    pub fn all(&self) -> Vec<Arc<Container>> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Finds a container as Docker does: full ID, then name, then a unique
    /// ID prefix.
    pub fn find(&self, reference: &str) -> Result<Arc<Container>, Status> {
        let reference = reference.strip_prefix('/').unwrap_or(reference);
        if reference.is_empty() {
            return Err(invalid("a container name or ID is required"));
        }
        let by_id = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = by_id.get(reference) {
            return Ok(c.clone());
        }
        let named = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
            .cloned();
        if let Some(c) = named.and_then(|id| by_id.get(&id).cloned()) {
            return Ok(c);
        }
        let mut matches = by_id.iter().filter(|(id, _)| id.starts_with(reference));
        match (matches.next(), matches.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(invalid(format!(
                "multiple containers match {reference:?}: give more of the ID or the name"
            ))),
            _ => Err(not_found(format!("No such container: {reference}"))),
        }
    }
}
