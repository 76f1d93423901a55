//! Unpacking a layer tar into the directory that becomes one overlay lower
//! layer. OCI whiteouts become overlayfs whiteouts.
//!
//! Every entry is created relative to an open handle of its parent
//! directory. Each directory is resolved once, with `openat2` and
//! `RESOLVE_IN_ROOT`: symbolic links in the layer resolve as they would
//! inside the container (an absolute link or a `..` stops at the layer
//! root), so nothing can be written outside it, and a layer of thousands
//! of files costs a few system calls per file instead of a path walk (and
//! a canonicalisation) of every parent for each.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, futimens, makedev, mkdirat,
    mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, linkat, symlinkat, unlinkat};

use super::layer::{LayerError, OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::fsutil::clean_relative;

/// The PAX record prefix of an extended attribute (as GNU tar and Docker
/// write them).
const PAX_XATTR: &str = "SCHILY.xattr.";
/// Bytes copied per read/write of a file's content.
const COPY_BUFFER: usize = 128 * 1024;

/// Unpacks an uncompressed layer tar into `dst` (created if missing; meant
/// to be empty). Returns the bytes of file content.
pub fn unpack_layer<R: Read>(reader: R, dst: &Path) -> Result<u64, LayerError> {
    std::fs::create_dir_all(dst)?;
    let root = openat(
        AT_FDCWD,
        dst,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    let mut tree = Tree {
        root,
        dirs: HashMap::new(),
    };
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut size = 0u64;
    // Directory times are restored last: unpacking their children changes them.
    let mut directory_times = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let relative = clean_relative(&path).ok_or_else(|| LayerError::Escape(path.clone()))?;
        let (Some(parent), Some(name)) = (relative.parent(), relative.file_name()) else {
            continue;
        };
        let name = name.to_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        tree.ensure_dir(parent)?;
        if name.as_bytes() == OPAQUE_WHITEOUT.as_bytes() {
            fxattr_set(tree.dir(parent)?, OVERLAY_OPAQUE_XATTR, b"y")?;
            continue;
        }
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let hidden = OsStr::from_bytes(hidden);
            tree.remove(parent, hidden)?;
            mknodat(tree.dir(parent)?, hidden, SFlag::S_IFCHR, Mode::empty(), 0)
                .map_err(io::Error::from)?;
            continue;
        }
        let xattrs = pax_xattrs(&mut entry)?;
        let header = entry.header();
        let owner = (
            Uid::from_raw(header.uid()? as u32),
            Gid::from_raw(header.gid()? as u32),
        );
        let mode = Mode::from_bits_truncate(header.mode()? & 0o7777);
        let mtime = TimeSpec::new(header.mtime()? as i64, 0);
        size += header.size()?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let file = tree.create_file(parent, &name)?;
                let mut file = File::from(file);
                copy(&mut entry, &mut file, &mut buffer)?;
                fchown(&file, Some(owner.0), Some(owner.1)).map_err(io::Error::from)?;
                fchmod(&file, mode).map_err(io::Error::from)?;
                for (key, value) in &xattrs {
                    fxattr_set(file.as_fd(), key, value)?;
                }
                futimens(&file, &mtime, &mtime).map_err(io::Error::from)?;
            }
            tar::EntryType::Directory => {
                let dir = tree.make_dir(&relative)?;
                fchown(dir, Some(owner.0), Some(owner.1)).map_err(io::Error::from)?;
                fchmod(dir, mode).map_err(io::Error::from)?;
                for (key, value) in &xattrs {
                    fxattr_set(dir, key, value)?;
                }
                directory_times.push((relative, mtime));
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| missing_link_target(&path))?
                    .into_owned();
                tree.replace(parent, &name, &[], |tree| {
                    Ok(symlinkat(&target, tree.dir(parent)?, name.as_os_str())?)
                })?;
                let dir = tree.dir(parent)?;
                fchownat(
                    dir,
                    name.as_os_str(),
                    Some(owner.0),
                    Some(owner.1),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(io::Error::from)?;
                for (key, value) in &xattrs {
                    crate::image::layer::xattr_set(&through(dir, &name), key, value)?;
                }
                utimensat(
                    dir,
                    name.as_os_str(),
                    &mtime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(io::Error::from)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| missing_link_target(&path))?
                    .into_owned();
                let Some(target) = clean_relative(&target) else {
                    return Err(LayerError::Escape(target));
                };
                let (Some(target_parent), Some(target_name)) =
                    (target.parent(), target.file_name())
                else {
                    return Err(LayerError::Escape(path));
                };
                tree.ensure_dir(target_parent)?;
                let target_name = target_name.to_owned();
                tree.replace(parent, &name, &[target_parent], |tree| {
                    Ok(linkat(
                        tree.dir(target_parent)?,
                        target_name.as_os_str(),
                        tree.dir(parent)?,
                        name.as_os_str(),
                        AtFlags::empty(),
                    )?)
                })?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (file_type, device) = match kind {
                    tar::EntryType::Fifo => (SFlag::S_IFIFO, 0),
                    _ => (
                        if kind == tar::EntryType::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        },
                        makedev(
                            u64::from(header.device_major()?.unwrap_or(0)),
                            u64::from(header.device_minor()?.unwrap_or(0)),
                        ),
                    ),
                };
                tree.replace(parent, &name, &[], |tree| {
                    Ok(mknodat(
                        tree.dir(parent)?,
                        name.as_os_str(),
                        file_type,
                        mode,
                        device,
                    )?)
                })?;
                let dir = tree.dir(parent)?;
                fchownat(
                    dir,
                    name.as_os_str(),
                    Some(owner.0),
                    Some(owner.1),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(io::Error::from)?;
                // mknod's mode went through the umask.
                fchmodat(dir, name.as_os_str(), mode, FchmodatFlags::FollowSymlink)
                    .map_err(io::Error::from)?;
            }
            // Other kinds (old GNU volume headers and such) hold nothing
            // a root filesystem needs.
            _ => {}
        }
    }
    for (relative, mtime) in directory_times.iter().rev() {
        // A directory replaced by something else since keeps its new times.
        if let Ok(dir) = tree.open_in_root(relative, OFlag::O_NOFOLLOW) {
            let _ = futimens(&dir, mtime, mtime);
        }
    }
    Ok(size)
}

