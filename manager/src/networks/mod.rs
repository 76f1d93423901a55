//! Cluster networks, as Docker Swarm's overlay networks are to users:
//! `hoist network create -d overlay front`, a stack's `networks:`, and
//! services joining them (`service create --network front`).
//!
//! A network is an object in the Raft store; a service's attachments name
//! it by ID (resolved here when the service is stored), so a network in use
//! cannot be removed and a renamed or recreated one is never joined by
//! mistake. On each node, the worker carries a network as a local bridge of
//! the same name that the node's tasks on it share, with the service's name
//! and aliases in the embedded DNS (see `node::worker::container`). The
//! bridges of different nodes are not joined yet: that is the overlay's
//! VXLAN data plane, still to come.

pub mod view;

use hoist_api::network::{NetworkSpec, OVERLAY};
use hoist_api::service::ServiceSpec;
use hoist_api::subnet::{SubnetError, parse_gateway, parse_subnet};
use tonic::Status;

use crate::control::now_millis;
use crate::manager::{Manager, ReadError, WriteError};
use crate::services::ServiceError;
use crate::services::validate::InvalidSpec;
use crate::store::objects::{Meta, Network, Service};
use crate::store::{Batch, Lookup, Object, Op, lookup};

/// Why a network request failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network matches.
    #[error("network {0} not found")]
    NotFound(String),
    /// Several networks match an ID prefix.
    #[error("network {reference} is ambiguous: it matches {count} networks; use the full ID")]
    Ambiguous {
        /// What was asked for.
        reference: String,
        /// How many matched.
        count: usize,
    },
    /// The spec is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Services use it.
    #[error(
        "network {name} is in use by service {services}: remove the service, or update it to leave the network, first"
    )]
    InUse {
        /// Its name.
        name: String,
        /// The services' names, comma-separated.
        services: String,
    },
    /// The state could not be confirmed with the leader.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The write failed (a name already taken…).
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<NetworkError> for Status {
    fn from(e: NetworkError) -> Self {
        let message = e.to_string();
        match e {
            NetworkError::NotFound(_) => Status::not_found(message),
            NetworkError::Ambiguous { .. } | NetworkError::Invalid(_) => {
                Status::invalid_argument(message)
            }
            NetworkError::InUse { .. } => Status::failed_precondition(message),
            NetworkError::Read(_) => Status::unavailable(message),
            NetworkError::Write(e) => Status::new(e.code(), message),
        }
    }
}

/// Checks `spec` and fills in its driver: only overlay networks exist in
/// a cluster; a subnet and gateway must be IPv4 and agree.
pub fn check(spec: &mut NetworkSpec) -> Result<(), String> {
    if !crate::ids::is_valid_name(&spec.name) {
        return Err(crate::ids::invalid_name("network", &spec.name));
    }
    match spec.driver.as_str() {
        "" => spec.driver = OVERLAY.into(),
        OVERLAY => {}
        other => {
            return Err(format!(
                "network {}: a cluster network's driver is overlay, not {other}; create a {other} network on one node with hoist network create -d {other} (without a cluster)",
                spec.name
            ));
        }
    }
    let invalid = |e: SubnetError| format!("network {}: {e}", spec.name);
    let subnet = match spec.subnet.as_str() {
        "" => None,
        text => Some(parse_subnet(text).map_err(invalid)?),
    };
    if !spec.gateway.is_empty() {
        let Some(subnet) = subnet else {
            return Err(format!(
                "network {}: a gateway needs a subnet (--subnet)",
                spec.name
            ));
        };
        parse_gateway(&spec.gateway, subnet).map_err(invalid)?;
    }
    Ok(())
}

/// A new network object for `spec` (checked), not yet stored.
pub fn new_network(spec: NetworkSpec) -> Result<Network, WriteError> {
    let id =
        crate::ids::new_id().map_err(|e| WriteError::Raft(format!("cannot make an ID: {e}")))?;
    let now = now_millis();
    Ok(Network {
        meta: Meta {
            id,
            version: 0,
            created_at: now,
            updated_at: now,
        },
        spec,
    })
}

