//! Docker-style progress of long work (pull, later push and build): on a
//! terminal one line per layer, redrawn in place with a bar; elsewhere
//! plain lines, one per change of state, no bars.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use hoist_api::proto::ProgressMessage;
use hoist_api::units::human_size;

/// Width of the `[====>   ]` bar, as Docker draws it.
const BAR_WIDTH: u64 = 50;

/// Draws progress messages on stdout or stderr.
pub struct Progress {
    out: Box<dyn Write + Send>,
    terminal: bool,
    /// Layer id → its line number among the layer lines.
    lines: HashMap<String, usize>,
    /// Lines printed since the first layer line (to move the cursor).
    printed: usize,
    /// Last status printed per layer (plain mode skips repeats).
    last: HashMap<String, String>,
}

impl Progress {
    /// Draws on stdout (`pull`), or stderr (a `run` that pulls first).
    pub fn new(to_stderr: bool) -> Self {
        let (out, terminal): (Box<dyn Write + Send>, bool) = if to_stderr {
            (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
        } else {
            (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
        };
        Self {
            out,
            terminal,
            lines: HashMap::new(),
            printed: 0,
            last: HashMap::new(),
        }
    }

    /// Shows one message.
    pub fn show(&mut self, message: &ProgressMessage) {
        let _ = if message.id.is_empty() {
            self.printed += 1;
            writeln!(self.out, "{}", message.status)
        } else if self.terminal {
            self.redraw(message)
        } else {
            self.plain(message)
        };
        let _ = self.out.flush();
    }

    fn plain(&mut self, message: &ProgressMessage) -> std::io::Result<()> {
        if message.status == "Downloading" || self.last.get(&message.id) == Some(&message.status) {
            return Ok(());
        }
        self.last.insert(message.id.clone(), message.status.clone());
        writeln!(self.out, "{}: {}", message.id, message.status)
    }

    fn redraw(&mut self, message: &ProgressMessage) -> std::io::Result<()> {
        let text = format!("{}: {}", message.id, describe(message));
        match self.lines.get(&message.id) {
            Some(&line) => {
                let up = self.printed - line;
                write!(self.out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
            }
            None => {
                self.lines.insert(message.id.clone(), self.printed);
                self.printed += 1;
                writeln!(self.out, "{text}")
            }
        }
    }
}

/// Shows a job's progress (unless `quiet`) until the daemon ends the
/// stream; its error, if any, is the command's. Returns the lines about
/// the whole job (a command may read its result from them).
pub async fn follow(
    mut stream: tonic::Streaming<ProgressMessage>,
    quiet: bool,
    to_stderr: bool,
) -> Result<Vec<String>, tonic::Status> {
    let mut progress = Progress::new(to_stderr);
    let mut lines = Vec::new();
    while let Some(message) = stream.message().await? {
        if !quiet {
            progress.show(&message);
        }
        if message.id.is_empty() {
            lines.push(message.status);
        }
    }
    Ok(lines)
}

/// `Downloading [=====>      ]  1.2MB/4.5MB`, or the status alone.
fn describe(message: &ProgressMessage) -> String {
    if message.total == 0 || message.status != "Downloading" {
        return message.status.clone();
    }
    let done = (message.current.min(message.total) * BAR_WIDTH) / message.total;
    let mut bar = "=".repeat(done as usize);
    if done < BAR_WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat((BAR_WIDTH - done - 1) as usize));
    }
    format!(
        "{} [{bar}] {:>8}/{}",
        message.status,
        human_size(message.current),
        human_size(message.total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_with_progress() {
        let message = |current| ProgressMessage {
            id: "abc".into(),
            status: "Downloading".into(),
            current,
            total: 100,
        };
        let half = describe(&message(50));
        assert!(
            half.starts_with("Downloading [=========================>"),
            "{half}"
        );
        let full = describe(&message(100));
        assert!(full.contains(&format!("[{}]", "=".repeat(50))), "{full}");
        let done = ProgressMessage {
            status: "Pull complete".into(),
            ..message(100)
        };
        assert_eq!(describe(&done), "Pull complete");
    }
}
