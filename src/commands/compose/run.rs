//! `hoist compose run`: a one-off container of a service, as Docker
//! Compose makes it — what the service depends on started first, the
//! service's settings with the command (and flags) given, no published
//! ports unless asked, named `<project>-<service>-run-<id>`, attached to
//! the terminal, its exit code returned.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::Arc;

use clap::Args;
use hoist_api::proto::{AttachFlags, RunOpen};
use hoist_api::spec::{ContainerSpec, PortBinding};
use hoist_compose::plan::{Plan, ServicePlan, labels};

use super::engine::Engine;
use super::prepare::{ImagePolicy, prepare_images};
use super::up::{
    ConvergeOptions, Ready, await_dependency, converge, ensure_resources,
    resolve_shared_namespaces, selection,
};
use crate::commands::container::{attached_exit, run_stream};
use crate::commands::container_flags::parse_volume_flag;
use crate::commands::session::{SessionOptions, stdin_is_terminal, terminal_size};
use crate::exit::{CliError, CliResult};

/// Run a one-off command on a service
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Add or override a label
    #[arg(short = 'l', long = "label")]
    label: Vec<String>,
    /// Run as specified username or uid
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long = "service-ports")]
    service_ports: bool,
    /// Use the service's network aliases in the network(s) the container connects to
    #[arg(long = "use-aliases")]
    use_aliases: bool,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    volume: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Build the image before starting the container
    #[arg(long)]
    build: bool,
    /// Don't start linked services
    #[arg(long = "no-deps")]
    no_deps: bool,
    /// Disable pseudo-TTY allocation (by default one is allocated when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// The service, then the command and its arguments (default: the service's)
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "SERVICE [COMMAND] [ARGS...]")]
    service_and_command: Vec<String>,
}

/// Runs a one-off container of a service.
pub async fn run(engine: Engine, plan: Plan, args: RunArgs) -> CliResult<i32> {
    let (service_name, command) = args
        .service_and_command
        .split_first()
        .ok_or_else(|| CliError::client("run needs a service"))?;
    let service = plan
        .services
        .iter()
        .find(|s| &s.name == service_name)
        .ok_or_else(|| CliError::client(format!("no such service: {service_name}")))?
        .clone();
    let plan = Arc::new(plan);
    let mut dependencies = if args.no_deps {
        BTreeSet::new()
    } else {
        selection(&plan, std::slice::from_ref(service_name), false)?
    };
    dependencies.remove(service_name);
    let existing = engine.project_containers(&plan.project, true).await?;
    let mut with_service = dependencies.clone();
    with_service.insert(service_name.clone());
    let policy = ImagePolicy {
        build: args.build,
        ..ImagePolicy::default()
    };
    let image_ids = prepare_images(&engine, &plan, &with_service, &policy).await?;
    let options = ConvergeOptions {
        force_recreate: false,
        no_recreate: false,
        timeout: None,
        image_ids,
        no_start: false,
    };
    let converged: BTreeMap<String, Ready> =
        converge(&engine, plan.clone(), &dependencies, &existing, options)
            .await?
            .into_iter()
            .map(|ready| (ready.service.clone(), ready))
            .collect();
    for dependency in &service.depends_on {
        if let Some(ready) = converged.get(&dependency.service) {
            await_dependency(&engine, dependency, ready).await?;
        }
    }
    ensure_resources(&engine, &plan, &with_service).await?;

    let mut spec = one_off_spec(&service, command, &args)?;
    resolve_shared_namespaces(&mut spec, &service.name, &converged)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => format!("{}-{}-run-{}", plan.project, service.name, random_suffix()?),
    };
    let stdin = !args.detach;
    spec.tty = !args.no_tty && !args.detach && stdin_is_terminal();
    spec.open_stdin = stdin;
    spec.stdin_once = stdin;
    let id = engine.create_container(&name, &spec).await?;
    for attachment in service.networks.iter().skip(1) {
        let aliases = if args.use_aliases {
            attachment.aliases.as_slice()
        } else {
            &[]
        };
        engine
            .connect(&attachment.network, &id, aliases, None)
            .await?;
    }
    let open = RunOpen {
        create: None,
        attach: Some(AttachFlags {
            stdin,
            stdout: !args.detach,
            stderr: !args.detach,
            size: if spec.tty { terminal_size() } else { None },
        }),
        detach: args.detach,
        start: id,
    };
    let session = SessionOptions {
        stdin,
        tty: spec.tty,
        detach_keys: crate::commands::session::DEFAULT_DETACH_KEYS.to_vec(),
        proxy_signals_to: None,
    };
    let end = run_stream(engine.channel(), open, session).await?;
    if args.detach {
        if let Some(exit) = end.exit.filter(|e| !e.error.is_empty()) {
            return Err(CliError::client(exit.error));
        }
        println!("{name}");
        return Ok(0);
    }
    attached_exit(end)
}

/// The service's container spec as a one-off: the command replaced when
/// one is given, no published ports unless asked, one-off labels, and the
/// flags' settings on top.
fn one_off_spec(
    service: &ServicePlan,
    command: &[String],
    args: &RunArgs,
) -> CliResult<ContainerSpec> {
    let mut spec = service.replica_spec(1);
    spec.labels.remove(labels::NUMBER);
    spec.labels
        .insert(labels::ONEOFF.to_string(), "True".to_string());
    spec.restart_policy = Default::default();
    spec.auto_remove = args.rm;
    if !command.is_empty() {
        spec.cmd = Some(command.to_vec());
    }
    if let Some(entrypoint) = &args.entrypoint {
        spec.entrypoint =
            Some(hoist_compose::words::split_command(entrypoint).map_err(CliError::client)?);
        if command.is_empty() {
            spec.cmd = None;
        }
    }
    if !args.service_ports {
        spec.port_bindings.clear();
        spec.publish_all_ports = false;
    }
    for publish in &args.publish {
        spec.port_bindings.extend(
            PortBinding::parse(publish)
                .map_err(|e| CliError::client(format!("invalid --publish {publish:?}: {e}")))?,
        );
    }
    for volume in &args.volume {
        spec.mounts.push(parse_volume_flag(volume)?);
    }
    for entry in &args.env {
        let entry = match entry.split_once('=') {
            Some(_) => entry.clone(),
            None => match std::env::var(entry) {
                Ok(value) => format!("{entry}={value}"),
                Err(_) => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        spec.env
            .retain(|e| e.split('=').next() != Some(key.as_str()));
        spec.env.push(entry);
    }
    for label in &args.label {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        spec.labels.insert(key.to_string(), value.to_string());
    }
    if let Some(user) = &args.user {
        spec.user = Some(user.clone());
    }
    if let Some(workdir) = &args.workdir {
        spec.working_dir = Some(workdir.clone());
    }
    spec.cap_add.extend(args.cap_add.iter().cloned());
    spec.cap_drop.extend(args.cap_drop.iter().cloned());
    match (&service.network_mode, service.networks.first()) {
        (Some(mode), _) => spec.network_mode = mode.clone(),
        (None, Some(first)) => {
            spec.network_mode = first.network.clone();
            spec.network_aliases = if args.use_aliases {
                first.aliases.clone()
            } else {
                Vec::new()
            };
        }
        (None, None) => {}
    }
    Ok(spec)
}

/// Twelve random hex digits, as Docker Compose names one-off containers.
fn random_suffix() -> CliResult<String> {
    let mut bytes = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError::client(format!("cannot read /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
