//! `hoist buildx`: Docker's buildx commands, which CI scripts and actions
//! call, over hoist's one builder (the daemon). `build` is `hoist build`,
//! `prune` is `builder prune`; the builder can be listed, inspected and
//! used, not created or removed.

use clap::Subcommand;
use tonic::transport::Channel;

use super::build::{BuildArgs, BuilderCommand, BuilderPruneArgs, build, builder};
use super::manifest::{fetch_remote, name_of};
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
    /// Commands to work on images in registry
    #[command(subcommand)]
    Imagetools(ImagetoolsCommand),
}

/// `buildx imagetools`.
#[derive(Debug, Subcommand)]
pub enum ImagetoolsCommand {
    /// Show details of an image in the registry
    Inspect(ImagetoolsInspectArgs),
}

/// Show details of an image in the registry
#[derive(Debug, clap::Args)]
pub struct ImagetoolsInspectArgs {
    /// Show original, unformatted JSON manifest
    #[arg(long)]
    pub raw: bool,
    /// Format the output using the given Go template ({{json .Manifest}})
    #[arg(long)]
    pub format: Option<String>,
    /// The image
    pub name: String,
}

/// Inspect current builder instance
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Ensure builder has booted before inspecting (it always has)
    #[arg(long)]
    pub bootstrap: bool,
    /// The builder
    pub name: Option<String>,
}

/// Set the current builder instance (default, the only one)
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

/// Create a new builder instance (refused: the daemon is hoist's builder; its
/// arguments are taken only to refuse them clearly)
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
        BuildxCommand::Imagetools(ImagetoolsCommand::Inspect(args)) => {
            imagetools_inspect(channel, args).await
        }
    }
}

/// `buildx imagetools inspect`: the registry's document as it is with
/// `--raw`, a template over it with `--format`, else buildx's summary
/// (name, media type, digest, and each platform's manifest of an index).
async fn imagetools_inspect(channel: Channel, args: ImagetoolsInspectArgs) -> CliResult<i32> {
    let (reference, manifests) = fetch_remote(
        channel,
        &args.name,
        !args.raw && args.format.is_none(),
        false,
    )
    .await?;
    let Some((named, platforms)) = manifests.split_first() else {
        return Ok(0);
    };
    if args.raw {
        println!("{}", String::from_utf8_lossy(&named.raw));
        return Ok(0);
    }
    if let Some(template) = &args.format {
        let manifest: serde_json::Value = serde_json::from_slice(&named.raw).map_err(|e| {
            CliError::client(format!(
                "the registry sent a manifest that is not JSON: {e}"
            ))
        })?;
        let document = serde_json::json!({"Name": reference.to_string(), "Manifest": manifest});
        println!("{}", crate::format::render(template, &document)?);
        return Ok(0);
    }
    println!("Name:      {reference}");
    println!("MediaType: {}", named.media_type);
    println!("Digest:    {}", named.digest);
    if !platforms.is_empty() {
        println!("\nManifests:");
        for manifest in platforms {
            let platform: serde_json::Value =
                serde_json::from_slice(&manifest.platform_json).unwrap_or_default();
            let field = |key: &str| platform[key].as_str().unwrap_or("").to_string();
            let platform = [field("os"), field("architecture"), field("variant")]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("/");
            println!("  Name:      {}@{}", name_of(&reference), manifest.digest);
            println!("  MediaType: {}", manifest.media_type);
            println!("  Platform:  {platform}\n");
        }
    }
    Ok(0)
}
