//! A private image registry for pull tests: Debian's `docker-registry`
//! (CNCF distribution 2.8) serving on 127.0.0.1:5000 inside a test
//! daemon's network namespace, so the daemon reaches it over its own
//! loopback and nothing goes near the machine's real network. It is filled
//! with `skopeo`, run in the same namespace.
//!
//! Three kinds of access control are offered ([`Auth`]): none, HTTP Basic
//! against an htpasswd file, and Docker's bearer-token flow, for which the
//! test process runs a small token server of its own on 127.0.0.1:5001 in
//! that namespace. All three serve plain HTTP (distribution 2.8 accepts
//! htpasswd without TLS). Tokens are ES256 JWTs whose `x5c` header carries
//! the token server's self-signed certificate, which is also the registry's
//! `rootcertbundle`.
//!
//! Everything a [`Registry`] makes lives under `daemon.dir/registry`.
//! Declare the registry *after* its daemon so that it is dropped first:
//!
//! ```ignore
//! let daemon = Daemon::start();
//! let registry = Registry::start(&daemon, Auth::Anonymous);
//! ```

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::Digest as _;

use super::{Daemon, Run};

/// Where the registry listens, inside the daemon's network namespace.
pub const REGISTRY_ADDR: &str = "127.0.0.1:5000";
/// Where the token server listens (token mode), in the same namespace.
pub const TOKEN_ADDR: &str = "127.0.0.1:5001";
/// The `service` the registry and its token server agree on.
pub const TOKEN_SERVICE: &str = "hoist-test-registry";
/// The `iss` of the tokens the token server issues.
pub const TOKEN_ISSUER: &str = "hoist-test-issuer";

/// How the registry controls access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    Anonymous,
    /// HTTP Basic against an htpasswd file holding this one user.
    Htpasswd {
        /// The user name.
        user: String,
        /// Their password.
        password: String,
    },
    /// Docker's token flow: the registry answers 401 with a `Bearer`
    /// challenge pointing at our token server, which hands this user (and
    /// only them) tokens for whatever repository access they ask for;
    /// anonymous callers get tokens granting nothing.
    Token {
        /// The user name.
        user: String,
        /// Their password.
        password: String,
    },
}

