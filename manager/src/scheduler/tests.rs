//! The planner and the writes of a round, on small clusters made here.

use std::collections::{BTreeMap, HashSet};

use hoist_api::service::{
    DesiredState, PortConfig, PublishMode, Reservations, TaskState, TaskStatus,
};

use super::{Plan, ops, plan, run};
use crate::store::objects::{Availability, Node, NodeState, Object, Stored, Task};
use crate::store::{Batch, Kind, Op, State};

const GIB: u64 = 1 << 30;

fn node(id: &str) -> Node {
    let mut node = Node::default();
    node.meta.id = id.into();
    node.description.hostname = format!("host-{id}");
    node.description.cpus = 4;
    node.description.memory_bytes = 8 * GIB;
    node.status.state = NodeState::Ready;
    node
}

fn node_in(id: &str, zone: &str) -> Node {
    let mut node = node(id);
    node.spec.labels.insert("zone".into(), zone.into());
    node
}

fn task(id: &str, service: &str) -> Task {
    let mut task = Task::default();
    task.meta.id = id.into();
    task.service_id = service.into();
    task.service_name = service.into();
    task
}

fn tasks(count: usize, service: &str) -> Vec<Task> {
    (0..count)
        .map(|i| {
            let mut task = task(&format!("{service}-{i:05}"), service);
            task.slot = i as u64 + 1;
            task
        })
        .collect()
}

/// A task of `service` that runs on `node`.
fn running(id: &str, service: &str, node: &str) -> Task {
    let mut task = task(id, service);
    task.node_id = node.into();
    task.status.state = TaskState::Running;
    task
}

fn host_port(port: u16, protocol: &str) -> PortConfig {
    PortConfig {
        target_port: port,
        published_port: port,
        protocol: protocol.into(),
        publish_mode: PublishMode::Host,
    }
}

/// Tasks placed per node.
fn per_node(plan: &Plan) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for a in &plan.assign {
        *counts.entry(a.node_id.as_str()).or_default() += 1;
    }
    counts
}

fn node_of<'p>(plan: &'p Plan, task: &str) -> Option<&'p str> {
    plan.assign
        .iter()
        .find(|a| a.task_id == task)
        .map(|a| a.node_id.as_str())
}

fn reason_of<'p>(plan: &'p Plan, task: &str) -> Option<&'p str> {
    plan.pending
        .iter()
        .find(|u| u.task_id == task)
        .map(|u| u.reason.as_str())
}

#[test]
fn tasks_spread_evenly_with_ties_to_the_lowest_node_id() {
    let nodes = [node("c"), node("a"), node("b")];
    let plan = plan(&nodes, &tasks(7, "web"));
    assert!(plan.pending.is_empty());
    assert_eq!(
        per_node(&plan),
        BTreeMap::from([("a", 3), ("b", 2), ("c", 2)])
    );
    assert_eq!(node_of(&plan, "web-00000"), Some("a"));
}

#[test]
fn ten_thousand_tasks_over_a_hundred_nodes_are_each_placed_once_evenly() {
    let nodes: Vec<Node> = (0..100).map(|i| node(&format!("node-{i:03}"))).collect();
    let tasks = tasks(10_000, "web");
    let plan = plan(&nodes, &tasks);
    assert!(plan.pending.is_empty());
    assert_eq!(plan.assign.len(), tasks.len());
    let placed: HashSet<&str> = plan.assign.iter().map(|a| a.task_id.as_str()).collect();
    assert_eq!(placed.len(), tasks.len(), "every task exactly once");
    let counts = per_node(&plan);
    assert_eq!(counts.len(), nodes.len());
    let (min, max) = (counts.values().min(), counts.values().max());
    assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1));
}

#[test]
fn constraints_choose_nodes_and_explain_when_none_matches() {
    let mut ssd = node("b");
    ssd.spec.labels.insert("disk".into(), "ssd".into());
    let nodes = [node("a"), ssd, node("c")];
    let mut on_ssd = tasks(3, "db");
    for task in &mut on_ssd {
        task.spec.placement.constraints = vec!["node.labels.disk==ssd".into()];
    }
    let plan_ssd = plan(&nodes, &on_ssd);
    assert_eq!(per_node(&plan_ssd), BTreeMap::from([("b", 3)]));

    let mut gpu = task("g", "gpu");
    gpu.spec.placement.constraints = vec!["node.labels.gpu==yes".into()];
    let mut typo = task("t", "typo");
    typo.spec.placement.constraints = vec!["node.colour==red".into()];
    let plan = plan(&nodes, &[gpu, typo]);
    assert!(plan.assign.is_empty());
    assert_eq!(
        reason_of(&plan, "g"),
        Some("no suitable node (scheduling constraints not satisfied on 3 nodes)")
    );
    let typo_reason = reason_of(&plan, "t").unwrap_or_default();
    assert!(
        typo_reason.starts_with("invalid constraint \"node.colour==red\""),
        "{typo_reason}"
    );
}

