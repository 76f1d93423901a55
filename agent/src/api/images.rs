//! The Images gRPC service.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use hoist_api::events::EventType;
use hoist_api::filters::Filters;
use hoist_api::inspect::{GraphDriver, ImageInspect, RootFs};
use hoist_api::proto::images_server::Images;
use hoist_api::proto::{
    BuildRequest, DataChunk, Empty, HistoryEntry, HistoryResponse, ImageRef, ImageSummary,
    ImportRequest, ImportResponse, InspectManifestRequest, InspectManifestResponse,
    InspectResponse, ListImagesRequest, ListImagesResponse, ListTagsRequest, ListTagsResponse,
    LoadResponse, LoginRequest, ProgressMessage, PruneBuildCacheRequest, PruneImagesRequest,
    PruneResponse, PullRequest, PushRequest, RegistryAuth, RemoteManifest, RemoveImageRequest,
    RemoveImageResponse, SaveRequest, TagRequest, build_request, import_request,
};
use hoist_runtime::image::archive::{self, SaveFormat};
use hoist_runtime::image::build_cache::CachePrune;
use hoist_runtime::image::dockerfile::RunNetwork;
use hoist_runtime::image::registry::media::Platform;
use hoist_runtime::image::registry::{
    self, Credentials, ProgressEvent, PullOptions, PushOptions, RegistryClient,
};
use hoist_runtime::image::{Image, ImageStore, Reference};
use tracing::Instrument;

use super::tarstream::{ChannelReader, ChannelWriter, write_root};
use tonic::{Request, Response, Status, Streaming};
use tracing::instrument;

use super::containers::ResponseStream;
use super::image_filters::{ImageFilter, created_at};
use crate::build::{BuildOptions, NamedContext};
use crate::containers::rootfs::mount_read_only;
use crate::daemon::Daemon;
use crate::error::{from_filter, from_image, from_registry, internal, invalid};

/// Serves image requests against a daemon.
#[derive(Debug, Clone)]
pub struct ImagesApi {
    /// The daemon.
    pub daemon: Arc<Daemon>,
}

fn parse_time(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp())
}

/// An image as listings show it, with the number of containers using it.
pub(super) fn summary(image: &Image, containers: i32) -> ImageSummary {
    ImageSummary {
        id: image.id.clone(),
        repo_tags: image.repo_tags(),
        repo_digests: image.repo_digests(),
        created: image.created,
        size: image.size,
        containers,
        labels: image.config.config.labels.clone().into_iter().collect(),
    }
}

fn credentials(auth: Option<RegistryAuth>) -> Option<Credentials> {
    auth.map(|a| Credentials {
        username: a.username,
        password: a.password,
        identity_token: a.identity_token,
    })
    .filter(|c| !c.username.is_empty() || !c.identity_token.is_empty())
}

fn progress(event: ProgressEvent) -> ProgressMessage {
    match event {
        ProgressEvent::Status(status) => ProgressMessage {
            status,
            ..Default::default()
        },
        ProgressEvent::Layer {
            id,
            status,
            current,
            total,
        } => ProgressMessage {
            id,
            status,
            current,
            total,
        },
    }
}

