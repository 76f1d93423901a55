//! Building the container's filesystem view. Runs in the container's init
//! process, inside its new mount namespace, so every mount made here
//! disappears with the namespace: nothing can leak onto the host, whatever
//! happens to the shim or the daemon.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use nix::unistd::{Gid, Uid, chdir, chown, pivot_root};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use crate::bundle::RootfsMount;

/// A mount step that failed, naming the mount.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct MountError {
    /// Which mount or step.
    pub what: String,
    /// The system error.
    #[source]
    pub source: io::Error,
}

fn failed(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> MountError {
    let what = what.into();
    move |e| MountError {
        what,
        source: io::Error::from(e),
    }
}

fn io_failed(what: impl Into<String>) -> impl FnOnce(io::Error) -> MountError {
    let what = what.into();
    move |source| MountError { what, source }
}

/// Device nodes every container gets: (name, major, minor).
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symlinks every container's /dev gets.
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];

/// Mounts the overlay at `target`, every spec mount inside it, fills /dev,
/// and pivots into it. Afterwards `/` is the container's root.
pub fn enter_rootfs(
    rootfs: &RootfsMount,
    target: &Path,
    spec: &Spec,
    copy_up: &[PathBuf],
) -> Result<(), MountError> {
    // Nothing done from here on may reach the host's mount table.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(failed("make / private"))?;
    // Lower layers are relative to the layers root: keeps the option string
    // short enough for deep images.
    chdir(&rootfs.layers_root)
        .map_err(failed(format!("enter {}", rootfs.layers_root.display())))?;
    mount_overlay(rootfs, target).map_err(failed(format!(
        "mount the overlay root filesystem at {}",
        target.display()
    )))?;
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if copy_up.iter().any(|d| d == m.destination()) {
            fill_volume(target, m)?;
        }
        mount_one(target, m)?;
    }
    if has_dev_tmpfs(spec) {
        populate_dev(target)?;
        make_devices(target, spec)?;
    }
    chdir(target).map_err(failed("enter the root filesystem"))?;
    pivot_root(".", ".").map_err(failed("pivot_root"))?;
    // The old root is now stacked under the new one: detach it.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(failed("make the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(failed("detach the old root"))?;
    chdir("/").map_err(failed("chdir /"))?;
    Ok(())
}

fn has_dev_tmpfs(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"))
}

/// Splits OCI mount options into mount flags, propagation flags and the
/// data string.
fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    for option in options {
        match option.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" | "suid" | "dev" | "exec" | "atime" | "diratime" => {}
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "private" => propagation = MsFlags::MS_PRIVATE,
            "rprivate" => propagation = MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "shared" => propagation = MsFlags::MS_SHARED,
            "rshared" => propagation = MsFlags::MS_SHARED | MsFlags::MS_REC,
            "slave" => propagation = MsFlags::MS_SLAVE,
            "rslave" => propagation = MsFlags::MS_SLAVE | MsFlags::MS_REC,
            other => data.push(other),
        }
    }
    (flags, propagation, data.join(","))
}

