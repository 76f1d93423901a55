//! Env files (`.env`, `--env-file`, `env_file:`) read as Compose reads
//! them, with compose-go's `dotenv` parser (derived from godotenv):
//!
//! - `KEY=VALUE`, `KEY: VALUE` or `export KEY=VALUE`, with spaces allowed
//!   around the separator; keys hold letters, digits, `_`, `.`, `-`, `[`
//!   and `]`;
//! - `#` starts a comment line, and ` #` ends an unquoted value;
//! - unquoted values are trimmed; `'single'` quotes keep their text as it
//!   is (`\'` is a quote); `"double"` quotes understand `\n`, `\t`, `\"`,
//!   `\\`, `\$`, … and both may span lines;
//! - unquoted and double-quoted values expand `$VAR`, `${VAR:-default}`, …
//!   from the lookup (the environment) first, then from the keys set
//!   earlier in the file;
//! - a bare `KEY` takes its value from the lookup, and is left out when
//!   the lookup does not know it.

use std::path::Path;

use crate::error::LoadError;
use crate::interpolate::substitute;

/// Reads and parses the env file at `file`; see [`parse`].
pub fn read(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::file(file, "env file not found"),
        _ => LoadError::file(file, format!("cannot read env file: {e}")),
    })?;
    parse(file, &text, lookup)
}

/// The variables `text` (the contents of the env file `file`) sets, in
/// the order written. A key set twice appears twice; the later one wins.
/// `lookup` gives the values of bare `KEY` lines and of the variables that
/// values refer to.
pub fn parse(
    file: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        text,
        lookup,
        entries: Vec::new(),
    };
    parser.run().map_err(|failure| {
        let line = text[..failure.at].matches('\n').count() + 1;
        LoadError::file(file, format!("line {line}: {}", failure.message))
    })?;
    Ok(parser.entries)
}

/// A parse error at a byte offset of the text.
struct Failure {
    at: usize,
    message: String,
}

impl Failure {
    fn new(at: usize, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    entries: Vec<(String, String)>,
}

/// How a key ends, with the offset just past its end.
enum KeyEnd {
    /// `=` or `:`: a value follows.
    Value(usize),
    /// The end of the line: the value comes from the lookup.
    Inherited(usize),
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), Failure> {
        let mut pos = 0;
        while let Some(start) = self.statement_start(pos) {
            pos = self.statement(start)?;
        }
        Ok(())
    }

    /// Where the next statement starts, past blank and comment lines.
    fn statement_start(&self, mut pos: usize) -> Option<usize> {
        loop {
            let rest = &self.text[pos..];
            pos += rest.len() - rest.trim_start().len();
            if !self.text[pos..].starts_with('#') {
                return (pos < self.text.len()).then_some(pos);
            }
            pos += self.text[pos..].find('\n')?;
        }
    }

    /// Parses the statement at `start`; returns where the next one may
    /// begin.
    fn statement(&mut self, start: usize) -> Result<usize, Failure> {
        let text = self.text;
        let key_start = skip_export(text, start);
        let (key_stop, end) = key_end(text, key_start)?;
        let key = text[key_start..key_stop].trim_end();
        if key.contains(char::is_whitespace) {
            return Err(Failure::new(start, "key cannot contain a space"));
        }
        match end {
            KeyEnd::Inherited(next) => {
                if let Some(value) = (self.lookup)(key) {
                    self.entries.push((key.to_string(), value));
                }
                Ok(next)
            }
            KeyEnd::Value(after) => {
                let (value, next) = self.value(skip_spaces(text, after))?;
                self.entries.push((key.to_string(), value));
                Ok(next)
            }
        }
    }

    /// The value starting at `start`, and the offset after it.
    fn value(&self, start: usize) -> Result<(String, usize), Failure> {
        match self.text[start..].chars().next() {
            Some(quote @ ('"' | '\'')) => self.quoted(start, quote),
            _ => self.unquoted(start),
        }
    }

    /// The rest of the line, up to a ` #` comment, trimmed and expanded.
    fn unquoted(&self, start: usize) -> Result<(String, usize), Failure> {
        let (line, next) = match self.text[start..].find('\n') {
            Some(end) => (&self.text[start..start + end], start + end + 1),
            None => (&self.text[start..], self.text.len()),
        };
        let value = line
            .split_once(" #")
            .map_or(line, |(value, _)| value)
            .trim_end();
        Ok((self.expand(value, start)?, next))
    }

