//! Build contexts and Dockerfiles `hoist build` fetches before it can walk
//! them, as the Docker CLI does: standard input (`-f -` gives the
//! Dockerfile; `-` as the context a Dockerfile alone or a tar of the
//! context, plain or compressed), a Git repository (cloned, the reference
//! checked out, without its `.git`, as BuildKit sends it), or an HTTP(S)
//! URL of a tarball or a Dockerfile.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hoist_runtime::image::layer::decompressed;

use super::BuildArgs;
use super::remote::RemoteContext;
use crate::commands::files::unpack_root;
use crate::exit::{CliError, CliResult};

/// How long a remote context's download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// What `hoist build` fetched: the Dockerfile's text and the context's
/// directory, when they did not come as local files.
#[derive(Default)]
pub(super) struct Supplied {
    /// The Dockerfile's text, when it came on standard input or from a URL.
    pub(super) dockerfile: Option<String>,
    /// A directory made for the context, held to be removed with this.
    _scratch: Option<ScratchDir>,
    /// The context inside `scratch` (a Git context's subdirectory).
    context: Option<PathBuf>,
}

/// A directory of the CLI's own, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> CliResult<Self> {
        let dir = std::env::temp_dir().join(format!(
            "hoist-build-{}-{}",
            std::process::id(),
            hoist_runtime::fsutil::random_hex(4)
        ));
        std::fs::create_dir(&dir)
            .map_err(|e| CliError::client(format!("cannot make {}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Supplied {
    /// Reads what `args` says comes on standard input, if anything.
    pub(super) fn read_stdin(args: &BuildArgs) -> CliResult<Self> {
        let dockerfile_from_stdin = args.file.as_deref() == Some(Path::new("-"));
        let context_from_stdin = args.path == Path::new("-");
        if dockerfile_from_stdin && context_from_stdin {
            return Err(CliError::usage(
                "cannot read both the build context and the Dockerfile from standard input",
            ));
        }
        if dockerfile_from_stdin || context_from_stdin {
            let mut input = Vec::new();
            std::io::stdin().lock().read_to_end(&mut input)?;
            if dockerfile_from_stdin {
                return Ok(Self {
                    dockerfile: Some(dockerfile_text(input, "standard input")?),
                    ..Self::default()
                });
            }
            return Self::from_bytes(input, "standard input");
        }
        Ok(Self::default())
    }

    /// Fetches the context `path` names when it is remote (a Git
    /// repository, an HTTP(S) URL); `None` for a local directory.
    pub(super) async fn fetch(path: &Path) -> CliResult<Option<Self>> {
        let remote = RemoteContext::parse(&path.to_string_lossy()).map_err(CliError::usage)?;
        Ok(match remote {
            None => None,
            Some(RemoteContext::Url(url)) => Some(Self::from_bytes(download(&url).await?, &url)?),
            Some(RemoteContext::Git {
                url,
                reference,
                subdir,
            }) => Some(Self::clone_repository(&url, &reference, &subdir)?),
        })
    }

    /// Whether `path` names a remote context.
    pub(super) fn is_remote(path: &str) -> bool {
        RemoteContext::parse(path).is_ok_and(|r| r.is_some())
    }

    /// The directory the fetched context is in.
    pub(super) fn context_dir(&self) -> Option<&Path> {
        self.context.as_deref()
    }

    /// A context that came as bytes: a tar of it (plain or compressed), or
    /// a Dockerfile with an empty context.
    fn from_bytes(input: Vec<u8>, source: &str) -> CliResult<Self> {
        let scratch = ScratchDir::new()?;
        let context = Some(scratch.0.clone());
        {
            let unpacked = decompressed(&input[..]).map_err(|e| {
                CliError::usage(format!("cannot read the context from {source}: {e}"))
            })?;
            let mut head = [0u8; 512];
            let mut reader = std::io::BufReader::new(unpacked);
            let filled = read_up_to(&mut reader, &mut head)?;
            if filled == head.len() && &head[257..262] == b"ustar" {
                unpack_root((&head[..]).chain(reader), &scratch.0)?;
                return Ok(Self {
                    dockerfile: None,
                    _scratch: Some(scratch),
                    context,
                });
            }
        }
        Ok(Self {
            dockerfile: Some(dockerfile_text(input, source)?),
            _scratch: Some(scratch),
            context,
        })
    }

    /// Clones `url` (shallow where the reference allows), checks out
    /// `reference` with its submodules, drops `.git`, and takes `subdir`.
    fn clone_repository(url: &str, reference: &str, subdir: &str) -> CliResult<Self> {
        let scratch = ScratchDir::new()?;
        let checkout = scratch.0.join("repository");
        let mut shallow = vec!["clone", "--quiet", "--depth", "1", "--recurse-submodules"];
        if !reference.is_empty() {
            shallow.extend(["--branch", reference]);
        }
        // A commit is no branch or tag: it needs the whole history.
        if git(&[&shallow[..], &[url, &checkout.to_string_lossy()]].concat()).is_err() {
            let _ = std::fs::remove_dir_all(&checkout);
            git(&[
                "clone",
                "--quiet",
                "--recurse-submodules",
                url,
                &checkout.to_string_lossy(),
            ])?;
            if !reference.is_empty() {
                let at = checkout.to_string_lossy();
                git(&["-C", &at, "checkout", "--quiet", reference])?;
                git(&[
                    "-C",
                    &at,
                    "submodule",
                    "update",
                    "--quiet",
                    "--init",
                    "--recursive",
                ])?;
            }
        }
        let _ = std::fs::remove_dir_all(checkout.join(".git"));
        let context = checkout.join(subdir);
        if !context.is_dir() {
            return Err(CliError::client(format!(
                "{url} has no directory {subdir:?} at {}",
                if reference.is_empty() {
                    "its default branch"
                } else {
                    reference
                }
            )));
        }
        Ok(Self {
            dockerfile: None,
            _scratch: Some(scratch),
            context: Some(context),
        })
    }
}

/// Runs `git` without a terminal to prompt on; its error output names
/// what failed.
fn git(args: &[&str]) -> CliResult<()> {
    let output = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            CliError::client(format!(
                "cannot run git ({e}): building from a Git repository needs git installed"
            ))
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(CliError::client(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The body of `url`, which must answer 200.
async fn download(url: &str) -> CliResult<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| {
        CliError::client(format!("cannot download the build context {url}: {e}"))
    };
    let response = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| failed(&e))?
        .get(url)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    if !response.status().is_success() {
        return Err(failed(&format!("it answered {}", response.status())));
    }
    Ok(response.bytes().await.map_err(|e| failed(&e))?.to_vec())
}

/// Fills as much of `buf` as `reader` has.
fn read_up_to(reader: &mut impl std::io::Read, buf: &mut [u8]) -> CliResult<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn dockerfile_text(bytes: Vec<u8>, source: &str) -> CliResult<String> {
    String::from_utf8(bytes)
        .map_err(|_| CliError::usage(format!("the Dockerfile from {source} is not UTF-8 text")))
}
