//! `hoist push`: plain-tar layers are gzipped first (once, in the store,
//! as Docker compresses before a push); then the image's blobs (layers,
//! then config) are checked for, mounted from another repository of the
//! same registry that a local image holding them came from or went to, or
//! uploaded (in one request up to [`CHUNK`] bytes, in chunks above it);
//! then the stored manifest is put under the tag, byte for byte, so the
//! image pulls back with the same digest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use oci_spec::image::ImageManifest;
use reqwest::{Method, StatusCode, header};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::RegistryError;
use super::client::RegistryClient;
use super::credentials::Credentials;
use super::download::check_digest;
use super::endpoint::RegistryConfig;
use super::progress::{Events, ProgressEvent};
use crate::image::layer::sha256_digest;
use crate::image::store::{ImageStore, NewImage};
use crate::image::{ImageError, Reference};

/// Blobs up to this size go in one request; larger ones in chunks of it
/// (5 MiB: the smallest part some registries' storage accepts).
pub const CHUNK: u64 = 5 << 20;
/// Blobs sent at the same time (Docker's default `max-concurrent-uploads`).
const PARALLEL_UPLOADS: usize = 5;

/// What a push needs besides the reference.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Credentials for the registry, if the user has any.
    pub credentials: Option<Credentials>,
    /// Insecure registries and such.
    pub config: RegistryConfig,
}

/// What a push put in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest's digest.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: usize,
}

/// Pushes the image `reference` names to the registry it names.
#[tracing::instrument(skip_all, fields(image = %reference))]
pub async fn push(
    store: Arc<ImageStore>,
    reference: &Reference,
    options: &PushOptions,
    events: mpsc::UnboundedSender<ProgressEvent>,
) -> Result<Pushed, RegistryError> {
    let events = Events(events);
    let Some(tag) = reference.tag.clone().filter(|_| reference.digest.is_none()) else {
        return Err(RegistryError::Unsupported(format!(
            "cannot push {}: push a tag (NAME:TAG), not a digest",
            reference.familiar()
        )));
    };
    let image = store.resolve(&reference.to_string())?;
    // Plain-tar layers (imported, committed) go compressed, as Docker's do.
    let image = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.compress_layers(&image))
            .await
            .map_err(|e| RegistryError::Unsupported(format!("compressing layers failed: {e}")))??
    };
    let manifest_bytes = store.read_blob(&image.manifest_digest)?;
    let manifest = store.manifest(&image)?;
    let sources_by_blob = mount_sources(&store, reference)?;
    let sources: Vec<String> = sources_by_blob
        .values()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let client = Arc::new(
        RegistryClient::connect(
            &options.config,
            &reference.domain,
            &reference.path,
            &["pull", "push"],
            &sources,
            options.credentials.clone(),
        )
        .await?,
    );
    events.status(format!(
        "The push refers to repository [{}]",
        reference.repository()
    ));
    push_blobs(&store, &client, &manifest, &sources_by_blob, &events).await?;
    let digest = put_manifest(&client, &tag, &manifest_bytes).await?;
    let recorded = {
        let store = store.clone();
        let digest_reference = Reference {
            tag: None,
            digest: Some(digest.clone()),
            ..reference.clone()
        };
        let (id, manifest) = (image.id.clone(), image.manifest_digest.clone());
        tokio::task::spawn_blocking(move || -> Result<(), ImageError> {
            store.record_images(&[NewImage {
                id,
                manifest,
                references: vec![digest_reference],
            }])
        })
    };
    recorded
        .await
        .map_err(|e| RegistryError::Unsupported(format!("recording the digest failed: {e}")))??;
    events.status(format!(
        "{tag}: digest: {digest} size: {}",
        manifest_bytes.len()
    ));
    Ok(Pushed {
        digest,
        size: manifest_bytes.len(),
    })
}

/// Sends every layer (shown) and the config (not shown, as Docker).
async fn push_blobs(
    store: &Arc<ImageStore>,
    client: &Arc<RegistryClient>,
    manifest: &ImageManifest,
    sources: &BTreeMap<String, BTreeSet<String>>,
    events: &Events,
) -> Result<(), RegistryError> {
    let slots = Arc::new(Semaphore::new(PARALLEL_UPLOADS));
    let mut tasks = JoinSet::new();
    let blobs = manifest
        .layers()
        .iter()
        .map(|layer| (layer, true))
        .chain([(manifest.config(), false)]);
    for (descriptor, shown) in blobs {
        let digest = descriptor.digest().to_string();
        check_digest(&digest).map_err(RegistryError::Unsupported)?;
        if shown {
            events.layer(&digest, "Preparing", 0, 0);
        }
        let job = BlobPush {
            store: store.clone(),
            client: client.clone(),
            slots: slots.clone(),
            events: shown.then(|| events.clone()),
            sources: sources
                .get(&digest)
                .map(|repos| repos.iter().cloned().collect())
                .unwrap_or_default(),
            digest,
            size: descriptor.size(),
        };
        tasks.spawn(job.run());
    }
    super::join_all(tasks, "a blob upload").await
}

/// For each blob of the local images, the other repositories of the
/// registry `reference` names that images holding it came from or went to
/// (where a push may mount it from, as Docker remembers blob sources).
fn mount_sources(
    store: &ImageStore,
    reference: &Reference,
) -> Result<BTreeMap<String, BTreeSet<String>>, RegistryError> {
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for image in store.list()? {
        let repositories: Vec<&String> = image
            .references
            .iter()
            .filter(|r| r.domain == reference.domain && r.path != reference.path)
            .map(|r| &r.path)
            .collect();
        if repositories.is_empty() {
            continue;
        }
        let manifest = store.manifest(&image)?;
        let blobs = manifest
            .layers()
            .iter()
            .chain([manifest.config()])
            .map(|d| d.digest().to_string());
        for blob in blobs {
            sources
                .entry(blob)
                .or_default()
                .extend(repositories.iter().map(|r| r.to_string()));
        }
    }
    Ok(sources)
}

