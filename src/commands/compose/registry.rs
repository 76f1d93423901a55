//! `hoist compose pull` and `push`: the services' images fetched from or
//! sent to their registries. Pulls run at once, one progress line per
//! service; an image a service can build instead is allowed to fail.

use clap::Args;
use hoist_compose::plan::{Plan, ServicePlan};
use tokio::task::JoinSet;

use super::engine::Engine;
use super::events::{Kind, event, warn};
use super::up::selection;
use crate::commands::registry::{fetch_image, push_image};
use crate::exit::{CliError, CliResult};

/// Pull service images
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull what it can and ignores images with pull failures
    #[arg(long = "ignore-pull-failures")]
    ignore_pull_failures: bool,
    /// Ignore images that can be built
    #[arg(long = "ignore-buildable")]
    ignore_buildable: bool,
    /// Also pull services declared as dependencies
    #[arg(long = "include-deps")]
    include_deps: bool,
    /// Pull without printing progress information
    #[arg(short, long)]
    quiet: bool,
    /// Services to pull (default: all)
    services: Vec<String>,
}

/// Push service images
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long = "ignore-push-failures")]
    ignore_push_failures: bool,
    /// Also push images of services declared as dependencies
    #[arg(long = "include-deps")]
    include_deps: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    quiet: bool,
    /// Services to push (default: all)
    services: Vec<String>,
}

/// The services a pull or push is about.
fn chosen<'a>(
    plan: &'a Plan,
    named: &[String],
    include_deps: bool,
) -> CliResult<Vec<&'a ServicePlan>> {
    let selected = selection(plan, named, !include_deps)?;
    Ok(plan
        .services
        .iter()
        .filter(|s| selected.contains(&s.name))
        .collect())
}

/// Runs `compose pull`.
pub async fn pull(engine: Engine, plan: Plan, args: PullArgs) -> CliResult<i32> {
    let mut tasks = JoinSet::new();
    for service in chosen(&plan, &args.services, args.include_deps)? {
        let buildable = service.build.is_some();
        if buildable && args.ignore_buildable {
            event(
                Kind::Service,
                &service.name,
                "Skipped - No image to be pulled",
            );
            continue;
        }
        let (engine, name) = (engine.clone(), service.name.clone());
        let (image, platform) = (service.spec.image.clone(), service.spec.platform.clone());
        tasks.spawn(async move {
            event(Kind::Service, &name, "Pulling");
            let platform = (!platform.is_empty()).then_some(platform.as_str());
            let pulled = fetch_image(engine.channel(), &image, platform, true, true)
                .await
                .map(drop);
            (name, buildable, pulled)
        });
    }
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        let (name, buildable, pulled) =
            done.map_err(|e| CliError::client(format!("a pull task failed: {e}")))?;
        match pulled {
            Ok(()) => event(Kind::Service, &name, "Pulled"),
            Err(e) if buildable || args.ignore_pull_failures => {
                let hint = if buildable { " (it can be built)" } else { "" };
                warn(&format!(
                    "service {name:?}: pull failed{hint}: {}",
                    e.message
                ));
            }
            Err(e) => {
                event(Kind::Service, &name, "Error");
                failure.get_or_insert(CliError {
                    message: format!(
                        "failed to pull the image of service {name:?}: {}",
                        e.message
                    ),
                    ..e
                });
            }
        }
    }
    failure.map_or(Ok(0), Err)
}

/// Runs `compose push`: the images of services that build them under a
/// name of their own (`image:` beside `build:`).
pub async fn push(engine: Engine, plan: Plan, args: PushArgs) -> CliResult<i32> {
    let project_image = |s: &ServicePlan| s.spec.image == format!("{}-{}", plan.project, s.name);
    for service in chosen(&plan, &args.services, args.include_deps)? {
        if service.build.is_none() || project_image(service) {
            continue;
        }
        event(Kind::Service, &service.name, "Pushing");
        match push_image(engine.channel(), &service.spec.image, args.quiet, true).await {
            Ok(_) => event(Kind::Service, &service.name, "Pushed"),
            Err(e) if args.ignore_push_failures => {
                warn(&format!(
                    "service {:?}: push failed: {}",
                    service.name, e.message
                ));
            }
            Err(e) => {
                return Err(CliError {
                    message: format!(
                        "failed to push the image of service {:?}: {}",
                        service.name, e.message
                    ),
                    ..e
                });
            }
        }
    }
    Ok(0)
}
