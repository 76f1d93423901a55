//! The orchestrator's rules, pass by pass, on a simulated store.

use hoist_api::service::{
    DesiredState, RestartCondition, ServiceMode, ServiceSpec, TaskRestartPolicy, TaskState,
    TaskStatus,
};

use super::*;
use crate::store::objects::{Availability, Meta, NodeState, Object, Stored};
use crate::store::{Kind, State};

/// A store, a clock and the orchestrator's passes over them.
struct Sim {
    state: State,
    version: u64,
    now: i64,
}

impl Sim {
    fn new() -> Self {
        Self {
            state: State::default(),
            version: 0,
            now: 1_000_000,
        }
    }

    fn write(&mut self, ops: Vec<Op>) {
        self.version += 1;
        let (outcome, _) = self.state.apply(self.version, &Batch { ops });
        outcome.into_result().unwrap();
    }

    fn list<T: Stored>(&self) -> Vec<T> {
        self.state
            .list(T::KIND)
            .filter_map(T::from_object)
            .cloned()
            .collect()
    }

    fn get<T: Stored>(&self, id: &str) -> T {
        T::from_object(self.state.get(T::KIND, id).unwrap())
            .unwrap()
            .clone()
    }

    fn reconcile(&self) -> Reconciled {
        reconcile(
            &self.list::<Service>(),
            &self.list::<Task>(),
            &self.list::<Node>(),
            self.now,
        )
        .unwrap()
    }

    /// One pass, written; checks that a second pass at the same time has
    /// nothing left to do.
    fn pass(&mut self) -> Reconciled {
        let reconciled = self.reconcile();
        for batch in reconciled.clone().into_batches(500) {
            self.write(batch.ops);
        }
        let again = self.reconcile();
        assert!(again.is_empty(), "a second pass wrote {:#?}", again.steps);
        assert_eq!(again.wake_at, reconciled.wake_at);
        reconciled
    }

    fn add_node(&mut self, id: &str) {
        let mut node = Node::default();
        node.meta.id = id.into();
        node.status.state = NodeState::Ready;
        self.write(vec![Op::Create(Object::Node(node))]);
    }

    fn change_node(&mut self, id: &str, change: impl FnOnce(&mut Node)) {
        let mut node: Node = self.get(id);
        change(&mut node);
        self.write(vec![Op::Update(Object::Node(node))]);
    }

    fn remove_node(&mut self, id: &str) {
        self.write(vec![Op::Delete {
            kind: Kind::Node,
            id: id.into(),
            version: None,
        }]);
    }

    fn add_service(&mut self, id: &str, mode: ServiceMode, policy: TaskRestartPolicy) {
        let mut spec = ServiceSpec {
            name: format!("{id}-name"),
            mode,
            ..ServiceSpec::default()
        };
        spec.task.restart_policy = policy;
        spec.endpoint.mode = "vip".into();
        let service = Service {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            spec,
            spec_version: 1,
            registry_auth: None,
        };
        self.write(vec![Op::Create(Object::Service(service))]);
    }

    fn change_service(&mut self, id: &str, change: impl FnOnce(&mut Service)) {
        let mut service: Service = self.get(id);
        change(&mut service);
        self.write(vec![Op::Update(Object::Service(service))]);
    }

    fn scale(&mut self, id: &str, replicas: u64) {
        self.change_service(id, |s| s.spec.mode = ServiceMode::Replicated { replicas });
    }

    fn tasks(&self, service: &str) -> Vec<Task> {
        let mut tasks: Vec<Task> = self
            .list::<Task>()
            .into_iter()
            .filter(|t| t.service_id == service)
            .collect();
        tasks.sort_by_key(|t| (t.slot, t.attempt));
        tasks
    }

    /// The tasks meant to run, by slot then node.
    fn running(&self, service: &str) -> Vec<Task> {
        self.tasks(service)
            .into_iter()
            .filter(|t| t.desired_state == DesiredState::Running)
            .collect()
    }

    /// The task meant to run in `slot`.
    fn in_slot(&self, service: &str, slot: u64) -> Task {
        let mut tasks: Vec<Task> = self
            .running(service)
            .into_iter()
            .filter(|t| t.slot == slot)
            .collect();
        assert_eq!(tasks.len(), 1, "slot {slot}: {tasks:#?}");
        tasks.remove(0)
    }

