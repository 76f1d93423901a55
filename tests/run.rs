//! `hoist run` and the container lifecycle against real busybox containers.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::Daemon;

#[test]
fn run_prints_output_and_propagates_exit_codes() {
    let d = Daemon::with_busybox();
    let run = d.hoist(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "hello\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        d.hoist(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .code,
        3
    );
    let run = d.hoist(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("out\n", "err\n")
    );
    // A process killed by a signal exits 128 + signal.
    d.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "100"]);
    d.ok(&["kill", "victim"]);
    assert_eq!(d.ok(&["wait", "victim"]), "137\n");
    d.ok(&["rm", "victim"]);
    d.assert_no_container_leftovers();
}

#[test]
fn start_failures_use_dockers_exit_codes_and_leave_nothing() {
    let d = Daemon::with_busybox();
    let run = d.hoist(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(run.code, 127, "{}", run.stderr);
    assert!(
        run.stderr.contains("nosuchcommand") && run.stderr.contains("not found"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(run.code, 126, "{}", run.stderr);
    let run = d.hoist(&["run", "--rm", "--pull", "never", "nosuchimage"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr.contains("No such image: nosuchimage"),
        "{}",
        run.stderr
    );
    // Missing locally and not pullable (nothing listens on that port).
    let run = d.hoist(&["run", "--rm", "127.0.0.1:5999/nosuchimage"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr
            .contains("Unable to find image '127.0.0.1:5999/nosuchimage:latest' locally")
            && run.stderr.contains("cannot reach registry 127.0.0.1:5999"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["run", "--rm", "Bad:Ref"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr.contains("invalid reference format"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&[
        "run",
        "--rm",
        "-v",
        "/nonexistent-hoist-src:/data",
        "busybox",
        "true",
    ]);
    assert_eq!(
        run.code, 0,
        "-v creates a missing bind source, as Docker: {}",
        run.stderr
    );
    let _ = std::fs::remove_dir("/nonexistent-hoist-src");
    let run = d.hoist(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/nonexistent-hoist-src,target=/data",
        "busybox",
        "true",
    ]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr
            .contains("bind source path does not exist: /nonexistent-hoist-src"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["run", "--rm", "-m", "lots", "busybox", "true"]);
    assert_eq!(run.code, 125);
    assert!(run.stderr.contains("\"lots\""), "{}", run.stderr);
    let run = d.hoist(&["run", "--bogus", "busybox", "true"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr.contains("unknown flag: --bogus"),
        "{}",
        run.stderr
    );
    // Flags are checked before a daemon is reached: a typo costs no round
    // trip and starts no daemon.
    let nobody = format!("unix://{}", d.dir.join("nobody.sock").display());
    for bad in [["-m", "lots"], ["--bogus", "x"]] {
        let out = std::process::Command::new(support::HOIST)
            .args(["--host", &nobody, "run"])
            .args(bad)
            .args(["busybox", "true"])
            .output()
            .expect("run hoist");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{stderr}");
        assert!(!stderr.contains("cannot connect"), "{stderr}");
    }
    // Without --rm a failed start leaves a created container with its error.
    let run = d.hoist(&["run", "--name", "broken", "busybox", "nosuchcommand"]);
    assert_eq!(run.code, 127);
    let state = &d.inspect("broken")["State"];
    assert_eq!(state["ExitCode"], 127);
    assert!(state["Error"].as_str().unwrap().contains("nosuchcommand"));
    d.ok(&["rm", "broken"]);
    d.assert_no_container_leftovers();
}

#[test]
fn names_are_unique_and_checked() {
    let d = Daemon::with_busybox();
    d.ok(&["create", "--name", "one", "busybox", "true"]);
    let run = d.hoist(&["create", "--name", "one", "busybox", "true"]);
    assert_eq!(run.code, 125);
    assert!(
        run.stderr.contains("\"/one\" is already in use"),
        "{}",
        run.stderr
    );
    let run = d.hoist(&["create", "--name", "bad/name", "busybox", "true"]);
    assert_eq!(run.code, 125);
    d.ok(&["rename", "one", "two"]);
    d.ok(&["create", "--name", "one", "busybox", "true"]);
    d.ok(&["rm", "one", "two"]);
}

#[test]
fn detached_container_lifecycle() {
    let d = Daemon::with_busybox();
    let id = d
        .ok(&[
            "run", "-d", "--name", "web", "busybox", "httpd", "-f", "-p", "8080",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    assert!(d.ok(&["ps"]).contains("web"));
    assert_eq!(d.ok(&["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(
        d.ok(&["exec", "web", "cat", "/proc/1/cmdline"]),
        "httpd\0-f\0-p\08080\0"
    );
    let run = d.hoist(&["exec", "web", "sh", "-c", "echo out; echo err >&2; exit 4"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (4, "out\n", "err\n")
    );
    assert_eq!(d.hoist(&["exec", "web", "nosuch"]).code, 127);
    d.ok(&["pause", "web"]);
    assert!(d.ok(&["ps"]).contains("(Paused)"));
    assert!(d.hoist(&["exec", "web", "true"]).stderr.contains("paused"));
    d.ok(&["unpause", "web"]);
    // httpd as PID 1 ignores SIGTERM: stop escalates to SIGKILL after -t.
    let started = std::time::Instant::now();
    d.ok(&["stop", "-t", "1", "web"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(d.inspect("web")["State"]["ExitCode"], 137);
    assert!(
        d.ok(&["ps"]).trim().lines().count() == 1,
        "only the header is left"
    );
    assert!(d.ok(&["ps", "-a"]).contains("Exited (137)"));
    let run = d.hoist(&["exec", "web", "true"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("is not running"), "{}", run.stderr);
    d.ok(&["start", "web"]);
    assert_eq!(d.inspect("web")["State"]["Status"], "running");
    let run = d.hoist(&["rm", "web"]);
    assert_ne!(run.code, 0, "a running container is not removed without -f");
    d.ok(&["rm", "-f", "web"]);
    assert!(
        d.hoist(&["inspect", "web"])
            .stderr
            .contains("No such object: web")
    );
    d.assert_no_container_leftovers();
}

#[test]
fn logs_follow_tail_and_timestamps() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; done; echo problem >&2; sleep 1; echo late",
    ]);
    d.eventually(Duration::from_secs(5), "the first lines", || {
        d.ok(&["logs", "talker"]).contains("line 5")
    });
    // --tail counts lines of both streams together, as Docker's.
    let run = d.hoist(&["logs", "--tail", "2", "talker"]);
    assert_eq!(run.stdout, "line 5\n");
    assert_eq!(run.stderr, "problem\n");
    let stamped = d.ok(&["logs", "-t", "--tail", "2", "talker"]);
    assert!(
        stamped.starts_with("20") && stamped.contains("Z line 5"),
        "{stamped}"
    );
    // -f ends when the container does, with everything it wrote.
    let followed = d.ok(&["logs", "-f", "talker"]);
    assert!(followed.ends_with("line 5\nlate\n"), "{followed}");
    d.ok(&["rm", "talker"]);
}

#[test]
fn interactive_terminal_sessions() {
    let d = Daemon::with_busybox();
    let (screen, code) = d.in_pty(
        &["run", "-it", "--rm", "busybox", "sh"],
        &[
            b"tty; stty size\r",
            b"sleep 30\r",
            b"\x03",
            b"echo after-$((6*7))\r",
            b"exit 7\r",
        ],
        Duration::from_millis(700),
    );
    assert_eq!(code, 7, "{screen}");
    assert!(
        screen.contains("/dev/pts/0"),
        "the container's own pty: {screen}"
    );
    assert!(
        screen.contains("40 120"),
        "the client's window size: {screen}"
    );
    assert!(
        screen.contains("after-42"),
        "Ctrl-C interrupted sleep, the shell went on: {screen}"
    );
    d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "300"]);
    let (screen, code) = d.in_pty(
        &["exec", "-it", "box", "sh"],
        &[b"echo in-$((1+1)); tty\r", b"exit 3\r"],
        Duration::from_millis(700),
    );
    assert_eq!(code, 3, "{screen}");
    assert!(
        screen.contains("in-2") && screen.contains("/dev/pts/"),
        "{screen}"
    );
    let piped = d.hoist_with_input(
        &["run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z"],
        b"shout\n",
    );
    assert_eq!(piped.stdout, "SHOUT\n");
    d.ok(&["rm", "-f", "box"]);
    d.assert_no_container_leftovers();
}

#[test]
fn containers_survive_a_daemon_kill_and_are_readopted() {
    let mut d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ]);
    let pid = d.inspect("ticker")["State"]["Pid"].as_i64().unwrap();
    d.kill_daemon();
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container died with the daemon"
    );
    d.restart_daemon();
    assert!(d.ok(&["ps"]).contains("ticker"));
    assert_eq!(d.inspect("ticker")["State"]["Pid"].as_i64().unwrap(), pid);
    assert_eq!(
        d.ok(&["exec", "ticker", "echo", "still here"]),
        "still here\n"
    );
    // Logs kept flowing while the daemon was away and after.
    let before = d.ok(&["logs", "ticker"]).lines().count();
    d.eventually(Duration::from_secs(5), "more log lines", || {
        d.ok(&["logs", "ticker"]).lines().count() > before + 2
    });
    d.ok(&["stop", "-t", "1", "ticker"]);
    assert_eq!(d.inspect("ticker")["State"]["Status"], "exited");
    // An exit while the daemon is away is picked up at restart.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "brief",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 5",
    ]);
    d.kill_daemon();
    std::thread::sleep(Duration::from_millis(1500));
    d.restart_daemon();
    d.eventually(Duration::from_secs(5), "the exit recorded", || {
        d.inspect("brief")["State"]["ExitCode"] == 5
    });
    // A `--rm` container that exits while the daemon is away is removed at
    // restart, and a removal the daemon did not finish is swept.
    d.ok(&[
        "run", "-d", "--rm", "--name", "fleeting", "busybox", "sleep", "1",
    ]);
    let unfinished = d.dir.join("root/containers/.removing-0123abcd");
    std::fs::create_dir_all(unfinished.join("upper/etc")).unwrap();
    let brief = d.inspect("brief")["Id"].as_str().unwrap().to_string();
    std::fs::copy(
        d.dir
            .join(format!("root/containers/{brief}/container.json")),
        unfinished.join("container.json"),
    )
    .unwrap();
    d.kill_daemon();
    std::thread::sleep(Duration::from_millis(1500));
    d.restart_daemon();
    d.eventually(Duration::from_secs(5), "the --rm container removed", || {
        !d.ok(&["ps", "-a"]).contains("fleeting")
    });
    assert!(!unfinished.exists(), "an unfinished removal was not swept");
    d.ok(&["run", "--rm", "--name", "fleeting", "busybox", "true"]);
    d.ok(&["rm", "ticker", "brief"]);
    d.assert_no_container_leftovers();
}

/// The overlay options of a running container's root filesystem.
fn root_overlay_options(d: &Daemon, name: &str) -> String {
    let pid = d.inspect(name)["State"]["Pid"].as_i64().unwrap();
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .and_then(|l| l.split(" - ").nth(1))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn only_rm_containers_mount_their_layer_volatile() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run", "-d", "--rm", "--name", "quick", "busybox", "sleep", "30",
    ]);
    d.ok(&["run", "-d", "--name", "kept", "busybox", "sleep", "30"]);
    let quick = root_overlay_options(&d, "quick");
    let kept = root_overlay_options(&d, "kept");
    assert!(
        quick.starts_with("overlay ") && quick.contains("volatile"),
        "{quick}"
    );
    assert!(
        kept.starts_with("overlay ") && !kept.contains("volatile"),
        "{kept}"
    );
    // A kept container starts again from its (synced) layer.
    d.ok(&["exec", "kept", "sh", "-c", "echo data > /keep"]);
    d.ok(&["restart", "-t", "1", "kept"]);
    assert_eq!(d.ok(&["exec", "kept", "cat", "/keep"]), "data\n");
    d.ok(&["rm", "-f", "quick", "kept"]);
    d.assert_no_container_leftovers();
}

#[test]
fn rm_containers_keep_their_etc_files_with_their_runtime_state() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "quick",
        "--hostname",
        "fast",
        "busybox",
        "sleep",
        "30",
    ]);
    d.ok(&[
        "create",
        "--name",
        "kept",
        "--hostname",
        "slow",
        "busybox",
        "true",
    ]);
    let quick = d.inspect("quick");
    let kept = d.inspect("kept");
    let run_dir = d.dir.join("run/containers");
    let root_dir = d.dir.join("root/containers");
    for key in ["HostsPath", "HostnamePath", "ResolvConfPath"] {
        let path = PathBuf::from(quick[key].as_str().unwrap());
        assert!(
            path.starts_with(&run_dir),
            "{key} of a --rm container: {path:?}"
        );
        let path = PathBuf::from(kept[key].as_str().unwrap());
        assert!(
            path.starts_with(&root_dir),
            "{key} of a kept container: {path:?}"
        );
        assert!(path.is_file(), "{path:?}");
    }
    assert_eq!(d.ok(&["exec", "quick", "cat", "/etc/hostname"]), "fast\n");
    assert!(
        d.ok(&["exec", "quick", "cat", "/etc/hosts"])
            .contains("localhost")
    );
    // A --rm container created but not started gets its files back if the
    // exec root lost them (a reboot empties it).
    let id = d.ok(&[
        "create",
        "--rm",
        "--hostname",
        "later",
        "busybox",
        "cat",
        "/etc/hostname",
    ]);
    let id = id.trim();
    std::fs::remove_dir_all(run_dir.join(id)).unwrap();
    assert_eq!(d.ok(&["start", "-a", id]), "later\n");
    d.ok(&["rm", "-f", "quick", "kept"]);
    d.assert_no_container_leftovers();
}

#[test]
fn restart_keeps_an_rm_container_and_stop_removes_it() {
    let d = Daemon::with_busybox();
    let id = d.ok(&[
        "run", "-d", "--rm", "--name", "brief", "busybox", "sleep", "300",
    ]);
    d.ok(&["exec", "brief", "sh", "-c", "echo kept > /mark"]);
    d.ok(&["restart", "-t", "1", "brief"]);
    assert_eq!(d.inspect("brief")["Id"].as_str().unwrap(), id.trim());
    assert_eq!(d.inspect("brief")["State"]["Running"], true);
    assert_eq!(d.ok(&["exec", "brief", "cat", "/mark"]), "kept\n");
    d.ok(&["stop", "-t", "1", "brief"]);
    d.eventually(
        Duration::from_secs(10),
        "the --rm container removed",
        || d.ok(&["ps", "-aq"]).trim().is_empty(),
    );
    d.assert_no_container_leftovers();
}

#[test]
fn start_attach_sees_all_output_and_the_exit_code() {
    let d = Daemon::with_busybox();
    let id = d.ok(&["create", "busybox", "sh", "-c", "echo early; exit 3"]);
    let id = id.trim();
    for _ in 0..2 {
        let run = d.hoist(&["start", "-a", id]);
        assert_eq!((run.stdout.as_str(), run.code), ("early\n", 3), "{run:?}");
    }
    d.ok(&["rm", id]);
    let id = d.ok(&["create", "-i", "busybox", "cat"]);
    let run = d.hoist_with_input(&["start", "-ai", id.trim()], b"piped\n");
    assert_eq!((run.stdout.as_str(), run.code), ("piped\n", 0), "{run:?}");
    d.ok(&["rm", id.trim()]);
    d.assert_no_container_leftovers();
}

#[test]
fn init_forwards_signals_and_reaps() {
    let d = Daemon::with_busybox();
    // Without --init a shell as PID 1 ignores SIGTERM: stop has to kill it.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "bare",
        "busybox",
        "sh",
        "-c",
        "sleep 300",
    ]);
    // With --init the shell is PID 2 and the forwarded SIGTERM ends it.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "inited",
        "--init",
        "busybox",
        "sh",
        "-c",
        "sleep 300",
    ]);
    // PID 1 is the init, named as such (no host path shows), and the
    // program is its child.
    assert_eq!(
        d.ok(&["exec", "inited", "cat", "/proc/1/comm"]),
        "hoist-init\n"
    );
    assert_eq!(
        d.ok(&["exec", "inited", "cat", "/proc/1/cmdline"]),
        "hoist-init\0"
    );
    let parents = d.ok(&[
        "exec",
        "inited",
        "sh",
        "-c",
        "grep PPid /proc/[0-9]*/status | grep -v 'PPid:\t0' | cut -f2 | sort -u | head -1",
    ]);
    assert_eq!(parents.trim(), "1");
    let started = std::time::Instant::now();
    d.ok(&["stop", "-t", "5", "inited"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "SIGTERM reached the shell"
    );
    assert_eq!(d.inspect("inited")["State"]["ExitCode"], 143);
    d.ok(&["stop", "-t", "1", "bare"]);
    assert_eq!(d.inspect("bare")["State"]["ExitCode"], 137);
    // The exit code of the program comes through the init.
    assert_eq!(
        d.hoist(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 9"])
            .code,
        9
    );
    // Orphans are reaped: no zombies under the init.
    let zombies = d.ok(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "sh -c 'sleep 0.1 &' ; sleep 0.5; ps -o stat | grep -c Z || true",
    ]);
    assert_eq!(zombies.trim(), "0");
    d.ok(&["rm", "inited", "bare"]);
}

