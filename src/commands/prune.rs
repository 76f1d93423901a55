//! What every `prune` shares: Docker's confirmation question unless
//! `--force`, and Docker's report of what went and the space it freed.

use std::io::{BufRead, Write};

use crate::exit::{CliError, CliResult};

/// Asks `WARNING! {warning}` / `Are you sure you want to continue? [y/N]`
/// unless `force`, as Docker does (from standard input, terminal or not).
/// Anything but `y` or `yes` cancels: an error saying `{what} has been
/// cancelled`, exit 1, and nothing removed.
pub fn confirm(force: bool, warning: &str, what: &str) -> CliResult<()> {
    if force {
        return Ok(());
    }
    print!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if is_yes(&answer) {
        Ok(())
    } else {
        Err(CliError::client(format!("{what} has been cancelled")))
    }
}

/// Docker's yes: `y` or `yes`, in any case.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// Prints `Deleted {kind}:` and one line per item (when any went), then
/// `Total reclaimed space: …` when `space` is given.
pub fn report(kind: &str, deleted: impl IntoIterator<Item = String>, space: Option<u64>) {
    let mut deleted = deleted.into_iter().peekable();
    if deleted.peek().is_some() {
        println!("Deleted {kind}:");
        for item in deleted {
            println!("{item}");
        }
        println!();
    }
    if let Some(space) = space {
        println!(
            "Total reclaimed space: {}",
            hoist_api::units::human_size(space)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_confirms() {
        for yes in ["y\n", "Y", "yes\n", " YES \r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n\n", "no", "yess", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
