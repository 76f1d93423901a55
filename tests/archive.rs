//! diff, commit, save, load and image prune.

mod support;

use std::fs;
use std::process::Command;

use support::Daemon;

#[test]
fn diff_and_commit_capture_the_containers_layer() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "work",
        "busybox",
        "sh",
        "-c",
        "echo extra >> /etc/passwd; rm /bin/vi; mkdir /app; echo hi > /app/f",
    ]);
    let diff = d.ok(&["diff", "work"]);
    let lines: Vec<&str> = diff.lines().collect();
    for expected in [
        "C /etc",
        "C /etc/passwd",
        "C /bin",
        "D /bin/vi",
        "A /app",
        "A /app/f",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing from:\n{diff}"
        );
    }
    // The runtime's own mount points are not the container's changes.
    for path in [
        "/proc",
        "/sys",
        "/dev",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
    ] {
        assert!(
            !lines.iter().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} shows in diff:\n{diff}"
        );
    }
    let id = d.ok(&[
        "commit",
        "-m",
        "added an app",
        "-a",
        "me",
        "-c",
        "CMD [\"cat\", \"/app/f\"]",
        "work",
        "app:v2",
    ]);
    assert!(id.trim().starts_with("sha256:"));
    assert_eq!(d.ok(&["run", "--rm", "app:v2"]), "hi\n");
    assert_ne!(
        d.hoist(&["run", "--rm", "app:v2", "test", "-e", "/bin/vi"])
            .code,
        0,
        "the deletion was committed"
    );
    assert!(
        d.ok(&["run", "--rm", "app:v2", "cat", "/etc/passwd"])
            .ends_with("extra\n")
    );
    let history = d.ok(&["history", "--no-trunc", "app:v2"]);
    assert!(history.contains("added an app"), "{history}");
    let inspect: Vec<serde_json::Value> =
        serde_json::from_str(&d.ok(&["image", "inspect", "app:v2"])).unwrap();
    assert_eq!(inspect[0]["Author"], "me");
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    // A running container is paused for the commit and goes on after.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo v > /marker; sleep 300",
    ]);
    d.eventually(std::time::Duration::from_secs(5), "the marker", || {
        d.hoist(&["exec", "live", "test", "-e", "/marker"]).code == 0
    });
    d.ok(&["commit", "live", "live:snap"]);
    assert_eq!(d.inspect("live")["State"]["Status"], "running");
    assert_eq!(d.ok(&["run", "--rm", "live:snap", "cat", "/marker"]), "v\n");
    d.ok(&["rm", "-f", "work", "live"]);
}

#[test]
fn save_and_load_round_trip_in_both_formats() {
    let d = Daemon::with_busybox();
    d.ok(&["tag", "busybox", "mirror/box:1"]);
    let id = d.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    for format in ["docker", "oci"] {
        let archive = d.dir.join(format!("images-{format}.tar"));
        d.ok(&[
            "save",
            "--format",
            format,
            "-o",
            archive.to_str().unwrap(),
            "busybox",
            "mirror/box:1",
        ]);
        d.ok(&["rmi", "busybox", "mirror/box:1"]);
        assert!(d.ok(&["images", "-q"]).is_empty());
        let loaded = d.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert!(loaded.contains("Loaded image: busybox:latest"), "{loaded}");
        assert!(loaded.contains("Loaded image: mirror/box:1"), "{loaded}");
        assert_eq!(
            d.ok(&["images", "-q", "--no-trunc"])
                .lines()
                .next()
                .unwrap(),
            id,
            "same image ID after {format}"
        );
        assert_eq!(
            d.ok(&["run", "--rm", "mirror/box:1", "echo", "alive"]),
            "alive\n"
        );
    }
    // docker save writes manifest.json with the tags, as Docker 25 does.
    let archive = d.dir.join("images-docker.tar");
    let mut names = Vec::new();
    for entry in tar::Archive::new(fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
    {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    for expected in ["manifest.json", "index.json", "oci-layout"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    // Stdout and stdin work too.
    let saved = Command::new(support::HOIST)
        .args([
            "--host",
            &format!("unix://{}", d.socket.display()),
            "save",
            "busybox",
        ])
        .output()
        .unwrap();
    assert!(saved.status.success());
    let run = d.hoist_with_input(&["load"], &saved.stdout);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Loaded image: busybox:latest"));
}

#[test]
fn load_accepts_archives_made_by_skopeo() {
    let d = Daemon::with_busybox();
    let layout_tar = d.dir.join("layout.tar");
    d.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        layout_tar.to_str().unwrap(),
        "busybox",
    ]);
    let layout = d.dir.join("layout");
    fs::create_dir_all(&layout).unwrap();
    tar::Archive::new(fs::File::open(&layout_tar).unwrap())
        .unpack(&layout)
        .unwrap();
    // OCI layouts name images by tag alone (org.opencontainers.image.ref.name).
    let source = format!("oci:{}:latest", layout.display());
    for (transport, name) in [
        ("oci-archive", "skopeo/oci:1"),
        ("docker-archive", "skopeo/docker:1"),
    ] {
        let archive = d.dir.join(format!("{transport}.tar"));
        let status = Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--quiet",
                &source,
                &format!("{transport}:{}:{name}", archive.display()),
            ])
            .status()
            .expect("skopeo must be installed (scripts/packages.sh installs it)");
        assert!(status.success(), "skopeo copy to {transport} failed");
        let loaded = d.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert!(
            loaded.contains(&format!("Loaded image: {name}")),
            "{transport}: {loaded}"
        );
        assert_eq!(
            d.ok(&["run", "--rm", name, "echo", "from-skopeo"]),
            "from-skopeo\n"
        );
    }
}

