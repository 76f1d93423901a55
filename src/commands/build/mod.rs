//! `hoist build`: reads the Dockerfile and walks the context here (with
//! `.dockerignore`), as the Docker CLI does, and streams both to the
//! daemon, which runs the build.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::{
    BuildOpen, BuildRequest, ImageRef, NamedContextChunk, RemoveImageRequest, build_request,
};
use hoist_runtime::image::Reference;
use hoist_runtime::image::build::{BuildContext, DEFAULT_DOCKERFILE, read_dockerfile};
use hoist_runtime::image::dockerfile;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::commands::files::{ChunkReader, tar_destination, unpack_root};
use crate::commands::registry::{auth_for, push_image};
use crate::exit::{CliError, CliResult};
use crate::progress::follow;

mod flags;
mod remote;
mod supplied;

pub use flags::{
    NamedContext, build_args, checked_ulimits, named_contexts, secrets, shm_size, ssh_agents,
};
use flags::{Output, allows_insecure, labels, output};
use supplied::Supplied;

/// Size of the chunks the context is streamed in.
const CHUNK: usize = 1024 * 1024;

/// Build an image from a Dockerfile
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=mysecret,env=VARIABLE")
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Additional build contexts (e.g., name=path or name=docker-image://ref)
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// SSH agent socket to expose to the build (format: "default|<id>[=<socket>]"; default: $SSH_AUTH_SOCK)
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set the networking mode for the RUN instructions during build (default, none, host)
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Add a custom host-to-IP mapping (format: "host:ip")
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Allow extra privileged entitlement (security.insecure; network.host, which hoist always grants)
    #[arg(long = "allow")]
    pub allow: Vec<String>,
    /// Shared memory size for RUN instructions (format: <number>[<unit>])
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Ulimit options for RUN instructions (name=soft[:hard])
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Set target platform for build (this host's only: RUN steps run natively)
    #[arg(long)]
    pub platform: Option<String>,
    /// Write the image ID to a file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Output destination (format: "type=local,dest=path", "type=tar,dest=file" or "-"; a path alone means type=local)
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// Set type of progress output (auto, plain, tty, quiet)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Push the image (each --tag) to its registry after the build
    #[arg(long)]
    pub push: bool,
    /// Load the image into the local image store (always so: the builder is the daemon)
    #[arg(long)]
    pub load: bool,
    /// External cache sources (ignored, with a warning: hoist's build cache is the daemon's own)
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Cache export destinations (ignored, with a warning: hoist's build cache is the daemon's own)
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// The build context: a directory, - (standard input), a Git repository
    /// (URL[#REF][:DIR]) or an HTTP(S) URL of a tarball or a Dockerfile
    pub path: PathBuf,
}

/// Writes into a channel in chunks (for a blocking tar writer): the main
/// context's, or (`name`) a named context's.
struct ChunkSender {
    tx: mpsc::Sender<BuildRequest>,
    name: Option<String>,
    buffer: Vec<u8>,
}

impl ChunkSender {
    fn new(tx: mpsc::Sender<BuildRequest>, name: Option<String>) -> Self {
        Self {
            tx,
            name,
            buffer: Vec::with_capacity(CHUNK),
        }
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buffer);
        let kind = match &self.name {
            None => build_request::Kind::Context(chunk),
            Some(name) => build_request::Kind::NamedContext(NamedContextChunk {
                name: name.clone(),
                data: chunk,
            }),
        };
        self.tx
            .blocking_send(BuildRequest { kind: Some(kind) })
            .map_err(|_| std::io::Error::other("the daemon stopped reading the build context"))
    }
}

