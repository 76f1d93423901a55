//! Layer tarballs: unpacking one into an overlay lower directory (OCI
//! whiteouts become overlayfs whiteouts), recognising compression, and the
//! digests that name layers.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::gzip::GzipMembers;

/// Prefix of an OCI whiteout entry: `.wh.name` deletes `name` from below.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// An OCI opaque-directory marker: hides everything below in its directory.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the archive or writing the files failed.
    #[error("layer I/O: {0}")]
    Io(#[from] io::Error),
    /// An entry tried to leave the layer directory.
    #[error("layer entry {0:?} points outside the layer (a `..` in its path or link target)")]
    Escape(PathBuf),
    /// The data is compressed with something hoist does not read.
    #[error(
        "layer is compressed with {0}, which hoist does not read yet (use gzip or an uncompressed tar)"
    )]
    UnsupportedCompression(&'static str),
    /// The uncompressed content does not hash to the diff ID the image's
    /// config names.
    #[error(
        "layer content hashes to {actual} but the image config says {expected}: the layer is damaged or does not belong to this image"
    )]
    DiffIdMismatch {
        /// The diff ID from the config.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The chain IDs of a stack of layers (OCI image spec): the first is the
/// first diff ID, each next is `sha256(previous + " " + diff_id)`. A chain ID
/// names a layer together with everything under it, so equal chains share
/// one directory on disk.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => sha256_digest(format!("{parent} {diff_id}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// `file` read through a buffer large enough for layer blobs.
pub fn buffered(file: fs::File) -> Box<dyn BufRead + Send> {
    Box::new(BufReader::with_capacity(256 * 1024, file))
}

/// Wraps `reader` in the decompressor its magic bytes call for (gzip,
/// zstd or none).
pub fn decompressed<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let head = reader.fill_buf()?;
    match head {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::MultiGzDecoder::new(reader))),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
        }
        [0x42, 0x5a, 0x68, ..] => Err(LayerError::UnsupportedCompression("bzip2")),
        [0xfd, b'7', b'z', b'X', b'Z', ..] => Err(LayerError::UnsupportedCompression("xz")),
        _ => Ok(Box::new(reader)),
    }
}

/// Whether data starting with `head` is compressed in a way
/// [`decompressed`] reads (gzip, zstd).
pub fn is_compressed(head: &[u8]) -> bool {
    matches!(head, [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd, ..])
}

