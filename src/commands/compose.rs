//! `hoist compose`: Docker Compose's commands on the local daemon. The
//! project flags (`-f`, `-p`, `--env-file`, `--profile`,
//! `--project-directory`) and `COMPOSE_*` variables work as in Docker
//! Compose; the model comes from the `hoist-compose` crate.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use hoist_compose::Project;
use hoist_compose::project::{LoadOptions, load};

use crate::exit::{CliError, CliResult};

/// `hoist compose [PROJECT FLAGS] COMMAND`.
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
pub enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical format
    #[command(visible_alias = "convert")]
    Config(ConfigArgs),
}

/// `hoist compose config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Format the output
    #[arg(long, value_enum, default_value_t = ConfigFormat::Yaml)]
    format: ConfigFormat,
    /// Print the service names, one per line
    #[arg(long)]
    services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    networks: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    images: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    quiet: bool,
    /// Save to file (default: standard output)
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// `config`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// YAML, as the compose file is written.
    Yaml,
    /// JSON.
    Json,
}

/// Runs a compose command.
pub fn run(args: ComposeArgs) -> CliResult<i32> {
    let project = load_project(&args)?;
    match args.command {
        ComposeCommand::Config(config) => print_config(&project, &config),
    }
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

/// `compose config`: the normalised model, or one list of names.
fn print_config(project: &Project, args: &ConfigArgs) -> CliResult<i32> {
    let model = project.model.to_json();
    let names = |kind: &str| -> Vec<String> {
        model[kind]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let text = if args.services {
        lines(names("services"))
    } else if args.volumes {
        lines(names("volumes"))
    } else if args.networks {
        lines(names("networks"))
    } else if args.profiles {
        let mut profiles: Vec<String> = model["services"]
            .as_object()
            .into_iter()
            .flat_map(|services| services.values())
            .filter_map(|service| service["profiles"].as_array())
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        profiles.sort();
        profiles.dedup();
        lines(profiles)
    } else if args.images {
        lines(
            model["services"]
                .as_object()
                .into_iter()
                .flat_map(|services| services.iter())
                .map(|(name, service)| match service["image"].as_str() {
                    Some(image) => image.to_string(),
                    None => format!("{}-{name}", project.name),
                })
                .collect(),
        )
    } else {
        match args.format {
            ConfigFormat::Json => serde_json::to_string_pretty(&model)
                .map(|s| s + "\n")
                .map_err(|e| CliError::client(format!("cannot render the model as JSON: {e}")))?,
            ConfigFormat::Yaml => project
                .model
                .to_yaml()
                .map_err(|e| CliError::client(format!("cannot render the model as YAML: {e}")))?,
        }
    };
    if args.quiet {
        return Ok(0);
    }
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::client(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(0)
}

/// Names, one per line.
fn lines(names: Vec<String>) -> String {
    names.into_iter().map(|n| n + "\n").collect()
}
