use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::{chmod, make_tree};
use crate::image::build::{MatchedSource, SourceError, content_hash, resolve_sources};

const TREE: &[&str] = &[
    "Dockerfile",
    "a.txt",
    "b.txt",
    ".hidden.txt",
    "c.md",
    "src/main.rs",
    "src/lib.rs",
    "src/util/mod.rs",
    "pkg/one/go.mod",
    "pkg/two/go.mod",
    "pkg/three.txt",
    "odd[1].txt",
];

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), TREE);
    dir
}

fn matched(root: &Path, sources: &[&str], dest: &str) -> Result<Vec<String>, SourceError> {
    resolve_sources(root, "COPY", sources, dest).map(|found| {
        found
            .into_iter()
            .map(|m| m.path.display().to_string())
            .collect()
    })
}

#[test]
fn sources_and_globs_resolve_inside_the_root() {
    let dir = context();
    let cases: &[(&[&str], &[&str])] = &[
        (&["a.txt"], &["a.txt"]),
        (&["/a.txt"], &["a.txt"]),
        (&["./a.txt"], &["a.txt"]),
        (&["../../a.txt"], &["a.txt"]),
        (&["src/../a.txt"], &["a.txt"]),
        (&["."], &["."]),
        (&["/"], &["."]),
        (&[".."], &["."]),
        (&["src"], &["src"]),
        (&["src/"], &["src"]),
        (&["*.txt"], &[".hidden.txt", "a.txt", "b.txt", "odd[1].txt"]),
        (&["?.txt"], &["a.txt", "b.txt"]),
        (&["[a-b].txt"], &["a.txt", "b.txt"]),
        (&["[^a].txt"], &["b.txt"]),
        (&["src/*.rs"], &["src/lib.rs", "src/main.rs"]),
        (&["*/*.rs"], &["src/lib.rs", "src/main.rs"]),
        (&["pkg/*/go.mod"], &["pkg/one/go.mod", "pkg/two/go.mod"]),
        (&["/pkg/t*"], &["pkg/three.txt", "pkg/two"]),
        (&["odd\\[1\\].tx?", "c.*"], &["odd[1].txt", "c.md"]),
        (&["odd[[]1].txt"], &["odd[1].txt"]),
        // Sources keep their order; each source's matches are sorted.
        (&["b.txt", "a.txt"], &["b.txt", "a.txt"]),
        (&["*.md", "*.nothing", "a.txt"], &["c.md", "a.txt"]),
    ];
    for (sources, want) in cases {
        assert_eq!(
            matched(dir.path(), sources, "/dest/").unwrap(),
            *want,
            "{sources:?}"
        );
    }
}

