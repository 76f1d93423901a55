//! From a raw instruction line to a typed [`Instruction`] (or a FROM line),
//! with each instruction's argument rules and flags as in BuildKit's
//! `instructions` package.

use super::duration::parse_go_duration;
use super::flags::{Flags, Kind, Spec};
use super::heredoc::{Heredoc, parse_marker};
use super::instruction::{
    ArgDecl, CommandForm, CopyFiles, Healthcheck, HealthcheckCmd, InlineFile, Instruction, OnBuild,
    Run, RunNetwork,
};
use super::mounts::parse_mount;
use super::split::{
    Json, SplitCommand, json_array, quoted_words, split_command, split_once_blank, whitespace_words,
};
use super::suggest::did_you_mean;
use crate::image::build::remote::is_url;
use std::time::Duration;

/// Every instruction keyword, for "did you mean" hints.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A parsed `FROM` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FromLine {
    pub(crate) base: String,
    pub(crate) name: Option<String>,
    pub(crate) platform: Option<String>,
}

/// What one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    From(FromLine),
    Instruction(Instruction),
}

/// A parse failure, with the instruction it belongs to (none for an
/// unknown keyword).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) instruction: Option<String>,
    pub(crate) message: String,
}

/// Parses one split instruction line. `original` is the joined line and
/// `heredocs` the bodies read after it.
pub(crate) fn parse_command(
    command: &SplitCommand,
    original: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Parsed, ParseError> {
    let keyword = command.keyword.to_ascii_lowercase();
    let upper = command.keyword.to_uppercase();
    let fail = |message: String| ParseError {
        instruction: Some(upper.clone()),
        message,
    };
    let instruction = match keyword.as_str() {
        "from" => return parse_from(command).map(Parsed::From).map_err(fail),
        "onbuild" => return parse_onbuild(command, original, heredocs, escape),
        "run" => parse_run(command, heredocs).map(Instruction::Run),
        "copy" => parse_copy(command, heredocs, false).map(Instruction::Copy),
        "add" => parse_copy(command, heredocs, true).map(Instruction::Add),
        "env" => parse_pairs(command, "ENV", escape).map(Instruction::Env),
        "label" => parse_pairs(command, "LABEL", escape).map(Instruction::Label),
        "arg" => parse_arg(command, escape).map(Instruction::Arg),
        "workdir" => one_string(command, "WORKDIR /path").map(Instruction::Workdir),
        "user" => one_string(command, "USER name[:group]").map(Instruction::User),
        "stopsignal" => one_string(command, "STOPSIGNAL SIGTERM").map(Instruction::StopSignal),
        "maintainer" => one_string(command, "MAINTAINER name").map(Instruction::Maintainer),
        "expose" => parse_expose(command).map(Instruction::Expose),
        "volume" => parse_volume(command).map(Instruction::Volume),
        "cmd" => command_form(command).map(Instruction::Cmd),
        "entrypoint" => command_form(command).map(Instruction::Entrypoint),
        "shell" => parse_shell(command).map(Instruction::Shell),
        "healthcheck" => parse_healthcheck(command).map(Instruction::Healthcheck),
        _ => {
            let hint = did_you_mean(&command.keyword, KEYWORDS)
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_else(|| {
                    "; expected one of FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, EXPOSE, \
                     VOLUME, LABEL, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD"
                        .to_string()
                });
            return Err(ParseError {
                instruction: None,
                message: format!("unknown instruction: {upper}{hint}"),
            });
        }
    };
    instruction.map(Parsed::Instruction).map_err(fail)
}

fn no_flags(command: &SplitCommand) -> Result<(), String> {
    Flags::parse(&command.flags, &[]).map(|_| ())
}

fn parse_from(command: &SplitCommand) -> Result<FromLine, String> {
    let flags = Flags::parse(&command.flags, &[Spec::new("platform", Kind::String)])?;
    let usage = "expected FROM [--platform=<platform>] <image> [AS <name>]";
    let mut words = whitespace_words(&command.args).into_iter();
    let (base, name) = match (words.next(), words.next(), words.next(), words.next()) {
        (Some(base), None, None, None) => (base, None),
        (Some(base), Some(as_), Some(name), None) if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {name:?}; a stage name starts with a letter \
                     and holds only letters, digits, '-', '_' and '.'"
                ));
            }
            (base, Some(lower))
        }
        _ => return Err(format!("requires either one or three arguments; {usage}")),
    };
    Ok(FromLine {
        base,
        name,
        platform: flags.string("platform"),
    })
}

