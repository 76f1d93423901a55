//! A container's life: create, start (spawning its shim), stop, kill,
//! pause, wait, remove — and what happens when it exits (restart
//! policies with Docker's backoff, `--rm`).

use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hoist_api::spec::{ContainerSpec, MountKind};
use hoist_runtime::bundle::{EXIT_FILE, ExitInfo};
use hoist_runtime::cgroup::{Cgroup, Version};
use hoist_runtime::fsutil::{new_id, read_json, remove_all};
use hoist_runtime::shim::client::{
    InputSink, OutputStream, PendingStart, ShimClient, ShimError, Watch,
};
use tonic::Status;
use tracing::{info, warn};

use super::create::{self, valid_name};
use super::files;
use super::legacy_links::{Linked, with_link_env};
use super::names::random_name;
use super::oci::{self, BundleContext, Joined};
use super::record::{ContainerRecord, State, Status as RunStatus};
use super::{Container, Snapshot};
use crate::daemon::Daemon;
use crate::error::{conflict, from_image, internal, invalid};
use crate::networks::record::DEFAULT_BRIDGE;

/// First delay of Docker's restart backoff.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);
/// How long `rm -f` waits for a killed container to exit.
const KILL_WAIT: Duration = Duration::from_secs(15);

/// Which streams a client attaches to when a container starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttachRequest {
    /// Forward the client's stdin.
    pub stdin: bool,
    /// Send stdout.
    pub stdout: bool,
    /// Send stderr.
    pub stderr: bool,
    /// Terminal size of the client.
    pub console: Option<(u16, u16)>,
}

/// What waits for (`docker wait --condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Returns at once when it is not running, else at the next exit.
    NotRunning,
    /// The next exit.
    NextExit,
    /// Its removal.
    Removed,
}

/// Now, as Docker writes times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Parses a signal given as a name (`HUP`, `SIGHUP`) or a number.
pub fn parse_signal(value: &str) -> Result<i32, Status> {
    let value = value.trim();
    if let Ok(n) = value.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map(|s| s as i32)
            .map_err(|_| invalid(format!("invalid signal {value:?}")));
    }
    let upper = value.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| {
            invalid(format!(
                "invalid signal {value:?}: use a name such as TERM or HUP, or a number"
            ))
        })
}

