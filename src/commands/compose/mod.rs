//! `hoist compose`: Docker Compose's commands on the local daemon. The
//! project flags (`-f`, `-p`, `--env-file`, `--profile`,
//! `--project-directory`) and `COMPOSE_*` variables work as in Docker
//! Compose; the model comes from the `hoist-compose` crate.

mod attached;
mod build;
mod config;
mod cp;
mod down;
mod each;
mod engine;
mod events;
mod events_cmd;
mod exec;
mod images;
mod lifecycle;
mod logs;
mod ls;
mod output;
mod port;
mod prepare;
mod ps;
mod registry;
mod rm;
mod run;
mod services;
mod signal;
mod stats;
mod top;
mod up;
mod wait;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use hoist_compose::Project;
use hoist_compose::plan::plan;
use hoist_compose::project::{LoadOptions, load};

use self::build::BuildArgs;
use self::config::{ConfigArgs, print_config};
use self::cp::CpArgs;
use self::down::DownArgs;
use self::engine::Engine;
use self::events_cmd::EventsArgs;
use self::exec::ExecArgs;
use self::images::ImagesArgs;
use self::lifecycle::{RestartArgs, StartArgs, StopArgs};
use self::logs::LogsArgs;
use self::ls::LsArgs;
use self::port::PortArgs;
use self::ps::PsArgs;
use self::registry::{PullArgs, PushArgs};
use self::rm::RmArgs;
use self::run::RunArgs;
use self::signal::{KillArgs, PauseArgs};
use self::top::TopArgs;
use self::up::UpArgs;
use self::wait::WaitArgs;
use crate::connect;
use crate::exit::{CliError, CliResult};

/// Define and run multi-container applications (Docker Compose)
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Compose configuration files (default: compose.yaml found from here up, or COMPOSE_FILE)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, `name:`, or the directory's name)
    #[arg(short = 'p', long = "project-name")]
    project_name: Option<String>,
    /// Alternate working directory (default: the directory of the first compose file)
    #[arg(long = "project-directory", value_name = "DIR")]
    project_directory: Option<PathBuf>,
    /// Alternate environment files (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Profiles to enable (default: COMPOSE_PROFILES)
    #[arg(long = "profile")]
    profiles: Vec<String>,
    #[command(subcommand)]
    command: ComposeCommand,
}

/// The compose subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical format
    #[command(visible_alias = "convert")]
    Config(ConfigArgs),
    /// Create and start containers
    Up(UpArgs),
    /// Stop and remove containers, networks
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Build or rebuild services
    Build(BuildArgs),
    /// Pull service images
    Pull(PullArgs),
    /// Push service images
    Push(PushArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(CpArgs),
    /// Start services
    Start(StartArgs),
    /// Stop services
    Stop(StopArgs),
    /// Restart service containers
    Restart(RestartArgs),
    /// Force stop service containers
    Kill(KillArgs),
    /// Removes stopped service containers
    Rm(RmArgs),
    /// Pause services
    Pause(PauseArgs),
    /// Unpause services
    Unpause(PauseArgs),
    /// Display the running processes
    Top(TopArgs),
    /// Print the public port for a port binding
    Port(PortArgs),
    /// List images used by the created containers
    Images(ImagesArgs),
    /// Block until containers of the named services stop
    Wait(WaitArgs),
    /// List running compose projects (needs no compose file)
    Ls(LsArgs),
    /// Receive real time events from containers
    Events(EventsArgs),
    /// Show the version information (needs no compose file nor daemon)
    Version(VersionArgs),
    /// Creates containers for a service (up --no-start)
    Create(up::CreateArgs),
    /// Display a live stream of the project's containers' resource usage
    Stats(stats::ComposeStatsArgs),
}

/// Show the version information (needs no compose file nor daemon)
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Shows only the version number
    #[arg(long)]
    short: bool,
    /// Format the output: pretty or json
    #[arg(short, long, default_value = "pretty")]
    format: String,
}

