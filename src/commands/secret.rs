//! `hoist secret …` and `hoist config …`: the cluster's secrets and
//! configs, from a manager. A secret's data is never shown back; a
//! config's is (base64, as Docker's `Spec.Data`).

use std::io::Read;

use clap::Subcommand;
use hoist_api::cluster::{ConfigView, SecretView};
use hoist_api::cluster_proto::secrets_client::SecretsClient;
use hoist_api::cluster_proto::{CreateFileRequest, FileKind, FileKindRequest, FileRef};
use serde::Serialize;
use tonic::transport::Channel;

use super::cluster_filters;
use crate::commands::volume::pairs;
use crate::commands::{decode, for_each_printing, inspect_each, to_values};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, ago, print_items, print_table, truncate};

/// `hoist secret …` or `hoist config …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum FileCommand {
    /// Create one from a file, or from standard input with -
    Create {
        /// Labels (key=value)
        #[arg(short = 'l', long = "label")]
        label: Vec<String>,
        /// Its name
        name: String,
        /// The file holding its data, or - for standard input
        file: String,
    },
    /// List them
    #[command(visible_alias = "list")]
    Ls {
        /// Only display IDs
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
        /// Filter output based on conditions provided
        #[arg(short = 'f', long)]
        filter: Vec<String>,
    },
    /// Display detailed information on one or more
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
        /// Names or IDs
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more
    #[command(visible_alias = "remove")]
    Rm {
        /// Names or IDs
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// The data to store: the file's content, or standard input's for `-`.
fn read_data(file: &str) -> CliResult<Vec<u8>> {
    let mut data = Vec::new();
    let read = if file == "-" {
        std::io::stdin().read_to_end(&mut data).map(drop)
    } else {
        std::fs::read(file).map(|bytes| data = bytes)
    };
    read.map_err(|e| CliError::client(format!("cannot read {file}: {e}")))?;
    Ok(data)
}

/// How long ago an RFC 3339 time was (`N/A` when unreadable).
fn since(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|at| ago(at.timestamp()))
        .unwrap_or_else(|_| "N/A".into())
}

/// Runs a secret (`kind` Secret) or config command.
pub async fn run(channel: Channel, kind: FileKind, command: FileCommand) -> CliResult<i32> {
    let mut client = SecretsClient::new(channel);
    let kind = kind as i32;
    match command {
        FileCommand::Create { label, name, file } => {
            let data = read_data(&file)?;
            let request = CreateFileRequest {
                kind,
                name,
                labels: pairs(&label, "label")?,
                data,
            };
            let view: serde_json::Value = decode(&client.create(request).await?.into_inner().json)?;
            println!("{}", view["ID"].as_str().unwrap_or_default());
        }
        FileCommand::Ls {
            quiet,
            format,
            filter,
        } => {
            let json = client
                .list(FileKindRequest { kind })
                .await?
                .into_inner()
                .json;
            let format = Format::parse(format.as_deref());
            if kind == FileKind::Secret as i32 {
                let secrets: Vec<SecretView> = decode(&json)?;
                let secrets = cluster_filters::stored(&filter, "secret ls", secrets, |s| {
                    (&s.id, &s.name, &s.labels)
                })?;
                list(
                    &secrets,
                    quiet,
                    &format,
                    |s| {
                        (
                            s.id.clone(),
                            vec![
                                s.name.clone(),
                                s.driver.clone(),
                                since(&s.created_at),
                                since(&s.updated_at),
                            ],
                        )
                    },
                    &["ID", "NAME", "DRIVER", "CREATED", "UPDATED"],
                )?;
            } else {
                let configs: Vec<ConfigView> = decode(&json)?;
                let configs = cluster_filters::stored(&filter, "config ls", configs, |c| {
                    (&c.id, &c.name, &c.labels)
                })?;
                list(
                    &configs,
                    quiet,
                    &format,
                    |c| {
                        (
                            c.id.clone(),
                            vec![c.name.clone(), since(&c.created_at), since(&c.updated_at)],
                        )
                    },
                    &["ID", "NAME", "CREATED", "UPDATED"],
                )?;
            }
        }
        FileCommand::Inspect { format, names } => {
            return inspect_each(&names, format.as_deref(), |reference| {
                let mut client = client.clone();
                async move {
                    let json = client
                        .inspect(FileRef { kind, reference })
                        .await?
                        .into_inner()
                        .json;
                    crate::commands::decode_status(&json)
                }
            })
            .await;
        }
        FileCommand::Rm { names } => {
            return for_each_printing(&names, false, |reference| {
                let mut client = client.clone();
                async move {
                    client
                        .remove(FileRef {
                            kind,
                            reference: reference.clone(),
                        })
                        .await?;
                    Ok(reference)
                }
            })
            .await;
        }
    }
    Ok(0)
}

/// Prints `items` as `ls` does: IDs only, a format, or the table of
/// `headers` whose rows `row` makes (the ID, then the other cells).
fn list<T: Serialize>(
    items: &[T],
    quiet: bool,
    format: &Format,
    row: impl Fn(&T) -> (String, Vec<String>),
    headers: &[&str],
) -> CliResult {
    if quiet {
        for item in items {
            println!("{}", row(item).0);
        }
        return Ok(());
    }
    print_items(format, &to_values(items)?, || {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                let (id, cells) = row(item);
                std::iter::once(truncate(&id, 25)).chain(cells).collect()
            })
            .collect();
        print_table(headers, &rows);
    })
}
