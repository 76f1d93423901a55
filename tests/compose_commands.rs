//! `hoist compose`'s per-project container commands against a real
//! daemon: stop/start/restart in dependency order keeping the containers,
//! kill with a signal, pause/unpause, rm with its confirmation and `-v`,
//! top, port, images, wait, and `ls` across the daemon's projects.

mod support;

use std::path::{Path, PathBuf};

use support::compose::{compose, project};
use support::{Daemon, Run};

/// Runs a compose command and asserts it succeeded.
fn ok(daemon: &Daemon, file: &Path, args: &[&str]) -> Run {
    let run = daemon.hoist(&compose(file, args));
    assert_eq!(
        run.code, 0,
        "compose {args:?} failed:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

/// Asserts `first` and `then` both appear in `text`, in that order.
fn in_order(text: &str, first: &str, then: &str) {
    let a = text.find(first);
    let b = text.find(then);
    assert!(
        matches!((a, b), (Some(a), Some(b)) if a < b),
        "expected {first:?} before {then:?} in:\n{text}"
    );
}

fn state(daemon: &Daemon, name: &str, field: &str) -> serde_json::Value {
    daemon.inspect(name)["State"][field].clone()
}

/// Takes the project down when the test ends, passed or failed.
struct Down<'a> {
    daemon: &'a Daemon,
    file: PathBuf,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self
            .daemon
            .hoist(&compose(&self.file, &["down", "-v", "-t", "1"]));
    }
}

/// Processes that stop at once on SIGTERM (and exit 3 on SIGUSR1), so
/// stops never wait out a timeout.
const SHOP: &str = r#"
name: shop
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; trap 'exit 3' USR1; sleep 3600 & wait"]
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_started, restart: true}
"#;

