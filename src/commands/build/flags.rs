//! The flags of `hoist build` that need reading before a build starts
//! (build args, secrets, ssh agents, named contexts, outputs, entitlements,
//! sizes, ulimits, labels), each checked here so a bad one fails before
//! the context is sent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::exit::{CliError, CliResult};

/// `--build-arg K=V`, or `K` alone for the value in this environment.
pub fn build_args(given: &[String]) -> CliResult<BTreeMap<String, String>> {
    let mut args = BTreeMap::new();
    for arg in given {
        match arg.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                args.insert(key.to_string(), value.to_string());
            }
            Some(_) => {
                return Err(CliError::usage(format!(
                    "invalid --build-arg {arg:?}: expected NAME=VALUE"
                )));
            }
            None => {
                if let Ok(value) = std::env::var(arg) {
                    args.insert(arg.clone(), value);
                }
            }
        }
    }
    Ok(args)
}

/// `--secret id=ID[,src=FILE|,env=VARIABLE][,type=file|env]`, read here:
/// as buildx, `id` alone means the variable named ID if it is set, else
/// the file named ID.
pub fn secrets(given: &[String]) -> CliResult<BTreeMap<String, Vec<u8>>> {
    let mut secrets = BTreeMap::new();
    for secret in given {
        let bad = |why: &str| {
            CliError::usage(format!(
                "invalid --secret {secret:?}: {why}; use id=NAME,src=FILE or id=NAME,env=VARIABLE"
            ))
        };
        let (mut id, mut file, mut env, mut kind) = (None, None, None, None);
        for field in secret.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| bad("each field is KEY=VALUE"))?;
            match key.to_ascii_lowercase().as_str() {
                "id" => id = Some(value.to_string()),
                "src" | "source" => file = Some(value.to_string()),
                "env" => env = Some(value.to_string()),
                "type" if value == "file" || value == "env" => kind = Some(value.to_string()),
                "type" => return Err(bad("type is file or env")),
                other => return Err(bad(&format!("unknown key {other:?}"))),
            }
        }
        if kind.as_deref() == Some("env") && env.is_none() {
            env = file.take();
        }
        let id = id
            .or_else(|| file.clone().or_else(|| env.clone()))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad("it needs an id"))?;
        // Neither given: the variable named ID if set, else the file.
        let env =
            env.or_else(|| (file.is_none() && std::env::var_os(&id).is_some()).then(|| id.clone()));
        let value = match env {
            Some(variable) => std::env::var_os(&variable)
                .map(std::os::unix::ffi::OsStringExt::into_vec)
                .ok_or_else(|| {
                    CliError::usage(format!("secret {id}: the variable {variable} is not set"))
                })?,
            None => {
                let path = file.unwrap_or_else(|| id.clone());
                std::fs::read(&path)
                    .map_err(|e| CliError::usage(format!("secret {id}: cannot read {path}: {e}")))?
            }
        };
        secrets.insert(id, value);
    }
    Ok(secrets)
}

/// `--ssh ID[=SOCKET]`: agents' sockets by id, `$SSH_AUTH_SOCK` when no
/// socket is given. hoist relays agents, not key files: a key is loaded
/// into an agent (`ssh-add`) first.
pub fn ssh_agents(given: &[String]) -> CliResult<BTreeMap<String, String>> {
    use std::os::unix::fs::FileTypeExt;
    let mut agents = BTreeMap::new();
    for entry in given {
        let (id, path) = match entry.split_once('=') {
            Some((id, path)) => (id, PathBuf::from(path)),
            None => {
                let socket = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                    CliError::usage(format!(
                        "--ssh {entry}: SSH_AUTH_SOCK is not set; start an agent (ssh-agent) or give its socket as --ssh {entry}=SOCKET"
                    ))
                })?;
                (entry.as_str(), PathBuf::from(socket))
            }
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            CliError::usage(format!("--ssh {id}: cannot use {}: {e}", path.display()))
        })?;
        if !meta.file_type().is_socket() {
            return Err(CliError::usage(format!(
                "--ssh {id}: {} is not an agent's socket; hoist relays SSH agents, not key files: load the key with ssh-add and give the agent",
                path.display()
            )));
        }
        let path = std::path::absolute(&path)?;
        agents.insert(id.to_string(), path.display().to_string());
    }
    Ok(agents)
}

/// `--build-context NAME=VALUE`: a directory, `docker-image://REF`, or a
/// Git repository or tarball URL.
pub fn named_contexts(given: &[String]) -> CliResult<BTreeMap<String, NamedContext>> {
    let mut contexts = BTreeMap::new();
    for entry in given {
        let bad = |why: &str| {
            CliError::usage(format!(
                "invalid --build-context {entry:?}: {why}; use NAME=DIR, NAME=docker-image://REF or NAME=URL of a Git repository or tarball"
            ))
        };
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| bad("it needs a name"))?;
        if name.is_empty() || value.is_empty() {
            return Err(bad("it needs a name and a value"));
        }
        let context = match value.split_once("://") {
            Some(("docker-image", image)) => NamedContext::Image(image.to_string()),
            _ if super::supplied::Supplied::is_remote(value) => {
                NamedContext::Remote(value.to_string())
            }
            Some((kind, _)) => {
                return Err(bad(&format!(
                    "{kind}:// contexts are not supported by hoist yet"
                )));
            }
            None => NamedContext::Dir(PathBuf::from(value)),
        };
        contexts.insert(name.to_string(), context);
    }
    Ok(contexts)
}

/// A named build context (`--build-context`, compose's
/// `additional_contexts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory, sent with the build (its `.dockerignore` applies).
    Dir(PathBuf),
    /// An image, as `FROM` or `COPY --from` would name it.
    Image(String),
    /// A Git repository or a tarball URL, fetched as a directory before
    /// the build starts.
    Remote(String),
}

