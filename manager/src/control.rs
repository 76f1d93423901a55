//! Cluster control on a manager: the views `node ls`, `node inspect` and
//! `cluster inspect` show, and the changes `node update/promote/demote/rm`
//! and `cluster join-token --rotate` make, each a compare-and-set write
//! retried when another writer got there first.

use hoist_api::cluster::{ClusterView, NodeList, NodeView};
use hoist_api::cluster_proto::Empty;
use hoist_api::cluster_proto::cluster_client::ClusterClient;
use tonic::Status;

use crate::manager::{Manager, WriteError};
use crate::store::objects::{
    Availability, CLUSTER_ID_KEY, Cluster, Kind, Node, NodeState, Object, Role,
};
use crate::store::{Batch, Op, Rejection};
use crate::token;

/// How often a compare-and-set update is retried after a conflict.
const CAS_ATTEMPTS: usize = 5;

/// Shortest node certificate lifetime `cluster update` accepts (short
/// lifetimes are for trying renewal out; Docker's minimum is an hour).
const MIN_CERT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(20);
/// Bounds of the agents' heartbeat period.
const MIN_HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(60);

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No node matches.
    #[error("node {0} not found")]
    NoSuchNode(String),
    /// Several nodes match a prefix or hostname.
    #[error("node {reference} is ambiguous: it matches {count} nodes; use the full node ID")]
    Ambiguous {
        /// What was asked for.
        reference: String,
        /// How many matched.
        count: usize,
    },
    /// The change is not allowed in the current state.
    #[error("{0}")]
    Refused(String),
    /// The cluster object is missing (the cluster is still starting).
    #[error("the cluster is not initialised yet")]
    NoCluster,
    /// The write failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<ControlError> for Status {
    fn from(e: ControlError) -> Self {
        let message = e.to_string();
        match e {
            ControlError::NoSuchNode(_) => Status::not_found(message),
            ControlError::Ambiguous { .. } => Status::invalid_argument(message),
            ControlError::Refused(_) => Status::failed_precondition(message),
            ControlError::NoCluster => Status::unavailable(message),
            ControlError::Write(e) => Status::new(e.code(), message),
        }
    }
}

/// How far a CA rotation got: nodes not down that hold a certificate of
/// the current root, and all nodes not down.
pub fn rotation_progress(store: &crate::store::Store, cluster: &Cluster) -> (usize, usize) {
    let live: Vec<Node> = store
        .list::<Node>()
        .into_iter()
        .filter(|n| n.status.state != NodeState::Down)
        .collect();
    let renewed = live
        .iter()
        .filter(|n| n.cert_ca_digest == cluster.root_ca.digest)
        .count();
    (renewed, live.len())
}

/// Unix milliseconds now.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds as RFC 3339 (empty for 0 or out of range).
pub(crate) fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A change to a node, as `node update`, `promote` and `demote` ask.
#[derive(Debug, Clone, Default)]
pub struct NodeChange {
    /// New availability.
    pub availability: Option<Availability>,
    /// New role.
    pub role: Option<Role>,
    /// Labels to add or replace.
    pub label_add: Vec<(String, String)>,
    /// Labels to remove.
    pub label_rm: Vec<String>,
}

impl Manager {
    /// The cluster object.
    pub fn cluster(&self) -> Result<Cluster, ControlError> {
        self.store
            .get::<Cluster>(CLUSTER_ID_KEY)
            .ok_or(ControlError::NoCluster)
    }

