use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::image::{ImageIndex, ImageManifest};
use serde_json::{Value, json};

use super::*;
use crate::image::config::{ImageConfig, RootFs, RunConfig, host_architecture};
use crate::image::layer::{escaping_layer, sha256_digest};
use crate::image::store::tests::{rootfs_tar, store_with_image};
use crate::image::store::{ImageError, ImageStore};

const FILES: &[(&str, &[u8])] = &[("bin/sh", b"#!sh"), ("etc/passwd", b"root:x:0:0")];

/// A store with `busybox:latest` (also tagged `busybox:1`), `app:v1` (a
/// second layer on top of it) and an untagged image; returns the IDs.
fn source_store() -> (tempfile::TempDir, ImageStore, [String; 3]) {
    let (dir, store, busybox) = store_with_image(FILES, "busybox:latest");
    store.tag("busybox:latest", "busybox:1").unwrap();
    let base = store.resolve("busybox").unwrap();
    let commit = |files: &[(&str, &[u8])], reference: Option<&str>| {
        let layer = dir.path().join("layer.tar");
        fs::write(&layer, rootfs_tar(files)).unwrap();
        let run = RunConfig {
            cmd: Some(vec!["app".into()]),
            ..Default::default()
        };
        store
            .commit(
                &base,
                &layer,
                crate::image::commit::CommitStep {
                    run_config: run,
                    reference,
                    ..Default::default()
                },
            )
            .unwrap()
    };
    let app = commit(&[("usr/bin/app", b"app")], Some("app:v1"));
    let untagged = commit(&[("tmp/x", b"x")], None);
    (dir, store, [busybox, app, untagged])
}

fn fresh_store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("image")).unwrap();
    (dir, store)
}

fn save_bytes(store: &ImageStore, names: &[&str], format: SaveFormat) -> Vec<u8> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut out = Vec::new();
    save(store, &names, &mut out, format).unwrap();
    out
}

/// Every file of a tar, by path.
fn tar_files(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(data).entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            files.insert(path, content);
        }
    }
    files
}

/// A tar of the given files, in order.
fn make_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder.append_data(&mut header, path, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The same tar with each file passed through `edit` (None drops it);
/// other entries (directories, links) are kept.
fn rewrite(data: &[u8], mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in tar::Archive::new(data).entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        if !header.entry_type().is_file() {
            builder.append(&header, std::io::empty()).unwrap();
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        if let Some(content) = edit(&path, content) {
            header.set_size(content.len() as u64);
            header.set_cksum();
            builder.append(&header, &content[..]).unwrap();
        }
    }
    builder.into_inner().unwrap()
}

fn json_of(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(&files[name]).unwrap()
}

/// What a store holds: images with their tags, blob and layer names.
#[derive(Debug, PartialEq)]
struct Contents {
    images: Vec<(String, Vec<String>)>,
    blobs: Vec<String>,
    layers: Vec<String>,
}

fn contents(store: &ImageStore) -> Contents {
    let names = |dir: PathBuf| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let mut images: Vec<(String, Vec<String>)> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|i| (i.id.clone(), i.repo_tags()))
        .collect();
    images.sort();
    Contents {
        images,
        blobs: names(store.blob_path("sha256:x").parent().unwrap().to_path_buf()),
        layers: names(store.layers_root()),
    }
}

fn tmp_is_empty(store: &ImageStore) -> bool {
    let tmp = store.temp_path("probe");
    fs::read_dir(tmp.parent().unwrap()).unwrap().count() == 0
}

/// Loads `data`, expecting a refusal whose message contains `expected`,
/// and checks the store is as it was with nothing left in tmp/.
fn assert_refused(store: &ImageStore, data: &[u8], expected: &str) -> ImageError {
    let before = contents(store);
    let err = load(store, data).unwrap_err();
    assert!(
        err.to_string().contains(expected),
        "expected {expected:?} in: {err}"
    );
    assert_eq!(contents(store), before, "the store changed after: {err}");
    assert!(tmp_is_empty(store), "tmp/ not emptied after: {err}");
    err
}

