//! cgroup limits, OOM, stats and top, restart policies and health checks.

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

fn cgroup_file(d: &Daemon, controller: &str, id: &str, file: &str) -> String {
    let hierarchy = hoist_runtime::cgroup::Hierarchy::detect().unwrap();
    let cgroup = hierarchy.cgroup(&format!("{}/{id}", d.cgroup_parent));
    let dir = cgroup.dir(controller).unwrap().to_path_buf();
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// Asserts a container's memory limit, CPU quota (of a 100 ms period) and
/// pids limit in its cgroup, in the files of either cgroup version.
fn assert_limits(d: &Daemon, id: &str, memory: &str, quota: &str, pids: &str) {
    if support::cgroup_v1() {
        assert_eq!(
            cgroup_file(d, "memory", id, "memory.limit_in_bytes"),
            memory
        );
        assert_eq!(cgroup_file(d, "cpu", id, "cpu.cfs_quota_us"), quota);
        assert_eq!(cgroup_file(d, "pids", id, "pids.max"), pids);
    } else {
        assert_eq!(cgroup_file(d, "", id, "memory.max"), memory);
        assert_eq!(cgroup_file(d, "", id, "cpu.max"), format!("{quota} 100000"));
        assert_eq!(cgroup_file(d, "", id, "pids.max"), pids);
    }
}

#[test]
fn limits_land_in_the_cgroup_and_are_enforced() {
    let d = Daemon::with_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "limited",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "20",
            "--memory-swappiness",
            "10",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let v1 = support::cgroup_v1();
    assert_limits(&d, &id, "67108864", "50000", "20");
    if v1 {
        assert_eq!(cgroup_file(&d, "cpu", &id, "cpu.shares"), "512");
        assert_eq!(cgroup_file(&d, "memory", &id, "memory.swappiness"), "10");
    }
    // The pids limit holds: of 40 background sleeps, those past 20 cannot fork.
    let run = d.hoist(&[
        "exec",
        "-d",
        "limited",
        "sh",
        "-c",
        "for i in $(seq 40); do sleep 5 & done; sleep 5",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::thread::sleep(Duration::from_millis(500));
    let (controller, file) = if v1 {
        ("pids", "pids.current")
    } else {
        ("", "pids.current")
    };
    let current: u32 = cgroup_file(&d, controller, &id, file).parse().unwrap();
    assert!(
        (15..=20).contains(&current),
        "pids.max caps the processes at 20: {current}"
    );
    let inspect = d.inspect("limited");
    assert_eq!(inspect["HostConfig"]["Memory"], 67108864);
    assert_eq!(inspect["HostConfig"]["NanoCpus"], 500000000);
    assert_eq!(inspect["HostConfig"]["PidsLimit"], 20);
    assert_eq!(inspect["HostConfig"]["MemorySwappiness"], 10);
    d.ok(&["rm", "-f", "limited"]);
    d.assert_no_container_leftovers();
}

#[test]
fn out_of_memory_exits_137_and_says_so() {
    let d = Daemon::with_busybox();
    let run = d.hoist(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(run.code, 137, "{} {}", run.stdout, run.stderr);
    let state = &d.inspect("hog")["State"];
    assert_eq!(state["OOMKilled"], true);
    assert_eq!(state["ExitCode"], 137);
    d.ok(&["rm", "hog"]);
    d.assert_no_container_leftovers();
}

#[test]
fn top_and_stats_read_the_containers_counters() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "sleep 300 & while true; do :; done",
    ]);
    let top = d.ok(&["top", "busy"]);
    let mut lines = top.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]),
        "{top}"
    );
    assert!(top.contains("sleep 300") && top.contains("sh -c"), "{top}");
    let stats = d.ok(&["stats", "--no-stream", "--format", "json", "busy"]);
    let items = support::json_lines(&stats);
    let busy = &items[0];
    assert_eq!(busy["Name"], "busy");
    let cpu: f64 = busy["CPUPerc"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 20.0, "a spinning shell uses CPU: {busy}");
    assert!(
        busy["MemUsage"].as_str().unwrap().ends_with("/ 32MiB"),
        "{busy}"
    );
    assert_eq!(busy["PIDs"], "2");
    let table = d.ok(&["stats", "--no-stream", "busy"]);
    assert!(
        table.starts_with("CONTAINER ID") && table.contains("busy"),
        "{table}"
    );
    let run = d.hoist(&["top", "busy", "aux"]);
    assert_ne!(run.code, 0, "unsupported ps options are refused");
    d.ok(&["rm", "-f", "busy"]);
}

