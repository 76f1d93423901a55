//! Service control on a manager: create, update, remove services and
//! show them and their tasks (`hoist service …`, `hoist stack …`). Writes
//! go through Raft with compare-and-set; the orchestrator and scheduler
//! turn the stored services into placed tasks.

pub mod logs;
pub mod pull_auth;
pub mod stack;
pub mod validate;
pub mod view;

use hoist_api::cluster::{ServiceView, TaskView};
use hoist_api::proto::RegistryAuth;
use hoist_api::service::ServiceSpec;
use tonic::Status;

use crate::control::now_millis;
use crate::manager::{Manager, ReadError, WriteError};
use crate::secrets::key::KeyError;
use crate::store::objects::{Kind, Meta, Node, Object, Service, Task};
use crate::store::{Batch, Lookup, Op, lookup};
pub use validate::InvalidSpec;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No service matches.
    #[error("service {0} not found")]
    NotFound(String),
    /// No node matches (a task filter's).
    #[error("node {0} not found: hoist node ls lists the cluster's nodes")]
    NodeNotFound(String),
    /// Several services match an ID prefix.
    #[error("service {reference} is ambiguous: it matches {count} services; use the full ID")]
    Ambiguous {
        /// What was asked for.
        reference: String,
        /// How many matched.
        count: usize,
    },
    /// The spec is not valid.
    #[error(transparent)]
    Invalid(#[from] InvalidSpec),
    /// The state could not be confirmed with the leader.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The write failed (a name already taken, a concurrent change…).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Registry credentials could not be sealed or opened.
    #[error("registry credentials: {0}")]
    Credentials(#[from] KeyError),
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        let message = e.to_string();
        match e {
            ServiceError::NotFound(_) | ServiceError::NodeNotFound(_) => Status::not_found(message),
            ServiceError::Ambiguous { .. } | ServiceError::Invalid(_) => {
                Status::invalid_argument(message)
            }
            ServiceError::Read(_) => Status::unavailable(message),
            ServiceError::Write(e) => Status::new(e.code(), message),
            ServiceError::Credentials(_) => Status::internal(message),
        }
    }
}

/// A service the manager stored, and what it will not honour.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The service as `service inspect` shows it.
    pub view: ServiceView,
    /// What the cluster does not honour in its spec.
    pub warnings: Vec<String>,
}

impl Manager {
    /// Stores a new service, with the credentials its image is pulled
    /// with when given; its tasks follow.
    pub async fn create_service(
        &self,
        mut spec: ServiceSpec,
        registry_auth: Option<RegistryAuth>,
    ) -> Result<Stored, ServiceError> {
        let warnings = validate::validate(&spec)?;
        self.resolve_file_references(&mut spec).await?;
        self.resolve_networks(&mut spec).await?;
        let now = now_millis();
        let id = crate::ids::new_id()
            .map_err(|e| WriteError::Raft(format!("cannot make an ID: {e}")))?;
        let service = Service {
            meta: Meta {
                id: id.clone(),
                version: 0,
                created_at: now,
                updated_at: now,
            },
            spec,
            spec_version: 1,
            registry_auth: registry_auth
                .map(|c| pull_auth::seal(&self.settings().data_key, &id, &c))
                .transpose()?,
        };
        self.store_service(Op::Create(Object::Service(service)), &id, warnings)
            .await
    }

    /// Replaces the spec of the service `reference` names, if it is still
    /// at `version` (0: whatever it is now). Tasks are replaced only when
    /// their template changed (a new replica count keeps them).
    pub async fn update_service(
        &self,
        reference: &str,
        mut spec: ServiceSpec,
        version: u64,
    ) -> Result<Stored, ServiceError> {
        let warnings = validate::validate(&spec)?;
        self.resolve_file_references(&mut spec).await?;
        self.resolve_networks(&mut spec).await?;
        self.fresh().await?;
        let mut service = self.find_service(reference)?;
        if spec.name != service.spec.name {
            return Err(InvalidSpec(format!(
                "service {} cannot be renamed to {}",
                service.spec.name, spec.name
            ))
            .into());
        }
        if version != 0 {
            service.meta.version = version;
        }
        service.replace_spec(spec);
        service.meta.updated_at = now_millis();
        let id = service.meta.id.clone();
        self.store_service(Op::Update(Object::Service(service)), &id, warnings)
            .await
    }

