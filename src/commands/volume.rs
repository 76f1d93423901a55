//! Volume commands: create, ls, inspect, rm, prune.

use clap::{Args, Subcommand};
use hoist_api::proto::volumes_client::VolumesClient;
use hoist_api::proto::{
    CreateVolumeRequest, ListVolumesRequest, PruneVolumesRequest, RemoveVolumeRequest, Volume,
    VolumeRef,
};
use serde_json::json;
use tonic::transport::Channel;

use crate::commands::{for_each, inspect_each};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, print_items, print_table};

/// `hoist volume …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume
    Create {
        /// Specify volume driver name
        #[arg(short = 'd', long, default_value = "local")]
        driver: String,
        /// Set metadata for a volume
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        /// Volume name
        name: Option<String>,
    },
    /// List volumes
    #[command(visible_alias = "list")]
    Ls {
        /// Only display volume names
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Provide filter values (e.g. "dangling=true")
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
        /// Volumes
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes
        #[arg(short = 'f', long)]
        force: bool,
        /// Volumes
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused local volumes
    Prune(PruneArgs),
}

/// Remove unused local volumes
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

pub(crate) fn pairs(
    entries: &[String],
    what: &str,
) -> CliResult<std::collections::HashMap<String, String>> {
    entries
        .iter()
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CliError::usage(format!("invalid {what} {e:?}: use key=value")))
        })
        .collect()
}

/// The inspect document of volume `name`.
pub async fn local_document(
    client: &mut VolumesClient<Channel>,
    name: String,
) -> Result<serde_json::Value, tonic::Status> {
    Ok(document(
        &client.inspect(VolumeRef { name }).await?.into_inner(),
    ))
}

/// A volume as Docker's inspect shows it.
fn document(v: &Volume) -> serde_json::Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": v.scope,
    })
}

/// Runs a volume command.
pub async fn run(channel: Channel, command: VolumeCommand) -> CliResult<i32> {
    let mut client = VolumesClient::new(channel);
    match command {
        VolumeCommand::Create {
            driver,
            label,
            opt,
            name,
        } => {
            let request = CreateVolumeRequest {
                name: name.unwrap_or_default(),
                driver,
                labels: pairs(&label, "label")?,
                options: pairs(&opt, "option")?,
            };
            println!("{}", client.create(request).await?.into_inner().name);
        }
        VolumeCommand::Ls {
            quiet,
            filter,
            format,
        } => {
            let volumes = client
                .list(ListVolumesRequest { filters: filter })
                .await?
                .into_inner()
                .volumes;
            if quiet {
                for v in &volumes {
                    println!("{}", v.name);
                }
                return Ok(0);
            }
            // The fields of Docker's `volume ls --format json`, as strings.
            let items: Vec<serde_json::Value> = volumes
                .iter()
                .map(|v| {
                    json!({
                        "Driver": v.driver,
                        "Labels": crate::format::labels_text(&v.labels),
                        "Links": v.used_by.len().to_string(),
                        "Mountpoint": v.mountpoint,
                        "Name": v.name,
                        "Scope": v.scope,
                        "Size": "N/A",
                    })
                })
                .collect();
            print_items(&Format::parse(format.as_deref()), &items, || {
                let rows: Vec<Vec<String>> = volumes
                    .iter()
                    .map(|v| vec![v.driver.clone(), v.name.clone()])
                    .collect();
                print_table(&["DRIVER", "VOLUME NAME"], &rows);
            })?;
        }
        VolumeCommand::Inspect { format, names } => {
            return inspect_each(&names, format.as_deref(), |name| {
                let mut client = client.clone();
                async move { local_document(&mut client, name).await }
            })
            .await;
        }
        VolumeCommand::Rm { force, names } => {
            return for_each(&names, force, |name| {
                let mut client = client.clone();
                async move {
                    client.remove(RemoveVolumeRequest { name, force }).await?;
                    Ok(())
                }
            })
            .await;
        }
        VolumeCommand::Prune(args) => {
            let warning = if args.all {
                "This will remove all local volumes not used by at least one container."
            } else {
                "This will remove anonymous local volumes not used by at least one container."
            };
            super::prune::confirm(args.force, warning, "volume prune")?;
            let response = client
                .prune(PruneVolumesRequest {
                    all: args.all,
                    filters: args.filter,
                })
                .await?
                .into_inner();
            super::prune::report("Volumes", response.deleted, Some(response.space_reclaimed));
        }
    }
    Ok(0)
}
