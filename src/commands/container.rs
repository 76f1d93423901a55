//! Container commands: run, create, start, attach, exec, ps, logs, stop,
//! kill, restart, pause, unpause, wait, rm, rename, port, prune.

use crate::commands::registry::{fetch_image, pull_image};
use hoist_runtime::image::Reference;
use std::io::Write;

use clap::Args;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::{
    AttachFlags, AttachOpen, AttachRequest, CommitRequest, ContainerRef, ContainerStats,
    CreateContainerRequest, ExecOpen, ExecRequest, KillRequest, ListContainersRequest, LogsRequest,
    PruneContainersRequest, RemoveContainerRequest, RenameRequest, RunOpen, RunRequest,
    StatsRequest, StdStream, StopRequest, TopRequest, WaitRequest, attach_request, exec_request,
    run_request,
};
use hoist_api::spec::{ContainerSpec, ExecSpec};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::container_flags::ContainerFlags;
use super::session::{
    self, DEFAULT_DETACH_KEYS, SessionEnd, SessionOptions, stdin_is_terminal, terminal_size,
};
use crate::commands::{for_each, for_each_printing};
use crate::exit::{CliError, CliResult, EXIT_HOIST_FAILED};
use crate::format::{self, Format, cells, print_items, print_table, short_id, truncate};

fn parse_detach_keys(keys: Option<&str>) -> CliResult<Vec<u8>> {
    let Some(keys) = keys else {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    };
    keys.split(',')
        .map(|k| {
            let k = k.trim();
            if let Some(c) = k.strip_prefix("ctrl-") {
                let c = c
                    .chars()
                    .next()
                    .filter(|c| c.is_ascii_alphabetic() || "@[\\]^_".contains(*c));
                c.map(|c| (c.to_ascii_uppercase() as u8) & 0x1f)
                    .ok_or_else(|| CliError::usage(format!("invalid detach key {k:?}")))
            } else if k.len() == 1 {
                Ok(k.as_bytes()[0])
            } else {
                Err(CliError::usage(format!(
                    "invalid detach key {k:?}: use a letter or ctrl-<letter>"
                )))
            }
        })
        .collect()
}

/// Create and run a new container from an image
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long)]
    pub attach: Vec<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    #[command(flatten)]
    pub container: ContainerFlags,
}

/// Create a new container
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    #[command(flatten)]
    pub container: ContainerFlags,
}