#[test]
fn stop_start_restart_pause_kill_and_rm() {
    let daemon = Daemon::with_busybox();
    let file = project(&daemon, "shop", SHOP);
    let _down = Down {
        daemon: &daemon,
        file: file.clone(),
    };
    // create makes the containers and starts none; up starts them.
    let created = ok(&daemon, &file, &["create"]);
    assert!(
        created.stderr.contains("Container shop-web-1  Created"),
        "{}",
        created.stderr
    );
    assert!(!created.stderr.contains("Started"), "{}", created.stderr);
    for name in ["shop-db-1", "shop-web-1"] {
        assert_eq!(daemon.inspect(name)["State"]["Status"], "created", "{name}");
    }
    ok(&daemon, &file, &["up", "-d"]);
    let ids = |daemon: &Daemon| {
        (
            daemon.inspect("shop-db-1")["Id"].clone(),
            daemon.inspect("shop-web-1")["Id"].clone(),
        )
    };
    let before = ids(&daemon);

    // stop: the dependent first; the containers stay.
    let stop = ok(&daemon, &file, &["stop"]);
    in_order(
        &stop.stderr,
        "Container shop-web-1  Stopped",
        "Container shop-db-1  Stopping",
    );
    assert_eq!(state(&daemon, "shop-db-1", "Running"), false);
    assert_eq!(state(&daemon, "shop-web-1", "Running"), false);

    // ls: no running container, so only with -a.
    assert_eq!(ok(&daemon, &file, &["ls", "-q"]).stdout, "");
    let all = ok(&daemon, &file, &["ls", "-a"]).stdout;
    assert!(
        all.lines()
            .any(|l| l.starts_with("shop ") && l.contains("exited(2)")),
        "{all}"
    );

    // start: the dependency first, the same containers.
    let start = ok(&daemon, &file, &["start"]);
    in_order(
        &start.stderr,
        "Container shop-db-1  Started",
        "Container shop-web-1  Starting",
    );
    assert_eq!(ids(&daemon), before, "start made new containers");
    assert_eq!(state(&daemon, "shop-web-1", "Running"), true);

    // ls: the project, its state counts and its compose file.
    let ls = ok(&daemon, &file, &["ls"]).stdout;
    let mut lines = ls.lines();
    assert!(lines.next().unwrap_or_default().starts_with("NAME"), "{ls}");
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with("shop ")
            && row.contains("running(2)")
            && row.contains(file.to_str().unwrap()),
        "{ls}"
    );
    assert_eq!(ok(&daemon, &file, &["ls", "-q"]).stdout, "shop\n");
    assert_eq!(
        ok(&daemon, &file, &["ls", "--filter", "name=nothing", "-q"]).stdout,
        ""
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&daemon, &file, &["ls", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"Name": "shop", "Status": "running(2)", "ConfigFiles": file.to_str().unwrap()}])
    );

    // restart db: web depends on it with restart: true, so it follows.
    let restart = ok(&daemon, &file, &["restart", "db"]);
    in_order(
        &restart.stderr,
        "Container shop-db-1  Started",
        "Container shop-web-1  Restarting",
    );
    let alone = ok(&daemon, &file, &["restart", "--no-deps", "db"]);
    assert!(
        alone.stderr.contains("Container shop-db-1  Restarting")
            && !alone.stderr.contains("shop-web-1"),
        "{}",
        alone.stderr
    );
    assert_eq!(ids(&daemon), before, "restart made new containers");

    // pause / unpause.
    let pause = ok(&daemon, &file, &["pause", "web"]);
    assert!(
        pause.stderr.contains("Container shop-web-1  Paused"),
        "{}",
        pause.stderr
    );
    assert_eq!(state(&daemon, "shop-web-1", "Paused"), true);
    assert_eq!(state(&daemon, "shop-db-1", "Paused"), false);
    let ls = ok(&daemon, &file, &["ls"]).stdout;
    assert!(ls.contains("paused(1), running(1)"), "{ls}");
    let unpause = ok(&daemon, &file, &["unpause"]);
    assert!(
        unpause.stderr.contains("Container shop-web-1  Unpaused"),
        "{}",
        unpause.stderr
    );
    assert_eq!(state(&daemon, "shop-web-1", "Paused"), false);

    // top: a table per container, under its name.
    let top = ok(&daemon, &file, &["top"]).stdout;
    in_order(&top, "shop-db-1\nUID", "shop-web-1\nUID");
    assert!(top.contains("sleep 3600"), "{top}");

    // stats: one sample of each running container, or of the services named.
    let stats = ok(
        &daemon,
        &file,
        &["stats", "--no-stream", "--format", "{{.Name}}"],
    )
    .stdout;
    let mut names: Vec<&str> = stats.lines().collect();
    names.sort();
    assert_eq!(names, ["shop-db-1", "shop-web-1"], "{stats}");
    let web = ok(
        &daemon,
        &file,
        &["stats", "--no-stream", "--format", "{{.Name}}", "web"],
    )
    .stdout;
    assert_eq!(web.trim(), "shop-web-1");

    // port: where web's port 80 is published.
    assert_eq!(
        ok(&daemon, &file, &["port", "web", "80"]).stdout,
        "0.0.0.0:8080\n"
    );
    let missing = daemon.hoist(&compose(&file, &["port", "--protocol", "udp", "web", "80"]));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("no port 80/udp for container shop-web-1"),
        "{}",
        missing.stderr
    );

    // images: busybox under each container.
    let images = ok(&daemon, &file, &["images"]).stdout;
    let busybox = daemon.image_id("busybox");
    let short = &busybox.trim_start_matches("sha256:")[..12];
    assert!(images.starts_with("CONTAINER"), "no header in:\n{images}");
    for name in ["shop-db-1", "shop-web-1"] {
        assert!(
            images.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.get(..4) == Some(&[name, "busybox", "latest", short][..])
            }),
            "no {name} busybox latest {short} in:\n{images}"
        );
    }
    assert_eq!(
        ok(&daemon, &file, &["images", "-q"]).stdout,
        format!("{}\n", busybox.trim_start_matches("sha256:"))
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&daemon, &file, &["images", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["ContainerName"], "shop-db-1");
    assert_eq!(json[0]["Repository"], "busybox");

    // kill -s: the signal reaches the process (its trap exits 3).
    let kill = ok(&daemon, &file, &["kill", "-s", "SIGUSR1", "db"]);
    assert!(
        kill.stderr.contains("Container shop-db-1  Killed"),
        "{}",
        kill.stderr
    );
    daemon.eventually(
        std::time::Duration::from_secs(10),
        "db to exit on SIGUSR1",
        || state(&daemon, "shop-db-1", "Running") == false,
    );
    assert_eq!(state(&daemon, "shop-db-1", "ExitCode"), 3);
    assert_eq!(state(&daemon, "shop-web-1", "Running"), true);
    let again = ok(&daemon, &file, &["kill", "db"]);
    assert!(
        again.stderr.contains("no container to kill"),
        "{}",
        again.stderr
    );

    // rm -f: only the stopped container goes.
    let rm = ok(&daemon, &file, &["rm", "-f"]);
    assert_eq!(rm.stdout, "Going to remove shop-db-1\n");
    assert!(
        rm.stderr.contains("Container shop-db-1  Removed"),
        "{}",
        rm.stderr
    );
    assert_ne!(daemon.hoist(&["inspect", "shop-db-1"]).code, 0);
    assert_eq!(state(&daemon, "shop-web-1", "Running"), true);
    let nothing = ok(&daemon, &file, &["rm", "-f"]);
    assert!(
        nothing.stderr.contains("No stopped containers"),
        "{}",
        nothing.stderr
    );

    // rm -f -s: stopped, then removed.
    let rm = ok(&daemon, &file, &["rm", "-f", "-s", "web"]);
    in_order(
        &rm.stderr,
        "Container shop-web-1  Stopped",
        "Container shop-web-1  Removed",
    );
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
    assert!(!ok(&daemon, &file, &["ls", "-a"]).stdout.contains("shop"));
    drop(_down);
    daemon.assert_no_container_leftovers();
}

