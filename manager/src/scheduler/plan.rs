//! The planner: given the nodes and tasks of a snapshot of the store,
//! decides where each task that waits for a node goes, or why it waits on.
//! Pure and deterministic, so that it is tested without a cluster.
//!
//! Tasks of one service made from the same spec are placed together, one
//! after the other, each on the preferred node at that moment: a batch
//! spreads as evenly as tasks placed one round at a time would. Filters
//! that do not depend on load and the spec's constraints are evaluated
//! once per group; load is kept in counters, so a round costs about
//! (tasks to place × nodes).

use std::cmp::Ordering;
use std::collections::HashMap;

use hoist_api::service::{DesiredState, EndpointSpec, Placement, TaskState, TaskTemplate};

use super::constraint::Constraint;
use super::filter::{Refusals, check_node};
use super::load::{Demand, Loads, ServiceIndex};
use super::preference::Spread;
use super::spread::Spreading;
use crate::store::objects::{Node, Task};

/// A task placed on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The task.
    pub task_id: String,
    /// The node it goes to.
    pub node_id: String,
}

/// A task that no node takes now, and why: the message of its Pending
/// status, as `service ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    /// The task.
    pub task_id: String,
    /// Why it waits: `no suitable node (…)` or a placement that does not
    /// parse.
    pub reason: String,
}

/// What one round of scheduling decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Tasks placed, in the order they were placed.
    pub assign: Vec<Assignment>,
    /// Tasks left waiting, with their reasons.
    pub pending: Vec<Unplaced>,
}

/// Decides where the waiting tasks among `tasks` go on `nodes`.
///
/// A task waits when it should run and is New or Pending. A task without a
/// node may go to any node; one made for its node (a global service's)
/// is only checked against that node. The load of a node is its tasks
/// that should run and have not ended (the waiting ones aside), plus the
/// tasks this plan places on it.
pub fn plan(nodes: &[Node], tasks: &[Task]) -> Plan {
    let mut nodes: Vec<&Node> = nodes.iter().collect();
    nodes.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    let mut loads = Loads::new(&nodes, tasks.iter().filter(|t| is_load(t)));
    let mut plan = Plan::default();
    for group in groups(tasks) {
        place(&group, &nodes, &mut loads, &mut plan);
    }
    plan
}

/// Whether `task` waits for the scheduler.
fn waits(task: &Task) -> bool {
    task.desired_state == DesiredState::Running && task.status.state <= TaskState::Pending
}

/// Whether `task` counts in the load of its node.
fn is_load(task: &Task) -> bool {
    task.desired_state == DesiredState::Running
        && task.status.state > TaskState::Pending
        && !task.status.state.is_terminal()
        && !task.node_id.is_empty()
}

/// Waiting tasks of one service made from the same spec: they share
/// constraints, preferences and demand.
#[derive(Debug)]
struct Group<'t> {
    service_id: &'t str,
    spec_version: u64,
    spec: &'t TaskTemplate,
    endpoint: &'t EndpointSpec,
    tasks: Vec<&'t Task>,
}

/// The waiting tasks in groups, in a deterministic order: by service,
/// spec version and first task; within a group by slot, then ID.
fn groups(tasks: &[Task]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut by_version: HashMap<(&str, u64), Vec<usize>> = HashMap::new();
    for task in tasks.iter().filter(|t| waits(t)) {
        let same = by_version
            .entry((&task.service_id, task.spec_version))
            .or_default();
        let found = same
            .iter()
            .copied()
            .find(|&g| *groups[g].spec == task.spec && *groups[g].endpoint == task.endpoint);
        match found {
            Some(g) => groups[g].tasks.push(task),
            None => {
                same.push(groups.len());
                groups.push(Group {
                    service_id: &task.service_id,
                    spec_version: task.spec_version,
                    spec: &task.spec,
                    endpoint: &task.endpoint,
                    tasks: vec![task],
                });
            }
        }
    }
    for group in &mut groups {
        group
            .tasks
            .sort_by(|a, b| (a.slot, &a.meta.id).cmp(&(b.slot, &b.meta.id)));
    }
    fn key<'g>(group: &'g Group<'_>) -> (&'g str, u64, Option<&'g str>) {
        let first = group.tasks.first().map(|t| t.meta.id.as_str());
        (group.service_id, group.spec_version, first)
    }
    groups.sort_by(|a, b| key(a).cmp(&key(b)));
    groups
}

