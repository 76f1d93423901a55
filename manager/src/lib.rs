//! hoist's cluster manager: the desired state of the cluster, replicated
//! among managers with Raft (openraft) and kept durably on each (redb log,
//! snapshots), so it survives the loss of a minority of managers.

pub mod ca;
pub mod raft;
pub mod store;