impl Daemon {
    fn bundle_context(&self, joined: Joined, console: Option<(u16, u16)>) -> BundleContext<'_> {
        BundleContext {
            config: &self.config,
            images: &self.images,
            hierarchy: &self.hierarchy,
            joined,
            console,
        }
    }

    /// The namespace of a running container that `mode`
    /// (`container:<x>`) names, as `/proc/<pid>/ns/<kind>`; `None` for
    /// any other mode.
    async fn shared_namespace(&self, mode: &str, kind: &str) -> Result<Option<PathBuf>, Status> {
        let Some(target) = mode.strip_prefix("container:") else {
            return Ok(None);
        };
        let other = self.containers.find(target)?;
        let other = other.record.lock().await;
        if !other.state.status.is_alive() {
            return Err(conflict(format!(
                "cannot join the {kind} namespace of container {}: it is not running",
                other.name
            )));
        }
        Ok(Some(PathBuf::from(format!(
            "/proc/{}/ns/{kind}",
            other.state.pid
        ))))
    }

    /// Creates a container: validates the spec, resolves its image, makes
    /// its directory, volumes and /etc files, and writes its record last,
    /// so a crash midway leaves nothing that holds the name.
    #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
    pub async fn create_container(
        self: &Arc<Self>,
        name: &str,
        mut spec: ContainerSpec,
    ) -> Result<(String, Vec<String>), Status> {
        create::validate(&spec)?;
        // Kept in memory and on the container's tmpfs only: the record,
        // saved to disk, holds the spec without them.
        let files = std::mem::take(&mut spec.files);
        if !name.is_empty() && !valid_name(name) {
            return Err(invalid(format!(
                "invalid container name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let image = self.images.resolve(&spec.image).map_err(from_image)?;
        for mode in [&spec.network_mode, &spec.pid_mode, &spec.ipc_mode] {
            if let Some(target) = mode.strip_prefix("container:") {
                self.containers.find(target)?;
            }
        }
        let mut inherited = Vec::new();
        for entry in &spec.volumes_from {
            let (source, read_only) = create::parse_volumes_from(entry)?;
            let other = self.containers.find(source)?;
            let other = other.record.lock().await;
            inherited.extend(create::inherit_mounts(&other.mounts, read_only));
        }
        let networks = self.networks.endpoints_for(&spec)?;
        let port_warning = crate::networks::check_ports(&spec)?;
        let id = new_id();
        let name = if name.is_empty() {
            let mut attempt = 0;
            loop {
                let candidate = random_name(attempt);
                if self.containers.reserve_name(&candidate, &id).is_ok() {
                    break candidate;
                }
                attempt += 1;
            }
        } else {
            self.containers.reserve_name(name, &id)?;
            name.to_string()
        };
        let dir = self.config.container_dir(&id);
        let mut anonymous = Vec::new();
        let result = (|| {
            let settings = create::settings(&spec, &image, &id)?;
            let (_, mut warnings) = oci::rlimits(&spec.ulimits)?;
            warnings.extend(port_warning);
            warnings.extend(self.discarded_limits(&spec.resources));
            let on_bridge = networks.iter().any(|e| e.network_name == DEFAULT_BRIDGE);
            if !spec.links.is_empty() && !on_bridge && !self.networks.has_names(&networks) {
                warnings.push(
                    "--link needs a network (the default bridge or one of hoist network create): without one its names resolve nowhere".into(),
                );
            }
            for sub in ["upper", "work"] {
                fs::create_dir_all(dir.join(sub))
                    .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
            }
            let files = if files.is_empty() {
                Vec::new()
            } else {
                files::mount_files(&self.config.container_run_dir(&id), &files)?
            };
            create::write_etc_files(
                &self.config.etc_files_dir(&id, spec.auto_remove),
                &spec,
                &settings.hostname,
                create::EtcNetwork {
                    addresses: &[],
                    embedded_dns: self.networks.has_names(&networks),
                    host_gateway: self.networks.host_gateway(),
                    links: &[],
                },
            )
            .map_err(|e| internal(format!("cannot write the container's /etc files: {e}")))?;
            let mounts = create::mounts(&spec, &image, inherited, |name| {
                let volume =
                    self.create_volume(name, "local", Default::default(), Default::default())?;
                if volume.anonymous {
                    anonymous.push(volume.name.clone());
                }
                Ok((volume.name, volume.mountpoint))
            })?;
            let record = ContainerRecord {
                id: id.clone(),
                name: name.clone(),
                created: now(),
                image_id: image.id.clone(),
                layers: image.chain_ids.clone(),
                settings,
                mounts,
                state: State::default(),
                networks,
                ports: Vec::new(),
                files,
                spec,
            };
            // A `--rm` container does not outlive a host crash (restore
            // removes it), so its record needs no fsync.
            let saved = if record.spec.auto_remove {
                record.save_state(&dir)
            } else {
                record.save(&dir)
            };
            saved.map_err(|e| internal(format!("cannot save the container record: {e}")))?;
            Ok((record, warnings))
        })();
        match result {
            Ok((record, warnings)) => {
                info!(id = %record.id, name = %record.name, "container created");
                self.container_event(&record, "create", &[]);
                self.containers.insert(Container::new(record));
                Ok((id, warnings))
            }
            Err(e) => {
                let _ = remove_all(&dir);
                let run_dir = self.config.container_run_dir(&id);
                if let Err(e) = files::unmount(&run_dir) {
                    warn!(error = %e.message(), "cannot remove the files of a container not made");
                }
                let _ = remove_all(&run_dir);
                for volume in anonymous {
                    let _ = self.remove_volume(&volume);
                }
                self.containers.release_name(&name, &id);
                Err(e)
            }
        }
    }

    /// Starts a container: writes its bundle, spawns its shim, attaches the
    /// client (before the process runs, so no output is missed) and lets it
    /// exec. Starting a running container does nothing, as in Docker.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id))]
    pub async fn start_container(
        self: &Arc<Self>,
        container: &Arc<Container>,
        attach: Option<AttachRequest>,
    ) -> Result<Option<(OutputStream, InputSink)>, Status> {
        let mut record = container.record.lock().await;
        match record.state.status {
            RunStatus::Running | RunStatus::Paused => return Ok(None),
            RunStatus::Removing => {
                return Err(conflict(format!(
                    "container {} is being removed",
                    record.short_id()
                )));
            }
            _ => {}
        }
        let mut embedded_dns = false;
        let netns = match record.spec.network_mode.strip_prefix("container:") {
            Some(target) => {
                let other = self.containers.find(target)?;
                let other = other.record.lock().await;
                if !other.state.status.is_alive() {
                    return Err(conflict(format!(
                        "cannot join the network of container {}: it is not running",
                        other.name
                    )));
                }
                embedded_dns = self.networks.has_names(&other.networks);
                Some(if other.networks.iter().any(|e| e.live.is_some()) {
                    self.networks.sandbox_path(&other.id)
                } else {
                    PathBuf::from(format!("/proc/{}/ns/net", other.state.pid))
                })
            }
            None if !record.networks.is_empty() => {
                let mut endpoints = record.networks.clone();
                let identity = record.identity();
                let sandbox = self.networks.plug(identity, &mut endpoints).await?;
                record.networks = endpoints;
                self.endpoint_events(&record, "connect");
                match self
                    .networks
                    .publish(
                        &record.id,
                        &record.name,
                        &record.spec,
                        &record.settings.exposed_ports,
                        &record.networks,
                    )
                    .await
                {
                    Ok(ports) => record.ports = ports,
                    Err(e) => {
                        self.unplug(&mut record).await;
                        return Err(e);
                    }
                }
                embedded_dns = self.networks.has_names(&record.networks);
                Some(sandbox)
            }
            None => None,
        };
        let shared = async {
            Ok::<_, Status>((
                self.shared_namespace(&record.spec.pid_mode, "pid").await?,
                self.shared_namespace(&record.spec.ipc_mode, "ipc").await?,
            ))
        };
        let (pid, ipc) = match shared.await {
            Ok(paths) => paths,
            Err(e) => {
                self.unplug(&mut record).await;
                return Err(e);
            }
        };
        let joined = Joined {
            net: netns,
            pid,
            ipc,
        };
        let links = match self.legacy_links(&record).await {
            Ok(links) => links,
            Err(e) => {
                self.unplug(&mut record).await;
                return Err(e);
            }
        };
        let launched = self
            .launch(&record, joined, embedded_dns, &links, attach)
            .await;
        let (start, attached) = match launched {
            Ok(launched) => launched,
            Err(e) => {
                self.unplug(&mut record).await;
                return Err(e);
            }
        };
        match start.started().await {
            Ok(watch) => {
                let pid = watch.pid;
                record.state.status = RunStatus::Running;
                record.state.pid = pid;
                record.state.started_at = now();
                record.state.error.clear();
                record.state.oom_killed = false;
                record.state.manually_stopped = false;
                record
                    .save_run_state(&self.config.container_dir(&record.id))
                    .map_err(|e| internal(e.to_string()))?;
                self.mount_events(&record, "mount");
                self.container_event(&record, "start", &[]);
                container.announce(&record, false);
                info!(id = %record.id, pid, "container started");
                let started = (record.id.clone(), record.name.clone());
                drop(record);
                self.monitor(container.clone(), watch);
                self.monitor_health(container.clone(), true);
                self.refresh_linking_hosts(started);
                Ok(attached)
            }
            Err(ShimError::Start(e)) => {
                self.unplug(&mut record).await;
                record.state.exit_code = e.code;
                record.state.error = e.message.clone();
                let _ = record.save_state(&self.config.container_dir(&record.id));
                container.announce(&record, false);
                Err(Status::with_details(
                    tonic::Code::Aborted,
                    e.message.clone(),
                    e.code.to_string().into_bytes().into(),
                ))
            }
            Err(e) => {
                self.unplug(&mut record).await;
                Err(shim_status(e))
            }
        }
    }

    /// Writes the bundle, spawns the shim and sends it the start (and the
    /// attach, which asks for the start itself). `embedded_dns`: the
    /// container's resolver is the embedded DNS server; `links`: its
    /// legacy links, into its /etc/hosts and environment.
    async fn launch(
        &self,
        record: &ContainerRecord,
        joined: Joined,
        embedded_dns: bool,
        links: &[Linked],
        attach: Option<AttachRequest>,
    ) -> Result<(PendingStart, Option<(OutputStream, InputSink)>), Status> {
        let console = attach.as_ref().and_then(|a| a.console);
        let (mut bundle, _) = oci::bundle(&self.bundle_context(joined, console), record)?;
        if !links.is_empty()
            && let Some(mut process) = bundle.spec.process().clone()
        {
            let variables: Vec<String> = links
                .iter()
                .flat_map(|link| link.env_for(&record.name))
                .collect();
            let own = process.env().clone().unwrap_or_default();
            process.set_env(Some(with_link_env(&own, &variables)));
            bundle.spec.set_process(Some(process));
        }
        let run_dir = self.config.container_run_dir(&record.id);
        fs::create_dir_all(&run_dir)
            .map_err(|e| internal(format!("cannot create {}: {e}", run_dir.display())))?;
        // A `--rm` container's /etc files live in the exec root, which a
        // reboot between its create and its start empties; and its addresses
        // go into its /etc/hosts at each start.
        let plugged = record.networks.iter().any(|e| e.live.is_some());
        let etc = self
            .config
            .etc_files_dir(&record.id, record.spec.auto_remove);
        if plugged || embedded_dns || !etc.join("hosts").exists() {
            self.write_etc_files(record, embedded_dns, links)?;
        }
        remove_all(&run_dir.join(EXIT_FILE)).map_err(|e| internal(e.to_string()))?;
        bundle
            .save(&run_dir)
            .map_err(|e| internal(format!("cannot write the bundle: {e}")))?;
        let child = self
            .launcher
            .spawn(&run_dir)
            .map_err(|e| internal(format!("cannot start the container's shim: {e}")))?;
        // Watch the shim until it ends (reaping it if it is our child).
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        tracing::debug!("shim spawned");
        let client = ShimClient::new(&run_dir);
        let start = client
            .open_start(attach.is_none())
            .await
            .map_err(shim_status)?;
        let attached = match attach {
            Some(a) => Some(
                client
                    .attach([a.stdin, a.stdout, a.stderr], true)
                    .await
                    .map_err(shim_status)?,
            ),
            None => None,
        };
        tracing::debug!("attached");
        Ok((start, attached))
    }

    /// Rewrites a container's /etc/hosts (its current addresses, and its
    /// legacy `links`) and /etc/resolv.conf (`embedded_dns`: the embedded
    /// DNS server). In place, so a running container sees the change.
    pub fn write_etc_files(
        &self,
        record: &ContainerRecord,
        embedded_dns: bool,
        links: &[Linked],
    ) -> Result<(), Status> {
        let addresses: Vec<Ipv4Addr> = record
            .networks
            .iter()
            .filter_map(|e| e.live.as_ref().map(|l| l.address.ip()))
            .collect();
        let network = create::EtcNetwork {
            addresses: &addresses,
            embedded_dns,
            host_gateway: self.networks.host_gateway(),
            links,
        };
        create::write_etc_files(
            &self
                .config
                .etc_files_dir(&record.id, record.spec.auto_remove),
            &record.spec,
            &record.settings.hostname,
            network,
        )
        .map_err(|e| internal(format!("cannot write the container's /etc files: {e}")))
    }

    /// Unplugs a container from its networks (when it stops, or its start
    /// fails) and forgets what it had there, published ports included.
    pub async fn unplug(&self, record: &mut ContainerRecord) {
        // A running container disconnected from its last network still
        // has its sandbox.
        if record.networks.iter().any(|e| e.live.is_some())
            || self.networks.sandbox_path(&record.id).exists()
        {
            self.endpoint_events(record, "disconnect");
            self.networks.unplug(&record.id, &mut record.networks).await;
        }
        record.ports.clear();
    }

    /// Waits for a started container's exit and handles it.
    pub fn monitor(self: &Arc<Self>, container: Arc<Container>, watch: Watch) {
        let daemon = self.clone();
        tokio::spawn(async move {
            let exit = match watch.exited().await {
                Some(exit) => exit,
                None => daemon.exit_of_lost_shim(&container).await,
            };
            daemon.handle_exit(&container, exit).await;
        });
    }

    /// For a container whose shim is gone: removes the cgroup the shim did
    /// not get to remove, and returns the exit the shim recorded, or a
    /// synthetic one when it died without recording it (host reboot, shim
    /// killed).
    pub async fn exit_of_lost_shim(&self, container: &Container) -> ExitInfo {
        self.destroy_cgroup(container).await;
        read_json::<ExitInfo>(&self.config.container_run_dir(&container.id).join(EXIT_FILE)).unwrap_or_else(|_| ExitInfo {
            code: 255,
            signal: None,
            oom_killed: false,
            finished_at: now(),
            error: Some("the container's shim is gone and left no exit status (was the host restarted?)".into()),
        })
    }

    /// Warnings for the limits in `r` this host's cgroups cannot apply and
    /// discards, as Docker warns of them.
    pub(super) fn discarded_limits(&self, r: &hoist_api::spec::Resources) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.hierarchy.version == Version::V2 && r.memory_swappiness.is_some() {
            warnings.push(
                "cgroup v2 has no memory swappiness: --memory-swappiness is discarded".into(),
            );
        }
        if (r.blkio_weight > 0 || !r.blkio_weight_device.is_empty())
            && !self.hierarchy.block_io_weights()
        {
            warnings.push(
                "this host's kernel has no block I/O weights (no BFQ scheduler): --blkio-weight and --blkio-weight-device are discarded".into(),
            );
        }
        warnings
    }

    /// A container's cgroup.
    pub fn container_cgroup(&self, container: &Container) -> Cgroup {
        self.hierarchy.cgroup(
            &self
                .config
                .cgroup_path(&container.cgroup_parent, &container.id),
        )
    }

    /// Freezes or thaws a container's cgroup on a blocking thread: the
    /// freezer is polled until the whole cgroup has reached the state.
    async fn set_frozen(&self, container: &Container, frozen: bool) -> std::io::Result<()> {
        let cgroup = self.container_cgroup(container);
        tokio::task::spawn_blocking(move || cgroup.set_frozen(frozen))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Removes a container's cgroup, killing what is left in it, on a
    /// blocking thread: the removal waits and retries while dying processes
    /// keep the cgroup busy, which must not stall a runtime worker.
    async fn destroy_cgroup(&self, container: &Container) {
        let id = container.id.as_str();
        let cgroup = self.container_cgroup(container);
        let destroyed = tokio::task::spawn_blocking(move || cgroup.destroy()).await;
        if let Ok(Err(e)) = destroyed {
            warn!(id, error = %e, "cannot remove the container's cgroup");
        }
    }

    /// Records an exit and applies the restart policy or `--rm`.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id))]
    pub async fn handle_exit(self: &Arc<Self>, container: &Arc<Container>, exit: ExitInfo) {
        // Read before the exit is announced: `restart` clears it on hearing.
        let by_hand = container.restarting_by_hand.load(Ordering::SeqCst);
        let mut record = container.record.lock().await;
        let removing = record.state.status == RunStatus::Removing;
        let ran_for = chrono::DateTime::parse_from_rfc3339(&record.state.started_at)
            .ok()
            .and_then(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .ok()
            })
            .unwrap_or_default();
        if !removing {
            record.state.status = RunStatus::Exited;
        }
        record.state.pid = 0;
        record.state.exit_code = exit.code;
        record.state.oom_killed = exit.oom_killed;
        record.state.finished_at = if exit.finished_at.is_empty() {
            now()
        } else {
            exit.finished_at.clone()
        };
        if let Some(error) = &exit.error {
            record.state.error = error.clone();
        }
        if exit.oom_killed {
            self.container_event(&record, "oom", &[]);
        }
        self.container_event(
            &record,
            "die",
            &[
                ("exitCode", exit.code.to_string()),
                ("execDuration", ran_for.as_secs().to_string()),
            ],
        );
        self.unplug(&mut record).await;
        self.mount_events(&record, "unmount");
        let _ = record.save_run_state(&self.config.container_dir(&record.id));
        container.announce(&record, true);
        info!(id = %record.id, code = exit.code, "container exited");
        if removing {
            return;
        }
        let restart = !by_hand && should_restart(&record);
        let auto_remove = !by_hand && record.spec.auto_remove;
        if restart {
            let delay = {
                let mut backoff = container.backoff.lock().unwrap_or_else(|p| p.into_inner());
                if ran_for >= BACKOFF_RESET_AFTER {
                    *backoff = INITIAL_BACKOFF;
                }
                let delay = *backoff;
                *backoff = (*backoff * 2).min(MAX_BACKOFF);
                delay
            };
            record.state.status = RunStatus::Restarting;
            let _ = record.save_state(&self.config.container_dir(&record.id));
            container.announce(&record, false);
            drop(record);
            tokio::spawn(self.clone().restart_later(container.clone(), delay));
        } else if auto_remove {
            drop(record);
            if let Err(e) = self.remove_container(container, true, true).await {
                warn!(id = %container.id, error = %e, "auto-remove failed");
            }
        }
    }

    /// Restarts the container after `delay`. The future's type is spelled
    /// out because exit → restart → start → monitor → exit is a cycle the
    /// compiler cannot see through to prove it `Send`.
    fn restart_later(
        self: Arc<Self>,
        container: Arc<Container>,
        delay: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            self.restart_by_policy(&container).await;
        })
    }

    async fn restart_by_policy(self: &Arc<Self>, container: &Arc<Container>) {
        {
            let mut record = container.record.lock().await;
            // A stop or rm during the delay cancels the restart.
            if record.state.status != RunStatus::Restarting {
                return;
            }
            record.state.restart_count += 1;
            record.state.status = RunStatus::Exited;
        }
        if let Err(e) = self.start_container(container, None).await {
            warn!(id = %container.id, error = %e.message(), "restart by policy failed");
            let exit = ExitInfo {
                code: 128,
                error: Some(e.message().to_string()),
                finished_at: now(),
                ..Default::default()
            };
            self.handle_exit(container, exit).await;
        }
    }

    /// Sends a signal to the container's init.
    pub async fn kill_container(
        &self,
        container: &Arc<Container>,
        signal: i32,
    ) -> Result<(), Status> {
        let mut record = container.record.lock().await;
        if !record.state.status.is_alive() {
            return Err(conflict(format!(
                "cannot kill container {}: container {} is not running",
                record.name, record.id
            )));
        }
        let stop_signal = parse_signal(&record.settings.stop_signal).unwrap_or(libc::SIGTERM);
        if signal == libc::SIGKILL || signal == stop_signal {
            record.state.manually_stopped = true;
            let _ = record.save_state(&self.config.container_dir(&record.id));
        }
        let paused = record.state.status == RunStatus::Paused;
        let sent = self.signal_init(&record, signal, false).await;
        drop(record);
        sent.map_err(shim_status)?;
        if paused && (signal == libc::SIGKILL || signal == stop_signal) {
            // A frozen process cannot act on the signal.
            let _ = self.unpause_container(container).await;
        }
        Ok(())
    }

    /// Sends `signal` to the container's init (`all`: to every process of
    /// the container) and tells it as `kill`. The caller holds the record
    /// meanwhile, so the exit the signal causes is told after it.
    async fn signal_init(
        &self,
        record: &ContainerRecord,
        signal: i32,
        all: bool,
    ) -> Result<(), ShimError> {
        ShimClient::new(&self.config.container_run_dir(&record.id))
            .kill(signal, all)
            .await?;
        self.container_event(record, "kill", &[("signal", signal.to_string())]);
        Ok(())
    }

    /// Stops the container and starts it again. As in Docker, the stop
    /// neither removes a `--rm` container nor applies the restart policy.
    pub async fn restart_container(
        self: &Arc<Self>,
        container: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<i32>,
    ) -> Result<(), Status> {
        container.restarting_by_hand.store(true, Ordering::SeqCst);
        let stopped = self.stop_container(container, timeout, signal).await;
        if stopped.is_ok() {
            // The exit is handled by the monitor: wait for it before starting.
            let mut events = container.events.subscribe();
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                events.wait_for(|s| !matches!(s.status, RunStatus::Running | RunStatus::Paused)),
            )
            .await;
        }
        container.restarting_by_hand.store(false, Ordering::SeqCst);
        stopped?;
        self.start_container(container, None).await?;
        self.container_event(&*container.record.lock().await, "restart", &[]);
        Ok(())
    }

    /// `docker stop`: the stop signal, then SIGKILL after `timeout` seconds.
    pub async fn stop_container(
        &self,
        container: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<i32>,
    ) -> Result<(), Status> {
        let (timeout, signal) = {
            let mut record = container.record.lock().await;
            if record.state.status == RunStatus::Restarting {
                record.state.status = RunStatus::Exited;
                record.state.manually_stopped = true;
                let _ = record.save_state(&self.config.container_dir(&record.id));
                container.announce(&record, false);
                self.container_event(&record, "stop", &[]);
                return Ok(());
            }
            if !record.state.status.is_alive() {
                return Ok(());
            }
            record.state.manually_stopped = true;
            let _ = record.save_state(&self.config.container_dir(&record.id));
            let signal = match signal {
                Some(s) => s,
                None => parse_signal(&record.settings.stop_signal)?,
            };
            (timeout.unwrap_or(record.settings.stop_timeout), signal)
        };
        let exited = self.next_exit(container);
        if self.kill_container(container, signal).await.is_err() {
            return Ok(());
        }
        if timeout < 0
            || tokio::time::timeout(Duration::from_secs(timeout as u64), exited)
                .await
                .is_err()
        {
            let exited = self.next_exit(container);
            let record = container.record.lock().await;
            let sent = self.signal_init(&record, libc::SIGKILL, true).await;
            drop(record);
            if sent.is_ok() {
                let _ = self.unpause_container(container).await;
                let _ = tokio::time::timeout(KILL_WAIT, exited).await;
            }
        }
        self.container_event(&*container.record.lock().await, "stop", &[]);
        Ok(())
    }

    /// A future that resolves at the container's next exit (or removal).
    fn next_exit(
        &self,
        container: &Arc<Container>,
    ) -> impl std::future::Future<Output = ()> + use<> {
        let mut events = container.events.subscribe();
        let exits = events.borrow().exits;
        async move {
            let _ = events.wait_for(|s| s.exits > exits || s.removed).await;
        }
    }

    /// Freezes the container.
    pub async fn pause_container(&self, container: &Arc<Container>) -> Result<(), Status> {
        let mut record = container.record.lock().await;
        match record.state.status {
            RunStatus::Running => {}
            RunStatus::Paused => {
                return Err(conflict(format!(
                    "container {} is already paused",
                    record.id
                )));
            }
            _ => return Err(conflict(format!("container {} is not running", record.id))),
        }
        self.set_frozen(container, true)
            .await
            .map_err(|e| internal(format!("cannot freeze container {}: {e}", record.id)))?;
        record.state.status = RunStatus::Paused;
        let _ = record.save_state(&self.config.container_dir(&record.id));
        container.announce(&record, false);
        self.container_event(&record, "pause", &[]);
        Ok(())
    }

    /// Thaws the container.
    pub async fn unpause_container(&self, container: &Arc<Container>) -> Result<(), Status> {
        let mut record = container.record.lock().await;
        if record.state.status != RunStatus::Paused {
            return Err(conflict(format!("container {} is not paused", record.id)));
        }
        self.set_frozen(container, false)
            .await
            .map_err(|e| internal(format!("cannot thaw container {}: {e}", record.id)))?;
        record.state.status = RunStatus::Running;
        let _ = record.save_state(&self.config.container_dir(&record.id));
        container.announce(&record, false);
        self.container_event(&record, "unpause", &[]);
        Ok(())
    }

    /// Waits for `condition`; returns the exit code.
    pub async fn wait_container(
        &self,
        container: &Arc<Container>,
        condition: WaitCondition,
    ) -> i32 {
        let mut events = container.events.subscribe();
        let start = *events.borrow();
        let done = |s: &Snapshot| match condition {
            WaitCondition::NotRunning => {
                !matches!(
                    s.status,
                    RunStatus::Running | RunStatus::Paused | RunStatus::Restarting
                ) || s.removed
            }
            WaitCondition::NextExit => s.exits > start.exits || s.removed,
            WaitCondition::Removed => s.removed,
        };
        match events.wait_for(done).await {
            Ok(s) => s.exit_code,
            Err(_) => container.events.borrow().exit_code,
        }
    }

    /// `docker rm`: refuses a running container unless `force` (which kills
    /// it), then takes its directories away (see [`discard_dir`]), and with
    /// `volumes` its anonymous volumes.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %container.id))]
    pub async fn remove_container(
        &self,
        container: &Arc<Container>,
        force: bool,
        volumes: bool,
    ) -> Result<(), Status> {
        let alive = {
            let mut record = container.record.lock().await;
            match record.state.status {
                RunStatus::Removing => {
                    return Err(conflict(format!(
                        "removal of container {} is already in progress",
                        record.id
                    )));
                }
                s if s.is_alive() && !force => {
                    return Err(conflict(format!(
                        "cannot remove container {}: container is {}: stop the container before removing or force remove",
                        record.name,
                        s.as_str()
                    )));
                }
                s => {
                    record.state.status = RunStatus::Removing;
                    container.announce(&record, false);
                    s.is_alive()
                }
            }
        };
        if alive {
            let exited = self.next_exit(container);
            let record = container.record.lock().await;
            let sent = self.signal_init(&record, libc::SIGKILL, true).await;
            drop(record);
            if sent.is_ok() {
                let _ = self.set_frozen(container, false).await;
                let _ = tokio::time::timeout(KILL_WAIT, exited).await;
            }
        }
        let mut record = container.record.lock().await;
        self.unplug(&mut record).await;
        let run_dir = self.config.container_run_dir(&record.id);
        if let Err(e) = files::unmount(&run_dir) {
            // Deleting the runtime directory below still deletes the files.
            warn!(id = %record.id, error = %e.message(), "cannot unmount the container's files");
        }
        let dir = self.config.container_dir(&record.id);
        self.destroy_cgroup(container).await;
        // Renaming the directory away is the removal: a crash after it
        // leaves a directory without a record, which the next start sweeps.
        discard_dir(&dir).map_err(|e| internal(format!("cannot remove {}: {e}", dir.display())))?;
        let _ = discard_dir(&run_dir);
        if volumes {
            for m in record
                .mounts
                .iter()
                .filter(|m| m.anonymous && m.kind == MountKind::Volume)
            {
                if let Err(e) = self.remove_volume(&m.name) {
                    warn!(volume = %m.name, error = %e.message(), "cannot remove anonymous volume");
                }
            }
        }
        self.containers.remove(&record.id);
        self.containers.release_name(&record.name, &record.id);
        self.container_event(&record, "destroy", &[]);
        container.events.send_modify(|s| s.removed = true);
        info!(id = %record.id, "container removed");
        Ok(())
    }
}

