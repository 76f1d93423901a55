//! Mutual TLS between cluster nodes and from remote clients (rustls, ring).
//!
//! Every node holds a key it made itself and a certificate the cluster CA
//! signed: common name = node ID, organisational unit = role, organisation
//! = cluster ID, DNS name [`MANAGER_NAME`] on managers. Managers present
//! their certificate followed by the CA's, which lets a joining node that
//! only knows the CA's fingerprint (from its join token) verify a manager
//! before it sends anything ([`pinned_client_config`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

/// DNS name in every manager certificate; clients of managers verify it.
pub const MANAGER_NAME: &str = "hoist-manager";

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM document has no certificate or key, or does not parse.
    #[error("{what} is not valid PEM: {detail}")]
    Pem {
        /// Which document.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The CA certificate cannot verify clients.
    #[error("TLS client verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// A certificate does not carry a hoist identity.
    #[error("certificate is not a hoist node certificate: {0}")]
    Identity(String),
    /// The connection failed; the message carries the transport's causes
    /// (tonic's own is only "transport error").
    #[error("cannot connect to {addr}: {}", causes(source))]
    Connect {
        /// The address dialled.
        addr: String,
        /// What the transport said.
        #[source]
        source: tonic::transport::Error,
    },
}

/// An error and each of its causes, joined by ": " (a cause its parent
/// already quotes is not repeated).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The crypto every hoist TLS configuration uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's DER, in hex: what join tokens pin.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The certificates of a PEM document.
pub fn certificates(
    pem: &str,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            detail: "no certificate in it".into(),
        });
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Pem {
        what: "private key",
        detail: e.to_string(),
    })
}

fn roots(ca_pem: &str) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca_pem, "CA certificate")? {
        roots.add(cert)?;
    }
    Ok(Arc::new(roots))
}

/// Who is at the other end of a connection, from its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Node ID (common name).
    pub node_id: String,
    /// Role (organisational unit): `manager` or `worker`.
    pub role: String,
    /// Cluster ID (organisation).
    pub cluster_id: String,
}

impl PeerIdentity {
    /// Reads the identity a hoist certificate carries.
    pub fn of(cert: &CertificateDer<'_>) -> Result<Self, TlsError> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|e| TlsError::Identity(e.to_string()))?;
        let subject = parsed.subject();
        let field = |values: Vec<&x509_parser::x509::AttributeTypeAndValue<'_>>,
                     name: &str|
         -> Result<String, TlsError> {
            values
                .first()
                .and_then(|v| v.as_str().ok())
                .map(str::to_string)
                .ok_or_else(|| TlsError::Identity(format!("no {name} in its subject")))
        };
        Ok(Self {
            node_id: field(subject.iter_common_name().collect(), "common name")?,
            role: field(
                subject.iter_organizational_unit().collect(),
                "organizational unit",
            )?,
            cluster_id: field(subject.iter_organization().collect(), "organization")?,
        })
    }
}

