//! `hoist build`: runs a Dockerfile's stages, up to the target, against a
//! build context the client sent, with a content-addressed cache.
//!
//! Each step's cache key chains the previous key with the expanded
//! instruction (and, for COPY/ADD, the hash of the files it copies; for
//! RUN, the build arguments in scope), so an unchanged step is found in
//! the cache and reported `CACHED`. Steps that make a layer (RUN, COPY,
//! ADD) and each stage's end are cached; config-only instructions are
//! folded into the next cached state. Progress is printed as BuildKit's
//! plain output: `#N [stage k/n] INSTRUCTION`, then `#N CACHED` or the
//! step's output and `#N DONE 0.3s`. `COPY --from` reads an earlier
//! stage's (or an image's) layers through a read-only overlay.

mod copy;
mod metadata;
mod mounts;
mod run;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hoist_runtime::fsutil::copy_tree_where;
use hoist_runtime::image::Reference;
use hoist_runtime::image::build::remote::{self, download, is_url};
use hoist_runtime::image::build::{IgnoreRules, MatchedSource, content_hash, resolve_sources};
use hoist_runtime::image::build_cache::BuildState;
use hoist_runtime::image::config::{History, host_architecture};
use hoist_runtime::image::dockerfile::{
    self, BaseImage, CacheSharing, Dockerfile, Instruction, Located, Run, RunMount,
};
use hoist_runtime::image::layer::{is_overlay_whiteout, sha256_digest};
use hoist_runtime::image::registry::progress::Events;
use hoist_runtime::image::registry::{self, Credentials, ProgressEvent, PullOptions};
use hoist_runtime::image::store::now_rfc3339;
use tokio::sync::mpsc;
use tonic::Status;

use crate::containers::rootfs::{RootView, mount_read_only};
use crate::daemon::Daemon;
use crate::error::{from_image, from_registry, internal, invalid};
use copy::{Overrides, id_in, write_copy_layer};
use metadata::resolve_path;
use mounts::{Scratch, StepMounts, clean_absolute, mount_points, scratch};
use run::{RunFailure, RunStep, run_step};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The Dockerfile's display name (for messages).
    pub dockerfile_name: String,
    /// Its text.
    pub dockerfile: String,
    /// The unpacked build context.
    pub context: PathBuf,
    /// `-t`: references to tag the result with.
    pub tags: Vec<Reference>,
    /// `--build-arg`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--pull`: fetch base images even when present.
    pub pull: bool,
    /// Credentials by registry, for base images.
    pub credentials: BTreeMap<String, Credentials>,
    /// `--secret`: values by id, for `RUN --mount=type=secret`.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--label`: labels of the built image.
    pub labels: BTreeMap<String, String>,
    /// `--network`: the network of RUN steps that do not name one.
    pub network: dockerfile::RunNetwork,
    /// `--add-host`: `HOST:IP` entries for RUN steps.
    pub extra_hosts: Vec<String>,
    /// `--shm-size` of RUN steps (0: Docker's 64 MiB).
    pub shm_size: u64,
    /// `--ulimit`s of RUN steps.
    pub ulimits: Vec<hoist_api::spec::Ulimit>,
    /// `--allow security.insecure`: `RUN --security=insecure` may run
    /// privileged.
    pub allow_insecure: bool,
    /// `--ssh`: SSH agents' sockets on this host by id, for
    /// `RUN --mount=type=ssh`.
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--build-context`: named contexts, which `FROM`, `COPY --from` and
    /// `RUN --mount=from=` may name.
    pub contexts: BTreeMap<String, NamedContext>,
}

/// A named build context.
#[derive(Debug, Clone)]
pub enum NamedContext {
    /// A local directory the client sent, unpacked here.
    Dir(PathBuf),
    /// An image reference, standing for the name.
    Image(String),
}

/// The cache key after `previous` and `parts`.
fn chain(previous: &str, parts: &[&str]) -> String {
    let mut text = previous.to_string();
    for part in parts {
        text.push('\0');
        text.push_str(part);
    }
    sha256_digest(text.as_bytes())
}

/// RUN, COPY and ADD: the steps that make a layer (and are shown).
fn is_layer_step(instruction: &Instruction) -> bool {
    matches!(
        instruction,
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_)
    )
}

/// One stage's progress through its instructions.
struct StageRun {
    state: BuildState,
    key: String,
    /// ARG values declared in this stage.
    args: BTreeMap<String, String>,
    cmd_set_here: bool,
}

impl StageRun {
    /// A name's value for expansion: ENV first, then ARG (as Docker).
    fn lookup(&self, name: &str) -> Option<String> {
        self.state
            .config
            .config
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
            .or_else(|| self.args.get(name).cloned())
    }
}

/// A build in progress.
struct Builder<'a> {
    daemon: &'a Arc<Daemon>,
    options: &'a BuildOptions,
    dockerfile: Dockerfile,
    out: Events,
    /// BuildKit's step numbers (`#N`).
    step: usize,
    /// Each built stage's final state and key.
    stages: Vec<(BuildState, String)>,
}

