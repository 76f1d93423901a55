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
use crate::error::{conflict, from_filter, from_volume};
use hoist_api::filters::{Filters, Patterns};

/// Serves volume requests against a daemon.
#[derive(Debug, Clone)]
pub struct VolumesApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

/// A volume as the API shows it, with the containers using it.
pub(super) fn message(volume: StoredVolume, used_by: Vec<String>) -> Volume {
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
const LIST_KEYS: [&str; 4] = ["name", "driver", "dangling", "label"];
/// Docker's `volume prune --filter` keys (`all=true` is `--all`).
const PRUNE_KEYS: [&str; 3] = ["label", "label!", "all"];

/// Which volumes a listing or prune takes.
struct VolumeFilter {
    filters: Filters,
    names: Patterns,
    dangling: Option<bool>,
}

impl VolumeFilter {
    fn parse(given: &[String], what: &'static str, keys: &[&str]) -> Result<Self, Status> {
        let filters = Filters::parse(given, what, keys).map_err(from_filter)?;
        Ok(Self {
            names: filters.patterns("name"),
            dangling: filters.boolean("dangling").map_err(from_filter)?,
            filters,
        })
    }

    fn selects(&self, volume: &Volume) -> bool {
        self.names.matches(&volume.name)
            && self.filters.exact("driver", &volume.driver)
            && self.dangling.is_none_or(|d| d == volume.used_by.is_empty())
            && self
                .filters
                .labels_match(|k| volume.labels.get(k).map(String::as_str))
    }
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
        let filter = VolumeFilter::parse(&request.into_inner().filters, "volume ls", &LIST_KEYS)?;
        let mut volumes = Vec::new();
        for volume in self.daemon.volumes.list().map_err(from_volume)? {
            let used_by = self.daemon.volume_users(&volume.name).await;
            let volume = message(volume, used_by);
            if filter.selects(&volume) {
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
        let filter = VolumeFilter::parse(&request.filters, "volume prune", &PRUNE_KEYS)?;
        let all = request.all
            || filter
                .filters
                .boolean("all")
                .map_err(from_filter)?
                .unwrap_or(false);
        let mut deleted = Vec::new();
        let mut space_reclaimed = 0;
        for volume in self.daemon.volumes.list().map_err(from_volume)? {
            if !(all || volume.anonymous)
                || !self.daemon.volume_users(&volume.name).await.is_empty()
            {
                continue;
            }
            if !filter.selects(&message(volume.clone(), Vec::new())) {
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
