//! Finding the daemon: `--host`, `HOIST_HOST`, or the default socket — and,
//! as root with nothing answering on the default socket, starting one in
//! the background, as DESIGN.md promises.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hoist_api::client::{DEFAULT_SOCKET, connect, socket_path};
use tonic::transport::Channel;

use crate::exit::{CliError, CliResult};

/// Where the auto-started daemon writes its log.
const AUTOSTART_LOG: &str = "/run/hoist/daemon.log";

/// Connects to the daemon at `host` (or the default socket).
pub async fn channel(host: Option<&str>) -> CliResult<Channel> {
    let path = match host {
        Some(h) => socket_path(h).map_err(|e| CliError::usage(e.to_string()))?,
        None => PathBuf::from(DEFAULT_SOCKET),
    };
    match connect(&path).await {
        Ok(channel) => Ok(channel),
        Err(e) => {
            let default = path == Path::new(DEFAULT_SOCKET);
            if !default || !nix::unistd::Uid::effective().is_root() {
                return Err(CliError::client(format!("{e}: is `hoist daemon` running?")));
            }
            start_daemon(&path).await?;
            connect(&path)
                .await
                .map_err(|e| CliError::client(e.to_string()))
        }
    }
}

async fn start_daemon(socket: &Path) -> CliResult {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::client(format!("cannot find the hoist executable: {e}")))?;
    if let Some(dir) = Path::new(AUTOSTART_LOG).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(AUTOSTART_LOG)?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our
    // terminal and process group so it outlives this command.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    command
        .spawn()
        .map_err(|e| CliError::client(format!("cannot start the hoist daemon: {e}")))?;
    eprintln!("hoist: no daemon was running; started one in the background (log: {AUTOSTART_LOG})");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(CliError::client(format!(
        "the hoist daemon did not come up within 15 s: see {AUTOSTART_LOG}"
    )))
}

/// Where the CLI sends its calls: `--host` and the TLS files for tcp://.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// `--host` / `HOIST_HOST`.
    pub host: Option<String>,
    /// `--tlscacert`, `--tlscert`, `--tlskey`.
    pub tls: TlsFiles,
}

/// The files of a remote client's mutual TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// CA certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate.
    pub cert: Option<PathBuf>,
    /// Client key.
    pub key: Option<PathBuf>,
}

impl Target {
    /// Whether the host is a manager's cluster port (`tcp://IP:PORT`).
    pub fn is_remote(&self) -> bool {
        self.host
            .as_deref()
            .is_some_and(|h| h.starts_with("tcp://"))
    }
}

/// Connects to a manager's cluster port over mutual TLS.
pub async fn remote_channel(target: &Target) -> CliResult<Channel> {
    let host = target.host.as_deref().unwrap_or_default();
    let addr = host.trim_start_matches("tcp://").trim_end_matches('/');
    let read = |path: &Option<PathBuf>, flag: &str| -> CliResult<String> {
        let path = path.as_ref().ok_or_else(|| {
            CliError::usage(format!(
                "--host {host} needs --tlscacert, and --tlscert with --tlskey (a certificate of the cluster): {flag} is missing"
            ))
        })?;
        std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {flag} {}: {e}", path.display())))
    };
    let ca_pem = read(&target.tls.ca, "--tlscacert")?;
    let config = match (&target.tls.cert, &target.tls.key) {
        // Without a client certificate the manager is still verified; it
        // then refuses every call that needs one, which is all of them.
        (None, None) => hoist_api::tls::Credentials::verify_only(&ca_pem),
        _ => hoist_api::tls::Credentials {
            ca_pem,
            cert_pem: read(&target.tls.cert, "--tlscert")?,
            key_pem: read(&target.tls.key, "--tlskey")?,
        }
        .client_config(),
    }
    .map_err(|e| CliError::usage(e.to_string()))?;
    hoist_api::tls::connect(addr, config)
        .await
        .map_err(|e| CliError::client(e.to_string()))
}