/// Places the tasks of `group`, or records why they wait.
fn place<'a>(group: &Group<'a>, nodes: &[&'a Node], loads: &mut Loads<'a>, plan: &mut Plan) {
    let (constraints, preferences) = match parse(&group.spec.placement) {
        Ok(parsed) => parsed,
        Err(reason) => {
            for task in &group.tasks {
                plan.pending.push(unplaced(task, reason.clone()));
            }
            return;
        }
    };
    let service = loads.service(group.service_id);
    let mut placing = Placing {
        nodes,
        service,
        demand: Demand::of(group.spec, group.endpoint),
        spec: group.spec,
        constraints,
        eligible: Vec::new(),
        refused: Refusals::default(),
        spreading: Spreading::new(&preferences, nodes, loads, service),
    };
    for (index, node) in nodes.iter().enumerate() {
        match check_node(node, &placing.constraints) {
            Ok(()) => placing.eligible.push(index),
            Err(refusal) => placing.refused.add(refusal),
        }
    }
    // Load only grows while a group is placed: once a task finds no node,
    // neither does any later one that could go anywhere.
    let mut full: Option<String> = None;
    for task in &group.tasks {
        let chosen = if !task.node_id.is_empty() {
            placing.on_its_node(task, loads)
        } else if let Some(reason) = &full {
            Err(reason.clone())
        } else {
            placing
                .anywhere(loads)
                .inspect_err(|reason| full = Some(reason.clone()))
        };
        match chosen {
            Ok(node) => {
                loads.add(node, service, &placing.demand);
                placing.spreading.add(node);
                plan.assign.push(Assignment {
                    task_id: task.meta.id.clone(),
                    node_id: nodes[node].meta.id.clone(),
                });
            }
            Err(reason) => plan.pending.push(unplaced(task, reason)),
        }
    }
}

/// A placement's constraints and preferences, or why they do not parse.
fn parse(placement: &Placement) -> Result<(Vec<Constraint>, Vec<Spread>), String> {
    let constraints = Constraint::parse_all(&placement.constraints).map_err(|e| e.to_string())?;
    let preferences = Spread::parse_all(&placement.preferences).map_err(|e| e.to_string())?;
    Ok((constraints, preferences))
}

/// A task left waiting for `reason`.
fn unplaced(task: &Task, reason: String) -> Unplaced {
    Unplaced {
        task_id: task.meta.id.clone(),
        reason,
    }
}

/// What placing one group needs, worked out once.
struct Placing<'p, 'a> {
    nodes: &'p [&'a Node],
    service: ServiceIndex,
    demand: Demand,
    spec: &'a TaskTemplate,
    constraints: Vec<Constraint>,
    /// Nodes Ready, Active and satisfying the constraints.
    eligible: Vec<usize>,
    /// The nodes refused for reasons that do not depend on load.
    refused: Refusals,
    spreading: Spreading,
}

impl Placing<'_, '_> {
    /// The preferred node that can take one more task, ties going to the
    /// lowest node ID (nodes are sorted by ID), or why there is none.
    fn anywhere(&self, loads: &Loads<'_>) -> Result<usize, String> {
        let mut refused = self.refused;
        let mut best: Option<usize> = None;
        for &node in &self.eligible {
            match loads.check(node, self.service, &self.demand) {
                Err(refusal) => refused.add(refusal),
                Ok(()) => {
                    if best.is_none_or(|b| self.spreading.compare(loads, node, b) == Ordering::Less)
                    {
                        best = Some(node);
                    }
                }
            }
        }
        best.ok_or_else(|| refused.reason(&self.spec.reservations))
    }

    /// The node `task` was made for, if it can take it, or why not.
    fn on_its_node(&self, task: &Task, loads: &Loads<'_>) -> Result<usize, String> {
        let Some(node) = loads.node(&task.node_id) else {
            return Err(format!(
                "no suitable node (node {} is not in the cluster)",
                task.node_id
            ));
        };
        check_node(self.nodes[node], &self.constraints)
            .and_then(|()| loads.check(node, self.service, &self.demand))
            .map(|()| node)
            .map_err(|refusal| {
                let mut refused = Refusals::default();
                refused.add(refusal);
                refused.reason(&self.spec.reservations)
            })
    }
}