    /// The task meant to run on `node` (global service).
    fn on_node(&self, service: &str, node: &str) -> Task {
        let mut tasks: Vec<Task> = self
            .running(service)
            .into_iter()
            .filter(|t| t.node_id == node)
            .collect();
        assert_eq!(tasks.len(), 1, "node {node}: {tasks:#?}");
        tasks.remove(0)
    }

    /// The agent of `node` got the task and runs it.
    fn start(&mut self, task: &str, node: &str) {
        let at = self.now;
        self.write(vec![
            Op::Assign {
                task_id: task.into(),
                node_id: node.into(),
                at,
            },
            self.status(task, TaskState::Running),
        ]);
    }

    fn end(&mut self, task: &str, state: TaskState) {
        let op = self.status(task, state);
        self.write(vec![op]);
    }

    fn status(&self, task: &str, state: TaskState) -> Op {
        Op::TaskStatus {
            task_id: task.into(),
            status: TaskStatus {
                state,
                message: state.to_string(),
                timestamp: self.now,
                ..TaskStatus::default()
            },
        }
    }
}

fn replicas(replicas: u64) -> ServiceMode {
    ServiceMode::Replicated { replicas }
}

fn policy(condition: RestartCondition, delay_ms: i64, max_attempts: u64) -> TaskRestartPolicy {
    TaskRestartPolicy {
        condition,
        delay_ns: delay_ms * 1_000_000,
        max_attempts,
        window_ns: 0,
    }
}

fn now_policy() -> TaskRestartPolicy {
    policy(RestartCondition::Any, 0, 0)
}

fn count(reconciled: &Reconciled, wanted: fn(&Op) -> bool) -> usize {
    reconciled.ops().filter(|op| wanted(op)).count()
}

fn creates(reconciled: &Reconciled) -> usize {
    count(reconciled, |op| matches!(op, Op::Create(_)))
}

fn slots(tasks: &[Task]) -> Vec<u64> {
    tasks.iter().map(|t| t.slot).collect()
}

#[test]
fn a_replicated_service_gets_one_task_per_slot_and_scales_up() {
    let mut sim = Sim::new();
    sim.add_service("web", replicas(3), TaskRestartPolicy::default());
    assert_eq!(creates(&sim.pass()), 3);
    let service: Service = sim.get("web");
    let tasks = sim.running("web");
    assert_eq!(slots(&tasks), [1, 2, 3]);
    for task in &tasks {
        assert_eq!(task.service_id, "web");
        assert_eq!(task.service_name, "web-name");
        assert_eq!(task.node_id, "");
        assert_eq!(task.spec, service.spec.task);
        assert_eq!(task.endpoint, service.spec.endpoint);
        assert_eq!((task.spec_version, task.attempt), (1, 0));
        assert_eq!(task.status.state, TaskState::New);
        assert_eq!(task.status.message, "created");
        assert_eq!(task.status.timestamp, sim.now);
        assert_eq!(
            (task.meta.created_at, task.meta.updated_at),
            (sim.now, sim.now)
        );
        assert_eq!(task.meta.id.len(), 25);
    }

    sim.scale("web", 5);
    assert_eq!(creates(&sim.pass()), 2);
    assert_eq!(slots(&sim.running("web")), [1, 2, 3, 4, 5]);
}

#[test]
fn scaling_down_shuts_down_the_highest_slots() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(3), now_policy());
    sim.pass();
    let placed = sim.in_slot("web", 3);
    sim.start(&placed.meta.id, "n1");

    sim.scale("web", 1);
    let reconciled = sim.pass();
    assert_eq!(creates(&reconciled), 0);
    assert_eq!(slots(&sim.running("web")), [1]);
    let tasks = sim.tasks("web");
    assert!(
        tasks[1..]
            .iter()
            .all(|t| t.desired_state == DesiredState::Shutdown)
    );
    // Never placed: shut down at once. Placed: its agent stops it.
    let unplaced = &tasks[1];
    assert_eq!(unplaced.status.state, TaskState::Shutdown);
    assert_eq!(unplaced.status.message, "shut down before it was placed");
    assert_eq!(
        sim.get::<Task>(&placed.meta.id).status.state,
        TaskState::Running
    );

    // Scaling up again fills the slots at once.
    sim.scale("web", 3);
    assert_eq!(creates(&sim.pass()), 2);
    assert_eq!(sim.in_slot("web", 2).attempt, 1);
}