/// Checks that `loaded` has the images of `source` named by `ids`, with the
/// same config bytes and layers, and that the first one's bottom layer (the
/// base all test images share) is unpacked.
fn assert_same_images(source: &ImageStore, loaded: &ImageStore, ids: &[String]) {
    for id in ids {
        let want = source.resolve(id).unwrap();
        let got = loaded.resolve(id).unwrap();
        assert_eq!(got.config, want.config);
        assert_eq!(loaded.read_blob(id).unwrap(), source.read_blob(id).unwrap());
        assert_eq!(got.chain_ids, want.chain_ids);
        for chain_id in &got.chain_ids {
            assert!(loaded.has_layer(chain_id));
        }
    }
    let busybox = loaded.resolve(&ids[0]).unwrap();
    let layer = loaded
        .layers_root()
        .join(ImageStore::layer_dir_name(&busybox.chain_ids[0]));
    assert_eq!(fs::read(layer.join("bin/sh")).unwrap(), b"#!sh");
}

#[test]
fn docker_format_round_trips_several_images_and_tags() {
    let (_src_dir, source, ids) = source_store();
    let [busybox, app, untagged] = &ids;
    // A repository name means all its tags; an ID saves the image untagged.
    let data = save_bytes(
        &source,
        &["busybox", "app:v1", untagged],
        SaveFormat::Docker,
    );
    let files = tar_files(&data);
    assert!(files.contains_key("oci-layout"));

    let manifest = json_of(&files, "manifest.json");
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0]["Config"],
        format!("blobs/sha256/{}", &busybox[7..])
    );
    assert_eq!(
        entries[0]["RepoTags"],
        json!(["busybox:1", "busybox:latest"])
    );
    assert_eq!(entries[1]["RepoTags"], json!(["app:v1"]));
    assert_eq!(entries[1]["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(entries[2]["RepoTags"], Value::Null);
    for layer in entries[1]["Layers"].as_array().unwrap() {
        assert!(files.contains_key(layer.as_str().unwrap()), "{layer}");
    }
    let repositories = json_of(&files, "repositories");
    assert!(repositories["busybox"]["latest"].is_string());
    // Shared blobs are written once.
    let blob_entries = tar::Archive::new(&data[..])
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| e.header().entry_type().is_file())
        .filter(|e| e.path().unwrap().starts_with("blobs/sha256"))
        .count();
    assert_eq!(
        blob_entries,
        files.keys().filter(|k| k.starts_with("blobs/")).count()
    );

    let (_dir, target) = fresh_store();
    let lines = load(&target, &data[..]).unwrap();
    assert_eq!(
        lines,
        vec![
            "Loaded image: busybox:1".to_string(),
            "Loaded image: busybox:latest".into(),
            "Loaded image: app:v1".into(),
            format!("Loaded image ID: {untagged}"),
        ]
    );
    assert_same_images(&source, &target, &ids);
    // Docker 25's layout inside is used: manifests keep their digests.
    for id in [busybox, app] {
        assert_eq!(
            target.resolve(id).unwrap().manifest_digest,
            source.resolve(id).unwrap().manifest_digest
        );
    }
    assert_eq!(target.resolve("busybox:1").unwrap().id, *busybox);
    assert!(target.resolve(untagged).unwrap().references.is_empty());
    assert!(tmp_is_empty(&target));

    // Loading again changes nothing and says the same.
    let before = contents(&target);
    assert_eq!(load(&target, &data[..]).unwrap(), lines);
    assert_eq!(contents(&target), before);
}