/// `compose version`: hoist's own version, which its compose is; scripts
/// that only check that a compose exists get an answer without a file.
fn version(args: &VersionArgs) -> CliResult<i32> {
    let version = hoist_api::VERSION;
    match (args.short, args.format.as_str()) {
        (true, _) => println!("{version}"),
        (false, "json") => println!("{}", serde_json::json!({ "version": version })),
        (false, "pretty") => println!("hoist compose version {version}"),
        (false, other) => {
            return Err(CliError::usage(format!(
                "invalid --format {other:?}: use pretty or json"
            )));
        }
    }
    Ok(0)
}

/// Runs a compose command (`host`: the daemon to use).
pub async fn run(host: Option<&str>, args: ComposeArgs) -> CliResult<i32> {
    if let ComposeCommand::Version(version_args) = &args.command {
        return version(version_args);
    }
    if let ComposeCommand::Ls(ls) = args.command {
        return ls::ls(Engine::new(connect::channel(host).await?), ls).await;
    }
    let project = load_project(&args)?;
    if let ComposeCommand::Config(config) = &args.command {
        return print_config(&project, config);
    }
    let engine = Engine::new(connect::channel(host).await?);
    match args.command {
        ComposeCommand::Config(_) | ComposeCommand::Ls(_) | ComposeCommand::Version(_) => Ok(0),
        ComposeCommand::Up(up) => up::up(engine, planned(&project)?, up).await,
        ComposeCommand::Create(create) => up::up(engine, planned(&project)?, create.into()).await,
        ComposeCommand::Down(down) => down::down(engine, planned(&project)?, down).await,
        ComposeCommand::Ps(ps) => ps::ps(engine, &project.name, ps).await,
        ComposeCommand::Logs(logs) => logs::logs(engine, &project.name, logs).await,
        ComposeCommand::Exec(exec) => exec::exec(engine, &project.name, exec).await,
        ComposeCommand::Run(run) => run::run(engine, planned(&project)?, run).await,
        ComposeCommand::Build(build) => build::build(engine, planned(&project)?, build).await,
        ComposeCommand::Pull(pull) => registry::pull(engine, planned(&project)?, pull).await,
        ComposeCommand::Push(push) => registry::push(engine, planned(&project)?, push).await,
        ComposeCommand::Cp(cp) => cp::cp(engine, &project.name, cp).await,
        ComposeCommand::Start(start) => lifecycle::start(engine, planned(&project)?, start).await,
        ComposeCommand::Stop(stop) => lifecycle::stop(engine, planned(&project)?, stop).await,
        ComposeCommand::Restart(restart) => {
            lifecycle::restart(engine, planned(&project)?, restart).await
        }
        ComposeCommand::Kill(kill) => signal::kill(engine, planned(&project)?, kill).await,
        ComposeCommand::Rm(rm) => rm::rm(engine, planned(&project)?, rm).await,
        ComposeCommand::Pause(pause) => signal::pause(engine, planned(&project)?, pause).await,
        ComposeCommand::Unpause(unpause) => {
            signal::unpause(engine, planned(&project)?, unpause).await
        }
        ComposeCommand::Top(top) => top::top(engine, planned(&project)?, top).await,
        ComposeCommand::Stats(args) => stats::stats(engine, planned(&project)?, args).await,
        ComposeCommand::Port(port) => port::port(engine, planned(&project)?, port).await,
        ComposeCommand::Images(images) => images::images(engine, planned(&project)?, images).await,
        ComposeCommand::Wait(wait) => wait::wait(engine, planned(&project)?, wait).await,
        ComposeCommand::Events(events) => events_cmd::events(engine, &project.name, events).await,
    }
}

/// The project's plan; a setting no container can take is a client error.
fn planned(project: &Project) -> CliResult<hoist_compose::plan::Plan> {
    plan(project).map_err(|e| CliError::client(e.to_string()))
}

/// Loads the project the flags and the environment describe.
fn load_project(args: &ComposeArgs) -> CliResult<Project> {
    let working_dir = std::env::current_dir()
        .map_err(|e| CliError::client(format!("cannot read the working directory: {e}")))?;
    let environment: BTreeMap<String, String> = std::env::vars().collect();
    let options = LoadOptions {
        files: args.files.clone(),
        project_directory: args.project_directory.clone(),
        project_name: args.project_name.clone(),
        env_files: args.env_files.clone(),
        profiles: args.profiles.clone(),
        environment,
        working_dir,
    };
    load(&options).map_err(|e| CliError::client(e.to_string()))
}
