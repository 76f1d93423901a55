//! `hoist compose ls`: every compose project on the daemon, found from its
//! containers' labels (no compose file needed), with its containers'
//! states counted (`exited(1), running(2)`) and its compose files. Without
//! `-a` only running containers count, so projects with none are left out.

use std::collections::BTreeMap;

use clap::Args;
use hoist_api::proto::ContainerSummary;
use hoist_compose::plan::labels;
use serde::Serialize;

use super::engine::Engine;
use super::output::{ListFormat, print_json};
use crate::exit::{CliError, CliResult};
use crate::format::print_table;

/// List running compose projects (needs no compose file)
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    all: bool,
    /// Only display project names
    #[arg(short, long)]
    quiet: bool,
    /// Format the output
    #[arg(long, value_enum, default_value_t)]
    format: ListFormat,
    /// Filter output based on conditions provided (name=NAME)
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
}

/// One project, as `ls` shows it (and names it in JSON).
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Stack {
    name: String,
    status: String,
    config_files: String,
}

/// Lists the compose projects.
pub async fn ls(engine: Engine, args: LsArgs) -> CliResult<i32> {
    let names = name_filters(&args.filter)?;
    let containers = engine.compose_containers(args.all).await?;
    let stacks: Vec<Stack> = stacks(&containers)
        .into_iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| s.name.contains(n.as_str())))
        .collect();
    if args.quiet {
        for stack in &stacks {
            println!("{}", stack.name);
        }
        return Ok(0);
    }
    match args.format {
        ListFormat::Json => print_json(&stacks)?,
        ListFormat::Table => {
            let rows: Vec<Vec<String>> = stacks
                .into_iter()
                .map(|s| vec![s.name, s.status, s.config_files])
                .collect();
            print_table(&["NAME", "STATUS", "CONFIG FILES"], &rows);
        }
    }
    Ok(0)
}

/// The names `--filter name=X` asks for; any other filter is refused.
fn name_filters(filters: &[String]) -> CliResult<Vec<String>> {
    filters
        .iter()
        .map(|f| match f.split_once('=') {
            Some(("name", name)) => Ok(name.to_string()),
            _ => Err(CliError::client(format!(
                "invalid filter {f:?}: 'hoist compose ls' filters by name=NAME only"
            ))),
        })
        .collect()
}

/// The containers grouped into projects, by name.
fn stacks(containers: &[ContainerSummary]) -> Vec<Stack> {
    let mut projects: BTreeMap<&str, Vec<&ContainerSummary>> = BTreeMap::new();
    for container in containers {
        if let Some(project) = container.labels.get(labels::PROJECT) {
            projects.entry(project).or_default().push(container);
        }
    }
    projects
        .into_iter()
        .map(|(name, containers)| Stack {
            name: name.to_string(),
            status: status(&containers),
            config_files: config_files(&containers),
        })
        .collect()
}

/// `exited(1), running(2)`: the containers counted per state, states in
/// alphabetical order.
fn status(containers: &[&ContainerSummary]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for container in containers {
        *counts.entry(container.state.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(state, n)| format!("{state}({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every compose file the containers were made from, each once, in
/// order; `N/A` when a container does not say.
fn config_files(containers: &[&ContainerSummary]) -> String {
    let mut files: Vec<&str> = Vec::new();
    for container in containers {
        let Some(label) = container.labels.get(labels::CONFIG_FILES) else {
            return "N/A".into();
        };
        for file in label.split(',') {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(project: &str, state: &str, files: Option<&str>) -> ContainerSummary {
        let mut labels = std::collections::HashMap::new();
        labels.insert(labels::PROJECT.to_string(), project.to_string());
        if let Some(files) = files {
            labels.insert(labels::CONFIG_FILES.to_string(), files.to_string());
        }
        ContainerSummary {
            state: state.into(),
            labels,
            ..Default::default()
        }
    }

    #[test]
    fn projects_count_states_and_merge_files() {
        let containers = [
            container("shop", "running", Some("/a/compose.yaml")),
            container("blog", "exited", None),
            container("shop", "exited", Some("/a/compose.yaml,/a/override.yaml")),
            container("shop", "running", Some("/a/compose.yaml")),
        ];
        assert_eq!(
            stacks(&containers),
            vec![
                Stack {
                    name: "blog".into(),
                    status: "exited(1)".into(),
                    config_files: "N/A".into(),
                },
                Stack {
                    name: "shop".into(),
                    status: "exited(1), running(2)".into(),
                    config_files: "/a/compose.yaml,/a/override.yaml".into(),
                },
            ]
        );
    }

    #[test]
    fn only_name_filters_are_accepted() {
        assert_eq!(name_filters(&["name=shop".into()]).unwrap(), ["shop"]);
        assert!(name_filters(&["status=running".into()]).is_err());
        assert!(name_filters(&["shop".into()]).is_err());
    }
}
