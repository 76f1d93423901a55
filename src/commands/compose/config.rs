//! `hoist compose config`: the normalised model, or one of its lists.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use hoist_compose::Project;

use crate::exit::{CliError, CliResult};

/// Parse, resolve and render the compose file in canonical format
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

/// `compose config`: the normalised model, or one list of names.
pub fn print_config(project: &Project, args: &ConfigArgs) -> CliResult<i32> {
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
