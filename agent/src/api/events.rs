//! `docker events` over the API: the events a request's window and
//! filters select, the remembered ones first, then live ones until `until`
//! has passed, the client goes, or the daemon stops.

use std::time::Duration;

use hoist_api::events::Event;
use hoist_api::proto::{EventMessage, EventsRequest};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;
use tracing::{Instrument, warn};

use super::containers::ResponseStream;
use crate::daemon::Daemon;
use crate::error::{internal, invalid};
use crate::events::filter::EventFilter;
use crate::events::{Subscription, Window};

/// Events a slow client may have queued before the stream waits for it.
const QUEUE: usize = 64;

/// Checks the request and starts streaming what it selects.
pub fn open(
    daemon: &Daemon,
    request: EventsRequest,
) -> Result<ResponseStream<EventMessage>, Status> {
    let filter = EventFilter::parse(&request.filters).map_err(|e| invalid(e.to_string()))?;
    if request.since < 0 || request.until < 0 {
        return Err(invalid(
            "since and until must be Unix times (nanoseconds), not negative",
        ));
    }
    if request.since != 0 && request.until != 0 && request.until < request.since {
        return Err(invalid(format!(
            "`since` time ({}) cannot be after `until` time ({})",
            describe(request.since),
            describe(request.until)
        )));
    }
    let window = Window {
        since: request.since,
        until: request.until,
    };
    let subscription = daemon.events.subscribe(window);
    let closed = daemon.events.closed();
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(forward(subscription, window, filter, closed, tx).in_current_span());
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

/// A time as RFC 3339, for messages.
fn describe(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Sends one event; false when the client has gone.
async fn send(tx: &mpsc::Sender<Result<EventMessage, Status>>, event: &Event) -> bool {
    let message = serde_json::to_vec(event)
        .map(|json| EventMessage { json })
        .map_err(|e| internal(format!("cannot encode an event: {e}")));
    tx.send(message).await.is_ok()
}

/// Streams the backlog, then live events, into `tx`.
async fn forward(
    subscription: Subscription,
    window: Window,
    filter: EventFilter,
    closed: impl Future<Output = ()>,
    tx: mpsc::Sender<Result<EventMessage, Status>>,
) {
    for event in subscription.backlog.iter().filter(|e| filter.matches(e)) {
        if !send(&tx, event).await {
            return;
        }
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    if window.until != 0 && window.until <= now {
        return;
    }
    let deadline = async {
        if window.until == 0 {
            std::future::pending::<()>().await;
        }
        let left = Duration::from_nanos(window.until.saturating_sub(now).unsigned_abs());
        tokio::time::sleep_until(Instant::now() + left).await;
    };
    tokio::pin!(deadline, closed);
    let mut live = subscription.live;
    loop {
        let received = tokio::select! {
            _ = tx.closed() => return,
            _ = &mut closed => return,
            _ = &mut deadline => return,
            received = live.recv() => received,
        };
        match received {
            Ok(event) => {
                if window.contains(event.time_nano)
                    && filter.matches(&event)
                    && !send(&tx, &event).await
                {
                    return;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                warn!(
                    missed,
                    "an events client fell behind: it misses some events"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}