#[test]
fn oci_format_round_trips_with_ref_name_annotations() {
    let (_src_dir, source, ids) = source_store();
    let data = save_bytes(&source, &["busybox:latest", "app:v1"], SaveFormat::Oci);
    let files = tar_files(&data);
    assert!(!files.contains_key("manifest.json"));
    assert!(!files.contains_key("repositories"));
    assert_eq!(
        json_of(&files, "oci-layout"),
        json!({"imageLayoutVersion": "1.0.0"})
    );
    let index: ImageIndex = serde_json::from_slice(&files["index.json"]).unwrap();
    let names: Vec<(String, String)> = index
        .manifests()
        .iter()
        .map(|m| {
            let annotations = m.annotations().as_ref().unwrap();
            (
                annotations[ANNOTATION_IMAGE_NAME].clone(),
                annotations["org.opencontainers.image.ref.name"].clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("docker.io/library/busybox:latest".into(), "latest".into()),
            ("docker.io/library/app:v1".into(), "v1".into()),
        ]
    );

    let (_dir, target) = fresh_store();
    let lines = load(&target, &data[..]).unwrap();
    assert_eq!(
        lines,
        ["Loaded image: busybox:latest", "Loaded image: app:v1"]
    );
    assert_same_images(&source, &target, &ids[..2]);
    assert!(tmp_is_empty(&target));
}

#[test]
fn loading_over_a_tag_moves_it_and_says_so() {
    let (_src_dir, source, ids) = source_store();
    let data = save_bytes(&source, &["busybox:latest"], SaveFormat::Docker);
    let (_dir, target, old) = store_with_image(&[("other", b"1")], "busybox:latest");
    let lines = load(&target, &data[..]).unwrap();
    assert_eq!(
        lines,
        [
            format!(
                "The image busybox:latest already exists, renaming the old one with ID {old} to empty string"
            ),
            "Loaded image: busybox:latest".to_string(),
        ]
    );
    assert_eq!(target.resolve("busybox:latest").unwrap().id, ids[0]);
    assert!(target.resolve(&old).unwrap().references.is_empty());
}

#[test]
fn loads_a_gzip_compressed_archive() {
    let (_src_dir, source, ids) = source_store();
    let data = save_bytes(&source, &["busybox:latest"], SaveFormat::Docker);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    let (_dir, target) = fresh_store();
    let lines = load(&target, &gz.finish().unwrap()[..]).unwrap();
    assert_eq!(lines, ["Loaded image: busybox:latest"]);
    assert_same_images(&source, &target, &ids[..1]);
}

#[test]
fn save_refuses_unknown_images() {
    let (_src_dir, source, _) = source_store();
    let err = save(
        &source,
        &["nope:1".to_string()],
        Vec::new(),
        SaveFormat::Docker,
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn config_json(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&ImageConfig {
        architecture: host_architecture().into(),
        os: "linux".into(),
        config: RunConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: diff_ids.to_vec(),
        },
        ..Default::default()
    })
    .unwrap()
}

/// A tar as docker save wrote before Docker 25: `<id>.json` configs,
/// `<dir>/layer.tar` layers (a repeated one as a symlink, one gzipped) and
/// no OCI layout. Returns it with the two image IDs.
fn old_docker_archive() -> (Vec<u8>, String, String) {
    let base = rootfs_tar(FILES);
    let top = rootfs_tar(&[("usr/bin/app", b"app")]);
    let (base_diff, top_diff) = (sha256_digest(&base), sha256_digest(&top));
    let config_a = config_json(std::slice::from_ref(&base_diff));
    let config_b = config_json(&[base_diff.clone(), top_diff]);
    let (id_a, id_b) = (sha256_digest(&config_a), sha256_digest(&config_b));
    let manifest = json!([
        {"Config": format!("{}.json", &id_a[7..]), "RepoTags": ["old:1"], "Layers": ["a1/layer.tar"]},
        {"Config": format!("{}.json", &id_b[7..]), "RepoTags": ["old:2", "other/old:2"],
         "Layers": ["b1/layer.tar", "b2/layer.tar"]},
    ]);
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, data).unwrap();
    };
    add(&format!("{}.json", &id_a[7..]), &config_a);
    add(&format!("{}.json", &id_b[7..]), &config_b);
    add("a1/layer.tar", &base);
    add("a1/VERSION", b"1.0");
    add("a1/json", b"{}");
    add("b2/layer.tar", &gzip(&top));
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    add("repositories", br#"{"old":{"1":"a1"}}"#);
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "b1/layer.tar", "../a1/layer.tar")
        .unwrap();
    (builder.into_inner().unwrap(), id_a, id_b)
}

