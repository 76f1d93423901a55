//! Stacks: the services and networks of one compose file, deployed and
//! removed together in a single atomic write, so a stack is never half
//! deployed. Deploying again changes only what differs.

use std::collections::{BTreeMap, HashMap};

use hoist_api::network::NetworkSpec;
use hoist_api::proto::RegistryAuth;
use hoist_api::service::{ServiceSpec, labels};

use super::{ServiceError, pull_auth, validate};
use crate::control::now_millis;
use crate::manager::{Manager, WriteError};
use crate::networks;
use crate::store::objects::{Config, FileSpec, Kind, Meta, Network, Object, Secret, Service};
use crate::store::{Batch, Op, Stored};

/// What a deploy or removal did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackChanges {
    /// One line per service touched (`Creating service app_web`).
    pub actions: Vec<String>,
    /// What the cluster does not honour in the specs.
    pub warnings: Vec<String>,
}

/// A network a stack's services join.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackNetwork {
    /// What it is (its name `<stack>_<key>` unless named or external).
    pub spec: NetworkSpec,
    /// Made elsewhere: must exist; never created or removed by the stack.
    pub external: bool,
}

/// Whether `service` belongs to the stack `namespace`.
pub fn in_stack(service: &Service, namespace: &str) -> bool {
    labelled(&service.spec.labels, namespace)
}

/// Whether `labels` put their object in the stack `namespace`.
fn labelled(labels: &BTreeMap<String, String>, namespace: &str) -> bool {
    labels.get(labels::STACK_NAMESPACE).map(String::as_str) == Some(namespace)
}

