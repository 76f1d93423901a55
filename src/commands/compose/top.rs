//! `hoist compose top`: the processes of each running container of the
//! project, one `ps` table per container under a line with its name.

use clap::Args;
use hoist_compose::plan::Plan;

use super::engine::Engine;
use super::services::running_containers;
use crate::exit::CliResult;
use crate::format::print_table;

/// Display the running processes
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Services whose processes to show (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Prints the processes of the named services' running containers, in
/// the order of their names.
pub async fn top(engine: Engine, plan: Plan, args: TopArgs) -> CliResult<i32> {
    let mut containers = running_containers(&engine, &plan, &args.services).await?;
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    for container in containers {
        let processes = engine.top(&container.id).await?;
        println!("{}", container.name);
        let titles: Vec<&str> = processes.titles.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = processes.processes.into_iter().map(|p| p.columns).collect();
        print_table(&titles, &rows);
        println!();
    }
    Ok(0)
}
