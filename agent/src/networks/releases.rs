//! Giving back a stopped container's endpoints in the background. Deleting
//! a veth pair waits for the kernel's RCU grace periods (some 15 ms on our
//! VMs), so a container's exit does not wait for it: its links are deleted
//! on a task of their own and each address is given back only once its
//! link is gone, so it is never handed out while still in use. What must
//! see a network without them (`network rm`, a fixed `--ip` taken again)
//! waits for the network's deletions to settle first.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_netplugin::bridge;
use hoist_netplugin::link::Netlink;
use tokio::sync::Notify;
use tracing::warn;

use super::Network;

/// How long a waiter waits for deletions before it goes on regardless
/// (and meets a clear "in use" error if one is really stuck).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Deletions in flight, by network ID.
#[derive(Debug, Default)]
pub(super) struct Releases {
    pending: Mutex<HashMap<String, usize>>,
    settled: Notify,
}

/// One endpoint to give back: its host link, network and address.
#[derive(Debug)]
pub(super) struct Release {
    pub host_link: String,
    pub network_id: String,
    pub address: Ipv4Addr,
}

impl Releases {
    fn count(&self, network_id: &str) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(network_id)
            .copied()
            .unwrap_or(0)
    }

    fn add(&self, network_id: &str, delta: isize) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let count = pending.entry(network_id.to_string()).or_default();
        *count = count.saturating_add_signed(delta);
        if *count == 0 {
            pending.remove(network_id);
        }
    }

    /// Returns once no deletion on `network_id` is in flight (or after
    /// [`SETTLE_TIMEOUT`]).
    pub async fn settle(&self, network_id: &str) {
        let wait = async {
            loop {
                let notified = self.settled.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.count(network_id) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(SETTLE_TIMEOUT, wait).await.is_err() {
            warn!(network = %network_id, "endpoints of a network are still being deleted");
        }
    }

    /// Deletes the links of `releases` on a task of its own, then gives
    /// their addresses back in `state`.
    pub fn start(
        self: &Arc<Self>,
        host: &Netlink,
        state: &Arc<Mutex<BTreeMap<String, Network>>>,
        releases: Vec<Release>,
    ) {
        if releases.is_empty() {
            return;
        }
        for release in &releases {
            self.add(&release.network_id, 1);
        }
        let (this, host, state) = (self.clone(), host.clone(), state.clone());
        tokio::spawn(async move {
            for release in releases {
                if let Err(e) = bridge::detach(&host, &release.host_link).await {
                    warn!(link = %release.host_link, error = %e, "cannot delete the container's veth pair");
                }
                if let Some(addresses) = state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&release.network_id)
                    .and_then(|n| n.addresses.as_mut())
                {
                    addresses.release(release.address);
                }
                this.add(&release.network_id, -1);
                this.settled.notify_waiters();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settle_waits_for_the_networks_deletions_only() {
        let releases = Arc::new(Releases::default());
        releases.add("a", 1);
        releases.settle("b").await;
        let waiter = {
            let releases = releases.clone();
            tokio::spawn(async move { releases.settle("a").await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "settled while a deletion was in flight"
        );
        releases.add("a", -1);
        releases.settled.notify_waiters();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("settled once the deletion ended")
            .unwrap();
    }
}