fn write_cidfile(path: &Option<String>, id: &str) -> CliResult {
    if let Some(path) = path {
        if std::path::Path::new(path).exists() {
            return Err(CliError::usage(format!(
                "container ID file found, make sure the other container isn't running or delete {path}"
            )));
        }
        std::fs::write(path, id)
            .map_err(|e| CliError::usage(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}

/// Runs `attempt` (a create) as `--pull` says: after pulling the image
/// with `always`; with `missing`, pulling and trying again when the image
/// is not there, as Docker does.
async fn with_image<T, Fut>(
    channel: &Channel,
    flags: &ContainerFlags,
    attempt: impl Fn() -> Fut,
) -> CliResult<T>
where
    Fut: std::future::Future<Output = CliResult<T>>,
{
    let image = flags.image_and_command.first().cloned().unwrap_or_default();
    let pull = |channel: Channel| {
        let image = image.clone();
        async move {
            let pulled = if flags.quiet {
                fetch_image(channel, &image, flags.platform.as_deref(), true, true)
                    .await
                    .map(drop)
            } else {
                pull_image(channel, &image, flags.platform.as_deref(), false, true).await
            };
            pulled.map_err(|e| e.with_code(EXIT_HOIST_FAILED))
        }
    };
    if flags.pull == "always" {
        pull(channel.clone()).await?;
        return attempt().await;
    }
    match attempt().await {
        Err(e)
            if flags.pull == "missing"
                && e.from_daemon
                && e.message.starts_with("No such image") =>
        {
            if !flags.quiet {
                let familiar = Reference::parse(&image).map_or(image.clone(), |r| r.familiar());
                eprintln!("Unable to find image '{familiar}' locally");
            }
            pull(channel.clone()).await?;
            attempt().await
        }
        other => other,
    }
}

/// Runs a container: create, attach, start in one stream. `spec` is made
/// from `args`' flags before the daemon is reached.
pub async fn run(channel: Channel, args: RunArgs, mut spec: ContainerSpec) -> CliResult<i32> {
    let name = args.container.name.clone().unwrap_or_default();
    let attach_all = args.attach.is_empty();
    let wants = |s: &str| attach_all || args.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    let stdin = spec.open_stdin && (attach_all || wants("stdin"));
    if spec.tty && stdin && !stdin_is_terminal() {
        return Err(CliError::usage(
            "the input device is not a TTY: drop -t, or run from a terminal",
        ));
    }
    // docker run -i: the container's stdin ends with ours.
    spec.stdin_once = stdin && !args.detach;
    let size = if spec.tty { terminal_size() } else { None };
    let attach = AttachFlags {
        stdin,
        stdout: wants("stdout"),
        stderr: wants("stderr"),
        size,
    };
    let tty = spec.tty;
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref())?;
    let open = RunOpen {
        create: Some(CreateContainerRequest {
            name,
            spec_json: serde_json::to_vec(&spec).map_err(|e| CliError::client(e.to_string()))?,
        }),
        attach: Some(attach),
        detach: args.detach,
        start: String::new(),
    };
    let end = with_image(&channel, &args.container, || {
        let options = SessionOptions {
            stdin: stdin && !args.detach,
            tty,
            detach_keys: detach_keys.clone(),
            proxy_signals_to: (!tty && args.sig_proxy && !args.detach)
                .then(|| (ContainersClient::new(channel.clone()), None)),
        };
        run_stream(channel.clone(), open.clone(), options)
    })
    .await?;
    if let Some(id) = &end.started_id {
        write_cidfile(&args.cidfile, id)?;
    }
    if args.detach {
        // A detached run fails at start only: the daemon then sends an exit.
        if let Some(exit) = end.exit.filter(|e| !e.error.is_empty()) {
            return Err(CliError {
                code: exit.code,
                message: exit.error,
                from_daemon: true,
            });
        }
        println!("{}", end.started_id.unwrap_or_default());
        return Ok(0);
    }
    attached_exit(end)
}

/// Opens a run stream (create or start, attach) and drives it to its end.
pub async fn run_stream(
    channel: Channel,
    open: RunOpen,
    options: SessionOptions,
) -> CliResult<SessionEnd> {
    let (tx, rx) = mpsc::channel(64);
    let _ = tx
        .send(RunRequest {
            kind: Some(run_request::Kind::Open(open)),
        })
        .await;
    let output = ContainersClient::new(channel)
        .run(ReceiverStream::new(rx))
        .await
        .map_err(|s| CliError::from(s).with_code(EXIT_HOIST_FAILED))?
        .into_inner();
    session::drive(
        tx,
        |io| RunRequest {
            kind: Some(run_request::Kind::Io(io)),
        },
        output,
        options,
    )
    .await
    .map_err(|e| e.with_code(EXIT_HOIST_FAILED))
}

/// The exit code of an attached `run` or `start -a`: the container's, or
/// the error that kept it from running.
pub fn attached_exit(end: SessionEnd) -> CliResult<i32> {
    if end.detached {
        return Ok(0);
    }
    match end.exit {
        Some(exit) if !exit.error.is_empty() => Err(CliError {
            code: exit.code,
            message: exit.error,
            from_daemon: true,
        }),
        Some(exit) => Ok(exit.code),
        None => Err(CliError {
            code: EXIT_HOIST_FAILED,
            message: "the daemon closed the stream before the container exited".into(),
            from_daemon: false,
        }),
    }
}

/// Creates a container from `spec` (made from `args`' flags before the
/// daemon is reached) and prints its ID.
pub async fn create(channel: Channel, args: CreateArgs, spec: ContainerSpec) -> CliResult<i32> {
    let request = CreateContainerRequest {
        name: args.container.name.clone().unwrap_or_default(),
        spec_json: serde_json::to_vec(&spec).map_err(|e| CliError::client(e.to_string()))?,
    };
    let response = with_image(&channel, &args.container, || {
        let mut client = ContainersClient::new(channel.clone());
        let request = request.clone();
        async move {
            client
                .create(request)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| CliError::from(s).with_code(EXIT_HOIST_FAILED))
        }
    })
    .await?;
    for warning in response.warnings {
        eprintln!("WARNING: {warning}");
    }
    write_cidfile(&args.cidfile, &response.id)?;
    println!("{}", response.id);
    Ok(0)
}

/// Start one or more stopped containers
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Containers to start
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Starts containers (attaching to the first with `-a`).
pub async fn start(channel: Channel, args: StartArgs) -> CliResult<i32> {
    let mut client = ContainersClient::new(channel.clone());
    if args.attach || args.interactive {
        let [id] = args.containers.as_slice() else {
            return Err(CliError::usage(
                "you cannot start and attach multiple containers at once",
            ));
        };
        let inspect: serde_json::Value = inspect_json(&mut client, id).await?;
        let attach_args = AttachArgs {
            no_stdin: !args.interactive,
            sig_proxy: true,
            detach_keys: args.detach_keys,
            container: id.clone(),
        };
        if inspect["State"]["Running"].as_bool().unwrap_or(false) {
            return attach(channel, attach_args).await;
        }
        // Attached before it starts (as Docker does), in one stream.
        let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
        let stdin = args.interactive && inspect["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let open = RunOpen {
            create: None,
            attach: Some(AttachFlags {
                stdin,
                stdout: true,
                stderr: true,
                size: if tty { terminal_size() } else { None },
            }),
            detach: false,
            start: inspect["Id"].as_str().unwrap_or(id).to_string(),
        };
        let options = SessionOptions {
            stdin,
            tty,
            detach_keys: parse_detach_keys(attach_args.detach_keys.as_deref())?,
            proxy_signals_to: (!tty).then(|| (ContainersClient::new(channel.clone()), None)),
        };
        return attached_exit(run_stream(channel, open, options).await?);
    }
    let mut failed = false;
    for id in &args.containers {
        match client.start(ContainerRef { id: id.clone() }).await {
            Ok(_) => println!("{id}"),
            Err(status) => {
                failed = true;
                eprintln!("{}", CliError::from(status));
            }
        }
    }
    if failed {
        return Err(CliError::exit(1));
    }
    Ok(0)
}

/// Attach local standard input, output, and error streams to a running container
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// The container
    pub container: String,
}

