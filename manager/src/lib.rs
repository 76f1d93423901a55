//! hoist's cluster manager: the desired state of the cluster, replicated
//! among managers with Raft (openraft) and kept durably on each (redb log,
//! snapshots), so it survives the loss of a minority of managers.

pub mod auth;
pub mod bench;
pub mod ca;
pub mod clients;
pub mod control;
pub mod dispatcher;
pub mod enrollment;
pub mod ids;
pub mod manager;
pub mod networks;
pub mod node;
pub mod orchestrator;
pub mod raft;
pub mod scheduler;
pub mod secrets;
pub mod services;
pub mod simulate;
pub mod store;
#[cfg(test)]
mod testing;
pub mod token;