fn parse_onbuild(
    command: &SplitCommand,
    original: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Parsed, ParseError> {
    let fail = |message: String| ParseError {
        instruction: Some("ONBUILD".to_string()),
        message,
    };
    no_flags(command).map_err(fail)?;
    if command.args.is_empty() {
        return Err(fail(
            "requires at least one argument: the instruction to run in builds that use this \
             image as their base, as in ONBUILD RUN make"
                .to_string(),
        ));
    }
    let inner = split_command(&command.args);
    let inner_keyword = inner.keyword.to_uppercase();
    match inner_keyword.as_str() {
        "ONBUILD" => {
            return Err(fail(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed; give ONBUILD one \
                 ordinary instruction"
                    .to_string(),
            ));
        }
        "FROM" | "MAINTAINER" => {
            return Err(fail(format!(
                "{inner_keyword} isn't allowed as an ONBUILD trigger; use an instruction such \
                 as RUN, COPY or ENV"
            )));
        }
        _ => {}
    }
    let expression = strip_onbuild(original).to_string();
    match parse_command(&inner, &expression, heredocs, escape) {
        Ok(Parsed::Instruction(trigger)) => {
            Ok(Parsed::Instruction(Instruction::OnBuild(OnBuild {
                expression,
                trigger: Box::new(trigger),
            })))
        }
        Ok(Parsed::From(_)) => Err(fail("FROM isn't allowed as an ONBUILD trigger".to_string())),
        Err(err) => Err(ParseError {
            instruction: Some(match err.instruction {
                Some(inner) => format!("ONBUILD {inner}"),
                None => "ONBUILD".to_string(),
            }),
            message: err.message,
        }),
    }
}

/// The text after the `ONBUILD` keyword.
fn strip_onbuild(original: &str) -> &str {
    let text = original.trim_start();
    match text.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("onbuild") => text[7..].trim_start(),
        _ => text,
    }
}

const RUN_FLAGS: &[Spec] = &[
    Spec::new("network", Kind::String),
    Spec::new("mount", Kind::Strings),
    Spec::new("security", Kind::String),
    Spec::unsupported("device", Kind::Strings),
];

fn parse_run(command: &SplitCommand, heredocs: &[Heredoc]) -> Result<Run, String> {
    let flags = Flags::parse(&command.flags, RUN_FLAGS)?;
    let network = match flags.string("network").as_deref() {
        None | Some("default") => RunNetwork::Default,
        Some("none") => RunNetwork::None,
        Some("host") => RunNetwork::Host,
        Some(other) => {
            return Err(format!(
                "unsupported network mode {other:?}; expected --network=default, none or host"
            ));
        }
    };
    let insecure = match flags.string("security").as_deref() {
        None | Some("sandbox") => false,
        Some("insecure") => true,
        Some(other) => {
            return Err(format!(
                "unsupported security mode {other:?}; expected --security=sandbox or insecure"
            ));
        }
    };
    let mounts = flags
        .strings("mount")
        .iter()
        .map(|value| parse_mount(value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Run {
        command: command_text(&command.args)?,
        network,
        insecure,
        mounts,
        heredocs: heredocs.to_vec(),
    })
}

/// The shell or exec form of a command; an array that is not valid JSON
/// falls back to the shell form, as in Docker.
fn command_text(args: &str) -> Result<CommandForm, String> {
    Ok(match json_array(args)? {
        Json::Strings(words) => CommandForm::Exec(words),
        Json::No => CommandForm::Shell(args.to_string()),
    })
}

fn command_form(command: &SplitCommand) -> Result<CommandForm, String> {
    no_flags(command)?;
    command_text(&command.args)
}

/// A JSON array, or else blank-separated words; and whether it was JSON.
fn json_or_words(args: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match json_array(args)? {
        Json::Strings(words) => (words, true),
        Json::No => (whitespace_words(args), false),
    })
}

