//! The shared corpus of real compose files (../shared/compose-corpus, see
//! its README): every file its manifest marks valid loads, and every file
//! marked invalid is refused with the error the reference loader gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_compose::project::{LoadOptions, load};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compose-corpus")
}

/// (path, expect, note) rows of the manifest.
fn manifest() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(corpus().join("manifest.tsv"))
        .expect("../shared/compose-corpus/manifest.tsv is readable");
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (
                fields[0].to_string(),
                fields[1].to_string(),
                fields.get(3).copied().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Loads one corpus file with its folder as the working directory and a
/// clean environment.
fn load_corpus_file(relative: &str) -> Result<hoist_compose::Project, hoist_compose::LoadError> {
    let file = corpus().join(relative);
    let dir = file
        .parent()
        .expect("corpus files are in folders")
        .to_path_buf();
    load(&LoadOptions {
        files: vec![file],
        environment: BTreeMap::from([("HOME".to_string(), "/home/user".to_string())]),
        working_dir: dir,
        ..Default::default()
    })
}

#[test]
fn every_valid_file_loads() {
    let mut failures = Vec::new();
    let mut loaded = 0;
    for (path, expect, _) in manifest() {
        if expect != "valid" {
            continue;
        }
        match load_corpus_file(&path) {
            Ok(project) => {
                loaded += 1;
                assert!(
                    project.model.to_yaml().is_ok(),
                    "{path}: config cannot be printed"
                );
            }
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} valid files were refused:\n{}",
        failures.len(),
        failures.len() + loaded,
        failures.join("\n")
    );
    assert!(loaded >= 150, "only {loaded} valid files in the manifest");
}

#[test]
fn every_invalid_file_is_refused_with_a_clear_error() {
    let mut accepted = Vec::new();
    let mut checked = 0;
    for (path, expect, note) in manifest() {
        if expect != "invalid" {
            continue;
        }
        checked += 1;
        match load_corpus_file(&path) {
            Ok(_) => accepted.push(format!("{path} ({note})")),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    e.origin.file.to_string_lossy().contains("compose-corpus/"),
                    "{path}: the error does not point into the corpus: {text}"
                );
                for expected in [
                    "dependency cycle detected",
                    "include cycle detected",
                    "empty compose file",
                ] {
                    if note.contains(expected) {
                        assert!(
                            text.contains(expected),
                            "{path}: expected {expected:?}, got: {text}"
                        );
                    }
                }
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "invalid files were accepted:\n{}",
        accepted.join("\n")
    );
    assert!(checked >= 6, "only {checked} invalid files in the manifest");
}