#[test]
fn loads_the_pre_docker_25_layout_with_symlinked_and_gzipped_layers() {
    let (data, id_a, id_b) = old_docker_archive();
    let (_dir, store) = fresh_store();
    let lines = load(&store, &data[..]).unwrap();
    assert_eq!(
        lines,
        [
            "Loaded image: old:1",
            "Loaded image: old:2",
            "Loaded image: other/old:2"
        ]
    );
    assert_eq!(store.resolve("old:1").unwrap().id, id_a);
    let b = store.resolve("other/old:2").unwrap();
    assert_eq!(b.id, id_b);
    let manifest: ImageManifest = store.manifest(&b).unwrap();
    assert_eq!(
        manifest.layers()[1].media_type(),
        &oci_spec::image::MediaType::ImageLayerGzip
    );
    let top = store
        .layers_root()
        .join(ImageStore::layer_dir_name(&b.chain_ids[1]));
    assert_eq!(fs::read(top.join("usr/bin/app")).unwrap(), b"app");
    assert!(tmp_is_empty(&store));
}

#[test]
fn refuses_a_corrupt_layer_in_the_old_layout() {
    let (data, _, _) = old_docker_archive();
    let corrupt = rewrite(&data, |path, mut content| {
        if path == "a1/layer.tar" {
            content[600] ^= 1;
        }
        Some(content)
    });
    let (_dir, store) = fresh_store();
    let err = assert_refused(&store, &corrupt, "digest");
    assert!(err.to_string().contains("a1/layer.tar"), "{err}");
}

#[test]
fn refuses_a_config_that_does_not_match_its_name() {
    let (data, id_a, _) = old_docker_archive();
    let config_name = format!("{}.json", &id_a[7..]);
    let corrupt = rewrite(&data, |path, content| {
        Some(if path == config_name {
            String::from_utf8(content)
                .unwrap()
                .replace("\"sh\"", "\"ls\"")
                .into_bytes()
        } else {
            content
        })
    });
    let (_dir, store) = fresh_store();
    let err = assert_refused(&store, &corrupt, "digest");
    assert!(err.to_string().contains(&config_name), "{err}");
}

/// A store with one image and its Docker-format archive.
fn archive_and_store() -> (Vec<u8>, String, (tempfile::TempDir, ImageStore)) {
    let (_src_dir, source, ids) = source_store();
    let data = save_bytes(&source, &["app:v1"], SaveFormat::Docker);
    let layer = source
        .manifest(&source.resolve(&ids[1]).unwrap())
        .unwrap()
        .layers()[1]
        .digest()
        .to_string();
    // The target already holds an image, which must survive refusals.
    let target = store_with_image(&[("keep", b"1")], "keep:1");
    (data, layer, (target.0, target.1))
}

#[test]
fn refuses_a_flipped_byte_in_a_layer_blob() {
    let (data, layer, (_dir, store)) = archive_and_store();
    let blob = format!("blobs/sha256/{}", &layer[7..]);
    let corrupt = rewrite(&data, |path, mut content| {
        if path == blob {
            content[700] ^= 0x20;
        }
        Some(content)
    });
    let err = assert_refused(&store, &corrupt, "digest");
    assert!(err.to_string().contains(&blob), "{err}");
}

#[test]
fn refuses_truncated_archives_and_garbage() {
    let (data, _, (_dir, store)) = archive_and_store();
    // Where the first blob's header and data are.
    let mut archive = tar::Archive::new(&data[..]);
    let blob = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.header().entry_type().is_file())
        .unwrap();
    let (header, start, size) = (
        blob.raw_header_position() as usize,
        blob.raw_file_position() as usize,
        blob.size() as usize,
    );
    let end = start + size.div_ceil(512) * 512;
    assert_refused(&store, &data[..start + size / 2], "truncated");
    assert_refused(&store, &data[..header + 100], "cannot read");
    assert_refused(&store, &data[..end], "not an image archive");
    assert_refused(&store, b"this is not a tar file at all", "cannot read");
    assert_refused(&store, &[0u8; 0], "not an image archive");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    assert_refused(&store, &garbage, "cannot read");
}

