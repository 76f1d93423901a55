//! Swarm's node filters that do not depend on load (availability, then
//! constraints), and the one-line explanation of a task that no node
//! takes, counting the nodes each filter refused as Swarm does.

use hoist_api::service::Reservations;

use super::constraint::{Constraint, all_match};
use crate::store::objects::{Availability, Node, NodeState};

/// Why one node cannot take a task, in the order the filters check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The node is not Ready, or not Active (paused or drained).
    NotAvailable,
    /// The node fails one of the task's constraints.
    Constraints,
    /// The node could hold the reservation, but its tasks leave too little.
    Resources,
    /// The node's whole capacity is smaller than the reservation.
    Capacity,
    /// A host-mode port the task publishes is taken on the node.
    HostPort,
    /// The node has the service's most tasks per node already.
    MaxReplicas,
}

/// The filters that hold for a node whatever runs on it: it must be Ready
/// and Active, and satisfy every constraint.
pub(super) fn check_node(node: &Node, constraints: &[Constraint]) -> Result<(), Refusal> {
    if node.status.state != NodeState::Ready || node.spec.availability != Availability::Active {
        return Err(Refusal::NotAvailable);
    }
    if !all_match(constraints, node) {
        return Err(Refusal::Constraints);
    }
    Ok(())
}

/// How many nodes each filter refused for one task.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Refusals {
    not_available: usize,
    constraints: usize,
    resources: usize,
    capacity: usize,
    host_port: usize,
    max_replicas: usize,
}

impl Refusals {
    /// Counts one node refused.
    pub(super) fn add(&mut self, refusal: Refusal) {
        *match refusal {
            Refusal::NotAvailable => &mut self.not_available,
            Refusal::Constraints => &mut self.constraints,
            Refusal::Resources => &mut self.resources,
            Refusal::Capacity => &mut self.capacity,
            Refusal::HostPort => &mut self.host_port,
            Refusal::MaxReplicas => &mut self.max_replicas,
        } += 1;
    }

    /// Swarm's message for a task no node takes: `no suitable node (…)`
    /// with each filter's count, most refusals first. When every node
    /// short of resources is smaller than the reservation itself, it says
    /// so: such a task waits until a bigger node joins.
    pub(super) fn reason(&self, reservations: &Reservations) -> String {
        let mut resources = format!(
            "insufficient resources on {}",
            nodes(self.resources + self.capacity)
        );
        if self.resources == 0 && self.capacity > 0 {
            let which = if self.capacity == 1 {
                "which does not have"
            } else {
                "none of which has"
            };
            resources += &format!(", {which} the {} the task reserves", amount(reservations));
        }
        let mut parts = [
            (
                self.not_available,
                format!("{} not available", nodes(self.not_available)),
            ),
            (
                self.constraints,
                format!(
                    "scheduling constraints not satisfied on {}",
                    nodes(self.constraints)
                ),
            ),
            (self.resources + self.capacity, resources),
            (
                self.host_port,
                format!("host-mode port already in use on {}", nodes(self.host_port)),
            ),
            (
                self.max_replicas,
                format!(
                    "max replicas per node limit exceeded on {}",
                    nodes(self.max_replicas)
                ),
            ),
        ];
        parts.sort_by_key(|(count, _)| std::cmp::Reverse(*count));
        let explanation = parts
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join("; ");
        if explanation.is_empty() {
            "no suitable node".to_string()
        } else {
            format!("no suitable node ({explanation})")
        }
    }
}

/// `1 node`, `3 nodes`.
fn nodes(count: usize) -> String {
    if count == 1 {
        "1 node".to_string()
    } else {
        format!("{count} nodes")
    }
}

/// A reservation as people read it: `2 CPUs and 16 GiB of memory`.
fn amount(reservations: &Reservations) -> String {
    let mut parts = Vec::new();
    if reservations.nano_cpus > 0 {
        let cpus = reservations.nano_cpus as f64 / 1e9;
        parts.push(if cpus == 1.0 {
            "1 CPU".to_string()
        } else {
            format!("{} CPUs", decimal(cpus))
        });
    }
    if reservations.memory_bytes > 0 {
        parts.push(format!("{} of memory", bytes(reservations.memory_bytes)));
    }
    parts.join(" and ")
}

/// Bytes in the largest binary unit that keeps a number of at least 1.
fn bytes(count: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = count as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{} {unit}", decimal(value))
}

/// A number with at most two decimals and no trailing zeros.
fn decimal(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_explained_most_refusals_first() {
        let mut refusals = Refusals::default();
        for refusal in [
            Refusal::NotAvailable,
            Refusal::Constraints,
            Refusal::Constraints,
            Refusal::Constraints,
            Refusal::Resources,
            Refusal::Capacity,
            Refusal::HostPort,
        ] {
            refusals.add(refusal);
        }
        assert_eq!(
            refusals.reason(&Reservations::default()),
            "no suitable node (scheduling constraints not satisfied on 3 nodes; \
             insufficient resources on 2 nodes; 1 node not available; \
             host-mode port already in use on 1 node)"
        );
        assert_eq!(
            Refusals::default().reason(&Reservations::default()),
            "no suitable node"
        );
    }

    #[test]
    fn a_reservation_larger_than_every_node_says_so() {
        let mut refusals = Refusals::default();
        refusals.add(Refusal::Capacity);
        refusals.add(Refusal::Capacity);
        refusals.add(Refusal::MaxReplicas);
        let reservations = Reservations {
            nano_cpus: 2_500_000_000,
            memory_bytes: 16 << 30,
        };
        assert_eq!(
            refusals.reason(&reservations),
            "no suitable node (insufficient resources on 2 nodes, none of which has \
             the 2.5 CPUs and 16 GiB of memory the task reserves; \
             max replicas per node limit exceeded on 1 node)"
        );
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(100), "100 bytes");
    }
}
