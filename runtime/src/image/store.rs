//! The image store: content-addressed blobs (manifests, configs, layer
//! tars), unpacked layers shared between images by chain ID, and the index
//! of images and the references that name them.
//!
//! Layout under the store's root:
//!
//! ```text
//! blobs/sha256/<hex>      manifests, configs and layer tars, by digest
//! layers/<chain hex>/     one unpacked layer: an overlay lower directory
//! layers/<chain hex>.json its diff ID and size, written once the layer is whole
//! index.json              images (by ID = config digest) and references
//! downloads/<hex>.partial blobs a pull is fetching; kept so a later pull resumes
//! tmp/                    unpacks and writes in progress; emptied at open
//! ```
//!
//! Every change is made in `tmp/` and renamed into place, and `index.json`
//! is replaced atomically, so a crash leaves no half image behind.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use oci_spec::image::{
    Descriptor, DescriptorBuilder, Digest as OciDigest, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::archive::ArchiveError;
use super::cache_mounts::CacheMounts;
use super::changes::{ChangeError, apply_changes};
use super::config::{History, ImageConfig, RootFs, host_architecture};
use super::layer::{LayerError, buffered, chain_ids, decompressed, decompressed_beside};
use super::pins::{PinSet, Pinned};
use super::reference::{Reference, ReferenceError, looks_like_id};
use super::registry::download::InFlight;
use super::tario::HashingReader;
use super::unpack::unpack_layer;
use crate::fsutil::{random_hex, read_json, remove_all, write_json_atomic};

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the reference or ID.
    #[error("No such image: {0}")]
    NotFound(String),
    /// An ID prefix matches several images.
    #[error("image ID prefix {0:?} is ambiguous: give more digits")]
    Ambiguous(String),
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A `--change` instruction was refused.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// A layer could not be unpacked.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The image is used by containers and `force` was not given.
    #[error(
        "conflict: unable to remove {reference}: image is being used by container {container}; stop and remove it first, or use --force"
    )]
    InUse {
        /// What the user asked to remove.
        reference: String,
        /// A container using it.
        container: String,
    },
    /// The image has several references and was named by ID.
    #[error(
        "conflict: unable to delete {0} (must be forced): image is referenced in multiple repositories"
    )]
    MultipleReferences(String),
    /// An image archive (`docker load` input) was refused.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A stored document is not what it should be.
    #[error("image store is damaged: {0}")]
    Corrupt(String),
    /// Reading or writing the store failed.
    #[error("image store I/O: {0}")]
    Io(#[from] io::Error),
}

/// One image as the runtime needs it.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:` + the config digest.
    pub id: String,
    /// Digest of the manifest the image is stored under.
    pub manifest_digest: String,
    /// The parsed config.
    pub config: ImageConfig,
    /// Chain IDs of its layers, bottom first.
    pub chain_ids: Vec<String>,
    /// Full references (`docker.io/library/busybox:latest`) naming it.
    pub references: Vec<Reference>,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Unix seconds when it was created (from the config), 0 if unknown.
    pub created: i64,
}

impl Image {
    /// The references in Docker's short form (`busybox:latest`).
    pub fn repo_tags(&self) -> Vec<String> {
        self.references
            .iter()
            .filter(|r| r.tag.is_some())
            .map(Reference::familiar)
            .collect()
    }

    /// The digest references in Docker's short form (`busybox@sha256:…`).
    pub fn repo_digests(&self) -> Vec<String> {
        self.references
            .iter()
            .filter(|r| r.digest.is_some())
            .map(Reference::familiar)
            .collect()
    }

    /// The first 12 hex digits of the ID, as Docker prints it.
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Image ID → its record.
    pub(crate) images: BTreeMap<String, ImageRecord>,
    /// Full reference → image ID.
    pub(crate) references: BTreeMap<String, String>,
    /// Build cache key → the state a build step left (see `build_cache`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) build_cache: BTreeMap<String, CachedState>,
    /// Whether a build used cached states since the index was last saved
    /// (their last-use times are then newer in memory than on disk).
    #[serde(skip)]
    pub(crate) cache_use_unsaved: bool,
}

