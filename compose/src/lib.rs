//! The Compose specification as hoist reads it: compose files parsed into
//! trees that remember where every value came from, `.env` files and
//! variable interpolation, several files merged by the spec's rules,
//! `extends` and `include`, validation against the published JSON schema,
//! and the normalised model `hoist compose config` prints and `up` runs.

pub mod error;
pub mod node;

pub use error::{LoadError, ModelPath, Segment};
pub use node::{Key, Map, Node, Origin, Tag, Value};
