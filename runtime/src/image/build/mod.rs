//! The build context of `hoist build`, read as `docker build` and BuildKit
//! read it.
//!
//! On the client: [`read_dockerfile`] finds the Dockerfile (`-f` may point
//! outside the context), [`BuildContext::open`] walks the context with its
//! [`IgnoreRules`] and [`BuildContext::write_tar`] streams it. In the
//! daemon, with the context unpacked: [`resolve_sources`] gives what a COPY
//! or ADD names and [`content_hash`] its build cache key.
//!
//! Modules, one job each:
//! - `clean`: Go's `filepath.Clean`, which Docker applies to patterns and
//!   sources;
//! - `glob`: Go's `filepath.Match` patterns, plus `.dockerignore`'s `**`;
//! - `ignore`: `.dockerignore` lines and rules;
//! - `walk`: the context directory as a sorted list of entries;
//! - `locate`: finding and reading the Dockerfile;
//! - `context`: the walked context and its tar;
//! - `sources`: COPY/ADD sources against an unpacked context;
//! - `hash`: the COPY/ADD cache key.

mod clean;
mod context;
mod glob;
mod hash;
mod ignore;
mod locate;
pub mod remote;
mod sources;
#[cfg(test)]
mod tests;
mod walk;

pub use context::{BuildContext, ContextError};
pub use glob::path_match;
pub use hash::content_hash;
pub use ignore::{DOCKERIGNORE, IgnoreError, IgnoreRules};
pub use locate::{DEFAULT_DOCKERFILE, locate_dockerfile, read_dockerfile};
pub use sources::{MatchedSource, SourceError, resolve_sources};
pub use walk::{ContextEntry, EntryKind};
