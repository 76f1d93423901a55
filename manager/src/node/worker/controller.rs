//! One task's controller: a tokio task that takes the task from assigned to
//! running (or adopts the container it already has), watches it until it
//! exits, stops it when the cluster wants it shut down and removes its
//! container when the task is removed. It reports every state it reaches.
//!
//! A task is started at most once: one that arrives already ended, or
//! that ended here, is never started again (the cluster replaces ended
//! tasks with new ones).

use std::sync::Arc;
use std::time::Duration;

use hoist_api::service::{DesiredState, TaskState, TaskStatus};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::executor::{Executor, ExecutorError, Existing, Exit, Inputs, Observed};
use super::reports::Report;
use crate::control::now_millis;
use crate::store::objects::Task;

/// Grace period of a stop when the container spec sets none (Swarm's).
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the worker wants of a task's controller: the task as the leader
/// sent it last, or its removal.
#[derive(Debug, Clone)]
pub(super) enum Directive {
    /// The task is the node's, as described.
    Assigned(Arc<Task>),
    /// The task is no longer the node's: stop and remove its container.
    Removed,
}

impl Directive {
    /// Whether the task's container must not run (any more).
    fn stops(&self) -> bool {
        match self {
            Directive::Assigned(task) => task.desired_state >= DesiredState::Shutdown,
            Directive::Removed => true,
        }
    }
}

/// Why watching a running task ended.
enum Watched {
    Exited(Result<Exit, ExecutorError>),
    Stopping,
}

/// The controller of one task (see the module's documentation).
pub(super) struct Controller {
    task_id: String,
    input: watch::Receiver<Directive>,
    executor: Arc<dyn Executor>,
    reports: mpsc::UnboundedSender<Report>,
    /// The task's container, once there is one.
    container: Option<String>,
    /// Where the container is, as far as the controller knows.
    observed: Option<Observed>,
    /// The last state reported.
    reported: Option<TaskState>,
    /// What its container is made with, until it is prepared; or why it
    /// cannot have it.
    inputs: Result<Inputs, String>,
}

impl Controller {
    /// A controller for `task_id`, following `input`, with the container
    /// found for it at start, if any, and what its container is made with.
    pub(super) fn new(
        task_id: String,
        input: watch::Receiver<Directive>,
        executor: Arc<dyn Executor>,
        reports: mpsc::UnboundedSender<Report>,
        existing: Option<Existing>,
        inputs: Result<Inputs, String>,
    ) -> Self {
        Self {
            task_id,
            input,
            executor,
            reports,
            observed: existing.as_ref().map(|e| e.state),
            container: existing.map(|e| e.container_id),
            reported: None,
            inputs,
        }
    }

    /// Runs the task if it should run, then follows the directives until
    /// the task is removed.
    pub(super) async fn run(mut self) {
        let first = self.input.borrow_and_update().clone();
        if let Directive::Assigned(task) = first
            && task.desired_state == DesiredState::Running
            && !task.status.state.is_terminal()
        {
            self.run_task(&task).await;
        }
        loop {
            let directive = self.input.borrow_and_update().clone();
            match directive {
                Directive::Removed => return self.remove().await,
                Directive::Assigned(task) => self.settle(&task).await,
            }
            if self.input.changed().await.is_err() {
                if matches!(*self.input.borrow(), Directive::Removed) {
                    self.remove().await;
                }
                return;
            }
        }
    }

    /// Adopts or starts the task's container and watches it until it
    /// exits or the task is to stop.
    async fn run_task(&mut self, task: &Task) {
        match self.observed {
            Some(Observed::Running) => {
                info!("adopted the task's running container");
                let known = task.status.state == TaskState::Running
                    && Some(&task.status.container_id) == self.container.as_ref();
                if !known {
                    self.report(TaskState::Running, "started", String::new(), None);
                }
            }
            Some(Observed::Exited) => {
                info!("the task's container exited while the worker was away");
                let exit = wait(&*self.executor, self.container.as_deref()).await;
                return self.exited(exit);
            }
            Some(Observed::Created) => {
                self.report(TaskState::Starting, "starting", String::new(), None);
                if !self.start().await {
                    return;
                }
            }
            None => {
                self.report(TaskState::Accepted, "accepted", String::new(), None);
                self.report(TaskState::Preparing, "preparing", String::new(), None);
                // Handed over once: the data stays in memory no longer.
                let inputs = match std::mem::replace(&mut self.inputs, Ok(Inputs::default())) {
                    Ok(inputs) => inputs,
                    Err(why) => {
                        warn!(error = %why, "task rejected");
                        self.report(TaskState::Rejected, "preparing", why, None);
                        return;
                    }
                };
                match self.executor.prepare(task, &inputs).await {
                    Ok(id) => {
                        self.container = Some(id);
                        self.observed = Some(Observed::Created);
                    }
                    Err(e) => {
                        warn!(error = %e, "task rejected");
                        self.report(TaskState::Rejected, "preparing", e.to_string(), None);
                        return;
                    }
                }
                if self.input.borrow().stops() {
                    return;
                }
                self.report(TaskState::Starting, "starting", String::new(), None);
                if !self.start().await {
                    return;
                }
            }
        }
        let (executor, container) = (self.executor.clone(), self.container.clone());
        let watched = tokio::select! {
            exit = wait(&*executor, container.as_deref()) => Watched::Exited(exit),
            () = until_stopping(&mut self.input) => Watched::Stopping,
        };
        if let Watched::Exited(exit) = watched {
            self.observed = Some(Observed::Exited);
            self.exited(exit);
        }
    }