/// Attaches to a running container's stdio.
pub async fn attach(channel: Channel, args: AttachArgs) -> CliResult<i32> {
    let mut client = ContainersClient::new(channel.clone());
    let inspect: serde_json::Value = inspect_json(&mut client, &args.container).await?;
    let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !args.no_stdin && inspect["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let id = inspect["Id"]
        .as_str()
        .unwrap_or(&args.container)
        .to_string();
    let open = AttachOpen {
        id: id.clone(),
        attach: Some(AttachFlags {
            stdin,
            stdout: true,
            stderr: true,
            size: if tty { terminal_size() } else { None },
        }),
        logs: false,
    };
    let (tx, rx) = mpsc::channel(64);
    let _ = tx
        .send(AttachRequest {
            kind: Some(attach_request::Kind::Open(open)),
        })
        .await;
    let output = client.attach(ReceiverStream::new(rx)).await?.into_inner();
    let options = SessionOptions {
        stdin,
        tty,
        detach_keys: parse_detach_keys(args.detach_keys.as_deref())?,
        proxy_signals_to: (!tty && args.sig_proxy)
            .then(|| (ContainersClient::new(channel), Some(id))),
    };
    let end = session::drive(
        tx,
        |io| AttachRequest {
            kind: Some(attach_request::Kind::Io(io)),
        },
        output,
        options,
    )
    .await?;
    Ok(if end.detached {
        0
    } else {
        end.exit.map_or(0, |e| e.code)
    })
}

/// Execute a command in a running container
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// The container, then the command and its arguments
    #[arg(required = true, num_args = 2.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "CONTAINER COMMAND [ARG...]")]
    pub container_and_command: Vec<String>,
}

