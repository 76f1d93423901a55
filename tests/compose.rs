//! `hoist compose` against a real daemon: projects brought up with their
//! networks, volumes and dependency conditions, reached across services by
//! name, converged again after an edit (only what changed is recreated),
//! and taken down without leaving anything behind.

mod support;

use std::fs;

use support::Daemon;
use support::compose::{compose, project};

/// The ID of a container by name.
fn id_of(daemon: &Daemon, name: &str) -> String {
    daemon.inspect(name)["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Names of the daemon's networks, volumes, or all containers.
fn names(daemon: &Daemon, args: &[&str]) -> Vec<String> {
    daemon.ok(args).lines().map(str::to_string).collect()
}

const SHOP: &str = r#"
name: shop
services:
  db:
    image: busybox
    command: sh -c "echo in-stock > /srv/index.html && exec httpd -f -p 80 -h /srv"
    volumes: [data:/srv]
    healthcheck:
      test: ["CMD-SHELL", "test -f /srv/index.html"]
      interval: 200ms
      retries: 50
  web:
    image: busybox
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_healthy}
    labels:
      tier: front
volumes:
  data: {}
"#;

#[test]
fn up_converge_and_down() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "shop", SHOP);

    let up = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(up.code, 0, "up failed: {}", up.stderr);
    for line in [
        "Network shop_default  Created",
        "Volume \"shop_data\"  Created",
        "Container shop-db-1  Started",
        "Container shop-db-1  Healthy",
        "Container shop-web-1  Started",
    ] {
        assert!(up.stderr.contains(line), "no {line:?} in:\n{}", up.stderr);
    }
    // web waited for db to be healthy before it was created.
    let healthy = up.stderr.find("shop-db-1  Healthy").unwrap();
    let web_created = up.stderr.find("shop-web-1  Created").unwrap();
    assert!(
        healthy < web_created,
        "web started before db was healthy:\n{}",
        up.stderr
    );

    let web = daemon.inspect("shop-web-1");
    let labels = &web["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["tier"], "front");
    assert_eq!(web["State"]["Running"], true);

    // Services find each other by name on the project's network.
    let answer = daemon.ok(&[
        "exec",
        "shop-web-1",
        "sh",
        "-c",
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc db 80",
    ]);
    assert!(
        answer.contains("in-stock"),
        "web could not reach db by name: {answer}"
    );

    let ps = daemon.ok(&compose(&file, &["ps"]));
    assert!(
        ps.contains("shop-db-1") && ps.contains("shop-web-1"),
        "{ps}"
    );
    assert!(
        ps.lines().next().unwrap_or_default().contains("SERVICE"),
        "{ps}"
    );
    // One JSON object per running container, as Compose prints them.
    let json = daemon.ok(&compose(&file, &["ps", "--format", "json"]));
    let docs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut services: Vec<&str> = docs
        .iter()
        .map(|d| d["Service"].as_str().unwrap())
        .collect();
    services.sort();
    assert_eq!(services, ["db", "web"], "{json}");
    assert!(
        docs.iter()
            .all(|d| d["State"] == "running" && d["Project"] == "shop"),
        "{json}"
    );
    let web = daemon.ok(&compose(&file, &["ps", "--format", "{{.Name}}", "web"]));
    assert_eq!(web.trim(), "shop-web-1");
    assert!(
        daemon
            .ok(&compose(&file, &["ps", "-q", "--status", "exited"]))
            .trim()
            .is_empty()
    );
    assert_eq!(
        daemon
            .ok(&compose(&file, &["ps", "-q", "--filter", "status=running"]))
            .lines()
            .count(),
        2
    );

    // Nothing changed: nothing is recreated.
    let (db_id, web_id) = (id_of(&daemon, "shop-db-1"), id_of(&daemon, "shop-web-1"));
    let again = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("Container shop-web-1  Running"),
        "{}",
        again.stderr
    );
    assert_eq!(id_of(&daemon, "shop-db-1"), db_id);
    assert_eq!(id_of(&daemon, "shop-web-1"), web_id);

    // Only the edited service is recreated.
    fs::write(&file, SHOP.replace("\"3600\"", "\"3601\"")).unwrap();
    let edited = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(edited.code, 0, "{}", edited.stderr);
    assert!(
        edited.stderr.contains("Container shop-web-1  Recreated"),
        "{}",
        edited.stderr
    );
    assert_eq!(
        id_of(&daemon, "shop-db-1"),
        db_id,
        "db was recreated though it did not change"
    );
    assert_ne!(
        id_of(&daemon, "shop-web-1"),
        web_id,
        "web was not recreated"
    );

    let down = daemon.hoist(&compose(&file, &["down", "-v"]));
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        down.stderr.contains("Network shop_default  Removed"),
        "{}",
        down.stderr
    );
    assert!(names(&daemon, &["ps", "-aq"]).is_empty());
    assert!(
        !names(&daemon, &["network", "ls", "--format", "{{.Name}}"])
            .contains(&"shop_default".to_string())
    );
    assert!(!names(&daemon, &["volume", "ls", "-q"]).contains(&"shop_data".to_string()));
    daemon.assert_no_container_leftovers();
}

