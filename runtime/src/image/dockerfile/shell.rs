//! Shell-like word processing as BuildKit's `shell.Lex` does it: quotes,
//! escapes, `$VAR` / `${VAR}` and the `${VAR:-d}` family of expansions, and
//! splitting into words after expansion.
//!
//! The builder expands instruction arguments with [`expand`] (one word, as
//! Docker does for ENV, LABEL, WORKDIR, COPY paths...) or [`expand_words`]
//! (several words, as Docker does for EXPOSE), and COPY heredoc bodies with
//! [`expand_heredoc`].

use super::pattern::Pattern;

/// Looks a variable up in the current build environment (build args and
/// ENV); `None` means the variable is unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands `word` as one word: quotes are removed, escapes applied and
/// variables substituted, keeping the spaces between words.
///
/// `escape` is the Dockerfile's escape character (`\` or `` ` ``). The error
/// says what was malformed, such as an unclosed quote or `${`.
pub fn expand(word: &str, env: Env<'_>, escape: char) -> Result<String, String> {
    Lexer::new(escape, env)
        .process(word)
        .map(|(result, _)| result)
}

/// Expands `word` and splits the result into words on unquoted blanks, as
/// Docker does for EXPOSE (so `EXPOSE $PORTS` may yield several ports).
pub fn expand_words(word: &str, env: Env<'_>, escape: char) -> Result<Vec<String>, String> {
    Lexer::new(escape, env)
        .process(word)
        .map(|(_, words)| words)
}

/// Expands the body of an unquoted COPY/ADD heredoc: variables and `\`
/// escapes are processed but quotes are kept, because they belong to the
/// file's content rather than to the Dockerfile.
pub fn expand_heredoc(content: &str, env: Env<'_>) -> Result<String, String> {
    let mut lexer = Lexer::new('\\', env);
    lexer.skip_quotes = true;
    lexer.process(content).map(|(result, _)| result)
}

/// The lexer and its BuildKit modes.
pub(crate) struct Lexer<'a> {
    escape: char,
    env: Env<'a>,
    /// Keep quote characters in the output (heredoc detection).
    pub(crate) raw_quotes: bool,
    /// Keep escape characters in the output (heredoc detection).
    pub(crate) raw_escapes: bool,
    /// Treat quotes as ordinary characters (heredoc bodies).
    skip_quotes: bool,
    /// Leave references to unset variables as written (heredoc detection).
    pub(crate) skip_unset: bool,
}

/// How deeply `${...}` may nest before expansion gives up, so that hostile
/// input cannot exhaust the stack.
const MAX_NESTING: usize = 200;

/// Character cursor over the word being processed.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
    /// Current `${...}` nesting depth.
    depth: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }
}

/// Accumulates words as characters arrive, splitting on unquoted blanks.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

const MISSING_BRACE: &str = "syntax error: missing '}' to close '${'";

impl<'a> Lexer<'a> {
    /// A lexer in the builder's ordinary mode.
    pub(crate) fn new(escape: char, env: Env<'a>) -> Self {
        Lexer {
            escape,
            env,
            raw_quotes: false,
            raw_escapes: false,
            skip_quotes: false,
            skip_unset: false,
        }
    }

    /// Processes `source`, returning it as one word and as split words.
    pub(crate) fn process(&self, source: &str) -> Result<(String, Vec<String>), String> {
        let mut cursor = Cursor {
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
        };
        self.until(&mut cursor, None, self.raw_escapes)
            .map_err(|e| format!("failed to expand {source:?}: {e}"))
    }

    /// Processes up to `stop` (or the end), guarding the nesting depth.
    fn until(
        &self,
        cur: &mut Cursor,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        if cur.depth >= MAX_NESTING {
            return Err(format!(
                "substitutions nested more than {MAX_NESTING} deep; simplify the expression"
            ));
        }
        cur.depth += 1;
        let result = self.until_inner(cur, stop, raw_escapes);
        cur.depth -= 1;
        result
    }

