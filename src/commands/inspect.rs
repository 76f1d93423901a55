//! `hoist inspect` and `hoist image inspect`: Docker-shaped JSON, or a Go
//! template applied to each document.

use clap::Args;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::networks_client::NetworksClient;
use hoist_api::proto::volumes_client::VolumesClient;
use hoist_api::proto::{ContainerRef, ImageRef, ListContainersRequest};
use tonic::transport::Channel;

use crate::commands::{inspect_each, network, volume};
use crate::exit::{CliError, CliResult};

/// Return low-level information on containers or images
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template, or json
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Only inspect objects of the given type (container, image, network or volume)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Containers or images
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Display detailed information on one or more containers
#[derive(Debug, Args)]
pub struct ContainerInspectArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
}

/// Display detailed information on one or more images
#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    #[command(flatten)]
    pub inspect: InspectArgs,
}

/// What `inspect` may look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Containers, then images, volumes and networks, as Docker looks
    /// (plain `inspect`).
    Any,
    /// Containers only.
    Container,
    /// Images only.
    Image,
    /// Networks only.
    Network,
    /// Volumes only.
    Volume,
}

async fn fetch(
    channel: &Channel,
    kind: Kind,
    name: &str,
) -> Result<serde_json::Value, tonic::Status> {
    let container = async {
        ContainersClient::new(channel.clone())
            .inspect(ContainerRef {
                id: name.to_string(),
            })
            .await
            .map(|r| r.into_inner().json)
    };
    let image = async {
        ImagesClient::new(channel.clone())
            .inspect(ImageRef {
                reference: name.to_string(),
            })
            .await
            .map(|r| r.into_inner().json)
    };
    let volume = || async {
        volume::local_document(&mut VolumesClient::new(channel.clone()), name.to_string()).await
    };
    let network = || async {
        network::local_document(&mut NetworksClient::new(channel.clone()), name.to_string()).await
    };
    let decoded = |json: Vec<u8>| {
        serde_json::from_slice(&json)
            .map_err(|e| tonic::Status::internal(format!("malformed inspect document: {e}")))
    };
    match kind {
        Kind::Container => decoded(container.await?),
        Kind::Image => decoded(image.await?),
        Kind::Volume => volume().await,
        Kind::Network => network().await,
        Kind::Any => {
            let missing = |s: &tonic::Status| s.code() == tonic::Code::NotFound;
            match container.await {
                Err(s) if missing(&s) => {}
                other => return decoded(other?),
            }
            match image.await {
                Err(s) if missing(&s) => {}
                other => return decoded(other?),
            }
            match volume().await {
                Err(s) if missing(&s) => {}
                other => return other,
            }
            match network().await {
                Err(s) if missing(&s) => {
                    Err(tonic::Status::not_found(format!("No such object: {name}")))
                }
                other => other,
            }
        }
    }
}

/// Adds a container's `SizeRw` and `SizeRootFs` to its document, as
/// `docker inspect --size` does (an image's document is left alone).
async fn with_size(
    channel: &Channel,
    mut document: serde_json::Value,
) -> Result<serde_json::Value, tonic::Status> {
    let Some(id) = document
        .get("State")
        .and(document.get("Id"))
        .and_then(|id| id.as_str())
        .map(str::to_string)
    else {
        return Ok(document);
    };
    let sized = ContainersClient::new(channel.clone())
        .list(ListContainersRequest {
            all: true,
            filters: vec![format!("id={id}")],
            last: 0,
            size: true,
        })
        .await?
        .into_inner()
        .containers;
    if let (Some(row), Some(fields)) = (sized.first(), document.as_object_mut()) {
        fields.insert("SizeRw".into(), row.size_rw.into());
        fields.insert("SizeRootFs".into(), row.size_root_fs.into());
    }
    Ok(document)
}

/// Prints inspect documents.
pub async fn run(channel: Channel, args: InspectArgs, kind: Kind) -> CliResult<i32> {
    let kind = match args.kind.as_deref() {
        None => kind,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some("network") => Kind::Network,
        Some("volume") => Kind::Volume,
        Some(other) => {
            return Err(CliError::usage(format!(
                "unsupported --type {other:?}: use container, image, network or volume"
            )));
        }
    };
    inspect_each(&args.names, args.format.as_deref(), |name| {
        let channel = channel.clone();
        async move {
            let document = fetch(&channel, kind, &name).await?;
            if args.size {
                with_size(&channel, document).await
            } else {
                Ok(document)
            }
        }
    })
    .await
}
