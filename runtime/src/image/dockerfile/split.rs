//! Splitting one logical instruction line the way BuildKit's parser does:
//! keyword, `--flags`, and the argument text, which each instruction then
//! reads as a JSON array, whitespace-separated words, quote-aware words, or
//! one string.

/// An instruction line split into keyword, builder flags and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitCommand {
    /// The keyword as written (`run`, `COPY`).
    pub(crate) keyword: String,
    /// Leading `--name[=value]` words, quotes and `\` escapes removed.
    pub(crate) flags: Vec<String>,
    /// The rest of the line, trimmed.
    pub(crate) args: String,
}

/// The blanks BuildKit separates tokens with (`[\t\v\f\r ]`).
pub(crate) fn is_token_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Splits `line` into keyword, flags and arguments.
pub(crate) fn split_command(line: &str) -> SplitCommand {
    let trimmed = line.trim();
    let (keyword, rest) = match trimmed.find(is_token_space) {
        Some(at) => (
            &trimmed[..at],
            Some(trimmed[at..].trim_start_matches(is_token_space)),
        ),
        None => (trimmed, None),
    };
    let (args, flags) = match rest {
        Some(rest) => extract_flags(rest),
        None => (String::new(), Vec::new()),
    };
    SplitCommand {
        keyword: keyword.to_string(),
        flags,
        args: args.trim().to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Takes the leading `--flag` words off `line`; a lone `--` ends the flags.
/// Returns the remaining text and the flags.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let rest_from = |i: usize| chars.get(i).map_or("", |&(at, _)| &line[at..]).to_string();
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let Some(&(_, mut c)) = chars.get(i) else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(word);
            }
            return (String::new(), flags);
        };
        match phase {
            Phase::Spaces => {
                if c.is_whitespace() {
                    i += 1;
                    continue;
                }
                let next = chars.get(i + 1).map(|&(_, n)| n);
                if c != '-' || next != Some('-') {
                    return (rest_from(i), flags);
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (rest_from(i), flags);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if c == '\'' || c == '"' {
                    phase = Phase::Quote(c);
                    blank_ok = true;
                } else {
                    if c == '\\' {
                        match chars.get(i + 1) {
                            Some(&(_, n)) => {
                                i += 1;
                                c = n;
                            }
                            None => {
                                i += 1;
                                continue;
                            }
                        }
                    }
                    word.push(c);
                }
            }
            Phase::Quote(quote) => {
                if c == quote {
                    phase = Phase::Word;
                } else {
                    if c == '\\' {
                        match chars.get(i + 1) {
                            Some(&(_, n)) => {
                                i += 1;
                                c = n;
                            }
                            None => {
                                phase = Phase::Word;
                                i += 1;
                                continue;
                            }
                        }
                    }
                    word.push(c);
                }
            }
        }
        i += 1;
    }
}

/// Splits on runs of blanks, with no quote handling (FROM, EXPOSE, and the
/// non-JSON forms of COPY, ADD and VOLUME).
pub(crate) fn whitespace_words(args: &str) -> Vec<String> {
    args.split(is_token_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits `args` at the first run of blanks (the legacy `ENV key value`).
pub(crate) fn split_once_blank(args: &str) -> (&str, Option<&str>) {
    match args.find(is_token_space) {
        Some(at) => (
            &args[..at],
            Some(args[at..].trim_start_matches(is_token_space)),
        ),
        None => (args, None),
    }
}

/// Quote-aware words for ENV, LABEL and ARG: blanks inside quotes or after
/// the escape character do not split, and quotes and escapes are kept so
/// that expansion can process them later.
pub(crate) fn quoted_words(args: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = args.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        let Some(&c) = chars.get(i) else {
            if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return words;
        };
        match phase {
            Phase::Spaces => {
                if !c.is_whitespace() {
                    phase = Phase::Word;
                    continue;
                }
            }
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                } else {
                    if c == '\'' || c == '"' {
                        phase = Phase::Quote(c);
                        blank_ok = true;
                    }
                    if c == escape {
                        // Keep the escape and the character it escapes; an
                        // escape at the very end is dropped.
                        if let Some(&n) = chars.get(i + 1) {
                            word.push(c);
                            word.push(n);
                            i += 1;
                        }
                    } else {
                        word.push(c);
                    }
                }
            }
            Phase::Quote(quote) => {
                if c == quote {
                    phase = Phase::Word;
                }
                if c == escape && quote != '\'' {
                    match chars.get(i + 1) {
                        Some(&n) => {
                            word.push(c);
                            word.push(n);
                            i += 1;
                        }
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(c);
                }
            }
        }
        i += 1;
    }
}

