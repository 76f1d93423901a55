//! A node's session with the leader's dispatcher: heartbeats out, the
//! session's state back. It reaches the leader through any manager it
//! knows (a follower names the leader when it turns the session away) and
//! moves on to another manager when one stops answering.

use std::sync::Arc;
use std::time::Duration;

use hoist_api::cluster_proto::Heartbeat;
use hoist_api::cluster_proto::dispatcher_client::DispatcherClient;
use hoist_api::tls;
use rustls::ClientConfig;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tracing::info;

use super::leader::{self, Ended, Managers};

/// Until the leader says otherwise.
const DEFAULT_PERIOD: Duration = Duration::from_secs(1);

/// What the session learned that the node keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    /// Cluster addresses of the managers.
    pub managers: Vec<String>,
    /// The node's role in the store.
    pub role: String,
    /// Fingerprint of the CA certificates the node must trust.
    pub trust_digest: String,
}

/// Runs the session until the task is aborted, starting from `managers`
/// and keeping there the managers the leader reports, so that other loops
/// reaching the leader (the worker's) share them; `updates` receives what
/// the leader says.
pub async fn run(tls: Arc<ClientConfig>, managers: Managers, updates: watch::Sender<SessionState>) {
    leader::follow(&managers, "session", |target| {
        session(&tls, target, &managers, &updates)
    })
    .await;
}

async fn session(
    tls: &Arc<ClientConfig>,
    addr: String,
    known: &Managers,
    updates: &watch::Sender<SessionState>,
) -> Ended {
    let channel = match tls::connect(&addr, tls.clone()).await {
        Ok(channel) => channel,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let (period_tx, mut period_rx) = watch::channel(DEFAULT_PERIOD);
    let (beats, rx) = mpsc::channel(2);
    let beating = tokio::spawn(async move {
        loop {
            if beats
                .send(Heartbeat {
                    addr: String::new(),
                })
                .await
                .is_err()
            {
                return;
            }
            let period = *period_rx.borrow_and_update();
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                changed = period_rx.changed() => if changed.is_err() { return },
            }
        }
    });
    let _stop = AbortOnDrop(beating);
    let response = DispatcherClient::new(channel)
        .session(ReceiverStream::new(rx))
        .await;
    let mut stream = match response {
        Ok(response) => response.into_inner(),
        Err(status) => return status.into(),
    };
    let mut first = true;
    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(message) => message,
            Err(status) => return status.into(),
        };
        if first {
            info!(manager = %addr, "session with the leader established");
            first = false;
        }
        if message.heartbeat_period_ms > 0 {
            period_tx.send_if_modified(|p| {
                let new = Duration::from_millis(message.heartbeat_period_ms);
                std::mem::replace(p, new) != new
            });
        }
        known.set(message.managers.clone());
        let state = SessionState {
            managers: message.managers,
            role: message.role,
            trust_digest: message.trust_digest,
        };
        updates.send_if_modified(|old| std::mem::replace(old, state.clone()) != state);
    }
    Ended::Failed("the manager closed the session".into())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
