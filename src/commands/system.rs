//! `hoist version`, `hoist info` and `hoist system`: disk use (`df`) and
//! the prune of everything unused (`prune`), as Docker's.

use clap::{Args, Subcommand};
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::networks_client::NetworksClient;
use hoist_api::proto::system_client::SystemClient;
use hoist_api::proto::volumes_client::VolumesClient;
use hoist_api::proto::{
    DiskUsageRequest, DiskUsageResponse, InfoRequest, PruneBuildCacheRequest,
    PruneContainersRequest, PruneImagesRequest, PruneNetworksRequest, PruneVolumesRequest,
    VersionRequest,
};
use hoist_api::units::human_size;
use serde_json::{Value, json};
use tonic::transport::Channel;

use super::events::EventsArgs;
use super::prune;
use crate::exit::{CliError, CliResult};
use crate::format::{Format, ago, cells, print_items, print_table, short_id, truncate};

/// Manage hoist
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show hoist disk usage
    Df(DfArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Display system-wide information
    Info,
    /// Get real time events from the server
    Events(EventsArgs),
}

/// Show hoist disk usage
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

/// Remove unused data
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>", "until=24h")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs a `hoist system` command.
pub async fn run(channel: Channel, command: SystemCommand) -> CliResult<i32> {
    match command {
        SystemCommand::Df(args) => df(channel, args).await,
        SystemCommand::Prune(args) => system_prune(channel, args).await,
        SystemCommand::Info => info(channel).await,
        SystemCommand::Events(args) => super::events::events(channel, args).await,
    }
}

/// Prints client and daemon versions.
pub async fn version(channel: Option<Channel>) -> CliResult<i32> {
    println!(
        "Client:\n Version:    {}\n API version: {}\n OS/Arch:    {}/{}",
        hoist_api::VERSION,
        hoist_api::API_VERSION,
        std::env::consts::OS,
        hoist_runtime::image::config::host_architecture()
    );
    let Some(channel) = channel else {
        return Err(CliError::client("cannot reach the daemon"));
    };
    let v = SystemClient::new(channel)
        .version(VersionRequest {})
        .await?
        .into_inner();
    println!(
        "\nServer:\n Version:    {}\n API version: {}\n OS/Arch:    {}/{}\n Kernel:     {}\n PID:        {}",
        v.version, v.api_version, v.os, v.arch, v.kernel_version, v.pid
    );
    Ok(0)
}

/// Prints daemon facts as JSON.
pub async fn info(channel: Channel) -> CliResult<i32> {
    let response = SystemClient::new(channel)
        .info(InfoRequest {})
        .await?
        .into_inner();
    let info: serde_json::Value =
        serde_json::from_slice(&response.info_json).map_err(|e| CliError::client(e.to_string()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&info).map_err(|e| CliError::client(e.to_string()))?
    );
    Ok(0)
}

