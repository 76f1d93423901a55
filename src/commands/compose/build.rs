//! `hoist compose build`, and the builds `up` and `run` do first: each
//! service with a `build:` section becomes a build on the daemon's image
//! builder, tagged with the service's image name (`<project>-<service>`
//! unless `image:` names it) and its `build.tags`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use hoist_compose::paths::is_remote;
use hoist_compose::plan::{Plan, ServicePlan};
use hoist_compose::spec::BuildSecretSource;
use serde_json::Value as Json;

use super::engine::Engine;
use super::events::{Kind, event, finish, warn};
use crate::commands::build::{
    BuildJob, build_args, checked_ulimits, named_contexts, run_build, shm_size, ssh_agents,
};
use crate::commands::registry::push_image;
use crate::exit::{CliError, CliResult};

/// `build:` keys the builder honours; others are warned about.
const SUPPORTED: [&str; 18] = [
    "context",
    "dockerfile",
    "args",
    "target",
    "no_cache",
    "pull",
    "secrets",
    "tags",
    "labels",
    "network",
    "extra_hosts",
    "platforms",
    "ssh",
    "dockerfile_inline",
    "additional_contexts",
    "shm_size",
    "ulimits",
    "privileged",
];

/// Build or rebuild services
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Set build-time variables for services
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pull: bool,
    /// Don't print anything to STDOUT
    #[arg(short, long)]
    quiet: bool,
    /// Push the service images (and their build.tags) after building them
    #[arg(long)]
    push: bool,
    /// Services to build (default: all with a build section)
    services: Vec<String>,
}

/// What every build of a command shares.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--build-arg`s, over the file's.
    pub build_args: BTreeMap<String, String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: bool,
    /// No build output.
    pub quiet: bool,
}

/// Runs `compose build`.
pub async fn build(engine: Engine, plan: Plan, args: BuildArgs) -> CliResult<i32> {
    for name in &args.services {
        if !plan.services.iter().any(|s| &s.name == name) {
            return Err(CliError::client(format!("no such service: {name}")));
        }
    }
    let options = BuildOptions {
        build_args: build_args(&args.build_args)?,
        no_cache: args.no_cache,
        pull: args.pull,
        quiet: args.quiet,
    };
    let services: Vec<&ServicePlan> = plan
        .services
        .iter()
        .filter(|s| s.build.is_some())
        .filter(|s| args.services.is_empty() || args.services.contains(&s.name))
        .collect();
    build_services(&engine, &services, &options).await?;
    if args.push {
        push_built(&engine, &plan.project, &services, args.quiet).await?;
    }
    Ok(0)
}

/// `build --push`: each built service's image and its `build.tags`, except
/// the project-named images a service without `image:` gets (they name no
/// registry repository of the user's).
async fn push_built(
    engine: &Engine,
    project: &str,
    services: &[&ServicePlan],
    quiet: bool,
) -> CliResult {
    for service in services {
        if service.spec.image == format!("{project}-{}", service.name) {
            continue;
        }
        let tags = service.build.as_ref().map(|b| &b["tags"]);
        let extra = tags
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str);
        event(Kind::Service, &service.name, "Pushing");
        for image in std::iter::once(service.spec.image.as_str()).chain(extra) {
            push_image(engine.channel(), image, quiet, true)
                .await
                .map_err(|e| CliError {
                    message: format!(
                        "failed to push {image} of service {:?}: {}",
                        service.name, e.message
                    ),
                    ..e
                })?;
        }
        event(Kind::Service, &service.name, "Pushed");
    }
    Ok(())
}

/// Builds services one after the other (the builder uses both cores for
/// one build already), with a progress line each.
pub async fn build_services(
    engine: &Engine,
    services: &[&ServicePlan],
    options: &BuildOptions,
) -> CliResult {
    for service in services {
        let job = build_job(service, options)?;
        event(Kind::Service, &service.name, "Building");
        finish();
        run_build(engine.channel(), job, options.quiet, true)
            .await
            .map_err(|e| CliError {
                message: format!("failed to build service {:?}: {}", service.name, e.message),
                ..e
            })?;
        event(Kind::Service, &service.name, "Built");
    }
    Ok(())
}

