//! `hoist compose ps`: the project's containers, as Docker Compose lists
//! them: a table, one JSON object per line (`--format json`, as Compose
//! prints it for scripts), or a Go template per container.

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::labels;
use serde_json::{Value, json};

use super::engine::Engine;
use crate::exit::{CliError, CliResult};
use crate::format::{Format, ago, cells, print_table, render, truncate};

/// The states `--status` and `--filter status=` take.
const STATES: [&str; 7] = [
    "paused",
    "restarting",
    "removing",
    "running",
    "dead",
    "created",
    "exited",
];

/// List containers
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers
    #[arg(short, long)]
    all: bool,
    /// Only display IDs
    #[arg(short, long)]
    quiet: bool,
    /// Display services
    #[arg(long)]
    services: bool,
    /// Format output: table, json (one object per line), or a Go template
    #[arg(long)]
    format: Option<String>,
    /// Filter services by a property (status=STATE)
    #[arg(long)]
    filter: Option<String>,
    /// Filter services by status (paused, restarting, removing, running, dead, created, exited)
    #[arg(long)]
    status: Vec<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Services to list (default: all)
    names: Vec<String>,
}

impl PsArgs {
    /// The states asked for with `--status` and `--filter status=`.
    fn states(&self) -> CliResult<Vec<String>> {
        let mut states = self.status.clone();
        if let Some(filter) = &self.filter {
            match filter.split_once('=') {
                Some(("status", state)) => states.push(state.to_string()),
                _ => {
                    return Err(CliError::usage(format!(
                        "invalid filter {filter:?}: compose ps takes status=STATE"
                    )));
                }
            }
        }
        if let Some(bad) = states.iter().find(|s| !STATES.contains(&s.as_str())) {
            return Err(CliError::usage(format!(
                "invalid status {bad:?}: use {}",
                STATES.join(", ")
            )));
        }
        Ok(states)
    }
}

/// Lists the project's containers.
pub async fn ps(engine: Engine, project: &str, args: PsArgs) -> CliResult<i32> {
    let states = args.states()?;
    // A status asked for lists stopped containers too, as Compose does.
    let containers: Vec<_> = engine
        .project_containers(project, args.all || !states.is_empty())
        .await?
        .into_iter()
        .filter(|c| {
            args.names.is_empty()
                || c.labels
                    .get(labels::SERVICE)
                    .is_some_and(|s| args.names.contains(s))
        })
        .filter(|c| states.is_empty() || states.contains(&c.state))
        .collect();
    if args.quiet {
        for container in &containers {
            println!("{}", container.id);
        }
        return Ok(0);
    }
    if args.services {
        let mut services: Vec<&String> = containers
            .iter()
            .filter_map(|c| c.labels.get(labels::SERVICE))
            .collect();
        services.sort();
        services.dedup();
        for service in services {
            println!("{service}");
        }
        return Ok(0);
    }
    let items: Vec<Value> = containers
        .iter()
        .map(|c| document(c, project, args.no_trunc))
        .collect();
    match Format::parse(args.format.as_deref()) {
        Format::Json => {
            for item in &items {
                println!("{item}");
            }
        }
        Format::Template(template) => {
            let (table, template) = match template.strip_prefix("table ") {
                Some(rest) => (true, rest.to_string()),
                None => (false, template),
            };
            if table {
                return Err(CliError::usage(
                    "compose ps --format \"table …\" is not supported: give a template without table, or json",
                ));
            }
            for item in &items {
                println!("{}", render(&template, item)?);
            }
        }
        Format::Default => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    cells(
                        i,
                        &[
                            "Name",
                            "Image",
                            "Command",
                            "Service",
                            "RunningFor",
                            "Status",
                            "Ports",
                        ],
                    )
                })
                .collect();
            print_table(
                &[
                    "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
                ],
                &rows,
            );
        }
    }
    Ok(0)
}

/// One container as Compose's `ps --format json` shows it.
fn document(c: &ContainerSummary, project: &str, no_trunc: bool) -> Value {
    let command = if no_trunc {
        c.command.clone()
    } else {
        truncate(&c.command, 20)
    };
    json!({
        "Command": format!("{command:?}"),
        "CreatedAt": chrono::DateTime::from_timestamp(c.created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
        "ExitCode": c.exit_code,
        "Health": c.health,
        "ID": c.id,
        "Image": c.image,
        "Labels": crate::format::labels_text(&c.labels),
        "LocalVolumes": c.mounts.len().to_string(),
        "Mounts": c.mounts.join(","),
        "Name": c.name,
        "Names": c.name,
        "Networks": c.networks,
        "Ports": crate::commands::container::ports_text(&c.ports),
        "Project": project,
        "Publishers": c.ports.iter().map(|p| json!({
            "URL": p.host_ip,
            "TargetPort": p.container_port,
            "PublishedPort": p.host_port,
            "Protocol": p.protocol,
        })).collect::<Vec<_>>(),
        "RunningFor": ago(c.created),
        "Service": c.labels.get(labels::SERVICE).cloned().unwrap_or_default(),
        "Size": "0B",
        "State": c.state,
        "Status": c.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ps: PsArgs,
    }

    fn states(args: &[&str]) -> CliResult<Vec<String>> {
        let mut argv = vec!["ps"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).ps.states()
    }

    #[test]
    fn statuses_come_from_status_and_the_status_filter() {
        assert_eq!(
            states(&["--status", "exited", "--filter", "status=running"]).unwrap(),
            ["exited", "running"]
        );
        assert!(states(&[]).unwrap().is_empty());
        assert!(
            states(&["--status", "sleeping"])
                .unwrap_err()
                .message
                .contains("invalid status")
        );
        assert!(
            states(&["--filter", "name=x"])
                .unwrap_err()
                .message
                .contains("takes status=STATE")
        );
    }

    #[test]
    fn json_documents_carry_composes_fields() {
        let container = ContainerSummary {
            id: "abc".into(),
            name: "shop-web-1".into(),
            command: "httpd -f".into(),
            state: "exited".into(),
            status: "Exited (3) 2 seconds ago".into(),
            exit_code: 3,
            labels: [(labels::SERVICE.to_string(), "web".to_string())].into(),
            ..Default::default()
        };
        let doc = document(&container, "shop", false);
        assert_eq!(doc["ExitCode"], 3);
        assert_eq!(doc["Service"], "web");
        assert_eq!(doc["Project"], "shop");
        assert_eq!(doc["Command"], "\"httpd -f\"");
        let healthy = ContainerSummary {
            status: "Up 3 minutes (healthy)".into(),
            health: "healthy".into(),
            ..Default::default()
        };
        assert_eq!(document(&healthy, "shop", false)["Health"], "healthy");
    }
}
