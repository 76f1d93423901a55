//! The container's first process: cloned by the shim into new namespaces,
//! it builds the container's view of the world, waits for the shim's go,
//! and becomes the user's program as PID 1.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sched::{CloneFlags, setns, unshare};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::child::{
    ChildStdio, become_process, clone_process, die_with_parent, fail_child, wait_for_go,
    wire_stdio_and_report_ready,
};
use super::mounts::{enter_rootfs, finish_rootfs};
use super::process::StartError;
use crate::bundle::Bundle;

/// Clones the init process of `bundle` into its namespaces. The child sets
/// everything up, reports `Ready`, waits for a byte on `sync` (start), then
/// moves itself into the container's cgroup (which the caller creates
/// meanwhile) and execs.
///
/// Returns the child's PID. `sync` and `stdio` are the child's ends; the
/// parent closes its copies when this returns.
pub fn spawn_init(
    bundle: &Bundle,
    rootfs_target: &Path,
    sync: OwnedFd,
    stdio: Option<ChildStdio>,
) -> Result<i32, StartError> {
    let namespaces = namespaces(bundle);
    let mut flags = CloneFlags::empty();
    for ns in &namespaces {
        if ns.path().is_none() && ns.typ() != LinuxNamespaceType::Cgroup {
            flags |= clone_flag(ns.typ());
        }
    }
    // A PID namespace is joined by the parent: only children land in it.
    let own_pid_namespace = match joined_pid_namespace(&namespaces) {
        Some(path) => Some(enter_pid_namespace_for_children(path)?),
        None => None,
    };
    let cloned = clone_process(flags.bits() as libc::c_ulong);
    if let Ok(0) = cloned {
        let socket = sync.as_raw_fd();
        let error = init_main(bundle, rootfs_target, &namespaces, socket, stdio);
        fail_child(socket, error);
    }
    if let Some(own) = own_pid_namespace {
        setns(&own, CloneFlags::CLONE_NEWPID)
            .map_err(|e| StartError::runtime(format!("return to our own PID namespace: {e}")))?;
    }
    cloned.map_err(|e| StartError::runtime(format!("clone the container's init: {e}")))
}

/// The path of an existing PID namespace the container joins.
fn joined_pid_namespace(namespaces: &[LinuxNamespace]) -> Option<&Path> {
    namespaces
        .iter()
        .find(|ns| ns.typ() == LinuxNamespaceType::Pid)
        .and_then(|ns| ns.path().as_deref())
}

/// Makes the children this thread clones next members of the PID
/// namespace at `path`; returns a handle on the namespace they would
/// have had, to go back to.
fn enter_pid_namespace_for_children(path: &Path) -> Result<std::fs::File, StartError> {
    let own = std::fs::File::open("/proc/thread-self/ns/pid_for_children")
        .map_err(|e| StartError::runtime(format!("open our own PID namespace: {e}")))?;
    let target = std::fs::File::open(path)
        .map_err(|e| StartError::runtime(format!("open namespace {}: {e}", path.display())))?;
    setns(&target, CloneFlags::CLONE_NEWPID)
        .map_err(|e| StartError::runtime(format!("join namespace {}: {e}", path.display())))?;
    Ok(own)
}

fn namespaces(bundle: &Bundle) -> Vec<LinuxNamespace> {
    bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

/// The clone/unshare/setns flag of a namespace type.
pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

/// Runs in the child; only returns on failure.
fn init_main(
    bundle: &Bundle,
    rootfs_target: &Path,
    namespaces: &[LinuxNamespace],
    socket: RawFd,
    stdio: Option<ChildStdio>,
) -> StartError {
    let result = (|| -> Result<(), StartError> {
        die_with_parent()?;
        // The shim creates the cgroup while this process builds the root
        // filesystem; it is joined once the shim says go.
        let cgroup = bundle
            .cgroup
            .open_hierarchies()
            .map_err(|e| StartError::runtime(format!("open the cgroup hierarchies: {e}")))?;
        // The PID namespace was joined at the clone.
        for ns in namespaces
            .iter()
            .filter(|ns| ns.typ() != LinuxNamespaceType::Pid)
        {
            if let Some(path) = ns.path() {
                let file = std::fs::File::open(path).map_err(|e| {
                    StartError::runtime(format!("open namespace {}: {e}", path.display()))
                })?;
                setns(&file, clone_flag(ns.typ())).map_err(|e| {
                    StartError::runtime(format!("join namespace {}: {e}", path.display()))
                })?;
            }
        }
        if let Some(hostname) = bundle.spec.hostname() {
            nix::unistd::sethostname(hostname)
                .map_err(|e| StartError::runtime(format!("set hostname {hostname:?}: {e}")))?;
        }
        if let Some(domain) = bundle.spec.domainname() {
            set_domainname(domain)?;
        }
        enter_rootfs(&bundle.rootfs, rootfs_target, &bundle.spec, &bundle.copy_up)
            .map_err(|e| StartError::runtime(e.to_string()))?;
        let read_only = bundle
            .spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false);
        finish_rootfs(&bundle.spec, read_only).map_err(|e| StartError::runtime(e.to_string()))?;
        let process = bundle
            .process()
            .ok_or_else(|| StartError::runtime("the bundle has no process"))?;
        wire_stdio_and_report_ready(socket, process, stdio)?;
        wait_for_go(socket)?;
        cgroup
            .enter()
            .map_err(|e| StartError::runtime(format!("join the container's cgroup: {e}")))?;
        if namespaces
            .iter()
            .any(|ns| ns.typ() == LinuxNamespaceType::Cgroup && ns.path().is_none())
        {
            unshare(CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| StartError::runtime(format!("new cgroup namespace: {e}")))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        return e;
    }
    match bundle.process() {
        Some(process) => become_process(process, bundle.seccomp, bundle.init.then_some(socket)),
        None => StartError::runtime("the bundle has no process"),
    }
}

fn set_domainname(domain: &str) -> Result<(), StartError> {
    // SAFETY: setdomainname reads `len` bytes from a valid buffer.
    let rc = unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) };
    if rc != 0 {
        return Err(StartError::runtime(format!(
            "set domain name {domain:?}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
