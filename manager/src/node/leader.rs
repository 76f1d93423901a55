//! Finding the leader from a node: any manager the node knows either is the
//! leader or names it when it turns a call away (FAILED_PRECONDITION with
//! the leader's address in `hoist-leader` metadata). Shared by the session
//! and the worker, which both hold a stream open to the leader and move on
//! to another manager when theirs stops answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::debug;

use crate::dispatcher::LEADER_METADATA;

/// Longest wait between attempts when no manager answers.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// First wait after a failed attempt.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// The cluster addresses of the managers a node knows, shared between the
/// loops that reach the leader: what one learns (the session's
/// `SessionMessage::managers`) the others use on their next attempt.
#[derive(Debug, Clone, Default)]
pub struct Managers {
    known: Arc<Mutex<Vec<String>>>,
}

impl Managers {
    /// Starts from `addrs` (the membership's list; a manager puts its own
    /// address first).
    pub fn new(addrs: Vec<String>) -> Self {
        Self {
            known: Arc::new(Mutex::new(addrs)),
        }
    }

    /// Replaces the list with what the leader reported; an empty report is
    /// ignored (a node must never forget every manager).
    pub fn set(&self, addrs: Vec<String>) {
        if !addrs.is_empty() {
            *self.known.lock().unwrap_or_else(|e| e.into_inner()) = addrs;
        }
    }

    /// The addresses known now.
    pub fn get(&self) -> Vec<String> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How one attempt at the leader ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The manager is not the leader and named it: try there at once.
    Redirect(String),
    /// The manager could not be reached, refused, or the stream ended.
    Failed(String),
}

impl From<tonic::Status> for Ended {
    /// A redirect when a follower named the leader, a failure otherwise.
    fn from(status: tonic::Status) -> Self {
        let leader = status
            .metadata()
            .get(LEADER_METADATA)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match leader {
            Some(leader) if status.code() == tonic::Code::FailedPrecondition => {
                Ended::Redirect(leader)
            }
            _ => Ended::Failed(status.message().to_string()),
        }
    }
}

/// Calls `attempt` with one manager address after another until the task
/// is aborted: a redirect is followed at once; after a failure the next
/// known manager is tried, waiting longer each time (up to 2 s) while none
/// answers. `what` names the loop in logs.
pub async fn follow<F, Fut>(managers: &Managers, what: &str, mut attempt: F)
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Ended>,
{
    let mut next: Option<String> = None;
    let mut turn = 0usize;
    let mut backoff = MIN_BACKOFF;
    loop {
        let target = match next.take() {
            Some(addr) => addr,
            None => {
                let known = managers.get();
                if known.is_empty() {
                    tokio::time::sleep(MAX_BACKOFF).await;
                    continue;
                }
                turn += 1;
                known[turn % known.len()].clone()
            }
        };
        match attempt(target.clone()).await {
            Ended::Redirect(leader) => {
                debug!(from = %target, to = %leader, what, "following the leader");
                next = Some(leader);
                backoff = MIN_BACKOFF;
                continue;
            }
            Ended::Failed(why) => debug!(manager = %target, %why, what, "ended"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn a_follower_naming_the_leader_is_a_redirect() {
        let mut status = tonic::Status::failed_precondition("not the leader");
        status
            .metadata_mut()
            .insert(LEADER_METADATA, MetadataValue::from_static("10.0.0.2:4242"));
        assert_eq!(Ended::from(status), Ended::Redirect("10.0.0.2:4242".into()));
        let refused = tonic::Status::failed_precondition("not the leader, leader unknown");
        assert_eq!(
            Ended::from(refused),
            Ended::Failed("not the leader, leader unknown".into())
        );
        let mut other = tonic::Status::unavailable("down");
        other
            .metadata_mut()
            .insert(LEADER_METADATA, MetadataValue::from_static("10.0.0.2:4242"));
        assert_eq!(Ended::from(other), Ended::Failed("down".into()));
    }

    #[test]
    fn an_empty_report_keeps_the_known_managers() {
        let managers = Managers::new(vec!["a:1".into()]);
        managers.set(Vec::new());
        assert_eq!(managers.get(), vec!["a:1".to_string()]);
        managers.set(vec!["b:1".into()]);
        assert_eq!(managers.get(), vec!["b:1".to_string()]);
    }
}
