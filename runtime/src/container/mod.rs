//! Container processes: what runs between the shim's clone and the user's
//! program — namespaces, the root filesystem, terminals, user, capabilities
//! and seccomp.

pub mod child;
pub mod exec;
pub mod init;
pub mod mounts;
pub mod process;
pub mod reaper;
pub mod security;
pub mod tty;
pub mod user;