/// A build step's result: a config and a manifest, both stored blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedState {
    /// Digest of the config blob.
    pub(crate) config: String,
    /// Digest of the manifest blob.
    pub(crate) manifest: String,
    /// When a build last made or used it (Unix seconds; 0 if unknown).
    #[serde(default)]
    pub(crate) used: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    manifest: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct LayerMeta {
    diff_id: String,
    size: u64,
}

/// An image to add to the index with [`ImageStore::record_images`].
#[derive(Debug, Clone)]
pub struct NewImage {
    /// Image ID (`sha256:` + config digest); the config blob must be stored.
    pub id: String,
    /// Digest of its manifest, which must be stored.
    pub manifest: String,
    /// References to point at it (moved from any image they named).
    pub references: Vec<Reference>,
}

/// The image store of one daemon.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    index: Mutex<Index>,
    /// Blobs being downloaded, so concurrent pulls fetch each once.
    pub(crate) in_flight: InFlight,
    /// Blobs and layers stored but not yet recorded (see `pins`).
    pub(crate) pins: PinSet,
    /// The directories of builds' `RUN --mount=type=cache`.
    pub(crate) cache_mounts: CacheMounts,
}

/// A blob written to the store: its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root` and clears what an
    /// earlier crash left in `tmp/`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        for dir in ["blobs/sha256", "layers", "downloads", "tmp"] {
            fs::create_dir_all(root.join(dir))?;
        }
        for entry in fs::read_dir(root.join("tmp"))?.flatten() {
            remove_all(&entry.path())?;
        }
        let index_path = root.join("index.json");
        let index = if index_path.exists() {
            read_json(&index_path)
                .map_err(|e| ImageError::Corrupt(format!("{}: {e}", index_path.display())))?
        } else {
            Index::default()
        };
        Ok(Self {
            root: root.to_path_buf(),
            index: Mutex::new(index),
            in_flight: InFlight::default(),
            pins: PinSet::default(),
            cache_mounts: CacheMounts::new(&root.join("cache-mounts")),
        })
    }

    /// The directory holding unpacked layers (overlay lower directories are
    /// given relative to it, which keeps mount options short).
    pub fn layers_root(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// Directory name of an unpacked layer under [`Self::layers_root`].
    pub fn layer_dir_name(chain_id: &str) -> &str {
        chain_id.strip_prefix("sha256:").unwrap_or(chain_id)
    }

    /// Path of a blob by digest.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs/sha256").join(hex)
    }

    /// Whether a blob is stored.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).exists()
    }

    /// Where a pull keeps the part of a blob it has fetched so far.
    pub(crate) fn partial_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("downloads").join(format!("{hex}.partial"))
    }

    /// A fresh path under `tmp/` for work in progress.
    pub fn temp_path(&self, what: &str) -> PathBuf {
        self.temp_dir().join(format!("{what}-{}", random_hex(8)))
    }

    /// The store's scratch directory, emptied when the store opens.
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Streams `reader` into the store as a blob, hashing as it goes.
    pub fn put_blob(&self, mut reader: impl Read) -> Result<BlobInfo, ImageError> {
        let tmp = self.temp_path("blob");
        let result = (|| {
            let mut file = File::create(&tmp)?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])?;
                size += n as u64;
            }
            file.sync_data()?;
            let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
            fs::rename(&tmp, self.blob_path(&digest))?;
            Ok(BlobInfo { digest, size })
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Stores a small document (config, manifest) held in memory; one
    /// already stored is not written again (no write, no fsync: a cached
    /// rebuild makes the same documents).
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<BlobInfo, ImageError> {
        let digest = super::layer::sha256_digest(bytes);
        if self.has_blob(&digest) {
            return Ok(BlobInfo {
                digest,
                size: bytes.len() as u64,
            });
        }
        self.put_blob(bytes)
    }

    /// Moves `file`, a file under `tmp/` whose content the caller has
    /// checked hashes to `digest`, into the store as that blob. Returns
    /// false (and removes `file`) when the blob was already there.
    pub(crate) fn insert_blob(&self, file: &Path, digest: &str) -> Result<bool, ImageError> {
        let path = self.blob_path(digest);
        if path.exists() {
            fs::remove_file(file)?;
            return Ok(false);
        }
        fs::rename(file, path)?;
        Ok(true)
    }

    /// Reads a whole blob (manifests, configs).
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        fs::read(self.blob_path(digest))
            .map_err(|e| ImageError::Corrupt(format!("blob {digest} cannot be read: {e}")))
    }

    /// Whether the layer with this chain ID is unpacked.
    pub fn has_layer(&self, chain_id: &str) -> bool {
        self.layer_meta_path(chain_id).exists()
    }

    fn layer_meta_path(&self, chain_id: &str) -> PathBuf {
        self.layers_root()
            .join(format!("{}.json", Self::layer_dir_name(chain_id)))
    }

    /// Unpacks a layer tar (any supported compression) as the layer
    /// `chain_id` unless it is already there. The unpack happens in `tmp/`
    /// and is renamed into place when whole and when the uncompressed
    /// content hashes to `diff_id`.
    pub fn ensure_layer(
        &self,
        chain_id: &str,
        diff_id: &str,
        open: impl FnOnce() -> io::Result<Box<dyn io::BufRead + Send>>,
    ) -> Result<(), ImageError> {
        if self.has_layer(chain_id) {
            return Ok(());
        }
        let tmp = self.temp_path("layer");
        let result = (|| {
            let mut content = HashingReader::new(decompressed_beside(open()?)?);
            let size = unpack_layer(&mut content, &tmp)?;
            let actual = content.finish()?;
            if actual != diff_id {
                return Err(LayerError::DiffIdMismatch {
                    expected: diff_id.to_string(),
                    actual,
                }
                .into());
            }
            let dir = self.layers_root().join(Self::layer_dir_name(chain_id));
            // A directory without its .json is a leftover of a crash between
            // the two renames below.
            remove_all(&dir)?;
            fs::rename(&tmp, &dir)?;
            write_json_atomic(
                &self.layer_meta_path(chain_id),
                &LayerMeta {
                    diff_id: diff_id.to_string(),
                    size,
                },
            )?;
            Ok(())
        })();
        if result.is_err() {
            let _ = remove_all(&tmp);
        }
        result
    }

    /// Unpacked size of a layer in bytes (0 when unknown).
    pub fn layer_size(&self, chain_id: &str) -> u64 {
        read_json::<LayerMeta>(&self.layer_meta_path(chain_id))
            .map(|m| m.size)
            .unwrap_or(0)
    }

    /// `docker import`: turns a root filesystem tarball into a one-layer
    /// image, tagged `reference` when given.
    pub fn import(
        &self,
        tarball: &Path,
        reference: Option<&str>,
        changes: &[String],
        message: &str,
    ) -> Result<String, ImageError> {
        let reference = reference.map(Reference::parse).transpose()?;
        let mut config = ImageConfig {
            architecture: host_architecture().to_string(),
            os: "linux".to_string(),
            created: Some(now_rfc3339()),
            ..Default::default()
        };
        apply_changes(&mut config.config, changes)?;
        // Keep the uncompressed tar as the layer blob: its digest is the diff ID.
        let blob = self.put_blob(decompressed(File::open(tarball)?)?)?;
        config.rootfs = RootFs {
            kind: "layers".into(),
            diff_ids: vec![blob.digest.clone()],
        };
        config.history = vec![History {
            created: config.created.clone(),
            comment: Some(if message.is_empty() {
                "Imported from -".to_string()
            } else {
                message.to_string()
            }),
            ..Default::default()
        }];
        let layers = vec![(blob, MediaType::ImageLayer)];
        self.add_image(&config, &layers, reference.as_ref())
    }

    /// Stores a config and manifest for layers whose blobs are already in
    /// the store, unpacks the layers, and records the image (tagging it
    /// with `reference`). Returns the image ID.
    pub fn add_image(
        &self,
        config: &ImageConfig,
        layers: &[(BlobInfo, MediaType)],
        reference: Option<&Reference>,
    ) -> Result<String, ImageError> {
        let (config_digest, manifest_digest, _pinned) = self.store_state(config, layers)?;
        self.record_image(&config_digest, &manifest_digest, reference)?;
        Ok(config_digest)
    }

    /// Stores a config and a manifest for layers whose blobs are already
    /// in the store and unpacks the layers, recording nothing. Returns
    /// the digests of the config and the manifest.
    pub(crate) fn store_state(
        &self,
        config: &ImageConfig,
        layers: &[(BlobInfo, MediaType)],
    ) -> Result<(String, String, Pinned<'_>), ImageError> {
        // Pinned before they are written, until the caller records them.
        let mut pinned = self.pin(chain_ids(&config.rootfs.diff_ids));
        pinned.add(layers.iter().map(|(blob, _)| blob.digest.clone()));
        let config_bytes = serde_json::to_vec(config).map_err(io::Error::other)?;
        pinned.add([super::layer::sha256_digest(&config_bytes)]);
        let config_blob = self.put_bytes(&config_bytes)?;
        let manifest = image_manifest(
            &config_blob,
            layers
                .iter()
                .map(|(blob, media_type)| descriptor(media_type.clone(), blob))
                .collect::<Result<Vec<_>, _>>()?,
        )?;
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        pinned.add([super::layer::sha256_digest(&manifest_bytes)]);
        let manifest_blob = self.put_bytes(&manifest_bytes)?;
        self.unpack_layers(config, &manifest)?;
        Ok((config_blob.digest, manifest_blob.digest, pinned))
    }

    /// Unpacks every layer a manifest lists that is not unpacked yet.
    fn unpack_layers(
        &self,
        config: &ImageConfig,
        manifest: &ImageManifest,
    ) -> Result<(), ImageError> {
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers().len() {
            return Err(ImageError::Corrupt(format!(
                "manifest lists {} layers but the config {} diff IDs",
                manifest.layers().len(),
                diff_ids.len()
            )));
        }
        for ((chain_id, diff_id), layer) in chain_ids(diff_ids)
            .iter()
            .zip(diff_ids)
            .zip(manifest.layers())
        {
            let path = self.blob_path(layer.digest().as_ref());
            self.ensure_layer(chain_id, diff_id, || Ok(buffered(File::open(&path)?)))?;
        }
        Ok(())
    }

    /// Adds an image to the index and points `reference` at it.
    pub fn record_image(
        &self,
        id: &str,
        manifest: &str,
        reference: Option<&Reference>,
    ) -> Result<(), ImageError> {
        self.record_images(&[NewImage {
            id: id.to_string(),
            manifest: manifest.to_string(),
            references: reference.into_iter().cloned().collect(),
        }])
    }

    /// Adds several images and their references to the index in one
    /// atomic update: either all are recorded or none.
    pub fn record_images(&self, images: &[NewImage]) -> Result<(), ImageError> {
        let mut index = self.lock();
        let unchanged = images.iter().all(|image| {
            index
                .images
                .get(&image.id)
                .is_some_and(|r| r.manifest == image.manifest)
                && image
                    .references
                    .iter()
                    .all(|r| index.references.get(&r.to_string()) == Some(&image.id))
        });
        if unchanged {
            return Ok(());
        }
        let before = (index.images.clone(), index.references.clone());
        for image in images {
            index.images.insert(
                image.id.clone(),
                ImageRecord {
                    manifest: image.manifest.clone(),
                },
            );
            for reference in &image.references {
                index
                    .references
                    .insert(reference.to_string(), image.id.clone());
            }
        }
        let saved = self.save(&index);
        if saved.is_err() {
            (index.images, index.references) = before;
        }
        saved
    }

    /// Finds an image by reference, full ID or unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Image, ImageError> {
        let index = self.lock();
        let id = Self::find_id(&index, name)?;
        self.load_image(&index, &id)
    }

    fn find_id(index: &Index, name: &str) -> Result<String, ImageError> {
        if let Ok(reference) = Reference::parse(name)
            && let Some(id) = index.references.get(&reference.to_string())
        {
            return Ok(id.clone());
        }
        if looks_like_id(name) || name.starts_with("sha256:") {
            let prefix = if name.starts_with("sha256:") {
                name.to_string()
            } else {
                format!("sha256:{name}")
            };
            let mut matches = index.images.keys().filter(|id| id.starts_with(&prefix));
            return match (matches.next(), matches.next()) {
                (Some(id), None) => Ok(id.clone()),
                (Some(_), Some(_)) => Err(ImageError::Ambiguous(name.to_string())),
                _ => Err(ImageError::NotFound(name.to_string())),
            };
        }
        // Reference::parse errors only matter when the name is not an ID.
        Reference::parse(name)?;
        Err(ImageError::NotFound(name.to_string()))
    }

    pub(crate) fn load_image(&self, index: &Index, id: &str) -> Result<Image, ImageError> {
        let record = index
            .images
            .get(id)
            .ok_or_else(|| ImageError::NotFound(id.to_string()))?;
        let config: ImageConfig = serde_json::from_slice(&self.read_blob(id)?)
            .map_err(|e| ImageError::Corrupt(format!("config {id}: {e}")))?;
        let chain = chain_ids(&config.rootfs.diff_ids);
        let size = chain.iter().map(|c| self.layer_size(c)).sum();
        let mut references: Vec<Reference> = index
            .references
            .iter()
            .filter(|(_, target)| *target == id)
            .filter_map(|(r, _)| Reference::parse(r).ok())
            .collect();
        references.sort();
        let created = config
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map_or(0, |t| t.timestamp());
        Ok(Image {
            id: id.to_string(),
            manifest_digest: record.manifest.clone(),
            config,
            chain_ids: chain,
            references,
            size,
            created,
        })
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let index = self.lock();
        let mut images = index
            .images
            .keys()
            .map(|id| self.load_image(&index, id))
            .collect::<Result<Vec<_>, _>>()?;
        images.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(images)
    }

    /// Points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let target = Reference::parse(target)?;
        if target.digest.is_some() {
            return Err(ImageError::Reference(ReferenceError::Invalid(format!(
                "{target}: a tag cannot contain a digest"
            ))));
        }
        let mut index = self.lock();
        let id = Self::find_id(&index, source)?;
        index.references.insert(target.to_string(), id);
        self.save(&index)
    }

    /// `docker rmi`: untags `name` when it is a reference and deletes the
    /// image when nothing else names it. `in_use` tells which container (if
    /// any) uses an image ID. Returns (untagged references, deleted IDs).
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: impl Fn(&str) -> Option<String>,
    ) -> Result<(Vec<String>, Vec<String>), ImageError> {
        let mut index = self.lock();
        let id = Self::find_id(&index, name)?;
        let by_reference = Reference::parse(name)
            .ok()
            .map(|r| r.to_string())
            .filter(|r| index.references.contains_key(r));
        let references: Vec<String> = index
            .references
            .iter()
            .filter(|(_, target)| **target == id)
            .map(|(r, _)| r.clone())
            .collect();
        // As Docker: digest references (`repo@sha256:…`) do not keep an
        // image alive once its last tag goes.
        let is_tag = |r: &str| Reference::parse(r).is_ok_and(|r| r.digest.is_none());
        let tags = references.iter().filter(|r| is_tag(r)).count();
        let mut untagged = Vec::new();
        match by_reference {
            Some(reference)
                if (is_tag(&reference) && tags > 1)
                    || (!is_tag(&reference) && references.len() > 1) =>
            {
                index.references.remove(&reference);
                untagged.push(familiar(&reference));
                self.save(&index)?;
                return Ok((untagged, Vec::new()));
            }
            None if tags > 1 && !force => {
                return Err(ImageError::MultipleReferences(name.to_string()));
            }
            _ => {}
        }
        if let Some(container) = in_use(&id) {
            if !force {
                return Err(ImageError::InUse {
                    reference: name.to_string(),
                    container,
                });
            }
            // Docker keeps an image a container uses even with --force: it
            // only loses its names.
            for reference in &references {
                index.references.remove(reference);
                untagged.push(familiar(reference));
            }
            self.save(&index)?;
            return Ok((untagged, Vec::new()));
        }
        for reference in &references {
            index.references.remove(reference);
            untagged.push(familiar(reference));
        }
        index.images.remove(&id);
        self.save(&index)?;
        self.collect_garbage(&index)?;
        Ok((untagged, vec![id]))
    }

    /// `docker image prune`: deletes the images `doomed` picks (the caller
    /// decides with Docker's rules: unused, untagged unless `--all`, and
    /// the filters), looked at under the index lock so that no tag lands on
    /// an image between the choice and its removal. Returns the deleted IDs
    /// and the bytes freed (blobs plus unpacked layers no image shares).
    pub fn prune(&self, doomed: impl Fn(&Image) -> bool) -> Result<(Vec<String>, u64), ImageError> {
        let mut index = self.lock();
        let mut chosen = Vec::new();
        for id in index.images.keys() {
            if doomed(&self.load_image(&index, id)?) {
                chosen.push(id.clone());
            }
        }
        let doomed = chosen;
        if doomed.is_empty() {
            return Ok((doomed, 0));
        }
        index.references.retain(|_, id| !doomed.contains(id));
        for id in &doomed {
            index.images.remove(id);
        }
        self.save(&index)?;
        let freed = self.collect_garbage(&index)?;
        Ok((doomed, freed))
    }

    /// Removes the given blobs and layers (by chain ID) unless a recorded
    /// image uses them: undoes the work of an import that failed before it
    /// recorded its images.
    pub(crate) fn discard_unused(
        &self,
        blobs: &[String],
        chain_ids: &[String],
    ) -> Result<(), ImageError> {
        let index = self.lock();
        let (live_blobs, live_layers) = self.live(&index)?;
        for digest in blobs.iter().filter(|d| !live_blobs.contains(*d)) {
            remove_all(&self.blob_path(digest))?;
        }
        for chain_id in chain_ids {
            let hex = Self::layer_dir_name(chain_id);
            if !live_layers.contains(hex) {
                self.remove_layer(hex)?;
            }
        }
        Ok(())
    }

    /// Removes layers and blobs that no image refers to any more; returns
    /// the bytes freed.
    pub(crate) fn collect_garbage(&self, index: &Index) -> Result<u64, ImageError> {
        let (live_blobs, live_layers) = self.live(index)?;
        let mut freed = 0;
        for entry in fs::read_dir(self.root.join("blobs/sha256"))?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !live_blobs.contains(&format!("sha256:{name}")) {
                freed += entry.metadata().map_or(0, |m| m.len());
                remove_all(&entry.path())?;
            }
        }
        let mut dead_layers = BTreeSet::new();
        for entry in fs::read_dir(self.layers_root())?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let hex = name.strip_suffix(".json").unwrap_or(&name);
            if !live_layers.contains(hex) {
                dead_layers.insert(hex.to_string());
            }
        }
        for hex in dead_layers {
            freed += self.layer_size(&hex);
            self.remove_layer(&hex)?;
        }
        Ok(freed)
    }

    /// Removes an unpacked layer by directory name.
    fn remove_layer(&self, hex: &str) -> Result<(), ImageError> {
        // The .json goes first so a half-removed layer is never taken for a
        // whole one.
        remove_all(&self.layers_root().join(format!("{hex}.json")))?;
        remove_all(&self.layers_root().join(hex))?;
        Ok(())
    }

    /// The blobs (by digest) and unpacked layers (by directory name) the
    /// recorded images use.
    fn live(&self, index: &Index) -> Result<(BTreeSet<String>, BTreeSet<String>), ImageError> {
        let mut live_blobs = BTreeSet::new();
        let mut live_layers = BTreeSet::new();
        for pinned in self.pins.snapshot() {
            live_layers.insert(Self::layer_dir_name(&pinned).to_string());
            live_blobs.insert(pinned);
        }
        // Images, and the states the build cache keeps: (config, manifest).
        let kept = index
            .images
            .iter()
            .map(|(id, record)| (id, &record.manifest))
            .chain(
                index
                    .build_cache
                    .values()
                    .map(|state| (&state.config, &state.manifest)),
            );
        for (config_digest, manifest_digest) in kept {
            live_blobs.insert(config_digest.clone());
            live_blobs.insert(manifest_digest.clone());
            if let Ok(manifest) =
                serde_json::from_slice::<ImageManifest>(&self.read_blob(manifest_digest)?)
            {
                live_blobs.extend(manifest.layers().iter().map(|l| l.digest().to_string()));
            }
            if let Ok(config) =
                serde_json::from_slice::<ImageConfig>(&self.read_blob(config_digest)?)
            {
                live_layers.extend(
                    chain_ids(&config.rootfs.diff_ids)
                        .iter()
                        .map(|c| Self::layer_dir_name(c).to_string()),
                );
            }
        }
        Ok((live_blobs, live_layers))
    }

    /// The stored manifest of an image.
    pub fn manifest(&self, image: &Image) -> Result<ImageManifest, ImageError> {
        serde_json::from_slice(&self.read_blob(&image.manifest_digest)?)
            .map_err(|e| ImageError::Corrupt(format!("manifest {}: {e}", image.manifest_digest)))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding the lock cannot leave the index half-written
        // on disk (saves are atomic), so the in-memory copy is still usable.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn save(&self, index: &Index) -> Result<(), ImageError> {
        write_json_atomic(&self.root.join("index.json"), index)?;
        Ok(())
    }
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