    /// The text up to the closing `quote`, unescaped and expanded when in
    /// double quotes.
    fn quoted(&self, start: usize, quote: char) -> Result<(String, usize), Failure> {
        let body = start + quote.len_utf8();
        let (raw, next) = take_quoted(&self.text[body..], quote)
            .map(|(raw, len)| (raw, body + len))
            .ok_or_else(|| {
                let line = self.text[start..].lines().next().unwrap_or_default();
                Failure::new(start, format!("unterminated quoted value {line}"))
            })?;
        let value = match quote {
            '"' => self.expand(&unescape(&raw), start)?,
            _ => raw,
        };
        Ok((value, next))
    }

    /// `value` with its variable references replaced: the lookup first,
    /// then the keys set earlier in the file.
    fn expand(&self, value: &str, at: usize) -> Result<String, Failure> {
        let lookup = self.lookup;
        let earlier = |name: &str| {
            lookup(name).or_else(|| {
                self.entries
                    .iter()
                    .rev()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            })
        };
        substitute(value, &earlier).map_err(|e| Failure::new(at, e.to_string()))
    }
}

/// Past a leading `export` and the blanks after it, when present.
fn skip_export(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t', '\n', '\x0c', '\r']) => {
            skip_spaces(text, start + "export".len())
        }
        _ => start,
    }
}

/// Where the key starting at `start` stops (the separator's offset) and
/// how it ends. A key at the end of the text without a separator is
/// inherited, as if the line ended there.
fn key_end(text: &str, start: usize) -> Result<(usize, KeyEnd), Failure> {
    for (offset, c) in text[start..].char_indices() {
        let at = start + offset;
        match c {
            '=' | ':' => return Ok((at, KeyEnd::Value(at + 1))),
            '\n' => return Ok((at, KeyEnd::Inherited(at + 1))),
            c if is_space(c) || is_key_char(c) => {}
            c => {
                let line = text[start..].lines().next().unwrap_or_default();
                return Err(Failure::new(
                    start,
                    format!(
                        "unexpected character {:?} in variable name {line:?}",
                        c.to_string()
                    ),
                ));
            }
        }
    }
    Ok((text.len(), KeyEnd::Inherited(text.len())))
}

fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphabetic() || c.is_numeric()
}

/// Blanks within a line (not line breaks), as the parser skips them.
fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

fn skip_spaces(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    start + rest.len() - rest.trim_start_matches(is_space).len()
}

/// The text of a quoted value whose opening `quote` came just before
/// `text`, and how far past its closing quote the value ran; `None` when it
/// is not closed. `\` before the quote makes it part of the value; before
/// anything else it is kept, for double quotes to unescape.
fn take_quoted(text: &str, quote: char) -> Option<(String, usize)> {
    let mut raw = String::new();
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        if escaped {
            escaped = false;
            if c != quote {
                raw.push('\\');
            }
            raw.push(c);
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some((raw, offset + c.len_utf8()));
        } else {
            raw.push(c);
        }
    }
    None
}

/// A double-quoted value's escapes: `\a \b \f \n \r \t \v \" \\`, octal
/// `\0ddd`, and `\$` (kept as `$$`, which expansion turns into a literal
/// `$`). Any other backslash stays.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(&rest[..backslash]);
        rest = &rest[backslash + 1..];
        let used = push_escape(rest, &mut out);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// Pushes what `\` followed by `rest` stands for onto `out`; returns how
/// many bytes of `rest` the escape used.
fn push_escape(rest: &str, out: &mut String) -> usize {
    let replacement = match rest.chars().next() {
        Some('a') => "\x07",
        Some('b') => "\x08",
        Some('f') => "\x0c",
        Some('n') => "\n",
        Some('r') => "\r",
        Some('t') => "\t",
        Some('v') => "\x0b",
        Some('"') => "\"",
        Some('\\') => "\\",
        Some('$') => "$$",
        Some('0') => return push_octal(&rest[1..], out),
        _ => {
            out.push('\\');
            return 0;
        }
    };
    out.push_str(replacement);
    1
}

