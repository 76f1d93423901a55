//! Which of the nodes that can take a task is preferred: Swarm's spread.
//! Placement preferences come first, in order (the group of nodes sharing
//! a label value with the fewest tasks of the service, within the group
//! chosen by the preference before), then the node with the fewest tasks
//! of the service, then the node with the fewest tasks overall.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::load::{Loads, ServiceIndex};
use super::preference::Spread;
use crate::store::objects::Node;

/// One preference's groups of nodes and the service's tasks in each.
#[derive(Debug)]
struct Level {
    /// Each node's group, by node index.
    group_of: Vec<usize>,
    /// Tasks of the service in each group.
    tasks: Vec<u32>,
}

/// How one service's tasks are spread, kept up to date as tasks are
/// placed.
#[derive(Debug)]
pub(super) struct Spreading {
    service: ServiceIndex,
    levels: Vec<Level>,
}

impl Spreading {
    /// The spread of `service`'s tasks over `nodes` (indexed as `loads`)
    /// under `preferences`. A group at one level is a group of the level
    /// before split by this preference's value; nodes that lack the label
    /// form a group of their own.
    pub(super) fn new(
        preferences: &[Spread],
        nodes: &[&Node],
        loads: &Loads<'_>,
        service: ServiceIndex,
    ) -> Self {
        let mut parent = vec![0; nodes.len()];
        let mut levels = Vec::with_capacity(preferences.len());
        for preference in preferences {
            let mut groups: HashMap<(usize, Option<&str>), usize> = HashMap::new();
            let group_of: Vec<usize> = nodes
                .iter()
                .zip(&parent)
                .map(|(node, &parent)| {
                    let next = groups.len();
                    *groups
                        .entry((parent, preference.value(node)))
                        .or_insert(next)
                })
                .collect();
            let mut tasks = vec![0; groups.len()];
            for (node, &group) in group_of.iter().enumerate() {
                tasks[group] += loads.of_service(service, node);
            }
            parent.clone_from(&group_of);
            levels.push(Level { group_of, tasks });
        }
        Self { service, levels }
    }

    /// How node `a` compares with node `b` as the place of the next task:
    /// `Less` when `a` is preferred. Equal nodes are left to the caller's
    /// tie-break.
    pub(super) fn compare(&self, loads: &Loads<'_>, a: usize, b: usize) -> Ordering {
        self.levels
            .iter()
            .map(|level| level.tasks[level.group_of[a]].cmp(&level.tasks[level.group_of[b]]))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| {
                loads
                    .of_service(self.service, a)
                    .cmp(&loads.of_service(self.service, b))
            })
            .then_with(|| loads.tasks(a).cmp(&loads.tasks(b)))
    }

    /// Counts a task of the service placed on node `node`.
    pub(super) fn add(&mut self, node: usize) {
        for level in &mut self.levels {
            level.tasks[level.group_of[node]] += 1;
        }
    }
}
