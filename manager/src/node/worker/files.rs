//! A task's secrets and configs as the files its container gets (the
//! references in its template, with target, owner and mode resolved by
//! the manager, filled with the data its assignments message delivered),
//! and the registry credentials of its service, when delivered.

use std::collections::HashMap;

use hoist_api::cluster_proto::{AssignmentsMessage, FileData};
use hoist_api::proto::RegistryAuth;
use hoist_api::service::FileReference;
use hoist_api::spec::InlineFile;

use super::executor::Inputs;
use crate::secrets::references::{DEFAULT_MODE, id_number};
use crate::store::objects::Task;

/// The secrets and configs one assignments message delivered, by ID, and
/// the registry credentials, by service ID.
pub(super) struct Delivered<'a> {
    secrets: HashMap<&'a str, &'a [u8]>,
    configs: HashMap<&'a str, &'a [u8]>,
    pull_credentials: HashMap<&'a str, &'a RegistryAuth>,
}

fn by_id(files: &[FileData]) -> HashMap<&str, &[u8]> {
    files
        .iter()
        .map(|f| (f.id.as_str(), f.data.as_slice()))
        .collect()
}

impl<'a> Delivered<'a> {
    /// What `message` delivered.
    pub(super) fn new(message: &'a AssignmentsMessage) -> Self {
        Self {
            secrets: by_id(&message.secrets),
            configs: by_id(&message.configs),
            pull_credentials: message
                .pull_credentials
                .iter()
                .filter_map(|p| Some((p.service_id.as_str(), p.credentials.as_ref()?)))
                .collect(),
        }
    }

    /// What the container of `task` is made with, or why it cannot have it.
    pub(super) fn inputs(&self, task: &Task) -> Result<Inputs, String> {
        Ok(Inputs {
            files: self.files(task)?,
            pull_credentials: self
                .pull_credentials
                .get(task.service_id.as_str())
                .map(|c| (*c).clone()),
        })
    }

    /// The files of `task`, or why it cannot have them.
    fn files(&self, task: &Task) -> Result<Vec<InlineFile>, String> {
        let secrets = task
            .spec
            .secrets
            .iter()
            .map(|r| (r, "secret", &self.secrets));
        let configs = task
            .spec
            .configs
            .iter()
            .map(|r| (r, "config", &self.configs));
        secrets
            .chain(configs)
            .map(|(reference, noun, delivered)| file(reference, noun, delivered))
            .collect()
    }
}

fn file(
    reference: &FileReference,
    noun: &str,
    delivered: &HashMap<&str, &[u8]>,
) -> Result<InlineFile, String> {
    let data = delivered.get(reference.id.as_str()).ok_or_else(|| {
        format!(
            "{noun} {} was not delivered with the task: it may have been removed",
            reference.name
        )
    })?;
    let number = |what: &str, text: &str| {
        id_number(text)
            .ok_or_else(|| format!("{noun} {}: {what} {text:?} is not a number", reference.name))
    };
    Ok(InlineFile {
        target: reference.target.clone(),
        data: data.to_vec(),
        uid: number("uid", &reference.uid)?,
        gid: number("gid", &reference.gid)?,
        mode: if reference.mode == 0 {
            DEFAULT_MODE
        } else {
            reference.mode
        },
    })
}
