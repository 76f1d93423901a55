//! Image commands: import, images, rmi, tag, history, image inspect.

use std::io::Read;

use clap::Args;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::{
    DataChunk, ImageRef, ImportOpen, ImportRequest, ListImagesRequest, PruneImagesRequest,
    RemoveImageRequest, SaveRequest, TagRequest, import_request,
};
use hoist_api::units::human_size;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::commands::for_each_printing;
use crate::exit::{CliError, CliResult};
use crate::format::{self, Format, cells, print_items, print_table, short_id, truncate};

/// Size of the chunks a tarball is streamed in.
const CHUNK: usize = 1024 * 1024;

/// Import the contents from a tarball to create a filesystem image
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// A tarball path, or - for stdin
    pub file: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

/// Streams a file (or stdin) to the daemon in chunks.
fn spawn_reader<T: Send + 'static>(
    path: String,
    tx: mpsc::Sender<T>,
    wrap: fn(Vec<u8>) -> T,
) -> CliResult<std::thread::JoinHandle<CliResult>> {
    let mut reader: Box<dyn Read + Send> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&path)
                .map_err(|e| CliError::client(format!("cannot open {path}: {e}")))?,
        )
    };
    Ok(std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| CliError::client(format!("cannot read {path}: {e}")))?;
            if n == 0 {
                return Ok(());
            }
            if tx.blocking_send(wrap(buf[..n].to_vec())).is_err() {
                return Ok(());
            }
        }
    }))
}

/// Imports a root filesystem tarball as an image.
pub async fn import(channel: Channel, args: ImportArgs) -> CliResult<i32> {
    let (tx, rx) = mpsc::channel(8);
    let open = ImportOpen {
        reference: args.reference.clone().unwrap_or_default(),
        changes: args.change.clone(),
        message: args.message.clone().unwrap_or_default(),
        platform: args.platform.clone().unwrap_or_default(),
    };
    let _ = tx
        .send(ImportRequest {
            kind: Some(import_request::Kind::Open(open)),
        })
        .await;
    let reader = spawn_reader(args.file.clone(), tx, |data| ImportRequest {
        kind: Some(import_request::Kind::Data(data)),
    })?;
    let response = ImagesClient::new(channel)
        .import(ReceiverStream::new(rx))
        .await;
    reader
        .join()
        .map_err(|_| CliError::client("the reader thread failed"))??;
    println!("{}", response?.into_inner().image_id);
    Ok(0)
}

/// List images
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

/// Lists images.
pub async fn images(channel: Channel, args: ImagesArgs) -> CliResult<i32> {
    let request = ListImagesRequest {
        all: args.all,
        filters: args.filter.clone(),
        reference: args.reference.clone().unwrap_or_default(),
    };
    let images = ImagesClient::new(channel)
        .list(request)
        .await?
        .into_inner()
        .images;
    let id = |i: &str| {
        if args.no_trunc {
            i.to_string()
        } else {
            short_id(i)
        }
    };
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for image in &images {
            if seen.insert(image.id.clone()) {
                println!("{}", id(&image.id));
            }
        }
        return Ok(0);
    }
    let mut items = Vec::new();
    for image in &images {
        for (repository, tag, digest) in image_rows(image) {
            items.push(json!({
                "Repository": repository,
                "Tag": tag,
                "Digest": digest,
                "ID": id(&image.id),
                "CreatedSince": format::ago(image.created),
                "CreatedAt": chrono::DateTime::from_timestamp(image.created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                "Size": human_size(image.size),
                "VirtualSize": human_size(image.size),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": image.containers.to_string(),
            }));
        }
    }
    print_items(&Format::parse(args.format.as_deref()), &items, || {
        let mut headers = vec!["REPOSITORY", "TAG"];
        if args.digests {
            headers.push("DIGEST");
        }
        headers.extend(["IMAGE ID", "CREATED", "SIZE"]);
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                let mut keys = vec!["Repository", "Tag"];
                if args.digests {
                    keys.push("Digest");
                }
                keys.extend(["ID", "CreatedSince", "Size"]);
                cells(i, &keys)
            })
            .collect();
        print_table(&headers, &rows);
    })?;
    Ok(0)
}

/// The (repository, tag, digest) rows `images` shows for one image, as
/// Docker does: one per tag with that repository's digest, one per
/// repository known only by digest, or `<none>` everywhere.
fn image_rows(image: &hoist_api::proto::ImageSummary) -> Vec<(String, String, String)> {
    let none = || "<none>".to_string();
    let digests: Vec<(&str, &str)> = image
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .collect();
    let digest_of = |repository: &str| {
        digests
            .iter()
            .find(|(r, _)| *r == repository)
            .map_or_else(none, |(_, d)| d.to_string())
    };
    let mut rows: Vec<(String, String, String)> = image
        .repo_tags
        .iter()
        .map(|t| {
            let split = t
                .rfind(':')
                .filter(|i| !t[*i..].contains('/'))
                .unwrap_or(t.len());
            let repository = t[..split].to_string();
            let tag = t.get(split + 1..).map_or_else(none, str::to_string);
            let digest = digest_of(&repository);
            (repository, tag, digest)
        })
        .collect();
    for (repository, digest) in &digests {
        if !rows.iter().any(|(r, _, _)| r == repository) {
            rows.push((repository.to_string(), none(), digest.to_string()));
        }
    }
    if rows.is_empty() {
        rows.push((none(), none(), none()));
    }
    rows
}

