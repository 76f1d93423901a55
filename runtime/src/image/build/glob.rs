//! Wildcard patterns as Go's `filepath.Match` reads them (`*`, `?`,
//! `[...]` classes with `^` negation and ranges, `\` escapes), plus the two
//! `**` forms `.dockerignore` adds, matched by a small NFA: linear in the
//! text, with no backtracking blow-up whatever the pattern.

use std::iter::Peekable;
use std::str::Chars;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// This character.
    Literal(char),
    /// `?`: any one character but `/`.
    AnyOne,
    /// `*`: any run of characters without a `/`.
    AnyRun,
    /// `[...]`: one character in (or, negated, not in) the class.
    Class(Class),
    /// `**/` inside a `.dockerignore` pattern: nothing, or any run of
    /// characters ending with `/` (any number of directories).
    AnyDirs,
    /// `**` ending a `.dockerignore` pattern: any run of characters.
    AnyTail,
}

/// A character class: `[a-c]`, `[^x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        inside != self.negated
    }
}

/// Parses a class after its `[`, up to and including its `]`, with the
/// rules of Go's `filepath.Match`: `^` first negates, `lo-hi` is a range,
/// `\` escapes, and `]` or `-` where a character is expected is an error.
pub(crate) fn parse_class(chars: &mut Peekable<Chars<'_>>) -> Result<Class, String> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

/// One (possibly escaped) character of a class, as Go's `getEsc`.
fn class_char(chars: &mut Peekable<Chars<'_>>) -> Result<char, String> {
    match chars.next() {
        None => Err("the character class '[' is not closed with ']'".to_string()),
        Some(']') => Err("a character class needs at least one character before ']' (write \\] for a literal ])".to_string()),
        Some('-') => Err("a '-' in a character class must sit between two characters (write \\- for a literal -)".to_string()),
        Some('\\') => chars
            .next()
            .ok_or_else(|| "the character class '[' is not closed with ']'".to_string()),
        Some(c) => Ok(c),
    }
}

/// Compiles `pattern` with Go's `filepath.Match` syntax; the error says
/// what is malformed. `**` is two `*`s here, as in Go.
pub(crate) fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            '[' => Token::Class(parse_class(&mut chars)?),
            '\\' => Token::Literal(
                chars
                    .next()
                    .ok_or_else(|| "the pattern ends with a lone '\\'".to_string())?,
            ),
            other => Token::Literal(other),
        });
    }
    Ok(tokens)
}

/// Whether `pattern` holds a wildcard (`*`, `?`, `[`) that is not escaped,
/// as Docker's `containsWildcards`.
pub(crate) fn has_wildcards(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// Go's `path.Match`: whether all of `text` matches `pattern` (as Docker
/// matches `--filter reference=` patterns against image names); an error
/// names what is wrong with the pattern.
pub fn path_match(pattern: &str, text: &str) -> Result<bool, String> {
    Ok(matches(&compile(pattern)?, text))
}

/// Whether all of `text` matches `tokens`.
pub(crate) fn matches(tokens: &[Token], text: &str) -> bool {
    run(tokens, text).is_some_and(|states| states.before[tokens.len()])
}

/// Whether some text starting with `prefix` could match `tokens`.
pub(crate) fn matches_prefix(tokens: &[Token], prefix: &str) -> bool {
    run(tokens, prefix).is_some_and(|states| states.any())
}

/// The NFA's live states: `before[i]` is "about to match token `i`"
/// (`before[len]` is the end), `inside[i]` is "within the directories an
/// [`Token::AnyDirs`] at `i` swallows".
struct States {
    before: Vec<bool>,
    inside: Vec<bool>,
}

impl States {
    fn new(len: usize) -> Self {
        States {
            before: vec![false; len + 1],
            inside: vec![false; len],
        }
    }

    fn any(&self) -> bool {
        self.before.iter().chain(&self.inside).any(|&live| live)
    }

    /// Adds the states reachable without consuming a character; every such
    /// step moves forward, so one pass in order suffices.
    fn close(&mut self, tokens: &[Token]) {
        for (i, token) in tokens.iter().enumerate() {
            if !self.before[i] {
                continue;
            }
            match token {
                Token::AnyRun | Token::AnyTail => self.before[i + 1] = true,
                Token::AnyDirs => {
                    self.before[i + 1] = true;
                    self.inside[i] = true;
                }
                Token::Literal(_) | Token::AnyOne | Token::Class(_) => {}
            }
        }
    }
}

/// Runs the NFA over `text`; `None` once no state is live.
fn run(tokens: &[Token], text: &str) -> Option<States> {
    let mut states = States::new(tokens.len());
    states.before[0] = true;
    states.close(tokens);
    for c in text.chars() {
        let mut next = States::new(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            if states.before[i] {
                match token {
                    Token::Literal(l) if *l == c => next.before[i + 1] = true,
                    Token::AnyOne if c != '/' => next.before[i + 1] = true,
                    Token::Class(class) if class.contains(c) => next.before[i + 1] = true,
                    Token::AnyRun if c != '/' => next.before[i] = true,
                    Token::AnyTail => next.before[i] = true,
                    _ => {}
                }
            }
            if states.inside[i] {
                next.inside[i] = true;
                if c == '/' {
                    next.before[i + 1] = true;
                }
            }
        }
        next.close(tokens);
        if !next.any() {
            return None;
        }
        states = next;
    }
    Some(states)
}
