//! `.dockerignore`, read as the Docker CLI's `ignorefile` reader and
//! `moby/patternmatcher` read it.
//!
//! The reader skips lines starting with `#` (before trimming, so `  #x` is a
//! pattern) and blank lines, trims whitespace, cleans each pattern like Go's
//! `filepath.Clean` and drops a leading `/`. A pattern (or its `!`
//! exception) matches a path when it matches the path itself or any of its
//! parent directories, and the last pattern that matches decides.

use std::io;
use std::path::{Path, PathBuf};

use super::clean::{clean, slash_path};
use super::glob::{self, Token};

/// The ignore file's name in the context root.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// A `.dockerignore` that could not be read or holds a malformed pattern.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}; make it a readable file or remove it", path.display())]
    Read {
        /// The ignore file.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// A line is a lone `!`.
    #[error(
        "{file}:{line}: illegal exclusion pattern \"!\": write the path to re-include right after the '!'"
    )]
    LoneExclamation {
        /// The ignore file's name.
        file: String,
        /// The 1-based line.
        line: usize,
    },
    /// A pattern is malformed (as Go's `filepath.Match` judges it).
    #[error("{file}:{line}: invalid pattern {pattern:?}: {reason}; fix or remove the line")]
    Pattern {
        /// The ignore file's name.
        file: String,
        /// The 1-based line.
        line: usize,
        /// The pattern as cleaned.
        pattern: String,
        /// What is malformed.
        reason: String,
    },
}

/// How one pattern matches a `/`-separated relative path.
#[derive(Debug, Clone)]
enum Matcher {
    /// A pattern that is `**` followed by plain characters only, which
    /// patternmatcher checks as a string suffix (so `**.go` matches `a.go`).
    Suffix(String),
    /// Any other pattern.
    Tokens(Vec<Token>),
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || suffix.strip_prefix('/') == Some(path)
            }
            Matcher::Tokens(tokens) => glob::matches(tokens, path),
        }
    }

    /// Whether the pattern could match something inside directory `dir`.
    fn may_match_below(&self, dir: &str) -> bool {
        match self {
            Matcher::Suffix(_) => true,
            Matcher::Tokens(tokens) => glob::matches_prefix(tokens, &format!("{dir}/")),
        }
    }
}

/// One pattern of the file.
#[derive(Debug, Clone)]
struct Rule {
    /// A `!` exception: a match re-includes the path.
    exception: bool,
    matcher: Matcher,
}

/// The rules of a `.dockerignore`: which context paths are not sent.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

/// For each rule, whether it matched a directory or one of its parents: a
/// walker hands it down so each path is matched once per rule, not once per
/// rule and parent (patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentMatches(Vec<bool>);

impl IgnoreRules {
    /// Parses the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        Self::parse_named(DOCKERIGNORE, text)
    }

    /// Reads `<context_dir>/.dockerignore`; no file means no rules.
    pub fn read(context_dir: &Path) -> Result<Self, IgnoreError> {
        Ok(Self::read_file(&context_dir.join(DOCKERIGNORE))?.unwrap_or_default())
    }

    /// Reads the ignore file for a build with `dockerfile`: BuildKit's
    /// `<Dockerfile>.dockerignore` beside it when there is one (such as
    /// `app.Dockerfile.dockerignore`), else `<context_dir>/.dockerignore`.
    pub fn read_for_dockerfile(context_dir: &Path, dockerfile: &Path) -> Result<Self, IgnoreError> {
        let mut specific = dockerfile.as_os_str().to_owned();
        specific.push(DOCKERIGNORE);
        match Self::read_file(Path::new(&specific))? {
            Some(rules) => Ok(rules),
            None => Self::read(context_dir),
        }
    }

    /// Whether `path` (relative to the context root, `/`-separated or not)
    /// is left out of the context. The root itself never is.
    ///
    /// Docker's patterns do not tell files from directories (a trailing `/`
    /// is cleaned away), so neither does this.
    pub fn is_excluded(&self, path: &Path) -> bool {
        let cleaned = clean(&slash_path(path));
        let relative = cleaned.trim_start_matches('/');
        if relative.is_empty() || relative == "." {
            return false;
        }
        let mut parent = ParentMatches::default();
        let mut excluded = false;
        let mut prefix = String::new();
        for part in relative.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            (excluded, parent) = self.check(&prefix, &parent);
        }
        excluded
    }

    /// Makes sure `path` is sent even if a pattern excludes it, as the
    /// Docker CLI does for `.dockerignore` and the Dockerfile: when `path`
    /// is excluded, an exception for exactly it is added last.
    pub fn always_send(&mut self, path: &Path) {
        if self.is_excluded(path) {
            let cleaned = clean(&slash_path(path));
            let literal = cleaned.trim_start_matches('/').chars().map(Token::Literal);
            self.rules.push(Rule {
                exception: true,
                matcher: Matcher::Tokens(literal.collect()),
            });
        }
    }

    /// Whether `path` is excluded, given what its parent directory matched;
    /// also gives what `path` matched, for its children.
    pub(crate) fn check(&self, path: &str, parent: &ParentMatches) -> (bool, ParentMatches) {
        let mut excluded = false;
        let mut matched = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let hit = parent.0.get(i).copied().unwrap_or(false) || rule.matcher.matches(path);
            if hit {
                excluded = !rule.exception;
            }
            matched.push(hit);
        }
        (excluded, ParentMatches(matched))
    }

    /// Whether an exception could re-include something inside the excluded
    /// directory `dir`, so a walker must still look inside it.
    pub(crate) fn may_include_below(&self, dir: &str) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.exception && rule.matcher.may_match_below(dir))
    }

    /// Reads the ignore file at `path`: `None` when there is none.
    fn read_file(path: &Path) -> Result<Option<Self>, IgnoreError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IgnoreError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let name = path.display().to_string();
        Self::parse_named(&name, &String::from_utf8_lossy(&bytes)).map(Some)
    }

    fn parse_named(file: &str, text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let Some(pattern) = read_line(raw) else {
                continue;
            };
            match compile_rule(&pattern) {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(RuleError::LoneExclamation) => {
                    return Err(IgnoreError::LoneExclamation {
                        file: file.to_string(),
                        line,
                    });
                }
                Err(RuleError::Pattern(pattern, reason)) => {
                    return Err(IgnoreError::Pattern {
                        file: file.to_string(),
                        line,
                        pattern,
                        reason,
                    });
                }
            }
        }
        Ok(IgnoreRules { rules })
    }
}

