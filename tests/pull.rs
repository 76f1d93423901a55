//! `hoist pull`, `push`, `login`, `logout` and `run`'s pull of a missing image,
//! against a real registry (Debian's docker-registry, filled with skopeo)
//! on loopback inside the test daemon's network namespace.

mod support;

use std::fs;

use support::Daemon;
use support::registry::{Auth, Registry};

/// A daemon that trusts the test registry's plain HTTP, with busybox and a
/// two-layer `app:v1` (busybox + a layer with /one and 2 MB of noise).
fn daemon_with_app() -> Daemon {
    let d = Daemon::start_with_args(&["--insecure-registry", "127.0.0.1:5000"]);
    d.import_busybox();
    commit_layer(
        &d,
        "busybox",
        "app:v1",
        "echo one > /one && head -c 2000000 /dev/urandom > /noise",
    );
    d
}

/// `target`: `base` plus the layer `script` makes (run, commit, rm).
fn commit_layer(d: &Daemon, base: &str, target: &str, script: &str) {
    d.ok(&["run", "--name", "builder", base, "sh", "-c", script]);
    d.ok(&["commit", "builder", target]);
    d.ok(&["rm", "builder"]);
}

/// Lines of `text` that contain `needle`.
fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The image is not in the store.
fn assert_not_stored(d: &Daemon, reference: &str) {
    let run = d.hoist(&["image", "inspect", reference]);
    assert_ne!(run.code, 0, "{reference} should not be stored");
}