/// Remove one or more images
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Removes images.
pub async fn rmi(channel: Channel, args: RmiArgs) -> CliResult<i32> {
    let client = ImagesClient::new(channel);
    for_each_printing(&args.images, false, |reference| {
        let mut client = client.clone();
        async move {
            let response = client
                .remove(RemoveImageRequest {
                    reference,
                    force: args.force,
                    no_prune: args.no_prune,
                })
                .await?
                .into_inner();
            let untagged = response.untagged.iter().map(|u| format!("Untagged: {u}"));
            let deleted = response.deleted.iter().map(|d| format!("Deleted: {d}"));
            Ok(untagged.chain(deleted).collect::<Vec<_>>().join("\n"))
        }
    })
    .await
}

/// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

/// Tags an image.
pub async fn tag(channel: Channel, args: TagArgs) -> CliResult<i32> {
    ImagesClient::new(channel)
        .tag(TagRequest {
            source: args.source,
            target: args.target,
        })
        .await?;
    Ok(0)
}

/// Show the history of an image
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// The image
    pub image: String,
}

/// Shows an image's history.
pub async fn history(channel: Channel, args: HistoryArgs) -> CliResult<i32> {
    let entries = ImagesClient::new(channel)
        .history(ImageRef {
            reference: args.image.clone(),
        })
        .await?
        .into_inner()
        .entries;
    let id = |i: &str| {
        if i == "<missing>" || args.no_trunc {
            i.to_string()
        } else {
            short_id(i)
        }
    };
    if args.quiet {
        for entry in &entries {
            println!("{}", id(&entry.id));
        }
        return Ok(0);
    }
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            json!({
                "ID": id(&e.id),
                "CreatedSince": if args.human { format::ago(e.created) } else { e.created.to_string() },
                "CreatedBy": if args.no_trunc { e.created_by.clone() } else { truncate(&e.created_by, 45) },
                "Size": if args.human { human_size(e.size) } else { e.size.to_string() },
                "Comment": e.comment,
            })
        })
        .collect();
    print_items(&Format::parse(args.format.as_deref()), &items, || {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| cells(i, &["ID", "CreatedSince", "CreatedBy", "Size", "Comment"]))
            .collect();
        print_table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &rows,
        );
    })?;
    Ok(0)
}

/// Save one or more images to a tar archive (streamed to STDOUT by default)
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Archive format: docker (docker save's, with an OCI layout inside) or oci
    #[arg(long, default_value = "docker")]
    pub format: String,
    /// Images
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Writes images to a tar archive.
pub async fn save(channel: Channel, args: SaveArgs) -> CliResult<i32> {
    let mut out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::client(format!("cannot create {path}: {e}")))?,
        ),
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(CliError::client(
                    "cowardly refusing to save to a terminal: use -o FILE or redirect the output",
                ));
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let request = SaveRequest {
        references: args.images.clone(),
        format: args.format.clone(),
    };
    let result = async {
        let mut stream = ImagesClient::new(channel).save(request).await?.into_inner();
        while let Some(chunk) = stream.message().await? {
            out.write_all(&chunk.data)?;
        }
        out.flush()?;
        CliResult::Ok(())
    }
    .await;
    if result.is_err()
        && let Some(path) = &args.output
    {
        let _ = std::fs::remove_file(path);
    }
    result.map(|()| 0)
}

/// Load an image from a tar archive or STDIN
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Loads images from a tar archive (docker save, OCI layout, skopeo's
/// oci-archive and docker-archive).
pub async fn load(channel: Channel, args: LoadArgs) -> CliResult<i32> {
    let path = args.input.clone().unwrap_or_else(|| "-".to_string());
    if path == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::usage(
            "requested load from stdin, but stdin is empty: use -i FILE or pipe a tarball in",
        ));
    }
    let (tx, rx) = mpsc::channel(8);
    let reader = spawn_reader(path, tx, |data| DataChunk { data })?;
    let response = ImagesClient::new(channel)
        .load(ReceiverStream::new(rx))
        .await;
    reader
        .join()
        .map_err(|_| CliError::client("the reader thread failed"))??;
    if !args.quiet {
        for line in response?.into_inner().loaded {
            println!("{line}");
        }
    } else {
        response?;
    }
    Ok(0)
}

/// Remove unused images
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Removes unused images.
pub async fn prune(channel: Channel, args: PruneArgs) -> CliResult<i32> {
    let warning = if args.all {
        "This will remove all images without at least one container associated to them."
    } else {
        "This will remove all dangling images."
    };
    super::prune::confirm(args.force, warning, "image prune")?;
    let response = ImagesClient::new(channel)
        .prune(PruneImagesRequest {
            all: args.all,
            filters: args.filter,
        })
        .await?
        .into_inner();
    super::prune::report(
        "Images",
        response.deleted.iter().map(|id| format!("deleted: {id}")),
        Some(response.space_reclaimed),
    );
    Ok(0)
}
