//! Benchmarks of the cluster control plane on the multi-host test bed
//! (ignored by default; they print measurements and assert none):
//!
//! ```text
//! cargo test --release --test cluster_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `failover`: kill the leader of 3 managers, time until a write sent to
//!   a survivor commits (median of repeated runs), against the same write
//!   on a healthy cluster measured in the same run.
//! - `replicated_writes`: `hoist cluster bench` on 3 managers (through the
//!   leader and through a follower) against a 1-manager cluster on the
//!   same machine in the same run.
//! - `down_detection`: kill a worker's daemon, time until `node ls` on the
//!   manager shows it down.

mod support;

use std::time::{Duration, Instant};

use hoist_e2e::TestBed;
use support::cluster::{form, leader, nodes};

/// A cluster of `hosts` of which the first `managers` are managers, every
/// node ready.
fn cluster(hosts: usize, managers: usize) -> TestBed {
    let bed = form(hosts, managers, hosts);
    bed.eventually(Duration::from_secs(30), "every node ready", || {
        all_ready(&bed, 0, managers)
    });
    bed
}

fn all_ready(bed: &TestBed, asker: usize, managers: usize) -> bool {
    let nodes = nodes(bed.host(asker));
    nodes.len() == bed.hosts().len()
        && nodes.iter().all(|n| n["Status"] == "ready")
        && nodes
            .iter()
            .filter(|n| n["ManagerStatus"] == "Leader" || n["ManagerStatus"] == "Reachable")
            .count()
            == managers
}

fn stats(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: runs={} median_ms={:.0} min_ms={:.0} max_ms={:.0}",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn failover() {
    let mut bed = cluster(3, 3);
    let target = bed.host(0).name().to_string();
    let mut healthy = Vec::new();
    for i in 0..10 {
        let at = Instant::now();
        bed.host(0)
            .ok(&["node", "update", "--label-add", &format!("w={i}"), &target]);
        healthy.push(at.elapsed());
    }
    let mut failover = Vec::new();
    for run in 0..10 {
        let old = leader(&bed, 0).expect("a leader");
        let survivor = (old + 1) % 3;
        bed.host_mut(old).kill_daemon();
        let at = Instant::now();
        bed.host(survivor).ok(&[
            "node",
            "update",
            "--label-add",
            &format!("run={run}"),
            &target,
        ]);
        failover.push(at.elapsed());
        bed.host_mut(old).start_daemon();
        bed.eventually(Duration::from_secs(30), "three managers again", || {
            all_ready(&bed, survivor, 3)
        });
    }
    stats("write on a healthy cluster (CLI included)", &mut healthy);
    stats(
        "leader killed -> a write commits (CLI included)",
        &mut failover,
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn replicated_writes() {
    let three = cluster(3, 3);
    let one = cluster(1, 1);
    let leader = leader(&three, 0).expect("a leader");
    let follower = (leader + 1) % 3;
    for (label, host) in [
        ("1 manager", one.host(0)),
        ("3 managers, via the leader", three.host(leader)),
        ("3 managers, via a follower", three.host(follower)),
    ] {
        let out = host.ok(&[
            "cluster",
            "bench",
            "--count",
            "20000",
            "--concurrency",
            "64",
        ]);
        println!("{label}: {}", out.trim());
    }
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn down_detection() {
    let mut bed = cluster(2, 1);
    let worker = bed.host(1).name().to_string();
    let mut samples = Vec::new();
    for _ in 0..5 {
        bed.host_mut(1).kill_daemon();
        let at = Instant::now();
        bed.eventually(Duration::from_secs(30), "the worker down", || {
            nodes(bed.host(0))
                .iter()
                .any(|n| n["Hostname"] == worker.as_str() && n["Status"] == "down")
        });
        samples.push(at.elapsed());
        bed.host_mut(1).start_daemon();
        bed.eventually(Duration::from_secs(30), "the worker ready", || {
            all_ready(&bed, 0, 1)
        });
    }
    stats(
        "daemon killed -> node down (polled every 50 ms)",
        &mut samples,
    );
}