/// Like [`decompressed`], but a compressed stream is decompressed on a
/// thread of its own, in chunks handed over as they are ready: the
/// reader's own work (hashing, unpacking files) then runs beside the
/// decompression, and a layer takes about as long as the slower of the
/// two instead of their sum (as Docker pipes layers through `unpigz`).
/// For content the caller checks by digest (a layer's diff ID): gzip's
/// own CRC is not computed ([`super::gzip`]), and `reader`'s buffers feed
/// the decompressor without a copy.
pub fn decompressed_beside(
    mut reader: Box<dyn BufRead + Send>,
) -> Result<Box<dyn Read>, LayerError> {
    let head = reader.fill_buf()?;
    if !is_compressed(head) {
        return decompressed(reader);
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let (chunks, receiver) = std::sync::mpsc::sync_channel::<io::Result<Chunk>>(CHUNKS_IN_FLIGHT);
    // Read-out buffers come back to the thread: no chunk is allocated and
    // zeroed twice.
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("layer-decompress".into())
        .spawn(move || {
            let mut decoder: Box<dyn Read> = if gzip {
                Box::new(GzipMembers::new(reader))
            } else {
                match decompressed(reader) {
                    Ok(decoder) => decoder,
                    Err(e) => {
                        let _ = chunks.send(Err(io::Error::other(e)));
                        return;
                    }
                }
            };
            loop {
                let mut buffer = recycled
                    .try_recv()
                    .unwrap_or_else(|_| vec![0u8; CHUNK_BYTES]);
                let sent = match fill(&mut decoder, &mut buffer) {
                    Ok(0) => return,
                    Ok(len) => chunks.send(Ok(Chunk { buffer, len })),
                    Err(e) => chunks.send(Err(e)),
                };
                if sent.is_err() {
                    return;
                }
            }
        })?;
    Ok(Box::new(ChunkReader {
        receiver,
        recycle,
        current: Chunk {
            buffer: Vec::new(),
            len: 0,
        },
        position: 0,
    }))
}

/// Bytes per chunk handed from the decompression thread to the reader.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks decompressed ahead of the reader.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Reads from `reader` until `buffer` is full or the stream ends; returns
/// how many bytes it holds (fewer only at the end).
fn fill(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buffer.len() {
        match reader.read(&mut buffer[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// A buffer of decompressed bytes, of which the first `len` are data.
struct Chunk {
    buffer: Vec<u8>,
    len: usize,
}

/// The reading end of [`decompressed_beside`]'s thread.
struct ChunkReader {
    receiver: std::sync::mpsc::Receiver<io::Result<Chunk>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
    current: Chunk,
    position: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len {
            match self.receiver.recv() {
                Ok(chunk) => {
                    let done = std::mem::replace(&mut self.current, chunk?);
                    if !done.buffer.is_empty() {
                        let _ = self.recycle.send(done.buffer);
                    }
                    self.position = 0;
                }
                // The thread ended: the stream is over.
                Err(_) => return Ok(0),
            }
        }
        let available = &self.current.buffer[self.position..self.current.len];
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.position += n;
        Ok(n)
    }
}

/// Sets an extended attribute on a path (not following symlinks).
pub fn xattr_set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let c_name = std::ffi::CString::new(name)?;
    // SAFETY: both strings are valid NUL-terminated C strings and `value` is
    // a valid buffer of the given length for the duration of the call.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads an extended attribute (not following symlinks); `None` when the
/// path does not have it.
pub fn xattr_get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let c_name = std::ffi::CString::new(name)?;
    let result = sized_read(|buf| {
        // SAFETY: valid C strings and a writable buffer of the stated length
        // (an empty buffer only asks for the size).
        unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        }
    });
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names of a path's extended attributes (not following symlinks);
/// empty when the filesystem has none.
pub fn xattr_list(path: &Path) -> io::Result<Vec<String>> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let result = sized_read(|buf| {
        // SAFETY: a valid C string and a writable buffer of the stated length
        // (an empty buffer only asks for the size).
        unsafe { libc::llistxattr(c_path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
    });
    let names = match result {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(names
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// Calls a size-returning syscall first for the size, then with a buffer
/// that large, retrying if the value grew in between.
fn sized_read(mut call: impl FnMut(&mut [u8]) -> libc::ssize_t) -> io::Result<Vec<u8>> {
    loop {
        let size = call(&mut []);
        let size = usize::try_from(size).map_err(|_| io::Error::last_os_error())?;
        let mut buf = vec![0u8; size];
        let got = call(&mut buf);
        match usize::try_from(got) {
            Ok(got) => {
                buf.truncate(got);
                return Ok(buf);
            }
            Err(_) => {
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::ERANGE) {
                    return Err(err);
                }
            }
        }
    }
}

/// True when `meta` is an overlayfs whiteout (a 0/0 character device).
pub fn is_overlay_whiteout(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A layer (for tests) whose second entry is a hard link to a path above
/// the layer: unpacking must refuse it.
#[cfg(test)]
pub(crate) fn escaping_layer() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    builder.append_data(&mut header, "file", &b"x"[..]).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Link);
    header.set_size(0);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    builder
        .append_link(&mut header, "passwd", "../../../../etc/passwd")
        .unwrap();
    builder.into_inner().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let diffs = vec!["sha256:a".to_string(), "sha256:b".to_string()];
        let chain = chain_ids(&diffs);
        assert_eq!(chain[0], "sha256:a");
        assert_eq!(chain[1], sha256_digest(b"sha256:a sha256:b"));
    }

    #[test]
    fn detects_compression() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, b"plain").unwrap();
        let gz = gz.finish().unwrap();
        let mut out = String::new();
        decompressed(&gz[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "plain");
        let zst = zstd::stream::encode_all(&b"zstd data"[..], 3).unwrap();
        let mut out = String::new();
        decompressed(&zst[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "zstd data");
        assert!(matches!(
            decompressed(&[0x42u8, 0x5a, 0x68, 0][..]),
            Err(LayerError::UnsupportedCompression("bzip2"))
        ));
    }

    #[test]
    fn decompresses_beside_the_reader() {
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let mut out = Vec::new();
        decompressed_beside(Box::new(io::Cursor::new(gz.clone())))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data, "decompressed data differs");
        let mut plain = Vec::new();
        decompressed_beside(Box::new(io::Cursor::new(b"plain".to_vec())))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, b"plain");
        // A stream cut short is an error, not a short read.
        let mut cut = Vec::new();
        let result = decompressed_beside(Box::new(io::Cursor::new(gz[..gz.len() / 2].to_vec())))
            .unwrap()
            .read_to_end(&mut cut);
        assert!(result.is_err(), "a truncated gzip stream read as whole");
    }
}
