//! Gzip members one after another, inflated without checking their CRC-32
//! and length trailers: for layers, whose content is checked anyway (the
//! compressed bytes against the blob's digest, the tar against its diff
//! ID), where the CRC is about 5 % of the inflate's time and proves
//! nothing more. Headers are parsed whole (extra field, name, comment,
//! header CRC); a stream cut short, a damaged deflate stream or bytes that
//! are not a gzip member are errors, as with a checking decoder.

use std::io::{self, BufRead, Read};

use flate2::bufread::DeflateDecoder;

/// Header flags (RFC 1952).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// A reader of the members of a gzip stream, one after another.
pub struct GzipMembers<R: BufRead> {
    state: Option<State<R>>,
}

/// Where the reader is.
enum State<R: BufRead> {
    /// Before a member's header, or at the end.
    Between(R),
    /// Inside a member's deflate stream.
    Inflating(DeflateDecoder<R>),
}

impl<R: BufRead> GzipMembers<R> {
    /// Reads the gzip stream `reader` holds (at least one member).
    pub fn new(reader: R) -> Self {
        Self {
            state: Some(State::Between(reader)),
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip stream: {what}"))
}

fn byte(reader: &mut impl BufRead) -> io::Result<u8> {
    let mut one = [0u8; 1];
    reader
        .read_exact(&mut one)
        .map_err(|_| invalid("it ends inside a member's header"))?;
    Ok(one[0])
}

fn skip(reader: &mut impl BufRead, count: u64) -> io::Result<()> {
    let skipped = io::copy(&mut reader.take(count), &mut io::sink())?;
    if skipped == count {
        Ok(())
    } else {
        Err(invalid("it ends inside a member's header"))
    }
}

fn skip_text(reader: &mut impl BufRead) -> io::Result<()> {
    let mut text = Vec::new();
    reader.read_until(0, &mut text)?;
    if text.last() == Some(&0) {
        Ok(())
    } else {
        Err(invalid("it ends inside a member's header"))
    }
}

/// Reads one member's header (RFC 1952, section 2.3).
fn skip_header(reader: &mut impl BufRead) -> io::Result<()> {
    let mut fixed = [0u8; 10];
    reader
        .read_exact(&mut fixed)
        .map_err(|_| invalid("it ends inside a member's header"))?;
    if fixed[..3] != [0x1f, 0x8b, 8] {
        return Err(invalid("a member does not start with gzip's magic bytes"));
    }
    let flags = fixed[3];
    if flags & RESERVED != 0 {
        return Err(invalid("a member's header sets reserved flags"));
    }
    if flags & FEXTRA != 0 {
        let length = u16::from_le_bytes([byte(reader)?, byte(reader)?]);
        skip(reader, u64::from(length))?;
    }
    if flags & FNAME != 0 {
        skip_text(reader)?;
    }
    if flags & FCOMMENT != 0 {
        skip_text(reader)?;
    }
    if flags & FHCRC != 0 {
        skip(reader, 2)?;
    }
    Ok(())
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state.take() {
                None => return Ok(0),
                Some(State::Between(mut reader)) => {
                    if reader.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    skip_header(&mut reader)?;
                    self.state = Some(State::Inflating(DeflateDecoder::new(reader)));
                }
                Some(State::Inflating(mut decoder)) => {
                    let read = decoder.read(buf)?;
                    if read > 0 {
                        self.state = Some(State::Inflating(decoder));
                        return Ok(read);
                    }
                    // The deflate stream ended (or its input did: then the
                    // trailer is missing). The trailer is not checked.
                    let mut reader = decoder.into_inner();
                    skip(&mut reader, 8)
                        .map_err(|_| invalid("it ends before a member's trailer"))?;
                    self.state = Some(State::Between(reader));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8], builder: flate2::GzBuilder) -> Vec<u8> {
        let mut encoder = builder.write(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn inflate(stream: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzipMembers::new(stream).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_inflate_one_after_another_whatever_their_headers() {
        let plain = gzip(b"first ", flate2::GzBuilder::new());
        let named = gzip(
            b"second",
            flate2::GzBuilder::new()
                .filename("layer.tar")
                .comment("made by a test")
                .extra(vec![1, 2, 3]),
        );
        let both = [plain.clone(), named].concat();
        assert_eq!(inflate(&both).unwrap(), b"first second");
        let mut big = GzEncoder::new(Vec::new(), Compression::fast());
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
        big.write_all(&data).unwrap();
        assert!(inflate(&big.finish().unwrap()).unwrap() == data);
    }

    #[test]
    fn cut_damaged_or_foreign_streams_are_errors() {
        let stream = gzip(&[7u8; 100_000], flate2::GzBuilder::new());
        for cut in [5, 12, stream.len() / 2, stream.len() - 4] {
            assert!(inflate(&stream[..cut]).is_err(), "cut at {cut}");
        }
        assert!(inflate(b"not gzip at all").is_err());
        assert!(inflate(&[stream.clone(), b"trailing".to_vec()].concat()).is_err());
    }
}
