//! What a node remembers of its cluster, under `<root>/cluster/`:
//! `node.json` (IDs, role, addresses, managers), `tls/` (CA, its
//! certificate and key, the key readable by root only) and, on managers,
//! `store.key`: the cluster's data key (root only; see [`crate::secrets`]).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hoist_api::tls::Credentials;
use serde::{Deserialize, Serialize};

use crate::secrets::key::DataKey;
use crate::store::objects::Role;

/// A node's record of its cluster membership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// Its node ID.
    pub node_id: String,
    /// The cluster's ID.
    pub cluster_id: String,
    /// Its role as last certified.
    pub role: Role,
    /// Its Raft member ID (managers; 0 for workers).
    pub raft_id: u64,
    /// Where it listens for cluster traffic (managers).
    pub listen_addr: String,
    /// Where peers reach it (managers).
    pub advertise_addr: String,
    /// Cluster addresses of the managers, as last heard.
    pub managers: Vec<String>,
}

/// Why the cluster directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// `store.key` is not a data key.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why it is unusable.
        #[source]
        source: crate::secrets::key::KeyError,
    },
    /// `node.json` does not decode.
    #[error("{path} is damaged: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

/// The cluster directory of one daemon.
#[derive(Debug, Clone)]
pub struct ClusterDir {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MembershipError {
    let path = path.to_path_buf();
    move |source| MembershipError::Io { path, source }
}

impl ClusterDir {
    /// The cluster directory under the daemon's root.
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("cluster"),
        }
    }

    /// Where a manager's Raft state lives.
    pub fn raft_dir(&self) -> PathBuf {
        self.dir.join("raft")
    }

    fn membership_path(&self) -> PathBuf {
        self.dir.join("node.json")
    }

    fn tls(&self, file: &str) -> PathBuf {
        self.dir.join("tls").join(file)
    }

    /// The membership and credentials, if this node is in a cluster.
    pub fn load(&self) -> Result<Option<(Membership, Credentials)>, MembershipError> {
        let path = self.membership_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let membership = serde_json::from_slice(&bytes)
            .map_err(|source| MembershipError::Decode { path, source })?;
        let read = |file: &str| {
            let path = self.tls(file);
            fs::read_to_string(&path).map_err(io(&path))
        };
        let credentials = Credentials {
            ca_pem: read("ca.pem")?,
            cert_pem: read("node.pem")?,
            key_pem: read("node-key.pem")?,
        };
        Ok(Some((membership, credentials)))
    }

    /// Writes the credentials, then the membership (each file replaced
    /// atomically; the membership last, so a crash in between leaves a
    /// node that is not yet in the cluster rather than a half one).
    pub fn save(
        &self,
        membership: &Membership,
        credentials: &Credentials,
    ) -> Result<(), MembershipError> {
        self.save_credentials(credentials)?;
        self.save_membership(membership)
    }

    /// Replaces the credentials (after a renewal).
    pub fn save_credentials(&self, credentials: &Credentials) -> Result<(), MembershipError> {
        let tls = self.dir.join("tls");
        fs::create_dir_all(&tls).map_err(io(&tls))?;
        write_atomic(&self.tls("ca.pem"), credentials.ca_pem.as_bytes(), 0o644)?;
        write_atomic(
            &self.tls("node.pem"),
            credentials.cert_pem.as_bytes(),
            0o644,
        )?;
        write_atomic(
            &self.tls("node-key.pem"),
            credentials.key_pem.as_bytes(),
            0o600,
        )
    }

    fn data_key_path(&self) -> PathBuf {
        self.dir.join("store.key")
    }

    /// The cluster's data key, if this node keeps one (managers do).
    pub fn load_data_key(&self) -> Result<Option<DataKey>, MembershipError> {
        let path = self.data_key_path();
        match fs::read(&path) {
            Ok(bytes) => DataKey::from_bytes(&bytes)
                .map(Some)
                .map_err(|source| MembershipError::Key { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Keeps the cluster's data key (readable by root only).
    pub fn save_data_key(&self, key: &DataKey) -> Result<(), MembershipError> {
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        write_atomic(&self.data_key_path(), key.as_bytes(), 0o600)
    }

    /// Forgets the data key (a demoted manager no longer needs it).
    pub fn remove_data_key(&self) -> Result<(), MembershipError> {
        let path = self.data_key_path();
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// Replaces the membership record.
    pub fn save_membership(&self, membership: &Membership) -> Result<(), MembershipError> {
        let path = self.membership_path();
        let json =
            serde_json::to_vec_pretty(membership).map_err(|source| MembershipError::Decode {
                path: path.clone(),
                source,
            })?;
        write_atomic(&path, &json, 0o644)
    }

    /// Forgets the cluster: membership, credentials and Raft state.
    pub fn remove(&self) -> Result<(), MembershipError> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&self.dir)(e)),
            _ => Ok(()),
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), MembershipError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_data_key_is_kept_for_root_only_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = ClusterDir::new(root.path());
        assert_eq!(dir.load_data_key().unwrap(), None);
        let key = DataKey::generate().unwrap();
        dir.save_data_key(&key).unwrap();
        assert_eq!(dir.load_data_key().unwrap(), Some(key));
        let mode = fs::metadata(root.path().join("cluster/store.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        dir.remove_data_key().unwrap();
        assert_eq!(dir.load_data_key().unwrap(), None);
    }
}
