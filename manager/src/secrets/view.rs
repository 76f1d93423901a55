//! How secrets and configs are shown (`secret ls`, `config inspect`…):
//! a secret never with its data, a config with it, as Docker does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hoist_api::cluster::{ConfigView, SecretView};

use crate::control::rfc3339;
use crate::store::objects::{Config, Secret};

/// `secret ls`'s and `secret inspect`'s view of `secret`.
pub fn secret_view(secret: &Secret) -> SecretView {
    SecretView {
        id: secret.meta.id.clone(),
        name: secret.spec.name.clone(),
        labels: secret.spec.labels.clone(),
        driver: "internal".into(),
        version: secret.meta.version,
        created_at: rfc3339(secret.meta.created_at),
        updated_at: rfc3339(secret.meta.updated_at),
    }
}

/// `config ls`'s and `config inspect`'s view of `config`, whose decrypted
/// content is `data`.
pub fn config_view(config: &Config, data: &[u8]) -> ConfigView {
    ConfigView {
        id: config.meta.id.clone(),
        name: config.spec.name.clone(),
        labels: config.spec.labels.clone(),
        data: STANDARD.encode(data),
        version: config.meta.version,
        created_at: rfc3339(config.meta.created_at),
        updated_at: rfc3339(config.meta.updated_at),
    }
}
