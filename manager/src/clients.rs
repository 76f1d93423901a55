//! Client certificates (`hoist cluster client-cert`), for the people and
//! CI jobs that drive the cluster from elsewhere (`--host tcp://…`), so
//! that none needs a copy of a manager's identity. A client certificate
//! gives the control a manager's certificate gives (services, stacks,
//! nodes, secrets) and nothing a node has: no join, session or Raft. It
//! cannot be revoked before it expires, except by rotating the root CA.

use std::time::Duration;

use hoist_api::cluster_proto::ClientCertificate;
use tonic::Status;

use crate::ca;
use crate::ids;
use crate::manager::Manager;

/// The shortest validity a client certificate may have (as node
/// certificates: renewal needs some room).
const MIN_LIFETIME: Duration = Duration::from_secs(20);

impl Manager {
    /// Signs `csr` as a new client's certificate, valid for `lifetime`
    /// (the cluster's certificate expiry when `None`).
    pub fn issue_client_certificate(
        &self,
        csr: &str,
        lifetime: Option<Duration>,
    ) -> Result<ClientCertificate, Status> {
        let cluster = self
            .cluster()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let lifetime =
            lifetime.unwrap_or_else(|| Duration::from_secs(cluster.spec.cert_expiry_secs));
        if lifetime < MIN_LIFETIME {
            return Err(Status::invalid_argument(format!(
                "a client certificate must be valid for at least {}s",
                MIN_LIFETIME.as_secs()
            )));
        }
        let id = ids::new_id()
            .map(|id| format!("client-{id}"))
            .map_err(|e| Status::internal(format!("cannot make a client ID: {e}")))?;
        let cert_pem = ca::issue_client(&cluster.root_ca, csr, &id, &cluster.cluster_id, lifetime)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let not_after = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| (now + lifetime).as_secs());
        tracing::info!(client = %id, lifetime_secs = lifetime.as_secs(), "client certificate issued");
        Ok(ClientCertificate {
            id,
            cert_pem,
            ca_pem: cluster.root_ca.trust_bundle(),
            not_after: i64::try_from(not_after).unwrap_or(i64::MAX),
        })
    }
}
