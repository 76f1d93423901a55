//! The last steps before exec: finding the executable, switching user,
//! resource limits — and turning what went wrong into Docker's exit codes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
use oci_spec::runtime::{PosixRlimit, User};
use serde::{Deserialize, Serialize};

/// Docker's PATH for processes whose environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A failure to start a process, with the exit code Docker gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    /// 127 not found, 126 not executable, 125 anything else.
    pub code: i32,
    /// What went wrong, naming the thing.
    pub message: String,
}

impl StartError {
    /// A runtime failure (exit code 125).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 125,
            message: message.into(),
        }
    }
}

/// Finds `name` as execvp would, in `PATH` from `env` (or Docker's default).
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, StartError> {
    if name.is_empty() {
        return Err(StartError {
            code: 127,
            message: "exec: no command given".into(),
        });
    }
    if name.contains('/') {
        let path = PathBuf::from(name);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Err(StartError {
                code: 126,
                message: format!("exec: {name:?}: is a directory"),
            }),
            Ok(_) => Ok(path),
            Err(_) => Err(StartError {
                code: 127,
                message: format!("exec: {name:?}: stat {name}: no such file or directory"),
            }),
        };
    }
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut found_non_executable = None;
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            found_non_executable.get_or_insert(candidate);
        }
    }
    match found_non_executable {
        Some(path) => Err(StartError {
            code: 126,
            message: format!("exec: {name:?}: {}: permission denied", path.display()),
        }),
        None => Err(StartError {
            code: 127,
            message: format!("exec: {name:?}: executable file not found in $PATH"),
        }),
    }
}

/// Replaces the calling process with `args[0]` (resolved by
/// [`find_executable`]); only returns on failure, with Docker's code.
pub fn exec(args: &[String], env: &[String]) -> StartError {
    let Some(name) = args.first() else {
        return StartError {
            code: 127,
            message: "exec: no command given".into(),
        };
    };
    let path = match find_executable(name, env) {
        Ok(path) => path,
        Err(e) => return e,
    };
    let to_c = |s: &str| {
        CString::new(s)
            .map_err(|_| StartError::runtime(format!("argument {s:?} contains a NUL byte")))
    };
    let c_path = match CString::new(path.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return StartError::runtime("executable path contains a NUL byte"),
    };
    let c_args: Result<Vec<CString>, _> = args.iter().map(|a| to_c(a)).collect();
    let c_env: Result<Vec<CString>, _> = env.iter().map(|e| to_c(e)).collect();
    let (c_args, c_env) = match (c_args, c_env) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let err = match nix::unistd::execve(&c_path, &c_args, &c_env) {
        Err(err) => err,
        Ok(never) => match never {},
    };
    let code = match err {
        nix::errno::Errno::ENOENT => 127,
        _ => 126,
    };
    StartError {
        code,
        message: format!(
            "exec: {name:?}: {}: {}",
            path.display(),
            err.desc().to_lowercase()
        ),
    }
}

/// Switches to the spec's user and groups. Keep-caps must be set by the
/// caller if capabilities are to survive (they are re-applied after).
pub fn switch_user(user: &User) -> nix::Result<()> {
    let groups: Vec<Gid> = user
        .additional_gids()
        .as_ref()
        .map(|g| g.iter().map(|gid| Gid::from_raw(*gid)).collect())
        .unwrap_or_default();
    setgroups(&groups)?;
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid)?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid)
}

/// Applies rlimits. The daemon already clamped them to what it may grant.
pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<(), StartError> {
    for limit in limits {
        let resource = rlimit_resource(&format!("{:?}", limit.typ()))
            .ok_or_else(|| StartError::runtime(format!("unknown rlimit {:?}", limit.typ())))?;
        let value = libc::rlimit {
            rlim_cur: limit.soft(),
            rlim_max: limit.hard(),
        };
        // SAFETY: setrlimit reads a valid rlimit struct we own.
        let rc = unsafe { libc::setrlimit(resource, &value) };
        if rc != 0 {
            return Err(StartError::runtime(format!(
                "cannot set rlimit {:?} to {}:{}: {}",
                limit.typ(),
                limit.soft(),
                limit.hard(),
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// The libc resource for an oci-spec rlimit type name (`RlimitNofile`).
fn rlimit_resource(debug_name: &str) -> Option<libc::__rlimit_resource_t> {
    let name = debug_name
        .strip_prefix("Rlimit")
        .unwrap_or(debug_name)
        .to_ascii_lowercase();
    rlimit_by_name(&name)
}

/// The libc resource for Docker's ulimit names (`nofile`, `nproc`, …).
pub fn rlimit_by_name(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "as" => libc::RLIMIT_AS,
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_with_docker_codes() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("data");
        std::fs::write(&plain, "x").unwrap();
        let env = vec![format!("PATH=/nonexistent:{}", dir.path().display())];
        assert_eq!(find_executable("tool", &env).unwrap(), exe);
        assert_eq!(find_executable("data", &env).unwrap_err().code, 126);
        assert_eq!(find_executable("missing", &env).unwrap_err().code, 127);
        assert_eq!(
            find_executable("/no/such/file", &env).unwrap_err().code,
            127
        );
        assert_eq!(
            find_executable(dir.path().to_str().unwrap(), &env)
                .unwrap_err()
                .code,
            126
        );
    }

    #[test]
    fn knows_docker_ulimit_names() {
        assert_eq!(rlimit_by_name("nofile"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(rlimit_resource("RlimitNproc"), Some(libc::RLIMIT_NPROC));
        assert_eq!(rlimit_by_name("bogus"), None);
    }
}
