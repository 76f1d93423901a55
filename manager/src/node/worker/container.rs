//! The real executor: task containers on the local daemon, driven over its
//! unix socket as `hoist compose` drives it. A task's container is named
//! as Swarm names it (`<service>.<slot>.<task id>`) and labelled with the
//! task, so the worker finds its tasks again after a restart.
//!
//! A cluster network a task joins is carried on the node by a local
//! bridge network of the same name, labelled with the cluster network's
//! ID: made when the first task needs it, removed when the last task
//! container on it goes. The node's tasks on it find each other by
//! service name and aliases through the daemon's embedded DNS.

use std::path::PathBuf;
use std::time::Duration;

use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::networks_client::NetworksClient;
use hoist_api::proto::{
    ConnectNetworkRequest, ContainerRef, CreateContainerRequest, CreateNetworkRequest,
    ListContainersRequest, ListNetworksRequest, LogsRequest, NetworkRef, PullRequest, RegistryAuth,
    RemoveContainerRequest, StdStream, StopRequest, WaitRequest,
};
use hoist_api::service::{NetworkAttachment, PublishMode, labels};
use hoist_api::spec::{ContainerSpec, InlineFile, PortBinding, RestartPolicy};
use tokio::sync::Mutex;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::{debug, info, warn};

use super::executor::{
    Executor, ExecutorError, Existing, Exit, Inputs, LogLine, LogLines, LogOptions, Observed,
};
use crate::store::objects::Task;

/// Longest wait between attempts to reach the daemon's socket.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Task containers on the daemon listening at a unix socket.
#[derive(Debug)]
pub struct ContainerExecutor {
    socket: PathBuf,
    /// Connected on first use: the daemon may open its socket after the
    /// worker starts.
    channel: Mutex<Option<Channel>>,
    /// Held while networks are made and joined, and while idle ones are
    /// removed, so that a network is never removed between being made for
    /// a task and the task's container joining it.
    networks: Mutex<()>,
}

impl ContainerExecutor {
    /// An executor for the daemon at `socket`. Nothing is connected yet.
    pub fn new(socket: PathBuf) -> Self {
        Self {
            socket,
            channel: Mutex::new(None),
            networks: Mutex::new(()),
        }
    }

