//! Clusters on the multi-host test bed (hoist-e2e), for the cluster tests
//! and benchmarks: forming one, joining a host, reading `node ls`.

use std::path::Path;

use hoist_e2e::{Host, Run, TestBed};
use serde_json::Value;

use super::HOIST;

/// `node ls --format json` on `host`.
pub fn nodes(host: &Host) -> Vec<Value> {
    super::json_lines(&host.ok(&["node", "ls", "--format", "json"]))
}

/// `cluster join` of `host` with `token` through `manager`.
pub fn join(host: &Host, token: &str, manager: &Host) -> Run {
    host.hoist(&[
        "cluster",
        "join",
        "--token",
        token.trim(),
        "--advertise-addr",
        &host.addr().to_string(),
        &manager.addr().to_string(),
    ])
}

/// A bed of `hosts`: h0 inits a cluster, the next hosts up to `managers`
/// join as managers, those up to `members` as workers, the rest stay out.
pub fn form(hosts: usize, managers: usize, members: usize) -> TestBed {
    form_on(TestBed::new(Path::new(HOIST), hosts), managers, members)
}

/// [`form`] on a bed already started (one built with daemon arguments).
pub fn form_on(bed: TestBed, managers: usize, members: usize) -> TestBed {
    let first = bed.host(0);
    let init = first.ok(&[
        "cluster",
        "init",
        "--advertise-addr",
        &first.addr().to_string(),
    ]);
    assert!(init.contains("is now a manager"), "{init}");
    assert!(
        init.contains("hoist cluster join --token HOIST-1-"),
        "{init}"
    );
    for i in 1..members {
        let role = if i < managers { "manager" } else { "worker" };
        let token = first.ok(&["cluster", "join-token", "-q", role]);
        let joined = join(bed.host(i), &token, first);
        assert!(
            joined.code == 0
                && joined
                    .stdout
                    .contains(&format!("joined a cluster as a {role}")),
            "join of {}: {joined}",
            bed.host(i).name()
        );
    }
    bed
}

/// Index of the host `node ls` on `asker` names as the leader.
pub fn leader(bed: &TestBed, asker: usize) -> Option<usize> {
    let nodes = nodes(bed.host(asker));
    let name = nodes.iter().find(|n| n["ManagerStatus"] == "Leader")?["Hostname"]
        .as_str()?
        .to_string();
    bed.hosts().iter().position(|h| h.name() == name)
}

/// A `hoist cluster simulate` process playing worker nodes, killed (all
/// its nodes failing at once) when dropped.
pub struct Simulation {
    child: std::process::Child,
    /// How many nodes it plays.
    pub nodes: usize,
}

impl Simulation {
    /// Starts `nodes` simulated nodes named `<prefix>-<n>` on `host`,
    /// joining through `manager`; returns once they have all joined.
    pub fn start(host: &Host, manager: &Host, nodes: usize, prefix: &str) -> Simulation {
        use std::io::{BufRead, BufReader};
        let token = manager.ok(&["cluster", "join-token", "-q", "worker"]);
        let mut child = host
            .command(&[
                "cluster",
                "simulate",
                "--nodes",
                &nodes.to_string(),
                "--prefix",
                prefix,
                "--token",
                token.trim(),
                &manager.addr().to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("cluster simulate starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let simulation = Simulation { child, nodes };
        assert!(
            read.is_ok() && line.contains(&format!("{nodes} simulated nodes joined")),
            "cluster simulate said {line:?}"
        );
        simulation
    }

    /// Kills the process: every node it plays stops at once.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Tasks of service `name` running now, from `service ls` on `host` (0
/// while the managers cannot answer).
pub fn running_tasks(host: &Host, name: &str) -> u64 {
    let run = host.hoist(&["service", "ls", "--format", "json"]);
    if run.code != 0 {
        return 0;
    }
    super::json_lines(&run.stdout)
        .iter()
        .find(|s| s["Name"] == name)
        .and_then(|s| s["Running"].as_u64())
        .unwrap_or(0)
}

/// Tasks of `service` meant to run on nodes whose hostname starts with
/// `prefix` (a simulation's), from `service ps` on `host`.
pub fn tasks_on(host: &Host, service: &str, prefix: &str) -> usize {
    let out = host.ok(&[
        "service",
        "ps",
        "--format",
        "json",
        "-f",
        "desired-state=running",
        service,
    ]);
    super::json_lines(&out)
        .iter()
        .filter(|t| t["Node"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .count()
}
