//! Images: references, the content-addressed store, layers and configs,
//! archives (`save`/`load`), container diffs and commits.

pub mod archive;
pub mod build;
pub mod build_cache;
pub mod cache_mounts;
pub mod changes;
pub mod commit;
pub mod compress;
pub mod config;
pub mod diff;
pub mod dockerfile;
mod gzip;
pub mod layer;
pub mod pins;
pub mod reference;
pub mod registry;
pub mod store;
mod tario;
pub mod unpack;

pub use config::ImageConfig;
pub use reference::Reference;
pub use store::{Image, ImageError, ImageStore};
