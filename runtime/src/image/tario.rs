//! Small I/O adapters shared by the tar writers and readers: hashing while
//! copying, counting bytes, and reading exactly as many bytes as a tar
//! header promised.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// A writer that hashes (SHA-256) everything written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// `sha256:<hex>` of what was written, and the inner writer.
    pub(crate) fn finish(self) -> (String, W) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (digest, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes (SHA-256) everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads `inner` to its end, then gives `sha256:<hex>` of all of it.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(format!("sha256:{}", hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that counts the bytes written through it.
pub(crate) struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> CountingWriter<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer.
    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `sha256:<hex>` of everything `reader` yields.
pub(crate) fn sha256_of(mut reader: impl Read) -> io::Result<String> {
    let mut hashing = HashingWriter::new(io::sink());
    io::copy(&mut reader, &mut hashing)?;
    Ok(hashing.finish().0)
}

/// A reader that yields exactly `len` bytes of `inner` and fails if `inner`
/// ends sooner: a tar entry must hold as many bytes as its header says, or
/// every entry after it is misread.
pub(crate) struct ExactReader<R> {
    inner: R,
    remaining: u64,
    what: String,
}

impl<R: Read> ExactReader<R> {
    /// Reads `len` bytes of `inner`; `what` names the source in errors.
    pub(crate) fn new(inner: R, len: u64, what: impl Into<String>) -> Self {
        Self {
            inner,
            remaining: len,
            what: what.into(),
        }
    }
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while it was being archived ({} bytes missing); retry, or stop what is writing to it",
                    self.what, self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_counts() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"abc").unwrap();
        let (digest, inner) = writer.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_of(&b"abc"[..]).unwrap(), digest);
        let mut counting = CountingWriter::new(io::sink());
        counting.write_all(b"abcd").unwrap();
        assert_eq!(counting.written(), 4);
    }

    #[test]
    fn exact_reader_stops_at_len_and_refuses_short_input() {
        let mut out = Vec::new();
        ExactReader::new(&b"abcdef"[..], 4, "f")
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"abcd");
        let err = ExactReader::new(&b"ab"[..], 4, "f")
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("f shrank"), "{err}");
    }
}
