//! Progress of registry work (pull, push) as Docker's JSON messages carry
//! it: lines about the whole job, and where each layer is.

use tokio::sync::mpsc;

/// One progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A line about the whole job (`latest: Pulling from library/busybox`).
    Status(String),
    /// Where one layer is.
    Layer {
        /// The layer's short digest (12 hex digits).
        id: String,
        /// Docker's words: `Pulling fs layer`, `Downloading`, `Pull
        /// complete`, `Already exists`; `Preparing`, `Pushing`, `Pushed`,
        /// `Layer already exists`, `Mounted from …`.
        status: String,
        /// Bytes done (transfers).
        current: u64,
        /// Bytes in all (transfers).
        total: u64,
    },
}

/// Sends events (pull, push, build); a listener that went away is not an
/// error.
#[derive(Debug, Clone)]
pub struct Events(pub mpsc::UnboundedSender<ProgressEvent>);

impl Events {
    /// A line about the whole job.
    pub fn status(&self, line: String) {
        let _ = self.0.send(ProgressEvent::Status(line));
    }

    /// Where the layer `digest` is.
    pub fn layer(&self, digest: &str, status: impl Into<String>, current: u64, total: u64) {
        let _ = self.0.send(ProgressEvent::Layer {
            id: short(digest),
            status: status.into(),
            current,
            total,
        });
    }
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex[..hex.len().min(12)].to_string()
}