#[test]
fn shims_start_after_the_launcher_dies() {
    let d = Daemon::with_busybox();
    let marker = format!("hoist-shim --launcher {}", d.dir.join("run").display());
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "one"]), "one\n");
    let launchers = support::processes_with(&marker);
    assert_eq!(launchers.len(), 1, "one launcher per daemon: {launchers:?}");
    // Forked shims name their container, as `hoist-shim <dir>` would.
    d.ok(&["run", "-d", "--name", "forked", "busybox", "sleep", "30"]);
    let id = d.inspect("forked")["Id"].as_str().unwrap().to_string();
    let shim = format!(
        "hoist-shim {}",
        d.dir.join("run/containers").join(&id).display()
    );
    assert_eq!(
        support::processes_with(&shim).len(),
        1,
        "no shim titled {shim:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launchers[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The next start notices, and a new launcher (or a direct start) serves it.
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "two"]), "two\n");
    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "echo", "three"]),
        "three\n"
    );
    let relaunched = support::processes_with(&marker);
    assert_eq!(relaunched.len(), 1, "{relaunched:?}");
    assert_ne!(relaunched[0], launchers[0]);
    // The running container did not depend on the launcher.
    assert_eq!(d.ok(&["exec", "forked", "echo", "ok"]), "ok\n");
    d.ok(&["rm", "-f", "forked"]);
    d.assert_no_container_leftovers();
}

