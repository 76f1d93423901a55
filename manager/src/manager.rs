//! A running manager: its Raft member, its applied store, and the rules
//! for writing (through the leader, whichever manager is asked) and for
//! fresh reads (a read index from the leader). On the leader it also keeps
//! the Raft membership in line with the managers the store lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster_proto::RaftMessage;
use hoist_api::cluster_proto::raft_client::RaftClient;
use hoist_api::tls::Credentials;
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::raft::election::{self, LeaderContact};
use crate::raft::log_store::LogStore;
use crate::raft::network::{Network, Reachability};
use crate::raft::state_machine::StateMachine;
use crate::raft::{Member, Raft, RaftId};
use crate::store::objects::{Node, Role};
use crate::store::{Batch, Outcome, Proposal, Rejection, Store};

/// Raft's heartbeat period. With the election timing below, a dead
/// leader is replaced in about a second on a LAN (SwarmKit's defaults are
/// 1 s heartbeats and 10 s elections; ours favour quick failover).
pub const RAFT_HEARTBEAT: Duration = Duration::from_millis(100);
/// The shortest election delay; each round draws one up to twice it. A
/// follower stands after the leader lease (twice this) plus such a delay.
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(300);

/// Raft entries in one append (openraft's default is 300, made for small
/// entries; one of ours can carry thousands of operations).
const MAX_PAYLOAD_ENTRIES: u64 = 16;
/// How long a write may wait for a quorum before it fails.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fresh read may wait for the leader's confirmation (as long
/// as a write: on a loaded machine two seconds were not always enough).
pub const READ_TIMEOUT: Duration = WRITE_TIMEOUT;
/// A peer that answered a Raft RPC this recently is reachable.
const REACHABLE_WINDOW: Duration = Duration::from_secs(2);
/// How often the leader reconciles Raft membership with the store.
const RECONCILE_PERIOD: Duration = Duration::from_millis(250);
/// Most batches committed together in one entry.
const GROUP_LIMIT: usize = 1024;
/// Operations one Raft entry carries at most (more from a single batch
/// are still one entry): entries stay small enough to replicate within a
/// heartbeat, which is openraft's time limit for an append.
const GROUP_OPS: usize = 2048;
/// Proposals in flight at once: the next group forms while earlier ones
/// are written and replicated.
const PIPELINE: usize = 4;

/// A write waiting for its group to commit.
struct Pending {
    batch: Batch,
    reply: oneshot::Sender<Result<Outcome, WriteError>>,
}

/// What a manager needs to start.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// Where its Raft log and snapshots live.
    pub dir: PathBuf,
    /// Its Raft member ID.
    pub raft_id: RaftId,
    /// Its node ID.
    pub node_id: String,
    /// Its cluster address (`IP:PORT`), as peers reach it.
    pub addr: String,
    /// The cluster's ID.
    pub cluster_id: String,
    /// Its TLS material.
    pub credentials: Credentials,
    /// The cluster's data key, which seals secrets and configs in the
    /// store (kept beside the Raft state, never in it).
    pub data_key: crate::secrets::key::DataKey,
}

/// Why a write failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The store refused it (conflict, missing, exists).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// No majority of managers could be reached in time.
    #[error(
        "the cluster has lost quorum: {reachable} of {total} managers reachable, {needed} needed to commit a change; \
         writes resume when enough managers are back, or run `hoist cluster init --force-new-cluster` on a surviving manager"
    )]
    NoQuorum {
        /// Managers reachable from here (itself included).
        reachable: usize,
        /// Managers in the Raft membership.
        total: usize,
        /// A majority of `total`.
        needed: usize,
    },
    /// Raft failed otherwise.
    #[error("raft: {0}")]
    Raft(String),
}

impl WriteError {
    /// The gRPC code a caller gets for it: a lost quorum is temporary, a
    /// name taken or a changed object are the caller's to handle.
    pub fn code(&self) -> tonic::Code {
        match self {
            WriteError::NoQuorum { .. } => tonic::Code::Unavailable,
            WriteError::Rejected(Rejection::Exists { .. }) => tonic::Code::AlreadyExists,
            WriteError::Rejected(Rejection::Conflict { .. }) => tonic::Code::Aborted,
            WriteError::Rejected(_) | WriteError::Raft(_) => tonic::Code::Internal,
        }
    }
}

