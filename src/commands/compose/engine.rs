//! The daemon calls `hoist compose` makes: finding the project's
//! containers by their labels, and making and removing networks, volumes
//! and containers. Every error names the resource it was about.

use hoist_api::inspect::ContainerInspect;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::networks_client::NetworksClient;
use hoist_api::proto::volumes_client::VolumesClient;
use hoist_api::proto::{
    ConnectNetworkRequest, ContainerRef, ContainerSummary, CreateContainerRequest,
    CreateNetworkRequest, CreateVolumeRequest, ImageRef, ImageSummary, KillRequest,
    ListContainersRequest, ListImagesRequest, LogEntry, LogsRequest, NetworkRef,
    RemoveContainerRequest, RemoveImageRequest, RemoveVolumeRequest, StopRequest, TopRequest,
    TopResponse, VolumeRef, WaitRequest,
};
use hoist_api::spec::ContainerSpec;
use hoist_compose::plan::{NetworkPlan, VolumePlan, labels};
use tonic::Code;
use tonic::transport::Channel;

use super::events::{Kind, event};
use crate::commands::registry::fetch_image;
use crate::exit::{CliError, CliResult};

/// Which part of a container's log to read.
#[derive(Debug, Clone, Copy)]
pub struct LogQuery {
    /// Keep reading until the container stops.
    pub follow: bool,
    /// Lines from the end; negative: all.
    pub tail: i64,
    /// Unix nanoseconds; 0: from the start.
    pub since: i64,
    /// Unix nanoseconds; 0: to the end.
    pub until: i64,
}

/// Why a network could not be removed.
#[derive(Debug)]
pub enum NetworkRemovalError {
    /// Containers are still on it (the daemon's words).
    InUse(String),
    /// Any other failure.
    Failed(CliError),
}

/// The local daemon, as compose uses it.
#[derive(Clone)]
pub struct Engine {
    channel: Channel,
}

impl Engine {
    /// An engine over a connected channel.
    pub fn new(channel: Channel) -> Self {
        Self { channel }
    }

