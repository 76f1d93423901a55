//! From text to raw instructions, as BuildKit's parser reads a Dockerfile:
//! parser directives, comments, empty lines, line continuations (with
//! comment and empty lines allowed inside them) and heredoc bodies.

use super::directives::{DirectiveScanner, Directives};
use super::heredoc::{Heredoc, markers_in_line};
use super::split::{Json, SplitCommand, json_array, split_command};

/// One logical instruction: continuation lines joined, heredoc bodies read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawInstruction {
    /// 1-based line where the instruction starts.
    pub(crate) line: usize,
    /// The joined line, trimmed.
    pub(crate) original: String,
    /// The line split into keyword, flags and arguments.
    pub(crate) command: SplitCommand,
    /// Heredoc bodies that followed the line.
    pub(crate) heredocs: Vec<Heredoc>,
}

/// The lexed file.
#[derive(Debug)]
pub(crate) struct Lexed {
    pub(crate) directives: Directives,
    pub(crate) instructions: Vec<RawInstruction>,
}

/// A lexing failure at a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) line: usize,
    pub(crate) instruction: Option<String>,
    pub(crate) message: String,
}

/// Removes the line ending (any trailing `\r` and `\n`).
fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// A comment line: `#` after optional leading blanks.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing continuation (the escape character, optionally
/// followed by blanks, not itself escaped). Returns the text and whether the
/// instruction ends on this line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

/// Whether an instruction can be followed by heredoc bodies: RUN, COPY and
/// ADD (also as an ONBUILD trigger), unless written in JSON form.
fn takes_heredocs(command: &SplitCommand) -> bool {
    let inner;
    let command = if command.keyword.eq_ignore_ascii_case("onbuild") {
        inner = split_command(&command.args);
        &inner
    } else {
        command
    };
    let keyword = command.keyword.to_ascii_lowercase();
    matches!(keyword.as_str(), "run" | "copy" | "add")
        && !matches!(json_array(&command.args), Ok(Json::Strings(_)))
}

