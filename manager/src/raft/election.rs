//! When a follower stands for election. openraft 0.9 draws each member's
//! random election timeout once, at start: two followers whose draws are
//! close stand in lockstep after every failed round, and a lagging one
//! with the shorter draw can keep an up-to-date one from ever winning (we
//! saw failovers stall for good). So hoist turns openraft's own timer off
//! and stands here, drawing a fresh random delay for every round.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;
use tracing::debug;

use super::Raft;

/// How often the driver looks.
const TICK: Duration = Duration::from_millis(25);

/// When the leader was last heard from (as the Raft service sees it), and
/// when a peer last showed a longer log than this member's (as the
/// transport sees vote answers).
#[derive(Debug, Clone)]
pub struct LeaderContact {
    last: Arc<Mutex<Instant>>,
    greater_log: Arc<Mutex<Option<Instant>>>,
}

impl Default for LeaderContact {
    fn default() -> Self {
        Self {
            last: Arc::new(Mutex::new(Instant::now())),
            greater_log: Arc::default(),
        }
    }
}

impl LeaderContact {
    /// Records a message from the leader (append entries, heartbeats).
    pub fn heard(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        *self.greater_log.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records that a peer answered a vote request with a longer log: this
    /// member cannot win, and standing again only delays the one that can.
    pub fn saw_greater_log(&self) {
        *self.greater_log.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    fn last(&self) -> Instant {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn greater_log(&self) -> Option<Instant> {
        *self.greater_log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A random delay in `[min, max)`.
fn draw(min: Duration, max: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    // Without randomness the delay is `min`: elections still happen.
    let _ = getrandom::fill(&mut bytes);
    let span = (max - min).as_millis().max(1) as u64;
    min + Duration::from_millis(u64::from_le_bytes(bytes) % span)
}

/// Stands for election when the leader has been silent for longer than
/// `lease` (voters refuse votes before that) plus a fresh random delay in
/// `[min, max)`, and again after a fresh delay while no leader emerges.
/// Ends when the Raft member stops.
pub async fn run(
    raft: Raft,
    contact: LeaderContact,
    lease: Duration,
    min: Duration,
    max: Duration,
) {
    let mut quiet_wait = lease + draw(min, max);
    let mut retry_wait = draw(min, max);
    let mut last_attempt: Option<Instant> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        if metrics.state == ServerState::Leader {
            last_attempt = None;
            continue;
        }
        let membership = metrics.membership_config.membership();
        if !membership.voter_ids().any(|id| id == metrics.id) {
            continue;
        }
        let alone = membership.voter_ids().count() == 1;
        let heard = contact.last();
        let (since, mut wait) = match last_attempt {
            Some(at) if at > heard => (at, retry_wait),
            _ => (heard, quiet_wait),
        };
        // A member that lags behind a peer leaves it a clear field for a
        // few rounds (as openraft's own timer does).
        if contact
            .greater_log()
            .is_some_and(|at| at.elapsed() < 4 * max)
        {
            wait += 2 * max;
        }
        if !alone && since.elapsed() < wait {
            continue;
        }
        debug!(term = metrics.current_term, "standing for election");
        if raft.trigger().elect().await.is_err() {
            return;
        }
        last_attempt = Some(Instant::now());
        quiet_wait = lease + draw(min, max);
        retry_wait = draw(min, max);
        if alone {
            tokio::time::sleep(max).await;
        }
    }
}