#[test]
fn corrupt_archives_are_refused_without_leftovers() {
    let d = Daemon::with_busybox();
    let archive = d.dir.join("good.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    d.ok(&["rmi", "busybox"]);
    let mut bytes = fs::read(&archive).unwrap();
    // Flip a byte inside the layer's data (the largest blob, past the headers).
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let bad = d.dir.join("bad.tar");
    fs::write(&bad, &bytes).unwrap();
    let run = d.hoist(&["load", "-i", bad.to_str().unwrap()]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("digest"), "{}", run.stderr);
    let truncated = d.dir.join("short.tar");
    fs::write(&truncated, &fs::read(&archive).unwrap()[..middle]).unwrap();
    let run = d.hoist(&["load", "-i", truncated.to_str().unwrap()]);
    assert_ne!(run.code, 0);
    assert!(d.ok(&["images", "-q"]).is_empty(), "no partial image");
    assert_eq!(
        fs::read_dir(d.dir.join("root/image/tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        fs::read_dir(d.dir.join("root/image/layers"))
            .unwrap()
            .count(),
        0
    );
    let run = d.hoist(&[
        "save",
        "-o",
        d.dir.join("x.tar").to_str().unwrap(),
        "nosuchimage",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("No such image: nosuchimage"),
        "{}",
        run.stderr
    );
    assert!(!d.dir.join("x.tar").exists(), "no partial output file");
}

#[test]
fn image_prune_removes_dangling_then_unused_images() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "--name", "c", "busybox", "touch", "/x"]);
    let dangling = d.ok(&["commit", "c"]).trim().to_string();
    d.ok(&["rm", "c"]);
    d.ok(&[
        "import",
        d.dir.join("busybox.tar").to_str().unwrap(),
        "spare:1",
    ]);
    d.ok(&["create", "--name", "holder", "busybox", "true"]);
    let pruned = d.ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&dangling), "{pruned}");
    assert!(
        d.ok(&["images"]).contains("spare"),
        "tagged images stay without -a"
    );
    let pruned = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted Images:"), "{pruned}");
    let images = d.ok(&["images"]);
    assert!(
        !images.contains("spare") && images.contains("busybox"),
        "in-use images stay: {images}"
    );
    d.ok(&["rm", "holder"]);
}

#[test]
fn image_filters_in_listings_and_prunes() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "--name", "c", "busybox", "touch", "/x"]);
    let dangling = d.ok(&["commit", "c"]).trim().to_string();
    let dangling = dangling.trim_start_matches("sha256:")[..12].to_string();
    d.ok(&["rm", "c"]);
    let tarball = d.dir.join("busybox.tar");
    let tarball = tarball.to_str().unwrap();
    d.ok(&["import", "--change", "LABEL keep=yes", tarball, "spare:1"]);
    d.ok(&["create", "--name", "holder", "busybox", "true"]);
    let listed = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"];
        for filter in filters {
            args.extend_from_slice(&["--filter", filter]);
        }
        let mut lines: Vec<String> = d.ok(&args).lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let dangling_only = listed(&["dangling=true"]);
    assert_eq!(dangling_only.len(), 1, "{dangling_only:?}");
    assert!(dangling_only[0].ends_with(&dangling), "{dangling_only:?}");
    assert!(
        listed(&["dangling=false"])
            .iter()
            .all(|l| !l.ends_with(&dangling))
    );
    let spare = listed(&["reference=spare*"]);
    assert!(
        spare.len() == 1 && spare[0].starts_with("spare:1 "),
        "{spare:?}"
    );
    assert_eq!(listed(&["label=keep=yes"]), spare);
    assert_eq!(listed(&["reference=busy*", "reference=spare"]).len(), 2);
    assert_eq!(listed(&["since=busybox", "label=keep"]), spare);
    assert!(listed(&["until=1h"]).is_empty(), "all made just now");
    d.assert_fails(&["images", "--filter", "bogus=1"], "invalid filter 'bogus'");
    d.assert_fails(
        &["images", "--filter", "dangling=maybe"],
        "invalid filter 'dangling=maybe'",
    );
    d.assert_fails(&["images", "--filter", "before=nosuchimage"], "nosuchimage");

    // `label!=` keeps the labelled image; the one in use stays anyway.
    let pruned = d.ok(&["image", "prune", "-a", "-f", "--filter", "label!=keep=yes"]);
    assert!(pruned.contains(&dangling), "{pruned}");
    assert_eq!(
        listed(&[]).len(),
        2,
        "spare and busybox stay: {:?}",
        listed(&[])
    );
    // `until` keeps what is younger.
    let pruned = d.ok(&["image", "prune", "-a", "-f", "--filter", "until=1h"]);
    assert!(!pruned.contains("Deleted Images:"), "{pruned}");
    d.ok(&["image", "prune", "-a", "-f", "--filter", "until=2099-01-01"]);
    assert!(listed(&["reference=spare"]).is_empty());
    assert_eq!(listed(&[]).len(), 1, "busybox, in use, stays");
    d.assert_fails(
        &["image", "prune", "-f", "--filter", "reference=x"],
        "invalid filter 'reference'",
    );
    d.ok(&["rm", "holder"]);
}

