//! `network connect` and `network disconnect` of a running container: one
//! endpoint plugged into, or unplugged from, its live sandbox, with its
//! names, resolver, default route and published ports following.

use hoist_netplugin::bridge;
use tonic::Status;
use tracing::warn;

use super::record::EndpointRecord;
use super::{Identity, Networks};
use crate::error::internal;

impl Networks {
    /// Plugs `endpoint` into the running container's sandbox as its next
    /// free `ethN` and appends it to `endpoints`. It carries the default
    /// route only when no endpoint did. On failure `endpoints` is as it
    /// was and nothing is left.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id, network = %endpoint.network_name))]
    pub async fn connect_live(
        &self,
        container: Identity<'_>,
        endpoints: &mut Vec<EndpointRecord>,
        mut endpoint: EndpointRecord,
    ) -> Result<(), Status> {
        let sandbox = self.sandbox_path(container.id);
        let used: Vec<String> = endpoints
            .iter()
            .filter_map(|e| e.live.as_ref().map(|l| l.ifname.clone()))
            .collect();
        self.settle_fixed(std::slice::from_ref(&endpoint)).await;
        self.assign(std::slice::from_mut(&mut endpoint))?;
        if let Some(live) = endpoint.live.as_mut() {
            live.ifname = (0..)
                .map(|n| format!("eth{n}"))
                .find(|name| !used.contains(name))
                .unwrap_or_default();
        }
        endpoints.push(endpoint);
        let plugged = async {
            let driver = self.driver_endpoints(endpoints)?;
            let added = driver
                .last()
                .cloned()
                .ok_or_else(|| internal("the new endpoint has no address"))?;
            bridge::plug(&self.host, &sandbox, &[added])
                .await
                .map_err(|e| internal(format!("cannot connect the container: {e}")))?;
            self.update_resolver(container, endpoints, &sandbox).await?;
            self.retarget_ports(container.id, endpoints).await
        }
        .await;
        if let Err(e) = plugged {
            if let Some(mut added) = endpoints.pop() {
                self.release(&mut added).await;
            }
            if let Err(undo) = self.update_resolver(container, endpoints, &sandbox).await {
                warn!(error = %undo.message(), "cannot restore the container's names");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Unplugs the running container's endpoint at `index` and removes it
    /// from `endpoints`; when it carried the default route, the next
    /// endpoint that can takes it over.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id))]
    pub async fn disconnect_live(
        &self,
        container: Identity<'_>,
        endpoints: &mut Vec<EndpointRecord>,
        index: usize,
    ) -> Result<(), Status> {
        let sandbox = self.sandbox_path(container.id);
        let routed_by = |endpoints: &[EndpointRecord]| -> Result<Option<_>, Status> {
            Ok(self
                .driver_endpoints(endpoints)?
                .into_iter()
                .find(|e| e.gateway.is_some())
                .map(|e| (e.host_link, e.gateway)))
        };
        let routed_before = routed_by(endpoints)?;
        let mut removed = endpoints.remove(index);
        let removed_link = removed.live.as_ref().map(|l| l.host_link.clone());
        self.release(&mut removed).await;
        if routed_before.is_some_and(|(link, _)| Some(link) == removed_link)
            && let Some((_, Some(gateway))) = routed_by(endpoints)?
        {
            bridge::route_via(&sandbox, gateway).await.map_err(|e| {
                internal(format!(
                    "cannot route the container through its other network: {e}"
                ))
            })?;
        }
        self.update_resolver(container, endpoints, &sandbox).await?;
        self.retarget_ports(container.id, endpoints).await
    }
}
