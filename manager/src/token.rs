//! Join tokens, as Swarm's SWMTKN: `HOIST-1-<CA fingerprint>-<secret>`.
//! The fingerprint lets a joining node verify the manager before it sends
//! anything; the secret (one per role) authorises the join. Rotating a
//! role's secret invalidates its old token for new joins only.

use crate::store::objects::{JoinSecrets, Role};

const PREFIX: &str = "HOIST-1-";

/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 16;

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// It is not shaped like a hoist join token.
    #[error(
        "invalid join token: expected HOIST-1-<fingerprint>-<secret>, as `hoist cluster join-token` prints"
    )]
    Malformed,
    /// It pins another CA.
    #[error(
        "the join token is for another cluster (its CA fingerprint does not match this cluster's)"
    )]
    OtherCluster,
    /// Its secret is not a current one.
    #[error(
        "invalid join token: it was rotated, or never valid; get the current one with `hoist cluster join-token worker|manager` on a manager"
    )]
    Rejected,
}

/// A parsed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// SHA-256 fingerprint of the cluster CA, hex.
    pub ca_fingerprint: String,
    /// The secret.
    pub secret: String,
}

impl Token {
    /// Parses a token as printed by `cluster join-token`.
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let rest = token
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(TokenError::Malformed)?;
        let (fingerprint, secret) = rest.split_once('-').ok_or(TokenError::Malformed)?;
        let hex64 = fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit());
        let secret_ok =
            secret.len() == 2 * SECRET_BYTES && secret.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64 || !secret_ok {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            ca_fingerprint: fingerprint.to_ascii_lowercase(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// The role this token admits to a cluster whose CA has `fingerprint`
    /// and whose current secrets are `secrets`.
    pub fn role(&self, fingerprint: &str, secrets: &JoinSecrets) -> Result<Role, TokenError> {
        if self.ca_fingerprint != fingerprint {
            return Err(TokenError::OtherCluster);
        }
        if constant_time_eq(&self.secret, &secrets.manager) {
            Ok(Role::Manager)
        } else if constant_time_eq(&self.secret, &secrets.worker) {
            Ok(Role::Worker)
        } else {
            Err(TokenError::Rejected)
        }
    }
}

/// The token of `secret` for a cluster whose CA has `fingerprint`.
pub fn format(fingerprint: &str, secret: &str) -> String {
    format!("{PREFIX}{fingerprint}-{secret}")
}

/// A fresh random secret.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Compares two strings without an early exit, so response timing does
/// not tell how much of a guessed secret was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> JoinSecrets {
        JoinSecrets {
            worker: new_secret().unwrap(),
            manager: new_secret().unwrap(),
        }
    }

    #[test]
    fn a_token_admits_its_role_only_for_its_cluster() {
        let fingerprint = "ab".repeat(32);
        let secrets = secrets();
        let worker = Token::parse(&format(&fingerprint, &secrets.worker)).unwrap();
        let manager = Token::parse(&format(&fingerprint, &secrets.manager)).unwrap();
        assert_eq!(worker.role(&fingerprint, &secrets), Ok(Role::Worker));
        assert_eq!(manager.role(&fingerprint, &secrets), Ok(Role::Manager));
        assert_eq!(
            worker.role(&"cd".repeat(32), &secrets),
            Err(TokenError::OtherCluster)
        );
    }

    #[test]
    fn a_rotated_secret_is_rejected() {
        let fingerprint = "ab".repeat(32);
        let mut secrets = secrets();
        let old = Token::parse(&format(&fingerprint, &secrets.worker)).unwrap();
        secrets.worker = new_secret().unwrap();
        assert_eq!(old.role(&fingerprint, &secrets), Err(TokenError::Rejected));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "SWMTKN-1-abc-def", "HOIST-1-zz-00", "HOIST-1-abcd"] {
            assert_eq!(Token::parse(bad), Err(TokenError::Malformed), "{bad}");
        }
    }
}
