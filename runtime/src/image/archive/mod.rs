//! `docker save` and `docker load`: images as tar archives.
//!
//! [`save`] writes what Docker 25 and later write: an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) plus Docker's
//! `manifest.json` and `repositories` ([`SaveFormat::Docker`]), or the OCI
//! layout alone ([`SaveFormat::Oci`]). [`load`] reads those, the layout older
//! Docker versions wrote (`manifest.json`, `<id>.json`, `<dir>/layer.tar`)
//! and what `skopeo copy` writes to `oci-archive:` and `docker-archive:`.

use std::io;

use serde::{Deserialize, Serialize};

mod load;
mod save;
mod spool;
#[cfg(test)]
mod tests;

pub use load::load;
pub use save::{SaveFormat, save};

/// Index annotation with an image's full name (containerd, Docker 25+).
const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI layout marker file.
const OCI_LAYOUT_FILE: &str = "oci-layout";
/// The OCI layout's index.
const INDEX_FILE: &str = "index.json";
/// Docker's list of images in the archive.
const DOCKER_MANIFEST_FILE: &str = "manifest.json";
/// Docker's legacy repository → tag → layer map.
const REPOSITORIES_FILE: &str = "repositories";

/// One image in Docker's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    /// Path of the config file in the archive.
    config: String,
    /// Familiar references (`busybox:latest`); null for an untagged image.
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars in the archive, bottom first.
    layers: Vec<String>,
}

/// Why an image archive could not be written or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The input is not a readable tar.
    #[error(
        "cannot read the image archive: {0} (it is not a tar file, or it is corrupt or truncated)"
    )]
    Read(io::Error),
    /// The output could not be written.
    #[error("cannot write the image archive: {0}")]
    Write(io::Error),
    /// The tar ends inside a file.
    #[error(
        "the image archive is truncated: {path} has {got} of its {want} bytes; save the image again"
    )]
    Truncated {
        /// The file cut short.
        path: String,
        /// Bytes present.
        got: u64,
        /// Bytes its header promised.
        want: u64,
    },
    /// Neither Docker's nor OCI's index is there.
    #[error(
        "this is not an image archive: it has neither manifest.json nor index.json (expected the output of docker save or an OCI image layout tar)"
    )]
    Unrecognised,
    /// A file the archive's own documents name is not in it.
    #[error("the image archive is incomplete: {named_by} names {path}, which is not in it")]
    Missing {
        /// The missing file.
        path: String,
        /// Which document named it.
        named_by: String,
    },
    /// Content does not hash to the digest it is known by.
    #[error(
        "the image archive is corrupt: {what} should have digest {declared} but has {actual}; save the image again"
    )]
    DigestMismatch {
        /// The file or layer.
        what: String,
        /// The digest the archive states.
        declared: String,
        /// The digest of the content.
        actual: String,
    },
    /// A blob is not as long as its descriptor says.
    #[error(
        "the image archive is corrupt: {what} should be {declared} bytes but is {actual}; save the image again"
    )]
    SizeMismatch {
        /// The blob.
        what: String,
        /// Size in its descriptor.
        declared: u64,
        /// Size in the archive.
        actual: u64,
    },
    /// A document in the archive is malformed or not supported.
    #[error("the image archive is not valid: {what}: {reason}")]
    Invalid {
        /// The file or entry.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A multi-platform image without a variant for this host.
    #[error(
        "{what} has no image for {platform}: save or pull the image for this platform (--platform {platform})"
    )]
    NoPlatform {
        /// The index or manifest list.
        what: String,
        /// The host platform (`linux/amd64`).
        platform: String,
    },
}

impl ArchiveError {
    /// An [`ArchiveError::Invalid`].
    fn invalid(what: impl Into<String>, reason: impl ToString) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
