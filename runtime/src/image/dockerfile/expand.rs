//! Which instruction arguments the builder expands, and how ARG values are
//! resolved: Docker's rules, kept in one place so the builder cannot get
//! them subtly wrong.
//!
//! Docker expands ADD, COPY, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME
//! and WORKDIR (and FROM, with the global ARGs only), and the options of
//! RUN's `--mount`s. RUN's command, CMD, ENTRYPOINT,
//! HEALTHCHECK, SHELL, ONBUILD and MAINTAINER are left alone: the shell or
//! the child build expands them. ARG values follow their own precedence, see
//! [`ArgDecl::resolve`].

use std::collections::BTreeMap;

use super::instruction::{ArgDecl, CopyFiles, InlineFile, Instruction, Run};
use super::shell::{Env, expand, expand_heredoc, expand_words};

impl Instruction {
    /// The instruction with its arguments expanded against `env` (the
    /// stage's build args and ENV as they stand before this instruction),
    /// as Docker does. `escape` is the Dockerfile's escape character.
    ///
    /// Every pair of an ENV or LABEL is expanded against the same `env`, so
    /// `ENV A=1 B=$A` sees the old `A`, as in Docker.
    pub fn expand(&self, env: Env<'_>, escape: char) -> Result<Instruction, String> {
        let one = |word: &String| expand(word, env, escape);
        let pairs = |pairs: &Vec<(String, String)>| -> Result<Vec<(String, String)>, String> {
            pairs.iter().map(|(k, v)| Ok((one(k)?, one(v)?))).collect()
        };
        let copy = |c: &CopyFiles| -> Result<CopyFiles, String> {
            let opt = |v: &Option<String>| v.as_ref().map(one).transpose();
            Ok(CopyFiles {
                from: opt(&c.from)?,
                chown: opt(&c.chown)?,
                chmod: opt(&c.chmod)?,
                link: c.link,
                checksum: opt(&c.checksum)?,
                exclude: c.exclude.iter().map(one).collect::<Result<_, _>>()?,
                sources: c.sources.iter().map(one).collect::<Result<_, _>>()?,
                inline: c
                    .inline
                    .iter()
                    .map(|f| {
                        Ok(InlineFile {
                            content: if f.expand {
                                expand_heredoc(&f.content, env)?
                            } else {
                                f.content.clone()
                            },
                            ..f.clone()
                        })
                    })
                    .collect::<Result<_, String>>()?,
                dest: one(&c.dest)?,
            })
        };
        Ok(match self {
            Instruction::Env(p) => Instruction::Env(pairs(p)?),
            Instruction::Label(p) => Instruction::Label(pairs(p)?),
            Instruction::Copy(c) => Instruction::Copy(copy(c)?),
            Instruction::Add(c) => Instruction::Add(copy(c)?),
            Instruction::Workdir(w) => Instruction::Workdir(one(w)?),
            Instruction::User(u) => Instruction::User(one(u)?),
            Instruction::StopSignal(s) => Instruction::StopSignal(one(s)?),
            Instruction::Volume(v) => {
                Instruction::Volume(v.iter().map(one).collect::<Result<_, _>>()?)
            }
            Instruction::Expose(ports) => {
                let mut out = Vec::new();
                for port in ports {
                    out.extend(expand_words(port, env, escape)?);
                }
                Instruction::Expose(out)
            }
            // The command is the shell's to expand; its mounts are ours.
            Instruction::Run(run) => Instruction::Run(Run {
                mounts: run
                    .mounts
                    .iter()
                    .map(|mount| mount.expanded(&|text: &str| expand(text, env, escape)))
                    .collect::<Result<_, String>>()?,
                ..run.clone()
            }),
            Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Healthcheck(_)
            | Instruction::Shell(_)
            | Instruction::OnBuild(_)
            | Instruction::Maintainer(_)
            | Instruction::Arg(_) => self.clone(),
        })
    }
}

