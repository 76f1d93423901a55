//! `RUN --mount=…`: BuildKit's mount options (`type=cache,target=/root/.cache`),
//! parsed and checked when the Dockerfile is read, so a bad mount is an
//! error at its line before anything runs.

/// One `RUN --mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// `type=bind` (the default): files of the build context, of an earlier
    /// stage or of an image (`from`), read-only unless `rw`, in which case
    /// the command's writes are thrown away afterwards.
    Bind {
        /// Where it appears in the container.
        target: String,
        /// The path under the context, stage or image (`/` for all of it).
        source: String,
        /// A stage or an image; `None`: the build context.
        from: Option<String>,
        /// `rw`: writable (writes discarded).
        read_write: bool,
    },
    /// `type=cache`: a directory the builder keeps from build to build
    /// (package managers' and compilers' caches), never part of a layer.
    Cache {
        /// Which cache (default: the target).
        id: String,
        /// Where it appears in the container.
        target: String,
        /// `ro`.
        read_only: bool,
        /// How concurrent builds share it.
        sharing: CacheSharing,
        /// A stage, context or image whose files (at `source`) fill the
        /// cache when it is first made; `None`: it starts empty.
        from: Option<String>,
        /// The path in `from` (`/`).
        source: String,
        /// Mode and owner of its directory when first made (0755, root).
        owner: FileOwner,
    },
    /// `type=tmpfs`: a fresh tmpfs.
    Tmpfs {
        /// Where it appears in the container.
        target: String,
        /// Size limit in bytes; 0: the kernel's default.
        size: u64,
    },
    /// `type=secret`: a secret given to the build (`hoist build --secret`),
    /// as a file and/or an environment variable; never in a layer, the
    /// image's history or the cache key.
    Secret {
        /// The secret's name on the command line.
        id: String,
        /// Where its file appears; `None` when it is given as `env` only.
        target: Option<String>,
        /// The environment variable that holds it.
        env: Option<String>,
        /// Fail when the build was not given the secret (else the mount
        /// is skipped).
        required: bool,
        /// Mode and owner of its file (0400, root).
        owner: FileOwner,
    },
    /// `type=ssh`: an SSH agent given to the build (`hoist build --ssh`),
    /// as a socket with `SSH_AUTH_SOCK` naming it.
    Ssh {
        /// The agent's name on the command line (`default`).
        id: String,
        /// Where its socket appears; `None`: `/run/buildkit/ssh_agent.N`,
        /// N counting the step's ssh mounts.
        target: Option<String>,
        /// Fail when the build was not given the agent (else the mount is
        /// skipped).
        required: bool,
        /// Mode and owner of its socket (0600, root).
        owner: FileOwner,
    },
}

/// The permission bits and owner a mount's file, directory or socket gets
/// (`mode=`, `uid=`, `gid=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOwner {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSharing {
    /// Every build uses it at once (the default).
    Shared,
    /// A build that finds it in use gets a fresh, throw-away one.
    Private,
    /// A build waits until no other uses it.
    Locked,
}

impl RunMount {
    /// The path in the container it is mounted at, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            RunMount::Bind { target, .. }
            | RunMount::Cache { target, .. }
            | RunMount::Tmpfs { target, .. } => Some(target),
            RunMount::Secret { target, .. } | RunMount::Ssh { target, .. } => target.as_deref(),
        }
    }

    /// Its texts with `expand` applied (ARG and ENV values, as BuildKit
    /// expands mount options).
    pub fn expanded(
        &self,
        expand: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<RunMount, String> {
        let maybe = |value: &Option<String>| value.as_deref().map(expand).transpose();
        Ok(match self {
            RunMount::Bind {
                target,
                source,
                from,
                read_write,
            } => RunMount::Bind {
                target: expand(target)?,
                source: expand(source)?,
                from: maybe(from)?,
                read_write: *read_write,
            },
            RunMount::Cache {
                id,
                target,
                read_only,
                sharing,
                from,
                source,
                owner,
            } => RunMount::Cache {
                id: expand(id)?,
                target: expand(target)?,
                read_only: *read_only,
                sharing: *sharing,
                from: maybe(from)?,
                source: expand(source)?,
                owner: *owner,
            },
            RunMount::Tmpfs { target, size } => RunMount::Tmpfs {
                target: expand(target)?,
                size: *size,
            },
            RunMount::Secret {
                id,
                target,
                env,
                required,
                owner,
            } => RunMount::Secret {
                id: expand(id)?,
                target: maybe(target)?,
                env: maybe(env)?,
                required: *required,
                owner: *owner,
            },
            RunMount::Ssh {
                id,
                target,
                required,
                owner,
            } => RunMount::Ssh {
                id: expand(id)?,
                target: maybe(target)?,
                required: *required,
                owner: *owner,
            },
        })
    }
}