/// Whether the restart policy wants the container back after this exit.
fn should_restart(record: &ContainerRecord) -> bool {
    let policy = &record.spec.restart_policy;
    if record.state.manually_stopped {
        return false;
    }
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            record.state.exit_code != 0
                && (policy.maximum_retry_count == 0
                    || record.state.restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Maps a shim failure onto a status.
pub fn shim_status(e: ShimError) -> Status {
    match e {
        ShimError::Start(e) => Status::with_details(
            tonic::Code::Aborted,
            e.message.clone(),
            e.code.to_string().into_bytes().into(),
        ),
        ShimError::Refused(message) => conflict(message),
        ShimError::Io(e) => internal(format!("the container's shim is unreachable: {e}")),
    }
}

/// Takes a container's directory out of sight at once (renamed beside
/// itself under a name no container has) and deletes it on a blocking
/// thread. Deleting a container's files costs milliseconds (on disks
/// mounted with `discard`, one synchronous discard per freed block) that
/// neither `rm` nor `run --rm` needs to wait for; the next daemon start
/// sweeps what a crash left half-deleted.
fn discard_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let Some(name) = dir.file_name() else {
        return remove_all(dir);
    };
    let doomed = dir.with_file_name(format!(".removing-{}", name.to_string_lossy()));
    match fs::rename(dir, &doomed) {
        Ok(()) => {
            tokio::task::spawn_blocking(move || {
                if let Err(e) = remove_all(&doomed) {
                    warn!(path = %doomed.display(), error = %e, "cannot delete a removed container's files");
                }
            });
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => remove_all(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals_by_name_and_number() {
        assert_eq!(parse_signal("HUP").unwrap(), libc::SIGHUP);
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), libc::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
