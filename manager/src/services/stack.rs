//! Stacks: the services of one compose file, deployed and removed together
//! in a single atomic write, so a stack is never half deployed. Deploying
//! again changes only what differs.

use std::collections::BTreeMap;

use hoist_api::service::{ServiceSpec, labels};

use super::{ServiceError, validate};
use crate::control::now_millis;
use crate::manager::{Manager, WriteError};
use crate::secrets::SealedFile;
use crate::store::objects::{Config, Kind, Meta, Object, Secret, Service};
use crate::store::{Batch, Op};

/// What a deploy or removal did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackChanges {
    /// One line per service touched (`Creating service app_web`).
    pub actions: Vec<String>,
    /// What the cluster does not honour in the specs.
    pub warnings: Vec<String>,
}

/// Whether `service` belongs to the stack `namespace`.
pub fn in_stack(service: &Service, namespace: &str) -> bool {
    service
        .spec
        .labels
        .get(labels::STACK_NAMESPACE)
        .map(String::as_str)
        == Some(namespace)
}

impl Manager {
    /// Creates and updates the services of stack `namespace` (and with
    /// `prune`, removes those it no longer has), all in one write.
    pub async fn deploy_stack(
        &self,
        namespace: &str,
        mut specs: Vec<ServiceSpec>,
        prune: bool,
    ) -> Result<StackChanges, ServiceError> {
        let mut changes = StackChanges::default();
        for spec in &mut specs {
            if spec.labels.get(labels::STACK_NAMESPACE).map(String::as_str) != Some(namespace) {
                return Err(validate::InvalidSpec(format!(
                    "service {} is not labelled {}={namespace}",
                    spec.name,
                    labels::STACK_NAMESPACE
                ))
                .into());
            }
            changes.warnings.extend(validate::validate(spec)?);
            self.resolve_file_references(spec).await?;
        }
        self.fresh().await?;
        let existing: BTreeMap<String, Service> = self
            .store
            .list::<Service>()
            .into_iter()
            .filter(|s| in_stack(s, namespace))
            .map(|s| (s.spec.name.clone(), s))
            .collect();
        let now = now_millis();
        let mut ops = Vec::new();
        for spec in &specs {
            match existing.get(&spec.name) {
                Some(service) if service.spec == *spec => {}
                Some(service) => {
                    let mut service = service.clone();
                    service.replace_spec(spec.clone());
                    service.meta.updated_at = now;
                    changes
                        .actions
                        .push(format!("Updating service {}", spec.name));
                    ops.push(Op::Update(Object::Service(service)));
                }
                None => {
                    let id = crate::ids::new_id()
                        .map_err(|e| WriteError::Raft(format!("cannot make an ID: {e}")))?;
                    changes
                        .actions
                        .push(format!("Creating service {}", spec.name));
                    ops.push(Op::Create(Object::Service(Service {
                        meta: Meta {
                            id,
                            version: 0,
                            created_at: now,
                            updated_at: now,
                        },
                        spec: spec.clone(),
                        spec_version: 1,
                    })));
                }
            }
        }
        if prune {
            for (name, service) in &existing {
                if !specs.iter().any(|s| s.name == *name) {
                    changes.actions.push(format!("Removing service {name}"));
                    ops.push(delete(service));
                }
            }
        }
        if !ops.is_empty() {
            self.write(Batch { ops }).await?;
        }
        Ok(changes)
    }

    /// Removes every service of stack `namespace`, and the secrets and
    /// configs it made, in one write (so none is removed while one of the
    /// stack's services still uses it, nor kept after them).
    pub async fn remove_stack(&self, namespace: &str) -> Result<StackChanges, ServiceError> {
        self.fresh().await?;
        let services: Vec<Service> = self
            .store
            .list::<Service>()
            .into_iter()
            .filter(|s| in_stack(s, namespace))
            .collect();
        let mut changes = StackChanges::default();
        let mut ops = Vec::new();
        for service in &services {
            changes
                .actions
                .push(format!("Removing service {}", service.spec.name));
            ops.push(delete(service));
        }
        self.stack_files::<Secret>(namespace, &mut changes, &mut ops);
        self.stack_files::<Config>(namespace, &mut changes, &mut ops);
        if ops.is_empty() {
            return Err(ServiceError::NotFound(format!("stack {namespace}")));
        }
        self.write(Batch { ops }).await?;
        Ok(changes)
    }

    /// Adds the deletion of stack `namespace`'s secrets or configs.
    fn stack_files<T: SealedFile>(
        &self,
        namespace: &str,
        changes: &mut StackChanges,
        ops: &mut Vec<Op>,
    ) {
        for file in self.store.list::<T>() {
            if file
                .spec()
                .labels
                .get(labels::STACK_NAMESPACE)
                .map(String::as_str)
                == Some(namespace)
            {
                changes
                    .actions
                    .push(format!("Removing {} {}", T::NOUN, file.spec().name));
                ops.push(Op::Delete {
                    kind: T::KIND,
                    id: file.meta().id.clone(),
                    version: Some(file.meta().version),
                });
            }
        }
    }
}

/// Deletes `service` if it is still the version read.
fn delete(service: &Service) -> Op {
    Op::Delete {
        kind: Kind::Service,
        id: service.meta.id.clone(),
        version: Some(service.meta.version),
    }
}
