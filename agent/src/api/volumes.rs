//! The Volumes gRPC service.

use std::sync::Arc;

use hoist_api::events::EventType;
use hoist_api::proto::volumes_server::Volumes;
use hoist_api::proto::{
    CreateVolumeRequest, Empty, ListVolumesRequest, ListVolumesResponse, PruneResponse,
    PruneVolumesRequest, RemoveVolumeRequest, Volume, VolumeRef,
};
use hoist_runtime::volume::Volume as StoredVolume;
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::daemon::Daemon;
use crate::error::{conflict, from_volume, invalid};

/// Serves volume requests against a daemon.
#[derive(Debug, Clone)]
pub struct VolumesApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

fn message(volume: StoredVolume, used_by: Vec<String>) -> Volume {
    Volume {
        name: volume.name,
        driver: "local".into(),
        mountpoint: volume.mountpoint.display().to_string(),
        created_at: volume.created_at,
        labels: volume.labels.into_iter().collect(),
        options: volume.options.into_iter().collect(),
        scope: "local".into(),
        anonymous: volume.anonymous,
        used_by,
    }
}

/// Docker's `volume ls --filter` keys.
fn matches(volume: &Volume, filter: &str) -> Result<bool, Status> {
    let (key, value) = filter
        .split_once('=')
        .ok_or_else(|| invalid(format!("bad filter {filter:?}: use key=value")))?;
    Ok(match key {
        "name" => volume.name.contains(value),
        "driver" => volume.driver == value,
        "dangling" => (value == "true") == volume.used_by.is_empty(),
        "label" => match value.split_once('=') {
            Some((k, v)) => volume.labels.get(k).is_some_and(|l| l == v),
            None => volume.labels.contains_key(value),
        },
        _ => {
            return Err(invalid(format!(
                "unknown volume filter {key:?}: use name, driver, dangling or label"
            )));
        }
    })
}

#[tonic::async_trait]
impl Volumes for VolumesApi {
    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create(
        &self,
        request: Request<CreateVolumeRequest>,
    ) -> Result<Response<Volume>, Status> {
        let request = request.into_inner();
        let name = (!request.name.is_empty()).then_some(request.name.as_str());
        let volume = self.daemon.create_volume(
            name,
            &request.driver,
            request.labels.into_iter().collect(),
            request.options.into_iter().collect(),
        )?;
        let used_by = self.daemon.volume_users(&volume.name).await;
        Ok(Response::new(message(volume, used_by)))
    }

    #[instrument(skip_all)]
    async fn list(
        &self,
        request: Request<ListVolumesRequest>,
    ) -> Result<Response<ListVolumesResponse>, Status> {
        let filters = request.into_inner().filters;
        let mut volumes = Vec::new();
        for volume in self.daemon.volumes.list().map_err(from_volume)? {
            let used_by = self.daemon.volume_users(&volume.name).await;
            let volume = message(volume, used_by);
            if filters
                .iter()
                .map(|f| matches(&volume, f))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|m| m)
            {
                volumes.push(volume);
            }
        }
        Ok(Response::new(ListVolumesResponse { volumes }))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn inspect(&self, request: Request<VolumeRef>) -> Result<Response<Volume>, Status> {
        let volume = self
            .daemon
            .volumes
            .get(&request.get_ref().name)
            .map_err(from_volume)?;
        let used_by = self.daemon.volume_users(&volume.name).await;
        Ok(Response::new(message(volume, used_by)))
    }

    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn remove(
        &self,
        request: Request<RemoveVolumeRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let volume = self
            .daemon
            .volumes
            .get(&request.name)
            .map_err(from_volume)?;
        let users = self.daemon.volume_users(&volume.name).await;
        if !users.is_empty() {
            return Err(conflict(format!(
                "remove {}: volume is in use - [{}]: remove those containers first",
                volume.name,
                users.join(", ")
            )));
        }
        self.daemon.remove_volume(&volume.name)?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all)]
    async fn prune(
        &self,
        request: Request<PruneVolumesRequest>,
    ) -> Result<Response<PruneResponse>, Status> {
        let request = request.into_inner();
        let mut deleted = Vec::new();
        let mut space_reclaimed = 0;
        for volume in self.daemon.volumes.list().map_err(from_volume)? {
            if !(request.all || volume.anonymous)
                || !self.daemon.volume_users(&volume.name).await.is_empty()
            {
                continue;
            }
            let candidate = message(volume.clone(), Vec::new());
            if !request
                .filters
                .iter()
                .map(|f| matches(&candidate, f))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|m| m)
            {
                continue;
            }
            space_reclaimed += self.daemon.remove_volume(&volume.name)?;
            deleted.push(volume.name);
        }
        self.daemon.prune_event(EventType::Volume, space_reclaimed);
        Ok(Response::new(PruneResponse {
            deleted,
            space_reclaimed,
        }))
    }
}
