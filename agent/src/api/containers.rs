//! The Containers gRPC service.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hoist_api::events::EventType;
use hoist_api::proto::containers_server::Containers;
use hoist_api::proto::{
    self, AttachRequest as AttachMessage, CommitRequest, CommitResponse, ContainerRef,
    ContainerStats, ContainerSummary, CopyFromRequest, CopyFromResponse, CopyToRequest,
    CreateContainerRequest, CreateContainerResponse, DataChunk, DiffResponse, Empty, ExecRequest,
    ExitStatus, InspectResponse, IoOutput, KillRequest, ListContainersRequest,
    ListContainersResponse, LogEntry, LogsRequest, PruneContainersRequest, PruneResponse,
    RemoveContainerRequest, RenameRequest, RunRequest, StatsRequest, StdStream, StopRequest,
    TopRequest, TopResponse, TopRow, UpdateContainerRequest, UpdateContainerResponse, WaitRequest,
    attach_request, exec_request, io_output, run_request,
};
use hoist_api::spec::{ContainerSpec, ContainerUpdate, ExecSpec};
use hoist_runtime::image::diff::ChangeKind;
use hoist_runtime::logs::Stream as LogStream;
use hoist_runtime::logs::reader::{Follower, read_rotated};
use hoist_runtime::procinfo;
use hoist_runtime::shim::client::ShimClient;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::instrument;

use super::container_filters::ContainerFilter;
use super::stdio::{self, OutputSender};
use crate::containers::lifecycle::{AttachRequest, WaitCondition, parse_signal, shim_status};
use crate::containers::oci::{self, BundleContext};
use crate::containers::record::Status as RunStatus;
use crate::containers::view;
use crate::daemon::Daemon;
use crate::error::{conflict, from_filter, internal, invalid};
use crate::events::emit::ExecEvents;

/// A boxed server stream.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Serves container requests against a daemon.
#[derive(Debug, Clone)]
pub struct ContainersApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

fn parse_spec(json: &[u8]) -> Result<ContainerSpec, Status> {
    serde_json::from_slice(json).map_err(|e| invalid(format!("malformed container spec: {e}")))
}

fn stream_of<T: Send + 'static>(rx: mpsc::Receiver<Result<T, Status>>) -> ResponseStream<T> {
    Box::pin(ReceiverStream::new(rx))
}

fn attach_request(flags: Option<proto::AttachFlags>) -> AttachRequest {
    let flags = flags.unwrap_or_default();
    AttachRequest {
        stdin: flags.stdin,
        stdout: flags.stdout,
        stderr: flags.stderr,
        console: flags
            .size
            .filter(|s| s.rows > 0 && s.cols > 0)
            .map(|s| (s.rows as u16, s.cols as u16)),
    }
}

/// The exit code a failed start carries in its status details (126, 127,
/// 125), for the CLI to exit with.
fn start_failure_code(status: &Status) -> i32 {
    std::str::from_utf8(status.details())
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(125)
}

impl ContainersApi {
    fn find(&self, reference: &str) -> Result<Arc<crate::containers::Container>, Status> {
        self.daemon.containers.find(reference)
    }

    /// `ps -s`: `rows` with the size of each one's writable layer, and of
    /// that and its image.
    async fn measured(&self, rows: Vec<ContainerSummary>) -> Result<Vec<ContainerSummary>, Status> {
        let daemon = self.daemon.clone();
        tokio::task::spawn_blocking(move || {
            let image_sizes: HashMap<String, u64> = daemon
                .images
                .list()
                .map_err(crate::error::from_image)?
                .into_iter()
                .map(|image| (image.id, image.size))
                .collect();
            Ok(rows
                .into_iter()
                .map(|mut row| {
                    row.size_rw = daemon.config.writable_layer_size(&row.id);
                    row.size_root_fs =
                        row.size_rw + image_sizes.get(&row.image_id).copied().unwrap_or(0);
                    row
                })
                .collect())
        })
        .await
        .map_err(|e| internal(format!("measuring containers failed: {e}")))?
    }