    fn until_inner(
        &self,
        cur: &mut Cursor,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = cur.peek() {
            if Some(c) == stop {
                cur.next();
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let value = self.dollar(cur)?;
                    result.push_str(&value);
                    words.add_string(&value);
                }
                '\'' if !self.skip_quotes => {
                    let value = self.single_quoted(cur)?;
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                '"' if !self.skip_quotes => {
                    let value = self.double_quoted(cur, raw_escapes)?;
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                _ => {
                    cur.next();
                    if c == self.escape {
                        if raw_escapes {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                        // An escape at the very end is dropped.
                        let Some(escaped) = cur.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        match stop {
            Some(c) => Err(format!(
                "unexpected end of statement while looking for matching {c}"
            )),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&self, cur: &mut Cursor) -> Result<String, String> {
        let mut out = String::new();
        cur.next();
        if self.raw_quotes {
            out.push('\'');
        }
        loop {
            match cur.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    );
                }
                Some('\'') => {
                    if self.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&self, cur: &mut Cursor, raw_escapes: bool) -> Result<String, String> {
        let mut out = String::new();
        cur.next();
        if self.raw_quotes {
            out.push('"');
        }
        loop {
            match cur.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    );
                }
                Some('"') => {
                    cur.next();
                    if self.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar(cur)?),
                Some(_) => {
                    let Some(mut c) = cur.next() else { continue };
                    if c == self.escape {
                        if raw_escapes {
                            out.push(c);
                        }
                        match cur.peek() {
                            None => continue,
                            // Only ", $ and the escape itself can be escaped
                            // inside double quotes; other escapes stay.
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                if let Some(n) = cur.next() {
                                    c = n;
                                }
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    fn dollar(&self, cur: &mut Cursor) -> Result<String, String> {
        cur.next();
        if cur.peek() != Some('{') {
            let name = read_name(cur);
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        cur.next();
        match cur.peek() {
            None => return Err(MISSING_BRACE.to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        let name = read_name(cur);
        match cur.next() {
            None => Err(MISSING_BRACE.to_string()),
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(c @ (':' | '+' | '-' | '?' | '#' | '%')) => {
                let (null_is_unset, op) = if c == ':' {
                    match cur.next() {
                        Some(op) => (true, op),
                        None => return Err(MISSING_BRACE.to_string()),
                    }
                } else {
                    (false, c)
                };
                let op_text = if null_is_unset {
                    format!(":{op}")
                } else {
                    op.to_string()
                };
                let (word, _) =
                    self.until(cur, Some('}'), op == '#' || op == '%')
                        .map_err(|e| {
                            if cur.at_end() {
                                MISSING_BRACE.to_string()
                            } else {
                                e
                            }
                        })?;
                let value = self.lookup(&name);
                if self.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{op_text}{word}}}"));
                }
                let empty = value
                    .as_deref()
                    .is_none_or(|v| null_is_unset && v.is_empty());
                match op {
                    '-' => Ok(if empty {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => match value {
                        None => Err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            }
                        )),
                        Some(v) if null_is_unset && v.is_empty() => Err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            }
                        )),
                        Some(v) => Ok(v),
                    },
                    '#' | '%' => {
                        let (longest, pattern) = match word.strip_prefix(op) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        let pattern = Pattern::compile(pattern)?;
                        let value = value.unwrap_or_default();
                        Ok(if op == '#' {
                            pattern.trim_prefix(&value, longest)
                        } else {
                            pattern.trim_suffix(&value, longest)
                        })
                    }
                    _ => Err(format!(
                        "unsupported modifier ({op_text}) in substitution; expected one of \
                         :- - :+ + :? ? # ## % %% / //"
                    )),
                }
            }
            Some('/') => {
                let all = cur.peek() == Some('/');
                if all {
                    cur.next();
                }
                let (pattern, _) = self.until(cur, Some('/'), true).map_err(|e| {
                    if cur.at_end() {
                        "syntax error: missing '/' in ${}".to_string()
                    } else {
                        e
                    }
                })?;
                let (replacement, _) = self.until(cur, Some('}'), true).map_err(|e| {
                    if cur.at_end() {
                        MISSING_BRACE.to_string()
                    } else {
                        e
                    }
                })?;
                let Some(value) = self.lookup(&name) else {
                    return Ok(if self.skip_unset {
                        format!("${{{name}/{pattern}/{replacement}}}")
                    } else {
                        String::new()
                    });
                };
                Ok(Pattern::compile(&pattern)?.replace(&value, &replacement, all))
            }
            Some(other) => Err(format!(
                "unsupported modifier ({other}) in substitution; expected one of \
                 :- - :+ + :? ? # ## % %% / //"
            )),
        }
    }
}

/// Reads a variable name: a run of digits (`$1`), one special parameter
/// (`$@ $* $# $? $- $$ $!`), or letters, digits and underscores.
fn read_name(cur: &mut Cursor) -> String {
    let mut name = String::new();
    while let Some(c) = cur.peek() {
        if name.is_empty() && c.is_ascii_digit() {
            while let Some(d) = cur.peek().filter(char::is_ascii_digit) {
                name.push(d);
                cur.next();
            }
            return name;
        }
        if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
            cur.next();
            return c.to_string();
        }
        if !(c.is_alphabetic() || c.is_ascii_digit() || c == '_') {
            break;
        }
        name.push(c);
        cur.next();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("foo".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b  c".into()),
            "PATHISH" => Some("/usr/local/bin/app.tar.gz".into()),
            "1" => Some("one".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_words_like_buildkit() {
        let cases = [
            ("plain", "plain"),
            ("$FOO", "foo"),
            ("${FOO}", "foo"),
            ("$FOO-bar", "foo-bar"),
            ("${FOO}bar", "foobar"),
            ("$FOObar", ""),
            ("$UNSET", ""),
            ("$", "$"),
            ("a$", "a$"),
            ("$ x", "$ x"),
            ("$1", "one"),
            ("\\$FOO", "$FOO"),
            ("\\\\$FOO", "\\foo"),
            ("'$FOO'", "$FOO"),
            ("\"$FOO\"", "foo"),
            ("\"\\$FOO\"", "$FOO"),
            ("\"a\\b\"", "a\\b"),
            ("\"a\\\"b\"", "a\"b"),
            ("'a\\b'", "a\\b"),
            ("a\\ b", "a b"),
            ("ab\\", "ab"),
            ("\"a b\" c", "a b c"),
            ("${FOO:-d}", "foo"),
            ("${UNSET:-d}", "d"),
            ("${EMPTY:-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${UNSET-d}", "d"),
            ("${FOO:+x}", "x"),
            ("${EMPTY:+x}", ""),
            ("${EMPTY+x}", "x"),
            ("${UNSET+x}", ""),
            ("${UNSET:-$FOO}", "foo"),
            ("${UNSET:-${UNSET2:-deep}}", "deep"),
            ("${UNSET:-\"a b\"}", "a b"),
            ("${UNSET:-a\\}b}", "a}b"),
            ("${FOO:?}", "foo"),
            ("${PATHISH##*/}", "app.tar.gz"),
            ("${PATHISH#*/}", "usr/local/bin/app.tar.gz"),
            ("${PATHISH%.*}", "/usr/local/bin/app.tar"),
            ("${PATHISH%%.*}", "/usr/local/bin/app"),
            ("${FOO/o/0}", "f0o"),
            ("${FOO//o/0}", "f00"),
            ("${UNSET/o/0}", ""),
        ];
        for (word, want) in cases {
            assert_eq!(expand(word, &env, '\\').as_deref(), Ok(want), "{word}");
        }
    }

    #[test]
    fn backtick_escape_replaces_backslash() {
        assert_eq!(expand("`$FOO", &env, '`').as_deref(), Ok("$FOO"));
        assert_eq!(
            expand("c:\\dir\\$FOO", &env, '`').as_deref(),
            Ok("c:\\dir\\foo")
        );
        assert_eq!(expand("\"a`\"b\"", &env, '`').as_deref(), Ok("a\"b"));
    }

    #[test]
    fn reports_malformed_words() {
        let cases = [
            ("${FOO", "missing '}'"),
            ("${FOO:-x", "missing '}'"),
            ("${}", "bad substitution"),
            ("${:x}", "bad substitution"),
            ("${FOO!x}", "unsupported modifier (!)"),
            ("'abc", "matching single-quote"),
            ("\"abc", "matching double-quote"),
            ("${UNSET?}", "UNSET: is not allowed to be unset"),
            ("${EMPTY:?must be set}", "EMPTY: must be set"),
            ("${FOO/x", "missing '/'"),
        ];
        for (word, want) in cases {
            let err = expand(word, &env, '\\').unwrap_err();
            assert!(
                err.starts_with(&format!("failed to expand {word:?}: ")),
                "{err}"
            );
            assert!(err.contains(want), "{word}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "${A:-".repeat(10_000) + &"}".repeat(10_000);
        let err = expand(&deep, &env, '\\').unwrap_err();
        assert!(err.contains("nested more than 200 deep"), "{err}");
        let ok = "${A:-".repeat(50) + "x" + &"}".repeat(50);
        assert_eq!(expand(&ok, &env, '\\').as_deref(), Ok("x"));
    }

    #[test]
    fn splits_words_after_expansion() {
        let cases: [(&str, &[&str]); 6] = [
            ("a b", &["a", "b"]),
            ("$SPACED", &["a", "b", "c"]),
            ("\"$SPACED\"", &["a b  c"]),
            ("x\\ y z", &["x y", "z"]),
            ("'' a", &["a"]),
            ("80/tcp $FOO", &["80/tcp", "foo"]),
        ];
        for (word, want) in cases {
            assert_eq!(expand_words(word, &env, '\\').unwrap(), want, "{word}");
        }
    }

    #[test]
    fn heredoc_bodies_keep_quotes() {
        let cases = [
            ("echo \"$FOO\" '$FOO'\n", "echo \"foo\" 'foo'\n"),
            ("\\$FOO\n", "$FOO\n"),
            ("\\\n", "\n"),
            ("\\\\\n", "\\\n"),
        ];
        for (body, want) in cases {
            assert_eq!(expand_heredoc(body, &env).as_deref(), Ok(want), "{body:?}");
        }
    }

    #[test]
    fn detection_modes_keep_text_as_written() {
        let mut lexer = Lexer::new('\\', &env);
        lexer.raw_quotes = true;
        lexer.raw_escapes = true;
        lexer.skip_unset = true;
        let (_, words) = lexer
            .process("RUN cat <<\"EOF\" $UNSET ${UNSET:-x} a\\ b")
            .unwrap();
        assert_eq!(
            words,
            ["RUN", "cat", "<<\"EOF\"", "$UNSET", "${UNSET:-x}", "a\\ b"]
        );
    }
}
