//! Finding and reading the Dockerfile, as the Docker CLI does: `-f` is
//! relative to the current directory (so it may lie outside the context),
//! and without `-f` it is `<context>/Dockerfile`, else `<context>/dockerfile`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::context::ContextError;

/// The Dockerfile's default name.
pub const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// The path of the Dockerfile for a build of `context_dir` with `-f
/// dockerfile` (`None` without `-f`). It must exist; `-` (stdin) is refused.
pub fn locate_dockerfile(
    context_dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<PathBuf, ContextError> {
    let path = match dockerfile {
        Some(given) if given == Path::new("-") => return Err(ContextError::DockerfileFromStdin),
        Some(given) => given.to_path_buf(),
        None => {
            let default = context_dir.join(DEFAULT_DOCKERFILE);
            let lowercase = context_dir.join(DEFAULT_DOCKERFILE.to_lowercase());
            if fs::symlink_metadata(&default).is_err() && fs::symlink_metadata(&lowercase).is_ok() {
                lowercase
            } else {
                default
            }
        }
    };
    match fs::metadata(&path) {
        Ok(_) => Ok(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(ContextError::DockerfileMissing { path })
        }
        Err(source) => Err(ContextError::DockerfileRead { path, source }),
    }
}

/// Reads the Dockerfile for a build of `context_dir` with `-f dockerfile`:
/// its display name for messages (the file name, such as `Dockerfile` or
/// `app.Dockerfile`) and its text.
pub fn read_dockerfile(
    context_dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<(String, String), ContextError> {
    let path = locate_dockerfile(context_dir, dockerfile)?;
    let bytes = fs::read(&path).map_err(|source| ContextError::DockerfileRead {
        path: path.clone(),
        source,
    })?;
    let name = path.file_name().map_or_else(
        || DEFAULT_DOCKERFILE.to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let text = String::from_utf8(bytes).map_err(|_| ContextError::DockerfileNotUtf8 { path })?;
    Ok((name, text))
}

/// The Dockerfile's path relative to the context when it lies inside it
/// (symlinks resolved, as the CLI's `EvalSymlinks`), else `None`.
pub(crate) fn dockerfile_in_context(context_dir: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let root = fs::canonicalize(context_dir).ok()?;
    let file = fs::canonicalize(dockerfile).ok()?;
    file.strip_prefix(&root)
        .ok()
        .filter(|relative| !relative.as_os_str().is_empty())
        .map(Path::to_path_buf)
}
