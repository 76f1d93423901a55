//! `hoist build` from standard input: `-f -` gives the Dockerfile; `-` as
//! the context gives either a Dockerfile (and an empty context) or a tar
//! of the context (plain or compressed), as Docker reads it.

use std::io::Read;
use std::path::{Path, PathBuf};

use hoist_runtime::image::layer::decompressed;

use super::BuildArgs;
use crate::commands::files::unpack_root;
use crate::exit::{CliError, CliResult};

/// What `hoist build` read from standard input: `-f -` gives the
/// Dockerfile; `-` as the context gives either a Dockerfile (and an empty
/// context) or a tar of the context (plain or compressed), as Docker reads
/// it.
#[derive(Default)]
pub(super) struct StdinBuild {
    /// The Dockerfile's text, when it came on standard input.
    pub(super) dockerfile: Option<String>,
    /// A directory made for the context, removed with this.
    context: Option<ScratchDir>,
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

impl StdinBuild {
    /// Reads what `args` says comes on standard input, if anything.
    pub(super) fn read(args: &BuildArgs) -> CliResult<Self> {
        let dockerfile_from_stdin = args.file.as_deref() == Some(Path::new("-"));
        let context_from_stdin = args.path == Path::new("-");
        if !dockerfile_from_stdin && !context_from_stdin {
            return Ok(Self::default());
        }
        if dockerfile_from_stdin && context_from_stdin {
            return Err(CliError::usage(
                "cannot read both the build context and the Dockerfile from standard input",
            ));
        }
        let mut input = Vec::new();
        std::io::stdin().lock().read_to_end(&mut input)?;
        if dockerfile_from_stdin {
            return Ok(Self {
                dockerfile: Some(dockerfile_text(input)?),
                context: None,
            });
        }
        let dir = ScratchDir::new()?;
        {
            let unpacked = decompressed(&input[..]).map_err(|e| {
                CliError::usage(format!("cannot read the context from standard input: {e}"))
            })?;
            let mut head = [0u8; 512];
            let mut reader = std::io::BufReader::new(unpacked);
            let filled = read_up_to(&mut reader, &mut head)?;
            if filled == head.len() && &head[257..262] == b"ustar" {
                unpack_root((&head[..]).chain(reader), &dir.0)?;
                return Ok(Self {
                    dockerfile: None,
                    context: Some(dir),
                });
            }
        }
        Ok(Self {
            dockerfile: Some(dockerfile_text(input)?),
            context: Some(dir),
        })
    }
}

impl StdinBuild {
    /// The directory the context on standard input was unpacked into.
    pub(super) fn context_dir(&self) -> Option<&Path> {
        self.context.as_ref().map(|dir| dir.0.as_path())
    }
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

fn dockerfile_text(bytes: Vec<u8>) -> CliResult<String> {
    String::from_utf8(bytes)
        .map_err(|_| CliError::usage("the Dockerfile on standard input is not UTF-8 text"))
}
