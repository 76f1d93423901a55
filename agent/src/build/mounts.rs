//! RUN --mount: a RUN step's mounts made ready for its container (binds of
//! the context, a stage or an image; the builder's cache directories;
//! tmpfs; secrets, as files in the exec root's tmpfs or as variables; SSH
//! agents, relayed through a socket of the step's own), and held until the
//! step is done. None of it goes into the step's layer: the
//! mount points the runtime had to make are removed again (see
//! [`remove_stubs`]).

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::path::{Path, PathBuf};

use hoist_api::spec::{MountKind, MountSpec};
use hoist_runtime::fsutil::{copy_tree, is_empty_dir, random_hex, remove_all};
use hoist_runtime::image::cache_mounts::CacheUse;
use hoist_runtime::image::dockerfile::FileOwner;

use crate::containers::rootfs::RootView;

/// The mounts of one RUN step and what they need kept alive: the
/// stages' and images' files mounted read-only, directories of our own (a
/// writable bind's copy, a private cache, a secret's file) removed
/// afterwards, and the cache mounts in use.
#[derive(Default)]
pub struct StepMounts {
    /// Mounts for the step's container.
    pub specs: Vec<MountSpec>,
    /// `NAME=value` for the step: secrets given as variables,
    /// `SSH_AUTH_SOCK`.
    pub env: Vec<String>,
    _proxies: Vec<AgentProxy>,
    _views: Vec<RootView>,
    _scratch: Vec<Scratch>,
    _caches: Vec<CacheUse>,
}

/// A socket that relays each connection to an SSH agent, for as long as
/// it lives: the step's processes reach the agent through it with the
/// owner and mode the mount asks for, whatever the agent's own socket
/// allows.
struct AgentProxy(tokio::task::JoinHandle<()>);

impl Drop for AgentProxy {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A directory removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = remove_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), "cannot remove a build mount's directory: {e}");
        }
    }
}

/// Gives `path` the mount's mode and owner.
fn give(path: &Path, owner: FileOwner) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(owner.mode & 0o7777))?;
    chown(path, Some(owner.uid), Some(owner.gid))
}

/// A fresh directory `<parent>/<what>-<random>`, removed when dropped.
pub fn scratch(parent: &Path, what: &str) -> io::Result<Scratch> {
    let dir = parent.join(format!("{what}-{}", random_hex(6)));
    fs::create_dir_all(&dir)?;
    Ok(Scratch(dir))
}

fn spec(kind: MountKind, source: &Path, target: &str, read_only: bool) -> MountSpec {
    MountSpec {
        kind,
        source: source.display().to_string(),
        target: target.to_string(),
        read_only,
        ..Default::default()
    }
}

impl StepMounts {
    /// `type=bind`: `host` (inside `view`, which stays mounted) at
    /// `target`. A writable one is a copy made under `scratch_root`, so
    /// the command's writes go nowhere.
    pub fn bind(
        &mut self,
        view: RootView,
        host: &Path,
        target: &str,
        read_write: bool,
        scratch_root: &Path,
    ) -> io::Result<()> {
        if read_write {
            let copy = scratch(scratch_root, "bind")?;
            let meta = fs::metadata(host)?;
            let source = if meta.is_dir() {
                copy_tree(host, &copy.0)?;
                copy.0.clone()
            } else {
                let file = copy.0.join("file");
                fs::copy(host, &file)?;
                chown(&file, Some(meta.uid()), Some(meta.gid()))?;
                file
            };
            self.specs
                .push(spec(MountKind::Bind, &source, target, false));
            self._scratch.push(copy);
        } else {
            self.specs.push(spec(MountKind::Bind, host, target, true));
        }
        self._views.push(view);
        Ok(())
    }

    /// `type=cache`: the cache directory `dir`, used as `using` says (`None`:
    /// this step holds it already).
    pub fn cache(&mut self, dir: &Path, target: &str, read_only: bool, using: Option<CacheUse>) {
        self.specs
            .push(spec(MountKind::Bind, dir, target, read_only));
        self._caches.extend(using);
    }

    /// `type=cache,sharing=private` found in use: a throw-away directory
    /// under `scratch_root` with the cache's mode and owner.
    pub fn private_cache(
        &mut self,
        scratch_root: &Path,
        target: &str,
        owner: FileOwner,
    ) -> io::Result<()> {
        let dir = scratch(scratch_root, "cache")?;
        give(&dir.0, owner)?;
        self.specs
            .push(spec(MountKind::Bind, &dir.0, target, false));
        self._scratch.push(dir);
        Ok(())
    }

    /// `type=tmpfs`.
    pub fn tmpfs(&mut self, target: &str, size: u64) {
        self.specs.push(MountSpec {
            kind: MountKind::Tmpfs,
            target: target.to_string(),
            tmpfs_size: size,
            ..Default::default()
        });
    }