/// Blobs a pull has begun but not finished (kept so the next one resumes).
fn partial_downloads(d: &Daemon) -> Vec<String> {
    fs::read_dir(d.dir.join("root/image/downloads"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pull_run_and_pull_again() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push(
        &format!("oci-archive:{}", save_oci(&d, "app:v1").display()),
        "team/app:v1",
        &["--dest-compress", "--dest-compress-format", "gzip"],
    );
    let digest = registry.manifest_digest("team/app", "v1");
    let image = registry.image("team/app:v1");
    // Same config, same image ID: drop the local one so the pull is fresh.
    d.ok(&["rmi", "app:v1"]);

    let pulled = d.ok(&["pull", &image]);
    assert!(
        pulled.starts_with("v1: Pulling from 127.0.0.1:5000/team/app\n"),
        "{pulled}"
    );
    assert_eq!(count(&pulled, ": Pull complete"), 2, "{pulled}");
    assert!(pulled.contains(&format!("Digest: {digest}\n")), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {image}\n")),
        "{pulled}"
    );
    assert!(pulled.ends_with(&format!("{image}\n")), "{pulled}");
    assert!(
        !pulled.contains("Downloading"),
        "no progress bars off a terminal: {pulled}"
    );

    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/one"]), "one\n");
    let inspect = d.inspect(&image);
    assert_eq!(
        inspect["RepoDigests"],
        serde_json::json!([format!("127.0.0.1:5000/team/app@{digest}")])
    );
    let listed = d.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
    ]);
    assert!(
        listed.contains(&format!("127.0.0.1:5000/team/app v1 {digest}")),
        "{listed}"
    );

    assert!(
        partial_downloads(&d).is_empty(),
        "{:?}",
        partial_downloads(&d)
    );

    let again = d.ok(&["pull", &image]);
    assert_eq!(count(&again, ": Already exists"), 2, "{again}");
    assert!(
        again.contains(&format!("Status: Image is up to date for {image}")),
        "{again}"
    );

    // By digest, quietly: the same image, known by its digest too.
    let by_digest = registry.image(&format!("team/app@{digest}"));
    assert_eq!(d.ok(&["pull", "-q", &by_digest]), format!("{by_digest}\n"));
    assert_eq!(d.inspect(&by_digest)["Id"], inspect["Id"]);

    // run pulls what is missing, on stderr, as Docker does.
    // The last tag goes with its digest reference, as in Docker.
    let removed = d.ok(&["rmi", &image]);
    assert!(
        removed.contains(&format!("Untagged: {image}"))
            && removed.contains(&format!("Untagged: {by_digest}"))
            && removed.contains("Deleted: sha256:"),
        "{removed}"
    );
    assert_not_stored(&d, &image);
    assert_not_stored(&d, &by_digest);
    let never = d.hoist(&["run", "--rm", "--pull", "never", &image, "true"]);
    assert_ne!(never.code, 0);
    assert!(never.stderr.contains("No such image"), "{}", never.stderr);
    let run = d.hoist(&["run", "--rm", &image, "cat", "/one"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "one\n");
    assert!(
        run.stderr
            .contains("Unable to find image '127.0.0.1:5000/team/app:v1' locally"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Pull complete"), "{}", run.stderr);
    // -q pulls without a word.
    d.ok(&["rmi", &image]);
    let quiet = d.hoist(&["run", "--rm", "-q", &image, "cat", "/one"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(
        (quiet.stdout.as_str(), quiet.stderr.as_str()),
        ("one\n", "")
    );
}

/// The digest of the top layer of `image` in `registry`, and the file the
/// registry keeps it in.
fn top_layer_of(registry: &Registry, image: &str) -> (String, std::path::PathBuf) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry.raw_manifest(image)).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    let digest = layers[layers.len() - 1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = registry.blob_path(&digest);
    (digest, blob)
}

/// Saves `image` as an OCI archive under the test directory.
fn save_oci(d: &Daemon, image: &str) -> std::path::PathBuf {
    let archive = d
        .dir
        .join(format!("{}.oci.tar", image.replace([':', '/'], "_")));
    d.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        archive.to_str().unwrap(),
        image,
    ]);
    archive
}

/// Unpacks an OCI archive into a layout directory.
fn layout_of(d: &Daemon, image: &str) -> std::path::PathBuf {
    let layout = d
        .dir
        .join(format!("{}.layout", image.replace([':', '/'], "_")));
    fs::create_dir_all(&layout).unwrap();
    tar::Archive::new(fs::File::open(save_oci(d, image)).unwrap())
        .unpack(&layout)
        .unwrap();
    layout
}

#[test]
fn zstd_layers_and_multi_platform_indexes() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    let layout = layout_of(&d, "app:v1");
    registry.push(
        &format!("oci:{}:v1", layout.display()),
        "team/zstd:1",
        &["--dest-compress", "--dest-compress-format", "zstd"],
    );
    let zstd = registry.raw_manifest("team/zstd:1");
    assert!(
        String::from_utf8_lossy(&zstd).contains("tar+zstd"),
        "skopeo did not make zstd layers"
    );
    let image = registry.image("team/zstd:1");
    d.ok(&["pull", &image]);
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/one"]), "one\n");

    // An index with the image for two platforms (the same manifest twice
    // is enough to tell which entry was chosen by the digest recorded).
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0].clone();
    let entry = |arch: &str| {
        let mut e = manifest.clone();
        e.as_object_mut().unwrap().remove("annotations");
        e["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
        e
    };
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry("arm64"), entry("amd64")],
    });
    let bytes = serde_json::to_vec(&nested).unwrap();
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    fs::write(layout.join("blobs/sha256").join(&hex), &bytes).unwrap();
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{hex}"),
            "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }],
    });
    fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    registry.push(
        &format!("oci:{}:multi", layout.display()),
        "team/multi:1",
        &["--all"],
    );
    let index_digest = registry.manifest_digest("team/multi", "1");
    let multi = registry.image("team/multi:1");

    let pulled = d.ok(&["pull", "--platform", "linux/arm64", &multi]);
    assert!(
        pulled.contains(&format!("Digest: {index_digest}")),
        "{pulled}"
    );
    assert_eq!(d.ok(&["run", "--rm", &multi, "cat", "/one"]), "one\n");
    let wrong = d.hoist(&["pull", "--platform", "linux/s390x", &multi]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains(
            "no matching manifest for linux/s390x in the manifest list entries (available: linux/arm64/v8, linux/amd64)"
        ) || wrong.stderr.contains("(available: linux/arm64, linux/amd64)"),
        "{}",
        wrong.stderr
    );
    let bad = d.hoist(&["pull", "--platform", "linux/", &multi]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("invalid platform"), "{}", bad.stderr);

    // `manifest inspect`: the registry's document as it is (its key order
    // kept, indented as Docker indents it), nothing pulled.
    let shown = d.ok(&["manifest", "inspect", &image]);
    let as_json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(
        as_json(&shown),
        serde_json::from_slice::<serde_json::Value>(&zstd).unwrap()
    );
    assert!(shown.starts_with("{\n\t\"schemaVersion\": 2,"), "{shown}");
    let verbose = as_json(&d.ok(&["manifest", "inspect", "-v", &image]));
    assert_eq!(verbose["Ref"], format!("{image}"));
    let digest = {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&zstd)))
    };
    assert_eq!(verbose["Descriptor"]["digest"], digest.as_str());
    assert_eq!(verbose["Descriptor"]["size"], zstd.len());
    assert!(
        verbose["OCIManifest"]["layers"]
            .as_array()
            .is_some_and(|l| !l.is_empty()),
        "{verbose}"
    );
    let list = as_json(&d.ok(&["manifest", "inspect", &multi]));
    assert_eq!(
        list["manifests"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
    let each = as_json(&d.ok(&["manifest", "inspect", "--verbose", &multi]));
    let arches: Vec<&str> = each
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["Descriptor"]["platform"]["architecture"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(arches, ["arm64", "amd64"]);
    // buildx imagetools inspect: buildx's summary, the raw bytes, a template.
    let summary = d.ok(&["buildx", "imagetools", "inspect", &multi]);
    assert!(
        summary.contains(&format!("Digest:    {index_digest}")),
        "{summary}"
    );
    assert!(
        summary.contains("Platform:  linux/arm64") && summary.contains("Platform:  linux/amd64"),
        "{summary}"
    );
    let raw = d.ok(&["buildx", "imagetools", "inspect", "--raw", &image]);
    assert_eq!(raw.trim_end().as_bytes(), zstd.as_slice());
    let media = d.ok(&[
        "buildx",
        "imagetools",
        "inspect",
        "--format",
        "{{.Manifest.mediaType}}",
        &multi,
    ]);
    assert_eq!(media.trim(), "application/vnd.oci.image.index.v1+json");
    let missing = d.hoist(&["manifest", "inspect", &registry.image("team/none:1")]);
    assert_eq!(missing.code, 1, "{}", missing.stdout);
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);
}

#[test]
fn damaged_and_missing_content_is_refused_cleanly() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    let image = registry.image("team/app:v1");
    let (top_layer, blob) = top_layer_of(&registry, "team/app:v1");
    let original = fs::read(&blob).unwrap();
    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    fs::write(&blob, &tampered).unwrap();

    let run = d.hoist(&["pull", &image]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("expected {top_layer}"))
            && run.stderr.contains("failed verification")
            && run.stderr.contains("nothing was stored"),
        "{}",
        run.stderr
    );
    assert_not_stored(&d, &image);
    let tampered_hex = top_layer.trim_start_matches("sha256:");
    assert!(
        !partial_downloads(&d)
            .iter()
            .any(|p| p.starts_with(tampered_hex)),
        "the damaged blob was kept: {:?}",
        partial_downloads(&d)
    );

    // Repaired, the next pull finishes what the first one started.
    fs::write(&blob, &original).unwrap();
    let pulled = d.ok(&["pull", &image]);
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    assert!(
        partial_downloads(&d).is_empty(),
        "{:?}",
        partial_downloads(&d)
    );
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/one"]), "one\n");

    let missing_tag = d.hoist(&["pull", &registry.image("team/app:nope")]);
    assert_eq!(missing_tag.code, 1);
    assert!(
        missing_tag
            .stderr
            .contains("manifest for 127.0.0.1:5000/team/app:nope not found: manifest unknown"),
        "{}",
        missing_tag.stderr
    );
    let missing_repo = d.hoist(&["pull", &registry.image("nobody/here:1")]);
    assert!(
        missing_repo
            .stderr
            .contains("manifest for 127.0.0.1:5000/nobody/here:1 not found"),
        "{}",
        missing_repo.stderr
    );
    let nobody = d.hoist(&["pull", "127.0.0.1:5999/team/app:v1"]);
    assert_eq!(nobody.code, 1);
    assert!(
        nobody
            .stderr
            .contains("cannot reach registry 127.0.0.1:5999")
            && nobody.stderr.contains("nothing listens there"),
        "{}",
        nobody.stderr
    );
    // The same registry by a name not marked insecure: HTTPS only.
    let untrusted = d.hoist(&["pull", "localhost:5000/team/app:v1"]);
    assert_eq!(untrusted.code, 1);
    assert!(
        untrusted.stderr.contains("--insecure-registry"),
        "{}",
        untrusted.stderr
    );
}