#[test]
fn dependency_conditions_and_wait() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "jobs",
        r#"
services:
  migrate:
    image: busybox
    command: ["sh", "-c", "exit 0"]
  app:
    image: busybox
    command: ["sleep", "3600"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
    );
    let up = daemon.hoist(&compose(&file, &["-p", "jobs", "up", "--wait"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.stderr.contains("Container jobs-migrate-1  Exited"),
        "{}",
        up.stderr
    );
    assert_eq!(daemon.inspect("jobs-app-1")["State"]["Running"], true);
    daemon.ok(&compose(&file, &["-p", "jobs", "down"]));

    // A dependency that fails stops what depends on it, with its code.
    let failing = project(
        &daemon,
        "failing",
        r#"
services:
  migrate:
    image: busybox
    command: ["sh", "-c", "exit 3"]
  app:
    image: busybox
    command: ["sleep", "3600"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
    );
    let up = daemon.hoist(&compose(&failing, &["up", "-d"]));
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr
            .contains("service \"migrate\" didn't complete successfully: exit 3"),
        "{}",
        up.stderr
    );
    assert!(
        daemon.hoist(&["inspect", "failing-app-1"]).code != 0,
        "app was created anyway"
    );
    daemon.ok(&compose(&failing, &["down"]));

    // --wait fails when a service turns unhealthy.
    let sick = project(
        &daemon,
        "sick",
        r#"
services:
  api:
    image: busybox
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 100ms
      retries: 1
"#,
    );
    let up = daemon.hoist(&compose(&sick, &["up", "--wait"]));
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr.contains("sick-api-1 is unhealthy"),
        "{}",
        up.stderr
    );
    daemon.ok(&compose(&sick, &["down"]));
    assert!(names(&daemon, &["ps", "-aq"]).is_empty());
    daemon.assert_no_container_leftovers();
}

#[test]
fn bad_projects_are_refused_before_anything_is_made() {
    let daemon = Daemon::with_busybox();
    let networks_before = names(&daemon, &["network", "ls", "-q"]);
    for (text, expected) in [
        (
            "services:\n  web:\n    image: busybox\n    volumes: [nowhere:/data]\n",
            "compose.yaml:4:15: services.web.volumes[0]: service refers to undefined volume \"nowhere\"",
        ),
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
            "dependency cycle detected: a -> b -> a",
        ),
        (
            "services:\n  web:\n    image: busybox\n    ports: [\"8080:99999\"]\n",
            "services.web.ports[0]: \"8080:99999\": port 99999 is out of range",
        ),
        (
            "services:\n  web:\n    command: [\"true\"]\n",
            "has neither an image nor a build context",
        ),
    ] {
        let file = project(&daemon, "bad", text);
        let run = daemon.hoist(&compose(&file, &["up", "-d"]));
        assert_eq!(run.code, 1, "{text}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{text}: expected {expected:?} in {}",
            run.stderr
        );
    }
    assert!(names(&daemon, &["ps", "-aq"]).is_empty());
    assert_eq!(names(&daemon, &["network", "ls", "-q"]), networks_before);
}

const BATCH: &str = r#"
name: batch
services:
  extract:
    image: busybox
    command: ["sh", "-c", "echo rows=3; echo oops >&2"]
  load:
    image: busybox
    command: ["sh", "-c", "echo loading; exit 3"]
    depends_on:
      extract: {condition: service_completed_successfully}
