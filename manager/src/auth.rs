//! Who may call what on the cluster port: every caller is identified by
//! its certificate (verified against the cluster CA during the handshake);
//! here the identity is checked against the cluster and the store.

use hoist_api::tls::{PeerIdentity, peer_of};
use tonic::{Request, Status};

use crate::ca::CLIENT_UNIT;
use crate::manager::Manager;
use crate::store::Store;
use crate::store::objects::{CLUSTER_ID_KEY, Cluster, Node, Role};

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any node of the cluster that was not removed (not a client).
    Node,
    /// A manager by its certificate (Raft traffic: the store of a manager
    /// that is catching up may not list its peers yet).
    ManagerCertificate,
    /// A node the store lists as a manager (control calls: a demoted
    /// manager's old certificate no longer gives control), or a client
    /// (`hoist cluster client-cert`).
    Manager,
}

/// Checks the caller of `request` and returns its identity. Calls that
/// came through the local socket (no TLS) have no identity and are
/// refused here: the local API never routes to these checks.
pub fn authorize<T>(
    request: &Request<T>,
    store: &Store,
    cluster_id: &str,
    access: Access,
) -> Result<PeerIdentity, Status> {
    let identity = peer_of(request)
        .and_then(|peer| peer.identity.clone())
        .ok_or_else(|| {
            Status::unauthenticated(
                "a certificate of this cluster is required (remote clients: --tlscacert, --tlscert and --tlskey)",
            )
        })?;
    if identity.cluster_id != cluster_id {
        return Err(Status::permission_denied(format!(
            "the certificate of node {} is for cluster {}, not this one ({cluster_id})",
            identity.node_id, identity.cluster_id
        )));
    }
    let removed = store
        .get::<Cluster>(CLUSTER_ID_KEY)
        .is_some_and(|c| c.removed_nodes.contains(&identity.node_id));
    if removed {
        return Err(Status::permission_denied(format!(
            "node {} was removed from the cluster: its certificate is no longer accepted; \
             run `hoist cluster leave --force` on it and join again",
            identity.node_id
        )));
    }
    let client = identity.role == CLIENT_UNIT;
    match access {
        Access::Node if client => {
            return Err(Status::permission_denied(format!(
                "{} holds a client certificate: it controls the cluster but cannot act as a node",
                identity.node_id
            )));
        }
        Access::Node => {}
        Access::ManagerCertificate => {
            // A store that does not list the node yet (a manager catching
            // up) goes by the certificate; one that lists it as a worker
            // (demoted, or left behind by --force-new-cluster) refuses it.
            let demoted = store
                .get::<Node>(&identity.node_id)
                .is_some_and(|n| n.spec.role != Role::Manager);
            if identity.role != Role::Manager.to_string() || demoted {
                return Err(Status::permission_denied(format!(
                    "node {} is not a manager",
                    identity.node_id
                )));
            }
        }
        Access::Manager if client => {}
        Access::Manager => {
            let is_manager = store
                .get::<Node>(&identity.node_id)
                .is_some_and(|n| n.spec.role == Role::Manager);
            if !is_manager {
                return Err(Status::permission_denied(format!(
                    "node {} is not a manager: worker nodes cannot view or change cluster state; \
                     run the command on a manager, or promote this node",
                    identity.node_id
                )));
            }
        }
    }
    Ok(identity)
}

impl Manager {
    /// Checks the caller of `request` against this manager's cluster and
    /// store (see [`authorize`]).
    pub fn authorize<T>(
        &self,
        request: &Request<T>,
        access: Access,
    ) -> Result<PeerIdentity, Status> {
        authorize(request, &self.store, &self.settings().cluster_id, access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::tls::PeerInfo;

    fn from(role: &str, node_id: &str) -> Request<()> {
        let mut request = Request::new(());
        request.extensions_mut().insert(PeerInfo {
            addr: "10.0.0.9:40000".parse().unwrap(),
            identity: Some(PeerIdentity {
                node_id: node_id.into(),
                role: role.into(),
                cluster_id: "c1".into(),
            }),
        });
        request
    }

    #[test]
    fn a_client_certificate_gives_control_and_nothing_a_node_has() {
        let store = Store::new();
        let client = from(CLIENT_UNIT, "client-1");
        assert!(authorize(&client, &store, "c1", Access::Manager).is_ok());
        for access in [Access::Node, Access::ManagerCertificate] {
            let refused = authorize(&client, &store, "c1", access).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{access:?}");
        }
        // A worker's certificate still gives no control.
        let worker = from("worker", "n2");
        assert!(authorize(&worker, &store, "c1", Access::Manager).is_err());
        assert!(authorize(&client, &store, "other", Access::Manager).is_err());
    }
}