const COPY_FLAGS: &[Spec] = &[
    Spec::new("from", Kind::String),
    Spec::new("chown", Kind::String),
    Spec::new("chmod", Kind::String),
    Spec::new("link", Kind::Bool),
    Spec::unsupported("parents", Kind::Bool),
    Spec::new("exclude", Kind::Strings),
];

const ADD_FLAGS: &[Spec] = &[
    Spec::new("chown", Kind::String),
    Spec::new("chmod", Kind::String),
    Spec::new("link", Kind::Bool),
    Spec::new("checksum", Kind::String),
    Spec::unsupported("keep-git-dir", Kind::Bool),
    Spec::new("exclude", Kind::Strings),
    Spec::unsupported("unpack", Kind::Bool),
];

fn parse_copy(
    command: &SplitCommand,
    heredocs: &[Heredoc],
    add: bool,
) -> Result<CopyFiles, String> {
    let name = if add { "ADD" } else { "COPY" };
    let (mut words, json) = json_or_words(&command.args)?;
    if words.len() < 2 {
        return Err(format!(
            "requires at least two arguments (a source and a destination), as in {name} src /dst"
        ));
    }
    let flags = Flags::parse(&command.flags, if add { ADD_FLAGS } else { COPY_FLAGS })?;
    let dest = words.pop().unwrap_or_default();
    if parse_marker(&dest).ok().flatten().is_some() {
        return Err(format!(
            "a heredoc cannot be the destination; the last argument must be a path, as in \
             {name} <<EOF /path"
        ));
    }
    let mut sources = Vec::new();
    let mut inline = Vec::new();
    for word in words {
        match parse_marker(&word).ok().flatten().filter(|_| !json) {
            Some(marker) => {
                let body = heredocs
                    .iter()
                    .find(|h| h.name == marker.name)
                    .map(Heredoc::body)
                    .unwrap_or_default();
                inline.push(InlineFile {
                    name: marker.name,
                    content: body,
                    expand: marker.expand,
                });
            }
            None => sources.push(word),
        }
    }
    let checksum = flags.string("checksum");
    if checksum.is_some() && !sources.iter().all(|s| is_url(s)) {
        return Err(
            "--checksum works with URL sources only (ADD --checksum=sha256:… https://…)".into(),
        );
    }
    Ok(CopyFiles {
        from: if add { None } else { flags.string("from") },
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        checksum,
        exclude: flags.strings("exclude"),
        sources,
        inline,
        dest,
    })
}

/// ENV and LABEL: `NAME=value ...`, or the legacy `NAME value`.
fn parse_pairs(
    command: &SplitCommand,
    name: &str,
    escape: char,
) -> Result<Vec<(String, String)>, String> {
    no_flags(command)?;
    let words = quoted_words(&command.args, escape);
    let Some(first) = words.first() else {
        return Err(format!(
            "requires at least one argument, as in {name} NAME=value"
        ));
    };
    if !first.contains('=') {
        return match split_once_blank(&command.args) {
            (key, Some(value)) => Ok(vec![(key.to_string(), value.to_string())]),
            (key, None) => Err(format!(
                "{key:?} has no value; expected {name} NAME=value (or the legacy {name} NAME value)"
            )),
        };
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            None => Err(format!(
                "can't find = in {word:?}; expected NAME=value pairs, as in {name} A=1 B=\"two words\""
            )),
            Some(("", _)) => Err(format!(
                "names can not be blank (in {word:?}); expected NAME=value"
            )),
            Some((key, value)) => Ok((key.to_string(), value.to_string())),
        })
        .collect()
}

fn parse_arg(command: &SplitCommand, escape: char) -> Result<Vec<ArgDecl>, String> {
    no_flags(command)?;
    let words = quoted_words(&command.args, escape);
    if words.is_empty() {
        return Err(
            "requires at least one argument, as in ARG NAME or ARG NAME=default".to_string(),
        );
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(format!(
                "names can not be blank (in {word:?}); expected ARG NAME or ARG NAME=default"
            )),
            Some((name, default)) => Ok(ArgDecl {
                name: name.to_string(),
                default: Some(default.to_string()),
            }),
            None => Ok(ArgDecl {
                name: word,
                default: None,
            }),
        })
        .collect()
}

