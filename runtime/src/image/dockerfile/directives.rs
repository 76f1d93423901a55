//! Parser directives: the `# key=value` comments at the very top of a
//! Dockerfile (`syntax`, `escape`, `check`), read as BuildKit reads them.

/// The parser directives of a Dockerfile.
///
/// Directives must come before any instruction, comment or empty line; the
/// first line that is not a known directive ends them. `escape` changes the
/// escape and line-continuation character for the rest of the file, so it is
/// kept for word splitting and variable expansion later on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=` (the frontend image Docker would use); recorded, not used.
    pub syntax: Option<String>,
    /// `# escape=`: `\` (the default) or `` ` `` (common on Windows).
    pub escape: char,
    /// `# check=` (BuildKit lint settings); accepted and recorded, not used.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(crate) struct DirectiveScanner {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveScanner {
    /// Looks at one physical line (newline and leading blanks removed) and
    /// records it into `directives` if it is a directive.
    pub(crate) fn observe(
        &mut self,
        line: &str,
        directives: &mut Directives,
    ) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = match_directive(line) else {
            self.done = true;
            return Ok(());
        };
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!(
                "only one {key} parser directive can be used; remove the repeated `# {key}=` line"
            ));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(format!(
                            "invalid escape token '{value}': expected `# escape=\\` or `# escape=``"
                        ));
                    }
                }
            }
            "syntax" => directives.syntax = Some(value),
            _ => directives.check = Some(value),
        }
        Ok(())
    }
}

/// Whitespace as Go's regexp `\s` knows it.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// Matches `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, returning the
/// lower-cased key and the value.
fn match_directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_re_space);
    let key_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let key = &rest[..key_len];
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = rest[key_len..].trim_start_matches(is_re_space);
    let value = rest.strip_prefix('=')?.trim_matches(is_re_space);
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(lines: &[&str]) -> Result<Directives, String> {
        let mut scanner = DirectiveScanner::default();
        let mut directives = Directives::default();
        for line in lines {
            scanner.observe(line, &mut directives)?;
        }
        Ok(directives)
    }

    #[test]
    fn reads_known_directives_until_first_other_line() {
        let d = scan(&[
            "# syntax=docker/dockerfile:1",
            "#escape = `",
            "# CHECK=skip=all",
            "FROM x",
            "# escape=\\",
        ])
        .unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));
    }

    #[test]
    fn comment_or_unknown_directive_ends_directives() {
        for first in ["# a comment", "# foo=bar", ""] {
            let d = scan(&[first, "# escape=`"]).unwrap();
            assert_eq!(d.escape, '\\', "after {first:?}");
        }
    }

    #[test]
    fn repeated_or_invalid_directive_is_an_error() {
        let err = scan(&["# escape=`", "# escape=\\"]).unwrap_err();
        assert!(err.starts_with("only one escape parser directive"), "{err}");
        let err = scan(&["# escape=x"]).unwrap_err();
        assert!(err.contains("invalid escape token 'x'"), "{err}");
    }
}
