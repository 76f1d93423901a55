//! `hoist compose kill`, `pause` and `unpause`: one action on every
//! running container of the named services at once, in no particular
//! order, as Docker Compose does.

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::Plan;

use super::each::each_container;
use super::engine::Engine;
use super::services::{of_services, running_containers};
use super::up::selection;
use crate::exit::CliResult;

/// Force stop service containers
#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    signal: String,
    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    remove_orphans: bool,
    /// Services to kill (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Pause (or, as unpause, unpause) services
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Services whose containers to act on (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Signals the running containers of the named services (with
/// `--remove-orphans` and no service named, those of services the file no
/// longer has too; `compose run` containers as well).
pub async fn kill(engine: Engine, plan: Plan, args: KillArgs) -> CliResult<i32> {
    let selected = selection(&plan, &args.services, true)?;
    let running = engine.project_containers(&plan.project, false).await?;
    let targets = if args.remove_orphans && args.services.is_empty() {
        running
    } else {
        of_services(running, &selected)
    };
    if targets.is_empty() {
        eprintln!("no container to kill");
        return Ok(0);
    }
    let signal = args.signal;
    each_container(&engine, &targets, "Killing", "Killed", |engine, id| {
        let signal = signal.clone();
        async move { engine.kill(&id, &signal).await }
    })
    .await?;
    Ok(0)
}

/// Freezes the running containers of the named services (paused ones
/// stay as they are).
pub async fn pause(engine: Engine, plan: Plan, args: PauseArgs) -> CliResult<i32> {
    let targets = in_state(&engine, &plan, &args.services, "running").await?;
    each_container(&engine, &targets, "", "Paused", |engine, id| async move {
        engine.pause(&id).await
    })
    .await?;
    Ok(0)
}

/// Thaws the paused containers of the named services.
pub async fn unpause(engine: Engine, plan: Plan, args: PauseArgs) -> CliResult<i32> {
    let targets = in_state(&engine, &plan, &args.services, "paused").await?;
    each_container(&engine, &targets, "", "Unpaused", |engine, id| async move {
        engine.unpause(&id).await
    })
    .await?;
    Ok(0)
}

/// The live containers of the named services that are in `state`.
async fn in_state(
    engine: &Engine,
    plan: &Plan,
    services: &[String],
    state: &str,
) -> CliResult<Vec<ContainerSummary>> {
    let live = running_containers(engine, plan, services).await?;
    Ok(live.into_iter().filter(|c| c.state == state).collect())
}
