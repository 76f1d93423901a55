//! What each node already carries, kept as counters that placing a task
//! updates in constant time: its tasks, its reserved resources, its bound
//! host-mode ports and its tasks of each service. The filters that depend
//! on load (resources, host ports, replicas per node) read them.

use std::collections::{HashMap, HashSet};

use hoist_api::service::{EndpointSpec, PublishMode, TaskTemplate};

use super::filter::Refusal;
use crate::store::objects::{Node, Task};

/// A host-mode published port: its number and protocol (lowercase).
type HostPort = (u16, String);

/// What one task needs from the node it goes to.
#[derive(Debug, Clone)]
pub(super) struct Demand {
    nano_cpus: i64,
    memory_bytes: i64,
    host_ports: Vec<HostPort>,
    max_per_node: u64,
}

impl Demand {
    /// The demand of a task made from `spec`, publishing `endpoint`.
    pub(super) fn of(spec: &TaskTemplate, endpoint: &EndpointSpec) -> Self {
        let host_ports = endpoint
            .ports
            .iter()
            .filter(|p| p.publish_mode == PublishMode::Host && p.published_port != 0)
            .map(|p| (p.published_port, protocol(&p.protocol)))
            .collect();
        Self {
            nano_cpus: spec.reservations.nano_cpus.max(0),
            memory_bytes: spec.reservations.memory_bytes.max(0),
            host_ports,
            max_per_node: spec.placement.max_replicas_per_node,
        }
    }
}

/// A port's protocol as compared: lowercase, `tcp` when unset.
fn protocol(text: &str) -> String {
    if text.is_empty() {
        "tcp".to_string()
    } else {
        text.to_ascii_lowercase()
    }
}

/// A service's index among the services [`Loads`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServiceIndex(usize);

/// One node's capacity and what it carries.
#[derive(Debug, Default)]
struct NodeLoad {
    nano_cpus_total: i64,
    memory_total: i64,
    nano_cpus_used: i64,
    memory_used: i64,
    tasks: u32,
    host_ports: HashSet<HostPort>,
}

/// The load of every node, indexed as the node slice it was built from.
#[derive(Debug)]
pub(super) struct Loads<'a> {
    nodes: Vec<NodeLoad>,
    index: HashMap<&'a str, usize>,
    services: HashMap<&'a str, ServiceIndex>,
    per_service: Vec<Vec<u32>>,
}

impl<'a> Loads<'a> {
    /// The load `placed` tasks put on `nodes`. Tasks on nodes not in the
    /// slice are ignored.
    pub(super) fn new(nodes: &[&'a Node], placed: impl IntoIterator<Item = &'a Task>) -> Self {
        let mut loads = Self {
            nodes: nodes
                .iter()
                .map(|node| NodeLoad {
                    nano_cpus_total: saturating(node.description.cpus)
                        .saturating_mul(1_000_000_000),
                    memory_total: saturating(node.description.memory_bytes),
                    ..NodeLoad::default()
                })
                .collect(),
            index: nodes
                .iter()
                .enumerate()
                .map(|(i, node)| (node.meta.id.as_str(), i))
                .collect(),
            services: HashMap::new(),
            per_service: Vec::new(),
        };
        for task in placed {
            if let Some(node) = loads.node(&task.node_id) {
                let service = loads.service(&task.service_id);
                loads.add(node, service, &Demand::of(&task.spec, &task.endpoint));
            }
        }
        loads
    }

    /// The index of the node with ID `id`.
    pub(super) fn node(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The index of service `id`, counted from now on if it was not yet.
    pub(super) fn service(&mut self, id: &'a str) -> ServiceIndex {
        *self.services.entry(id).or_insert_with(|| {
            self.per_service.push(vec![0; self.nodes.len()]);
            ServiceIndex(self.per_service.len() - 1)
        })
    }

    /// Tasks of `service` on node `node`.
    pub(super) fn of_service(&self, service: ServiceIndex, node: usize) -> u32 {
        self.per_service[service.0][node]
    }

    /// Tasks on node `node`.
    pub(super) fn tasks(&self, node: usize) -> u32 {
        self.nodes[node].tasks
    }

    /// Whether node `node` can take a task of `service` that needs
    /// `demand`: resources, then host-mode ports, then replicas per node.
    pub(super) fn check(
        &self,
        node: usize,
        service: ServiceIndex,
        demand: &Demand,
    ) -> Result<(), Refusal> {
        let load = &self.nodes[node];
        if demand.nano_cpus > load.nano_cpus_total || demand.memory_bytes > load.memory_total {
            return Err(Refusal::Capacity);
        }
        if demand.nano_cpus > load.nano_cpus_total - load.nano_cpus_used
            || demand.memory_bytes > load.memory_total - load.memory_used
        {
            return Err(Refusal::Resources);
        }
        if demand
            .host_ports
            .iter()
            .any(|p| load.host_ports.contains(p))
        {
            return Err(Refusal::HostPort);
        }
        if demand.max_per_node > 0
            && u64::from(self.of_service(service, node)) >= demand.max_per_node
        {
            return Err(Refusal::MaxReplicas);
        }
        Ok(())
    }

    /// Counts a task of `service` that needs `demand` on node `node`.
    pub(super) fn add(&mut self, node: usize, service: ServiceIndex, demand: &Demand) {
        let load = &mut self.nodes[node];
        load.nano_cpus_used = load.nano_cpus_used.saturating_add(demand.nano_cpus);
        load.memory_used = load.memory_used.saturating_add(demand.memory_bytes);
        load.tasks += 1;
        load.host_ports.extend(demand.host_ports.iter().cloned());
        self.per_service[service.0][node] += 1;
    }
}

/// A node's unsigned figure as a signed one, saturating.
fn saturating(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