#[test]
fn a_failed_task_is_replaced_once_its_restart_delay_has_passed() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), policy(RestartCondition::Any, 5_000, 0));
    sim.pass();
    let first = sim.in_slot("web", 1);
    sim.start(&first.meta.id, "n1");
    sim.now += 60_000;
    sim.end(&first.meta.id, TaskState::Failed);
    let failed_at = sim.now;

    let reconciled = sim.pass();
    assert_eq!(creates(&reconciled), 0);
    assert_eq!(reconciled.wake_at, Some(failed_at + 5_000));
    assert_eq!(
        sim.get::<Task>(&first.meta.id).desired_state,
        DesiredState::Shutdown
    );
    assert!(sim.running("web").is_empty());

    sim.now = failed_at + 4_999;
    assert!(sim.pass().is_empty());
    sim.now = failed_at + 5_000;
    let reconciled = sim.pass();
    assert_eq!((creates(&reconciled), reconciled.wake_at), (1, None));
    let second = sim.in_slot("web", 1);
    assert_eq!(second.attempt, 1);
    assert_ne!(second.meta.id, first.meta.id);
}

#[test]
fn on_failure_replaces_failed_and_rejected_tasks_but_not_completed_ones() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service(
        "job",
        replicas(3),
        policy(RestartCondition::OnFailure, 0, 0),
    );
    sim.pass();
    let ends = [TaskState::Failed, TaskState::Rejected, TaskState::Complete];
    for (slot, state) in (1..=3).zip(ends) {
        let task = sim.in_slot("job", slot);
        sim.start(&task.meta.id, "n1");
        sim.end(&task.meta.id, state);
    }
    let reconciled = sim.pass();
    assert_eq!(creates(&reconciled), 2);
    assert_eq!(slots(&sim.running("job")), [1, 2]);
    assert!(
        sim.tasks("job")
            .iter()
            .filter(|t| t.attempt == 0)
            .all(|t| t.desired_state == DesiredState::Shutdown)
    );
}

#[test]
fn condition_none_never_replaces_a_task_that_ended() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("job", replicas(1), policy(RestartCondition::None, 0, 0));
    sim.pass();
    let task = sim.in_slot("job", 1);
    sim.start(&task.meta.id, "n1");
    sim.end(&task.meta.id, TaskState::Failed);
    let reconciled = sim.pass();
    assert_eq!((creates(&reconciled), reconciled.wake_at), (0, None));
    sim.now += 3_600_000;
    assert!(sim.pass().is_empty());
    assert!(sim.running("job").is_empty());
    assert_eq!(sim.tasks("job").len(), 1);
}

/// Makes the task in `slot` run and fail, then runs a pass.
fn fail_in_slot(sim: &mut Sim, service: &str, slot: u64) -> Reconciled {
    let task = sim.in_slot(service, slot);
    sim.start(&task.meta.id, "n1");
    sim.end(&task.meta.id, TaskState::Failed);
    sim.pass()
}

#[test]
fn max_attempts_caps_the_replacements_of_a_slot() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), policy(RestartCondition::Any, 0, 2));
    sim.pass();
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    assert_eq!(sim.in_slot("web", 1).attempt, 2);
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 0);
    sim.now += 3_600_000;
    assert!(sim.pass().is_empty());
    assert!(sim.running("web").is_empty());
}

#[test]
fn max_attempts_with_a_window_counts_only_replacements_within_it() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    let mut policy = policy(RestartCondition::Any, 0, 1);
    policy.window_ns = 10_000 * 1_000_000;
    sim.add_service("web", replicas(1), policy);
    sim.pass();
    // The first replacement...
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    // ...fails 20 s later: the first replacement is outside the window.
    sim.now += 20_000;
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    // A second later: one replacement within the window already.
    sim.now += 1_000;
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 0);
    // The decision was made when the task ended; time does not undo it.
    sim.now += 3_600_000;
    assert!(sim.pass().is_empty());
}

