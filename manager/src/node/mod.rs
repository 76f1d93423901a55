//! A daemon's part in a cluster: `cluster init`, `join` and `leave`, the
//! membership it remembers across restarts, its session with the leader,
//! and — on managers — the Raft member and the cluster port's server.

pub mod enroll;
pub mod host;
pub mod leader;
pub mod logs_api;
pub mod membership;
pub mod networks_api;
pub mod renewal;
pub mod secrets_api;
pub mod server;
pub mod service;
pub mod services_api;
pub mod session;
pub mod stacks_api;
pub mod worker;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster::DEFAULT_CLUSTER_PORT;
use hoist_api::cluster_proto::{
    InitRequest, InitResponse, JoinClusterRequest, JoinClusterResponse,
};
use hoist_api::tls::{self, Credentials};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tonic::Status;
use tracing::{info, warn};

use crate::ca;
use crate::control::now_millis;
use crate::ids;
use crate::manager::{Manager, ManagerSettings};
use crate::secrets::key::DataKey;
use crate::store::objects::{
    CLUSTER_ID_KEY, Cluster, ClusterSpec, JoinSecrets, ManagerInfo, Meta, Node, NodeSpec, Object,
    Role,
};
use crate::store::{Batch, Op};
use crate::token::{self, Token};
use membership::{ClusterDir, Membership};
use server::ClusterServer;
use session::SessionState;

/// How long a joining manager waits to become a voter.
const VOTER_TIMEOUT: Duration = Duration::from_secs(30);

/// A daemon's cluster membership and what runs for it.
pub struct ClusterNode {
    dir: ClusterDir,
    /// Runs the tasks the cluster assigns to this node.
    executor: Arc<dyn worker::Executor>,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode").finish_non_exhaustive()
    }
}

/// What runs while the node is in a cluster.
struct Running {
    membership: Membership,
    manager: Option<Arc<Manager>>,
    server: Option<ClusterServer>,
    session: JoinHandle<()>,
    worker: JoinHandle<()>,
    keeper: JoinHandle<()>,
    renewer: JoinHandle<()>,
}

impl Running {
    /// Stops what runs for the cluster. Task containers keep running: the
    /// next worker (after a restart or re-certification) adopts them.
    async fn stop(self) {
        self.session.abort();
        self.worker.abort();
        self.keeper.abort();
        self.renewer.abort();
        if let Some(server) = self.server {
            server.stop().await;
        }
        if let Some(manager) = self.manager {
            manager.shutdown().await;
        }
    }
}

fn precondition(message: impl Into<String>) -> Status {
    Status::failed_precondition(message.into())
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Parses `IP` or `IP:PORT`, with `default_port` for the former.
fn socket_addr(text: &str, default_port: u16, what: &str) -> Result<SocketAddr, Status> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| {
            Status::invalid_argument(format!(
                "invalid {what} {text:?}: expected IP or IP:PORT (e.g. 10.0.0.5:{DEFAULT_CLUSTER_PORT})"
            ))
        })
}

/// The listen and advertise addresses from the user's flags.
fn addresses(listen: &str, advertise: &str) -> Result<(SocketAddr, SocketAddr), Status> {
    let listen = if listen.is_empty() {
        SocketAddr::from(([0, 0, 0, 0], DEFAULT_CLUSTER_PORT))
    } else {
        socket_addr(listen, DEFAULT_CLUSTER_PORT, "--listen-addr")?
    };
    let advertise = if advertise.is_empty() {
        let ip = if listen.ip().is_unspecified() {
            host::default_advertise_ip().map_err(Status::invalid_argument)?
        } else {
            listen.ip()
        };
        SocketAddr::new(ip, listen.port())
    } else {
        socket_addr(advertise, listen.port(), "--advertise-addr")?
    };
    Ok((listen, advertise))
}

