//! `hoist`: the CLI and the daemon (`hoist daemon`) in one binary. The
//! per-container shim is its own small binary, `hoist-shim`, installed
//! beside it.

mod commands;
mod connect;
mod exit;
mod format;
mod progress;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use commands::build::{BuildArgs, BuilderCommand};
use commands::cluster::ClusterCommand;
use commands::compose::ComposeArgs;
use commands::container::{
    self, AttachArgs, CommitArgs, CreateArgs, DiffArgs, ExecArgs, KillArgs, LogsArgs, PortArgs,
    PruneArgs, PsArgs, RenameArgs, RestartArgs, RmArgs, RunArgs, StartArgs, StatsArgs, StopArgs,
    TargetsArgs, TopArgs, UnpauseArgs, WaitArgs,
};
use commands::events::EventsArgs;
use commands::files::{CpArgs, ExportArgs};
use commands::image::{
    self, HistoryArgs, ImagesArgs, ImportArgs, LoadArgs, RmiArgs, SaveArgs, TagArgs,
};
use commands::inspect::{self, ContainerInspectArgs, ImageInspectArgs, InspectArgs, Kind};
use commands::network::NetworkCommand;
use commands::node::NodeCommand;
use commands::registry::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use commands::secret::FileCommand;
use commands::service::ServiceCommand;
use commands::stack::StackCommand;
use commands::update::UpdateArgs;
use commands::volume::VolumeCommand;
use exit::{CliError, EXIT_HOIST_FAILED};
use hoist_api::cluster_proto::FileKind;

