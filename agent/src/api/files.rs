//! `export` and `cp`: a container's files as tar streams, in and out.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoist_api::proto::{
    CopyFromResponse, CopyToRequest, DataChunk, copy_from_response, copy_to_request,
};
use hoist_runtime::container::mounts::secure_join;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::tarstream::{ChannelReader, ChannelWriter, append_path, write_root};
use crate::containers::Container;
use crate::containers::record::ContainerRecord;
use crate::containers::rootfs::{RootView, mount_layers};
use crate::daemon::Daemon;
use crate::error::{internal, invalid, not_found};
use hoist_runtime::fsutil::clean_relative;

/// What `cp` learns about the source before its data (Docker's
/// X-Docker-Container-Path-Stat).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Mode bits including the file type.
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// Target when it is a symlink.
    pub link_target: String,
}

/// A view of the container's files: its live root when it runs, its
/// layers mounted (read-only or, locked against starts, writable)
/// otherwise.
fn view(daemon: &Daemon, record: &ContainerRecord, writable: bool) -> Result<RootView, Status> {
    if record.state.status.is_alive() && record.state.pid > 0 {
        return Ok(RootView::Live(PathBuf::from(format!(
            "/proc/{}/root",
            record.state.pid
        ))));
    }
    Ok(RootView::Mounted(mount_layers(
        &daemon.config,
        &daemon.images.layers_root(),
        record,
        writable,
    )?))
}

/// `docker export`: the container's filesystem (without volumes) as a tar.
pub async fn export(
    daemon: &Arc<Daemon>,
    container: &Arc<Container>,
) -> Result<mpsc::Receiver<Result<DataChunk, Status>>, Status> {
    let record = container.record.lock().await.clone();
    let guard = mount_layers(&daemon.config, &daemon.images.layers_root(), &record, false)?;
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        let writer = ChannelWriter::new(tx, |data| DataChunk { data });
        let root = RootView::Mounted(guard);
        if let Err(e) = write_root(root.root(), writer).and_then(|mut w| w.flush()) {
            let _ = errors.blocking_send(Err(internal(format!("cannot export: {e}"))));
        }
    });
    Ok(rx)
}

/// `docker cp CONTAINER:PATH …`: the stat of `path`, then a tar of it whose
/// root entry is its base name.
pub async fn copy_from(
    daemon: &Arc<Daemon>,
    container: &Arc<Container>,
    path: &str,
) -> Result<mpsc::Receiver<Result<CopyFromResponse, Status>>, Status> {
    let record = container.record.lock().await.clone();
    let view = view(daemon, &record, false)?;
    let source = view.resolve(path)?;
    let meta = fs::symlink_metadata(&source).map_err(|_| {
        not_found(format!(
            "Could not find the file {path} in container {}",
            record.name
        ))
    })?;
    let name = Path::new(path)
        .file_name()
        .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned());
    let stat = PathStat {
        name: name.clone(),
        size: meta.len(),
        mode: meta.mode(),
        mtime: chrono::DateTime::from_timestamp(meta.mtime(), 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        link_target: fs::read_link(&source)
            .map(|l| l.display().to_string())
            .unwrap_or_default(),
    };
    let (tx, rx) = mpsc::channel(8);
    let stat_json = serde_json::to_vec(&stat).map_err(|e| internal(e.to_string()))?;
    tx.send(Ok(CopyFromResponse {
        kind: Some(copy_from_response::Kind::StatJson(stat_json)),
    }))
    .await
    .map_err(|_| internal("the client went away"))?;
    tokio::task::spawn_blocking(move || {
        let _view = view;
        let errors = tx.clone();
        let writer = ChannelWriter::new(tx, |data| CopyFromResponse {
            kind: Some(copy_from_response::Kind::Data(data)),
        });
        let mut builder = tar::Builder::new(writer);
        let result = append_path(&mut builder, Path::new(&name), &source)
            .and_then(|()| builder.into_inner())
            .and_then(|mut w| w.flush());
        if let Err(e) = result {
            let _ = errors.blocking_send(Err(internal(format!(
                "cannot copy {}: {e}",
                source.display()
            ))));
        }
    });
    Ok(rx)
}

