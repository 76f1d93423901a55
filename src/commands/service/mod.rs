//! `hoist service …`: services across the cluster, from a manager.

pub mod flags;
pub mod logs;

use std::time::Duration;

use clap::Subcommand;
use hoist_api::cluster::{ServiceView, TaskView};
use hoist_api::cluster_proto::services_client::ServicesClient;
use hoist_api::cluster_proto::{
    CreateServiceRequest, Empty, ServiceCreated, ServiceRef, TaskFilter, UpdateServiceRequest,
};
use hoist_api::proto::RegistryAuth;
use hoist_api::service::{ServiceMode, ServiceSpec};
use tonic::transport::Channel;

use crate::commands::registry::pull_credentials_for;
use crate::commands::{decode, for_each_printing, inspect_each, to_values};
use crate::exit::{CliError, CliResult};
use crate::format::{Format, ago, print_items, print_table, truncate};

/// `hoist service …`.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ServiceCommand {
    /// Create a new service
    Create {
        /// Exit immediately instead of waiting for the service to converge
        #[arg(short = 'd', long)]
        detach: bool,
        /// Suppress progress output
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Send registry authentication details to the nodes that run the
        /// service's tasks (from `hoist login`)
        #[arg(long)]
        with_registry_auth: bool,
        #[command(flatten)]
        flags: Box<flags::CreateFlags>,
    },
    /// List services
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
    /// List the tasks of one or more services
    Ps {
        #[command(flatten)]
        output: TaskOutput,
        /// Filter output (desired-state=running|shutdown|accepted, node=NODE)
        #[arg(short = 'f', long)]
        filter: Vec<String>,
        /// Services
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Display detailed information on one or more services
    Inspect {
        /// Format output using a Go template, or json
        #[arg(short = 'f', long)]
        format: Option<String>,
        /// Services
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Scale one or multiple replicated services (SERVICE=REPLICAS)
    Scale {
        /// Exit immediately instead of waiting for the services to converge
        #[arg(short = 'd', long)]
        detach: bool,
        /// SERVICE=REPLICAS pairs
        #[arg(required = true)]
        scales: Vec<String>,
    },
    /// Fetch the logs of a service or task
    Logs(logs::LogsArgs),
    /// Remove one or more services
    #[command(visible_alias = "remove")]
    Rm {
        /// Services
        #[arg(required = true)]
        services: Vec<String>,
    },
}

/// Largest answer the CLI accepts: `service ps` of a service with tens of
/// thousands of tasks is several megabytes of JSON.
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// A client of the `Services` API that accepts large answers.
pub(crate) fn services_client(channel: Channel) -> ServicesClient<Channel> {
    ServicesClient::new(channel).max_decoding_message_size(MAX_ANSWER)
}

fn created(answer: ServiceCreated) -> CliResult<ServiceView> {
    for warning in &answer.warnings {
        eprintln!("Warning: {warning}");
    }
    decode(&answer.view_json)
}

/// How many made-up names `service create` tries before giving up.
const NAME_ATTEMPTS: u32 = 5;

/// Stores a new service, whose image its nodes pull with `registry_auth`
/// when given. Without `--name`, it gets a made-up name as Docker gives
/// one (`eager_turing`), another if that one is taken.
async fn create(
    client: &mut ServicesClient<Channel>,
    mut spec: ServiceSpec,
    registry_auth: Option<RegistryAuth>,
) -> CliResult<ServiceView> {
    let named = !spec.name.is_empty();
    let mut attempt = 0;
    loop {
        if !named {
            spec.name = hoist_agent::containers::names::random_name(attempt);
        }
        let spec_json = serde_json::to_vec(&spec).map_err(|e| CliError::client(e.to_string()))?;
        let request = CreateServiceRequest {
            spec_json,
            registry_auth: registry_auth.clone(),
        };
        match client.create(request).await {
            Ok(answer) => return created(answer.into_inner()),
            Err(status)
                if !named
                    && status.code() == tonic::Code::AlreadyExists
                    && attempt + 1 < NAME_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// Runs a service command.
pub async fn run(channel: Channel, command: ServiceCommand) -> CliResult<i32> {
    let mut client = services_client(channel);
    match command {
        ServiceCommand::Create {
            detach,
            quiet,
            with_registry_auth,
            flags,
        } => {
            let spec = flags.to_spec()?;
            let registry_auth = if with_registry_auth {
                pull_credentials_for(&spec.task.container.image)
            } else {
                None
            };
            let view = create(&mut client, spec, registry_auth).await?;
            println!("{}", view.id);
            if !detach {
                return converge(&mut client, &[view.id], quiet).await;
            }
        }
        ServiceCommand::Ls {
            quiet,
            format,
            filter,
        } => {
            let services: Vec<ServiceView> =
                decode(&client.list(Empty {}).await?.into_inner().json)?;
            let services = crate::commands::cluster_filters::services(&filter, services)?;
            print_services(&services, quiet, format.as_deref())?;
        }
        ServiceCommand::Ps {
            output,
            filter,
            services,
        } => {
            let (desired, node) = ps_filters(&filter)?;
            let tasks: Vec<TaskView> = decode(
                &client
                    .list_tasks(TaskFilter { services, node })
                    .await?
                    .into_inner()
                    .json,
            )?;
            output.show(&with_desired_state(tasks, desired.as_deref()))?;
        }
        ServiceCommand::Inspect { format, services } => {
            return inspect_each(&services, format.as_deref(), |service| {
                let mut client = client.clone();
                async move {
                    let json = client
                        .inspect(ServiceRef { service })
                        .await?
                        .into_inner()
                        .json;
                    crate::commands::decode_status(&json)
                }
            })
            .await;
        }
        ServiceCommand::Scale { detach, scales } => {
            let mut scaled = Vec::new();
            let mut failed = false;
            for pair in &scales {
                match scale(&mut client, pair).await {
                    Ok((id, line)) => {
                        println!("{line}");
                        scaled.push(id);
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            if !detach && !scaled.is_empty() {
                let code = converge(&mut client, &scaled, false).await?;
                if code != 0 {
                    return Ok(code);
                }
            }
            return Ok(i32::from(failed));
        }
        ServiceCommand::Logs(args) => return logs::run(&mut client, args).await,
        ServiceCommand::Rm { services } => {
            return for_each_printing(&services, false, |service| {
                let mut client = client.clone();
                async move {
                    client
                        .remove(ServiceRef {
                            service: service.clone(),
                        })
                        .await?;
                    Ok(service)
                }
            })
            .await;
        }
    }
    Ok(0)
}

/// Prints services as `service ls` does (`-q`: IDs; `--format`).
pub(crate) fn print_services(
    services: &[ServiceView],
    quiet: bool,
    format: Option<&str>,
) -> CliResult {
    if quiet {
        for service in services {
            println!("{}", service.id);
        }
        return Ok(());
    }
    let items = to_values(services)?;
    print_items(&Format::parse(format), &items, || {
        let rows: Vec<Vec<String>> = services
            .iter()
            .map(|s| {
                vec![
                    truncate(&s.id, 12),
                    s.name.clone(),
                    s.mode.clone(),
                    format!("{}/{}", s.running, s.desired),
                    s.image.clone(),
                    s.ports.join(", "),
                ]
            })
            .collect();
        print_table(&["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], &rows);
    })
}

// How `service ps` and `node ps` print tasks. A plain comment on purpose:
// clap takes a flattened struct's doc comment for the about text of every
// command that flattens it.
#[derive(Debug, clap::Args)]
pub(crate) struct TaskOutput {
    /// Only display task IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    format: Option<String>,
}

impl TaskOutput {
    /// Prints `tasks`: their IDs with `-q`, else as `--format` says.
    pub(crate) fn show(&self, tasks: &[TaskView]) -> CliResult {
        if self.quiet {
            for task in tasks {
                println!("{}", task.id);
            }
            return Ok(());
        }
        let items = to_values(tasks)?;
        print_items(&Format::parse(self.format.as_deref()), &items, || {
            print_tasks(tasks, self.no_trunc)
        })
    }
}

/// The tasks among `tasks` whose desired state is `desired`, if given.
pub(crate) fn with_desired_state(tasks: Vec<TaskView>, desired: Option<&str>) -> Vec<TaskView> {
    tasks
        .into_iter()
        .filter(|t| desired.is_none_or(|d| t.desired_state.eq_ignore_ascii_case(d)))
        .collect()
}

/// `service ps`'s filters: `desired-state=…` and `node=…`.
pub(crate) fn ps_filters(filters: &[String]) -> CliResult<(Option<String>, String)> {
    let mut desired = None;
    let mut node = String::new();
    for filter in filters {
        match filter.split_once('=') {
            Some(("desired-state", value)) => desired = Some(value.to_string()),
            Some(("node", value)) => node = value.to_string(),
            _ => {
                return Err(CliError::usage(format!(
                    "invalid filter {filter:?}: use desired-state=running|shutdown or node=NODE"
                )));
            }
        }
    }
    Ok((desired, node))
}

/// Prints tasks as Docker's `service ps` table does: a slot's history under its
/// current task, marked `\_`.
fn print_tasks(tasks: &[TaskView], no_trunc: bool) {
    let mut previous: Option<&str> = None;
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let history = previous == Some(t.name.as_str());
            previous = Some(t.name.as_str());
            let since = chrono::DateTime::parse_from_rfc3339(&t.state_since)
                .map(|at| ago(at.timestamp()))
                .unwrap_or_default();
            let error = if t.error.is_empty() && t.current_state == "Pending" {
                t.message.clone()
            } else {
                t.error.clone()
            };
            vec![
                if no_trunc {
                    t.id.clone()
                } else {
                    truncate(&t.id, 12)
                },
                if history {
                    format!(" \\_ {}", t.name)
                } else {
                    t.name.clone()
                },
                t.image.clone(),
                t.node.clone(),
                t.desired_state.clone(),
                format!("{} {since}", t.current_state),
                if no_trunc {
                    error
                } else {
                    truncate(&error, 60)
                },
                t.ports.join(", "),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "IMAGE",
            "NODE",
            "DESIRED STATE",
            "CURRENT STATE",
            "ERROR",
            "PORTS",
        ],
        &rows,
    );
}

/// Sets the replica count `SERVICE=N` asks for; returns the service's ID
/// and Docker's line saying so.
async fn scale(client: &mut ServicesClient<Channel>, pair: &str) -> CliResult<(String, String)> {
    let (service, replicas) = pair
        .split_once('=')
        .and_then(|(s, n)| Some((s, n.parse::<u64>().ok()?)))
        .ok_or_else(|| {
            CliError::usage(format!(
                "invalid scale specifier {pair:?}: use SERVICE=REPLICAS"
            ))
        })?;
    let view: ServiceView = decode(
        &client
            .inspect(ServiceRef {
                service: service.to_string(),
            })
            .await?
            .into_inner()
            .json,
    )?;
    let mut spec = view.spec;
    if spec.mode == ServiceMode::Global {
        return Err(CliError::client(format!(
            "{service}: scale can only be used with replicated mode"
        )));
    }
    spec.mode = ServiceMode::Replicated { replicas };
    let spec_json = serde_json::to_vec(&spec).map_err(|e| CliError::client(e.to_string()))?;
    created(
        client
            .update(UpdateServiceRequest {
                service: view.id.clone(),
                spec_json,
                version: view.version,
            })
            .await?
            .into_inner(),
    )?;
    Ok((view.id, format!("{service} scaled to {replicas}")))
}

/// How often convergence is checked.
const POLL: Duration = Duration::from_millis(250);

/// Waits until every service in `ids` runs as many tasks as it wants,
/// printing progress (Docker's `--detach=false`). A task that cannot be
/// placed is shown with its reason; the wait goes on, as Docker's, until
/// the user interrupts it.
pub(crate) async fn converge(
    client: &mut ServicesClient<Channel>,
    ids: &[String],
    quiet: bool,
) -> CliResult<i32> {
    let mut last_line = String::new();
    loop {
        let mut done = true;
        let mut line = String::new();
        for id in ids {
            let view: ServiceView = decode(
                &client
                    .inspect(ServiceRef {
                        service: id.clone(),
                    })
                    .await?
                    .into_inner()
                    .json,
            )?;
            let tasks: Vec<TaskView> = decode(
                &client
                    .list_tasks(TaskFilter {
                        services: vec![id.clone()],
                        node: String::new(),
                    })
                    .await?
                    .into_inner()
                    .json,
            )?;
            let running = tasks
                .iter()
                .filter(|t| t.desired_state == "Running" && t.current_state == "Running")
                .count() as u64;
            let wanted = tasks
                .iter()
                .filter(|t| t.desired_state == "Running")
                .count() as u64;
            let desired = match view.spec.mode {
                ServiceMode::Replicated { replicas } => replicas,
                ServiceMode::Global => wanted,
            };
            done &= running == desired && wanted == desired;
            let pending = tasks
                .iter()
                .find(|t| {
                    t.desired_state == "Running"
                        && t.current_state == "Pending"
                        && !t.message.is_empty()
                })
                .map(|t| format!(" ({})", t.message))
                .unwrap_or_default();
            line.push_str(&format!(
                "{}: {running}/{desired} tasks running{pending}  ",
                view.name
            ));
        }
        if !quiet && line != last_line {
            println!("overall progress: {}", line.trim_end());
            last_line = line;
        }
        if done {
            if !quiet {
                println!("verify: Service converged");
            }
            return Ok(0);
        }
        tokio::time::sleep(POLL).await;
    }
}
