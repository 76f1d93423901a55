//! The node's tasks against what the leader assigns: each message of the
//! assignments stream goes to the controllers of the tasks it names, one
//! controller per task however often the task arrives (a complete set is
//! sent again after every reconnection). Kept free of the network, so it
//! is tested by feeding it messages.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hoist_api::cluster_proto::AssignmentsMessage;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};

use super::controller::{Controller, Directive};
use super::executor::{Executor, Existing, Inputs, Observed};
use super::files::Delivered;
use super::reports::Report;
use crate::store::objects::Task;

/// The node's task controllers. Dropping it aborts them (their containers
/// keep running, to be adopted by the next worker).
pub(super) struct Reconciler {
    executor: Arc<dyn Executor>,
    reports: mpsc::UnboundedSender<Report>,
    /// Each task's controller, by task ID.
    tasks: HashMap<String, watch::Sender<Directive>>,
    /// Containers found at start that no assignment claimed yet.
    adopted: HashMap<String, Existing>,
    controllers: JoinSet<()>,
}

impl Reconciler {
    /// No tasks yet; controllers run tasks with `executor` and send their
    /// statuses to `reports`.
    pub(super) fn new(executor: Arc<dyn Executor>, reports: mpsc::UnboundedSender<Report>) -> Self {
        Self {
            executor,
            reports,
            tasks: HashMap::new(),
            adopted: HashMap::new(),
            controllers: JoinSet::new(),
        }
    }

    /// Takes the task containers the node already has: a task assigned
    /// again takes over its container, the others are removed by the next
    /// complete set.
    pub(super) fn adopt(&mut self, existing: Vec<Existing>) {
        for found in existing {
            let task_id = found.task_id.clone();
            let spare = match self.adopted.remove(&task_id) {
                // Two containers for one task: keep the running one.
                Some(other) if other.state == Observed::Running => {
                    self.adopted.insert(task_id.clone(), other);
                    found
                }
                Some(other) => {
                    self.adopted.insert(task_id.clone(), found);
                    other
                }
                None => {
                    self.adopted.insert(task_id, found);
                    continue;
                }
            };
            self.spawn(
                spare.task_id.clone(),
                Directive::Removed,
                Some(spare),
                Ok(Inputs::default()),
            );
        }
    }

    /// Applies one message of the assignments stream.
    pub(super) fn apply(&mut self, message: AssignmentsMessage) {
        while self.controllers.try_join_next().is_some() {}
        let tasks: Vec<Task> = message
            .tasks_json
            .iter()
            .filter_map(|json| {
                serde_json::from_slice(json)
                    .inspect_err(|e| warn!(error = %e, "unreadable task in the assignments"))
                    .ok()
            })
            .collect();
        if message.complete {
            let assigned: HashSet<&str> = tasks.iter().map(|t| t.meta.id.as_str()).collect();
            let gone: Vec<String> = self
                .tasks
                .keys()
                .chain(self.adopted.keys())
                .filter(|id| !assigned.contains(id.as_str()))
                .cloned()
                .collect();
            for task_id in gone {
                self.remove(&task_id);
            }
        }
        let delivered = Delivered::new(&message);
        for task in tasks {
            self.upsert(task, &delivered);
        }
        for task_id in &message.removed {
            self.remove(task_id);
        }
    }

    fn upsert(&mut self, task: Task, delivered: &Delivered<'_>) {
        let task_id = task.meta.id.clone();
        match self.tasks.get(&task_id) {
            Some(input) => {
                input.send_replace(Directive::Assigned(Arc::new(task)));
            }
            None => {
                let existing = self.adopted.remove(&task_id);
                let inputs = delivered.inputs(&task);
                let directive = Directive::Assigned(Arc::new(task));
                let input = self.spawn(task_id.clone(), directive, existing, inputs);
                self.tasks.insert(task_id, input);
            }
        }
    }

    fn remove(&mut self, task_id: &str) {
        if let Some(input) = self.tasks.remove(task_id) {
            input.send_replace(Directive::Removed);
        } else if let Some(existing) = self.adopted.remove(task_id) {
            self.spawn(
                task_id.to_string(),
                Directive::Removed,
                Some(existing),
                Ok(Inputs::default()),
            );
        }
    }

