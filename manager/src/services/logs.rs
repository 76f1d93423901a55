//! Which tasks `service logs` shows, and what names them: the caller names
//! services or tasks; each task placed on a node counts, running or
//! exited (their containers stay until the task history is pruned).

use hoist_api::cluster_proto::LogTask;

use super::ServiceError;
use super::view::sort_for_ps;
use crate::manager::Manager;
use crate::store::objects::{Node, Task};
use crate::store::{Lookup, lookup};

impl Manager {
    /// The placed tasks of the services or tasks `targets` name (a
    /// service's ID, name or unique ID prefix; a task's ID or unique ID
    /// prefix), in `service ps` order, each once.
    pub fn log_tasks(&self, targets: &[String]) -> Result<Vec<Task>, ServiceError> {
        let all = self.store.list::<Task>();
        let mut chosen: Vec<Task> = Vec::new();
        for target in targets {
            let matching: Vec<Task> = match self.find_service(target) {
                Ok(service) => all
                    .iter()
                    .filter(|t| t.service_id == service.meta.id)
                    .cloned()
                    .collect(),
                Err(ServiceError::NotFound(_)) => vec![find_task(&all, target)?],
                Err(e) => return Err(e),
            };
            for task in matching {
                if !task.node_id.is_empty() && !chosen.iter().any(|t| t.meta.id == task.meta.id) {
                    chosen.push(task);
                }
            }
        }
        sort_for_ps(&mut chosen);
        Ok(chosen)
    }
}

/// The task `reference` names: its ID or a unique ID prefix.
fn find_task(tasks: &[Task], reference: &str) -> Result<Task, ServiceError> {
    match lookup(tasks.to_vec(), reference, |t| &t.meta.id) {
        Lookup::Found(task) => Ok(task),
        Lookup::Missing => Err(ServiceError::NotFound(format!(
            "{reference} (no service or task has that name or ID)"
        ))),
        Lookup::Ambiguous(count) => Err(ServiceError::Ambiguous {
            reference: reference.to_string(),
            count,
        }),
    }
}

/// What names `task` in log lines, its node's hostname from `nodes`.
pub fn log_task(task: &Task, nodes: &[Node]) -> LogTask {
    LogTask {
        task_id: task.meta.id.clone(),
        service_id: task.service_id.clone(),
        service_name: task.service_name.clone(),
        slot: task.slot,
        node_id: task.node_id.clone(),
        node_hostname: nodes
            .iter()
            .find(|n| n.meta.id == task.node_id)
            .map(|n| n.description.hostname.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> Task {
        let mut task = Task::default();
        task.meta.id = id.into();
        task
    }

    #[test]
    fn a_task_is_found_by_id_or_unique_prefix() {
        let tasks = [task("abc1"), task("abc2"), task("abd")];
        assert_eq!(find_task(&tasks, "abc1").unwrap().meta.id, "abc1");
        assert_eq!(find_task(&tasks, "abd").unwrap().meta.id, "abd");
        assert!(matches!(
            find_task(&tasks, "abc"),
            Err(ServiceError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            find_task(&tasks, "zz"),
            Err(ServiceError::NotFound(_))
        ));
    }
}
