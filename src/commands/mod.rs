//! The CLI's commands, one module per family.

pub mod build;
pub mod buildx;
pub mod cluster;
pub mod cluster_filters;
pub mod cluster_network;
pub mod compose;
pub mod container;
pub mod container_flags;
pub mod events;
pub mod files;
pub mod image;
pub mod inspect;
pub mod manifest;
pub mod network;
pub mod node;
pub mod prune;
pub mod registry;
pub mod secret;
pub mod service;
pub mod session;
pub mod stack;
pub mod system;
pub mod update;
pub mod volume;

use std::future::Future;

use crate::exit::{CliError, CliResult};

/// Decodes a JSON document the daemon or a manager answered.
pub fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> CliResult<T> {
    serde_json::from_slice(json).map_err(|e| CliError::client(format!("undecodable answer: {e}")))
}

/// Decodes a JSON document a manager answered, inside an `inspect`
/// fetch (which reports per-name failures as statuses).
pub fn decode_status<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, tonic::Status> {
    serde_json::from_slice(json)
        .map_err(|e| tonic::Status::internal(format!("undecodable answer: {e}")))
}

/// `items` as JSON values, for `--format`.
pub fn to_values<T: serde::Serialize>(items: &[T]) -> CliResult<Vec<serde_json::Value>> {
    items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::client(e.to_string()))
}
use crate::format::print_documents;

/// Runs `action` on each target, printing the target on success and the
/// error otherwise, and exits 1 at the end if any failed (Docker's
/// behaviour for multi-target commands). With `ignore_missing` (`rm -f`),
/// a target that does not exist is skipped without a word.
pub async fn for_each<F, Fut>(
    targets: &[String],
    ignore_missing: bool,
    mut action: F,
) -> CliResult<i32>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    for_each_printing(targets, ignore_missing, |target| {
        let done = action(target.clone());
        async move { done.await.map(|()| target) }
    })
    .await
}

/// [`for_each`] for commands that say more than the target's name on
/// success (`wait`'s exit code, `rmi`'s untagged and deleted images):
/// prints what `action` returns, unless it is empty.
pub async fn for_each_printing<F, Fut>(
    targets: &[String],
    ignore_missing: bool,
    mut action: F,
) -> CliResult<i32>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<String, tonic::Status>>,
{
    let mut failed = false;
    for target in targets {
        match action(target.clone()).await {
            Ok(text) if text.is_empty() => {}
            Ok(text) => println!("{text}"),
            Err(status) if ignore_missing && status.code() == tonic::Code::NotFound => {}
            Err(status) => {
                failed = true;
                eprintln!("{}", CliError::from(status));
            }
        }
    }
    if failed {
        Err(CliError::exit(1))
    } else {
        Ok(0)
    }
}

/// `inspect` of several objects: fetches each one's document, prints the
/// errors as they come, then the documents (`-f` template or JSON array),
/// and exits 1 if any failed.
pub async fn inspect_each<F, Fut>(
    names: &[String],
    format: Option<&str>,
    mut fetch: F,
) -> CliResult<i32>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, tonic::Status>>,
{
    let mut documents = Vec::new();
    let mut failed = false;
    for name in names {
        match fetch(name.clone()).await {
            Ok(document) => documents.push(document),
            Err(status) => {
                failed = true;
                eprintln!("{}", CliError::from(status));
            }
        }
    }
    print_documents(format, &documents)?;
    if failed {
        Err(CliError::exit(1))
    } else {
        Ok(0)
    }
}
