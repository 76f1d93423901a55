//! Heredocs (`RUN <<EOF`, `COPY <<-"EOF" /dst`): finding the `<<WORD`
//! markers on an instruction line, as BuildKit does, and the bodies they
//! introduce.

use super::shell::Lexer;

/// One heredoc body that followed an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word with quotes removed (`EOF`); it is also the name
    /// a COPY heredoc source gets in the destination.
    pub name: String,
    /// The lines between the instruction and the delimiter, each with its
    /// line ending, exactly as written (leading tabs kept, see [`body`](Self::body)).
    pub content: String,
    /// `<<-`: leading tabs are stripped from each line of the body.
    pub chomp: bool,
    /// The delimiter was unquoted, so the builder expands variables in a
    /// COPY/ADD body (a quoted `<<"EOF"` body is copied as is). RUN bodies
    /// are never expanded by the builder: the shell does that.
    pub expand: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), if any.
    pub fd: Option<u32>,
}

impl Heredoc {
    /// The body as the shell would see it: `content`, with leading tabs
    /// removed from every line when the heredoc is `<<-`.
    pub fn body(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Removes leading tabs from every line.
fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

/// A `<<WORD` marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) name: String,
    pub(crate) chomp: bool,
    pub(crate) expand: bool,
    pub(crate) fd: Option<u32>,
}

impl Marker {
    /// Pairs the marker with the body read after the instruction.
    pub(crate) fn with_content(self, content: String) -> Heredoc {
        Heredoc {
            name: self.name,
            content,
            chomp: self.chomp,
            expand: self.expand,
            fd: self.fd,
        }
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Reads one word as a heredoc marker: `^(\d*)<<(-?)([^<]*)$` whose
/// delimiter is a single shell word. Quotes anywhere in the delimiter turn
/// expansion off.
pub(crate) fn parse_marker(word: &str) -> Result<Option<Marker>, String> {
    let digits = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lexer = Lexer::new('\\', &no_env);
    lexer.skip_unset = true;
    let (_, words) = lexer.process(rest)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lexer.raw_quotes = true;
    let (_, raw_words) = lexer.process(rest)?;
    let [raw] = raw_words.as_slice() else {
        return Err(format!(
            "inconsistent heredoc delimiter {rest:?}; write it as one word, as in <<EOF or <<\"EOF\""
        ));
    };
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    Ok(Some(Marker {
        name: name.clone(),
        chomp,
        expand: quotes(name) == quotes(raw),
        fd: word[..digits].parse().ok(),
    }))
}

/// Finds every heredoc marker on a (joined) instruction line, in order.
pub(crate) fn markers_in_line(line: &str) -> Result<Vec<Marker>, String> {
    let mut lexer = Lexer::new('\\', &no_env);
    lexer.raw_quotes = true;
    lexer.raw_escapes = true;
    lexer.skip_unset = true;
    // A line the lexer cannot split (an open quote) has no heredocs.
    let Ok((_, words)) = lexer.process(line) else {
        return Ok(Vec::new());
    };
    let mut markers = Vec::new();
    for word in words {
        if let Some(marker) = parse_marker(&word)? {
            markers.push(marker);
        }
    }
    Ok(markers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_markers() {
        let m = |name: &str, chomp, expand, fd| {
            Some(Marker {
                name: name.to_string(),
                chomp,
                expand,
                fd,
            })
        };
        let cases = [
            ("<<EOF", m("EOF", false, true, None)),
            ("<<-EOF", m("EOF", true, true, None)),
            ("<<\"EOF\"", m("EOF", false, false, None)),
            ("<<'EOF'", m("EOF", false, false, None)),
            ("<<-'E'OF", m("EOF", true, false, None)),
            ("3<<EOF", m("EOF", false, true, Some(3))),
            ("<<", None),
            ("<<-", None),
            ("<<<EOF", None),
            ("x<<EOF", None),
            ("'<<EOF'", None),
            ("file", None),
        ];
        for (word, want) in cases {
            assert_eq!(parse_marker(word).unwrap(), want, "{word}");
        }
    }

    #[test]
    fn finds_all_markers_on_a_line() {
        let names: Vec<String> = markers_in_line("RUN cat <<A <<-\"B\" > /x && echo '<<C'")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert!(markers_in_line("RUN echo \"open").unwrap().is_empty());
    }

    #[test]
    fn body_strips_tabs_only_when_chomping() {
        let mut doc = Marker {
            name: "EOF".into(),
            chomp: false,
            expand: true,
            fd: None,
        }
        .with_content("\t\tone\n\ttwo\n  three\n".into());
        assert_eq!(doc.body(), "\t\tone\n\ttwo\n  three\n");
        doc.chomp = true;
        assert_eq!(doc.body(), "one\ntwo\n  three\n");
    }
}