#[test]
fn refuses_archives_with_missing_files() {
    let (data, layer, (_dir, store)) = archive_and_store();
    let blob = format!("blobs/sha256/{}", &layer[7..]);
    let without_blob = rewrite(&data, |path, content| (path != blob).then_some(content));
    let err = assert_refused(&store, &without_blob, "not in it");
    assert!(err.to_string().contains(&blob), "{err}");

    let bad_manifest = rewrite(&data, |path, content| {
        if path != "manifest.json" {
            return Some(content);
        }
        let mut manifest: Value = serde_json::from_slice(&content).unwrap();
        manifest[0]["Layers"][0] = json!("nowhere/layer.tar");
        Some(serde_json::to_vec(&manifest).unwrap())
    });
    // The layout names the layers too; without it manifest.json is all.
    let bad_manifest = rewrite(&bad_manifest, |path, content| {
        (path != "index.json").then_some(content)
    });
    let err = assert_refused(&store, &bad_manifest, "nowhere/layer.tar");
    assert!(err.to_string().contains("manifest.json names"), "{err}");
}

#[test]
fn a_layer_that_fails_to_unpack_leaves_no_trace() {
    // The first layer unpacks; the second tries to write outside its
    // directory, which unpacking refuses only once the first is in place.
    let good = rootfs_tar(FILES);
    let evil = escaping_layer();
    let config = config_json(&[sha256_digest(&good), sha256_digest(&evil)]);
    let manifest = json!([{"Config": "config.json", "RepoTags": ["evil:1"],
                           "Layers": ["good.tar", "evil.tar"]}]);
    let data = make_tar(&[
        ("config.json".into(), config),
        ("good.tar".into(), good),
        ("evil.tar".into(), evil),
        (
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ]);
    let (_dir, store, _) = store_with_image(&[("keep", b"1")], "keep:1");
    assert_refused(&store, &data, "outside the layer");
}

/// The image's Oci archive unpacked into a directory, with the manifest
/// entry of its index.json.
fn oci_layout_dir(source: &ImageStore, name: &str, dir: &Path) -> Value {
    let data = save_bytes(source, &[name], SaveFormat::Oci);
    tar::Archive::new(&data[..]).unpack(dir).unwrap();
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0].clone()
}

fn write_blob(layout: &Path, data: &[u8]) -> (String, u64) {
    let digest = sha256_digest(data);
    fs::write(layout.join("blobs/sha256").join(&digest[7..]), data).unwrap();
    (digest, data.len() as u64)
}

/// A tar of a directory's content.
fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn picks_the_host_platform_from_a_nested_index() {
    let (_src_dir, source, ids) = source_store();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let entry = oci_layout_dir(&source, "busybox:latest", &layout);
    let other_arch = if host_architecture() == "s390x" {
        "amd64"
    } else {
        "s390x"
    };
    let missing = format!("sha256:{}", "0".repeat(64));
    let nested = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing,
             "size": 10, "platform": {"architecture": other_arch, "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing,
             "size": 10, "platform": {"architecture": "unknown", "os": "unknown"}},
            {"mediaType": entry["mediaType"], "digest": entry["digest"], "size": entry["size"],
             "platform": {"architecture": host_architecture(), "os": "linux"}},
        ]
    });
    let (digest, size) = write_blob(&layout, &serde_json::to_vec(&nested).unwrap());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size,
        "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}]});
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    let (_dir, target) = fresh_store();
    let lines = load(&target, &tar_dir(&layout)[..]).unwrap();
    assert_eq!(lines, ["Loaded image: multi:1"]);
    assert_eq!(target.resolve("multi:1").unwrap().id, ids[0]);

    // Without the host's entry the load is refused, naming the platform.
    let mut only_other = nested.clone();
    only_other["manifests"].as_array_mut().unwrap().truncate(2);
    let (digest, size) = write_blob(&layout, &serde_json::to_vec(&only_other).unwrap());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size}]});
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let (_dir, target) = fresh_store();
    assert_refused(
        &target,
        &tar_dir(&layout),
        &format!("no image for linux/{}", host_architecture()),
    );
}

