//! Build states and the build cache: what `hoist build` holds between
//! steps (a config and its layers, not yet an image), and the states
//! earlier builds left, by cache key, so an unchanged step is not run
//! again. Cached states are not images (they do not show in `images`),
//! but their blobs and layers stay alive as long as they are cached.

use std::collections::BTreeSet;

use oci_spec::image::{ImageManifest, MediaType};

use super::Reference;
use super::cache_mounts::CacheMounts;
use super::config::{History, ImageConfig, RootFs, host_architecture};
use super::store::{BlobInfo, CachedState, Image, ImageError, ImageStore, NewImage};

/// One entry of the build cache: a cached step's state or a cache mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The state's cache key, or `cache mount <name>`.
    pub id: String,
    /// Whether it is a `RUN --mount=type=cache` directory.
    pub cache_mount: bool,
    /// Bytes only it keeps.
    pub size: u64,
    /// Whether a build uses it now.
    pub in_use: bool,
    /// When a build last used it (Unix seconds; 0 when unknown).
    pub last_used: i64,
    /// What made it: the step's instruction.
    pub description: String,
}

/// Which unused entries `builder prune` removes: all of them, or those
/// its `--filter until=` and `--keep-storage` pick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePrune {
    /// Only entries last used before this (Unix seconds).
    pub unused_since: Option<i64>,
    /// Keeps the most recently used entries within this many bytes (the
    /// whole cache counted), removing the least recently used first.
    pub keep_bytes: Option<u64>,
}

