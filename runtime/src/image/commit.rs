//! `docker commit`: a new image made of a base image plus one layer (a
//! container's changes, written by [`super::diff::write_layer`]).

use std::fs::File;
use std::path::Path;

use oci_spec::image::MediaType;

use super::config::{History, RunConfig};
use super::layer::decompressed;
use super::reference::{Reference, ReferenceError};
use super::store::{BlobInfo, Image, ImageError, ImageStore, now_rfc3339};

/// Config fields that describe the container an image was built in: the
/// base image's values would be wrong for the new image.
const BUILD_CONTAINER_FIELDS: [&str; 2] = ["container", "container_config"];

/// What a commit records besides its layer.
#[derive(Debug, Clone, Default)]
pub struct CommitStep<'a> {
    /// The new image's defaults (CMD, ENV, …).
    pub run_config: RunConfig,
    /// History comment (`-m`).
    pub comment: &'a str,
    /// Author (`-a`).
    pub author: &'a str,
    /// History `created_by` (the instruction or command).
    pub created_by: &'a str,
    /// Repository[:tag] to tag the result with.
    pub reference: Option<&'a str>,
}

impl ImageStore {
    /// Stores the layer tar at `layer_tar` (kept uncompressed, so its
    /// digest is its diff ID) on top of `base`, with `step`'s run config as
    /// the new defaults and a history entry for the step; tags the result
    /// with `step.reference` when given. Returns the new image ID.
    pub fn commit(
        &self,
        base: &Image,
        layer_tar: &Path,
        step: CommitStep<'_>,
    ) -> Result<String, ImageError> {
        let CommitStep {
            run_config,
            comment,
            author,
            created_by,
            reference,
        } = step;
        let reference = reference.map(Reference::parse).transpose()?;
        if let Some(reference) = reference.as_ref().filter(|r| r.digest.is_some()) {
            return Err(ImageError::Reference(ReferenceError::Invalid(format!(
                "{reference}: a commit can be tagged, not given a digest"
            ))));
        }
        let base_manifest = self.manifest(base)?;
        let mut layers: Vec<(BlobInfo, MediaType)> = base_manifest
            .layers()
            .iter()
            .map(|layer| {
                let blob = BlobInfo {
                    digest: layer.digest().to_string(),
                    size: layer.size(),
                };
                (blob, oci_layer_type(layer.media_type()))
            })
            .collect();
        let blob = self.put_blob(decompressed(File::open(layer_tar)?)?)?;

        let created = now_rfc3339();
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut config = base.config.clone();
        config.created = Some(created.clone());
        config.author = non_empty(author);
        config.config = run_config;
        config.rootfs.diff_ids.push(blob.digest.clone());
        config.history.push(History {
            created: Some(created),
            created_by: non_empty(created_by),
            author: non_empty(author),
            comment: non_empty(comment),
            empty_layer: false,
        });
        for field in BUILD_CONTAINER_FIELDS {
            config.extra.remove(field);
        }
        layers.push((blob, MediaType::ImageLayer));
        self.add_image(&config, &layers, reference.as_ref())
    }
}

