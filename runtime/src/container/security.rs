//! What a container process may do: capabilities, no_new_privs and the
//! default seccomp filter.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use caps::{CapSet, Capability};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

/// Docker's default capability set for containers.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Which seccomp filter a process gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompMode {
    /// hoist's default profile (see [`default_filter`]).
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`, `--privileged`).
    Unconfined,
}

/// Why a capability list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability {0:?}: use a name such as NET_ADMIN or CAP_NET_ADMIN, or ALL")]
pub struct UnknownCapability(pub String);

/// Parses a capability name with or without the `CAP_` prefix.
pub fn parse_capability(name: &str) -> Result<Capability, UnknownCapability> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full).map_err(|_| UnknownCapability(name.to_string()))
}

/// Docker's rule: start from the default set (or every capability the host
/// has when privileged), add `cap_add`, remove `cap_drop`; `ALL` works in
/// either list, and a drop of ALL keeps what `cap_add` names.
pub fn effective_capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<String>, UnknownCapability> {
    let all = host_capabilities();
    let mut set: HashSet<Capability> = if privileged {
        all.clone()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .filter_map(|c| parse_capability(c).ok())
            .collect()
    };
    if cap_drop.iter().any(|c| c.eq_ignore_ascii_case("ALL")) {
        set.clear();
    }
    for name in cap_drop.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        set.remove(&parse_capability(name)?);
    }
    for name in cap_add {
        if name.eq_ignore_ascii_case("ALL") {
            set.extend(all.iter().copied());
        } else {
            set.insert(parse_capability(name)?);
        }
    }
    let mut names: Vec<String> = set
        .into_iter()
        .filter(|c| all.contains(c))
        .map(|c| c.to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// The capabilities this process may hand out (its bounding set).
fn host_capabilities() -> HashSet<Capability> {
    caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all())
}

/// Cuts the calling process's bounding set to `names`. Needs CAP_SETPCAP,
/// so it runs before the switch to the container's user.
pub fn limit_bounding_set(names: &[String]) -> Result<(), caps::errors::CapsError> {
    let wanted = capability_set(names);
    for cap in caps::read(None, CapSet::Bounding)? {
        if !wanted.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets after the user
/// switch (with keep-caps set before it): a root process gets `names`, any
/// other user none (Docker's behaviour for non-root users).
pub fn set_capabilities(names: &[String], root: bool) -> Result<(), caps::errors::CapsError> {
    let granted = if root {
        capability_set(names)
    } else {
        HashSet::new()
    };
    // Effective must stay within permitted at every step: shrink it first.
    caps::set(None, CapSet::Effective, &granted)?;
    caps::set(None, CapSet::Permitted, &granted)?;
    caps::set(None, CapSet::Inheritable, &granted)?;
    // Ambient capabilities are never raised: Docker does not either.
    caps::clear(None, CapSet::Ambient)
}

fn capability_set(names: &[String]) -> HashSet<Capability> {
    names
        .iter()
        .filter_map(|n| Capability::from_str(n).ok())
        .collect()
}

/// Sets no_new_privs: setuid binaries and file capabilities can no longer
/// raise privileges, and seccomp can be installed without CAP_SYS_ADMIN.
pub fn set_no_new_privileges() -> nix::Result<()> {
    nix::sys::prctl::set_no_new_privs()
}

/// Syscalls the default profile refuses with EPERM whatever the
/// capabilities: host-wide or kernel-level operations no container needs.
const ALWAYS_DENIED: &[i64] = &[
    libc::SYS_reboot,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_open_by_handle_at,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_lookup_dcookie,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_userfaultfd,
    libc::SYS_uselib,
    libc::SYS__sysctl,
    libc::SYS_nfsservctl,
];

/// Refused unless the container has CAP_SYS_ADMIN: mounts (old and new
/// APIs), namespaces, pivot_root.
const NEED_SYS_ADMIN: &[i64] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_mount_setattr,
    libc::SYS_name_to_handle_at,
];

/// Refused unless CAP_SYS_PTRACE: tracing and reading other processes.
const NEED_SYS_PTRACE: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
];

/// Refused unless CAP_SYS_TIME: setting the clock.
const NEED_SYS_TIME: &[i64] = &[
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
];

/// clone() flags that make namespaces; refused without CAP_SYS_ADMIN so an
/// unprivileged process cannot make a user namespace.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWCGROUP as u64,
];

/// Why a filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the seccomp filter: {0}")]
pub struct SeccompError(String);

fn target_arch() -> Result<TargetArch, SeccompError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| SeccompError(format!("{e:?}")))
}

/// hoist's default seccomp profile for a process with `capabilities`, as
/// two BPF programs to install in order: the first answers EPERM to the
/// syscalls above (honouring the capabilities that Docker's profile lets
/// through), the second answers ENOSYS to clone3, whose flags BPF cannot
/// read, so libc falls back to clone, whose flags it can.
pub fn default_filter(capabilities: &[String]) -> Result<Vec<BpfProgram>, SeccompError> {
    let has = |cap: &str| capabilities.iter().any(|c| c == cap);
    let arch = target_arch()?;
    let mut denied: Vec<i64> = ALWAYS_DENIED.to_vec();
    if !has("CAP_SYS_ADMIN") {
        denied.extend_from_slice(NEED_SYS_ADMIN);
    }
    if !has("CAP_SYS_PTRACE") {
        denied.extend_from_slice(NEED_SYS_PTRACE);
    }
    if !has("CAP_SYS_TIME") {
        denied.extend_from_slice(NEED_SYS_TIME);
    }
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        denied.into_iter().map(|nr| (nr, Vec::new())).collect();
    if !has("CAP_SYS_ADMIN") {
        let build = |flag: u64| -> Result<SeccompRule, SeccompError> {
            let condition = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .map_err(|e| SeccompError(e.to_string()))?;
            SeccompRule::new(vec![condition]).map_err(|e| SeccompError(e.to_string()))
        };
        let clone_rules = NAMESPACE_FLAGS
            .iter()
            .map(|f| build(*f))
            .collect::<Result<Vec<_>, _>>()?;
        rules.insert(libc::SYS_clone, clone_rules);
    }
    let eperm = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| SeccompError(e.to_string()))?;
    let mut programs = vec![BpfProgram::try_from(eperm).map_err(|e| SeccompError(e.to_string()))?];
    if !has("CAP_SYS_ADMIN") {
        let enosys = SeccompFilter::new(
            BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch,
        )
        .map_err(|e| SeccompError(e.to_string()))?;
        programs.push(BpfProgram::try_from(enosys).map_err(|e| SeccompError(e.to_string()))?);
    }
    Ok(programs)
}

/// Installs filters on the calling thread (the last step before exec).
///
/// The filters are loaded with seccomp(2) directly: seccompiler's own
/// loader sets no_new_privs first, which would make
/// `--security-opt no-new-privileges=false` impossible. Without
/// no_new_privs the kernel requires CAP_SYS_ADMIN, which the caller then
/// still has.
pub fn install_filters(programs: &[BpfProgram]) -> Result<(), SeccompError> {
    for program in programs {
        let len =
            u16::try_from(program.len()).map_err(|_| SeccompError("filter too long".into()))?;
        let prog = libc::sock_fprog {
            len,
            // seccompiler's sock_filter is #[repr(C)] with the kernel's
            // layout (u16 code, u8 jt, u8 jf, u32 k), as libc's.
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `len` valid instructions that outlive the
        // call; the kernel copies the program before returning.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(SeccompError(format!(
                "seccomp(SET_MODE_FILTER): {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_arithmetic_follows_docker() {
        let default = effective_capabilities(false, &[], &[]).unwrap();
        assert!(default.contains(&"CAP_CHOWN".to_string()));
        assert!(!default.contains(&"CAP_SYS_ADMIN".to_string()));
        let added =
            effective_capabilities(false, &["net_admin".into()], &["CHOWN".into()]).unwrap();
        assert!(added.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!added.contains(&"CAP_CHOWN".to_string()));
        let only = effective_capabilities(false, &["KILL".into()], &["ALL".into()]).unwrap();
        assert_eq!(only, vec!["CAP_KILL".to_string()]);
        assert!(effective_capabilities(false, &["NOPE".into()], &[]).is_err());
    }

    #[test]
    fn default_filter_compiles_and_relaxes_with_capabilities() {
        let strict = default_filter(&[]).unwrap();
        assert_eq!(strict.len(), 2);
        let admin = default_filter(&["CAP_SYS_ADMIN".to_string()]).unwrap();
        assert_eq!(admin.len(), 1);
        assert!(admin[0].len() < strict[0].len());
    }
}