/// `skopeo copy --insecure-policy SRC DST`; false (and a note) when skopeo
/// is not installed.
fn skopeo_copy(from: &str, to: &str) -> bool {
    let output = match Command::new("skopeo")
        .args(["copy", "--quiet", "--insecure-policy", from, to])
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            eprintln!("skipped: cannot run skopeo: {e}");
            return false;
        }
    };
    assert!(
        output.status.success(),
        "skopeo copy {from} {to}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

#[test]
fn loads_what_skopeo_writes() {
    let (_src_dir, source, ids) = source_store();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    oci_layout_dir(&source, "app:v1", &layout);
    let src = format!("oci:{}:v1", layout.display());
    let oci_archive = work.path().join("oci.tar");
    let tag_only = work.path().join("tag-only.tar");
    let docker_archive = work.path().join("docker.tar");
    if !skopeo_copy(
        &src,
        &format!("oci-archive:{}:app:v1", oci_archive.display()),
    ) {
        return;
    }
    skopeo_copy(&src, &format!("oci-archive:{}:v1", tag_only.display()));
    skopeo_copy(
        &src,
        &format!("docker-archive:{}:app:v1", docker_archive.display()),
    );

    // skopeo gzips the layers of an oci-archive and names the image in
    // org.opencontainers.image.ref.name only.
    let (_dir, target) = fresh_store();
    let lines = load(&target, fs::File::open(&oci_archive).unwrap()).unwrap();
    assert_eq!(lines, ["Loaded image: app:v1"]);
    assert_same_images(&source, &target, &ids[1..2]);
    assert!(tmp_is_empty(&target));

    // A bare tag names no repository: the image loads untagged.
    let (_dir, target) = fresh_store();
    let lines = load(&target, fs::File::open(&tag_only).unwrap()).unwrap();
    assert_eq!(lines, [format!("Loaded image ID: {}", ids[1])]);

    // docker-archive: <hex>.tar layers, symlinked <v1 id>/layer.tar, full
    // names in RepoTags.
    let (_dir, target) = fresh_store();
    let lines = load(&target, fs::File::open(&docker_archive).unwrap()).unwrap();
    assert_eq!(lines, ["Loaded image: app:v1"]);
    assert_same_images(&source, &target, &ids[1..2]);
    assert!(tmp_is_empty(&target));
}

#[test]
fn busybox_round_trips_when_available() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/busybox-rootfs.sh");
    let work = tempfile::tempdir().unwrap();
    let rootfs = work.path().join("busybox.tar");
    match Command::new("sh").arg(&script).arg(&rootfs).status() {
        Ok(status) if status.success() => {}
        other => {
            eprintln!("skipped: cannot build a busybox rootfs: {other:?}");
            return;
        }
    }
    let source = ImageStore::open(&work.path().join("source")).unwrap();
    let id = source
        .import(&rootfs, Some("busybox:latest"), &[], "")
        .unwrap();
    for format in [SaveFormat::Docker, SaveFormat::Oci] {
        let archive = work.path().join("saved.tar");
        save(
            &source,
            &["busybox:latest".to_string()],
            fs::File::create(&archive).unwrap(),
            format,
        )
        .unwrap();
        let (_dir, target) = fresh_store();
        let lines = load(&target, fs::File::open(&archive).unwrap()).unwrap();
        assert_eq!(lines, ["Loaded image: busybox:latest"]);
        let image = target.resolve("busybox:latest").unwrap();
        assert_eq!(image.id, id);
        let layer = target
            .layers_root()
            .join(ImageStore::layer_dir_name(&image.chain_ids[0]));
        assert_eq!(
            fs::read_link(layer.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert!(layer.join("bin/busybox").is_file());
    }
}