    /// How `node ls` shows `node`.
    pub fn node_view(&self, node: &Node) -> NodeView {
        let leader = self.leader();
        let manager_status = match &node.manager {
            Some(info) if node.spec.role == Role::Manager => {
                if leader.as_ref().is_some_and(|(id, _)| *id == info.raft_id) {
                    "Leader"
                } else if self.voters().contains(&info.raft_id) && self.reachable(info.raft_id) {
                    "Reachable"
                } else {
                    "Unreachable"
                }
            }
            _ => "",
        };
        NodeView {
            id: node.meta.id.clone(),
            hostname: node.description.hostname.clone(),
            status: node.status.state.to_string(),
            message: node.status.message.clone(),
            availability: node.spec.availability.to_string(),
            role: node.spec.role.to_string(),
            manager_status: manager_status.to_string(),
            engine_version: node.description.engine_version.clone(),
            addr: node.status.addr.clone(),
            manager_addr: node
                .manager
                .as_ref()
                .map(|m| m.addr.clone())
                .unwrap_or_default(),
            labels: node.spec.labels.clone(),
            platform: format!("{}/{}", node.description.os, node.description.arch),
            cpus: node.description.cpus,
            memory_bytes: node.description.memory_bytes,
            version: node.meta.version,
            created_at: rfc3339(node.meta.created_at),
            updated_at: rfc3339(node.meta.updated_at),
            is_self: node.meta.id == self.settings().node_id,
        }
    }

