//! COPY and ADD sources resolved against an unpacked context directory, as
//! Docker's builder resolves them.
//!
//! A source is relative to the context root (a leading `/` too) and `..`
//! stops at the root. A source with an unescaped `*`, `?` or `[` is a glob,
//! matched component by component with Go's `filepath.Match`, through real
//! directories only. Symlinks met on the way to a source, and a source that
//! is itself a symlink, are followed inside the context: a link to `/etc`
//! means the context's `etc`, never the host's.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::clean::clean;
use super::glob::{self, Token};

/// The most symlinks followed while resolving one source (Linux's
/// `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Why the sources of a COPY or ADD could not be resolved or hashed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Every source was a glob and none matched.
    #[error("{instruction} failed: no source files were specified")]
    NoSourceFiles {
        /// `COPY` or `ADD`.
        instruction: String,
    },
    /// A source (or what a symlink among them points to) does not exist.
    #[error(
        "{instruction} failed: file not found in build context or excluded by .dockerignore: stat {path}: file does not exist"
    )]
    NotFound {
        /// `COPY` or `ADD`.
        instruction: String,
        /// The source, relative to the context root.
        path: String,
    },
    /// Several files are copied to a destination not ending with `/`.
    #[error(
        "When using {instruction} with more than one source file, the destination must be a directory and end with a /"
    )]
    DestinationNotDirectory {
        /// `COPY` or `ADD`.
        instruction: String,
    },
    /// A glob is malformed.
    #[error("{instruction} failed: invalid source pattern {pattern:?}: {reason}")]
    Pattern {
        /// `COPY` or `ADD`.
        instruction: String,
        /// The source as written.
        pattern: String,
        /// What is malformed.
        reason: String,
    },
    /// A file or directory of the context could not be read.
    #[error("cannot read {} in the build context: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// One file or directory a COPY or ADD source names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedSource {
    /// The path as the source names it, relative to the context root (`.`
    /// for the root): its last component names the copy at a destination
    /// ending with `/`.
    pub path: PathBuf,
    /// Where its content is, relative to the context root: `path` with
    /// every symlink followed inside the context. Inside a directory,
    /// symlinks are copied as they are.
    pub resolved: PathBuf,
}

/// Resolves the `sources` of `instruction` (`COPY` or `ADD`, for messages)
/// against the context unpacked at `root`, for destination `dest`.
///
/// Each source gives its matches sorted by path; sources keep their order,
/// since a later source overwrites an earlier one at the destination. More
/// than one match needs `dest` to end with `/`, as Docker requires.
pub fn resolve_sources<S: AsRef<str>>(
    root: &Path,
    instruction: &str,
    sources: &[S],
    dest: &str,
) -> Result<Vec<MatchedSource>, SourceError> {
    let mut matched = Vec::new();
    for source in sources {
        let relative = in_root(source.as_ref());
        if glob::has_wildcards(&relative) {
            let mut found = expand(root, &relative).map_err(|e| match e {
                Expand::Pattern(reason) => SourceError::Pattern {
                    instruction: instruction.to_string(),
                    pattern: source.as_ref().to_string(),
                    reason,
                },
                Expand::Read(path, source) => SourceError::Read { path, source },
            })?;
            found.sort();
            for path in found {
                matched.push(resolve(root, instruction, path)?);
            }
        } else {
            matched.push(resolve(root, instruction, PathBuf::from(relative))?);
        }
    }
    if matched.is_empty() {
        return Err(SourceError::NoSourceFiles {
            instruction: instruction.to_string(),
        });
    }
    if matched.len() > 1 && !dest.ends_with('/') {
        return Err(SourceError::DestinationNotDirectory {
            instruction: instruction.to_string(),
        });
    }
    Ok(matched)
}

/// `source` cleaned and made relative to the root, `..` stopping there;
/// `.` for the root itself.
fn in_root(source: &str) -> String {
    let cleaned = clean(&format!("/{source}"));
    match cleaned.trim_start_matches('/') {
        "" => ".".to_string(),
        relative => relative.to_string(),
    }
}

/// Why a glob could not be expanded.
enum Expand {
    Pattern(String),
    Read(PathBuf, io::Error),
}

/// The paths under `root` matching the glob `pattern`, component by
/// component, descending through real directories only (not symlinks).
fn expand(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, Expand> {
    let parts = pattern
        .split('/')
        .map(glob::compile)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Expand::Pattern)?;
    let mut current = vec![PathBuf::new()];
    for (i, tokens) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for dir in &current {
            for name in children_matching(root, dir, tokens)? {
                let path = dir.join(name);
                if last || is_real_dir(&root.join(&path)) {
                    next.push(path);
                }
            }
        }
        current = next;
    }
    Ok(current)
}

/// The names in directory `root/dir` that match `tokens`.
fn children_matching(root: &Path, dir: &Path, tokens: &[Token]) -> Result<Vec<OsString>, Expand> {
    let full = root.join(dir);
    if let Some(name) = literal(tokens) {
        let exists = fs::symlink_metadata(full.join(&name)).is_ok();
        return Ok(if exists {
            vec![name.into()]
        } else {
            Vec::new()
        });
    }
    let entries = match fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(Vec::new()),
        Err(e) => return Err(Expand::Read(full, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry
            .map_err(|e| Expand::Read(full.clone(), e))?
            .file_name();
        if glob::matches(tokens, &name.to_string_lossy()) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The name a component without wildcards stands for.
fn literal(tokens: &[Token]) -> Option<String> {
    tokens
        .iter()
        .map(|token| match token {
            Token::Literal(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir())
}

/// Whether an I/O error means "no such file" (including a file where a
/// directory was expected on the way).
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Pairs `path` with where its content is, or says it does not exist.
fn resolve(root: &Path, instruction: &str, path: PathBuf) -> Result<MatchedSource, SourceError> {
    match resolve_in_root(root, &path) {
        Ok(resolved) => Ok(MatchedSource { path, resolved }),
        Err(e) if is_missing(&e) => Err(SourceError::NotFound {
            instruction: instruction.to_string(),
            path: path.display().to_string(),
        }),
        Err(source) => Err(SourceError::Read {
            path: root.join(path),
            source,
        }),
    }
}

/// `path` with every symlink followed as if `root` were `/`: an absolute
/// target starts again at the root and `..` never leaves it. The result is
/// relative to the root (`.` for the root) and holds no symlink.
fn resolve_in_root(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        if fs::symlink_metadata(&full)?.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = fs::read_link(&full)?;
            if target.is_absolute() {
                resolved = PathBuf::new();
            }
            push_components(&mut todo, &target);
        } else {
            resolved = candidate;
        }
    }
    if resolved.as_os_str().is_empty() {
        resolved.push(".");
    }
    Ok(resolved)
}

/// Pushes the names and `..`s of `path` onto `todo` so they pop in order.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    let parts = path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some("..".into()),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    });
    let parts: Vec<_> = parts.collect();
    todo.extend(parts.into_iter().rev());
}
