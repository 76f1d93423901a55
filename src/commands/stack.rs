//! `hoist stack …`: a compose file deployed as services across the
//! cluster (Docker's `docker stack`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use clap::{ArgAction, Subcommand};
use hoist_api::cluster::{ServiceView, TaskView};
use hoist_api::cluster_proto::secrets_client::SecretsClient;
use hoist_api::cluster_proto::stacks_client::StacksClient;
use hoist_api::cluster_proto::{
    CreateFileRequest, DeployStackRequest, Empty, FileKind, FileRef, StackChanges, StackNetwork,
    StackRef, TaskFilter,
};
use hoist_api::service::labels;
use hoist_compose::project::{LoadOptions, load};
use tonic::transport::Channel;

use crate::commands::decode;
use crate::commands::registry::pull_credentials_for;
use crate::commands::service::{
    TaskOutput, converge, print_services, ps_filters, services_client, with_desired_state,
};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, print_items, print_table};

/// `hoist stack …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum StackCommand {
    /// Deploy a new stack or update an existing stack
    #[command(visible_alias = "up")]
    Deploy {
        /// Path to a Compose file (repeat to merge several)
        #[arg(short = 'c', long = "compose-file", required = true)]
        compose_file: Vec<PathBuf>,
        /// Prune services that are no longer referenced
        #[arg(long)]
        prune: bool,
        /// Exit immediately instead of waiting for the stack services to converge
        #[arg(short = 'd', long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        detach: bool,
        /// Suppress progress output
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Send registry authentication details to the nodes that run the
        /// stack's tasks (from `hoist login`)
        #[arg(long)]
        with_registry_auth: bool,
        /// The stack's name
        stack: String,
    },
    /// List stacks
    #[command(visible_alias = "list")]
    Ls {
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// List the tasks in the stack
    Ps {
        #[command(flatten)]
        output: TaskOutput,
        /// Filter output (desired-state=running|shutdown|accepted, node=NODE)
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// The stack
        stack: String,
    },
    /// List the services in the stack
    Services {
        /// Only display IDs
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: table, json, or a Go template
        #[arg(long)]
        format: Option<String>,
        /// Filter output based on conditions provided (id, name, mode, label)
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// The stack
        stack: String,
    },
    /// Remove one or more stacks
    #[command(visible_alias = "remove", visible_alias = "down")]
    Rm {
        /// The stacks
        #[arg(required = true)]
        stacks: Vec<String>,
    },
}

/// The services of `stack`, by name; an error when it has none.
async fn services_of(channel: &Channel, stack: &str) -> CliResult<Vec<ServiceView>> {
    let all: Vec<ServiceView> = decode(
        &services_client(channel.clone())
            .list(Empty {})
            .await?
            .into_inner()
            .json,
    )?;
    let services: Vec<ServiceView> = all
        .into_iter()
        .filter(|s| {
            s.spec
                .labels
                .get(labels::STACK_NAMESPACE)
                .map(String::as_str)
                == Some(stack)
        })
        .collect();
    if services.is_empty() {
        return Err(CliError::client(format!("nothing found in stack: {stack}")));
    }
    Ok(services)
}

fn print_changes(changes: &StackChanges) {
    for warning in &changes.warnings {
        eprintln!("Warning: {warning}");
    }
    for action in &changes.actions {
        println!("{action}");
    }
}

/// Runs a stack command.
pub async fn run(channel: Channel, command: StackCommand) -> CliResult<i32> {
    match command {
        StackCommand::Deploy {
            compose_file,
            prune,
            detach,
            quiet,
            with_registry_auth,
            stack,
        } => {
            let options = DeployOptions {
                prune,
                detach,
                quiet,
                with_registry_auth,
            };
            deploy(channel, compose_file, options, &stack).await
        }
        StackCommand::Ls { format } => {
            let all: Vec<ServiceView> = decode(
                &services_client(channel)
                    .list(Empty {})
                    .await?
                    .into_inner()
                    .json,
            )?;
            let mut stacks: BTreeMap<String, usize> = BTreeMap::new();
            for service in &all {
                if let Some(stack) = service.spec.labels.get(labels::STACK_NAMESPACE) {
                    *stacks.entry(stack.clone()).or_default() += 1;
                }
            }
            let items: Vec<serde_json::Value> = stacks
                .iter()
                .map(|(name, count)| serde_json::json!({ "Name": name, "Services": count }))
                .collect();
            print_items(&Format::parse(format.as_deref()), &items, || {
                let rows: Vec<Vec<String>> = stacks
                    .iter()
                    .map(|(name, count)| vec![name.clone(), count.to_string()])
                    .collect();
                print_table(&["NAME", "SERVICES"], &rows);
            })?;
            Ok(0)
        }
        StackCommand::Services {
            quiet,
            format,
            filter,
            stack,
        } => {
            let services = services_of(&channel, &stack).await?;
            let services = crate::commands::cluster_filters::services(&filter, services)?;
            print_services(&services, quiet, format.as_deref())?;
            Ok(0)
        }
        StackCommand::Ps {
            output,
            filter,
            stack,
        } => {
            let (desired, node) = ps_filters(&filter)?;
            let services = services_of(&channel, &stack).await?;
            let tasks: Vec<TaskView> = decode(
                &services_client(channel)
                    .list_tasks(TaskFilter {
                        services: services.into_iter().map(|s| s.id).collect(),
                        node,
                    })
                    .await?
                    .into_inner()
                    .json,
            )?;
            output.show(&with_desired_state(tasks, desired.as_deref()))?;
            Ok(0)
        }
        StackCommand::Rm { stacks } => {
            let mut client = StacksClient::new(channel);
            let mut failed = false;
            for stack in stacks {
                match client
                    .remove(StackRef {
                        namespace: stack.clone(),
                    })
                    .await
                {
                    Ok(changes) => print_changes(&changes.into_inner()),
                    Err(status) if status.code() == tonic::Code::NotFound => {
                        eprintln!("Nothing found in stack: {stack}");
                        failed = true;
                    }
                    Err(status) => return Err(status.into()),
                }
            }
            Ok(i32::from(failed))
        }
    }
}

