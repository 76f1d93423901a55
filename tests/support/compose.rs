//! Compose projects for tests: a compose file written into the test
//! daemon's directory, and `hoist compose -f FILE …` argument lists.

use std::fs;
use std::path::{Path, PathBuf};

use super::Daemon;

/// Writes `text` as `<daemon dir>/<name>/compose.yaml`; returns its path.
pub fn project(daemon: &Daemon, name: &str, text: &str) -> PathBuf {
    let dir = daemon.dir.join(name);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("compose.yaml");
    fs::write(&file, text).unwrap();
    file
}

/// `compose -f FILE` followed by `args`.
pub fn compose<'a>(file: &'a Path, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["compose", "-f", file.to_str().unwrap()];
    all.extend_from_slice(args);
    all
}
