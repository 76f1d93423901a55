//! Blocking tar code meets gRPC streams: a `Write` that sends chunks to a
//! server stream, a `Read` fed by a client stream, and tar helpers shared
//! by `cp`, `export` and `save`.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use tokio::sync::mpsc;
use tonic::Status;

/// Chunk size of outgoing streams.
const CHUNK: usize = 256 * 1024;

/// Sends what is written, in chunks, as `wrap(chunk)` messages.
pub struct ChannelWriter<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    wrap: fn(Vec<u8>) -> T,
    buffer: Vec<u8>,
}

impl<T> ChannelWriter<T> {
    /// A writer sending to `tx`.
    pub fn new(tx: mpsc::Sender<Result<T, Status>>, wrap: fn(Vec<u8>) -> T) -> Self {
        Self {
            tx,
            wrap,
            buffer: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok((self.wrap)(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl<T> Write for ChannelWriter<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Reads the bytes of a client stream, fed chunk by chunk over a channel.
pub struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
}

impl ChannelReader {
    /// A reader over chunks arriving on `rx`; the end of the channel is the
    /// end of the data.
    pub fn new(rx: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            current: Vec::new(),
            offset: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.current.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk;
                    self.offset = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Appends `path` (a file, symlink, special file or a whole directory,
/// never following symlinks) to `builder` under the name `name`.
pub fn append_path<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &Path,
    path: &Path,
) -> io::Result<()> {
    builder.follow_symlinks(false);
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        builder.append_dir_all(name, path)
    } else {
        builder.append_path_with_name(path, name)
    }
}

/// Writes every entry under `root` into a tar (for `export`), named
/// relative to `root`.
pub fn write_root<W: Write>(root: &Path, out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut entries: Vec<_> = fs::read_dir(root)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        append_path(&mut builder, Path::new(&entry.file_name()), &entry.path())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_root_names_entries_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/hostname"), "h").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
        let data = write_root(dir.path(), Vec::new()).unwrap();
        let mut archive = tar::Archive::new(&data[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(
            names.contains(&"etc".to_string()) || names.contains(&"etc/".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"etc/hostname".to_string()), "{names:?}");
        assert!(names.contains(&"link".to_string()), "{names:?}");
    }
}
