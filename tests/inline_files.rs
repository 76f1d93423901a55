//! Containers given files from memory (a cluster's secrets and configs on
//! a node): they see them at their targets with their owner and mode, on a
//! tmpfs of their own; nothing of them reaches the daemon's disk (record,
//! logs, layers); a daemon restart keeps them; `rm` takes the tmpfs away.
//! Root only.

mod support;

use std::path::PathBuf;

use hoist_api::proto::CreateContainerRequest;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::spec::{ContainerSpec, InlineFile};
use support::{Daemon, files_on_disk_containing, mount_points};

/// Creates a container through the daemon's API (the CLI has no flag for
/// inline files: the cluster's worker sends them); returns its ID.
fn create(daemon: &Daemon, name: &str, spec: &ContainerSpec) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = hoist_api::client::connect(&daemon.socket).await.unwrap();
        ContainersClient::new(channel)
            .create(CreateContainerRequest {
                name: name.into(),
                spec_json: serde_json::to_vec(spec).unwrap(),
            })
            .await
            .unwrap()
            .into_inner()
            .id
    })
}

/// The container's files' tmpfs on the host, if mounted.
fn files_mount(daemon: &Daemon, id: &str) -> Option<(PathBuf, String)> {
    let point = daemon.dir.join("run/containers").join(id).join("secrets");
    mount_points().into_iter().find(|(p, _)| *p == point)
}

#[test]
fn inline_files_live_on_a_tmpfs_only_and_go_with_their_container() {
    let mut daemon = Daemon::with_busybox();
    let secret = format!("s3cret-{}", hoist_runtime::fsutil::random_hex(8));
    let config = format!("listen 80; # {}", hoist_runtime::fsutil::random_hex(8));
    let spec = ContainerSpec {
        image: "busybox".into(),
        cmd: Some(vec!["sleep".into(), "3600".into()]),
        user: Some("1000:1000".into()),
        files: vec![
            InlineFile {
                target: "/run/secrets/db_pw".into(),
                data: secret.clone().into_bytes(),
                uid: 1000,
                gid: 1000,
                mode: 0o400,
            },
            InlineFile {
                target: "/etc/site.conf".into(),
                data: config.clone().into_bytes(),
                uid: 0,
                gid: 0,
                mode: 0o444,
            },
        ],
        ..ContainerSpec::default()
    };
    let id = create(&daemon, "holder", &spec);
    daemon.ok(&["start", "holder"]);

    assert_eq!(
        daemon.ok(&["exec", "holder", "cat", "/run/secrets/db_pw"]),
        secret
    );
    assert_eq!(
        daemon.ok(&["exec", "holder", "cat", "/etc/site.conf"]),
        config
    );
    let stat = daemon.ok(&[
        "exec",
        "holder",
        "stat",
        "-c",
        "%a %u %g",
        "/run/secrets/db_pw",
        "/etc/site.conf",
    ]);
    assert_eq!(stat, "400 1000 1000\n444 0 0\n");
    let written = daemon.hoist(&["exec", "holder", "sh", "-c", "echo x > /etc/site.conf"]);
    assert_ne!(written.code, 0, "the files are read-only: {written:?}");
    let inside = daemon.ok(&["exec", "holder", "cat", "/proc/self/mountinfo"]);
    let line = inside
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/run/secrets/db_pw"))
        .unwrap_or_else(|| panic!("no mount at /run/secrets/db_pw:\n{inside}"));
    assert!(line.contains(" - tmpfs "), "{line}");
    let (_, fstype) = files_mount(&daemon, &id).expect("the files' tmpfs on the host");
    assert_eq!(fstype, "tmpfs");

    for needle in [secret.as_bytes(), config.as_bytes()] {
        let leaked = files_on_disk_containing(&daemon.dir, needle);
        assert!(leaked.is_empty(), "file data on disk in {leaked:?}");
    }
    let inspect = daemon.inspect("holder");
    assert!(!inspect.to_string().contains(&secret));

    // Live restore: the tmpfs is a mount and outlives the daemon.
    daemon.restart_daemon();
    assert_eq!(
        daemon.ok(&["exec", "holder", "cat", "/run/secrets/db_pw"]),
        secret
    );
    assert!(files_mount(&daemon, &id).is_some());

    daemon.ok(&["rm", "-f", "holder"]);
    assert!(files_mount(&daemon, &id).is_none(), "the tmpfs is gone");
    daemon.assert_no_container_leftovers();
}

#[test]
fn bad_file_targets_are_refused_and_leave_nothing() {
    let daemon = Daemon::with_busybox();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = ContainerSpec {
        image: "busybox".into(),
        cmd: Some(vec!["true".into()]),
        files: vec![InlineFile {
            target: "relative".into(),
            data: b"x".to_vec(),
            mode: 0o444,
            ..InlineFile::default()
        }],
        ..ContainerSpec::default()
    };
    let refused = runtime.block_on(async {
        let channel = hoist_api::client::connect(&daemon.socket).await.unwrap();
        ContainersClient::new(channel)
            .create(CreateContainerRequest {
                name: "bad".into(),
                spec_json: serde_json::to_vec(&spec).unwrap(),
            })
            .await
            .unwrap_err()
    });
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("relative"), "{refused:?}");
    daemon.assert_no_container_leftovers();
}