/// A container engine and orchestrator with Docker's commands.
#[derive(Debug, Parser)]
#[command(name = "hoist", version, about, long_about = None, disable_help_subcommand = true)]
struct Cli {
    /// Daemon socket to connect to (unix:///path); for `hoist daemon`, where to listen
    #[arg(short = 'H', long, env = "HOIST_HOST")]
    host: Option<String>,
    /// Enable debug output
    #[arg(short = 'D', long)]
    debug: bool,
    /// With --host tcp://: trust certificates signed by this CA only
    #[arg(long, env = "HOIST_TLS_CACERT")]
    tlscacert: Option<PathBuf>,
    /// With --host tcp://: the client certificate
    #[arg(long, env = "HOIST_TLS_CERT")]
    tlscert: Option<PathBuf>,
    /// With --host tcp://: the client certificate's key
    #[arg(long, env = "HOIST_TLS_KEY")]
    tlskey: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(TargetsArgs),
    /// Unpause all processes within one or more containers
    Unpause(UnpauseArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Docker Buildx (hoist's builder is the daemon)
    #[command(subcommand)]
    Buildx(commands::buildx::BuildxCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Define and run multi-container applications (Docker Compose)
    Compose(ComposeArgs),
    /// Manage the cluster (Docker's `swarm`)
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Manage the cluster's nodes
    #[command(subcommand)]
    Node(NodeCommand),
    /// Manage the cluster's services
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage the cluster's secrets
    #[command(subcommand)]
    Secret(FileCommand),
    /// Manage the cluster's configs
    #[command(subcommand)]
    Config(FileCommand),
    /// Manage stacks: compose files deployed across the cluster
    #[command(subcommand)]
    Stack(StackCommand),
    /// Show the hoist version information
    Version,
    /// Manage image manifests in registries
    #[command(subcommand)]
    Manifest(commands::manifest::ManifestCommand),
    /// Manage hoist: disk usage, prune of unused data, information, events
    #[command(subcommand)]
    System(commands::system::SystemCommand),
    /// Display system-wide information
    Info,
    /// Get real time events from the server
    Events(EventsArgs),
    /// Run the hoist daemon
    Daemon(DaemonArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum ContainerCommand {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(TargetsArgs),
    /// Unpause all processes within one or more containers
    Unpause(UnpauseArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Display detailed information on one or more containers
    Inspect(ContainerInspectArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum ImageCommand {
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Remove unused images
    Prune(commands::image::PruneArgs),
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
}

/// Run the hoist daemon
#[derive(Debug, clap::Args)]
struct DaemonArgs {
    /// Socket to listen on (unix:///path)
    #[arg(short = 'H', long)]
    host: Option<String>,
    /// Root directory of persistent state
    #[arg(long, default_value = "/var/lib/hoist")]
    root: PathBuf,
    /// Root directory for runtime state
    #[arg(long = "exec-root", default_value = "/run/hoist")]
    exec_root: PathBuf,
    /// cgroup under which containers' cgroups are made
    #[arg(long = "cgroup-parent", default_value = "hoist")]
    cgroup_parent: String,
    /// Log level: error, warn, info, debug, trace
    #[arg(short = 'l', long = "log-level", default_value = "info")]
    log_level: String,
    /// Linux bridge of the default `bridge` network
    #[arg(short = 'b', long = "bridge", default_value = "hs0")]
    bridge: String,
    /// Address and prefix of the default bridge (e.g. 172.17.0.1/16); else a free subnet from the pools
    #[arg(long)]
    bip: Option<ipnetwork::Ipv4Network>,
    /// Address pool for networks without --subnet (base=CIDR,size=PREFIX); repeatable; replaces the defaults
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<hoist_netplugin::ipam::Pool>,
    /// IP address that the special 'host-gateway' string in --add-host resolves to (default: the default bridge's gateway)
    #[arg(long = "host-gateway-ip")]
    host_gateway_ip: Option<std::net::Ipv4Addr>,
    /// Registry (HOST[:PORT], or a CIDR range of IP addresses) that may be reached over plain HTTP or with an unverified certificate; repeatable
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_HOIST_FAILED,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        Command::Daemon(args) => {
            let host = args.host.clone().or(cli.host);
            run_daemon(host, args)
        }
        Command::Cluster(ClusterCommand::Simulate(args)) => run_simulation(cli.debug, args),
        command => {
            let target = connect::Target {
                host: cli.host,
                tls: connect::TlsFiles {
                    ca: cli.tlscacert,
                    cert: cli.tlscert,
                    key: cli.tlskey,
                },
            };
            run_client(target, cli.debug, command)
        }
    };
    std::process::exit(code);
}

/// Runs the engine with this node's part in a cluster beside it.
async fn serve_daemon(config: hoist_agent::DaemonConfig) -> anyhow::Result<()> {
    let executor = Arc::new(hoist_manager::node::worker::ContainerExecutor::new(
        config.socket.clone(),
    ));
    let node = hoist_manager::node::ClusterNode::open(&config.root, executor).await?;
    let routes = tonic::service::Routes::new(
        hoist_api::cluster_proto::cluster_server::ClusterServer::new(
            hoist_manager::node::service::ClusterService { node: node.clone() },
        ),
    )
    .add_service(
        hoist_api::cluster_proto::services_server::ServicesServer::new(
            hoist_manager::node::services_api::ServicesService { node: node.clone() },
        ),
    )
    .add_service(
        hoist_api::cluster_proto::secrets_server::SecretsServer::new(
            hoist_manager::node::secrets_api::SecretsService { node: node.clone() },
        ),
    )
    .add_service(
        hoist_api::cluster_proto::networks_server::NetworksServer::new(
            hoist_manager::node::networks_api::NetworksService { node: node.clone() },
        ),
    )
    .add_service(hoist_api::cluster_proto::stacks_server::StacksServer::new(
        hoist_manager::node::stacks_api::StacksService { node: node.clone() },
    ));
    hoist_agent::run(config, routes, async move { node.shutdown().await }).await
}

fn run_daemon(host: Option<String>, args: DaemonArgs) -> i32 {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOIST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
    let socket = match host
        .as_deref()
        .map(hoist_api::client::socket_path)
        .transpose()
    {
        Ok(path) => path.unwrap_or_else(|| PathBuf::from(hoist_api::client::DEFAULT_SOCKET)),
        Err(e) => {
            eprintln!("hoist daemon: {e}");
            return EXIT_HOIST_FAILED;
        }
    };
    let shim = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("hoist-shim"),
        Err(e) => {
            eprintln!("hoist daemon: cannot find its own executable: {e}");
            return 1;
        }
    };
    if !shim.is_file() {
        eprintln!(
            "hoist daemon: {} is missing: install hoist-shim beside hoist (scripts/setup.sh does)",
            shim.display()
        );
        return 1;
    }
    let config = hoist_agent::DaemonConfig {
        root: args.root,
        exec_root: args.exec_root,
        socket,
        cgroup_parent: args.cgroup_parent,
        shim,
        registries: hoist_runtime::image::registry::RegistryConfig {
            insecure: args.insecure_registry,
        },
        network: hoist_agent::networks::NetworkConfig {
            default_bridge: args.bridge,
            bip: args.bip,
            pools: if args.default_address_pool.is_empty() {
                hoist_netplugin::ipam::default_pools()
            } else {
                args.default_address_pool
            },
            host_gateway_ip: args.host_gateway_ip,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hoist daemon: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve_daemon(config)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hoist daemon: {e:#}");
            1
        }
    }
}

/// `cluster simulate` needs no daemon: it is a cluster client itself, on
/// a runtime with threads for its many nodes.
fn run_simulation(debug: bool, args: commands::cluster::SimulateArgs) -> i32 {
    let filter = if debug { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOIST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(commands::cluster::simulate(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}

fn run_client(target: connect::Target, debug: bool, command: Command) -> i32 {
    if debug {
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(dispatch(target, command)) {
        Ok(code) => code,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("{e}");
            }
            e.code
        }
    }
}

/// The daemon's channel for a container command: failing to reach it is
/// Docker's exit code 125.
async fn container_channel(host: Option<&str>) -> Result<tonic::transport::Channel, CliError> {
    connect::channel(host)
        .await
        .map_err(|e| e.with_code(EXIT_HOIST_FAILED))
}

async fn dispatch(target: connect::Target, command: Command) -> Result<i32, CliError> {
    if target.is_remote() {
        let channel = connect::remote_channel(&target).await?;
        return match command {
            Command::Cluster(c) => commands::cluster::run(channel, c).await,
            Command::Node(n) => commands::node::run(channel, n).await,
            Command::Service(s) => commands::service::run(channel, s).await,
            Command::Secret(s) => commands::secret::run(channel, FileKind::Secret, s).await,
            Command::Config(c) => commands::secret::run(channel, FileKind::Config, c).await,
            Command::Stack(s) => commands::stack::run(channel, s).await,
            _ => Err(CliError::usage(
                "over tcp:// a manager serves cluster commands only (cluster, node, service, stack, secret, config): run container commands against the host's own daemon",
            )),
        };
    }
    let host = target.host;
    match command {
        Command::Version => {
            return commands::system::version(connect::channel(host.as_deref()).await.ok()).await;
        }
        Command::Logout(a) => return commands::registry::logout(a),
        // What needs no builder answers without reaching (or starting) it.
        Command::Buildx(
            b @ (commands::buildx::BuildxCommand::Version
            | commands::buildx::BuildxCommand::Create(_)),
        ) => return commands::buildx::run_local(b),
        Command::Compose(a) => return commands::compose::run(host.as_deref(), a).await,
        // A container's flags become its spec before any daemon is reached
        // (or started), as Docker's client does: a typo costs no round trip.
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => {
            let spec = a.container.to_spec()?;
            let channel = container_channel(host.as_deref()).await?;
            return container::run(channel, a, spec).await;
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            let spec = a.container.to_spec()?;
            let channel = container_channel(host.as_deref()).await?;
            return container::create(channel, a, spec).await;
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            let update = a.to_update()?;
            let channel = connect::channel(host.as_deref()).await?;
            return commands::update::update(channel, &a.containers, &update).await;
        }
        _ => {}
    }
    let channel = match &command {
        Command::Exec(_) => container_channel(host.as_deref()).await?,
        _ => connect::channel(host.as_deref()).await?,
    };
    match command {
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            container::start(channel, a).await
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            container::attach(channel, a).await
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            container::exec(channel, a).await
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => {
            container::ps(channel, a).await
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            container::logs(channel, a).await
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            container::stop(channel, a).await
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            container::restart(channel, a).await
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            container::kill(channel, a).await
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            container::pause(channel, a).await
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            container::unpause(channel, a).await
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            container::wait(channel, a).await
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            container::rm(channel, a).await
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            container::rename(channel, a).await
        }
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => {
            container::port(channel, a).await
        }
        Command::Container(ContainerCommand::Prune(a)) => container::prune(channel, a).await,
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => {
            container::top(channel, a).await
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => {
            container::diff(channel, a).await
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            container::commit(channel, a).await
        }
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => image::save(channel, a).await,
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => image::load(channel, a).await,
        Command::Image(ImageCommand::Prune(a)) => image::prune(channel, a).await,
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => {
            commands::files::cp(channel, a).await
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            commands::files::export(channel, a).await
        }
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            container::stats(channel, a).await
        }
        Command::Inspect(a) => inspect::run(channel, a, Kind::Any).await,
        Command::Container(ContainerCommand::Inspect(a)) => {
            inspect::run(channel, a.inspect, Kind::Container).await
        }
        Command::Image(ImageCommand::Inspect(a)) => {
            inspect::run(channel, a.inspect, Kind::Image).await
        }
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            image::import(channel, a).await
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => image::images(channel, a).await,
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => image::rmi(channel, a).await,
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => image::tag(channel, a).await,
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            image::history(channel, a).await
        }
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            commands::registry::pull(channel, a).await
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            commands::registry::push(channel, a).await
        }
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => {
            commands::build::build(channel, *a).await
        }
        Command::Builder(b) => commands::build::builder(channel, b).await,
        Command::Buildx(b) => commands::buildx::run(channel, b).await,
        Command::Login(a) => commands::registry::login(channel, a).await,
        Command::Volume(v) => commands::volume::run(channel, v).await,
        Command::Network(n) => commands::network::run(channel, n).await,
        Command::Cluster(c) => commands::cluster::run(channel, c).await,
        Command::Node(n) => commands::node::run(channel, n).await,
        Command::Service(s) => commands::service::run(channel, s).await,
        Command::Secret(s) => commands::secret::run(channel, FileKind::Secret, s).await,
        Command::Config(c) => commands::secret::run(channel, FileKind::Config, c).await,
        Command::Stack(s) => commands::stack::run(channel, s).await,
        Command::Info => commands::system::info(channel).await,
        Command::System(s) => commands::system::run(channel, s).await,
        Command::Manifest(m) => commands::manifest::run(channel, m).await,
        Command::Events(a) => commands::events::events(channel, a).await,
        // Handled before the channel was made.
        Command::Version
        | Command::Daemon(_)
        | Command::Logout(_)
        | Command::Compose(_)
        | Command::Run(_)
        | Command::Container(ContainerCommand::Run(_))
        | Command::Create(_)
        | Command::Container(ContainerCommand::Create(_))
        | Command::Update(_)
        | Command::Container(ContainerCommand::Update(_)) => Ok(0),
    }
}
