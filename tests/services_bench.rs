//! Benchmarks of services on the multi-host test bed (ignored by default;
//! they print measurements and assert only that the work converged):
//!
//! ```text
//! cargo test --release --test services_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `simulated_ten_thousand_tasks`: 3 real managers (drained) and 100
//!   simulated nodes; time from `service create --replicas 10000` to every
//!   task running, then from killing the process of 10 nodes to all 10,000
//!   running again without them. Baselines in the same run: 10,000 plain
//!   replicated writes (`cluster bench`) and the time the managers take to
//!   see the 10 nodes down.
//! - `real_thirty_replicas`: 3 nodes with real containers; time from
//!   `service create --replicas 30` to 30 running, against starting the
//!   same 30 containers with `hoist run -d` directly on the nodes (10 each,
//!   in parallel) in the same run.

mod support;

use std::time::{Duration, Instant};

use hoist_e2e::TestBed;
use support::cluster::{Simulation, form, nodes, running_tasks, tasks_on};

/// How often convergence is polled.
const POLL: Duration = Duration::from_millis(100);
/// Runs of each measurement.
const RUNS: usize = 3;

/// Polls `done` until it holds; the time it took.
fn time_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} not reached in {limit:?}");
        std::thread::sleep(POLL);
    }
    start.elapsed()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(label: &str, samples: &mut [Duration]) {
    let median = median(samples);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: runs={} median_ms={:.0} min_ms={:.0} max_ms={:.0}",
        samples.len(),
        ms(median),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}

fn drain_managers(bed: &TestBed) {
    for host in bed.hosts() {
        bed.host(0)
            .ok(&["node", "update", "--availability", "drain", host.name()]);
    }
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn simulated_ten_thousand_tasks() {
    let mut create = Vec::new();
    let mut reschedule = Vec::new();
    let mut detect = Vec::new();
    let mut writes = Vec::new();
    for run in 0..RUNS {
        let bed = form(3, 3, 3);
        let manager = bed.host(0);
        drain_managers(&bed);
        let steady = Simulation::start(bed.host(1), manager, 90, "steady");
        let doomed = Simulation::start(bed.host(2), manager, 10, "doomed");
        time_until(Duration::from_secs(60), "103 nodes ready", || {
            nodes(manager)
                .iter()
                .filter(|n| n["Status"] == "ready")
                .count()
                == 103
        });

        let bench = manager.ok(&[
            "cluster",
            "bench",
            "--count",
            "10000",
            "--concurrency",
            "64",
        ]);
        let seconds: f64 = bench
            .split_whitespace()
            .find_map(|w| w.strip_prefix("seconds="))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("cluster bench output: {bench}"));
        writes.push(Duration::from_secs_f64(seconds));

        let name = format!("big{run}");
        let start = Instant::now();
        manager.ok(&[
            "service",
            "create",
            "-d",
            "--name",
            &name,
            "--replicas",
            "10000",
            "busybox",
        ]);
        time_until(Duration::from_secs(120), "10000 running", || {
            running_tasks(manager, &name) == 10_000
        });
        create.push(start.elapsed());

        doomed.kill();
        let killed = Instant::now();
        let mut seen_down = None;
        time_until(
            Duration::from_secs(120),
            "10000 running without the dead",
            || {
                if seen_down.is_none()
                    && nodes(manager)
                        .iter()
                        .filter(|n| n["Status"] == "down")
                        .count()
                        == 10
                {
                    seen_down = Some(killed.elapsed());
                }
                seen_down.is_some()
                    && running_tasks(manager, &name) == 10_000
                    && tasks_on(manager, &name, "doomed-") == 0
            },
        );
        reschedule.push(killed.elapsed());
        detect.push(seen_down.unwrap_or_default());
        drop(steady);
    }
    report(
        "baseline: 10000 replicated writes (cluster bench)",
        &mut writes,
    );
    report(
        "create 10000 tasks on 100 simulated nodes -> all running",
        &mut create,
    );
    report("baseline: 10 killed nodes seen down", &mut detect);
    report(
        "10 nodes killed -> 10000 running again elsewhere",
        &mut reschedule,
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn real_thirty_replicas() {
    let bed = form(3, 3, 3);
    bed.import_busybox();
    let mut service = Vec::new();
    let mut direct = Vec::new();
    for run in 0..RUNS {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for host in bed.hosts() {
                scope.spawn(move || {
                    for i in 0..10 {
                        host.ok(&[
                            "run",
                            "-d",
                            "--name",
                            &format!("direct{run}-{i}"),
                            "busybox",
                            "sleep",
                            "3600",
                        ]);
                    }
                });
            }
        });
        direct.push(start.elapsed());
        for host in bed.hosts() {
            let ids = host.ok(&["ps", "-aq", "--filter", &format!("name=direct{run}-")]);
            let ids: Vec<&str> = ids.lines().collect();
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            host.ok(&args);
        }

        let name = format!("thirty{run}");
        let start = Instant::now();
        bed.host(0).ok(&[
            "service",
            "create",
            "-d",
            "--name",
            &name,
            "--replicas",
            "30",
            "busybox",
            "sleep",
            "3600",
        ]);
        time_until(Duration::from_secs(120), "30 running", || {
            running_tasks(bed.host(0), &name) == 30
        });
        service.push(start.elapsed());
        bed.host(0).ok(&["service", "rm", &name]);
        time_until(Duration::from_secs(60), "no task containers", || {
            bed.hosts().iter().all(|h| {
                h.ok(&["ps", "-aq", "--filter", "label=hoist.task.id"])
                    .trim()
                    .is_empty()
            })
        });
    }
    report(
        "baseline: 30 containers with hoist run -d, 10 per node in parallel",
        &mut direct,
    );
    report(
        "service create --replicas 30 on 3 nodes -> all running",
        &mut service,
    );
}
