//! Shell wildcard patterns (`*`, `?`, `\` escapes) for the `${VAR#pat}`,
//! `${VAR%pat}` and `${VAR/pat/repl}` expansions, with the escapes BuildKit
//! accepts.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
}

/// A compiled wildcard pattern.
#[derive(Debug)]
pub(crate) struct Pattern(Vec<Token>);

impl Pattern {
    /// Compiles `source`; `\*`, `\?`, `\\` are literals and `\}`, `\/` lose
    /// their backslash, as in BuildKit. Any other escape is an error.
    pub(crate) fn compile(source: &str) -> Result<Pattern, String> {
        let invalid = |why: String| format!("invalid pattern ({source}) in substitution: {why}");
        let mut tokens = Vec::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::AnyRun),
                '?' => tokens.push(Token::AnyOne),
                '\\' => match chars.peek().copied() {
                    Some('}' | '/') => {}
                    Some(next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        tokens.push(Token::Literal(next));
                    }
                    Some(other) => {
                        return Err(invalid(format!(
                            "invalid escape '\\{other}'; only \\*, \\? and \\\\ may be escaped"
                        )));
                    }
                    None => return Err(invalid("the pattern ends with a lone '\\'".to_string())),
                },
                other => tokens.push(Token::Literal(other)),
            }
        }
        Ok(Pattern(tokens))
    }

    /// Whether the whole of `text` matches.
    fn matches(&self, text: &[char]) -> bool {
        let pattern = &self.0;
        let (mut p, mut t) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Token::AnyRun) => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(Token::AnyOne) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Some(Token::Literal(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            }
        }
        pattern[p..].iter().all(|token| *token == Token::AnyRun)
    }

    /// `${VAR#pat}` / `${VAR##pat}`: removes the shortest (or, `longest`,
    /// the longest) matching prefix.
    pub(crate) fn trim_prefix(&self, value: &str, longest: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let ends: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new((0..=chars.len()).rev())
        } else {
            Box::new(0..=chars.len())
        };
        for end in ends {
            if self.matches(&chars[..end]) {
                return chars[end..].iter().collect();
            }
        }
        value.to_string()
    }

    /// `${VAR%pat}` / `${VAR%%pat}`: removes the shortest (or, `longest`,
    /// the longest) matching suffix.
    pub(crate) fn trim_suffix(&self, value: &str, longest: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let starts: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new(0..=chars.len())
        } else {
            Box::new((0..=chars.len()).rev())
        };
        for start in starts {
            if self.matches(&chars[start..]) {
                return chars[..start].iter().collect();
            }
        }
        value.to_string()
    }

    /// `${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (`all`):
    /// replaces the leftmost-longest match(es) of the pattern.
    pub(crate) fn replace(&self, value: &str, replacement: &str, all: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut start = 0;
        let mut last_end: Option<usize> = None;
        let mut replaced = false;
        while start <= chars.len() {
            let found = if replaced && !all {
                None
            } else {
                (start..=chars.len())
                    .rev()
                    .find(|&end| self.matches(&chars[start..end]))
                    .filter(|&end| end > start || last_end != Some(start))
            };
            match found {
                Some(end) => {
                    out.push_str(replacement);
                    replaced = true;
                    last_end = Some(end);
                    if end == start {
                        out.extend(chars.get(start));
                        start += 1;
                    } else {
                        start = end;
                    }
                }
                None => {
                    out.extend(chars.get(start));
                    start += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Pattern {
        Pattern::compile(s).unwrap()
    }

    #[test]
    fn trims_prefixes_and_suffixes() {
        let cases = [
            // (pattern, value, longest, prefix?, want)
            ("*/", "a/b/c", false, true, "b/c"),
            ("*/", "a/b/c", true, true, "c"),
            ("/*", "a/b/c", false, false, "a/b"),
            ("/*", "a/b/c", true, false, "a"),
            ("x", "abc", false, true, "abc"),
            ("?", "abc", false, true, "bc"),
            ("\\*", "*abc", false, true, "abc"),
            (".tar.gz", "f.tar.gz", false, false, "f"),
        ];
        for (p, value, longest, prefix, want) in cases {
            let got = if prefix {
                pat(p).trim_prefix(value, longest)
            } else {
                pat(p).trim_suffix(value, longest)
            };
            assert_eq!(got, want, "pattern {p:?} on {value:?}");
        }
    }

    #[test]
    fn replaces_first_or_all() {
        assert_eq!(pat("o").replace("foo boo", "0", false), "f0o boo");
        assert_eq!(pat("o").replace("foo boo", "0", true), "f00 b00");
        assert_eq!(pat("o*").replace("foo boo", "X", false), "fX");
        assert_eq!(pat("z").replace("abc", "X", true), "abc");
    }

    #[test]
    fn rejects_bad_escapes() {
        let err = Pattern::compile("a\\b").unwrap_err();
        assert!(err.contains("invalid escape '\\b'"), "{err}");
        assert!(Pattern::compile("a\\}").is_ok());
    }
}