"#;

#[test]
fn attached_up_prefixes_logs_and_returns_exit_codes() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "batch", BATCH);

    // Attached: every line prefixed, both streams, until all have exited.
    let up = daemon.hoist(&compose(&file, &["up", "--no-color"]));
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    for line in [
        "Attaching to extract-1, load-1",
        "extract-1 | rows=3\n",
        "extract-1 | oops\n",
        "load-1    | loading\n",
        "extract-1 exited with code 0",
        "load-1 exited with code 3",
    ] {
        assert!(up.stdout.contains(line), "no {line:?} in:\n{}", up.stdout);
    }

    // --exit-code-from returns that service's status.
    let up = daemon.hoist(&compose(&file, &["up", "--exit-code-from", "load"]));
    assert_eq!(up.code, 3, "{}\n{}", up.stdout, up.stderr);

    // logs: everything so far, per service, without prefixes when asked.
    let logs = daemon.ok(&compose(&file, &["logs", "--no-log-prefix", "load"]));
    assert_eq!(logs, "loading\nloading\n");
    let tail = daemon.ok(&compose(&file, &["logs", "--tail", "1", "extract"]));
    assert!(
        tail.starts_with("extract-1 | ") && tail.lines().count() == 1,
        "{tail}"
    );
    daemon.ok(&compose(&file, &["down"]));
    daemon.assert_no_container_leftovers();
}

#[test]
fn ctrl_c_stops_an_attached_project() {
    use std::io::{BufRead, BufReader};

    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "serve",
        "services:\n  web:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo ready; exec sleep 3600\"]\n",
    );
    let mut child = daemon
        .command(&compose(&file, &["-p", "serve", "up"]))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("web-1 | ready") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    if !seen.contains("web-1 | ready") {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "no output from up: {seen}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{rest}\n{stderr}");
    assert!(rest.contains("Gracefully stopping..."), "{rest}");
    assert!(
        stderr.contains("Container serve-web-1  Stopped"),
        "{stderr}"
    );
    assert_eq!(daemon.inspect("serve-web-1")["State"]["Running"], false);
    daemon.ok(&compose(&file, &["-p", "serve", "down"]));
    daemon.assert_no_container_leftovers();
}

const TOOLS: &str = r#"
name: tools
services:
  api:
    image: busybox
    command: sh -c "mkdir -p /srv && echo pong > /srv/ping && exec httpd -f -p 80 -h /srv"
    healthcheck:
      test: ["CMD", "wget", "-qO/dev/null", "http://127.0.0.1/ping"]
      interval: 100ms
      retries: 100
  tool:
    image: busybox
    command: ["sleep", "3600"]
    environment: {MODE: base}
    depends_on:
      api: {condition: service_healthy}
"#;

#[test]
fn exec_and_run_work_inside_the_project() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "tools", TOOLS);

    // run starts what the service depends on, reaches it by name, and
    // removes its one-off container with --rm.
    let run = daemon.hoist(&compose(
        &file,
        &["run", "--rm", "tool", "wget", "-qO-", "http://api/ping"],
    ));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "pong\n");
    assert_eq!(daemon.inspect("tools-api-1")["State"]["Running"], true);
    let all = names(&daemon, &["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        all,
        vec!["tools-api-1".to_string()],
        "the one-off container stayed"
    );

    // Flags override the service; the exit code comes back.
    let run = daemon.hoist(&compose(
        &file,
        &[
            "run",
            "--rm",
            "--no-deps",
            "-e",
            "MODE=override",
            "tool",
            "sh",
            "-c",
            "echo $MODE; exit 7",
        ],
    ));
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (7, "override\n"),
        "{}",
        run.stderr
    );

    // A detached one-off is named as asked, and `up` leaves it alone.
    let detached = daemon.ok(&compose(
        &file,
        &["run", "-d", "--name", "tools-job", "tool"],
    ));
    assert_eq!(detached.trim(), "tools-job");
    daemon.ok(&compose(&file, &["up", "-d"]));
    assert_eq!(daemon.inspect("tools-job")["State"]["Running"], true);
    assert_eq!(daemon.inspect("tools-tool-1")["State"]["Running"], true);

    // exec runs in the service's container.
    let exec = daemon.hoist(&compose(&file, &["exec", "api", "cat", "/srv/ping"]));
    assert_eq!(
        (exec.code, exec.stdout.as_str()),
        (0, "pong\n"),
        "{}",
        exec.stderr
    );
    let exec = daemon.hoist(&compose(
        &file,
        &["exec", "-T", "tool", "sh", "-c", "echo $MODE; exit 4"],
    ));
    assert_eq!(
        (exec.code, exec.stdout.as_str()),
        (4, "base\n"),
        "{}",
        exec.stderr
    );
    let missing = daemon.hoist(&compose(&file, &["exec", "--index", "2", "tool", "true"]));
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("service \"tool\" is not running (container #2)"),
        "{}",
        missing.stderr
    );

    // down takes the one-off container too.
    daemon.ok(&compose(&file, &["down"]));
    assert!(names(&daemon, &["ps", "-aq"]).is_empty());
    daemon.assert_no_container_leftovers();
}

