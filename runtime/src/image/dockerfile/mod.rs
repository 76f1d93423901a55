//! The Dockerfile front end: parses a Dockerfile into stages of
//! instructions, with errors that name the file, line and instruction.
//!
//! It reads Dockerfiles as BuildKit's parser and `instructions` package do,
//! so a Dockerfile means the same to `hoist build` as to `docker build`.
//! Parsing stops short of variable expansion, which depends on the build
//! args and the ENV/ARG instructions before each step: the builder calls
//! [`Dockerfile::expand`] (or [`Instruction::expand`]) on each instruction
//! as it goes, [`ArgDecl::resolve`] for ARG values, and
//! [`Dockerfile::resolve_base`] for FROM.
//!
//! Modules, one job each:
//! - `directives`: `# syntax=`, `# escape=`, `# check=` at the top;
//! - `lexer`: lines, comments, continuations and heredoc bodies into raw
//!   instructions with line numbers;
//! - `split`: a line into keyword, `--flags` and argument words;
//! - `flags`: checking the flags an instruction accepts;
//! - `parse`: raw instructions into typed ones (`instruction`);
//! - `heredoc`: `<<EOF` markers and bodies;
//! - `shell` and `pattern`: quotes, escapes and `$VAR` expansion;
//! - `expand`: which instructions Docker expands, and ARG precedence;
//! - `stages`: stages, global ARGs, `--target`, FROM bases;
//! - `duration`, `ports`, `suggest`: HEALTHCHECK durations, EXPOSE specs,
//!   "did you mean" hints.

mod directives;
mod duration;
mod error;
mod expand;
mod flags;
mod heredoc;
mod instruction;
mod lexer;
mod mounts;
mod parse;
mod pattern;
mod ports;
mod shell;
mod split;
mod stages;
mod suggest;
#[cfg(test)]
mod tests;

pub use directives::Directives;
pub use error::DockerfileError;
pub use heredoc::Heredoc;
pub use instruction::{
    ArgDecl, CommandForm, CopyFiles, Healthcheck, HealthcheckCmd, InlineFile, Instruction, Located,
    OnBuild, Run, RunNetwork,
};
pub use mounts::{CacheSharing, FileOwner, RunMount, parse_mount};
pub use ports::{ExposedPorts, Protocol};
pub use shell::{Env, expand, expand_heredoc, expand_words};
pub use stages::{BaseImage, Dockerfile, Stage};

/// Parses the Dockerfile `text`; `name` is the file's display name for
/// error messages (usually `Dockerfile`).
pub fn parse(name: &str, text: &str) -> Result<Dockerfile, DockerfileError> {
    let lexed = lexer::lex(text).map_err(|e| {
        DockerfileError::new(name, Some(e.line), e.instruction.as_deref(), e.message)
    })?;
    stages::assemble(name, lexed)
}

/// Parses one ONBUILD trigger taken from a base image's config (such as
/// `COPY . /src`), as Docker does when a build starts FROM that image.
/// `name` labels errors (for example `ONBUILD trigger of node:20-onbuild`).
pub fn parse_trigger(
    name: &str,
    expression: &str,
) -> Result<Located<Instruction>, DockerfileError> {
    let at = |line, instruction: Option<&str>, message: String| {
        DockerfileError::new(name, line, instruction, message)
    };
    let lexed = lexer::lex(expression)
        .map_err(|e| at(Some(e.line), e.instruction.as_deref(), e.message))?;
    let mut raws = lexed.instructions.into_iter();
    let (Some(raw), None) = (raws.next(), raws.next()) else {
        return Err(at(
            None,
            None,
            format!("an ONBUILD trigger must hold exactly one instruction, not {expression:?}"),
        ));
    };
    let keyword = raw.command.keyword.to_uppercase();
    if matches!(keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(at(
            Some(raw.line),
            Some(&keyword),
            format!("{keyword} isn't allowed as an ONBUILD trigger"),
        ));
    }
    match parse::parse_command(
        &raw.command,
        &raw.original,
        &raw.heredocs,
        lexed.directives.escape,
    ) {
        Ok(parse::Parsed::Instruction(value)) => Ok(Located {
            line: raw.line,
            text: raw.original,
            value,
        }),
        Ok(parse::Parsed::From(_)) => Err(at(
            Some(raw.line),
            Some("FROM"),
            "FROM isn't allowed as an ONBUILD trigger".to_string(),
        )),
        Err(e) => Err(at(Some(raw.line), e.instruction.as_deref(), e.message)),
    }
}
