//! Images: references, the content-addressed store, layers and configs.

pub mod changes;
pub mod config;
pub mod layer;
pub mod reference;
pub mod store;

pub use config::ImageConfig;
pub use reference::Reference;
pub use store::{Image, ImageError, ImageStore};
