//! The dispatcher on the leader: every node holds a session stream and
//! sends heartbeats on it; the leader marks a node `ready` when its
//! session starts and `down` when its heartbeats stop. Heartbeats are
//! kept in memory, only state changes go through Raft (as SwarmKit does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_api::cluster_proto::dispatcher_server::Dispatcher;
use hoist_api::cluster_proto::{
    AssignmentsMessage, AssignmentsRequest, Empty, Heartbeat, LogSubscriptionsRequest,
    PublishedLogs, SessionMessage, TaskStatusBatch,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

pub mod assignments;
pub mod logs;
pub mod status;

use crate::auth::Access;
use crate::control::now_millis;
use crate::manager::{Manager, while_leading};
use crate::store::objects::{Node, NodeState, Object};
use crate::store::{Batch, Op};

/// Metadata key naming the leader's address when a follower turns a
/// session away.
pub const LEADER_METADATA: &str = "hoist-leader";

/// Heartbeats a node may miss before it is marked down.
const MISSED_HEARTBEATS: u32 = 3;

/// When each node was last heard from, on this manager.
#[derive(Debug, Clone, Default)]
pub struct Heartbeats {
    last: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Heartbeats {
    fn beat(&self, node_id: &str) {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node_id.to_string(), Instant::now());
    }

    fn last(&self, node_id: &str) -> Option<Instant> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node_id)
            .copied()
    }
}

/// Serves node sessions for one manager.
#[derive(Debug, Clone)]
pub struct DispatcherService {
    /// The manager.
    pub manager: Arc<Manager>,
    /// Heartbeats seen here.
    pub heartbeats: Heartbeats,
    /// Routes task changes to the nodes' sessions.
    pub assignments: assignments::Assignments,
}

impl DispatcherService {
    /// A dispatcher for `manager`, with its down-detection task.
    pub fn start(manager: Arc<Manager>) -> Self {
        let heartbeats = Heartbeats::default();
        tokio::spawn(mark_down(Arc::downgrade(&manager), heartbeats.clone()));
        tokio::spawn(finish_ca_rotation(Arc::downgrade(&manager)));
        Self {
            assignments: assignments::Assignments::start(manager.store.clone()),
            manager,
            heartbeats,
        }
    }

    fn not_leader(&self) -> Status {
        let mut status = Status::failed_precondition("this manager is not the leader");
        if let Some((_, leader)) = self.manager.leader()
            && let Ok(value) = MetadataValue::try_from(leader.addr.as_str())
        {
            status.metadata_mut().insert(LEADER_METADATA, value);
        }
        status
    }

    fn session_message(&self, node_id: &str) -> Result<SessionMessage, Status> {
        let cluster = self
            .manager
            .cluster()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let nodes = self.manager.store.list::<Node>();
        let role = nodes
            .iter()
            .find(|n| n.meta.id == node_id)
            .map(|n| n.spec.role.to_string())
            .ok_or_else(|| Status::not_found(format!("node {node_id} is not in the cluster")))?;
        Ok(SessionMessage {
            heartbeat_period_ms: cluster.spec.heartbeat_period_ms,
            managers: nodes
                .into_iter()
                .filter_map(|n| n.manager.map(|m| m.addr))
                .collect(),
            role,
            trust_digest: hoist_api::tls::fingerprint(cluster.root_ca.trust_bundle().as_bytes()),
        })
    }

