//! Typed Dockerfile instructions.
//!
//! Values are kept as written (quotes, escapes and `$VAR` intact) wherever
//! Docker expands them at build time, because the expansion depends on the
//! ENV and ARG instructions before them; [`Instruction::expand`] applies it.

use std::time::Duration;

use super::heredoc::Heredoc;
use super::mounts::RunMount;

/// A value together with where it came from in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The 1-based line where the instruction starts.
    pub line: usize,
    /// The instruction as written, continuation lines joined: used for
    /// error messages, cache keys and the history `created_by`.
    pub text: String,
    /// The parsed value.
    pub value: T,
}

/// A command in shell form (run through the stage's SHELL) or exec form
/// (a JSON array, run directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    /// `RUN echo hi`: the text as written, continuations joined.
    Shell(String),
    /// `RUN ["echo", "hi"]`.
    Exec(Vec<String>),
}

/// An `ARG` declaration: a name and an optional default, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The argument's name.
    pub name: String,
    /// The default after `=`, unexpanded (quotes intact); `None` for a bare
    /// `ARG name`.
    pub default: Option<String>,
}

/// The network a `RUN` step gets (`RUN --network=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunNetwork {
    /// The builder's usual network.
    #[default]
    Default,
    /// No network at all.
    None,
    /// The host's network namespace.
    Host,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The command, never expanded by the builder (the shell does it).
    pub command: CommandForm,
    /// `--network`.
    pub network: RunNetwork,
    /// `--security=insecure`: run privileged (the build must allow
    /// `security.insecure`).
    pub insecure: bool,
    /// `--mount`s, in order.
    pub mounts: Vec<RunMount>,
    /// Heredoc bodies that followed the line, in order. A shell-form
    /// command that is only `<<EOF` runs the body as a script.
    pub heredocs: Vec<Heredoc>,
}

/// A COPY/ADD source given inline as a heredoc (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// The delimiter word, which is also the file name under the
    /// destination when the destination is a directory.
    pub name: String,
    /// The body, tabs already stripped for `<<-`.
    pub content: String,
    /// Whether the builder expands variables in the body (unquoted
    /// delimiter).
    pub expand: bool,
}

/// The arguments of `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFiles {
    /// `--from`: a stage name, stage index or image (COPY only).
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=mode`.
    pub chmod: Option<String>,
    /// `--link`: accepted; it only changes how Docker caches layers.
    pub link: bool,
    /// `--checksum` (ADD of a URL): the content's expected digest.
    pub checksum: Option<String>,
    /// `--exclude`: patterns (as `.dockerignore` writes them) of files
    /// the copy leaves out.
    pub exclude: Vec<String>,
    /// Source paths (or URLs for ADD), unexpanded, in order.
    pub sources: Vec<String>,
    /// Heredoc sources, in order.
    pub inline: Vec<InlineFile>,
    /// The destination, unexpanded.
    pub dest: String,
}

/// `HEALTHCHECK CMD` settings. Durations and retries are `None` when not
/// given (or given as zero), meaning "use the default".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckCmd {
    /// The probe command.
    pub command: CommandForm,
    /// `--interval`.
    pub interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--start-period`.
    pub start_period: Option<Duration>,
    /// `--start-interval`.
    pub start_interval: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any check inherited from the base image.
    None,
    /// `HEALTHCHECK [flags] CMD ...`.
    Cmd(HealthcheckCmd),
}

impl Healthcheck {
    /// The `Test` array of the image config: `["NONE"]`, `["CMD", args...]`
    /// for the exec form or `["CMD-SHELL", command]` for the shell form.
    pub fn test(&self) -> Vec<String> {
        match self {
            Healthcheck::None => vec!["NONE".to_string()],
            Healthcheck::Cmd(cmd) => match &cmd.command {
                CommandForm::Exec(args) => std::iter::once("CMD".to_string())
                    .chain(args.iter().cloned())
                    .collect(),
                CommandForm::Shell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
            },
        }
    }
}

/// `ONBUILD`: an instruction recorded in the image for builds that use it
/// as their base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBuild {
    /// The trigger as written after `ONBUILD`, stored in the image config.
    pub expression: String,
    /// The trigger, parsed.
    pub trigger: Box<Instruction>,
}

/// One instruction of a build stage (FROM starts a [`Stage`](super::Stage)
/// rather than being an instruction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `RUN`.
    Run(Run),
    /// `COPY`.
    Copy(CopyFiles),
    /// `ADD` (`from` is always `None`).
    Add(CopyFiles),
    /// `ENV`: name/value pairs, unexpanded.
    Env(Vec<(String, String)>),
    /// `ARG`: declarations, resolved with [`ArgDecl::resolve`].
    Arg(Vec<ArgDecl>),
    /// `WORKDIR`.
    Workdir(String),
    /// `USER`.
    User(String),
    /// `EXPOSE`: port specs, unexpanded (see [`ExposedPorts`](super::ExposedPorts)).
    Expose(Vec<String>),
    /// `VOLUME`.
    Volume(Vec<String>),
    /// `LABEL`: name/value pairs, unexpanded.
    Label(Vec<(String, String)>),
    /// `CMD`.
    Cmd(CommandForm),
    /// `ENTRYPOINT`.
    Entrypoint(CommandForm),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `SHELL`: always an exec-form array.
    Shell(Vec<String>),
    /// `STOPSIGNAL`.
    StopSignal(String),
    /// `ONBUILD`.
    OnBuild(OnBuild),
    /// `MAINTAINER` (deprecated; Docker records it as the image author).
    Maintainer(String),
}

impl Instruction {
    /// The instruction's keyword in capitals, for messages and history.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Label(_) => "LABEL",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::OnBuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_test_arrays() {
        let cmd = |command| {
            Healthcheck::Cmd(HealthcheckCmd {
                command,
                interval: None,
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: None,
            })
        };
        assert_eq!(Healthcheck::None.test(), ["NONE"]);
        assert_eq!(
            cmd(CommandForm::Shell("curl -f x || exit 1".into())).test(),
            ["CMD-SHELL", "curl -f x || exit 1"]
        );
        assert_eq!(
            cmd(CommandForm::Exec(vec!["curl".into(), "x".into()])).test(),
            ["CMD", "curl", "x"]
        );
    }
}
