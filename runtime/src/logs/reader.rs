//! Reading json-file logs: all entries across rotated files, and following
//! the current file as it grows or rotates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

use super::{JsonLine, LogOptions, Stream, compressed};

/// One entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// stdout or stderr.
    pub stream: Stream,
    /// Unix nanoseconds.
    pub time: i64,
    /// The bytes as the container wrote them.
    pub data: Vec<u8>,
    /// Docker's `attrs`: what `--log-opt labels=`, `env=`, `tag=` added.
    pub attrs: BTreeMap<String, String>,
}

/// Parses one line of a json-file log; `None` for a damaged line.
pub fn parse_line(line: &str) -> Option<LogEntry> {
    let json: JsonLine<'_> = serde_json::from_str(line).ok()?;
    let time = chrono::DateTime::parse_from_rfc3339(&json.time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0);
    Some(LogEntry {
        stream: json.stream,
        time,
        data: json.log.into_owned().into_bytes(),
        attrs: json.attrs.into_owned(),
    })
}

/// Every entry of the log, oldest first. Missing files are skipped (a
/// container that never wrote has no log).
pub fn read_entries(options: &LogOptions) -> io::Result<Vec<LogEntry>> {
    read_files(&options.files_oldest_first())
}

/// The entries of the rotated files only (not the current one), oldest
/// first: with [`Follower::at_start`] on the current file, a reader sees
/// every entry once even while the log grows.
pub fn read_rotated(options: &LogOptions) -> io::Result<Vec<LogEntry>> {
    let mut files = options.files_oldest_first();
    files.pop();
    read_files(&files)
}

fn read_files(files: &[std::path::PathBuf]) -> io::Result<Vec<LogEntry>> {
    let mut entries = Vec::new();
    for path in files {
        // A rotated file is plain, or compressed once `compress` got to it.
        let file: Box<dyn Read> = match File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match File::open(compressed(path)) {
                Ok(f) => Box::new(flate2::read::MultiGzDecoder::new(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            if let Some(entry) = parse_line(&line?) {
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// Follows the current log file from its end as read so far: call
/// [`Follower::poll`] repeatedly to get what was appended, across rotations.
#[derive(Debug)]
pub struct Follower {
    options: LogOptions,
    reader: Option<BufReader<File>>,
    inode: u64,
    pending: String,
}

impl Follower {
    /// Starts following at the current end of the log.
    pub fn at_end(options: LogOptions) -> io::Result<Self> {
        let mut follower = Self {
            options,
            reader: None,
            inode: 0,
            pending: String::new(),
        };
        follower.open(true)?;
        Ok(follower)
    }

    /// Starts following at the beginning of the current file: the first
    /// poll returns what it already holds.
    pub fn at_start(options: LogOptions) -> io::Result<Self> {
        let mut follower = Self {
            options,
            reader: None,
            inode: 0,
            pending: String::new(),
        };
        follower.open(false)?;
        Ok(follower)
    }

    fn open(&mut self, seek_end: bool) -> io::Result<()> {
        match File::open(&self.options.path) {
            Ok(mut file) => {
                self.inode = file.metadata()?.ino();
                if seek_end {
                    file.seek(SeekFrom::End(0))?;
                }
                self.reader = Some(BufReader::new(file));
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.reader = None;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Entries appended since the last call.
    pub fn poll(&mut self) -> io::Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        if self.reader.is_none() {
            self.open(false)?;
        }
        self.drain(&mut out)?;
        // A rotation renamed the file we read: finish it (done above), then
        // continue with the new one from its start.
        let current = std::fs::metadata(&self.options.path).map(|m| m.ino()).ok();
        if self.reader.is_some() && current.is_some_and(|ino| ino != self.inode) {
            self.open(false)?;
            self.drain(&mut out)?;
        }
        Ok(out)
    }

    fn drain(&mut self, out: &mut Vec<LogEntry>) -> io::Result<()> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(());
        };
        loop {
            let n = reader.read_line(&mut self.pending)?;
            if n == 0 {
                return Ok(());
            }
            if !self.pending.ends_with('\n') {
                // The writer is mid-line: keep it for the next poll.
                return Ok(());
            }
            if let Some(entry) = parse_line(self.pending.trim_end_matches('\n')) {
                out.push(entry);
            }
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::LogWriter;
    use super::*;

    const T: &str = "2026-11-23T08:00:00.5Z";

    #[test]
    fn parses_docker_lines() {
        let e = parse_line(r#"{"log":"hi\n","stream":"stderr","time":"2026-11-23T08:00:00.5Z"}"#)
            .unwrap();
        assert_eq!(e.stream, Stream::Stderr);
        assert_eq!(e.data, b"hi\n");
        assert_eq!(e.time % 1_000_000_000, 500_000_000);
        assert!(parse_line("not json").is_none());
    }

    #[test]
    fn follows_appends_and_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            path: dir.path().join("c.log"),
            max_size: 120,
            max_files: 2,
            attrs: Default::default(),
            compress: false,
        };
        let mut w = LogWriter::open(options.clone()).unwrap();
        w.write(Stream::Stdout, b"before\n", T).unwrap();
        let mut f = Follower::at_end(options.clone()).unwrap();
        assert!(f.poll().unwrap().is_empty());
        w.write(Stream::Stdout, b"one\n", T).unwrap();
        assert_eq!(f.poll().unwrap()[0].data, b"one\n");
        let mut seen = Vec::new();
        for i in 0..6 {
            w.write(Stream::Stdout, format!("n{i}\n").as_bytes(), T)
                .unwrap();
            seen.extend(f.poll().unwrap().into_iter().map(|e| e.data));
        }
        let expected: Vec<Vec<u8>> = (0..6).map(|i| format!("n{i}\n").into_bytes()).collect();
        assert_eq!(seen, expected);
    }
}
