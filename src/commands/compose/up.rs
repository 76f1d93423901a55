//! `hoist compose up`: networks and volumes made, then every service
//! converged at once, each waiting only for what it depends on
//! (`service_started`, `service_healthy`, `service_completed_successfully`):
//! containers whose configuration hash still matches are kept (started if
//! stopped), the others recreated, surplus replicas removed. Attached
//! (no `-d`), it then follows the containers' output (see `attached`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_api::spec::ContainerSpec;
use hoist_compose::plan::{Condition, Dependency, Plan, ServicePlan, labels};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attached;
use super::engine::Engine;
use super::events::{Kind, event, warn};
use super::logs::Style;
use super::prepare::{ImagePolicy, prepare_images};
use crate::exit::{CliError, CliResult};

/// How often a dependency's health is looked at.
const POLL: Duration = Duration::from_millis(100);

/// Create and start containers
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Wait for services to be running|healthy (implies detached mode)
    #[arg(long)]
    wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long = "wait-timeout", value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    #[command(flatten)]
    making: MakingFlags,
    /// Don't start linked services
    #[arg(long = "no-deps")]
    no_deps: bool,
    /// Use this timeout in seconds for container shutdown when containers are recreated
    #[arg(short = 't', long)]
    timeout: Option<i32>,
    /// Stops all containers if any container was stopped (incompatible with -d)
    #[arg(long = "abort-on-container-exit", conflicts_with_all = ["detach", "wait"])]
    abort_on_container_exit: bool,
    /// Return the exit code of the selected service container (implies --abort-on-container-exit)
    #[arg(long = "exit-code-from", value_name = "SERVICE", conflicts_with_all = ["detach", "wait"])]
    exit_code_from: Option<String>,
    /// Restrict attaching to the specified services
    #[arg(long = "attach", value_name = "SERVICE")]
    attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long = "no-attach", value_name = "SERVICE")]
    no_attach: Vec<String>,
    /// Automatically attach to log output of dependent services
    #[arg(long = "attach-dependencies")]
    attach_dependencies: bool,
    /// Produce monochrome output
    #[arg(long = "no-color")]
    no_color: bool,
    /// Don't print prefix in logs
    #[arg(long = "no-log-prefix")]
    no_log_prefix: bool,
    /// Show timestamps
    #[arg(long)]
    timestamps: bool,
    /// Don't start the services after creating them
    #[arg(long = "no-start", conflicts_with_all = ["wait", "abort_on_container_exit", "exit_code_from"])]
    no_start: bool,
    /// Services to start (default: all), with what they depend on
    services: Vec<String>,
}