/// WORKDIR, USER, STOPSIGNAL, MAINTAINER: the whole argument text.
fn one_string(command: &SplitCommand, usage: &str) -> Result<String, String> {
    no_flags(command)?;
    if command.args.is_empty() {
        return Err(format!("requires exactly one argument, as in {usage}"));
    }
    Ok(command.args.clone())
}

fn parse_expose(command: &SplitCommand) -> Result<Vec<String>, String> {
    no_flags(command)?;
    let ports = whitespace_words(&command.args);
    if ports.is_empty() {
        return Err("requires at least one argument, as in EXPOSE 80 53/udp".to_string());
    }
    Ok(ports)
}

fn parse_volume(command: &SplitCommand) -> Result<Vec<String>, String> {
    no_flags(command)?;
    let (words, _) = json_or_words(&command.args)?;
    if words.is_empty() {
        return Err("requires at least one argument, as in VOLUME /data".to_string());
    }
    words
        .into_iter()
        .map(|v| {
            let v = v.trim().to_string();
            if v.is_empty() {
                Err(
                    "VOLUME specified can not be an empty string; give a path such as /data"
                        .to_string(),
                )
            } else {
                Ok(v)
            }
        })
        .collect()
}

fn parse_shell(command: &SplitCommand) -> Result<Vec<String>, String> {
    no_flags(command)?;
    match command_text(&command.args)? {
        CommandForm::Exec(words) if !words.is_empty() => Ok(words),
        CommandForm::Exec(_) => {
            Err("requires at least one argument, as in SHELL [\"/bin/sh\", \"-c\"]".to_string())
        }
        CommandForm::Shell(text) if text.is_empty() => {
            Err("requires at least one argument, as in SHELL [\"/bin/sh\", \"-c\"]".to_string())
        }
        CommandForm::Shell(text) => {
            let mut message = "requires the arguments to be in JSON form, as in \
                               SHELL [\"/bin/bash\", \"-c\"]"
                .to_string();
            if looks_like_unescaped_windows_path(&text) {
                message.push_str(
                    "; JSON needs back-slashes escaped, as in [\"c:\\\\path\\\\to\\\\file.exe\", \"/I\"]",
                );
            }
            Err(message)
        }
    }
}

/// `"c:\...` with single back-slashes: the usual reason a Windows SHELL
/// array is not valid JSON.
fn looks_like_unescaped_windows_path(text: &str) -> bool {
    let lower = text.to_lowercase();
    let bytes = lower.as_bytes();
    !lower.contains("\\\\")
        && bytes
            .windows(4)
            .any(|w| w[0] == b'"' && w[1].is_ascii_lowercase() && w[2] == b':' && w[3] == b'\\')
}

const HEALTHCHECK_FLAGS: &[Spec] = &[
    Spec::new("interval", Kind::String),
    Spec::new("timeout", Kind::String),
    Spec::new("start-period", Kind::String),
    Spec::new("start-interval", Kind::String),
    Spec::new("retries", Kind::String),
];

fn parse_healthcheck(command: &SplitCommand) -> Result<Healthcheck, String> {
    let args = command.args.as_str();
    let type_end = args.find(char::is_whitespace).unwrap_or(args.len());
    let kind = args[..type_end].to_uppercase();
    let rest = args[type_end..].trim_start();
    if kind.is_empty() {
        return Err(
            "requires at least one argument: HEALTHCHECK NONE, or HEALTHCHECK [options] CMD <command>"
                .to_string(),
        );
    }
    let probe = if rest.is_empty() {
        None
    } else {
        Some(command_text(rest)?)
    };
    if kind == "NONE" {
        // Docker ignores flags here.
        return match probe {
            None => Ok(Healthcheck::None),
            Some(_) => Err("HEALTHCHECK NONE takes no arguments".to_string()),
        };
    }
    let flags = Flags::parse(&command.flags, HEALTHCHECK_FLAGS)?;
    if kind != "CMD" {
        return Err(format!(
            "unknown type {kind:?} in HEALTHCHECK; expected HEALTHCHECK [options] CMD <command> \
             or HEALTHCHECK NONE"
        ));
    }
    let command = match probe {
        Some(CommandForm::Exec(words)) if words.is_empty() => None,
        other => other,
    }
    .ok_or("missing command after HEALTHCHECK CMD; expected HEALTHCHECK CMD <command>")?;
    let retries = match flags.string("retries") {
        None => None,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if n < 0 => return Err(format!("--retries cannot be negative ({n})")),
            Ok(0) => None,
            Ok(n) => Some(n.unsigned_abs()),
            Err(_) => {
                return Err(format!(
                    "--retries={text:?} is not a whole number; expected a count such as --retries=3"
                ));
            }
        },
    };
    Ok(Healthcheck::Cmd(HealthcheckCmd {
        command,
        interval: interval(&flags, "interval")?,
        timeout: interval(&flags, "timeout")?,
        start_period: interval(&flags, "start-period")?,
        start_interval: interval(&flags, "start-interval")?,
        retries,
    }))
}