/// One image build: what `hoist build` and `hoist compose build` ask the
/// daemon for.
#[derive(Debug, Clone, Default)]
pub struct BuildJob {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile (default: `Dockerfile` in the context).
    pub dockerfile: Option<PathBuf>,
    /// The Dockerfile's text, read from standard input (`-f -`, or `-` as
    /// the context): `dockerfile` is then not read.
    pub dockerfile_text: Option<String>,
    /// The names the image gets.
    pub tags: Vec<String>,
    /// `ARG` values.
    pub build_args: BTreeMap<String, String>,
    /// The stage to stop at.
    pub target: Option<String>,
    /// Build every step again.
    pub no_cache: bool,
    /// Pull base images even when present.
    pub pull: bool,
    /// `--secret` values by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--ssh` agents' sockets by id.
    pub ssh: BTreeMap<String, String>,
    /// `--build-context` named contexts.
    pub contexts: BTreeMap<String, NamedContext>,
    /// `--label`s of the image.
    pub labels: BTreeMap<String, String>,
    /// The network of RUN steps (`default`, `none`, `host`).
    pub network: String,
    /// `--add-host` entries for RUN steps.
    pub extra_hosts: Vec<String>,
    /// `--shm-size` of RUN steps in bytes (0: the default).
    pub shm_size: u64,
    /// `--ulimit`s of RUN steps (`name=soft[:hard]`, checked).
    pub ulimits: Vec<String>,
    /// `--allow security.insecure`.
    pub allow_insecure: bool,
    /// `--platform` (the host's, or empty).
    pub platform: String,
}

/// `hoist build`.
pub async fn build(channel: Channel, args: BuildArgs) -> CliResult<i32> {
    let quiet = match args.progress.as_str() {
        "auto" | "plain" | "tty" => args.quiet,
        "quiet" => true,
        other => {
            return Err(CliError::usage(format!(
                "invalid --progress {other:?}: use auto, plain, tty or quiet"
            )));
        }
    };
    let output = args.output.as_deref().map(output).transpose()?.flatten();
    if args.push && args.tags.is_empty() {
        return Err(CliError::usage(
            "--push needs a name to push to: give one with -t",
        ));
    }
    for flag in args
        .cache_from
        .iter()
        .map(|_| "--cache-from")
        .chain(args.cache_to.iter().map(|_| "--cache-to"))
    {
        eprintln!("WARNING: {flag} is ignored: hoist keeps its build cache in the daemon");
    }
    let supplied = Supplied::read_stdin(&args)?;
    let job = BuildJob {
        context: supplied
            .context_dir()
            .map_or_else(|| args.path.clone(), Path::to_path_buf),
        dockerfile: inside(supplied.context_dir(), args.file.clone()),
        dockerfile_text: supplied.dockerfile,
        tags: args.tags.clone(),
        build_args: build_args(&args.build_args)?,
        secrets: secrets(&args.secrets)?,
        ssh: ssh_agents(&args.ssh)?,
        contexts: named_contexts(&args.build_contexts)?,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels: labels(&args.labels),
        network: args.network.clone(),
        extra_hosts: args.add_hosts.clone(),
        shm_size: shm_size(args.shm_size.as_deref())?,
        ulimits: checked_ulimits(&args.ulimits)?,
        allow_insecure: allows_insecure(&args.allow)?,
        platform: args.platform.clone().unwrap_or_default(),
    };
    let lines = run_build(channel.clone(), job, quiet, false).await?;
    let id = built_id(&lines);
    if let Some(path) = &args.iidfile {
        std::fs::write(path, id).map_err(|e| {
            CliError::client(format!(
                "cannot write the image ID to {}: {e}",
                path.display()
            ))
        })?;
    }
    if let Some(output) = &output {
        export_files(channel.clone(), id, output).await?;
        if args.tags.is_empty() {
            // Only the files were asked for: the image does not stay.
            let _ = ImagesClient::new(channel.clone())
                .remove(RemoveImageRequest {
                    reference: id.to_string(),
                    ..Default::default()
                })
                .await;
        }
    } else if quiet {
        println!("{id}");
    }
    if args.push {
        for tag in &args.tags {
            push_image(channel.clone(), tag, quiet, quiet).await?;
        }
    }
    Ok(0)
}