    /// The daemon's channel, waiting (and retrying) until its socket
    /// answers.
    async fn channel(&self) -> Channel {
        let mut cached = self.channel.lock().await;
        if let Some(channel) = &*cached {
            return channel.clone();
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            match hoist_api::client::connect(&self.socket).await {
                Ok(channel) => {
                    *cached = Some(channel.clone());
                    return channel;
                }
                Err(e) => {
                    debug!(error = %e, "the daemon's socket does not answer yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn containers(&self) -> ContainersClient<Channel> {
        ContainersClient::new(self.channel().await)
    }

    async fn create(&self, name: &str, spec: &ContainerSpec) -> Result<String, Status> {
        let spec_json = serde_json::to_vec(spec).map_err(|e| Status::internal(e.to_string()))?;
        self.containers()
            .await
            .create(CreateContainerRequest {
                name: name.to_string(),
                spec_json,
            })
            .await
            .map(|r| r.into_inner().id)
    }

    async fn networks_client(&self) -> NetworksClient<Channel> {
        NetworksClient::new(self.channel().await)
    }

    /// Makes the local network that carries `attachment`'s cluster network
    /// unless it exists. A stale carrier (of an earlier network of the same
    /// name) no container uses is replaced; a network of the same name the
    /// cluster did not make is left alone, and the task fails saying so.
    async fn carry(&self, attachment: &NetworkAttachment) -> Result<(), ExecutorError> {
        let name = &attachment.target;
        let found = self
            .networks_client()
            .await
            .inspect(NetworkRef { name: name.clone() })
            .await;
        match found {
            Ok(network) => {
                let network = network.into_inner();
                match network.labels.get(labels::CLUSTER_NETWORK_ID) {
                    Some(id) if *id == attachment.id => return Ok(()),
                    Some(_) if network.used_by.is_empty() => {
                        self.networks_client()
                            .await
                            .remove(NetworkRef { name: network.id })
                            .await
                            .map_err(|s| ExecutorError::Runtime(s.message().to_string()))?;
                    }
                    _ => {
                        return Err(ExecutorError::Runtime(format!(
                            "network {name} on this node is not the cluster's network {name}: remove or rename it (hoist network rm {name})"
                        )));
                    }
                }
            }
            Err(status) if status.code() == Code::NotFound => {}
            Err(status) => return Err(ExecutorError::Runtime(status.message().to_string())),
        }
        self.networks_client()
            .await
            .create(carrier(attachment))
            .await
            .map_err(|s| {
                ExecutorError::Runtime(format!("cannot make network {name}: {}", s.message()))
            })?;
        info!(network = %name, "carrying a cluster network on this node");
        Ok(())
    }

    /// Removes the carriers of cluster networks no container uses any more.
    async fn drop_idle_carriers(&self) -> Result<(), ExecutorError> {
        let listed = self
            .networks_client()
            .await
            .list(ListNetworksRequest { filters: vec![] })
            .await
            .map_err(|s| ExecutorError::Runtime(s.message().to_string()))?;
        for network in listed.into_inner().networks {
            if network.labels.contains_key(labels::CLUSTER_NETWORK_ID) && network.used_by.is_empty()
            {
                let removed = self
                    .networks_client()
                    .await
                    .remove(NetworkRef {
                        name: network.id.clone(),
                    })
                    .await;
                match removed {
                    Ok(_) => {
                        info!(network = %network.name, "no task on this node uses the network any more")
                    }
                    Err(status) if status.code() == Code::NotFound => {}
                    Err(status) => {
                        return Err(ExecutorError::Runtime(status.message().to_string()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates `task`'s container (pulling its image when missing) on its
    /// networks: the first at creation, the others joined after.
    async fn create_on_networks(
        &self,
        task: &Task,
        spec: &ContainerSpec,
        credentials: Option<&RegistryAuth>,
    ) -> Result<String, ExecutorError> {
        let name = task.name();
        let id = match self.create(&name, spec).await {
            Ok(id) => id,
            Err(status) if is_missing_image(&status) => {
                info!(image = %spec.image, "pulling the task's image");
                self.pull(spec, credentials).await?;
                self.create(&name, spec)
                    .await
                    .map_err(|s| ExecutorError::Runtime(s.message().to_string()))?
            }
            Err(status) => return Err(ExecutorError::Runtime(status.message().to_string())),
        };
        for attachment in task.spec.networks.iter().skip(1) {
            let joined = self
                .networks_client()
                .await
                .connect_container(ConnectNetworkRequest {
                    network: attachment.target.clone(),
                    container: id.clone(),
                    aliases: aliases(task, attachment),
                    ipv4_address: String::new(),
                })
                .await;
            if let Err(status) = joined {
                // Not left half-made: the task fails whole.
                let _ = self.remove_container(&id).await;
                return Err(ExecutorError::Runtime(format!(
                    "cannot join network {}: {}",
                    attachment.target,
                    status.message()
                )));
            }
        }
        Ok(id)
    }

    async fn remove_container(&self, container_id: &str) -> Result<(), ExecutorError> {
        let result = self
            .containers()
            .await
            .remove(RemoveContainerRequest {
                id: container_id.to_string(),
                force: true,
                volumes: true,
            })
            .await;
        gone_is_done(container_id, result.map(|_| ()))
    }

    /// Pulls `spec`'s image with `credentials` (anonymously without),
    /// reading the progress through.
    async fn pull(
        &self,
        spec: &ContainerSpec,
        credentials: Option<&RegistryAuth>,
    ) -> Result<(), ExecutorError> {
        let failed = |status: Status| ExecutorError::Pull {
            image: spec.image.clone(),
            reason: status.message().to_string(),
        };
        let mut progress = ImagesClient::new(self.channel().await)
            .pull(PullRequest {
                reference: spec.image.clone(),
                platform: spec.platform.clone(),
                auth: credentials.cloned(),
            })
            .await
            .map_err(failed)?
            .into_inner();
        while let Some(message) = progress.next().await {
            message.map_err(failed)?;
        }
        Ok(())
    }
}

/// The local network that carries the cluster network of `attachment`.
fn carrier(attachment: &NetworkAttachment) -> CreateNetworkRequest {
    let network = attachment.network.clone().unwrap_or_default();
    let mut labels = network.labels;
    labels.insert(labels::CLUSTER_NETWORK_ID.into(), attachment.id.clone());
    CreateNetworkRequest {
        name: attachment.target.clone(),
        driver: "bridge".into(),
        subnet: network.subnet,
        gateway: network.gateway,
        ip_range: String::new(),
        internal: network.internal,
        attachable: true,
        labels: labels.into_iter().collect(),
        options: Default::default(),
    }
}

/// The names `task` answers to on a network: its service's name and the
/// attachment's aliases.
fn aliases(task: &Task, attachment: &NetworkAttachment) -> Vec<String> {
    let mut names = vec![task.service_name.clone()];
    names.extend(
        attachment
            .aliases
            .iter()
            .filter(|a| **a != task.service_name)
            .cloned(),
    );
    names
}

/// The container spec of `task` on its node: the task's own, with
/// the task's labels, no restart policy of its own (the cluster replaces
/// tasks that end by making new ones), the service's host-mode ports
/// bound on this node, its first cluster network (the others are joined
/// after creation), and its secrets and configs as `files`.
///
/// Ingress-mode ports are not bound here: they belong to the routing mesh,
/// which publishes them on every node and does not exist yet.
fn container_spec(task: &Task, files: &[InlineFile]) -> ContainerSpec {
    let mut spec = task.spec.container.clone();
    spec.files = files.to_vec();
    spec.restart_policy = RestartPolicy {
        name: "no".into(),
        maximum_retry_count: 0,
    };
    spec.auto_remove = false;
    if let Some(first) = task.spec.networks.first() {
        spec.network_mode = first.target.clone();
        spec.network_aliases = aliases(task, first);
    }
    for (key, value) in [
        (labels::TASK_ID, task.meta.id.clone()),
        (labels::TASK_NAME, task.name()),
        (labels::SERVICE_ID, task.service_id.clone()),
        (labels::SERVICE_NAME, task.service_name.clone()),
        (labels::NODE_ID, task.node_id.clone()),
    ] {
        spec.labels.insert(key.to_string(), value);
    }
    spec.port_bindings.extend(
        task.endpoint
            .ports
            .iter()
            .filter(|p| p.publish_mode == PublishMode::Host && p.published_port != 0)
            .map(|p| PortBinding {
                container_port: p.target_port,
                protocol: if p.protocol.is_empty() {
                    "tcp".into()
                } else {
                    p.protocol.clone()
                },
                host_ip: String::new(),
                host_port: p.published_port,
                host_port_end: p.published_port,
            }),
    );
    spec
}

fn is_missing_image(status: &Status) -> bool {
    status.code() == Code::NotFound && status.message().starts_with("No such image")
}

/// The daemon's error about `container_id`.
fn runtime(container_id: &str, status: Status) -> ExecutorError {
    if status.code() == Code::NotFound {
        ExecutorError::NoSuchContainer(container_id.to_string())
    } else {
        ExecutorError::Runtime(status.message().to_string())
    }
}

/// Success when the container is already gone.
fn gone_is_done(container_id: &str, result: Result<(), Status>) -> Result<(), ExecutorError> {
    match result {
        Err(status) if status.code() != Code::NotFound => Err(runtime(container_id, status)),
        _ => Ok(()),
    }
}

fn observed(state: &str) -> Observed {
    match state {
        "created" => Observed::Created,
        "running" | "paused" | "restarting" => Observed::Running,
        _ => Observed::Exited,
    }
}

#[tonic::async_trait]
impl Executor for ContainerExecutor {
    async fn list(&self) -> Result<Vec<Existing>, ExecutorError> {
        let listed = self
            .containers()
            .await
            .list(ListContainersRequest {
                all: true,
                filters: vec![format!("label={}", labels::TASK_ID)],
                last: 0,
                size: false,
            })
            .await
            .map_err(|s| ExecutorError::Runtime(s.message().to_string()))?;
        Ok(listed
            .into_inner()
            .containers
            .into_iter()
            .filter_map(|c| {
                let task_id = c.labels.get(labels::TASK_ID)?.clone();
                Some(Existing {
                    task_id,
                    state: observed(&c.state),
                    container_id: c.id,
                })
            })
            .collect())
    }

    async fn prepare(&self, task: &Task, inputs: &Inputs) -> Result<String, ExecutorError> {
        let spec = container_spec(task, &inputs.files);
        let _networks = self.networks.lock().await;
        let created = async {
            for attachment in &task.spec.networks {
                self.carry(attachment).await?;
            }
            self.create_on_networks(task, &spec, inputs.pull_credentials.as_ref())
                .await
        }
        .await;
        if created.is_err() && !task.spec.networks.is_empty() {
            // A carrier made for this task alone is not left behind.
            if let Err(e) = self.drop_idle_carriers().await {
                warn!(error = %e, "cannot remove the networks no task uses any more");
            }
        }
        created
    }

    async fn start(&self, container_id: &str) -> Result<(), ExecutorError> {
        self.containers()
            .await
            .start(ContainerRef {
                id: container_id.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(|s| runtime(container_id, s))
    }

    async fn wait(&self, container_id: &str) -> Result<Exit, ExecutorError> {
        let exit = self
            .containers()
            .await
            .wait(WaitRequest {
                id: container_id.to_string(),
                condition: "not-running".into(),
            })
            .await
            .map_err(|s| runtime(container_id, s))?
            .into_inner();
        Ok(Exit {
            code: i64::from(exit.code),
            error: exit.error,
        })
    }

    async fn stop(&self, container_id: &str, timeout: Duration) -> Result<(), ExecutorError> {
        let result = self
            .containers()
            .await
            .stop(StopRequest {
                id: container_id.to_string(),
                timeout: Some(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX)),
                signal: String::new(),
            })
            .await;
        gone_is_done(container_id, result.map(|_| ()))
    }

    async fn remove(&self, container_id: &str) -> Result<(), ExecutorError> {
        let _networks = self.networks.lock().await;
        self.remove_container(container_id).await?;
        self.drop_idle_carriers().await
    }

    async fn logs(
        &self,
        container_id: &str,
        options: &LogOptions,
    ) -> Result<LogLines, ExecutorError> {
        let entries = self
            .containers()
            .await
            .logs(LogsRequest {
                id: container_id.to_string(),
                follow: options.follow,
                tail: options.tail,
                since: options.since,
                until: 0,
                stdout: true,
                stderr: true,
                details: false,
            })
            .await
            .map_err(|s| runtime(container_id, s))?
            .into_inner();
        let id = container_id.to_string();
        Ok(Box::pin(entries.map(move |entry| {
            entry
                .map(|e| LogLine {
                    stderr: e.stream == StdStream::Stderr as i32,
                    time: e.time,
                    data: e.data,
                })
                .map_err(|s| runtime(&id, s))
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::service::{EndpointSpec, PortConfig};

    fn task() -> Task {
        let mut task = Task {
            service_id: "svc1".into(),
            service_name: "web".into(),
            slot: 2,
            node_id: "node1".into(),
            ..Task::default()
        };
        task.meta.id = "task1".into();
        task.spec.container.image = "nginx".into();
        task.spec.container.restart_policy = RestartPolicy {
            name: "always".into(),
            maximum_retry_count: 0,
        };
        task.spec
            .container
            .labels
            .insert("own".into(), "kept".into());
        task.endpoint = EndpointSpec {
            mode: String::new(),
            ports: vec![
                PortConfig {
                    target_port: 80,
                    published_port: 8080,
                    protocol: "tcp".into(),
                    publish_mode: PublishMode::Host,
                },
                PortConfig {
                    target_port: 443,
                    published_port: 8443,
                    protocol: "tcp".into(),
                    publish_mode: PublishMode::Ingress,
                },
                PortConfig {
                    target_port: 53,
                    published_port: 0,
                    protocol: "udp".into(),
                    publish_mode: PublishMode::Host,
                },
            ],
        };
        task
    }

    #[test]
    fn a_task_container_is_labelled_never_restarts_and_binds_host_ports_only() {
        let spec = container_spec(&task(), &[]);
        assert_eq!(spec.restart_policy.name, "no");
        assert_eq!(spec.labels[labels::TASK_ID], "task1");
        assert_eq!(spec.labels[labels::TASK_NAME], "web.2.task1");
        assert_eq!(spec.labels[labels::SERVICE_ID], "svc1");
        assert_eq!(spec.labels[labels::SERVICE_NAME], "web");
        assert_eq!(spec.labels[labels::NODE_ID], "node1");
        assert_eq!(spec.labels["own"], "kept");
        assert_eq!(
            spec.port_bindings,
            vec![PortBinding {
                container_port: 80,
                protocol: "tcp".into(),
                host_ip: String::new(),
                host_port: 8080,
                host_port_end: 8080,
            }]
        );
    }

    #[test]
    fn a_task_joins_its_first_network_at_creation_answering_to_its_service_and_aliases() {
        let mut task = task();
        let front = NetworkAttachment {
            target: "app_front".into(),
            id: "net1".into(),
            aliases: vec!["web".into(), "web".into(), "www".into()],
            network: Some(hoist_api::network::NetworkSpec {
                name: "app_front".into(),
                subnet: "10.40.0.0/24".into(),
                internal: true,
                labels: [("team".to_string(), "a".to_string())].into(),
                ..Default::default()
            }),
        };
        let back = NetworkAttachment {
            target: "app_back".into(),
            id: "net2".into(),
            ..NetworkAttachment::default()
        };
        task.spec.networks = vec![front.clone(), back.clone()];
        let spec = container_spec(&task, &[]);
        assert_eq!(spec.network_mode, "app_front");
        assert_eq!(spec.network_aliases, ["web", "www"]);
        assert_eq!(aliases(&task, &back), ["web"]);

        let made = carrier(&front);
        assert_eq!(made.name, "app_front");
        assert_eq!(made.driver, "bridge");
        assert_eq!(made.subnet, "10.40.0.0/24");
        assert!(made.internal);
        assert_eq!(made.labels[labels::CLUSTER_NETWORK_ID], "net1");
        assert_eq!(made.labels["team"], "a");
        assert_eq!(carrier(&back).labels[labels::CLUSTER_NETWORK_ID], "net2");
        assert_eq!(carrier(&back).subnet, "");
    }

    #[test]
    fn a_task_without_networks_keeps_the_default_bridge() {
        assert_eq!(container_spec(&task(), &[]).network_mode, "");
    }

    #[test]
    fn container_states_map_to_what_the_worker_observes() {
        assert_eq!(observed("created"), Observed::Created);
        assert_eq!(observed("running"), Observed::Running);
        assert_eq!(observed("paused"), Observed::Running);
        assert_eq!(observed("exited"), Observed::Exited);
        assert_eq!(observed("dead"), Observed::Exited);
    }
}