/// Why a fresh read was not possible.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No leader confirmed its leadership in time.
    #[error(
        "cannot confirm the latest state with a quorum of managers ({reachable} of {total} reachable): \
         showing the last state this manager knows"
    )]
    NoQuorum {
        /// Managers reachable from here (itself included).
        reachable: usize,
        /// Managers in the Raft membership.
        total: usize,
    },
    /// This manager has not applied a committed write in time.
    #[error("this manager has not caught up with write {version} yet; try again")]
    Lagging {
        /// The write's version.
        version: u64,
    },
}

/// One manager of the cluster.
pub struct Manager {
    /// Its Raft member.
    pub raft: Raft,
    /// The state it has applied.
    pub store: Store,
    /// When peers last answered.
    pub reachability: Reachability,
    /// When the leader was last heard from.
    pub leader_contact: LeaderContact,
    /// Routes `service logs` between callers and nodes (while it leads).
    pub logs: crate::dispatcher::logs::LogBroker,
    network: Network,
    settings: ManagerSettings,
    reconciler: std::sync::Mutex<Option<JoinHandle<()>>>,
    proposer: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("node_id", &self.settings.node_id)
            .field("raft_id", &self.settings.raft_id)
            .finish()
    }
}

/// Why a manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its log could not be opened.
    #[error(transparent)]
    Log(#[from] crate::raft::log_store::LogStoreError),
    /// Its snapshot could not be read.
    #[error(transparent)]
    Snapshot(#[from] crate::raft::state_machine::SnapshotError),
    /// Its TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] hoist_api::tls::TlsError),
    /// openraft refused to start.
    #[error("raft: {0}")]
    Raft(String),
}

/// openraft's settings for hoist.
fn raft_config(cluster_id: &str) -> Result<Arc<Config>, StartError> {
    let config = Config {
        cluster_name: cluster_id.to_string(),
        heartbeat_interval: RAFT_HEARTBEAT.as_millis() as u64,
        election_timeout_min: ELECTION_TIMEOUT.as_millis() as u64,
        election_timeout_max: 2 * ELECTION_TIMEOUT.as_millis() as u64,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10_000),
        // An append must arrive within a heartbeat; a follower catching up
        // gets a few entries at a time rather than hundreds.
        max_payload_entries: MAX_PAYLOAD_ENTRIES,
        max_in_snapshot_log_to_keep: 1_000,
        // Elections are stood for by `raft::election`, with a fresh random
        // delay every round.
        enable_elect: false,
        ..Config::default()
    };
    config
        .validate()
        .map(Arc::new)
        .map_err(|e| StartError::Raft(e.to_string()))
}