/// Pull needs credentials; login checks and stores them, logout forgets
/// them, and a Docker config.json is honoured too.
fn credentials_flow(auth: Auth) {
    let d = daemon_with_app();
    let registry = Registry::start(&d, auth);
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    let image = registry.image("team/app:v1");
    let (user, password) = registry.auth.credentials().unwrap();

    let denied = d.hoist(&["pull", &image]);
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.contains(
            "pull access denied for 127.0.0.1:5000/team/app: repository does not exist or may require 'hoist login'"
        ),
        "{}",
        denied.stderr
    );

    let wrong = d.hoist_with_input(
        &["login", "127.0.0.1:5000", "-u", user, "--password-stdin"],
        b"wrong\n",
    );
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("login to 127.0.0.1:5000 failed: unauthorized"),
        "{}",
        wrong.stderr
    );
    let login = d.hoist_with_input(
        &["login", "127.0.0.1:5000", "-u", user, "--password-stdin"],
        format!("{password}\n").as_bytes(),
    );
    assert_eq!(login.code, 0, "{}", login.stderr);
    assert_eq!(login.stdout, "Login Succeeded\n");
    let stored = fs::read_to_string(d.dir.join("hoist-config/config.json")).unwrap();
    assert!(stored.contains("\"127.0.0.1:5000\""), "{stored}");

    d.ok(&["pull", &image]);
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/one"]), "one\n");

    assert_eq!(
        d.ok(&["logout", "127.0.0.1:5000"]),
        "Removing login credentials for 127.0.0.1:5000\n"
    );
    d.ok(&["rmi", &image]);
    assert_eq!(d.hoist(&["pull", &image]).code, 1);

    // Credentials a Docker client left behind work as they are.
    let docker = d.dir.join("docker-config");
    fs::create_dir_all(&docker).unwrap();
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths": {{"http://127.0.0.1:5000/": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    d.ok(&["pull", &image]);
}

