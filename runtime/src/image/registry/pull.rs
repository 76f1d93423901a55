//! `hoist pull`: reference → manifest (an index resolved for the platform)
//! → config → layers fetched in parallel, each verified, unpacked as soon
//! as it is whole → the image recorded with its tag and repo digest.
//!
//! Nothing is recorded until every part is stored and verified, so an
//! interrupted pull leaves no half image; blobs already fetched stay (and
//! half-fetched ones resume), so the next pull picks up where this one
//! stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_spec::image::{Descriptor, ImageManifest};
use reqwest::{Method, header};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::RegistryError;
use super::client::RegistryClient;
use super::credentials::Credentials;
use super::download::{TeeReader, check_digest, fetch_blob};
use super::endpoint::RegistryConfig;
use super::media::{self, Document, Platform};
use super::progress::{Events, ProgressEvent};
use crate::image::config::ImageConfig;
use crate::image::layer::{buffered, chain_ids, sha256_digest};
use crate::image::store::{ImageStore, NewImage};
use crate::image::{ImageError, Reference};

/// Layers fetched at the same time (Docker's default
/// `max-concurrent-downloads`).
const PARALLEL_DOWNLOADS: usize = 3;
/// The largest image config accepted.
const MAX_CONFIG_BYTES: usize = 32 << 20;
/// How often a layer's download progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What a pull needs besides the reference.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Which platform's manifest to take from an index.
    pub platform: Platform,
    /// Credentials for the registry, if the user has any.
    pub credentials: Option<Credentials>,
    /// Insecure registries and such.
    pub config: RegistryConfig,
}

/// What a pull made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The image ID (config digest).
    pub id: String,
    /// The digest the image is known by in the registry (of the index
    /// when the tag named one).
    pub digest: String,
}

/// What a manifest is fetched by: the reference's digest, else its tag.
pub(super) fn manifest_name(reference: &Reference) -> String {
    reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_default()
}

/// A client that may pull from the reference's repository.
pub(super) async fn pull_client(
    reference: &Reference,
    options: &PullOptions,
) -> Result<RegistryClient, RegistryError> {
    RegistryClient::connect(
        &options.config,
        &reference.domain,
        &reference.path,
        &["pull"],
        &[],
        options.credentials.clone(),
    )
    .await
}

/// Pulls `reference` into `store`, reporting progress on `events`.
#[tracing::instrument(skip_all, fields(image = %reference))]
pub async fn pull(
    store: Arc<ImageStore>,
    reference: &Reference,
    options: &PullOptions,
    events: mpsc::UnboundedSender<ProgressEvent>,
) -> Result<Pulled, RegistryError> {
    let events = Events(events);
    let name = manifest_name(reference);
    let client = Arc::new(pull_client(reference, options).await?);
    events.status(format!(
        "{name}: Pulling from {}",
        reference.familiar_repository()
    ));
    let (digest, manifest_bytes, manifest) =
        resolve_manifest(&client, reference, &name, &options.platform).await?;
    let config_bytes = fetch_config(&client, manifest.config()).await?;
    let config: ImageConfig =
        serde_json::from_slice(&config_bytes).map_err(|e| RegistryError::Invalid {
            what: format!("image config {}", manifest.config().digest()),
            registry: client.domain().to_string(),
            reason: e.to_string(),
        })?;
    let id = sha256_digest(&config_bytes);
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers().len() {
        return Err(RegistryError::Invalid {
            what: format!("image {}", reference.familiar()),
            registry: client.domain().to_string(),
            reason: format!(
                "its manifest lists {} layers but its config {} diff IDs",
                manifest.layers().len(),
                diff_ids.len()
            ),
        });
    }
    for diff_id in diff_ids {
        check_digest(diff_id).map_err(|reason| RegistryError::Invalid {
            what: format!("image config {}", manifest.config().digest()),
            registry: client.domain().to_string(),
            reason,
        })?;
    }
    // What this pull stores is kept from garbage collection (a concurrent
    // rmi or prune) until it is recorded.
    let _pinned = store.pin(
        manifest
            .layers()
            .iter()
            .map(|layer| layer.digest().to_string())
            .chain(chain_ids(diff_ids))
            .chain([id.clone(), sha256_digest(&manifest_bytes)]),
    );
    fetch_layers(&store, &client, &manifest, diff_ids, &events).await?;
    let previous = store.resolve(&reference.to_string()).ok().map(|i| i.id);
    let recorded = {
        let store = store.clone();
        let reference = reference.clone();
        let id = id.clone();
        let digest = digest.clone();
        tokio::task::spawn_blocking(move || -> Result<(), ImageError> {
            store.put_bytes(&config_bytes)?;
            let manifest_blob = store.put_bytes(&manifest_bytes)?;
            let mut references = vec![Reference {
                tag: None,
                digest: Some(digest),
                ..reference.clone()
            }];
            if reference.digest.is_none() {
                references.push(reference);
            }
            store.record_images(&[NewImage {
                id,
                manifest: manifest_blob.digest,
                references,
            }])
        })
    };
    recorded
        .await
        .map_err(|e| RegistryError::Unsupported(format!("recording the image failed: {e}")))??;
    events.status(format!("Digest: {digest}"));
    let familiar = reference.familiar();
    events.status(if previous.as_deref() == Some(id.as_str()) {
        format!("Status: Image is up to date for {familiar}")
    } else {
        format!("Status: Downloaded newer image for {familiar}")
    });
    Ok(Pulled { id, digest })
}

