//! `hoist buildx`: Docker's buildx commands, which CI scripts and actions
//! call, over hoist's one builder (the daemon). `build` is `hoist build`,
//! `prune` is `builder prune`; the builder can be listed, inspected and
//! used, not created or removed.

use clap::Subcommand;
use tonic::transport::Channel;

use super::build::{BuildArgs, BuilderCommand, BuilderPruneArgs, build, builder};
use crate::exit::{CliError, CliResult};

/// The name of hoist's one builder, as buildx names Docker's own.
const BUILDER: &str = "default";

/// Docker Buildx (hoist's builder is the daemon)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BuildxCommand {
    /// Start a build
    Build(Box<BuildArgs>),
    /// List builder instances
    Ls,
    /// Inspect current builder instance
    Inspect(InspectArgs),
    /// Set the current builder instance (default, the only one)
    Use(UseArgs),
    /// Remove build cache
    Prune(BuilderPruneArgs),
    /// Create a new builder instance (refused: the daemon is hoist's builder)
    Create(CreateArgs),
    /// Show buildx version information
    Version,
}

/// `buildx inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Ensure builder has booted before inspecting (it always has)
    #[arg(long)]
    pub bootstrap: bool,
    /// The builder
    pub name: Option<String>,
}

/// `buildx use`.
#[derive(Debug, clap::Args)]
pub struct UseArgs {
    /// Set builder as default for current context
    #[arg(long = "default")]
    pub default: bool,
    /// Builder persists context changes
    #[arg(long)]
    pub global: bool,
    /// The builder
    pub name: String,
}

/// `buildx create`: its arguments are taken only to refuse them clearly.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Anything buildx create takes
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Refuses any builder but hoist's own.
fn only_builder(name: &str) -> CliResult {
    if name == BUILDER {
        Ok(())
    } else {
        Err(CliError::client(format!(
            "no builder {name:?}: hoist has one builder, {BUILDER} (its daemon)"
        )))
    }
}

/// The platform the builder builds for: the host's.
fn platform() -> String {
    format!(
        "linux/{}",
        hoist_runtime::image::config::host_architecture()
    )
}

/// Runs `buildx version` and `buildx create`, which need no daemon.
pub fn run_local(command: BuildxCommand) -> CliResult<i32> {
    match command {
        BuildxCommand::Version => {
            println!(
                "hoist buildx {} (builds run by the hoist daemon)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(0)
        }
        _ => Err(CliError::client(format!(
            "hoist has one builder, {BUILDER} (its daemon), and makes no others: drop `buildx create` and build with it as it is"
        ))),
    }
}

/// Runs a `buildx` command against the daemon.
pub async fn run(channel: Channel, command: BuildxCommand) -> CliResult<i32> {
    let version = env!("CARGO_PKG_VERSION");
    match command {
        BuildxCommand::Build(args) => build(channel, *args).await,
        BuildxCommand::Prune(args) => builder(channel, BuilderCommand::Prune(args)).await,
        BuildxCommand::Version | BuildxCommand::Create(_) => run_local(command),
        BuildxCommand::Ls => {
            println!("NAME/NODE     DRIVER/ENDPOINT   STATUS    BUILDKIT   PLATFORMS");
            println!("{BUILDER}*      hoist");
            println!(
                " \\_ {BUILDER}    \\_ {BUILDER}        running   hoist {version}   {}",
                platform()
            );
            Ok(0)
        }
        BuildxCommand::Inspect(args) => {
            only_builder(args.name.as_deref().unwrap_or(BUILDER))?;
            println!("Name:          {BUILDER}");
            println!("Driver:        hoist");
            println!();
            println!("Nodes:");
            println!("Name:          {BUILDER}");
            println!("Endpoint:      {BUILDER}");
            println!("Status:        running");
            println!("BuildKit:      hoist {version}");
            println!("Platforms:     {}", platform());
            Ok(0)
        }
        BuildxCommand::Use(args) => {
            only_builder(&args.name)?;
            Ok(0)
        }
    }
}
