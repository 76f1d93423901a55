//! The one error type of the Dockerfile front end.

/// A Dockerfile that could not be parsed, or an instruction that could not be
/// expanded or carried out.
///
/// Its Display always names the file, and the line and instruction when the
/// fault belongs to one, so a user can go straight to it:
/// `Dockerfile:7: COPY: requires at least two arguments (a source and a destination)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct DockerfileError {
    /// The file's display name, as given to [`parse`](super::parse).
    pub file: String,
    /// The 1-based line where the faulty instruction starts, if the fault
    /// belongs to a line (an empty file has none).
    pub line: Option<usize>,
    /// The instruction keyword in capitals (`COPY`, `ONBUILD RUN`), if the
    /// fault belongs to a known instruction.
    pub instruction: Option<String>,
    /// What was wrong and what is expected instead.
    pub message: String,
}

impl DockerfileError {
    /// Builds an error for `file`, at `line` and `instruction` when known.
    pub fn new(
        file: &str,
        line: Option<usize>,
        instruction: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        DockerfileError {
            file: file.to_string(),
            line,
            instruction: instruction.map(str::to_string),
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        let mut out = self.file.clone();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if let Some(instruction) = &self.instruction {
            out.push_str(instruction);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_instruction() {
        let cases = [
            (
                DockerfileError::new("Dockerfile", Some(7), Some("COPY"), "bad"),
                "Dockerfile:7: COPY: bad",
            ),
            (
                DockerfileError::new("Dockerfile", Some(3), None, "unknown instruction: X"),
                "Dockerfile:3: unknown instruction: X",
            ),
            (
                DockerfileError::new("app.Dockerfile", None, None, "file with no instructions"),
                "app.Dockerfile: file with no instructions",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
