//! Secrets and configs: small files that services' containers get, as
//! Docker Swarm has them (`hoist secret …`, `hoist config …`,
//! `service create --secret/--config`).
//!
//! # Where the data is, and why
//!
//! Both kinds are stored in the Raft store **encrypted** with the cluster's
//! data key (ChaCha20-Poly1305, see [`key`]). The key is not in the store:
//! `cluster init` makes it, every manager keeps it in its cluster directory
//! (`<root>/cluster/store.key`, mode 0600), and a node certified as a
//! manager receives it from the manager that certifies it, over the
//! cluster's TLS (`Enrollment.Join` and `Renew`); a demoted manager
//! deletes it, `force-new-cluster` keeps it. So a copy of the Raft log or
//! of a snapshot — a backup, a disk sent for repair, a log replicated to a
//! learner — reveals no secret without a manager's key file too.
//!
//! The leader decrypts a secret only to send it to the nodes that run a
//! task that uses it, in their assignments stream (see [`delivery`]); the
//! node's daemon keeps it on a tmpfs, never on its disk.

pub mod delivery;
pub mod key;
pub mod references;
pub mod view;

use std::collections::BTreeMap;

use tonic::Status;

use crate::control::now_millis;
use crate::manager::{Manager, ReadError, WriteError};
use crate::store::objects::{Config, FileSpec, Kind, Meta, Secret, Service};
use crate::store::{Batch, Lookup, Op, Stored, lookup};
use key::KeyError;

/// The largest secret or config (Docker's limit).
pub const MAX_SIZE: usize = 500 * 1024;

/// A stored secret or config: what both kinds have.
pub trait SealedFile: Stored {
    /// What users call it (`secret`, `config`).
    const NOUN: &'static str;
    /// A new object.
    fn new(meta: Meta, spec: FileSpec, sealed: String) -> Self;
    /// Its name and labels.
    fn spec(&self) -> &FileSpec;
    /// Its data, sealed.
    fn sealed(&self) -> &str;
    /// The associated data its seal is bound to (`secret/<id>`).
    fn seal_label(id: &str) -> String {
        format!("{}/{id}", Self::NOUN)
    }
}

macro_rules! sealed_file {
    ($ty:ident, $noun:literal) => {
        impl SealedFile for $ty {
            const NOUN: &'static str = $noun;
            fn new(meta: Meta, spec: FileSpec, sealed: String) -> Self {
                Self { meta, spec, sealed }
            }
            fn spec(&self) -> &FileSpec {
                &self.spec
            }
            fn sealed(&self) -> &str {
                &self.sealed
            }
        }
    };
}
sealed_file!(Secret, "secret");
sealed_file!(Config, "config");

/// Why a secret or config call failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No object of the kind matches.
    #[error("{noun} {reference} not found")]
    NotFound {
        /// `secret` or `config`.
        noun: &'static str,
        /// What was asked for.
        reference: String,
    },
    /// Several match an ID prefix.
    #[error("{noun} {reference} is ambiguous: it matches {count} {noun}s; use the full ID")]
    Ambiguous {
        /// `secret` or `config`.
        noun: &'static str,
        /// What was asked for.
        reference: String,
        /// How many matched.
        count: usize,
    },
    /// The name or data is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Services use it.
    #[error(
        "{noun} {name} is in use by service {services}: remove the service, or update it to stop using the {noun}, first"
    )]
    InUse {
        /// `secret` or `config`.
        noun: &'static str,
        /// Its name.
        name: String,
        /// The services' names, comma-separated.
        services: String,
    },
    /// Sealing or opening failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The state could not be confirmed with the leader.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The write failed (a name already taken…).
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<FileError> for Status {
    fn from(e: FileError) -> Self {
        let message = e.to_string();
        match e {
            FileError::NotFound { .. } => Status::not_found(message),
            FileError::Ambiguous { .. } | FileError::Invalid(_) => {
                Status::invalid_argument(message)
            }
            FileError::InUse { .. } => Status::failed_precondition(message),
            FileError::Read(_) => Status::unavailable(message),
            FileError::Write(e) => Status::new(e.code(), message),
            FileError::Key(_) => Status::internal(message),
        }
    }
}