/// One line as the CLI's reader passes it on: `None` for comments and blank
/// lines, else the trimmed pattern, cleaned and made relative, keeping its
/// `!`.
fn read_line(raw: &str) -> Option<String> {
    if raw.starts_with('#') {
        return None;
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let (bang, body) = match trimmed.strip_prefix('!') {
        Some(rest) => ("!", rest.trim()),
        None => ("", trimmed),
    };
    if body.is_empty() {
        return Some(bang.to_string());
    }
    let cleaned = clean(body);
    let relative = match cleaned.strip_prefix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => cleaned.as_str(),
    };
    Some(format!("{bang}{relative}"))
}

/// Why a pattern was refused.
enum RuleError {
    LoneExclamation,
    /// The cleaned pattern and what is wrong with it.
    Pattern(String, String),
}

/// Compiles one pattern as patternmatcher's `New` does: trimmed and cleaned
/// again, a leading `!` makes an exception, and the syntax must be valid
/// for Go's `filepath.Match`. `None` for an empty pattern.
fn compile_rule(pattern: &str) -> Result<Option<Rule>, RuleError> {
    let trimmed = pattern.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let cleaned = clean(trimmed);
    let (exception, body) = match cleaned.strip_prefix('!') {
        Some("") => return Err(RuleError::LoneExclamation),
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    let invalid = |reason| RuleError::Pattern(body.to_string(), reason);
    glob::compile(body).map_err(invalid)?;
    let matcher = compile_matcher(body).map_err(invalid)?;
    Ok(Some(Rule { exception, matcher }))
}

/// Translates a pattern as patternmatcher's `compile` does: `*` and `?`
/// stop at `/`, `**/` is any number of directories, a final `**` is
/// anything, `\` escapes, and a pattern that is `**` followed by plain
/// characters is a suffix test.
fn compile_matcher(pattern: &str) -> Result<Matcher, String> {
    let mut tokens = Vec::new();
    let mut suffix = false;
    let mut chars = pattern.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.next_if_eq(&'*').is_some() => {
                chars.next_if_eq(&'/');
                tokens.push(if chars.peek().is_some() {
                    Token::AnyDirs
                } else {
                    Token::AnyTail
                });
                suffix = first;
            }
            '*' => {
                tokens.push(Token::AnyRun);
                suffix = false;
            }
            '?' => {
                tokens.push(Token::AnyOne);
                suffix = false;
            }
            '[' => {
                tokens.push(Token::Class(glob::parse_class(&mut chars)?));
                suffix = false;
            }
            '\\' => {
                tokens.push(Token::Literal(chars.next().unwrap_or('\\')));
                suffix = false;
            }
            ']' => {
                tokens.push(Token::Literal(']'));
                suffix = false;
            }
            other => tokens.push(Token::Literal(other)),
        }
        first = false;
    }
    Ok(match pattern.strip_prefix("**") {
        Some(rest) if suffix => Matcher::Suffix(rest.to_string()),
        _ => Matcher::Tokens(tokens),
    })
}