    /// `ps --filter`, with the containers `before=`/`since=` name and the
    /// images `ancestor=` names looked up.
    async fn list_filter(&self, given: &[String]) -> Result<ContainerFilter, Status> {
        let mut filter = ContainerFilter::for_list(given)?;
        let created = |key: &'static str| {
            let names = filter.named(key).to_vec();
            async move {
                let mut times = Vec::new();
                for name in names {
                    let container = self.find(&name)?;
                    let record = container.record.lock().await;
                    let time = chrono::DateTime::parse_from_rfc3339(&record.created)
                        .map_err(|e| internal(format!("container {name}: created: {e}")))?;
                    times.push(time.with_timezone(&chrono::Utc));
                }
                Ok::<_, Status>(times)
            }
        };
        let before = created("before").await?.into_iter().min();
        let since = created("since").await?.into_iter().max();
        filter.bound(before, since);
        let ancestors = filter
            .named("ancestor")
            .iter()
            .filter_map(|name| self.daemon.images.resolve(name).ok())
            .map(|image| image.chain_ids)
            .collect();
        filter.descending_from(ancestors);
        Ok(filter)
    }

    /// Sends the exit of an attached run once the daemon has recorded it
    /// (so an `rm` or `inspect` right after sees the container exited), and
    /// after `--rm` finished removing the container (Docker's CLI waits for
    /// that too). `exits_before` is the container's exit count from before
    /// the attach.
    async fn finish_run(
        &self,
        container: &Arc<crate::containers::Container>,
        exits_before: u64,
        exit: Option<hoist_runtime::bundle::ExitInfo>,
        tx: &OutputSender,
    ) {
        let auto_remove = container.record.lock().await.spec.auto_remove;
        let recorded = container
            .events
            .subscribe()
            .wait_for(|s| s.exits > exits_before || s.removed)
            .await
            .map(|s| s.exit_code)
            .unwrap_or_else(|_| container.events.borrow().exit_code);
        let code = exit.as_ref().map_or(recorded, |info| info.code);
        if auto_remove {
            self.daemon
                .wait_container(container, WaitCondition::Removed)
                .await;
        }
        let (error, oom) = exit
            .map(|e| (e.error.unwrap_or_default(), e.oom_killed))
            .unwrap_or_default();
        let _ = tx.send(Ok(stdio::exit(code, &error, oom))).await;
    }
}