/// The names of the services among `services` attached to the network `id`.
pub fn services_on(services: &[Service], id: &str) -> Vec<String> {
    services
        .iter()
        .filter(|s| s.spec.task.networks.iter().any(|a| a.id == id))
        .map(|s| s.spec.name.clone())
        .collect()
}

/// Resolves each of `spec`'s network attachments against `networks`: the
/// target becomes the network's name and the ID is filled in. Refuses a
/// network that does not exist and one joined twice.
pub fn attach(spec: &mut ServiceSpec, networks: &[Network]) -> Result<(), InvalidSpec> {
    for attachment in &mut spec.task.networks {
        let found = lookup(networks.to_vec(), &attachment.target, |n| &n.spec.name);
        let Lookup::Found(network) = found else {
            return Err(InvalidSpec(format!(
                "network {} not found: create it first with hoist network create -d overlay {}",
                attachment.target, attachment.target
            )));
        };
        attachment.target = network.spec.name.clone();
        attachment.id = network.meta.id;
        attachment.network = Some(network.spec);
    }
    let mut ids: Vec<&str> = spec.task.networks.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(twice) = ids.windows(2).find(|w| w[0] == w[1]) {
        let name = spec
            .task
            .networks
            .iter()
            .find(|a| a.id == twice[0])
            .map(|a| a.target.clone())
            .unwrap_or_default();
        return Err(InvalidSpec(format!(
            "service {} joins network {name} twice: list it once, with all its aliases",
            spec.name
        )));
    }
    Ok(())
}

impl Manager {
    /// Resolves `spec`'s network attachments against the stored networks
    /// (see [`attach`]).
    pub async fn resolve_networks(&self, spec: &mut ServiceSpec) -> Result<(), ServiceError> {
        if spec.task.networks.is_empty() {
            return Ok(());
        }
        self.fresh().await?;
        attach(spec, &self.store.list::<Network>())?;
        Ok(())
    }

    /// Stores a new cluster network.
    pub async fn create_network(&self, mut spec: NetworkSpec) -> Result<Network, NetworkError> {
        check(&mut spec).map_err(NetworkError::Invalid)?;
        let network = new_network(spec)?;
        let id = network.meta.id.clone();
        let version = self
            .write(Batch::one(Op::Create(Object::Network(network))))
            .await?;
        tokio::time::timeout(crate::manager::READ_TIMEOUT, self.store.wait_for(version))
            .await
            .map_err(|_| ReadError::Lagging { version })?;
        self.find_network(&id)
    }

    /// The network `reference` names: its ID, its name, or a unique ID
    /// prefix.
    pub fn find_network(&self, reference: &str) -> Result<Network, NetworkError> {
        match lookup(self.store.list::<Network>(), reference, |n| &n.spec.name) {
            Lookup::Found(network) => Ok(network),
            Lookup::Missing => Err(NetworkError::NotFound(reference.to_string())),
            Lookup::Ambiguous(count) => Err(NetworkError::Ambiguous {
                reference: reference.to_string(),
                count,
            }),
        }
    }

    /// Every network with the services on it, confirmed with the leader,
    /// by name.
    pub async fn list_networks(&self) -> Result<Vec<(Network, Vec<String>)>, NetworkError> {
        self.fresh().await?;
        let services = self.store.list::<Service>();
        let mut all: Vec<_> = self
            .store
            .list::<Network>()
            .into_iter()
            .map(|n| {
                let on = services_on(&services, &n.meta.id);
                (n, on)
            })
            .collect();
        all.sort_by(|a, b| a.0.spec.name.cmp(&b.0.spec.name));
        Ok(all)
    }

    /// The network `reference` names with the services on it, confirmed
    /// with the leader.
    pub async fn inspect_network(
        &self,
        reference: &str,
    ) -> Result<(Network, Vec<String>), NetworkError> {
        self.fresh().await?;
        let network = self.find_network(reference)?;
        let on = services_on(&self.store.list::<Service>(), &network.meta.id);
        Ok((network, on))
    }

