//! `hoist compose rm`: the project's stopped service containers removed,
//! after a `Going to remove …` confirmation unless `-f`; with `-s` the
//! containers are stopped first.

use std::io::{IsTerminal, Write};

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::Plan;

use super::each::each_container;
use super::engine::Engine;
use super::lifecycle::stop_services;
use super::services::{is_one_off, of_services};
use super::up::selection;
use crate::exit::{CliError, CliResult};

/// Removes stopped service containers
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
    force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Services whose containers to remove (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// Removes the stopped containers of the named services.
pub async fn rm(engine: Engine, plan: Plan, args: RmArgs) -> CliResult<i32> {
    let selected = selection(&plan, &args.services, true)?;
    if args.stop {
        stop_services(&engine, &plan, &args.services, None).await?;
    }
    let all = engine.project_containers(&plan.project, true).await?;
    let stopped: Vec<ContainerSummary> = of_services(all, &selected)
        .into_iter()
        .filter(|c| !is_one_off(c) && !is_live(c))
        .collect();
    if stopped.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    let names: Vec<&str> = stopped.iter().map(|c| c.name.as_str()).collect();
    let message = format!("Going to remove {}", names.join(", "));
    if args.force {
        println!("{message}");
    } else if !confirm(message).await? {
        return Ok(0);
    }
    let volumes = args.volumes;
    each_container(
        &engine,
        &stopped,
        "Removing",
        "Removed",
        |engine, id| async move { engine.remove(&id, volumes).await },
    )
    .await?;
    Ok(0)
}

/// Whether a container counts as running for Docker (paused and
/// restarting ones do).
fn is_live(container: &ContainerSummary) -> bool {
    matches!(
        container.state.as_str(),
        "running" | "paused" | "restarting"
    )
}

/// Prints `message` and `Are you sure? [yN]`, and reads the answer from
/// standard input (a terminal or not; end of input is a no); only a yes
/// counts.
async fn confirm(message: String) -> CliResult<bool> {
    let answer = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{message}");
        let _ = write!(out, "Are you sure? [yN] ");
        let _ = out.flush();
        drop(out);
        let mut line = String::new();
        let read = std::io::stdin().read_line(&mut line).map(|_| line);
        if !std::io::stdin().is_terminal() {
            // The answer was not echoed: end the prompt's line.
            println!();
        }
        read
    })
    .await
    .map_err(|e| CliError::client(format!("the confirmation prompt failed: {e}")))?
    .map_err(|e| {
        CliError::client(format!(
            "cannot read the answer from standard input: {e}; pass -f to remove without asking"
        ))
    })?;
    Ok(is_yes(&answer))
}

/// `y`, `yes` or a Go-style true (`1`, `t`, `true`), in any case.
fn is_yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "1" | "t" | "true"
    )
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn only_a_yes_confirms() {
        for yes in ["y\n", "Y", " yes ", "true", "1"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "maybe", "yep"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