/// Runs a command in a running container.
pub async fn exec(channel: Channel, args: ExecArgs) -> CliResult<i32> {
    let (container, cmd) = args
        .container_and_command
        .split_first()
        .ok_or_else(|| CliError::usage("exec needs a container and a command"))?;
    if container.starts_with('-') {
        return Err(CliError::usage(format!("unknown flag: {container}")));
    }
    let stdin = args.interactive && !args.detach;
    if args.tty && stdin && !stdin_is_terminal() {
        return Err(CliError::usage(
            "the input device is not a TTY: drop -t, or run from a terminal",
        ));
    }
    let mut env: Vec<String> = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))?;
        env.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    env.extend(args.env.iter().filter_map(|e| {
        if e.contains('=') {
            Some(e.clone())
        } else {
            std::env::var(e).ok().map(|v| format!("{e}={v}"))
        }
    }));
    let spec = ExecSpec {
        cmd: cmd.to_vec(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
        open_stdin: args.interactive,
        privileged: args.privileged,
    };
    let open = ExecOpen {
        container: container.clone(),
        spec_json: serde_json::to_vec(&spec).map_err(|e| CliError::client(e.to_string()))?,
        attach: Some(AttachFlags {
            stdin,
            stdout: true,
            stderr: true,
            size: if args.tty { terminal_size() } else { None },
        }),
        detach: args.detach,
    };
    let (tx, rx) = mpsc::channel(64);
    let _ = tx
        .send(ExecRequest {
            kind: Some(exec_request::Kind::Open(open)),
        })
        .await;
    let output = ContainersClient::new(channel)
        .exec(ReceiverStream::new(rx))
        .await
        .map_err(|s| CliError::from(s).with_code(EXIT_HOIST_FAILED))?
        .into_inner();
    let options = SessionOptions {
        stdin,
        tty: args.tty,
        detach_keys: parse_detach_keys(args.detach_keys.as_deref())?,
        proxy_signals_to: None,
    };
    let end = session::drive(
        tx,
        |io| ExecRequest {
            kind: Some(exec_request::Kind::Io(io)),
        },
        output,
        options,
    )
    .await
    .map_err(|e| e.with_code(EXIT_HOIST_FAILED))?;
    if args.detach {
        if let Some(exit) = end.exit.filter(|e| !e.error.is_empty()) {
            return Err(CliError {
                code: exit.code,
                message: exit.error,
                from_daemon: true,
            });
        }
        return Ok(0);
    }
    match end.exit {
        Some(exit) if !exit.error.is_empty() => Err(CliError {
            code: exit.code,
            message: exit.error,
            from_daemon: true,
        }),
        Some(exit) => Ok(exit.code),
        None if end.detached => Ok(0),
        None => Err(CliError {
            code: EXIT_HOIST_FAILED,
            message: "the daemon closed the stream before the process exited".into(),
            from_daemon: false,
        }),
    }
}

/// List containers
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_hyphen_values = true)]
    pub last: i32,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

