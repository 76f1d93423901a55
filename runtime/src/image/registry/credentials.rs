//! Registry credentials in Docker's `config.json` format: hoist's own file
//! (written by `hoist login`), then an existing Docker configuration
//! (`~/.docker/config.json`, its `credHelpers`/`credsStore` helpers
//! included), so users' logins carry over.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::super::reference::DEFAULT_DOMAIN;

/// The key Docker files Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// What to authenticate to one registry with.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (empty with an identity token).
    pub username: String,
    /// Password or access token.
    pub password: String,
    /// An OAuth2 refresh token (`identitytoken` in config.json).
    pub identity_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `config.json` files credentials are read from, first match wins:
/// `$HOIST_CONFIG/config.json` (or `~/.hoist/config.json`), then
/// `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`).
pub fn default_files() -> Vec<PathBuf> {
    vec![hoist_file(), docker_file()]
}

/// hoist's own credential file, the one `hoist login` writes.
pub fn hoist_file() -> PathBuf {
    config_dir("HOIST_CONFIG", ".hoist").join("config.json")
}

fn docker_file() -> PathBuf {
    config_dir("DOCKER_CONFIG", ".docker").join("config.json")
}

fn config_dir(variable: &str, home_dir: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
            .join(home_dir),
    }
}

/// The key a registry's credentials are filed under (Docker Hub's is a URL).
pub fn file_key(domain: &str) -> String {
    let key = normalise_key(domain);
    if key == DEFAULT_DOMAIN {
        DOCKER_HUB_KEY.to_string()
    } else {
        key
    }
}

/// The registry a `config.json` key or a `login` argument names:
/// `https://index.docker.io/v1/` → `docker.io`, `http://host:5000/` → `host:5000`.
pub fn normalise_key(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DEFAULT_DOMAIN.to_string(),
        other => other.to_string(),
    }
}

/// Finds credentials for `domain` in the first of `files` that has any.
/// Unreadable or malformed files are skipped with a warning.
pub fn lookup(files: &[PathBuf], domain: &str) -> Option<Credentials> {
    let wanted = normalise_key(domain);
    files.iter().find_map(|path| {
        let config = read_config(path).ok()?;
        from_config(&config, &wanted)
    })
}

fn from_config(config: &Value, wanted: &str) -> Option<Credentials> {
    let auths = config.get("auths").and_then(Value::as_object);
    if let Some((_, entry)) = auths
        .into_iter()
        .flatten()
        .find(|(key, _)| normalise_key(key) == wanted)
        && let Some(credentials) = from_entry(entry)
    {
        return Some(credentials);
    }
    let helper = config
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| normalise_key(key) == wanted)
                .map(|(_, v)| v)
        })
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str)?;
    from_helper(helper, wanted)
}

/// An `auths` entry: `auth` (base64 `user:password`) or separate fields.
fn from_entry(entry: &Value) -> Option<Credentials> {
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut credentials = Credentials {
        username: text("username"),
        password: text("password"),
        identity_token: text("identitytoken"),
    };
    let auth = text("auth");
    if !auth.is_empty() {
        let decoded = STANDARD.decode(auth.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        credentials.username = user.to_string();
        credentials.password = password.to_string();
    }
    (!credentials.username.is_empty() || !credentials.identity_token.is_empty())
        .then_some(credentials)
}

/// Asks a Docker credential helper (`docker-credential-NAME get`).
fn from_helper(helper: &str, domain: &str) -> Option<Credentials> {
    let server = if domain == DEFAULT_DOMAIN {
        DOCKER_HUB_KEY
    } else {
        domain
    };
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    let answer: Value = serde_json::from_slice(&output.stdout).ok()?;
    let username = answer.get("Username")?.as_str()?.to_string();
    let secret = answer.get("Secret")?.as_str()?.to_string();
    Some(if username == "<token>" {
        Credentials {
            identity_token: secret,
            ..Default::default()
        }
    } else {
        Credentials {
            username,
            password: secret,
            identity_token: String::new(),
        }
    })
}

fn read_config(path: &Path) -> io::Result<Value> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| {
        tracing::warn!(file = %path.display(), "credential file is not valid JSON: {e}");
        io::Error::new(io::ErrorKind::InvalidData, e)
    })
}