/// The OCI media type for a layer type, so that a manifest hoist writes is
/// all OCI even when the base came with Docker media types.
fn oci_layer_type(media_type: &MediaType) -> MediaType {
    match media_type.as_ref() {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => MediaType::ImageLayerGzip,
        "application/vnd.docker.image.rootfs.diff.tar" => MediaType::ImageLayer,
        _ => media_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::image::store::tests::{rootfs_tar, store_with_image};

    fn layer_file(dir: &Path, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let path = dir.join("layer.tar");
        fs::write(&path, rootfs_tar(files)).unwrap();
        path
    }

    #[test]
    fn commit_adds_a_layer_and_a_history_entry() {
        let (dir, store, base_id) = store_with_image(&[("bin/sh", b"#!")], "box:1");
        let base = store.resolve("box:1").unwrap();
        let run_config = RunConfig {
            cmd: Some(vec!["top".into()]),
            ..Default::default()
        };
        let layer = layer_file(dir.path(), &[("etc/motd", b"hi")]);
        let id = store
            .commit(
                &base,
                &layer,
                CommitStep {
                    run_config: run_config.clone(),
                    comment: "a comment",
                    author: "me <me@example.com>",
                    created_by: "sh",
                    reference: Some("box:2"),
                },
            )
            .unwrap();
        assert_ne!(id, base_id);
        let image = store.resolve("box:2").unwrap();
        assert_eq!(image.id, id);
        assert_eq!(image.config.config, run_config);
        assert_eq!(image.config.author.as_deref(), Some("me <me@example.com>"));
        let diff_ids = &image.config.rootfs.diff_ids;
        assert_eq!(diff_ids.len(), 2);
        assert_eq!(diff_ids[0], base.config.rootfs.diff_ids[0]);
        assert_eq!(
            diff_ids[1],
            crate::image::layer::sha256_digest(&fs::read(&layer).unwrap())
        );
        let step = image.config.history.last().unwrap();
        assert_eq!(step.comment.as_deref(), Some("a comment"));
        assert_eq!(step.created_by.as_deref(), Some("sh"));
        assert_eq!(image.config.history.len(), base.config.history.len() + 1);
        // The new layer is unpacked over the base one, which is shared.
        assert_eq!(image.chain_ids[0], base.chain_ids[0]);
        let top = store
            .layers_root()
            .join(ImageStore::layer_dir_name(&image.chain_ids[1]));
        assert_eq!(fs::read(top.join("etc/motd")).unwrap(), b"hi");
        assert_eq!(store.manifest(&image).unwrap().layers().len(), 2);
    }

    #[test]
    fn commit_without_a_reference_makes_a_dangling_image() {
        let (dir, store, _) = store_with_image(&[("a", b"1")], "box:1");
        let base = store.resolve("box:1").unwrap();
        let layer = layer_file(dir.path(), &[("b", b"2")]);
        let id = store.commit(&base, &layer, CommitStep::default()).unwrap();
        let image = store.resolve(&id).unwrap();
        assert!(image.references.is_empty());
        assert_eq!(image.config.author, None);
        assert_eq!(image.config.history.last().unwrap().comment, None);
        assert!(matches!(
            store.commit(
                &base,
                &layer,
                CommitStep {
                    reference: Some("Bad"),
                    ..Default::default()
                }
            ),
            Err(ImageError::Reference(_))
        ));
    }

    #[test]
    fn docker_layer_types_become_oci_ones() {
        let docker_gzip = MediaType::from("application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert_eq!(oci_layer_type(&docker_gzip), MediaType::ImageLayerGzip);
        let docker_tar = MediaType::from("application/vnd.docker.image.rootfs.diff.tar");
        assert_eq!(oci_layer_type(&docker_tar), MediaType::ImageLayer);
        assert_eq!(
            oci_layer_type(&MediaType::ImageLayerZstd),
            MediaType::ImageLayerZstd
        );
    }

    #[test]
    fn prune_removes_dangling_images_unless_in_use_and_everything_with_all() {
        let (dir, store, base_id) = store_with_image(&[("a", b"1")], "box:1");
        let base = store.resolve("box:1").unwrap();
        let dangling = |name: &str, data: &[u8]| {
            let layer = layer_file(dir.path(), &[(name, data)]);
            store.commit(&base, &layer, CommitStep::default()).unwrap()
        };
        let unused = dangling("b", b"22");
        let used = dangling("c", b"333");
        let unused_layer = store.resolve(&unused).unwrap().chain_ids[1].clone();

        let (deleted, freed) = store
            .prune(|i| i.references.is_empty() && i.id != used)
            .unwrap();
        assert_eq!(deleted, vec![unused.clone()]);
        // Its layer blob (a 2-byte file in a tar) and unpacked layer went.
        assert!(freed >= 2, "{freed}");
        assert!(!store.has_layer(&unused_layer));
        assert!(store.has_layer(&base.chain_ids[0]), "shared layer stays");
        assert!(store.resolve(&used).is_ok());
        assert!(store.resolve("box:1").is_ok());

        let (deleted, _) = store.prune(|i| i.id != used).unwrap();
        assert_eq!(deleted, vec![base_id]);
        assert!(store.resolve("box:1").is_err());
        assert!(store.resolve(&used).is_ok());
        assert_eq!(store.prune(|_| true).unwrap().0, vec![used]);
        assert_eq!(store.prune(|_| true).unwrap(), (vec![], 0));
        assert_eq!(fs::read_dir(store.layers_root()).unwrap().count(), 0);
    }
}