fn mount_one(root: &Path, m: &Mount) -> Result<(), MountError> {
    let destination = m.destination();
    let what = format!("mount {}", destination.display());
    let dest = secure_join(root, destination).map_err(io_failed(what.clone()))?;
    let kind = m.typ().as_deref().unwrap_or("bind");
    let (flags, propagation, data) = parse_options(m.options().as_deref().unwrap_or_default());
    let is_bind = flags.contains(MsFlags::MS_BIND) || kind == "bind";
    if is_bind {
        let source = m.source().as_deref().ok_or_else(|| MountError {
            what: what.clone(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "bind mount without a source"),
        })?;
        let source_is_dir = fs::metadata(source)
            .map_err(io_failed(format!(
                "{what}: bind source {}",
                source.display()
            )))?
            .is_dir();
        create_mount_point(&dest, source_is_dir).map_err(io_failed(what.clone()))?;
        let rec = flags & MsFlags::MS_REC;
        mount(
            Some(source),
            &dest,
            None::<&str>,
            MsFlags::MS_BIND | rec,
            None::<&str>,
        )
        .map_err(failed(format!("{what} from {}", source.display())))?;
        let extra = flags - MsFlags::MS_BIND - MsFlags::MS_REC;
        if !extra.is_empty() {
            mount(
                None::<&str>,
                &dest,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None::<&str>,
            )
            .map_err(failed(format!("{what}: remount with options")))?;
        }
    } else {
        create_mount_point(&dest, true).map_err(io_failed(what.clone()))?;
        let source = m
            .source()
            .as_deref()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(kind));
        let data = (!data.is_empty()).then_some(data.as_str());
        match mount(Some(&source), &dest, Some(kind), flags, data) {
            Ok(()) => {}
            // sysfs cannot be mounted in the host's network namespace
            // without owning it: bind the host's read-only instead, as runc.
            Err(nix::errno::Errno::EPERM) if kind == "sysfs" => {
                mount(
                    Some("/sys"),
                    &dest,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(failed(format!("{what} (bind of /sys)")))?;
                mount(
                    None::<&str>,
                    &dest,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                    None::<&str>,
                )
                .map_err(failed(format!("{what}: remount read-only")))?;
            }
            Err(e) => return Err(failed(what.clone())(e)),
        }
    }
    if !propagation.is_empty() {
        mount(None::<&str>, &dest, None::<&str>, propagation, None::<&str>)
            .map_err(failed(format!("{what}: set propagation")))?;
    }
    Ok(())
}

/// Copies the image's content at the mount's destination into its source
/// when the source is an empty directory (a new volume).
fn fill_volume(root: &Path, m: &Mount) -> Result<(), MountError> {
    let Some(source) = m.source().as_deref() else {
        return Ok(());
    };
    let what = format!("fill volume {} from the image", source.display());
    let from = secure_join(root, m.destination()).map_err(io_failed(what.clone()))?;
    if from.is_dir() && crate::fsutil::is_empty_dir(source) {
        crate::fsutil::copy_tree(&from, source).map_err(io_failed(what))?;
    }
    Ok(())
}

fn create_mount_point(dest: &Path, dir: bool) -> io::Result<()> {
    if dir {
        return fs::create_dir_all(dest);
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::symlink_metadata(dest) {
        Ok(_) => Ok(()),
        Err(_) => fs::File::create(dest).map(drop),
    }
}

/// Creates the standard device nodes and links in the container's /dev
/// tmpfs.
fn populate_dev(root: &Path) -> Result<(), MountError> {
    let dev = root.join("dev");
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        let _ = fs::remove_file(&path);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(failed(format!("create /dev/{name}")))?;
        // mknod applies the umask: set the mode explicitly.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .map_err(io_failed(format!("chmod /dev/{name}")))?;
    }
    for (name, target) in DEV_LINKS {
        let path = dev.join(name);
        if fs::symlink_metadata(&path).is_err() {
            symlink(target, &path).map_err(io_failed(format!("link /dev/{name}")))?;
        }
    }
    Ok(())
}

/// Makes the spec's devices (`--device`, a privileged container's host
/// devices) as the host has them: type, numbers, mode and owner. The
/// `/dev/ptmx` link to the container's own devpts stays.
fn make_devices(root: &Path, spec: &Spec) -> Result<(), MountError> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for device in devices.into_iter().flatten() {
        if device.path() == Path::new("/dev/ptmx") {
            continue;
        }
        let what = format!("create device {}", device.path().display());
        let path = secure_join(root, device.path()).map_err(io_failed(what.clone()))?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_failed(what.clone()))?;
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_failed(what)(e)),
        }
        let kind = match device.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            _ => SFlag::S_IFCHR,
        };
        let mode = device.file_mode().unwrap_or(0o600);
        let numbers = makedev(device.major() as u64, device.minor() as u64);
        mknod(&path, kind, Mode::from_bits_truncate(mode), numbers)
            .map_err(failed(what.clone()))?;
        // mknod applies the umask: set the mode explicitly.
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .map_err(io_failed(what.clone()))?;
        chown(
            &path,
            device.uid().map(Uid::from_raw),
            device.gid().map(Gid::from_raw),
        )
        .map_err(failed(what))?;
    }
    Ok(())
}

