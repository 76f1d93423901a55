//! The cluster's data key and the authenticated encryption of secrets and
//! configs with it (ChaCha20-Poly1305 from `ring`, a random 96-bit nonce
//! per object, the object's kind and ID as associated data so that a
//! sealed value cannot be moved onto another object).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Length of the data key in bytes.
pub const KEY_LEN: usize = 32;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key material has the wrong length.
    #[error(
        "the cluster data key must be {KEY_LEN} bytes, not {0}: the manager's store.key is damaged; copy it from another manager"
    )]
    Length(usize),
    /// The system's random source failed.
    #[error("cannot draw random bytes for the cluster data key or a nonce")]
    Random,
    /// The sealed value was not made by this key for this object, or was
    /// changed since.
    #[error(
        "the stored data of {0} does not decrypt with this manager's data key: it was altered, or this manager's store.key is not the cluster's"
    )]
    Tampered(String),
}

/// The 32-byte key with which every manager encrypts and decrypts the
/// secrets and configs in the store. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; KEY_LEN]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A new random key (at `cluster init`).
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyError::Random)?;
        Ok(Self(bytes))
    }

    /// The key from its raw bytes (its file, or a manager's answer).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError::Length(bytes.len()))
    }

    /// The raw bytes, to save or hand to a new manager.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn aead(&self) -> Result<LessSafeKey, KeyError> {
        UnboundKey::new(&CHACHA20_POLY1305, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| KeyError::Length(self.0.len()))
    }

    /// Encrypts `plain` for the object `object` (`secret/<id>`): base64 of
    /// the nonce, the ciphertext and the tag.
    pub fn seal(&self, object: &str, plain: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Random)?;
        let mut sealed = plain.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(object.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KeyError::Tampered(object.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`seal`](Self::seal) made for `object`; fails when it
    /// was made for another object, with another key, or altered.
    pub fn open(&self, object: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let tampered = || KeyError::Tampered(object.to_string());
        let bytes = STANDARD.decode(sealed).map_err(|_| tampered())?;
        if bytes.len() < NONCE_LEN {
            return Err(tampered());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| tampered())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(object.as_bytes()), &mut buffer)
            .map_err(|_| tampered())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_with_the_key_and_hides_the_plaintext() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal("secret/s1", b"hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        let raw = STANDARD.decode(&sealed).unwrap();
        assert!(!raw.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("secret/s1", &sealed).unwrap(), b"hunter2");
        assert_ne!(
            key.seal("secret/s1", b"hunter2").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        let copy = DataKey::from_bytes(key.as_bytes()).unwrap();
        assert_eq!(copy.open("secret/s1", &sealed).unwrap(), b"hunter2");
    }

    #[test]
    fn tampered_moved_or_foreign_data_is_refused() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal("secret/s1", b"hunter2").unwrap();
        let mut raw = STANDARD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let flipped = STANDARD.encode(&raw);
        assert_eq!(
            key.open("secret/s1", &flipped),
            Err(KeyError::Tampered("secret/s1".into()))
        );
        assert!(
            key.open("secret/s2", &sealed).is_err(),
            "bound to its object"
        );
        assert!(key.open("config/s1", &sealed).is_err(), "bound to its kind");
        let other = DataKey::generate().unwrap();
        assert!(other.open("secret/s1", &sealed).is_err());
        assert!(key.open("secret/s1", "not base64!").is_err());
        assert!(key.open("secret/s1", "AAAA").is_err());
        assert_eq!(DataKey::from_bytes(&[0; 16]), Err(KeyError::Length(16)));
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }
}