#[test]
fn basic_auth_login_and_logout() {
    credentials_flow(Auth::htpasswd("ci", "s3cret"));
}

#[test]
fn token_auth_follows_the_challenge() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::token("ci", "s3cret"));
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    let before = registry.token_requests();
    let image = registry.image("team/app:v1");
    let docker = d.dir.join("docker-config");
    fs::create_dir_all(&docker).unwrap();
    fs::write(
        docker.join("config.json"),
        r#"{"auths": {"127.0.0.1:5000": {"username": "ci", "password": "s3cret"}}}"#,
    )
    .unwrap();
    d.ok(&["pull", &image]);
    assert!(
        registry.token_requests() > before,
        "the pull never asked the token server"
    );
    drop(registry);
    drop(d);
    credentials_flow(Auth::token("ci", "s3cret"));
}

#[test]
fn a_half_fetched_blob_is_resumed() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    d.ok(&["rmi", "app:v1"]);
    let image = registry.image("team/app:v1");
    let (top_layer, blob) = top_layer_of(&registry, "team/app:v1");
    let original = fs::read(&blob).unwrap();
    let half = original.len() / 2;
    // What an interrupted pull left: the first half, in the store.
    let downloads = d.dir.join("root/image/downloads");
    fs::create_dir_all(&downloads).unwrap();
    let partial = downloads.join(format!(
        "{}.partial",
        top_layer.trim_start_matches("sha256:")
    ));
    fs::write(&partial, &original[..half]).unwrap();
    // The registry's first half is now garbage: only a pull that asks for
    // the rest (a Range request from byte `half`) can end up verified.
    let mut damaged = original.clone();
    damaged[..half].iter_mut().for_each(|b| *b = !*b);
    fs::write(&blob, &damaged).unwrap();

    let pulled = d.ok(&["pull", &image]);
    assert_eq!(count(&pulled, ": Pull complete"), 2, "{pulled}");
    assert!(!partial.exists());
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/one"]), "one\n");
}