/// How an argument text reads as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Json {
    /// Not a JSON array (the shell or word form applies).
    No,
    /// A JSON array of strings (the exec form).
    Strings(Vec<String>),
}

/// Reads `args` as a JSON array of strings. Text that does not start with
/// `[` or is not valid JSON is [`Json::No`]; a valid array holding anything
/// but strings is an error, as in Docker.
pub(crate) fn json_array(args: &str) -> Result<Json, String> {
    let text = args.trim_start();
    if !text.starts_with('[') {
        return Ok(Json::No);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(text) else {
        return Ok(Json::No);
    };
    values
        .into_iter()
        .map(|value| match value {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only, \
                 as in [\"executable\", \"arg\"]"
                    .to_string(),
            ),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keyword_flags_and_args() {
        let cases: [(&str, &str, &[&str], &str); 9] = [
            ("RUN echo hi", "RUN", &[], "echo hi"),
            ("  run\t  echo hi  ", "run", &[], "echo hi"),
            (
                "COPY --from=build --chown=a:b src dst",
                "COPY",
                &["--from=build", "--chown=a:b"],
                "src dst",
            ),
            (
                "COPY --from=\"my stage\" a b",
                "COPY",
                &["--from=my stage"],
                "a b",
            ),
            ("COPY --chown=a\\ b x y", "COPY", &["--chown=a b"], "x y"),
            ("RUN -- --not-a-flag", "RUN", &[], "--not-a-flag"),
            ("CMD --help", "CMD", &["--help"], ""),
            ("RUN -x", "RUN", &[], "-x"),
            ("EXPOSE", "EXPOSE", &[], ""),
        ];
        for (line, keyword, flags, args) in cases {
            let got = split_command(line);
            assert_eq!(got.keyword, keyword, "{line}");
            assert_eq!(got.flags, flags, "{line}");
            assert_eq!(got.args, args, "{line}");
        }
    }

    #[test]
    fn quoted_words_keep_quotes_and_escapes() {
        let cases: [(&str, &[&str]); 7] = [
            ("a=1 b=2", &["a=1", "b=2"]),
            ("k=\"v 2\" x='a b'", &["k=\"v 2\"", "x='a b'"]),
            ("k=a\\ b", &["k=a\\ b"]),
            ("k=\"a\\\"b\" z", &["k=\"a\\\"b\"", "z"]),
            ("k='a\\' z", &["k='a\\'", "z"]),
            ("k=\"\"", &["k=\"\""]),
            ("  ", &[]),
        ];
        for (args, want) in cases {
            assert_eq!(quoted_words(args, '\\'), want, "{args}");
        }
        assert_eq!(quoted_words("k=a` b", '`'), ["k=a` b"]);
    }

    #[test]
    fn reads_json_arrays() {
        assert_eq!(
            json_array(r#"["a", "b c"]"#),
            Ok(Json::Strings(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(json_array("[]"), Ok(Json::Strings(vec![])));
        assert_eq!(json_array("echo [x]"), Ok(Json::No));
        assert_eq!(json_array("[ -f x ] && y"), Ok(Json::No));
        assert_eq!(json_array(r#"["a"] trailing"#), Ok(Json::No));
        assert_eq!(json_array("['single']"), Ok(Json::No));
        assert!(json_array("[1, 2]").unwrap_err().contains("strings only"));
    }

    #[test]
    fn whitespace_helpers() {
        assert_eq!(whitespace_words("a  b\tc"), ["a", "b", "c"]);
        assert!(whitespace_words("").is_empty());
        assert_eq!(split_once_blank("k  v w"), ("k", Some("v w")));
        assert_eq!(split_once_blank("k"), ("k", None));
    }
}
