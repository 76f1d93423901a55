//! `hoist compose images`: the image of each of the project's containers
//! (CONTAINER REPOSITORY TAG IMAGE ID SIZE), `-q` for the image IDs only.

use clap::Args;
use hoist_api::proto::{ContainerSummary, ImageSummary};
use hoist_api::units::human_size;
use hoist_compose::plan::Plan;
use hoist_runtime::image::Reference;
use hoist_runtime::image::reference::looks_like_id;
use serde::Serialize;

use super::engine::Engine;
use super::output::{ListFormat, print_json};
use super::services::of_services;
use super::up::selection;
use crate::exit::{CliError, CliResult};
use crate::format::{print_table, short_id};

/// List images used by the created containers
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only display IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format the output
    #[arg(long, value_enum, default_value_t)]
    format: ListFormat,
    /// Services whose images to list (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// One container's image (named in JSON as Docker Compose names it).
#[derive(Serialize)]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "ContainerName")]
    container: String,
    #[serde(rename = "Repository")]
    repository: String,
    #[serde(rename = "Tag")]
    tag: String,
    #[serde(rename = "Size")]
    size: u64,
}

/// Lists the images the named services' containers run.
pub async fn images(engine: Engine, plan: Plan, args: ImagesArgs) -> CliResult<i32> {
    let selected = selection(&plan, &args.services, true)?;
    let all = engine.project_containers(&plan.project, true).await?;
    let mut containers = of_services(all, &selected);
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    let known = engine.images().await?;
    let rows = containers
        .iter()
        .map(|c| row(c, &known))
        .collect::<CliResult<Vec<Row>>>()?;
    if args.quiet {
        let mut seen: Vec<&str> = Vec::new();
        for row in &rows {
            let id = row.id.strip_prefix("sha256:").unwrap_or(&row.id);
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(0);
    }
    match args.format {
        ListFormat::Json => print_json(&rows)?,
        ListFormat::Table => {
            let table: Vec<Vec<String>> = rows
                .into_iter()
                .map(|r| {
                    vec![
                        r.container,
                        r.repository,
                        r.tag,
                        short_id(&r.id),
                        human_size(r.size),
                    ]
                })
                .collect();
            print_table(
                &["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
                &table,
            );
        }
    }
    Ok(0)
}

/// A container's image: the repository and tag it was made from, the
/// image's ID and size.
fn row(container: &ContainerSummary, known: &[ImageSummary]) -> CliResult<Row> {
    let bare = |id: &str| id.strip_prefix("sha256:").unwrap_or(id).to_string();
    let image = known
        .iter()
        .find(|i| bare(&i.id) == bare(&container.image_id))
        .ok_or_else(|| {
            CliError::client(format!(
                "the image {} of container {} is not on the daemon: recreate the container with 'hoist compose up --force-recreate'",
                container.image, container.name
            ))
        })?;
    let reference = (!looks_like_id(&container.image))
        .then(|| Reference::parse(&container.image).ok())
        .flatten();
    let none = || "<none>".to_string();
    Ok(Row {
        container: container.name.clone(),
        repository: reference
            .as_ref()
            .map_or_else(none, Reference::familiar_repository),
        tag: reference.and_then(|r| r.tag).unwrap_or_else(none),
        id: image.id.clone(),
        size: image.size,
    })
}