impl ClusterNode {
    /// Opens the cluster state under the daemon's `root` and, if the node
    /// is in a cluster, starts what runs for it; `executor` runs the tasks
    /// assigned to the node.
    pub async fn open(
        root: &Path,
        executor: Arc<dyn worker::Executor>,
    ) -> anyhow::Result<Arc<Self>> {
        let node = Arc::new(Self {
            dir: ClusterDir::new(root),
            executor,
            running: Mutex::new(None),
        });
        if let Some((membership, credentials)) = node.dir.load()? {
            info!(node = %membership.node_id, role = %membership.role, "rejoining the cluster");
            let running = node.start(membership, credentials).await.map_err(|s| {
                anyhow::anyhow!("cannot resume cluster membership: {}", s.message())
            })?;
            *node.running.lock().await = Some(running);
        }
        Ok(node)
    }

    /// Stops what runs for the cluster (the daemon is stopping; the node
    /// stays in the cluster).
    pub async fn shutdown(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.stop().await;
        }
    }

    /// The manager running here, for control calls.
    pub async fn manager(&self) -> Result<Arc<Manager>, Status> {
        match &*self.running.lock().await {
            None => Err(precondition(
                "this node is not part of a cluster: run `hoist cluster init`, or `hoist cluster join` to join one",
            )),
            Some(Running { manager: None, .. }) => Err(precondition(
                "this node is not a cluster manager: worker nodes cannot view or change cluster state; \
                 run the command on a manager, or promote this node",
            )),
            Some(Running {
                manager: Some(manager),
                ..
            }) => Ok(manager.clone()),
        }
    }

    /// Starts the manager (if any), the cluster port and the session.
    async fn start(
        self: &Arc<Self>,
        membership: Membership,
        credentials: Credentials,
    ) -> Result<Running, Status> {
        let (manager, server) = if membership.role == Role::Manager {
            let data_key = self.dir.load_data_key().map_err(internal)?.ok_or_else(|| {
                precondition(
                    "this manager has no cluster data key (cluster/store.key under the daemon's root): \
                     copy it from another manager, or demote and promote this node again",
                )
            })?;
            let manager = Manager::start(ManagerSettings {
                dir: self.dir.raft_dir(),
                raft_id: membership.raft_id,
                node_id: membership.node_id.clone(),
                addr: membership.advertise_addr.clone(),
                cluster_id: membership.cluster_id.clone(),
                credentials: credentials.clone(),
                data_key,
            })
            .await
            .map_err(internal)?;
            let server = ClusterServer::start(
                &membership.listen_addr,
                &credentials,
                manager.clone(),
                self.clone(),
            )
            .await;
            match server {
                Ok(server) => (Some(manager), Some(server)),
                Err(e) => {
                    manager.shutdown().await;
                    return Err(e);
                }
            }
        } else {
            (None, None)
        };
        let mut managers = membership.managers.clone();
        if membership.role == Role::Manager {
            managers.retain(|m| *m != membership.advertise_addr);
            managers.insert(0, membership.advertise_addr.clone());
        }
        let (updates, mut learned) = watch::channel(SessionState::default());
        let tls = credentials.client_config().map_err(internal)?;
        let managers = leader::Managers::new(managers);
        let session = tokio::spawn(session::run(tls.clone(), managers.clone(), updates));
        let worker = tokio::spawn(worker::run(
            tls,
            managers,
            membership.node_id.clone(),
            self.executor.clone(),
        ));
        let dir = self.dir.clone();
        let mut kept = membership.clone();
        let node = Arc::downgrade(self);
        let trusted = tls::fingerprint(credentials.ca_pem.as_bytes());
        let keeper = tokio::spawn(async move {
            while learned.changed().await.is_ok() {
                let state = learned.borrow_and_update().clone();
                if !state.managers.is_empty() && state.managers != kept.managers {
                    kept.managers = state.managers;
                    if let Err(e) = dir.save_membership(&kept) {
                        warn!(error = %e, "cannot record the managers' addresses");
                    }
                }
                let role = match state.role.as_str() {
                    "manager" => Role::Manager,
                    "worker" => Role::Worker,
                    _ => continue,
                };
                let new_trust = !state.trust_digest.is_empty() && state.trust_digest != trusted;
                if (role != kept.role || new_trust)
                    && let Some(node) = node.upgrade()
                {
                    info!(from = %kept.role, to = %role, new_trust, "re-certifying as the leader reports");
                    // Its own task: re-certifying restarts what runs for
                    // the cluster, this keeper included.
                    tokio::spawn(node.recertify());
                }
            }
        });
        let node = Arc::downgrade(self);
        let wait = renewal::renew_in(&credentials.cert_pem);
        let renewer = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(node) = node.upgrade() {
                info!("renewing the node certificate before it expires");
                tokio::spawn(node.recertify());
            }
        });
        Ok(Running {
            membership,
            manager,
            server,
            session,
            worker,
            keeper,
            renewer,
        })
    }

    /// `hoist cluster init`: a new cluster with this node as its only
    /// manager.
    pub async fn init(self: &Arc<Self>, request: InitRequest) -> Result<InitResponse, Status> {
        let mut running = self.running.lock().await;
        if request.force_new_cluster {
            return self.force_new_cluster(&mut running).await;
        }
        if running.is_some() {
            return Err(precondition(
                "this node is already part of a cluster: run `hoist cluster leave` to leave it (add --force on a manager) before making a new one",
            ));
        }
        let (listen, advertise) = addresses(&request.listen_addr, &request.advertise_addr)?;
        let cluster_id = ids::new_id().map_err(internal)?;
        let node_id = ids::new_id().map_err(internal)?;
        let raft_id = ids::new_raft_id().map_err(internal)?;
        let root_ca = ca::new_root(&cluster_id).map_err(internal)?;
        let (key_pem, csr) = tls::new_key_and_request().map_err(internal)?;
        let spec = ClusterSpec::default();
        let cert_pem = ca::issue(
            &root_ca,
            &csr,
            &node_id,
            Role::Manager,
            &cluster_id,
            Duration::from_secs(spec.cert_expiry_secs),
        )
        .map_err(internal)?;
        let credentials = Credentials {
            ca_pem: root_ca.cert_pem.clone(),
            cert_pem,
            key_pem,
        };
        let membership = Membership {
            node_id: node_id.clone(),
            cluster_id: cluster_id.clone(),
            role: Role::Manager,
            raft_id,
            listen_addr: listen.to_string(),
            advertise_addr: advertise.to_string(),
            managers: vec![advertise.to_string()],
        };
        let now = now_millis();
        let meta = |id: &str| Meta {
            id: id.to_string(),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let cluster = Cluster {
            meta: meta(CLUSTER_ID_KEY),
            cluster_id: cluster_id.clone(),
            spec,
            join_secrets: JoinSecrets {
                worker: token::new_secret().map_err(internal)?,
                manager: token::new_secret().map_err(internal)?,
            },
            root_ca,
            removed_nodes: Default::default(),
        };
        let node = Node {
            meta: meta(&node_id),
            spec: NodeSpec {
                role: Role::Manager,
                ..NodeSpec::default()
            },
            description: host::describe(),
            status: Default::default(),
            manager: Some(ManagerInfo {
                raft_id,
                addr: advertise.to_string(),
            }),
            cert_ca_digest: cluster.root_ca.digest.clone(),
        };
        let worker_token = token::format(&cluster.root_ca.digest, &cluster.join_secrets.worker);
        let data_key = DataKey::generate().map_err(internal)?;
        self.dir.save_data_key(&data_key).map_err(internal)?;
        self.dir.save(&membership, &credentials).map_err(internal)?;
        let started = self.start(membership, credentials).await;
        let started = match started {
            Ok(started) => started,
            Err(status) => {
                let _ = self.dir.remove();
                return Err(status);
            }
        };
        let bootstrap = async {
            let manager = started
                .manager
                .as_ref()
                .ok_or_else(|| internal("no manager"))?;
            manager.bootstrap().await.map_err(internal)?;
            manager
                .write(Batch {
                    ops: vec![
                        Op::Create(Object::Cluster(cluster)),
                        Op::Create(Object::Node(node)),
                    ],
                })
                .await
                .map_err(internal)
        };
        if let Err(status) = bootstrap.await {
            started.stop().await;
            let _ = self.dir.remove();
            return Err(status);
        }
        info!(node = %node_id, cluster = %cluster_id, addr = %advertise, "cluster initialised");
        *running = Some(started);
        Ok(InitResponse {
            node_id,
            worker_token,
            manager_addr: advertise.to_string(),
        })
    }

    /// `hoist cluster init --force-new-cluster`: this manager becomes the
    /// only member of a new Raft group holding the state it knows, so a
    /// cluster that lost its quorum can go on.
    async fn force_new_cluster(
        self: &Arc<Self>,
        running: &mut Option<Running>,
    ) -> Result<InitResponse, Status> {
        let (mut membership, credentials) = self
            .dir
            .load()
            .map_err(internal)?
            .filter(|(m, _)| m.role == Role::Manager)
            .ok_or_else(|| {
                precondition(
                    "--force-new-cluster recovers a manager of an existing cluster; this node is not one",
                )
            })?;
        if let Some(current) = running.take() {
            current.stop().await;
        }
        let member = crate::raft::Member {
            addr: membership.advertise_addr.clone(),
            node_id: membership.node_id.clone(),
        };
        crate::raft::recover::force_new_cluster(&self.dir.raft_dir(), membership.raft_id, member)
            .await
            .map_err(internal)?;
        membership.managers = vec![membership.advertise_addr.clone()];
        self.dir.save_membership(&membership).map_err(internal)?;
        let started = self.start(membership.clone(), credentials).await?;
        let manager = started
            .manager
            .clone()
            .ok_or_else(|| internal("no manager"))?;
        *running = Some(started);
        manager
            .raft
            .wait(Some(Duration::from_secs(10)))
            .state(openraft::ServerState::Leader, "recovered")
            .await
            .map_err(internal)?;
        let worker_token = manager.join_token(Role::Worker, false).await?;
        warn!(node = %membership.node_id, "cluster recovered: this manager is now the only one");
        Ok(InitResponse {
            node_id: membership.node_id,
            worker_token,
            manager_addr: membership.advertise_addr,
        })
    }

    /// `hoist cluster join`: certifies this node with a manager of the
    /// cluster the token names, then runs as its role says.
    pub async fn join(
        self: &Arc<Self>,
        request: JoinClusterRequest,
    ) -> Result<JoinClusterResponse, Status> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Err(precondition(
                "this node is already part of a cluster: run `hoist cluster leave` first to join another",
            ));
        }
        Token::parse(&request.token).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let remote = socket_addr(
            &request.remote_addr,
            DEFAULT_CLUSTER_PORT,
            "manager address",
        )?;
        let (listen, advertise) = addresses(&request.listen_addr, &request.advertise_addr)?;
        let enrolled = enroll::enroll(
            &request.token,
            &remote.to_string(),
            &advertise.to_string(),
            &host::describe(),
        )
        .await?;
        let credentials = enrolled.credentials;
        let role = enrolled.role;
        let membership = Membership {
            node_id: enrolled.node_id.clone(),
            cluster_id: enrolled.cluster_id,
            role,
            raft_id: enrolled.raft_id,
            listen_addr: listen.to_string(),
            advertise_addr: advertise.to_string(),
            managers: enrolled.managers,
        };
        if let Some(key) = &enrolled.data_key {
            self.dir.save_data_key(key).map_err(internal)?;
        }
        self.dir.save(&membership, &credentials).map_err(internal)?;
        let started = match self.start(membership, credentials).await {
            Ok(started) => started,
            Err(status) => {
                let _ = self.dir.remove();
                return Err(status);
            }
        };
        if let Some(manager) = &started.manager {
            let raft_id = enrolled.raft_id;
            let voter = manager
                .raft
                .wait(Some(VOTER_TIMEOUT))
                .metrics(
                    |m| {
                        m.membership_config
                            .membership()
                            .voter_ids()
                            .any(|id| id == raft_id)
                    },
                    "joined as a voter",
                )
                .await;
            if let Err(e) = voter {
                warn!(error = %e, "not yet a voter; the leader keeps trying");
            }
        }
        info!(node = %enrolled.node_id, %role, "joined the cluster");
        *running = Some(started);
        Ok(JoinClusterResponse {
            node_id: enrolled.node_id,
            role: role.to_string(),
        })
    }

    /// Gets a new certificate for the role the store gives this node and,
    /// when the role changed, restarts as that role: a promoted node starts
    /// its Raft member and cluster port (the leader then adds it to the
    /// group), a demoted one stops them and drops its Raft state.
    fn recertify(self: Arc<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.recertify_now())
    }

    async fn recertify_now(self: Arc<Self>) {
        let mut running = self.running.lock().await;
        let loaded = match self.dir.load() {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return,
            Err(e) => {
                warn!(error = %e, "cannot read the cluster membership to renew it");
                return;
            }
        };
        let (mut membership, credentials) = loaded;
        let (renewed, certified) = match renewal::renew(
            &credentials,
            &membership.managers,
            &membership.advertise_addr,
        )
        .await
        {
            Ok(renewed) => renewed,
            Err(e) => {
                warn!(error = %e, "cannot renew the node certificate; will retry");
                if let Some(current) = running.as_mut() {
                    current.renewer.abort();
                    let node = Arc::downgrade(&self);
                    current.renewer = tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        if let Some(node) = node.upgrade() {
                            tokio::spawn(node.recertify());
                        }
                    });
                }
                return;
            }
        };
        let role = if certified.role == Role::Manager.to_string() {
            Role::Manager
        } else {
            Role::Worker
        };
        let demoted = membership.role == Role::Manager && role == Role::Worker;
        membership.role = role;
        membership.raft_id = certified.raft_id;
        let kept_key = match DataKey::from_bytes(&certified.data_key) {
            Ok(key) if role == Role::Manager => self.dir.save_data_key(&key),
            _ if role == Role::Manager => Ok(()),
            _ => self.dir.remove_data_key(),
        };
        if let Err(e) = kept_key {
            warn!(error = %e, "cannot keep the cluster data key");
            return;
        }
        if let Err(e) = self.dir.save(&membership, &renewed) {
            warn!(error = %e, "cannot store the renewed certificate");
            return;
        }
        if let Some(current) = running.take() {
            current.stop().await;
        }
        if demoted && let Err(e) = std::fs::remove_dir_all(self.dir.raft_dir()) {
            warn!(error = %e, "cannot remove the raft state of a demoted manager");
        }
        match self.start(membership, renewed).await {
            Ok(started) => {
                info!(%role, "node certificate renewed");
                *running = Some(started);
            }
            Err(status) => warn!(error = %status.message(), "cannot restart after renewal"),
        }
    }

    /// `hoist cluster leave`: stops taking part and forgets the cluster.
    /// A manager needs `force` (its departure weakens the Raft group).
    pub async fn leave(&self, force: bool) -> Result<(), Status> {
        let mut running = self.running.lock().await;
        let Some(current) = running.as_ref() else {
            return Err(precondition("this node is not part of a cluster"));
        };
        if let Some(manager) = &current.manager
            && !force
        {
            let voters = manager.voters();
            let remaining = voters.len().saturating_sub(1);
            let message = if remaining == 0 {
                "this node is the last manager of the cluster: leaving deletes the cluster's state. \
                 Use --force to leave anyway"
                    .to_string()
            } else {
                format!(
                    "this node is a manager: leaving leaves {remaining} of {} managers and may cost the cluster its quorum. \
                     Demote it first (`hoist node demote`), or use --force to leave anyway",
                    voters.len()
                )
            };
            return Err(precondition(message));
        }
        if let Some(current) = running.take() {
            info!(node = %current.membership.node_id, "leaving the cluster");
            current.stop().await;
            worker::remove_all(self.executor.clone()).await;
        }
        self.dir.remove().map_err(internal)
    }
}
