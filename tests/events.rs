//! `hoist events` and `hoist compose events` against a real daemon: a
//! container's life seen live in order with its attributes, past events
//! replayed from the daemon's memory between `--since` and `--until`,
//! filters narrowing the stream, and a compose project's events kept apart
//! from another project's.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Daemon;

/// How long a test waits for an event it expects.
const PATIENCE: Duration = Duration::from_secs(30);

/// A streaming `hoist` command read line by line in the background; killed
/// when dropped, so a failing test leaves no process behind.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::path::PathBuf,
}

impl Watcher {
    fn spawn(daemon: &Daemon, args: &[&str]) -> Self {
        let stderr = daemon.dir.join(format!(
            "watcher-{}.err",
            hoist_runtime::fsutil::random_hex(4)
        ));
        let mut child = daemon
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start hoist");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Reads lines until one parses into an event for which `done` holds;
    /// returns every event read so far.
    fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.events().iter().any(&done) {
                return self.events();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no event {what} within {PATIENCE:?}; saw:\n{}\nstderr: {}",
                    self.seen.join("\n"),
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                ),
            }
        }
    }

    fn events(&self) -> Vec<Value> {
        self.seen
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attribute<'a>(event: &'a Value, key: &str) -> &'a str {
    event["Actor"]["Attributes"][key]
        .as_str()
        .unwrap_or_default()
}

fn is(event: &Value, kind: &str, action: &str, name: &str) -> bool {
    event["Type"] == kind && event["Action"] == action && attribute(event, "name") == name
}

/// Now, as `--since` / `--until` take it.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The JSON events a finite `hoist events` command printed.
fn replay(daemon: &Daemon, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["events", "--format", "json"];
    all.extend_from_slice(args);
    daemon
        .ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["Type"].as_str().unwrap_or_default(),
                e["Action"].as_str().unwrap_or_default(),
                attribute(e, "name")
            )
        })
        .collect()
}

