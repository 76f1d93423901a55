//! A pass's decisions as they are made: the write steps, the next wake-up,
//! and how new tasks and desired-state raises are written.

use hoist_api::service::{DesiredState, TaskState, TaskStatus};

use super::{ReconcileError, Reconciled};
use crate::ids::new_id;
use crate::store::objects::{Meta, Object, Service, Stored, Task};
use crate::store::{Batch, Kind, Op, State};

/// The decisions of one pass.
pub(super) struct Plan {
    /// The pass's time (Unix milliseconds).
    pub now: i64,
    steps: Vec<Vec<Op>>,
    wake_at: Option<i64>,
}

impl Plan {
    /// An empty plan for a pass at `now`.
    pub fn new(now: i64) -> Self {
        Self {
            now,
            steps: Vec::new(),
            wake_at: None,
        }
    }

    /// Adds operations to commit together (nothing when empty).
    pub fn step(&mut self, ops: Vec<Op>) {
        if !ops.is_empty() {
            self.steps.push(ops);
        }
    }

    /// Asks for another pass at `at`.
    pub fn wake_at(&mut self, at: i64) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    /// The operation raising `task` to `desired`, unless it is there already.
    pub fn desire(&self, task: &Task, desired: DesiredState) -> Option<Op> {
        (task.desired_state < desired).then(|| Op::Desire {
            task_id: task.meta.id.clone(),
            desired,
            at: self.now,
        })
    }

    /// The operation making a new task of `service` in `slot` (0 in a
    /// global service, whose tasks are made for `node_id`).
    pub fn create(
        &self,
        service: &Service,
        slot: u64,
        node_id: &str,
        attempt: u64,
    ) -> Result<Op, ReconcileError> {
        let task = Task {
            meta: Meta {
                id: new_id().map_err(ReconcileError::TaskId)?,
                version: 0,
                created_at: self.now,
                updated_at: self.now,
            },
            service_id: service.meta.id.clone(),
            service_name: service.spec.name.clone(),
            slot,
            node_id: node_id.to_string(),
            spec: service.spec.task.clone(),
            endpoint: service.spec.endpoint.clone(),
            spec_version: service.spec_version,
            attempt,
            desired_state: DesiredState::Running,
            status: TaskStatus {
                state: TaskState::New,
                message: "created".into(),
                timestamp: self.now,
                ..TaskStatus::default()
            },
        };
        Ok(Op::Create(Object::Task(task)))
    }

    /// `tasks` as they will be once the steps so far are written, by the
    /// store's own rules (so that the reaper sees this pass's raises and
    /// new tasks).
    pub fn project(&self, tasks: &[Task]) -> Vec<Task> {
        let mut state = State::from_objects(tasks.iter().cloned().map(Object::Task));
        let batch = Batch {
            ops: self.steps.iter().flatten().cloned().collect(),
        };
        if state.apply(0, &batch).0.into_result().is_err() {
            // Only a task ID drawn twice can get here; the next pass sees
            // the store as written instead.
            return tasks.to_vec();
        }
        state
            .list(Kind::Task)
            .filter_map(Task::from_object)
            .cloned()
            .collect()
    }

    /// The pass's outcome.
    pub fn finish(self) -> Reconciled {
        Reconciled {
            steps: self.steps,
            wake_at: self.wake_at,
        }
    }
}