#[test]
fn push_uploads_mounts_and_pulls_back_identical() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    // A third layer larger than one upload chunk (5 MiB).
    commit_layer(
        &d,
        "app:v1",
        "app:v2",
        "head -c 6000000 /dev/urandom > /big",
    );
    let id = d.image_id("app:v2");
    let image = registry.image("team/app:dev");
    d.ok(&["tag", "app:v2", &image]);

    let pushed = d.ok(&["push", &image]);
    assert!(
        pushed.starts_with("The push refers to repository [127.0.0.1:5000/team/app]\n"),
        "{pushed}"
    );
    assert_eq!(count(&pushed, ": Pushed"), 3, "{pushed}");
    let digest = registry.manifest_digest("team/app", "dev");
    let pushed_manifest = String::from_utf8(registry.raw_manifest("team/app:dev")).unwrap();
    assert_eq!(
        pushed_manifest
            .matches("application/vnd.oci.image.layer.v1.tar+gzip")
            .count(),
        3,
        "layers go gzipped: {pushed_manifest}"
    );
    assert!(
        pushed.contains(&format!("dev: digest: {digest} size: ")),
        "{pushed}"
    );
    assert!(
        d.log().contains("uploading in chunks"),
        "the 6 MB layer should go in chunks"
    );
    let again = d.ok(&["push", &image]);
    assert_eq!(count(&again, ": Layer already exists"), 3, "{again}");

    // Another repository of the same registry gets the layers mounted.
    let other = registry.image("team/other:1");
    d.ok(&["tag", "app:v2", &other]);
    let mounted = d.ok(&["push", &other]);
    assert_eq!(count(&mounted, ": Mounted from team/app"), 3, "{mounted}");

    // What was pushed pulls back as the same image, by digest.
    for name in ["app:v2", &image, &other] {
        d.ok(&["rmi", name]);
    }
    d.ok(&["rmi", "app:v1"]);
    assert_not_stored(&d, &id);
    let by_digest = registry.image(&format!("team/app@{digest}"));
    d.ok(&["pull", &by_digest]);
    assert_eq!(d.image_id(&by_digest), id);
    assert_eq!(d.ok(&["run", "--rm", &by_digest, "cat", "/one"]), "one\n");

    let missing = d.hoist(&["push", &registry.image("team/nothing:1")]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("No such image"),
        "{}",
        missing.stderr
    );
}

#[test]
fn push_needs_credentials_behind_token_auth() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::token("ci", "s3cret"));
    let image = registry.image("team/app:v1");
    d.ok(&["tag", "app:v1", &image]);
    let denied = d.hoist(&["push", &image]);
    assert_eq!(denied.code, 1);
    assert!(
        denied
            .stderr
            .contains("push access denied for 127.0.0.1:5000/team/app"),
        "{}",
        denied.stderr
    );
    let before = registry.token_requests();
    let login = d.hoist_with_input(
        &["login", "127.0.0.1:5000", "-u", "ci", "--password-stdin"],
        b"s3cret\n",
    );
    assert_eq!(login.code, 0, "{}", login.stderr);
    let pushed = d.ok(&["push", &image]);
    assert_eq!(count(&pushed, ": Pushed"), 2, "{pushed}");
    assert!(registry.token_requests() > before);
    assert_eq!(
        registry.manifest_digest("team/app", "v1"),
        d.inspect(&image)["RepoDigests"][0]
            .as_str()
            .unwrap()
            .split_once('@')
            .unwrap()
            .1
    );
}