/// A HEALTHCHECK duration flag: zero or unset means "default"; anything
/// else must be at least 1ms, as Docker requires.
fn interval(flags: &Flags, name: &str) -> Result<Option<Duration>, String> {
    let Some(text) = flags.string(name) else {
        return Ok(None);
    };
    let (negative, duration) = parse_go_duration(&text).map_err(|e| format!("--{name}: {e}"))?;
    if duration.is_zero() {
        return Ok(None);
    }
    if negative || duration < Duration::from_millis(1) {
        return Err(format!(
            "--{name}={text} is too short; it must be at least 1ms"
        ));
    }
    Ok(Some(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Parsed, ParseError> {
        parse_command(&split_command(line), line, &[], '\\')
    }

    fn instruction(line: &str) -> Instruction {
        match parse_line(line) {
            Ok(Parsed::Instruction(i)) => i,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        match parse_line(line) {
            Err(e) => match e.instruction {
                Some(i) => format!("{i}: {}", e.message),
                None => e.message,
            },
            Ok(p) => panic!("{line}: parsed as {p:?}"),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn from_forms() {
        let cases = [
            ("FROM busybox", "busybox", None, None),
            (
                "from busybox:1.36 AS Build",
                "busybox:1.36",
                Some("build"),
                None,
            ),
            (
                "FROM --platform=linux/arm64 x as b-1.x_y",
                "x",
                Some("b-1.x_y"),
                Some("linux/arm64"),
            ),
            (
                "FROM --platform=$BUILDPLATFORM golang",
                "golang",
                None,
                Some("$BUILDPLATFORM"),
            ),
            ("FROM scratch", "scratch", None, None),
        ];
        for (line, base, name, platform) in cases {
            let Ok(Parsed::From(f)) = parse_line(line) else {
                panic!("{line}")
            };
            assert_eq!(f.base, base, "{line}");
            assert_eq!(f.name.as_deref(), name, "{line}");
            assert_eq!(f.platform.as_deref(), platform, "{line}");
        }
    }

    #[test]
    fn run_forms() {
        let cases = [
            (
                "RUN echo hi",
                CommandForm::Shell("echo hi".into()),
                RunNetwork::Default,
            ),
            (
                "RUN [\"echo\", \"hi\"]",
                CommandForm::Exec(strings(&["echo", "hi"])),
                RunNetwork::Default,
            ),
            (
                "RUN [ -f x ] && y",
                CommandForm::Shell("[ -f x ] && y".into()),
                RunNetwork::Default,
            ),
            (
                "RUN --network=none make",
                CommandForm::Shell("make".into()),
                RunNetwork::None,
            ),
            (
                "RUN --network=host make",
                CommandForm::Shell("make".into()),
                RunNetwork::Host,
            ),
            (
                "RUN --network=default make",
                CommandForm::Shell("make".into()),
                RunNetwork::Default,
            ),
            (
                "RUN echo $HOME",
                CommandForm::Shell("echo $HOME".into()),
                RunNetwork::Default,
            ),
        ];
        for (line, command, network) in cases {
            let Instruction::Run(run) = instruction(line) else {
                panic!("{line}")
            };
            assert_eq!(run.command, command, "{line}");
            assert_eq!(run.network, network, "{line}");
        }
    }

    #[test]
    fn copy_and_add_forms() {
        let Instruction::Copy(c) =
            instruction("COPY --from=build --chown=app:app --chmod=0755 --link a b /dst/")
        else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(c.chown.as_deref(), Some("app:app"));
        assert_eq!(c.chmod.as_deref(), Some("0755"));
        assert!(c.link);
        assert_eq!(c.sources, ["a", "b"]);
        assert_eq!(c.dest, "/dst/");

        let Instruction::Copy(c) =
            instruction("COPY [\"my file.txt\", \"other file\", \"/d s t/\"]")
        else {
            panic!()
        };
        assert_eq!(c.sources, ["my file.txt", "other file"]);
        assert_eq!(c.dest, "/d s t/");

        let Instruction::Copy(c) = instruction("COPY --from=0 /a /b") else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("0"));

        let Instruction::Add(a) = instruction("ADD --chown=1:1 https://example.com/x.tgz /opt/")
        else {
            panic!()
        };
        assert_eq!(a.from, None);
        assert_eq!(a.chown.as_deref(), Some("1:1"));
        assert_eq!(a.sources, ["https://example.com/x.tgz"]);
    }

    #[test]
    fn copy_heredoc_sources() {
        let heredocs = vec![
            Heredoc {
                name: "A".into(),
                content: "\thello $X\n".into(),
                chomp: true,
                expand: true,
                fd: None,
            },
            Heredoc {
                name: "B".into(),
                content: "raw $X\n".into(),
                chomp: false,
                expand: false,
                fd: None,
            },
        ];
        let line = "COPY <<-A <<\"B\" src /dst/";
        let Ok(Parsed::Instruction(Instruction::Copy(c))) =
            parse_command(&split_command(line), line, &heredocs, '\\')
        else {
            panic!()
        };
        assert_eq!(c.sources, ["src"]);
        assert_eq!(
            c.inline,
            [
                InlineFile {
                    name: "A".into(),
                    content: "hello $X\n".into(),
                    expand: true
                },
                InlineFile {
                    name: "B".into(),
                    content: "raw $X\n".into(),
                    expand: false
                },
            ]
        );
    }

    #[test]
    fn env_label_and_arg_forms() {
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let cases = [
            ("ENV A=1", pairs(&[("A", "1")])),
            (
                "ENV A=1 B=\"two words\" C='$lit'",
                pairs(&[("A", "1"), ("B", "\"two words\""), ("C", "'$lit'")]),
            ),
            (
                "ENV A a value  with  spaces",
                pairs(&[("A", "a value  with  spaces")]),
            ),
            ("ENV A=a\\ b", pairs(&[("A", "a\\ b")])),
            ("ENV EMPTY=", pairs(&[("EMPTY", "")])),
        ];
        for (line, want) in cases {
            assert_eq!(instruction(line), Instruction::Env(want), "{line}");
        }
        assert_eq!(
            instruction("LABEL org.opencontainers.image.title=\"My app\" version=1"),
            Instruction::Label(pairs(&[
                ("org.opencontainers.image.title", "\"My app\""),
                ("version", "1")
            ]))
        );
        assert_eq!(
            instruction("LABEL legacy value"),
            Instruction::Label(pairs(&[("legacy", "value")]))
        );
        let arg = |name: &str, default: Option<&str>| ArgDecl {
            name: name.into(),
            default: default.map(str::to_string),
        };
        assert_eq!(
            instruction("ARG A B=2 C=\"x y\" D="),
            Instruction::Arg(vec![
                arg("A", None),
                arg("B", Some("2")),
                arg("C", Some("\"x y\"")),
                arg("D", Some(""))
            ])
        );
    }

    #[test]
    fn single_value_instructions() {
        let cases = [
            ("WORKDIR /app dir", Instruction::Workdir("/app dir".into())),
            ("USER app:app", Instruction::User("app:app".into())),
            (
                "STOPSIGNAL SIGKILL",
                Instruction::StopSignal("SIGKILL".into()),
            ),
            (
                "MAINTAINER Jane <j@x>",
                Instruction::Maintainer("Jane <j@x>".into()),
            ),
            (
                "EXPOSE 80 53/udp 8000-8010/tcp",
                Instruction::Expose(strings(&["80", "53/udp", "8000-8010/tcp"])),
            ),
            ("VOLUME /a /b", Instruction::Volume(strings(&["/a", "/b"]))),
            (
                "VOLUME [\"/a b\", \"/c\"]",
                Instruction::Volume(strings(&["/a b", "/c"])),
            ),
            (
                "SHELL [\"powershell\", \"-command\"]",
                Instruction::Shell(strings(&["powershell", "-command"])),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(instruction(line), want, "{line}");
        }
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let cases = [
            (
                "CMD [\"nginx\", \"-g\", \"daemon off;\"]",
                CommandForm::Exec(strings(&["nginx", "-g", "daemon off;"])),
            ),
            (
                "CMD nginx -g 'daemon off;'",
                CommandForm::Shell("nginx -g 'daemon off;'".into()),
            ),
            (
                "CMD ['single', 'quotes']",
                CommandForm::Shell("['single', 'quotes']".into()),
            ),
            (
                "CMD [\"unterminated\"",
                CommandForm::Shell("[\"unterminated\"".into()),
            ),
            ("CMD []", CommandForm::Exec(vec![])),
        ];
        for (line, want) in cases {
            assert_eq!(instruction(line), Instruction::Cmd(want.clone()), "{line}");
            let entry = line.replacen("CMD", "ENTRYPOINT", 1);
            assert_eq!(
                instruction(&entry),
                Instruction::Entrypoint(want),
                "{entry}"
            );
        }
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(
            instruction("HEALTHCHECK NONE"),
            Instruction::Healthcheck(Healthcheck::None)
        );
        let Instruction::Healthcheck(Healthcheck::Cmd(h)) = instruction(
            "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=30s --start-interval=5s \
             --retries=3 CMD curl -f http://localhost/ || exit 1",
        ) else {
            panic!()
        };
        assert_eq!(
            h.command,
            CommandForm::Shell("curl -f http://localhost/ || exit 1".into())
        );
        assert_eq!(h.interval, Some(Duration::from_secs(90)));
        assert_eq!(h.timeout, Some(Duration::from_millis(500)));
        assert_eq!(h.start_period, Some(Duration::from_secs(30)));
        assert_eq!(h.start_interval, Some(Duration::from_secs(5)));
        assert_eq!(h.retries, Some(3));
        let Instruction::Healthcheck(Healthcheck::Cmd(h)) =
            instruction("healthcheck --interval=0s cmd [\"/bin/check\", \"-q\"]")
        else {
            panic!()
        };
        assert_eq!(h.command, CommandForm::Exec(strings(&["/bin/check", "-q"])));
        assert_eq!(h.interval, None);
    }

    #[test]
    fn onbuild_holds_a_trigger() {
        let Instruction::OnBuild(o) = instruction("ONBUILD COPY --chown=a . /src") else {
            panic!()
        };
        assert_eq!(o.expression, "COPY --chown=a . /src");
        let Instruction::Copy(c) = *o.trigger else {
            panic!()
        };
        assert_eq!(c.chown.as_deref(), Some("a"));
        let Instruction::OnBuild(o) = instruction("onbuild run make") else {
            panic!()
        };
        assert_eq!(o.expression, "run make");
    }

    #[test]
    fn error_messages() {
        let cases = [
            ("RUNN echo", "unknown instruction: RUNN (did you mean RUN?)"),
            ("FORM x", "unknown instruction: FORM (did you mean FROM?)"),
            (
                "BOGUS x",
                "unknown instruction: BOGUS; expected one of FROM, RUN,",
            ),
            (
                "COPY onlyone",
                "COPY: requires at least two arguments (a source and a destination), as in COPY src /dst",
            ),
            ("ADD", "ADD: requires at least two arguments"),
            (
                "COPY src <<EOF",
                "COPY: a heredoc cannot be the destination",
            ),
            (
                "COPY --form=x a b",
                "COPY: unknown flag --form (did you mean --from?)",
            ),
            (
                "ADD --from=x a b",
                "ADD: unknown flag --from; expected --chown, --chmod, --link",
            ),
            (
                "RUN --security=lax make",
                "RUN: unsupported security mode \"lax\"; expected --security=sandbox or insecure",
            ),
            (
                "ADD --checksum=sha256:abc local.txt /x",
                "ADD: --checksum works with URL sources only",
            ),
            (
                "RUN --mount=type=cache make",
                "RUN: --mount=type=cache needs a target: add target=/path",
            ),
            (
                "RUN --network=bridge make",
                "RUN: unsupported network mode \"bridge\"; expected --network=default, none or host",
            ),
            (
                "RUN [1, 2]",
                "RUN: when using JSON array syntax, arrays must be comprised of strings only",
            ),
            (
                "SHELL /bin/sh -c",
                "SHELL: requires the arguments to be in JSON form, as in SHELL [\"/bin/bash\", \"-c\"]",
            ),
            (
                "SHELL [\"c:\\windows\\cmd.exe\"]",
                "JSON needs back-slashes escaped",
            ),
            ("SHELL []", "SHELL: requires at least one argument"),
            (
                "ONBUILD ONBUILD RUN x",
                "ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ),
            (
                "ONBUILD FROM x",
                "ONBUILD: FROM isn't allowed as an ONBUILD trigger",
            ),
            (
                "ONBUILD MAINTAINER x",
                "ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger",
            ),
            ("ONBUILD", "ONBUILD: requires at least one argument"),
            (
                "ONBUILD COPY x",
                "ONBUILD COPY: requires at least two arguments",
            ),
            (
                "ONBUILD RUNN x",
                "ONBUILD: unknown instruction: RUNN (did you mean RUN?)",
            ),
            (
                "FROM",
                "FROM: requires either one or three arguments; expected FROM [--platform=<platform>] <image> [AS <name>]",
            ),
            ("FROM a b", "FROM: requires either one or three arguments"),
            (
                "FROM a AS 1stage",
                "FROM: invalid name for build stage: \"1stage\"",
            ),
            ("FROM a AS st@ge", "FROM: invalid name for build stage"),
            (
                "ENV",
                "ENV: requires at least one argument, as in ENV NAME=value",
            ),
            (
                "ENV ONLYNAME",
                "ENV: \"ONLYNAME\" has no value; expected ENV NAME=value",
            ),
            (
                "ENV A=1 B",
                "ENV: can't find = in \"B\"; expected NAME=value pairs",
            ),
            ("LABEL =x", "LABEL: names can not be blank"),
            ("ARG =x", "ARG: names can not be blank"),
            ("ARG", "ARG: requires at least one argument"),
            (
                "WORKDIR",
                "WORKDIR: requires exactly one argument, as in WORKDIR /path",
            ),
            ("USER", "USER: requires exactly one argument"),
            ("EXPOSE", "EXPOSE: requires at least one argument"),
            ("VOLUME", "VOLUME: requires at least one argument"),
            (
                "VOLUME [\"\"]",
                "VOLUME: VOLUME specified can not be an empty string",
            ),
            (
                "ENV --x=1 A=1",
                "ENV: unknown flag --x; this instruction takes no flags",
            ),
            (
                "CMD --help",
                "CMD: unknown flag --help; this instruction takes no flags",
            ),
            ("HEALTHCHECK", "HEALTHCHECK: requires at least one argument"),
            (
                "HEALTHCHECK NONE x",
                "HEALTHCHECK: HEALTHCHECK NONE takes no arguments",
            ),
            (
                "HEALTHCHECK CMD",
                "HEALTHCHECK: missing command after HEALTHCHECK CMD",
            ),
            (
                "HEALTHCHECK CMD []",
                "HEALTHCHECK: missing command after HEALTHCHECK CMD",
            ),
            (
                "HEALTHCHECK PING x",
                "HEALTHCHECK: unknown type \"PING\" in HEALTHCHECK",
            ),
            (
                "HEALTHCHECK --interval=30 CMD x",
                "HEALTHCHECK: --interval: invalid duration \"30\" (missing unit)",
            ),
            (
                "HEALTHCHECK --timeout=10us CMD x",
                "HEALTHCHECK: --timeout=10us is too short; it must be at least 1ms",
            ),
            (
                "HEALTHCHECK --retries=-1 CMD x",
                "HEALTHCHECK: --retries cannot be negative (-1)",
            ),
            (
                "HEALTHCHECK --retries=x CMD x",
                "HEALTHCHECK: --retries=\"x\" is not a whole number",
            ),
        ];
        for (line, want) in cases {
            let got = error(line);
            assert!(
                got.starts_with(want) || got.contains(want),
                "{line}\n got: {got}\nwant: {want}"
            );
        }
    }
}
