//! The CLI's commands, one module per family.

pub mod container;
pub mod container_flags;
pub mod files;
pub mod image;
pub mod inspect;
pub mod network;
pub mod session;
pub mod system;
pub mod volume;
