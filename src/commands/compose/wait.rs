//! `hoist compose wait`: blocks until the running containers of the named
//! services have all stopped, printing each one's exit status, and exits
//! with the status of the last to stop, as Docker Compose does (its help
//! says "the first", its code waits for all); `--down-project` then takes
//! the project down.

use clap::Args;
use hoist_compose::plan::Plan;
use tokio::task::JoinSet;

use super::down::{DownArgs, down};
use super::engine::Engine;
use super::services::of_services;
use super::up::selection;
use crate::exit::{CliError, CliResult};

/// Block until containers of the named services stop
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Take the project down (with its orphans) once the containers have stopped
    #[arg(long = "down-project")]
    down_project: bool,
    /// Services to wait for
    #[arg(required = true, value_name = "SERVICE")]
    services: Vec<String>,
}

/// Waits for the named services' containers to stop; returns the exit
/// status of the last one.
pub async fn wait(engine: Engine, plan: Plan, args: WaitArgs) -> CliResult<i32> {
    let selected = selection(&plan, &args.services, true)?;
    let running = engine.project_containers(&plan.project, false).await?;
    let containers = of_services(running, &selected);
    if containers.is_empty() {
        return Err(CliError::client(format!(
            "no containers for project {:?}: nothing of {} is running",
            plan.project,
            args.services.join(", ")
        )));
    }
    let mut tasks = JoinSet::new();
    for container in containers {
        let engine = engine.clone();
        tasks.spawn(async move {
            let code = engine.wait(&container.id).await?;
            println!(
                "container {:?} exited with status code {code}",
                container.id
            );
            Ok::<_, CliError>(code)
        });
    }
    let mut last = 0;
    while let Some(result) = tasks.join_next().await {
        last = result.map_err(|e| CliError::client(format!("a wait task failed: {e}")))??;
    }
    if args.down_project {
        let everything = DownArgs {
            volumes: false,
            remove_orphans: true,
            rmi: None,
            timeout: None,
        };
        down(engine, plan, everything).await?;
    }
    Ok(last)
}
