//! The Raft transport between managers: openraft's RPCs as JSON over the
//! cluster API's `Raft` service, on mutually authenticated TLS channels.
//! It also remembers when each peer last answered, which is what `node
//! ls` reports as a manager's reachability.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_api::cluster_proto::RaftMessage;
use hoist_api::cluster_proto::raft_client::RaftClient;
use hoist_api::tls;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use rustls::ClientConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use super::election::LeaderContact;
use super::{Member, RaftId, TypeConfig};

/// When each peer last answered a Raft RPC.
#[derive(Debug, Clone, Default)]
pub struct Reachability {
    last_answer: Arc<Mutex<HashMap<RaftId, Instant>>>,
}

impl Reachability {
    fn answered(&self, peer: RaftId) {
        self.last_answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer, Instant::now());
    }

    /// Whether `peer` answered within `window`.
    pub fn reachable(&self, peer: RaftId, window: Duration) -> bool {
        self.last_answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&peer)
            .is_some_and(|at| at.elapsed() <= window)
    }
}

/// Makes a client per peer; channels are shared by address and reconnect
/// by themselves.
#[derive(Debug, Clone)]
pub struct Network {
    tls: Arc<ClientConfig>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    reachability: Reachability,
    contact: LeaderContact,
}

impl Network {
    /// A transport that authenticates with `tls` (the manager's own
    /// certificate), noting answers in `reachability` and longer logs in
    /// `contact`.
    pub fn new(tls: Arc<ClientConfig>, reachability: Reachability, contact: LeaderContact) -> Self {
        Self {
            tls,
            channels: Arc::default(),
            reachability,
            contact,
        }
    }

    /// The (lazily connected) channel to the manager at `addr`.
    pub fn channel(&self, addr: &str) -> Result<Channel, tls::TlsError> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = tls::lazy_channel(addr, self.tls.clone())?;
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: RaftId, node: &Member) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            client: self.channel(&node.addr).map(RaftClient::new),
            reachability: self.reachability.clone(),
            contact: self.contact.clone(),
        }
    }
}

/// The connection to one peer.
pub struct Peer {
    target: RaftId,
    addr: String,
    client: Result<RaftClient<Channel>, tls::TlsError>,
    reachability: Reachability,
    contact: LeaderContact,
}

type Call = Pin<
    Box<dyn Future<Output = Result<tonic::Response<RaftMessage>, tonic::Status>> + Send + 'static>,
>;

/// A transport failure, before openraft's error types are chosen.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("raft peer {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("raft peer {addr} sent an undecodable message: {source}")]
    Decode {
        addr: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("raft peer {addr} did not answer in time")]
    Timeout { addr: String },
}

impl Peer {
    /// Sends `request` through `method` and decodes the peer's answer:
    /// openraft's `Result` of the remote handler.
    async fn exchange<Q: Serialize, A: DeserializeOwned>(
        &mut self,
        request: &Q,
        ttl: Duration,
        method: impl FnOnce(&mut RaftClient<Channel>, RaftMessage) -> Call,
    ) -> Result<A, Failure> {
        let addr = self.addr.clone();
        let client = self.client.as_mut().map_err(|e| Failure::Unreachable {
            addr: addr.clone(),
            detail: e.to_string(),
        })?;
        let json = serde_json::to_vec(request).map_err(|source| Failure::Decode {
            addr: addr.clone(),
            source,
        })?;
        let call = method(client, RaftMessage { json });
        let response = tokio::time::timeout(ttl, call)
            .await
            .map_err(|_| Failure::Timeout { addr: addr.clone() })?
            .map_err(|status| Failure::Unreachable {
                addr: addr.clone(),
                detail: status.message().to_string(),
            })?;
        self.reachability.answered(self.target);
        serde_json::from_slice(&response.into_inner().json)
            .map_err(|source| Failure::Decode { addr, source })
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        failure: Failure,
        action: openraft::network::RPCTypes,
        ttl: Duration,
    ) -> RPCError<RaftId, Member, E> {
        match failure {
            Failure::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&failure)),
            Failure::Decode { .. } => RPCError::Network(NetworkError::new(&failure)),
            Failure::Timeout { .. } => RPCError::Timeout(Timeout {
                action,
                id: 0,
                target: self.target,
                timeout: ttl,
            }),
        }
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<RaftId>, RPCError<RaftId, Member, RaftError<RaftId>>> {
        let ttl = option.hard_ttl();
        let answer: Result<_, RaftError<RaftId>> = self
            .exchange(&rpc, ttl, |c, m| {
                let mut c = c.clone();
                Box::pin(async move { c.append_entries(m).await })
            })
            .await
            .map_err(|f| self.rpc_error(f, openraft::network::RPCTypes::AppendEntries, ttl))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<RaftId>,
        RPCError<RaftId, Member, RaftError<RaftId, InstallSnapshotError>>,
    > {
        let ttl = option.hard_ttl();
        let answer: Result<_, RaftError<RaftId, InstallSnapshotError>> = self
            .exchange(&rpc, ttl, |c, m| {
                let mut c = c.clone();
                Box::pin(async move { c.install_snapshot(m).await })
            })
            .await
            .map_err(|f| self.rpc_error(f, openraft::network::RPCTypes::InstallSnapshot, ttl))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftId>,
        option: RPCOption,
    ) -> Result<VoteResponse<RaftId>, RPCError<RaftId, Member, RaftError<RaftId>>> {
        let ttl = option.hard_ttl();
        let ours = rpc.last_log_id;
        let answer: Result<VoteResponse<RaftId>, RaftError<RaftId>> = self
            .exchange(&rpc, ttl, |c, m| {
                let mut c = c.clone();
                Box::pin(async move { c.vote(m).await })
            })
            .await
            .map_err(|f| self.rpc_error(f, openraft::network::RPCTypes::Vote, ttl))?;
        if let Ok(response) = &answer
            && !response.vote_granted
            && response.last_log_id > ours
        {
            self.contact.saw_greater_log();
        }
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}
