//! The Compose specification as hoist reads it: compose files parsed into
//! trees that remember where every value came from, `.env` files and
//! variable interpolation, several files merged by the spec's rules,
//! `extends` and `include`, validation against the published JSON schema,
//! and the normalised model `hoist compose config` prints and `up` runs.

pub mod dotenv;
pub mod error;
pub mod extends;
pub mod interpolate;
pub mod merge;
pub mod node;
pub mod normalize;
pub mod paths;
pub mod plan;
pub mod ports;
pub mod project;
pub mod schema;
pub mod spec;
pub mod stack;
pub mod words;

pub use error::{LoadError, ModelPath, Segment};
pub use node::{Key, Map, Node, Origin, Tag, Value};
pub use project::{LoadOptions, Project, load};
