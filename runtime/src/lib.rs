//! hoist's embedded container runtime.
//!
//! - [`image`]: the content-addressed image store, references, layers.
//! - [`bundle`]: what the daemon hands the shim to run one container.
//! - [`shim`]: the per-container process that keeps containers alive across
//!   daemon restarts, and its client.
//! - [`container`]: what runs inside the new namespaces before the user's
//!   program (mounts, terminals, user, capabilities, seccomp).
//! - [`cgroup`]: limits, freezer and counters on cgroup v1 and v2.
//! - [`logs`]: json-file logs with rotation.
//! - [`volume`]: local named and anonymous volumes.
//!
//! The runtime knows nothing of clusters or networks: a network plugin
//! hands it a prepared network namespace by path (OCI `linux.namespaces`).

pub mod bundle;
pub mod cgroup;
pub mod container;
pub mod devices;
pub mod fsutil;
pub mod image;
pub mod logs;
pub mod procinfo;
pub mod shim;
pub mod volume;