/// Where `build --output` puts the image's files.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Output {
    /// `type=local,dest=DIR` (or a path alone): unpacked into a directory.
    Local(PathBuf),
    /// `type=tar,dest=FILE` (`-`, or no dest: standard output).
    Tar(Option<PathBuf>),
}

/// Parses `--output` as buildx does; `type=docker` and `type=image` (the
/// image in the local store, as hoist always keeps it) give no export.
pub(super) fn output(spec: &str) -> CliResult<Option<Output>> {
    let bad = |why: &str| {
        CliError::usage(format!(
            "invalid --output {spec:?}: {why}; use type=local,dest=DIR, type=tar,dest=FILE or a directory"
        ))
    };
    if spec == "-" {
        return Ok(Some(Output::Tar(None)));
    }
    if !spec.contains('=') {
        return Ok(Some(Output::Local(PathBuf::from(spec))));
    }
    let (mut kind, mut dest) = (None, None);
    for field in spec.split(',') {
        match field.split_once('=') {
            Some(("type", value)) => kind = Some(value),
            Some(("dest", value)) => dest = Some(value),
            Some((other, _)) => return Err(bad(&format!("unknown key {other:?}"))),
            None => return Err(bad("each field is KEY=VALUE")),
        }
    }
    match (kind.unwrap_or("local"), dest) {
        ("local", Some(dest)) if !dest.is_empty() => Ok(Some(Output::Local(PathBuf::from(dest)))),
        ("local", _) => Err(bad("type=local needs dest=DIR")),
        ("tar", None | Some("-")) => Ok(Some(Output::Tar(None))),
        ("tar", Some(dest)) => Ok(Some(Output::Tar(Some(PathBuf::from(dest))))),
        ("docker" | "image", _) => Ok(None),
        ("registry", _) => Err(bad("push with --push")),
        (other, _) => Err(bad(&format!("type {other:?} is not one hoist exports"))),
    }
}

/// `--allow` entitlements: whether `security.insecure` is one
/// (`network.host` is always granted; anything else is refused).
pub(super) fn allows_insecure(given: &[String]) -> CliResult<bool> {
    let mut insecure = false;
    for entitlement in given.iter().flat_map(|g| g.split(',')) {
        match entitlement {
            "security.insecure" => insecure = true,
            "network.host" => {}
            other => {
                return Err(CliError::usage(format!(
                    "invalid --allow {other:?}: use security.insecure or network.host"
                )));
            }
        }
    }
    Ok(insecure)
}

/// `--shm-size` in bytes; 0 when not given.
pub fn shm_size(value: Option<&str>) -> CliResult<u64> {
    value.map_or(Ok(0), |v| {
        hoist_api::units::parse_bytes(v)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                CliError::usage(format!(
                    "invalid --shm-size {v:?}: use bytes or a unit, like 64m"
                ))
            })
    })
}

/// `--ulimit`s, checked here so a bad one fails before the context is sent.
pub fn checked_ulimits(given: &[String]) -> CliResult<Vec<String>> {
    for value in given {
        hoist_api::spec::Ulimit::parse(value).map_err(CliError::usage)?;
    }
    Ok(given.to_vec())
}

/// `--label K=V` (or `K`, an empty value).
pub(super) fn labels(given: &[String]) -> BTreeMap<String, String> {
    given
        .iter()
        .map(|label| match label.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (label.clone(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_as_buildx_reads_them() {
        let local = |p: &str| Some(Output::Local(PathBuf::from(p)));
        assert_eq!(output("out").unwrap(), local("out"));
        assert_eq!(output("type=local,dest=dist").unwrap(), local("dist"));
        assert_eq!(output("dest=dist").unwrap(), local("dist"));
        assert_eq!(output("-").unwrap(), Some(Output::Tar(None)));
        assert_eq!(output("type=tar").unwrap(), Some(Output::Tar(None)));
        assert_eq!(
            output("type=tar,dest=fs.tar").unwrap(),
            Some(Output::Tar(Some(PathBuf::from("fs.tar"))))
        );
        assert_eq!(output("type=docker").unwrap(), None);
        for (bad, said) in [
            ("type=local", "needs dest"),
            ("type=registry,name=x", "unknown key \"name\""),
            ("type=registry", "--push"),
            ("type=oci,dest=x", "not one hoist exports"),
        ] {
            let error = output(bad).unwrap_err();
            assert!(error.message.contains(said), "{bad}: {}", error.message);
        }
    }

    #[test]
    fn secrets_come_from_files_or_variables_as_buildx_reads_them() {
        let path = std::env::var("PATH").unwrap();
        let given = [
            "id=npm,src=/etc/passwd".to_string(),
            "id=p,env=PATH".to_string(),
            "type=env,id=q,src=PATH".to_string(),
            "id=PATH".to_string(),
        ];
        let read = secrets(&given).unwrap();
        assert_eq!(read["npm"], std::fs::read("/etc/passwd").unwrap());
        for id in ["p", "q", "PATH"] {
            assert_eq!(read[id], path.as_bytes(), "{id}");
        }
        for (bad, said) in [
            ("id=x,colour=red", "unknown key \"colour\""),
            ("id=x,type=ssh", "type is file or env"),
            ("src", "each field is KEY=VALUE"),
            ("id=x,env=HOIST_TEST_NO_SUCH_VARIABLE", "is not set"),
            ("id=/nonexistent/hoist-secret", "cannot read"),
        ] {
            let error = secrets(&[bad.to_string()]).unwrap_err();
            assert!(error.message.contains(said), "{bad}: {}", error.message);
        }
    }
}
