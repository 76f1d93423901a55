//! The build cache key of a COPY or ADD: a digest of what its sources would
//! copy, blind to mtimes, so an unchanged context hits the cache.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::sources::{MatchedSource, SourceError};
use crate::image::tario::{ExactReader, HashingWriter};

/// `sha256:<hex>` over the `matched` sources under `root`, in order: each
/// one's name, then for it and everything inside it (depth first, names
/// sorted) the relative path, file type and mode, owner, symlink target
/// and file content. File contents are streamed, never held whole.
pub fn content_hash(root: &Path, matched: &[MatchedSource]) -> Result<String, SourceError> {
    let mut hasher = HashingWriter::new(io::sink());
    for source in matched {
        let base = root.join(&source.resolved);
        let name = source.path.as_os_str().as_bytes();
        hash_record(&mut hasher, b'n', name).map_err(|e| read_error(&base, e))?;
        hash_tree(&mut hasher, &base)?;
    }
    Ok(hasher.finish().0)
}

/// Hashes `base` and, if it is a directory, all it holds, without
/// following symlinks.
fn hash_tree(hasher: &mut impl Write, base: &Path) -> Result<(), SourceError> {
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let full = if relative.as_os_str().is_empty() {
            base.to_path_buf()
        } else {
            base.join(&relative)
        };
        let meta = fs::symlink_metadata(&full).map_err(|e| read_error(&full, e))?;
        hash_entry(hasher, &relative, &full, &meta).map_err(|e| read_error(&full, e))?;
        if meta.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(&full).map_err(|e| read_error(&full, e))? {
                names.push(entry.map_err(|e| read_error(&full, e))?.file_name());
            }
            names.sort();
            stack.extend(names.into_iter().rev().map(|name| relative.join(name)));
        }
    }
    Ok(())
}

/// Hashes one entry: `e`, its path, mode (with the file type), uid and gid,
/// then a symlink's target or a file's content.
fn hash_entry(
    hasher: &mut impl Write,
    relative: &Path,
    full: &Path,
    meta: &fs::Metadata,
) -> io::Result<()> {
    hash_record(hasher, b'e', relative.as_os_str().as_bytes())?;
    hasher.write_all(&meta.mode().to_le_bytes())?;
    hasher.write_all(&meta.uid().to_le_bytes())?;
    hasher.write_all(&meta.gid().to_le_bytes())?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        hash_record(hasher, b'l', fs::read_link(full)?.as_os_str().as_bytes())?;
    } else if kind.is_file() {
        hasher.write_all(b"f")?;
        hasher.write_all(&meta.len().to_le_bytes())?;
        let file = File::open(full)?;
        io::copy(
            &mut ExactReader::new(file, meta.len(), full.display().to_string()),
            hasher,
        )?;
    }
    Ok(())
}

/// Hashes a tag and a length-prefixed byte string, so no two sequences of
/// records hash the same bytes.
fn hash_record(hasher: &mut impl Write, tag: u8, bytes: &[u8]) -> io::Result<()> {
    hasher.write_all(&[tag])?;
    hasher.write_all(&(bytes.len() as u64).to_le_bytes())?;
    hasher.write_all(bytes)
}

fn read_error(path: &Path, source: io::Error) -> SourceError {
    SourceError::Read {
        path: path.to_path_buf(),
        source,
    }
}