/// Creates the stack's secrets and configs that do not exist yet (an
/// existing one is kept as it is: they cannot change once made); an
/// external one must exist. Records in `created` what it made.
async fn make_files(
    client: &mut SecretsClient<Channel>,
    stack: &hoist_compose::stack::Stack,
    created: &mut Vec<(FileKind, String)>,
) -> CliResult {
    let kinds = [
        (FileKind::Secret, &stack.secrets),
        (FileKind::Config, &stack.configs),
    ];
    for (kind, files) in kinds {
        let noun = if kind == FileKind::Secret {
            "secret"
        } else {
            "config"
        };
        for file in files {
            let exists = client
                .inspect(FileRef {
                    kind: kind as i32,
                    reference: file.name.clone(),
                })
                .await
                .is_ok();
            if exists {
                continue;
            }
            if file.external {
                return Err(CliError::client(format!(
                    "external {noun} {} not found: create it first with hoist {noun} create",
                    file.name
                )));
            }
            let data = file_data(file, noun)?;
            client
                .create(CreateFileRequest {
                    kind: kind as i32,
                    name: file.name.clone(),
                    labels: file.labels.clone().into_iter().collect(),
                    data,
                })
                .await?;
            println!("Creating {noun} {}", file.name);
            created.push((kind, file.name.clone()));
        }
    }
    Ok(())
}

/// The data of a stack's secret or config: its file, inline content or
/// environment variable.
fn file_data(file: &hoist_compose::stack::StackFile, noun: &str) -> CliResult<Vec<u8>> {
    if let Some(path) = &file.file {
        return std::fs::read(path).map_err(|e| {
            CliError::client(format!(
                "{noun} {}: cannot read {}: {e}",
                file.key,
                path.display()
            ))
        });
    }
    file.content
        .as_ref()
        .or(file.environment.as_ref())
        .map(|text| text.as_bytes().to_vec())
        .ok_or_else(|| {
            CliError::client(format!(
                "{noun} {} has no file, content or environment to make it from",
                file.key
            ))
        })
}

/// How `stack deploy` goes about it (its flags).
struct DeployOptions {
    prune: bool,
    detach: bool,
    quiet: bool,
    with_registry_auth: bool,
}

/// `stack deploy`: loads the compose files as a project named after the
/// stack, translates it, and deploys every service in one write.
async fn deploy(
    channel: Channel,
    files: Vec<PathBuf>,
    options: DeployOptions,
    stack: &str,
) -> CliResult<i32> {
    let DeployOptions {
        prune,
        detach,
        quiet,
        with_registry_auth,
    } = options;
    let working_dir = std::env::current_dir()
        .map_err(|e| CliError::client(format!("cannot read the working directory: {e}")))?;
    let project = load(&LoadOptions {
        files,
        project_directory: None,
        project_name: Some(stack.to_string()),
        env_files: Vec::new(),
        profiles: Vec::new(),
        environment: std::env::vars().collect(),
        working_dir,
    })
    .map_err(|e| CliError::client(e.to_string()))?;
    let translated = hoist_compose::stack::stack(&project, stack)
        .map_err(|e| CliError::client(e.to_string()))?;
    for warning in &translated.warnings {
        eprintln!("Warning: {warning}");
    }
    let services_json = translated
        .services
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::client(e.to_string()))?;
    let networks = translated
        .networks
        .iter()
        .map(|n| {
            Ok(StackNetwork {
                spec_json: serde_json::to_vec(&n.spec)?,
                external: n.external,
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()
        .map_err(|e| CliError::client(e.to_string()))?;
    let registry_auths = if with_registry_auth {
        translated
            .services
            .iter()
            .filter_map(|s| {
                Some((
                    s.name.clone(),
                    pull_credentials_for(&s.task.container.image)?,
                ))
            })
            .collect()
    } else {
        HashMap::new()
    };
    let mut files = SecretsClient::new(channel.clone());
    let mut created = Vec::new();
    let made = make_files(&mut files, &translated, &mut created).await;
    let deployed = match made {
        Ok(()) => StacksClient::new(channel.clone())
            .deploy(DeployStackRequest {
                namespace: stack.to_string(),
                services_json,
                prune,
                networks,
                registry_auths,
            })
            .await
            .map_err(CliError::from),
        Err(e) => Err(e),
    };
    let changes = match deployed {
        Ok(changes) => changes.into_inner(),
        Err(e) => {
            // Nothing half deployed: the secrets and configs made for this
            // deploy go again.
            for (kind, name) in created {
                let _ = files
                    .remove(FileRef {
                        kind: kind as i32,
                        reference: name,
                    })
                    .await;
            }
            return Err(e);
        }
    };
    print_changes(&changes);
    if detach {
        return Ok(0);
    }
    let names: Vec<String> = translated.services.iter().map(|s| s.name.clone()).collect();
    converge(&mut services_client(channel), &names, quiet).await
}