#[test]
fn restart_policies_follow_docker() {
    let mut d = Daemon::with_busybox();
    // on-failure:3 restarts a failing container three times with backoff, then gives up.
    let started = Instant::now();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "exit 2",
    ]);
    d.eventually(Duration::from_secs(15), "three restarts", || {
        let s = d.inspect("flaky");
        s["RestartCount"] == 3 && s["State"]["Status"] == "exited"
    });
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "backoff 100+200+400 ms"
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(d.inspect("flaky")["RestartCount"], 3, "no fourth restart");
    assert_eq!(d.inspect("flaky")["State"]["ExitCode"], 2);
    // on-failure leaves a clean exit alone; always does not.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "clean",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3",
    ]);
    d.eventually(Duration::from_secs(10), "always restarts", || {
        d.inspect("again")["RestartCount"].as_i64().unwrap() >= 2
    });
    assert_eq!(d.inspect("clean")["RestartCount"], 0);
    // A stopped `always` container stays stopped until the daemon restarts;
    // an `unless-stopped` one stays stopped even then.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "300",
    ]);
    d.ok(&["stop", "-t", "0", "keeper", "polite"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.inspect("keeper")["State"]["Status"], "exited");
    d.ok(&["rm", "-f", "again"]);
    d.restart_daemon();
    d.eventually(
        Duration::from_secs(10),
        "always starts with the daemon",
        || d.inspect("keeper")["State"]["Status"] == "running",
    );
    assert_eq!(d.inspect("polite")["State"]["Status"], "exited");
    d.ok(&["rm", "-f", "flaky", "clean", "keeper", "polite"]);
    d.assert_no_container_leftovers();
}

#[test]
fn health_checks_drive_the_health_state() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--health-cmd",
        "test -f /tmp/ready && echo fine",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(d.inspect("svc")["State"]["Health"]["Status"], "starting");
    assert!(d.ok(&["ps"]).contains("(health: starting)"));
    d.eventually(Duration::from_secs(10), "unhealthy", || {
        d.inspect("svc")["State"]["Health"]["Status"] == "unhealthy"
    });
    d.ok(&["exec", "svc", "touch", "/tmp/ready"]);
    d.eventually(Duration::from_secs(10), "healthy", || {
        d.inspect("svc")["State"]["Health"]["Status"] == "healthy"
    });
    let health = &d.inspect("svc")["State"]["Health"];
    assert_eq!(health["FailingStreak"], 0);
    let log = health["Log"].as_array().unwrap();
    assert!(log.len() <= 5);
    assert_eq!(log.last().unwrap()["Output"], "fine\n");
    assert!(d.ok(&["ps"]).contains("(healthy)"));
    // A probe that hangs past its timeout counts as a failure.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "stuck",
        "--health-cmd",
        "sleep 10",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    d.eventually(Duration::from_secs(10), "timeout → unhealthy", || {
        d.inspect("stuck")["State"]["Health"]["Status"] == "unhealthy"
    });
    let entry = d.inspect("stuck")["State"]["Health"]["Log"][0].clone();
    assert_eq!(entry["ExitCode"], -1);
    assert!(
        entry["Output"]
            .as_str()
            .unwrap()
            .contains("exceeded timeout"),
        "{entry}"
    );
    // --no-healthcheck: no Health at all.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "300",
    ]);
    assert!(d.inspect("plain")["State"].get("Health").is_none());
    d.ok(&["rm", "-f", "svc", "stuck", "plain"]);
    d.assert_no_container_leftovers();
}