#[test]
fn services_are_built_pushed_and_pulled() {
    use support::registry::{Auth, Registry};

    let daemon = Daemon::start_with_args(&["--insecure-registry", "127.0.0.1:5000"]);
    daemon.import_busybox();
    let registry = Registry::start(&daemon, Auth::Anonymous);
    let shared = registry.image("team/app:dev");
    let file = project(
        &daemon,
        "made",
        &format!(
            "services:\n  app:\n    build: ./app\n    image: {shared}\n  local:\n    build:\n      context: ./app\n      args: {{GREETING: hello}}\n"
        ),
    );
    let dockerfile = file.with_file_name("app").join("Dockerfile");
    fs::create_dir_all(dockerfile.parent().unwrap()).unwrap();
    let write_version = |v: &str| {
        fs::write(
            &dockerfile,
            format!("FROM busybox\nARG GREETING=none\nRUN echo {v} $GREETING > /version\nCMD [\"sleep\", \"3600\"]\n"),
        )
        .unwrap()
    };
    write_version("v1");
    let version =
        |service: &str| daemon.ok(&compose(&file, &["exec", "-T", service, "cat", "/version"]));

    // Missing images are built, with the file's build args.
    let up = daemon.hoist(&compose(&file, &["-p", "made", "up", "-d"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.stderr.contains("Service app  Built") && up.stderr.contains("Service local  Built"),
        "{}",
        up.stderr
    );
    assert_eq!(version("app"), "v1 none\n");
    assert_eq!(version("local"), "v1 hello\n");
    let id = id_of(&daemon, "made-app-1");

    // Present images are not built again; --build rebuilds and recreates.
    write_version("v2");
    let again = daemon.hoist(&compose(&file, &["-p", "made", "up", "-d"]));
    assert!(!again.stderr.contains("Building"), "{}", again.stderr);
    assert_eq!(id_of(&daemon, "made-app-1"), id);
    let rebuilt = daemon.hoist(&compose(&file, &["-p", "made", "up", "-d", "--build"]));
    assert_eq!(rebuilt.code, 0, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stderr.contains("Container made-app-1  Recreated"),
        "{}",
        rebuilt.stderr
    );
    assert_eq!(version("app"), "v2 none\n");

    // Push, remove everything with --rmi all, pull back, run without building.
    let push = daemon.hoist(&compose(&file, &["-p", "made", "push"]));
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert!(
        push.stderr.contains("Service app  Pushed"),
        "{}",
        push.stderr
    );
    let pushed_id = daemon.image_id(&shared);
    let down = daemon.hoist(&compose(&file, &["-p", "made", "down", "--rmi", "all"]));
    assert_eq!(down.code, 0, "{}", down.stderr);
    for image in [shared.as_str(), "made-local"] {
        assert_ne!(
            daemon.hoist(&["image", "inspect", image]).code,
            0,
            "{image} is still here"
        );
    }
    let pull = daemon.hoist(&compose(&file, &["-p", "made", "pull", "app"]));
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    assert!(
        pull.stderr.contains("Service app  Pulled"),
        "{}",
        pull.stderr
    );
    assert_eq!(daemon.image_id(&shared), pushed_id);
    let up = daemon.hoist(&compose(
        &file,
        &["-p", "made", "up", "-d", "--no-build", "app"],
    ));
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert_eq!(version("app"), "v2 none\n");
    let refused = daemon.hoist(&compose(
        &file,
        &["-p", "made", "up", "-d", "--no-build", "local"],
    ));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("has no image made-local and --no-build was given"),
        "{}",
        refused.stderr
    );
    daemon.ok(&compose(&file, &["-p", "made", "down", "--rmi", "local"]));
    assert!(
        daemon.hoist(&["image", "inspect", &shared]).code == 0,
        "--rmi local removed a named image"
    );
    daemon.assert_no_container_leftovers();
}

const CHAIN: &str = r#"
name: chain
services:
  db:
    image: busybox
    command: ["sleep", "3600"]
  side:
    image: busybox
    network_mode: service:db
    command: ["sleep", "3601"]
  app:
    image: busybox
    command: ["sleep", "3602"]
    depends_on:
      db: {condition: service_started, restart: true}
  web:
    image: busybox
    command: ["sleep", "3603"]
    depends_on: [db]
  peek:
    image: busybox
    pid: service:db
    ipc: service:db
    command: ["sleep", "3604"]
"#;

#[test]
fn dependents_follow_a_recreated_service() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "chain", CHAIN);
    daemon.ok(&compose(&file, &["up", "-d"]));
    let ids = |names: &[&str]| names.iter().map(|n| id_of(&daemon, n)).collect::<Vec<_>>();
    let before = ids(&["chain-db-1", "chain-side-1", "chain-app-1", "chain-web-1"]);
    // peek sees db's processes.
    let seen = daemon.ok(&["exec", "chain-peek-1", "ps", "-o", "args"]);
    assert!(
        seen.contains("sleep 3600") && seen.contains("sleep 3604"),
        "{seen}"
    );
    let ipc = |name: &str| daemon.ok(&["exec", name, "readlink", "/proc/self/ns/ipc"]);
    assert_eq!(
        ipc("chain-peek-1"),
        ipc("chain-db-1"),
        "peek does not share db's IPC namespace"
    );
    assert_ne!(ipc("chain-web-1"), ipc("chain-db-1"));
    let app_started = daemon.inspect("chain-app-1")["State"]["StartedAt"].clone();

    fs::write(&file, CHAIN.replace("\"3600\"", "\"3700\"")).unwrap();
    let up = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let after = ids(&["chain-db-1", "chain-side-1", "chain-app-1", "chain-web-1"]);
    // db changed; side lives in db's network namespace, so it is made again.
    assert_ne!(after[0], before[0]);
    assert_ne!(
        after[1], before[1],
        "side was not recreated with db:\n{}",
        up.stderr
    );
    assert_eq!(
        daemon.inspect("chain-side-1")["HostConfig"]["NetworkMode"],
        format!("container:{}", after[0]),
    );
    // restart: true restarts app in place; web only depends on db.
    assert_eq!(after[2], before[2]);
    assert!(
        up.stderr.contains("Container chain-app-1  Restarted"),
        "{}",
        up.stderr
    );
    assert_ne!(
        daemon.inspect("chain-app-1")["State"]["StartedAt"],
        app_started
    );
    assert_eq!(after[3], before[3]);
    assert!(
        up.stderr.contains("Container chain-web-1  Running"),
        "{}",
        up.stderr
    );
    daemon.ok(&compose(&file, &["down"]));
    daemon.assert_no_container_leftovers();
}