/// Fetches the files of image `id` to `output`.
async fn export_files(channel: Channel, id: &str, output: &Output) -> CliResult {
    let mut stream = ImagesClient::new(channel)
        .export_rootfs(ImageRef {
            reference: id.to_string(),
        })
        .await?
        .into_inner();
    match output {
        Output::Tar(path) => {
            let mut out = tar_destination(path.as_deref())?;
            while let Some(chunk) = stream.message().await? {
                out.write_all(&chunk.data)?;
            }
            out.flush()?;
        }
        Output::Local(dir) => {
            let (tx, reader) = ChunkReader::channel();
            let dir = dir.clone();
            let unpacker = std::thread::spawn(move || unpack_root(reader, &dir));
            while let Some(chunk) = stream.message().await? {
                if tx.send(chunk.data).is_err() {
                    break;
                }
            }
            drop(tx);
            unpacker
                .join()
                .map_err(|_| CliError::client("unpacking the build's files failed"))??;
        }
    }
    Ok(())
}

/// The image ID a build reported (`#N writing image sha256:… done`).
fn built_id(lines: &[String]) -> &str {
    lines
        .iter()
        .find_map(|l| l.split_once(" writing image ").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
}

/// `-f` of a context the CLI fetched or unpacked: a relative path is
/// inside it, as Docker reads it (`-` and absolute paths stay).
fn inside(context: Option<&Path>, dockerfile: Option<PathBuf>) -> Option<PathBuf> {
    match (context, dockerfile) {
        (Some(context), Some(file)) if file.is_relative() && file != Path::new("-") => {
            Some(context.join(file))
        }
        (_, dockerfile) => dockerfile,
    }
}

/// Sends a build to the daemon (the Dockerfile, then the context as a
/// tar stream) and shows its steps (unless `quiet`; on stderr when
/// `to_stderr`). Returns the lines about the whole build.
pub async fn run_build(
    channel: Channel,
    mut job: BuildJob,
    quiet: bool,
    to_stderr: bool,
) -> CliResult<Vec<String>> {
    // Remote contexts are fetched here, and kept until the build is sent.
    let mut fetched = Vec::new();
    if let Some(supplied) = Supplied::fetch(&job.context).await? {
        job.dockerfile = inside(supplied.context_dir(), job.dockerfile);
        job.dockerfile_text = job.dockerfile_text.or(supplied.dockerfile.clone());
        if let Some(dir) = supplied.context_dir() {
            job.context = dir.to_path_buf();
        }
        fetched.push(supplied);
    }
    for (name, context) in job.contexts.iter_mut() {
        if let NamedContext::Remote(location) = context {
            let supplied = Supplied::fetch(Path::new(location.as_str()))
                .await?
                .filter(|s| s.dockerfile.is_none())
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "build context {name}: {location} is no context (a Git repository or a tarball)"
                    ))
                })?;
            if let Some(dir) = supplied.context_dir() {
                *context = NamedContext::Dir(dir.to_path_buf());
            }
            fetched.push(supplied);
        }
    }
    let (name, text, context) = match job.dockerfile_text {
        Some(text) => (
            DEFAULT_DOCKERFILE.to_string(),
            text,
            BuildContext::open_without_dockerfile(&job.context),
        ),
        None => {
            let (name, text) = read_dockerfile(&job.context, job.dockerfile.as_deref())
                .map_err(|e| CliError::usage(e.to_string()))?;
            let context = BuildContext::open(&job.context, job.dockerfile.as_deref());
            (name, text, context)
        }
    };
    let context = context.map_err(|e| CliError::usage(e.to_string()))?;
    let local_contexts = job
        .contexts
        .iter()
        .filter_map(|(name, context)| match context {
            NamedContext::Dir(dir) => Some((name, dir)),
            NamedContext::Image(_) | NamedContext::Remote(_) => None,
        })
        .map(|(name, dir)| {
            BuildContext::open_without_dockerfile(dir)
                .map(|walked| (name.clone(), walked))
                .map_err(|e| CliError::usage(format!("build context {name}: {e}")))
        })
        .collect::<CliResult<Vec<_>>>()?;
    for tag in &job.tags {
        Reference::parse(tag).map_err(|e| CliError::usage(format!("invalid tag {tag:?}: {e}")))?;
    }
    // Credentials for the registries of the base images the file names.
    let auths = dockerfile::parse(&name, &text)
        .map(|parsed| {
            parsed
                .stages
                .iter()
                .filter_map(|stage| Reference::parse(&stage.base).ok())
                .filter_map(|r| auth_for(&r.domain).map(|auth| (r.domain, auth)))
                .collect()
        })
        .unwrap_or_default();
    let open = BuildOpen {
        dockerfile_name: name,
        dockerfile: text,
        tags: job.tags,
        build_args: job.build_args.into_iter().collect(),
        target: job.target.unwrap_or_default(),
        no_cache: job.no_cache,
        pull: job.pull,
        auths,
        secrets: job.secrets.into_iter().collect(),
        labels: job.labels.into_iter().collect(),
        network: job.network,
        extra_hosts: job.extra_hosts,
        shm_size: job.shm_size,
        ulimits: job.ulimits,
        allow_insecure: job.allow_insecure,
        platform: job.platform,
        ssh: job.ssh.into_iter().collect(),
        context_images: job
            .contexts
            .iter()
            .filter_map(|(name, context)| match context {
                NamedContext::Image(image) => Some((name.clone(), image.clone())),
                NamedContext::Dir(_) | NamedContext::Remote(_) => None,
            })
            .collect(),
        context_dirs: local_contexts
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
    };
    let (tx, rx) = mpsc::channel(8);
    let _ = tx
        .send(BuildRequest {
            kind: Some(build_request::Kind::Open(open)),
        })
        .await;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = context
            .write_tar(ChunkSender::new(tx.clone(), None))
            .map_err(std::io::Error::other)?;
        out.flush()?;
        for (name, context) in local_contexts {
            let mut out = context
                .write_tar(ChunkSender::new(tx.clone(), Some(name)))
                .map_err(std::io::Error::other)?;
            out.flush()?;
        }
        Ok(())
    });
    let stream = ImagesClient::new(channel)
        .build(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let lines = follow(stream, quiet, to_stderr).await?;
    if let Ok(Err(e)) = sender.join() {
        return Err(CliError::client(format!(
            "cannot send the build context: {e}"
        )));
    }
    Ok(lines)
}

