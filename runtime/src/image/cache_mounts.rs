//! The directories of `RUN --mount=type=cache`: kept from build to build,
//! one per cache id, shared between builds running at once as their
//! `sharing` asks, and emptied by `builder prune` (when no build uses
//! them).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::build_cache::CacheEntry;
use super::dockerfile::FileOwner;
use super::layer::sha256_digest;
use crate::fsutil::{disk_usage, remove_all};

/// How a cache mount's entry ID starts.
const MOUNT_PREFIX: &str = "cache mount ";

/// The cache mounts of one image store.
#[derive(Debug)]
pub struct CacheMounts {
    root: PathBuf,
    /// Who uses which cache: readers share it, a writer has it alone.
    users: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

/// A build's use of a cache mount, until dropped.
#[derive(Debug)]
pub enum CacheUse {
    /// Beside other builds (`sharing=shared`).
    Shared(OwnedRwLockReadGuard<()>),
    /// Alone (`sharing=locked`, or a `private` one found free).
    Alone(OwnedRwLockWriteGuard<()>),
}

impl CacheMounts {
    /// The cache mounts kept under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            users: Mutex::default(),
        }
    }

    /// The directory name of cache `id` (ids are paths: hashed).
    fn name(id: &str) -> String {
        sha256_digest(id.as_bytes())
            .trim_start_matches("sha256:")
            .to_string()
    }

    fn lock_of(&self, name: &str) -> Arc<RwLock<()>> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, lock| Arc::strong_count(lock) > 1);
        users.entry(name.to_string()).or_default().clone()
    }

    /// Waits until no build has cache `id` alone, then uses it beside others.
    pub async fn share(&self, id: &str) -> CacheUse {
        CacheUse::Shared(self.lock_of(&Self::name(id)).read_owned().await)
    }

    /// Waits until no other build uses cache `id`, then has it alone.
    pub async fn lock(&self, id: &str) -> CacheUse {
        CacheUse::Alone(self.lock_of(&Self::name(id)).write_owned().await)
    }

    /// Has cache `id` alone if no other build uses it.
    pub fn try_lock(&self, id: &str) -> Option<CacheUse> {
        self.lock_of(&Self::name(id))
            .try_write_owned()
            .ok()
            .map(CacheUse::Alone)
    }

    /// The directory of cache `id`, made with `owner`'s mode and owner
    /// when first used, holding a copy of the directory `seed` if one is
    /// given (later uses keep what it has).
    pub fn dir(&self, id: &str, owner: FileOwner, seed: Option<&Path>) -> io::Result<PathBuf> {
        let dir = self.root.join(Self::name(id));
        if !dir.is_dir() {
            fs::create_dir_all(&self.root)?;
            let made = self
                .root
                .join(format!(".new-{}", crate::fsutil::random_hex(4)));
            fs::create_dir(&made)?;
            if let Some(seed) = seed {
                crate::fsutil::copy_tree(seed, &made)?;
            }
            fs::set_permissions(&made, fs::Permissions::from_mode(owner.mode & 0o7777))?;
            chown(&made, Some(owner.uid), Some(owner.gid))?;
            if let Err(e) = fs::rename(&made, &dir) {
                // Another build made it first: theirs stands.
                let _ = fs::remove_dir(&made);
                if !dir.is_dir() {
                    return Err(e);
                }
            }
        }
        // Its modification time is when a build last used it (for
        // `builder prune --filter until=`).
        let _ = fs::File::open(&dir).and_then(|f| f.set_modified(SystemTime::now()));
        Ok(dir)
    }

    /// The cache mounts as build cache entries (`cache mount <name>`):
    /// their size, whether a build uses them now, and when one last did.
    /// Half-made ones (`.new-…`, a build that died making one) count as
    /// unused since the epoch.
    pub fn entries(&self) -> io::Result<Vec<CacheEntry>> {
        let dirs = match fs::read_dir(&self.root) {
            Ok(dirs) => dirs,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        for dir in dirs {
            let dir = dir?;
            let name = dir.file_name().to_string_lossy().into_owned();
            let half_made = name.starts_with(".new-");
            let last_used = dir
                .metadata()?
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            entries.push(CacheEntry {
                id: format!("{MOUNT_PREFIX}{name}"),
                cache_mount: true,
                size: disk_usage(&dir.path()),
                in_use: self.lock_of(&name).try_write_owned().is_err(),
                last_used: if half_made { 0 } else { last_used },
                description: "RUN --mount=type=cache".to_string(),
            });
        }
        Ok(entries)
    }

    /// Removes the cache mounts `ids` names (as [`Self::entries`] names
    /// them) that no build uses now; returns those removed and the bytes
    /// freed.
    pub fn remove<'a>(&self, ids: impl Iterator<Item = &'a str>) -> io::Result<(Vec<String>, u64)> {
        let mut removed = Vec::new();
        let mut freed = 0;
        for id in ids {
            let Some(name) = id.strip_prefix(MOUNT_PREFIX) else {
                continue;
            };
            let lock = self.lock_of(name);
            let Ok(_alone) = lock.try_write_owned() else {
                continue;
            };
            let dir = self.root.join(name);
            freed += disk_usage(&dir);
            remove_all(&dir)?;
            if !name.starts_with(".new-") {
                removed.push(id.to_string());
            }
        }
        Ok((removed, freed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caches_are_kept_shared_or_held_and_pruned_when_free() {
        let root = tempfile::tempdir().unwrap();
        let caches = CacheMounts::new(root.path());
        let pip = caches
            .dir(
                "/root/.cache/pip",
                FileOwner {
                    mode: 0o700,
                    uid: 0,
                    gid: 0,
                },
                None,
            )
            .unwrap();
        assert_eq!(
            fs::metadata(&pip).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        fs::write(pip.join("wheel"), b"0123456789").unwrap();
        // Asked again, with other settings: the same directory, as it was.
        assert_eq!(
            caches
                .dir(
                    "/root/.cache/pip",
                    FileOwner {
                        mode: 0o755,
                        uid: 0,
                        gid: 0
                    },
                    None
                )
                .unwrap(),
            pip
        );
        assert!(pip.join("wheel").exists());
        let elsewhere = tempfile::tempdir().unwrap();
        let seed = elsewhere.path().join("seed");
        fs::create_dir_all(seed.join("pkg")).unwrap();
        fs::write(seed.join("pkg/mod"), "seeded").unwrap();
        let go = caches
            .dir(
                "go",
                FileOwner {
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                },
                Some(&seed),
            )
            .unwrap();
        assert_ne!(go, pip);
        assert_eq!(fs::read_to_string(go.join("pkg/mod")).unwrap(), "seeded");

        let first = caches.share("go").await;
        let second = caches.share("go").await;
        assert!(caches.try_lock("go").is_none());
        let entries = caches.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.cache_mount && e.last_used > 0));
        let in_use: Vec<u64> = entries
            .iter()
            .filter(|e| e.in_use)
            .map(|e| e.size)
            .collect();
        assert_eq!(in_use, [6], "the go cache, in use, holds \"seeded\"");
        let ids = || {
            caches
                .entries()
                .unwrap()
                .into_iter()
                .filter(|e| !e.in_use)
                .map(|e| e.id)
                .collect::<Vec<_>>()
        };
        let (removed, freed) = caches.remove(ids().iter().map(String::as_str)).unwrap();
        assert_eq!(
            (removed.len(), freed),
            (1, 10),
            "only the unused pip cache goes"
        );
        assert!(!pip.exists() && go.exists());
        let all: Vec<String> = caches
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            caches
                .remove(all.iter().map(String::as_str))
                .unwrap()
                .0
                .len(),
            0,
            "a cache in use stays"
        );
        drop((first, second));
        let alone = caches.try_lock("go").unwrap();
        assert!(caches.try_lock("go").is_none());
        drop(alone);
        assert_eq!(
            caches
                .remove(all.iter().map(String::as_str))
                .unwrap()
                .0
                .len(),
            1
        );
        assert!(!go.exists());
    }
}
