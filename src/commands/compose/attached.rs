//! An attached `hoist compose up`: after the project has converged, the
//! logs of its containers followed with service prefixes until they have
//! all exited; Ctrl-C stops the project gracefully (a second Ctrl-C kills
//! it), and `--abort-on-container-exit` stops it when the first container
//! exits, as in Docker Compose.

use std::collections::BTreeSet;
use std::sync::Arc;

use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::labels;
use tokio::task::JoinSet;

use super::each::each_container;
use super::engine::{Engine, LogQuery};
use super::events;
use super::logs::{Printer, Style, display_name, print_log};
use crate::exit::{CliError, CliResult};

/// Docker Compose's exit status after an interrupt.
const INTERRUPTED: i32 = 130;

/// What an attached `up` does besides printing.
pub struct Attach {
    /// The containers whose logs are shown.
    pub shown: Vec<ContainerSummary>,
    /// Every container `up` started (stopped on Ctrl-C or abort).
    pub started: Vec<ContainerSummary>,
    /// Log lines from this time (Unix nanoseconds): the start of `up`.
    pub since: i64,
    /// How lines look.
    pub style: Style,
    /// Stop everything when the first container exits.
    pub abort_on_exit: bool,
    /// Exit with this service's exit code (implies `abort_on_exit`).
    pub exit_code_from: Option<String>,
    /// Services meant to exit (others wait for their success): their
    /// exit never aborts.
    pub one_shots: BTreeSet<String>,
    /// Stop timeout in seconds.
    pub timeout: Option<i32>,
}

/// Follows the project's output; returns `up`'s exit status.
pub async fn follow(engine: &Engine, attach: Attach) -> CliResult<i32> {
    events::finish();
    let names: Vec<String> = attach.shown.iter().map(display_name).collect();
    println!("Attaching to {}", names.join(", "));
    let printer = Arc::new(Printer::new(attach.style, &attach.shown));
    let query = LogQuery {
        follow: true,
        tail: -1,
        since: attach.since,
        until: 0,
    };
    let mut tasks = JoinSet::new();
    for container in attach.shown.iter().cloned() {
        let (engine, printer) = (engine.clone(), printer.clone());
        tasks.spawn(async move {
            print_log(&engine, &printer, &container, query).await?;
            let code = engine.wait(&container.id).await?;
            printer.exited(&container, code);
            Ok::<_, CliError>((container, code))
        });
    }
    let abort = attach.abort_on_exit || attach.exit_code_from.is_some();
    let mut status = 0;
    loop {
        tokio::select! {
            finished = tasks.join_next() => {
                let Some(finished) = finished else { break };
                let (container, code) = finished
                    .map_err(|e| CliError::client(format!("a log task failed: {e}")))??;
                let service = container.labels.get(labels::SERVICE);
                if attach.exit_code_from.as_ref().is_some_and(|s| Some(s) == service) {
                    status = code;
                }
                if abort && !service.is_some_and(|s| attach.one_shots.contains(s)) {
                    if attach.exit_code_from.is_none() {
                        status = code;
                    }
                    println!("Aborting on container exit...");
                    tasks.abort_all();
                    stop_all(engine, &attach.started, attach.timeout).await?;
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => {
                println!("Gracefully stopping... (press Ctrl+C again to force)");
                tasks.abort_all();
                tokio::select! {
                    stopped = stop_all(engine, &attach.started, attach.timeout) => stopped?,
                    _ = tokio::signal::ctrl_c() => kill_all(engine, &attach.started).await?,
                }
                return Ok(INTERRUPTED);
            }
        }
    }
    Ok(status)
}

/// Stops containers at once, with progress lines.
async fn stop_all(
    engine: &Engine,
    containers: &[ContainerSummary],
    timeout: Option<i32>,
) -> CliResult {
    each_container(
        engine,
        containers,
        "Stopping",
        "Stopped",
        move |engine, id| async move { engine.stop(&id, timeout).await },
    )
    .await
}

/// Kills containers at once, with progress lines.
async fn kill_all(engine: &Engine, containers: &[ContainerSummary]) -> CliResult {
    each_container(
        engine,
        containers,
        "Killing",
        "Killed",
        |engine, id| async move { engine.kill(&id, "KILL").await },
    )
    .await
}