#[test]
fn a_spec_update_refills_a_slot_the_restart_policy_gave_up_on() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), policy(RestartCondition::Any, 0, 1));
    sim.pass();
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 0);

    sim.change_service("web", |s| s.spec_version = 2);
    assert_eq!(creates(&sim.pass()), 1);
    let fixed = sim.in_slot("web", 1);
    assert_eq!((fixed.spec_version, fixed.attempt), (2, 2));
    // The new spec gets its own attempts.
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 1);
    assert_eq!(creates(&fail_in_slot(&mut sim, "web", 1)), 0);
}

#[test]
fn tasks_on_down_drained_or_removed_nodes_are_replaced_at_once() {
    let mut sim = Sim::new();
    for node in ["n1", "n2", "n3"] {
        sim.add_node(node);
    }
    // A long delay and one attempt: neither applies to node failures.
    sim.add_service(
        "web",
        replicas(3),
        policy(RestartCondition::Any, 3_600_000, 1),
    );
    sim.pass();
    let before: Vec<Task> = sim.running("web");
    for (task, node) in before.iter().zip(["n1", "n2", "n3"]) {
        sim.start(&task.meta.id, node);
    }
    sim.change_node("n1", |n| n.status.state = NodeState::Down);
    sim.change_node("n2", |n| n.spec.availability = Availability::Drain);
    sim.remove_node("n3");

    let reconciled = sim.pass();
    assert_eq!((creates(&reconciled), reconciled.wake_at), (3, None));
    for old in &before {
        assert_eq!(
            sim.get::<Task>(&old.meta.id).desired_state,
            DesiredState::Shutdown
        );
    }
    let after = sim.running("web");
    assert_eq!(slots(&after), [1, 2, 3]);
    assert!(after.iter().all(|t| t.attempt == 1 && t.node_id.is_empty()));

    // The node failure did not use up the slot's one restart.
    sim.add_node("n4");
    sim.change_service("web", |s| s.spec.task.restart_policy.delay_ns = 0);
    sim.pass();
    let task = sim.in_slot("web", 1);
    sim.start(&task.meta.id, "n4");
    sim.end(&task.meta.id, TaskState::Failed);
    assert_eq!(creates(&sim.pass()), 1);
}

#[test]
fn tasks_on_a_paused_node_stay() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), now_policy());
    sim.pass();
    let task = sim.in_slot("web", 1);
    sim.start(&task.meta.id, "n1");
    sim.change_node("n1", |n| n.spec.availability = Availability::Pause);
    assert!(sim.pass().is_empty());
    assert_eq!(sim.in_slot("web", 1).meta.id, task.meta.id);
}

#[test]
fn of_two_tasks_meant_to_run_in_one_slot_the_newest_stays() {
    let mut sim = Sim::new();
    sim.add_service("web", replicas(1), now_policy());
    sim.pass();
    let older = sim.in_slot("web", 1);
    let mut newer = older.clone();
    newer.meta.id = "newer".into();
    newer.meta.created_at += 1;
    newer.attempt = 1;
    sim.write(vec![Op::Create(Object::Task(newer))]);
    assert_eq!(creates(&sim.pass()), 0);
    assert_eq!(sim.in_slot("web", 1).meta.id, "newer");
    assert_eq!(
        sim.get::<Task>(&older.meta.id).desired_state,
        DesiredState::Shutdown
    );
}

fn label(zone: &str) -> impl FnOnce(&mut Node) {
    let zone = zone.to_string();
    move |node: &mut Node| {
        node.spec.labels.insert("zone".into(), zone);
    }
}