    /// Starts the prepared container; reports Running, or Failed.
    async fn start(&mut self) -> bool {
        let Some(id) = self.container.clone() else {
            return false;
        };
        match self.executor.start(&id).await {
            Ok(()) => {
                info!(container = %id, "task started");
                self.observed = Some(Observed::Running);
                self.report(TaskState::Running, "started", String::new(), None);
                true
            }
            Err(e) => {
                warn!(error = %e, "task failed to start");
                self.observed = Some(Observed::Exited);
                self.report(TaskState::Failed, "starting", e.to_string(), None);
                false
            }
        }
    }

    /// Reports how the container ended: Complete on 0, Failed otherwise.
    fn exited(&mut self, exit: Result<Exit, ExecutorError>) {
        match exit {
            Ok(Exit { code: 0, .. }) => {
                info!("task complete");
                self.report(TaskState::Complete, "finished", String::new(), Some(0));
            }
            Ok(Exit { code, error }) => {
                let message = format!("task: non-zero exit ({code})");
                warn!(code, "task failed");
                let err = if error.is_empty() {
                    message.clone()
                } else {
                    error
                };
                self.report(TaskState::Failed, message, err, Some(code));
            }
            Err(e) => {
                warn!(error = %e, "lost the task's container");
                self.report(TaskState::Failed, "lost its container", e.to_string(), None);
            }
        }
    }

    /// Brings the task in line with `task` once it no longer runs here
    /// (or never will): stopped when it is to be, and reported Shutdown
    /// unless it already ended.
    async fn settle(&mut self, task: &Task) {
        let ended =
            task.status.state.is_terminal() || self.reported.is_some_and(|s| s.is_terminal());
        let shut_down = task.desired_state >= DesiredState::Shutdown;
        if shut_down || ended {
            self.stop(task).await;
        }
        if shut_down && !ended {
            self.report(TaskState::Shutdown, "shutdown", String::new(), None);
        }
    }

    /// Stops the container if it runs.
    async fn stop(&mut self, task: &Task) {
        let (Some(id), Some(Observed::Running)) = (&self.container, self.observed) else {
            return;
        };
        let timeout = task
            .spec
            .container
            .stop_timeout
            .and_then(|s| u64::try_from(s).ok())
            .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_secs);
        match self.executor.stop(id, timeout).await {
            Ok(()) => {
                info!("task stopped");
                self.observed = Some(Observed::Exited);
            }
            Err(e) => warn!(error = %e, "cannot stop the task's container"),
        }
    }

    /// Stops and removes the container of a removed task.
    async fn remove(&mut self) {
        let Some(id) = self.container.take() else {
            return;
        };
        if self.observed == Some(Observed::Running)
            && let Err(e) = self.executor.stop(&id, DEFAULT_STOP_TIMEOUT).await
        {
            warn!(error = %e, "cannot stop the removed task's container");
        }
        match self.executor.remove(&id).await {
            Ok(()) => info!(container = %id, "removed the task's container"),
            Err(e) => warn!(error = %e, "cannot remove the task's container"),
        }
    }

    fn report(
        &mut self,
        state: TaskState,
        message: impl Into<String>,
        err: String,
        exit_code: Option<i64>,
    ) {
        self.reported = Some(state);
        let status = TaskStatus {
            state,
            message: message.into(),
            err,
            timestamp: now_millis(),
            container_id: self.container.clone().unwrap_or_default(),
            exit_code,
        };
        // Closed only when the worker stops, and its controllers with it.
        let _ = self.reports.send((self.task_id.clone(), status));
    }
}

/// How the task's container ended.
async fn wait(executor: &dyn Executor, container: Option<&str>) -> Result<Exit, ExecutorError> {
    match container {
        Some(id) => executor.wait(id).await,
        None => Err(ExecutorError::NoSuchContainer(String::new())),
    }
}

/// Returns once the task is to stop; never if the directives end first.
async fn until_stopping(input: &mut watch::Receiver<Directive>) {
    loop {
        if input.borrow_and_update().stops() {
            return;
        }
        if input.changed().await.is_err() {
            if input.borrow().stops() {
                return;
            }
            std::future::pending::<()>().await;
        }
    }
}