/// Lexes a whole Dockerfile.
pub(crate) fn lex(text: &str) -> Result<Lexed, LexError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut directives = Directives::default();
    let mut scanner = DirectiveScanner::default();
    let mut instructions = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let start_line = next + 1;
        let first = trim_newline(lines[next]).trim_start();
        next += 1;
        scanner
            .observe(first, &mut directives)
            .map_err(|message| LexError {
                line: start_line,
                instruction: None,
                message,
            })?;
        let escape = directives.escape;
        let first = if first.starts_with('#') { "" } else { first };
        let (head, mut ended) = trim_continuation(first, escape);
        if ended && head.is_empty() {
            continue;
        }
        let mut joined = head.to_string();
        while !ended && next < lines.len() {
            let line = trim_newline(lines[next]);
            next += 1;
            if is_comment(line) || line.trim_start().is_empty() {
                continue;
            }
            let (part, end) = trim_continuation(line, escape);
            joined.push_str(part);
            ended = end;
        }
        let command = split_command(&joined);
        let mut heredocs = Vec::new();
        if takes_heredocs(&command) {
            let fail = |message: String| LexError {
                line: start_line,
                instruction: Some(command.keyword.to_uppercase()),
                message,
            };
            for marker in markers_in_line(&joined).map_err(fail)? {
                let mut content = String::new();
                let mut terminated = false;
                while next < lines.len() {
                    let line = lines[next];
                    next += 1;
                    let mut candidate = trim_newline(line);
                    if marker.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == marker.name {
                        terminated = true;
                        break;
                    }
                    content.push_str(line);
                }
                if !terminated {
                    return Err(fail(format!(
                        "unterminated heredoc <<{0}: the file ended before a line holding \
                         only {0:?}",
                        marker.name
                    )));
                }
                heredocs.push(marker.with_content(content));
            }
        }
        instructions.push(RawInstruction {
            line: start_line,
            original: joined.trim().to_string(),
            command,
            heredocs,
        });
    }
    Ok(Lexed {
        directives,
        instructions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        lex(text)
            .unwrap()
            .instructions
            .into_iter()
            .map(|r| (r.line, r.original))
            .collect()
    }

    #[test]
    fn joins_continuations_and_skips_comments() {
        let text = "\
# leading comment
FROM busybox

RUN echo a \\
    b \\
# a comment inside the continuation
  # an indented one

    c
  run echo # not a comment
";
        assert_eq!(
            lines(text),
            [
                (2, "FROM busybox".to_string()),
                (4, "RUN echo a     b     c".to_string()),
                (10, "run echo # not a comment".to_string()),
            ]
        );
    }

    #[test]
    fn continuation_rules() {
        let cases = [
            ("echo \\", '\\', ("echo ", false)),
            ("echo \\  \t", '\\', ("echo ", false)),
            ("\\", '\\', ("", false)),
            ("echo \\\\", '\\', ("echo \\\\", true)),
            ("c:\\", '`', ("c:\\", true)),
            ("dir `", '`', ("dir ", false)),
            ("plain", '\\', ("plain", true)),
        ];
        for (line, escape, want) in cases {
            assert_eq!(trim_continuation(line, escape), want, "{line:?}");
        }
    }

    #[test]
    fn crlf_bom_and_trailing_continuation_at_eof() {
        assert_eq!(
            lines("\u{feff}FROM a\r\nRUN x \\\r\n  y\r\nRUN z \\"),
            [
                (1, "FROM a".to_string()),
                (2, "RUN x   y".to_string()),
                (4, "RUN z".to_string()),
            ]
        );
    }

    #[test]
    fn escape_directive_changes_continuation() {
        let lexed = lex("# escape=`\nFROM w\nCOPY a c:\\\nRUN dir `\n  c:\\\n").unwrap();
        assert_eq!(lexed.directives.escape, '`');
        let got: Vec<&str> = lexed
            .instructions
            .iter()
            .map(|r| r.original.as_str())
            .collect();
        assert_eq!(got, ["FROM w", "COPY a c:\\", "RUN dir   c:\\"]);
    }

    #[test]
    fn reads_heredoc_bodies() {
        let text = "FROM a\nRUN <<EOF\n# not a comment\n\necho \\\nEOF\nCOPY <<-A <<'B' /d/\n\tone\n\tA\ntwo $X\nB\nRUN [\"<<EOF\"]\n";
        let lexed = lex(text).unwrap();
        let run = &lexed.instructions[1];
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].content, "# not a comment\n\necho \\\n");
        let copy = &lexed.instructions[2];
        assert_eq!(copy.line, 7);
        assert_eq!(copy.heredocs[0].name, "A");
        assert!(copy.heredocs[0].chomp);
        assert_eq!(copy.heredocs[0].body(), "one\n");
        assert_eq!(copy.heredocs[1].content, "two $X\n");
        assert!(!copy.heredocs[1].expand);
        assert!(lexed.instructions[3].heredocs.is_empty());
        assert_eq!(lexed.instructions[3].line, 12);
    }

    #[test]
    fn heredocs_only_for_run_copy_add() {
        let lexed = lex("FROM a\nENV X=<<EOF\nLABEL y=z\nONBUILD RUN <<EOF\nbody\nEOF\n").unwrap();
        let got: Vec<(usize, usize)> = lexed
            .instructions
            .iter()
            .map(|r| (r.line, r.heredocs.len()))
            .collect();
        assert_eq!(got, [(1, 0), (2, 0), (3, 0), (4, 1)]);
    }

    #[test]
    fn unterminated_heredoc_is_an_error() {
        let err = lex("FROM a\nRUN <<EOF\necho\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.instruction.as_deref(), Some("RUN"));
        assert!(
            err.message.starts_with("unterminated heredoc <<EOF"),
            "{}",
            err.message
        );
    }
}
