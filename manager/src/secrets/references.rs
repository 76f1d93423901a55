//! A service's references to secrets and configs: checked, and completed
//! when the service is stored (names resolved to IDs, Docker's defaults
//! for target, owner and mode), so that its tasks carry all a node needs
//! to lay the files out.

use std::collections::BTreeSet;

use hoist_api::service::{FileReference, ServiceSpec};

use super::SealedFile;
use crate::manager::Manager;
use crate::services::{InvalidSpec, ServiceError};
use crate::store::objects::{Config, Secret};

/// Where secrets go unless their target is an absolute path.
pub const SECRETS_DIR: &str = "/run/secrets";
/// Permission bits of a file whose reference gives none.
pub const DEFAULT_MODE: u32 = 0o444;

/// The absolute path a secret (`secret`) or config file lands at.
pub fn target(reference: &FileReference, secret: bool) -> String {
    let given = if reference.target.is_empty() {
        &reference.name
    } else {
        &reference.target
    };
    match (given.starts_with('/'), secret) {
        (true, _) => given.clone(),
        (false, true) => format!("{SECRETS_DIR}/{given}"),
        (false, false) => format!("/{given}"),
    }
}

/// A reference's owner or group as a number (empty: root).
pub fn id_number(text: &str) -> Option<u32> {
    if text.is_empty() {
        return Some(0);
    }
    text.parse().ok()
}

/// Checks what needs no store: every reference names something, its owner
/// and group are numbers, its mode is permission bits, and no two files
/// land at the same place.
pub fn check(spec: &ServiceSpec) -> Result<(), String> {
    let mut targets = BTreeSet::new();
    let all = spec
        .task
        .secrets
        .iter()
        .map(|r| (r, true))
        .chain(spec.task.configs.iter().map(|r| (r, false)));
    for (reference, secret) in all {
        let noun = if secret { "secret" } else { "config" };
        if reference.name.is_empty() {
            return Err(format!(
                "a --{noun} needs a source: --{noun} NAME or --{noun} source=NAME,target=PATH"
            ));
        }
        for (what, value) in [("uid", &reference.uid), ("gid", &reference.gid)] {
            if id_number(value).is_none() {
                return Err(format!(
                    "{noun} {}: {what} {value:?} must be a number",
                    reference.name
                ));
            }
        }
        if reference.mode > 0o777 {
            return Err(format!(
                "{noun} {}: mode {:o} must be permission bits (at most 0777)",
                reference.name, reference.mode
            ));
        }
        let path = target(reference, secret);
        if path.split('/').any(|part| part == "..") || path == "/" {
            return Err(format!(
                "{noun} {}: target {path:?} must be a file path without \"..\"",
                reference.name
            ));
        }
        if !targets.insert(path.clone()) {
            return Err(format!("two secrets or configs have the target {path}"));
        }
    }
    Ok(())
}

impl Manager {
    /// Resolves the names of `spec`'s secrets and configs to their IDs and
    /// fills in Docker's defaults; refuses a reference to one that does not
    /// exist (nothing is stored then).
    pub async fn resolve_file_references(
        &self,
        spec: &mut ServiceSpec,
    ) -> Result<(), ServiceError> {
        if spec.task.secrets.is_empty() && spec.task.configs.is_empty() {
            return Ok(());
        }
        self.fresh().await?;
        for reference in &mut spec.task.secrets {
            self.resolve::<Secret>(reference, true)?;
        }
        for reference in &mut spec.task.configs {
            self.resolve::<Config>(reference, false)?;
        }
        Ok(())
    }

    fn resolve<T: SealedFile>(
        &self,
        reference: &mut FileReference,
        secret: bool,
    ) -> Result<(), ServiceError> {
        let found = self.find_file::<T>(&reference.name).map_err(|_| {
            InvalidSpec(format!(
                "{noun} {name} not found: create it first with hoist {noun} create",
                noun = T::NOUN,
                name = reference.name
            ))
        })?;
        reference.target = target(reference, secret);
        reference.name = found.spec().name.clone();
        reference.id = found.meta().id.clone();
        for owner in [&mut reference.uid, &mut reference.gid] {
            if owner.is_empty() {
                *owner = "0".into();
            }
        }
        if reference.mode == 0 {
            reference.mode = DEFAULT_MODE;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, target: &str) -> FileReference {
        FileReference {
            name: name.into(),
            target: target.into(),
            ..FileReference::default()
        }
    }

    #[test]
    fn targets_default_as_dockers() {
        assert_eq!(target(&reference("db_pw", ""), true), "/run/secrets/db_pw");
        assert_eq!(target(&reference("db_pw", "pw"), true), "/run/secrets/pw");
        assert_eq!(target(&reference("db_pw", "/etc/pw"), true), "/etc/pw");
        assert_eq!(target(&reference("site", ""), false), "/site");
        assert_eq!(
            target(&reference("site", "/etc/site.conf"), false),
            "/etc/site.conf"
        );
    }

    #[test]
    fn bad_references_are_refused_before_the_store_is_read() {
        let mut spec = ServiceSpec::default();
        spec.task.secrets = vec![reference("db_pw", ""), reference("other", "db_pw")];
        assert!(check(&spec).unwrap_err().contains("/run/secrets/db_pw"));
        spec.task.secrets = vec![FileReference {
            uid: "www".into(),
            ..reference("db_pw", "")
        }];
        assert!(check(&spec).unwrap_err().contains("must be a number"));
        spec.task.secrets = vec![reference("db_pw", "../../etc/shadow")];
        assert!(check(&spec).unwrap_err().contains(".."));
        spec.task.secrets = vec![FileReference {
            mode: 0o4755,
            ..reference("db_pw", "")
        }];
        assert!(check(&spec).is_err());
        spec.task.secrets = vec![reference("db_pw", "")];
        spec.task.configs = vec![reference("site", "/etc/site.conf")];
        assert_eq!(check(&spec), Ok(()));
    }
}
