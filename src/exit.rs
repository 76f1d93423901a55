//! Errors the CLI reports, with Docker's exit codes: 125 when hoist itself
//! failed (bad flag, daemon error) for run/create/exec, 126/127 when the
//! command could not be invoked or found, 1 for other commands' failures.

use std::fmt;

use tonic::{Code, Status};

/// Docker's exit code for its own failures in `run`, `create`, `exec`.
pub const EXIT_HOIST_FAILED: i32 = 125;

/// An error with the exit code to leave with.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code.
    pub code: i32,
    /// One line: what was wrong, naming the object.
    pub message: String,
    /// Whether the daemon reported it (printed as Docker does).
    pub from_daemon: bool,
}

impl CliError {
    /// A usage error (bad flag or value): exit 125, as Docker.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_HOIST_FAILED,
            message: message.into(),
            from_daemon: false,
        }
    }

    /// A failure on the client's side.
    pub fn client(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
            from_daemon: false,
        }
    }

    /// An exit with a code and no message (the container's own code).
    pub fn exit(code: i32) -> Self {
        Self {
            code,
            message: String::new(),
            from_daemon: false,
        }
    }

    /// Uses `code` instead of the default 1 (run/create/exec use 125).
    pub fn with_code(mut self, code: i32) -> Self {
        if self.code == 1 {
            self.code = code;
        }
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_daemon {
            write!(f, "Error response from daemon: {}", self.message)
        } else {
            write!(f, "Error: {}", self.message)
        }
    }
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        let code = match status.code() {
            // A failed start carries Docker's code (126/127) in its details.
            Code::Aborted => std::str::from_utf8(status.details())
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(1),
            Code::InvalidArgument => EXIT_HOIST_FAILED,
            _ => 1,
        };
        let message = match status.code() {
            Code::Unavailable | Code::Unknown if status.message().contains("transport") => {
                format!(
                    "lost the connection to the hoist daemon: {}",
                    status.message()
                )
            }
            _ => status.message().to_string(),
        };
        Self {
            code,
            message,
            from_daemon: true,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::client(e.to_string())
    }
}

/// Results of CLI commands.
pub type CliResult<T = ()> = Result<T, CliError>;
