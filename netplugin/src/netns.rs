//! Network namespaces kept alive by a file, as `ip netns` keeps them: a
//! container's sandbox is made before its process and outlives a daemon
//! restart, and the runtime joins it by path.
//!
//! Work inside a namespace runs on a fresh thread that enters it and dies
//! after: a thread pool's thread must never be left in another namespace.

use std::fs::{self, File};
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// What can go wrong with a network namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A system call failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// The worker thread died.
    #[error("the thread working in network namespace {} died", path.display())]
    Thread {
        /// The namespace file.
        path: PathBuf,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> NetnsError + use<> {
    let path = path.to_path_buf();
    move |source| NetnsError::Io { what, path, source }
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Makes a new, empty network namespace and pins it at `path` (a bind mount
/// of the namespace over an empty file). Its loopback is down until
/// configured.
pub fn create(path: &Path) -> Result<(), NetnsError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_error("cannot create the directory of", path))?;
    }
    File::create(path).map_err(io_error("cannot create", path))?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(errno)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(errno)
    })
    .join()
    .map_err(|_| NetnsError::Thread {
        path: path.to_path_buf(),
    })?;
    if let Err(e) = made {
        let _ = fs::remove_file(path);
        return Err(io_error("cannot make a network namespace at", path)(e));
    }
    Ok(())
}

/// Unpins and deletes the namespace at `path` (the kernel frees it once no
/// process is left in it). A missing file is not an error.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(io_error("cannot unmount", path)(errno(e))),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("cannot remove", path)(e)),
    }
}

/// Runs `work` inside the namespace at `path`, on a fresh thread with its
/// own single-threaded tokio runtime, and returns its result. Sockets made
/// there stay in that namespace wherever they are used afterwards.
pub async fn run_in<F, Fut, T>(path: &Path, work: F) -> Result<T, NetnsError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let file = File::open(path).map_err(io_error("cannot open network namespace", path))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let target = path.to_path_buf();
    std::thread::spawn(move || {
        let result = setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(errno)
            .and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
            })
            .map(|runtime| runtime.block_on(work()))
            .map_err(io_error("cannot enter network namespace", &target));
        let _ = tx.send(result);
    });
    rx.await.map_err(|_| NetnsError::Thread {
        path: path.to_path_buf(),
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_netns_inode() -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
    }

    #[tokio::test]
    async fn a_pinned_namespace_is_entered_by_path_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns");
        create(&path).unwrap();
        let inside = run_in(&path, || async { own_netns_inode() }).await.unwrap();
        assert_ne!(
            inside,
            own_netns_inode(),
            "the work ran in the host's namespace"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(inside, fs::metadata(&path).unwrap().ino());
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
    }
}