/// Parses one `--mount` value: comma-separated `key=value` fields (a field
/// in double quotes may hold commas), keys case-insensitive, as BuildKit.
pub fn parse_mount(value: &str) -> Result<RunMount, String> {
    let mut fields = Fields::default();
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((key, val)) => (key.trim().to_ascii_lowercase(), Some(val.to_string())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        fields.set(&key, val, value)?;
    }
    fields.into_mount(value)
}

/// The fields of one `--mount`, before its type gives them a meaning.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    id: Option<String>,
    target: Option<String>,
    source: Option<String>,
    from: Option<String>,
    read_only: Option<bool>,
    read_write: Option<bool>,
    required: Option<bool>,
    sharing: Option<String>,
    mode: Option<String>,
    uid: Option<String>,
    gid: Option<String>,
    size: Option<String>,
    env: Option<String>,
}

impl Fields {
    fn set(&mut self, key: &str, value: Option<String>, whole: &str) -> Result<(), String> {
        let flag = |value: Option<String>| -> Result<bool, String> {
            match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(other) => Err(format!(
                    "invalid value {other:?} for {key} in --mount={whole}: use true or false"
                )),
            }
        };
        let text = |value: Option<String>| -> Result<Option<String>, String> {
            match value {
                Some(value) => Ok(Some(value)),
                None => Err(format!(
                    "{key} needs a value in --mount={whole}: write {key}=…"
                )),
            }
        };
        match key {
            "type" => self.kind = text(value)?,
            "id" => self.id = text(value)?,
            "target" | "dst" | "destination" => self.target = text(value)?,
            "source" | "src" => self.source = text(value)?,
            "from" => self.from = text(value)?,
            "readonly" | "ro" => self.read_only = Some(flag(value)?),
            "readwrite" | "rw" => self.read_write = Some(flag(value)?),
            "required" => self.required = Some(flag(value)?),
            "sharing" => self.sharing = text(value)?,
            "mode" => self.mode = text(value)?,
            "uid" => self.uid = text(value)?,
            "gid" => self.gid = text(value)?,
            "size" => self.size = text(value)?,
            "env" => self.env = text(value)?,
            other => {
                return Err(format!(
                    "unexpected key {other:?} in --mount={whole}: use type, target, source, from, id, ro, rw, sharing, mode, uid, gid, size, env or required"
                ));
            }
        }
        Ok(())
    }

    /// `mode=` (octal; `default_mode` when absent), `uid=` and `gid=` (0).
    fn owner(&self, default_mode: u32, whole: &str) -> Result<FileOwner, String> {
        let number = |value: &Option<String>, name: &str, default: u32, radix: u32| match value {
            None => Ok(default),
            Some(text) => u32::from_str_radix(text, radix)
                .map_err(|_| format!("invalid {name} {text:?} in --mount={whole}: use a number")),
        };
        Ok(FileOwner {
            mode: number(&self.mode, "mode", default_mode, 8)?,
            uid: number(&self.uid, "uid", 0, 10)?,
            gid: number(&self.gid, "gid", 0, 10)?,
        })
    }

    /// Refuses a field its type does not take.
    fn only(&self, kind: &str, allowed: &[&str], whole: &str) -> Result<(), String> {
        let given = [
            ("id", self.id.is_some()),
            ("source", self.source.is_some()),
            ("from", self.from.is_some()),
            ("ro", self.read_only.is_some()),
            ("rw", self.read_write.is_some()),
            ("required", self.required.is_some()),
            ("sharing", self.sharing.is_some()),
            ("mode", self.mode.is_some()),
            ("uid", self.uid.is_some()),
            ("gid", self.gid.is_some()),
            ("size", self.size.is_some()),
            ("env", self.env.is_some()),
        ];
        match given
            .iter()
            .find(|(name, set)| *set && !allowed.contains(name))
        {
            Some((name, _)) => Err(format!(
                "{name} does not apply to a {kind} mount (--mount={whole})"
            )),
            None => Ok(()),
        }
    }

    fn into_mount(self, whole: &str) -> Result<RunMount, String> {
        let kind = self.kind.clone().unwrap_or_else(|| "bind".into());
        let target = self.target.clone().filter(|t| !t.is_empty());
        let needs_target = || {
            target
                .clone()
                .ok_or_else(|| format!("--mount={whole} needs a target: add target=/path"))
        };
        match kind.as_str() {
            "bind" => {
                self.only("bind", &["source", "from", "ro", "rw"], whole)?;
                Ok(RunMount::Bind {
                    target: needs_target()?,
                    source: self.source.clone().unwrap_or_else(|| "/".into()),
                    from: self.from.clone(),
                    read_write: self.read_write.unwrap_or(false) || self.read_only == Some(false),
                })
            }
            "cache" => {
                self.only(
                    "cache",
                    &[
                        "id", "ro", "rw", "sharing", "mode", "uid", "gid", "from", "source",
                    ],
                    whole,
                )?;
                let target = needs_target()?;
                let sharing = match self.sharing.as_deref() {
                    None | Some("shared") => CacheSharing::Shared,
                    Some("private") => CacheSharing::Private,
                    Some("locked") => CacheSharing::Locked,
                    Some(other) => {
                        return Err(format!(
                            "invalid sharing {other:?} in --mount={whole}: use shared, private or locked"
                        ));
                    }
                };
                Ok(RunMount::Cache {
                    id: self
                        .id
                        .clone()
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| target.clone()),
                    target,
                    read_only: self.read_only.unwrap_or(false) && self.read_write != Some(true),
                    sharing,
                    from: self.from.clone(),
                    source: self.source.clone().unwrap_or_else(|| "/".into()),
                    owner: self.owner(0o755, whole)?,
                })
            }
            "tmpfs" => {
                self.only("tmpfs", &["size"], whole)?;
                let size = match &self.size {
                    None => 0,
                    Some(text) => hoist_api::units::parse_bytes(text)
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            format!("invalid size {text:?} in --mount={whole}: use bytes or a unit, like 64m")
                        })?,
                };
                Ok(RunMount::Tmpfs {
                    target: needs_target()?,
                    size,
                })
            }
            "secret" => {
                self.only(
                    "secret",
                    &["id", "required", "mode", "uid", "gid", "env"],
                    whole,
                )?;
                let id = match (&self.id, &target) {
                    (Some(id), _) if !id.is_empty() => id.clone(),
                    (_, Some(target)) => target.rsplit('/').next().unwrap_or_default().to_string(),
                    _ => {
                        return Err(format!(
                            "--mount={whole} needs the secret's id: add id=NAME"
                        ));
                    }
                };
                let env = self.env.clone().filter(|e| !e.is_empty());
                let target = match (target, &env) {
                    (Some(target), _) => Some(target),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                Ok(RunMount::Secret {
                    id,
                    target,
                    env,
                    required: self.required.unwrap_or(false),
                    owner: self.owner(0o400, whole)?,
                })
            }
            "ssh" => {
                self.only("ssh", &["id", "required", "mode", "uid", "gid"], whole)?;
                Ok(RunMount::Ssh {
                    id: self
                        .id
                        .clone()
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| "default".into()),
                    target,
                    required: self.required.unwrap_or(false),
                    owner: self.owner(0o600, whole)?,
                })
            }
            other => Err(format!(
                "invalid mount type {other:?} in --mount={whole}: use bind, cache, tmpfs, secret or ssh"
            )),
        }
    }
}

