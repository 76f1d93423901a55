//! `hoist service logs`: the logs of a service's or a task's containers,
//! gathered across the cluster by the leader's log broker, each line
//! prefixed as Docker's (`web.1.<task>@<node>    | `). A container's
//! stdout goes to stdout, its stderr to stderr; nodes that cannot answer
//! are named in warnings on stderr.

use std::collections::HashMap;
use std::io::Write;

use clap::Args;
use hoist_api::cluster_proto::services_client::ServicesClient;
use hoist_api::cluster_proto::{LogStream, LogTask, ServiceLogLine, ServiceLogsRequest};
use tonic::transport::Channel;

use crate::commands::container::log_window;
use crate::exit::CliResult;
use crate::format::short_id;

/// Fetch the logs of a service or task
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs (accepted; there are none)
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Do not map IDs to names in output
    #[arg(long = "no-resolve")]
    pub no_resolve: bool,
    /// Do not include task IDs in output
    #[arg(long = "no-task-ids")]
    pub no_task_ids: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Do not neatly format logs
    #[arg(long)]
    pub raw: bool,
    /// Show logs since timestamp (RFC 3339) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs ("all" for everything)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// The service or task
    pub target: String,
}

/// How lines are shown.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    no_resolve: bool,
    no_task_ids: bool,
    no_trunc: bool,
    raw: bool,
    timestamps: bool,
}

impl Style {
    /// `service.slot.task@node` (or with the node's ID for a global
    /// service's slot), as Docker names a task in its logs.
    fn prefix(&self, task: &LogTask) -> String {
        let service = if self.no_resolve {
            &task.service_id
        } else {
            &task.service_name
        };
        let mut name = if task.slot == 0 {
            format!("{service}.{}", task.node_id)
        } else {
            format!("{service}.{}", task.slot)
        };
        if !self.no_task_ids {
            name.push('.');
            name.push_str(&if self.no_trunc {
                task.task_id.clone()
            } else {
                short_id(&task.task_id)
            });
        }
        let node = if self.no_resolve || task.node_hostname.is_empty() {
            &task.node_id
        } else {
            &task.node_hostname
        };
        format!("{name}@{node}")
    }
}

/// Formats complete lines; keeps what a container wrote without a newline
/// until the rest arrives.
#[derive(Debug, Default)]
struct Printer {
    style: Style,
    /// Prefixes by task ID.
    prefixes: HashMap<String, String>,
    /// The widest prefix, to align the lines.
    width: usize,
    /// Unfinished lines by task and stream, with the time of their start.
    partial: HashMap<(String, i32), (i64, Vec<u8>)>,
}

impl Printer {
    fn new(style: Style) -> Self {
        Self {
            style,
            ..Self::default()
        }
    }

    fn tasks(&mut self, tasks: &[LogTask]) {
        for task in tasks {
            let prefix = self.style.prefix(task);
            self.width = self.width.max(prefix.chars().count());
            self.prefixes.insert(task.task_id.clone(), prefix);
        }
    }

    /// The complete lines `line` finishes, formatted, with whether they
    /// go to stderr.
    fn lines(&mut self, line: ServiceLogLine) -> (bool, Vec<u8>) {
        let stderr = line.stream == LogStream::Stderr as i32;
        let key = (line.task_id, line.stream);
        let (mut time, mut buffer) = self.partial.remove(&key).unwrap_or((line.time, Vec::new()));
        buffer.extend_from_slice(&line.data);
        let mut out = Vec::new();
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let text: Vec<u8> = buffer.drain(..=end).collect();
            self.format(&key.0, time, &text[..end], &mut out);
            time = line.time;
        }
        if !buffer.is_empty() {
            self.partial.insert(key, (time, buffer));
        }
        (stderr, out)
    }

    /// Every unfinished line, as if it had ended.
    fn rest(&mut self) -> Vec<(bool, Vec<u8>)> {
        let partial: Vec<_> = self.partial.drain().collect();
        partial
            .into_iter()
            .map(|((task_id, stream), (time, text))| {
                let mut out = Vec::new();
                self.format(&task_id, time, &text, &mut out);
                (stream == LogStream::Stderr as i32, out)
            })
            .collect()
    }

    fn format(&self, task_id: &str, time: i64, text: &[u8], out: &mut Vec<u8>) {
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if !self.style.raw {
            let prefix = self
                .prefixes
                .get(task_id)
                .cloned()
                .unwrap_or_else(|| short_id(task_id));
            out.extend_from_slice(format!("{prefix:<0$}    | ", self.width).as_bytes());
        }
        if self.style.timestamps {
            let time = chrono::DateTime::from_timestamp_nanos(time)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            out.extend_from_slice(format!("{time} ").as_bytes());
        }
        out.extend_from_slice(text);
        out.push(b'\n');
    }
}