#[test]
fn progress_redraws_on_a_terminal() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "tty",
        "services:\n  a:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    init: true\n  b:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    init: true\n",
    );
    let (screen, code) = daemon.in_pty(
        &compose(&file, &["-p", "tty", "up", "-d"]),
        &[],
        std::time::Duration::from_millis(200),
    );
    assert_eq!(code, 0, "{screen}");
    // One block, redrawn in place (cursor up), ending with all done.
    assert!(
        screen.contains("\x1b[") && screen.contains("A\r\x1b[J"),
        "{screen:?}"
    );
    assert!(screen.contains("[+] Running 3/3"), "{screen:?}");
    for line in [
        "\u{2714} Network tty_default",
        "\u{2714} Container tty-a-1",
        "\u{2714} Container tty-b-1",
    ] {
        assert!(screen.contains(line), "no {line:?} in {screen:?}");
    }
    // No plain lines on a terminal.
    assert!(
        !screen.contains(" Container tty-a-1  Started\n"),
        "{screen:?}"
    );
    // Log prefixes are coloured per service on a terminal, plain elsewhere.
    daemon.ok(&["exec", "tty-a-1", "sh", "-c", "echo hi > /proc/1/fd/1"]);
    let (logs, code) = daemon.in_pty(
        &compose(&file, &["-p", "tty", "logs", "a"]),
        &[],
        std::time::Duration::from_millis(200),
    );
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("\x1b[36ma-1 | \x1b[0mhi"), "{logs:?}");
    let plain = daemon.ok(&compose(&file, &["-p", "tty", "logs", "a"]));
    assert_eq!(plain, "a-1 | hi\n");
    daemon.ok(&compose(&file, &["-p", "tty", "down"]));
    daemon.assert_no_container_leftovers();
}

