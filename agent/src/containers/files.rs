//! Files a container gets from memory ([`ContainerSpec::files`]: a
//! cluster's secrets and configs). They are written into a tmpfs of the
//! container's own, mounted at `<exec root>/containers/<id>/secrets`
//! (`nosuid,nodev,noexec`, mode 0700) and bind-mounted read-only, one by
//! one, at their targets; so they never reach the daemon's disk, and the
//! container's record keeps only where they are. The tmpfs is a mount: it
//! outlives a daemon restart (live restore keeps the container's files)
//! and goes when the container is removed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hoist_api::spec::{ContainerSpec, InlineFile};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{Gid, Uid, fchown};
use tonic::Status;

use super::record::FileRecord;
use crate::error::{internal, invalid};

/// The tmpfs's directory in the container's runtime directory.
pub const FILES_DIR: &str = "secrets";

/// Largest total of a container's files (their tmpfs's size is bounded).
const MAX_TOTAL: usize = 64 * 1024 * 1024;

/// The tmpfs's size for `files`: a page per file and their content,
/// rounded up to pages.
fn tmpfs_size(files: &[InlineFile]) -> usize {
    const PAGE: usize = 4096;
    PAGE + files
        .iter()
        .map(|f| f.data.len().div_ceil(PAGE).max(1) * PAGE)
        .sum::<usize>()
}

/// Checks the files of `spec`: absolute, distinct targets that no mount of
/// the spec takes, permission bits only, a bounded total.
pub fn validate(spec: &ContainerSpec) -> Result<(), Status> {
    let mut targets = std::collections::BTreeSet::new();
    let mut total = 0;
    for file in &spec.files {
        let target = file.target.trim_end_matches('/');
        if !file.target.starts_with('/') || target.is_empty() {
            return Err(invalid(format!(
                "invalid file target {:?}: it must be an absolute file path",
                file.target
            )));
        }
        if target.split('/').any(|part| part == "..") {
            return Err(invalid(format!(
                "invalid file target {:?}: it must not contain \"..\"",
                file.target
            )));
        }
        let mounted = spec
            .mounts
            .iter()
            .any(|m| m.target.trim_end_matches('/') == target);
        if mounted || !targets.insert(target.to_string()) {
            return Err(invalid(format!("duplicate mount point: {}", file.target)));
        }
        if file.mode > 0o777 {
            return Err(invalid(format!(
                "invalid mode {:o} of file {}: only permission bits (at most 0777)",
                file.mode, file.target
            )));
        }
        total += file.data.len();
    }
    if total > MAX_TOTAL {
        return Err(invalid(format!(
            "the container's files total {total} bytes: at most {MAX_TOTAL}"
        )));
    }
    Ok(())
}

/// Mounts the tmpfs in `run_dir` and writes `files` into it; returns where
/// each one is, for its bind mount. Undone by [`unmount`].
pub fn mount_files(run_dir: &Path, files: &[InlineFile]) -> Result<Vec<FileRecord>, Status> {
    let dir = run_dir.join(FILES_DIR);
    fs::create_dir_all(&dir)
        .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
    let options = format!("mode=0700,size={}", tmpfs_size(files));
    mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(options.as_str()),
    )
    .map_err(|e| internal(format!("cannot mount a tmpfs at {}: {e}", dir.display())))?;
    files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let source = dir.join(i.to_string());
            write_file(&source, file).map_err(|e| {
                internal(format!(
                    "cannot write the file for {} into {}: {e}",
                    file.target,
                    dir.display()
                ))
            })?;
            Ok(FileRecord {
                target: file.target.clone(),
                source,
            })
        })
        .collect()
}

fn write_file(path: &Path, file: &InlineFile) -> std::io::Result<()> {
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    out.write_all(&file.data)?;
    fchown(
        &out,
        Some(Uid::from_raw(file.uid)),
        Some(Gid::from_raw(file.gid)),
    )?;
    out.set_permissions(fs::Permissions::from_mode(file.mode))
}

/// Unmounts the tmpfs of the container whose runtime directory is
/// `run_dir`, if it has one, and removes its directory: its files are gone.
pub fn unmount(run_dir: &Path) -> Result<(), Status> {
    let dir = run_dir.join(FILES_DIR);
    match umount2(&dir, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(internal(format!(
                "cannot unmount the container's files at {}: {e}",
                dir.display()
            )));
        }
    }
    hoist_runtime::fsutil::remove_all(&dir)
        .map_err(|e| internal(format!("cannot remove {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::spec::MountSpec;

    fn file(target: &str) -> InlineFile {
        InlineFile {
            target: target.into(),
            data: b"x".to_vec(),
            mode: 0o444,
            ..InlineFile::default()
        }
    }

    #[test]
    fn targets_are_absolute_distinct_and_free() {
        let spec = |files: Vec<InlineFile>| ContainerSpec {
            files,
            mounts: vec![MountSpec {
                target: "/data".into(),
                ..MountSpec::default()
            }],
            ..ContainerSpec::default()
        };
        assert!(validate(&spec(vec![file("/run/secrets/a"), file("/b")])).is_ok());
        for bad in [
            vec![file("rel")],
            vec![file("/")],
            vec![file("/a/../etc/shadow")],
            vec![file("/a"), file("/a/")],
            vec![file("/data")],
            vec![InlineFile {
                mode: 0o4755,
                ..file("/a")
            }],
        ] {
            assert!(validate(&spec(bad.clone())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_tmpfs_holds_every_file_with_room_to_spare() {
        let files = [
            file("/a"),
            InlineFile {
                data: vec![0; 5000],
                ..file("/b")
            },
        ];
        assert_eq!(tmpfs_size(&files), 4096 + 4096 + 8192);
    }
}