impl Daemon {
    /// Builds `options`, reporting on `events`; returns the image ID.
    #[tracing::instrument(skip_all, fields(dockerfile = %options.dockerfile_name))]
    pub async fn build(
        self: &Arc<Self>,
        options: BuildOptions,
        events: mpsc::UnboundedSender<ProgressEvent>,
    ) -> Result<String, Status> {
        let dockerfile = dockerfile::parse(&options.dockerfile_name, &options.dockerfile)
            .map_err(|e| invalid(e.to_string()))?;
        let mut builder = Builder {
            daemon: self,
            options: &options,
            dockerfile,
            out: Events(events),
            step: 0,
            stages: Vec::new(),
        };
        let built = builder.build().await;
        if let Err(e) = self.images.save_cache_use() {
            tracing::warn!("cannot write down when the build cache was used: {e}");
        }
        built
    }
}

impl Builder<'_> {
    fn next_step(&mut self) -> usize {
        self.step += 1;
        self.step
    }

    fn located(&self, at: &Located<Instruction>, message: impl Into<String>) -> Status {
        invalid(
            self.dockerfile
                .error(at.line, at.value.keyword(), message)
                .to_string(),
        )
    }

    async fn build(&mut self) -> Result<String, Status> {
        let started = Instant::now();
        let predefined = BTreeMap::from([
            ("TARGETOS".to_string(), "linux".to_string()),
            ("TARGETARCH".to_string(), host_architecture().to_string()),
            (
                "TARGETPLATFORM".to_string(),
                format!("linux/{}", host_architecture()),
            ),
            (
                "BUILDPLATFORM".to_string(),
                format!("linux/{}", host_architecture()),
            ),
        ]);
        let globals = self
            .dockerfile
            .global_arg_values(predefined, &self.options.build_args)
            .map_err(|e| invalid(e.to_string()))?;
        let target = self
            .dockerfile
            .target(self.options.target.as_deref())
            .map_err(|e| invalid(e.to_string()))?;
        for index in 0..=target {
            let built = self.build_stage(index, &globals).await?;
            self.stages.push(built);
        }
        let step = self.next_step();
        let mut state = self.stages[target].0.clone();
        state
            .config
            .config
            .labels
            .extend(self.options.labels.clone());
        self.out.status(format!("#{step} exporting to image"));
        let id = self
            .daemon
            .images
            .record_state(&state, self.options.tags.first())
            .map_err(from_image)?;
        for tag in self.options.tags.iter().skip(1) {
            self.daemon
                .images
                .tag(&id, &tag.to_string())
                .map_err(from_image)?;
        }
        self.out.status(format!("#{step} writing image {id} done"));
        for tag in &self.options.tags {
            self.out.status(format!("#{step} naming to {tag} done"));
        }
        self.out.status(format!(
            "#{step} DONE {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        Ok(id)
    }

    /// Label of a stage's steps: `[name k/n]`, or `[k/n]` for a single
    /// unnamed stage.
    fn label(&self, index: usize, k: usize, n: usize) -> String {
        let stage = &self.dockerfile.stages[index];
        match &stage.name {
            Some(name) => format!("[{name} {k}/{n}]"),
            None if self.dockerfile.stages.len() > 1 => format!("[stage-{index} {k}/{n}]"),
            None => format!("[{k}/{n}]"),
        }
    }

    async fn build_stage(
        &mut self,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<(BuildState, String), Status> {
        let stage = self.dockerfile.stages[index].clone();
        let shown = 1 + stage
            .instructions
            .iter()
            .filter(|i| is_layer_step(&i.value))
            .count();
        let base = self
            .dockerfile
            .resolve_base(index, globals)
            .map_err(|e| invalid(e.to_string()))?;
        // A named context stands for the image of the same name; a
        // directory context is a stage of its files.
        let mut from_dir = None;
        let base = match base {
            BaseImage::Image(name) => match self.options.contexts.get(&name) {
                Some(NamedContext::Image(image)) => BaseImage::Image(image.clone()),
                Some(NamedContext::Dir(dir)) => {
                    from_dir = Some((name, dir.clone()));
                    BaseImage::Scratch
                }
                None => BaseImage::Image(name),
            },
            other => other,
        };
        let step = self.next_step();
        let started = Instant::now();
        // The base image's reference, parsed once (its errors point at FROM).
        let image = match &base {
            BaseImage::Image(name) => Some(Reference::parse(name).map_err(|e| {
                invalid(
                    self.dockerfile
                        .error(stage.line, "FROM", e.to_string())
                        .to_string(),
                )
            })?),
            BaseImage::Scratch | BaseImage::Stage(_) => None,
        };
        let from = match (&base, &image) {
            (BaseImage::Stage(i), _) => self.dockerfile.stages[*i]
                .name
                .clone()
                .unwrap_or_else(|| i.to_string()),
            (_, Some(reference)) => reference.to_string(),
            _ => match &from_dir {
                Some((name, _)) => format!("context {name}"),
                None => "scratch".to_string(),
            },
        };
        self.out.status(format!(
            "#{step} {} FROM {from}",
            self.label(index, 1, shown)
        ));
        let (state, key) = match (base, image) {
            (BaseImage::Stage(i), _) => self.stages[i].clone(),
            (_, Some(reference)) => {
                let image = self.base_image(&reference).await?;
                let state = self.daemon.images.state_of(&image).map_err(from_image)?;
                (state, image.id.clone())
            }
            _ => match &from_dir {
                Some((name, dir)) => self.directory_stage(name, dir)?,
                None => (BuildState::scratch(), "scratch".to_string()),
            },
        };
        self.out.status(format!(
            "#{step} DONE {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        let mut run = StageRun {
            state,
            key,
            args: BTreeMap::new(),
            cmd_set_here: false,
        };
        // The base image's ONBUILD triggers run first, as Docker runs
        // them; the new image does not inherit them. Errors point at FROM.
        let triggers = std::mem::take(&mut run.state.config.config.on_build)
            .iter()
            .map(|expression| {
                dockerfile::parse_trigger(&format!("ONBUILD trigger of {from}"), expression)
                    .map(|mut trigger| {
                        trigger.line = stage.line;
                        trigger
                    })
                    .map_err(|e| invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shown = shown + triggers.iter().filter(|i| is_layer_step(&i.value)).count();
        let mut k = 1;
        for at in triggers.iter().chain(&stage.instructions) {
            self.instruction(&mut run, at, globals, index, &mut k, shown)
                .await?;
        }
        // The stage's end is cached too, so that an unchanged rebuild
        // gives the very same image (same times, same ID).
        let end_key = chain(&run.key, &["END"]);
        let state = match self.cached(&end_key) {
            Some(state) => state,
            None => {
                let mut state = run.state;
                let now = now_rfc3339();
                state.config.created = Some(now.clone());
                for entry in &mut state.config.history {
                    entry.created.get_or_insert_with(|| now.clone());
                }
                self.daemon
                    .images
                    .cache_state(&end_key, &state)
                    .map_err(from_image)?;
                state
            }
        };
        Ok((state, end_key))
    }

    /// Runs one instruction of stage `index`; `k` counts its shown steps.
    async fn instruction(
        &mut self,
        run: &mut StageRun,
        at: &Located<Instruction>,
        globals: &BTreeMap<String, String>,
        index: usize,
        k: &mut usize,
        shown: usize,
    ) -> Result<(), Status> {
        let lookup = |name: &str| run.lookup(name);
        let instruction = self
            .dockerfile
            .expand(at, &lookup)
            .map_err(|e| invalid(e.to_string()))?;
        match &instruction {
            Instruction::Arg(declarations) => {
                for declaration in declarations {
                    let lookup = |name: &str| run.lookup(name);
                    let value = declaration
                        .resolve(
                            &self.options.build_args,
                            globals,
                            &lookup,
                            self.dockerfile.directives.escape,
                        )
                        .map_err(|e| self.located(at, e))?;
                    if let Some(value) = value {
                        run.key = chain(&run.key, &["ARG", &declaration.name, &value]);
                        run.args.insert(declaration.name.clone(), value);
                    }
                }
            }
            Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) => {
                *k += 1;
                let label = self.label(index, *k, shown);
                self.layer_step(run, at, &instruction, label).await?;
            }
            other => {
                let applied =
                    metadata::apply(&mut run.state.config.config, other, run.cmd_set_here)
                        .map_err(|e| self.located(at, e))?;
                if applied.is_some_and(|a| a.set_cmd) {
                    run.cmd_set_here = true;
                }
                if let Instruction::Maintainer(name) = other {
                    run.state.config.author = Some(name.clone());
                }
                run.key = chain(&run.key, &[&format!("{other:?}")]);
                run.state.config.history.push(History {
                    created_by: Some(at.text.clone()),
                    comment: Some("buildkit.dockerfile.v0".into()),
                    empty_layer: true,
                    ..Default::default()
                });
            }
        }
        Ok(())
    }

    /// What the topmost layer of the state that has `path` holds there (a
    /// whiteout included): its place on the host and its metadata.
    fn layer_entry(&self, state: &BuildState, path: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        self.daemon
            .images
            .layer_dirs(state)
            .into_iter()
            .map(|dir| dir.join(path.trim_start_matches('/')))
            .find_map(|file| {
                std::fs::symlink_metadata(&file)
                    .ok()
                    .map(|meta| (file, meta))
            })
    }

    /// A text file of the state's filesystem (`etc/passwd`), read from
    /// the topmost layer that has it; `None` when absent or deleted.
    fn image_file(&self, state: &BuildState, path: &str) -> Option<String> {
        let (file, meta) = self.layer_entry(state, path)?;
        // A whiteout (or anything else) hides lower layers' file.
        meta.is_file()
            .then(|| std::fs::read_to_string(&file).ok())
            .flatten()
    }

    /// Whether `path` is in the state's filesystem.
    fn in_state(&self, state: &BuildState, path: &str) -> bool {
        self.layer_entry(state, path)
            .is_some_and(|(_, meta)| !is_overlay_whiteout(&meta))
    }

    fn cached(&self, key: &str) -> Option<BuildState> {
        if self.options.no_cache {
            return None;
        }
        self.daemon.images.cached_state(key)
    }

    /// The base image of a FROM: local, or pulled (always with `--pull`).
    async fn base_image(
        &self,
        reference: &Reference,
    ) -> Result<hoist_runtime::image::Image, Status> {
        if !self.options.pull
            && let Ok(image) = self.daemon.images.resolve(&reference.to_string())
        {
            return Ok(image);
        }
        let options = PullOptions {
            platform: registry::media::Platform::host(),
            credentials: self.options.credentials.get(&reference.domain).cloned(),
            config: self.daemon.config.registries.clone(),
        };
        let (events, mut progress) = mpsc::unbounded_channel();
        let out = self.out.clone();
        let relay = tokio::spawn(async move {
            while let Some(event) = progress.recv().await {
                if let ProgressEvent::Status(line) = event {
                    out.status(line);
                }
            }
        });
        let pulled = registry::pull(self.daemon.images.clone(), reference, &options, events).await;
        let _ = relay.await;
        pulled.map_err(from_registry)?;
        self.daemon
            .images
            .resolve(&reference.to_string())
            .map_err(from_image)
    }

    /// RUN, COPY or ADD: cached, or run and cached.
    async fn layer_step(
        &mut self,
        run: &mut StageRun,
        at: &Located<Instruction>,
        instruction: &Instruction,
        label: String,
    ) -> Result<(), Status> {
        let step = self.next_step();
        let started = Instant::now();
        self.out.status(format!("#{step} {label} {}", at.text));
        let mut copying = None;
        let mut binding = Vec::new();
        let key = match instruction {
            Instruction::Run(command) => {
                let args: Vec<String> = run.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                // What a bind mount shows is an input of the step, as what
                // COPY copies is.
                let mut hashes = Vec::new();
                for mount in &command.mounts {
                    if let RunMount::Bind { source, from, .. } = mount {
                        let view = self.source_root(at, from.as_deref()).await?;
                        let (host, hash) = self.bind_source(at, &view, source, from.as_deref())?;
                        hashes.push(hash);
                        binding.push((view, host));
                    }
                }
                chain(
                    &run.key,
                    &[
                        &format!("{instruction:?}"),
                        &args.join("\n"),
                        &hashes.join("\n"),
                        &format!("{:?}", self.run_network(command)),
                        &self.options.extra_hosts.join("\n"),
                        &format!("{} {:?}", self.options.shm_size, self.options.ulimits),
                    ],
                )
            }
            Instruction::Add(files) if files.sources.iter().any(|s| is_url(s)) => {
                let (view, matched, downloads) = self.download_sources(at, files).await?;
                let hash = content_hash(view.root(), &matched)
                    .map_err(|e| self.located(at, e.to_string()))?;
                copying = Some((view, matched, Some(downloads), false));
                chain(&run.key, &[&format!("{instruction:?}"), &hash])
            }
            Instruction::Copy(files) | Instruction::Add(files) => {
                let view = self.source_root(at, files.from.as_deref()).await?;
                let matched = self.sources(run, at, files, view.root())?;
                let (view, matched, kept) = if files.exclude.is_empty() {
                    (view, matched, None)
                } else {
                    let (kept_view, kept_matched, kept) =
                        self.without_excluded(at, &view, matched, &files.exclude)?;
                    (kept_view, kept_matched, Some(kept))
                };
                let hash = content_hash(view.root(), &matched)
                    .map_err(|e| self.located(at, e.to_string()))?;
                // ADD unpacks local archives, never downloaded ones.
                let unpack = matches!(instruction, Instruction::Add(_));
                copying = Some((view, matched, kept, unpack));
                chain(&run.key, &[&format!("{instruction:?}"), &hash])
            }
            _ => return Err(internal("not a layer step")),
        };
        if let Some(state) = self.cached(&key) {
            run.state = state;
            run.key = key;
            self.out.status(format!("#{step} CACHED"));
            return Ok(());
        }
        let layer = match instruction {
            Instruction::Run(command) => {
                if command.insecure && !self.options.allow_insecure {
                    return Err(self.located(
                        at,
                        "--security=insecure needs the security.insecure entitlement: build with --allow security.insecure",
                    ));
                }
                let out = self.out.clone();
                let print = move |line: String| out.status(format!("#{step} {line}"));
                let mounts = self.step_mounts(run, at, command, binding).await?;
                let targets: Vec<String> = mounts.specs.iter().map(|m| m.target.clone()).collect();
                let stubs = mount_points(&targets)
                    .into_iter()
                    .filter(|path| !self.in_state(&run.state, path))
                    .collect();
                let step_spec = RunStep {
                    argv: metadata::run_argv(command, &run.state.config.config.shell),
                    args_env: run.args.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    network: self.run_network(command),
                    extra_hosts: self.options.extra_hosts.clone(),
                    privileged: command.insecure,
                    shm_size: self.options.shm_size,
                    ulimits: self.options.ulimits.clone(),
                    mounts,
                    stubs,
                    output: &print,
                };
                let shown = step_spec.argv.join(" ");
                match run_step(self.daemon, &run.state, step_spec).await {
                    Ok(layer) => layer,
                    Err(RunFailure::Exit(code)) => {
                        return Err(Status::unknown(
                            self.dockerfile
                                .error(
                                    at.line,
                                    "RUN",
                                    format!(
                                        "process \"{shown}\" did not complete successfully: exit code: {code}"
                                    ),
                                )
                                .to_string(),
                        ));
                    }
                    Err(RunFailure::Daemon(status)) => {
                        return Err(self.located(at, status.message().to_string()));
                    }
                }
            }
            Instruction::Copy(files) | Instruction::Add(files) => {
                let (view, matched, _scratch, unpack) = copying
                    .take()
                    .ok_or_else(|| internal("COPY sources were not resolved"))?;
                self.copy_layer(run, at, files, view.root(), &matched, unpack)?
            }
            _ => return Err(internal("not a layer step")),
        };
        self.commit_layer(&mut run.state, &key, &layer, &at.text)?;
        run.key = key;
        self.out.status(format!(
            "#{step} DONE {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Where a COPY/ADD (or a RUN's bind mount) takes its files from: the
    /// context, or with `--from` an earlier stage's or an image's files
    /// (mounted read-only while the step runs).
    async fn source_root(
        &self,
        at: &Located<Instruction>,
        from: Option<&str>,
    ) -> Result<RootView, Status> {
        let Some(from) = from else {
            return Ok(RootView::Live(self.options.context.clone()));
        };
        let state = match (
            self.options.contexts.get(from),
            self.dockerfile.stage_index(from),
        ) {
            (Some(NamedContext::Dir(dir)), _) => return Ok(RootView::Live(dir.clone())),
            (Some(NamedContext::Image(image)), _) => {
                let reference =
                    Reference::parse(image).map_err(|e| self.located(at, e.to_string()))?;
                let image = self.base_image(&reference).await?;
                self.daemon.images.state_of(&image).map_err(from_image)?
            }
            (None, stage) => match stage {
                Some(index) if index < self.stages.len() => self.stages[index].0.clone(),
                Some(_) => {
                    return Err(self.located(
                    at,
                    format!(
                        "--from={from} names this stage or a later one; copy from an earlier stage"
                    ),
                ));
                }
                None => {
                    let reference =
                        Reference::parse(from).map_err(|e| self.located(at, e.to_string()))?;
                    let image = self.base_image(&reference).await?;
                    self.daemon.images.state_of(&image).map_err(from_image)?
                }
            },
        };
        let lowers = self.daemon.images.layer_dirs(&state);
        let target = self
            .options
            .context
            .with_extension(format!("from-{}", hoist_runtime::fsutil::random_hex(4)));
        mount_read_only(target, &lowers)
    }

    /// Stores the layer tar at `layer` (removing the file), adds it to
    /// `state` with its history (`created_by`) and caches the result under
    /// `key`.
    fn commit_layer(
        &self,
        state: &mut BuildState,
        key: &str,
        layer: &Path,
        created_by: &str,
    ) -> Result<(), Status> {
        let stored = self
            .daemon
            .images
            .put_blob(File::open(layer).map_err(|e| internal(e.to_string()))?);
        let _ = std::fs::remove_file(layer);
        let blob = stored.map_err(from_image)?;
        // Kept from garbage collection until the cache records it.
        let _pinned = self.daemon.images.pin([blob.digest.clone()]);
        state.push_layer(
            blob,
            History {
                created: Some(now_rfc3339()),
                created_by: Some(created_by.to_string()),
                comment: Some("buildkit.dockerfile.v0".into()),
                ..Default::default()
            },
        );
        self.daemon
            .images
            .cache_state(key, state)
            .map_err(from_image)
    }

    /// A stage started `FROM` the directory build context `name`: its files
    /// as the one layer of an otherwise empty image, cached by their
    /// content.
    fn directory_stage(&self, name: &str, dir: &Path) -> Result<(BuildState, String), Status> {
        let everything = [MatchedSource {
            path: PathBuf::from("."),
            resolved: PathBuf::new(),
        }];
        let hash = content_hash(dir, &everything)
            .map_err(|e| invalid(format!("build context {name}: {e}")))?;
        let key = chain("context", &[name, &hash]);
        if let Some(state) = self.cached(&key) {
            return Ok((state, key));
        }
        let layer = self.daemon.images.temp_path("context-layer");
        let file = File::create(&layer).map_err(|e| internal(e.to_string()))?;
        write_copy_layer(
            file,
            dir,
            &everything,
            &[],
            "/",
            Overrides::default(),
            false,
        )
        .map_err(|e| invalid(format!("cannot read build context {name}: {e}")))?;
        let mut state = BuildState::scratch();
        self.commit_layer(&mut state, &key, &layer, &format!("build context {name}"))?;
        Ok((state, key))
    }

    /// A secret or agent the build was not given: an error naming `flag`
    /// when the mount is `required`, else the mount is skipped (Ok).
    fn not_given(
        &self,
        at: &Located<Instruction>,
        required: bool,
        what: &str,
        flag: &str,
    ) -> Result<(), Status> {
        if required {
            return Err(self.located(
                at,
                format!("{what} is required but the build was not given it: pass it with hoist build {flag}"),
            ));
        }
        Ok(())
    }

    /// The network a RUN step runs on: its own `--network`, else the
    /// build's.
    fn run_network(&self, command: &Run) -> dockerfile::RunNetwork {
        match command.network {
            dockerfile::RunNetwork::Default => self.options.network,
            own => own,
        }
    }

    /// A bind mount's `source` in `view`, found (symlinks kept inside it)
    /// and hashed for the step's cache key.
    fn bind_source(
        &self,
        at: &Located<Instruction>,
        view: &RootView,
        source: &str,
        from: Option<&str>,
    ) -> Result<(PathBuf, String), Status> {
        let host = view.resolve(source)?;
        if std::fs::symlink_metadata(&host).is_err() {
            let place = from.map_or("the build context".to_string(), |f| format!("{f:?}"));
            return Err(self.located(at, format!("--mount source {source:?} is not in {place}")));
        }
        let matched = MatchedSource {
            path: PathBuf::from(source),
            resolved: host
                .strip_prefix(view.root())
                .unwrap_or(&host)
                .to_path_buf(),
        };
        let hash =
            content_hash(view.root(), &[matched]).map_err(|e| self.located(at, e.to_string()))?;
        Ok((host, hash))
    }

    /// Makes `command`'s mounts ready: `binding` holds the bind mounts'
    /// sources (in order) that the cache key was made from.
    async fn step_mounts(
        &self,
        run: &StageRun,
        at: &Located<Instruction>,
        command: &Run,
        binding: Vec<(RootView, PathBuf)>,
    ) -> Result<StepMounts, Status> {
        let working_dir = &run.state.config.config.working_dir;
        let scratch_root = self.daemon.images.temp_dir();
        let secrets_root = self.daemon.config.exec_root.join("build-secrets");
        let sockets_root = self.daemon.config.exec_root.join("build-agents");
        let caches = self.daemon.images.cache_mounts();
        let mut mounts = StepMounts::default();
        let mut binding = binding.into_iter();
        let mut cache_ids: Vec<&str> = Vec::new();
        let mut agents = 0;
        for mount in &command.mounts {
            let target = mount
                .target()
                .map(|t| clean_absolute(&resolve_path(working_dir, t)))
                .unwrap_or_default();
            if target == "/" {
                return Err(self.located(
                    at,
                    "a --mount cannot cover the whole filesystem: give it a target below /",
                ));
            }
            let failed =
                |e: std::io::Error| self.located(at, format!("cannot mount {target}: {e}"));
            match mount {
                RunMount::Bind { read_write, .. } => {
                    let (view, host) = binding
                        .next()
                        .ok_or_else(|| internal("a bind mount's source was not resolved"))?;
                    mounts
                        .bind(view, &host, &target, *read_write, &scratch_root)
                        .map_err(failed)?;
                }
                RunMount::Cache {
                    id,
                    read_only,
                    sharing,
                    from,
                    source,
                    owner,
                    ..
                } => {
                    // The files a new cache starts from, if any.
                    let seed_view = match from {
                        Some(from) => Some(self.source_root(at, Some(from)).await?),
                        None => None,
                    };
                    let seed = seed_view
                        .as_ref()
                        .map(|view| view.resolve(source))
                        .transpose()?;
                    // A cache mounted twice in one step is held once.
                    let held_here = cache_ids.contains(&id.as_str());
                    cache_ids.push(id);
                    let using = match sharing {
                        _ if held_here => None,
                        CacheSharing::Shared => Some(caches.share(id).await),
                        CacheSharing::Locked => Some(caches.lock(id).await),
                        CacheSharing::Private => match caches.try_lock(id) {
                            Some(using) => Some(using),
                            None => {
                                mounts
                                    .private_cache(&scratch_root, &target, *owner)
                                    .map_err(failed)?;
                                continue;
                            }
                        },
                    };
                    let dir = caches.dir(id, *owner, seed.as_deref()).map_err(failed)?;
                    mounts.cache(&dir, &target, *read_only, using);
                }
                RunMount::Tmpfs { size, .. } => mounts.tmpfs(&target, *size),
                RunMount::Ssh {
                    id,
                    target: given,
                    required,
                    owner,
                } => {
                    let Some(agent) = self.options.ssh.get(id) else {
                        self.not_given(
                            at,
                            *required,
                            &format!("ssh agent {id}"),
                            &format!("--ssh {id}[=SOCKET]"),
                        )?;
                        continue;
                    };
                    let target = match given {
                        Some(_) => target,
                        None => format!("/run/buildkit/ssh_agent.{agents}"),
                    };
                    agents += 1;
                    mounts
                        .ssh_agent(&sockets_root, agent, &target, *owner)
                        .map_err(|e| self.located(at, format!("cannot mount {target}: {e}")))?;
                }
                RunMount::Secret {
                    id,
                    target: file,
                    env,
                    required,
                    owner,
                } => {
                    let Some(value) = self.options.secrets.get(id) else {
                        self.not_given(
                            at,
                            *required,
                            &format!("secret {id}"),
                            &format!("--secret id={id},src=FILE (or env=VARIABLE)"),
                        )?;
                        continue;
                    };
                    if file.is_some() {
                        mounts
                            .secret_file(&secrets_root, value, &target, *owner)
                            .map_err(failed)?;
                    }
                    if let Some(name) = env {
                        let text = std::str::from_utf8(value).map_err(|_| {
                            self.located(
                                at,
                                format!(
                                    "secret {id} is not text: it cannot be the variable {name}"
                                ),
                            )
                        })?;
                        mounts.env.push(format!("{name}={text}"));
                    }
                }
            }
        }
        Ok(mounts)
    }

    /// ADD's URL sources, each fetched into a directory of its own under a
    /// scratch directory (removed with the returned guard), as sources of
    /// a copy from there.
    async fn download_sources(
        &self,
        at: &Located<Instruction>,
        files: &dockerfile::CopyFiles,
    ) -> Result<(RootView, Vec<MatchedSource>, Scratch), Status> {
        if !files.sources.iter().all(|s| is_url(s)) || !files.inline.is_empty() {
            return Err(self.located(
                at,
                "cannot add URLs and local files in one instruction: give each its own ADD",
            ));
        }
        let downloads = scratch(&self.daemon.images.temp_dir(), "add")
            .map_err(|e| internal(format!("cannot make a download directory: {e}")))?;
        let mut matched = Vec::new();
        for (index, url) in files.sources.iter().enumerate() {
            let dir = downloads.path().join(index.to_string());
            std::fs::create_dir(&dir).map_err(|e| internal(e.to_string()))?;
            let file = download(url, &dir, files.checksum.as_deref())
                .await
                .map_err(|e| self.located(at, e.to_string()))?;
            matched.push(MatchedSource {
                path: PathBuf::from(remote::file_name(url)),
                resolved: file
                    .strip_prefix(downloads.path())
                    .unwrap_or(&file)
                    .to_path_buf(),
            });
        }
        Ok((
            RootView::Live(downloads.path().to_path_buf()),
            matched,
            downloads,
        ))
    }

    /// `matched` (in `view`) without what the `--exclude` patterns leave
    /// out (matched against each source's path, and against the paths
    /// inside a directory source relative to it, as `.dockerignore`
    /// patterns): the rest copied under a scratch directory (removed with
    /// the returned guard), as the sources of a copy from there.
    fn without_excluded(
        &self,
        at: &Located<Instruction>,
        view: &RootView,
        matched: Vec<MatchedSource>,
        patterns: &[String],
    ) -> Result<(RootView, Vec<MatchedSource>, Scratch), Status> {
        let rules = IgnoreRules::parse(&patterns.join("\n"))
            .map_err(|e| self.located(at, format!("invalid --exclude: {e}")))?;
        let kept = scratch(&self.daemon.images.temp_dir(), "exclude")
            .map_err(|e| internal(format!("cannot make a copy directory: {e}")))?;
        let failed = |e: std::io::Error| self.located(at, format!("cannot copy: {e}"));
        let mut remaining = Vec::new();
        for (index, source) in matched.into_iter().enumerate() {
            if rules.is_excluded(&source.path) {
                continue;
            }
            let from = view.root().join(&source.resolved);
            let place = kept.path().join(index.to_string());
            std::fs::create_dir(&place).map_err(failed)?;
            let meta = std::fs::symlink_metadata(&from).map_err(failed)?;
            let resolved = if meta.is_dir() {
                // A directory is copied by its contents; keep its own
                // owner and mode on the copy too.
                copy_tree_where(&from, &place, &|inside| !rules.is_excluded(inside))
                    .map_err(failed)?;
                std::fs::set_permissions(&place, meta.permissions()).map_err(failed)?;
                std::os::unix::fs::lchown(&place, Some(meta.uid()), Some(meta.gid()))
                    .map_err(failed)?;
                PathBuf::from(index.to_string())
            } else {
                let name = from.file_name().unwrap_or_default().to_owned();
                let parent = from.parent().unwrap_or(view.root());
                copy_tree_where(parent, &place, &|entry| entry == Path::new(&name))
                    .map_err(failed)?;
                PathBuf::from(index.to_string()).join(name)
            };
            remaining.push(MatchedSource {
                path: source.path,
                resolved,
            });
        }
        Ok((RootView::Live(kept.path().to_path_buf()), remaining, kept))
    }

    /// The files a COPY/ADD takes from `root`.
    fn sources(
        &self,
        run: &StageRun,
        at: &Located<Instruction>,
        files: &dockerfile::CopyFiles,
        root: &Path,
    ) -> Result<Vec<hoist_runtime::image::build::MatchedSource>, Status> {
        if files.sources.is_empty() {
            return Ok(Vec::new());
        }
        let dest = resolve_path(&run.state.config.config.working_dir, &files.dest);
        resolve_sources(root, at.value.keyword(), &files.sources, &dest)
            .map_err(|e| self.located(at, e.to_string()))
    }

    /// Writes a COPY/ADD layer into a temporary file.
    fn copy_layer(
        &self,
        run: &StageRun,
        at: &Located<Instruction>,
        files: &dockerfile::CopyFiles,
        root: &Path,
        matched: &[hoist_runtime::image::build::MatchedSource],
        add: bool,
    ) -> Result<PathBuf, Status> {
        let id_of = |file: &str, name: &str| {
            self.image_file(&run.state, &format!("etc/{file}"))
                .and_then(|text| id_in(&text, name))
        };
        let overrides = Overrides::parse(files.chown.as_deref(), files.chmod.as_deref(), &id_of)
            .map_err(|e| self.located(at, e))?;
        let inline: Vec<(String, String)> = files
            .inline
            .iter()
            .map(|f| (f.name.clone(), f.content.clone()))
            .collect();
        // `.` and a trailing `/` name a directory, as in Docker.
        let into_dir = files.dest.ends_with('/') || files.dest == "." || files.dest.ends_with("/.");
        let dest = resolve_path(&run.state.config.config.working_dir, &files.dest);
        let dest = dest.trim_end_matches("/.").trim_end_matches('/');
        let dest = if into_dir {
            format!("{dest}/")
        } else {
            dest.to_string()
        };
        let layer = self.daemon.images.temp_path("copy-layer");
        let file = File::create(&layer).map_err(|e| internal(e.to_string()))?;
        write_copy_layer(file, root, matched, &inline, &dest, overrides, add)
            .map_err(|e| self.located(at, format!("cannot copy: {e}")))?;
        Ok(layer)
    }
}
