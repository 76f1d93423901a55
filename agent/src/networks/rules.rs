//! hoist's nftables table, rebuilt whole from the daemon's state whenever a
//! network or a published port comes or goes.

use hoist_netplugin::firewall::{self, NetworkRules, Ruleset};
use ipnetwork::IpNetwork;
use tonic::Status;

use super::Networks;
use crate::error::internal;

/// The nftables table hoist owns (family `inet`).
pub const TABLE: &str = "hoist";

impl Networks {
    /// The table as the current state wants it.
    fn ruleset(&self) -> Ruleset {
        let state = self.lock();
        let networks = state
            .values()
            .filter_map(|n| {
                n.record.ipam.map(|ipam| NetworkRules {
                    bridge: n.record.bridge.clone(),
                    subnets: vec![IpNetwork::V4(ipam.subnet)],
                    internal: n.record.internal,
                    masquerade: !n.record.internal && n.options.masquerade,
                    icc: n.options.icc,
                })
            })
            .collect();
        drop(state);
        Ruleset {
            table: TABLE.into(),
            networks,
            ports: self
                .lock_ports()
                .iter()
                .filter_map(|held| held.rule())
                .collect(),
        }
    }

    /// Replaces the table atomically with what the state wants.
    pub async fn apply_rules(&self) -> Result<(), Status> {
        let ruleset = self.ruleset();
        tokio::task::spawn_blocking(move || firewall::apply(&ruleset))
            .await
            .map_err(|e| internal(format!("the firewall update stopped: {e}")))?
            .map_err(|e| internal(format!("cannot update hoist's nftables table: {e}")))
    }
}
