//! Image commands: import, images, tag, history, inspect, rmi.

mod support;

use std::fs;

use support::Daemon;

fn busybox_tar(d: &Daemon) -> String {
    let path = d.dir.join("busybox.tar");
    assert!(path.exists(), "with_busybox made it");
    path.display().to_string()
}

#[test]
fn import_honours_changes_and_compression() {
    let d = Daemon::with_busybox();
    let tar = busybox_tar(&d);
    // gzip is recognised; --change sets the config; -m the history comment.
    let gz = d.dir.join("busybox.tar.gz");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c {tar} > {}", gz.display()))
        .status()
        .unwrap();
    assert!(status.success());
    d.ok(&[
        "import",
        "-c",
        "ENV PATH=/bin",
        "-c",
        "ENTRYPOINT [\"echo\", \"from-entrypoint\"]",
        "-c",
        "CMD [\"default-arg\"]",
        "-c",
        "WORKDIR /srv",
        "-c",
        "USER www-data",
        "-c",
        "EXPOSE 8080",
        "-c",
        "STOPSIGNAL SIGUSR1",
        "-c",
        "LABEL team=core",
        "-m",
        "hello import",
        gz.to_str().unwrap(),
        "configured:1",
    ]);
    assert_eq!(
        d.ok(&["run", "--rm", "configured:1"]),
        "from-entrypoint default-arg\n"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "configured:1", "other"]),
        "from-entrypoint other\n"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "--entrypoint", "pwd", "configured:1"]),
        "/srv\n"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "--entrypoint", "id", "configured:1", "-u"]),
        "33\n"
    );
    d.ok(&["create", "--name", "c", "configured:1"]);
    let config = &d.inspect("c")["Config"];
    assert_eq!(config["StopSignal"], "SIGUSR1");
    assert_eq!(config["Labels"]["team"], "core");
    assert!(config["ExposedPorts"].get("8080/tcp").is_some());
    d.ok(&["rm", "c"]);
    let history = d.ok(&["history", "--no-trunc", "configured:1"]);
    assert!(history.contains("hello import"), "{history}");
    // From stdin.
    let run = d.hoist_with_input(&["import", "-", "fromstdin"], &fs::read(&tar).unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(d.ok(&["images", "fromstdin"]).contains("fromstdin"));
}

#[test]
fn images_tag_inspect_and_rmi() {
    let d = Daemon::with_busybox();
    d.ok(&["tag", "busybox", "registry.example:5000/team/box:v1"]);
    let list = d.ok(&["images"]);
    assert!(list.starts_with("REPOSITORY"), "{list}");
    assert!(
        list.contains("registry.example:5000/team/box   v1"),
        "{list}"
    );
    let ids: Vec<String> = d
        .ok(&["images", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 1, "one image, two names");
    let json = support::json_lines(&d.ok(&["images", "--format", "json"]));
    assert_eq!(json.len(), 2);
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"]),
        "busybox:latest\n"
    );
    let inspect: Vec<serde_json::Value> =
        serde_json::from_str(&d.ok(&["image", "inspect", "busybox"])).unwrap();
    assert!(inspect[0]["Id"].as_str().unwrap().contains(&ids[0]));
    assert_eq!(inspect[0]["Config"]["Env"][0], "PATH=/bin");
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(d.ok(&["inspect", "-f", "{{.Os}}", "busybox"]), "linux\n");
    // rmi by ID refuses an image with several names; by name it untags.
    let run = d.hoist(&["rmi", &ids[0]]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("referenced in multiple repositories"),
        "{}",
        run.stderr
    );
    assert_eq!(
        d.ok(&["rmi", "registry.example:5000/team/box:v1"]),
        "Untagged: registry.example:5000/team/box:v1\n"
    );
    // An image a container uses is kept unless forced.
    d.ok(&["create", "--name", "user", "busybox", "true"]);
    let run = d.hoist(&["rmi", "busybox"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("being used by container"),
        "{}",
        run.stderr
    );
    d.ok(&["rm", "user"]);
    let out = d.ok(&["rmi", "busybox"]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert!(d.ok(&["images", "-q"]).is_empty());
    let layers = fs::read_dir(d.dir.join("root/image/layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 0, "the layer went with the image");
}

#[test]
fn bad_image_input_is_refused_cleanly() {
    let d = Daemon::with_busybox();
    let garbage = d.dir.join("garbage.tar");
    fs::write(
        &garbage,
        b"this is not a tarball at all, just text that goes on for a while",
    )
    .unwrap();
    let run = d.hoist(&["import", garbage.to_str().unwrap(), "junk"]);
    assert_ne!(run.code, 0);
    assert!(!run.stderr.is_empty());
    let truncated = d.dir.join("truncated.tar");
    let full = fs::read(busybox_tar(&d)).unwrap();
    fs::write(&truncated, &full[..full.len() / 2 + 100]).unwrap();
    let run = d.hoist(&["import", truncated.to_str().unwrap(), "half"]);
    assert_ne!(run.code, 0, "a truncated layer is refused");
    assert!(!d.ok(&["images"]).contains("junk") && !d.ok(&["images"]).contains("half"));
    assert_eq!(
        fs::read_dir(d.dir.join("root/image/tmp")).unwrap().count(),
        0,
        "no partial state"
    );
    let run = d.hoist(&["tag", "busybox", "Bad:Tag"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("invalid reference format"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&[
        "import",
        "--change",
        "RUN echo",
        busybox_tar(&d).as_str(),
        "x",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("RUN cannot be changed"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["rmi", "nosuchimage"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("No such image: nosuchimage"),
        "{}",
        run.stderr
    );
}