/// Saves credentials for `domain` in the `config.json` at `path` (mode
/// 0600), keeping everything else in the file.
pub fn store(path: &Path, domain: &str, credentials: &Credentials) -> io::Result<()> {
    let mut config = existing_config(path)?;
    let auths = auths_mut(&mut config, path)?;
    let wanted = normalise_key(domain);
    auths.retain(|key, _| normalise_key(key) != wanted);
    let auth = STANDARD.encode(format!("{}:{}", credentials.username, credentials.password));
    let mut entry = json!({ "auth": auth });
    if !credentials.identity_token.is_empty() {
        entry = json!({ "identitytoken": credentials.identity_token });
    }
    auths.insert(file_key(domain), entry);
    write_config(path, &config)
}

/// Removes the credentials for `domain` from the file at `path`. Returns
/// whether there were any.
pub fn erase(path: &Path, domain: &str) -> io::Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let mut config = existing_config(path)?;
    let auths = auths_mut(&mut config, path)?;
    let wanted = normalise_key(domain);
    let before = auths.len();
    auths.retain(|key, _| normalise_key(key) != wanted);
    if auths.len() == before {
        return Ok(false);
    }
    write_config(path, &config)?;
    Ok(true)
}

fn existing_config(path: &Path) -> io::Result<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not valid JSON ({e}); fix or remove it",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(e),
    }
}

fn auths_mut<'a>(config: &'a mut Value, path: &Path) -> io::Result<&'a mut Map<String, Value>> {
    let not_object = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: \"auths\" is not an object; fix or remove it",
                path.display()
            ),
        )
    };
    let root = config.as_object_mut().ok_or_else(not_object)?;
    root.entry("auths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(not_object)
}

fn write_config(path: &Path, config: &Value) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(serde_json::to_string_pretty(config)?.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(user: &str, password: &str) -> Credentials {
        Credentials {
            username: user.into(),
            password: password.into(),
            identity_token: String::new(),
        }
    }

    #[test]
    fn reads_docker_hub_and_private_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
                "http://reg.example:5000/": {"username": "u", "password": "p"},
                "tok.example": {"identitytoken": "refresh"}
            }, "other": 1}"#,
        )
        .unwrap();
        let files = [path];
        assert_eq!(
            lookup(&files, "docker.io"),
            Some(credentials("hub", "secret"))
        );
        assert_eq!(
            lookup(&files, "reg.example:5000"),
            Some(credentials("u", "p"))
        );
        assert_eq!(
            lookup(&files, "tok.example").map(|c| c.identity_token),
            Some("refresh".into())
        );
        assert_eq!(lookup(&files, "reg.example"), None);
    }

    #[test]
    fn first_file_wins_and_missing_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.json");
        let second = dir.path().join("b.json");
        store(&second, "reg:5000", &credentials("old", "1")).unwrap();
        let files = [dir.path().join("missing.json"), first.clone(), second];
        assert_eq!(lookup(&files, "reg:5000"), Some(credentials("old", "1")));
        store(&first, "reg:5000", &credentials("new", "2")).unwrap();
        assert_eq!(lookup(&files, "reg:5000"), Some(credentials("new", "2")));
    }

    #[test]
    fn store_and_erase_keep_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"keep:1": {"auth": "YTpi"}}, "psFormat": "x"}"#,
        )
        .unwrap();
        store(&path, "docker.io", &credentials("me", "pw")).unwrap();
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["psFormat"], "x");
        assert!(written["auths"]["keep:1"].is_object());
        assert!(written["auths"][DOCKER_HUB_KEY]["auth"].is_string());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(erase(&path, "index.docker.io").unwrap());
        assert!(!erase(&path, "docker.io").unwrap());
        assert_eq!(lookup(std::slice::from_ref(&path), "docker.io"), None);
        assert_eq!(lookup(&[path], "keep:1"), Some(credentials("a", "b")));
    }

    #[test]
    fn a_broken_file_is_an_error_for_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{nope").unwrap();
        let err = store(&path, "r:1", &credentials("a", "b")).unwrap_err();
        assert!(err.to_string().contains("is not valid JSON"), "{err}");
        assert_eq!(lookup(&[path], "r:1"), None);
    }
}