fn check_name(noun: &str, name: &str) -> Result<(), FileError> {
    if crate::ids::is_valid_name(name) {
        return Ok(());
    }
    Err(FileError::Invalid(crate::ids::invalid_name(noun, name)))
}

impl Manager {
    /// Stores a new secret or config; its data sealed with the data key.
    pub async fn create_file<T: SealedFile>(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        data: &[u8],
    ) -> Result<T, FileError> {
        check_name(T::NOUN, name)?;
        if data.is_empty() || data.len() > MAX_SIZE {
            return Err(FileError::Invalid(format!(
                "{} {name}: its data must be 1 byte to {} KiB, not {} bytes",
                T::NOUN,
                MAX_SIZE / 1024,
                data.len()
            )));
        }
        let id = crate::ids::new_id()
            .map_err(|e| WriteError::Raft(format!("cannot make an ID: {e}")))?;
        let sealed = self.settings().data_key.seal(&T::seal_label(&id), data)?;
        let now = now_millis();
        let meta = Meta {
            id: id.clone(),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let spec = FileSpec {
            name: name.to_string(),
            labels,
        };
        let version = self
            .write(Batch::one(Op::Create(
                T::new(meta, spec, sealed).into_object(),
            )))
            .await?;
        tokio::time::timeout(crate::manager::READ_TIMEOUT, self.store.wait_for(version))
            .await
            .map_err(|_| ReadError::Lagging { version })?;
        self.find_file::<T>(&id)
    }

    /// The secret or config `reference` names: its ID, its name, or a
    /// unique ID prefix.
    pub fn find_file<T: SealedFile>(&self, reference: &str) -> Result<T, FileError> {
        match lookup(self.store.list::<T>(), reference, |o| &o.spec().name) {
            Lookup::Found(found) => Ok(found),
            Lookup::Missing => Err(FileError::NotFound {
                noun: T::NOUN,
                reference: reference.to_string(),
            }),
            Lookup::Ambiguous(count) => Err(FileError::Ambiguous {
                noun: T::NOUN,
                reference: reference.to_string(),
                count,
            }),
        }
    }

    /// Every secret or config, confirmed with the leader, by name.
    pub async fn list_files<T: SealedFile>(&self) -> Result<Vec<T>, FileError> {
        self.fresh().await?;
        let mut all = self.store.list::<T>();
        all.sort_by(|a, b| a.spec().name.cmp(&b.spec().name));
        Ok(all)
    }

    /// The secret or config `reference` names, confirmed with the leader.
    pub async fn inspect_file<T: SealedFile>(&self, reference: &str) -> Result<T, FileError> {
        self.fresh().await?;
        self.find_file(reference)
    }

    /// The data of a stored secret or config, decrypted.
    pub fn open_file<T: SealedFile>(&self, file: &T) -> Result<Vec<u8>, FileError> {
        Ok(self
            .settings()
            .data_key
            .open(&T::seal_label(&file.meta().id), file.sealed())?)
    }

    /// Removes the secret or config `reference` names, unless a service
    /// uses it.
    pub async fn remove_file<T: SealedFile>(&self, reference: &str) -> Result<(), FileError> {
        self.fresh().await?;
        let file = self.find_file::<T>(reference)?;
        let users = services_using(&self.store.list::<Service>(), T::KIND, &file.meta().id);
        if !users.is_empty() {
            return Err(FileError::InUse {
                noun: T::NOUN,
                name: file.spec().name.clone(),
                services: users.join(", "),
            });
        }
        self.write(Batch::one(Op::Delete {
            kind: T::KIND,
            id: file.meta().id.clone(),
            version: None,
        }))
        .await?;
        Ok(())
    }
}

/// The names of the services among `services` whose tasks use the secret
/// or config (`kind`) with `id`.
pub fn services_using(services: &[Service], kind: Kind, id: &str) -> Vec<String> {
    services
        .iter()
        .filter(|s| {
            let references = match kind {
                Kind::Secret => &s.spec.task.secrets,
                _ => &s.spec.task.configs,
            };
            references.iter().any(|r| r.id == id)
        })
        .map(|s| s.spec.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::leading_manager as manager;
    use hoist_api::service::{FileReference, ServiceSpec};

    fn app(secret: &str) -> ServiceSpec {
        let mut spec = ServiceSpec {
            name: "app".into(),
            ..ServiceSpec::default()
        };
        spec.task.container.image = "busybox".into();
        spec.task.secrets = vec![FileReference {
            name: secret.into(),
            ..FileReference::default()
        }];
        spec
    }

    #[tokio::test]
    async fn services_use_existing_secrets_only_and_keep_them_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let manager = manager(dir.path()).await;
        let refused = manager
            .create_service(app("db_pw"), None)
            .await
            .unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("secret db_pw not found: create it first with hoist secret create"),
            "{refused}"
        );
        assert!(
            manager.list_services().await.unwrap().is_empty(),
            "nothing stored"
        );

        let secret: Secret = manager
            .create_file("db_pw", BTreeMap::new(), b"hunter2")
            .await
            .unwrap();
        assert!(!secret.sealed.contains("hunter2"));
        assert_eq!(manager.open_file(&secret).unwrap(), b"hunter2");
        let again = manager
            .create_file::<Secret>("db_pw", BTreeMap::new(), b"x")
            .await
            .unwrap_err();
        assert_eq!(Status::from(again).code(), tonic::Code::AlreadyExists);
        let too_big = manager
            .create_file::<Config>("big", BTreeMap::new(), &vec![0; MAX_SIZE + 1])
            .await
            .unwrap_err();
        assert!(too_big.to_string().contains("500 KiB"), "{too_big}");

        let stored = manager.create_service(app("db_pw"), None).await.unwrap();
        let reference = &stored.view.spec.task.secrets[0];
        assert_eq!(
            (
                reference.id.as_str(),
                reference.target.as_str(),
                reference.mode
            ),
            (secret.meta.id.as_str(), "/run/secrets/db_pw", 0o444)
        );
        let in_use = manager.remove_file::<Secret>("db_pw").await.unwrap_err();
        assert!(
            in_use.to_string().contains("in use by service app"),
            "{in_use}"
        );
        manager.remove_service("app").await.unwrap();
        manager.remove_file::<Secret>("db_pw").await.unwrap();
        assert!(manager.list_files::<Secret>().await.unwrap().is_empty());
        manager.shutdown().await;
    }

