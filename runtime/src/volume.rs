//! Local volumes: a directory per volume under the daemon's root, with its
//! metadata beside it. Which containers use a volume is the daemon's
//! business; this store only creates, lists and deletes.
//!
//! ```text
//! volumes/<name>/_data        what containers see
//! volumes/<name>/volume.json  name, labels, options, creation time
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{new_id, read_json, remove_all, write_json_atomic};

/// Why a volume operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// No volume has this name.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// The name breaks Docker's rule.
    #[error(
        "create {0:?}: invalid volume name: use at least two characters of [a-zA-Z0-9_.-], starting with a letter or digit"
    )]
    InvalidName(String),
    /// A driver other than `local`.
    #[error("volume driver {0:?} is not available: hoist has the local driver only")]
    UnknownDriver(String),
    /// Reading or writing the store failed.
    #[error("volume store I/O: {0}")]
    Io(#[from] io::Error),
}

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Its name (64 hex digits for anonymous volumes).
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options as given.
    pub options: BTreeMap<String, String>,
    /// Made without a name (`-v /path`, an image VOLUME).
    pub anonymous: bool,
    /// The directory containers mount (filled in when loaded).
    #[serde(skip)]
    pub mountpoint: PathBuf,
}

/// The volume store of one daemon.
#[derive(Debug)]
pub struct VolumeStore {
    root: PathBuf,
}

/// Docker's rule for volume names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl VolumeStore {
    /// Opens (creating) the store under `root`.
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates a volume; an existing one with the same name is returned as
    /// it is (Docker's `volume create` is idempotent). `name: None` makes an
    /// anonymous volume.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume, VolumeError> {
        if !driver.is_empty() && driver != "local" {
            return Err(VolumeError::UnknownDriver(driver.to_string()));
        }
        let (name, anonymous) = match name {
            Some(n) if !n.is_empty() => (n.to_string(), false),
            _ => (new_id(), true),
        };
        if !valid_name(&name) {
            return Err(VolumeError::InvalidName(name));
        }
        if let Ok(existing) = self.get(&name) {
            return Ok(existing);
        }
        let dir = self.dir(&name);
        fs::create_dir_all(dir.join("_data"))?;
        let volume = Volume {
            name: name.clone(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
            anonymous,
            mountpoint: dir.join("_data"),
        };
        // The metadata is written last: a volume directory without it is
        // the leftover of a crash and is not listed.
        write_json_atomic(&dir.join("volume.json"), &volume)?;
        Ok(volume)
    }

    /// The volume called `name`.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let dir = self.dir(name);
        let mut volume: Volume = match read_json(&dir.join("volume.json")) {
            Ok(v) => v,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        volume.mountpoint = dir.join("_data");
        Ok(volume)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)?.flatten() {
            if let Ok(volume) = self.get(&entry.file_name().to_string_lossy()) {
                out.push(volume);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Deletes a volume and its data. The caller checks it is unused.
    pub fn remove(&self, name: &str) -> Result<u64, VolumeError> {
        let volume = self.get(name)?;
        let size = crate::fsutil::disk_usage(&volume.mountpoint);
        // Metadata first, so a crash midway leaves an unlisted leftover.
        remove_all(&self.dir(name).join("volume.json"))?;
        remove_all(&self.dir(name))?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(dir.path()).unwrap();
        let v = store
            .create(
                Some("data"),
                "local",
                BTreeMap::from([("a".into(), "b".into())]),
                BTreeMap::new(),
            )
            .unwrap();
        assert!(v.mountpoint.is_dir());
        assert!(!v.anonymous);
        // Idempotent: the same volume comes back.
        assert_eq!(
            store
                .create(Some("data"), "", BTreeMap::new(), BTreeMap::new())
                .unwrap()
                .created_at,
            v.created_at
        );
        let anon = store
            .create(None, "local", BTreeMap::new(), BTreeMap::new())
            .unwrap();
        assert!(anon.anonymous && anon.name.len() == 64);
        assert_eq!(store.list().unwrap().len(), 2);
        fs::write(v.mountpoint.join("f"), b"12345").unwrap();
        assert_eq!(store.remove("data").unwrap(), 5);
        assert!(matches!(store.get("data"), Err(VolumeError::NotFound(_))));
    }

    #[test]
    fn refuses_bad_names_and_drivers() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(dir.path()).unwrap();
        for bad in ["a", "-x", "a/b", "a b", "../x"] {
            assert!(
                matches!(
                    store.create(Some(bad), "local", BTreeMap::new(), BTreeMap::new()),
                    Err(VolumeError::InvalidName(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            store.create(Some("ok"), "nfs", BTreeMap::new(), BTreeMap::new()),
            Err(VolumeError::UnknownDriver(_))
        ));
    }
}
