//! The `Raft` service of the cluster port: openraft's RPCs from peers,
//! writes forwarded by followers, and read indexes for their fresh reads.
//! Only managers of this cluster may call it.

use std::sync::Arc;

use hoist_api::cluster_proto::RaftMessage;
use hoist_api::cluster_proto::raft_server::Raft as RaftApi;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use crate::auth::Access;
use crate::manager::Manager;
use crate::raft::TypeConfig;

/// Serves Raft traffic for one manager.
#[derive(Debug, Clone)]
pub struct RaftService {
    /// The manager whose Raft member answers.
    pub manager: Arc<Manager>,
}

impl RaftService {
    fn decode<T: DeserializeOwned>(&self, request: Request<RaftMessage>) -> Result<T, Status> {
        self.manager
            .authorize(&request, Access::ManagerCertificate)?;
        serde_json::from_slice(&request.into_inner().json)
            .map_err(|e| Status::invalid_argument(format!("undecodable raft message: {e}")))
    }
}

fn encode<T: Serialize>(answer: &T) -> Result<Response<RaftMessage>, Status> {
    serde_json::to_vec(answer)
        .map(|json| Response::new(RaftMessage { json }))
        .map_err(|e| Status::internal(format!("cannot encode a raft answer: {e}")))
}

#[tonic::async_trait]
impl RaftApi for RaftService {
    #[tracing::instrument(level = "trace", skip_all)]
    async fn append_entries(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = self.decode(request)?;
        // A leader whose term is current keeps this member from standing,
        // as soon as its append arrives: a large append may take longer to
        // store than the leader waits for it, and a member catching up that
        // way must not stand and depose the leader.
        let current = self.manager.raft.metrics().borrow().vote;
        if rpc.vote >= current {
            self.manager.leader_contact.heard();
        }
        let answer = self.manager.raft.append_entries(rpc).await;
        if !matches!(answer, Ok(AppendEntriesResponse::HigherVote(_)) | Err(_)) {
            self.manager.leader_contact.heard();
        }
        encode(&answer)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc = self.decode(request)?;
        let answer = self.manager.raft.vote(rpc).await;
        // Granting a vote waits for that candidate before standing.
        if answer.as_ref().is_ok_and(|a| a.vote_granted) {
            self.manager.leader_contact.heard();
        }
        encode(&answer)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let rpc = self.decode(request)?;
        encode(&self.manager.raft.install_snapshot(rpc).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn propose(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let proposal = self.decode(request)?;
        encode(&self.manager.propose(proposal).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn read_index(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let () = self.decode(request)?;
        let index: Result<Option<u64>, String> = self
            .manager
            .raft
            .ensure_linearizable()
            .await
            .map(|read| read.map(|l| l.index))
            .map_err(|e| e.to_string());
        encode(&index)
    }
}