/// `docker cp … CONTAINER:PATH`: extracts a tar at `path`. An existing
/// directory receives the entries; otherwise the tar's root entry becomes
/// `path` itself (its parent must exist).
pub async fn copy_to(
    daemon: &Arc<Daemon>,
    mut input: Streaming<CopyToRequest>,
) -> Result<(), Status> {
    let open = match input.message().await? {
        Some(CopyToRequest {
            kind: Some(copy_to_request::Kind::Open(open)),
        }) => open,
        _ => return Err(invalid("a copy stream must start with CopyToOpen")),
    };
    if !open.path.starts_with('/') {
        return Err(invalid(format!(
            "invalid destination {:?}: use an absolute path in the container",
            open.path
        )));
    }
    let container = daemon.containers.find(&open.id)?;
    // A stopped container's layers are mounted writable: keep it from
    // starting meanwhile by holding its record.
    let record = container.record.lock().await;
    let view = view(daemon, &record, true)?;
    let name = record.name.clone();
    let live = matches!(view, RootView::Live(_));
    let held = if live {
        drop(record);
        None
    } else {
        Some(record)
    };
    let destination = view.resolve(&open.path)?;
    let (directory, rename) = if destination.is_dir() {
        (open.path.clone(), None)
    } else {
        let parent = Path::new(&open.path)
            .parent()
            .unwrap_or(Path::new("/"))
            .display()
            .to_string();
        if !view.resolve(&parent)?.is_dir() {
            return Err(not_found(format!(
                "Could not find the file {parent} in container {name}"
            )));
        }
        let base = Path::new(&open.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        (parent, base)
    };
    let (chunks_tx, chunks_rx) = mpsc::channel::<Vec<u8>>(8);
    let feeder = tokio::spawn(async move {
        while let Ok(Some(message)) = input.message().await {
            if let Some(copy_to_request::Kind::Data(data)) = message.kind
                && chunks_tx.send(data).await.is_err()
            {
                break;
            }
        }
    });
    let preserve_owner = open.copy_uid_gid;
    let result = tokio::task::spawn_blocking(move || {
        extract(
            ChannelReader::new(chunks_rx),
            view.root(),
            &directory,
            rename.as_deref(),
            preserve_owner,
        )
    })
    .await
    .map_err(|e| internal(format!("copy task failed: {e}")))?;
    feeder.abort();
    drop(held);
    result
}

/// Unpacks a tar into `directory` inside `root`, resolving every path within
/// the container's root; with `rename`, the first path component of every
/// entry is replaced.
fn extract(
    reader: ChannelReader,
    root: &Path,
    directory: &str,
    rename: Option<&str>,
    preserve_owner: bool,
) -> Result<(), Status> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(preserve_owner);
    archive.set_overwrite(true);
    let bad = |e: std::io::Error| invalid(format!("cannot extract the archive: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let mut relative = clean_relative(&path).ok_or_else(|| {
            invalid(format!(
                "archive entry {} leaves the destination",
                path.display()
            ))
        })?;
        if let Some(name) = rename {
            let mut parts = relative.components();
            parts.next();
            relative = Path::new(name).join(parts.as_path());
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        let in_container = Path::new(directory).join(&relative);
        let target = secure_join(root, &in_container).map_err(|e| internal(e.to_string()))?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| internal(format!("cannot create {}: {e}", in_container.display())))?;
        }
        if entry.header().entry_type().is_hard_link() {
            let link = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| invalid("hard link without a target"))?;
            let link =
                clean_relative(&link).ok_or_else(|| invalid("hard link leaves the destination"))?;
            let source = secure_join(root, &Path::new(directory).join(link))
                .map_err(|e| internal(e.to_string()))?;
            let _ = fs::remove_file(&target);
            fs::hard_link(&source, &target)
                .map_err(|e| internal(format!("cannot link {}: {e}", in_container.display())))?;
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| internal(format!("cannot write {}: {e}", in_container.display())))?;
        if !preserve_owner {
            let _ = nix::unistd::fchownat(
                nix::fcntl::AT_FDCWD,
                &target,
                Some(nix::unistd::Uid::from_raw(0)),
                Some(nix::unistd::Gid::from_raw(0)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            );
        }
    }
    Ok(())
}
