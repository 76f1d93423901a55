//! The System gRPC service: versions, daemon facts, disk use and the
//! event stream.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hoist_api::proto::system_server::System;
use hoist_api::proto::{
    BuildCacheUsage, ContainerUsage, DiskUsageRequest, DiskUsageResponse, EventMessage,
    EventsRequest, ImageUsage, InfoRequest, InfoResponse, VersionRequest, VersionResponse,
    VolumeUsage,
};
use hoist_runtime::fsutil::disk_usage;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::containers::ResponseStream;
use crate::containers::record::Status as RunStatus;
use crate::containers::view;
use crate::daemon::Daemon;
use crate::error::{from_image, from_volume, internal};

/// Serves system requests.
#[derive(Debug, Clone)]
pub struct SystemApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

#[tonic::async_trait]
impl System for SystemApi {
    async fn version(
        &self,
        _request: Request<VersionRequest>,
    ) -> Result<Response<VersionResponse>, Status> {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Response::new(VersionResponse {
            version: hoist_api::VERSION.into(),
            api_version: hoist_api::API_VERSION.into(),
            git_commit: option_env!("HOIST_GIT_COMMIT").unwrap_or("").into(),
            os: std::env::consts::OS.into(),
            arch: hoist_runtime::image::config::host_architecture().into(),
            kernel_version: kernel,
            pid: std::process::id(),
        }))
    }

    async fn info(&self, _request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let mut counts = [0usize; 3];
        for container in self.daemon.containers.all() {
            match container.record.lock().await.state.status {
                RunStatus::Running => counts[0] += 1,
                RunStatus::Paused => counts[1] += 1,
                _ => counts[2] += 1,
            }
        }
        let images = self.daemon.images.list().map(|l| l.len()).unwrap_or(0);
        let info = serde_json::json!({
            "Containers": counts.iter().sum::<usize>(),
            "ContainersRunning": counts[0],
            "ContainersPaused": counts[1],
            "ContainersStopped": counts[2],
            "Images": images,
            "Driver": "overlay2",
            "CgroupVersion": match self.daemon.hierarchy.version { hoist_runtime::cgroup::Version::V1 => "1", hoist_runtime::cgroup::Version::V2 => "2" },
            "CgroupParent": self.daemon.config.cgroup_parent,
            "DockerRootDir": self.daemon.config.root,
            "ExecRoot": self.daemon.config.exec_root,
            "ServerVersion": hoist_api::VERSION,
            "LiveRestoreEnabled": true,
        });
        let info_json = serde_json::to_vec(&info).map_err(|e| internal(e.to_string()))?;
        Ok(Response::new(InfoResponse { info_json }))
    }

    #[instrument(skip_all)]
    async fn disk_usage(
        &self,
        _request: Request<DiskUsageRequest>,
    ) -> Result<Response<DiskUsageResponse>, Status> {
        let mut users: BTreeMap<String, i32> = BTreeMap::new();
        let mut containers = Vec::new();
        for container in self.daemon.containers.all() {
            let record = container.record.lock().await;
            *users.entry(record.image_id.clone()).or_default() += 1;
            containers.push(view::summary(&record));
        }
        let mut volumes = Vec::new();
        for volume in self.daemon.volumes.list().map_err(from_volume)? {
            let used_by = self.daemon.volume_users(&volume.name).await;
            volumes.push(super::volumes::message(volume, used_by));
        }
        let daemon = self.daemon.clone();
        let usage = tokio::task::spawn_blocking(move || {
            let images = daemon.images.list().map_err(from_image)?;
            let mut holders: BTreeMap<&str, usize> = BTreeMap::new();
            for chain in images.iter().flat_map(|i| i.chain_ids.iter()) {
                *holders.entry(chain.as_str()).or_default() += 1;
            }
            let layer_size = |chain: &str| daemon.images.layer_size(chain);
            let layers_size = holders.keys().map(|chain| layer_size(chain)).sum();
            let images = images
                .iter()
                .map(|image| ImageUsage {
                    image: Some(super::images::summary(
                        image,
                        users.get(&image.id).copied().unwrap_or(0),
                    )),
                    shared_size: image
                        .chain_ids
                        .iter()
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .filter(|chain| holders.get(chain.as_str()).is_some_and(|n| *n > 1))
                        .map(|chain| layer_size(chain))
                        .sum(),
                })
                .collect();
            let containers = containers
                .into_iter()
                .map(|summary| ContainerUsage {
                    size_rw: daemon.config.writable_layer_size(&summary.id),
                    container: Some(summary),
                })
                .collect();
            let volumes = volumes
                .into_iter()
                .map(|volume| VolumeUsage {
                    size: disk_usage(std::path::Path::new(&volume.mountpoint)),
                    volume: Some(volume),
                })
                .collect();
            let build_cache = daemon
                .images
                .build_cache_entries()
                .map_err(from_image)?
                .into_iter()
                .map(|entry| BuildCacheUsage {
                    kind: if entry.cache_mount {
                        "exec.cachemount"
                    } else {
                        "regular"
                    }
                    .to_string(),
                    id: entry.id,
                    size: entry.size,
                    in_use: entry.in_use,
                    last_used: entry.last_used,
                    description: entry.description,
                })
                .collect();
            Ok::<_, Status>(DiskUsageResponse {
                layers_size,
                images,
                containers,
                volumes,
                build_cache,
            })
        })
        .await
        .map_err(|e| internal(format!("measuring disk use failed: {e}")))??;
        Ok(Response::new(usage))
    }

    type EventsStream = ResponseStream<EventMessage>;

    #[instrument(skip_all, fields(since = request.get_ref().since, until = request.get_ref().until, filters = ?request.get_ref().filters))]
    async fn events(
        &self,
        request: Request<EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        super::events::open(&self.daemon, request.into_inner()).map(Response::new)
    }
}
