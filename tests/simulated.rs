//! Scale without hardware: 3 real managers (drained, so they run nothing)
//! and 100 simulated worker nodes in two `cluster simulate` processes;
//! 5,000 tasks converge, and killing the process of 10 nodes moves their
//! tasks to the 90 others. Root only.

mod support;

use std::time::Duration;

use support::cluster::{Simulation, form, nodes, running_tasks, tasks_on};

/// Generous: a debug build on 2 cores.
const CONVERGE: Duration = Duration::from_secs(120);

#[test]
fn a_hundred_simulated_nodes_run_five_thousand_tasks_and_ten_failing_nodes_lose_none() {
    let bed = form(3, 3, 3);
    let manager = bed.host(0);
    for host in bed.hosts() {
        manager.ok(&["node", "update", "--availability", "drain", host.name()]);
    }
    let steady = Simulation::start(bed.host(1), manager, 90, "steady");
    let doomed = Simulation::start(bed.host(2), manager, 10, "doomed");
    bed.eventually(CONVERGE, "103 nodes ready", || {
        nodes(manager)
            .iter()
            .filter(|n| n["Status"] == "ready")
            .count()
            == 103
    });

    manager.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "big",
        "--replicas",
        "5000",
        "busybox",
    ]);
    bed.eventually(CONVERGE, "5000 tasks running", || {
        running_tasks(manager, "big") == 5000
    });
    let before = tasks_on(manager, "big", "doomed-");
    assert!(
        (450..=550).contains(&before),
        "about 50 tasks on each of 10 nodes: {before}"
    );

    assert_eq!(doomed.nodes, 10);
    doomed.kill();
    bed.eventually(
        CONVERGE,
        "5000 running again, none on the dead nodes",
        || running_tasks(manager, "big") == 5000 && tasks_on(manager, "big", "doomed-") == 0,
    );
    let down = nodes(manager)
        .iter()
        .filter(|n| n["Status"] == "down")
        .count();
    assert_eq!(down, 10);
    drop(steady);
}
