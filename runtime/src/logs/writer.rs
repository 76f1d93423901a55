//! Writing json-file logs: complete lines become entries as they arrive; a
//! line longer than [`MAX_LINE`] is split into partial entries (as Docker
//! does); files rotate by size.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};

use super::{JsonLine, LogOptions, Stream, rotated};

/// Longest line kept in one entry; longer ones are split.
pub const MAX_LINE: usize = 16 * 1024;

/// Appends a container's output to its log.
#[derive(Debug)]
pub struct LogWriter {
    options: LogOptions,
    file: File,
    size: u64,
    /// Unfinished lines per stream (stdout, stderr).
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (appending to) the log.
    pub fn open(options: LogOptions) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&options.path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            options,
            file,
            size,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Adds output read from `stream` at `time` (RFC 3339).
    pub fn write(&mut self, stream: Stream, data: &[u8], time: &str) -> io::Result<()> {
        let index = stream as usize;
        let mut buffer = std::mem::take(&mut self.partial[index]);
        buffer.extend_from_slice(data);
        let mut start = 0;
        while let Some(newline) = buffer[start..].iter().position(|b| *b == b'\n') {
            let end = start + newline + 1;
            self.write_entry(stream, &buffer[start..end], time)?;
            start = end;
        }
        while buffer.len() - start >= MAX_LINE {
            self.write_entry(stream, &buffer[start..start + MAX_LINE], time)?;
            start += MAX_LINE;
        }
        buffer.drain(..start);
        self.partial[index] = buffer;
        Ok(())
    }

    /// Writes whatever unfinished lines remain (at exit).
    pub fn flush_partial(&mut self, time: &str) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                self.write_entry(stream, &rest, time)?;
            }
        }
        Ok(())
    }

    fn write_entry(&mut self, stream: Stream, data: &[u8], time: &str) -> io::Result<()> {
        let line = JsonLine {
            log: String::from_utf8_lossy(data),
            stream,
            time: Cow::Borrowed(time),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        if self.options.max_size > 0
            && self.size > 0
            && self.size + bytes.len() as u64 > self.options.max_size
        {
            self.rotate()?;
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let path = &self.options.path;
        let keep = self.options.max_files.max(1);
        if keep > 1 {
            for n in (1..keep - 1).rev() {
                let from = rotated(path, n);
                if from.exists() {
                    fs::rename(&from, rotated(path, n + 1))?;
                }
            }
            fs::rename(path, rotated(path, 1))?;
            self.file = OpenOptions::new().create(true).append(true).open(path)?;
        } else {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::read_entries;
    use super::*;

    const T: &str = "2026-11-23T08:00:00.000000001Z";

    #[test]
    fn writes_lines_as_entries_and_keeps_partials() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 0,
            max_files: 1,
        };
        let mut w = LogWriter::open(options.clone()).unwrap();
        w.write(Stream::Stdout, b"hel", T).unwrap();
        w.write(Stream::Stderr, b"oops\n", T).unwrap();
        w.write(Stream::Stdout, b"lo\nwor", T).unwrap();
        w.flush_partial(T).unwrap();
        let text = fs::read_to_string(&options.path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(r#"{{"log":"oops\n","stream":"stderr","time":"{T}"}}"#)
        );
        assert_eq!(
            lines[1],
            format!(r#"{{"log":"hello\n","stream":"stdout","time":"{T}"}}"#)
        );
        assert_eq!(
            lines[2],
            format!(r#"{{"log":"wor","stream":"stdout","time":"{T}"}}"#)
        );
    }

    #[test]
    fn splits_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 0,
            max_files: 1,
        };
        let mut w = LogWriter::open(options.clone()).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 10], T)
            .unwrap();
        w.flush_partial(T).unwrap();
        let entries = read_entries(&options).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].data.len(), MAX_LINE);
        assert_eq!(entries[1].data.len(), 10);
    }

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 200,
            max_files: 3,
        };
        let mut w = LogWriter::open(options.clone()).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i:02}\n").as_bytes(), T)
                .unwrap();
        }
        assert!(options.path.exists());
        assert!(rotated(&options.path, 1).exists());
        assert!(rotated(&options.path, 2).exists());
        assert!(!rotated(&options.path, 3).exists());
        for file in options.files_oldest_first() {
            assert!(
                fs::metadata(&file).unwrap().len() <= 200,
                "{} too big",
                file.display()
            );
        }
        // What is kept is the newest output, in order.
        let entries = read_entries(&options).unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.data, b"line 39\n");
        let numbers: Vec<String> = entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.data).to_string())
            .collect();
        let mut sorted = numbers.clone();
        sorted.sort();
        assert_eq!(numbers, sorted);
    }
}