#[test]
fn cp_copies_into_every_replica_and_out_of_one() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "copies",
        "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    init: true\n    deploy: {replicas: 2}\n",
    );
    daemon.ok(&compose(&file, &["-p", "copies", "up", "-d"]));
    let local = daemon.dir.join("note.txt");
    fs::write(&local, "hello replicas\n").unwrap();
    daemon.ok(&compose(
        &file,
        &[
            "-p",
            "copies",
            "cp",
            local.to_str().unwrap(),
            "web:/tmp/note.txt",
        ],
    ));
    for name in ["copies-web-1", "copies-web-2"] {
        assert_eq!(
            daemon.ok(&["exec", name, "cat", "/tmp/note.txt"]),
            "hello replicas\n",
            "{name}"
        );
    }
    daemon.ok(&[
        "exec",
        "copies-web-2",
        "sh",
        "-c",
        "echo from two > /tmp/two.txt",
    ]);
    let out = daemon.dir.join("two.txt");
    daemon.ok(&compose(
        &file,
        &[
            "-p",
            "copies",
            "cp",
            "--index",
            "2",
            "web:/tmp/two.txt",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(fs::read_to_string(&out).unwrap(), "from two\n");
    let missing = daemon.hoist(&compose(
        &file,
        &[
            "-p",
            "copies",
            "cp",
            "web:/tmp/two.txt",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        missing.code, 1,
        "replica 1 has no /tmp/two.txt: {}",
        missing.stderr
    );
    daemon.ok(&compose(&file, &["-p", "copies", "down"]));
    daemon.assert_no_container_leftovers();
}

const KNOBS: &str = r#"
name: knobs
services:
  app:
    image: busybox
    command: ["sleep", "3600"]
    init: true
    hostname: box
    user: "1000:1000"
    working_dir: /tmp
    read_only: true
    tmpfs: [/tmp]
    shm_size: 8m
    environment: {GREETING: hi}
    labels: {team: ops}
    extra_hosts: ["db.internal:10.9.8.7"]
    dns: [192.0.2.53]
    cap_drop: [NET_RAW]
    sysctls: {net.ipv4.ip_unprivileged_port_start: "80"}
    ulimits: {nproc: 512}
    stop_signal: SIGUSR1
    stop_grace_period: 3s
    restart: on-failure:2
    deploy:
      resources:
        limits: {memory: 64M, cpus: "0.5", pids: 100}
    secrets: [pw]
    configs:
      - source: site
        target: /etc/site.conf
secrets:
  pw: {file: ./pw.txt}
configs:
  site: {file: ./site.conf}
"#;

#[test]
fn service_settings_reach_the_container() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "knobs", KNOBS);
    fs::write(file.with_file_name("pw.txt"), "s3cret\n").unwrap();
    fs::write(file.with_file_name("site.conf"), "listen 80\n").unwrap();
    let up = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let sh = |script: &str| daemon.hoist(&["exec", "knobs-app-1", "sh", "-c", script]);
    let out = |script: &str| {
        let run = sh(script);
        assert_eq!(run.code, 0, "{script}: {}", run.stderr);
        run.stdout
    };

    // Process settings.
    assert_eq!(
        out("hostname; id -u; id -g; pwd; echo $GREETING"),
        "box\n1000\n1000\n/tmp\nhi\n"
    );
    assert!(
        out("cat /proc/1/cmdline | tr '\\0' ' '").contains("init"),
        "pid 1 is not an init"
    );
    // Files: secrets and configs, read-only.
    assert_eq!(
        out("cat /run/secrets/pw /etc/site.conf"),
        "s3cret\nlisten 80\n"
    );
    assert_ne!(
        sh("echo x > /run/secrets/pw").code,
        0,
        "the secret is writable"
    );
    // Filesystem: read-only root, writable tmpfs, shm size.
    assert_ne!(
        sh("touch /root-file").code,
        0,
        "the root filesystem is writable"
    );
    out("touch /tmp/ok");
    assert!(
        out("df -k /dev/shm").contains("8192"),
        "{}",
        out("df -k /dev/shm")
    );
    // Names: extra hosts and resolvers.
    assert!(
        out("cat /etc/hosts").contains("10.9.8.7\tdb.internal"),
        "{}",
        out("cat /etc/hosts")
    );
    // On a project network the resolver is the embedded one, which
    // forwards to the service's `dns` servers.
    assert!(out("cat /etc/resolv.conf").contains("nameserver 127.0.0.11"));
    // Kernel settings and limits.
    assert_eq!(
        out("cat /proc/sys/net/ipv4/ip_unprivileged_port_start"),
        "80\n"
    );
    assert_eq!(out("ulimit -u"), "512\n");
    let inspect = daemon.inspect("knobs-app-1");
    let host = &inspect["HostConfig"];
    assert_eq!(host["Memory"], 64 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 100);
    assert_eq!(host["CapDrop"], serde_json::json!(["NET_RAW"]));
    assert_eq!(host["Dns"], serde_json::json!(["192.0.2.53"]));
    assert_eq!(host["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(host["RestartPolicy"]["MaximumRetryCount"], 2);
    assert_eq!(inspect["Config"]["StopSignal"], "SIGUSR1");
    assert_eq!(inspect["Config"]["StopTimeout"], 3);
    assert_eq!(inspect["Config"]["Labels"]["team"], "ops");
    daemon.ok(&compose(&file, &["down"]));
    daemon.assert_no_container_leftovers();
}

#[test]
fn volumes_from_shares_another_services_mounts() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "files",
        r#"
services:
  store:
    image: busybox
    command: sh -c "echo kept > /data/file && exec sleep 60"
    init: true
    volumes: [data:/data]
  reader:
    image: busybox
    command: ["sleep", "60"]
    init: true
    volumes_from: ["store:ro"]
volumes:
  data: {}
"#,
    );
    let up = daemon.hoist(&compose(&file, &["up", "-d"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let store = id_of(&daemon, "files-store-1");
    daemon.eventually(
        std::time::Duration::from_secs(10),
        "the reader sees the store's file",
        || {
            daemon
                .hoist(&["exec", "files-reader-1", "cat", "/data/file"])
                .stdout
                == "kept\n"
        },
    );
    assert_ne!(
        daemon
            .hoist(&["exec", "files-reader-1", "touch", "/data/other"])
            .code,
        0,
        ":ro was not honoured"
    );
    assert_eq!(
        daemon.inspect("files-reader-1")["HostConfig"]["VolumesFrom"],
        serde_json::json!([format!("{store}:ro")])
    );
    // The plain CLI flag, read-write.
    let run = daemon.hoist(&[
        "run",
        "--rm",
        "--volumes-from",
        "files-store-1",
        "busybox",
        "sh",
        "-c",
        "cat /data/file && touch /data/new",
    ]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "kept\n"),
        "{}",
        run.stderr
    );
    daemon.ok(&compose(&file, &["down", "-v"]));
    assert!(!names(&daemon, &["volume", "ls", "-q"]).contains(&"files_data".to_string()));
    daemon.assert_no_container_leftovers();
}

#[test]
fn down_goes_on_past_a_network_still_in_use() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "prof",
        "services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    init: true\n  debug:\n    image: busybox\n    command: [\"sleep\", \"60\"]\n    init: true\n    profiles: [debug]\nvolumes:\n  data: {}\n",
    );
    daemon.ok(&compose(
        &file,
        &["-p", "prof", "--profile", "debug", "up", "-d"],
    ));
    // Without the profile, debug's container stays, and so does the network.
    let down = daemon.hoist(&compose(&file, &["-p", "prof", "down", "-v"]));
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        down.stderr
            .contains("Network prof_default  Resource is still in use"),
        "{}",
        down.stderr
    );
    assert!(
        down.stderr.contains("has active endpoints"),
        "{}",
        down.stderr
    );
    assert_eq!(daemon.inspect("prof-debug-1")["State"]["Running"], true);
    daemon.ok(&compose(
        &file,
        &["-p", "prof", "--profile", "debug", "down", "-v"],
    ));
    assert!(
        !names(&daemon, &["network", "ls", "--format", "{{.Name}}"])
            .contains(&"prof_default".to_string())
    );
    daemon.assert_no_container_leftovers();
}

#[test]
fn build_secrets_labels_network_and_hosts_reach_the_build() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "secretive",
        "services:\n  app:\n    build:\n      context: ./app\n      secrets:\n        - npmrc\n        - {source: token, target: api}\n\
         \x20     labels: [team=core]\n      network: none\n      extra_hosts: [\"db=10.1.2.3\"]\n\
         \x20     shm_size: 16m\n      ulimits: {nofile: {soft: 900, hard: 1800}}\n\
         secrets:\n  npmrc: {file: ./npmrc}\n  token: {environment: API_TOKEN}\n",
    );
    let dir = file.parent().unwrap();
    fs::write(dir.join("npmrc"), "registry=x").unwrap();
    fs::write(dir.join(".env"), "API_TOKEN=t0k3n-value\n").unwrap();
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\n\
         RUN --mount=type=secret,id=npmrc --mount=type=secret,id=api,env=API,required \
         wc -c < /run/secrets/npmrc > /npmrc-size && echo ${#API} > /api-size\n\
         RUN grep -c : /proc/net/dev > /interfaces; grep db /etc/hosts > /hosts; true\n\
         RUN ulimit -n > /nofile && df -k /dev/shm | awk 'NR == 2 {print $2}' > /shm\n",
    )
    .unwrap();
    let built = daemon.hoist(&compose(&file, &["build"]));
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert!(!built.stderr.contains("not supported"), "{}", built.stderr);
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "secretive-app",
            "cat",
            "/npmrc-size",
            "/api-size"
        ]),
        "10\n11\n"
    );
    // build.labels, network, extra_hosts, shm_size and ulimits reach the build.
    assert_eq!(
        daemon.ok(&["run", "--rm", "secretive-app", "cat", "/nofile", "/shm"]),
        "900\n16384\n"
    );
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "secretive-app",
            "cat",
            "/interfaces",
            "/hosts"
        ]),
        "1\n10.1.2.3\tdb\n"
    );
    assert_eq!(
        daemon.inspect("secretive-app")["Config"]["Labels"]["team"],
        "core"
    );
}

#[test]
fn dockerfile_inline_and_additional_contexts_are_built() {
    let daemon = Daemon::with_busybox();
    let file = project(
        &daemon,
        "inline",
        "services:\n  app:\n    build:\n      context: .\n      additional_contexts: [extra=./extra]\n      dockerfile_inline: |\n        FROM busybox\n        COPY data.txt /\n        COPY --from=extra more.txt /\n        CMD [\"cat\", \"/data.txt\", \"/more.txt\"]\n",
    );
    let dir = file.parent().unwrap();
    fs::write(dir.join("data.txt"), "inline works\n").unwrap();
    fs::create_dir_all(dir.join("extra")).unwrap();
    fs::write(dir.join("extra/more.txt"), "and the extra context\n").unwrap();
    let built = daemon.hoist(&compose(&file, &["build"]));
    assert_eq!(built.code, 0, "{}\n{}", built.stdout, built.stderr);
    assert_eq!(
        daemon.ok(&["run", "--rm", "inline-app"]),
        "inline works\nand the extra context\n"
    );
    let both = project(
        &daemon,
        "both",
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM busybox\n",
    );
    let refused = daemon.hoist(&compose(&both, &["build"]));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("cannot both be set"),
        "{}",
        refused.stderr
    );
}