#[test]
fn block_io_limits_land_in_the_cgroup() {
    let d = Daemon::with_busybox();
    // A block device of this host: the limits name it by path.
    let device = std::fs::read_dir("/sys/block")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::path::Path::new("/dev").join(e.file_name()))
        .find(|p| p.exists())
        .expect("a block device in /dev");
    let device = device.to_str().unwrap();
    let rdev = std::os::unix::fs::MetadataExt::rdev(&std::fs::metadata(device).unwrap());
    let numbers = format!(
        "{}:{}",
        nix::sys::stat::major(rdev),
        nix::sys::stat::minor(rdev)
    );
    let run = d.hoist(&[
        "run",
        "-d",
        "--name",
        "throttled",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-iops",
        &format!("{device}:100"),
        "--blkio-weight",
        "300",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run.stdout.trim().to_string();
    let hierarchy = hoist_runtime::cgroup::Hierarchy::detect().unwrap();
    if !hierarchy.block_io_weights() {
        assert!(run.stderr.contains("--blkio-weight"), "{}", run.stderr);
    }
    if hierarchy.version == hoist_runtime::cgroup::Version::V1 {
        assert!(
            cgroup_file(&d, "blkio", &id, "blkio.throttle.read_bps_device")
                .contains(&format!("{numbers} 1048576"))
        );
        assert!(
            cgroup_file(&d, "blkio", &id, "blkio.throttle.write_iops_device")
                .contains(&format!("{numbers} 100"))
        );
    } else {
        assert_eq!(
            cgroup_file(&d, "", &id, "io.max"),
            format!("{numbers} rbps=1048576 wbps=max riops=max wiops=100")
        );
    }
    let inspect = d.inspect("throttled");
    assert_eq!(inspect["HostConfig"]["BlkioWeight"], 300);
    assert_eq!(
        inspect["HostConfig"]["BlkioDeviceReadBps"],
        serde_json::json!([{"Path": device, "Rate": 1048576}])
    );
    assert_eq!(
        inspect["HostConfig"]["BlkioDeviceWriteIOps"],
        serde_json::json!([{"Path": device, "Rate": 100}])
    );
    // `update` warns of a weight it cannot apply as `run` does, and keeps it.
    let update = d.hoist(&["update", "--blkio-weight", "400", "throttled"]);
    assert_eq!(update.code, 0, "{}", update.stderr);
    assert_eq!(
        update.stderr.contains("--blkio-weight"),
        !hierarchy.block_io_weights(),
        "{}",
        update.stderr
    );
    assert_eq!(d.inspect("throttled")["HostConfig"]["BlkioWeight"], 400);
    d.ok(&["rm", "-f", "throttled"]);
    // Not a block device, or a weight out of range: refused, nothing made.
    d.assert_run_refused(
        &["--device-read-bps", "/dev/null:1mb"],
        "not a block device",
    );
    d.assert_run_refused(&["--blkio-weight", "5"], "10 to 1000");
    d.assert_no_container_leftovers();
}

#[test]
fn update_changes_limits_and_the_restart_policy() {
    let d = Daemon::with_busybox();
    let id = d
        .ok(&[
            "run",
            "-d",
            "--name",
            "updated",
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "rm -f /tmp/fail; until [ -f /tmp/fail ]; do sleep 0.1; done; exit 3",
        ])
        .trim()
        .to_string();
    let out = d.ok(&[
        "update",
        "-m",
        "128m",
        "--cpus",
        "0.25",
        "--pids-limit",
        "30",
        "--restart",
        "on-failure:3",
        "updated",
    ]);
    assert_eq!(out, "updated\n");
    // The running container's cgroup has the new limits at once.
    assert_limits(&d, &id, "134217728", "25000", "30");
    let inspect = d.inspect("updated");
    assert_eq!(inspect["HostConfig"]["Memory"], 134217728);
    assert_eq!(inspect["HostConfig"]["NanoCpus"], 250000000);
    assert_eq!(inspect["HostConfig"]["PidsLimit"], 30);
    assert_eq!(inspect["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(
        inspect["HostConfig"]["RestartPolicy"]["MaximumRetryCount"],
        3
    );
    // ... and the new policy governs its exits: a failing main process is
    // restarted, where before it was not.
    d.ok(&["exec", "updated", "touch", "/tmp/fail"]);
    d.eventually(
        Duration::from_secs(10),
        "restarted by the new policy",
        || d.inspect("updated")["RestartCount"].as_i64().unwrap() >= 1,
    );
    // A stopped container keeps the update for its next start.
    d.ok(&["stop", "-t", "0", "updated"]);
    d.ok(&["update", "--memory-reservation", "32m", "updated"]);
    d.ok(&["start", "updated"]);
    assert_eq!(
        d.inspect("updated")["HostConfig"]["MemoryReservation"],
        33554432
    );
    if support::cgroup_v1() {
        assert_eq!(
            cgroup_file(&d, "memory", &id, "memory.soft_limit_in_bytes"),
            "33554432"
        );
    }
    // Refused: no flag, a --rm container's policy, an impossible limit, an
    // unknown container (each by name, and the others still done).
    let run = d.hoist(&["update", "updated"]);
    assert_eq!(run.code, 125, "{}", run.stderr);
    d.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "gone-at-exit",
        "busybox",
        "sleep",
        "300",
    ]);
    let run = d.hoist(&["update", "--restart", "always", "gone-at-exit"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--rm"), "{}", run.stderr);
    let run = d.hoist(&["update", "-m", "1m", "updated"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("6MB"), "{}", run.stderr);
    let run = d.hoist(&[
        "update",
        "--cpu-shares",
        "256",
        "nosuchcontainer",
        "updated",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "updated\n");
    assert!(run.stderr.contains("nosuchcontainer"), "{}", run.stderr);
    assert_eq!(d.inspect("updated")["HostConfig"]["CpuShares"], 256);
    d.ok(&["rm", "-f", "updated", "gone-at-exit"]);
    d.assert_no_container_leftovers();
}

#[test]
fn a_cgroup_parent_places_the_containers_cgroup() {
    let d = Daemon::with_busybox();
    // Under the test daemon's own parent, so that its cleanup covers it.
    let parent = format!("/{}/batch", d.cgroup_parent);
    let id = d
        .ok(&[
            "run",
            "-d",
            "--cgroup-parent",
            &parent,
            "-m",
            "64m",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let hierarchy = hoist_runtime::cgroup::Hierarchy::detect().unwrap();
    let placed = hierarchy.cgroup(&format!("{}/batch/{id}", d.cgroup_parent));
    let (controller, file) = match hierarchy.version {
        hoist_runtime::cgroup::Version::V1 => ("memory", "memory.limit_in_bytes"),
        hoist_runtime::cgroup::Version::V2 => ("", "memory.max"),
    };
    let dir = placed.dir(controller).unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_to_string(dir.join(file)).unwrap().trim(),
        "67108864"
    );
    // Its processes are there, and stats and top read them from there.
    assert!(!placed.processes().unwrap().is_empty());
    assert!(d.ok(&["top", &id]).contains("sleep 300"));
    assert_eq!(d.inspect(&id)["HostConfig"]["CgroupParent"], parent);
    d.ok(&["pause", &id]);
    d.ok(&["unpause", &id]);
    d.ok(&["rm", "-f", &id]);
    assert!(!dir.exists(), "the container's cgroup goes with it");
    // The parent stays, as with Docker; the test removes it.
    for root in d.cgroup_roots() {
        let _ = std::fs::remove_dir(root.join("batch"));
    }
    d.assert_run_refused(&["--cgroup-parent", "../escape"], "--cgroup-parent");
    d.assert_no_container_leftovers();
}