/// Fetches one manifest document by tag or digest; checks a digest it was
/// asked for. Returns its digest, bytes and parsed form.
pub(super) async fn fetch_document(
    client: &RegistryClient,
    reference: &str,
    what: &str,
) -> Result<(String, Vec<u8>, Document), RegistryError> {
    let url = client.url(&format!("manifests/{reference}"));
    let response = client
        .send(Method::GET, &url, |b| {
            b.header(header::ACCEPT, media::MANIFEST_ACCEPT)
        })
        .await?;
    if !response.status().is_success() {
        let request = format!("GET /v2/{}/manifests/{reference}", client.repository());
        return Err(client.status_error(response, &request, what).await);
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let invalid = |reason: String| RegistryError::Invalid {
        what: what.to_string(),
        registry: client.domain().to_string(),
        reason,
    };
    if response
        .content_length()
        .is_some_and(|n| n > media::MAX_MANIFEST_BYTES as u64)
    {
        return Err(invalid("it is larger than 4 MiB".into()));
    }
    let body = client.read_body(response, what).await?;
    if body.len() > media::MAX_MANIFEST_BYTES {
        return Err(invalid("it is larger than 4 MiB".into()));
    }
    let digest = sha256_digest(&body);
    if reference.starts_with("sha256:") && digest != reference {
        return Err(RegistryError::DigestMismatch {
            what: what.to_string(),
            registry: client.domain().to_string(),
            expected: reference.to_string(),
            actual: digest,
        });
    }
    let document = media::parse_document(&content_type, &body).map_err(invalid)?;
    Ok((digest, body.to_vec(), document))
}

/// The image manifest for `platform`: the document the reference names,
/// or the index entry for the platform. Returns the digest the image is
/// known by (the first document's), the manifest's bytes and the manifest.
async fn resolve_manifest(
    client: &RegistryClient,
    reference: &Reference,
    name: &str,
    platform: &Platform,
) -> Result<(String, Vec<u8>, ImageManifest), RegistryError> {
    let what = format!("manifest for {}", reference.familiar());
    let (digest, bytes, document) = fetch_document(client, name, &what).await?;
    let (bytes, manifest) = match document {
        Document::Manifest(manifest) => (bytes, *manifest),
        Document::Index(index) => {
            let entry = media::select(&index, platform).map_err(|available| {
                RegistryError::NoMatchingPlatform {
                    wanted: platform.to_string(),
                    available,
                }
            })?;
            let entry_digest = entry.digest().to_string();
            check_digest(&entry_digest).map_err(RegistryError::Unsupported)?;
            let what = format!("manifest for {} ({platform})", reference.familiar());
            match fetch_document(client, &entry_digest, &what).await? {
                (_, bytes, Document::Manifest(manifest)) => (bytes, *manifest),
                (_, _, Document::Index(_)) => {
                    return Err(RegistryError::Invalid {
                        what,
                        registry: client.domain().to_string(),
                        reason: "an index entry points at another index".into(),
                    });
                }
            }
        }
    };
    media::check_image(&manifest).map_err(|reason| RegistryError::Invalid {
        what: format!("image {}", reference.familiar()),
        registry: client.domain().to_string(),
        reason,
    })?;
    Ok((digest, bytes, manifest))
}

/// Fetches the config blob into memory and verifies it.
async fn fetch_config(
    client: &RegistryClient,
    descriptor: &Descriptor,
) -> Result<Vec<u8>, RegistryError> {
    let digest = descriptor.digest().to_string();
    check_digest(&digest).map_err(RegistryError::Unsupported)?;
    let what = format!("image config {digest}");
    if descriptor.size() > MAX_CONFIG_BYTES as u64 {
        return Err(RegistryError::Invalid {
            what,
            registry: client.domain().to_string(),
            reason: "it is larger than 32 MiB".into(),
        });
    }
    let url = client.url(&format!("blobs/{digest}"));
    let response = client.send(Method::GET, &url, |b| b).await?;
    if !response.status().is_success() {
        let request = format!("GET /v2/{}/blobs/{digest}", client.repository());
        return Err(client.status_error(response, &request, &what).await);
    }
    let body = client.read_body(response, &what).await?;
    let actual = sha256_digest(&body);
    if actual != digest || body.len() as u64 != descriptor.size() {
        return Err(RegistryError::DigestMismatch {
            what,
            registry: client.domain().to_string(),
            expected: digest,
            actual,
        });
    }
    Ok(body.to_vec())
}

/// Makes sure every layer's blob is stored and unpacked: downloads run
/// [`PARALLEL_DOWNLOADS`] at a time, each unpacked as soon as it is whole.
async fn fetch_layers(
    store: &Arc<ImageStore>,
    client: &Arc<RegistryClient>,
    manifest: &ImageManifest,
    diff_ids: &[String],
    events: &Events,
) -> Result<(), RegistryError> {
    let chains = chain_ids(diff_ids);
    let slots = Arc::new(Semaphore::new(PARALLEL_DOWNLOADS));
    let mut tasks = JoinSet::new();
    for ((layer, diff_id), chain_id) in manifest.layers().iter().zip(diff_ids).zip(chains) {
        let digest = layer.digest().to_string();
        check_digest(&digest).map_err(RegistryError::Unsupported)?;
        if store.has_blob(&digest) && store.has_layer(&chain_id) {
            events.layer(&digest, "Already exists", 0, 0);
            continue;
        }
        events.layer(&digest, "Pulling fs layer", 0, 0);
        let job = LayerJob {
            store: store.clone(),
            client: client.clone(),
            slots: slots.clone(),
            events: events.clone(),
            digest,
            size: layer.size(),
            diff_id: diff_id.clone(),
            chain_id,
        };
        tasks.spawn(job.run());
    }
    super::join_all(tasks, "a layer download").await
}

/// One layer to fetch and unpack.
struct LayerJob {
    store: Arc<ImageStore>,
    client: Arc<RegistryClient>,
    slots: Arc<Semaphore>,
    events: Events,
    digest: String,
    size: u64,
    diff_id: String,
    chain_id: String,
}

impl LayerJob {
    async fn run(self) -> Result<(), RegistryError> {
        let held = self.store.in_flight.hold(&self.digest).await;
        let mut unpacked = self.store.has_layer(&self.chain_id);
        if !self.store.has_blob(&self.digest) {
            let slot =
                self.slots.acquire().await.map_err(|e| {
                    RegistryError::Unsupported(format!("download slots closed: {e}"))
                })?;
            let partial = self.store.partial_path(&self.digest);
            // A download from the first byte is unpacked as it arrives.
            let (tee, streaming) = if unpacked || partial.exists() {
                (None, None)
            } else {
                let (tee, reader) = TeeReader::pair();
                (tee, Some(self.unpack(move || Ok(Box::new(reader)))))
            };
            let mut last = Instant::now() - PROGRESS_EVERY;
            let downloaded = fetch_blob(
                &self.client,
                &self.digest,
                self.size,
                &partial,
                tee,
                |current| {
                    if last.elapsed() >= PROGRESS_EVERY || current == self.size {
                        last = Instant::now();
                        self.events
                            .layer(&self.digest, "Downloading", current, self.size);
                    }
                },
            )
            .await;
            drop(slot);
            if let Some(streaming) = streaming {
                match streaming.await {
                    Ok(()) => unpacked = true,
                    // The stream broke off (a retry, a failed download):
                    // the stored blob is unpacked below instead.
                    Err(e) => {
                        tracing::debug!(digest = %self.digest, "unpacking while downloading failed: {e}")
                    }
                }
            }
            downloaded?;
            self.store.insert_blob(&partial, &self.digest)?;
            self.events.layer(&self.digest, "Download complete", 0, 0);
        }
        if !unpacked {
            self.events.layer(&self.digest, "Extracting", 0, 0);
            let path = self.store.blob_path(&self.digest);
            self.unpack(move || Ok(buffered(std::fs::File::open(&path)?)))
                .await?;
        }
        drop(held);
        self.events.layer(&self.digest, "Pull complete", 0, 0);
        Ok(())
    }

    /// Unpacks the layer from what `open` gives, on a blocking thread.
    fn unpack<F>(&self, open: F) -> impl Future<Output = Result<(), RegistryError>> + use<F>
    where
        F: FnOnce() -> std::io::Result<Box<dyn std::io::BufRead + Send>> + Send + 'static,
    {
        let store = self.store.clone();
        let (chain_id, diff_id) = (self.chain_id.clone(), self.diff_id.clone());
        let task =
            tokio::task::spawn_blocking(move || store.ensure_layer(&chain_id, &diff_id, open));
        async move {
            task.await
                .map_err(|e| RegistryError::Unsupported(format!("unpacking a layer failed: {e}")))?
                .map_err(RegistryError::from)
        }
    }
}