/// `system prune`: stopped containers, unused networks, (with `--volumes`)
/// unused anonymous volumes, dangling (with `-a` all unused) images and
/// the unused build cache, each through its own prune, as Docker does.
async fn system_prune(channel: Channel, args: SystemPruneArgs) -> CliResult<i32> {
    let label_filtered = args.filter.iter().any(|f| f.starts_with("label"));
    let until: Vec<String> = args
        .filter
        .iter()
        .filter(|f| f.starts_with("until="))
        .cloned()
        .collect();
    if args.volumes && !until.is_empty() {
        return Err(CliError::client(
            "the \"until\" filter is not supported with \"--volumes\": volumes carry no creation time to filter by",
        ));
    }
    let mut warning = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        warning.push("all anonymous volumes not used by at least one container");
    }
    warning.push(if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    if !label_filtered {
        warning.push(if args.all {
            "all build cache"
        } else {
            "unused build cache"
        });
    }
    let warning = format!(
        "This will remove:\n{}\n",
        warning
            .iter()
            .map(|w| format!("  - {w}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    prune::confirm(args.force, &warning, "system prune")?;

    let mut reclaimed = 0;
    let containers = ContainersClient::new(channel.clone())
        .prune(PruneContainersRequest {
            filters: args.filter.clone(),
        })
        .await?
        .into_inner();
    reclaimed += containers.space_reclaimed;
    prune::report("Containers", containers.deleted, None);
    let networks = NetworksClient::new(channel.clone())
        .prune(PruneNetworksRequest {
            filters: args.filter.clone(),
        })
        .await?
        .into_inner();
    prune::report("Networks", networks.deleted, None);
    if args.volumes {
        let volumes = VolumesClient::new(channel.clone())
            .prune(PruneVolumesRequest {
                all: false,
                filters: args.filter.clone(),
            })
            .await?
            .into_inner();
        reclaimed += volumes.space_reclaimed;
        prune::report("Volumes", volumes.deleted, None);
    }
    let images = ImagesClient::new(channel.clone())
        .prune(PruneImagesRequest {
            all: args.all,
            filters: args.filter.clone(),
        })
        .await?
        .into_inner();
    reclaimed += images.space_reclaimed;
    prune::report(
        "Images",
        images.deleted.iter().map(|id| format!("deleted: {id}")),
        None,
    );
    // The build cache carries no labels: a label filter matches none of it.
    if !label_filtered {
        let cache = ImagesClient::new(channel)
            .prune_build_cache(PruneBuildCacheRequest {
                filters: until,
                keep_storage: 0,
            })
            .await?
            .into_inner();
        reclaimed += cache.space_reclaimed;
        prune::report(
            "build cache objects",
            cache
                .deleted
                .iter()
                .map(|key| key.trim_start_matches("sha256:").to_string()),
            None,
        );
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}

/// `system df`: what images, containers, volumes and the build cache
/// take, and how much of it a prune could free.
async fn df(channel: Channel, args: DfArgs) -> CliResult<i32> {
    let usage = SystemClient::new(channel)
        .disk_usage(DiskUsageRequest {})
        .await?
        .into_inner();
    if args.verbose && args.format.is_none() {
        print_verbose(&usage);
        return Ok(0);
    }
    let rows = summary_rows(&usage);
    print_items(&Format::parse(args.format.as_deref()), &rows, || {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                cells(
                    row,
                    &["Type", "TotalCount", "Active", "Size", "Reclaimable"],
                )
            })
            .collect();
        print_table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows);
    })?;
    Ok(0)
}

/// Docker's `SIZE (PERCENT%)` of what could be freed.
fn reclaimable(bytes: u64, total: u64) -> String {
    match (bytes * 100).checked_div(total) {
        Some(percent) => format!("{} ({percent}%)", human_size(bytes)),
        None => human_size(bytes),
    }
}

/// The four summary rows, with Docker's arithmetic: an image's unique
/// bytes are reclaimable unless a container uses it; a container's
/// writable layer unless it runs; a volume's files unless a container has
/// it; a cache entry's bytes unless a build uses it.
fn summary_rows(usage: &DiskUsageResponse) -> Vec<Value> {
    let images_in_use: Vec<_> = usage
        .images
        .iter()
        .filter(|i| i.image.as_ref().is_some_and(|s| s.containers > 0))
        .collect();
    let used_image_bytes: u64 = images_in_use
        .iter()
        .map(|i| {
            i.image
                .as_ref()
                .map_or(0, |s| s.size)
                .saturating_sub(i.shared_size)
        })
        .sum();
    let active = |c: &hoist_api::proto::ContainerUsage| {
        c.container
            .as_ref()
            .is_some_and(|s| matches!(s.state.as_str(), "running" | "paused" | "restarting"))
    };
    let containers_size: u64 = usage.containers.iter().map(|c| c.size_rw).sum();
    let idle_containers: u64 = usage
        .containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| c.size_rw)
        .sum();
    let linked = |v: &hoist_api::proto::VolumeUsage| {
        v.volume.as_ref().is_some_and(|v| !v.used_by.is_empty())
    };
    let volumes_size: u64 = usage.volumes.iter().map(|v| v.size).sum();
    let idle_volumes: u64 = usage
        .volumes
        .iter()
        .filter(|v| !linked(v))
        .map(|v| v.size)
        .sum();
    let cache_size: u64 = usage.build_cache.iter().map(|c| c.size).sum();
    let idle_cache: u64 = usage
        .build_cache
        .iter()
        .filter(|c| !c.in_use)
        .map(|c| c.size)
        .sum();
    // All strings, as Docker's `system df --format json` gives them.
    let row = |kind: &str, total: usize, active: usize, size: u64, free: String| {
        json!({
            "Type": kind,
            "TotalCount": total.to_string(),
            "Active": active.to_string(),
            "Size": human_size(size),
            "Reclaimable": free,
        })
    };
    vec![
        row(
            "Images",
            usage.images.len(),
            images_in_use.len(),
            usage.layers_size,
            reclaimable(
                usage.layers_size.saturating_sub(used_image_bytes),
                usage.layers_size,
            ),
        ),
        row(
            "Containers",
            usage.containers.len(),
            usage.containers.iter().filter(|c| active(c)).count(),
            containers_size,
            reclaimable(idle_containers, containers_size),
        ),
        row(
            "Local Volumes",
            usage.volumes.len(),
            usage.volumes.iter().filter(|v| linked(v)).count(),
            volumes_size,
            reclaimable(idle_volumes, volumes_size),
        ),
        row(
            "Build Cache",
            usage.build_cache.len(),
            usage.build_cache.iter().filter(|c| c.in_use).count(),
            cache_size,
            human_size(idle_cache),
        ),
    ]
}