    #[test]
    fn a_secret_in_use_names_its_services() {
        let mut app = Service::default();
        app.spec.name = "app".into();
        app.spec.task.secrets = vec![FileReference {
            name: "db_pw".into(),
            id: "s1".into(),
            ..FileReference::default()
        }];
        let mut other = Service::default();
        other.spec.name = "other".into();
        other.spec.task.configs = vec![FileReference {
            name: "db_pw".into(),
            id: "s1".into(),
            ..FileReference::default()
        }];
        let services = [app, other];
        assert_eq!(services_using(&services, Kind::Secret, "s1"), ["app"]);
        assert_eq!(services_using(&services, Kind::Config, "s1"), ["other"]);
        assert!(services_using(&services, Kind::Secret, "s2").is_empty());
        let refused = FileError::InUse {
            noun: "secret",
            name: "db_pw".into(),
            services: "app".into(),
        };
        assert_eq!(
            refused.to_string(),
            "secret db_pw is in use by service app: remove the service, or update it to stop using the secret, first"
        );
        assert_eq!(
            Status::from(refused).code(),
            tonic::Code::FailedPrecondition
        );
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert!(check_name("secret", "db_pw.v2").is_ok());
        assert!(check_name("secret", "").is_err());
        assert!(check_name("secret", "-x").is_err());
        assert!(check_name("secret", "a/b").is_err());
        assert!(check_name("secret", &"x".repeat(65)).is_err());
    }
}