/// The build of one service.
fn build_job(service: &ServicePlan, options: &BuildOptions) -> CliResult<BuildJob> {
    let build = service.build.as_ref().ok_or_else(|| {
        CliError::client(format!("service {:?} has no build section", service.name))
    })?;
    let context = build["context"].as_str().unwrap_or(".");
    // A remote context is fetched by the build; its Dockerfile is a path
    // inside it.
    let remote = is_remote(context);
    if let Some(keys) = build.as_object() {
        for key in keys.keys().filter(|k| !SUPPORTED.contains(&k.as_str())) {
            warn(&format!(
                "service {:?}: build.{key} is not supported by hoist yet and is ignored",
                service.name
            ));
        }
    }
    let context = PathBuf::from(context);
    let dockerfile = build["dockerfile"].as_str().map(|f| {
        if remote {
            PathBuf::from(f)
        } else {
            context.join(f)
        }
    });
    if dockerfile.is_some() && build.get("dockerfile_inline").is_some() {
        return Err(CliError::client(format!(
            "service {:?}: build.dockerfile and build.dockerfile_inline cannot both be set: keep one",
            service.name
        )));
    }
    let mut tags = vec![service.spec.image.clone()];
    tags.extend(
        build["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_string),
    );
    let mut args = file_args(&build["args"]);
    args.extend(options.build_args.clone());
    Ok(BuildJob {
        context,
        dockerfile,
        dockerfile_text: build["dockerfile_inline"].as_str().map(str::to_string),
        tags,
        build_args: args,
        target: build["target"].as_str().map(str::to_string),
        no_cache: options.no_cache || build["no_cache"].as_bool().unwrap_or(false),
        pull: options.pull || build["pull"].as_bool().unwrap_or(false),
        secrets: secrets(service)?,
        labels: pairs(&build["labels"], '=').into_iter().collect(),
        network: build["network"].as_str().unwrap_or_default().to_string(),
        shm_size: shm_size(json_text(&build["shm_size"]).as_deref())?,
        ulimits: checked_ulimits(&file_ulimits(&build["ulimits"]))?,
        allow_insecure: build["privileged"].as_bool().unwrap_or(false),
        extra_hosts: pairs(&build["extra_hosts"], ':')
            .into_iter()
            .map(|(host, ip)| format!("{host}:{ip}"))
            .collect(),
        platform: platform(service, &build["platforms"])?,
        contexts: named_contexts(
            &pairs(&build["additional_contexts"], '=')
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| CliError {
            message: format!(
                "service {:?}: build.additional_contexts: {}",
                service.name, e.message
            ),
            ..e
        })?,
        ssh: ssh_agents(
            &build["ssh"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(expand_home)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| CliError {
            message: format!("service {:?}: build.ssh: {}", service.name, e.message),
            ..e
        })?,
    })
}

/// `ID=~/path` with `~` as the user's home, as Compose reads `build.ssh`.
fn expand_home(entry: &str) -> String {
    match (entry.split_once("=~/"), std::env::var("HOME")) {
        (Some((id, rest)), Ok(home)) => format!("{id}={home}/{rest}"),
        _ => entry.to_string(),
    }
}

/// A number or a string, as text (`shm_size: 128m` or `shm_size: 1000000`).
fn json_text(value: &Json) -> Option<String> {
    match value {
        Json::String(text) => Some(text.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `build.ulimits` (`nofile: 1024` or `nofile: {soft: 1024, hard: 2048}`)
/// as `--ulimit` values.
fn file_ulimits(ulimits: &Json) -> Vec<String> {
    ulimits
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| match value {
            Json::Number(n) => Some(format!("{name}={n}")),
            Json::Object(limits) => Some(format!(
                "{name}={}:{}",
                json_text(&limits["soft"])?,
                json_text(&limits["hard"])?
            )),
            _ => None,
        })
        .collect()
}

/// A list (`K=V`; `separator` may also split it) or a mapping, as pairs.
fn pairs(value: &Json, separator: char) -> Vec<(String, String)> {
    match value {
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|item| {
                let split = item.split_once('=').or_else(|| item.split_once(separator));
                split.map_or((item.to_string(), String::new()), |(k, v)| {
                    (k.to_string(), v.to_string())
                })
            })
            .collect(),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => (k.clone(), s.clone()),
                Json::Null => (k.clone(), String::new()),
                other => (k.clone(), other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `build.platforms`: one platform (hoist builds for the host's only; the
/// daemon checks it is this host's).
fn platform(service: &ServicePlan, platforms: &Json) -> CliResult<String> {
    let listed: Vec<&str> = platforms
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    match listed.as_slice() {
        [] => Ok(String::new()),
        [one] => Ok(one.to_string()),
        many => Err(CliError::client(format!(
            "service {:?}: build.platforms lists {}: hoist builds for this host's platform only; list that one",
            service.name,
            many.join(", ")
        ))),
    }
}

/// The values of `build.secrets`, read now (files) or taken from the
/// project's environment when the project loaded.
fn secrets(service: &ServicePlan) -> CliResult<BTreeMap<String, Vec<u8>>> {
    service
        .build_secrets
        .iter()
        .map(|secret| {
            let value = match &secret.source {
                BuildSecretSource::Value(value) => value.clone(),
                BuildSecretSource::File(path) => std::fs::read(path).map_err(|e| {
                    CliError::client(format!(
                        "service {:?}: cannot read secret {} from {path}: {e}",
                        service.name, secret.id
                    ))
                })?,
            };
            Ok((secret.id.clone(), value))
        })
        .collect()
}

/// `build.args` as a list (`K=V`, or `K` for the environment's value) or
/// a mapping (a null value: the environment's).
fn file_args(args: &Json) -> BTreeMap<String, String> {
    let from_env = |key: &str| std::env::var(key).ok().map(|v| (key.to_string(), v));
    match args {
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .filter_map(|item| match item.split_once('=') {
                Some((k, v)) => Some((k.to_string(), v.to_string())),
                None => from_env(item),
            })
            .collect(),
        Json::Object(map) => map
            .iter()
            .filter_map(|(k, v)| match v {
                Json::Null => from_env(k),
                Json::String(s) => Some((k.clone(), s.clone())),
                other => Some((k.clone(), other.to_string())),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}
