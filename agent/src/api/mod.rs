//! The daemon's gRPC services.

pub mod container_filters;
pub mod containers;
pub mod events;
pub mod files;
pub mod image_filters;
pub mod images;
pub mod networks;
pub mod stdio;
pub mod system;
pub mod tarstream;
pub mod volumes;