/// Runs a long job (pull, push, build) on a task of its own and streams its
/// progress; the stream ends with the job's error, if any. A client that
/// goes away cancels the job (what it fetched so far stays for next time).
fn progress_stream<Job, Fut, T>(job: Job) -> ResponseStream<ProgressMessage>
where
    Job: FnOnce(tokio::sync::mpsc::UnboundedSender<ProgressEvent>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>> + Send + 'static,
    T: Send + 'static,
{
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let running = tokio::spawn(job(events_tx).in_current_span());
    tokio::spawn(
        async move {
            let abort = running.abort_handle();
            loop {
                tokio::select! {
                    event = events_rx.recv() => match event {
                        Some(event) => {
                            if tx.send(Ok(progress(event))).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    () = tx.closed() => break,
                }
            }
            if tx.is_closed() {
                tracing::info!("client went away: cancelled");
                abort.abort();
                return;
            }
            let outcome = match running.await {
                Ok(Ok(_)) => return,
                Ok(Err(status)) => status,
                Err(e) => internal(format!("task failed: {e}")),
            };
            let _ = tx.send(Err(outcome)).await;
        }
        .in_current_span(),
    );
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

impl ImagesApi {
    /// Image ID → a container using it.
    async fn users(&self) -> HashMap<String, String> {
        let mut users = HashMap::new();
        for container in self.daemon.containers.all() {
            let record = container.record.lock().await;
            users
                .entry(record.image_id.clone())
                .or_insert_with(|| record.name.clone());
        }
        users
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("image task failed: {e}")))?
}

#[tonic::async_trait]
impl Images for ImagesApi {
    #[instrument(skip_all)]
    async fn import(
        &self,
        request: Request<Streaming<ImportRequest>>,
    ) -> Result<Response<ImportResponse>, Status> {
        let mut input = request.into_inner();
        let open = match input.message().await? {
            Some(ImportRequest {
                kind: Some(import_request::Kind::Open(open)),
            }) => open,
            _ => return Err(invalid("an import stream must start with ImportOpen")),
        };
        let reference = (!open.reference.is_empty())
            .then(|| Reference::parse(&open.reference).map_err(|e| invalid(e.to_string())))
            .transpose()?;
        // Spool the upload, then import it: the layer is hashed and
        // unpacked from the file without holding the stream.
        let spool = self.daemon.images.temp_path("import");
        let mut file = std::fs::File::create(&spool)
            .map_err(|e| internal(format!("cannot spool the upload: {e}")))?;
        let spooled = async {
            while let Some(message) = input.message().await? {
                if let Some(import_request::Kind::Data(data)) = message.kind {
                    file.write_all(&data)
                        .map_err(|e| internal(format!("cannot spool the upload: {e}")))?;
                }
            }
            Ok::<(), Status>(())
        }
        .await;
        drop(file);
        if let Err(e) = spooled {
            let _ = std::fs::remove_file(&spool);
            return Err(e);
        }
        let daemon = self.daemon.clone();
        let result = blocking(move || {
            let reference = (!open.reference.is_empty()).then_some(open.reference.as_str());
            let id = daemon
                .images
                .import(&spool, reference, &open.changes, &open.message)
                .map_err(from_image);
            let _ = std::fs::remove_file(&spool);
            id
        })
        .await?;
        self.daemon.image_event("import", &result, &result);
        if let Some(reference) = reference {
            self.daemon
                .image_event("tag", &result, &reference.familiar());
        }
        Ok(Response::new(ImportResponse { image_id: result }))
    }

    #[instrument(skip_all)]
    async fn list(
        &self,
        request: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        let request = request.into_inner();
        let filter = if request.reference.is_empty() {
            None
        } else {
            Some(Reference::parse(&request.reference).map_err(|e| invalid(e.to_string()))?)
        };
        // `hoist images busybox` lists every tag; `busybox:1.36` just that one.
        let explicit_tag = request
            .reference
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'));
        let users = self.users().await;
        let daemon = self.daemon.clone();
        let given = request.filters;
        let (images, filters) = blocking(move || {
            let filters = ImageFilter::for_list(&given, chrono::Utc::now(), |name| {
                daemon
                    .images
                    .resolve(name)
                    .map(|image| created_at(&image))
                    .map_err(from_image)
            })?;
            Ok((daemon.images.list().map_err(from_image)?, filters))
        })
        .await?;
        let matches = |r: &Reference| {
            filters.names(r)
                && match &filter {
                    None => true,
                    Some(want) => {
                        r.repository() == want.repository() && (!explicit_tag || r.tag == want.tag)
                    }
                }
        };
        let named = filter.is_some() || filters.by_reference();
        let images = images
            .into_iter()
            .filter(|image| filters.selects(image))
            .filter(|image| !named || image.references.iter().any(matches))
            .map(|mut image| {
                // Only the names that matched are listed.
                image.references.retain(matches);
                summary(&image, i32::from(users.contains_key(&image.id)))
            })
            .collect();
        Ok(Response::new(ListImagesResponse { images }))
    }

    #[instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn inspect(
        &self,
        request: Request<ImageRef>,
    ) -> Result<Response<InspectResponse>, Status> {
        let reference = request.into_inner().reference;
        let daemon = self.daemon.clone();
        let image = blocking(move || daemon.images.resolve(&reference).map_err(from_image)).await?;
        let layers_root = self.daemon.images.layers_root();
        let document = ImageInspect {
            id: image.id.clone(),
            repo_tags: image.repo_tags(),
            repo_digests: image.repo_digests(),
            created: image.config.created.clone().unwrap_or_default(),
            author: image.config.author.clone().unwrap_or_default(),
            config: serde_json::to_value(&image.config.config)
                .map_err(|e| internal(e.to_string()))?,
            architecture: image.config.architecture.clone(),
            variant: image.config.variant.clone().unwrap_or_default(),
            os: image.config.os.clone(),
            size: image.size,
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: [(
                    "LowerDir".to_string(),
                    image
                        .chain_ids
                        .iter()
                        .rev()
                        .map(|c| {
                            layers_root
                                .join(ImageStore::layer_dir_name(c))
                                .display()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                        .join(":"),
                )]
                .into(),
            },
            root_fs: RootFs {
                kind: "layers".into(),
                layers: image.config.rootfs.diff_ids.clone(),
            },
            descriptor: serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image.manifest_digest,
            }),
        };
        let json = serde_json::to_vec(&document).map_err(|e| internal(e.to_string()))?;
        Ok(Response::new(InspectResponse { json }))
    }

    #[instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn remove(
        &self,
        request: Request<RemoveImageRequest>,
    ) -> Result<Response<RemoveImageResponse>, Status> {
        let request = request.into_inner();
        let users = self.users().await;
        let daemon = self.daemon.clone();
        let (id, untagged, deleted) = blocking(move || {
            // For the events; what fails is told by the removal itself.
            let id = daemon.images.resolve(&request.reference).map(|i| i.id);
            let (untagged, deleted) = daemon
                .images
                .remove(&request.reference, request.force, |id| {
                    users.get(id).cloned()
                })
                .map_err(from_image)?;
            Ok((id, untagged, deleted))
        })
        .await?;
        if let Ok(id) = &id {
            for _ in &untagged {
                self.daemon.image_event("untag", id, id);
            }
        }
        for id in &deleted {
            self.daemon.image_event("delete", id, id);
        }
        Ok(Response::new(RemoveImageResponse { untagged, deleted }))
    }

    #[instrument(skip_all)]
    async fn tag(&self, request: Request<TagRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let daemon = self.daemon.clone();
        let (id, target) = blocking(move || {
            daemon
                .images
                .tag(&request.source, &request.target)
                .map_err(from_image)?;
            // For the event only: the tag is made whatever this says.
            let id = daemon.images.resolve(&request.target).map(|i| i.id);
            Ok((id, request.target))
        })
        .await?;
        if let Ok(id) = id {
            let name = Reference::parse(&target).map_or(target, |r| r.familiar());
            self.daemon.image_event("tag", &id, &name);
        }
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all, fields(reference = %request.get_ref().reference))]
    async fn history(
        &self,
        request: Request<ImageRef>,
    ) -> Result<Response<HistoryResponse>, Status> {
        let reference = request.into_inner().reference;
        let daemon = self.daemon.clone();
        let (image, sizes) = blocking(move || {
            let image = daemon.images.resolve(&reference).map_err(from_image)?;
            let sizes: Vec<u64> = image
                .chain_ids
                .iter()
                .map(|c| daemon.images.layer_size(c))
                .collect();
            Ok((image, sizes))
        })
        .await?;
        let mut sizes = sizes.into_iter();
        let mut entries: Vec<HistoryEntry> = image
            .config
            .history
            .iter()
            .map(|h| HistoryEntry {
                id: "<missing>".into(),
                created: parse_time(h.created.as_deref()),
                created_by: h.created_by.clone().unwrap_or_default(),
                size: if h.empty_layer {
                    0
                } else {
                    sizes.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
                tags: Vec::new(),
            })
            .collect();
        entries.reverse();
        if let Some(top) = entries.first_mut() {
            top.id = image.id.clone();
            top.tags = image.repo_tags();
        }
        Ok(Response::new(HistoryResponse { entries }))
    }

    type SaveStream = ResponseStream<DataChunk>;

    #[instrument(skip_all)]
    async fn save(
        &self,
        request: Request<SaveRequest>,
    ) -> Result<Response<Self::SaveStream>, Status> {
        let request = request.into_inner();
        if request.references.is_empty() {
            return Err(invalid("save needs at least one image"));
        }
        let format = match request.format.as_str() {
            "" | "docker" => SaveFormat::Docker,
            "oci" => SaveFormat::Oci,
            other => {
                return Err(invalid(format!(
                    "unknown save format {other:?}: use docker or oci"
                )));
            }
        };
        // Resolve first: an unknown image is an error before any byte is sent.
        let mut ids = Vec::new();
        for reference in &request.references {
            ids.push(
                self.daemon
                    .images
                    .resolve(reference)
                    .map_err(from_image)?
                    .id,
            );
        }
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let daemon = self.daemon.clone();
        tokio::task::spawn_blocking(move || {
            let errors = tx.clone();
            let mut writer = ChannelWriter::new(tx, |data| DataChunk { data });
            let result = archive::save(&daemon.images, &request.references, &mut writer, format)
                .map_err(from_image)
                .and_then(|()| writer.flush().map_err(|e| internal(e.to_string())));
            match result {
                Ok(()) => {
                    for id in &ids {
                        daemon.image_event("save", id, id);
                    }
                }
                Err(status) => {
                    let _ = errors.blocking_send(Err(status));
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    type PullStream = ResponseStream<ProgressMessage>;

    #[instrument(skip_all, fields(image = %request.get_ref().reference))]
    async fn pull(
        &self,
        request: Request<PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let request = request.into_inner();
        let reference = Reference::parse(&request.reference).map_err(|e| invalid(e.to_string()))?;
        let options = PullOptions {
            platform: Platform::parse(&request.platform).map_err(invalid)?,
            credentials: credentials(request.auth),
            config: self.daemon.config.registries.clone(),
        };
        let daemon = self.daemon.clone();
        Ok(Response::new(progress_stream(move |events| async move {
            let pulled = registry::pull(daemon.images.clone(), &reference, &options, events)
                .await
                .map_err(from_registry)?;
            let name = reference.familiar();
            daemon.image_event("pull", &name, &name);
            Ok(pulled)
        })))
    }

    type PushStream = ResponseStream<ProgressMessage>;

    #[instrument(skip_all, fields(image = %request.get_ref().reference))]
    async fn push(
        &self,
        request: Request<PushRequest>,
    ) -> Result<Response<Self::PushStream>, Status> {
        let request = request.into_inner();
        let reference = Reference::parse(&request.reference).map_err(|e| invalid(e.to_string()))?;
        // An unknown image is an error before the stream starts.
        self.daemon
            .images
            .resolve(&reference.to_string())
            .map_err(from_image)?;
        let options = PushOptions {
            credentials: credentials(request.auth),
            config: self.daemon.config.registries.clone(),
        };
        let daemon = self.daemon.clone();
        Ok(Response::new(progress_stream(move |events| async move {
            let pushed = registry::push(daemon.images.clone(), &reference, &options, events)
                .await
                .map_err(from_registry)?;
            let name = reference.familiar();
            daemon.image_event("push", &name, &name);
            Ok(pushed)
        })))
    }

    #[instrument(skip_all, fields(image = %request.get_ref().reference))]
    async fn inspect_manifest(
        &self,
        request: Request<InspectManifestRequest>,
    ) -> Result<Response<InspectManifestResponse>, Status> {
        let request = request.into_inner();
        let reference = Reference::parse(&request.reference).map_err(|e| invalid(e.to_string()))?;
        let mut config = self.daemon.config.registries.clone();
        if request.insecure {
            config.insecure.push(reference.domain.clone());
        }
        let options = PullOptions {
            platform: Platform::host(),
            credentials: credentials(request.auth),
            config,
        };
        let manifests = registry::inspect::inspect(&reference, &options, request.platforms)
            .await
            .map_err(from_registry)?
            .into_iter()
            .map(|m| RemoteManifest {
                media_type: m.media_type,
                digest: m.digest,
                raw: m.bytes,
                platform_json: m
                    .platform
                    .map(|p| p.to_string().into_bytes())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(InspectManifestResponse {
            reference: reference.to_string(),
            manifests,
        }))
    }

    #[instrument(skip_all, fields(repository = %request.get_ref().reference))]
    async fn list_tags(
        &self,
        request: Request<ListTagsRequest>,
    ) -> Result<Response<ListTagsResponse>, Status> {
        let request = request.into_inner();
        let reference = Reference::parse(&request.reference).map_err(|e| invalid(e.to_string()))?;
        let options = PullOptions {
            platform: Platform::host(),
            credentials: credentials(request.auth),
            config: self.daemon.config.registries.clone(),
        };
        let tags = registry::inspect::list_tags(&reference, &options)
            .await
            .map_err(from_registry)?;
        Ok(Response::new(ListTagsResponse { tags }))
    }

    type ExportRootfsStream = ResponseStream<DataChunk>;

    #[instrument(skip_all, fields(image = %request.get_ref().reference))]
    async fn export_rootfs(
        &self,
        request: Request<ImageRef>,
    ) -> Result<Response<Self::ExportRootfsStream>, Status> {
        let images = &self.daemon.images;
        let image = images
            .resolve(&request.get_ref().reference)
            .map_err(from_image)?;
        let state = images.state_of(&image).map_err(from_image)?;
        let target = self
            .daemon
            .config
            .builds_dir()
            .join(format!("export-{}", hoist_runtime::fsutil::random_hex(6)));
        let view = mount_read_only(target, &images.layer_dirs(&state))?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let errors = tx.clone();
            let writer = ChannelWriter::new(tx, |data| DataChunk { data });
            if let Err(e) = write_root(view.root(), writer).and_then(|mut w| w.flush()) {
                let _ = errors.blocking_send(Err(internal(format!(
                    "cannot export the image's files: {e}"
                ))));
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    type BuildStream = ResponseStream<ProgressMessage>;

    #[instrument(skip_all)]
    async fn build(
        &self,
        request: Request<Streaming<BuildRequest>>,
    ) -> Result<Response<Self::BuildStream>, Status> {
        let mut input = request.into_inner();
        let open = match input.message().await? {
            Some(BuildRequest {
                kind: Some(build_request::Kind::Open(open)),
            }) => open,
            _ => return Err(invalid("a build stream must start with BuildOpen")),
        };
        let tags = open
            .tags
            .iter()
            .map(|t| Reference::parse(t).map_err(|e| invalid(format!("invalid tag {t:?}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        check_build_platform(&open.platform)?;
        for entry in &open.extra_hosts {
            crate::containers::create::check_extra_host(entry)?;
        }
        let context = self
            .daemon
            .config
            .builds_dir()
            .join(hoist_runtime::fsutil::random_hex(8));
        std::fs::create_dir_all(&context)
            .map_err(|e| internal(format!("cannot make a build directory: {e}")))?;
        for name in open.context_dirs.iter().chain(open.context_images.keys()) {
            if !crate::containers::create::valid_name(name) {
                return Err(invalid(format!(
                    "invalid build context name {name:?}: use letters, digits, _ . -"
                )));
            }
        }
        let named_root = context.with_extension("named");
        let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
        let feeder = tokio::spawn(feed_contexts(
            input,
            chunks_tx,
            named_root.clone(),
            open.context_dirs.clone(),
        ));
        let unpack_into = context.clone();
        let unpacked =
            blocking(move || unpack_context(chunks_rx, &unpack_into, "the build context")).await;
        let named = match unpacked {
            Ok(()) => feeder
                .await
                .map_err(|e| internal(e.to_string()))
                .and_then(|r| r),
            Err(e) => {
                feeder.abort();
                Err(e)
            }
        };
        let named = match named {
            Ok(named) => named,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&context);
                let _ = std::fs::remove_dir_all(&named_root);
                return Err(e);
            }
        };
        let mut contexts: std::collections::BTreeMap<String, NamedContext> = named
            .into_iter()
            .map(|(name, dir)| (name, NamedContext::Dir(dir)))
            .collect();
        contexts.extend(
            open.context_images
                .into_iter()
                .map(|(name, image)| (name, NamedContext::Image(image))),
        );
        let names: Vec<String> = tags.iter().map(Reference::familiar).collect();
        let options = BuildOptions {
            dockerfile_name: open.dockerfile_name,
            dockerfile: open.dockerfile,
            context: context.clone(),
            tags,
            build_args: open.build_args.into_iter().collect(),
            target: Some(open.target).filter(|t| !t.is_empty()),
            no_cache: open.no_cache,
            pull: open.pull,
            credentials: open
                .auths
                .into_iter()
                .filter_map(|(host, auth)| credentials(Some(auth)).map(|c| (host, c)))
                .collect(),
            secrets: open.secrets.into_iter().collect(),
            labels: open.labels.into_iter().collect(),
            network: build_network(&open.network)?,
            extra_hosts: open.extra_hosts,
            shm_size: open.shm_size,
            allow_insecure: open.allow_insecure,
            ulimits: open
                .ulimits
                .iter()
                .map(|u| hoist_api::spec::Ulimit::parse(u).map_err(invalid))
                .collect::<Result<_, _>>()?,
            ssh: agents(open.ssh)?,
            contexts,
        };
        let daemon = self.daemon.clone();
        Ok(Response::new(progress_stream(move |events| async move {
            // A failed build exits 1, as docker build does, whatever failed.
            let built = daemon
                .build(options, events)
                .await
                .map_err(|status| Status::unknown(status.message().to_string()));
            let _ = tokio::fs::remove_dir_all(&context).await;
            let _ = tokio::fs::remove_dir_all(&named_root).await;
            if let Ok(id) = &built {
                for name in &names {
                    daemon.image_event("tag", id, name);
                }
            }
            built
        })))
    }

    #[instrument(skip_all)]
    async fn prune_build_cache(
        &self,
        request: Request<PruneBuildCacheRequest>,
    ) -> Result<Response<PruneResponse>, Status> {
        let request = request.into_inner();
        let filters =
            Filters::parse(&request.filters, "builder prune", &["until"]).map_err(from_filter)?;
        let select = CachePrune {
            unused_since: filters
                .time("until", chrono::Utc::now())
                .map_err(from_filter)?
                .map(|t| t.timestamp()),
            keep_bytes: (request.keep_storage > 0).then_some(request.keep_storage),
        };
        let daemon = self.daemon.clone();
        let (deleted, space_reclaimed) =
            blocking(move || daemon.images.prune_build_cache(&select).map_err(from_image)).await?;
        Ok(Response::new(PruneResponse {
            deleted,
            space_reclaimed,
        }))
    }

    #[instrument(skip_all, fields(server = %request.get_ref().server))]
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let credentials = credentials(request.auth)
            .ok_or_else(|| invalid("login needs a username and a password"))?;
        let server = if request.server.is_empty() {
            hoist_runtime::image::reference::DEFAULT_DOMAIN
        } else {
            request.server.as_str()
        };
        RegistryClient::login(&self.daemon.config.registries, server, &credentials)
            .await
            .map_err(from_registry)?;
        Ok(Response::new(Empty {}))
    }

    #[instrument(skip_all)]
    async fn load(
        &self,
        request: Request<Streaming<DataChunk>>,
    ) -> Result<Response<LoadResponse>, Status> {
        let mut input = request.into_inner();
        let (chunks_tx, chunks_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
        let feeder = tokio::spawn(async move {
            while let Ok(Some(chunk)) = input.message().await {
                if chunks_tx.send(chunk.data).await.is_err() {
                    break;
                }
            }
        });
        let daemon = self.daemon.clone();
        let loaded = blocking(move || {
            archive::load(&daemon.images, ChannelReader::new(chunks_rx)).map_err(from_image)
        })
        .await;
        feeder.abort();
        let loaded = loaded?;
        let mut ids: Vec<String> = Vec::new();
        for line in &loaded {
            let name = line
                .strip_prefix("Loaded image ID: ")
                .or_else(|| line.strip_prefix("Loaded image: "));
            if let Some(image) = name.and_then(|n| self.daemon.images.resolve(n).ok())
                && !ids.contains(&image.id)
            {
                self.daemon.image_event("load", &image.id, &image.id);
                ids.push(image.id);
            }
        }
        Ok(Response::new(LoadResponse { loaded }))
    }

    #[instrument(skip_all)]
    async fn prune(
        &self,
        request: Request<PruneImagesRequest>,
    ) -> Result<Response<PruneResponse>, Status> {
        let request = request.into_inner();
        let filter = ImageFilter::for_prune(&request.filters, request.all, chrono::Utc::now())
            .map_err(from_filter)?;
        let users = self.users().await;
        let daemon = self.daemon.clone();
        let (deleted, space_reclaimed) = blocking(move || {
            daemon
                .images
                .prune(|image| !users.contains_key(&image.id) && filter.selects(image))
                .map_err(from_image)
        })
        .await?;
        for id in &deleted {
            self.daemon.image_event("delete", id, id);
        }
        self.daemon.prune_event(EventType::Image, space_reclaimed);
        Ok(Response::new(PruneResponse {
            deleted,
            space_reclaimed,
        }))
    }
}

/// Unpacks a build context's tar, read from `chunks`, into `dir`.
fn unpack_context(
    chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
    dir: &std::path::Path,
    what: &str,
) -> Result<(), Status> {
    let mut archive = tar::Archive::new(ChannelReader::new(chunks));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive
        .unpack(dir)
        .map_err(|e| invalid(format!("{what} is not a valid tar: {e}")))
}

/// Routes a build stream's tars: the main context's chunks to `main`, then
/// each named local context (`expected`, in order) into a directory of its
/// own under `named_root`. Returns the named contexts' directories once the
/// stream has ended and all are unpacked.
async fn feed_contexts(
    mut input: Streaming<BuildRequest>,
    main: tokio::sync::mpsc::Sender<Vec<u8>>,
    named_root: std::path::PathBuf,
    expected: Vec<String>,
) -> Result<Vec<(String, std::path::PathBuf)>, Status> {
    let mut main = Some(main);
    let mut current: Option<(String, tokio::sync::mpsc::Sender<Vec<u8>>)> = None;
    let mut unpacking = Vec::new();
    while let Some(message) = input.message().await? {
        let (name, data) = match message.kind {
            Some(build_request::Kind::Context(data)) => {
                if let Some(main) = &main
                    && main.send(data).await.is_err()
                {
                    break;
                }
                continue;
            }
            Some(build_request::Kind::NamedContext(chunk)) => (chunk.name, chunk.data),
            _ => continue,
        };
        // The main context has ended; so has a named one when the next begins.
        main = None;
        if current.as_ref().is_none_or(|(open, _)| *open != name) {
            if !expected.contains(&name) || unpacking.iter().any(|(n, _, _)| *n == name) {
                return Err(invalid(format!(
                    "unexpected build context {name:?} in the stream"
                )));
            }
            let dir = named_root.join(&name);
            std::fs::create_dir_all(&dir)
                .map_err(|e| internal(format!("cannot make {}: {e}", dir.display())))?;
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
            let into = dir.clone();
            let what = format!("build context {name}");
            let task = tokio::task::spawn_blocking(move || unpack_context(rx, &into, &what));
            unpacking.push((name.clone(), dir, task));
            current = Some((name, tx));
        }
        if let Some((_, tx)) = &current
            && tx.send(data).await.is_err()
        {
            break;
        }
    }
    drop(main);
    drop(current);
    let mut named = Vec::new();
    for (name, dir, task) in unpacking {
        task.await.map_err(|e| internal(e.to_string()))??;
        named.push((name, dir));
    }
    if let Some(missing) = expected
        .iter()
        .find(|n| !named.iter().any(|(m, _)| m == *n))
    {
        return Err(invalid(format!("build context {missing} was not sent")));
    }
    Ok(named)
}

/// `build --ssh`: each agent's socket, which must be one on this host.
fn agents(
    given: HashMap<String, String>,
) -> Result<std::collections::BTreeMap<String, std::path::PathBuf>, Status> {
    use std::os::unix::fs::FileTypeExt;
    given
        .into_iter()
        .map(|(id, path)| {
            let is_socket = std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket());
            if !is_socket {
                return Err(invalid(format!(
                    "--ssh {id}={path}: no SSH agent socket there on the daemon's host (hoist relays an agent to a local daemon only)"
                )));
            }
            Ok((id, std::path::PathBuf::from(path)))
        })
        .collect()
}

/// `build --network`: the network of RUN steps that do not name one.
fn build_network(network: &str) -> Result<RunNetwork, Status> {
    match network {
        "" | "default" => Ok(RunNetwork::Default),
        "none" => Ok(RunNetwork::None),
        "host" => Ok(RunNetwork::Host),
        other => Err(invalid(format!(
            "invalid --network {other:?} for a build: use default, none or host"
        ))),
    }
}

/// `build --platform`: hoist builds for the host's platform only (it runs
/// RUN steps natively, without emulation).
fn check_build_platform(platform: &str) -> Result<(), Status> {
    if platform.is_empty() {
        return Ok(());
    }
    let host = Platform::host();
    let asked = Platform::parse(platform)
        .map_err(|e| invalid(format!("invalid --platform {platform:?}: {e}")))?;
    let variant_differs = matches!((&asked.variant, &host.variant), (Some(a), Some(h)) if a != h);
    if asked.os != host.os || asked.architecture != host.architecture || variant_differs {
        return Err(invalid(format!(
            "cannot build for {platform}: hoist builds for this host's platform ({}/{}) only, running each RUN step natively",
            host.os, host.architecture
        )));
    }
    Ok(())
}
