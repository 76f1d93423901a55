//! Joining a cluster with a token: a fresh key, a certificate signed by a
//! manager that was verified against the token's CA fingerprint. Used by
//! `cluster join` and by simulated nodes.

use hoist_api::cluster_proto::JoinRequest;
use hoist_api::cluster_proto::enrollment_client::EnrollmentClient;
use hoist_api::tls::{self, Credentials};
use tonic::Status;

use crate::secrets::key::DataKey;
use crate::store::objects::{NodeDescription, Role};
use crate::token::Token;

/// What a manager gave a node that joined.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The node's key, certificate and the cluster CA.
    pub credentials: Credentials,
    /// The node's ID.
    pub node_id: String,
    /// Its role.
    pub role: Role,
    /// Its Raft member ID (managers; 0 for workers).
    pub raft_id: u64,
    /// The cluster's ID.
    pub cluster_id: String,
    /// Cluster addresses of the managers.
    pub managers: Vec<String>,
    /// For a manager: the cluster's data key.
    pub data_key: Option<DataKey>,
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Joins through the manager at `remote` with `token`, as a node that
/// describes itself as `description` and (for a manager) is reached at
/// `advertise`.
pub async fn enroll(
    token: &str,
    remote: &str,
    advertise: &str,
    description: &NodeDescription,
) -> Result<Enrolled, Status> {
    let parsed = Token::parse(token).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let (key_pem, csr_pem) = tls::new_key_and_request().map_err(internal)?;
    let pinned = tls::pinned_client_config(&parsed.ca_fingerprint).map_err(internal)?;
    let channel = tls::connect(remote, pinned)
        .await
        .map_err(|e| Status::unavailable(format!("cannot reach the manager: {e}")))?;
    let answer = EnrollmentClient::new(channel)
        .join(JoinRequest {
            token: token.to_string(),
            csr_pem,
            description_json: serde_json::to_vec(description).map_err(internal)?,
            advertise_addr: advertise.to_string(),
        })
        .await?
        .into_inner();
    let certified = answer
        .certified
        .ok_or_else(|| internal("the manager sent no certificate"))?;
    let ca = tls::certificates(&certified.ca_pem, "cluster CA certificate").map_err(internal)?;
    if tls::fingerprint(&ca[0]) != parsed.ca_fingerprint {
        return Err(Status::permission_denied(
            "the manager sent a CA certificate that does not match the join token",
        ));
    }
    let role = if certified.role == Role::Manager.to_string() {
        Role::Manager
    } else {
        Role::Worker
    };
    let data_key = match role {
        Role::Manager => Some(DataKey::from_bytes(&certified.data_key).map_err(internal)?),
        Role::Worker => None,
    };
    Ok(Enrolled {
        data_key,
        credentials: Credentials {
            ca_pem: certified.ca_pem,
            cert_pem: certified.cert_pem,
            key_pem,
        },
        node_id: certified.node_id,
        role,
        raft_id: certified.raft_id,
        cluster_id: answer.cluster_id,
        managers: answer.managers,
    })
}
