//! Compressing an image's plain-tar layers for distribution, as Docker
//! does before a push: imported and committed layers are stored as plain
//! tars (their digest is their diff ID), which would cost their full size
//! on the wire and in the registry.
//!
//! The image keeps its ID (the config, and so the diff IDs, do not
//! change); it gets a new manifest naming gzip blobs, and that manifest is
//! what is pushed, so the pushed image pulls back byte-identical. Doing it
//! once in the store means later pushes find it done.

use std::fs::{self, File};
use std::io;

use flate2::Compression;
use flate2::write::GzEncoder;
use oci_spec::image::MediaType;

use super::store::{BlobInfo, Image, ImageError, ImageStore, NewImage, descriptor, image_manifest};
use super::tario::{CountingWriter, HashingWriter};

/// Layer media types that name an uncompressed tar.
const PLAIN_LAYER_TYPES: [&str; 2] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
];

impl ImageStore {
    /// Gives `image` a manifest whose layers are all compressed, gzipping
    /// (once) every plain-tar layer; returns the image as it now is. An
    /// image without plain layers is returned as it was.
    pub fn compress_layers(&self, image: &Image) -> Result<Image, ImageError> {
        let manifest = self.manifest(image)?;
        let plain = |media_type: &MediaType| PLAIN_LAYER_TYPES.contains(&media_type.as_ref());
        if !manifest.layers().iter().any(|l| plain(l.media_type())) {
            return Ok(image.clone());
        }
        // New blobs are pinned until the new manifest is recorded.
        let mut pinned = self.pin([]);
        let mut layers = Vec::with_capacity(manifest.layers().len());
        for layer in manifest.layers() {
            let digest = layer.digest().to_string();
            if plain(layer.media_type()) {
                let gzip = self.gzip_blob(&digest)?;
                pinned.add([gzip.digest.clone()]);
                layers.push(descriptor(MediaType::ImageLayerGzip, &gzip)?);
            } else {
                layers.push(layer.clone());
            }
        }
        let config = BlobInfo {
            digest: manifest.config().digest().to_string(),
            size: manifest.config().size(),
        };
        let compressed = image_manifest(&config, layers)?;
        let bytes = serde_json::to_vec(&compressed).map_err(io::Error::other)?;
        pinned.add([super::layer::sha256_digest(&bytes)]);
        let blob = self.put_bytes(&bytes)?;
        self.record_images(&[NewImage {
            id: image.id.clone(),
            manifest: blob.digest,
            references: Vec::new(),
        }])?;
        self.resolve(&image.id)
    }

    /// Stores the gzip of blob `digest`; returns the new blob.
    fn gzip_blob(&self, digest: &str) -> Result<BlobInfo, ImageError> {
        let tmp = self.temp_path("gzip");
        let result = (|| {
            let mut source = File::open(self.blob_path(digest))?;
            let out = CountingWriter::new(HashingWriter::new(File::create(&tmp)?));
            let mut encoder = GzEncoder::new(out, Compression::default());
            io::copy(&mut source, &mut encoder)?;
            let out = encoder.finish()?;
            let size = out.written();
            let (digest, file) = out.into_inner().finish();
            file.sync_data()?;
            self.insert_blob(&tmp, &digest)?;
            Ok(BlobInfo { digest, size })
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use crate::image::layer::decompressed;
    use crate::image::store::tests::store_with_image;

    #[test]
    fn plain_layers_become_gzip_and_the_image_keeps_its_id() {
        let (_dir, store, id) = store_with_image(&[("etc/motd", b"hello")], "box:1");
        let image = store.resolve("box:1").unwrap();
        let compressed = store.compress_layers(&image).unwrap();
        assert_eq!(compressed.id, id);
        assert_ne!(compressed.manifest_digest, image.manifest_digest);
        let manifest = store.manifest(&compressed).unwrap();
        let layer = &manifest.layers()[0];
        assert_eq!(
            layer.media_type().to_string(),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let gz = store.read_blob(layer.digest().as_ref()).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let mut plain = Vec::new();
        decompressed(&gz[..])
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(
            crate::image::layer::sha256_digest(&plain),
            compressed.config.rootfs.diff_ids[0]
        );
        // Done once: the second call changes nothing.
        let again = store.compress_layers(&compressed).unwrap();
        assert_eq!(again.manifest_digest, compressed.manifest_digest);
        assert_eq!(store.resolve("box:1").unwrap().id, id);
    }
}
