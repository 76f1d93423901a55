//! What the daemon persists about networks (`networks/<id>.json`) and about
//! each container's attachment to one (inside the container's record).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hoist_runtime::fsutil::{read_json, write_json_atomic};
use ipnetwork::Ipv4Network;
use serde::{Deserialize, Serialize};

/// Drivers a network can have.
pub const BRIDGE: &str = "bridge";

/// The name of the default network (Docker's `bridge`), the one legacy
/// links work on.
pub const DEFAULT_BRIDGE: &str = "bridge";

/// One network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `bridge`, or `host` / `null` for the predefined pseudo-networks.
    pub driver: String,
    /// The Linux bridge (bridge driver only).
    pub bridge: String,
    /// Addresses (bridge driver only).
    pub ipam: Option<Ipam>,
    /// No route in or out (`--internal`).
    pub internal: bool,
    /// Containers may be connected by hand (kept for Docker's inspect).
    pub attachable: bool,
    /// Made by the daemon (`bridge`, `host`, `none`): cannot be removed.
    pub predefined: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options (`-o`).
    pub options: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
}

impl NetworkRecord {
    /// The first 12 hex digits, as Docker prints IDs.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// Whether containers on it resolve each other by name. Docker's default
    /// bridge does not (its legacy behaviour); user-defined networks do.
    pub fn has_dns(&self) -> bool {
        self.driver == BRIDGE && !self.predefined
    }
}

/// The addresses of a bridge network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    /// The subnet.
    pub subnet: Ipv4Network,
    /// The bridge's address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// Where automatic addresses come from (`--ip-range`).
    pub ip_range: Option<Ipv4Network>,
}

/// A container's attachment to one network: what was asked, and while the
/// container runs, what it got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointRecord {
    /// The network's ID.
    pub network_id: String,
    /// The network's name (names never change).
    pub network_name: String,
    /// Extra names for the container on this network (`--network-alias`).
    pub aliases: Vec<String>,
    /// A fixed address (`--ip`).
    pub ipv4_address: Option<Ipv4Addr>,
    /// A fixed MAC address (`--mac-address`).
    pub mac_address: Option<String>,
    /// Set while the container's sandbox is plugged in.
    pub live: Option<LiveEndpoint>,
}

/// An endpoint as plugged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEndpoint {
    /// Random, as Docker's EndpointID.
    pub endpoint_id: String,
    /// The address with the subnet's prefix.
    pub address: Ipv4Network,
    /// The network's gateway.
    pub gateway: Ipv4Addr,
    /// `02:42:…`.
    pub mac: String,
    /// The host end of the veth pair.
    pub host_link: String,
    /// The interface in the container.
    pub ifname: String,
}

/// A container port published on the host, as reserved at its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The port in the container.
    pub container_port: u16,
    /// The host address; `None` for all of the host's.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
}

/// The directory of network records.
#[derive(Debug, Clone)]
pub struct NetworkStore {
    dir: PathBuf,
}

impl NetworkStore {
    /// Opens (creating) the store under `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Every stored network; unreadable records are skipped with a warning.
    pub fn load(&self) -> io::Result<Vec<NetworkRecord>> {
        let mut records = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                match read_json::<NetworkRecord>(&path) {
                    Ok(record) => records.push(record),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "skipping unreadable network record")
                    }
                }
            }
        }
        Ok(records)
    }

    /// Writes a record atomically and durably.
    pub fn save(&self, record: &NetworkRecord) -> io::Result<()> {
        write_json_atomic(&self.path(&record.id), record)
    }

    /// Deletes a record.
    pub fn delete(&self, id: &str) -> io::Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