/// One blob to get into the registry.
struct BlobPush {
    store: Arc<ImageStore>,
    client: Arc<RegistryClient>,
    slots: Arc<Semaphore>,
    events: Option<Events>,
    sources: Vec<String>,
    digest: String,
    size: u64,
}

impl BlobPush {
    fn report(&self, status: impl Into<String>, current: u64) {
        if let Some(events) = &self.events {
            events.layer(&self.digest, status, current, self.size);
        }
    }

    async fn run(self) -> Result<(), RegistryError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| RegistryError::Unsupported(format!("upload slots closed: {e}")))?;
        if !self.store.has_blob(&self.digest) {
            return Err(ImageError::Corrupt(format!(
                "blob {} of this image is missing from the store; pull or build the image again",
                self.digest
            ))
            .into());
        }
        let blob_url = self.client.url(&format!("blobs/{}", self.digest));
        let head = self.client.send(Method::HEAD, &blob_url, |b| b).await?;
        if head.status().is_success() {
            self.report("Layer already exists", 0);
            return Ok(());
        }
        let mut session = None;
        for source in &self.sources {
            let url = self.client.url(&format!(
                "blobs/uploads/?mount={}&from={source}",
                self.digest
            ));
            let response = self.client.send(Method::POST, &url, |b| b).await?;
            match response.status() {
                StatusCode::CREATED => {
                    self.report(format!("Mounted from {source}"), 0);
                    return Ok(());
                }
                StatusCode::ACCEPTED => {
                    session = Some(self.client.location(&response)?);
                    break;
                }
                _ => {}
            }
        }
        let location = match session {
            Some(location) => location,
            None => {
                let url = self.client.url("blobs/uploads/");
                let response = self.client.send(Method::POST, &url, |b| b).await?;
                if response.status() != StatusCode::ACCEPTED {
                    let request = format!("POST /v2/{}/blobs/uploads/", self.client.repository());
                    return Err(self
                        .client
                        .status_error(response, &request, "upload session")
                        .await);
                }
                self.client.location(&response)?
            }
        };
        self.upload(location).await?;
        self.report("Pushed", 0);
        Ok(())
    }

    /// Sends the blob's bytes to an upload session and closes it.
    async fn upload(&self, mut location: reqwest::Url) -> Result<(), RegistryError> {
        let mut file = tokio::fs::File::open(self.store.blob_path(&self.digest)).await?;
        let mut sent = 0u64;
        let mut hasher = Sha256::new();
        let chunked = self.size > CHUNK;
        if chunked {
            tracing::info!(digest = %self.digest, size = self.size, "uploading in chunks of {CHUNK} bytes");
        }
        let mut last_report = Instant::now();
        let mut final_body = Bytes::new();
        while sent < self.size {
            let mut chunk = vec![0u8; (self.size - sent).min(CHUNK) as usize];
            file.read_exact(&mut chunk).await?;
            hasher.update(&chunk);
            let chunk = Bytes::from(chunk);
            if !chunked {
                final_body = chunk;
                break;
            }
            let range = format!("{sent}-{}", sent + chunk.len() as u64 - 1);
            let response = self
                .client
                .send(Method::PATCH, location.as_str(), |b| {
                    b.header(header::CONTENT_TYPE, "application/octet-stream")
                        .header(header::CONTENT_RANGE, range.as_str())
                        .body(chunk.clone())
                })
                .await?;
            if response.status() != StatusCode::ACCEPTED {
                let request = format!("PATCH /v2/{}/blobs/uploads/…", self.client.repository());
                return Err(self
                    .client
                    .status_error(response, &request, "upload session")
                    .await);
            }
            location = self.client.location(&response)?;
            sent += chunk.len() as u64;
            if last_report.elapsed().as_millis() >= 100 {
                last_report = Instant::now();
                self.report("Pushing", sent);
            }
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != self.digest {
            return Err(ImageError::Corrupt(format!(
                "blob {} in the store hashes to {actual}: the store is damaged; pull or build the image again",
                self.digest
            ))
            .into());
        }
        location
            .query_pairs_mut()
            .append_pair("digest", &self.digest);
        let response = self
            .client
            .send(Method::PUT, location.as_str(), |b| {
                b.header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(final_body.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            let request = format!("PUT /v2/{}/blobs/uploads/…", self.client.repository());
            return Err(self
                .client
                .status_error(response, &request, &format!("blob {}", self.digest))
                .await);
        }
        Ok(())
    }
}

/// Puts the manifest under `tag`; returns its digest.
async fn put_manifest(
    client: &RegistryClient,
    tag: &str,
    bytes: &[u8],
) -> Result<String, RegistryError> {
    let media_type = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| super::media::OCI_MANIFEST.to_string());
    let body = Bytes::copy_from_slice(bytes);
    let url = client.url(&format!("manifests/{tag}"));
    let response = client
        .send(Method::PUT, &url, |b| {
            b.header(header::CONTENT_TYPE, media_type.as_str())
                .body(body.clone())
        })
        .await?;
    if response.status() != StatusCode::CREATED {
        let request = format!("PUT /v2/{}/manifests/{tag}", client.repository());
        return Err(client
            .status_error(response, &request, &format!("manifest {tag}"))
            .await);
    }
    Ok(sha256_digest(bytes))
}