/// `\0` then up to three digits: three octal digits are that byte's
/// character; anything else keeps the backslash and the digits, without
/// the `0`. Returns the bytes used after the `\`.
fn push_octal(after_zero: &str, out: &mut String) -> usize {
    let digits = after_zero
        .bytes()
        .take(3)
        .take_while(u8::is_ascii_digit)
        .count();
    let code = &after_zero[..digits];
    match u8::from_str_radix(code, 8) {
        Ok(byte) if digits == 3 => out.push(char::from(byte)),
        _ => {
            out.push('\\');
            out.push_str(code);
        }
    }
    1 + digits
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/compose-corpus/compose-go/dotenv/fixtures/"
    );

    fn nothing(_: &str) -> Option<String> {
        None
    }

    fn os_env(name: &str) -> Option<String> {
        (name == "VAR_TO_BE_LOADED_FROM_OS_ENV").then(|| "SOME_RANDOM_VALUE".to_string())
    }

    fn fixture_with(
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, String)>, LoadError> {
        read(&Path::new(FIXTURES).join(name), lookup)
    }

    fn fixture(name: &str) -> Vec<(String, String)> {
        fixture_with(name, &nothing).unwrap()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn env(text: &str) -> Vec<(String, String)> {
        parse(Path::new(".env"), text, &nothing).unwrap()
    }

    /// The one variable `line` sets.
    fn one(line: &str) -> (String, String) {
        match env(line).as_slice() {
            [entry] => entry.clone(),
            other => panic!("{line:?} set {other:?}"),
        }
    }

    fn error(text: &str) -> String {
        parse(Path::new(".env"), text, &nothing)
            .unwrap_err()
            .to_string()
    }

    const PLAIN: &[(&str, &str)] = &[
        ("OPTION_A", "1"),
        ("OPTION_B", "2"),
        ("OPTION_C", "3"),
        ("OPTION_D", "4"),
        ("OPTION_E", "5"),
        ("456", "ABC"),
        ("OPTION_F", ""),
        ("OPTION_G", ""),
        ("OPTION_H", "my string"),
    ];

    #[test]
    fn plain_fixture() {
        assert_eq!(fixture("plain.env"), pairs(PLAIN));
    }

    #[test]
    fn utf8_bom_fixture() {
        assert_eq!(fixture("utf8-bom.env"), pairs(PLAIN));
    }

    #[test]
    fn equals_fixture() {
        assert_eq!(
            fixture("equals.env"),
            pairs(&[(
                "OPTION_A",
                "postgres://localhost:5432/database?sslmode=disable"
            )])
        );
    }

    #[test]
    fn exported_fixture() {
        assert_eq!(
            fixture("exported.env"),
            pairs(&[("OPTION_A", "2"), ("OPTION_B", "\\n")])
        );
    }

    #[test]
    fn quoted_fixture() {
        assert_eq!(
            fixture("quoted.env"),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "2"),
                ("OPTION_C", ""),
                ("OPTION_D", "\\n"),
                ("OPTION_E", "1"),
                ("OPTION_F", "2"),
                ("OPTION_G", ""),
                ("OPTION_H", "\n"),
                ("OPTION_I", "echo 'asd'"),
                ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
                ("OPTION_K", "Let's go!"),
                ("OPTION_Z", "last value"),
            ])
        );
    }

    #[test]
    fn unquoted_fixture() {
        assert_eq!(
            fixture("unquoted.env"),
            pairs(&[
                ("OPTION_A", "some quoted phrase"),
                ("OPTION_B", "first one with an unquoted phrase"),
                ("OPTION_C", "then another one with an unquoted phrase"),
                (
                    "OPTION_D",
                    "then another one with an unquoted phrase special è char"
                ),
                ("OPTION_E", "then another one quoted phrase"),
            ])
        );
    }

    #[test]
    fn substitutions_fixture() {
        assert_eq!(
            fixture("substitutions.env"),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ])
        );
    }

    #[test]
    fn substitutions_fixture_prefers_the_environment() {
        let shell = |name: &str| (name == "OPTION_A").then(|| "5".to_string());
        assert_eq!(
            fixture_with("substitutions.env", &shell).unwrap(),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ])
        );
    }

    #[test]
    fn substitutions_default_fixture() {
        assert_eq!(
            fixture("substitutions-default.env"),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ])
        );
        let shell = |name: &str| (name == "OPTION_A").then(|| "5".to_string());
        assert_eq!(
            fixture_with("substitutions-default.env", &shell).unwrap(),
            pairs(&[
                ("OPTION_A", "5"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ])
        );
    }

    #[test]
    fn inherited_single_var_fixture() {
        assert_eq!(
            fixture_with("inherited-single-var.env", &os_env).unwrap(),
            pairs(&[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")])
        );
        assert_eq!(fixture("inherited-single-var.env"), pairs(&[]));
    }

    #[test]
    fn inherited_multi_var_fixture() {
        assert_eq!(
            fixture_with("inherited-multi-var.env", &os_env).unwrap(),
            pairs(&[
                ("foo", "bar"),
                ("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"),
                ("bar", "baz"),
            ])
        );
    }

    #[test]
    fn inherited_not_found_fixture() {
        assert_eq!(
            fixture_with("inherited-not-found.env", &os_env).unwrap(),
            pairs(&[])
        );
    }

    #[test]
    fn special_fixture() {
        assert_eq!(
            fixture("special.env"),
            pairs(&[
                ("VAR.WITH.DOTS", "dots"),
                ("VAR_WITH_UNDERSCORES", "underscores"),
                ("VAR-WITH-DASHES", "dashes"),
            ])
        );
    }

    #[test]
    fn invalid1_fixture() {
        let err = fixture_with("invalid1.env", &nothing).unwrap_err();
        let text = err.to_string();
        assert!(
            text.ends_with("invalid1.env: line 7: key cannot contain a space"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let path = Path::new(FIXTURES).join("no-such.env");
        let err = read(&path, &nothing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: env file not found", path.display())
        );
        let err = read(Path::new(FIXTURES), &nothing).unwrap_err();
        assert!(err.to_string().contains("cannot read env file"), "{err}");
    }

    #[test]
    fn keys_and_separators() {
        let cases = [
            ("FOO=bar", "FOO", "bar"),
            ("FOO =bar", "FOO", "bar"),
            ("FOO= bar", "FOO", "bar"),
            ("FOO\t=\tbar", "FOO", "bar"),
            ("OPTION_A: 1", "OPTION_A", "1"),
            ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
            ("OPTION_A=1:B", "OPTION_A", "1:B"),
            ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
            ("FOO[0]=x", "FOO[0]", "x"),
            ("FOO=foobar=", "FOO", "foobar="),
            ("=\"value\"", "", "value"),
            (" KEY =value", "KEY", "value"),
            ("\tKEY=value", "KEY", "value"),
            ("ключ=значение", "ключ", "значение"),
        ];
        for (line, key, value) in cases {
            assert_eq!(one(line), (key.to_string(), value.to_string()), "{line:?}");
        }
    }

    #[test]
    fn export_prefix() {
        let cases = [
            ("export OPTION_A=2", "OPTION_A", "2"),
            ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
            ("export exportFoo=2", "exportFoo", "2"),
            ("exportFOO=2", "exportFOO", "2"),
            ("export_FOO =2", "export_FOO", "2"),
            ("export.FOO= 2", "export.FOO", "2"),
            ("export\tOPTION_A=2", "OPTION_A", "2"),
            ("  export OPTION_A=2", "OPTION_A", "2"),
            ("export=1", "export", "1"),
        ];
        for (line, key, value) in cases {
            assert_eq!(one(line), (key.to_string(), value.to_string()), "{line:?}");
        }
    }

    #[test]
    fn comments_and_blank_lines() {
        assert_eq!(env("\n\r\n\t\t \n# Comment\n\t # comment\n"), pairs(&[]));
        assert_eq!(
            env("# a\nA=1 # one\nB=2#two\nC=\"3#x\" # three\nD='4#y' # four\n#E=5\n"),
            pairs(&[("A", "1"), ("B", "2#two"), ("C", "3#x"), ("D", "4#y")])
        );
        assert_eq!(one("FOO=\"bar#baz#bang\" # comment").1, "bar#baz#bang");
    }

    #[test]
    fn unquoted_values_are_trimmed() {
        assert_eq!(one("FOO=bar ").1, "bar");
        assert_eq!(one("FOO=  a b  \t").1, "a b");
        assert_eq!(
            env("A=1\r\nB=\r\nC=3"),
            pairs(&[("A", "1"), ("B", ""), ("C", "3")])
        );
        assert_eq!(env("A=\nB=2"), pairs(&[("A", ""), ("B", "2")]));
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(one("FOO='bar'").1, "bar");
        assert_eq!(one("BAR='quote $FOO ${FOO}'").1, "quote $FOO ${FOO}");
        assert_eq!(one("FOO='a\\nb'").1, "a\\nb");
        assert_eq!(one("FOO='it\\'s'").1, "it's");
        assert_eq!(one("FOO='a\\\\b'").1, "a\\\\b");
        assert_eq!(one("FOO='\"d\"'").1, "\"d\"");
        assert_eq!(one("FOO='  padded  '").1, "  padded  ");
    }

    #[test]
    fn double_quotes_unescape() {
        let cases = [
            (r#"FOO="bar""#, "bar"),
            (r#"FOO="escaped\"bar""#, "escaped\"bar"),
            (r#"FOO="'d'""#, "'d'"),
            (r#"FOO="bar\nbaz""#, "bar\nbaz"),
            (r#"FOO="a\tb\rc""#, "a\tb\rc"),
            (r#"FOO="back\\slash""#, "back\\slash"),
            (r#"FOO="bar\\\n\ b\az""#, "bar\\\n\\ b\x07z"),
            (r#"FOO="bar\\r\ b""#, "bar\\r\\ b"),
            (r#"FOO="\0101\0""#, "A\\"),
            (r#"FOO="\012\0999\c""#, "\\12\\999\\c"),
            (r#"FOO="ends\\""#, "ends\\"),
        ];
        for (line, value) in cases {
            assert_eq!(one(line).1, value, "{line}");
        }
    }

    #[test]
    fn quoted_values_span_lines() {
        assert_eq!(
            env("TEST_URLS=\"stratum+tcp://a:3333\nstratum+tcp://a:443\"\nNEXT=1"),
            pairs(&[
                ("TEST_URLS", "stratum+tcp://a:3333\nstratum+tcp://a:443"),
                ("NEXT", "1")
            ])
        );
        assert_eq!(one("FOO='a\nb'").1, "a\nb");
    }

    #[test]
    fn expansion() {
        let cases: [(&str, &[(&str, &str)]); 8] = [
            ("FOO=test\nBAR=$FOO", &[("FOO", "test"), ("BAR", "test")]),
            (
                "FOO=test\nBAR=${FOO}bar",
                &[("FOO", "test"), ("BAR", "testbar")],
            ),
            ("BAR=$FOO", &[("BAR", "")]),
            (
                "FOO=test\nBAR=\"quote $FOO\"",
                &[("FOO", "test"), ("BAR", "quote test")],
            ),
            (r#"FOO="foo\$BAR""#, &[("FOO", "foo$BAR")]),
            (r#"FOO="foo\${BAR}""#, &[("FOO", "foo${BAR}")]),
            (
                "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
                &[("FOO", "test"), ("BAR", "foo${FOO} test")],
            ),
            ("A=$$HOME\nB=${A:+set}", &[("A", "$HOME"), ("B", "set")]),
        ];
        for (text, expected) in cases {
            assert_eq!(env(text), pairs(expected), "{text:?}");
        }
    }

    #[test]
    fn expansion_looks_up_the_environment_first() {
        let shell = |name: &str| (name == "ME").then(|| "YES".to_string());
        let parsed = parse(Path::new(".env"), "ME=no\nTEST=$ME\n", &shell).unwrap();
        assert_eq!(parsed, pairs(&[("ME", "no"), ("TEST", "YES")]));
    }

    #[test]
    fn inherited_keys() {
        let shell = |name: &str| match name {
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let parsed = parse(
            Path::new(".env"),
            "HOME\nEMPTY\r\nNOPE\nexport HOME",
            &shell,
        )
        .unwrap();
        assert_eq!(
            parsed,
            pairs(&[("HOME", "/root"), ("EMPTY", ""), ("HOME", "/root")])
        );
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(
            env("A=1\nB=$A\nA=2\nC=$A"),
            pairs(&[("A", "1"), ("B", "1"), ("A", "2"), ("C", "2")])
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            error("A=1\n\n# c\nINVALID LINE\n"),
            ".env: line 4: key cannot contain a space"
        );
        assert_eq!(
            error("A=1\nlol$wut"),
            ".env: line 2: unexpected character \"$\" in variable name \"lol$wut\""
        );
        assert_eq!(
            error("A=1\nB=\"open\nstill open"),
            ".env: line 2: unterminated quoted value \"open"
        );
        assert_eq!(
            error("A='x'\nB=${\n"),
            ".env: line 2: invalid interpolation format: \"${\"; you may need to escape any $ with another $"
        );
        assert_eq!(
            error("A=\"multi\nline\"\nB=${NEED:?please set NEED}"),
            ".env: line 3: required variable NEED is missing a value: please set NEED"
        );
    }
}
