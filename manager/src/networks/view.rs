//! How cluster networks are shown (`network ls`, `network inspect`).

use hoist_api::network::NetworkView;

use crate::control::rfc3339;
use crate::store::objects::Network;

/// `network inspect`'s view of `network`, which `services` are attached to.
pub fn network_view(network: &Network, services: Vec<String>) -> NetworkView {
    let spec = &network.spec;
    NetworkView {
        id: network.meta.id.clone(),
        name: spec.name.clone(),
        driver: spec.driver.clone(),
        scope: "swarm".into(),
        internal: spec.internal,
        attachable: spec.attachable,
        labels: spec.labels.clone(),
        options: spec.options.clone(),
        subnet: spec.subnet.clone(),
        gateway: spec.gateway.clone(),
        services,
        version: network.meta.version,
        created_at: rfc3339(network.meta.created_at),
    }
}