    /// Every node, as the leader sees it (only the leader knows which
    /// managers answer it); this manager's last known state, marked stale,
    /// when no leader with a quorum answers.
    pub async fn node_list(&self) -> NodeList {
        if !self.is_leader()
            && let Some(mut list) = self.leader_node_list().await
        {
            for node in &mut list.nodes {
                node.is_self = node.id == self.settings().node_id;
            }
            return list;
        }
        let stale = self.fresh().await.err().map(|e| e.to_string());
        let mut nodes: Vec<NodeView> = self
            .store
            .list::<Node>()
            .iter()
            .map(|n| self.node_view(n))
            .collect();
        nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.id.cmp(&b.id)));
        NodeList { nodes, stale }
    }

    /// The leader's node list, if the leader answers within a read's time.
    async fn leader_node_list(&self) -> Option<NodeList> {
        let (_, leader) = self.leader()?;
        let channel = self.channel(&leader.addr).ok()?;
        let mut client = ClusterClient::new(channel);
        let call = client.list_nodes(Empty {});
        let answer = tokio::time::timeout(std::time::Duration::from_secs(2), call)
            .await
            .ok()?
            .ok()?;
        let list: NodeList = serde_json::from_slice(&answer.into_inner().json).ok()?;
        list.stale.is_none().then_some(list)
    }

    /// The node `reference` names: its ID, a unique ID prefix, or its
    /// unique hostname.
    pub fn find_node(&self, reference: &str) -> Result<Node, ControlError> {
        let nodes = self.store.list::<Node>();
        if let Some(node) = nodes.iter().find(|n| n.meta.id == reference) {
            return Ok(node.clone());
        }
        let by_name: Vec<&Node> = nodes
            .iter()
            .filter(|n| n.description.hostname == reference)
            .collect();
        let matches = if by_name.is_empty() {
            nodes
                .iter()
                .filter(|n| !reference.is_empty() && n.meta.id.starts_with(reference))
                .collect()
        } else {
            by_name
        };
        match matches.as_slice() {
            [node] => Ok((*node).clone()),
            [] => Err(ControlError::NoSuchNode(reference.to_string())),
            many => Err(ControlError::Ambiguous {
                reference: reference.to_string(),
                count: many.len(),
            }),
        }
    }

    /// Applies `change` to the node `reference` names.
    pub async fn update_node(
        &self,
        reference: &str,
        change: &NodeChange,
    ) -> Result<NodeView, ControlError> {
        // As fresh as a quorum allows; the write itself needs the quorum,
        // and compare-and-set catches what a stale read missed.
        let _ = self.fresh().await;
        let mut written = None;
        let version = self
            .write_with_retry(|| {
                let mut node = self.find_node(reference)?;
                if let Some(role) = change.role {
                    self.check_role_change(&node, role)?;
                    if role == Role::Worker {
                        node.manager = None;
                    }
                    node.spec.role = role;
                }
                if let Some(availability) = change.availability {
                    node.spec.availability = availability;
                }
                for (key, value) in &change.label_add {
                    node.spec.labels.insert(key.clone(), value.clone());
                }
                for key in &change.label_rm {
                    node.spec.labels.remove(key);
                }
                node.meta.updated_at = now_millis();
                written = Some(node.clone());
                Ok(Batch::one(Op::Update(Object::Node(node))))
            })
            .await?;
        let mut node = written.ok_or_else(|| ControlError::NoSuchNode(reference.to_string()))?;
        node.meta.version = version;
        Ok(self.node_view(&node))
    }

    /// Writes the batch `make` builds from what it reads now, and again
    /// (a few times) when another writer changed what it read first.
    async fn write_with_retry(
        &self,
        mut make: impl FnMut() -> Result<Batch, ControlError>,
    ) -> Result<u64, ControlError> {
        let mut attempt = 1;
        loop {
            match self.write(make()?).await {
                Ok(version) => return Ok(version),
                Err(WriteError::Rejected(Rejection::Conflict { .. })) if attempt < CAS_ATTEMPTS => {
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Changes the cluster object with `change`, retried as
    /// [`Manager::write_with_retry`] retries.
    async fn change_cluster(
        &self,
        mut change: impl FnMut(&mut Cluster) -> Result<(), ControlError>,
    ) -> Result<(), ControlError> {
        self.write_with_retry(|| {
            let mut cluster = self.cluster()?;
            change(&mut cluster)?;
            cluster.meta.updated_at = now_millis();
            Ok(Batch::one(Op::Update(Object::Cluster(cluster))))
        })
        .await
        .map(drop)
    }

    /// Refuses demotions that would leave no manager or lose quorum.
    fn check_role_change(&self, node: &Node, role: Role) -> Result<(), ControlError> {
        if role == Role::Manager || node.spec.role == Role::Worker {
            return Ok(());
        }
        let voters = self.voters();
        let Some(info) = &node.manager else {
            return Ok(());
        };
        let remaining: Vec<_> = voters.iter().filter(|id| **id != info.raft_id).collect();
        if remaining.is_empty() {
            return Err(ControlError::Refused(format!(
                "node {} is the last manager of the cluster: promote another node first",
                node.meta.id
            )));
        }
        let reachable = remaining.iter().filter(|id| self.reachable(***id)).count();
        if reachable < remaining.len() / 2 + 1 {
            return Err(ControlError::Refused(format!(
                "demoting node {} would lose quorum: only {reachable} of the {} remaining managers are reachable",
                node.meta.id,
                remaining.len()
            )));
        }
        Ok(())
    }

    /// Removes the node `reference` names; its certificate is refused from
    /// then on. A manager must be demoted first; a node that is not down
    /// needs `force`.
    pub async fn remove_node(&self, reference: &str, force: bool) -> Result<(), ControlError> {
        // As fresh as a quorum allows; the write itself needs the quorum,
        // and compare-and-set catches what a stale read missed.
        let _ = self.fresh().await;
        self.write_with_retry(|| {
            let node = self.find_node(reference)?;
            if node.spec.role == Role::Manager {
                return Err(ControlError::Refused(format!(
                    "node {} is a cluster manager and a member of the raft group: demote it (`hoist node demote`) before removing it",
                    node.meta.id
                )));
            }
            if node.status.state == NodeState::Ready && !force {
                return Err(ControlError::Refused(format!(
                    "node {} is not down and cannot be removed: run `hoist cluster leave` on it, or use --force",
                    node.meta.id
                )));
            }
            let mut cluster = self.cluster()?;
            cluster.removed_nodes.insert(node.meta.id.clone());
            cluster.meta.updated_at = now_millis();
            Ok(Batch {
                ops: vec![
                    Op::Delete {
                        kind: Kind::Node,
                        id: node.meta.id.clone(),
                        version: Some(node.meta.version),
                    },
                    Op::Update(Object::Cluster(cluster)),
                ],
            })
        })
        .await
        .map(drop)
    }

    /// The join token for `role`, with a fresh secret first if `rotate`.
    pub async fn join_token(&self, role: Role, rotate: bool) -> Result<String, ControlError> {
        if rotate {
            self.change_cluster(|cluster| {
                let secret = token::new_secret()
                    .map_err(|e| ControlError::Refused(format!("no randomness: {e}")))?;
                match role {
                    Role::Worker => cluster.join_secrets.worker = secret,
                    Role::Manager => cluster.join_secrets.manager = secret,
                }
                Ok(())
            })
            .await?;
        } else {
            // As fresh as a quorum allows: printing a token needs no
            // quorum (a join does, and checks the token then).
            let _ = self.fresh().await;
        }
        let cluster = self.cluster()?;
        let secret = match role {
            Role::Worker => &cluster.join_secrets.worker,
            Role::Manager => &cluster.join_secrets.manager,
        };
        Ok(token::format(&cluster.root_ca.digest, secret))
    }

    /// Changes cluster settings (`cluster update`); zero leaves a setting
    /// as it is.
    pub async fn update_cluster(
        &self,
        cert_expiry: Option<std::time::Duration>,
        heartbeat_period: Option<std::time::Duration>,
    ) -> Result<ClusterView, ControlError> {
        if let Some(expiry) = cert_expiry
            && expiry < MIN_CERT_EXPIRY
        {
            return Err(ControlError::Refused(format!(
                "--cert-expiry must be at least {}s",
                MIN_CERT_EXPIRY.as_secs()
            )));
        }
        if let Some(period) = heartbeat_period
            && !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&period)
        {
            return Err(ControlError::Refused(format!(
                "--dispatcher-heartbeat must be between {}ms and {}s",
                MIN_HEARTBEAT.as_millis(),
                MAX_HEARTBEAT.as_secs()
            )));
        }
        let _ = self.fresh().await;
        self.change_cluster(|cluster| {
            if let Some(expiry) = cert_expiry {
                cluster.spec.cert_expiry_secs = expiry.as_secs();
            }
            if let Some(period) = heartbeat_period {
                cluster.spec.heartbeat_period_ms = period.as_millis() as u64;
            }
            Ok(())
        })
        .await?;
        self.cluster_view().await
    }

    /// Starts a root CA rotation (`cluster ca --rotate`): nodes renew
    /// onto the new root as their sessions report it; the leader ends the
    /// rotation when all have.
    pub async fn rotate_ca(&self) -> Result<ClusterView, ControlError> {
        let _ = self.fresh().await;
        self.change_cluster(|cluster| {
            if cluster.root_ca.rotating() {
                return Err(ControlError::Refused(
                    "a root CA rotation is already in progress: wait for it to finish (`hoist cluster inspect`)"
                        .into(),
                ));
            }
            cluster.root_ca = crate::ca::rotate(&cluster.root_ca, &cluster.cluster_id)
                .map_err(|e| ControlError::Refused(e.to_string()))?;
            Ok(())
        })
        .await?;
        self.cluster_view().await
    }

    /// How `cluster inspect` shows the cluster.
    pub async fn cluster_view(&self) -> Result<ClusterView, ControlError> {
        let stale = self.fresh().await.is_err();
        let cluster = self.cluster()?;
        let nodes = self.store.list::<Node>();
        let (renewed, renewing) = rotation_progress(&self.store, &cluster);
        let metrics = self.raft.metrics().borrow().clone();
        let leader = self
            .leader()
            .map(|(_, member)| member.node_id)
            .unwrap_or_default();
        Ok(ClusterView {
            id: cluster.cluster_id.clone(),
            created_at: rfc3339(cluster.meta.created_at),
            ca_fingerprint: cluster.root_ca.digest.clone(),
            cert_expiry_secs: cluster.spec.cert_expiry_secs,
            heartbeat_period_ms: cluster.spec.heartbeat_period_ms,
            managers: nodes
                .iter()
                .filter(|n| n.spec.role == Role::Manager)
                .count(),
            nodes: nodes.len(),
            leader,
            raft_term: metrics.current_term,
            raft_applied: self.store.version(),
            ca_certificate: cluster.root_ca.cert_pem.clone(),
            ca_rotation_in_progress: cluster.root_ca.rotating(),
            ca_rotation_renewed: renewed,
            ca_rotation_nodes: renewing,
            stale,
        })
    }
}