impl CachePrune {
    /// The entries to remove.
    pub fn choose<'a>(&self, entries: &'a [CacheEntry]) -> Vec<&'a CacheEntry> {
        let mut candidates: Vec<&CacheEntry> = entries
            .iter()
            .filter(|e| !e.in_use && self.unused_since.is_none_or(|t| e.last_used < t))
            .collect();
        let Some(keep) = self.keep_bytes else {
            return candidates;
        };
        candidates.sort_by_key(|e| e.last_used);
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut chosen = Vec::new();
        for entry in candidates {
            if total <= keep {
                break;
            }
            total = total.saturating_sub(entry.size);
            chosen.push(entry);
        }
        chosen
    }
}

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

    /// The state cached under `key`, if it is there and whole; its last
    /// use is now (kept in memory until [`Self::save_cache_use`]).
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
        if whole {
            let mut index = self.lock();
            if let Some(entry) = index.build_cache.get_mut(key) {
                entry.used = chrono::Utc::now().timestamp();
                index.cache_use_unsaved = true;
            }
        }
        whole.then_some(state)
    }

    /// Writes down when cached states were last used, if a build used any
    /// since the index was saved: once per build, not once per step.
    pub fn save_cache_use(&self) -> Result<(), ImageError> {
        let mut index = self.lock();
        if !index.cache_use_unsaved {
            return Ok(());
        }
        self.save(&index)?;
        index.cache_use_unsaved = false;
        Ok(())
    }

    /// Caches `state` under `key` (its blobs stored, its layers unpacked).
    pub fn cache_state(&self, key: &str, state: &BuildState) -> Result<(), ImageError> {
        let (config, manifest, _pinned) = self.store_state(&state.config, &state.layers)?;
        let mut index = self.lock();
        index.build_cache.insert(
            key.to_string(),
            CachedState {
                config,
                manifest,
                used: chrono::Utc::now().timestamp(),
            },
        );
        self.save(&index)
    }

    /// The build cache as `system df` shows it: each cached step's state
    /// (sized by the layer it added, when no image has that layer too) and
    /// each cache mount.
    pub fn build_cache_entries(&self) -> Result<Vec<CacheEntry>, ImageError> {
        let index = self.lock();
        let mut image_layers = BTreeSet::new();
        for id in index.images.keys() {
            if let Ok(image) = self.load_image(&index, id) {
                image_layers.extend(image.chain_ids);
            }
        }
        let mut counted = BTreeSet::new();
        let mut entries = Vec::new();
        for (key, cached) in &index.build_cache {
            let Ok(config) =
                serde_json::from_slice::<ImageConfig>(&self.read_blob(&cached.config)?)
            else {
                continue;
            };
            let top = super::layer::chain_ids(&config.rootfs.diff_ids).pop();
            let size = match top {
                Some(top) if !image_layers.contains(&top) && counted.insert(top.clone()) => {
                    let blob =
                        serde_json::from_slice::<ImageManifest>(&self.read_blob(&cached.manifest)?)
                            .ok()
                            .and_then(|m| m.layers().last().map(|l| l.size()))
                            .unwrap_or(0);
                    self.layer_size(&top) + blob
                }
                _ => 0,
            };
            entries.push(CacheEntry {
                id: key.clone(),
                cache_mount: false,
                size,
                in_use: false,
                last_used: cached.used,
                description: config
                    .history
                    .last()
                    .and_then(|h| h.created_by.clone())
                    .unwrap_or_default(),
            });
        }
        drop(index);
        entries.extend(self.cache_mounts.entries()?);
        Ok(entries)
    }

    /// `builder prune`: forgets the cached build states and empties the
    /// cache mounts `select` chooses among those no build uses, and frees
    /// what only they kept. Returns what was dropped (cache keys, cache
    /// mounts) and the bytes freed.
    pub fn prune_build_cache(&self, select: &CachePrune) -> Result<(Vec<String>, u64), ImageError> {
        let entries = self.build_cache_entries()?;
        let chosen = select.choose(&entries);
        let (mut removed, mut freed) = self.cache_mounts.remove(
            chosen
                .iter()
                .filter(|e| e.cache_mount)
                .map(|e| e.id.as_str()),
        )?;
        let keys: BTreeSet<&str> = chosen
            .iter()
            .filter(|e| !e.cache_mount)
            .map(|e| e.id.as_str())
            .collect();
        if keys.is_empty() {
            return Ok((removed, freed));
        }
        let mut index = self.lock();
        let before = index.build_cache.clone();
        index
            .build_cache
            .retain(|key, _| !keys.contains(key.as_str()));
        if let Err(e) = self.save(&index) {
            index.build_cache = before;
            return Err(e);
        }
        freed += self.collect_garbage(&index)?;
        removed.extend(before.into_keys().filter(|key| keys.contains(key.as_str())));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, size: u64, last_used: i64, in_use: bool) -> CacheEntry {
        CacheEntry {
            id: id.to_string(),
            cache_mount: false,
            size,
            in_use,
            last_used,
            description: String::new(),
        }
    }

    fn chosen(select: &CachePrune, entries: &[CacheEntry]) -> Vec<String> {
        select
            .choose(entries)
            .into_iter()
            .map(|e| e.id.clone())
            .collect()
    }

    #[test]
    fn prune_chooses_unused_entries_by_age_and_least_recent_use() {
        let entries = [
            entry("old", 100, 10, false),
            entry("older-in-use", 100, 5, true),
            entry("new", 100, 50, false),
            entry("middle", 100, 30, false),
        ];
        assert_eq!(
            chosen(&CachePrune::default(), &entries),
            ["old", "new", "middle"],
            "everything no build uses"
        );
        let until = CachePrune {
            unused_since: Some(40),
            keep_bytes: None,
        };
        assert_eq!(chosen(&until, &entries), ["old", "middle"]);
        // 400 bytes in all; keeping 200 drops the least recently used
        // entries no build uses until the rest fits.
        let keep = CachePrune {
            unused_since: None,
            keep_bytes: Some(200),
        };
        assert_eq!(chosen(&keep, &entries), ["old", "middle"]);
        let keep_all = CachePrune {
            unused_since: None,
            keep_bytes: Some(400),
        };
        assert!(chosen(&keep_all, &entries).is_empty());
    }
}