impl Manager {
    /// Creates the missing networks of stack `namespace`, creates and
    /// updates its services (and with `prune`, removes those it no longer
    /// has), all in one write. Services named in `registry_auths` get
    /// those credentials for their image; the others keep theirs.
    pub async fn deploy_stack(
        &self,
        namespace: &str,
        networks: Vec<StackNetwork>,
        mut specs: Vec<ServiceSpec>,
        registry_auths: HashMap<String, RegistryAuth>,
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
        let mut ops = Vec::new();
        let known = self.stack_networks(namespace, networks, &mut changes, &mut ops)?;
        for spec in &mut specs {
            networks::attach(spec, &known)?;
        }
        let existing: BTreeMap<String, Service> = self
            .store
            .list::<Service>()
            .into_iter()
            .filter(|s| in_stack(s, namespace))
            .map(|s| (s.spec.name.clone(), s))
            .collect();
        let now = now_millis();
        let key = self.settings().data_key.clone();
        for spec in &specs {
            let credentials = registry_auths.get(&spec.name);
            match existing.get(&spec.name) {
                Some(service) => {
                    let new_credentials = match credentials {
                        Some(c) if pull_auth::open(&key, service)?.as_ref() != Some(c) => {
                            Some(pull_auth::seal(&key, &service.meta.id, c)?)
                        }
                        _ => None,
                    };
                    if service.spec == *spec && new_credentials.is_none() {
                        continue;
                    }
                    let mut service = service.clone();
                    service.replace_spec(spec.clone());
                    if new_credentials.is_some() {
                        service.registry_auth = new_credentials;
                    }
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
                            id: id.clone(),
                            version: 0,
                            created_at: now,
                            updated_at: now,
                        },
                        spec: spec.clone(),
                        spec_version: 1,
                        registry_auth: credentials
                            .map(|c| pull_auth::seal(&key, &id, c))
                            .transpose()?,
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

    /// Checks the networks of stack `namespace` against the store and adds
    /// the creation of those missing; answers every network the stack's
    /// services may join (the store's and the new ones).
    fn stack_networks(
        &self,
        namespace: &str,
        networks: Vec<StackNetwork>,
        changes: &mut StackChanges,
        ops: &mut Vec<Op>,
    ) -> Result<Vec<Network>, ServiceError> {
        let mut known = self.store.list::<Network>();
        for StackNetwork { mut spec, external } in networks {
            let invalid = |message: String| ServiceError::from(validate::InvalidSpec(message));
            let name = spec.name.clone();
            match known.iter().find(|n| n.spec.name == name) {
                Some(_) if external => {}
                Some(stored) if labelled(&stored.spec.labels, namespace) => {
                    networks::check(&mut spec).map_err(invalid)?;
                    if stored.spec != spec {
                        changes.warnings.push(format!(
                            "network {name} exists and keeps its settings: a network cannot change; remove the stack to make it again"
                        ));
                    }
                }
                Some(_) => {
                    return Err(invalid(format!(
                        "network {name} already exists and is not part of stack {namespace}: remove it, or declare it external: true"
                    )));
                }
                None if external => {
                    return Err(invalid(format!(
                        "network {name} declared as external, but could not be found: create it with hoist network create -d overlay {name}"
                    )));
                }
                None => {
                    networks::check(&mut spec).map_err(invalid)?;
                    let network = networks::new_network(spec)?;
                    changes.actions.push(format!("Creating network {name}"));
                    ops.push(Op::Create(Object::Network(network.clone())));
                    known.push(network);
                }
            }
        }
        Ok(known)
    }

    /// Removes every service of stack `namespace`, and the secrets,
    /// configs and networks it made, in one write (so none is removed
    /// while one of the stack's services still uses it, nor kept after
    /// them).
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
        self.stack_objects::<Secret>(namespace, |s| file(&s.spec), &mut changes, &mut ops);
        self.stack_objects::<Config>(namespace, |c| file(&c.spec), &mut changes, &mut ops);
        self.stack_objects::<Network>(
            namespace,
            |n| (&n.spec.name, &n.spec.labels),
            &mut changes,
            &mut ops,
        );
        if ops.is_empty() {
            return Err(ServiceError::NotFound(format!("stack {namespace}")));
        }
        self.write(Batch { ops }).await?;
        Ok(changes)
    }

    /// Adds the deletion of stack `namespace`'s secrets, configs or
    /// networks (whose name and labels `named` gives).
    fn stack_objects<T: Stored>(
        &self,
        namespace: &str,
        named: impl Fn(&T) -> (&str, &BTreeMap<String, String>),
        changes: &mut StackChanges,
        ops: &mut Vec<Op>,
    ) {
        for object in self.store.list::<T>() {
            let (name, labels) = named(&object);
            if !labelled(labels, namespace) {
                continue;
            }
            changes.actions.push(format!("Removing {} {name}", T::KIND));
            ops.push(Op::Delete {
                kind: T::KIND,
                id: object.meta().id.clone(),
                version: Some(object.meta().version),
            });
        }
    }
}

/// A secret's or config's name and labels.
fn file(spec: &FileSpec) -> (&str, &BTreeMap<String, String>) {
    (&spec.name, &spec.labels)
}

/// Deletes `service` if it is still the version read.
fn delete(service: &Service) -> Op {
    Op::Delete {
        kind: Kind::Service,
        id: service.meta.id.clone(),
        version: Some(service.meta.version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::leading_manager;

    fn web() -> ServiceSpec {
        let mut spec = ServiceSpec {
            name: "app_web".into(),
            ..ServiceSpec::default()
        };
        spec.labels
            .insert(labels::STACK_NAMESPACE.into(), "app".into());
        spec.task.container.image = "registry.example:5000/team/web:1".into();
        spec
    }

    fn credentials(password: &str) -> RegistryAuth {
        RegistryAuth {
            username: "ci".into(),
            password: password.into(),
            identity_token: String::new(),
        }
    }

    #[tokio::test]
    async fn registry_credentials_are_sealed_kept_and_replaced_without_new_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let manager = leading_manager(dir.path()).await;
        let key = manager.settings().data_key.clone();
        let deploy = |auths: Vec<(&str, &str)>| {
            let auths = auths
                .into_iter()
                .map(|(name, password)| (name.to_string(), credentials(password)))
                .collect();
            manager.deploy_stack("app", Vec::new(), vec![web()], auths, false)
        };
        let stored = || manager.store.list::<Service>().remove(0);

        let made = deploy(vec![("app_web", "one")]).await.unwrap();
        assert_eq!(made.actions, ["Creating service app_web"]);
        let first = stored();
        assert!(!first.registry_auth.as_deref().unwrap().contains("one"));
        assert_eq!(
            pull_auth::open(&key, &first).unwrap(),
            Some(credentials("one"))
        );

        let same = deploy(vec![("app_web", "one")]).await.unwrap();
        assert!(same.actions.is_empty(), "{:?}", same.actions);
        let without = deploy(Vec::new()).await.unwrap();
        assert!(without.actions.is_empty(), "{:?}", without.actions);
        assert_eq!(
            pull_auth::open(&key, &stored()).unwrap(),
            Some(credentials("one"))
        );

        let renewed = deploy(vec![("app_web", "two")]).await.unwrap();
        assert_eq!(renewed.actions, ["Updating service app_web"]);
        let now = stored();
        assert_eq!(
            pull_auth::open(&key, &now).unwrap(),
            Some(credentials("two"))
        );
        assert_eq!(now.spec_version, first.spec_version, "its tasks stay");
        manager.shutdown().await;
    }
}