    /// The connection, for commands shared with the plain CLI.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn containers_client(&self) -> ContainersClient<Channel> {
        ContainersClient::new(self.channel.clone())
    }

    /// The project's containers (`all`: stopped ones too), oldest first.
    pub async fn project_containers(
        &self,
        project: &str,
        all: bool,
    ) -> CliResult<Vec<ContainerSummary>> {
        self.labelled_containers(format!("label={}={project}", labels::PROJECT), all)
            .await
    }

    /// The containers of every compose project on the daemon (`all`:
    /// stopped ones too), oldest first.
    pub async fn compose_containers(&self, all: bool) -> CliResult<Vec<ContainerSummary>> {
        self.labelled_containers(format!("label={}", labels::PROJECT), all)
            .await
    }

    /// The containers `filter` selects, oldest first.
    async fn labelled_containers(
        &self,
        filter: String,
        all: bool,
    ) -> CliResult<Vec<ContainerSummary>> {
        let mut containers = self
            .containers_client()
            .list(ListContainersRequest {
                all,
                filters: vec![filter],
                last: 0,
                size: false,
            })
            .await
            .map_err(CliError::from)?
            .into_inner()
            .containers;
        containers.sort_by_key(|c| c.created);
        Ok(containers)
    }

    /// The running container of `service` with number `index`.
    pub async fn service_container(
        &self,
        project: &str,
        service: &str,
        index: u32,
    ) -> CliResult<ContainerSummary> {
        let number = index.to_string();
        self.project_containers(project, false)
            .await?
            .into_iter()
            .find(|c| {
                c.labels.get(labels::SERVICE).map(String::as_str) == Some(service)
                    && c.labels.get(labels::NUMBER) == Some(&number)
                    && c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True")
            })
            .ok_or_else(|| {
                CliError::client(format!(
                    "service {service:?} is not running (container #{index}): start it with 'hoist compose up -d {service}'"
                ))
            })
    }

    /// The ID of a local image, or `None` when there is no such image.
    pub async fn image_id(&self, reference: &str) -> CliResult<Option<String>> {
        let found = ImagesClient::new(self.channel.clone())
            .inspect(ImageRef {
                reference: reference.to_string(),
            })
            .await;
        let json = match found {
            Ok(response) => response.into_inner().json,
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(status.into()),
        };
        let document: serde_json::Value = serde_json::from_slice(&json).map_err(|e| {
            CliError::client(format!(
                "the daemon's inspect of image {reference} is unreadable: {e}"
            ))
        })?;
        Ok(document["Id"].as_str().map(str::to_string))
    }

    /// Removes an image by name (a missing one is fine); returns whether
    /// it was there.
    pub async fn remove_image(&self, reference: &str) -> CliResult<bool> {
        let result = ImagesClient::new(self.channel.clone())
            .remove(RemoveImageRequest {
                reference: reference.to_string(),
                force: false,
                no_prune: false,
            })
            .await;
        removed(result, "image", reference)
    }

    /// Makes a network unless it exists (calling `creating` first); an
    /// external one must exist. Returns whether it was created.
    pub async fn ensure_network(
        &self,
        plan: &NetworkPlan,
        creating: impl FnOnce(),
    ) -> CliResult<bool> {
        let mut client = NetworksClient::new(self.channel.clone());
        let lookup = client
            .inspect(NetworkRef {
                name: plan.name.clone(),
            })
            .await;
        if found(lookup)? {
            return Ok(false);
        }
        if plan.external {
            return Err(CliError::client(format!(
                "network {} declared as external, but could not be found: create it with 'hoist network create {}'",
                plan.name, plan.name
            )));
        }
        creating();
        client
            .create(CreateNetworkRequest {
                name: plan.name.clone(),
                driver: plan.driver.clone(),
                subnet: plan.subnet.clone().unwrap_or_default(),
                gateway: plan.gateway.clone().unwrap_or_default(),
                ip_range: plan.ip_range.clone().unwrap_or_default(),
                internal: plan.internal,
                attachable: true,
                labels: plan.labels.clone().into_iter().collect(),
                options: plan.options.clone().into_iter().collect(),
            })
            .await
            .map_err(|s| named(s, "network", &plan.name))?;
        Ok(true)
    }

    /// Removes a network: `Ok(true)` when removed, `Ok(false)` when it
    /// was not there; a network still in use (a container of another
    /// profile or project on it) is an error the caller may only warn of.
    pub async fn remove_network(&self, name: &str) -> Result<bool, NetworkRemovalError> {
        let result = NetworksClient::new(self.channel.clone())
            .remove(NetworkRef {
                name: name.to_string(),
            })
            .await;
        match result {
            Err(status) if status.code() == Code::FailedPrecondition => {
                Err(NetworkRemovalError::InUse(status.message().to_string()))
            }
            other => removed(other, "network", name).map_err(NetworkRemovalError::Failed),
        }
    }

    /// Makes a volume unless it exists (calling `creating` first); an
    /// external one must exist. Returns whether it was created.
    pub async fn ensure_volume(
        &self,
        plan: &VolumePlan,
        creating: impl FnOnce(),
    ) -> CliResult<bool> {
        let mut client = VolumesClient::new(self.channel.clone());
        let lookup = client
            .inspect(VolumeRef {
                name: plan.name.clone(),
            })
            .await;
        if found(lookup)? {
            return Ok(false);
        }
        if plan.external {
            return Err(CliError::client(format!(
                "external volume {:?} not found: create it with 'hoist volume create {}'",
                plan.name, plan.name
            )));
        }
        creating();
        client
            .create(CreateVolumeRequest {
                name: plan.name.clone(),
                driver: "local".into(),
                labels: plan.labels.clone().into_iter().collect(),
                options: Default::default(),
            })
            .await
            .map_err(|s| named(s, "volume", &plan.name))?;
        Ok(true)
    }

    /// Removes a volume (a missing one is fine).
    pub async fn remove_volume(&self, name: &str) -> CliResult<bool> {
        let result = VolumesClient::new(self.channel.clone())
            .remove(RemoveVolumeRequest {
                name: name.to_string(),
                force: false,
            })
            .await;
        removed(result, "volume", name)
    }

    /// Creates a container, pulling its image first when it is missing.
    pub async fn create_container(&self, name: &str, spec: &ContainerSpec) -> CliResult<String> {
        let request = CreateContainerRequest {
            name: name.to_string(),
            spec_json: serde_json::to_vec(spec).map_err(|e| CliError::client(e.to_string()))?,
        };
        let attempt = || async {
            self.containers_client()
                .create(request.clone())
                .await
                .map(|r| r.into_inner().id)
                .map_err(CliError::from)
        };
        match attempt().await {
            Err(e) if e.from_daemon && e.message.starts_with("No such image") => {
                let platform = (!spec.platform.is_empty()).then_some(spec.platform.as_str());
                event(Kind::Image, &spec.image, "Pulling");
                fetch_image(self.channel.clone(), &spec.image, platform, true, true).await?;
                event(Kind::Image, &spec.image, "Pulled");
                attempt().await
            }
            other => other,
        }
    }

    /// Connects a created container to one more network.
    pub async fn connect(
        &self,
        network: &str,
        container: &str,
        aliases: &[String],
        ipv4_address: Option<&str>,
    ) -> CliResult {
        NetworksClient::new(self.channel.clone())
            .connect_container(ConnectNetworkRequest {
                network: network.to_string(),
                container: container.to_string(),
                aliases: aliases.to_vec(),
                ipv4_address: ipv4_address.unwrap_or_default().to_string(),
            })
            .await
            .map_err(|s| named(s, "network", network))?;
        Ok(())
    }

    /// Starts a container.
    pub async fn start(&self, id: &str) -> CliResult {
        self.containers_client()
            .start(ContainerRef { id: id.to_string() })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// Stops a container (its own stop timeout unless `timeout`).
    pub async fn stop(&self, id: &str, timeout: Option<i32>) -> CliResult {
        self.containers_client()
            .stop(StopRequest {
                id: id.to_string(),
                timeout,
                signal: String::new(),
            })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// Stops a container and starts it again (a stopped one is only
    /// started); its own stop timeout unless `timeout`.
    pub async fn restart(&self, id: &str, timeout: Option<i32>) -> CliResult {
        self.containers_client()
            .restart(StopRequest {
                id: id.to_string(),
                timeout,
                signal: String::new(),
            })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// Freezes every process of a container.
    pub async fn pause(&self, id: &str) -> CliResult {
        self.containers_client()
            .pause(ContainerRef { id: id.to_string() })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// Thaws a paused container.
    pub async fn unpause(&self, id: &str) -> CliResult {
        self.containers_client()
            .unpause(ContainerRef { id: id.to_string() })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// A running container's processes, as `ps -ef` shows them.
    pub async fn top(&self, id: &str) -> CliResult<TopResponse> {
        Ok(self
            .containers_client()
            .top(TopRequest {
                id: id.to_string(),
                ps_args: Vec::new(),
            })
            .await
            .map_err(CliError::from)?
            .into_inner())
    }

    /// Every image the daemon has.
    pub async fn images(&self) -> CliResult<Vec<ImageSummary>> {
        Ok(ImagesClient::new(self.channel.clone())
            .list(ListImagesRequest {
                all: true,
                filters: Vec::new(),
                reference: String::new(),
            })
            .await
            .map_err(CliError::from)?
            .into_inner()
            .images)
    }

    /// Sends a signal to a container.
    pub async fn kill(&self, id: &str, signal: &str) -> CliResult {
        self.containers_client()
            .kill(KillRequest {
                id: id.to_string(),
                signal: signal.to_string(),
            })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// Removes a container, with its anonymous volumes when `volumes`.
    pub async fn remove(&self, id: &str, volumes: bool) -> CliResult {
        self.containers_client()
            .remove(RemoveContainerRequest {
                id: id.to_string(),
                force: true,
                volumes,
            })
            .await
            .map_err(CliError::from)?;
        Ok(())
    }

    /// The container's inspect document.
    pub async fn inspect(&self, id: &str) -> CliResult<ContainerInspect> {
        let json = self
            .containers_client()
            .inspect(ContainerRef { id: id.to_string() })
            .await
            .map_err(CliError::from)?
            .into_inner()
            .json;
        serde_json::from_slice(&json).map_err(|e| {
            CliError::client(format!("the daemon's inspect of {id} is unreadable: {e}"))
        })
    }

    /// A container's log, both streams.
    pub async fn logs(&self, id: &str, query: LogQuery) -> CliResult<tonic::Streaming<LogEntry>> {
        Ok(self
            .containers_client()
            .logs(LogsRequest {
                id: id.to_string(),
                follow: query.follow,
                tail: query.tail,
                since: query.since,
                until: query.until,
                stdout: true,
                stderr: true,
                details: false,
            })
            .await
            .map_err(CliError::from)?
            .into_inner())
    }

    /// Waits for a container to stop; returns its exit code.
    pub async fn wait(&self, id: &str) -> CliResult<i32> {
        let status = self
            .containers_client()
            .wait(WaitRequest {
                id: id.to_string(),
                condition: String::new(),
            })
            .await
            .map_err(CliError::from)?
            .into_inner();
        Ok(status.code)
    }
}

/// A removal's outcome: whether the resource was there (a missing one is
/// fine).
fn removed<T>(result: Result<T, tonic::Status>, kind: &str, name: &str) -> CliResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(named(status, kind, name)),
    }
}

/// A lookup's outcome: whether the resource exists.
fn found<T>(result: Result<T, tonic::Status>) -> CliResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(status.into()),
    }
}

/// A daemon error about a named resource, saying which.
fn named(status: tonic::Status, kind: &str, name: &str) -> CliError {
    let mut error = CliError::from(status);
    if !error.message.contains(name) {
        error.message = format!("{kind} {name}: {}", error.message);
    }
    error
}