    /// Marks `node_id` ready (from `addr`) unless it already is.
    async fn mark_ready(&self, node_id: &str, addr: &str) -> Result<(), Status> {
        for _ in 0..5 {
            let Some(mut node) = self.manager.store.get::<Node>(node_id) else {
                return Err(Status::not_found(format!(
                    "node {node_id} is not in the cluster"
                )));
            };
            if node.status.state == NodeState::Ready
                && (addr.is_empty() || node.status.addr == addr)
            {
                return Ok(());
            }
            node.status.state = NodeState::Ready;
            node.status.message.clear();
            if !addr.is_empty() {
                node.status.addr = addr.to_string();
            }
            node.meta.updated_at = now_millis();
            match self
                .manager
                .write(Batch::one(Op::Update(Object::Node(node))))
                .await
            {
                Ok(_) => return Ok(()),
                Err(crate::manager::WriteError::Rejected(_)) => continue,
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        }
        Err(Status::aborted("node changed too often; retry"))
    }
}

type SessionStream = std::pin::Pin<Box<dyn Stream<Item = Result<SessionMessage, Status>> + Send>>;
type AssignmentsStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<AssignmentsMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Dispatcher for DispatcherService {
    type SessionStream = SessionStream;
    type AssignmentsStream = AssignmentsStream;
    type LogSubscriptionsStream = logs::SubscriptionsStream;

    #[tracing::instrument(skip_all)]
    async fn log_subscriptions(
        &self,
        request: Request<LogSubscriptionsRequest>,
    ) -> Result<Response<Self::LogSubscriptionsStream>, Status> {
        self.log_subscriptions_stream(request)
    }

    #[tracing::instrument(skip_all)]
    async fn publish_logs(
        &self,
        request: Request<Streaming<PublishedLogs>>,
    ) -> Result<Response<Empty>, Status> {
        self.relay_published_logs(request).await
    }

    #[tracing::instrument(skip_all)]
    async fn assignments(
        &self,
        request: Request<AssignmentsRequest>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        if !self.manager.is_leader() {
            return Err(self.not_leader());
        }
        if self.manager.store.get::<Node>(&identity.node_id).is_none() {
            return Err(Status::not_found(format!(
                "node {} is not in the cluster",
                identity.node_id
            )));
        }
        let rx = self.assignments_stream(identity.node_id);
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(skip_all)]
    async fn update_task_status(
        &self,
        request: Request<TaskStatusBatch>,
    ) -> Result<Response<Empty>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        if !self.manager.is_leader() {
            return Err(self.not_leader());
        }
        status::record(&self.manager, &identity.node_id, request.into_inner()).await?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all)]
    async fn session(
        &self,
        request: Request<Streaming<Heartbeat>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        if !self.manager.is_leader() {
            return Err(self.not_leader());
        }
        let node_id = identity.node_id;
        let mut heartbeats = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            let mut ready = false;
            while let Some(beat) = heartbeats.next().await {
                let Ok(beat) = beat else { break };
                if !service.manager.is_leader() {
                    let _ = tx.send(Err(service.not_leader())).await;
                    break;
                }
                service.heartbeats.beat(&node_id);
                if !ready {
                    if let Err(status) = service.mark_ready(&node_id, &beat.addr).await {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                    info!(node = %node_id, "session started");
                    ready = true;
                }
                let answer = service.session_message(&node_id);
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// On the leader, marks nodes whose heartbeats stopped as down, in one
/// write per sweep. A new leader gives every node a full grace period
/// from when it took over.
async fn mark_down(manager: std::sync::Weak<Manager>, heartbeats: Heartbeats) {
    while_leading(manager, Duration::from_millis(250), |manager, since| {
        let heartbeats = heartbeats.clone();
        async move {
            let Ok(cluster) = manager.cluster() else {
                return;
            };
            let grace = Duration::from_millis(cluster.spec.heartbeat_period_ms) * MISSED_HEARTBEATS;
            let now = now_millis();
            let ops: Vec<Op> = manager
                .store
                .list::<Node>()
                .into_iter()
                .filter(|n| n.status.state != NodeState::Down)
                .filter(|n| {
                    let last = heartbeats.last(&n.meta.id).unwrap_or(since).max(since);
                    last.elapsed() > grace
                })
                .map(|mut n| {
                    n.status.state = NodeState::Down;
                    n.status.message = "heartbeat failure".into();
                    n.meta.updated_at = now;
                    Op::Update(Object::Node(n))
                })
                .collect();
            if ops.is_empty() {
                return;
            }
            let count = ops.len();
            match manager.write(Batch { ops }).await {
                Ok(_) => info!(nodes = count, "nodes marked down: heartbeats stopped"),
                Err(e) => warn!(error = %e, "cannot mark nodes down; will retry"),
            }
        }
    })
    .await;
}

/// On the leader, ends a CA rotation once every node that is not down
/// holds a certificate of the new root: the previous root is no longer
/// trusted, and nodes renew once more to drop it.
async fn finish_ca_rotation(manager: std::sync::Weak<Manager>) {
    while_leading(
        manager,
        Duration::from_millis(500),
        |manager, _| async move {
            let Ok(mut cluster) = manager.cluster() else {
                return;
            };
            if !cluster.root_ca.rotating() {
                return;
            }
            let (renewed, total) = crate::control::rotation_progress(&manager.store, &cluster);
            if renewed < total {
                return;
            }
            cluster.root_ca.previous_cert_pem.clear();
            cluster.root_ca.cross_signed_pem.clear();
            cluster.meta.updated_at = now_millis();
            match manager
                .write(Batch::one(Op::Update(Object::Cluster(cluster))))
                .await
            {
                Ok(_) => info!(nodes = total, "root CA rotation finished"),
                Err(e) => warn!(error = %e, "cannot finish the CA rotation; will retry"),
            }
        },
    )
    .await;
}