#[tonic::async_trait]
impl Containers for ContainersApi {
    #[instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create(
        &self,
        request: Request<CreateContainerRequest>,
    ) -> Result<Response<CreateContainerResponse>, Status> {
        let request = request.into_inner();
        let spec = parse_spec(&request.spec_json)?;
        let (id, warnings) = self.daemon.create_container(&request.name, spec).await?;
        Ok(Response::new(CreateContainerResponse { id, warnings }))
    }

    type RunStream = ResponseStream<IoOutput>;

    #[instrument(skip_all)]
    async fn run(
        &self,
        request: Request<Streaming<RunRequest>>,
    ) -> Result<Response<Self::RunStream>, Status> {
        let mut input = request.into_inner();
        let open = match input.message().await? {
            Some(RunRequest {
                kind: Some(run_request::Kind::Open(open)),
            }) => open,
            _ => return Err(invalid("a run stream must start with RunOpen")),
        };
        let (container, warnings) = match open.create {
            _ if !open.start.is_empty() => (self.find(&open.start)?, Vec::new()),
            Some(create) => {
                let spec = parse_spec(&create.spec_json)?;
                let (id, warnings) = self.daemon.create_container(&create.name, spec).await?;
                (self.find(&id)?, warnings)
            }
            None => {
                return Err(invalid(
                    "RunOpen has neither a container to create nor one to start",
                ));
            }
        };
        let id = container.id.clone();
        let exits_before = container.events.borrow().exits;
        let (tx, rx) = mpsc::channel(64);
        for warning in warnings {
            let _ = tx
                .send(Ok(stdio::notice(format!("WARNING: {warning}"))))
                .await;
        }
        let _ = tx
            .send(Ok(IoOutput {
                kind: Some(io_output::Kind::StartedId(id.clone())),
            }))
            .await;
        let attach = (!open.detach).then(|| attach_request(open.attach));
        let api = self.clone();
        tokio::spawn(async move {
            match api.daemon.start_container(&container, attach).await {
                Ok(Some((output, sink))) => {
                    let input = stdio::pump_input(input, sink, |m: RunRequest| match m.kind {
                        Some(run_request::Kind::Io(io)) => Some(io),
                        _ => None,
                    });
                    let exit = stdio::pump_output(output, &tx).await;
                    input.abort();
                    api.finish_run(&container, exits_before, exit, &tx).await;
                }
                Ok(None) => {}
                Err(status) => {
                    let code = if status.code() == tonic::Code::Aborted {
                        start_failure_code(&status)
                    } else {
                        125
                    };
                    if container.record.lock().await.spec.auto_remove {
                        let _ = api.daemon.remove_container(&container, true, true).await;
                    }
                    let _ = tx
                        .send(Ok(stdio::exit(code, status.message(), false)))
                        .await;
                }
            }
        });
        Ok(Response::new(stream_of(rx)))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn start(&self, request: Request<ContainerRef>) -> Result<Response<Empty>, Status> {
        let container = self.find(&request.get_ref().id)?;
        self.daemon.start_container(&container, None).await?;
        Ok(Response::new(Empty {}))
    }

    type AttachStream = ResponseStream<IoOutput>;

    #[instrument(skip_all)]
    async fn attach(
        &self,
        request: Request<Streaming<AttachMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let mut input = request.into_inner();
        let open = match input.message().await? {
            Some(AttachMessage {
                kind: Some(attach_request::Kind::Open(open)),
            }) => open,
            _ => return Err(invalid("an attach stream must start with AttachOpen")),
        };
        let container = self.find(&open.id)?;
        let flags = attach_request(open.attach);
        let exits_before = {
            let record = container.record.lock().await;
            if !record.state.status.is_alive() {
                return Err(conflict(format!(
                    "you cannot attach to a stopped container {}: start it first",
                    record.name
                )));
            }
            container.events.borrow().exits
        };
        let client = ShimClient::new(&self.daemon.config.container_run_dir(&container.id));
        let (output, sink) = client
            .attach([flags.stdin, flags.stdout, flags.stderr], false)
            .await
            .map_err(shim_status)?;
        if let Some((rows, cols)) = flags.console {
            let _ = client.resize(rows, cols).await;
        }
        let (tx, rx) = mpsc::channel(64);
        let api = self.clone();
        tokio::spawn(async move {
            let input = stdio::pump_input(input, sink, |m: AttachMessage| match m.kind {
                Some(attach_request::Kind::Io(io)) => Some(io),
                _ => None,
            });
            let exit = stdio::pump_output(output, &tx).await;
            input.abort();
            api.finish_run(&container, exits_before, exit, &tx).await;
        });
        Ok(Response::new(stream_of(rx)))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn wait(&self, request: Request<WaitRequest>) -> Result<Response<ExitStatus>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let condition = match request.condition.as_str() {
            "" | "not-running" => WaitCondition::NotRunning,
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            other => {
                return Err(invalid(format!(
                    "invalid wait condition {other:?}: use not-running, next-exit or removed"
                )));
            }
        };
        let code = self.daemon.wait_container(&container, condition).await;
        let (error, oom_killed) = {
            let record = container.record.lock().await;
            (record.state.error.clone(), record.state.oom_killed)
        };
        Ok(Response::new(ExitStatus {
            code,
            error,
            oom_killed,
        }))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn stop(&self, request: Request<StopRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let signal = if request.signal.is_empty() {
            None
        } else {
            Some(parse_signal(&request.signal)?)
        };
        self.daemon
            .stop_container(&container, request.timeout.map(i64::from), signal)
            .await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn restart(&self, request: Request<StopRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let signal = if request.signal.is_empty() {
            None
        } else {
            Some(parse_signal(&request.signal)?)
        };
        self.daemon
            .restart_container(&container, request.timeout.map(i64::from), signal)
            .await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let signal = if request.signal.is_empty() {
            libc::SIGKILL
        } else {
            parse_signal(&request.signal)?
        };
        self.daemon.kill_container(&container, signal).await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn pause(&self, request: Request<ContainerRef>) -> Result<Response<Empty>, Status> {
        let container = self.find(&request.get_ref().id)?;
        self.daemon.pause_container(&container).await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn unpause(&self, request: Request<ContainerRef>) -> Result<Response<Empty>, Status> {
        let container = self.find(&request.get_ref().id)?;
        self.daemon.unpause_container(&container).await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn remove(
        &self,
        request: Request<RemoveContainerRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        self.daemon
            .remove_container(&container, request.force, request.volumes)
            .await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn update(
        &self,
        request: Request<UpdateContainerRequest>,
    ) -> Result<Response<UpdateContainerResponse>, Status> {
        let request = request.into_inner();
        let update: ContainerUpdate = serde_json::from_slice(&request.update_json)
            .map_err(|e| invalid(format!("bad update: {e}")))?;
        let container = self.find(&request.id)?;
        let warnings = self.daemon.update_container(&container, &update).await?;
        Ok(Response::new(UpdateContainerResponse { warnings }))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn rename(&self, request: Request<RenameRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let new_name = request
            .new_name
            .strip_prefix('/')
            .unwrap_or(&request.new_name)
            .to_string();
        if !crate::containers::create::valid_name(&new_name) {
            return Err(invalid(format!(
                "invalid container name {new_name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let container = self.find(&request.id)?;
        let mut record = container.record.lock().await;
        self.daemon.containers.reserve_name(&new_name, &record.id)?;
        let old = std::mem::replace(&mut record.name, new_name);
        record
            .save(&self.daemon.config.container_dir(&record.id))
            .map_err(|e| internal(e.to_string()))?;
        self.daemon.containers.release_name(&old, &record.id);
        self.daemon
            .container_event(&record, "rename", &[("oldName", old)]);
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all)]
    async fn list(
        &self,
        request: Request<ListContainersRequest>,
    ) -> Result<Response<ListContainersResponse>, Status> {
        let request = request.into_inner();
        let filter = self.list_filter(&request.filters).await?;
        let all = request.all || filter.wants_stopped();
        let mut rows = Vec::new();
        for container in self.daemon.containers.all() {
            let record = container.record.lock().await;
            if !all
                && request.last <= 0
                && !record.state.status.is_alive()
                && record.state.status != RunStatus::Restarting
            {
                continue;
            }
            if !filter.selects(&record) {
                continue;
            }
            rows.push(view::summary(&record));
        }
        rows.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
        if request.last > 0 {
            rows.truncate(request.last as usize);
        }
        if request.size {
            rows = self.measured(rows).await?;
        }
        Ok(Response::new(ListContainersResponse { containers: rows }))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn inspect(
        &self,
        request: Request<ContainerRef>,
    ) -> Result<Response<InspectResponse>, Status> {
        let container = self.find(&request.get_ref().id)?;
        let record = container.record.lock().await;
        let lowers: Vec<String> = oci::lower_dirs(&self.daemon.config, &record)
            .iter()
            .map(|d| {
                self.daemon
                    .images
                    .layers_root()
                    .join(d)
                    .display()
                    .to_string()
            })
            .collect();
        let document = view::inspect(&record, &self.daemon.config, &lowers);
        let json = serde_json::to_vec(&document).map_err(|e| internal(e.to_string()))?;
        Ok(Response::new(InspectResponse { json }))
    }

    type LogsStream = ResponseStream<LogEntry>;

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn logs(
        &self,
        request: Request<LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let options = {
            let record = container.record.lock().await;
            if record.spec.log_config.driver == "none" {
                return Err(invalid(format!(
                    "container {} uses the none logging driver: there are no logs to read",
                    record.name
                )));
            }
            oci::log_options(&record, &self.daemon.config.container_dir(&record.id))?
        };
        let (tx, rx) = mpsc::channel(256);
        let events = container.events.subscribe();
        tokio::task::spawn_blocking(move || stream_logs(options, request, events, tx));
        Ok(Response::new(stream_of(rx)))
    }

    type ExecStream = ResponseStream<IoOutput>;

    #[instrument(skip_all)]
    async fn exec(
        &self,
        request: Request<Streaming<ExecRequest>>,
    ) -> Result<Response<Self::ExecStream>, Status> {
        let mut input = request.into_inner();
        let open = match input.message().await? {
            Some(ExecRequest {
                kind: Some(exec_request::Kind::Open(open)),
            }) => open,
            _ => return Err(invalid("an exec stream must start with ExecOpen")),
        };
        let spec: ExecSpec = serde_json::from_slice(&open.spec_json)
            .map_err(|e| invalid(format!("malformed exec spec: {e}")))?;
        if spec.cmd.is_empty() {
            return Err(invalid("exec needs a command"));
        }
        let container = self.find(&open.container)?;
        let flags = attach_request(open.attach);
        let (process, exec_events) = {
            let record = container.record.lock().await;
            match record.state.status {
                RunStatus::Running => {}
                RunStatus::Paused => {
                    return Err(conflict(format!(
                        "container {} is paused, unpause the container before exec",
                        record.id
                    )));
                }
                _ => return Err(conflict(format!("container {} is not running", record.id))),
            }
            let ctx = BundleContext {
                config: &self.daemon.config,
                images: &self.daemon.images,
                hierarchy: &self.daemon.hierarchy,
                joined: Default::default(),
                console: flags.console,
            };
            (
                oci::exec_process(&ctx, &record, &spec)?,
                ExecEvents::new(&record, &spec.cmd),
            )
        };
        let events = &self.daemon.events;
        events.publish(exec_events.created());
        let client = ShimClient::new(&self.daemon.config.container_run_dir(&container.id));
        let (tx, rx) = mpsc::channel(64);
        match client.exec(process).await {
            Ok((pid, output, sink)) => {
                events.publish(exec_events.started());
                let _ = tx
                    .send(Ok(IoOutput {
                        kind: Some(io_output::Kind::StartedId(pid.to_string())),
                    }))
                    .await;
                if !open.detach {
                    let daemon = self.daemon.clone();
                    tokio::spawn(async move {
                        let input = stdio::pump_input(input, sink, |m: ExecRequest| match m.kind {
                            Some(exec_request::Kind::Io(io)) => Some(io),
                            _ => None,
                        });
                        let exit = stdio::pump_output(output, &tx).await;
                        input.abort();
                        let (code, error) = exit
                            .map(|e| (e.code, e.error.unwrap_or_default()))
                            .unwrap_or((255, "the exec process's shim went away".into()));
                        daemon.events.publish(exec_events.died(code));
                        let _ = tx.send(Ok(stdio::exit(code, &error, false))).await;
                    });
                }
            }
            Err(e) => {
                let status = shim_status(e);
                let code = if status.code() == tonic::Code::Aborted {
                    start_failure_code(&status)
                } else {
                    126
                };
                let _ = tx
                    .send(Ok(stdio::exit(code, status.message(), false)))
                    .await;
            }
        }
        Ok(Response::new(stream_of(rx)))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn top(&self, request: Request<TopRequest>) -> Result<Response<TopResponse>, Status> {
        let request = request.into_inner();
        let args: Vec<&str> = request.ps_args.iter().map(String::as_str).collect();
        if !matches!(args.as_slice(), [] | ["-ef"] | ["-e", "-f"]) {
            return Err(invalid(format!(
                "ps options {:?} are not supported: hoist top shows the ps -ef columns",
                request.ps_args.join(" ")
            )));
        }
        let container = self.find(&request.id)?;
        {
            let record = container.record.lock().await;
            if !record.state.status.is_alive() {
                return Err(conflict(format!("container {} is not running", record.id)));
            }
        }
        let cgroup = self.daemon.container_cgroup(&container);
        let mut pids = cgroup
            .processes()
            .map_err(|e| internal(format!("cannot list the container's processes: {e}")))?;
        pids.sort_unstable();
        let processes = pids
            .into_iter()
            .filter_map(procinfo::ps_row)
            .map(|columns| TopRow { columns })
            .collect();
        Ok(Response::new(TopResponse {
            titles: procinfo::PS_TITLES.iter().map(|t| t.to_string()).collect(),
            processes,
        }))
    }

    type StatsStream = ResponseStream<ContainerStats>;

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn stats(
        &self,
        request: Request<StatsRequest>,
    ) -> Result<Response<Self::StatsStream>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let (tx, rx) = mpsc::channel(4);
        let daemon = self.daemon.clone();
        tokio::spawn(async move {
            let mut previous: Option<ContainerStats> = None;
            loop {
                let mut sample = stats_sample(&daemon, &container).await;
                if let Some(prev) = &previous {
                    let cpu = sample.cpu_usage_ns.saturating_sub(prev.cpu_usage_ns) as f64;
                    let system = sample.system_cpu_ns.saturating_sub(prev.system_cpu_ns) as f64;
                    if system > 0.0 {
                        sample.cpu_percent = cpu / system * f64::from(sample.online_cpus) * 100.0;
                    }
                }
                let running = sample.pids > 0;
                // The first sample only seeds the CPU delta, unless there is
                // nothing to measure.
                if (previous.is_some() || !running)
                    && (tx.send(Ok(sample.clone())).await.is_err() || !request.stream)
                {
                    return;
                }
                let pause = if previous.is_none() { 500 } else { 1000 };
                previous = Some(sample);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if container.events.borrow().removed {
                    return;
                }
            }
        });
        Ok(Response::new(stream_of(rx)))
    }

    type ExportStream = ResponseStream<DataChunk>;

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn export(
        &self,
        request: Request<ContainerRef>,
    ) -> Result<Response<Self::ExportStream>, Status> {
        let container = self.find(&request.get_ref().id)?;
        let rx = super::files::export(&self.daemon, &container).await?;
        Ok(Response::new(stream_of(rx)))
    }

    type CopyFromStream = ResponseStream<CopyFromResponse>;

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn copy_from(
        &self,
        request: Request<CopyFromRequest>,
    ) -> Result<Response<Self::CopyFromStream>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let rx = super::files::copy_from(&self.daemon, &container, &request.path).await?;
        Ok(Response::new(stream_of(rx)))
    }

    #[instrument(skip_all)]
    async fn copy_to(
        &self,
        request: Request<Streaming<CopyToRequest>>,
    ) -> Result<Response<Empty>, Status> {
        super::files::copy_to(&self.daemon, request.into_inner()).await?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn diff(&self, request: Request<ContainerRef>) -> Result<Response<DiffResponse>, Status> {
        let container = self.find(&request.get_ref().id)?;
        let changes = self
            .daemon
            .diff_container(&container)
            .await?
            .into_iter()
            .map(|c| proto::Change {
                kind: match c.kind {
                    ChangeKind::Modified => 0,
                    ChangeKind::Added => 1,
                    ChangeKind::Deleted => 2,
                },
                path: c.path,
            })
            .collect();
        Ok(Response::new(DiffResponse { changes }))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn commit(
        &self,
        request: Request<CommitRequest>,
    ) -> Result<Response<CommitResponse>, Status> {
        let request = request.into_inner();
        let container = self.find(&request.id)?;
        let image_id = self
            .daemon
            .commit_container(
                &container,
                crate::containers::commit::CommitRequest {
                    reference: request.reference,
                    comment: request.comment,
                    author: request.author,
                    changes: request.changes,
                    pause: request.pause,
                },
            )
            .await?;
        Ok(Response::new(CommitResponse { image_id }))
    }

    #[instrument(skip_all)]
    async fn prune(
        &self,
        request: Request<PruneContainersRequest>,
    ) -> Result<Response<PruneResponse>, Status> {
        let filter = ContainerFilter::for_prune(&request.into_inner().filters, chrono::Utc::now())
            .map_err(from_filter)?;
        let mut deleted = Vec::new();
        let mut space_reclaimed = 0;
        for container in self.daemon.containers.all() {
            let stopped = {
                let record = container.record.lock().await;
                matches!(
                    record.state.status,
                    RunStatus::Exited | RunStatus::Created | RunStatus::Dead
                ) && filter.selects(&record)
            };
            if !stopped {
                continue;
            }
            // Its writable layer is what removing it frees, as Docker counts.
            let daemon = self.daemon.clone();
            let id = container.id.clone();
            let size = tokio::task::spawn_blocking(move || daemon.config.writable_layer_size(&id))
                .await
                .unwrap_or(0);
            if self
                .daemon
                .remove_container(&container, false, false)
                .await
                .is_ok()
            {
                deleted.push(container.id.clone());
                space_reclaimed += size;
            }
        }
        self.daemon
            .prune_event(EventType::Container, space_reclaimed);
        Ok(Response::new(PruneResponse {
            deleted,
            space_reclaimed,
        }))
    }
}

/// One reading of a container's counters (zeros when it is not running).
async fn stats_sample(
    daemon: &Daemon,
    container: &Arc<crate::containers::Container>,
) -> ContainerStats {
    let (id, name, pid, host_network) = {
        let record = container.record.lock().await;
        let pid = if record.state.status.is_alive() {
            record.state.pid
        } else {
            0
        };
        (
            record.id.clone(),
            record.name.clone(),
            pid,
            record.spec.network_mode == "host",
        )
    };
    let mut sample = ContainerStats {
        id: id.clone(),
        name,
        read: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        online_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        system_cpu_ns: procinfo::host_cpu_nanos(),
        ..Default::default()
    };
    if pid <= 0 {
        return sample;
    }
    let counters = daemon.container_cgroup(container).stats();
    sample.cpu_usage_ns = counters.cpu_usage_ns;
    sample.memory_usage = counters.memory_usage;
    sample.memory_limit = if counters.memory_limit > 0 {
        counters.memory_limit
    } else {
        procinfo::host_memory()
    };
    sample.memory_cache = counters.memory_cache;
    sample.block_read = counters.block_read;
    sample.block_write = counters.block_write;
    sample.pids = counters.pids;
    if !host_network {
        (sample.net_rx, sample.net_tx) = procinfo::network_bytes(pid);
    }
    sample
}

/// Reads (and with `follow`, keeps reading) a container's log into `tx`.
fn stream_logs(
    options: hoist_runtime::logs::LogOptions,
    request: LogsRequest,
    events: tokio::sync::watch::Receiver<crate::containers::Snapshot>,
    tx: mpsc::Sender<Result<LogEntry, Status>>,
) {
    let both = !request.stdout && !request.stderr;
    let wanted = |e: &hoist_runtime::logs::reader::LogEntry| {
        let stream_ok = both
            || (e.stream == LogStream::Stdout && request.stdout)
            || (e.stream == LogStream::Stderr && request.stderr);
        stream_ok
            && (request.since == 0 || e.time >= request.since)
            && (request.until == 0 || e.time <= request.until)
    };
    let send = |e: hoist_runtime::logs::reader::LogEntry| {
        let stream = match e.stream {
            LogStream::Stdout => StdStream::Stdout,
            LogStream::Stderr => StdStream::Stderr,
        };
        tx.blocking_send(Ok(LogEntry {
            stream: stream as i32,
            time: e.time,
            data: e.data,
            attrs: if request.details {
                e.attrs.into_iter().collect()
            } else {
                Default::default()
            },
        }))
        .is_ok()
    };
    let mut follower = match Follower::at_start(options.clone()) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(internal(format!("cannot read the log: {e}"))));
            return;
        }
    };
    let mut entries = read_rotated(&options).unwrap_or_default();
    entries.extend(follower.poll().unwrap_or_default());
    let mut entries: Vec<_> = entries.into_iter().filter(|e| wanted(e)).collect();
    if request.tail >= 0 && (request.tail as usize) < entries.len() {
        entries.drain(..entries.len() - request.tail as usize);
    }
    for entry in entries {
        if !send(entry) {
            return;
        }
    }
    if !request.follow {
        return;
    }
    loop {
        let running = {
            let s = events.borrow();
            !s.removed
                && matches!(
                    s.status,
                    RunStatus::Running | RunStatus::Paused | RunStatus::Restarting
                )
        };
        for entry in follower.poll().unwrap_or_default() {
            if wanted(&entry) && !send(entry) {
                return;
            }
        }
        if !running || tx.is_closed() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
