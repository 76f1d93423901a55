//! Re-certification: a node asks a manager for a fresh certificate before
//! its current one expires, and whenever the leader reports a new role
//! (promotion, demotion). The key is new each time; the role and, for a
//! promoted node, its Raft identity come from the store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hoist_api::cluster_proto::enrollment_client::EnrollmentClient;
use hoist_api::cluster_proto::{Certified, RenewRequest};
use hoist_api::tls::{self, Credentials};

/// Asks the managers at `managers`, in turn, to certify a new key; returns
/// the new credentials and what the manager certified.
pub async fn renew(
    credentials: &Credentials,
    managers: &[String],
    advertise_addr: &str,
) -> Result<(Credentials, Certified), String> {
    let (key_pem, csr_pem) = tls::new_key_and_request().map_err(|e| e.to_string())?;
    let config = credentials.client_config().map_err(|e| e.to_string())?;
    let mut last = String::from("no manager address is known");
    for addr in managers {
        let channel = match tls::connect(addr, config.clone()).await {
            Ok(channel) => channel,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let answer = EnrollmentClient::new(channel)
            .renew(RenewRequest {
                csr_pem: csr_pem.clone(),
                advertise_addr: advertise_addr.to_string(),
            })
            .await;
        match answer {
            Ok(answer) => {
                let certified = answer.into_inner();
                let renewed = Credentials {
                    ca_pem: certified.ca_pem.clone(),
                    cert_pem: certified.cert_pem.clone(),
                    key_pem: key_pem.clone(),
                };
                return Ok((renewed, certified));
            }
            Err(status) => last = status.message().to_string(),
        }
    }
    Err(last)
}

/// How long until a certificate should be renewed: when a third of its
/// validity is left, and at once when it cannot be read.
pub fn renew_in(cert_pem: &str) -> Duration {
    let Ok((not_before, not_after)) = tls::validity(cert_pem) else {
        return Duration::ZERO;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let renew_at = not_after - (not_after - not_before) / 3;
    Duration::from_secs(renew_at.saturating_sub(now).max(0) as u64)
}