/// Lists containers.
pub async fn ps(channel: Channel, args: PsArgs) -> CliResult<i32> {
    let last = if args.latest { 1 } else { args.last.max(0) };
    let rows = ContainersClient::new(channel)
        .list(ListContainersRequest {
            all: args.all,
            filters: args.filter.clone(),
            last,
            size: args.size,
        })
        .await?
        .into_inner()
        .containers;
    if args.quiet {
        for row in &rows {
            println!(
                "{}",
                if args.no_trunc {
                    row.id.clone()
                } else {
                    short_id(&row.id)
                }
            );
        }
        return Ok(0);
    }
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|c| {
            json!({
                "ID": if args.no_trunc { c.id.clone() } else { short_id(&c.id) },
                "Image": c.image,
                "Command": format!("\"{}\"", if args.no_trunc { c.command.clone() } else { truncate(&c.command, 20) }),
                "CreatedAt": chrono::DateTime::from_timestamp(c.created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                "RunningFor": format::ago(c.created),
                "Ports": ports_text(&c.ports),
                "State": c.state,
                "Status": c.status,
                "Names": c.name,
                "Labels": format::labels_text(&c.labels),
                "LocalVolumes": c.mounts.len().to_string(),
                "Mounts": c.mounts.join(","),
                "Networks": c.networks,
                "Size": if args.size {
                    format!("{} (virtual {})", hoist_api::units::human_size(c.size_rw), hoist_api::units::human_size(c.size_root_fs))
                } else {
                    String::new()
                },
            })
        })
        .collect();
    print_items(&Format::parse(args.format.as_deref()), &items, || {
        let table: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                let mut keys = vec![
                    "ID",
                    "Image",
                    "Command",
                    "RunningFor",
                    "Status",
                    "Ports",
                    "Names",
                ];
                if args.size {
                    keys.push("Size");
                }
                cells(i, &keys)
            })
            .collect();
        let mut headers = vec![
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ];
        if args.size {
            headers.push("SIZE");
        }
        print_table(&headers, &table);
    })?;
    Ok(0)
}

/// Fetch the logs of a container
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs ("all" for everything)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (RFC 3339) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative (e.g. 42m)
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details provided to logs (the attributes --log-opt adds)
    #[arg(long)]
    pub details: bool,
    /// The container
    pub container: String,
}

/// A point in time as Docker reads one (`42m` back from now, Unix
/// seconds, RFC 3339; [`hoist_api::timestamp`]), as Unix nanoseconds.
pub fn parse_time(value: &str, flag: &str) -> CliResult<i64> {
    hoist_api::timestamp::parse(value, chrono::Utc::now())
        .map(|t| t.timestamp_nanos_opt().unwrap_or(0))
        .map_err(|_| {
            CliError::usage(format!("invalid value {value:?} for {flag}: use an RFC 3339 time, Unix seconds, or a duration such as 10m"))
        })
}

/// `--tail`, `--since` and `--until` of `logs` as the daemon takes them:
/// (lines from the end, negative for all; since and until in Unix
/// nanoseconds, 0 for unbounded).
pub fn log_window(
    tail: &str,
    since: Option<&str>,
    until: Option<&str>,
) -> CliResult<(i64, i64, i64)> {
    let tail = if tail == "all" {
        -1
    } else {
        tail.parse::<i64>()
            .map_err(|_| CliError::usage(format!("invalid --tail {tail:?}: use a number or all")))?
    };
    let since = since.map(|s| parse_time(s, "--since")).transpose()?;
    let until = until.map(|s| parse_time(s, "--until")).transpose()?;
    Ok((tail, since.unwrap_or(0), until.unwrap_or(0)))
}