impl Auth {
    /// HTTP Basic auth for `user` with `password`.
    pub fn htpasswd(user: &str, password: &str) -> Self {
        Auth::Htpasswd {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// Token auth for `user` with `password`.
    pub fn token(user: &str, password: &str) -> Self {
        Auth::Token {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// The credentials, as `(user, password)`, unless anonymous.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match self {
            Auth::Anonymous => None,
            Auth::Htpasswd { user, password } | Auth::Token { user, password } => {
                Some((user.as_str(), password.as_str()))
            }
        }
    }
}

/// A running registry (and token server, in token mode). Dropping it stops
/// both and removes its directory. A daemon has room for one registry at a
/// time (fixed ports and directory); declare it after the daemon.
pub struct Registry {
    /// Everything of this registry lives under here (`daemon.dir/registry`).
    pub dir: PathBuf,
    /// The filesystem driver's root directory.
    pub storage: PathBuf,
    /// The registry's log (distribution writes it to stderr).
    pub log_path: PathBuf,
    /// How it controls access.
    pub auth: Auth,
    /// Where it listens, in its namespace (`127.0.0.1:5000`).
    addr: String,
    netns: String,
    child: Option<Child>,
    token_server: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry with `auth` in `daemon`'s network namespace, and
    /// waits until it answers `GET /v2/` (a 401 counts, for auth modes).
    pub fn start(daemon: &Daemon, auth: Auth) -> Registry {
        Self::start_at(
            &daemon.netns,
            daemon.dir.join("registry"),
            REGISTRY_ADDR,
            auth,
        )
    }

    /// Starts a registry with `auth` in the network namespace `netns`,
    /// listening on `addr`, keeping everything in `dir` (a test bed host's
    /// registry, which the bed's other hosts reach).
    pub fn start_at(netns: &str, dir: PathBuf, addr: &str, auth: Auth) -> Registry {
        let storage = dir.join("storage");
        fs::create_dir_all(&storage).expect("create registry storage directory");
        fs::create_dir_all(dir.join("skopeo-home")).expect("create skopeo home");
        fs::create_dir_all(dir.join("skopeo-cache")).expect("create skopeo cache directory");
        fs::write(dir.join("skopeo-auth.json"), "{\"auths\":{}}\n")
            .expect("write skopeo auth file");
        let log_path = dir.join("registry.log");

        let mut token_server = None;
        let auth_section = match &auth {
            Auth::Anonymous => String::new(),
            Auth::Htpasswd { user, password } => {
                let hash = bcrypt::hash(password, 5).expect("bcrypt the test password");
                let path = dir.join("htpasswd");
                fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: hoist-test-realm\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token { user, password } => {
                let signer = TokenSigner::new();
                let bundle = dir.join("token-root.pem");
                fs::write(&bundle, &signer.cert_pem).expect("write token root certificate");
                token_server = Some(TokenServer::start(
                    netns,
                    signer,
                    user.clone(),
                    password.clone(),
                ));
                format!(
                    "auth:\n  token:\n    realm: http://{TOKEN_ADDR}/token\n    \
                     service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    \
                     rootcertbundle: {}\n",
                    bundle.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: {addr}\n  secret: {}\n\
             {auth_section}",
            storage.display(),
            hoist_runtime::fsutil::random_hex(16),
        );
        let config_path = dir.join("config.yml");
        fs::write(&config_path, config).expect("write registry config");

        let log = fs::File::create(&log_path).expect("create registry log");
        let mut command = in_netns(netns, "docker-registry", None);
        command
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone registry log handle"))
            .stderr(log);
        let child = command
            .spawn()
            .expect("start docker-registry (is Debian's docker-registry installed?)");
        let mut registry = Registry {
            dir,
            storage,
            log_path,
            auth,
            addr: addr.to_string(),
            netns: netns.to_string(),
            child: Some(child),
            token_server,
        };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("docker-registry exited with {status}:\n{}", self.log());
            }
            if let Ok((status, _)) = self.get("/v2/", false) {
                let expected = if self.auth == Auth::Anonymous {
                    200
                } else {
                    401
                };
                assert_eq!(
                    status,
                    expected,
                    "GET /v2/ answered {status}:\n{}",
                    self.log()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's address as a client in the namespace sees it,
    /// `127.0.0.1:5000`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The full reference of `name` (`repo:tag` or `repo@digest`) in this
    /// registry, e.g. `127.0.0.1:5000/busybox:latest`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// The credentials as skopeo's `--creds` wants them (`user:password`),
    /// unless anonymous.
    pub fn creds(&self) -> Option<String> {
        self.auth
            .credentials()
            .map(|(user, password)| format!("{user}:{password}"))
    }

    /// How many requests the token server has received (0 unless token
    /// mode), to prove a client went through the challenge flow.
    pub fn token_requests(&self) -> usize {
        self.token_server
            .as_ref()
            .map_or(0, |server| server.requests.load(Ordering::SeqCst))
    }

    /// The registry's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs skopeo with `args` in the daemon's network namespace, isolated
    /// from the machine's skopeo state (auth file, blob-info cache, home).
    pub fn skopeo(&self, args: &[&str]) -> Run {
        self.skopeo_output(args).into()
    }

    fn skopeo_output(&self, args: &[&str]) -> Output {
        in_netns(&self.netns, "skopeo", Some(&self.dir.join("skopeo-cache")))
            .args(args)
            .env("HOME", self.dir.join("skopeo-home"))
            .env("REGISTRY_AUTH_FILE", self.dir.join("skopeo-auth.json"))
            .env_remove("DOCKER_CONFIG")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null())
            .output()
            .expect("run skopeo (is Debian's skopeo installed?)")
    }

    /// Copies the skopeo `source` reference (e.g. `oci:/dir:tag`,
    /// `docker-archive:/x.tar`) to `dest` (`repo:tag`) in this registry,
    /// with the registry's credentials and `extra` skopeo copy options;
    /// asserts success.
    pub fn push(&self, source: &str, dest: &str, extra: &[&str]) {
        let destination = format!("docker://{}", self.image(dest));
        let creds = self.creds();
        let mut args = vec![
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ];
        if let Some(creds) = &creds {
            args.extend(["--dest-creds", creds.as_str()]);
        }
        args.extend(extra);
        args.extend([source, destination.as_str()]);
        let run = self.skopeo(&args);
        assert_eq!(
            run.code,
            0,
            "skopeo copy {source} {destination} failed:\nstdout: {}\nstderr: {}\nregistry log:\n{}",
            run.stdout,
            run.stderr,
            self.log()
        );
    }

    /// Pushes the image tagged `tag` in the OCI layout at `layout_dir` to
    /// `dest` (`repo:tag`) in this registry.
    pub fn push_from_oci_layout(&self, layout_dir: &Path, tag: &str, dest: &str) {
        self.push(&format!("oci:{}:{tag}", layout_dir.display()), dest, &[]);
    }

    /// Pushes an OCI archive (a tarred OCI layout, as `hoist save --format
    /// oci` writes) to `dest`; `tag` names the image inside it, or `None`
    /// when the archive holds exactly one.
    pub fn push_oci_archive(&self, archive: &Path, tag: Option<&str>, dest: &str) {
        let source = match tag {
            Some(tag) => format!("oci-archive:{}:{tag}", archive.display()),
            None => format!("oci-archive:{}", archive.display()),
        };
        self.push(&source, dest, &[]);
    }

    /// Pushes a docker-archive (as `hoist save` writes by default) to
    /// `dest`; the archive must hold exactly one image.
    pub fn push_docker_archive(&self, archive: &Path, dest: &str) {
        self.push(&format!("docker-archive:{}", archive.display()), dest, &[]);
    }

    /// Saves `image` from `daemon` as an OCI archive and pushes it to
    /// `dest` in this registry.
    pub fn push_daemon_image(&self, daemon: &Daemon, image: &str, dest: &str) {
        let archive = self
            .dir
            .join(format!("save-{}.tar", hoist_runtime::fsutil::random_hex(4)));
        let archive_arg = archive.to_str().expect("UTF-8 test directory");
        daemon.ok(&["save", "--format", "oci", "-o", archive_arg, image]);
        self.push_oci_archive(&archive, None, dest);
        let _ = fs::remove_file(&archive);
    }

    /// The raw manifest of `reference` (`repo:tag` or `repo@digest`) as
    /// the registry serves it, fetched with skopeo and the credentials.
    pub fn raw_manifest(&self, reference: &str) -> Vec<u8> {
        let source = format!("docker://{}", self.image(reference));
        let creds = self.creds();
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        match &creds {
            Some(creds) => args.extend(["--creds", creds.as_str()]),
            None => args.push("--no-creds"),
        }
        args.push(&source);
        let output = self.skopeo_output(&args);
        assert!(
            output.status.success(),
            "skopeo inspect --raw {source} failed:\n{}\nregistry log:\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        output.stdout
    }

    /// The digest (`sha256:…`) of the manifest `repo:tag` names.
    pub fn manifest_digest(&self, repo: &str, tag: &str) -> String {
        let raw = self.raw_manifest(&format!("{repo}:{tag}"));
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&raw)))
    }

    /// The file the registry keeps the blob `digest` (`sha256:…` or bare
    /// hex) in, so a test can tamper with it.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "not a sha256 digest: {digest}"
        );
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Sends `GET path` to the registry over plain HTTP from inside the
    /// namespace, with the registry's credentials as HTTP Basic when
    /// `with_basic` (useful in htpasswd mode only); returns the status code
    /// and body.
    pub fn get(&self, path: &str, with_basic: bool) -> std::io::Result<(u16, String)> {
        let mut headers = String::new();
        if with_basic && let Some((user, password)) = self.auth.credentials() {
            headers = format!(
                "Authorization: Basic {}\r\n",
                STANDARD.encode(format!("{user}:{password}"))
            );
        }
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{headers}Connection: close\r\n\r\n",
            self.addr
        );
        let netns = self.netns.clone();
        let addr = self.addr.clone();
        let response = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
            enter_netns(&netns)?;
            let mut stream = TcpStream::connect(&addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(request.as_bytes())?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        })
        .join()
        .map_err(|_| std::io::Error::other("HTTP client thread panicked"))??;
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response}")))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(self.token_server.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Moves the calling thread into the network namespace `/run/netns/<netns>`
/// (setns with CLONE_NEWNET is per thread on Linux).
fn enter_netns(netns: &str) -> std::io::Result<()> {
    let file = fs::File::open(format!("/run/netns/{netns}"))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

/// A command for `program` that runs in the network namespace `netns`;
/// with `cache`, also in a private mount namespace whose
/// `/var/lib/containers/cache` (the blob-info cache containers/image keeps
/// for root) is `cache`, so nothing outside the test's directory is written.
fn in_netns(netns: &str, program: &str, cache: Option<&Path>) -> Command {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;

    let ns = fs::File::open(format!("/run/netns/{netns}"))
        .unwrap_or_else(|e| panic!("open /run/netns/{netns}: {e}"));
    // The nearest existing directory on the way to the cache is what gets
    // covered, so that skopeo creates nothing outside `cache` either.
    let bind = cache.map(|cache| {
        let target = [
            "/var/lib/containers/cache",
            "/var/lib/containers",
            "/var/lib",
        ]
        .into_iter()
        .find(|dir| Path::new(dir).is_dir())
        .expect("/var/lib exists");
        let source = if target == "/var/lib/containers/cache" {
            cache.to_path_buf()
        } else {
            let relative = Path::new("/var/lib/containers/cache")
                .strip_prefix(target)
                .expect("target is an ancestor");
            let top = cache.join("root");
            fs::create_dir_all(top.join(relative)).expect("create skopeo cache tree");
            top
        };
        (
            CString::new(source.as_os_str().as_bytes()).expect("path without NUL"),
            CString::new(target).expect("path without NUL"),
        )
    });
    let mut command = Command::new(program);
    // SAFETY: only raw system calls between fork and exec, on descriptors
    // and strings made before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some((source, target)) = &bind
                && (libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    || libc::mount(
                        source.as_ptr(),
                        target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// The token server's signing key and its self-signed certificate (the
/// registry's `rootcertbundle`; tokens carry it in their `x5c` header).
struct TokenSigner {
    key: ring::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
    cert_pem: String,
}

impl TokenSigner {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .expect("generate token signing key");
        let mut params = rcgen::CertificateParams::new(vec![TOKEN_ISSUER.to_string()])
            .expect("token certificate parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, TOKEN_ISSUER);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        let cert = params
            .self_signed(&key)
            .expect("self-sign token certificate");
        let rng = ring::rand::SystemRandom::new();
        let signing = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .expect("load token signing key into ring");
        TokenSigner {
            key: signing,
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
        }
    }

    /// A signed ES256 JWT for `subject` granting `access`.
    fn token(&self, subject: &str, access: &[serde_json::Value]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let header = serde_json::json!({
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.cert_der)],
        });
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": hoist_runtime::fsutil::random_hex(16),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .expect("sign token");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

/// The token server: one thread in the daemon's network namespace serving
/// `GET /token` on 127.0.0.1:5001 until stopped.
struct TokenServer {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    fn start(netns: &str, signer: TokenSigner, user: String, password: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let netns = netns.to_string();
        let thread = {
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::Builder::new()
                .name("token-server".into())
                .spawn(move || {
                    let listener = enter_netns(&netns).and_then(|()| {
                        let listener = TcpListener::bind(TOKEN_ADDR)?;
                        listener.set_nonblocking(true)?;
                        Ok(listener)
                    });
                    let listener = match listener {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            listener
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let credentials = (user, password);
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                requests.fetch_add(1, Ordering::SeqCst);
                                // A client that misbehaves only loses its answer.
                                let _ = serve_token_request(stream, &signer, &credentials);
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                })
                .expect("spawn token server thread")
        };
        ready_rx
            .recv()
            .expect("token server thread reports")
            .expect("token server binds 127.0.0.1:5001 in the daemon's netns");
        TokenServer {
            stop,
            requests,
            thread: Some(thread),
        }
    }
}

impl Drop for TokenServer {
    /// Stops the accept loop (it polls the flag) and waits for the thread,
    /// which closes the listener.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one HTTP request to the token server.
fn serve_token_request(
    mut stream: TcpStream,
    signer: &TokenSigner,
    (user, password): &(String, String),
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 64 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/token" {
        return respond(&mut stream, "404 Not Found", r#"{"details":"not found"}"#);
    }
    let basic = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_string());
    let subject = match basic {
        None => None,
        Some(value) => {
            let given = value
                .strip_prefix("Basic ")
                .and_then(|b64| STANDARD.decode(b64.trim()).ok())
                .map(|raw| String::from_utf8_lossy(&raw).into_owned());
            match given.as_deref().and_then(|s| s.split_once(':')) {
                Some((u, p)) if u == user && p == password => Some(u.to_string()),
                _ => {
                    return respond(
                        &mut stream,
                        "401 Unauthorized",
                        r#"{"details":"incorrect username or password"}"#,
                    );
                }
            }
        }
    };
    let mut service_ok = false;
    let mut access = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "service" => service_ok = value == TOKEN_SERVICE,
            "scope" if subject.is_some() => {
                // type:name:actions, where the name may hold colons.
                let Some((kind, rest)) = value.split_once(':') else {
                    continue;
                };
                let Some((name, actions)) = rest.rsplit_once(':') else {
                    continue;
                };
                access.push(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').filter(|a| !a.is_empty()).collect::<Vec<_>>(),
                }));
            }
            _ => {}
        }
    }
    if !service_ok {
        return respond(
            &mut stream,
            "400 Bad Request",
            r#"{"details":"unknown service"}"#,
        );
    }
    let token = signer.token(subject.as_deref().unwrap_or(""), &access);
    let issued_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": issued_at,
    });
    respond(&mut stream, "200 OK", &body.to_string())
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// Decodes a URL query component (`%XX` escapes and `+` for space).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
