//! hoist's API: the gRPC services the daemon serves, the spec documents shared
//! by the CLI, the daemon and (later) the cluster store, and the plumbing a
//! client needs to reach a daemon.

pub mod client;
pub mod cluster;
pub mod events;
pub mod inspect;
pub mod network;
pub mod service;
pub mod spec;
pub mod tls;
pub mod units;

/// Generated protobuf messages and gRPC clients/servers (package `hoist.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("hoist.v1");
}

/// Generated messages and services of the cluster API (package
/// `hoist.cluster.v1`): Raft, enrollment, dispatcher and cluster control.
#[allow(clippy::all, missing_docs)]
pub mod cluster_proto {
    tonic::include_proto!("hoist.cluster.v1");
}

/// The version of the local API; bumped when a message changes incompatibly.
pub const API_VERSION: &str = "1";

/// The version of hoist itself, as every crate of the workspace shares it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