#[test]
fn progress_redraws_on_a_terminal_and_registry_failures_are_named() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    d.ok(&["rmi", "app:v1"]);
    let image = registry.image("team/app:v1");
    let (screen, code) = d.in_pty(&["pull", &image], &[], std::time::Duration::from_millis(0));
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Downloading ["),
        "no progress bar: {screen}"
    );
    assert!(
        screen.contains("\x1b[2K"),
        "lines are not redrawn: {screen:?}"
    );
    assert!(screen.contains("Pull complete"), "{screen}");

    // The registry fails (its tag link is unreadable): a 5xx, named as such.
    let link = registry
        .storage
        .join("docker/registry/v2/repositories/team/app/_manifests/tags/v1/current/link");
    fs::remove_file(&link).unwrap();
    fs::create_dir(&link).unwrap();
    let failed = d.hoist(&["pull", &image]);
    assert_eq!(failed.code, 1);
    assert!(
        failed
            .stderr
            .contains("registry 127.0.0.1:5000 answered 500")
            && failed.stderr.contains("try again later"),
        "{}",
        failed.stderr
    );
}

/// The issue's whole round: pull (by a build's FROM), run, build on top,
/// push, delete locally, pull back, run.
#[test]
fn build_on_a_pulled_image_push_and_pull_back() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push_daemon_image(&d, "app:v1", "team/base:1");
    d.ok(&["rmi", "app:v1"]);
    let base = registry.image("team/base:1");
    let context = d.dir.join("ctx");
    fs::create_dir_all(&context).unwrap();
    fs::write(
        context.join("Dockerfile"),
        format!("FROM {base}\nRUN cat /one > /two\nCMD [\"cat\", \"/two\"]\n"),
    )
    .unwrap();
    let image = registry.image("team/derived:1");
    let built = d.ok(&["build", "-t", &image, context.to_str().unwrap()]);
    assert!(
        built.contains("Pulling from 127.0.0.1:5000/team/base"),
        "{built}"
    );
    assert_eq!(d.ok(&["run", "--rm", &base, "cat", "/one"]), "one\n");
    assert_eq!(d.ok(&["run", "--rm", &image]), "one\n");
    let id = d.image_id(&image);
    let pushed = d.ok(&["push", &image]);
    assert!(pushed.contains("Mounted from team/base"), "{pushed}");
    for name in [&image, &base] {
        d.ok(&["rmi", name]);
    }
    assert_not_stored(&d, &id);
    d.ok(&["pull", &image]);
    assert_eq!(d.image_id(&image), id);
    assert_eq!(d.ok(&["run", "--rm", &image]), "one\n");
}