    /// `type=secret` as a file: `value` written under `secrets_root` (the
    /// exec root, a tmpfs on a normal host) with `mode` and owner, and
    /// bound read-only at `target`.
    pub fn secret_file(
        &mut self,
        secrets_root: &Path,
        value: &[u8],
        target: &str,
        owner: FileOwner,
    ) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = scratch(secrets_root, "secret")?;
        let file = dir.0.join("secret");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .and_then(|mut f| io::Write::write_all(&mut f, value))?;
        give(&file, owner)?;
        self.specs.push(spec(MountKind::Bind, &file, target, true));
        self._scratch.push(dir);
        Ok(())
    }

    /// `type=ssh`: a socket under `sockets_root` relaying to the agent at
    /// `agent`, with `mode` and owner, bound at `target`; `SSH_AUTH_SOCK`
    /// names it.
    pub fn ssh_agent(
        &mut self,
        sockets_root: &Path,
        agent: &Path,
        target: &str,
        owner: FileOwner,
    ) -> io::Result<()> {
        let dir = scratch(sockets_root, "ssh")?;
        let socket = dir.0.join("agent.sock");
        let listener = tokio::net::UnixListener::bind(&socket)?;
        give(&socket, owner)?;
        let agent = agent.to_path_buf();
        let relay = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let agent = agent.clone();
                tokio::spawn(async move {
                    match tokio::net::UnixStream::connect(&agent).await {
                        Ok(mut upstream) => {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(e) => {
                            tracing::warn!(agent = %agent.display(), "cannot reach the build's ssh agent: {e}")
                        }
                    }
                });
            }
        });
        self._proxies.push(AgentProxy(relay));
        self.specs
            .push(spec(MountKind::Bind, &socket, target, false));
        self.env.push(format!("SSH_AUTH_SOCK={target}"));
        self._scratch.push(dir);
        Ok(())
    }
}

/// Removes from `upper` (the step's changes) the mount points the runtime
/// made for the step's mounts: each of `stubs` (paths in the container
/// that were missing from the image before the step, deepest first) that
/// is still an empty directory or an empty file.
pub fn remove_stubs(upper: &Path, stubs: &[String]) -> io::Result<()> {
    for stub in stubs {
        let path = upper.join(stub.trim_start_matches('/'));
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() && is_empty_dir(&path) {
            fs::remove_dir(&path)?;
        } else if meta.is_file() && meta.len() == 0 {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// `path` (absolute) with `.` and `..` resolved as text, as Go's
/// `path.Clean` does for BuildKit: `/src/.` is `/src`, `/a/../b` is `/b`.
pub fn clean_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Each of `targets` and its parents, deepest first, without `/`.
pub fn mount_points(targets: &[String]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for target in targets {
        let mut path = Path::new(target);
        while path != Path::new("/") && !path.as_os_str().is_empty() {
            let text = path.display().to_string();
            if !paths.contains(&text) {
                paths.push(text);
            }
            path = path.parent().unwrap_or(Path::new("/"));
        }
    }
    paths.sort_by_key(|p| std::cmp::Reverse(Path::new(p).components().count()));
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_cleaned_as_text() {
        assert_eq!(clean_absolute("/src/."), "/src");
        assert_eq!(clean_absolute("/app/./req.txt"), "/app/req.txt");
        assert_eq!(clean_absolute("/a/../../b//c/"), "/b/c");
        assert_eq!(clean_absolute("/.."), "/");
    }

    #[test]
    fn mount_points_go_deepest_first() {
        let points = mount_points(&[
            "/root/.cache/pip".into(),
            "/root/.npm".into(),
            "/app/req.txt".into(),
        ]);
        assert_eq!(
            points,
            [
                "/root/.cache/pip",
                "/root/.cache",
                "/root/.npm",
                "/app/req.txt",
                "/root",
                "/app"
            ]
        );
    }

    #[test]
    fn only_empty_stubs_are_removed() {
        let upper = tempfile::tempdir().unwrap();
        let u = upper.path();
        fs::create_dir_all(u.join("root/.cache/pip")).unwrap();
        fs::create_dir_all(u.join("app")).unwrap();
        fs::write(u.join("app/req.txt"), "").unwrap();
        fs::write(u.join("app/made-by-run"), "x").unwrap();
        let stubs = mount_points(&["/root/.cache/pip".into(), "/app/req.txt".into()]);
        remove_stubs(u, &stubs).unwrap();
        assert!(!u.join("root").exists());
        assert!(!u.join("app/req.txt").exists());
        assert!(u.join("app/made-by-run").exists());
    }
}
