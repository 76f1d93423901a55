//! The daemon's event bus: every state change worth telling (`docker
//! events`) is stamped, kept in a ring of the most recent ones (for
//! `--since`) and broadcast to whoever listens. Publishing never blocks
//! and never fails: with no listener, an event is only remembered.

pub mod emit;
pub mod filter;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hoist_api::events::Event;
use tokio::sync::{broadcast, watch};

/// How many recent events the bus remembers.
pub const REMEMBERED: usize = 1000;

/// How many events a listener may fall behind before it misses some.
const BACKLOG: usize = 1024;

/// Which remembered events a new listener wants first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Unix nanoseconds; 0: unset.
    pub since: i64,
    /// Unix nanoseconds; 0: unset.
    pub until: i64,
}

impl Window {
    /// Whether an event time falls in the window (unset bounds are open).
    pub fn contains(&self, time_nano: i64) -> bool {
        time_nano >= self.since && (self.until == 0 || time_nano <= self.until)
    }

    /// Whether any remembered event is wanted: as Docker, only when a
    /// bound is set.
    fn replays(&self) -> bool {
        self.since != 0 || self.until != 0
    }
}

/// A new listener: the remembered events in its window, then the live ones.
#[derive(Debug)]
pub struct Subscription {
    /// Remembered events, oldest first.
    pub backlog: Vec<Arc<Event>>,
    /// Events published after the backlog was taken (none is in both).
    pub live: broadcast::Receiver<Arc<Event>>,
}

#[derive(Debug)]
struct Ring {
    recent: VecDeque<Arc<Event>>,
    capacity: usize,
    last_nano: i64,
}

/// The bus: the recent events and the channel to the listeners.
#[derive(Debug)]
pub struct EventBus {
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<Event>>,
    closed: watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(REMEMBERED)
    }
}

impl EventBus {
    /// A bus remembering the last `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                recent: VecDeque::with_capacity(capacity),
                capacity,
                last_nano: 0,
            }),
            sender: broadcast::channel(BACKLOG).0,
            closed: watch::channel(false).0,
        }
    }

    /// Stamps an event with the current time (later than every event
    /// before it, so times order the events), remembers it and sends it to
    /// the listeners. Returns it as sent.
    pub fn publish(&self, event: Event) -> Arc<Event> {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let time = now.max(ring.last_nano + 1);
        ring.last_nano = time;
        let event = Arc::new(event.stamped(time));
        if ring.capacity > 0 {
            if ring.recent.len() == ring.capacity {
                ring.recent.pop_front();
            }
            ring.recent.push_back(event.clone());
        }
        // Sent under the lock: a subscriber sees each event either in its
        // backlog or live, never both, never neither.
        let _ = self.sender.send(event.clone());
        event
    }

    /// Subscribes: the remembered events in `window` (none when neither
    /// bound is set, as Docker), and a receiver of every later event.
    pub fn subscribe(&self, window: Window) -> Subscription {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let backlog = if window.replays() {
            ring.recent
                .iter()
                .filter(|e| window.contains(e.time_nano))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Subscription {
            backlog,
            live: self.sender.subscribe(),
        }
    }

    /// Ends every stream: the daemon is stopping.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once the bus is closed.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|c| *c).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use hoist_api::events::EventType;

    use super::*;

    fn event(action: &str) -> Event {
        Event::new(EventType::Container, action, "c1", Default::default())
    }

    fn actions(events: &[Arc<Event>]) -> Vec<&str> {
        events.iter().map(|e| e.action.as_str()).collect()
    }

    #[test]
    fn the_ring_keeps_the_most_recent_events() {
        let bus = EventBus::new(3);
        for action in ["a", "b", "c", "d", "e"] {
            bus.publish(event(action));
        }
        let all = bus.subscribe(Window { since: 1, until: 0 });
        assert_eq!(actions(&all.backlog), ["c", "d", "e"]);
    }

    #[test]
    fn times_strictly_increase() {
        let bus = EventBus::new(10);
        let times: Vec<i64> = (0..50).map(|_| bus.publish(event("x")).time_nano).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        let first = bus.publish(event("y"));
        assert_eq!(first.time, first.time_nano / 1_000_000_000);
    }

    #[test]
    fn the_window_selects_the_backlog() {
        let bus = EventBus::new(10);
        let times: Vec<i64> = ["a", "b", "c", "d"]
            .iter()
            .map(|a| bus.publish(event(a)).time_nano)
            .collect();
        let none = bus.subscribe(Window::default());
        assert!(none.backlog.is_empty(), "live only without bounds");
        let since = bus.subscribe(Window {
            since: times[1],
            until: 0,
        });
        assert_eq!(actions(&since.backlog), ["b", "c", "d"]);
        let between = bus.subscribe(Window {
            since: times[1],
            until: times[2],
        });
        assert_eq!(actions(&between.backlog), ["b", "c"]);
        let until = bus.subscribe(Window {
            since: 0,
            until: times[0],
        });
        assert_eq!(actions(&until.backlog), ["a"]);
    }

    #[test]
    fn a_subscriber_sees_each_later_event_live_once() {
        let bus = EventBus::new(10);
        bus.publish(event("before"));
        let mut sub = bus.subscribe(Window { since: 1, until: 0 });
        bus.publish(event("after"));
        assert_eq!(actions(&sub.backlog), ["before"]);
        let live = sub.live.try_recv().unwrap();
        assert_eq!(live.action, "after");
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn publishing_without_listeners_only_remembers() {
        let bus = EventBus::new(0);
        bus.publish(event("lost"));
        assert!(
            bus.subscribe(Window { since: 1, until: 0 })
                .backlog
                .is_empty()
        );
    }

    #[tokio::test]
    async fn closing_wakes_the_streams() {
        let bus = EventBus::new(1);
        let closed = bus.closed();
        bus.close();
        tokio::time::timeout(std::time::Duration::from_secs(1), closed)
            .await
            .unwrap();
    }
}
