//! `hoist compose start`, `stop` and `restart`: the existing containers of
//! a project started in dependency order (each service once what it
//! depends on is started, healthy or completed, as its `depends_on` says),
//! stopped in the reverse order, or restarted in dependency order.

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::{Condition, Plan};

use super::each::each_container;
use super::engine::Engine;
use super::events::{Kind, event};
use super::services::{in_wave, is_one_off, service_of, start_waves, stop_waves, with_dependents};
use super::up::{selection, wait_completed, wait_healthy};
use crate::exit::{CliError, CliResult};

/// Start services
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Services to start (default: all), with what they depend on
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Stop services
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    timeout: Option<i32>,
    /// Services to stop (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Restart service containers
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    timeout: Option<i32>,
    /// Don't restart dependent services
    #[arg(long = "no-deps")]
    no_deps: bool,
    /// Services to restart (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// The project's service containers (not `compose run` ones), stopped
/// ones included.
async fn containers(engine: &Engine, plan: &Plan) -> CliResult<Vec<ContainerSummary>> {
    let all = engine.project_containers(&plan.project, true).await?;
    Ok(all.into_iter().filter(|c| !is_one_off(c)).collect())
}

/// Starts the stopped containers of the named services and of what they
/// depend on.
pub async fn start(engine: Engine, plan: Plan, args: StartArgs) -> CliResult<i32> {
    let selected = selection(&plan, &args.services, false)?;
    let containers = containers(&engine, &plan).await?;
    for service in plan.services.iter().filter(|s| selected.contains(&s.name)) {
        if service.replicas > 0
            && !containers
                .iter()
                .any(|c| service_of(c) == Some(&service.name))
        {
            return Err(CliError::client(format!(
                "service {:?} has no container to start: create it with 'hoist compose up'",
                service.name
            )));
        }
    }
    for wave in start_waves(&plan, &selected) {
        for service in &wave {
            wait_dependencies(&engine, &plan, service, &containers, false).await?;
        }
        let stopped: Vec<ContainerSummary> = in_wave(&containers, &wave)
            .into_iter()
            .filter(|c| c.state != "running")
            .collect();
        each_container(
            &engine,
            &stopped,
            "Starting",
            "Started",
            |engine, id| async move { engine.start(&id).await },
        )
        .await?;
    }
    Ok(0)
}

/// Stops the named services' containers.
pub async fn stop(engine: Engine, plan: Plan, args: StopArgs) -> CliResult<i32> {
    stop_services(&engine, &plan, &args.services, args.timeout).await?;
    Ok(0)
}

/// Stops the containers of `services` (all when empty), those that depend
/// on others first; a container already stopped is reported stopped again,
/// as Docker Compose does.
pub async fn stop_services(
    engine: &Engine,
    plan: &Plan,
    services: &[String],
    timeout: Option<i32>,
) -> CliResult {
    let selected = selection(plan, services, true)?;
    let containers = containers(engine, plan).await?;
    for wave in stop_waves(plan, &selected) {
        each_container(
            engine,
            &in_wave(&containers, &wave),
            "Stopping",
            "Stopped",
            |engine, id| async move { engine.stop(&id, timeout).await },
        )
        .await?;
    }
    Ok(())
}

/// Restarts the named services' containers and, unless `--no-deps`, those
/// of the services depending on them with `restart: true`.
pub async fn restart(engine: Engine, plan: Plan, args: RestartArgs) -> CliResult<i32> {
    let named = selection(&plan, &args.services, true)?;
    let selected = with_dependents(&plan, &named, args.no_deps);
    let containers = containers(&engine, &plan).await?;
    let timeout = args.timeout;
    for wave in start_waves(&plan, &selected) {
        for service in &wave {
            wait_dependencies(&engine, &plan, service, &containers, true).await?;
        }
        each_container(
            &engine,
            &in_wave(&containers, &wave),
            "Restarting",
            "Started",
            |engine, id| async move { engine.restart(&id, timeout).await },
        )
        .await?;
    }
    Ok(0)
}

/// Waits until the containers `service` depends on meet the conditions
/// of its `depends_on` (`restart_only`: only the dependencies declared with
/// `restart: true`). An optional dependency that fails only warns.
async fn wait_dependencies(
    engine: &Engine,
    plan: &Plan,
    service: &str,
    containers: &[ContainerSummary],
    restart_only: bool,
) -> CliResult {
    let Some(service) = plan.services.iter().find(|s| s.name == service) else {
        return Ok(());
    };
    for dependency in service
        .depends_on
        .iter()
        .filter(|d| !restart_only || d.restart)
    {
        let theirs = containers
            .iter()
            .filter(|c| service_of(c) == Some(&dependency.service));
        for container in theirs {
            let outcome = match dependency.condition {
                Condition::Started => continue,
                Condition::Healthy => {
                    event(Kind::Container, &container.name, "Waiting");
                    wait_healthy(engine, &container.id, &container.name)
                        .await
                        .map(|()| "Healthy")
                }
                Condition::CompletedSuccessfully => {
                    event(Kind::Container, &container.name, "Waiting");
                    wait_completed(engine, &dependency.service, &container.id)
                        .await
                        .map(|()| "Exited")
                }
            };
            match outcome {
                Ok(status) => event(Kind::Container, &container.name, status),
                Err(e) if dependency.required => return Err(e),
                Err(e) => eprintln!(
                    "WARN[0000] optional dependency {} is not ready: {}",
                    dependency.service, e.message
                ),
            }
        }
    }
    Ok(())
}
