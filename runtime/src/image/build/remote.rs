//! `ADD <URL>`: a file fetched over HTTP(S) for the build, as Docker adds
//! it: saved under the URL's last path segment with mode 0600 and the
//! server's `Last-Modified` time, never unpacked, checked against
//! `--checksum` when one is given.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The server could not be reached, or the transfer broke off.
    #[error("cannot fetch {url}: {reason}")]
    Unreachable {
        /// What was fetched.
        url: String,
        /// The transport's words.
        reason: String,
    },
    /// The server answered with an error.
    #[error("cannot fetch {url}: the server answered {status}")]
    Status {
        /// What was fetched.
        url: String,
        /// Its answer.
        status: String,
    },
    /// `--checksum` did not match what came.
    #[error("{url} does not match --checksum: expected {expected}, got {actual}")]
    Checksum {
        /// What was fetched.
        url: String,
        /// The checksum given.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// `--checksum` in a form hoist does not check.
    #[error("invalid --checksum {0:?}: use sha256:<64 hex digits>")]
    BadChecksum(String),
    /// Writing the file failed.
    #[error("cannot save the download of {url}: {source}")]
    Write {
        /// What was fetched.
        url: String,
        /// Why.
        source: io::Error,
    },
}

/// Whether an ADD source is a URL rather than a path in the context.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Checks a `--checksum` value: `sha256:` and 64 lower-case hex digits.
pub fn check_checksum(checksum: &str) -> Result<(), RemoteError> {
    crate::image::registry::download::check_digest(checksum)
        .map_err(|_| RemoteError::BadChecksum(checksum.to_string()))
}

/// The file name a download of `url` gets: its path's last segment
/// (`download` when the path ends with `/`).
pub fn file_name(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let path = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| rest);
    let segment = path
        .split_once('/')
        .map_or("", |(_, path)| path)
        .rsplit('/')
        .next()
        .unwrap_or("");
    match segment {
        "" | "." | ".." => "download".to_string(),
        name => name.to_string(),
    }
}

/// Fetches `url` into `dir` (under [`file_name`]); returns the file's
/// path. The content streams to disk, hashed on the way, and is checked
/// against `checksum` before the file is kept.
pub async fn download(
    url: &str,
    dir: &Path,
    checksum: Option<&str>,
) -> Result<PathBuf, RemoteError> {
    if let Some(checksum) = checksum {
        check_checksum(checksum)?;
    }
    let unreachable = |e: &dyn std::fmt::Display| RemoteError::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let client = crate::image::registry::client::http_client(false).map_err(|e| unreachable(&e))?;
    let response = client.get(url).send().await.map_err(|e| unreachable(&e))?;
    if !response.status().is_success() {
        return Err(RemoteError::Status {
            url: url.to_string(),
            status: response.status().to_string(),
        });
    }
    let modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| chrono::DateTime::parse_from_rfc2822(text).ok())
        .map(std::time::SystemTime::from);
    let path = dir.join(file_name(url));
    let write_error = |source| RemoteError::Write {
        url: url.to_string(),
        source,
    };
    let mut file = File::create(&path).map_err(write_error)?;
    let mut hasher = Sha256::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| unreachable(&e))?;
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(write_error)?;
    }
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(expected) = checksum
        && expected != actual
    {
        drop(file);
        let _ = fs::remove_file(&path);
        return Err(RemoteError::Checksum {
            url: url.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(write_error)?;
    if let Some(modified) = modified {
        file.set_modified(modified).map_err(write_error)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_files_by_their_last_segment() {
        assert!(is_url("https://example.com/x.tgz") && is_url("http://h/x"));
        assert!(!is_url("app.tgz") && !is_url("ftp://h/x"));
        assert_eq!(
            file_name("https://example.com/dl/tini-amd64?raw=1"),
            "tini-amd64"
        );
        assert_eq!(
            file_name("http://127.0.0.1:5000/v2/a/blobs/sha256:ab#x"),
            "sha256:ab"
        );
        assert_eq!(file_name("https://example.com/"), "download");
        assert_eq!(file_name("https://example.com"), "download");
        assert_eq!(file_name("https://example.com/a/.."), "download");
    }

    #[test]
    fn only_sha256_checksums_are_taken() {
        assert!(check_checksum(&format!("sha256:{}", "a".repeat(64))).is_ok());
        for bad in [
            "sha256:abc",
            "md5:x",
            &format!("sha512:{}", "a".repeat(128)),
        ] {
            assert!(check_checksum(bad).is_err(), "{bad}");
        }
    }
}