#[test]
fn a_spread_preference_evens_tasks_over_zones_then_nodes() {
    let nodes = [
        node_in("a1", "a"),
        node_in("a2", "a"),
        node_in("a3", "a"),
        node_in("b1", "b"),
        node("n1"),
    ];
    let mut web = tasks(6, "web");
    for task in &mut web {
        task.spec.placement.preferences = vec!["spread=node.labels.zone".into()];
    }
    let plan_six = plan(&nodes, &web);
    assert_eq!(
        per_node(&plan_six),
        BTreeMap::from([("a1", 1), ("a2", 1), ("b1", 2), ("n1", 2)])
    );

    // Zone b already runs two: the next two go elsewhere.
    let mut busy = vec![running("r1", "web", "b1"), running("r2", "web", "b1")];
    busy.extend(web.into_iter().take(2));
    let plan = plan(&nodes, &busy);
    assert_eq!(per_node(&plan), BTreeMap::from([("a1", 1), ("n1", 1)]));
}

#[test]
fn reservations_fit_until_nodes_are_full_and_a_too_large_one_says_so() {
    let nodes = [node("a"), node("b")];
    let mut half = tasks(5, "web");
    for task in &mut half {
        task.spec.reservations = Reservations {
            nano_cpus: 1_500_000_000,
            memory_bytes: GIB as i64,
        };
    }
    // 4 CPUs hold two tasks of 1.5 each.
    let plan_half = plan(&nodes, &half);
    assert_eq!(per_node(&plan_half), BTreeMap::from([("a", 2), ("b", 2)]));
    assert_eq!(
        reason_of(&plan_half, "web-00004"),
        Some("no suitable node (insufficient resources on 2 nodes)")
    );

    let mut huge = task("h", "huge");
    huge.spec.reservations.nano_cpus = 8_000_000_000;
    huge.spec.reservations.memory_bytes = 64 * GIB as i64;
    let plan = plan(&nodes, &[huge]);
    assert_eq!(
        reason_of(&plan, "h"),
        Some(
            "no suitable node (insufficient resources on 2 nodes, none of which has \
             the 8 CPUs and 64 GiB of memory the task reserves)"
        )
    );
}

#[test]
fn a_host_mode_port_in_use_keeps_tasks_off_the_node() {
    let nodes = [node("a"), node("b")];
    let mut existing = running("old", "proxy", "a");
    existing.endpoint.ports = vec![host_port(80, "tcp")];
    let mut waiting = tasks(3, "web");
    for task in &mut waiting {
        task.endpoint.ports = vec![host_port(80, "")];
    }
    let mut udp = task("udp", "dns");
    udp.endpoint.ports = vec![host_port(80, "udp")];
    let mut all = vec![existing, udp];
    all.extend(waiting);
    let plan = plan(&nodes, &all);
    assert_eq!(node_of(&plan, "web-00000"), Some("b"));
    assert_eq!(
        reason_of(&plan, "web-00001"),
        Some("no suitable node (host-mode port already in use on 2 nodes)")
    );
    assert!(reason_of(&plan, "web-00002").is_some());
    assert!(node_of(&plan, "udp").is_some(), "udp/80 is another port");
}

#[test]
fn drained_paused_and_down_nodes_take_no_tasks() {
    let mut drained = node("b");
    drained.spec.availability = Availability::Drain;
    let mut paused = node("c");
    paused.spec.availability = Availability::Pause;
    let mut down = node("d");
    down.status.state = NodeState::Down;
    let mut unknown = node("e");
    unknown.status.state = NodeState::Unknown;
    let unavailable = [drained, paused, down, unknown];
    let mut nodes = vec![node("z")];
    nodes.extend(unavailable.iter().cloned());
    let plan_some = plan(&nodes, &tasks(4, "web"));
    assert_eq!(per_node(&plan_some), BTreeMap::from([("z", 4)]));

    let plan = plan(&unavailable, &tasks(1, "web"));
    assert_eq!(
        reason_of(&plan, "web-00000"),
        Some("no suitable node (4 nodes not available)")
    );
}

#[test]
fn max_replicas_per_node_caps_each_node() {
    let nodes = [node("a"), node("b")];
    let mut web = tasks(3, "web");
    for task in &mut web {
        task.spec.placement.max_replicas_per_node = 1;
    }
    let plan = plan(&nodes, &web);
    assert_eq!(per_node(&plan), BTreeMap::from([("a", 1), ("b", 1)]));
    assert_eq!(
        reason_of(&plan, "web-00002"),
        Some("no suitable node (max replicas per node limit exceeded on 2 nodes)")
    );
}

