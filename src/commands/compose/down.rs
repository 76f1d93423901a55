//! `hoist compose down`: the project's containers stopped (at once) and
//! removed, then its networks, and with `-v` its named volumes and the
//! containers' anonymous ones, with `--rmi` the services' images.
//! External networks and volumes stay.

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::{Plan, labels};

use super::each::each_container;
use super::engine::{Engine, NetworkRemovalError};
use super::events::{Kind, event, warn};
use crate::exit::CliResult;

/// Stop and remove containers, networks
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long = "remove-orphans")]
    pub remove_orphans: bool,
    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")
    #[arg(long, value_parser = ["local", "all"])]
    pub rmi: Option<String>,
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<i32>,
}

/// Runs `down` for a planned project.
pub async fn down(engine: Engine, plan: Plan, args: DownArgs) -> CliResult<i32> {
    let containers: Vec<ContainerSummary> = engine
        .project_containers(&plan.project, true)
        .await?
        .into_iter()
        .filter(|c| {
            args.remove_orphans
                || c.labels
                    .get(labels::SERVICE)
                    .is_some_and(|s| plan.services.iter().any(|p| &p.name == s))
        })
        .collect();
    let (volumes, timeout) = (args.volumes, args.timeout);
    each_container(
        &engine,
        &containers,
        "Stopping",
        "Stopped",
        |engine, id| async move { engine.stop(&id, timeout).await },
    )
    .await?;
    each_container(
        &engine,
        &containers,
        "Removing",
        "Removed",
        |engine, id| async move { engine.remove(&id, volumes).await },
    )
    .await?;
    for network in plan.networks.iter().filter(|n| !n.external) {
        event(Kind::Network, &network.name, "Removing");
        match engine.remove_network(&network.name).await {
            Ok(true) => event(Kind::Network, &network.name, "Removed"),
            Ok(false) => {}
            // As Docker Compose: say so and go on with the rest.
            Err(NetworkRemovalError::InUse(why)) => {
                event(Kind::Network, &network.name, "Resource is still in use");
                warn(&why);
            }
            Err(NetworkRemovalError::Failed(e)) => return Err(e),
        }
    }
    if let Some(which) = &args.rmi {
        remove_images(&engine, &plan, which == "all").await?;
    }
    if args.volumes {
        for volume in plan.volumes.iter().filter(|v| !v.external) {
            let name = format!("{:?}", volume.name);
            event(Kind::Volume, &name, "Removing");
            if engine.remove_volume(&volume.name).await? {
                event(Kind::Volume, &name, "Removed");
            }
        }
    }
    Ok(0)
}

/// `--rmi`: the images of the project's services; only those named after
/// the service (`<project>-<service>`, made by `build:`) unless `all`.
async fn remove_images(engine: &Engine, plan: &Plan, all: bool) -> CliResult {
    let mut images: Vec<&str> = plan
        .services
        .iter()
        .filter(|s| all || s.spec.image == format!("{}-{}", plan.project, s.name))
        .map(|s| s.spec.image.as_str())
        .collect();
    images.sort_unstable();
    images.dedup();
    for image in images {
        event(Kind::Image, image, "Removing");
        if engine.remove_image(image).await? {
            event(Kind::Image, image, "Removed");
        }
    }
    Ok(())
}
