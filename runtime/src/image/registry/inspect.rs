//! `manifest inspect`: the manifest or index a reference names in its
//! registry, fetched and checked against its digest, with nothing pulled;
//! with `platforms`, each platform's manifest of an index too.

use super::pull::{PullOptions, fetch_document};
use super::{RegistryClient, RegistryError, media::Document};
use crate::image::Reference;

/// One document as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteManifest {
    /// Its media type (`application/vnd.oci.image.index.v1+json`, …).
    pub media_type: String,
    /// `sha256:` of its bytes.
    pub digest: String,
    /// Its bytes, as the registry sent them.
    pub bytes: Vec<u8>,
    /// For a platform's manifest of an index: the index entry's platform,
    /// as JSON.
    pub platform: Option<serde_json::Value>,
}

/// What the reference names (first), then, when it is an index and
/// `platforms` is asked, each of its manifests in the index's order.
pub async fn inspect(
    reference: &Reference,
    options: &PullOptions,
    platforms: bool,
) -> Result<Vec<RemoteManifest>, RegistryError> {
    let client = RegistryClient::connect(
        &options.config,
        &reference.domain,
        &reference.path,
        &["pull"],
        &[],
        options.credentials.clone(),
    )
    .await?;
    let name = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".to_string());
    let what = format!("manifest for {}", reference.familiar());
    let (digest, bytes, document) = fetch_document(&client, &name, &what).await?;
    let mut manifests = vec![RemoteManifest {
        media_type: media_type(&document),
        digest,
        bytes,
        platform: None,
    }];
    if let (true, Document::Index(index)) = (platforms, document) {
        for entry in index.manifests() {
            let digest = entry.digest().to_string();
            let what = format!("manifest {digest} of {}", reference.familiar());
            let (digest, bytes, document) = fetch_document(&client, &digest, &what).await?;
            manifests.push(RemoteManifest {
                media_type: media_type(&document),
                digest,
                bytes,
                platform: entry
                    .platform()
                    .as_ref()
                    .and_then(|p| serde_json::to_value(p).ok()),
            });
        }
    }
    Ok(manifests)
}

/// The media type a document declares, or the OCI one of its kind.
fn media_type(document: &Document) -> String {
    match document {
        Document::Index(index) => index
            .media_type()
            .as_ref()
            .map_or(super::media::OCI_INDEX.to_string(), ToString::to_string),
        Document::Manifest(manifest) => manifest
            .media_type()
            .as_ref()
            .map_or(super::media::OCI_MANIFEST.to_string(), ToString::to_string),
    }
}