#[test]
fn a_global_service_follows_the_nodes_that_may_run_it() {
    let mut sim = Sim::new();
    for (node, zone) in [("n1", "a"), ("n2", "a"), ("n3", "b")] {
        sim.add_node(node);
        sim.change_node(node, label(zone));
    }
    sim.add_service("agent", ServiceMode::Global, now_policy());
    sim.change_service("agent", |s| {
        s.spec.task.placement.constraints = vec!["node.labels.zone==a".into()];
    });
    assert_eq!(creates(&sim.pass()), 2);
    for node in ["n1", "n2"] {
        let task = sim.on_node("agent", node);
        assert_eq!((task.slot, task.attempt), (0, 0));
    }

    // Paused: keeps its task. Down or paused: no new one.
    let kept = sim.on_node("agent", "n2");
    sim.start(&kept.meta.id, "n2");
    sim.change_node("n2", |n| n.spec.availability = Availability::Pause);
    assert!(sim.pass().is_empty());
    sim.add_node("n4");
    sim.change_node("n4", label("a"));
    sim.change_node("n4", |n| n.status.state = NodeState::Down);
    sim.add_node("n5");
    sim.change_node("n5", label("a"));
    sim.change_node("n5", |n| n.spec.availability = Availability::Pause);
    assert!(sim.pass().is_empty());

    // Now matching: gets one.
    sim.change_node("n3", label("a"));
    assert_eq!(creates(&sim.pass()), 1);
    let on_n3 = sim.on_node("agent", "n3");
    sim.start(&on_n3.meta.id, "n3");

    // Drained, or no longer matching: shut down.
    let on_n1 = sim.on_node("agent", "n1");
    sim.change_node("n1", |n| n.spec.availability = Availability::Drain);
    sim.change_node("n3", label("b"));
    assert_eq!(creates(&sim.pass()), 0);
    for id in [&on_n1.meta.id, &on_n3.meta.id] {
        assert_eq!(sim.get::<Task>(id).desired_state, DesiredState::Shutdown);
    }

    // Removed: its task is to be removed, and goes with the node.
    sim.remove_node("n2");
    let reconciled = sim.pass();
    assert!(reconciled.ops().any(|op| matches!(
        op,
        Op::Desire { task_id, desired: DesiredState::Remove, .. } if *task_id == kept.meta.id
    )));
    assert!(sim.state.get(Kind::Task, &kept.meta.id).is_none());
    assert!(sim.running("agent").is_empty());
}

#[test]
fn a_global_task_that_ended_is_replaced_on_its_node() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service(
        "agent",
        ServiceMode::Global,
        policy(RestartCondition::Any, 1_000, 0),
    );
    sim.pass();
    let first = sim.on_node("agent", "n1");
    sim.start(&first.meta.id, "n1");
    sim.end(&first.meta.id, TaskState::Failed);
    let reconciled = sim.pass();
    assert_eq!(
        (creates(&reconciled), reconciled.wake_at),
        (0, Some(sim.now + 1_000))
    );
    sim.now += 1_000;
    assert_eq!(creates(&sim.pass()), 1);
    let second = sim.on_node("agent", "n1");
    assert_eq!((second.slot, second.attempt), (0, 1));
}

#[test]
fn a_spec_change_replaces_every_task_in_its_slot_or_on_its_node() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(2), now_policy());
    sim.add_service("agent", ServiceMode::Global, now_policy());
    sim.pass();
    let before: Vec<Task> = [sim.running("web"), sim.running("agent")].concat();
    for task in &before {
        sim.start(&task.meta.id, "n1");
    }
    for service in ["web", "agent"] {
        sim.change_service(service, |s| {
            s.spec.task.container.image = "new:2".into();
            s.spec_version = 2;
        });
    }
    assert_eq!(creates(&sim.pass()), 3);
    for old in &before {
        assert_eq!(
            sim.get::<Task>(&old.meta.id).desired_state,
            DesiredState::Shutdown
        );
    }
    let after: Vec<Task> = [sim.running("web"), sim.running("agent")].concat();
    assert_eq!(slots(&after), [1, 2, 0]);
    assert_eq!(after[2].node_id, "n1");
    for task in &after {
        assert_eq!((task.spec_version, task.attempt), (2, 1));
        assert_eq!(task.spec.container.image, "new:2");
    }
}

#[test]
fn the_tasks_of_a_deleted_service_are_removed_once_stopped() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_node("n2");
    sim.add_service("web", replicas(3), now_policy());
    sim.pass();
    let tasks = sim.running("web");
    sim.start(&tasks[0].meta.id, "n1");
    sim.start(&tasks[1].meta.id, "n2");
    sim.write(vec![Op::Delete {
        kind: Kind::Service,
        id: "web".into(),
        version: None,
    }]);

    let reconciled = sim.pass();
    let removes = count(&reconciled, |op| {
        matches!(
            op,
            Op::Desire {
                desired: DesiredState::Remove,
                ..
            }
        )
    });
    assert_eq!((removes, creates(&reconciled)), (3, 0));
    // The unplaced one is deleted at once; the others wait for their agents.
    let left = sim.tasks("web");
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|t| t.desired_state == DesiredState::Remove));

    sim.end(&tasks[0].meta.id, TaskState::Shutdown);
    sim.change_node("n2", |n| n.status.state = NodeState::Down);
    sim.pass();
    assert!(sim.tasks("web").is_empty());
}

