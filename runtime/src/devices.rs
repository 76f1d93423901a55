//! Device nodes of the host that a container gets: those a `--device`
//! mapping names (a node, or every node under a directory), and all of
//! them for a privileged container, as runc's `DeviceFromPath` and
//! `HostDevices` find them.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Directories of the host's /dev that hold no devices of their own, or
/// whose nodes a container makes itself (runc skips the same).
const SKIPPED_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// A character or block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A character device (`c`).
    Char,
    /// A block device (`b`).
    Block,
}

impl DeviceKind {
    /// The letter device cgroup rules and `ls -l` use: `c` or `b`.
    pub fn letter(self) -> char {
        match self {
            Self::Char => 'c',
            Self::Block => 'b',
        }
    }
}

/// A device node to make in a container, as it is on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    /// Where it goes in the container.
    pub path: PathBuf,
    /// Character or block.
    pub kind: DeviceKind,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits of the host's node.
    pub mode: u32,
    /// Owner of the host's node.
    pub uid: u32,
    /// Group of the host's node.
    pub gid: u32,
}

/// Why a `--device` mapping gives no device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The host path cannot be read.
    #[error("cannot add device {path:?}: {source}")]
    Unreadable {
        /// The host path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The host path is neither a device nor a directory holding one.
    #[error(
        "cannot add device {path:?}: it is not a device node nor a directory of device nodes on this host"
    )]
    NotADevice {
        /// The host path.
        path: PathBuf,
    },
    /// A block I/O limit names something other than a block device.
    #[error(
        "{path:?} is not a block device on this host: block I/O limits take one (like /dev/sda)"
    )]
    NotABlockDevice {
        /// The host path.
        path: PathBuf,
    },
}

/// The major and minor numbers of the block device `path` names on the
/// host (following symlinks): what block I/O limits are written with.
pub fn block_numbers(path: &Path) -> Result<(u64, u64), DeviceError> {
    let metadata = fs::metadata(path).map_err(|source| DeviceError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    match device(&metadata, path) {
        Some(d) if d.kind == DeviceKind::Block => Ok((d.major, d.minor)),
        _ => Err(DeviceError::NotABlockDevice {
            path: path.to_path_buf(),
        }),
    }
}

/// The device `path` on the host names (following symlinks, as
/// `/dev/disk/by-id/…` are), at `target` in the container; for a directory,
/// every device under it, at the same place under `target`.
pub fn mapped(path: &Path, target: &Path) -> Result<Vec<HostDevice>, DeviceError> {
    let unreadable = |source| DeviceError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let resolved = fs::canonicalize(path).map_err(unreadable)?;
    let metadata = fs::metadata(&resolved).map_err(unreadable)?;
    if let Some(device) = device(&metadata, target) {
        return Ok(vec![device]);
    }
    let mut found = Vec::new();
    if metadata.is_dir() {
        walk(&resolved, target, &[], &mut found).map_err(unreadable)?;
    }
    if found.is_empty() {
        return Err(DeviceError::NotADevice {
            path: path.to_path_buf(),
        });
    }
    Ok(found)
}

/// Every device node under the host's /dev, at the same path in the
/// container (a privileged container's devices). `/dev/console` is left
/// out: a container's console is its own terminal.
pub fn host_devices() -> io::Result<Vec<HostDevice>> {
    let mut found = Vec::new();
    walk(
        Path::new("/dev"),
        Path::new("/dev"),
        SKIPPED_DIRS,
        &mut found,
    )?;
    found.retain(|d| d.path != Path::new("/dev/console"));
    Ok(found)
}

/// Adds the devices under `dir` to `found`, placed under `target`; skips
/// subdirectories named in `skip`, symlinks and entries that vanish or
/// cannot be read while walking.
fn walk(dir: &Path, target: &Path, skip: &[&str], found: &mut Vec<HostDevice>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let place = target.join(&name);
        if metadata.is_dir() {
            if skip.iter().any(|s| name == *s) {
                continue;
            }
            walk(&entry.path(), &place, &[], found)?;
        } else if let Some(device) = device(&metadata, &place) {
            found.push(device);
        }
    }
    Ok(())
}

/// The device `metadata` describes, placed at `target`; `None` for
/// anything but a character or block device.
fn device(metadata: &fs::Metadata, target: &Path) -> Option<HostDevice> {
    let kind = if metadata.file_type().is_char_device() {
        DeviceKind::Char
    } else if metadata.file_type().is_block_device() {
        DeviceKind::Block
    } else {
        return None;
    };
    let rdev = metadata.rdev();
    Some(HostDevice {
        path: target.to_path_buf(),
        kind,
        major: nix::sys::stat::major(rdev),
        minor: nix::sys::stat::minor(rdev),
        mode: metadata.mode() & 0o7777,
        uid: metadata.uid(),
        gid: metadata.gid(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_node_maps_to_one_device() {
        let found = mapped(Path::new("/dev/null"), Path::new("/dev/mynull")).unwrap();
        assert_eq!(
            found,
            vec![HostDevice {
                path: PathBuf::from("/dev/mynull"),
                kind: DeviceKind::Char,
                major: 1,
                minor: 3,
                mode: 0o666,
                uid: 0,
                gid: 0,
            }]
        );
    }

    #[test]
    fn a_directory_maps_every_device_under_it() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.path().join("link")).unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        // Symlinks and files are not devices: nothing to map.
        assert!(matches!(
            mapped(dir.path(), Path::new("/dev/x")),
            Err(DeviceError::NotADevice { .. })
        ));
        // /dev holds null and zero at least, each placed under the target.
        let found = mapped(Path::new("/dev"), Path::new("/host-dev")).unwrap();
        let null = found
            .iter()
            .find(|d| d.path == Path::new("/host-dev/null"))
            .unwrap();
        assert_eq!(
            (null.kind, null.major, null.minor),
            (DeviceKind::Char, 1, 3)
        );
        assert!(found.iter().all(|d| d.path.starts_with("/host-dev")));
    }

    #[test]
    fn block_numbers_are_read_from_block_devices_only() {
        let block = fs::read_dir("/sys/block")
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| Path::new("/dev").join(e.file_name()))
            .find(|p| p.exists())
            .expect("a block device in /dev");
        let rdev = fs::metadata(&block).unwrap().rdev();
        assert_eq!(
            block_numbers(&block).unwrap(),
            (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
        );
        assert!(matches!(
            block_numbers(Path::new("/dev/null")),
            Err(DeviceError::NotABlockDevice { .. })
        ));
    }

    #[test]
    fn a_missing_path_is_named() {
        let error =
            mapped(Path::new("/dev/hoist-no-such-device"), Path::new("/dev/x")).unwrap_err();
        assert!(
            error.to_string().contains("/dev/hoist-no-such-device"),
            "{error}"
        );
    }

    #[test]
    fn host_devices_skip_the_console_and_pseudo_terminals() {
        let found = host_devices().unwrap();
        assert!(found.iter().any(|d| d.path == Path::new("/dev/null")));
        assert!(found.iter().all(|d| d.path != Path::new("/dev/console")));
        assert!(found.iter().all(|d| !d.path.starts_with("/dev/pts")));
    }
}