    /// Removes the network `reference` names, unless a service uses it.
    pub async fn remove_network(&self, reference: &str) -> Result<(), NetworkError> {
        let (network, on) = self.inspect_network(reference).await?;
        if !on.is_empty() {
            return Err(NetworkError::InUse {
                name: network.spec.name,
                services: on.join(", "),
            });
        }
        self.write(Batch::one(Op::Delete {
            kind: crate::store::Kind::Network,
            id: network.meta.id,
            version: Some(network.meta.version),
        }))
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::service::NetworkAttachment;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            ..NetworkSpec::default()
        }
    }

    fn stored(id: &str, name: &str) -> Network {
        Network {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            spec: spec(name),
        }
    }

    fn attachment(target: &str) -> NetworkAttachment {
        NetworkAttachment {
            target: target.into(),
            ..NetworkAttachment::default()
        }
    }

    #[test]
    fn a_network_is_overlay_with_an_ipv4_subnet_holding_its_gateway() {
        let mut plain = spec("front");
        assert_eq!(check(&mut plain), Ok(()));
        assert_eq!(plain.driver, OVERLAY);
        let mut bridge = NetworkSpec {
            driver: "bridge".into(),
            ..spec("front")
        };
        assert!(
            check(&mut bridge)
                .unwrap_err()
                .contains("overlay, not bridge")
        );
        assert!(check(&mut spec("-x")).unwrap_err().contains("network name"));
        let mut addressed = NetworkSpec {
            subnet: "10.20.0.0/24".into(),
            gateway: "10.20.0.1".into(),
            ..spec("front")
        };
        assert_eq!(check(&mut addressed), Ok(()));
        addressed.gateway = "10.21.0.1".into();
        assert_eq!(
            check(&mut addressed).unwrap_err(),
            "network front: gateway 10.21.0.1 is not a usable address of subnet 10.20.0.0/24"
        );
        // What a node refuses when it carries the network is refused here.
        addressed.gateway = "10.20.0.0".into();
        assert!(
            check(&mut addressed)
                .unwrap_err()
                .contains("not a usable address")
        );
        addressed.gateway = "10.20.0.1".into();
        addressed.subnet = "10.20.0.5/24".into();
        assert_eq!(
            check(&mut addressed).unwrap_err(),
            "network front: invalid subnet 10.20.0.5/24: host bits are set; did you mean 10.20.0.0/24?"
        );
        addressed.subnet = "10.20.0.0".into();
        assert!(
            check(&mut addressed)
                .unwrap_err()
                .contains("invalid subnet")
        );
        let mut gateway_only = NetworkSpec {
            gateway: "10.20.0.1".into(),
            ..spec("front")
        };
        assert!(
            check(&mut gateway_only)
                .unwrap_err()
                .contains("needs a subnet")
        );
    }

    #[test]
    fn attachments_resolve_to_names_and_ids_and_refuse_unknown_or_repeated_networks() {
        let networks = [stored("n1abc", "front"), stored("n2def", "back")];
        let mut service = ServiceSpec {
            name: "web".into(),
            ..ServiceSpec::default()
        };
        service.task.networks = vec![attachment("front"), attachment("n2")];
        attach(&mut service, &networks).unwrap();
        let resolved: Vec<(&str, &str)> = service
            .task
            .networks
            .iter()
            .map(|a| (a.target.as_str(), a.id.as_str()))
            .collect();
        assert_eq!(resolved, [("front", "n1abc"), ("back", "n2def")]);

        service.task.networks = vec![attachment("nowhere")];
        let missing = attach(&mut service, &networks).unwrap_err().0;
        assert!(missing.contains("network nowhere not found"), "{missing}");
        service.task.networks = vec![attachment("front"), attachment("n1abc")];
        let twice = attach(&mut service, &networks).unwrap_err().0;
        assert!(twice.contains("joins network front twice"), "{twice}");
    }

    #[test]
    fn services_on_a_network_are_named() {
        let mut web = Service::default();
        web.spec.name = "web".into();
        web.spec.task.networks = vec![NetworkAttachment {
            id: "n1".into(),
            ..attachment("front")
        }];
        let other = Service::default();
        assert_eq!(services_on(&[web, other], "n1"), ["web"]);
    }
}
