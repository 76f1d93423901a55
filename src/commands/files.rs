//! `hoist cp` and `hoist export`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use hoist_api::proto::containers_client::ContainersClient;
use hoist_api::proto::{
    ContainerRef, CopyFromRequest, CopyToOpen, CopyToRequest, copy_from_response, copy_to_request,
};
use hoist_runtime::container::mounts::secure_join;
use hoist_runtime::fsutil::clean_relative;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::exit::{CliError, CliResult};

/// Copy files/folders between a container and the local filesystem
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or a local path (- for a tar on stdin)
    pub source: String,
    /// CONTAINER:DEST_PATH or a local path (- for a tar on stdout)
    pub destination: String,
}

/// `CONTAINER:PATH` → (container, path); a local path → None.
pub fn split_remote(spec: &str) -> Option<(&str, &str)> {
    if spec.starts_with('/') || spec.starts_with('.') {
        return None;
    }
    spec.split_once(':')
        .filter(|(c, _)| !c.is_empty() && !c.contains('/'))
}

/// Copies files between a container and the local filesystem.
pub async fn cp(channel: Channel, args: CpArgs) -> CliResult<i32> {
    match (split_remote(&args.source), split_remote(&args.destination)) {
        (Some((container, path)), None) => {
            copy_out(channel, container, path, &args.destination).await
        }
        (None, Some((container, path))) => {
            copy_in(
                channel,
                &args.source,
                container,
                path,
                args.archive,
                args.follow_link,
            )
            .await
        }
        (Some(_), Some(_)) => Err(CliError::usage(
            "copying between containers is not supported: copy through a local path",
        )),
        (None, None) => Err(CliError::usage(
            "must specify at least one container source or destination (CONTAINER:PATH)",
        )),
    }
}

async fn copy_out(
    channel: Channel,
    container: &str,
    path: &str,
    destination: &str,
) -> CliResult<i32> {
    let mut stream = ContainersClient::new(channel)
        .copy_from(CopyFromRequest {
            id: container.to_string(),
            path: path.to_string(),
        })
        .await?
        .into_inner();
    match stream.message().await? {
        Some(m) if matches!(m.kind, Some(copy_from_response::Kind::StatJson(_))) => {}
        _ => return Err(CliError::client("the daemon sent no file information")),
    }
    let (tx, reader) = ChunkReader::channel();
    let destination = destination.to_string();
    let contents_only = path.ends_with("/.");
    let writer = std::thread::spawn(move || -> CliResult {
        if destination == "-" {
            let mut out = std::io::stdout().lock();
            let mut reader = reader;
            std::io::copy(&mut reader, &mut out)?;
            return Ok(());
        }
        unpack_local(reader, Path::new(&destination), contents_only)
    });
    while let Some(message) = stream.message().await? {
        if let Some(copy_from_response::Kind::Data(data)) = message.kind
            && tx.send(data).is_err()
        {
            break;
        }
    }
    drop(tx);
    writer
        .join()
        .map_err(|_| CliError::client("the copy thread failed"))??;
    Ok(0)
}

/// Unpacks a tar whose root entry is the source's base name, as Docker's
/// `cp` does: into `destination` when it is a directory (or, for `SRC/.`,
/// its contents), else as `destination` itself.
fn unpack_local(reader: impl std::io::Read, destination: &Path, contents_only: bool) -> CliResult {
    let (directory, rename) = if destination.is_dir() {
        (
            destination.to_path_buf(),
            contents_only.then(|| ".".to_string()),
        )
    } else {
        let parent = destination
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(CliError::client(format!(
                "destination directory {} does not exist",
                parent.display()
            )));
        }
        if contents_only {
            fs::create_dir_all(destination)?;
            (destination.to_path_buf(), Some(".".to_string()))
        } else {
            let base = destination
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (parent.to_path_buf(), base)
        }
    };
    unpack_entries(reader, &directory, rename.as_deref())
}

/// Unpacks a tar whose entries are named from a root (an image's files,
/// `build --output`) into `directory`, made if missing, with the guards
/// `cp` has.
pub fn unpack_root(reader: impl std::io::Read, directory: &Path) -> CliResult {
    fs::create_dir_all(directory)?;
    unpack_entries(reader, directory, None)
}

