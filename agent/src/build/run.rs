//! RUN: the command runs in a container of the embedded runtime, made
//! from the build's current state; its changes become the step's layer.
//! The container and the state's transient image go afterwards, whether
//! the command succeeded or not, so a failed step leaves nothing.

use std::fs::File;
use std::sync::Arc;

use hoist_api::spec::ContainerSpec;
use hoist_runtime::image::build_cache::BuildState;
use hoist_runtime::image::diff::write_layer;
use hoist_runtime::image::dockerfile::RunNetwork;
use hoist_runtime::logs::reader::read_rotated;
use tonic::Status;

use super::mounts::{StepMounts, remove_stubs};
use crate::containers::lifecycle::WaitCondition;
use crate::containers::oci::log_options;
use crate::daemon::Daemon;
use crate::error::{from_image, internal};

/// What a RUN step runs.
pub struct RunStep<'a> {
    /// The command line (the shell form already wrapped in the shell).
    pub argv: Vec<String>,
    /// Build arguments in scope, as environment (the config's ENV wins).
    pub args_env: Vec<String>,
    /// `RUN --network`, else the build's `--network`.
    pub network: RunNetwork,
    /// The build's `--add-host` entries.
    pub extra_hosts: Vec<String>,
    /// `RUN --security=insecure` (allowed by the build): privileged.
    pub privileged: bool,
    /// The build's `--shm-size`.
    pub shm_size: u64,
    /// The build's `--ulimit`s.
    pub ulimits: Vec<hoist_api::spec::Ulimit>,
    /// `RUN --mount`s, ready, held until the step ends.
    pub mounts: StepMounts,
    /// Mount points missing from the image before the step (deepest
    /// first): the runtime makes them, and they are taken out of the
    /// step's layer again.
    pub stubs: Vec<String>,
    /// Called with each line the command printed.
    pub output: &'a (dyn Fn(String) + Send + Sync),
}

/// Why a RUN step failed.
pub enum RunFailure {
    /// The command exited non-zero.
    Exit(i32),
    /// The daemon could not run it.
    Daemon(Status),
}

impl From<Status> for RunFailure {
    fn from(status: Status) -> Self {
        Self::Daemon(status)
    }
}

/// Runs `step` on `state`; returns the path of the layer tar its changes
/// make (under the image store's tmp/, for the caller to store).
pub async fn run_step(
    daemon: &Arc<Daemon>,
    state: &BuildState,
    step: RunStep<'_>,
) -> Result<std::path::PathBuf, RunFailure> {
    let image = daemon
        .images
        .record_state(state, None)
        .map_err(from_image)?;
    let result = run_in(daemon, &image, state, step).await;
    // The transient image goes, unless it is an image someone names (a
    // state with nothing of ours on its base has the base's ID).
    if let Err(e) = daemon.images.forget_unnamed(&image) {
        tracing::warn!(%image, "cannot remove a build step's transient image: {e}");
    }
    result
}

async fn run_in(
    daemon: &Arc<Daemon>,
    image: &str,
    state: &BuildState,
    step: RunStep<'_>,
) -> Result<std::path::PathBuf, RunFailure> {
    let config = &state.config.config;
    let mut env = config.env.clone();
    for arg in step.args_env {
        let key = arg.split('=').next().unwrap_or_default();
        if !env.iter().any(|e| e.split('=').next() == Some(key)) {
            env.push(arg);
        }
    }
    // Secrets given as variables, for this command only.
    env.extend(step.mounts.env.iter().cloned());
    let spec = ContainerSpec {
        image: image.to_string(),
        entrypoint: Some(Vec::new()),
        cmd: Some(step.argv.clone()),
        env,
        working_dir: (!config.working_dir.is_empty()).then(|| config.working_dir.clone()),
        user: (!config.user.is_empty()).then(|| config.user.clone()),
        network_mode: match step.network {
            RunNetwork::Default => String::new(),
            RunNetwork::None => "none".into(),
            RunNetwork::Host => "host".into(),
        },
        mounts: step.mounts.specs.clone(),
        extra_hosts: step.extra_hosts.clone(),
        shm_size: step.shm_size,
        ulimits: step.ulimits.clone(),
        privileged: step.privileged,
        ..Default::default()
    };
    let (id, _) = daemon.create_container("", spec).await?;
    let container = daemon.containers.find(&id)?;
    let outcome = async {
        daemon.start_container(&container, None).await?;
        let code = daemon
            .wait_container(&container, WaitCondition::NotRunning)
            .await;
        let options = {
            let record = container.record.lock().await;
            log_options(&record, &daemon.config.container_dir(&record.id))?
        };
        let entries = tokio::task::spawn_blocking(move || read_rotated(&options))
            .await
            .map_err(|e| internal(format!("reading RUN output failed: {e}")))?
            .map_err(|e| internal(format!("reading RUN output failed: {e}")))?;
        for entry in entries {
            let text = String::from_utf8_lossy(&entry.data);
            (step.output)(text.trim_end_matches('\n').to_string());
        }
        if code != 0 {
            return Err(RunFailure::Exit(code));
        }
        let upper = daemon.config.upper_dir(&id);
        let layer = daemon.images.temp_path("run-layer");
        let target = layer.clone();
        let stubs = step.stubs.clone();
        tokio::task::spawn_blocking(move || {
            remove_stubs(&upper, &stubs)?;
            write_layer(&upper, File::create(&target)?)
        })
        .await
        .map_err(|e| internal(format!("writing the RUN layer failed: {e}")))?
        .map_err(|e| internal(format!("writing the RUN layer failed: {e}")))?;
        Ok(layer)
    }
    .await;
    daemon.remove_container(&container, true, true).await?;
    outcome
}