/// The layer root and the directories opened under it so far, by their
/// path in the layer.
struct Tree {
    root: OwnedFd,
    dirs: HashMap<PathBuf, OwnedFd>,
}

impl Tree {
    /// Opens `relative` (a directory) resolved inside the layer root.
    fn open_in_root(&self, relative: &Path, extra: OFlag) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | extra)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        loop {
            match openat2(&self.root, relative, how) {
                // A rename elsewhere raced the resolution: try again.
                Err(Errno::EAGAIN) => continue,
                result => return result.map_err(io::Error::from),
            }
        }
    }

    /// Makes sure directory `relative` exists (parents as needed, mode
    /// 0755 as tar makes them) and is open.
    fn ensure_dir(&mut self, relative: &Path) -> io::Result<()> {
        if relative.as_os_str().is_empty() || self.dirs.contains_key(relative) {
            return Ok(());
        }
        let dir = match self.open_in_root(relative, OFlag::empty()) {
            Ok(dir) => dir,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let (parent, name) = split(relative)?;
                self.ensure_dir(parent)?;
                match mkdirat(self.dir(parent)?, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                self.open_in_root(relative, OFlag::empty())
                    .map_err(|e| in_layer(e, relative))?
            }
            Err(e) => return Err(in_layer(e, relative)),
        };
        self.dirs.insert(relative.to_path_buf(), dir);
        Ok(())
    }

    /// Creates directory `relative` (a directory entry of the layer; its
    /// parent is open), replacing anything else at its place; an existing
    /// directory stays.
    fn make_dir(&mut self, relative: &Path) -> io::Result<BorrowedFd<'_>> {
        let (parent, name) = split(relative)?;
        match mkdirat(self.dir(parent)?, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let existing = openat(
                    self.dir(parent)?,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                );
                if existing.is_err() {
                    self.remove(parent, name)?;
                    mkdirat(self.dir(parent)?, name, Mode::from_bits_truncate(0o755))?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.ensure_dir(relative)?;
        self.dir(relative)
    }

    /// The open directory `relative` (the root for an empty path);
    /// [`Tree::ensure_dir`] opened it.
    fn dir(&self, relative: &Path) -> io::Result<BorrowedFd<'_>> {
        if relative.as_os_str().is_empty() {
            return Ok(self.root.as_fd());
        }
        self.dirs.get(relative).map(|fd| fd.as_fd()).ok_or_else(|| {
            io::Error::other(format!(
                "directory {} of the layer was not opened before use",
                relative.display()
            ))
        })
    }

    /// Creates regular file `name` in `parent` for writing, replacing
    /// anything at its place (never writing through a symlink there).
    fn create_file(&mut self, parent: &Path, name: &OsStr) -> io::Result<OwnedFd> {
        let mut created = None;
        self.replace(parent, name, &[], |tree| {
            created = Some(openat(
                tree.dir(parent)?,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?);
            Ok(())
        })?;
        created.ok_or_else(|| io::Error::other("file creation did not run"))
    }

    /// Runs `create` (which makes `name` in `parent`); when `name` exists
    /// already, removes it and runs `create` once more (a later entry wins,
    /// as tar's overwrite does). `uses` are other directories `create`
    /// needs open besides `parent`.
    fn replace(
        &mut self,
        parent: &Path,
        name: &OsStr,
        uses: &[&Path],
        mut create: impl FnMut(&Self) -> io::Result<()>,
    ) -> io::Result<()> {
        match create(self) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.remove(parent, name)?;
                for dir in uses {
                    self.ensure_dir(dir)?;
                }
                create(self)
            }
            result => result,
        }
    }

    /// Removes `name` from `parent` (a whole tree if it is a directory;
    /// nothing if it is missing). Opened directories are forgotten, since
    /// one of them may have been reached through what was removed; only
    /// `parent` is opened again.
    fn remove(&mut self, parent: &Path, name: &OsStr) -> io::Result<()> {
        let dir = self.dir(parent)?;
        let removed = match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => true,
            Err(Errno::ENOENT) => false,
            Err(Errno::EISDIR) => {
                std::fs::remove_dir_all(through(dir, name))?;
                true
            }
            Err(e) => return Err(e.into()),
        };
        if removed {
            self.dirs.clear();
            self.ensure_dir(parent)?;
        }
        Ok(())
    }
}

