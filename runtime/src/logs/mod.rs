//! Container logs in Docker's json-file format: one JSON object per line
//! (`{"log":"hello\n","stream":"stdout","time":"…"}`, with `attrs` when
//! `--log-opt labels=`, `env=` or `tag=` ask for them), rotated by size,
//! the rotated files gzip-compressed with `--log-opt compress=true`.
//!
//! The shim writes them ([`writer`]); the daemon reads them ([`reader`]),
//! while the container runs and after it exits.

pub mod reader;
pub mod writer;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a container's log goes and how it rotates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// The current file; rotated ones are `<path>.1` (newest) … `<path>.N`.
    pub path: PathBuf,
    /// Rotate when the file would exceed this many bytes; 0 never rotates.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_files: u32,
    /// What every entry carries as Docker's `attrs` (the labels, variables
    /// and tag `--log-opt` names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    /// Whether rotated files are gzip-compressed (`<path>.N.gz`).
    #[serde(default)]
    pub compress: bool,
}

/// Default `max-size` when none is given: 10 MiB. Docker's json-file
/// default is unlimited, which fills disks; hoist rotates by default.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// Default `max-file`.
pub const DEFAULT_MAX_FILES: u32 = 3;

impl LogOptions {
    /// Every file of the log, oldest first.
    pub fn files_oldest_first(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = (1..self.max_files.max(1))
            .rev()
            .map(|n| rotated(&self.path, n))
            .collect();
        files.push(self.path.clone());
        files
    }
}

/// `<path>.<n>`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// `<path>.gz`: a rotated file, compressed.
pub fn compressed(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".gz");
    PathBuf::from(name)
}

/// Which output stream an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output (also everything from a terminal).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a json-file log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JsonLine<'a> {
    log: Cow<'a, str>,
    stream: Stream,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attrs: Cow<'a, BTreeMap<String, String>>,
    time: Cow<'a, str>,
}
