//! hoist's API: the gRPC services the daemon serves, the spec documents shared
//! by the CLI, the daemon and (later) the cluster store, and the plumbing a
//! client needs to reach a daemon.

pub mod blkio;
pub mod client;
pub mod cluster;
pub mod device;
pub mod events;
pub mod filters;
pub mod inspect;
pub mod network;
pub mod service;
pub mod spec;
pub mod subnet;
pub mod timestamp;
pub mod tls;
pub mod units;

/// The generated code, in modules that follow the protobuf packages so that
/// the cluster API can use messages of the local API (registry
/// credentials) by prost's relative paths.
#[allow(clippy::all, missing_docs)]
mod generated {
    /// Package `hoist.v1`.
    pub mod v1 {
        tonic::include_proto!("hoist.v1");
    }
    /// Package `hoist.cluster.v1`.
    pub mod cluster {
        /// Its only version.
        pub mod v1 {
            tonic::include_proto!("hoist.cluster.v1");
        }
    }
}

/// Generated protobuf messages and gRPC clients/servers (package `hoist.v1`).
pub use generated::v1 as proto;

/// Generated messages and services of the cluster API (package
/// `hoist.cluster.v1`): Raft, enrollment, dispatcher and cluster control.
pub use generated::cluster::v1 as cluster_proto;

/// The version of the local API; bumped when a message changes incompatibly.
pub const API_VERSION: &str = "1";

/// The version of hoist itself, as every crate of the workspace shares it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
