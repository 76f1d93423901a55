//! Registry credentials a service's tasks pull their image with, as
//! `docker service create --with-registry-auth` gives them: sealed with
//! the cluster's data key in the service object (never in its spec, so
//! `service inspect` does not show them and a new token does not restart
//! tasks), opened only to go to the nodes of the service's tasks that may
//! still start.

use std::collections::BTreeSet;

use hoist_api::cluster_proto::ServicePullCredentials;
use hoist_api::proto::RegistryAuth;
use prost::Message;

use crate::secrets::delivery::may_start;
use crate::secrets::key::{DataKey, KeyError};
use crate::store::Store;
use crate::store::objects::{Service, Task};

/// What a service's credentials are sealed for (the associated data).
fn label(service_id: &str) -> String {
    format!("service/{service_id}/registry-auth")
}

/// `credentials`, sealed for the service `service_id`.
pub fn seal(
    key: &DataKey,
    service_id: &str,
    credentials: &RegistryAuth,
) -> Result<String, KeyError> {
    key.seal(&label(service_id), &credentials.encode_to_vec())
}

/// The credentials sealed in `service`, if any.
pub fn open(key: &DataKey, service: &Service) -> Result<Option<RegistryAuth>, KeyError> {
    let Some(sealed) = &service.registry_auth else {
        return Ok(None);
    };
    let id = &service.meta.id;
    let plain = key.open(&label(id), sealed)?;
    RegistryAuth::decode(plain.as_slice())
        .map(Some)
        .map_err(|_| KeyError::Tampered(label(id)))
}

/// The credentials of the services of `tasks` that may still start, for
/// their node.
pub fn credentials_for<'a>(
    store: &Store,
    key: &DataKey,
    tasks: impl IntoIterator<Item = &'a Task>,
) -> Result<Vec<ServicePullCredentials>, KeyError> {
    let services: BTreeSet<&str> = tasks
        .into_iter()
        .filter(|t| may_start(t))
        .map(|t| t.service_id.as_str())
        .collect();
    let mut out = Vec::new();
    for service in services
        .into_iter()
        .filter_map(|id| store.get::<Service>(id))
    {
        if let Some(credentials) = open(key, &service)? {
            out.push(ServicePullCredentials {
                service_id: service.meta.id,
                credentials: Some(credentials),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_open_only_for_their_own_service() {
        let key = DataKey::generate().unwrap();
        let credentials = RegistryAuth {
            username: "ci".into(),
            password: "s3cret".into(),
            identity_token: String::new(),
        };
        let mut service = Service::default();
        service.meta.id = "s1".into();
        assert_eq!(open(&key, &service).unwrap(), None);
        service.registry_auth = Some(seal(&key, "s1", &credentials).unwrap());
        assert!(!service.registry_auth.as_ref().unwrap().contains("s3cret"));
        assert_eq!(open(&key, &service).unwrap(), Some(credentials));
        service.meta.id = "s2".into();
        assert!(open(&key, &service).is_err(), "moved onto another service");
    }
}
