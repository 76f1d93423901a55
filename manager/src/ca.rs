//! The cluster's certificate authority: made at `cluster init`, kept in
//! the replicated store so any manager can certify nodes, and used to sign
//! node certificates naming the node's ID, role and cluster.

use std::time::Duration;

use hoist_api::tls::{MANAGER_NAME, certificates, fingerprint};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::store::objects::{Role, RootCa};

/// How long a root CA is valid (as Swarm's: 20 years).
const ROOT_LIFETIME: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// Certificates start up to this much in the past, so a node whose clock
/// is a little behind the CA's accepts them at once.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// The backdating of a certificate valid for `lifetime`: an hour, or a
/// quarter of a short lifetime (so renewal at two thirds stays meaningful).
fn backdate(lifetime: Duration) -> Duration {
    CLOCK_SKEW.min(lifetime / 4)
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen failed (bad key, bad request, signing).
    #[error("{what}: {source}")]
    Rcgen {
        /// What was being done.
        what: &'static str,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// No randomness for a name.
    #[error("no randomness: {0}")]
    Random(String),
    /// The stored CA certificate does not parse.
    #[error("the cluster CA certificate: {0}")]
    Tls(#[from] hoist_api::tls::TlsError),
}

fn rcgen(what: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Rcgen { what, source }
}

/// The certificate parameters of a new root of cluster `cluster_id`; the
/// common name carries a random part, so a rotated root's name differs
/// from the previous one's.
fn root_params(cluster_id: &str) -> Result<CertificateParams, CaError> {
    let generation = crate::ids::new_id().map_err(|e| CaError::Random(e.to_string()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("hoist-ca-{cluster_id}-{}", &generation[..6]),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + ROOT_LIFETIME;
    Ok(params)
}

fn self_signed(params: &CertificateParams, key: &KeyPair) -> Result<RootCa, CaError> {
    let cert = params
        .self_signed(key)
        .map_err(rcgen("cannot sign the CA certificate"))?;
    Ok(RootCa {
        digest: fingerprint(cert.der()),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        previous_cert_pem: String::new(),
        cross_signed_pem: String::new(),
    })
}

fn new_key() -> Result<KeyPair, CaError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(rcgen("cannot generate the CA key"))
}

/// Makes a new self-signed root CA for cluster `cluster_id`.
pub fn new_root(cluster_id: &str) -> Result<RootCa, CaError> {
    self_signed(&root_params(cluster_id)?, &new_key()?)
}

/// Starts a rotation from `current` to a new root: the new root, trusting
/// the current one until the rotation ends, with its certificate
/// cross-signed by the current root (same name, same key).
pub fn rotate(current: &RootCa, cluster_id: &str) -> Result<RootCa, CaError> {
    let params = root_params(cluster_id)?;
    let key = new_key()?;
    let mut next = self_signed(&params, &key)?;
    let current_key = KeyPair::from_pem(&current.key_pem).map_err(rcgen("the cluster CA key"))?;
    let current_der = certificates(&current.cert_pem, "CA certificate")?.remove(0);
    let issuer =
        Issuer::from_ca_cert_der(&current_der, current_key).map_err(rcgen("the cluster CA"))?;
    let cross = params
        .signed_by(&key, &issuer)
        .map_err(rcgen("cannot cross-sign the new CA certificate"))?;
    next.previous_cert_pem = current.cert_pem.clone();
    next.cross_signed_pem = cross.pem();
    Ok(next)
}

/// Signs a node certificate for the key in `request` (a PEM signing
/// request), naming `node_id`, `role` and `cluster_id`, valid for
/// `lifetime`. Whatever names the request asks for are ignored.
pub fn issue(
    root: &RootCa,
    request: &str,
    node_id: &str,
    role: Role,
    cluster_id: &str,
    lifetime: Duration,
) -> Result<String, CaError> {
    let subject = Subject {
        common_name: node_id,
        unit: &role.to_string(),
        cluster_id,
        manager: role == Role::Manager,
    };
    sign(root, request, &subject, lifetime)
}

/// The organisational unit of a client certificate (`hoist cluster
/// client-cert`): a user's or a CI job's, not a node's.
pub const CLIENT_UNIT: &str = "client";

/// Signs `request` for the client `client_id` of the cluster: a
/// certificate that controls the cluster as a manager's does (service,
/// stack, node commands) but is no node's, so it cannot join, hold a
/// session or serve Raft.
pub fn issue_client(
    root: &RootCa,
    request: &str,
    client_id: &str,
    cluster_id: &str,
    lifetime: Duration,
) -> Result<String, CaError> {
    let subject = Subject {
        common_name: client_id,
        unit: CLIENT_UNIT,
        cluster_id,
        manager: false,
    };
    sign(root, request, &subject, lifetime)
}

/// Whom a certificate names.
struct Subject<'a> {
    /// Node or client ID.
    common_name: &'a str,
    /// `manager`, `worker` or `client`.
    unit: &'a str,
    cluster_id: &'a str,
    /// Whether it also serves as a manager's (the managers' DNS name).
    manager: bool,
}

fn sign(
    root: &RootCa,
    request: &str,
    subject: &Subject<'_>,
    lifetime: Duration,
) -> Result<String, CaError> {
    let request = CertificateSigningRequestParams::from_pem(request)
        .map_err(rcgen("the certificate signing request is not valid"))?;
    let key = KeyPair::from_pem(&root.key_pem).map_err(rcgen("the cluster CA key"))?;
    let ca_der = certificates(&root.cert_pem, "CA certificate")?.remove(0);
    let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(rcgen("the cluster CA"))?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, subject.common_name);
    name.push(DnType::OrganizationalUnitName, subject.unit);
    name.push(DnType::OrganizationName, subject.cluster_id);
    params.distinguished_name = name;
    if subject.manager {
        params.subject_alt_names = vec![SanType::DnsName(
            MANAGER_NAME.try_into().map_err(rcgen("manager name"))?,
        )];
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - backdate(lifetime);
    params.not_after = now + lifetime;
    let cert = params
        .signed_by(&request.public_key, &issuer)
        .map_err(rcgen("cannot sign the node certificate"))?;
    // During a rotation the chain carries the cross-signed root, for
    // peers that still trust only the previous one.
    Ok(format!("{}{}", cert.pem(), root.cross_signed_pem))
}

#[cfg(test)]
mod tests {
    use hoist_api::tls::{Credentials, PeerIdentity, new_key_and_request};

    use super::*;

    #[test]
    fn issued_certificates_name_the_node_and_chain_to_the_root() {
        let root = new_root("c1").unwrap();
        let (key_pem, request) = new_key_and_request().unwrap();
        let cert_pem = issue(
            &root,
            &request,
            "node-a",
            Role::Manager,
            "c1",
            Duration::from_secs(3600),
        )
        .unwrap();
        let credentials = Credentials {
            ca_pem: root.cert_pem.clone(),
            cert_pem,
            key_pem,
        };
        assert_eq!(
            credentials.identity().unwrap(),
            PeerIdentity {
                node_id: "node-a".into(),
                role: "manager".into(),
                cluster_id: "c1".into()
            }
        );
        // Both configurations accept the material (the chain verifies when
        // rustls builds the server's certified key).
        credentials.server_config().unwrap();
        credentials.client_config().unwrap();
        assert_eq!(
            root.digest,
            fingerprint(&certificates(&root.cert_pem, "ca").unwrap()[0])
        );
    }

    #[test]
    fn a_garbled_request_is_refused() {
        let root = new_root("c1").unwrap();
        let err = issue(
            &root,
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "n",
            Role::Worker,
            "c1",
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(err.to_string().contains("signing request"), "{err}");
    }
}
