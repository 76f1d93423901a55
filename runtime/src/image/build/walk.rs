//! Walking a context directory: what `docker build` would send, as a
//! sorted list of entries.
//!
//! Symlinks are entries, never followed. Sockets, FIFOs and devices are
//! skipped with a warning. An excluded directory is still searched when an
//! exception could re-include something inside it; it is then sent only as
//! the parent of what was re-included, as BuildKit's fsutil does.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::context::ContextError;
use super::ignore::{IgnoreRules, ParentMatches};

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (a hard link is sent as a file of its own).
    File,
    /// A directory.
    Dir,
    /// A symbolic link, with its target as stored.
    Symlink(PathBuf),
}

/// One file, directory or symlink of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// The path relative to the context root.
    pub path: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits, with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes of a file; 0 for directories and symlinks.
    pub size: u64,
    /// Modification time, in seconds since the Unix epoch.
    pub mtime: i64,
}

impl ContextEntry {
    fn new(path: PathBuf, kind: EntryKind, meta: &fs::Metadata) -> Self {
        let size = if kind == EntryKind::File {
            meta.len()
        } else {
            0
        };
        ContextEntry {
            path,
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size,
            mtime: meta.mtime(),
        }
    }
}

/// A directory still to read: its relative path, that path as patterns
/// see it, and what it matched.
struct Pending {
    dir: PathBuf,
    text: String,
    matched: ParentMatches,
}

/// The entries of the context at `root` that `rules` let through, sorted
/// by path (component by component, so a directory comes before what it
/// holds).
pub(crate) fn walk(root: &Path, rules: &IgnoreRules) -> Result<Vec<ContextEntry>, ContextError> {
    let mut kept = Vec::new();
    // Excluded directories searched for re-included entries.
    let mut held: HashMap<PathBuf, ContextEntry> = HashMap::new();
    let mut stack = vec![Pending {
        dir: PathBuf::new(),
        text: String::new(),
        matched: ParentMatches::default(),
    }];
    while let Some(pending) = stack.pop() {
        let full = root.join(&pending.dir);
        let read_error = |source| ContextError::Read {
            path: full.clone(),
            source,
        };
        for item in fs::read_dir(&full).map_err(read_error)? {
            let name = item.map_err(read_error)?.file_name();
            let path = pending.dir.join(&name);
            let text = if pending.text.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{}/{}", pending.text, name.to_string_lossy())
            };
            let full_path = root.join(&path);
            let meta = fs::symlink_metadata(&full_path).map_err(|source| ContextError::Read {
                path: full_path.clone(),
                source,
            })?;
            let (excluded, matched) = rules.check(&text, &pending.matched);
            let file_type = meta.file_type();
            if file_type.is_dir() {
                if excluded && !rules.may_include_below(&text) {
                    continue;
                }
                let entry = ContextEntry::new(path.clone(), EntryKind::Dir, &meta);
                if excluded {
                    held.insert(path.clone(), entry);
                } else {
                    kept.push(entry);
                }
                stack.push(Pending {
                    dir: path,
                    text,
                    matched,
                });
            } else if excluded {
                continue;
            } else if file_type.is_file() {
                kept.push(ContextEntry::new(path, EntryKind::File, &meta));
            } else if file_type.is_symlink() {
                let target = fs::read_link(&full_path).map_err(|source| ContextError::Read {
                    path: full_path.clone(),
                    source,
                })?;
                kept.push(ContextEntry::new(path, EntryKind::Symlink(target), &meta));
            } else {
                tracing::warn!(
                    path = %full_path.display(),
                    "skipping a socket, FIFO or device in the build context: only files, directories and symlinks are sent"
                );
            }
        }
    }
    let mut parents = Vec::new();
    for entry in &kept {
        for ancestor in entry.path.ancestors().skip(1) {
            if let Some(dir) = held.remove(ancestor) {
                parents.push(dir);
            }
        }
    }
    kept.extend(parents);
    kept.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(kept)
}