#[test]
fn a_global_task_is_considered_only_on_its_node() {
    let mut busy = node("b");
    busy.description.cpus = 1;
    let nodes = [node("a"), busy];
    let mut global = task("g", "agent");
    global.node_id = "b".into();
    let load: Vec<Task> = (0..5)
        .map(|i| running(&format!("r{i}"), "db", "b"))
        .collect();
    let mut all = load.clone();
    all.push(global.clone());
    let plan_b = plan(&nodes, &all);
    assert_eq!(node_of(&plan_b, "g"), Some("b"));

    global.spec.reservations.nano_cpus = 2_000_000_000;
    let mut gone = task("x", "agent");
    gone.node_id = "x".into();
    let plan = plan(&nodes, &[global, gone]);
    assert!(plan.assign.is_empty(), "never moved to node a");
    assert_eq!(
        reason_of(&plan, "g"),
        Some(
            "no suitable node (insufficient resources on 1 node, which does not have \
             the 2 CPUs the task reserves)"
        )
    );
    assert_eq!(
        reason_of(&plan, "x"),
        Some("no suitable node (node x is not in the cluster)")
    );
}

#[test]
fn tasks_already_placed_count_as_load() {
    let nodes = [node("a"), node("b")];
    let mut finished = running("done", "web", "b");
    finished.status.state = TaskState::Complete;
    let mut stopping = running("stop", "web", "b");
    stopping.desired_state = DesiredState::Shutdown;
    let mut all = vec![
        running("w1", "web", "a"),
        running("d1", "db", "b"),
        running("d2", "db", "b"),
        running("d3", "db", "b"),
        finished,
        stopping,
    ];
    all.extend(tasks(2, "web"));
    let plan = plan(&nodes, &all);
    // Fewest tasks of the service first, then fewest tasks overall.
    assert_eq!(node_of(&plan, "web-00000"), Some("b"));
    assert_eq!(node_of(&plan, "web-00001"), Some("a"));
}

/// Applies `ops` to `state` as the store would.
fn apply(state: &mut State, version: u64, ops: Vec<Op>) {
    state.apply(version, &Batch { ops });
}

fn listed<T: Stored>(state: &State) -> Vec<T> {
    state
        .list(T::KIND)
        .filter_map(T::from_object)
        .cloned()
        .collect()
}

#[test]
fn a_round_writes_its_decisions_once_and_an_idle_cluster_nothing() {
    let mut state = State::default();
    let mut objects: Vec<Op> = [node("a"), node("b")]
        .into_iter()
        .map(|n| Op::Create(Object::Node(n)))
        .collect();
    let mut picky = task("p", "picky");
    picky.spec.placement.constraints = vec!["node.labels.gpu==yes".into()];
    objects.extend(
        tasks(3, "web")
            .into_iter()
            .chain([picky])
            .map(|t| Op::Create(Object::Task(t))),
    );
    apply(&mut state, 1, objects);

    let round = |state: &State| {
        let tasks = listed::<Task>(state);
        ops(&plan(&listed::<Node>(state), &tasks), &tasks, 7)
    };
    let first = round(&state);
    assert_eq!(first.len(), 4);
    assert!(first.contains(&Op::TaskStatus {
        task_id: "p".into(),
        status: TaskStatus {
            state: TaskState::Pending,
            message: "no suitable node (scheduling constraints not satisfied on 2 nodes)".into(),
            timestamp: 7,
            ..TaskStatus::default()
        },
    }));
    apply(&mut state, 2, first);
    let web = state
        .get(Kind::Task, "web-00000")
        .and_then(Task::from_object);
    assert_eq!(
        web.map(|t| (t.node_id.as_str(), t.status.state)),
        Some(("a", TaskState::Assigned))
    );
    assert_eq!(round(&state), Vec::<Op>::new());

    // A new reason for a pending task is written again.
    let mut down = node("c");
    down.status.state = NodeState::Down;
    apply(&mut state, 3, vec![Op::Create(Object::Node(down))]);
    let again = round(&state);
    assert!(
        matches!(&again[..], [Op::TaskStatus { status, .. }]
            if status.message == "no suitable node (scheduling constraints not satisfied on 2 nodes; 1 node not available)"),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_loop_runs_on_its_own_and_ends_with_its_manager() {
    let ended = tokio::spawn(run(std::sync::Weak::new()));
    assert!(ended.await.is_ok());
}