#[test]
fn a_running_shim_gives_back_the_stack_its_setup_used() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "lean", "busybox", "sleep", "60"]);
    let id = d.inspect("lean")["Id"].as_str().unwrap().to_string();
    let shim = format!(
        "hoist-shim {}",
        d.dir.join("run/containers").join(&id).display()
    );
    let pid = support::processes_with(&shim)[0];
    let stack_kb = || {
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
        let mut lines = smaps.lines().skip_while(|l| !l.ends_with("[stack]"));
        lines.next();
        lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap()
    };
    // Setting up takes over 100 KB of stack; a second later the shim keeps
    // only what its event loop uses. Still serves its container after.
    d.eventually(Duration::from_secs(10), "the shim's stack shrinks", || {
        stack_kb() <= 64
    });
    assert_eq!(d.ok(&["exec", "lean", "echo", "ok"]), "ok\n");
    assert_eq!(d.ok(&["logs", "lean"]), "");
    d.ok(&["rm", "-f", "lean"]);
    d.assert_no_container_leftovers();
}

/// The names `ps ARGS --format {{.Names}}` lists, sorted.
fn listed(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut command = vec!["ps"];
    command.extend_from_slice(args);
    command.extend_from_slice(&["--format", "{{.Names}}"]);
    let mut names: Vec<String> = d.ok(&command).lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn ps_and_container_prune_filters_follow_dockers_rules() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run", "--name", "a", "--label", "team=web", "busybox", "true",
    ]);
    assert_eq!(
        d.hoist(&[
            "run",
            "--name",
            "b",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "exit 3"
        ])
        .code,
        3
    );
    d.ok(&[
        "run", "-d", "--name", "c", "-p", "8080/tcp", "busybox", "sleep", "60",
    ]);

    // A status filter lists stopped containers without -a; values of one
    // key are alternatives, different keys must all match.
    assert_eq!(listed(&d, &["--filter", "status=exited"]), ["a", "b"]);
    assert_eq!(
        listed(
            &d,
            &[
                "-a",
                "--filter",
                "status=exited",
                "--filter",
                "status=running"
            ]
        ),
        ["a", "b", "c"]
    );
    assert_eq!(listed(&d, &["-a", "--filter", "exited=3"]), ["b"]);
    assert_eq!(
        listed(
            &d,
            &["-a", "--filter", "status=exited", "--filter", "label=team"]
        ),
        ["a"]
    );
    // Names are Docker's patterns: anchored ones match whole names.
    assert_eq!(listed(&d, &["-a", "--filter", "name=^a$"]), ["a"]);
    assert_eq!(listed(&d, &["-a", "--filter", "name=^/c$"]), ["c"]);
    assert_eq!(listed(&d, &["-a", "--filter", "since=a"]), ["b", "c"]);
    assert_eq!(listed(&d, &["-a", "--filter", "before=c"]), ["a", "b"]);
    assert_eq!(listed(&d, &["-a", "--filter", "volume=data"]), ["b"]);
    assert_eq!(listed(&d, &["-a", "--filter", "volume=/data"]), ["b"]);
    assert_eq!(listed(&d, &["-a", "--filter", "publish=8000-8100"]), ["c"]);
    assert_eq!(
        listed(&d, &["-a", "--filter", "expose=8080/udp"]),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(&d, &["-a", "--filter", "ancestor=busybox"]),
        ["a", "b", "c"]
    );
    assert_eq!(
        listed(&d, &["-a", "--filter", "ancestor=nosuchimage"]),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(
            &d,
            &["-a", "--filter", "health=none", "--filter", "is-task=false"]
        )
        .len(),
        3
    );
    d.assert_fails(
        &["ps", "--filter", "status=sleeping"],
        "invalid filter 'status=sleeping'",
    );
    d.assert_fails(&["ps", "--filter", "bogus=1"], "invalid filter 'bogus'");
    d.assert_fails(&["ps", "--filter", "since=nosuch"], "nosuch");

    // Prune asks first; anything but yes cancels and removes nothing.
    let cancelled = d.hoist_with_input(&["container", "prune"], b"n\n");
    assert_eq!(cancelled.code, 1, "{}", cancelled.stderr);
    assert!(
        cancelled
            .stdout
            .contains("WARNING! This will remove all stopped containers.")
    );
    assert!(
        cancelled
            .stderr
            .contains("container prune has been cancelled"),
        "{}",
        cancelled.stderr
    );
    assert_eq!(listed(&d, &["-a"]), ["a", "b", "c"]);
    // Filters choose among the stopped containers.
    let pruned = d.ok(&["container", "prune", "-f", "--filter", "label=team=web"]);
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    assert_eq!(listed(&d, &["-a"]), ["b", "c"]);
    d.ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(listed(&d, &["-a"]), ["b", "c"], "b is younger than an hour");
    d.assert_fails(
        &["container", "prune", "-f", "--filter", "until=soon"],
        "invalid filter 'until=soon'",
    );
    d.assert_fails(
        &["container", "prune", "-f", "--filter", "status=exited"],
        "invalid filter 'status'",
    );
    let confirmed = d.hoist_with_input(&["container", "prune"], b"y\n");
    assert_eq!(confirmed.code, 0, "{}", confirmed.stderr);
    assert_eq!(listed(&d, &["-a"]), ["c"], "running containers stay");
    d.ok(&["rm", "-f", "c"]);
    d.ok(&["volume", "rm", "data"]);
}