/// Manage builds
#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

/// Remove build cache
#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache (the whole cache: hoist keeps no other kind)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values ("until=24h": entries last used before then)
    #[arg(long)]
    pub filter: Vec<String>,
    /// Keep the most recently used cache within this size (e.g. 10GB)
    #[arg(long, visible_alias = "reserved-space", value_parser = parse_storage)]
    pub keep_storage: Option<u64>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `--keep-storage`: bytes, with Docker's units.
fn parse_storage(value: &str) -> Result<u64, String> {
    hoist_api::units::parse_bytes(value).map(|bytes| bytes.max(0) as u64)
}

/// `hoist builder prune`.
pub async fn builder(channel: Channel, command: BuilderCommand) -> CliResult<i32> {
    let BuilderCommand::Prune(args) = command;
    let warning = if args.all {
        "This will remove all build cache."
    } else {
        "This will remove all dangling build cache."
    };
    super::prune::confirm(args.force, warning, "builder prune")?;
    let response = ImagesClient::new(channel)
        .prune_build_cache(hoist_api::proto::PruneBuildCacheRequest {
            filters: args.filter,
            keep_storage: args.keep_storage.unwrap_or(0),
        })
        .await?
        .into_inner();
    super::prune::report(
        "build cache objects",
        response
            .deleted
            .iter()
            .map(|key| key.trim_start_matches("sha256:").to_string()),
        Some(response.space_reclaimed),
    );
    Ok(0)
}