/// Splits at commas outside double quotes; quotes are removed (`""` inside
/// quotes is one quote), as Go's CSV reader that BuildKit uses.
fn csv_fields(value: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in --mount={value}"));
    }
    fields.push(field);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_default_to_the_context_read_only() {
        assert_eq!(
            parse_mount("type=bind,source=requirements.txt,target=requirements.txt").unwrap(),
            RunMount::Bind {
                target: "requirements.txt".into(),
                source: "requirements.txt".into(),
                from: None,
                read_write: false,
            }
        );
        assert_eq!(
            parse_mount("target=/src,from=build,rw").unwrap(),
            RunMount::Bind {
                target: "/src".into(),
                source: "/".into(),
                from: Some("build".into()),
                read_write: true,
            }
        );
    }

    #[test]
    fn caches_take_their_target_as_id_and_dockers_defaults() {
        assert_eq!(
            parse_mount("type=cache,target=/root/.cache/pip").unwrap(),
            RunMount::Cache {
                id: "/root/.cache/pip".into(),
                target: "/root/.cache/pip".into(),
                read_only: false,
                sharing: CacheSharing::Shared,
                from: None,
                source: "/".into(),
                owner: FileOwner {
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                },
            }
        );
        assert_eq!(
            parse_mount(
                "Type=cache,ID=go,dst=/go/pkg/mod,sharing=locked,mode=0700,uid=1000,gid=1000,ro"
            )
            .unwrap(),
            RunMount::Cache {
                id: "go".into(),
                target: "/go/pkg/mod".into(),
                read_only: true,
                sharing: CacheSharing::Locked,
                from: None,
                source: "/".into(),
                owner: FileOwner {
                    mode: 0o700,
                    uid: 1000,
                    gid: 1000,
                },
            }
        );
    }

    #[test]
    fn secrets_default_to_a_file_under_run_secrets() {
        assert_eq!(
            parse_mount("type=secret,id=npmrc").unwrap(),
            RunMount::Secret {
                id: "npmrc".into(),
                target: Some("/run/secrets/npmrc".into()),
                env: None,
                required: false,
                owner: FileOwner {
                    mode: 0o400,
                    uid: 0,
                    gid: 0,
                },
            }
        );
        let by_target = parse_mount("type=secret,target=/root/.npmrc,required").unwrap();
        assert!(matches!(
            by_target,
            RunMount::Secret { ref id, required: true, .. } if id == ".npmrc"
        ));
        let env_only = parse_mount("type=secret,id=token,env=TOKEN").unwrap();
        assert_eq!(env_only.target(), None);
    }

    #[test]
    fn ssh_mounts_default_to_the_default_agent() {
        assert_eq!(
            parse_mount("type=ssh").unwrap(),
            RunMount::Ssh {
                id: "default".into(),
                target: None,
                required: false,
                owner: FileOwner {
                    mode: 0o600,
                    uid: 0,
                    gid: 0,
                },
            }
        );
        assert_eq!(
            parse_mount("type=ssh,id=github,target=/agent,required,uid=1000,mode=0660")
                .unwrap()
                .target(),
            Some("/agent")
        );
    }

    #[test]
    fn tmpfs_sizes_take_units_and_quotes_hold_commas() {
        assert_eq!(
            parse_mount("type=tmpfs,target=/tmp,size=64m").unwrap(),
            RunMount::Tmpfs {
                target: "/tmp".into(),
                size: 64 << 20,
            }
        );
        assert_eq!(
            parse_mount("\"target=/a,b\",source=x").unwrap().target(),
            Some("/a,b")
        );
    }

    #[test]
    fn bad_mounts_say_what_is_wrong() {
        for (value, said) in [
            ("type=cache", "needs a target"),
            ("type=volume,target=/x", "invalid mount type \"volume\""),
            (
                "type=bind,target=/x,colour=red",
                "unexpected key \"colour\"",
            ),
            ("type=tmpfs,target=/x,size=big", "invalid size"),
            ("type=cache,target=/x,sharing=sometimes", "invalid sharing"),
            ("type=cache,target=/x,mode=rwx", "invalid mode"),
            (
                "type=bind,target=/x,sharing=locked",
                "sharing does not apply",
            ),
            ("type=ssh,size=1", "size does not apply to a ssh mount"),
            ("type=secret", "needs the secret's id"),
            ("type=bind,target=\"/x", "unterminated quote"),
            ("type=bind,target=/x,ro=maybe", "use true or false"),
        ] {
            let error = parse_mount(value).unwrap_err();
            assert!(error.contains(said), "{value}: {error}");
        }
    }
}