impl ArgDecl {
    /// The value this ARG takes, by Docker's precedence: a `--build-arg`
    /// of the same name (taken literally), else the default expanded against
    /// `env`, else the value of the same-named global ARG from `inherited`
    /// (a bare `ARG NAME` inside a stage re-imports a global). `None` means
    /// the argument is declared but has no value.
    pub fn resolve(
        &self,
        build_args: &BTreeMap<String, String>,
        inherited: &BTreeMap<String, String>,
        env: Env<'_>,
        escape: char,
    ) -> Result<Option<String>, String> {
        if let Some(value) = build_args.get(&self.name) {
            return Ok(Some(value.clone()));
        }
        match &self.default {
            Some(default) => expand(default, env, escape).map(Some),
            None => Ok(inherited.get(&self.name).cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::dockerfile::instruction::{CommandForm, Run, RunNetwork};

    fn env(name: &str) -> Option<String> {
        match name {
            "DIR" => Some("/srv/app".into()),
            "USERNAME" => Some("app".into()),
            "PORTS" => Some("80 443/tcp".into()),
            "V" => Some("1.0".into()),
            _ => None,
        }
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn expands_what_docker_expands() {
        let cases = [
            (
                Instruction::Workdir(s("$DIR/sub")),
                Instruction::Workdir(s("/srv/app/sub")),
            ),
            (
                Instruction::User(s("${USERNAME}:${GROUP:-staff}")),
                Instruction::User(s("app:staff")),
            ),
            (
                Instruction::StopSignal(s("${SIG:-SIGTERM}")),
                Instruction::StopSignal(s("SIGTERM")),
            ),
            (
                Instruction::Volume(vec![s("$DIR/data")]),
                Instruction::Volume(vec![s("/srv/app/data")]),
            ),
            (
                Instruction::Expose(vec![s("$PORTS"), s("53/udp")]),
                Instruction::Expose(vec![s("80"), s("443/tcp"), s("53/udp")]),
            ),
            (
                Instruction::Env(vec![
                    (s("A"), s("\"v $V\"")),
                    (s("B"), s("'$V'")),
                    (s("C"), s("\\$V")),
                ]),
                Instruction::Env(vec![
                    (s("A"), s("v 1.0")),
                    (s("B"), s("$V")),
                    (s("C"), s("$V")),
                ]),
            ),
            (
                Instruction::Label(vec![(s("version"), s("$V")), (s("${USERNAME}.x"), s("y"))]),
                Instruction::Label(vec![(s("version"), s("1.0")), (s("app.x"), s("y"))]),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(raw.expand(&env, '\\').unwrap(), want, "{raw:?}");
        }
    }

    #[test]
    fn leaves_commands_alone() {
        let run = Instruction::Run(Run {
            command: CommandForm::Shell(s("echo $DIR")),
            network: RunNetwork::Default,
            insecure: false,
            mounts: vec![],
            heredocs: vec![],
        });
        assert_eq!(run.expand(&env, '\\').unwrap(), run);
        let cmd = Instruction::Cmd(CommandForm::Exec(vec![s("$DIR")]));
        assert_eq!(cmd.expand(&env, '\\').unwrap(), cmd);
        let arg = Instruction::Arg(vec![ArgDecl {
            name: s("X"),
            default: Some(s("$DIR")),
        }]);
        assert_eq!(arg.expand(&env, '\\').unwrap(), arg);
    }

    #[test]
    fn expands_copy_paths_flags_and_unquoted_heredocs() {
        let raw = Instruction::Copy(CopyFiles {
            from: Some(s("${STAGE:-build}")),
            chown: Some(s("$USERNAME")),
            chmod: None,
            link: false,
            checksum: None,
            exclude: vec![],
            sources: vec![s("app-$V.tgz")],
            inline: vec![
                InlineFile {
                    name: s("A"),
                    content: s("v=$V \"q\"\n"),
                    expand: true,
                },
                InlineFile {
                    name: s("B"),
                    content: s("v=$V\n"),
                    expand: false,
                },
            ],
            dest: s("$DIR/"),
        });
        let Instruction::Copy(c) = raw.expand(&env, '\\').unwrap() else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(c.chown.as_deref(), Some("app"));
        assert_eq!(c.sources, ["app-1.0.tgz"]);
        assert_eq!(c.dest, "/srv/app/");
        assert_eq!(c.inline[0].content, "v=1.0 \"q\"\n");
        assert_eq!(c.inline[1].content, "v=$V\n");
    }

    #[test]
    fn reports_expansion_errors() {
        let err = Instruction::Workdir(s("${DIR"))
            .expand(&env, '\\')
            .unwrap_err();
        assert!(err.contains("missing '}'"), "{err}");
    }

    #[test]
    fn resolves_args_by_docker_precedence() {
        let build_args = BTreeMap::from([(s("OVERRIDDEN"), s("from-cli $V"))]);
        let inherited = BTreeMap::from([(s("GLOBAL"), s("g"))]);
        let decl = |name: &str, default: Option<&str>| ArgDecl {
            name: s(name),
            default: default.map(s),
        };
        let cases = [
            (decl("OVERRIDDEN", Some("default")), Some("from-cli $V")),
            (decl("WITH_DEFAULT", Some("v$V")), Some("v1.0")),
            (decl("GLOBAL", None), Some("g")),
            (decl("GLOBAL", Some("local")), Some("local")),
            (decl("BARE", None), None),
        ];
        for (d, want) in cases {
            let got = d.resolve(&build_args, &inherited, &env, '\\').unwrap();
            assert_eq!(got.as_deref(), want, "{d:?}");
        }
    }
}
