//! `docker commit` and `docker diff`: a container's own layer, as a list of
//! changes or as a new image.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use hoist_runtime::image::changes::apply_changes;
use hoist_runtime::image::commit::CommitStep;
use hoist_runtime::image::diff::{Change, changes, write_layer};
use tonic::Status;

use super::Container;
use super::oci::lower_dirs;
use super::record::Status as RunStatus;
use crate::daemon::Daemon;
use crate::error::{from_image, internal, invalid};

/// What `commit` asks for besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// Repository[:tag] for the new image.
    pub reference: String,
    /// History comment (`-m`).
    pub comment: String,
    /// Author (`-a`).
    pub author: String,
    /// Dockerfile instructions applied to the config (`-c`).
    pub changes: Vec<String>,
    /// Freeze the container while its layer is read (`--pause`, default).
    pub pause: bool,
}

impl Daemon {
    /// `docker diff`: what the container changed, relative to its image.
    pub async fn diff_container(&self, container: &Arc<Container>) -> Result<Vec<Change>, Status> {
        let (upper, lowers) = {
            let record = container.record.lock().await;
            let layers_root = self.images.layers_root();
            let lowers: Vec<PathBuf> = lower_dirs(&self.config, &record)
                .iter()
                .map(|l| layers_root.join(l))
                .collect();
            (self.config.upper_dir(&record.id), lowers)
        };
        tokio::task::spawn_blocking(move || changes(&upper, &lowers))
            .await
            .map_err(|e| internal(format!("diff task failed: {e}")))?
            .map_err(|e| internal(format!("cannot read the container's changes: {e}")))
    }

    /// `docker commit`: the container's layer on top of its image, with its
    /// settings (changed by `changes`) as the new image's defaults.
    pub async fn commit_container(
        &self,
        container: &Arc<Container>,
        request: CommitRequest,
    ) -> Result<String, Status> {
        let record = container.record.lock().await.clone();
        let image = self.images.resolve(&record.image_id).map_err(from_image)?;
        let mut run_config = image.config.config.clone();
        let settings = &record.settings;
        run_config.env = settings
            .env
            .iter()
            .filter(|e| !e.starts_with("HOSTNAME="))
            .cloned()
            .collect();
        run_config.entrypoint = Some(settings.entrypoint.clone()).filter(|e| !e.is_empty());
        run_config.cmd = Some(settings.cmd.clone()).filter(|c| !c.is_empty());
        run_config.working_dir = settings.working_dir.clone();
        run_config.user = settings.user.clone();
        run_config.labels = settings.labels.clone();
        run_config.stop_signal = settings.stop_signal.clone();
        run_config.healthcheck = settings.healthcheck.clone();
        run_config.exposed_ports = settings
            .exposed_ports
            .iter()
            .map(|p| (p.clone(), Default::default()))
            .collect();
        apply_changes(&mut run_config, &request.changes).map_err(|e| invalid(e.to_string()))?;
        let freeze = request.pause && record.state.status == RunStatus::Running;
        if freeze {
            self.pause_container(container).await?;
        }
        let upper = self.config.upper_dir(&record.id);
        let layer = self.images.temp_path("commit");
        let layer_for_write = layer.clone();
        let written = tokio::task::spawn_blocking(move || {
            write_layer(&upper, File::create(&layer_for_write)?)
        })
        .await
        .map_err(|e| internal(format!("commit task failed: {e}")));
        if freeze {
            let _ = self.unpause_container(container).await;
        }
        let result = match written {
            Ok(Ok(_)) => {
                let created_by = record.settings.command().join(" ");
                let reference =
                    (!request.reference.is_empty()).then_some(request.reference.as_str());
                let step = CommitStep {
                    run_config,
                    comment: &request.comment,
                    author: &request.author,
                    created_by: &created_by,
                    reference,
                };
                tokio::task::block_in_place(|| self.images.commit(&image, &layer, step))
                    .map_err(from_image)
            }
            Ok(Err(e)) => Err(internal(format!("cannot write the container's layer: {e}"))),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&layer);
        if let Ok(id) = &result {
            self.container_event(
                &record,
                "commit",
                &[
                    ("comment", request.comment.clone()),
                    ("imageID", id.clone()),
                    ("imageRef", request.reference.clone()),
                ],
            );
        }
        result
    }
}
