//! An executor whose containers exist only in memory, so that one machine
//! can play hundreds of nodes in scale tests: a start takes a set time and
//! fails at a set rate; a started task runs until it is stopped (or told
//! to exit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::executor::{
    Executor, ExecutorError, Existing, Exit, Inputs, LogLines, LogOptions, Observed,
};
use crate::store::objects::Task;

/// The exit code of a stopped simulated task (SIGTERM's).
const STOPPED: i64 = 143;

/// One simulated container.
#[derive(Debug)]
struct Container {
    task_id: String,
    state: Observed,
    /// The exit code once it exited.
    exit: watch::Sender<Option<i64>>,
}

/// Runs tasks in memory (see the module's documentation).
#[derive(Debug)]
pub struct SimulatedExecutor {
    start_latency: Duration,
    failure_rate: f64,
    containers: Mutex<HashMap<String, Container>>,
    made: AtomicU64,
    started: AtomicU64,
}

impl SimulatedExecutor {
    /// Starts take `start_latency` and fail with probability
    /// `failure_rate` (0: never, 1: always).
    pub fn new(start_latency: Duration, failure_rate: f64) -> Self {
        Self {
            start_latency,
            failure_rate,
            containers: Mutex::default(),
            made: AtomicU64::new(0),
            started: AtomicU64::new(0),
        }
    }

    /// How many containers were started so far: a task started twice
    /// counts twice.
    pub fn starts(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    /// Makes the running container of `task_id` exit with `code`, as a
    /// crash or a finished job would; returns whether one was running.
    pub fn exit(&self, task_id: &str, code: i64) -> bool {
        let mut containers = self.lock();
        let running = containers
            .values_mut()
            .find(|c| c.task_id == task_id && c.state == Observed::Running);
        match running {
            Some(container) => {
                container.state = Observed::Exited;
                container.exit.send_replace(Some(code));
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A uniform draw in [0, 1).
    fn draw() -> f64 {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            return 1.0;
        }
        (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tonic::async_trait]
impl Executor for SimulatedExecutor {
    async fn list(&self) -> Result<Vec<Existing>, ExecutorError> {
        Ok(self
            .lock()
            .iter()
            .map(|(id, c)| Existing {
                task_id: c.task_id.clone(),
                container_id: id.clone(),
                state: c.state,
            })
            .collect())
    }

    async fn prepare(&self, task: &Task, _: &Inputs) -> Result<String, ExecutorError> {
        let id = format!("sim-{}", self.made.fetch_add(1, Ordering::SeqCst) + 1);
        self.lock().insert(
            id.clone(),
            Container {
                task_id: task.meta.id.clone(),
                state: Observed::Created,
                exit: watch::channel(None).0,
            },
        );
        Ok(id)
    }

    async fn start(&self, container_id: &str) -> Result<(), ExecutorError> {
        tokio::time::sleep(self.start_latency).await;
        let failed = Self::draw() < self.failure_rate;
        let mut containers = self.lock();
        let container = containers
            .get_mut(container_id)
            .ok_or_else(|| ExecutorError::NoSuchContainer(container_id.to_string()))?;
        if failed {
            container.state = Observed::Exited;
            container.exit.send_replace(Some(1));
            return Err(ExecutorError::Runtime("simulated start failure".into()));
        }
        container.state = Observed::Running;
        self.started.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn wait(&self, container_id: &str) -> Result<Exit, ExecutorError> {
        let mut exit = self
            .lock()
            .get(container_id)
            .map(|c| c.exit.subscribe())
            .ok_or_else(|| ExecutorError::NoSuchContainer(container_id.to_string()))?;
        let code = exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ExecutorError::NoSuchContainer(container_id.to_string()))?
            .unwrap_or_default();
        Ok(Exit {
            code,
            error: String::new(),
        })
    }

    async fn stop(&self, container_id: &str, _timeout: Duration) -> Result<(), ExecutorError> {
        if let Some(container) = self.lock().get_mut(container_id)
            && container.state == Observed::Running
        {
            container.state = Observed::Exited;
            container.exit.send_replace(Some(STOPPED));
        }
        Ok(())
    }

    async fn remove(&self, container_id: &str) -> Result<(), ExecutorError> {
        self.lock().remove(container_id);
        Ok(())
    }

    /// Simulated containers write nothing.
    async fn logs(&self, container_id: &str, _: &LogOptions) -> Result<LogLines, ExecutorError> {
        if !self.lock().contains_key(container_id) {
            return Err(ExecutorError::NoSuchContainer(container_id.to_string()));
        }
        Ok(Box::pin(tokio_stream::empty()))
    }
}