fn write(stderr: bool, bytes: &[u8]) {
    let result = if stderr {
        let mut err = std::io::stderr();
        err.write_all(bytes).and_then(|()| err.flush())
    } else {
        let mut out = std::io::stdout();
        out.write_all(bytes).and_then(|()| out.flush())
    };
    // A closed pipe (`| head`) is not an error of ours.
    drop(result);
}

/// Prints the logs `args` ask for, until they end (or, following, until
/// interrupted).
pub async fn run(client: &mut ServicesClient<Channel>, args: LogsArgs) -> CliResult<i32> {
    let (tail, since, _) = log_window(&args.tail, args.since.as_deref(), None)?;
    let mut printer = Printer::new(Style {
        no_resolve: args.no_resolve,
        no_task_ids: args.no_task_ids,
        no_trunc: args.no_trunc,
        raw: args.raw,
        timestamps: args.timestamps,
    });
    let mut stream = client
        .logs(ServiceLogsRequest {
            targets: vec![args.target],
            follow: args.follow,
            tail,
            since,
        })
        .await?
        .into_inner();
    while let Some(message) = stream.message().await? {
        printer.tasks(&message.tasks);
        for line in message.lines {
            let (stderr, out) = printer.lines(line);
            if !out.is_empty() {
                write(stderr, &out);
            }
        }
        for warning in message.warnings {
            eprintln!("Warning: {warning}");
        }
    }
    for (stderr, out) in printer.rest() {
        write(stderr, &out);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, slot: u64, node: &str) -> LogTask {
        LogTask {
            task_id: id.into(),
            service_id: "svc0123456789".into(),
            service_name: "web".into(),
            slot,
            node_id: format!("{node}-id"),
            node_hostname: node.into(),
        }
    }

    fn line(task: &str, data: &str, stream: LogStream) -> ServiceLogLine {
        ServiceLogLine {
            task_id: task.into(),
            stream: stream as i32,
            time: 1_700_000_000_123_456_789,
            data: data.as_bytes().to_vec(),
            ..ServiceLogLine::default()
        }
    }

    #[test]
    fn lines_are_prefixed_as_docker_does_and_aligned() {
        let mut printer = Printer::new(Style::default());
        printer.tasks(&[
            task("aaaaaaaaaaaaaaaaaaaa", 1, "h1"),
            task("bbbbbbbbbbbbbbbbbbbb", 10, "h22"),
        ]);
        let (stderr, out) = printer.lines(line("aaaaaaaaaaaaaaaaaaaa", "hi\n", LogStream::Stdout));
        assert!(!stderr);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "web.1.aaaaaaaaaaaa@h1      | hi\n"
        );
        let (stderr, out) =
            printer.lines(line("bbbbbbbbbbbbbbbbbbbb", "oops\n", LogStream::Stderr));
        assert!(stderr);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "web.10.bbbbbbbbbbbb@h22    | oops\n"
        );
    }

    #[test]
    fn options_change_the_prefix_and_add_timestamps() {
        let global = task("aaaaaaaaaaaaaaaaaaaa", 0, "h1");
        let style = Style {
            no_task_ids: true,
            ..Style::default()
        };
        assert_eq!(style.prefix(&global), "web.h1-id@h1");
        let style = Style {
            no_trunc: true,
            no_resolve: true,
            ..Style::default()
        };
        assert_eq!(
            style.prefix(&task("aaaaaaaaaaaaaaaaaaaa", 2, "h1")),
            "svc0123456789.2.aaaaaaaaaaaaaaaaaaaa@h1-id"
        );
        let mut printer = Printer::new(Style {
            raw: true,
            timestamps: true,
            ..Style::default()
        });
        printer.tasks(&[global]);
        let (_, out) = printer.lines(line("aaaaaaaaaaaaaaaaaaaa", "x\r\n", LogStream::Stdout));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2023-11-14T22:13:20.123456789Z x\n"
        );
    }

    #[test]
    fn a_line_in_pieces_is_printed_once_complete_and_the_rest_at_the_end() {
        let mut printer = Printer::new(Style {
            raw: true,
            ..Style::default()
        });
        let (_, out) = printer.lines(line("t", "hel", LogStream::Stdout));
        assert!(out.is_empty());
        let (_, out) = printer.lines(line("t", "lo\nwor", LogStream::Stdout));
        assert_eq!(out, b"hello\n");
        let rest = printer.rest();
        assert_eq!(rest, vec![(false, b"wor\n".to_vec())]);
    }
}
