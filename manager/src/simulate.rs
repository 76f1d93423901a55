//! Simulated nodes: one process plays many cluster nodes for scale tests
//! and benchmarks. Each joins with a real token and certificate, holds a
//! real session with the leader and runs the real worker; only the
//! runtime is simulated (tasks "run" in memory, with a configurable start
//! latency and failure rate). Killing the process is the failure of all
//! its nodes at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tonic::Status;
use tracing::{Instrument, info, info_span};

use crate::node::enroll::enroll;
use crate::node::leader::Managers;
use crate::node::session::{self, SessionState};
use crate::node::worker::{self, SimulatedExecutor};
use crate::store::objects::NodeDescription;

/// Joins made at once (each is a key, a signature and a Raft write).
const JOIN_CONCURRENCY: usize = 8;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// A manager's cluster address to join through.
    pub manager: String,
    /// A worker join token.
    pub token: String,
    /// How many nodes.
    pub nodes: usize,
    /// Hostname prefix: nodes are `<prefix>-<n>`.
    pub prefix: String,
    /// How long a task takes to start.
    pub start_latency: Duration,
    /// The fraction of starts that fail.
    pub failure_rate: f64,
    /// CPUs each node reports.
    pub cpus: u64,
    /// Memory each node reports, in bytes.
    pub memory_bytes: u64,
}

/// The nodes of a simulation, running until dropped or aborted.
pub struct Simulated {
    tasks: JoinSet<()>,
    /// The IDs of the nodes, in order.
    pub node_ids: Vec<String>,
}

impl Simulated {
    /// Runs until every node's task ends (they do not, short of an abort).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Joins the simulated nodes, then runs each one's session and worker.
/// Returns once every node has joined.
pub async fn start(simulation: Simulation) -> Result<Simulated, Status> {
    let gate = Arc::new(Semaphore::new(JOIN_CONCURRENCY));
    let mut joins = JoinSet::new();
    for n in 0..simulation.nodes {
        let simulation = simulation.clone();
        let gate = gate.clone();
        joins.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let description = NodeDescription {
                hostname: format!("{}-{n}", simulation.prefix),
                engine_version: format!("{} (simulated)", hoist_api::VERSION),
                os: "linux".into(),
                arch: std::env::consts::ARCH.into(),
                cpus: simulation.cpus,
                memory_bytes: simulation.memory_bytes,
            };
            let enrolled = enroll(&simulation.token, &simulation.manager, "", &description).await?;
            Ok::<_, Status>((n, enrolled))
        });
    }
    let mut enrolled = Vec::with_capacity(simulation.nodes);
    while let Some(joined) = joins.join_next().await {
        let joined = joined.map_err(|e| Status::internal(format!("a join task failed: {e}")))??;
        enrolled.push(joined);
    }
    enrolled.sort_by_key(|(n, _)| *n);
    let mut tasks = JoinSet::new();
    let mut node_ids = Vec::with_capacity(enrolled.len());
    for (n, node) in enrolled {
        let tls = node
            .credentials
            .client_config()
            .map_err(|e| Status::internal(e.to_string()))?;
        let managers = Managers::new(node.managers.clone());
        let executor = Arc::new(SimulatedExecutor::new(
            simulation.start_latency,
            simulation.failure_rate,
        ));
        let span = info_span!("simulated", node = n);
        let (updates, _) = watch::channel(SessionState::default());
        tasks.spawn(session::run(tls.clone(), managers.clone(), updates).instrument(span.clone()));
        tasks.spawn(worker::run(tls, managers, node.node_id.clone(), executor).instrument(span));
        node_ids.push(node.node_id);
    }
    info!(nodes = node_ids.len(), "simulated nodes joined");
    Ok(Simulated { tasks, node_ids })
}