/// A path naming `name` in the open directory `dir` (through /proc, for
/// the calls that take no directory handle).
fn through(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    path.push(name);
    path
}

/// The parent and last component of a cleaned, non-empty relative path.
fn split(relative: &Path) -> io::Result<(&Path, &OsStr)> {
    match (relative.parent(), relative.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(io::Error::other(format!(
            "{} is not a path inside the layer",
            relative.display()
        ))),
    }
}

/// Names the layer path an error happened at.
fn in_layer(e: io::Error, relative: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "{} in the layer is not a directory that can be entered \
             (a file, or a symbolic link to nothing): {e}",
            relative.display()
        ),
    )
}

fn missing_link_target(path: &Path) -> LayerError {
    LayerError::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("link {} in the layer has no target", path.display()),
    ))
}

/// The extended attributes an entry carries in its PAX records.
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(Vec::new());
    };
    let mut xattrs = Vec::new();
    for extension in extensions {
        let extension = extension?;
        if let Some(name) = extension
            .key()
            .ok()
            .and_then(|key| key.strip_prefix(PAX_XATTR))
        {
            xattrs.push((name.to_string(), extension.value_bytes().to_vec()));
        }
    }
    Ok(xattrs)
}

/// Copies all of `reader` into `writer` through `buffer` (larger than
/// `io::copy`'s, so a big file takes few system calls).
fn copy(reader: &mut impl Read, writer: &mut impl Write, buffer: &mut [u8]) -> io::Result<()> {
    loop {
        match reader.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => writer.write_all(&buffer[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sets an extended attribute on an open file or directory.
fn fxattr_set(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    let c_name = std::ffi::CString::new(name)?;
    // SAFETY: `fd` is an open descriptor, `c_name` a valid NUL-terminated
    // string and `value` a valid buffer of the given length for the call.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;
    use crate::image::layer::{escaping_layer, is_overlay_whiteout, xattr_get};

    /// A tar of `entries`: (path, kind, content or link target, mode).
    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, data, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(*mode);
            header.set_uid(1000);
            header.set_gid(1001);
            header.set_mtime(1_000_000_000);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_size(0);
                let target = std::str::from_utf8(data).unwrap();
                builder.append_link(&mut header, path, target).unwrap();
            } else {
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, *data).unwrap();
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn unpacks_files_and_turns_whiteouts_into_overlay_ones() {
        let dir = tempfile::tempdir().unwrap();
        let data = tar_of(&[
            ("etc/", tar::EntryType::Directory, b"", 0o750),
            ("etc/hostname", tar::EntryType::Regular, b"box\n", 0o4755),
            ("etc/.wh.passwd", tar::EntryType::Regular, b"", 0o644),
            ("var/.wh..wh..opq", tar::EntryType::Regular, b"", 0o644),
            ("usr/lib/deep/file", tar::EntryType::Regular, b"deep", 0o600),
            ("bin/sh", tar::EntryType::Symlink, b"busybox", 0o777),
            ("bin/ls", tar::EntryType::Link, b"etc/hostname", 0o644),
            ("dev/fifo", tar::EntryType::Fifo, b"", 0o640),
        ]);
        let size = unpack_layer(&data[..], dir.path()).unwrap();
        assert_eq!(size, 8);
        let hostname = dir.path().join("etc/hostname");
        assert_eq!(fs::read(&hostname).unwrap(), b"box\n");
        let meta = fs::metadata(&hostname).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o4755);
        assert_eq!((meta.uid(), meta.gid()), (1000, 1001));
        assert_eq!(meta.mtime(), 1_000_000_000);
        let etc = fs::metadata(dir.path().join("etc")).unwrap();
        assert_eq!(etc.permissions().mode() & 0o7777, 0o750);
        assert_eq!(
            etc.mtime(),
            1_000_000_000,
            "directory times are restored last"
        );
        assert_eq!(
            fs::read(dir.path().join("usr/lib/deep/file")).unwrap(),
            b"deep"
        );
        assert_eq!(
            fs::read_link(dir.path().join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        assert_eq!(
            fs::symlink_metadata(dir.path().join("bin/sh"))
                .unwrap()
                .uid(),
            1000
        );
        assert_eq!(
            fs::metadata(dir.path().join("bin/ls")).unwrap().ino(),
            meta.ino()
        );
        let fifo = fs::metadata(dir.path().join("dev/fifo")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fifo.file_type()));
        assert_eq!(fifo.permissions().mode() & 0o7777, 0o640);
        let whiteout = fs::symlink_metadata(dir.path().join("etc/passwd")).unwrap();
        assert!(is_overlay_whiteout(&whiteout));
        assert_eq!(
            xattr_get(&dir.path().join("var"), OVERLAY_OPAQUE_XATTR)
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let data = tar_of(&[
            ("a/old", tar::EntryType::Regular, b"1", 0o644),
            ("a", tar::EntryType::Regular, b"now a file", 0o644),
            ("b", tar::EntryType::Symlink, b"a", 0o777),
            ("b", tar::EntryType::Regular, b"not through the link", 0o644),
            ("c", tar::EntryType::Regular, b"file first", 0o644),
            ("c/", tar::EntryType::Directory, b"", 0o755),
            ("c/inside", tar::EntryType::Regular, b"2", 0o644),
            ("d/x", tar::EntryType::Regular, b"3", 0o644),
            ("e", tar::EntryType::Symlink, b"d", 0o777),
            ("e/", tar::EntryType::Directory, b"", 0o700),
        ]);
        unpack_layer(&data[..], dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"now a file");
        assert_eq!(
            fs::read(dir.path().join("b")).unwrap(),
            b"not through the link"
        );
        assert_eq!(fs::read(dir.path().join("c/inside")).unwrap(), b"2");
        assert!(fs::symlink_metadata(dir.path().join("e")).unwrap().is_dir());
        assert_eq!(fs::read(dir.path().join("d/x")).unwrap(), b"3");
    }

    #[test]
    fn symlinks_resolve_inside_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let outside_path = outside.path().to_str().unwrap().as_bytes().to_vec();
        // `up` climbs above the root and `abs` names a host directory: both
        // resolve inside the layer, as they would in the container.
        let data = tar_of(&[
            ("up", tar::EntryType::Symlink, b"../../../..", 0o777),
            ("up/climbed", tar::EntryType::Regular, b"1", 0o644),
            ("lib", tar::EntryType::Symlink, b"/usr/lib", 0o777),
            ("usr/lib/", tar::EntryType::Directory, b"", 0o755),
            ("lib/through", tar::EntryType::Regular, b"2", 0o644),
        ]);
        unpack_layer(&data[..], dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join("climbed")).unwrap(), b"1");
        assert_eq!(fs::read(dir.path().join("usr/lib/through")).unwrap(), b"2");
        let abs = tar_of(&[
            ("abs", tar::EntryType::Symlink, &outside_path, 0o777),
            ("abs/file", tar::EntryType::Regular, b"3", 0o644),
        ]);
        let other = tempfile::tempdir().unwrap();
        let result = unpack_layer(&abs[..], other.path());
        assert!(
            result.is_err(),
            "a link to nothing inside the layer was entered"
        );
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_entries_that_escape() {
        let dir = tempfile::tempdir().unwrap();
        let data = escaping_layer();
        let result = unpack_layer(&data[..], dir.path());
        assert!(matches!(result, Err(LayerError::Escape(_))), "{result:?}");
    }

    #[test]
    fn pax_xattrs_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("SCHILY.xattr.user.note", &b"kept"[..])])
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder
            .append_data(&mut header, "noted", &b"x"[..])
            .unwrap();
        let data = builder.into_inner().unwrap();
        unpack_layer(&data[..], dir.path()).unwrap();
        let got = xattr_get(&dir.path().join("noted"), "user.note").unwrap();
        assert_eq!(got.as_deref(), Some(&b"kept"[..]));
    }
}
