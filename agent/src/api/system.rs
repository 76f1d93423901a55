//! The System gRPC service: versions, daemon facts and the event stream.

use std::sync::Arc;

use hoist_api::proto::system_server::System;
use hoist_api::proto::{
    EventMessage, EventsRequest, InfoRequest, InfoResponse, VersionRequest, VersionResponse,
};
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::containers::ResponseStream;
use crate::containers::record::Status as RunStatus;
use crate::daemon::Daemon;
use crate::error::internal;

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

    type EventsStream = ResponseStream<EventMessage>;

    #[instrument(skip_all, fields(since = request.get_ref().since, until = request.get_ref().until, filters = ?request.get_ref().filters))]
    async fn events(
        &self,
        request: Request<EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        super::events::open(&self.daemon, request.into_inner()).map(Response::new)
    }
}
