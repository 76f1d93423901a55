//! The orchestrator's leader loop: a pass whenever the store moved or a
//! restart delay ran out, its writes committed before the next pass reads
//! the store (so no pass repeats the previous one's work).

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hoist_api::service::DesiredState;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Reconciled, reconcile};
use crate::control::now_millis;
use crate::manager::{Manager, while_leading};
use crate::store::objects::{Node, Service, Stored, Task};
use crate::store::{Kind, Op, State};

/// How often the loop looks for a change to act on.
const TICK: Duration = Duration::from_millis(100);
/// Most operations written in one batch (new tasks are large).
const BATCH_OPS: usize = 100;

/// Runs the orchestrator on this manager whenever it leads; returns when
/// the manager is gone.
pub async fn run(manager: Weak<Manager>) {
    let pace = Arc::new(Mutex::new(Pace::default()));
    while_leading(manager, TICK, move |manager, since| {
        let pace = pace.clone();
        async move {
            let before = *pace.lock().unwrap_or_else(|e| e.into_inner());
            let after = pass(&manager, since, before).await;
            *pace.lock().unwrap_or_else(|e| e.into_inner()) = after;
        }
    })
    .await;
}

/// What the loop remembers between ticks, only to skip idle ones: every
/// decision comes from the store.
#[derive(Debug, Clone, Copy, Default)]
struct Pace {
    /// The leadership this memory belongs to.
    term: Option<Instant>,
    /// Whether this leader's store has caught up with the log.
    caught_up: bool,
    /// The store version the last complete pass read.
    seen: Option<u64>,
    /// When the last pass asked to run again.
    wake_at: Option<i64>,
}

/// One tick: a pass if there is reason for one.
async fn pass(manager: &Manager, since: Instant, pace: Pace) -> Pace {
    let mut pace = if pace.term == Some(since) {
        pace
    } else {
        Pace {
            term: Some(since),
            ..Pace::default()
        }
    };
    if !pace.caught_up {
        // A new leader may not have applied all it committed yet: acting
        // on an older state would make tasks a second time.
        if let Err(e) = manager.fresh().await {
            warn!(error = %e, "orchestrator waits for the store to catch up");
            return pace;
        }
        pace.caught_up = true;
    }
    let now = now_millis();
    let due = pace.wake_at.is_some_and(|at| at <= now);
    if pace.seen == Some(manager.store.version()) && !due {
        return pace;
    }
    let (state, version) = manager.store.snapshot();
    let reconciled = match reconcile(
        &list::<Service>(&state),
        &list::<Task>(&state),
        &list::<Node>(&state),
        now,
    ) {
        Ok(reconciled) => reconciled,
        Err(e) => {
            warn!(error = %e, "orchestrator pass failed; retrying");
            pace.seen = None;
            return pace;
        }
    };
    pace.wake_at = reconciled.wake_at;
    pace.seen = Some(version);
    if reconciled.is_empty() {
        return pace;
    }
    let tally = Tally::of(&reconciled);
    for batch in reconciled.into_batches(BATCH_OPS) {
        let ops = batch.ops.len();
        if let Err(e) = manager.write(batch).await {
            warn!(error = %e, ops, "orchestrator write failed; retrying next round");
            pace.seen = None;
            return pace;
        }
    }
    info!(
        made = tally.made,
        shut_down = tally.shut_down,
        to_remove = tally.to_remove,
        deleted = tally.deleted,
        "orchestrator reconciled tasks"
    );
    debug!(version, "orchestrator pass written");
    pace
}

/// Every object of type `T` in `state`.
fn list<T: Stored>(state: &State) -> Vec<T> {
    state
        .list(T::KIND)
        .filter_map(T::from_object)
        .cloned()
        .collect()
}

/// What a pass wrote, for the log.
#[derive(Debug, Default)]
struct Tally {
    made: usize,
    shut_down: usize,
    to_remove: usize,
    deleted: usize,
}

impl Tally {
    fn of(reconciled: &Reconciled) -> Self {
        let mut tally = Self::default();
        for op in reconciled.ops() {
            match op {
                Op::Create(_) => tally.made += 1,
                Op::Desire {
                    desired: DesiredState::Shutdown,
                    ..
                } => tally.shut_down += 1,
                Op::Desire {
                    desired: DesiredState::Remove,
                    ..
                } => tally.to_remove += 1,
                Op::Delete {
                    kind: Kind::Task, ..
                } => tally.deleted += 1,
                _ => {}
            }
        }
        tally
    }
}