/// A job that exits 5 after a moment, with an anonymous volume, beside a
/// service that runs until stopped.
const JOBS: &str = r#"
name: jobs
services:
  job:
    image: busybox
    command: ["sh", "-c", "sleep 3; exit 5"]
    volumes: ["/scratch"]
  keep:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
"#;

#[test]
fn wait_rm_confirmation_and_volumes() {
    let daemon = Daemon::with_busybox();
    // `compose version` needs neither a compose file nor the daemon.
    let version = daemon.ok(&["compose", "version", "--short"]);
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));
    daemon.assert_fails(
        &["compose", "version", "--format", "yaml"],
        "use pretty or json",
    );
    let file = project(&daemon, "jobs", JOBS);
    let _down = Down {
        daemon: &daemon,
        file: file.clone(),
    };
    let volumes = || daemon.ok(&["volume", "ls", "-q"]);
    ok(&daemon, &file, &["up", "-d"]);
    let anonymous = volumes();
    assert_eq!(anonymous.lines().count(), 1, "{anonymous}");

    // wait: the job's status becomes ours.
    let id = daemon.inspect("jobs-job-1")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let wait = daemon.hoist(&compose(&file, &["wait", "job"]));
    assert_eq!(wait.code, 5, "{}\n{}", wait.stdout, wait.stderr);
    assert_eq!(
        wait.stdout,
        format!("container \"{id}\" exited with status code 5\n")
    );
    let none = daemon.hoist(&compose(&file, &["wait", "job"]));
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(
        none.stderr.contains("no containers for project \"jobs\""),
        "{}",
        none.stderr
    );

    // rm asks first; "n" keeps the container.
    let args = compose(&file, &["rm", "-v"]);
    let no = daemon.hoist_with_input(&args, b"n\n");
    assert_eq!(no.code, 0, "{}", no.stderr);
    assert!(
        no.stdout
            .starts_with("Going to remove jobs-job-1\nAre you sure? [yN]"),
        "{}",
        no.stdout
    );
    assert_eq!(daemon.hoist(&["inspect", "jobs-job-1"]).code, 0);
    assert_eq!(volumes(), anonymous);

    // "y" removes it, with -v its anonymous volume too.
    let yes = daemon.hoist_with_input(&args, b"y\n");
    assert_eq!(yes.code, 0, "{}", yes.stderr);
    assert!(
        yes.stderr.contains("Container jobs-job-1  Removed"),
        "{}",
        yes.stderr
    );
    assert_ne!(daemon.hoist(&["inspect", "jobs-job-1"]).code, 0);
    assert_eq!(volumes(), "", "rm -v left the anonymous volume");
    assert_eq!(state(&daemon, "jobs-keep-1", "Running"), true);

    // wait --down-project: the status, then the project is gone.
    ok(&daemon, &file, &["up", "-d"]);
    let wait = daemon.hoist(&compose(&file, &["wait", "--down-project", "job"]));
    assert_eq!(wait.code, 5, "{}\n{}", wait.stdout, wait.stderr);
    assert!(
        wait.stderr.contains("Container jobs-keep-1  Removed")
            && wait.stderr.contains("Network jobs_default  Removed"),
        "{}",
        wait.stderr
    );
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
    assert_eq!(ok(&daemon, &file, &["ls", "-a", "-q"]).stdout, "");
    drop(_down);
    daemon.assert_no_container_leftovers();
}
