//! `hoist update`: new resource limits and restart policy for a container,
//! checked as at create, saved in its record and, while it runs, written
//! into its cgroup at once.

use hoist_api::spec::ContainerUpdate;
use tonic::Status;
use tracing::info;

use super::Container;
use super::create;
use super::record::Status as RunStatus;
use crate::daemon::Daemon;
use crate::error::{internal, invalid};

impl Daemon {
    /// Applies `update` to `container`; returns Docker-style warnings.
    pub async fn update_container(
        &self,
        container: &Container,
        update: &ContainerUpdate,
    ) -> Result<Vec<String>, Status> {
        if update.is_empty() {
            return Err(invalid(
                "nothing to update: give at least one flag (--memory, --cpus, --restart, …)",
            ));
        }
        let mut record = container.record.lock().await;
        if update.restart_policy.is_some() && record.spec.auto_remove {
            return Err(invalid(format!(
                "cannot update the restart policy of {}: it is removed when it exits (--rm)",
                record.name
            )));
        }
        let mut spec = record.spec.clone();
        update.apply(&mut spec);
        create::validate(&spec)?;
        // Warned of as at create, for the values this update sets.
        let warnings = self.discarded_limits(&hoist_api::spec::Resources {
            blkio_weight: update.blkio_weight.unwrap_or(0),
            ..Default::default()
        });
        let live = matches!(
            record.state.status,
            RunStatus::Running | RunStatus::Paused | RunStatus::Restarting
        );
        if live {
            let cgroup = self.container_cgroup(container);
            let resources = spec.resources.clone();
            tokio::task::spawn_blocking(move || cgroup.apply(&resources))
                .await
                .map_err(|e| internal(e.to_string()))?
                .map_err(|e| {
                    invalid(format!(
                        "cannot update the limits of running container {}: {e}",
                        record.name
                    ))
                })?;
        }
        record.spec = spec;
        let dir = self.config.container_dir(&record.id);
        let saved = if record.spec.auto_remove {
            record.save_state(&dir)
        } else {
            record.save(&dir)
        };
        saved.map_err(|e| internal(format!("cannot save the container record: {e}")))?;
        info!(id = %record.id, live, "container updated");
        self.container_event(&record, "update", &[]);
        Ok(warnings)
    }
}