#[test]
fn log_options_add_attributes_and_compress_rotated_files() {
    let d = Daemon::with_busybox();
    let ran = d.hoist(&[
        "run",
        "--name",
        "talker",
        "--label",
        "team=web",
        "-e",
        "APP=one two",
        "--log-opt",
        "labels=team",
        "--log-opt",
        "env=APP",
        "--log-opt",
        "tag={{.Name}}/{{.ImageName}}",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "--log-opt",
        "compress=true",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let details = d.ok(&["logs", "--details", "talker"]);
    let lines: Vec<&str> = details.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"APP=one+two,tag=talker%2Fbusybox,team=web line99")
    );
    // The rotated files were compressed, and are read back.
    let path = d.inspect("talker")["LogPath"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&format!("{path}.1.gz")).exists());
    assert!(!std::path::Path::new(&format!("{path}.1")).exists());
    let current = std::fs::read_to_string(&path).unwrap().lines().count();
    assert!(
        lines.len() > current,
        "{} lines, {current} in the current file",
        lines.len()
    );
    let plain = d.ok(&["logs", "talker"]);
    assert!(plain.ends_with("line98\nline99\n"), "{plain}");
    d.assert_fails(
        &[
            "run",
            "--rm",
            "--log-opt",
            "compress=yes",
            "busybox",
            "true",
        ],
        "log opt compress \"yes\": use true or false",
    );
    d.assert_fails(
        &["run", "--rm", "--log-opt", "colour=red", "busybox", "true"],
        "unknown log opt \"colour\"",
    );
    d.ok(&["rm", "talker"]);
}
