//! `docker save`: images from the store as a tar, streamed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Write};

use oci_spec::image::{
    ANNOTATION_REF_NAME, Descriptor, ImageIndexBuilder, ImageManifest, MediaType,
};

use super::{
    ANNOTATION_IMAGE_NAME, ArchiveError, DOCKER_MANIFEST_FILE, DockerManifestEntry, INDEX_FILE,
    OCI_LAYOUT_FILE, REPOSITORIES_FILE,
};
use crate::image::reference::Reference;
use crate::image::store::{Image, ImageError, ImageStore};
use crate::image::tario::ExactReader;

/// What `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// What `docker save` writes since Docker 25: an OCI image layout plus
    /// `manifest.json` and `repositories`, readable by every Docker.
    Docker,
    /// An OCI image layout alone, its index entries annotated with
    /// `org.opencontainers.image.ref.name` (the tag) and
    /// `io.containerd.image.name` (the full name).
    Oci,
}

/// Writes the images `references` name (references, IDs or ID prefixes; a
/// repository without a tag means all its tags) to `out` as a tar. Blobs
/// are streamed from the store as they are, so digests are kept.
pub fn save(
    store: &ImageStore,
    references: &[String],
    out: impl Write,
    format: SaveFormat,
) -> Result<(), ImageError> {
    let selected = select(store, references)?;
    let mut writer = Writer {
        tar: tar::Builder::new(out),
        written: BTreeSet::new(),
    };
    writer.directory("blobs")?;
    writer.directory("blobs/sha256")?;
    let mut index_entries = Vec::new();
    let mut docker_entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for Selected { image, tags } in &selected {
        let manifest_bytes = store.read_blob(&image.manifest_digest)?;
        let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| ImageError::Corrupt(format!("manifest {}: {e}", image.manifest_digest)))?;
        let layers: Vec<String> = manifest
            .layers()
            .iter()
            .map(|l| l.digest().to_string())
            .collect();
        for digest in std::iter::once(&image.id)
            .chain(&layers)
            .chain(std::iter::once(&image.manifest_digest))
        {
            writer.blob(store, digest)?;
        }

        let media_type = manifest
            .media_type()
            .clone()
            .unwrap_or(MediaType::ImageManifest);
        let entry = Descriptor::new(
            media_type,
            manifest_bytes.len() as u64,
            oci_digest(&image.manifest_digest)?,
        );
        if tags.is_empty() {
            index_entries.push(entry.clone());
        }
        for tag in tags {
            let mut named = entry.clone();
            named.set_annotations(Some(HashMap::from([
                (ANNOTATION_IMAGE_NAME.to_string(), tag.to_string()),
                (
                    ANNOTATION_REF_NAME.to_string(),
                    tag.tag.clone().unwrap_or_default(),
                ),
            ])));
            index_entries.push(named);
            if let Some(top) = layers.last() {
                repositories
                    .entry(tag.familiar_repository())
                    .or_default()
                    .insert(tag.tag.clone().unwrap_or_default(), hex(top).to_string());
            }
        }
        docker_entries.push(DockerManifestEntry {
            config: blob_name(&image.id),
            repo_tags: (!tags.is_empty()).then(|| tags.iter().map(Reference::familiar).collect()),
            layers: layers.iter().map(|l| blob_name(l)).collect(),
        });
    }

    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(index_entries)
        .build()
        .map_err(|e| ImageError::Corrupt(format!("cannot build the archive's index: {e}")))?;
    writer.json(INDEX_FILE, &index)?;
    if format == SaveFormat::Docker {
        writer.json(DOCKER_MANIFEST_FILE, &docker_entries)?;
    }
    writer.file(OCI_LAYOUT_FILE, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    if format == SaveFormat::Docker && !repositories.is_empty() {
        writer.json(REPOSITORIES_FILE, &repositories)?;
    }
    writer.tar.into_inner().map_err(ArchiveError::Write)?;
    Ok(())
}

/// One image to save and the tags to save it under.
struct Selected {
    image: Image,
    tags: Vec<Reference>,
}