/// `logs --details`: an entry's attributes as Docker shows them before
/// the line (`key=value` pairs, query-escaped, by key, comma-separated).
fn details(attrs: &std::collections::HashMap<String, String>) -> String {
    let escape = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    let mut pairs: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Prints a container's logs.
pub async fn logs(channel: Channel, args: LogsArgs) -> CliResult<i32> {
    let (tail, since, until) =
        log_window(&args.tail, args.since.as_deref(), args.until.as_deref())?;
    let request = LogsRequest {
        id: args.container.clone(),
        follow: args.follow,
        tail,
        since,
        until,
        stdout: true,
        stderr: true,
        details: args.details,
    };
    let mut stream = ContainersClient::new(channel)
        .logs(request)
        .await?
        .into_inner();
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    while let Some(entry) = stream.message().await? {
        let out: &mut dyn Write = if entry.stream == StdStream::Stderr as i32 {
            &mut stderr
        } else {
            &mut stdout
        };
        if args.timestamps {
            let time = chrono::DateTime::from_timestamp_nanos(entry.time)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let _ = write!(out, "{time} ");
        }
        if args.details {
            let _ = write!(out, "{} ", details(&entry.attrs));
        }
        let _ = out.write_all(&entry.data);
        let _ = out.flush();
    }
    Ok(0)
}

/// Stop one or more running containers
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        allow_hyphen_values = true
    )]
    pub time: Option<i32>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Stops containers.
pub async fn stop(channel: Channel, args: StopArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        let request = StopRequest {
            id,
            timeout: args.time,
            signal: args.signal.clone().unwrap_or_default(),
        };
        async move { client.stop(request).await.map(drop) }
    })
    .await
}

/// Restart one or more containers
#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub stop: StopArgs,
}

/// Restarts containers.
pub async fn restart(channel: Channel, RestartArgs { stop: args }: RestartArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        let request = StopRequest {
            id,
            timeout: args.time,
            signal: args.signal.clone().unwrap_or_default(),
        };
        async move { client.restart(request).await.map(drop) }
    })
    .await
}

/// Kill one or more running containers
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Signals containers.
pub async fn kill(channel: Channel, args: KillArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        let request = KillRequest {
            id,
            signal: args.signal.clone(),
        };
        async move { client.kill(request).await.map(drop) }
    })
    .await
}

/// Pause all processes within one or more containers
#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Freezes containers.
pub async fn pause(channel: Channel, args: TargetsArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        async move { client.pause(ContainerRef { id }).await.map(drop) }
    })
    .await
}

/// Unpause all processes within one or more containers
#[derive(Debug, Args)]
pub struct UnpauseArgs {
    #[command(flatten)]
    pub targets: TargetsArgs,
}

/// Thaws containers.
pub async fn unpause(
    channel: Channel,
    UnpauseArgs { targets: args }: UnpauseArgs,
) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        async move { client.unpause(ContainerRef { id }).await.map(drop) }
    })
    .await
}

/// Block until one or more containers stop, then print their exit codes
#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub targets: TargetsArgs,
}

/// Waits for containers to stop and prints their exit codes.
pub async fn wait(channel: Channel, WaitArgs { targets: args }: WaitArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each_printing(&args.containers, false, |id| {
        let mut client = client.clone();
        async move {
            let response = client
                .wait(WaitRequest {
                    id,
                    condition: String::new(),
                })
                .await?;
            Ok(response.into_inner().code.to_string())
        }
    })
    .await
}

/// Remove one or more containers
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Removes containers.
pub async fn rm(channel: Channel, args: RmArgs) -> CliResult<i32> {
    let client = ContainersClient::new(channel);
    for_each(&args.containers, false, |id| {
        let mut client = client.clone();
        let request = RemoveContainerRequest {
            id,
            force: args.force,
            volumes: args.volumes,
        };
        async move { client.remove(request).await.map(drop) }
    })
    .await
}

/// Rename a container
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container
    pub container: String,
    /// Its new name
    pub new_name: String,
}

/// Renames a container.
pub async fn rename(channel: Channel, args: RenameArgs) -> CliResult<i32> {
    ContainersClient::new(channel)
        .rename(RenameRequest {
            id: args.container,
            new_name: args.new_name,
        })
        .await?;
    Ok(0)
}

