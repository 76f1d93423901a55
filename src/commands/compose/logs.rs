//! `hoist compose logs`, and the output of an attached `up`: every
//! container's lines prefixed with its service and number (`web-1 | …`),
//! the prefixes padded to one width and, on a terminal, coloured per
//! service, as Docker Compose prints them.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use clap::Args;
use hoist_api::proto::{ContainerSummary, LogEntry};
use hoist_compose::plan::labels;
use tokio::task::JoinSet;

use super::engine::{Engine, LogQuery};
use crate::commands::container::log_window;
use crate::exit::{CliError, CliResult};

/// Docker Compose's prefix colours, in the order services get them.
const PALETTE: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// View output from containers
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    until: Option<String>,
    /// Produce monochrome output
    #[arg(long = "no-color")]
    no_color: bool,
    /// Don't print prefix in logs
    #[arg(long = "no-log-prefix")]
    no_log_prefix: bool,
    /// Index of the container if the service has multiple replicas
    #[arg(long)]
    index: Option<u32>,
    /// Services whose logs to show (default: all)
    services: Vec<String>,
}

/// How lines are printed.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colour the prefixes (a terminal, and no `--no-color`).
    pub colour: bool,
    /// Print the `web-1 |` prefix.
    pub prefix: bool,
    /// Print each line's time.
    pub timestamps: bool,
}

impl Style {
    /// Colours only on a terminal, and never with `no_color`.
    pub fn new(no_color: bool, no_prefix: bool, timestamps: bool) -> Self {
        Self {
            colour: !no_color && std::io::stdout().is_terminal(),
            prefix: !no_prefix,
            timestamps,
        }
    }
}

/// Prints the lines of many containers, whole lines at a time.
pub struct Printer {
    style: Style,
    width: usize,
    colours: BTreeMap<String, &'static str>,
    out: Mutex<std::io::Stdout>,
}

impl Printer {
    /// A printer for `containers`: prefixes as wide as the longest name,
    /// one colour per service.
    pub fn new(style: Style, containers: &[ContainerSummary]) -> Self {
        let width = containers
            .iter()
            .map(|c| display_name(c).len())
            .max()
            .unwrap_or(0)
            + 1;
        let mut colours = BTreeMap::new();
        for container in containers {
            let service = service_of(container);
            let next = PALETTE[colours.len() % PALETTE.len()];
            colours.entry(service).or_insert(next);
        }
        Self {
            style,
            width,
            colours,
            out: Mutex::new(std::io::stdout()),
        }
    }

    /// `web-1 |`, padded and coloured.
    fn prefix(&self, container: &ContainerSummary, separator: &str) -> String {
        let text = format!(
            "{:<width$}{separator}",
            display_name(container),
            width = self.width
        );
        match self.colours.get(&service_of(container)) {
            Some(colour) if self.style.colour => format!("\x1b[{colour}m{text}\x1b[0m"),
            _ => text,
        }
    }

    /// Prints one line (without its newline) of `container`.
    fn line(&self, container: &ContainerSummary, time: i64, line: &[u8]) {
        let mut text = Vec::with_capacity(line.len() + self.width + 40);
        if self.style.prefix {
            text.extend_from_slice(self.prefix(container, "| ").as_bytes());
        }
        if self.style.timestamps {
            let time = chrono::DateTime::from_timestamp_nanos(time)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            text.extend_from_slice(time.as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(line);
        text.push(b'\n');
        self.write(&text);
    }

    /// `web-1 exited with code 0`.
    pub fn exited(&self, container: &ContainerSummary, code: i32) {
        let name = if self.style.prefix {
            self.prefix(container, "")
        } else {
            display_name(container)
        };
        self.write(format!("{} exited with code {code}\n", name.trim_end()).as_bytes());
    }

    fn write(&self, bytes: &[u8]) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

/// What Docker Compose calls a container in its output: `web-1`, or the
/// container's own name when it has no service number.
pub fn display_name(container: &ContainerSummary) -> String {
    match (
        container.labels.get(labels::SERVICE),
        container.labels.get(labels::NUMBER),
    ) {
        (Some(service), Some(number)) => format!("{service}-{number}"),
        _ => container.name.clone(),
    }
}

fn service_of(container: &ContainerSummary) -> String {
    container
        .labels
        .get(labels::SERVICE)
        .cloned()
        .unwrap_or_else(|| container.name.clone())
}

/// Streams one container's log through `printer` until it ends (with a
/// follow: until the container stops). Standard output and error both go
/// to standard output, as in Docker Compose.
pub async fn print_log(
    engine: &Engine,
    printer: &Printer,
    container: &ContainerSummary,
    query: LogQuery,
) -> CliResult {
    let mut stream = engine.logs(&container.id, query).await?;
    let mut partial: Vec<u8> = Vec::new();
    let mut last_time = 0;
    while let Some(LogEntry { data, time, .. }) = stream.message().await? {
        last_time = time;
        partial.extend_from_slice(&data);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            printer.line(container, time, strip_return(&line[..line.len() - 1]));
        }
    }
    if !partial.is_empty() {
        printer.line(container, last_time, strip_return(&partial));
    }
    Ok(())
}

/// A line without the `\r` a terminal-style writer leaves before `\n`.
fn strip_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Runs `logs` for a project.
pub async fn logs(engine: Engine, project: &str, args: LogsArgs) -> CliResult<i32> {
    let (tail, since, until) = log_window(&args.tail, args.since.as_deref(), args.until.as_deref())
        .map_err(|e| CliError::client(e.message))?;
    let query = LogQuery {
        follow: args.follow,
        tail,
        since,
        until,
    };
    let containers: Vec<ContainerSummary> = engine
        .project_containers(project, true)
        .await?
        .into_iter()
        .filter(|c| {
            let service = service_of(c);
            (args.services.is_empty() || args.services.contains(&service))
                && args.index.is_none_or(|i| {
                    c.labels.get(labels::NUMBER).map(String::as_str) == Some(i.to_string().as_str())
                })
        })
        .collect();
    let printer = Arc::new(Printer::new(
        Style::new(args.no_color, args.no_log_prefix, args.timestamps),
        &containers,
    ));
    let mut tasks = JoinSet::new();
    for container in containers {
        let (engine, printer) = (engine.clone(), printer.clone());
        tasks.spawn(async move { print_log(&engine, &printer, &container, query).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| CliError::client(format!("a log task failed: {e}")))??;
    }
    Ok(0)
}