/// Resolves the names given to `save`, merging names of one image.
fn select(store: &ImageStore, names: &[String]) -> Result<Vec<Selected>, ImageError> {
    let mut selected: Vec<Selected> = Vec::new();
    let mut add = |image: Image, tags: Vec<Reference>| {
        let at = match selected.iter().position(|s| s.image.id == image.id) {
            Some(at) => at,
            None => {
                selected.push(Selected {
                    image,
                    tags: Vec::new(),
                });
                selected.len() - 1
            }
        };
        for tag in tags {
            if !selected[at].tags.contains(&tag) {
                selected[at].tags.push(tag);
            }
        }
    };
    for name in names {
        let repository_images = match repository_only(name) {
            Some(repository) => store
                .list()?
                .into_iter()
                .filter_map(|image| {
                    let tags: Vec<Reference> = tags_of(&image)
                        .filter(|r| r.repository() == repository)
                        .collect();
                    (!tags.is_empty()).then_some((image, tags))
                })
                .collect(),
            None => Vec::new(),
        };
        if !repository_images.is_empty() {
            for (image, tags) in repository_images {
                add(image, tags);
            }
            continue;
        }
        let image = store.resolve(name)?;
        let tags = Reference::parse(name)
            .ok()
            .filter(|r| tags_of(&image).any(|t| t == *r))
            .into_iter()
            .collect();
        add(image, tags);
    }
    Ok(selected)
}

/// The references of an image that are tags (not digests).
fn tags_of(image: &Image) -> impl Iterator<Item = Reference> + '_ {
    image
        .references
        .iter()
        .filter(|r| r.tag.is_some() && r.digest.is_none())
        .cloned()
}

/// The full repository when `name` is a repository without tag or digest
/// (`busybox`), which `docker save` reads as "every tag of it".
fn repository_only(name: &str) -> Option<String> {
    let after_slash = name.rsplit('/').next().unwrap_or(name);
    if name.contains('@') || after_slash.contains(':') {
        return None;
    }
    Reference::parse(name).ok().map(|r| r.repository())
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The path of a blob in the layout.
fn blob_name(digest: &str) -> String {
    format!("blobs/sha256/{}", hex(digest))
}

fn oci_digest(digest: &str) -> Result<oci_spec::image::Digest, ImageError> {
    digest
        .parse()
        .map_err(|e| ImageError::Corrupt(format!("bad digest {digest}: {e}")))
}

/// The tar being written and the blobs already in it.
struct Writer<W: Write> {
    tar: tar::Builder<W>,
    written: BTreeSet<String>,
}

impl<W: Write> Writer<W> {
    fn directory(&mut self, path: &str) -> Result<(), ImageError> {
        let mut header = header(0, 0o755);
        header.set_entry_type(tar::EntryType::Directory);
        self.tar
            .append_data(&mut header, path, io::empty())
            .map_err(ArchiveError::Write)?;
        Ok(())
    }

    fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ImageError> {
        let mut header = header(data.len() as u64, 0o644);
        self.tar
            .append_data(&mut header, path, data)
            .map_err(ArchiveError::Write)?;
        Ok(())
    }

    fn json(&mut self, path: &str, value: &impl serde::Serialize) -> Result<(), ImageError> {
        let data = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.file(path, &data)
    }

    /// Streams a stored blob into the tar, once.
    fn blob(&mut self, store: &ImageStore, digest: &str) -> Result<(), ImageError> {
        if !self.written.insert(digest.to_string()) {
            return Ok(());
        }
        let file = File::open(store.blob_path(digest))
            .map_err(|e| ImageError::Corrupt(format!("blob {digest} cannot be read: {e}")))?;
        let len = file.metadata()?.len();
        let mut header = header(len, 0o644);
        let data = ExactReader::new(file, len, format!("blob {digest}"));
        self.tar
            .append_data(&mut header, blob_name(digest), data)
            .map_err(ArchiveError::Write)?;
        Ok(())
    }
}

/// A header for a regular file owned by root, dated 0 so equal content
/// gives an equal archive.
fn header(size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}
