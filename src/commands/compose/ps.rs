//! `hoist compose ps`: the project's containers, as Docker Compose lists
//! them.

use clap::Args;
use hoist_compose::plan::labels;

use super::engine::Engine;
use crate::exit::CliResult;
use crate::format::{ago, print_table, truncate};

/// `hoist compose ps`.
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
    /// Services to list (default: all)
    names: Vec<String>,
}

/// Lists the project's containers.
pub async fn ps(engine: Engine, project: &str, args: PsArgs) -> CliResult<i32> {
    let containers: Vec<_> = engine
        .project_containers(project, args.all)
        .await?
        .into_iter()
        .filter(|c| {
            args.names.is_empty()
                || c.labels
                    .get(labels::SERVICE)
                    .is_some_and(|s| args.names.contains(s))
        })
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
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.image.clone(),
                format!("{:?}", truncate(&c.command, 20)),
                c.labels.get(labels::SERVICE).cloned().unwrap_or_default(),
                ago(c.created),
                c.status.clone(),
                crate::commands::container::ports_text(&c.ports),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
        ],
        &rows,
    );
    Ok(0)
}
