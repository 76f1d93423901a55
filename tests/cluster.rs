//! The cluster control plane on the multi-host test bed: managers and
//! workers join with tokens over mutual TLS, agree on the node list, keep
//! writing through a leader failover, refuse what they must refuse, and
//! keep their state across daemon restarts. Root only.

use std::path::Path;
use std::time::{Duration, Instant};

use hoist_e2e::{Host, TestBed};
use serde_json::Value;

/// The hoist binary under test.
const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// How long the cluster may take to settle after a change.
const SETTLE: Duration = Duration::from_secs(20);

/// `node ls --format json` on `host`, as (hostname → node) pairs.
fn nodes(host: &Host) -> Vec<Value> {
    let out = host.ok(&["node", "ls", "--format", "json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("node ls json: {e}\n{out}"))
}

/// A summary of `node ls` that every manager must agree on:
/// (hostname, role, status, manager status) sorted.
fn summary(host: &Host) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = nodes(host)
        .iter()
        .map(|n| {
            (
                n["Hostname"].as_str().unwrap_or_default().to_string(),
                n["Role"].as_str().unwrap_or_default().to_string(),
                n["Status"].as_str().unwrap_or_default().to_string(),
                n["ManagerStatus"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn eventually(bed: &TestBed, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            bed.log_tails()
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Builds a cluster: h0 inits, h1 and h2 join as managers, the rest as
/// workers.
fn cluster(hosts: usize) -> TestBed {
    let bed = TestBed::new(Path::new(HOIST), hosts);
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
    let manager_token = first.ok(&["cluster", "join-token", "-q", "manager"]);
    let worker_token = first.ok(&["cluster", "join-token", "-q", "worker"]);
    let remote = first.addr().to_string();
    for i in 1..hosts {
        let host = bed.host(i);
        let token = if i < 3 { &manager_token } else { &worker_token };
        let out = host.ok(&[
            "cluster",
            "join",
            "--token",
            token.trim(),
            "--advertise-addr",
            &host.addr().to_string(),
            &remote,
        ]);
        let role = if i < 3 { "manager" } else { "worker" };
        assert!(
            out.contains(&format!("joined a cluster as a {role}")),
            "{out}"
        );
    }
    bed
}

/// The expected agreed summary when every node is up: one leader.
fn healthy(bed: &TestBed, summary: &[(String, String, String, String)]) -> bool {
    let managers = summary.iter().filter(|r| r.1 == "manager").count();
    summary.len() == bed.hosts().len()
        && summary.iter().all(|r| r.2 == "ready")
        && summary.iter().filter(|r| r.3 == "Leader").count() == 1
        && summary.iter().filter(|r| r.3 == "Reachable").count() == managers - 1
}

#[test]
fn managers_and_workers_join_and_agree() {
    let bed = cluster(5);
    let mut last = Vec::new();
    eventually(&bed, "every node ready with one leader", || {
        last = summary(bed.host(0));
        healthy(&bed, &last)
    });
    let reference = summary(bed.host(0));
    let managers = reference.iter().filter(|r| r.1 == "manager").count();
    assert_eq!(managers, 3, "{reference:?}");
    for i in 1..3 {
        eventually(&bed, "managers agree on node ls", || {
            summary(bed.host(i)) == reference
        });
    }
    // Workers cannot see or change cluster state.
    let refused = bed.host(3).hoist(&["node", "ls"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("not a cluster manager"),
        "{refused}"
    );
    // `-q` prints IDs only; self is marked in the table.
    let ids = bed.host(0).ok(&["node", "ls", "-q"]);
    assert_eq!(ids.lines().count(), 5, "{ids}");
    let table = bed.host(1).ok(&["node", "ls"]);
    assert!(table.starts_with("ID "), "{table}");
    assert_eq!(table.matches(" * ").count(), 1, "{table}");
    // Labels and availability go through Raft and show on every manager.
    let worker = bed.host(4).name().to_string();
    bed.host(1).ok(&[
        "node",
        "update",
        "--availability",
        "drain",
        "--label-add",
        "zone=a",
        &worker,
    ]);
    eventually(&bed, "the update on another manager", || {
        let doc = bed.host(2).ok(&["node", "inspect", &worker]);
        let doc: Value = serde_json::from_str(&doc).unwrap();
        doc[0]["Availability"] == "drain" && doc[0]["Labels"]["zone"] == "a"
    });
}
