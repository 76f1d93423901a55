//! The `Enrollment` service: joining nodes trade a join token and a
//! signing request for a certificate; certified nodes renew theirs. A
//! node certified as a manager also gets the cluster's data key, over
//! this mutually authenticated channel only.

use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster_proto::enrollment_server::Enrollment;
use hoist_api::cluster_proto::{Certified, JoinRequest, JoinResponse, RenewRequest};
use hoist_api::tls::peer_of;
use tonic::{Request, Response, Status};
use tracing::info;

use crate::auth::Access;
use crate::ca;
use crate::control::now_millis;
use crate::ids;
use crate::manager::{Manager, WriteError};
use crate::store::objects::{
    ManagerInfo, Meta, Node, NodeDescription, NodeSpec, NodeStatus, Object, Role,
};
use crate::store::{Batch, Op, Rejection};
use crate::token::Token;

/// Certifies nodes for one manager.
#[derive(Debug, Clone)]
pub struct EnrollmentService {
    /// The manager that signs.
    pub manager: Arc<Manager>,
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn write_status(e: WriteError) -> Status {
    Status::new(e.code(), e.to_string())
}

impl EnrollmentService {
    /// Signs `csr` for `node` with its role in the store.
    fn certify(&self, node: &Node, csr: &str) -> Result<Certified, Status> {
        let cluster = self
            .manager
            .cluster()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let lifetime = Duration::from_secs(cluster.spec.cert_expiry_secs);
        let cert_pem = ca::issue(
            &cluster.root_ca,
            csr,
            &node.meta.id,
            node.spec.role,
            &cluster.cluster_id,
            lifetime,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Certified {
            node_id: node.meta.id.clone(),
            role: node.spec.role.to_string(),
            cert_pem,
            ca_pem: cluster.root_ca.trust_bundle(),
            raft_id: node.manager.as_ref().map_or(0, |m| m.raft_id),
            data_key: match node.spec.role {
                Role::Manager => self.manager.settings().data_key.as_bytes().to_vec(),
                Role::Worker => Vec::new(),
            },
        })
    }

    /// Cluster addresses of the managers in the store.
    fn managers(&self) -> Vec<String> {
        self.manager
            .store
            .list::<Node>()
            .into_iter()
            .filter_map(|n| n.manager.map(|m| m.addr))
            .collect()
    }
}

#[tonic::async_trait]
impl Enrollment for EnrollmentService {
    #[tracing::instrument(skip_all)]
    async fn join(&self, request: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let from = peer_of(&request).map(|p| p.addr.ip().to_string());
        let request = request.into_inner();
        let token =
            Token::parse(&request.token).map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.manager
            .fresh()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let cluster = self
            .manager
            .cluster()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let role = token
            .role(&cluster.root_ca.digest, &cluster.join_secrets)
            .map_err(|e| Status::permission_denied(e.to_string()))?;
        let description: NodeDescription = serde_json::from_slice(&request.description_json)
            .map_err(|e| Status::invalid_argument(format!("node description: {e}")))?;
        let manager = match role {
            Role::Worker => None,
            Role::Manager => {
                if request.advertise_addr.is_empty() {
                    return Err(Status::invalid_argument(
                        "a manager must give the address its peers reach it at (--advertise-addr)",
                    ));
                }
                Some(ManagerInfo {
                    raft_id: ids::new_raft_id().map_err(internal)?,
                    addr: request.advertise_addr.clone(),
                })
            }
        };
        let now = now_millis();
        let node = Node {
            meta: Meta {
                id: ids::new_id().map_err(internal)?,
                version: 0,
                created_at: now,
                updated_at: now,
            },
            spec: NodeSpec {
                role,
                ..NodeSpec::default()
            },
            description,
            status: NodeStatus {
                addr: from.unwrap_or_default(),
                ..NodeStatus::default()
            },
            manager,
            cert_ca_digest: cluster.root_ca.digest.clone(),
        };
        let certified = self.certify(&node, &request.csr_pem)?;
        match self
            .manager
            .write(Batch::one(Op::Create(Object::Node(node.clone()))))
            .await
        {
            Ok(_) => {}
            Err(WriteError::Rejected(Rejection::Exists { .. })) => {
                return Err(Status::aborted("node ID collision: join again"));
            }
            Err(e) => return Err(write_status(e)),
        }
        info!(node = %node.meta.id, hostname = %node.description.hostname, %role, "node joined");
        Ok(Response::new(JoinResponse {
            certified: Some(certified),
            cluster_id: cluster.cluster_id,
            managers: self.managers(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn renew(&self, request: Request<RenewRequest>) -> Result<Response<Certified>, Status> {
        let identity = self.manager.authorize(&request, Access::Node)?;
        let request = request.into_inner();
        loop {
            let mut node = self
                .manager
                .store
                .get::<Node>(&identity.node_id)
                .ok_or_else(|| Status::not_found(format!("node {} not found", identity.node_id)))?;
            let digest = self
                .manager
                .cluster()
                .map_err(|e| Status::unavailable(e.to_string()))?
                .root_ca
                .digest;
            let mut changed = false;
            // A node promoted to manager gets its Raft identity here, once
            // it says where peers will reach it.
            if node.spec.role == Role::Manager && node.manager.is_none() {
                if request.advertise_addr.is_empty() {
                    return Err(Status::invalid_argument(
                        "a promoted node must give its cluster address to renew as a manager",
                    ));
                }
                node.manager = Some(ManagerInfo {
                    raft_id: ids::new_raft_id().map_err(internal)?,
                    addr: request.advertise_addr.clone(),
                });
                changed = true;
            }
            // Which root signs it now, for the end of a CA rotation.
            if node.cert_ca_digest != digest {
                node.cert_ca_digest = digest;
                changed = true;
            }
            if changed {
                node.meta.updated_at = now_millis();
                match self
                    .manager
                    .write(Batch::one(Op::Update(Object::Node(node.clone()))))
                    .await
                {
                    Ok(_) => {}
                    Err(WriteError::Rejected(Rejection::Conflict { .. })) => continue,
                    Err(e) => return Err(write_status(e)),
                }
            }
            return self.certify(&node, &request.csr_pem).map(Response::new);
        }
    }
}