/// `system df -v`: each image, container, volume and cache entry.
fn print_verbose(usage: &DiskUsageResponse) {
    println!("Images space usage:\n");
    let mut rows = Vec::new();
    for usage in &usage.images {
        let Some(image) = &usage.image else { continue };
        let names: Vec<(String, String)> = if image.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image
                .repo_tags
                .iter()
                .map(|t| match t.rsplit_once(':') {
                    Some((repository, tag)) if !tag.contains('/') => {
                        (repository.to_string(), tag.to_string())
                    }
                    _ => (t.clone(), "<none>".into()),
                })
                .collect()
        };
        for (repository, tag) in names {
            rows.push(vec![
                repository,
                tag,
                short_id(&image.id),
                ago(image.created),
                human_size(image.size),
                human_size(usage.shared_size),
                human_size(image.size.saturating_sub(usage.shared_size)),
                image.containers.to_string(),
            ]);
        }
    }
    print_table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &rows,
    );
    println!("\nContainers space usage:\n");
    let rows: Vec<Vec<String>> = usage
        .containers
        .iter()
        .filter_map(|c| c.container.as_ref().map(|s| (s, c.size_rw)))
        .map(|(c, size)| {
            vec![
                short_id(&c.id),
                c.image.clone(),
                format!("\"{}\"", truncate(&c.command, 20)),
                c.mounts.len().to_string(),
                human_size(size),
                ago(c.created),
                c.status.clone(),
                c.name.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &rows,
    );
    println!("\nLocal Volumes space usage:\n");
    let rows: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .filter_map(|v| v.volume.as_ref().map(|volume| (volume, v.size)))
        .map(|(v, size)| {
            vec![
                v.name.clone(),
                v.used_by.len().to_string(),
                human_size(size),
            ]
        })
        .collect();
    print_table(&["VOLUME NAME", "LINKS", "SIZE"], &rows);
    let cache_size: u64 = usage.build_cache.iter().map(|c| c.size).sum();
    println!("\nBuild cache usage: {}\n", human_size(cache_size));
    let rows: Vec<Vec<String>> = usage
        .build_cache
        .iter()
        .map(|c| {
            vec![
                short_id(c.id.trim_start_matches("cache mount ")),
                c.kind.clone(),
                human_size(c.size),
                ago(c.last_used),
                if c.in_use { "1" } else { "0" }.to_string(),
                "false".to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::proto::{
        BuildCacheUsage, ContainerSummary, ContainerUsage, ImageSummary, ImageUsage,
    };

    fn image(size: u64, shared: u64, containers: i32) -> ImageUsage {
        ImageUsage {
            image: Some(ImageSummary {
                size,
                containers,
                ..Default::default()
            }),
            shared_size: shared,
        }
    }

    #[test]
    fn reclaimable_space_follows_dockers_arithmetic() {
        let usage = DiskUsageResponse {
            // Two images of 600 and 500 bytes sharing 400: 700 on disk.
            layers_size: 700,
            images: vec![image(600, 400, 1), image(500, 400, 0)],
            containers: vec![
                ContainerUsage {
                    container: Some(ContainerSummary {
                        state: "running".into(),
                        ..Default::default()
                    }),
                    size_rw: 30,
                },
                ContainerUsage {
                    container: Some(ContainerSummary {
                        state: "exited".into(),
                        ..Default::default()
                    }),
                    size_rw: 10,
                },
            ],
            volumes: Vec::new(),
            build_cache: vec![BuildCacheUsage {
                size: 2000,
                ..Default::default()
            }],
        };
        let rows = summary_rows(&usage);
        let cell = |row: usize, key: &str| rows[row][key].clone();
        // The used image's own 200 bytes stay; the rest (500) could go.
        assert_eq!(cell(0, "Reclaimable"), "500B (71%)");
        assert_eq!(
            (cell(0, "TotalCount"), cell(0, "Active")),
            (json!("2"), json!("1"))
        );
        assert_eq!(cell(1, "Size"), "40B");
        assert_eq!(cell(1, "Reclaimable"), "10B (25%)");
        assert_eq!(cell(2, "Reclaimable"), "0B");
        assert_eq!(cell(3, "Reclaimable"), "2kB");
    }
}
