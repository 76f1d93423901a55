//! Writing json-file logs: complete lines become entries as they arrive; a
//! line longer than [`MAX_LINE`] is split into partial entries (as Docker
//! does); files rotate by size, a rotated file compressed on a thread of
//! its own when asked (the container's output is not held up meanwhile).

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::thread::JoinHandle;

use super::{JsonLine, LogOptions, Stream, compressed, rotated};

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
    /// The compression of the last rotated file, if one runs.
    compressing: Option<JoinHandle<()>>,
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
            compressing: None,
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

    /// Writes whatever unfinished lines remain, and waits for the last
    /// rotated file's compression (at exit).
    pub fn flush_partial(&mut self, time: &str) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                self.write_entry(stream, &rest, time)?;
            }
        }
        if let Some(compressing) = self.compressing.take() {
            let _ = compressing.join();
        }
        Ok(())
    }

    fn write_entry(&mut self, stream: Stream, data: &[u8], time: &str) -> io::Result<()> {
        let line = JsonLine {
            log: String::from_utf8_lossy(data),
            stream,
            attrs: Cow::Borrowed(&self.options.attrs),
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
            // The file the last rotation compresses is renamed below.
            if let Some(compressing) = self.compressing.take() {
                let _ = compressing.join();
            }
            for n in (1..keep - 1).rev() {
                for (from, to) in [
                    (rotated(path, n), rotated(path, n + 1)),
                    (
                        compressed(&rotated(path, n)),
                        compressed(&rotated(path, n + 1)),
                    ),
                ] {
                    if from.exists() {
                        fs::rename(&from, to)?;
                    }
                }
            }
            let newest = rotated(path, 1);
            fs::rename(path, &newest)?;
            self.file = OpenOptions::new().create(true).append(true).open(path)?;
            if self.options.compress {
                self.compressing = Some(std::thread::spawn(move || {
                    if let Err(e) = compress(&newest) {
                        eprintln!("cannot compress the rotated log {}: {e}", newest.display());
                    }
                }));
            }
        } else {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// Replaces `path` with `<path>.gz`, made beside it and renamed into
/// place: a reader finds one or the other whole.
fn compress(path: &Path) -> io::Result<()> {
    let target = compressed(path);
    let mut partial = target.clone().into_os_string();
    partial.push(".tmp");
    let mut encoder =
        flate2::write::GzEncoder::new(File::create(&partial)?, flate2::Compression::fast());
    io::copy(&mut File::open(path)?, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    fs::rename(&partial, &target)?;
    fs::remove_file(path)
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
            attrs: Default::default(),
            compress: false,
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
            attrs: Default::default(),
            compress: false,
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
            attrs: Default::default(),
            compress: false,
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

    #[test]
    fn attributes_ride_on_every_line_and_rotated_files_are_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 300,
            max_files: 3,
            attrs: [("team".to_string(), "web".to_string())].into(),
            compress: true,
        };
        let mut w = LogWriter::open(options.clone()).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i:02}\n").as_bytes(), T)
                .unwrap();
        }
        w.flush_partial(T).unwrap();
        let current = fs::read_to_string(&options.path).unwrap();
        assert!(
            current.starts_with(r#"{"log":"line"#)
                && current.contains(r#","attrs":{"team":"web"},"time""#),
            "{current}"
        );
        for n in 1..=2 {
            assert!(compressed(&rotated(&options.path, n)).exists(), "{n}.gz");
            assert!(!rotated(&options.path, n).exists(), "{n} plain");
        }
        // Read back across the compressed files, newest last, with the attributes.
        let entries = read_entries(&options).unwrap();
        assert_eq!(entries.last().unwrap().data, b"line 39\n");
        assert!(entries.len() > current.lines().count());
        assert!(
            entries
                .iter()
                .all(|e| e.attrs.get("team").map(String::as_str) == Some("web"))
        );
        let numbers: Vec<&[u8]> = entries.iter().map(|e| e.data.as_slice()).collect();
        let mut sorted = numbers.clone();
        sorted.sort();
        assert_eq!(numbers, sorted);
    }
}