// The flags `up` and `create` share: how images are had and containers
// kept. (A `///` comment here would replace both commands' help text.)
#[derive(Debug, Args)]
pub struct MakingFlags {
    /// Build images before starting containers
    #[arg(long, conflicts_with = "no_build")]
    build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long = "no-build")]
    no_build: bool,
    /// Pull image before running
    #[arg(long, value_parser = ["always", "missing", "never"])]
    pull: Option<String>,
    /// Pull without printing progress information
    #[arg(long = "quiet-pull")]
    quiet_pull: bool,
    /// Recreate containers even if their configuration hasn't changed
    #[arg(long = "force-recreate", conflicts_with = "no_recreate")]
    force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long = "no-recreate")]
    no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    remove_orphans: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` and `deploy.replicas`)
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
}

/// Creates containers for a service (up --no-start)
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    making: MakingFlags,
    /// Services to create (default: all), with what they depend on
    services: Vec<String>,
}

impl From<CreateArgs> for UpArgs {
    fn from(create: CreateArgs) -> Self {
        Self {
            detach: true,
            wait: false,
            wait_timeout: None,
            making: create.making,
            no_deps: false,
            timeout: None,
            abort_on_container_exit: false,
            exit_code_from: None,
            attach: Vec::new(),
            no_attach: Vec::new(),
            attach_dependencies: false,
            no_color: false,
            no_log_prefix: false,
            timestamps: false,
            no_start: true,
            services: create.services,
        }
    }
}

/// Runs `up` for a planned project.
pub async fn up(engine: Engine, mut plan: Plan, args: UpArgs) -> CliResult<i32> {
    let since = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    apply_scale(&mut plan, &args.making.scale)?;
    let selected = selection(&plan, &args.services, args.no_deps)?;
    let existing = engine.project_containers(&plan.project, true).await?;
    handle_orphans(&engine, &plan, &existing, args.making.remove_orphans).await?;
    let policy = ImagePolicy {
        build: args.making.build,
        no_build: args.making.no_build,
        pull: args.making.pull.clone(),
        quiet: args.making.quiet_pull,
    };
    let image_ids = prepare_images(&engine, &plan, &selected, &policy).await?;
    let options = ConvergeOptions {
        force_recreate: args.making.force_recreate,
        no_recreate: args.making.no_recreate,
        timeout: args.timeout,
        image_ids,
        no_start: args.no_start,
    };
    let plan = Arc::new(plan);
    let converged = converge(&engine, plan.clone(), &selected, &existing, options).await?;
    if args.no_start {
        return Ok(0);
    }
    if args.wait {
        let deadline = args.wait_timeout.map(Duration::from_secs);
        let one_shots = one_shots(&plan);
        let waiting = wait_all(&engine, &converged, &one_shots);
        match deadline {
            Some(limit) => tokio::time::timeout(limit, waiting).await.map_err(|_| {
                CliError::client(format!(
                    "the project was not running and healthy within {}s (--wait-timeout)",
                    limit.as_secs()
                ))
            })??,
            None => waiting.await?,
        }
    }
    if args.detach || args.wait {
        return Ok(0);
    }
    let attach = attachment(&engine, &plan, &converged, &args, since).await?;
    attached::follow(&engine, attach).await
}

/// Makes the selected services match the plan: their networks and the
/// project's volumes first, then every service at once, each as soon as
/// what it depends on is ready (one-off containers are left alone).
/// Returns the converged services.
pub async fn converge(
    engine: &Engine,
    plan: Arc<Plan>,
    selected: &BTreeSet<String>,
    existing: &[ContainerSummary],
    options: ConvergeOptions,
) -> CliResult<Vec<Ready>> {
    ensure_resources(engine, &plan, selected).await?;
    let options = Arc::new(options);
    let mut states: BTreeMap<String, watch::Sender<State>> = BTreeMap::new();
    for service in plan.services.iter().filter(|s| selected.contains(&s.name)) {
        states.insert(service.name.clone(), watch::channel(State::Pending).0);
    }
    let mut tasks = JoinSet::new();
    for (index, service) in plan.services.iter().enumerate() {
        let Some(sender) = states.get(&service.name).cloned() else {
            continue;
        };
        let dependencies: Vec<(String, watch::Receiver<State>)> = service
            .depends_on
            .iter()
            .filter_map(|d| {
                states
                    .get(&d.service)
                    .map(|s| (d.service.clone(), s.subscribe()))
            })
            .collect();
        let mine: Vec<ContainerSummary> = existing
            .iter()
            .filter(|c| {
                c.labels.get(labels::SERVICE) == Some(&service.name)
                    && c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True")
            })
            .cloned()
            .collect();
        let job = Converge {
            engine: engine.clone(),
            plan: plan.clone(),
            index,
            existing: mine,
            options: options.clone(),
        };
        tasks.spawn(async move {
            let outcome = job.run(dependencies).await;
            let state = match &outcome {
                Ok(ready) => State::Ready(ready.clone()),
                Err(e) => State::Failed(e.message.clone()),
            };
            sender.send_replace(state);
            outcome.map(|_| ())
        });
    }
    let mut failure = None;
    while let Some(result) = tasks.join_next().await {
        let outcome =
            result.map_err(|e| CliError::client(format!("a service task failed: {e}")))?;
        if let Err(e) = outcome {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(states
        .values()
        .filter_map(|s| match &*s.borrow() {
            State::Ready(ready) => Some(ready.clone()),
            _ => None,
        })
        .collect())
}

/// Makes the networks the selected services join and the project's
/// volumes, unless they exist (external ones must).
pub async fn ensure_resources(
    engine: &Engine,
    plan: &Plan,
    selected: &BTreeSet<String>,
) -> CliResult {
    for network in &plan.networks {
        if !network_used(plan, &network.name, selected) {
            continue;
        }
        let name = &network.name;
        let creating = || event(Kind::Network, name, "Creating");
        if engine.ensure_network(network, creating).await? {
            event(Kind::Network, name, "Created");
        }
    }
    for volume in &plan.volumes {
        let name = format!("{:?}", volume.name);
        let creating = || event(Kind::Volume, &name, "Creating");
        if engine.ensure_volume(volume, creating).await? {
            event(Kind::Volume, &name, "Created");
        }
    }
    Ok(())
}

/// What an attached `up` follows: the named services (all when none
/// were named; with `--attach-dependencies`, what they depend on too),
/// narrowed by `--attach` and `--no-attach`.
async fn attachment(
    engine: &Engine,
    plan: &Plan,
    converged: &[Ready],
    args: &UpArgs,
    since: i64,
) -> CliResult<attached::Attach> {
    let followed = selection(plan, &args.services, !args.attach_dependencies)?;
    let ids: BTreeSet<&str> = converged
        .iter()
        .flat_map(|r| r.containers.iter().map(|(id, _)| id.as_str()))
        .collect();
    let started: Vec<ContainerSummary> = engine
        .project_containers(&plan.project, true)
        .await?
        .into_iter()
        .filter(|c| ids.contains(c.id.as_str()))
        .collect();
    let shown = started
        .iter()
        .filter(|c| {
            let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
            followed.contains(&service)
                && (args.attach.is_empty() || args.attach.contains(&service))
                && !args.no_attach.contains(&service)
        })
        .cloned()
        .collect();
    Ok(attached::Attach {
        shown,
        started,
        since,
        style: Style::new(args.no_color, args.no_log_prefix, args.timestamps),
        abort_on_exit: args.abort_on_container_exit,
        exit_code_from: args.exit_code_from.clone(),
        one_shots: one_shots(plan),
        timeout: args.timeout,
    })
}

/// `--scale web=3`.
fn apply_scale(plan: &mut Plan, scales: &[String]) -> CliResult {
    for scale in scales {
        let (name, count) = scale
            .split_once('=')
            .and_then(|(n, c)| c.parse::<u32>().ok().map(|c| (n, c)))
            .ok_or_else(|| {
                CliError::client(format!("invalid --scale {scale:?}: use SERVICE=NUM"))
            })?;
        let service = plan
            .services
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| CliError::client(format!("no such service: {name}")))?;
        if service.container_name.is_some() && count > 1 {
            return Err(CliError::client(format!(
                "service {name} has a container_name and cannot be scaled to {count}"
            )));
        }
        service.replicas = count;
    }
    Ok(())
}

/// The services to converge: those named (all when none) and, unless
/// `no_deps`, everything they depend on.
pub fn selection(plan: &Plan, named: &[String], no_deps: bool) -> CliResult<BTreeSet<String>> {
    for name in named {
        if !plan.services.iter().any(|s| &s.name == name) {
            return Err(CliError::client(format!("no such service: {name}")));
        }
    }
    if named.is_empty() {
        return Ok(plan.services.iter().map(|s| s.name.clone()).collect());
    }
    let mut selected: BTreeSet<String> = named.iter().cloned().collect();
    if no_deps {
        return Ok(selected);
    }
    let mut queue: Vec<String> = named.to_vec();
    while let Some(name) = queue.pop() {
        if let Some(service) = plan.services.iter().find(|s| s.name == name) {
            for dependency in &service.depends_on {
                if selected.insert(dependency.service.clone()) {
                    queue.push(dependency.service.clone());
                }
            }
        }
    }
    Ok(selected)
}

/// Whether a selected service joins `network`.
fn network_used(plan: &Plan, network: &str, selected: &BTreeSet<String>) -> bool {
    plan.services
        .iter()
        .filter(|s| selected.contains(&s.name))
        .any(|s| s.networks.iter().any(|a| a.network == network))
}

/// Containers of services the file no longer has: removed with
/// `--remove-orphans`, else a warning as Docker Compose gives.
async fn handle_orphans(
    engine: &Engine,
    plan: &Plan,
    existing: &[ContainerSummary],
    remove: bool,
) -> CliResult {
    let orphans: Vec<&ContainerSummary> = existing
        .iter()
        .filter(|c| {
            c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| !plan.services.iter().any(|p| &p.name == s))
        })
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if !remove {
        let names: Vec<&str> = orphans.iter().map(|c| c.name.as_str()).collect();
        warn(&format!(
            "Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(", ")
        ));
        return Ok(());
    }
    for orphan in orphans {
        event(Kind::Container, &orphan.name, "Removing");
        engine.stop(&orphan.id, None).await?;
        engine.remove(&orphan.id, false).await?;
        event(Kind::Container, &orphan.name, "Removed");
    }
    Ok(())
}

/// How far a service has come.
#[derive(Debug, Clone)]
enum State {
    /// Still converging (or waiting for its dependencies).
    Pending,
    /// Its containers are started.
    Ready(Ready),
    /// It could not be started: why.
    Failed(String),
}

/// A converged service.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Its name.
    pub service: String,
    /// Its containers: (ID, name).
    pub containers: Vec<(String, String)>,
    /// Whether any container was made anew.
    pub recreated: bool,
}

/// Flags that change how containers are kept or replaced.
pub struct ConvergeOptions {
    /// Recreate even unchanged containers.
    pub force_recreate: bool,
    /// Keep changed containers.
    pub no_recreate: bool,
    /// Stop timeout in seconds for what is replaced.
    pub timeout: Option<i32>,
    /// The image ID each service's containers should run (a container
    /// on another image is recreated).
    pub image_ids: BTreeMap<String, String>,
    /// Create, but start nothing (`up --no-start`, `create`): what runs
    /// keeps running, what is stopped stays stopped, and no dependency
    /// condition is waited for.
    pub no_start: bool,
}

/// One service's convergence.
struct Converge {
    engine: Engine,
    plan: Arc<Plan>,
    index: usize,
    existing: Vec<ContainerSummary>,
    options: Arc<ConvergeOptions>,
}

impl Converge {
    fn service(&self) -> &ServicePlan {
        &self.plan.services[self.index]
    }

    async fn run(self, dependencies: Vec<(String, watch::Receiver<State>)>) -> CliResult<Ready> {
        let mut restart = false;
        let mut recreate = false;
        let mut readies = BTreeMap::new();
        for (name, mut receiver) in dependencies {
            let state = receiver
                .wait_for(|s| !matches!(s, State::Pending))
                .await
                .map_err(|_| CliError::client(format!("service {name} was never converged")))?
                .clone();
            let Some(dependency) = self.service().depends_on.iter().find(|d| d.service == name)
            else {
                continue;
            };
            match state {
                State::Ready(ready) => {
                    restart |= dependency.restart && ready.recreated && !self.options.no_start;
                    // Its shared namespaces went with the old container.
                    recreate |= ready.recreated && shares_namespaces(self.service(), &name);
                    if !self.options.no_start {
                        await_dependency(&self.engine, dependency, &ready).await?;
                    }
                    readies.insert(name, ready);
                }
                State::Failed(why) if dependency.required => {
                    return Err(CliError::client(format!(
                        "dependency failed to start: {why}"
                    )));
                }
                State::Failed(why) => {
                    warn(&format!("optional dependency {name} failed: {why}"));
                }
                State::Pending => {}
            }
        }
        self.converge(&readies, restart, recreate).await
    }

    /// Makes the service's containers match the plan; `restart` the kept
    /// ones, or `recreate` them all, because a dependency was recreated.
    async fn converge(
        &self,
        readies: &BTreeMap<String, Ready>,
        restart: bool,
        recreate: bool,
    ) -> CliResult<Ready> {
        let service = self.service();
        let project = &self.plan.project;
        let mut containers = Vec::new();
        let mut replaced = Vec::new();
        let mut recreated = false;
        for number in 1..=service.replicas {
            let name = service.container_name(project, number);
            let current = self.existing.iter().find(|c| {
                c.name == name
                    || c.labels.get(labels::NUMBER).map(String::as_str)
                        == Some(number.to_string().as_str())
            });
            let id = match current {
                Some(c) if !recreate && self.keep(c) => {
                    if self.options.no_start {
                        let state = if c.state == "running" {
                            "Running"
                        } else {
                            "Created"
                        };
                        event(Kind::Container, &c.name, state);
                    } else if c.state == "running" {
                        if restart {
                            event(Kind::Container, &c.name, "Restarting");
                            self.engine.stop(&c.id, self.options.timeout).await?;
                            self.engine.start(&c.id).await?;
                            event(Kind::Container, &c.name, "Restarted");
                        } else {
                            event(Kind::Container, &c.name, "Running");
                        }
                    } else {
                        event(Kind::Container, &c.name, "Starting");
                        self.engine.start(&c.id).await?;
                        event(Kind::Container, &c.name, "Started");
                    }
                    c.id.clone()
                }
                Some(c) => {
                    replaced.push(c.id.clone());
                    event(Kind::Container, &c.name, "Recreate");
                    self.engine.stop(&c.id, self.options.timeout).await?;
                    self.engine.remove(&c.id, false).await?;
                    recreated = true;
                    let id = self.create(&name, number, readies).await?;
                    event(Kind::Container, &name, "Recreated");
                    self.start(&id, &name).await?;
                    id
                }
                None => {
                    event(Kind::Container, &name, "Creating");
                    recreated = true;
                    let id = self.create(&name, number, readies).await?;
                    event(Kind::Container, &name, "Created");
                    self.start(&id, &name).await?;
                    id
                }
            };
            containers.push((id, name));
        }
        let surplus = self
            .existing
            .iter()
            .filter(|c| !replaced.contains(&c.id) && !containers.iter().any(|(id, _)| id == &c.id));
        for surplus in surplus {
            event(Kind::Container, &surplus.name, "Stopping");
            self.engine.stop(&surplus.id, self.options.timeout).await?;
            event(Kind::Container, &surplus.name, "Removing");
            self.engine.remove(&surplus.id, false).await?;
            event(Kind::Container, &surplus.name, "Removed");
        }
        Ok(Ready {
            service: service.name.clone(),
            containers,
            recreated,
        })
    }

    /// Whether an existing container can stay.
    fn keep(&self, container: &ContainerSummary) -> bool {
        if self.options.force_recreate {
            return false;
        }
        let service = self.service();
        let same_image = self
            .options
            .image_ids
            .get(&service.name)
            .is_none_or(|id| id == &container.image_id);
        self.options.no_recreate
            || (same_image
                && container.labels.get(labels::CONFIG_HASH) == Some(&service.config_hash))
    }

    /// Creates replica `number` and connects it to every network.
    async fn create(
        &self,
        name: &str,
        number: u32,
        readies: &BTreeMap<String, Ready>,
    ) -> CliResult<String> {
        let service = self.service();
        let mut spec = service.replica_spec(number);
        match (&service.network_mode, service.networks.first()) {
            (Some(mode), _) => spec.network_mode = mode.clone(),
            (None, Some(first)) => {
                spec.network_mode = first.network.clone();
                spec.network_aliases = first.aliases.clone();
                spec.ipv4_address = first.ipv4_address.clone();
            }
            (None, None) => {}
        }
        resolve_shared_namespaces(&mut spec, &service.name, readies)?;
        let id = self.engine.create_container(name, &spec).await?;
        for attachment in service.networks.iter().skip(1) {
            self.engine
                .connect(
                    &attachment.network,
                    &id,
                    &attachment.aliases,
                    attachment.ipv4_address.as_deref(),
                )
                .await?;
        }
        Ok(id)
    }

    /// Starts a container just made, unless nothing is to be started.
    async fn start(&self, id: &str, name: &str) -> CliResult {
        if self.options.no_start {
            return Ok(());
        }
        event(Kind::Container, name, "Starting");
        self.engine.start(id).await?;
        event(Kind::Container, name, "Started");
        Ok(())
    }
}

/// Whether a service lives in namespaces (network, pid, ipc) of `other`.
fn shares_namespaces(service: &ServicePlan, other: &str) -> bool {
    let shared = format!("service:{other}");
    service.network_mode.as_deref() == Some(shared.as_str())
        || service.spec.pid_mode == shared
        || service.spec.ipc_mode == shared
}

/// Points a spec's references to other services at real containers: each
/// `service:<name>` (network, pid, ipc) becomes `container:<ID>` of that
/// service's first container, and `volumes_from` names its ID.
pub fn resolve_shared_namespaces(
    spec: &mut ContainerSpec,
    service: &str,
    readies: &BTreeMap<String, Ready>,
) -> CliResult {
    for (what, mode) in [
        ("network", &mut spec.network_mode),
        ("pid", &mut spec.pid_mode),
        ("ipc", &mut spec.ipc_mode),
    ] {
        let Some(other) = mode.strip_prefix("service:") else {
            continue;
        };
        let target = readies
            .get(other)
            .and_then(|r| r.containers.first())
            .ok_or_else(|| {
                CliError::client(format!(
                    "service {service} shares the {what} namespace of service {other}, which has no running container: start {other} too (drop --no-deps)"
                ))
            })?;
        *mode = format!("container:{}", target.0);
    }
    for entry in &mut spec.volumes_from {
        let Some(other) = entry.strip_prefix("service:") else {
            continue;
        };
        let (other, mode) = match other.split_once(':') {
            Some((other, mode)) => (other, format!(":{mode}")),
            None => (other, String::new()),
        };
        let target = readies
            .get(other)
            .and_then(|r| r.containers.first())
            .ok_or_else(|| {
                CliError::client(format!(
                    "service {service} mounts the volumes of service {other}, which has no container: start {other} too (drop --no-deps)"
                ))
            })?;
        *entry = format!("{}{mode}", target.0);
    }
    Ok(())
}

/// Waits until a converged dependency meets its condition; an optional
/// one that does not only warns.
pub async fn await_dependency(
    engine: &Engine,
    dependency: &Dependency,
    ready: &Ready,
) -> CliResult {
    for (id, name) in &ready.containers {
        let met = match dependency.condition {
            Condition::Started => Ok(()),
            Condition::Healthy => {
                event(Kind::Container, name, "Waiting");
                wait_healthy(engine, id, name)
                    .await
                    .inspect(|_| event(Kind::Container, name, "Healthy"))
            }
            Condition::CompletedSuccessfully => {
                event(Kind::Container, name, "Waiting");
                wait_completed(engine, &ready.service, id)
                    .await
                    .inspect(|_| event(Kind::Container, name, "Exited"))
            }
        };
        match met {
            Err(e) if !dependency.required => warn(&format!(
                "optional dependency {} is not ready: {}",
                dependency.service, e.message
            )),
            other => other?,
        }
    }
    Ok(())
}

/// Waits until a container's healthcheck says healthy; an unhealthy or
/// stopped container, or one without a healthcheck, is an error.
pub async fn wait_healthy(engine: &Engine, id: &str, name: &str) -> CliResult {
    loop {
        let inspect = engine.inspect(id).await?;
        let Some(health) = &inspect.state.health else {
            return Err(CliError::client(format!(
                "container {name} has no healthcheck configured: give its service a healthcheck, or depend on it with condition service_started"
            )));
        };
        match health.status.as_str() {
            "healthy" => return Ok(()),
            "unhealthy" => {
                return Err(CliError::client(format!(
                    "dependency failed to start: container {name} is unhealthy"
                )));
            }
            _ if !inspect.state.running => {
                return Err(CliError::client(format!(
                    "dependency failed to start: container {name} exited ({})",
                    inspect.state.exit_code
                )));
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// Waits until a container of `service` exits; any status but 0 is an
/// error.
pub async fn wait_completed(engine: &Engine, service: &str, id: &str) -> CliResult {
    let code = engine.wait(id).await?;
    if code != 0 {
        return Err(CliError::client(format!(
            "service {service:?} didn't complete successfully: exit {code}"
        )));
    }
    Ok(())
}

/// Services others depend on with `service_completed_successfully`: jobs
/// that are meant to exit (`--wait` waits for their success, as Docker
/// Compose does, rather than for them to run).
fn one_shots(plan: &Plan) -> BTreeSet<String> {
    plan.services
        .iter()
        .flat_map(|s| &s.depends_on)
        .filter(|d| d.condition == Condition::CompletedSuccessfully)
        .map(|d| d.service.clone())
        .collect()
}

/// `--wait`: every container running, and healthy when it has a
/// healthcheck; the containers of `one_shots` exited with status 0.
async fn wait_all(engine: &Engine, ready: &[Ready], one_shots: &BTreeSet<String>) -> CliResult {
    for service in ready {
        for (id, name) in &service.containers {
            event(Kind::Container, name, "Waiting");
            if one_shots.contains(&service.service) {
                wait_completed(engine, &service.service, id).await?;
                event(Kind::Container, name, "Exited");
                continue;
            }
            let inspect = engine.inspect(id).await?;
            if inspect.state.health.is_some() {
                wait_healthy(engine, id, name).await?;
                event(Kind::Container, name, "Healthy");
            } else if inspect.state.running {
                event(Kind::Container, name, "Running");
            } else {
                return Err(CliError::client(format!(
                    "container {name} exited ({})",
                    inspect.state.exit_code
                )));
            }
        }
    }
    Ok(())
}
