//! Docker Compose's progress lines (` Container demo-web-1  Started`) on
//! standard error. On a terminal they form one block that is redrawn in
//! place as resources change state, under a `[+] Running 2/3` header;
//! elsewhere each change is one plain line.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// What a progress line is about.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// A container.
    Container,
    /// A service (its image build).
    Service,
    /// An image.
    Image,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Network => "Network",
            Kind::Volume => "Volume",
            Kind::Container => "Container",
            Kind::Service => "Service",
            Kind::Image => "Image",
        }
    }
}

/// Statuses after which a resource has nothing more to do.
const DONE: [&str; 16] = [
    "Created",
    "Started",
    "Healthy",
    "Running",
    "Exited",
    "Stopped",
    "Removed",
    "Recreated",
    "Restarted",
    "Killed",
    "Paused",
    "Unpaused",
    "Built",
    "Pulled",
    "Pushed",
    "Skipped - No image to be pulled",
];

/// One resource's line in the block.
struct Line {
    text: String,
    status: String,
    started: Instant,
    /// When it reached a done status (its time stops there).
    finished: Option<Instant>,
}

/// The block being drawn on the terminal.
struct Block {
    lines: Vec<Line>,
    /// Rows drawn last time (to move back over).
    drawn: usize,
}

static BLOCK: Mutex<Option<Block>> = Mutex::new(None);

fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Reports that a resource reached `status`.
pub fn event(kind: Kind, name: &str, status: &str) {
    let text = format!("{} {name}", kind.label());
    if !on_terminal() {
        eprintln!(" {text}  {status}");
        return;
    }
    let mut guard = BLOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let block = guard.get_or_insert_with(|| Block {
        lines: Vec::new(),
        drawn: 0,
    });
    let finished = DONE.contains(&status).then(Instant::now);
    match block.lines.iter_mut().find(|l| l.text == text) {
        Some(line) => {
            line.status = status.to_string();
            line.finished = finished;
        }
        None => block.lines.push(Line {
            text,
            status: status.to_string(),
            started: Instant::now(),
            finished,
        }),
    }
    redraw(block);
}

/// A warning: above the block on a terminal, a plain line otherwise.
pub fn warn(message: &str) {
    let text = format!("WARN[0000] {message}");
    let mut guard = BLOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match guard.as_mut() {
        Some(block) if on_terminal() => {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{}\r\x1b[J{text}\n", up(block.drawn));
            block.drawn = 0;
            redraw(block);
        }
        _ => eprintln!("{text}"),
    }
}

/// Ends the block: what follows (logs, build output) prints below it,
/// and the next event starts a new block.
pub fn finish() {
    let mut guard = BLOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = None;
}

/// `\x1b[<n>A`, or nothing for 0.
fn up(rows: usize) -> String {
    if rows == 0 {
        String::new()
    } else {
        format!("\x1b[{rows}A")
    }
}

fn redraw(block: &mut Block) {
    let done = block.lines.iter().filter(|l| l.finished.is_some()).count();
    let width = block.lines.iter().map(|l| l.text.len()).max().unwrap_or(0);
    let mut out = format!("{}\r\x1b[J", up(block.drawn));
    out.push_str(&format!("[+] Running {done}/{}\n", block.lines.len()));
    for line in &block.lines {
        let mark = if line.finished.is_some() {
            "\u{2714}"
        } else {
            " "
        };
        let end = line.finished.unwrap_or_else(Instant::now);
        let seconds = end.duration_since(line.started).as_secs_f32();
        out.push_str(&format!(
            " {mark} {:<width$}  {:<10} {seconds:>5.1}s\n",
            line.text, line.status
        ));
    }
    block.drawn = block.lines.len() + 1;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
}
