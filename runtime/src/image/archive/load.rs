//! `docker load`: the images of an archive into the store, all or none.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;

use oci_spec::image::{
    ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageManifest, ImageManifestBuilder, MediaType,
    Platform,
};
use serde::de::DeserializeOwned;

use super::spool::{Spool, SpoolFile};
use super::{
    ANNOTATION_IMAGE_NAME, ArchiveError, DOCKER_MANIFEST_FILE, DockerManifestEntry, INDEX_FILE,
    OCI_LAYOUT_FILE,
};
use crate::image::config::{ImageConfig, host_architecture};
use crate::image::layer::{buffered, chain_ids, decompressed, sha256_digest};
use crate::image::reference::Reference;
use crate::image::store::{BlobInfo, ImageError, ImageStore, NewImage, descriptor};
use crate::image::tario::sha256_of;

/// How deep indexes may nest inside an OCI layout.
const MAX_INDEX_DEPTH: usize = 4;
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Loads every image of the tar `input` (a `docker save` or OCI layout
/// archive, maybe gzip-compressed) into the store and returns what `docker
/// load` prints: `Loaded image: busybox:latest` for each reference, or
/// `Loaded image ID: sha256:…` for an untagged image, after a note for each
/// tag taken from another image.
///
/// The input is unpacked under the store's `tmp/` and every blob, config
/// and layer is checked against its digest before anything is stored; if
/// anything is wrong, no image is recorded and the temporary files go.
pub fn load(store: &ImageStore, input: impl Read) -> Result<Vec<String>, ImageError> {
    let spool = Spool::extract(store.temp_path("load"), input)?;
    let images = if spool.has(DOCKER_MANIFEST_FILE) {
        docker_images(&spool)?
    } else if spool.has(INDEX_FILE) {
        oci_images(&spool)?
    } else {
        return Err(ArchiveError::Unrecognised.into());
    };
    verify_diff_ids(&images)?;
    let renamed = renamed_tags(store, &images);
    install(store, &images)?;
    Ok(renamed
        .into_iter()
        .chain(images.iter().flat_map(Found::report))
        .collect())
}

/// Docker's notes for tags that move from another image to a loaded one.
fn renamed_tags(store: &ImageStore, images: &[Found]) -> Vec<String> {
    let mut notes = Vec::new();
    for image in images {
        for reference in &image.references {
            if let Ok(old) = store.resolve(&reference.to_string())
                && old.id != image.id()
            {
                notes.push(format!(
                    "The image {} already exists, renaming the old one with ID {} to empty string",
                    reference.familiar(),
                    old.id
                ));
            }
        }
    }
    notes
}

/// One image of the archive, not stored yet.
#[derive(Debug, Clone)]
struct Found {
    config_file: SpoolFile,
    config: ImageConfig,
    manifest: FoundManifest,
    /// Layer blobs, bottom first.
    layers: Vec<SpoolFile>,
    references: Vec<Reference>,
}

/// Where an image's manifest comes from.
#[derive(Debug, Clone)]
enum FoundManifest {
    /// The archive has it (OCI layouts): kept byte for byte.
    InArchive(SpoolFile),
    /// Made for an archive without manifests (Docker's older layout).
    Made(Vec<u8>),
}

impl Found {
    /// The image ID: the config's digest.
    fn id(&self) -> &str {
        &self.config_file.digest
    }

    /// `docker load`'s lines for this image.
    fn report(&self) -> Vec<String> {
        if self.references.is_empty() {
            return vec![format!("Loaded image ID: {}", self.id())];
        }
        self.references
            .iter()
            .map(|r| format!("Loaded image: {}", r.familiar()))
            .collect()
    }
}

/// Adds `image` to `found`, or its references to the entry for the same
/// image.
fn merge(found: &mut Vec<Found>, image: Found) {
    match found.iter_mut().find(|f| f.id() == image.id()) {
        Some(existing) => {
            for reference in image.references {
                if !existing.references.contains(&reference) {
                    existing.references.push(reference);
                }
            }
        }
        None => found.push(image),
    }
}

/// The images Docker's `manifest.json` lists. When the archive is also an
/// OCI layout (Docker 25+), each image's manifest comes from the layout;
/// otherwise one is made from the listed config and layer files.
fn docker_images(spool: &Spool) -> Result<Vec<Found>, ImageError> {
    let entries: Vec<DockerManifestEntry> = spool.json(DOCKER_MANIFEST_FILE, "the archive")?;
    let from_layout: BTreeMap<String, Found> =
        if spool.has(INDEX_FILE) && spool.has(OCI_LAYOUT_FILE) {
            layout_images(spool)?
                .0
                .into_iter()
                .map(|image| (image.id().to_string(), image))
                .collect()
        } else {
            BTreeMap::new()
        };
    let mut found = Vec::new();
    for entry in entries {
        let config_file = spool.file(&entry.config, DOCKER_MANIFEST_FILE)?;
        check_named_digest(&config_file)?;
        let references = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|tag| {
                Reference::parse(tag).map_err(|e| {
                    ArchiveError::invalid(DOCKER_MANIFEST_FILE, format!("RepoTags {tag:?}: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let image = match from_layout.get(&config_file.digest) {
            Some(image) => Found {
                references,
                ..image.clone()
            },
            None => {
                let config = parse_config(&config_file)?;
                let layers = entry
                    .layers
                    .iter()
                    .map(|layer| spool.file(layer, DOCKER_MANIFEST_FILE))
                    .collect::<Result<Vec<_>, _>>()?;
                let manifest = FoundManifest::Made(make_manifest(&config_file, &layers)?);
                Found {
                    config_file,
                    config,
                    manifest,
                    layers,
                    references,
                }
            }
        };
        merge(&mut found, image);
    }
    Ok(found)
}

/// A config named `<hex>.json` must hash to `<hex>`.
fn check_named_digest(file: &SpoolFile) -> Result<(), ArchiveError> {
    let base = file.name.rsplit('/').next().unwrap_or(&file.name);
    let hex = base.strip_suffix(".json").unwrap_or(base);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let declared = format!("sha256:{hex}");
    if declared != file.digest {
        return Err(ArchiveError::DigestMismatch {
            what: file.name.clone(),
            declared,
            actual: file.digest.clone(),
        });
    }
    Ok(())
}

/// An OCI manifest for a config and layers that came without one.
fn make_manifest(config: &SpoolFile, layers: &[SpoolFile]) -> Result<Vec<u8>, ImageError> {
    let blob = |file: &SpoolFile| BlobInfo {
        digest: file.digest.clone(),
        size: file.size,
    };
    let layers = layers
        .iter()
        .map(|layer| {
            let media_type = if is_gzip(layer)? {
                MediaType::ImageLayerGzip
            } else {
                MediaType::ImageLayer
            };
            descriptor(media_type, &blob(layer))
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &blob(config))?)
        .layers(layers)
        .build()
        .map_err(|e| ArchiveError::invalid(&config.name, format!("cannot make a manifest: {e}")))?;
    Ok(serde_json::to_vec(&manifest).map_err(std::io::Error::other)?)
}

fn is_gzip(file: &SpoolFile) -> Result<bool, ImageError> {
    let mut magic = [0u8; 2];
    let n = File::open(&file.path)?.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// The images of an OCI layout (`index.json`).
fn oci_images(spool: &Spool) -> Result<Vec<Found>, ImageError> {
    let (found, skipped) = layout_images(spool)?;
    if found.is_empty() {
        return Err(if skipped {
            ArchiveError::NoPlatform {
                what: INDEX_FILE.to_string(),
                platform: host_platform(),
            }
        } else {
            ArchiveError::invalid(INDEX_FILE, "it lists no images")
        }
        .into());
    }
    Ok(found)
}

/// The images `index.json` lists for this platform, and whether it listed
/// some for other platforms.
fn layout_images(spool: &Spool) -> Result<(Vec<Found>, bool), ImageError> {
    let index: ImageIndex = spool.json(INDEX_FILE, "the archive")?;
    let mut found = Vec::new();
    let mut skipped = false;
    for entry in index.manifests() {
        if entry.platform().as_ref().is_some_and(|p| !is_host(p)) {
            skipped = true;
            continue;
        }
        let references = entry_references(entry)?;
        let manifest_file = pick_manifest(spool, entry, INDEX_FILE, 0)?;
        merge(
            &mut found,
            image_from_manifest(spool, manifest_file, references)?,
        );
    }
    Ok((found, skipped))
}

/// The reference an index entry names: `io.containerd.image.name`, or
/// `org.opencontainers.image.ref.name` when that is a whole name rather
/// than just a tag (a bare tag names no repository, so the image loads
/// untagged).
fn entry_references(entry: &Descriptor) -> Result<Vec<Reference>, ArchiveError> {
    let Some(annotations) = entry.annotations() else {
        return Ok(Vec::new());
    };
    let name = match (
        annotations.get(ANNOTATION_IMAGE_NAME),
        annotations.get(ANNOTATION_REF_NAME),
    ) {
        (Some(name), _) => name,
        (None, Some(name)) if name.contains(':') || name.contains('/') => name,
        _ => return Ok(Vec::new()),
    };
    let reference = Reference::parse(name)
        .map_err(|e| ArchiveError::invalid(INDEX_FILE, format!("image name {name:?}: {e}")))?;
    Ok(if reference.tag.is_some() && reference.digest.is_none() {
        vec![reference]
    } else {
        Vec::new()
    })
}

/// The image manifest `descriptor` leads to, choosing this platform's
/// entry in (nested) indexes and manifest lists.
fn pick_manifest(
    spool: &Spool,
    descriptor: &Descriptor,
    named_by: &str,
    depth: usize,
) -> Result<SpoolFile, ImageError> {
    let file = spool.blob(descriptor, named_by)?;
    let media_type = descriptor.media_type().as_ref();
    if media_type == MediaType::ImageManifest.as_ref() || media_type == DOCKER_MANIFEST {
        return Ok(file);
    }
    if media_type != MediaType::ImageIndex.as_ref() && media_type != DOCKER_MANIFEST_LIST {
        return Err(ArchiveError::invalid(
            &file.name,
            format!("its media type {media_type} is not an image manifest or index"),
        )
        .into());
    }
    if depth >= MAX_INDEX_DEPTH {
        return Err(ArchiveError::invalid(&file.name, "indexes nest too deep").into());
    }
    let index: ImageIndex = read_json(&file)?;
    let chosen = index
        .manifests()
        .iter()
        .find(|m| m.platform().as_ref().is_some_and(is_host))
        .ok_or_else(|| ArchiveError::NoPlatform {
            what: file.name.clone(),
            platform: host_platform(),
        })?;
    pick_manifest(spool, chosen, &file.name, depth + 1)
}

fn is_host(platform: &Platform) -> bool {
    platform.os().to_string() == "linux"
        && platform.architecture().to_string() == host_architecture()
}

fn host_platform() -> String {
    format!("linux/{}", host_architecture())
}

/// The image an image manifest in the layout describes.
fn image_from_manifest(
    spool: &Spool,
    manifest_file: SpoolFile,
    references: Vec<Reference>,
) -> Result<Found, ImageError> {
    let manifest: ImageManifest = read_json(&manifest_file)?;
    let config_type = manifest.config().media_type().as_ref();
    if config_type != MediaType::ImageConfig.as_ref() && config_type != DOCKER_CONFIG {
        return Err(ArchiveError::invalid(
            &manifest_file.name,
            format!("its config has media type {config_type}, so it is not a container image"),
        )
        .into());
    }
    let config_file = spool.blob(manifest.config(), &manifest_file.name)?;
    let config = parse_config(&config_file)?;
    let layers = manifest
        .layers()
        .iter()
        .map(|layer| spool.blob(layer, &manifest_file.name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Found {
        config_file,
        config,
        manifest: FoundManifest::InArchive(manifest_file),
        layers,
        references,
    })
}

fn read_json<T: DeserializeOwned>(file: &SpoolFile) -> Result<T, ImageError> {
    let data = fs::read(&file.path)?;
    Ok(serde_json::from_slice(&data).map_err(|e| ArchiveError::invalid(&file.name, e))?)
}

fn parse_config(file: &SpoolFile) -> Result<ImageConfig, ImageError> {
    read_json(file)
}

/// Checks that each layer, uncompressed, hashes to the diff ID its
/// image's config lists for it.
fn verify_diff_ids(images: &[Found]) -> Result<(), ImageError> {
    let mut known: BTreeMap<&str, String> = BTreeMap::new();
    for image in images {
        let diff_ids = &image.config.rootfs.diff_ids;
        if diff_ids.len() != image.layers.len() {
            return Err(ArchiveError::invalid(
                format!("image {}", image.id()),
                format!(
                    "its config lists {} layers (diff IDs) but it has {} layer files",
                    diff_ids.len(),
                    image.layers.len()
                ),
            )
            .into());
        }
        for (layer, declared) in image.layers.iter().zip(diff_ids) {
            let actual = match known.get(layer.digest.as_str()) {
                Some(actual) => actual.clone(),
                None => {
                    let actual = diff_id(layer)?;
                    known.insert(&layer.digest, actual.clone());
                    actual
                }
            };
            if actual != *declared {
                return Err(ArchiveError::DigestMismatch {
                    what: format!("layer {} (uncompressed)", layer.name),
                    declared: declared.clone(),
                    actual,
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The digest of a layer's uncompressed tar.
fn diff_id(layer: &SpoolFile) -> Result<String, ImageError> {
    let gzip = is_gzip(layer)?;
    // Refuses compressions hoist cannot read, with a message saying so.
    let reader = decompressed(File::open(&layer.path)?)?;
    if gzip {
        Ok(sha256_of(reader).map_err(|e| {
            ArchiveError::invalid(&layer.name, format!("cannot decompress it: {e}"))
        })?)
    } else {
        Ok(layer.digest.clone())
    }
}

/// Unpacks the images' layers, moves their blobs into the store and
/// records them in one index update; on failure removes what it added.
fn install(store: &ImageStore, images: &[Found]) -> Result<(), ImageError> {
    let mut added = Added::default();
    let result = install_parts(store, images, &mut added);
    if result.is_err()
        && let Err(e) = store.discard_unused(&added.blobs, &added.layers)
    {
        tracing::warn!("cannot remove what a failed load added to the image store: {e}");
    }
    result
}

/// Blobs and layers (by chain ID) a load put in the store.
#[derive(Default)]
struct Added {
    blobs: Vec<String>,
    layers: Vec<String>,
}

fn install_parts(
    store: &ImageStore,
    images: &[Found],
    added: &mut Added,
) -> Result<(), ImageError> {
    for image in images {
        let diff_ids = &image.config.rootfs.diff_ids;
        for ((chain_id, diff_id), layer) in
            chain_ids(diff_ids).iter().zip(diff_ids).zip(&image.layers)
        {
            if store.has_layer(chain_id) {
                continue;
            }
            store.ensure_layer(chain_id, diff_id, || Ok(buffered(File::open(&layer.path)?)))?;
            added.layers.push(chain_id.clone());
        }
    }
    // Blob files move out of the spool, so each digest only once.
    let mut moved = BTreeSet::new();
    let mut adopt = |file: &SpoolFile, added: &mut Added| -> Result<(), ImageError> {
        if moved.insert(file.digest.clone()) && store.insert_blob(&file.path, &file.digest)? {
            added.blobs.push(file.digest.clone());
        }
        Ok(())
    };
    let mut records = Vec::new();
    for image in images {
        let manifest = match &image.manifest {
            FoundManifest::InArchive(file) => {
                adopt(file, added)?;
                file.digest.clone()
            }
            FoundManifest::Made(bytes) => {
                let digest = sha256_digest(bytes);
                if !store.blob_path(&digest).exists() {
                    store.put_blob(&bytes[..])?;
                    added.blobs.push(digest.clone());
                }
                digest
            }
        };
        for file in std::iter::once(&image.config_file).chain(&image.layers) {
            adopt(file, added)?;
        }
        records.push(NewImage {
            id: image.id().to_string(),
            manifest,
            references: image.references.clone(),
        });
    }
    store.record_images(&records)
}
