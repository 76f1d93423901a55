//! COPY and ADD: the matched sources written straight into a layer tar
//! (no container needed), with `--chown`/`--chmod`, directories copied by
//! their contents, and local tar archives unpacked by ADD, as Docker does.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hoist_runtime::image::build::MatchedSource;
use hoist_runtime::image::layer::{decompressed, is_compressed};

/// Ownership and mode overrides (`--chown=UID:GID`, `--chmod=755`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// Owner for every entry.
    pub owner: Option<(u64, u64)>,
    /// Permission bits for every entry.
    pub mode: Option<u32>,
}

impl Overrides {
    /// Parses the flags. Names are looked up with `id_of(file, name)` in
    /// the image's `etc/passwd` or `etc/group`; without a group the group
    /// is the user's number, as Docker documents.
    pub fn parse(
        chown: Option<&str>,
        chmod: Option<&str>,
        id_of: &dyn Fn(&str, &str) -> Option<u64>,
    ) -> Result<Self, String> {
        let owner = chown
            .map(|spec| {
                let (user, group) = match spec.split_once(':') {
                    Some((user, group)) => (user, Some(group)),
                    None => (spec, None),
                };
                let resolve = |name: &str, file: &str| {
                    name.parse::<u64>().ok().or_else(|| id_of(file, name)).ok_or_else(|| {
                        format!(
                            "--chown={spec}: no {} named {name:?} in the image's /etc/{file}; use a number or add it first",
                            if file == "passwd" { "user" } else { "group" }
                        )
                    })
                };
                let uid = resolve(user, "passwd")?;
                let gid = match group {
                    Some(group) => resolve(group, "group")?,
                    None => uid,
                };
                Ok::<_, String>((uid, gid))
            })
            .transpose()?;
        let mode = chmod
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|mode| *mode <= 0o7777)
                    .ok_or_else(|| {
                        format!("--chmod={m}: expected octal permission bits such as 755")
                    })
            })
            .transpose()?;
        Ok(Self { owner, mode })
    }
}

/// The ID of `name` in the text of an `/etc/passwd` or `/etc/group`
/// (third field of its line).
pub fn id_in(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name)
            .then(|| fields.nth(1)?.parse().ok())
            .flatten()
    })
}

/// Writes a layer tar holding `sources` (under `root`) copied to `dest`
/// (absolute; a directory when it ends with `/` or there are several
/// sources), and `inline` files (heredocs). `unpack_archives` is ADD's
/// rule: a local tar archive source is unpacked into `dest`.
pub fn write_copy_layer(
    out: impl Write,
    root: &Path,
    sources: &[MatchedSource],
    inline: &[(String, String)],
    dest: &str,
    overrides: Overrides,
    unpack_archives: bool,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let into_dir = dest.ends_with('/') || sources.len() + inline.len() > 1;
    let dest = PathBuf::from(dest.trim_end_matches('/'));
    let dest = if dest.as_os_str().is_empty() {
        PathBuf::from("/")
    } else {
        dest
    };
    append_parents(&mut tar, dest.parent().unwrap_or(Path::new("/")))?;
    if into_dir {
        append_dir(&mut tar, &dest, 0o755, overrides)?;
    }
    for source in sources {
        let path = root.join(&source.resolved);
        let meta = fs::symlink_metadata(&path)?;
        // A directory is copied by its contents, an archive (ADD) by its
        // entries: both into `dest` itself.
        if meta.is_dir() {
            append_dir(&mut tar, &dest, meta.mode(), overrides)?;
            append_tree(&mut tar, &path, &dest, overrides)?;
        } else if unpack_archives && meta.is_file() && is_archive(&path)? {
            append_dir(&mut tar, &dest, 0o755, overrides)?;
            append_archive(&mut tar, &path, &dest)?;
        } else {
            let name = source
                .resolved
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_default();
            let target = if into_dir {
                dest.join(name)
            } else {
                dest.clone()
            };
            append_entry(&mut tar, &path, &target, &meta, overrides)?;
        }
    }
    for (name, content) in inline {
        let target = if into_dir {
            dest.join(name)
        } else {
            dest.clone()
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(content.len() as u64);
        header.set_mode(overrides.mode.unwrap_or(0o644));
        let (uid, gid) = overrides.owner.unwrap_or((0, 0));
        header.set_uid(uid);
        header.set_gid(gid);
        tar.append_data(&mut header, relative(&target), content.as_bytes())?;
    }
    tar.into_inner()?.flush()
}

/// Tar paths are relative to the root.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix("/").unwrap_or(path).to_path_buf()
}