#[test]
fn build_push_sends_each_tag_to_its_registry() {
    let d = Daemon::start_with_args(&["--insecure-registry", "127.0.0.1:5000"]);
    d.import_busybox();
    let registry = Registry::start(&d, Auth::Anonymous);
    let context = d.dir.join("ctx");
    fs::create_dir_all(&context).unwrap();
    fs::write(
        context.join("Dockerfile"),
        "FROM busybox\nRUN echo pushed > /said\n",
    )
    .unwrap();
    let image = registry.image("team/built:1");
    let built = d.hoist(&["build", "-t", &image, "--push", context.to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    let id = d.image_id(&image);
    d.ok(&["rmi", &image]);
    d.ok(&["pull", "-q", &image]);
    assert_eq!(d.image_id(&image), id);
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/said"]), "pushed\n");

    // compose build --push: the service's image and its build.tags.
    let (main, extra) = (
        registry.image("team/composed:1"),
        registry.image("team/composed:extra"),
    );
    let file = d.dir.join("compose.yaml");
    fs::write(
        &file,
        format!(
            "services:\n  app:\n    image: {main}\n    build:\n      context: {}\n      tags: [\"{extra}\"]\n  local:\n    build: {}\n",
            context.display(),
            context.display()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let pushed = d.hoist(&["compose", "-f", file, "build", "--push"]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    for tag in [&main, &extra] {
        d.ok(&["rmi", tag]);
        d.ok(&["pull", "-q", tag]);
        assert_eq!(d.ok(&["run", "--rm", tag, "cat", "/said"]), "pushed\n");
    }
}

#[test]
fn add_fetches_urls_checks_their_checksum_and_never_unpacks_them() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    registry.push_daemon_image(&d, "app:v1", "team/app:v1");
    // A layer blob, served by the registry over plain HTTP: a gzipped tar.
    let (digest, blob) = top_layer_of(&registry, "team/app:v1");
    let url = format!(
        "http://{}",
        registry.image(&format!("v2/team/app/blobs/{digest}"))
    );
    let context = d.dir.join("ctx");
    fs::create_dir_all(&context).unwrap();
    let dockerfile = |checksum: &str| {
        fs::write(
            context.join("Dockerfile"),
            format!(
                "FROM busybox\n\
                 ADD {checksum} {url} /fetched/\n\
                 ADD {url} /named.tgz\n\
                 RUN stat -c %a /fetched/{digest} > /mode && sha256sum /named.tgz > /sum\n"
            ),
        )
        .unwrap()
    };
    dockerfile(&format!("--checksum={digest}"));
    let built = d.hoist(&["build", "-t", "added:1", context.to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    let show = |path: &str| d.ok(&["run", "--rm", "added:1", "cat", path]);
    assert_eq!(show("/mode"), "600\n");
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(show("/sum"), format!("{hex}  /named.tgz\n"));
    assert_eq!(
        fs::read(&blob).unwrap().len().to_string() + "\n",
        d.ok(&[
            "run",
            "--rm",
            "added:1",
            "sh",
            "-c",
            &format!("wc -c < /fetched/{digest}")
        ])
    );
    // Same content at the same URL: cached.
    let again = d.hoist(&["build", "-t", "added:1", context.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.matches(" CACHED").count(),
        3,
        "{}",
        again.stdout
    );

    // A wrong checksum, a missing blob: the step and what went wrong.
    dockerfile(&format!("--checksum=sha256:{}", "0".repeat(64)));
    let wrong = d.hoist(&["build", context.to_str().unwrap()]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("Dockerfile:2: ADD")
            && wrong.stderr.contains("does not match --checksum"),
        "{}",
        wrong.stderr
    );
    fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM busybox\nADD http://{} /x\n",
            registry.image(&format!("v2/team/app/blobs/sha256:{}", "1".repeat(64)))
        ),
    )
    .unwrap();
    let missing = d.hoist(&["build", context.to_str().unwrap()]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);
}

#[test]
fn push_and_pull_every_tag_of_a_repository() {
    let d = daemon_with_app();
    let registry = Registry::start(&d, Auth::Anonymous);
    let repository = registry.image("team/all");
    for tag in ["1", "2"] {
        d.ok(&["tag", "app:v1", &format!("{repository}:{tag}")]);
    }
    d.ok(&["tag", "busybox", &registry.image("team/other:1")]);
    let pushed = d.ok(&["push", "-q", "--all-tags", &repository]);
    assert_eq!(
        pushed.lines().collect::<Vec<_>>(),
        [format!("{repository}:1"), format!("{repository}:2")]
    );
    d.assert_fails(
        &["push", "-a", &format!("{repository}:1")],
        "tag can't be used with --all-tags",
    );
    d.assert_fails(
        &["push", "-a", &registry.image("team/none")],
        "does not exist locally",
    );
    for tag in ["1", "2"] {
        d.ok(&["rmi", &format!("{repository}:{tag}")]);
    }
    let pulled = d.ok(&["pull", "-q", "-a", &repository]);
    assert!(pulled.trim_end().ends_with(&repository), "{pulled}");
    for tag in ["1", "2"] {
        assert_eq!(
            d.ok(&["run", "--rm", &format!("{repository}:{tag}"), "cat", "/one"]),
            "one\n"
        );
    }
    // Only the named repository went: the other one is not in the registry.
    d.assert_fails(
        &["manifest", "inspect", &registry.image("team/other:1")],
        "not found",
    );
    d.assert_fails(&["pull", "-a", &registry.image("team/none")], "team/none");
}
