//! What the worker needs from a container runtime to run tasks, as a trait
//! so that the same reconcile logic drives the local daemon's containers
//! ([`super::ContainerExecutor`]) or tasks simulated in memory
//! ([`super::SimulatedExecutor`]) when one machine plays many nodes.

use std::pin::Pin;
use std::time::Duration;

use hoist_api::proto::RegistryAuth;
use hoist_api::spec::InlineFile;
use tokio_stream::Stream;

use crate::store::objects::Task;

/// What a task's container is made with beyond its template, delivered
/// with the task and kept in memory only: the files of its secrets and
/// configs, and the registry credentials its image is pulled with
/// (`--with-registry-auth`; anonymous without).
#[derive(Clone, Default, PartialEq)]
pub struct Inputs {
    /// The secrets' and configs' files.
    pub files: Vec<InlineFile>,
    /// Credentials for the image's registry.
    pub pull_credentials: Option<RegistryAuth>,
}

/// Why the runtime could not do what the worker asked.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The task's image is not on the node and could not be pulled.
    #[error("cannot pull image {image}: {reason}")]
    Pull {
        /// The image reference.
        image: String,
        /// The registry's or daemon's words.
        reason: String,
    },
    /// The container does not exist (any more).
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// The runtime refused or failed the call.
    #[error("{0}")]
    Runtime(String),
}

/// Where a task's container is in its life, as the runtime sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Made but never started (the agent stopped in between).
    Created,
    /// Its process runs (or is paused or restarting).
    Running,
    /// Its process ended.
    Exited,
}

/// A task container the node already has: found again after the agent
/// restarts, so that the task is adopted instead of started twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// The task it runs.
    pub task_id: String,
    /// The container's ID.
    pub container_id: String,
    /// Where it is in its life.
    pub state: Observed,
}

/// How a task's container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (128 + signal when killed by one).
    pub code: i64,
    /// Set when the runtime rather than the process failed (the
    /// executable was not found, …).
    pub error: String,
}

/// A container runtime, as the worker drives it: one container per task,
/// made by [`prepare`](Executor::prepare) (which gets the image) and run by
/// [`start`](Executor::start). Stopping or removing a container that is
/// already stopped or gone succeeds: the worker may ask twice.
#[tonic::async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Every task container on the node, running or not.
    async fn list(&self) -> Result<Vec<Existing>, ExecutorError>;

    /// Gets the task's image and creates its container, with `inputs`;
    /// returns the container's ID. An error means the node cannot run the
    /// task (it is rejected).
    async fn prepare(&self, task: &Task, inputs: &Inputs) -> Result<String, ExecutorError>;

    /// Starts a prepared container. An error means the task failed.
    async fn start(&self, container_id: &str) -> Result<(), ExecutorError>;

    /// Waits until the container is not running; returns how it ended
    /// (at once when it already has).
    async fn wait(&self, container_id: &str) -> Result<Exit, ExecutorError>;

    /// Stops the container, killing it after `timeout`.
    async fn stop(&self, container_id: &str, timeout: Duration) -> Result<(), ExecutorError>;

    /// Removes the container, stopping it first if needed.
    async fn remove(&self, container_id: &str) -> Result<(), ExecutorError>;

    /// The container's log (`service logs`), as `options` asks: what it
    /// has, then — when following — what it writes until it stops.
    async fn logs(
        &self,
        container_id: &str,
        options: &LogOptions,
    ) -> Result<LogLines, ExecutorError>;
}

/// What part of a container's log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogOptions {
    /// Keep reading what the container writes until it stops.
    pub follow: bool,
    /// Lines from the end; negative means all.
    pub tail: i64,
    /// Only what was written from then on (Unix nanoseconds; 0: all).
    pub since: i64,
}

/// Output a container wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Written to stderr rather than stdout.
    pub stderr: bool,
    /// When (Unix nanoseconds).
    pub time: i64,
    /// What.
    pub data: Vec<u8>,
}

/// A container's log, as the runtime reads it.
pub type LogLines = Pin<Box<dyn Stream<Item = Result<LogLine, ExecutorError>> + Send>>;
