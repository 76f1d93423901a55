//! Reaching a container's files from the daemon, for `cp` and `export`.
//!
//! A running container is seen through `/proc/<pid>/root` (its own view,
//! volumes included). A stopped one gets its overlay mounted under its
//! directory for the length of the operation; the daemon sweeps such mounts
//! at start should it have died holding one. Paths are always resolved with
//! symlinks kept inside the container's root, so an image cannot point a
//! copy at the host.

use std::path::{Path, PathBuf};

use hoist_runtime::container::mounts::secure_join;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use tonic::Status;

use super::oci::lower_dirs;
use super::record::ContainerRecord;
use crate::config::DaemonConfig;
use crate::error::internal;

/// Prefix of the directories where a container's layers are mounted while
/// the daemon works on them (`merged-<random>`, one per operation).
pub const MERGED_PREFIX: &str = "merged-";

/// A root directory through which the container's files are reached.
#[derive(Debug)]
pub enum RootView {
    /// A directory read in place (`/proc/<pid>/root` of a running
    /// container, a single image layer).
    Live(PathBuf),
    /// The overlay of a stopped container, mounted until dropped.
    Mounted(MountGuard),
}

impl RootView {
    /// The root directory on the host side.
    pub fn root(&self) -> &Path {
        match self {
            Self::Live(path) => path,
            Self::Mounted(guard) => &guard.path,
        }
    }

    /// `path` inside the container, symlinks resolved within its root.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, Status> {
        secure_join(self.root(), Path::new(path))
            .map_err(|e| internal(format!("cannot resolve {path} in the container: {e}")))
    }
}

/// An overlay mount that goes away when dropped.
#[derive(Debug)]
pub struct MountGuard {
    path: PathBuf,
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = umount2(&self.path, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Mounts the container's layers at `<dir>/merged-<random>`: read-write
/// (upper and work; only while the container is stopped, with its record
/// locked) or read-only (the upper as the topmost lower; safe while it
/// runs).
pub fn mount_layers(
    config: &DaemonConfig,
    layers_root: &Path,
    record: &ContainerRecord,
    writable: bool,
) -> Result<MountGuard, Status> {
    let dir = config.container_dir(&record.id);
    let target = dir.join(format!(
        "{MERGED_PREFIX}{}",
        hoist_runtime::fsutil::random_hex(4)
    ));
    std::fs::create_dir_all(&target)
        .map_err(|e| internal(format!("cannot create {}: {e}", target.display())))?;
    let lowers: Vec<String> = lower_dirs(config, record)
        .iter()
        .map(|l| layers_root.join(l).display().to_string())
        .collect();
    let upper = dir.join("upper");
    let options = if writable {
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            upper.display(),
            dir.join("work").display()
        )
    } else {
        let mut stack = vec![upper.display().to_string()];
        stack.extend(lowers);
        format!("lowerdir={}", stack.join(":"))
    };
    let flags = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    mount(
        Some("overlay"),
        &target,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    )
    .map_err(|e| {
        internal(format!(
            "cannot mount the filesystem of container {}: {e}",
            record.id
        ))
    })?;
    Ok(MountGuard { path: target })
}

/// Mounts `lowers` (topmost first) read-only at `target`, which is made
/// here and removed with the mount: a stack of image layers to read
/// (`COPY --from`). One layer needs no overlay: it is read in place.
pub fn mount_read_only(target: PathBuf, lowers: &[PathBuf]) -> Result<RootView, Status> {
    if let [only] = lowers {
        return Ok(RootView::Live(only.clone()));
    }
    std::fs::create_dir_all(&target)
        .map_err(|e| internal(format!("cannot create {}: {e}", target.display())))?;
    if lowers.is_empty() {
        return Ok(RootView::Mounted(MountGuard { path: target }));
    }
    let stack: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let options = format!("lowerdir={}", stack.join(":"));
    mount(
        Some("overlay"),
        &target,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(options.as_str()),
    )
    .map_err(|e| {
        internal(format!(
            "cannot mount image layers at {}: {e}",
            target.display()
        ))
    })?;
    Ok(RootView::Mounted(MountGuard { path: target }))
}

/// Removes what builds a crashed daemon ran left in `builds` (contexts,
/// and the read-only mounts of stages and images, unmounted first).
pub fn sweep_build_dirs(builds: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for point in mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(Path::new)
        .filter(|point| point.starts_with(builds))
    {
        let _ = umount2(point, MntFlags::MNT_DETACH);
    }
    if let Err(e) = hoist_runtime::fsutil::remove_all(builds) {
        tracing::warn!(dir = %builds.display(), "cannot remove what earlier builds left: {e}");
    }
}

/// Unmounts `merged` directories a crashed daemon left under `root`.
pub fn sweep_mounts(root: &Path) {
    let prefix = root.join("containers");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for point in mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
    {
        let point = Path::new(point);
        let merged = point
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(MERGED_PREFIX));
        if point.starts_with(&prefix) && merged {
            let _ = umount2(point, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(point);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_crashed_builds_left_is_unmounted_and_removed() {
        let exec_root = tempfile::tempdir().unwrap();
        let builds = exec_root.path().join("builds");
        let mounted = builds.join("ab12cd34.from-0001");
        std::fs::create_dir_all(&mounted).unwrap();
        std::fs::write(builds.join("context-file"), "x").unwrap();
        mount(
            Some("tmpfs"),
            &mounted,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        sweep_build_dirs(&builds);
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left = mountinfo
            .lines()
            .any(|line| line.contains(mounted.to_str().unwrap()));
        if left {
            let _ = umount2(&mounted, MntFlags::MNT_DETACH);
        }
        assert!(!left, "the mount is still there");
        assert!(!builds.exists());
        assert!(exec_root.path().exists());
    }
}