/// A node's TLS material, as PEM.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The cluster CA certificate(s) it trusts.
    pub ca_pem: String,
    /// Its certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl Credentials {
    /// The identity its certificate names.
    pub fn identity(&self) -> Result<PeerIdentity, TlsError> {
        let certs = certificates(&self.cert_pem, "node certificate")?;
        PeerIdentity::of(&certs[0])
    }

    /// A server configuration: presents the node certificate followed by
    /// the CA's, and verifies client certificates against the CA when a
    /// client presents one. Clients without one (joining nodes) get
    /// through the handshake; each service decides what they may do.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut chain = certificates(&self.cert_pem, "node certificate")?;
        chain.extend(certificates(&self.ca_pem, "CA certificate")?);
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots(&self.ca_pem)?, provider())
                .allow_unauthenticated()
                .build()?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, private_key(&self.key_pem)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client configuration that trusts managers of the CA in `ca_pem`
    /// and presents no certificate.
    pub fn verify_only(ca_pem: &str) -> Result<Arc<ClientConfig>, TlsError> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(ca_pem)?)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client configuration that presents the node certificate and
    /// trusts managers of the cluster CA only.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let chain = certificates(&self.cert_pem, "node certificate")?;
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(&self.ca_pem)?)
            .with_client_auth_cert(chain, private_key(&self.key_pem)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A client configuration for a node that has no certificate yet: it
/// trusts a manager only if the manager's chain holds a CA certificate
/// whose fingerprint is `ca_fingerprint` and the manager's certificate
/// chains to it.
pub fn pinned_client_config(ca_fingerprint: &str) -> Result<Arc<ClientConfig>, TlsError> {
    let verifier = PinnedCa {
        fingerprint: ca_fingerprint.to_ascii_lowercase(),
        provider: provider(),
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Verifies a server against a CA known only by its fingerprint.
#[derive(Debug)]
struct PinnedCa {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|cert| fingerprint(cert) == self.fingerprint)
            .ok_or_else(|| {
                rustls::Error::General(
                    "the manager's CA does not match the fingerprint in the join token: \
                     the token is for another cluster, or something is in the way"
                        .into(),
                )
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?
        .verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn endpoint(addr: &str) -> Result<Endpoint, TlsError> {
    // The URI is required by tonic but never resolved: the connector dials
    // `addr` itself.
    Endpoint::from_shared(format!("http://{addr}"))
        .map(|e| {
            e.connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(5))
                .keep_alive_timeout(Duration::from_secs(10))
                .keep_alive_while_idle(true)
        })
        .map_err(|source| TlsError::Connect {
            addr: addr.to_string(),
            source,
        })
}

fn connector(
    addr: String,
    config: Arc<ClientConfig>,
) -> impl tower::Service<
    Uri,
    Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
    Error = io::Error,
    Future = impl Future<Output = io::Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>>>
             + Send,
> + Clone {
    service_fn(move |_: Uri| {
        let addr = addr.clone();
        let config = config.clone();
        async move {
            let tcp = TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(MANAGER_NAME).map_err(io::Error::other)?;
            let tls = TlsConnector::from(config).connect(name, tcp).await?;
            Ok(TokioIo::new(tls))
        }
    })
}

/// Connects to the manager at `addr` (`IP:PORT`) over TLS, now.
pub async fn connect(addr: &str, config: Arc<ClientConfig>) -> Result<Channel, TlsError> {
    endpoint(addr)?
        .connect_with_connector(connector(addr.to_string(), config))
        .await
        .map_err(|source| TlsError::Connect {
            addr: addr.to_string(),
            source,
        })
}

/// A channel to the manager at `addr` that connects at first use and
/// reconnects after failures (for peers that may be down now).
pub fn lazy_channel(addr: &str, config: Arc<ClientConfig>) -> Result<Channel, TlsError> {
    Ok(endpoint(addr)?.connect_with_connector_lazy(connector(addr.to_string(), config)))
}

/// What a server knows about a connection: where from, and the
/// certificate identity if the client presented one.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// Its verified identity, if it presented a certificate.
    pub identity: Option<PeerIdentity>,
}

/// The connection info of a request served over [`incoming`].
pub fn peer_of<T>(request: &tonic::Request<T>) -> Option<&PeerInfo> {
    request.extensions().get::<PeerInfo>()
}

/// A server-side TLS connection, carrying its [`PeerInfo`] to tonic.
#[derive(Debug)]
pub struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl Connected for TlsConnection {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts TLS connections on `listener` for tonic's
/// `serve_with_incoming`. Handshakes run concurrently; failed ones are
/// logged and dropped, never handed to the server.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<io::Result<TlsConnection>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            // The server dropping the stream closes the channel: stop
            // accepting, which frees the port.
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, addr) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a cluster connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(%addr, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%addr, "TLS handshake timed out");
                            return;
                        }
                    };
                let identity = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .and_then(|cert| PeerIdentity::of(cert).ok());
                let peer = PeerInfo { addr, identity };
                let _ = tx.send(Ok(TlsConnection { stream, peer })).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

/// A fresh private key and a certificate signing request for it, both
/// PEM: what a node sends to be certified. The key never leaves the node;
/// the CA decides every name in the certificate.
pub fn new_key_and_request() -> Result<(String, String), TlsError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| TlsError::Identity(format!("cannot generate a key: {e}")))?;
    let request = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| TlsError::Identity(format!("cannot make a signing request: {e}")))?;
    Ok((key.serialize_pem(), request))
}

/// The validity of the first certificate in `cert_pem`: not-before and
/// not-after, in Unix seconds.
pub fn validity(cert_pem: &str) -> Result<(i64, i64), TlsError> {
    let certs = certificates(cert_pem, "certificate")?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&certs[0])
        .map_err(|e| TlsError::Identity(e.to_string()))?;
    let validity = parsed.validity();
    Ok((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}
