//! The build context: a directory walked with its `.dockerignore`, and the
//! uncompressed tar `docker build` streams to the daemon.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::ignore::{DOCKERIGNORE, IgnoreError, IgnoreRules};
use super::locate::{dockerfile_in_context, locate_dockerfile};
use super::walk::{ContextEntry, EntryKind, walk};
use crate::image::tario::ExactReader;

/// Why the build context or its Dockerfile could not be read or archived.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context directory does not exist.
    #[error("unable to prepare context: path {} not found", path.display())]
    ContextMissing {
        /// The context directory as given.
        path: PathBuf,
    },
    /// The context is not a directory.
    #[error(
        "unable to prepare context: context must be a directory: {}",
        path.display()
    )]
    ContextNotDirectory {
        /// The context path as given.
        path: PathBuf,
    },
    /// `-f -` was given.
    #[error(
        "reading the Dockerfile from stdin (-f -) is not supported; save it to a file and pass that file to -f"
    )]
    DockerfileFromStdin,
    /// The Dockerfile does not exist.
    #[error(
        "cannot locate the Dockerfile: {} does not exist; create it, or name the right file with -f",
        path.display()
    )]
    DockerfileMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The Dockerfile exists but could not be read.
    #[error("cannot read the Dockerfile {}: {source}", path.display())]
    DockerfileRead {
        /// The Dockerfile.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The Dockerfile is not UTF-8.
    #[error("the Dockerfile {} is not UTF-8 text; save it as UTF-8", path.display())]
    DockerfileNotUtf8 {
        /// The Dockerfile.
        path: PathBuf,
    },
    /// The `.dockerignore` could not be read or parsed.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// A file or directory of the context could not be read.
    #[error(
        "cannot read {} in the build context: {source}; make it readable or exclude it in .dockerignore",
        path.display()
    )]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An entry could not be added to the tar.
    #[error("cannot add {} to the build context tar: {source}", path.display())]
    Archive {
        /// The entry, relative to the context root.
        path: PathBuf,
        /// Why (a read of the file or a write of the tar).
        source: io::Error,
    },
    /// The tar's end could not be written.
    #[error("cannot finish the build context tar: {0}")]
    Finish(io::Error),
}

/// A walked build context: what `docker build` sends, in a fixed order.
#[derive(Debug, Clone)]
pub struct BuildContext {
    root: PathBuf,
    entries: Vec<ContextEntry>,
}

impl BuildContext {
    /// Walks `context_dir` for a build with `-f dockerfile` (`None` without
    /// `-f`): reads the ignore file that applies, keeps `.dockerignore` and
    /// the Dockerfile (when inside the context) even if ignored, as the
    /// Docker CLI does.
    pub fn open(context_dir: &Path, dockerfile: Option<&Path>) -> Result<Self, ContextError> {
        check_root(context_dir)?;
        let dockerfile = locate_dockerfile(context_dir, dockerfile)?;
        let mut rules = IgnoreRules::read_for_dockerfile(context_dir, &dockerfile)?;
        rules.always_send(Path::new(DOCKERIGNORE));
        if let Some(relative) = dockerfile_in_context(context_dir, &dockerfile) {
            rules.always_send(&relative);
        }
        Self::walk(context_dir, &rules)
    }

    /// Walks `context_dir` for a build whose Dockerfile comes from standard
    /// input (`-f -`): the context's `.dockerignore` applies (and is sent).
    pub fn open_without_dockerfile(context_dir: &Path) -> Result<Self, ContextError> {
        check_root(context_dir)?;
        let mut rules = IgnoreRules::read(context_dir)?;
        rules.always_send(Path::new(DOCKERIGNORE));
        Self::walk(context_dir, &rules)
    }

    /// Walks `context_dir` with the given rules and nothing else.
    pub fn walk(context_dir: &Path, rules: &IgnoreRules) -> Result<Self, ContextError> {
        check_root(context_dir)?;
        Ok(BuildContext {
            root: context_dir.to_path_buf(),
            entries: walk(context_dir, rules)?,
        })
    }

    /// The entries sent, sorted by path.
    pub fn entries(&self) -> &[ContextEntry] {
        &self.entries
    }

    /// Streams the context to `out` as an uncompressed tar: the entries in
    /// order, with their mode, owner, mtime and symlink targets, so an
    /// unchanged context gives the same bytes. Gives `out` back.
    pub fn write_tar<W: Write>(&self, out: W) -> Result<W, ContextError> {
        let mut tar = tar::Builder::new(out);
        for entry in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(entry.mode);
            header.set_uid(u64::from(entry.uid));
            header.set_gid(u64::from(entry.gid));
            header.set_mtime(u64::try_from(entry.mtime).unwrap_or(0));
            header.set_size(0);
            let appended = match &entry.kind {
                EntryKind::Dir => {
                    // Named `dir/`, as Docker and GNU tar name directories.
                    let mut name = entry.path.clone().into_os_string();
                    name.push("/");
                    header.set_entry_type(tar::EntryType::Directory);
                    tar.append_data(&mut header, name, io::empty())
                }
                EntryKind::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    tar.append_link(&mut header, &entry.path, target)
                }
                EntryKind::File => {
                    let full = self.root.join(&entry.path);
                    let file = File::open(&full).map_err(|source| ContextError::Read {
                        path: full.clone(),
                        source,
                    })?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(entry.size);
                    let exact = ExactReader::new(file, entry.size, full.display().to_string());
                    tar.append_data(&mut header, &entry.path, exact)
                }
            };
            appended.map_err(|source| ContextError::Archive {
                path: entry.path.clone(),
                source,
            })?;
        }
        tar.into_inner().map_err(ContextError::Finish)
    }
}

/// Checks that the context directory exists and is a directory.
fn check_root(context_dir: &Path) -> Result<(), ContextError> {
    match fs::metadata(context_dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(ContextError::ContextNotDirectory {
            path: context_dir.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ContextError::ContextMissing {
            path: context_dir.to_path_buf(),
        }),
        Err(source) => Err(ContextError::Read {
            path: context_dir.to_path_buf(),
            source,
        }),
    }
}
