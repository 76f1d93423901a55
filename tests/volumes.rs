//! Bind mounts, named and anonymous volumes, tmpfs, and `hoist volume`.

mod support;

use support::Daemon;

#[test]
fn bind_mounts_read_write_and_read_only() {
    let d = Daemon::with_busybox();
    let host = d.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in.txt"), "from host").unwrap();
    let rw = format!("{}:/data", host.display());
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        &rw,
        "busybox",
        "sh",
        "-c",
        "cat /data/in.txt; echo from container > /data/out.txt",
    ]);
    assert_eq!(run.stdout, "from host", "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(host.join("out.txt")).unwrap(),
        "from container\n"
    );
    let ro = format!("{}:/data:ro", host.display());
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        &ro,
        "-w",
        "/data",
        "busybox",
        "sh",
        "-c",
        "cat in.txt; touch x 2>&1 || echo read-only",
    ]);
    assert!(
        run.stdout.contains("from host") && run.stdout.contains("read-only"),
        "{}",
        run.stdout
    );
    let inspect_run = d.ok(&["create", "--name", "m", "-v", &ro, "busybox", "true"]);
    assert!(!inspect_run.is_empty());
    let mounts = &d.inspect("m")["Mounts"][0];
    assert_eq!(mounts["Type"], "bind");
    assert_eq!(mounts["RW"], false);
    d.ok(&["rm", "m"]);
}

#[test]
fn named_volumes_are_filled_from_the_image_and_persist() {
    let d = Daemon::with_busybox();
    // First use creates the volume and copies what the image has at the path.
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        "conf:/etc",
        "busybox",
        "sh",
        "-c",
        "grep -c root /etc/passwd; echo added > /etc/mine",
    ]);
    assert_eq!(run.stdout.trim(), "1", "{}", run.stderr);
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        "conf:/elsewhere",
        "busybox",
        "cat",
        "/elsewhere/mine",
    ]);
    assert_eq!(run.stdout, "added\n");
    assert!(d.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "conf"));
    let inspect: Vec<serde_json::Value> =
        serde_json::from_str(&d.ok(&["volume", "inspect", "conf"])).unwrap();
    assert_eq!(inspect[0]["Driver"], "local");
    assert!(
        inspect[0]["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with("/volumes/conf/_data")
    );
    // nocopy leaves a new volume without the image's files (only the mount
    // points of the generated /etc files appear in it).
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        "empty:/etc:nocopy",
        "busybox",
        "sh",
        "-c",
        "ls /etc | tr '\\n' ' '",
    ]);
    assert_eq!(run.stdout, "hostname hosts resolv.conf ");
    // In use: rm is refused; after the container goes it works.
    d.ok(&[
        "run", "-d", "--name", "user", "-v", "conf:/c", "busybox", "sleep", "300",
    ]);
    let run = d.hoist(&["volume", "rm", "conf"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("volume is in use"), "{}", run.stderr);
    d.ok(&["rm", "-f", "user"]);
    d.ok(&["volume", "rm", "conf", "empty"]);
    assert!(d.ok(&["volume", "ls", "-q"]).trim().is_empty());
    let run = d.hoist(&["volume", "create", "x/y"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("invalid volume name"), "{}", run.stderr);
}

#[test]
fn anonymous_volumes_and_prune() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "anon",
        "-v",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo hi > /scratch/f",
    ]);
    let volume = d.inspect("anon")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(volume.len(), 64);
    assert!(d.ok(&["volume", "ls", "-q"]).contains(&volume));
    // rm -v takes the container's anonymous volumes with it.
    d.ok(&["rm", "-v", "anon"]);
    assert!(!d.ok(&["volume", "ls", "-q"]).contains(&volume));
    // --rm does too.
    d.ok(&["run", "--rm", "-v", "/scratch", "busybox", "true"]);
    assert!(d.ok(&["volume", "ls", "-q"]).trim().is_empty());
    // prune removes unused anonymous volumes; -a named ones too.
    d.ok(&["run", "--name", "left", "-v", "/scratch", "busybox", "true"]);
    d.ok(&["rm", "left"]);
    d.ok(&["volume", "create", "keepme"]);
    let pruned = d.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("Deleted Volumes:"), "{pruned}");
    assert_eq!(d.ok(&["volume", "ls", "-q"]).trim(), "keepme");
    // Plain inspect finds volumes too, as Docker's does.
    assert!(d.inspect("keepme")["Mountpoint"].as_str().is_some());
    assert_eq!(
        d.ok(&["inspect", "--type", "volume", "-f", "{{.Name}}", "keepme"])
            .trim(),
        "keepme"
    );
    d.assert_fails(&["inspect", "nosuchthing"], "No such object: nosuchthing");
    // Filters: names are patterns, several of one key alternatives,
    // `label!` spares what carries the label, `all=true` is `-a`.
    d.ok(&["volume", "create", "--label", "keep=yes", "keepme-too"]);
    d.ok(&["volume", "create", "other"]);
    let listed = |filters: &[&str]| {
        let mut args = vec!["volume", "ls", "-q"];
        for filter in filters {
            args.extend_from_slice(&["--filter", filter]);
        }
        let mut names: Vec<String> = d.ok(&args).lines().map(str::to_string).collect();
        names.sort();
        names
    };
    assert_eq!(listed(&["name=^keepme$"]), ["keepme"]);
    assert_eq!(listed(&["name=keepme"]), ["keepme", "keepme-too"]);
    assert_eq!(
        listed(&["name=^other$", "name=^keepme$"]),
        ["keepme", "other"]
    );
    assert_eq!(listed(&["label=keep=yes"]), ["keepme-too"]);
    // --format json: one object per line, Docker's fields as strings.
    let docs = support::json_lines(&d.ok(&[
        "volume",
        "ls",
        "--format",
        "json",
        "-f",
        "name=^keepme-too$",
    ]));
    assert_eq!(docs.len(), 1);
    assert_eq!(
        (docs[0]["Labels"].as_str(), docs[0]["Links"].as_str()),
        (Some("keep=yes"), Some("0"))
    );
    d.assert_fails(
        &["volume", "ls", "--filter", "label!=keep"],
        "invalid filter 'label!'",
    );
    d.assert_fails(
        &["volume", "prune", "-f", "--filter", "until=1h"],
        "invalid filter 'until'",
    );
    d.ok(&[
        "volume",
        "prune",
        "-f",
        "--filter",
        "all=true",
        "--filter",
        "label!=keep",
    ]);
    assert_eq!(listed(&[]), ["keepme-too"]);
    d.ok(&["volume", "prune", "-f", "-a"]);
    assert!(d.ok(&["volume", "ls", "-q"]).trim().is_empty());
    d.assert_no_container_leftovers();
}

#[test]
fn tmpfs_mounts() {
    let d = Daemon::with_busybox();
    let run = d.hoist(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m,mode=700",
        "busybox",
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
    ]);
    assert!(
        run.stdout.contains("tmpfs /scratch tmpfs") && run.stdout.contains("size=1024k"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("700\n"), "{}", run.stdout);
    let run = d.hoist(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=2m",
        "busybox",
        "sh",
        "-c",
        "df -k /t | tail -1",
    ]);
    assert!(run.stdout.contains("2048"), "{}", run.stdout);
}
