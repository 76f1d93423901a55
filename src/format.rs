//! Output: Docker-style tables, `--format json` (one JSON document), and
//! the subset of Go templates Docker users script with (`{{.State.Status}}`,
//! `{{json .Config}}`, `table {{.ID}}\t{{.Names}}`).

use std::io::Write;

use serde_json::Value;

use crate::exit::{CliError, CliResult};

/// How a listing or inspect is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// The default table (or indented JSON for inspect).
    Default,
    /// One compact JSON document per item (Docker's `{{json .}}`).
    Json,
    /// A Go template applied to each item.
    Template(String),
}

impl Format {
    /// Parses `--format`: empty/`table` → default, `json`, else a template.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") | Some("table") => Self::Default,
            Some("json") => Self::Json,
            Some(t) => Self::Template(t.replace("\\t", "\t").replace("\\n", "\n")),
        }
    }
}

/// Prints rows under headers, columns separated by at least three spaces,
/// as Docker's tabwriter does.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i < last {
                text.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        text.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// Labels as Docker's listings show them: `k=v` pairs, by key,
/// comma-separated.
pub fn labels_text<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// One table row: the string fields of `item` that `keys` name, empty
/// where one is missing.
pub fn cells(item: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|key| item[key].as_str().unwrap_or("").to_string())
        .collect()
}

/// Prints items as `--format` asks: one compact JSON object per line
/// (Docker's `json`, which is `{{json .}}`: what `docker ps --format json |
/// jq …` scripts read), a template per item (with a header row for `table
/// …` templates), or via `default`.
pub fn print_items(format: &Format, items: &[Value], default: impl FnOnce()) -> CliResult {
    match format {
        Format::Default => default(),
        Format::Json => {
            for item in items {
                println!("{item}");
            }
        }
        Format::Template(template) => {
            let (table, template) = match template.strip_prefix("table ") {
                Some(rest) => (true, rest),
                None => (false, template.as_str()),
            };
            if table {
                println!("{}", header_of(template));
            }
            for item in items {
                println!("{}", render(template, item)?);
            }
        }
    }
    Ok(())
}

/// Prints `inspect` documents: each through the template `-f` gives, each
/// as one compact line with `-f json` (Docker's `{{json .}}`), or all as
/// one pretty JSON array (Docker's default).
pub fn print_documents(format: Option<&str>, documents: &[Value]) -> CliResult {
    match Format::parse(format) {
        Format::Template(t) => {
            for d in documents {
                println!("{}", render(&t, d)?);
            }
        }
        Format::Json => {
            for d in documents {
                println!("{d}");
            }
        }
        Format::Default => println!(
            "{}",
            serde_json::to_string_pretty(documents).map_err(|e| CliError::client(e.to_string()))?
        ),
    }
    Ok(())
}

/// A table header from a template: each `{{.Field}}` becomes `FIELD`.
fn header_of(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let action = rest[start + 2..start + end].trim();
        let field = action.rsplit('.').next().unwrap_or(action);
        out.push_str(&field.to_uppercase());
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Renders a Go-template subset against a JSON value: `{{.A.B}}`,
/// `{{.}}`, `{{json .A}}`, `{{upper .A}}`, `{{lower .A}}`, `{{len .A}}`,
/// `{{index .A "key"}}`.
pub fn render(template: &str, value: &Value) -> CliResult<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| CliError::usage(format!("template {template:?}: unclosed action")))?;
        let action = rest[start + 2..start + end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&evaluate(action, value, template)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn evaluate(action: &str, value: &Value, template: &str) -> CliResult<String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    let bad = |why: &str| CliError::usage(format!("template {template:?}: {why}"));
    match words.as_slice() {
        [path] => Ok(plain(
            lookup(value, path).ok_or_else(|| bad(&format!("{path} is not a field")))?,
        )),
        ["json", path] => Ok(
            serde_json::to_string(lookup(value, path).unwrap_or(&Value::Null)).unwrap_or_default(),
        ),
        ["upper", path] => Ok(plain(lookup(value, path).unwrap_or(&Value::Null)).to_uppercase()),
        ["lower", path] => Ok(plain(lookup(value, path).unwrap_or(&Value::Null)).to_lowercase()),
        ["len", path] => Ok(match lookup(value, path) {
            Some(Value::Array(a)) => a.len(),
            Some(Value::Object(o)) => o.len(),
            Some(Value::String(s)) => s.len(),
            _ => 0,
        }
        .to_string()),
        ["index", path, key] => {
            let key = key.trim_matches('"');
            let container = lookup(value, path).unwrap_or(&Value::Null);
            let item = match container {
                Value::Object(o) => o.get(key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            Ok(plain(item.unwrap_or(&Value::Null)))
        }
        _ => Err(bad(&format!("unsupported action {action:?}"))),
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "." {
        return Some(value);
    }
    let mut current = value;
    for part in path.strip_prefix('.')?.split('.') {
        current = current.get(part)?;
    }
    Some(current)
}

/// A value as Go's templates print it: strings bare, null as `<no value>`,
/// maps as `map[k:v]`, arrays as `[a b]`.
fn plain(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", plain(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

/// `5 minutes ago`, as Docker's CREATED column.
pub fn ago(unix_seconds: i64) -> String {
    if unix_seconds <= 0 {
        return "N/A".into();
    }
    let elapsed = chrono::Utc::now().timestamp() - unix_seconds;
    format!("{} ago", hoist_api::units::human_duration(elapsed))
}

/// The first 12 hex digits of an ID, without `sha256:`.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

/// Cuts `text` to `max` characters with an ellipsis, as Docker's columns.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_go_template_subset() {
        let v = serde_json::json!({"State": {"Status": "running", "Pid": 42}, "Name": "/web", "Env": ["A=1", "B=2"], "Labels": {"x": "y"}});
        assert_eq!(render("{{.State.Status}}", &v).unwrap(), "running");
        assert_eq!(render("pid={{ .State.Pid }}", &v).unwrap(), "pid=42");
        assert_eq!(render("{{json .Env}}", &v).unwrap(), r#"["A=1","B=2"]"#);
        assert_eq!(render("{{.Env}}", &v).unwrap(), "[A=1 B=2]");
        assert_eq!(render("{{index .Labels \"x\"}}", &v).unwrap(), "y");
        assert_eq!(render("{{len .Env}}", &v).unwrap(), "2");
        assert!(render("{{.Nope}}", &v).is_err());
        assert!(render("{{.Name", &v).is_err());
    }

    #[test]
    fn table_headers_come_from_fields() {
        assert_eq!(header_of("{{.ID}}\t{{.Names}}"), "ID\tNAMES");
    }

    #[test]
    fn truncates_like_docker() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
