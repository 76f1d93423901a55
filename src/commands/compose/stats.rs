//! `hoist compose stats`: `hoist stats` over the project's containers.

use clap::Args;
use hoist_compose::plan::Plan;

use super::engine::Engine;
use super::services::running_containers;
use super::up::selection;
use crate::commands::container::{self, StatsArgs};
use crate::exit::CliResult;

/// Display a live stream of the project's containers' resource usage
#[derive(Debug, Args)]
pub struct ComposeStatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    format: Option<String>,
    /// Services whose containers to show (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Streams (or with `--no-stream` prints once) the usage of the named
/// services' containers; nothing to show is not an error.
pub async fn stats(engine: Engine, plan: Plan, args: ComposeStatsArgs) -> CliResult<i32> {
    let containers = if args.all {
        let selected = selection(&plan, &args.services, true)?;
        engine
            .project_containers(&plan.project, true)
            .await?
            .into_iter()
            .filter(|c| {
                c.labels
                    .get(hoist_compose::plan::labels::SERVICE)
                    .is_some_and(|s| selected.contains(s))
            })
            .collect()
    } else {
        running_containers(&engine, &plan, &args.services).await?
    };
    let mut names: Vec<String> = containers.into_iter().map(|c| c.name).collect();
    names.sort();
    if names.is_empty() {
        return Ok(0);
    }
    container::stats(
        engine.channel(),
        StatsArgs {
            all: args.all,
            no_stream: args.no_stream,
            no_trunc: args.no_trunc,
            format: args.format,
            containers: names,
        },
    )
    .await
}