/// The directories above `dir` (and `dir`), root-owned 0755, as Docker
/// creates a destination's missing parents.
fn append_parents(tar: &mut tar::Builder<impl Write>, dir: &Path) -> io::Result<()> {
    let mut so_far = PathBuf::from("/");
    for part in dir.components().skip(1) {
        so_far.push(part);
        append_dir(tar, &so_far, 0o755, Overrides::default())?;
    }
    Ok(())
}

fn append_dir(
    tar: &mut tar::Builder<impl Write>,
    dir: &Path,
    mode: u32,
    overrides: Overrides,
) -> io::Result<()> {
    if dir == Path::new("/") {
        return Ok(());
    }
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(overrides.mode.unwrap_or(mode & 0o7777));
    let (uid, gid) = overrides.owner.unwrap_or((0, 0));
    header.set_uid(uid);
    header.set_gid(gid);
    tar.append_data(&mut header, relative(dir), io::empty())
}

/// One file, symlink or directory entry, its metadata kept (owner from
/// the overrides or root, as COPY does without --chown).
fn append_entry(
    tar: &mut tar::Builder<impl Write>,
    path: &Path,
    target: &Path,
    meta: &fs::Metadata,
    overrides: Overrides,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Deterministic);
    header.set_mode(overrides.mode.unwrap_or(meta.mode() & 0o7777));
    let (uid, gid) = overrides.owner.unwrap_or((0, 0));
    header.set_uid(uid);
    header.set_gid(gid);
    if meta.file_type().is_symlink() {
        let link = fs::read_link(path)?;
        header.set_size(0);
        tar.append_link(&mut header, relative(target), link)
    } else if meta.is_dir() {
        append_dir(tar, target, meta.mode(), overrides)
    } else if meta.is_file() {
        header.set_size(meta.len());
        tar.append_data(&mut header, relative(target), File::open(path)?)
    } else {
        tracing::warn!(path = %path.display(), "COPY skips a special file");
        Ok(())
    }
}

/// A directory's contents, recursively, sorted.
fn append_tree(
    tar: &mut tar::Builder<impl Write>,
    dir: &Path,
    target: &Path,
    overrides: Overrides,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        let child = target.join(entry.file_name());
        append_entry(tar, &path, &child, &meta, overrides)?;
        if meta.is_dir() {
            append_tree(tar, &path, &child, overrides)?;
        }
    }
    Ok(())
}

/// Whether a file is a tar archive (compressed or not), by its content.
fn is_archive(path: &Path) -> io::Result<bool> {
    let mut head = [0u8; 512];
    let mut file = File::open(path)?;
    let n = file.read(&mut head)?;
    Ok(is_compressed(&head[..n]) || (n == 512 && &head[257..262] == b"ustar"))
}

/// ADD's unpacking: the archive's entries under `target`.
fn append_archive(
    tar: &mut tar::Builder<impl Write>,
    path: &Path,
    target: &Path,
) -> io::Result<()> {
    let reader = decompressed(BufReader::new(File::open(path)?)).map_err(io::Error::other)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let clean: PathBuf = name
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        if clean.as_os_str().is_empty() {
            continue;
        }
        let mut header = entry.header().clone();
        let destination = target.join(&clean);
        if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
            let link = entry
                .link_name()?
                .map(|l| l.into_owned())
                .unwrap_or_default();
            tar.append_link(&mut header, relative(&destination), link)?;
        } else {
            tar.append_data(&mut header, relative(&destination), &mut entry)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_by_number_and_by_name() {
        let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        let id_of =
            |file: &str, name: &str| id_in(if file == "passwd" { passwd } else { group }, name);
        let owner = |spec| Overrides::parse(Some(spec), None, &id_of).map(|o| o.owner);
        assert_eq!(owner("7:8"), Ok(Some((7, 8))));
        assert_eq!(owner("7"), Ok(Some((7, 7))));
        assert_eq!(owner("app"), Ok(Some((1000, 1000))));
        assert_eq!(owner("app:staff"), Ok(Some((1000, 50))));
        assert!(
            owner("nobody")
                .unwrap_err()
                .contains("no user named \"nobody\"")
        );
        assert!(owner("app:wheel").unwrap_err().contains("/etc/group"));
        let mode = |m| Overrides::parse(None, Some(m), &id_of).map(|o| o.mode);
        assert_eq!(mode("755"), Ok(Some(0o755)));
        assert!(mode("9").is_err());
    }
}
