//! An image archive unpacked into a temporary directory, with the digest
//! of every file, so that a stream can be read once and its documents and
//! blobs then looked up by name.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use oci_spec::image::{Descriptor, DigestAlgorithm};
use serde::de::DeserializeOwned;

use super::ArchiveError;
use crate::fsutil::{clean_relative, remove_all};
use crate::image::layer::{LayerError, decompressed};
use crate::image::store::ImageError;
use crate::image::tario::HashingWriter;

/// How many links a path may go through before it counts as a loop.
const MAX_LINK_HOPS: usize = 32;

/// A regular file of the archive, on disk in the spool.
#[derive(Debug, Clone)]
pub(super) struct SpoolFile {
    /// Its path in the archive (for messages).
    pub name: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// `sha256:<hex>` of its content.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// The unpacked archive; its directory is removed when it is dropped.
pub(super) struct Spool {
    root: PathBuf,
    /// Regular files by path in the archive: their digest and size.
    files: BTreeMap<PathBuf, (String, u64)>,
    /// Symbolic and hard links by path in the archive → the path they name.
    links: BTreeMap<PathBuf, PathBuf>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = remove_all(&self.root) {
            tracing::warn!("cannot remove {}: {e}", self.root.display());
        }
    }
}

impl Spool {
    /// Unpacks the tar `input` (maybe gzip-compressed) into the new
    /// directory `dir` and checks that every `blobs/sha256/<hex>` file
    /// hashes to its name.
    pub(super) fn extract(dir: PathBuf, input: impl Read) -> Result<Self, ImageError> {
        fs::create_dir_all(&dir)?;
        let mut spool = Self {
            root: dir,
            files: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        let input = decompressed(input).map_err(|e| match e {
            LayerError::Io(e) => ArchiveError::Read(e),
            LayerError::UnsupportedCompression(kind) => ArchiveError::invalid(
                "the archive",
                format!("it is {kind}-compressed, which hoist does not read; use gzip or none"),
            ),
            other => ArchiveError::invalid("the archive", other),
        })?;
        let mut archive = tar::Archive::new(input);
        for entry in archive.entries().map_err(ArchiveError::Read)? {
            let mut entry = entry.map_err(ArchiveError::Read)?;
            let raw = entry.path().map_err(ArchiveError::Read)?.into_owned();
            let path = clean_relative(&raw).ok_or_else(|| {
                ArchiveError::invalid(raw.display().to_string(), "the path leaves the archive")
            })?;
            if path.as_os_str().is_empty() {
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_file() {
                let want = entry.size();
                spool.write_file(&path, &mut entry, want)?;
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(ArchiveError::Read)?
                    .unwrap_or_default()
                    .into_owned();
                // A symlink is relative to its directory, a hard link to the
                // archive's root.
                let base = if kind.is_symlink() {
                    path.parent().unwrap_or(Path::new(""))
                } else {
                    Path::new("")
                };
                if let Some(target) = normalise(&base.join(target)) {
                    spool.links.insert(path, target);
                }
            }
        }
        spool.check_blobs()?;
        Ok(spool)
    }

    /// Copies one file of `want` bytes out of the archive, hashing it.
    fn write_file(
        &mut self,
        path: &Path,
        entry: &mut impl Read,
        want: u64,
    ) -> Result<(), ImageError> {
        let on_disk = self.root.join(path);
        if let Some(parent) = on_disk.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut writer = HashingWriter::new(File::create(&on_disk)?);
        let got = io::copy(entry, &mut writer).map_err(ArchiveError::Read)?;
        if got != want {
            return Err(ArchiveError::Truncated {
                path: path.display().to_string(),
                got,
                want,
            }
            .into());
        }
        let (digest, _) = writer.finish();
        self.files.insert(path.to_path_buf(), (digest, got));
        Ok(())
    }

    /// Every `blobs/sha256/<hex>` must hash to `<hex>`.
    fn check_blobs(&self) -> Result<(), ArchiveError> {
        let blobs = Path::new("blobs/sha256");
        for (path, (digest, _)) in &self.files {
            let Ok(name) = path.strip_prefix(blobs) else {
                continue;
            };
            let declared = format!("sha256:{}", name.display());
            if *digest != declared {
                return Err(ArchiveError::DigestMismatch {
                    what: path.display().to_string(),
                    declared,
                    actual: digest.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether the archive has `name` (a file, or a link to one).
    pub(super) fn has(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    fn resolve(&self, name: &str) -> Option<(PathBuf, &(String, u64))> {
        let mut path = clean_relative(Path::new(name))?;
        for _ in 0..MAX_LINK_HOPS {
            if let Some(info) = self.files.get(&path) {
                return Some((path, info));
            }
            path = self.links.get(&path)?.clone();
        }
        None
    }

    /// The regular file `name` (following links), which `named_by` says is
    /// in the archive.
    pub(super) fn file(&self, name: &str, named_by: &str) -> Result<SpoolFile, ArchiveError> {
        let (path, (digest, size)) = self.resolve(name).ok_or_else(|| ArchiveError::Missing {
            path: name.to_string(),
            named_by: named_by.to_string(),
        })?;
        Ok(SpoolFile {
            name: name.to_string(),
            path: self.root.join(path),
            digest: digest.clone(),
            size: *size,
        })
    }

    /// The blob a descriptor names; its digest was checked on extraction,
    /// its size is checked here.
    pub(super) fn blob(
        &self,
        descriptor: &Descriptor,
        named_by: &str,
    ) -> Result<SpoolFile, ArchiveError> {
        let digest = descriptor.digest();
        if *digest.algorithm() != DigestAlgorithm::Sha256 {
            return Err(ArchiveError::invalid(
                named_by,
                format!("{digest} is not a sha256 digest, the only kind hoist reads"),
            ));
        }
        let file = self.file(&format!("blobs/sha256/{}", digest.digest()), named_by)?;
        if file.size != descriptor.size() {
            return Err(ArchiveError::SizeMismatch {
                what: file.name,
                declared: descriptor.size(),
                actual: file.size,
            });
        }
        Ok(file)
    }

    /// Parses the JSON file `name`.
    pub(super) fn json<T: DeserializeOwned>(
        &self,
        name: &str,
        named_by: &str,
    ) -> Result<T, ImageError> {
        let file = self.file(name, named_by)?;
        let data = fs::read(&file.path)?;
        Ok(serde_json::from_slice(&data).map_err(|e| ArchiveError::invalid(name, e))?)
    }
}

/// `path` with `.` and `..` resolved lexically; None when it leaves the
/// archive.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}