/// Remove all stopped containers
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Removes the stopped containers the filters take.
pub async fn prune(channel: Channel, args: PruneArgs) -> CliResult<i32> {
    super::prune::confirm(
        args.force,
        "This will remove all stopped containers.",
        "container prune",
    )?;
    let response = ContainersClient::new(channel)
        .prune(PruneContainersRequest {
            filters: args.filter,
        })
        .await?
        .into_inner();
    super::prune::report(
        "Containers",
        response.deleted,
        Some(response.space_reclaimed),
    );
    Ok(0)
}

/// A container's inspect document as JSON.
pub async fn inspect_json(
    client: &mut ContainersClient<Channel>,
    id: &str,
) -> CliResult<serde_json::Value> {
    let response = client
        .inspect(ContainerRef { id: id.to_string() })
        .await?
        .into_inner();
    serde_json::from_slice(&response.json)
        .map_err(|e| CliError::client(format!("malformed inspect document: {e}")))
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp, 443/tcp`.
pub fn ports_text(ports: &[hoist_api::proto::PortMapping]) -> String {
    ports
        .iter()
        .map(|p| {
            if p.host_port == 0 {
                format!("{}/{}", p.container_port, p.protocol)
            } else {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip, p.host_port, p.container_port, p.protocol
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// List port mappings or a specific mapping for the container
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container
    pub container: String,
    /// A private port (PORT[/PROTO])
    pub port: Option<String>,
}

/// Lists a container's published ports.
pub async fn port(channel: Channel, args: PortArgs) -> CliResult<i32> {
    let document = inspect_json(&mut ContainersClient::new(channel), &args.container).await?;
    let wanted = args.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    if let Some(ports) = document["NetworkSettings"]["Ports"].as_object() {
        for (port, bindings) in ports {
            if wanted.as_ref().is_some_and(|w| w != port) {
                continue;
            }
            for binding in bindings.as_array().into_iter().flatten() {
                found = true;
                let ip = binding["HostIp"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("0.0.0.0");
                let host_port = binding["HostPort"].as_str().unwrap_or("");
                if wanted.is_some() {
                    println!("{ip}:{host_port}");
                } else {
                    println!("{port} -> {ip}:{host_port}");
                }
            }
        }
    }
    if let (Some(port), false) = (wanted, found) {
        return Err(CliError::client(format!(
            "no public port '{port}' published for {}",
            args.container
        )));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys(None).unwrap(), vec![0x10, 0x11]);
        assert_eq!(
            parse_detach_keys(Some("ctrl-a,x")).unwrap(),
            vec![0x01, b'x']
        );
        assert!(parse_detach_keys(Some("ctrl-")).is_err());
        assert!(parse_detach_keys(Some("abc")).is_err());
    }

    #[test]
    fn log_times_parse_absolute_and_relative() {
        assert_eq!(
            parse_time("2026-11-23T08:00:00Z", "--since").unwrap(),
            1_795_420_800_000_000_000
        );
        assert_eq!(parse_time("100", "--since").unwrap(), 100_000_000_000);
        let relative = parse_time("10m", "--since").unwrap();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        assert!((now - relative - 600_000_000_000).abs() < 5_000_000_000);
        assert!(parse_time("yesterday", "--since").is_err());
    }
}

/// Display the running processes of a container
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container
    pub container: String,
    /// ps options (only the default -ef columns are supported)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Lists a container's processes.
pub async fn top(channel: Channel, args: TopArgs) -> CliResult<i32> {
    let response = ContainersClient::new(channel)
        .top(TopRequest {
            id: args.container,
            ps_args: args.ps_args,
        })
        .await?
        .into_inner();
    let titles: Vec<&str> = response.titles.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = response.processes.into_iter().map(|p| p.columns).collect();
    print_table(&titles, &rows);
    Ok(0)
}

/// Display a live stream of container(s) resource usage statistics
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running)
    pub containers: Vec<String>,
}

fn stats_item(s: &ContainerStats, no_trunc: bool) -> serde_json::Value {
    use hoist_api::units::{binary_size, human_size};
    let mem_percent = if s.memory_limit > 0 {
        s.memory_usage as f64 / s.memory_limit as f64 * 100.0
    } else {
        0.0
    };
    json!({
        "ID": if no_trunc { s.id.clone() } else { short_id(&s.id) },
        "Container": if no_trunc { s.id.clone() } else { short_id(&s.id) },
        "Name": s.name,
        "CPUPerc": format!("{:.2}%", s.cpu_percent),
        "MemUsage": format!("{} / {}", binary_size(s.memory_usage), binary_size(s.memory_limit)),
        "MemPerc": format!("{mem_percent:.2}%"),
        "NetIO": format!("{} / {}", human_size(s.net_rx), human_size(s.net_tx)),
        "BlockIO": format!("{} / {}", human_size(s.block_read), human_size(s.block_write)),
        "PIDs": s.pids.to_string(),
    })
}

/// Shows live resource usage.
pub async fn stats(channel: Channel, args: StatsArgs) -> CliResult<i32> {
    let mut client = ContainersClient::new(channel);
    let targets = if args.containers.is_empty() {
        let rows = client
            .list(ListContainersRequest {
                all: args.all,
                filters: Vec::new(),
                last: 0,
                size: false,
            })
            .await?
            .into_inner()
            .containers;
        rows.into_iter().map(|c| c.id).collect()
    } else {
        args.containers.clone()
    };
    let mut streams = Vec::new();
    for id in &targets {
        streams.push(
            client
                .stats(StatsRequest {
                    id: id.clone(),
                    stream: !args.no_stream,
                })
                .await?
                .into_inner(),
        );
    }
    let format = Format::parse(args.format.as_deref());
    let redraw = !args.no_stream && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut latest: Vec<Option<ContainerStats>> = vec![None; streams.len()];
    loop {
        let mut progressed = false;
        for (slot, stream) in latest.iter_mut().zip(streams.iter_mut()) {
            if let Some(sample) = stream.message().await? {
                *slot = Some(sample);
                progressed = true;
            }
        }
        let items: Vec<serde_json::Value> = latest
            .iter()
            .flatten()
            .map(|s| stats_item(s, args.no_trunc))
            .collect();
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        print_items(&format, &items, || {
            let keys = [
                "Container",
                "Name",
                "CPUPerc",
                "MemUsage",
                "MemPerc",
                "NetIO",
                "BlockIO",
                "PIDs",
            ];
            let rows: Vec<Vec<String>> = items.iter().map(|i| cells(i, &keys)).collect();
            print_table(
                &[
                    "CONTAINER ID",
                    "NAME",
                    "CPU %",
                    "MEM USAGE / LIMIT",
                    "MEM %",
                    "NET I/O",
                    "BLOCK I/O",
                    "PIDS",
                ],
                &rows,
            );
        })?;
        if args.no_stream || !progressed {
            return Ok(0);
        }
    }
}

/// Inspect changes to files or directories on a container's filesystem
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container
    pub container: String,
}

/// Lists what a container changed in its filesystem.
pub async fn diff(channel: Channel, args: DiffArgs) -> CliResult<i32> {
    let changes = ContainersClient::new(channel)
        .diff(ContainerRef { id: args.container })
        .await?
        .into_inner()
        .changes;
    for change in changes {
        let symbol = match change.kind {
            1 => 'A',
            2 => 'D',
            _ => 'C',
        };
        println!("{symbol} {}", change.path);
    }
    Ok(0)
}

/// Create a new image from a container's changes
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    /// The container
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

/// Makes an image from a container's changes.
pub async fn commit(channel: Channel, args: CommitArgs) -> CliResult<i32> {
    let request = CommitRequest {
        id: args.container,
        reference: args.reference.unwrap_or_default(),
        comment: args.message.unwrap_or_default(),
        author: args.author.unwrap_or_default(),
        changes: args.change,
        pause: args.pause,
    };
    println!(
        "{}",
        ContainersClient::new(channel)
            .commit(request)
            .await?
            .into_inner()
            .image_id
    );
    Ok(0)
}
