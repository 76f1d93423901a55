//! The OCI distribution client: pull images from registries (and push them
//! back), speaking the distribution API as Docker does.
//!
//! - [`endpoint`] picks the scheme and host for a registry (Docker Hub's
//!   `registry-1.docker.io`, `--insecure-registry`).
//! - [`auth`] parses `WWW-Authenticate` challenges and fetches Bearer tokens.
//! - [`credentials`] reads and writes `config.json` credential files.
//! - [`client`] sends authorised requests and maps registry errors.
//! - [`media`] knows the manifest and layer media types and picks a
//!   platform from an index.
//! - [`download`] streams a blob to disk, resuming and verifying it.
//! - [`inspect`] fetches what a reference names without pulling it.
//! - [`pull`] puts it together: manifest → config → layers → image;
//!   [`push`] the other way, and [`progress`] reports how either goes.

pub mod auth;
pub mod client;
pub mod credentials;
pub mod download;
pub mod endpoint;
pub mod inspect;
pub mod media;
pub mod progress;
pub mod pull;
pub mod push;

pub use client::RegistryClient;
pub use credentials::Credentials;
pub use endpoint::RegistryConfig;
pub use progress::ProgressEvent;
pub use pull::{PullOptions, pull};
pub use push::{PushOptions, push};

use super::store::ImageError;

/// Why talking to a registry failed. Every message names the registry or
/// the image and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached at all.
    #[error("cannot reach registry {registry}: {reason}")]
    Unreachable {
        /// Host[:port].
        registry: String,
        /// What went wrong, with a hint.
        reason: String,
    },
    /// The registry refused our credentials or wants some.
    #[error(
        "{action} access denied for {repository}: repository does not exist or may require 'hoist login' ({detail})"
    )]
    Denied {
        /// `pull` or `push`.
        action: &'static str,
        /// The repository, familiar form.
        repository: String,
        /// The registry's own words.
        detail: String,
    },
    /// `hoist login` was given credentials the registry does not accept.
    #[error("login to {registry} failed: {detail}")]
    LoginFailed {
        /// Host[:port].
        registry: String,
        /// The registry's own words.
        detail: String,
    },
    /// A manifest or repository the registry does not have.
    #[error("{what} not found: {detail}")]
    NotFound {
        /// What was asked for (`manifest for app:1`).
        what: String,
        /// The registry's own words.
        detail: String,
    },
    /// Any other error status.
    #[error("registry {registry} answered {status} to {request}: {detail}")]
    Status {
        /// Host[:port].
        registry: String,
        /// The HTTP status.
        status: u16,
        /// `GET /v2/…`.
        request: String,
        /// The registry's own words, or a hint.
        detail: String,
    },
    /// Content that does not hash to the digest it was asked for.
    #[error(
        "{what} from {registry} failed verification: expected {expected}, got {actual}; the registry served damaged or tampered data, nothing was stored"
    )]
    DigestMismatch {
        /// Which blob or manifest.
        what: String,
        /// Host[:port].
        registry: String,
        /// The digest asked for.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// A document the registry sent is not what the protocol allows.
    #[error("{what} from {registry} is invalid: {reason}")]
    Invalid {
        /// Which document.
        what: String,
        /// Host[:port].
        registry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No manifest for the platform asked for.
    #[error(
        "no matching manifest for {wanted} in the manifest list entries (available: {available}); choose one with --platform"
    )]
    NoMatchingPlatform {
        /// `linux/amd64`.
        wanted: String,
        /// Platforms the index lists.
        available: String,
    },
    /// Something this client does not handle.
    #[error("{0}")]
    Unsupported(String),
    /// Storing what was fetched failed.
    #[error(transparent)]
    Store(#[from] ImageError),
    /// Local I/O while downloading.
    #[error("image store I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Waits for every task; the first failure aborts the others and is the
/// result. `what` names a task in the message of one that panicked.
async fn join_all(
    mut tasks: tokio::task::JoinSet<Result<(), RegistryError>>,
    what: &str,
) -> Result<(), RegistryError> {
    while let Some(done) = tasks.join_next().await {
        let result = done
            .map_err(|e| RegistryError::Unsupported(format!("{what} failed: {e}")))
            .and_then(|r| r);
        if let Err(e) = result {
            tasks.abort_all();
            return Err(e);
        }
    }
    Ok(())
}
