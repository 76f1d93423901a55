//! `cp` and `export`.

mod support;

use std::fs;

use support::Daemon;

#[test]
fn cp_in_and_out_of_running_and_stopped_containers() {
    let d = Daemon::with_busybox();
    let local = d.dir.join("local");
    fs::create_dir_all(local.join("tree/sub")).unwrap();
    fs::write(local.join("file.txt"), "hello file\n").unwrap();
    fs::write(local.join("tree/sub/leaf"), "leaf\n").unwrap();
    let at = |p: &str| local.join(p).display().to_string();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "webhost",
        "busybox",
        "sleep",
        "300",
    ]);
    // Out of a running container: into a directory, or to a new name.
    d.ok(&["cp", "web:/etc/hostname", &at("")]);
    assert_eq!(
        fs::read_to_string(local.join("hostname")).unwrap(),
        "webhost\n"
    );
    d.ok(&["cp", "web:/etc/hostname", &at("renamed")]);
    assert_eq!(
        fs::read_to_string(local.join("renamed")).unwrap(),
        "webhost\n"
    );
    // In: a file into a directory, a directory under a new name.
    d.ok(&["cp", &at("file.txt"), "web:/tmp"]);
    assert_eq!(
        d.ok(&["exec", "web", "cat", "/tmp/file.txt"]),
        "hello file\n"
    );
    d.ok(&["cp", &at("tree"), "web:/tmp/copied"]);
    assert_eq!(
        d.ok(&["exec", "web", "cat", "/tmp/copied/sub/leaf"]),
        "leaf\n"
    );
    // SRC/. copies the contents.
    d.ok(&["cp", "web:/tmp/copied/.", &at("contents")]);
    assert_eq!(
        fs::read_to_string(local.join("contents/sub/leaf")).unwrap(),
        "leaf\n"
    );
    // Files copied in are root's unless -a.
    assert_eq!(
        d.ok(&["exec", "web", "stat", "-c", "%u", "/tmp/file.txt"]),
        "0\n"
    );
    // Stopped: the layers are mounted for the copy and unmounted after.
    d.ok(&["stop", "-t", "0", "web"]);
    d.ok(&["cp", &at("file.txt"), "web:/root/"]);
    d.ok(&["cp", "web:/root/file.txt", &at("back.txt")]);
    assert_eq!(
        fs::read_to_string(local.join("back.txt")).unwrap(),
        "hello file\n"
    );
    assert!(d.leftover_mounts().is_empty(), "{:?}", d.leftover_mounts());
    d.ok(&["start", "web"]);
    assert_eq!(
        d.ok(&["exec", "web", "cat", "/root/file.txt"]),
        "hello file\n"
    );
    let run = d.hoist(&["cp", "web:/nope", &at("")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("Could not find the file /nope in container web"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["cp", &at("file.txt"), "web:/no/such/dir/x"]);
    assert_ne!(run.code, 0);
    d.ok(&["rm", "-f", "web"]);
    d.assert_no_container_leftovers();
}

#[test]
fn cp_keeps_container_symlinks_inside_the_container() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sly",
        "busybox",
        "sh",
        "-c",
        "ln -s /etc /tmp/escape; sleep 300",
    ]);
    // `run -d` returns once the shell runs, maybe before it made the link.
    d.eventually(
        std::time::Duration::from_secs(10),
        "the link is made",
        || d.hoist(&["exec", "sly", "test", "-L", "/tmp/escape"]).code == 0,
    );
    let host_file = d.dir.join("host-secret");
    fs::write(&host_file, "host only\n").unwrap();
    // /tmp/escape points at the container's /etc, not the host's.
    let local = d.dir.join("out");
    fs::create_dir_all(&local).unwrap();
    d.ok(&["cp", "sly:/tmp/escape/hostname", local.to_str().unwrap()]);
    assert_ne!(
        fs::read_to_string(local.join("hostname")).unwrap(),
        fs::read_to_string("/etc/hostname").unwrap_or_default()
    );
    let input = d.dir.join("in.txt");
    fs::write(&input, "planted\n").unwrap();
    d.ok(&["cp", input.to_str().unwrap(), "sly:/tmp/escape/"]);
    assert!(
        !std::path::Path::new("/etc/in.txt").exists(),
        "a copy escaped to the host's /etc"
    );
    assert_eq!(d.ok(&["exec", "sly", "cat", "/etc/in.txt"]), "planted\n");
    d.ok(&["rm", "-f", "sly"]);
}

#[test]
fn export_writes_the_container_filesystem() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "ex",
        "busybox",
        "sh",
        "-c",
        "echo changed > /root/new-file",
    ]);
    let tarball = d.dir.join("fs.tar");
    d.ok(&["export", "-o", tarball.to_str().unwrap(), "ex"]);
    let mut archive = tar::Archive::new(fs::File::open(&tarball).unwrap());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "bin/busybox"), "image files");
    assert!(
        names.iter().any(|n| n == "root/new-file"),
        "the container's changes"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("proc/") && n.len() > 5),
        "no mounted filesystems"
    );
    assert!(d.leftover_mounts().is_empty());
    d.ok(&["rm", "ex"]);
}