/// After pivot_root: writes sysctls, hides masked paths, makes read-only
/// paths and (optionally) the root read-only.
pub fn finish_rootfs(spec: &Spec, read_only_root: bool) -> Result<(), MountError> {
    let linux = spec.linux().as_ref();
    if let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) {
        for (key, value) in sysctls {
            let path = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&path, value).map_err(io_failed(format!("sysctl {key}={value}")))?;
        }
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask_path(Path::new(path))?;
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        read_only_path(Path::new(path))?;
    }
    if read_only_root {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(failed("make the root filesystem read-only"))?;
    }
    Ok(())
}

fn mask_path(path: &Path) -> Result<(), MountError> {
    let what = format!("mask {}", path.display());
    let Ok(meta) = fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(failed(what))
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(failed(what))
    }
}

fn read_only_path(path: &Path) -> Result<(), MountError> {
    let what = format!("make {} read-only", path.display());
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(failed(what.clone()))?;
    mount(
        None::<&str>,
        path,
        None::<&str>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(failed(what))
}

/// `root` joined with `path`, resolving symlinks as if `root` were `/`: an
/// image whose `/proc` is a symlink to `/etc` cannot redirect a mount onto
/// the host.
pub fn secure_join(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut pending: VecDeque<OsString> = components(path);
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("too many symlinks in {}", path.display()),
                    ));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut next = components(&target);
                next.extend(pending);
                pending = next;
            }
            _ => resolved.push(part),
        }
    }
    Ok(root.join(resolved))
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Mounts the container's overlay. A `volatile` layer left by an earlier
/// run of the same container (a restart, never a host crash: `--rm`
/// containers are removed after one) drops its marker first; a kernel
/// older than 5.10, which lacks `volatile`, gets the plain mount.
fn mount_overlay(rootfs: &RootfsMount, target: &Path) -> nix::Result<()> {
    let plain = |rootfs: &RootfsMount| {
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(rootfs.options().as_str()),
        )
    };
    if !rootfs.volatile {
        return plain(rootfs);
    }
    match fs::remove_dir_all(rootfs.volatile_marker()) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(nix::errno::Errno::from_raw(
                e.raw_os_error().unwrap_or(libc::EIO),
            ));
        }
        _ => {}
    }
    match plain(rootfs) {
        Err(nix::errno::Errno::EINVAL) => plain(&RootfsMount {
            volatile: false,
            ..rootfs.clone()
        }),
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_keeps_symlinks_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        symlink("/etc", root.path().join("proc")).unwrap();
        symlink("../../../../tmp", root.path().join("up")).unwrap();
        assert_eq!(
            secure_join(root.path(), Path::new("/proc/x")).unwrap(),
            root.path().join("etc/x")
        );
        assert_eq!(
            secure_join(root.path(), Path::new("/up/y")).unwrap(),
            root.path().join("tmp/y")
        );
        assert_eq!(
            secure_join(root.path(), Path::new("/../../z")).unwrap(),
            root.path().join("z")
        );
        symlink("loop", root.path().join("loop")).unwrap();
        assert!(secure_join(root.path(), Path::new("/loop")).is_err());
    }

    #[test]
    fn parses_mount_options() {
        let opts: Vec<String> = ["ro", "nosuid", "rbind", "rprivate", "mode=755", "size=64m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, propagation, data) = parse_options(&opts);
        assert!(flags.contains(
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_BIND | MsFlags::MS_REC
        ));
        assert_eq!(propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(data, "mode=755,size=64m");
    }
}
