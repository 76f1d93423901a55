//! The `--format table|json` of Docker Compose's listings (`images`,
//! `ls`): a table, or one compact JSON array on one line.

use clap::ValueEnum;
use serde::Serialize;

use crate::exit::{CliError, CliResult};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Columns under headers.
    #[default]
    Table,
    /// One JSON array.
    Json,
}

/// Prints `items` as one JSON array on one line, as Docker Compose does
/// (fields in the order the item type declares them).
pub fn print_json<T: Serialize>(items: &[T]) -> CliResult {
    let text = serde_json::to_string(items)
        .map_err(|e| CliError::client(format!("cannot write the listing as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}
