//! The images a project's containers need, made ready before any
//! container is: built (`build:` sections, as `--build`, `--no-build` and
//! `pull_policy` say) or pulled (`pull_policy: always`, `--pull always`);
//! an image still missing after that is pulled when its container is
//! created. Returns the image IDs, so `up` recreates containers whose
//! image changed.

use std::collections::{BTreeMap, BTreeSet};

use hoist_compose::plan::{Plan, ServicePlan};

use super::build::{BuildOptions, build_services};
use super::engine::Engine;
use super::events::finish;
use crate::commands::registry::pull_image;
use crate::exit::{CliError, CliResult};

/// How `up` and `run` treat images.
#[derive(Debug, Clone, Default)]
pub struct ImagePolicy {
    /// `--build`: build every service with a `build:` section.
    pub build: bool,
    /// `--no-build`: build nothing, even when missing.
    pub no_build: bool,
    /// `--pull`: `always`, `missing` or `never` (over each `pull_policy`).
    pub pull: Option<String>,
    /// `--quiet-pull` and no build output.
    pub quiet: bool,
}

/// Builds and pulls what the selected services need; returns the image
/// ID of every selected service whose image is present.
pub async fn prepare_images(
    engine: &Engine,
    plan: &Plan,
    selected: &BTreeSet<String>,
    policy: &ImagePolicy,
) -> CliResult<BTreeMap<String, String>> {
    let services: Vec<&ServicePlan> = plan
        .services
        .iter()
        .filter(|s| selected.contains(&s.name))
        .collect();
    let mut to_build = Vec::new();
    for service in &services {
        let pull = policy.pull.as_deref().unwrap_or(&service.pull_policy);
        let present = engine.image_id(&service.spec.image).await?.is_some();
        if service.build.is_some() {
            let wanted = policy.build || pull == "build" || !present;
            if wanted && !policy.no_build {
                to_build.push(*service);
                continue;
            }
            if !present {
                return Err(CliError::client(format!(
                    "service {:?} has no image {} and --no-build was given: build it with 'hoist compose build {}'",
                    service.name, service.spec.image, service.name
                )));
            }
        } else if pull == "always" {
            let platform =
                (!service.spec.platform.is_empty()).then_some(service.spec.platform.as_str());
            finish();
            pull_image(
                engine.channel(),
                &service.spec.image,
                platform,
                policy.quiet,
                true,
            )
            .await?;
        } else if pull == "never" && !present {
            return Err(CliError::client(format!(
                "image {} for service {:?} is not here and its pull policy is never: pull it with 'hoist pull {}'",
                service.spec.image, service.name, service.spec.image
            )));
        }
    }
    let options = BuildOptions {
        quiet: policy.quiet,
        ..BuildOptions::default()
    };
    build_services(engine, &to_build, &options).await?;
    let mut ids = BTreeMap::new();
    for service in services {
        if let Some(id) = engine.image_id(&service.spec.image).await? {
            ids.insert(service.name.clone(), id);
        }
    }
    Ok(ids)
}