#[test]
fn a_containers_life_is_streamed_live_in_order() {
    let daemon = Daemon::with_busybox();
    // `--since` closes the race between the watcher subscribing and the
    // probe: made before the subscription, the probe is replayed; after,
    // it is live. Either way, once it is seen, what follows is live.
    let since = now();
    let mut watcher = Watcher::spawn(&daemon, &["events", "--format", "json", "--since", &since]);
    daemon.ok(&["volume", "create", "probe"]);
    watcher.until("volume create probe", |e| {
        e["Type"] == "volume" && e["Action"] == "create" && e["Actor"]["ID"] == "probe"
    });

    let run = daemon.hoist(&[
        "run",
        "--name",
        "once",
        "--label",
        "team=blue",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let id = daemon.inspect("once")["Id"].as_str().unwrap().to_string();
    daemon.ok(&["rm", "once"]);
    daemon.ok(&["volume", "rm", "probe"]);
    let events = watcher.until("container destroy once", |e| {
        is(e, "container", "destroy", "once")
    });

    let container: Vec<&Value> = events
        .iter()
        .filter(|e| e["Type"] == "container" && e["Actor"]["ID"] == id.as_str())
        .collect();
    let actions: Vec<&str> = container
        .iter()
        .map(|e| e["Action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        ["create", "start", "die", "destroy"],
        "{:#?}",
        summary(&events)
    );
    for event in &container {
        assert_eq!(attribute(event, "name"), "once", "{event}");
        assert_eq!(attribute(event, "image"), "busybox", "{event}");
        assert_eq!(attribute(event, "team"), "blue", "{event}");
        assert_eq!(event["scope"], "local");
        let nanos = event["timeNano"].as_i64().unwrap();
        assert_eq!(event["time"].as_i64().unwrap(), nanos / 1_000_000_000);
    }
    assert_eq!(attribute(container[2], "exitCode"), "3", "{}", container[2]);
    let times: Vec<i64> = events
        .iter()
        .map(|e| e["timeNano"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // Its network endpoint came and went around its run.
    let position = |action: &str| {
        events
            .iter()
            .position(|e| {
                e["Type"] == "network" && e["Action"] == action && attribute(e, "container") == id
            })
            .unwrap_or_else(|| panic!("no network {action}: {:#?}", summary(&events)))
    };
    let at = |action: &str| {
        events
            .iter()
            .position(|e| e["Actor"]["ID"] == id.as_str() && e["Action"] == action)
            .unwrap()
    };
    assert!(position("connect") < at("start"));
    assert!(at("die") < position("disconnect"));
    assert_eq!(attribute(&events[position("connect")], "name"), "bridge");
    watcher.until("volume destroy probe", |e| {
        e["Type"] == "volume" && e["Action"] == "destroy" && e["Actor"]["ID"] == "probe"
    });

    // Health changes and a forced removal of a running container.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "600",
    ]);
    watcher.until("doc healthy", |e| {
        is(e, "container", "health_status: healthy", "doc")
    });
    daemon.ok(&["rm", "-f", "doc"]);
    let events = watcher.until("doc destroyed", |e| is(e, "container", "destroy", "doc"));
    let doc: Vec<String> = summary(&events)
        .into_iter()
        .filter(|s| s.starts_with("container ") && s.ends_with(" doc"))
        .collect();
    assert_eq!(
        doc,
        [
            "container create doc",
            "container start doc",
            "container health_status: healthy doc",
            "container kill doc",
            "container die doc",
            "container destroy doc"
        ]
    );
    let kill = events
        .iter()
        .find(|e| is(e, "container", "kill", "doc"))
        .unwrap();
    assert_eq!(attribute(kill, "signal"), "9");
    drop(watcher);
    daemon.assert_no_container_leftovers();
}

#[test]
fn past_events_replay_between_since_and_until_and_filters_narrow() {
    let daemon = Daemon::with_busybox();
    let t0 = now();
    daemon.ok(&["run", "--rm", "--name", "first", "busybox", "true"]);
    let t1 = now();
    let run = daemon.hoist(&[
        "run",
        "--name",
        "second",
        "--label",
        "team=blue",
        "busybox",
        "sh",
        "-c",
        "exit 2",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    daemon.ok(&["rm", "second"]);
    let t2 = now();

    let first = replay(&daemon, &["--since", &t0, "--until", &t1]);
    let containers: Vec<String> = summary(&first)
        .into_iter()
        .filter(|s| s.starts_with("container "))
        .collect();
    assert_eq!(
        containers,
        [
            "container create first",
            "container start first",
            "container die first",
            "container destroy first"
        ]
    );
    let second = replay(&daemon, &["--since", &t1, "--until", &t2]);
    assert!(
        second.iter().all(|e| attribute(e, "name") != "first"),
        "{:#?}",
        summary(&second)
    );
    assert!(
        second
            .iter()
            .any(|e| is(e, "container", "destroy", "second"))
    );

    let dies = replay(
        &daemon,
        &["--since", &t0, "--until", &t2, "-f", "event=die"],
    );
    assert_eq!(
        summary(&dies),
        ["container die first", "container die second"]
    );
    assert_eq!(attribute(&dies[1], "exitCode"), "2");
    let labelled = replay(
        &daemon,
        &[
            "--since",
            &t0,
            "--until",
            &t2,
            "--filter",
            "label=team=blue",
        ],
    );
    assert_eq!(
        summary(&labelled),
        [
            "container create second",
            "container start second",
            "container die second",
            "container destroy second"
        ]
    );
    let named = replay(
        &daemon,
        &[
            "--since",
            &t0,
            "--until",
            &t2,
            "-f",
            "container=first",
            "-f",
            "type=container",
        ],
    );
    assert_eq!(named.len(), 4, "{:#?}", summary(&named));
    let both = replay(
        &daemon,
        &[
            "--since",
            &t0,
            "--until",
            &t2,
            "-f",
            "event=start",
            "-f",
            "event=destroy",
            "-f",
            "type=container",
        ],
    );
    assert_eq!(
        summary(&both),
        [
            "container start first",
            "container destroy first",
            "container start second",
            "container destroy second"
        ]
    );

    // Docker's line and a template.
    let lines = daemon.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "-f",
        "event=create",
    ]);
    let line = lines.lines().next().unwrap_or_default();
    let id = line.split(' ').nth(3).unwrap_or_default();
    assert!(
        line.contains(" container create ") && line.ends_with("(image=busybox, name=first)"),
        "{lines}"
    );
    assert_eq!(id.len(), 64, "{line}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).is_ok(),
        "{line}"
    );
    let templated = daemon.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t2,
        "-f",
        "event=die",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(templated, "die first 0\ndie second 2\n");

    // A stream with an `until` in the future ends by itself then.
    let start = Instant::now();
    let later = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let bounded = replay(
        &daemon,
        &["--since", &t0, "--until", &later, "-f", "event=destroy"],
    );
    assert_eq!(bounded.len(), 2, "{:#?}", summary(&bounded));
    assert!(start.elapsed() >= Duration::from_millis(1500));

    // Bad requests are refused with a clear message.
    let bad = daemon.hoist(&["events", "-f", "colour=red"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("colour"), "{}", bad.stderr);
    let bad = daemon.hoist(&["events", "--since", &t2, "--until", &t0]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("cannot be after"), "{}", bad.stderr);
    daemon.assert_no_container_leftovers();
}

fn project(daemon: &Daemon, name: &str) -> String {
    let dir = daemon.dir.join(name);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    fs::write(
        &file,
        format!(
            "name: {name}\nservices:\n  web:\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n    labels:\n      tier: front\n"
        ),
    )
    .unwrap();
    file.to_string_lossy().into_owned()
}

#[test]
fn compose_events_show_the_projects_containers_only() {
    let daemon = Daemon::with_busybox();
    let alpha = project(&daemon, "alpha");
    let beta = project(&daemon, "beta");
    let since = now();
    let mut watcher = Watcher::spawn(
        &daemon,
        &[
            "compose", "-f", &alpha, "events", "--json", "--since", &since,
        ],
    );
    daemon.ok(&["compose", "-f", &alpha, "up", "-d"]);
    daemon.ok(&["compose", "-f", &beta, "up", "-d"]);
    let started = watcher.until("start of alpha's web", |e| e["action"] == "start");
    let start = started.iter().find(|e| e["action"] == "start").unwrap();
    assert_eq!(start["type"], "container");
    assert_eq!(start["service"], "web");
    assert_eq!(
        start["id"].as_str(),
        daemon.inspect("alpha-web-1")["Id"].as_str()
    );
    assert_eq!(
        start["attributes"],
        serde_json::json!({"image": "busybox", "name": "alpha-web-1", "tier": "front"})
    );
    assert!(
        start["time"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );

    // Everything of beta happened before alpha goes down: had any of it
    // been reported, it would have come first.
    daemon.ok(&["compose", "-f", &alpha, "down", "-t", "1"]);
    let events = watcher.until("destroy of alpha's web", |e| e["action"] == "destroy");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["attributes"]["name"].as_str().unwrap_or_default())
        .collect();
    assert!(names.iter().all(|n| *n == "alpha-web-1"), "{names:?}");
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions.first(), Some(&"create"), "{actions:?}");
    assert!(
        actions.contains(&"die") && actions.contains(&"stop"),
        "{actions:?}"
    );
    drop(watcher);

    // The plain lines, for the other project's service, replayed.
    let lines = daemon.ok(&[
        "compose",
        "-f",
        &beta,
        "events",
        "--since",
        &since,
        "--until",
        &now(),
        "web",
    ]);
    let create = lines.lines().next().unwrap_or_default();
    assert!(
        create.contains(" container create ")
            && create.ends_with("(image=busybox, name=beta-web-1, tier=front)"),
        "{lines}"
    );
    daemon.ok(&["compose", "-f", &beta, "down", "-t", "0"]);
    daemon.assert_no_container_leftovers();
}