impl Manager {
    /// Opens the manager's storage and starts its Raft member (a member of
    /// nothing until [`Manager::bootstrap`] or a leader adds it).
    pub async fn start(settings: ManagerSettings) -> Result<Arc<Self>, StartError> {
        std::fs::create_dir_all(&settings.dir).map_err(|source| {
            crate::raft::state_machine::SnapshotError::Io {
                path: settings.dir.clone(),
                source,
            }
        })?;
        let store = Store::new();
        let log = LogStore::open_when_free(&settings.dir.join("raft.redb")).await?;
        let machine = StateMachine::open(&settings.dir.join("snapshots"), store.clone())?;
        let reachability = Reachability::default();
        let leader_contact = LeaderContact::default();
        let network = Network::new(
            settings.credentials.client_config()?,
            reachability.clone(),
            leader_contact.clone(),
        );
        let raft = Raft::new(
            settings.raft_id,
            raft_config(&settings.cluster_id)?,
            network.clone(),
            log,
            machine,
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let (proposer, pending) = mpsc::unbounded_channel();
        tokio::spawn(election::run(
            raft.clone(),
            leader_contact.clone(),
            2 * ELECTION_TIMEOUT,
            ELECTION_TIMEOUT,
            2 * ELECTION_TIMEOUT,
        ));
        let manager = Arc::new(Self {
            raft,
            logs: crate::dispatcher::logs::LogBroker::new(store.clone()),
            store,
            reachability,
            leader_contact,
            network,
            settings,
            reconciler: std::sync::Mutex::new(None),
            proposer,
        });
        tokio::spawn(group_commits(Arc::downgrade(&manager), pending));
        // The control loops act only while this manager leads.
        tokio::spawn(crate::orchestrator::run(Arc::downgrade(&manager)));
        tokio::spawn(crate::scheduler::run(Arc::downgrade(&manager)));
        let reconciler = tokio::spawn(reconcile_membership(Arc::downgrade(&manager)));
        *manager.reconciler.lock().unwrap_or_else(|e| e.into_inner()) = Some(reconciler);
        Ok(manager)
    }

    /// Its settings.
    pub fn settings(&self) -> &ManagerSettings {
        &self.settings
    }

    /// Makes this manager the only member of a new Raft group and waits
    /// until it leads it.
    pub async fn bootstrap(&self) -> Result<(), WriteError> {
        let mut members = BTreeMap::new();
        members.insert(
            self.settings.raft_id,
            Member {
                addr: self.settings.addr.clone(),
                node_id: self.settings.node_id.clone(),
            },
        );
        if let Err(e) = self.raft.initialize(members).await {
            // Already initialised (a restart of `init`): fine.
            debug!(error = %e, "raft already initialised");
        }
        self.raft
            .wait(Some(WRITE_TIMEOUT))
            .state(ServerState::Leader, "bootstrap")
            .await
            .map(drop)
            .map_err(|e| WriteError::Raft(e.to_string()))
    }

    /// Stops the Raft member and the leader's tasks.
    pub async fn shutdown(&self) {
        if let Some(task) = self
            .reconciler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            warn!(error = %e, "raft did not shut down cleanly");
        }
    }