/// Unpacks a tar's entries under `directory`, none of them outside it (a
/// symlink in the archive cannot lead a later entry out); `rename`
/// replaces each entry's first component.
fn unpack_entries(reader: impl std::io::Read, directory: &Path, rename: Option<&str>) -> CliResult {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let bad = |e: std::io::Error| CliError::client(format!("cannot unpack: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let mut relative = clean_relative(&entry.path().map_err(bad)?)
            .ok_or_else(|| CliError::client("the archive leaves the destination"))?;
        if let Some(name) = rename {
            let mut parts = relative.components();
            parts.next();
            relative = Path::new(name).join(parts.as_path());
        }
        let relative = clean_relative(&relative).unwrap_or_default();
        if relative.as_os_str().is_empty() {
            continue;
        }
        // Symlinks from the container must not lead writes out of the
        // destination: resolve within it.
        let target = secure_join(directory, &relative)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        if entry.header().entry_type().is_hard_link() {
            let link = entry
                .link_name()
                .map_err(bad)?
                .and_then(|l| clean_relative(&l))
                .ok_or_else(|| CliError::client("bad hard link in the archive"))?;
            let _ = fs::remove_file(&target);
            fs::hard_link(secure_join(directory, &link)?, &target)?;
            continue;
        }
        entry.unpack(&target).map_err(bad)?;
    }
    Ok(())
}

/// Reads chunks from a channel as one byte stream (for a blocking tar
/// reader fed from a gRPC stream).
pub struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
}

impl ChunkReader {
    /// A reader and the sender that feeds it.
    pub fn channel() -> (std::sync::mpsc::SyncSender<Vec<u8>>, Self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        (
            tx,
            Self {
                rx,
                current: Vec::new(),
                offset: 0,
            },
        )
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.offset == self.current.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.offset = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Sends what is written as copy-stream data chunks.
struct StreamWriter {
    tx: mpsc::Sender<CopyToRequest>,
}

impl Write for StreamWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let message = CopyToRequest {
            kind: Some(copy_to_request::Kind::Data(data.to_vec())),
        };
        self.tx.blocking_send(message).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the daemon closed the copy")
        })?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn copy_in(
    channel: Channel,
    source: &str,
    container: &str,
    path: &str,
    archive: bool,
    follow: bool,
) -> CliResult<i32> {
    let (tx, rx) = mpsc::channel(8);
    let open = CopyToOpen {
        id: container.to_string(),
        path: path.to_string(),
        copy_uid_gid: archive,
    };
    let _ = tx
        .send(CopyToRequest {
            kind: Some(copy_to_request::Kind::Open(open)),
        })
        .await;
    let source = source.to_string();
    let producer = std::thread::spawn(move || -> CliResult {
        let mut writer = std::io::BufWriter::with_capacity(256 * 1024, StreamWriter { tx });
        if source == "-" {
            std::io::copy(&mut std::io::stdin().lock(), &mut writer)?;
            return Ok(writer.flush()?);
        }
        let local = Path::new(&source);
        let meta = if follow {
            fs::metadata(local)
        } else {
            fs::symlink_metadata(local)
        }
        .map_err(|e| CliError::client(format!("cannot copy {source}: {e}")))?;
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(follow);
        if source.ends_with("/.") || source == "." {
            builder.append_dir_all(".", local)?;
        } else {
            let name = local
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            if meta.is_dir() {
                builder.append_dir_all(&name, local)?;
            } else {
                builder.append_path_with_name(local, &name)?;
            }
        }
        builder.into_inner()?.flush()?;
        Ok(())
    });
    let result = ContainersClient::new(channel)
        .copy_to(ReceiverStream::new(rx))
        .await;
    producer
        .join()
        .map_err(|_| CliError::client("the copy thread failed"))??;
    result?;
    Ok(0)
}

/// Export a container's filesystem as a tar archive
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// The container
    pub container: String,
}

/// Where a tar goes: the file `path`, else standard output, which must
/// not be a terminal.
pub fn tar_destination(path: Option<&Path>) -> CliResult<Box<dyn Write>> {
    match path {
        Some(path) => Ok(Box::new(fs::File::create(path).map_err(|e| {
            CliError::client(format!("cannot create {}: {e}", path.display()))
        })?)),
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(CliError::client(
                    "cowardly refusing to write a tar to a terminal: use -o FILE or redirect the output",
                ));
            }
            Ok(Box::new(std::io::stdout().lock()))
        }
    }
}

/// Streams a container's filesystem as a tar.
pub async fn export(channel: Channel, args: ExportArgs) -> CliResult<i32> {
    let mut out = tar_destination(args.output.as_deref().map(Path::new))?;
    let mut stream = ContainersClient::new(channel)
        .export(ContainerRef { id: args.container })
        .await?
        .into_inner();
    while let Some(chunk) = stream.message().await? {
        out.write_all(&chunk.data)?;
    }
    out.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_specs_are_told_from_local_paths() {
        assert_eq!(
            split_remote("web:/etc/hostname"),
            Some(("web", "/etc/hostname"))
        );
        assert_eq!(split_remote("/local/file"), None);
        assert_eq!(split_remote("./a:b"), None);
        assert_eq!(split_remote("dir/a:b"), None);
        assert_eq!(split_remote("file"), None);
    }
}