/// An OCI image manifest for a config blob and layer descriptors.
pub(crate) fn image_manifest(
    config: &BlobInfo,
    layers: Vec<Descriptor>,
) -> Result<ImageManifest, ImageError> {
    ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, config)?)
        .layers(layers)
        .build()
        .map_err(|e| ImageError::Corrupt(format!("cannot build manifest: {e}")))
}

/// A descriptor for a stored blob.
pub fn descriptor(media_type: MediaType, blob: &BlobInfo) -> Result<Descriptor, ImageError> {
    let digest = OciDigest::from_str(&blob.digest)
        .map_err(|e| ImageError::Corrupt(format!("bad digest {}: {e}", blob.digest)))?;
    DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(blob.size)
        .build()
        .map_err(|e| ImageError::Corrupt(format!("cannot build descriptor: {e}")))
}

/// Now as RFC 3339 with nanoseconds, as Docker writes times.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::image::layer::sha256_digest;

    /// An uncompressed tar of regular files (mode 755, root, mtime 0).
    pub(crate) fn rootfs_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o755);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// A store in a fresh tempdir with one imported image tagged `reference`.
    pub(crate) fn store_with_image(
        files: &[(&str, &[u8])],
        reference: &str,
    ) -> (tempfile::TempDir, ImageStore, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&dir.path().join("image")).unwrap();
        let tarball = dir.path().join("rootfs.tar");
        fs::write(&tarball, rootfs_tar(files)).unwrap();
        let id = store
            .import(
                &tarball,
                Some(reference),
                &["ENV PATH=/bin".to_string(), "CMD [\"sh\"]".to_string()],
                "",
            )
            .unwrap();
        (dir, store, id)
    }

    #[test]
    fn import_makes_a_runnable_image() {
        let (_dir, store, id) = store_with_image(&[("bin/sh", b"#!")], "box:1");
        let image = store.resolve("box:1").unwrap();
        assert_eq!(image.id, id);
        assert_eq!(image.repo_tags(), vec!["box:1"]);
        assert_eq!(image.config.config.env, vec!["PATH=/bin"]);
        assert_eq!(image.chain_ids.len(), 1);
        let layer = store
            .layers_root()
            .join(ImageStore::layer_dir_name(&image.chain_ids[0]));
        assert_eq!(fs::read(layer.join("bin/sh")).unwrap(), b"#!");
        // The ID and its short prefix find it too.
        assert_eq!(store.resolve(&id).unwrap().id, id);
        assert_eq!(store.resolve(image.short_id()).unwrap().id, id);
    }

    #[test]
    fn tags_share_an_image_and_rmi_untags_first() {
        let (_dir, store, id) = store_with_image(&[("a", b"1")], "box:1");
        store.tag("box:1", "other/box:2").unwrap();
        let (untagged, deleted) = store.remove("box:1", false, |_| None).unwrap();
        assert_eq!(untagged, vec!["box:1"]);
        assert!(deleted.is_empty());
        let (_, deleted) = store.remove("other/box:2", false, |_| None).unwrap();
        assert_eq!(deleted, vec![id]);
        assert!(matches!(
            store.resolve("other/box:2"),
            Err(ImageError::NotFound(_))
        ));
        // Layers and blobs went with it.
        assert_eq!(fs::read_dir(store.layers_root()).unwrap().count(), 0);
    }

    #[test]
    fn rmi_refuses_an_image_in_use_unless_forced() {
        let (_dir, store, _) = store_with_image(&[("a", b"1")], "box:1");
        let err = store
            .remove("box:1", false, |_| Some("c1".into()))
            .unwrap_err();
        assert!(matches!(err, ImageError::InUse { .. }), "{err}");
        let (untagged, deleted) = store.remove("box:1", true, |_| Some("c1".into())).unwrap();
        assert_eq!((untagged.len(), deleted.len()), (1, 0));
    }

    #[test]
    fn unknown_and_bad_references_are_told_apart() {
        let (_dir, store, _) = store_with_image(&[("a", b"1")], "box:1");
        assert!(matches!(
            store.resolve("nope"),
            Err(ImageError::NotFound(_))
        ));
        assert!(matches!(
            store.resolve("Bad:Ref"),
            Err(ImageError::Reference(_))
        ));
    }

    #[test]
    fn discard_unused_spares_what_recorded_images_use() {
        let (_dir, store, id) = store_with_image(&[("a", b"1")], "box:1");
        let image = store.resolve(&id).unwrap();
        let stray = store.put_blob(&b"stray"[..]).unwrap();
        let blobs = vec![
            id.clone(),
            image.manifest_digest.clone(),
            stray.digest.clone(),
        ];
        store.discard_unused(&blobs, &image.chain_ids).unwrap();
        assert!(!store.blob_path(&stray.digest).exists());
        assert!(store.blob_path(&id).exists());
        assert!(store.has_layer(&image.chain_ids[0]));
        assert_eq!(store.resolve("box:1").unwrap().id, id);
    }

    #[test]
    fn a_layer_whose_content_is_not_its_diff_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&dir.path().join("image")).unwrap();
        let tar = rootfs_tar(&[("etc/motd", b"hi")]);
        let wrong = sha256_digest(b"something else");
        let result = store.ensure_layer(&wrong, &wrong, || {
            Ok(Box::new(io::Cursor::new(tar.clone())))
        });
        assert!(
            matches!(
                result,
                Err(ImageError::Layer(LayerError::DiffIdMismatch { .. }))
            ),
            "{result:?}"
        );
        assert!(!store.has_layer(&wrong));
        assert_eq!(fs::read_dir(store.layers_root()).unwrap().count(), 0);
        assert_eq!(
            fs::read_dir(dir.path().join("image/tmp")).unwrap().count(),
            0
        );
        let right = sha256_digest(&tar);
        store
            .ensure_layer(&right, &right, || {
                Ok(Box::new(io::Cursor::new(tar.clone())))
            })
            .unwrap();
        assert!(store.has_layer(&right));
    }

    #[test]
    fn record_images_records_several_at_once_and_moves_tags() {
        let (_dir, store, first) = store_with_image(&[("a", b"1")], "box:1");
        let (_dir2, other, second) = store_with_image(&[("b", b"2")], "box:2");
        let manifest = other.resolve(&second).unwrap().manifest_digest;
        for digest in [&second, &manifest] {
            store
                .put_blob(&other.read_blob(digest).unwrap()[..])
                .unwrap();
        }
        let image = other.resolve(&second).unwrap();
        // An imported layer's blob is the uncompressed tar: its digest is the diff ID.
        let diff_id = &image.config.rootfs.diff_ids[0];
        let layer_tar = other.blob_path(diff_id);
        store
            .ensure_layer(&image.chain_ids[0], diff_id, || {
                Ok(buffered(File::open(&layer_tar)?))
            })
            .unwrap();
        store
            .record_images(&[NewImage {
                id: second.clone(),
                manifest,
                references: vec![
                    Reference::parse("box:1").unwrap(),
                    Reference::parse("box:3").unwrap(),
                ],
            }])
            .unwrap();
        assert_eq!(store.resolve("box:1").unwrap().id, second);
        assert_eq!(store.resolve("box:3").unwrap().id, second);
        assert!(store.resolve(&first).unwrap().references.is_empty());
    }

    #[test]
    fn reopening_keeps_the_index_and_clears_tmp() {
        let (dir, store, id) = store_with_image(&[("a", b"1")], "box:1");
        fs::write(store.temp_path("junk"), b"x").unwrap();
        drop(store);
        let store = ImageStore::open(&dir.path().join("image")).unwrap();
        assert_eq!(store.resolve("box:1").unwrap().id, id);
        assert_eq!(
            fs::read_dir(dir.path().join("image/tmp")).unwrap().count(),
            0
        );
    }
}
