//! What a container can and cannot see or do: namespaces, masked paths,
//! capabilities, no_new_privs, seccomp, read-only root, users.

mod support;

use support::Daemon;

fn sh(d: &Daemon, extra: &[&str], script: &str) -> support::Run {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    d.hoist(&args)
}

#[test]
fn a_container_cannot_see_host_processes_or_files() {
    let d = Daemon::with_busybox();
    let marker = d.dir.join("host-only-marker");
    std::fs::write(&marker, "secret").unwrap();
    let me = std::process::id();
    let run = sh(
        &d,
        &[],
        &format!(
            "ls -d /proc/[0-9]* | wc -l; test -e /proc/{me} && echo sees-host-pid; cat {} 2>&1; tr '\\0' ' ' < /proc/1/cmdline | cut -c1-5",
            marker.display()
        ),
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].trim().parse::<u32>().unwrap() <= 4,
        "only the container's processes: {}",
        run.stdout
    );
    assert!(!run.stdout.contains("sees-host-pid"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("secret") && run.stdout.contains("No such file"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("sh -c"),
        "PID 1 is the container's own: {}",
        run.stdout
    );
    // Its own hostname, IPC and network namespaces: only its loopback and
    // its end of the default bridge, none of the host's links.
    let run = sh(&d, &["--hostname", "boxy"], "hostname; ls /sys/class/net");
    assert_eq!(run.stdout, "boxy\neth0\nlo\n");
    let run = sh(&d, &["--network", "none"], "ls /sys/class/net");
    assert_eq!(run.stdout, "lo\n");
    d.assert_no_container_leftovers();
}

#[test]
fn docker_masked_and_read_only_paths() {
    let d = Daemon::with_busybox();
    // /proc/kcore and /proc/sysrq-trigger exist on most kernels (not all):
    // where they do, one reads empty and the other refuses writes.
    let run = sh(
        &d,
        &[],
        "[ -s /proc/kcore ] && echo kcore-visible; ls /sys/firmware | wc -l; [ -e /proc/sysrq-trigger ] && { echo 1 > /proc/sysrq-trigger || echo ro-sysrq; }; echo x > /proc/sys/kernel/hostname 2>&1 || echo ro-sys; touch /sys/x 2>&1 || echo ro-sysfs",
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        !run.stdout.contains("kcore-visible"),
        "/proc/kcore is masked: {}",
        run.stdout
    );
    assert_eq!(
        lines[0].trim(),
        "0",
        "/sys/firmware is masked: {}",
        run.stdout
    );
    if std::path::Path::new("/proc/sysrq-trigger").exists() {
        assert!(run.stdout.contains("ro-sysrq"), "{}", run.stdout);
    }
    assert!(
        run.stdout.contains("ro-sys\n") && run.stdout.contains("ro-sysfs"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // Masked files the host has read empty inside.
    for file in [
        "/proc/interrupts",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/latency_stats",
    ] {
        if std::fs::metadata(file).is_ok() {
            let run = sh(&d, &[], &format!("wc -c < {file}"));
            assert_eq!(run.stdout.trim(), "0", "{file} is masked: {}", run.stderr);
        }
    }
    let dev = sh(&d, &[], "ls /dev | sort | tr '\\n' ' '");
    for node in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd",
        "stdin", "stdout", "stderr",
    ] {
        assert!(
            dev.stdout.split_whitespace().any(|n| n == node),
            "/dev/{node} missing: {}",
            dev.stdout
        );
    }
    let shm = sh(&d, &[], "df -k /dev/shm | tail -1");
    assert!(
        shm.stdout.contains("65536"),
        "/dev/shm is 64 MiB: {}",
        shm.stdout
    );
}

#[test]
fn default_privileges_are_dockers_and_can_be_changed() {
    let d = Daemon::with_busybox();
    let status = sh(
        &d,
        &[],
        "grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status",
    );
    assert!(
        status.stdout.contains("CapEff:\t00000000a80425fb"),
        "Docker's default set: {}",
        status.stdout
    );
    assert!(
        status.stdout.contains("NoNewPrivs:\t1"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("Seccomp:\t2"),
        "filtered: {}",
        status.stdout
    );
    // Cannot mount, cannot make a user namespace (seccomp), cannot raise a hard limit.
    let run = sh(
        &d,
        &[],
        "mount -t tmpfs t /tmp 2>&1 || echo no-mount; unshare -U true 2>&1 || echo no-userns; ulimit -H -n $(( $(ulimit -H -n) + 1 )) 2>&1 || echo no-raise",
    );
    assert!(
        run.stdout.contains("no-mount")
            && run.stdout.contains("no-userns")
            && run.stdout.contains("no-raise"),
        "{}",
        run.stdout
    );
    // seccomp=unconfined lifts the filter: the user namespace is allowed.
    let run = sh(
        &d,
        &["--security-opt", "seccomp=unconfined"],
        "grep Seccomp: /proc/self/status; unshare -U true && echo userns-ok",
    );
    assert!(
        run.stdout.contains("Seccomp:\t0") && run.stdout.contains("userns-ok"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let run = sh(
        &d,
        &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
        "grep CapEff /proc/self/status",
    );
    assert_eq!(run.stdout.trim(), "CapEff:\t0000000000001000");
    let run = sh(
        &d,
        &["--cap-drop", "CHOWN"],
        "chown 1 /tmp 2>&1 || echo no-chown",
    );
    assert!(run.stdout.contains("no-chown"), "{}", run.stdout);
    let run = sh(
        &d,
        &["--privileged"],
        "mount -t tmpfs t /tmp && echo mounted; grep Seccomp: /proc/self/status",
    );
    assert!(
        run.stdout.contains("mounted") && run.stdout.contains("Seccomp:\t0"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let run = sh(
        &d,
        &["--security-opt", "no-new-privileges=false"],
        "grep NoNewPrivs /proc/self/status",
    );
    assert_eq!(run.stdout.trim(), "NoNewPrivs:\t0");
    let run = d.hoist(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert_eq!(run.code, 125);
    assert!(run.stderr.contains("BOGUS"), "{}", run.stderr);
    d.assert_no_container_leftovers();
}

#[test]
fn users_workdir_env_and_read_only_root() {
    let d = Daemon::with_busybox();
    let env_file = d.dir.join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let run = d.hoist(&[
        "run",
        "--rm",
        "-u",
        "1000:1000",
        "-w",
        "/data",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "--hostname",
        "h",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $A $FROM_FILE $HOSTNAME $HOME",
    ]);
    assert_eq!(
        run.stdout, "1000\n1000\n/data\n1 yes h /\n",
        "{}",
        run.stderr
    );
    let run = sh(&d, &["-u", "www-data"], "id");
    assert_eq!(
        run.stdout.trim(),
        "uid=33(www-data) gid=33(www-data) groups=33(www-data)"
    );
    let run = sh(&d, &["-u", "4242"], "id -u; id -g");
    assert_eq!(
        run.stdout, "4242\n0\n",
        "an unlisted user gets group 0, as with runc"
    );
    let run = sh(&d, &["-u", "1000"], "grep CapEff /proc/self/status");
    assert_eq!(
        run.stdout.trim(),
        "CapEff:\t0000000000000000",
        "a non-root user gets no effective capabilities"
    );
    let run = d.hoist(&["run", "--rm", "-u", "nobody-here", "busybox", "true"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr.contains("unable to find user nobody-here"),
        "{}",
        run.stderr
    );
    let run = sh(
        &d,
        &["--read-only", "--tmpfs", "/scratch"],
        "touch /x 2>&1 || echo ro-root; touch /scratch/x && echo tmpfs-ok; grep ' /scratch ' /proc/mounts",
    );
    assert!(
        run.stdout.contains("ro-root")
            && run.stdout.contains("tmpfs-ok")
            && run.stdout.contains("tmpfs"),
        "{}",
        run.stdout
    );
    let run = sh(
        &d,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--ulimit",
            "nofile=512:1024",
        ],
        "cat /proc/sys/net/ipv4/ip_forward; ulimit -n; ulimit -H -n",
    );
    assert_eq!(run.stdout, "1\n512\n1024\n", "{}", run.stderr);
    d.assert_no_container_leftovers();
}

#[test]
fn devices_are_given_as_docker_gives_them() {
    let d = Daemon::with_busybox();
    let v1 = support::cgroup_v1();
    // Opening a device node proves access (the cgroup refuses the open);
    // /dev/net/tun does nothing until configured.
    let open =
        |path: &str| format!("( exec 3<{path} ) 2>/dev/null && echo open-ok || echo open-denied");
    let run = sh(
        &d,
        &[],
        &format!(
            "test -e /dev/net/tun || echo absent; mknod /tmp/tun c 10 200; {}",
            open("/tmp/tun")
        ),
    );
    assert!(
        run.stdout.contains("absent"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    if v1 {
        assert!(run.stdout.contains("open-denied"), "{}", run.stdout);
    }
    let run = sh(
        &d,
        &["--device", "/dev/net/tun"],
        &format!("ls -l /dev/net/tun; {}", open("/dev/net/tun")),
    );
    assert!(
        run.stdout.starts_with("crw-------") && run.stdout.contains("10, 200"),
        "the host's node, mode and numbers: {}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("open-ok"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // A directory gives every device under it; a rule lets the container
    // use a node it makes itself.
    let run = sh(
        &d,
        &[
            "--device",
            "/dev/net:/dev/hostnet",
            "--device-cgroup-rule",
            "c 10:200 rwm",
        ],
        &format!(
            "test -c /dev/hostnet/tun && echo mapped; mknod /tmp/tun c 10 200; {}",
            open("/tmp/tun")
        ),
    );
    assert!(
        run.stdout.contains("mapped") && run.stdout.contains("open-ok"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    if v1 {
        // Read-only permissions: opening for reading works, for writing is
        // refused (a device outside Docker's default list, which allows
        // /dev/null and the like whatever --device says).
        let run = sh(
            &d,
            &["--device", "/dev/net/tun:/dev/tun:r"],
            "( exec 3</dev/tun ) && echo read-ok; ( exec 3>/dev/tun ) 2>/dev/null && echo write-ok || echo write-denied",
        );
        assert!(
            run.stdout.contains("read-ok") && run.stdout.contains("write-denied"),
            "{}{}",
            run.stdout,
            run.stderr
        );
    }
    // A privileged container gets the host's devices; its pseudo-terminals
    // stay its own.
    let run = sh(
        &d,
        &["--privileged"],
        "test -c /dev/net/tun && test -c /dev/null && echo host-devices; readlink /dev/ptmx",
    );
    assert!(
        run.stdout.contains("host-devices") && run.stdout.contains("pts/ptmx"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    d.ok(&[
        "create",
        "--name",
        "with-device",
        "--device",
        "/dev/null:/dev/quiet:rw",
        "--device-cgroup-rule",
        "c 42:* rmw",
        "busybox",
        "true",
    ]);
    let inspect = d.inspect("with-device");
    assert_eq!(
        inspect["HostConfig"]["Devices"],
        serde_json::json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/quiet", "CgroupPermissions": "rw"}])
    );
    assert_eq!(
        inspect["HostConfig"]["DeviceCgroupRules"],
        serde_json::json!(["c 42:* rmw"])
    );
    d.ok(&["rm", "with-device"]);
    // A device the host does not have, or a malformed one, is refused
    // before anything is made.
    d.assert_run_refused(
        &["--device", "/dev/hoist-no-such-device"],
        "/dev/hoist-no-such-device",
    );
    d.assert_run_refused(&["--device", "/dev/null:/dev/x:rx"], "\"rx\"");
    d.assert_run_refused(&["--device-cgroup-rule", "c 1:3"], "c 1:3");
    d.assert_no_container_leftovers();
}

#[test]
fn uts_and_cgroup_namespaces_and_the_oom_score_can_be_the_hosts() {
    let d = Daemon::with_busybox();
    let host_name = || std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let before = host_name();
    let run = sh(&d, &["--uts", "host"], "hostname; cat /etc/hostname");
    assert_eq!(
        run.stdout,
        format!("{before}{before}"),
        "exit {}: {}",
        run.code,
        run.stderr
    );
    assert_eq!(host_name(), before, "the host keeps its name");
    let run = sh(&d, &[], "hostname");
    assert_eq!(run.stdout.trim().len(), 12, "its own: {}", run.stdout);
    d.assert_run_refused(&["--uts", "host", "-h", "other"], "--uts host");
    assert_eq!(host_name(), before);
    // Its own cgroup namespace shows its cgroup as the root; the host's
    // shows where it is.
    let run = sh(&d, &[], "cat /proc/self/cgroup");
    assert!(
        !run.stdout.contains(&d.cgroup_parent),
        "private: {}",
        run.stdout
    );
    let run = sh(&d, &["--cgroupns", "host"], "cat /proc/self/cgroup");
    assert!(
        run.stdout.contains(&d.cgroup_parent),
        "host: {}",
        run.stdout
    );
    let run = sh(
        &d,
        &["--oom-score-adj", "500"],
        "cat /proc/self/oom_score_adj",
    );
    assert_eq!(run.stdout, "500\n", "{}", run.stderr);
    let run = sh(&d, &[], "cat /proc/self/oom_score_adj");
    assert_eq!(run.stdout, "0\n", "{}", run.stderr);
    // Processes exec'd into it get the same.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "scored",
        "--oom-score-adj",
        "200",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        d.ok(&["exec", "scored", "cat", "/proc/self/oom_score_adj"]),
        "200\n"
    );
    d.ok(&["rm", "-f", "scored"]);
    // Lowering it needs CAP_SYS_RESOURCE, which some hosts' root lacks.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|c| u64::from_str_radix(c.trim(), 16).ok())
        .unwrap();
    let run = sh(
        &d,
        &["--oom-score-adj", "-500"],
        "cat /proc/self/oom_score_adj",
    );
    if effective & (1 << 24) != 0 {
        assert_eq!(run.stdout, "-500\n", "{}", run.stderr);
    } else {
        assert_eq!(run.code, 125, "{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("CAP_SYS_RESOURCE"), "{}", run.stderr);
    }
    d.assert_run_refused(&["--oom-score-adj", "1001"], "-1000 to 1000");
    d.ok(&["run", "--rm", "--userns", "host", "busybox", "true"]);
    d.assert_run_refused(&["--userns", "remap"], "--userns");
    d.ok(&[
        "create",
        "--name",
        "modes",
        "--uts",
        "host",
        "--cgroupns",
        "host",
        "--oom-score-adj",
        "300",
        "--annotation",
        "com.example.note=hi",
        "busybox",
        "true",
    ]);
    let inspect = d.inspect("modes");
    assert_eq!(inspect["HostConfig"]["UTSMode"], "host");
    assert_eq!(
        inspect["HostConfig"]["Annotations"],
        serde_json::json!({"com.example.note": "hi"})
    );
    // The annotation goes to the runtime in the container's OCI spec.
    d.ok(&["start", "modes"]);
    let id = inspect["Id"].as_str().unwrap();
    let bundle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.dir.join("run/containers").join(id).join("bundle.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(bundle["spec"]["annotations"]["com.example.note"], "hi");
    assert_eq!(
        host_name(),
        before,
        "a started --uts host container renames nothing"
    );
    assert_eq!(inspect["HostConfig"]["CgroupnsMode"], "host");
    assert_eq!(inspect["HostConfig"]["OomScoreAdj"], 300);
    d.ok(&["rm", "-f", "modes"]);
    d.assert_no_container_leftovers();
}

#[test]
fn docker_flags_hoist_cannot_honour_are_refused_by_name() {
    let d = Daemon::with_busybox();
    for (flags, says) in [
        (
            &["--runtime", "nvidia"][..],
            "--runtime nvidia: hoist runs containers with its own runtime",
        ),
        (
            &["--isolation", "hyperv"][..],
            "Linux containers have one isolation",
        ),
        (
            &["--disable-content-trust=false"][..],
            "does not verify image signatures",
        ),
        (
            &["--volume-driver", "convoy"][..],
            "local volume driver only",
        ),
        (
            &["--storage-opt", "size=10G"][..],
            "--storage-opt: not supported",
        ),
        (&["--gpus", "all"][..], "--gpus: not supported"),
        (&["--ip6", "2001:db8::33"][..], "IPv4 only"),
        (
            &["--link-local-ip", "169.254.1.1"][..],
            "no link-local addresses",
        ),
        (&["--use-api-socket"][..], "Docker's API"),
        (&["--cpu-rt-runtime", "950000"][..], "real-time CPU time"),
    ] {
        d.assert_run_refused(flags, says);
    }
    // The values that mean what hoist does anyway are taken.
    let run = d.hoist(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "--isolation",
        "default",
        "--disable-content-trust",
        "--volume-driver",
        "local",
        "--kernel-memory",
        "4m",
        "busybox",
        "echo",
        "ran",
    ]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "ran\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--kernel-memory is ignored"),
        "{}",
        run.stderr
    );
    d.assert_no_container_leftovers();
}