    /// The current leader's Raft ID and address, if one is known.
    pub fn leader(&self) -> Option<(RaftId, Member)> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        let member = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .clone();
        Some((leader, member))
    }

    /// A channel to the manager at `addr`, authenticated as this one.
    pub fn channel(
        &self,
        addr: &str,
    ) -> Result<tonic::transport::Channel, hoist_api::tls::TlsError> {
        self.network.channel(addr)
    }

    /// Whether this manager leads.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The Raft IDs of the voting managers.
    pub fn voters(&self) -> BTreeSet<RaftId> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    /// Whether manager `raft_id` answered lately (always true for itself).
    pub fn reachable(&self, raft_id: RaftId) -> bool {
        raft_id == self.settings.raft_id || self.reachability.reachable(raft_id, REACHABLE_WINDOW)
    }

    /// Voting managers reachable from here, and all of them.
    fn reachable_voters(&self) -> (usize, usize) {
        let voters = self.voters();
        let reachable = voters.iter().filter(|id| self.reachable(**id)).count();
        (reachable, voters.len())
    }

    /// The quorum error of a write, for the current membership.
    fn no_quorum(&self) -> WriteError {
        let (reachable, total) = self.reachable_voters();
        WriteError::NoQuorum {
            reachable,
            total,
            needed: total / 2 + 1,
        }
    }

    /// The quorum error of a read, for the current membership.
    fn unconfirmed(&self, why: &str) -> ReadError {
        debug!(%why, "fresh read not confirmed");
        let (reachable, total) = self.reachable_voters();
        ReadError::NoQuorum { reachable, total }
    }

    /// Commits `batch` through the leader (forwarding it when this
    /// manager is not the leader) and returns its version. Concurrent
    /// writes are committed together in one Raft entry.
    pub async fn write(&self, batch: Batch) -> Result<u64, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.proposer
            .send(Pending { batch, reply })
            .map_err(|_| WriteError::Raft("this manager is stopping".into()))?;
        match answer.await {
            Ok(result) => result?.into_result().map_err(Into::into),
            Err(_) => Err(WriteError::Raft("this manager is stopping".into())),
        }
    }

    /// Commits a proposal through the leader, waiting out an election, and
    /// returns one outcome per batch.
    async fn commit(&self, proposal: &Proposal) -> Result<Vec<Outcome>, WriteError> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            let proposed = tokio::time::timeout_at(deadline, self.propose(proposal.clone())).await;
            match proposed {
                Err(_) => return Err(self.no_quorum()),
                Ok(Proposed::Done(outcomes)) => return Ok(outcomes),
                Ok(Proposed::Failed(e)) => return Err(WriteError::Raft(e)),
                Ok(Proposed::NotLeader(Some(leader))) if leader.addr != self.settings.addr => {
                    match tokio::time::timeout_at(deadline, self.forward(&leader, proposal)).await {
                        Err(_) => return Err(self.no_quorum()),
                        Ok(Ok(Proposed::Done(outcomes))) => return Ok(outcomes),
                        Ok(Ok(Proposed::Failed(e))) => return Err(WriteError::Raft(e)),
                        // The leader moved on, or cannot be reached yet.
                        Ok(Ok(Proposed::NotLeader(_))) | Ok(Err(_)) => {}
                    }
                }
                Ok(Proposed::NotLeader(_)) => {}
            }
            if Instant::now() >= deadline {
                return Err(self.no_quorum());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Proposes `proposal` to the local Raft member.
    pub async fn propose(&self, proposal: Proposal) -> Proposed {
        match self.raft.client_write(proposal).await {
            Ok(response) => Proposed::Done(response.data),
            Err(e) => match e.forward_to_leader::<Member>() {
                Some(forward) => Proposed::NotLeader(forward.leader_node.clone()),
                None => Proposed::Failed(e.to_string()),
            },
        }
    }

    async fn forward(&self, leader: &Member, proposal: &Proposal) -> Result<Proposed, String> {
        let channel = self
            .network
            .channel(&leader.addr)
            .map_err(|e| e.to_string())?;
        let json = serde_json::to_vec(proposal).map_err(|e| e.to_string())?;
        let answer = RaftClient::new(channel)
            .propose(RaftMessage { json })
            .await
            .map_err(|s| s.message().to_string())?;
        serde_json::from_slice(&answer.into_inner().json).map_err(|e| e.to_string())
    }

    /// Makes the local store at least as fresh as the leader's committed
    /// state at the time of the call (a read index), so a read after it
    /// sees every write that finished before it.
    pub async fn fresh(&self) -> Result<(), ReadError> {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let index = if self.is_leader() {
                match tokio::time::timeout_at(deadline, self.raft.ensure_linearizable()).await {
                    Ok(Ok(read)) => read.map(|l| l.index),
                    Ok(Err(e)) => return Err(self.unconfirmed(&e.to_string())),
                    Err(_) => return Err(self.unconfirmed("timed out")),
                }
            } else {
                let Some((_, leader)) = self.leader() else {
                    if Instant::now() >= deadline {
                        return Err(self.unconfirmed("no leader"));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                match tokio::time::timeout_at(deadline, self.read_index(&leader)).await {
                    Ok(Ok(index)) => index,
                    Ok(Err(e)) => return Err(self.unconfirmed(&e)),
                    Err(_) => return Err(self.unconfirmed("timed out")),
                }
            };
            if let Some(index) = index {
                tokio::time::timeout_at(deadline, self.store.wait_for(index))
                    .await
                    .map_err(|_| self.unconfirmed("this manager is behind"))?;
            }
            return Ok(());
        }
    }

    async fn read_index(&self, leader: &Member) -> Result<Option<u64>, String> {
        let channel = self
            .network
            .channel(&leader.addr)
            .map_err(|e| e.to_string())?;
        let answer = RaftClient::new(channel)
            .read_index(RaftMessage {
                json: b"null".to_vec(),
            })
            .await
            .map_err(|s| s.message().to_string())?;
        let index: Result<Option<u64>, String> =
            serde_json::from_slice(&answer.into_inner().json).map_err(|e| e.to_string())?;
        index
    }
}

/// The result of proposing to one Raft member.
#[derive(Debug, Serialize, Deserialize)]
pub enum Proposed {
    /// Committed and applied, with one outcome per batch.
    Done(Vec<Outcome>),
    /// This member is not the leader; the leader, if it knows one.
    NotLeader(Option<Member>),
    /// Raft failed.
    Failed(String),
}

/// Commits waiting writes in groups: one Raft entry for every write that
/// queued while the previous groups were in flight.
async fn group_commits(
    manager: std::sync::Weak<Manager>,
    mut pending: mpsc::UnboundedReceiver<Pending>,
) {
    let slots = Arc::new(Semaphore::new(PIPELINE));
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match pending.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut ops = first.batch.ops.len();
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            let Ok(next) = pending.try_recv() else { break };
            if ops + next.batch.ops.len() > GROUP_OPS {
                carried = Some(next);
                break;
            }
            ops += next.batch.ops.len();
            group.push(next);
        }
        let Some(manager) = manager.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let _slot = slot;
            let proposal = Proposal {
                batches: group.iter().map(|p| p.batch.clone()).collect(),
            };
            match manager.commit(&proposal).await {
                Ok(outcomes) if outcomes.len() == group.len() => {
                    for (pending, outcome) in group.into_iter().zip(outcomes) {
                        let _ = pending.reply.send(Ok(outcome));
                    }
                }
                Ok(outcomes) => {
                    let e = format!(
                        "raft answered {} outcomes for {} batches",
                        outcomes.len(),
                        group.len()
                    );
                    for pending in group {
                        let _ = pending.reply.send(Err(WriteError::Raft(e.clone())));
                    }
                }
                Err(e) => {
                    for pending in group {
                        let _ = pending.reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// On the leader, keeps the Raft membership equal to the managers in the
/// store: new managers join as learners and become voters once they have
/// caught up; demoted or removed ones leave.
async fn reconcile_membership(manager: std::sync::Weak<Manager>) {
    while_leading(manager, RECONCILE_PERIOD, |manager, _| async move {
        if let Err(e) = reconcile_once(&manager).await {
            debug!(error = %e, "membership change will be retried");
        }
    })
    .await;
}

/// Runs `work` every `period` while this manager leads, with the moment
/// its current leadership began; returns when the manager is gone.
pub async fn while_leading<F, Fut>(manager: std::sync::Weak<Manager>, period: Duration, mut work: F)
where
    F: FnMut(Arc<Manager>, Instant) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut leading_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(manager) = manager.upgrade() else {
            return;
        };
        if !manager.is_leader() {
            leading_since = None;
            continue;
        }
        let since = *leading_since.get_or_insert_with(Instant::now);
        work(manager, since).await;
    }
}

async fn reconcile_once(manager: &Manager) -> Result<(), String> {
    let desired: BTreeMap<RaftId, Member> = manager
        .store
        .list::<Node>()
        .into_iter()
        .filter(|n| n.spec.role == Role::Manager)
        .filter_map(|n| {
            let info = n.manager?;
            Some((
                info.raft_id,
                Member {
                    addr: info.addr,
                    node_id: n.meta.id,
                },
            ))
        })
        .collect();
    let metrics = manager.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership().clone();
    let voters: BTreeSet<RaftId> = membership.voter_ids().collect();
    let known: BTreeSet<RaftId> = membership.nodes().map(|(id, _)| *id).collect();
    // Never act on an empty desired set: the store may not list the
    // managers yet (just after bootstrap).
    if desired.is_empty() {
        return Ok(());
    }
    for (id, member) in &desired {
        if !known.contains(id) {
            info!(raft_id = id, addr = %member.addr, "adding a manager as a learner");
            manager
                .raft
                .add_learner(*id, member.clone(), false)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
    }
    let last = metrics.last_log_index.unwrap_or(0);
    let caught_up: BTreeSet<RaftId> = desired
        .keys()
        .filter(|id| !voters.contains(id))
        .filter(|id| {
            metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .is_some_and(|matched| matched.index + 100 >= last)
        })
        .copied()
        .collect();
    if !caught_up.is_empty() {
        info!(raft_ids = ?caught_up, "promoting caught-up learners to voters");
        manager
            .raft
            .change_membership(ChangeMembers::AddVoterIds(caught_up), false)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let leaving: BTreeSet<RaftId> = voters
        .iter()
        .filter(|id| !desired.contains_key(id))
        .copied()
        .collect();
    if !leaving.is_empty() && leaving.len() < voters.len() {
        info!(raft_ids = ?leaving, "removing managers from the raft group");
        manager
            .raft
            .change_membership(ChangeMembers::RemoveVoters(leaving), false)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let stray: BTreeSet<RaftId> = known
        .iter()
        .filter(|id| !voters.contains(id) && !desired.contains_key(id))
        .copied()
        .collect();
    if !stray.is_empty() {
        manager
            .raft
            .change_membership(ChangeMembers::RemoveNodes(stray), false)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
