//! A container's filesystem changes, read from its overlay upper directory:
//! the list `docker diff` prints, the layer tar `docker commit` stores, and
//! the plain tree tar `docker export` streams.
//!
//! In an upper directory a deleted path is an overlay whiteout (a 0/0
//! character device) and a directory whose lower content is hidden carries
//! `trusted.overlay.opaque=y`. In a layer tar these are the OCI markers
//! `.wh.<name>` and `.wh..wh..opq`. The overlay work directory is a sibling
//! of the upper directory and never part of it.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::layer::{
    OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX, is_overlay_whiteout, xattr_get,
    xattr_list,
};
use super::tario::{CountingWriter, ExactReader};

/// Prefix of the xattrs overlayfs keeps for itself; they never go into a tar.
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// What happened to a path, as `docker diff` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// `C`: the path exists in the image and was changed (or something
    /// below it was).
    Modified,
    /// `A`: the path is new.
    Added,
    /// `D`: the path was removed.
    Deleted,
}

impl ChangeKind {
    /// The letter `docker diff` prints: `C`, `A` or `D`.
    pub fn symbol(self) -> char {
        match self {
            Self::Modified => 'C',
            Self::Added => 'A',
            Self::Deleted => 'D',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Absolute path in the container (`/etc/hostname`).
    pub path: String,
}

impl fmt::Display for Change {
    /// `C /etc`, as `docker diff` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.symbol(), self.path)
    }
}

/// The changes an overlay upper directory makes to its lower directories
/// (the image's layers, top first), sorted by path.
///
/// Every entry of `upper` is reported: as `Deleted` when it is a whiteout,
/// `Modified` when the lowers have the path, `Added` otherwise (so the
/// directories above a change show up as `C` or `A`). Below an opaque
/// directory, what the lowers have and the upper does not is `Deleted`.
pub fn changes(upper: &Path, lowers_top_first: &[PathBuf]) -> io::Result<Vec<Change>> {
    let lowers = Lowers(lowers_top_first);
    let mut out = Vec::new();
    // (directory relative to upper, whether the lowers are hidden below it)
    let mut stack = vec![(PathBuf::new(), false)];
    while let Some((dir, hidden)) = stack.pop() {
        let names = sorted_names(&upper.join(&dir))?;
        for name in &names {
            let relative = dir.join(name);
            let meta = fs::symlink_metadata(upper.join(&relative))?;
            if is_overlay_whiteout(&meta) {
                out.push(change(ChangeKind::Deleted, &relative));
                continue;
            }
            let kind = if lowers.lookup(&relative)?.is_empty() {
                ChangeKind::Added
            } else {
                ChangeKind::Modified
            };
            out.push(change(kind, &relative));
            if meta.is_dir() {
                let opaque = hidden || is_opaque(&upper.join(&relative))?;
                if opaque {
                    let inside: BTreeSet<OsString> =
                        sorted_names(&upper.join(&relative))?.into_iter().collect();
                    for gone in lowers.children(&relative)? {
                        if !inside.contains(&gone) {
                            out.push(change(ChangeKind::Deleted, &relative.join(&gone)));
                        }
                    }
                }
                stack.push((relative, opaque));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn change(kind: ChangeKind, relative: &Path) -> Change {
    Change {
        kind,
        path: format!("/{}", relative.to_string_lossy()),
    }
}

fn is_opaque(dir: &Path) -> io::Result<bool> {
    Ok(xattr_get(dir, OVERLAY_OPAQUE_XATTR)?.as_deref() == Some(b"y"))
}

/// The names in a directory, sorted byte-wise.
fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// The image's layers as overlayfs merges them.
struct Lowers<'a>(&'a [PathBuf]);

impl Lowers<'_> {
    /// The real paths that make up `relative` in the merged view, top
    /// first: none when the path does not exist, one for a non-directory,
    /// and for a directory every layer's directory down to the first opaque
    /// one.
    fn lookup(&self, relative: &Path) -> io::Result<Vec<PathBuf>> {
        let mut current: Vec<PathBuf> = self.0.to_vec();
        for part in relative.components() {
            let mut next = Vec::new();
            for base in &current {
                let path = base.join(part);
                let meta = match fs::symlink_metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if is_absent(&e) => continue,
                    Err(e) => return Err(e),
                };
                if is_overlay_whiteout(&meta) {
                    break;
                }
                if meta.is_dir() {
                    let opaque = is_opaque(&path)?;
                    next.push(path);
                    if opaque {
                        break;
                    }
                } else {
                    // A non-directory hides everything below it; below a
                    // directory it is itself hidden.
                    if next.is_empty() {
                        next.push(path);
                    }
                    break;
                }
            }
            current = next;
            if current.is_empty() {
                break;
            }
        }
        Ok(current)
    }

    /// The names the merged lowers show in the directory `relative`.
    fn children(&self, relative: &Path) -> io::Result<Vec<OsString>> {
        let mut visible = BTreeSet::new();
        let mut hidden = BTreeSet::new();
        for dir in self.lookup(relative)? {
            if !fs::symlink_metadata(&dir)?.is_dir() {
                break;
            }
            for name in sorted_names(&dir)? {
                if visible.contains(&name) || hidden.contains(&name) {
                    continue;
                }
                if is_overlay_whiteout(&fs::symlink_metadata(dir.join(&name))?) {
                    hidden.insert(name);
                } else {
                    visible.insert(name);
                }
            }
        }
        Ok(visible.into_iter().collect())
    }
}

fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Writes an overlay upper directory as an OCI layer tar (for `docker
/// commit`): whiteouts become `.wh.<name>` files, opaque directories get a
/// `.wh..wh..opq` entry, overlayfs' own xattrs are left out. Entries come
/// in sorted depth-first order, so equal trees give equal tars. Returns the
/// bytes written.
pub fn write_layer(upper: &Path, out: impl Write) -> io::Result<u64> {
    let counted = TreeWriter::new(upper, CountingWriter::new(out), true).write()?;
    Ok(counted.written())
}

/// Writes a directory tree as a tar (for `docker export` of a mounted root
/// filesystem), keeping ownership, modes, times, xattrs and hard links.
/// Symlinks are stored, never followed; sockets are skipped.
pub fn write_tree(root: &Path, out: impl Write) -> io::Result<()> {
    TreeWriter::new(root, out, false).write()?;
    Ok(())
}

/// Walks a tree and appends each entry to a tar.
struct TreeWriter<'a, W: Write> {
    root: &'a Path,
    tar: tar::Builder<W>,
    /// Turn overlay whiteouts and opaque markers into OCI ones.
    oci_whiteouts: bool,
    /// (device, inode) of multiply-linked files → their first path.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<'a, W: Write> TreeWriter<'a, W> {
    fn new(root: &'a Path, out: W, oci_whiteouts: bool) -> Self {
        Self {
            root,
            tar: tar::Builder::new(out),
            oci_whiteouts,
            links: HashMap::new(),
        }
    }

    /// Writes every entry under the root, then the end-of-archive marker.
    fn write(mut self) -> io::Result<W> {
        let mut stack: Vec<PathBuf> = Vec::new();
        push_children(&mut stack, self.root, Path::new(""))?;
        while let Some(relative) = stack.pop() {
            let full = self.root.join(&relative);
            let meta = fs::symlink_metadata(&full)?;
            self.append(&relative, &full, &meta)?;
            if meta.is_dir() {
                push_children(&mut stack, &full, &relative)?;
            }
        }
        self.tar.into_inner()
    }

    fn append(&mut self, relative: &Path, full: &Path, meta: &fs::Metadata) -> io::Result<()> {
        let kind = meta.file_type();
        let mut header = base_header(meta);
        if self.oci_whiteouts && is_overlay_whiteout(meta) {
            let mut name = OsString::from(WHITEOUT_PREFIX);
            name.push(relative.file_name().unwrap_or_default());
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o600);
            return self
                .tar
                .append_data(&mut header, sibling(relative, &name), io::empty());
        }
        if kind.is_socket() {
            return Ok(());
        }
        self.append_xattrs(full)?;
        if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            self.tar.append_data(&mut header, relative, io::empty())?;
            if self.oci_whiteouts && is_opaque(full)? {
                let mut marker = base_header(meta);
                marker.set_entry_type(tar::EntryType::Regular);
                self.tar
                    .append_data(&mut marker, relative.join(OPAQUE_WHITEOUT), io::empty())?;
            }
        } else if kind.is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            self.tar
                .append_link(&mut header, relative, fs::read_link(full)?)?;
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    header.set_entry_type(tar::EntryType::Link);
                    return self.tar.append_link(&mut header, relative, first);
                }
                self.links.insert(key, relative.to_path_buf());
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = ExactReader::new(File::open(full)?, meta.len(), full.display().to_string());
            self.tar.append_data(&mut header, relative, file)?;
        } else {
            header.set_entry_type(if kind.is_char_device() {
                tar::EntryType::Char
            } else if kind.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            let rdev = meta.rdev();
            header.set_device_major(device_number(nix::sys::stat::major(rdev))?)?;
            header.set_device_minor(device_number(nix::sys::stat::minor(rdev))?)?;
            self.tar.append_data(&mut header, relative, io::empty())?;
        }
        Ok(())
    }

    /// Appends a PAX header carrying the entry's xattrs (but overlayfs'),
    /// which applies to the entry appended next.
    fn append_xattrs(&mut self, full: &Path) -> io::Result<()> {
        let mut records = Vec::new();
        for name in xattr_list(full)? {
            if name.starts_with(OVERLAY_XATTR_PREFIX) {
                continue;
            }
            if let Some(value) = xattr_get(full, &name)? {
                records.extend(pax_record(&format!("SCHILY.xattr.{name}"), &value));
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut header = tar::Header::new_ustar();
        header.set_path("././@PaxHeader")?;
        header.set_entry_type(tar::EntryType::XHeader);
        header.set_size(records.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        self.tar.append(&header, &records[..])
    }
}

/// Pushes the children of `dir` (found at `relative`) so they pop in
/// sorted order.
fn push_children(stack: &mut Vec<PathBuf>, dir: &Path, relative: &Path) -> io::Result<()> {
    for name in sorted_names(dir)?.iter().rev() {
        stack.push(relative.join(name));
    }
    Ok(())
}

/// `relative`'s parent joined with `name`.
fn sibling(relative: &Path, name: &OsStr) -> PathBuf {
    relative.parent().unwrap_or(Path::new("")).join(name)
}

/// A header with the ownership, permission bits and mtime of `meta`.
fn base_header(meta: &fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    header
}

/// A device major or minor number as a tar header holds it.
fn device_number(n: u64) -> io::Result<u32> {
    u32::try_from(n)
        .map_err(|_| io::Error::other(format!("device number {n} does not fit a tar header")))
}

/// One PAX record: `<length> <key>=<value>\n`, the length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + rest.to_string().len();
    if len.to_string().len() + rest != len {
        len = rest + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

#[cfg(test)]
mod tests;