    /// Writes `op` on the service `id` and answers the service as stored,
    /// once this manager has applied the write.
    async fn store_service(
        &self,
        op: Op,
        id: &str,
        warnings: Vec<String>,
    ) -> Result<Stored, ServiceError> {
        let version = self.write(Batch::one(op)).await?;
        self.applied(version).await?;
        let service = self.find_service(id)?;
        Ok(Stored {
            view: self.view_of(&service),
            warnings,
        })
    }

    /// Removes the service `reference` names; its tasks are shut down and
    /// removed by the orchestrator.
    pub async fn remove_service(&self, reference: &str) -> Result<(), ServiceError> {
        self.fresh().await?;
        let service = self.find_service(reference)?;
        self.write(Batch::one(Op::Delete {
            kind: Kind::Service,
            id: service.meta.id,
            version: None,
        }))
        .await?;
        Ok(())
    }

    /// `service inspect`'s view of `service`, counting its tasks now.
    fn view_of(&self, service: &Service) -> ServiceView {
        let counts = view::task_counts(&self.store);
        view::service_view(
            service,
            counts.get(&service.meta.id).copied().unwrap_or_default(),
        )
    }

    /// Waits until this manager's store holds the write at `version` (a
    /// write made through a follower is applied there a moment later).
    async fn applied(&self, version: u64) -> Result<(), ServiceError> {
        tokio::time::timeout(crate::manager::READ_TIMEOUT, self.store.wait_for(version))
            .await
            .map_err(|_| ServiceError::Read(ReadError::Lagging { version }))
    }

    /// The service `reference` names: its ID, its name, or a unique ID
    /// prefix.
    pub fn find_service(&self, reference: &str) -> Result<Service, ServiceError> {
        match lookup(self.store.list::<Service>(), reference, |s| &s.spec.name) {
            Lookup::Found(service) => Ok(service),
            Lookup::Missing => Err(ServiceError::NotFound(reference.to_string())),
            Lookup::Ambiguous(count) => Err(ServiceError::Ambiguous {
                reference: reference.to_string(),
                count,
            }),
        }
    }

    /// Every service, confirmed with the leader, by name.
    pub async fn list_services(&self) -> Result<Vec<ServiceView>, ServiceError> {
        self.fresh().await?;
        let counts = view::task_counts(&self.store);
        let mut views: Vec<ServiceView> = self
            .store
            .list::<Service>()
            .iter()
            .map(|s| view::service_view(s, counts.get(&s.meta.id).copied().unwrap_or_default()))
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }

    /// The service `reference` names, confirmed with the leader.
    pub async fn inspect_service(&self, reference: &str) -> Result<ServiceView, ServiceError> {
        self.fresh().await?;
        let service = self.find_service(reference)?;
        Ok(self.view_of(&service))
    }

    /// The tasks of the services `references` name (all services when
    /// empty), on the node `node` names when given; newest first within a
    /// slot, as `service ps` shows them.
    pub async fn list_tasks(
        &self,
        references: &[String],
        node: Option<&str>,
    ) -> Result<Vec<TaskView>, ServiceError> {
        self.fresh().await?;
        let service_ids = references
            .iter()
            .map(|r| self.find_service(r).map(|s| s.meta.id))
            .collect::<Result<Vec<_>, _>>()?;
        let node_id = match node {
            Some(reference) => Some(
                self.find_node(reference)
                    .map_err(|_| ServiceError::NodeNotFound(reference.to_string()))?
                    .meta
                    .id,
            ),
            None => None,
        };
        let nodes = self.store.list::<Node>();
        let mut tasks: Vec<Task> = self
            .store
            .list::<Task>()
            .into_iter()
            .filter(|t| service_ids.is_empty() || service_ids.contains(&t.service_id))
            .filter(|t| node_id.as_ref().is_none_or(|n| *n == t.node_id))
            .collect();
        view::sort_for_ps(&mut tasks);
        Ok(tasks.iter().map(|t| view::task_view(t, &nodes)).collect())
    }
}