    /// Starts the controller of `task_id`, whose container is made with
    /// `inputs`; returns its input.
    fn spawn(
        &mut self,
        task_id: String,
        directive: Directive,
        existing: Option<Existing>,
        inputs: Result<Inputs, String>,
    ) -> watch::Sender<Directive> {
        let name = match &directive {
            Directive::Assigned(task) => task.name(),
            Directive::Removed => String::new(),
        };
        let span = info_span!("task", id = %task_id, %name);
        let (input, rx) = watch::channel(directive);
        let controller = Controller::new(
            task_id,
            rx,
            self.executor.clone(),
            self.reports.clone(),
            existing,
            inputs,
        );
        self.controllers.spawn(controller.run().instrument(span));
        input
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hoist_api::service::{DesiredState, TaskState, TaskStatus};
    use hoist_api::spec::InlineFile;

    use super::super::{ExecutorError, Exit, SimulatedExecutor};
    use super::*;

    const QUIET: Duration = Duration::from_millis(200);

    struct Bed {
        executor: Arc<SimulatedExecutor>,
        reconciler: Reconciler,
        reports: mpsc::UnboundedReceiver<Report>,
    }

    impl Bed {
        fn new(executor: SimulatedExecutor) -> Self {
            Self::adopting(Arc::new(executor), Vec::new())
        }

        fn adopting(executor: Arc<SimulatedExecutor>, existing: Vec<Existing>) -> Self {
            let (tx, reports) = mpsc::unbounded_channel();
            let mut reconciler = Reconciler::new(executor.clone(), tx);
            reconciler.adopt(existing);
            Self {
                executor,
                reconciler,
                reports,
            }
        }

        fn complete(&mut self, tasks: &[&Task]) {
            self.reconciler.apply(message(true, tasks, &[]));
        }

        fn change(&mut self, tasks: &[&Task], removed: &[&str]) {
            self.reconciler.apply(message(false, tasks, removed));
        }

        /// The next report, failing after 5 s.
        async fn next(&mut self) -> (String, TaskStatus) {
            tokio::time::timeout(Duration::from_secs(5), self.reports.recv())
                .await
                .expect("a report")
                .expect("reports open")
        }

        /// The statuses reported for `task_id` until one in `last`
        /// (included); other tasks' reports are skipped.
        async fn until(&mut self, task_id: &str, last: TaskState) -> Vec<TaskStatus> {
            let mut statuses = Vec::new();
            loop {
                let (id, status) = self.next().await;
                if id != task_id {
                    continue;
                }
                let done = status.state == last;
                statuses.push(status);
                if done {
                    return statuses;
                }
            }
        }

        /// The states reported for `task_id` until one in `last`.
        async fn states_until(&mut self, task_id: &str, last: TaskState) -> Vec<TaskState> {
            let statuses = self.until(task_id, last).await;
            statuses.into_iter().map(|s| s.state).collect()
        }

        /// Fails if anything is reported within a while.
        async fn quiet(&mut self) {
            if let Ok(Some(report)) = tokio::time::timeout(QUIET, self.reports.recv()).await {
                panic!("unexpected report {report:?}");
            }
        }

        async fn containers(&self) -> Vec<Existing> {
            self.executor.list().await.unwrap()
        }

        /// Waits until the executor's containers satisfy `check`.
        async fn eventually(&self, what: &str, check: impl Fn(&[Existing]) -> bool) {
            for _ in 0..250 {
                if check(&self.containers().await) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("{what}: containers are {:?}", self.containers().await);
        }
    }

    fn message(complete: bool, tasks: &[&Task], removed: &[&str]) -> AssignmentsMessage {
        AssignmentsMessage {
            complete,
            tasks_json: tasks
                .iter()
                .map(|t| serde_json::to_vec(t).unwrap())
                .collect(),
            removed: removed.iter().map(|s| s.to_string()).collect(),
            ..AssignmentsMessage::default()
        }
    }

    fn task(id: &str) -> Task {
        let mut task = Task {
            service_id: "svc".into(),
            service_name: "web".into(),
            slot: 1,
            node_id: "node".into(),
            ..Task::default()
        };
        task.meta.id = id.into();
        task.status.state = TaskState::Assigned;
        task
    }

    fn with_status(task: &Task, status: &TaskStatus) -> Task {
        let mut task = task.clone();
        task.status = status.clone();
        task
    }

    fn running(containers: &[Existing], task_id: &str) -> bool {
        containers
            .iter()
            .any(|c| c.task_id == task_id && c.state == Observed::Running)
    }

    fn sim() -> SimulatedExecutor {
        SimulatedExecutor::new(Duration::from_millis(5), 0.0)
    }

    #[tokio::test]
    async fn a_new_task_is_accepted_prepared_started_and_runs() {
        let mut bed = Bed::new(sim());
        bed.complete(&[&task("t1")]);
        assert_eq!(
            bed.states_until("t1", TaskState::Running).await,
            vec![
                TaskState::Accepted,
                TaskState::Preparing,
                TaskState::Starting,
                TaskState::Running
            ]
        );
        assert!(running(&bed.containers().await, "t1"));
        assert_eq!(bed.executor.starts(), 1);
    }

    #[tokio::test]
    async fn a_task_that_exits_reports_complete_or_failed_with_its_code() {
        let mut bed = Bed::new(sim());
        bed.complete(&[&task("ok"), &task("bad")]);
        bed.states_until("ok", TaskState::Running).await;
        bed.eventually("both run", |c| running(c, "ok") && running(c, "bad"))
            .await;
        assert!(bed.executor.exit("ok", 0));
        let ok = bed.until("ok", TaskState::Complete).await;
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].exit_code, Some(0));
        assert!(bed.executor.exit("bad", 3));
        let bad = bed.until("bad", TaskState::Failed).await;
        let failed = bad.last().unwrap();
        assert_eq!(failed.exit_code, Some(3));
        assert!(failed.err.contains("exit (3)"), "{}", failed.err);
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 2);
    }

    #[tokio::test]
    async fn desired_shutdown_stops_the_task() {
        let mut bed = Bed::new(sim());
        let mut t1 = task("t1");
        bed.complete(&[&t1]);
        bed.states_until("t1", TaskState::Running).await;
        t1.desired_state = DesiredState::Shutdown;
        bed.change(&[&t1], &[]);
        let (_, status) = bed.next().await;
        assert_eq!(status.state, TaskState::Shutdown);
        assert!(!running(&bed.containers().await, "t1"));
        assert_eq!(bed.containers().await.len(), 1, "the container is kept");
    }

    #[tokio::test]
    async fn a_task_shut_down_before_it_ran_is_never_started() {
        let mut bed = Bed::new(sim());
        let mut t1 = task("t1");
        t1.desired_state = DesiredState::Shutdown;
        bed.complete(&[&t1]);
        assert_eq!(
            bed.states_until("t1", TaskState::Shutdown).await,
            vec![TaskState::Shutdown]
        );
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 0);
    }

    #[tokio::test]
    async fn a_removed_task_loses_its_container() {
        let mut bed = Bed::new(sim());
        bed.complete(&[&task("t1"), &task("t2")]);
        bed.eventually("both run", |c| running(c, "t1") && running(c, "t2"))
            .await;
        bed.change(&[], &["t1"]);
        bed.eventually("t1 removed", |c| c.len() == 1 && running(c, "t2"))
            .await;
    }

    #[tokio::test]
    async fn the_same_complete_set_again_changes_nothing() {
        let mut bed = Bed::new(sim());
        let t1 = task("t1");
        bed.complete(&[&t1]);
        let (_, status) = loop {
            let report = bed.next().await;
            if report.1.state == TaskState::Running {
                break report;
            }
        };
        let before = bed.containers().await;
        // After a failover: the same set, once as assigned and once with
        // the status the node reported.
        bed.complete(&[&t1]);
        bed.complete(&[&with_status(&t1, &status)]);
        bed.change(&[&t1], &[]);
        bed.quiet().await;
        assert_eq!(bed.containers().await, before);
        assert_eq!(bed.executor.starts(), 1);
    }

    #[tokio::test]
    async fn a_task_missing_from_a_complete_set_is_removed() {
        let mut bed = Bed::new(sim());
        bed.complete(&[&task("t1"), &task("t2")]);
        bed.eventually("both run", |c| running(c, "t1") && running(c, "t2"))
            .await;
        bed.complete(&[&task("t2")]);
        bed.eventually("t1 removed", |c| c.len() == 1 && running(c, "t2"))
            .await;
        assert_eq!(bed.executor.starts(), 2);
    }

    #[tokio::test]
    async fn a_task_that_arrives_ended_is_not_started() {
        let mut bed = Bed::new(sim());
        for (id, state) in [
            ("done", TaskState::Complete),
            ("failed", TaskState::Failed),
            ("orphan", TaskState::Orphaned),
        ] {
            let mut t = task(id);
            t.status.state = state;
            bed.complete(&[&t]);
        }
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 0);
        assert!(bed.containers().await.is_empty());
    }

    #[tokio::test]
    async fn a_running_container_found_at_start_is_adopted_not_restarted() {
        let executor = Arc::new(sim());
        let t1 = task("t1");
        let stale = task("stale");
        for t in [&t1, &stale] {
            let id = executor.prepare(t, &Inputs::default()).await.unwrap();
            executor.start(&id).await.unwrap();
        }
        let existing = executor.list().await.unwrap();
        let mut bed = Bed::adopting(executor, existing);
        bed.complete(&[&t1]);
        let (id, status) = bed.next().await;
        assert_eq!((id.as_str(), status.state), ("t1", TaskState::Running));
        assert!(!status.container_id.is_empty());
        bed.eventually("the stale task's container removed", |c| {
            c.len() == 1 && running(c, "t1")
        })
        .await;
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 2, "nothing started again");
    }

    #[tokio::test]
    async fn a_container_that_exited_while_the_worker_was_away_is_reported() {
        let executor = Arc::new(sim());
        let t1 = task("t1");
        let id = executor.prepare(&t1, &Inputs::default()).await.unwrap();
        executor.start(&id).await.unwrap();
        executor.exit("t1", 2);
        let existing = executor.list().await.unwrap();
        let mut bed = Bed::adopting(executor, existing);
        bed.complete(&[&t1]);
        let (_, status) = bed.next().await;
        assert_eq!(status.state, TaskState::Failed);
        assert_eq!(status.exit_code, Some(2));
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 1);
    }

    #[tokio::test]
    async fn a_failed_start_reports_failed_with_the_error_and_is_not_retried() {
        let mut bed = Bed::new(SimulatedExecutor::new(Duration::ZERO, 1.0));
        bed.complete(&[&task("t1")]);
        let statuses = bed.until("t1", TaskState::Failed).await;
        let states: Vec<TaskState> = statuses.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            vec![
                TaskState::Accepted,
                TaskState::Preparing,
                TaskState::Starting,
                TaskState::Failed
            ]
        );
        let failed = statuses.last().unwrap();
        assert_eq!(failed.err, "simulated start failure");
        // Sent again, with its status or without, it stays failed.
        bed.complete(&[&with_status(&task("t1"), failed)]);
        bed.complete(&[&task("t1")]);
        bed.quiet().await;
        assert_eq!(bed.executor.starts(), 0);
    }

    /// Records the files each task's container was prepared with, then
    /// refuses to make it with the error `refusal` gives.
    struct Refusing {
        refusal: fn(&Task) -> ExecutorError,
        prepared: std::sync::Mutex<Vec<(String, Vec<InlineFile>)>>,
    }

    impl Refusing {
        fn new(refusal: fn(&Task) -> ExecutorError) -> Self {
            Self {
                refusal,
                prepared: std::sync::Mutex::default(),
            }
        }
    }

    #[tonic::async_trait]
    impl Executor for Refusing {
        async fn list(&self) -> Result<Vec<Existing>, ExecutorError> {
            Ok(Vec::new())
        }
        async fn prepare(&self, task: &Task, inputs: &Inputs) -> Result<String, ExecutorError> {
            self.prepared
                .lock()
                .unwrap()
                .push((task.meta.id.clone(), inputs.files.clone()));
            Err((self.refusal)(task))
        }
        async fn start(&self, _: &str) -> Result<(), ExecutorError> {
            panic!("nothing to start")
        }
        async fn wait(&self, _: &str) -> Result<Exit, ExecutorError> {
            panic!("nothing to wait for")
        }
        async fn stop(&self, _: &str, _: Duration) -> Result<(), ExecutorError> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> Result<(), ExecutorError> {
            Ok(())
        }
        async fn logs(
            &self,
            _: &str,
            _: &super::super::LogOptions,
        ) -> Result<super::super::LogLines, ExecutorError> {
            panic!("no container to read")
        }
    }

    #[tokio::test]
    async fn a_task_whose_image_cannot_be_pulled_is_rejected() {
        let (tx, mut reports) = mpsc::unbounded_channel();
        let mut reconciler = Reconciler::new(
            Arc::new(Refusing::new(|task| ExecutorError::Pull {
                image: task.spec.container.image.clone(),
                reason: "manifest unknown".into(),
            })),
            tx,
        );
        let mut t1 = task("t1");
        t1.spec.container.image = "nope:1".into();
        reconciler.apply(message(true, &[&t1], &[]));
        let mut last = None;
        while let Some((_, status)) = reports.recv().await {
            let done = status.state.is_terminal();
            last = Some(status);
            if done {
                break;
            }
        }
        let rejected = last.unwrap();
        assert_eq!(rejected.state, TaskState::Rejected);
        assert_eq!(rejected.err, "cannot pull image nope:1: manifest unknown");
    }

    /// The last status reported for `task_id` once it is terminal.
    async fn ended(reports: &mut mpsc::UnboundedReceiver<Report>, task_id: &str) -> TaskStatus {
        loop {
            let (id, status) = tokio::time::timeout(Duration::from_secs(5), reports.recv())
                .await
                .unwrap()
                .unwrap();
            if id == task_id && status.state.is_terminal() {
                return status;
            }
        }
    }

    #[tokio::test]
    async fn a_task_is_prepared_with_its_delivered_secrets_and_configs() {
        use hoist_api::cluster_proto::FileData;
        use hoist_api::service::FileReference;

        let executor = Arc::new(Refusing::new(|_| ExecutorError::Runtime("recorded".into())));
        let (tx, mut reports) = mpsc::unbounded_channel();
        let mut reconciler = Reconciler::new(executor.clone(), tx);
        let mut t1 = task("t1");
        t1.spec.secrets = vec![FileReference {
            name: "db_pw".into(),
            id: "s1".into(),
            target: "/run/secrets/db_pw".into(),
            uid: "33".into(),
            gid: "44".into(),
            mode: 0o400,
        }];
        t1.spec.configs = vec![FileReference {
            name: "site".into(),
            id: "c1".into(),
            target: "/etc/site.conf".into(),
            uid: "0".into(),
            gid: "0".into(),
            mode: 0,
        }];
        let mut t2 = task("t2");
        t2.spec.secrets = vec![FileReference {
            name: "gone".into(),
            id: "s9".into(),
            target: "/run/secrets/gone".into(),
            ..FileReference::default()
        }];
        let mut assigned = message(true, &[&t1, &t2], &[]);
        assigned.secrets = vec![FileData {
            id: "s1".into(),
            data: b"hunter2".to_vec(),
        }];
        assigned.configs = vec![FileData {
            id: "c1".into(),
            data: b"listen 80;".to_vec(),
        }];
        reconciler.apply(assigned);
        ended(&mut reports, "t1").await;
        let rejected = ended(&mut reports, "t2").await;
        assert_eq!(rejected.state, TaskState::Rejected);
        assert!(
            rejected.err.contains("secret gone was not delivered"),
            "{}",
            rejected.err
        );
        let prepared = executor.prepared.lock().unwrap().clone();
        assert_eq!(prepared.len(), 1, "t2 is never prepared: {prepared:?}");
        let (id, files) = &prepared[0];
        assert_eq!(id, "t1");
        assert_eq!(
            files,
            &vec![
                InlineFile {
                    target: "/run/secrets/db_pw".into(),
                    data: b"hunter2".to_vec(),
                    uid: 33,
                    gid: 44,
                    mode: 0o400,
                },
                InlineFile {
                    target: "/etc/site.conf".into(),
                    data: b"listen 80;".to_vec(),
                    uid: 0,
                    gid: 0,
                    mode: 0o444,
                },
            ]
        );
    }
}