#[test]
fn the_error_messages_are_dockers() {
    let dir = context();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["*.nothing"],
            "/d/",
            "COPY failed: no source files were specified",
        ),
        (
            &["*.nothing", "nope/*"],
            "/d/",
            "COPY failed: no source files were specified",
        ),
        (
            &["missing.txt"],
            "/d/",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist",
        ),
        (
            &["/src/../missing"],
            "/d/",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist",
        ),
        (
            &["a.txt/inside"],
            "/d/",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat a.txt/inside: file does not exist",
        ),
        (
            &["a.txt", "b.txt"],
            "/d",
            "When using COPY with more than one source file, the destination must be a directory and end with a /",
        ),
        (
            &["*.txt"],
            "/d",
            "When using COPY with more than one source file, the destination must be a directory and end with a /",
        ),
        (
            &["a.txt", "b.txt"],
            ".",
            "When using COPY with more than one source file, the destination must be a directory and end with a /",
        ),
    ];
    for (sources, dest, want) in cases {
        let err = matched(dir.path(), sources, dest).unwrap_err();
        assert_eq!(err.to_string(), *want, "{sources:?} -> {dest}");
    }
    let err = resolve_sources(dir.path(), "ADD", &["nope"], "/").unwrap_err();
    assert!(
        err.to_string().starts_with("ADD failed: file not found"),
        "{err}"
    );
    let err = matched(dir.path(), &["src/[a-"], "/d/").unwrap_err();
    assert!(matches!(err, SourceError::Pattern { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("COPY failed: invalid source pattern \"src/[a-\": "),
        "{err}"
    );
    // Without a wildcard, a source is taken as written, backslashes and
    // all, as Docker does.
    let err = matched(dir.path(), &["odd\\[1\\].txt"], "/d/").unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
    // One match is fine whatever the destination.
    assert_eq!(matched(dir.path(), &["c.*"], "/d").unwrap(), ["c.md"]);
}

#[test]
fn symlinks_resolve_inside_the_context() {
    let dir = context();
    let outside = tempfile::tempdir().unwrap();
    make_tree(outside.path(), &["secret"]);
    symlink(outside.path(), dir.path().join("escape")).unwrap();
    symlink("/src", dir.path().join("abs-src")).unwrap();
    symlink("../../../src/main.rs", dir.path().join("main-link")).unwrap();
    symlink("a.txt", dir.path().join("a-link")).unwrap();
    symlink("loop2", dir.path().join("loop1")).unwrap();
    symlink("loop1", dir.path().join("loop2")).unwrap();
    symlink("nowhere", dir.path().join("dangling")).unwrap();

    let one = |source: &str| resolve_sources(dir.path(), "COPY", &[source], "/d/");
    let found = one("abs-src/main.rs").unwrap();
    assert_eq!(
        found,
        [MatchedSource {
            path: PathBuf::from("abs-src/main.rs"),
            resolved: PathBuf::from("src/main.rs"),
        }]
    );
    let found = one("main-link").unwrap();
    assert_eq!(found[0].resolved, Path::new("src/main.rs"));
    assert_eq!(found[0].path, Path::new("main-link"));
    assert_eq!(one("abs-src").unwrap()[0].resolved, Path::new("src"));

    // A link to an absolute host path means that path inside the context.
    let err = one("escape/secret").unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
    for source in ["dangling", "loop1"] {
        assert!(one(source).is_err(), "{source}");
    }

    // Globs do not walk through symlinked directories, but match links.
    assert_eq!(
        matched(dir.path(), &["*/main.rs"], "/d/").unwrap(),
        ["src/main.rs"]
    );
    let found = resolve_sources(dir.path(), "COPY", &["a-*"], "/d/").unwrap();
    assert_eq!(found[0].resolved, Path::new("a.txt"));
}

#[test]
fn content_hash_is_stable_and_sensitive() {
    let dir = context();
    let root = dir.path();
    let hash = |sources: &[&str]| {
        let found = resolve_sources(root, "COPY", sources, "/d/").unwrap();
        content_hash(root, &found).unwrap()
    };
    let base = hash(&["src", "*.txt"]);
    assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
    assert_eq!(hash(&["src", "*.txt"]), base, "same context, same hash");

    // mtimes do not count.
    let file = fs::File::options()
        .write(true)
        .open(root.join("src/lib.rs"))
        .unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    drop(file);
    assert_eq!(hash(&["src", "*.txt"]), base, "an mtime changed the hash");

    // Content, mode, names and symlink targets do.
    fs::write(root.join("src/util/mod.rs"), "changed").unwrap();
    let changed = hash(&["src", "*.txt"]);
    assert_ne!(changed, base, "content");
    chmod(&root.join("src/main.rs"), 0o755);
    let chmodded = hash(&["src", "*.txt"]);
    assert_ne!(chmodded, changed, "mode");
    fs::rename(root.join("src/lib.rs"), root.join("src/lib2.rs")).unwrap();
    let renamed = hash(&["src", "*.txt"]);
    assert_ne!(renamed, chmodded, "name");
    symlink("main.rs", root.join("src/link")).unwrap();
    let linked = hash(&["src", "*.txt"]);
    assert_ne!(linked, renamed, "new symlink");
    fs::remove_file(root.join("src/link")).unwrap();
    symlink("lib2.rs", root.join("src/link")).unwrap();
    assert_ne!(hash(&["src", "*.txt"]), linked, "symlink target");

    // Files outside the sources do not count; what a source is named does.
    let only_a = hash(&["a.txt"]);
    fs::write(root.join("c.md"), "other").unwrap();
    assert_eq!(hash(&["a.txt"]), only_a);
    symlink("a.txt", root.join("alias.txt")).unwrap();
    assert_ne!(hash(&["alias.txt"]), only_a, "the source's name");
    // Moving content between files of a directory changes it too.
    assert_ne!(hash(&["b.txt", "a.txt"]), hash(&["a.txt", "b.txt"]));
}

#[test]
fn content_hash_streams_large_files() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![7u8; 3 * 1024 * 1024 + 5];
    fs::write(dir.path().join("big.bin"), &big).unwrap();
    let found = resolve_sources(dir.path(), "COPY", &["big.bin"], "/d").unwrap();
    let first = content_hash(dir.path(), &found).unwrap();
    let mut changed = big;
    changed[3 * 1024 * 1024] = 8;
    fs::write(dir.path().join("big.bin"), &changed).unwrap();
    assert_ne!(content_hash(dir.path(), &found).unwrap(), first);
}