#[test]
fn system_df_counts_and_system_prune_removes_what_is_unused() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "stopped",
        "busybox",
        "sh",
        "-c",
        "head -c 2000000 /dev/zero > /big",
    ]);
    let dangling = d.ok(&["commit", "stopped"]).trim().to_string();
    d.ok(&["run", "-d", "--name", "running", "busybox", "sleep", "60"]);
    d.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "named:/v",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo data > /v/f",
    ]);
    d.ok(&["rm", "writer"]);
    let rows = d.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    let row = |kind: &str| -> Vec<String> {
        rows.lines()
            .find(|l| l.starts_with(&format!("{kind}|")))
            .unwrap_or_else(|| panic!("no {kind} row: {rows}"))
            .split('|')
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("Images")[1..3],
        ["2", "1"],
        "busybox in use, the commit not"
    );
    let containers = row("Containers");
    assert_eq!(containers[1..3], ["2", "1"], "{rows}");
    assert!(
        containers[3].ends_with("MB") && containers[3].starts_with('2'),
        "{rows}"
    );
    assert!(
        containers[4].starts_with('2') && containers[4].ends_with("(100%)")
            || containers[4].contains("(99%)"),
        "{rows}"
    );
    assert_eq!(row("Local Volumes")[1..3], ["2", "0"], "{rows}");
    assert_eq!(row("Build Cache")[1..3], ["0", "0"], "{rows}");
    let table = d.ok(&["system", "df"]);
    assert!(
        table.starts_with("TYPE") && table.contains("Local Volumes"),
        "{table}"
    );
    let verbose = d.ok(&["system", "df", "-v"]);
    for needle in [
        "Images space usage:",
        "stopped",
        "running",
        "named",
        "Build cache usage: 0B",
    ] {
        assert!(verbose.contains(needle), "{needle}: {verbose}");
    }

    // ps -s and inspect -s measure the same writable layer.
    let sized = d.ok(&[
        "ps",
        "-a",
        "-s",
        "--filter",
        "name=^stopped$",
        "--format",
        "{{.Size}}",
    ]);
    assert!(
        sized.starts_with("2MB (virtual ") && sized.trim_end().ends_with("MB)"),
        "{sized}"
    );
    let table = d.ok(&["ps", "-a", "-s"]);
    assert!(table.lines().next().unwrap().ends_with("SIZE"), "{table}");
    let size_rw: u64 = d
        .ok(&["inspect", "-s", "-f", "{{.SizeRw}}", "stopped"])
        .trim()
        .parse()
        .unwrap();
    let root_fs: u64 = d
        .ok(&["inspect", "-s", "-f", "{{.SizeRootFs}}", "stopped"])
        .trim()
        .parse()
        .unwrap();
    assert!((2_000_000..2_100_000).contains(&size_rw), "{size_rw}");
    assert!(root_fs > size_rw, "{root_fs} {size_rw}");
    assert!(
        d.inspect("stopped").get("SizeRw").is_none(),
        "only with --size"
    );

    // Asked and refused: nothing goes.
    let cancelled = d.hoist_with_input(&["system", "prune"], b"\n");
    assert_eq!(cancelled.code, 1, "{}", cancelled.stderr);
    assert!(
        cancelled.stdout.contains("  - all stopped containers"),
        "{}",
        cancelled.stdout
    );
    assert!(d.ok(&["ps", "-a"]).contains("stopped"));
    d.assert_fails(
        &["system", "prune", "-f", "--volumes", "--filter", "until=1h"],
        "until",
    );

    let pruned = d.ok(&["system", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted Containers:") && pruned.contains("Deleted Images:"),
        "{pruned}"
    );
    assert!(pruned.contains(&dangling[..19]), "{pruned}");
    // The container's 2 MB writable layer, the commit's layer and its blob.
    assert!(pruned.contains("Total reclaimed space: 6"), "{pruned}");
    let left = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "running");
    assert_eq!(
        d.ok(&["volume", "ls", "-q"]).lines().count(),
        2,
        "volumes stay without --volumes"
    );
    // --volumes: the unused anonymous volume goes, the named one stays.
    d.ok(&["system", "prune", "-f", "--volumes"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]).trim(), "named");
    // -a: images no container uses; busybox is used by `running`.
    d.ok(&["system", "prune", "-af"]);
    assert!(d.ok(&["images"]).contains("busybox"));
    d.ok(&["rm", "-f", "running"]);
    d.ok(&["volume", "rm", "named"]);
}