#[test]
fn the_reaper_keeps_the_last_five_tasks_of_a_slot() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), now_policy());
    sim.pass();
    for _ in 0..7 {
        sim.now += 1;
        fail_in_slot(&mut sim, "web", 1);
    }
    let attempts: Vec<u64> = sim.tasks("web").iter().map(|t| t.attempt).collect();
    assert_eq!(attempts, [3, 4, 5, 6, 7]);
    assert_eq!(sim.in_slot("web", 1).attempt, 7);
}

#[test]
fn the_reaper_never_deletes_a_task_still_meant_to_run_or_stopping() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("web", replicas(1), now_policy());
    sim.pass();
    // Six tasks shut down by spec changes, none stopped yet.
    for version in 2..=7 {
        let task = sim.in_slot("web", 1);
        sim.start(&task.meta.id, "n1");
        sim.change_service("web", |s| s.spec_version = version);
        sim.pass();
    }
    assert_eq!(sim.tasks("web").len(), 7);
    let oldest = sim.tasks("web")[0].clone();
    sim.end(&oldest.meta.id, TaskState::Shutdown);
    sim.pass();
    assert_eq!(sim.tasks("web").len(), 6);
    assert!(sim.state.get(Kind::Task, &oldest.meta.id).is_none());
}

#[test]
fn restart_delays_report_the_earliest_wake_up() {
    let mut sim = Sim::new();
    sim.add_node("n1");
    sim.add_service("slow", replicas(1), policy(RestartCondition::Any, 9_000, 0));
    sim.add_service("fast", replicas(1), policy(RestartCondition::Any, 2_000, 0));
    sim.pass();
    for service in ["slow", "fast"] {
        let task = sim.in_slot(service, 1);
        sim.start(&task.meta.id, "n1");
        sim.end(&task.meta.id, TaskState::Complete);
    }
    assert_eq!(sim.pass().wake_at, Some(sim.now + 2_000));
    sim.now += 2_000;
    let reconciled = sim.pass();
    assert_eq!(creates(&reconciled), 1);
    assert_eq!(reconciled.wake_at, Some(sim.now + 7_000));
}

#[test]
fn batches_hold_whole_steps_and_stay_under_the_limit() {
    let op = |n: usize| Op::Delete {
        kind: Kind::Task,
        id: n.to_string(),
        version: None,
    };
    let reconciled = Reconciled {
        steps: vec![
            vec![op(1), op(2)],
            vec![op(3), op(4)],
            vec![op(5)],
            vec![op(6), op(7), op(8), op(9)],
        ],
        wake_at: None,
    };
    let sizes: Vec<usize> = reconciled
        .into_batches(3)
        .iter()
        .map(|b| b.ops.len())
        .collect();
    assert_eq!(sizes, [2, 3, 4]);
}

#[test]
fn a_pass_over_its_own_result_has_nothing_to_do() {
    let mut sim = Sim::new();
    for node in ["n1", "n2", "n3"] {
        sim.add_node(node);
    }
    sim.add_service("web", replicas(4), policy(RestartCondition::Any, 0, 0));
    sim.add_service("agent", ServiceMode::Global, now_policy());
    sim.add_service("gone", replicas(2), now_policy());
    sim.pass();
    let web = sim.running("web");
    sim.start(&web[0].meta.id, "n1");
    sim.start(&web[1].meta.id, "n2");
    sim.end(&web[1].meta.id, TaskState::Failed);
    sim.change_node("n1", |n| n.status.state = NodeState::Down);
    sim.change_node("n3", |n| n.spec.availability = Availability::Drain);
    sim.scale("web", 2);
    sim.write(vec![Op::Delete {
        kind: Kind::Service,
        id: "gone".into(),
        version: None,
    }]);
    // `pass` checks that a second pass finds nothing to do.
    let reconciled = sim.pass();
    assert!(!reconciled.is_empty());
    assert!(reconcile(&[], &[], &[], sim.now).unwrap().is_empty());
}
