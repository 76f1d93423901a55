//! Build states and the build cache: what `hoist build` holds between
//! steps (a config and its layers, not yet an image), and the states
//! earlier builds left, by cache key, so an unchanged step is not run
//! again. Cached states are not images (they do not show in `images`),
//! but their blobs and layers stay alive as long as they are cached.

use oci_spec::image::{ImageManifest, MediaType};

use super::Reference;
use super::cache_mounts::CacheMounts;
use super::config::{History, ImageConfig, RootFs, host_architecture};
use super::store::{BlobInfo, CachedState, Image, ImageError, ImageStore, NewImage};

/// An image in the making: its config and its layers.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildState {
    /// The config, history and diff IDs included.
    pub config: ImageConfig,
    /// The layer blobs, bottom first.
    pub layers: Vec<(BlobInfo, MediaType)>,
}

impl BuildState {
    /// `FROM scratch`: no layers, the host's platform.
    pub fn scratch() -> Self {
        Self {
            config: ImageConfig {
                architecture: host_architecture().to_string(),
                os: "linux".to_string(),
                rootfs: RootFs::default(),
                ..Default::default()
            },
            layers: Vec::new(),
        }
    }

    /// Adds a layer (an uncompressed tar blob: its digest is its diff ID)
    /// and its history entry.
    pub fn push_layer(&mut self, blob: BlobInfo, history: History) {
        self.config.rootfs.diff_ids.push(blob.digest.clone());
        self.layers.push((blob, MediaType::ImageLayer));
        self.config.history.push(history);
    }
}

/// A manifest's layers as (blob, media type).
fn layers_of(manifest: &ImageManifest) -> Vec<(BlobInfo, MediaType)> {
    manifest
        .layers()
        .iter()
        .map(|layer| {
            (
                BlobInfo {
                    digest: layer.digest().to_string(),
                    size: layer.size(),
                },
                layer.media_type().clone(),
            )
        })
        .collect()
}

impl ImageStore {
    /// The state an image is in, for building on it.
    pub fn state_of(&self, image: &Image) -> Result<BuildState, ImageError> {
        Ok(BuildState {
            config: image.config.clone(),
            layers: layers_of(&self.manifest(image)?),
        })
    }

    /// The state cached under `key`, if it is there and whole.
    pub fn cached_state(&self, key: &str) -> Option<BuildState> {
        let cached = self.lock().build_cache.get(key).cloned()?;
        let config: ImageConfig =
            serde_json::from_slice(&self.read_blob(&cached.config).ok()?).ok()?;
        let manifest: ImageManifest =
            serde_json::from_slice(&self.read_blob(&cached.manifest).ok()?).ok()?;
        let state = BuildState {
            layers: layers_of(&manifest),
            config,
        };
        let chain = super::layer::chain_ids(&state.config.rootfs.diff_ids);
        let whole = chain.iter().all(|c| self.has_layer(c))
            && state
                .layers
                .iter()
                .all(|(blob, _)| self.has_blob(&blob.digest));
        whole.then_some(state)
    }

    /// Caches `state` under `key` (its blobs stored, its layers unpacked).
    pub fn cache_state(&self, key: &str, state: &BuildState) -> Result<(), ImageError> {
        let (config, manifest, _pinned) = self.store_state(&state.config, &state.layers)?;
        let mut index = self.lock();
        index
            .build_cache
            .insert(key.to_string(), CachedState { config, manifest });
        self.save(&index)
    }

    /// `builder prune`: forgets every cached build state and frees what
    /// only the cache kept, and empties the cache mounts no build uses.
    /// Returns what was dropped (cache keys, cache mounts) and the bytes
    /// freed.
    pub fn prune_build_cache(&self) -> Result<(Vec<String>, u64), ImageError> {
        let (mut removed, mut freed) = self.cache_mounts.prune()?;
        let mut index = self.lock();
        if index.build_cache.is_empty() {
            return Ok((removed, freed));
        }
        let dropped = std::mem::take(&mut index.build_cache);
        if let Err(e) = self.save(&index) {
            index.build_cache = dropped;
            return Err(e);
        }
        freed += self.collect_garbage(&index)?;
        removed.extend(dropped.into_keys());
        Ok((removed, freed))
    }

    /// The unpacked layer directories of `state`, top layer first (the
    /// order of overlayfs' `lowerdir`).
    pub fn layer_dirs(&self, state: &BuildState) -> Vec<std::path::PathBuf> {
        let layers_root = self.layers_root();
        super::layer::chain_ids(&state.config.rootfs.diff_ids)
            .iter()
            .rev()
            .map(|chain| layers_root.join(ImageStore::layer_dir_name(chain)))
            .collect()
    }

    /// The directories of `RUN --mount=type=cache`.
    pub fn cache_mounts(&self) -> &CacheMounts {
        &self.cache_mounts
    }

    /// Drops the record of an image nothing names (a build step's
    /// transient image) without collecting garbage: a collection now could
    /// take blobs another build or pull has stored but not yet recorded.
    /// What only it used goes at the next `rmi` or prune.
    pub fn forget_unnamed(&self, id: &str) -> Result<(), ImageError> {
        let mut index = self.lock();
        if index.references.values().any(|target| target == id) || !index.images.contains_key(id) {
            return Ok(());
        }
        let record = index.images.remove(id);
        if let Err(e) = self.save(&index) {
            if let Some(record) = record {
                index.images.insert(id.to_string(), record);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Records `state` as an image, tagged `reference` when given; returns
    /// its ID. An image with that ID already recorded keeps its manifest
    /// (it may have been pulled or pushed under that one).
    pub fn record_state(
        &self,
        state: &BuildState,
        reference: Option<&Reference>,
    ) -> Result<String, ImageError> {
        let (id, manifest, _pinned) = self.store_state(&state.config, &state.layers)?;
        let manifest = self
            .resolve(&id)
            .map_or(manifest, |image| image.manifest_digest);
        self.record_images(&[NewImage {
            id: id.clone(),
            manifest,
            references: reference.into_iter().cloned().collect(),
        }])?;
        Ok(id)
    }
}
