//! Splitting a command string into words as a POSIX shell would (quotes
//! and backslashes, no expansion): `command: echo "a b"` runs `echo` with
//! one argument, as in Docker Compose.

/// The words of `command`; an unterminated quote is an error.
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unterminated(command, '\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unterminated(command, '"')),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unterminated(command, '"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unterminated(command: &str, quote: char) -> String {
    format!("command {command:?} has an unterminated {quote} quote")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split_command("echo hi").unwrap(), ["echo", "hi"]);
        assert_eq!(
            split_command(r#"sh -c "echo \"a b\" $$x" 'it''s'"#).unwrap(),
            ["sh", "-c", r#"echo "a b" $$x"#, "its"]
        );
        assert_eq!(split_command(r"a\ b  ''").unwrap(), ["a b", ""]);
        assert!(split_command("echo 'oops").is_err());
        assert!(split_command("").unwrap().is_empty());
    }
}
