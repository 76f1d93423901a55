use std::fs;
use std::path::Path;

use crate::image::build::{IgnoreError, IgnoreRules};

fn excluded(patterns: &str, path: &str) -> bool {
    IgnoreRules::parse(patterns)
        .unwrap_or_else(|e| panic!("{patterns:?}: {e}"))
        .is_excluded(Path::new(path))
}

#[test]
fn patternmatcher_single_pattern_cases() {
    // moby/patternmatcher's TestMatches (checked with parent matching, as
    // a build context is): (pattern, path, excluded).
    let cases = [
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\\\", "a\\", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "axb", false),
        // The everyday ones.
        ("*.go", "main.go", true),
        ("*.go", "cmd/main.go", false),
        ("**/*.go", "cmd/main.go", true),
        ("**/*.go", "main.go", true),
        ("docs", "docs", true),
        ("docs", "docs/README.md", true),
        ("docs", "docsy", false),
        ("docs/", "docs/a/b", true),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/b/c", true),
        ("a/**/b", "a/xb", false),
        ("[a-c]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[^a-c]x", "dx", true),
        // Go has no `!` negation in classes, and neither has Docker.
        ("[!a]x", "!x", true),
        ("[!a]x", "bx", false),
        ("/abs", "abs", true),
        ("/abs/sub", "abs/sub/file", true),
        ("./rel", "rel", true),
        ("rel/./x/../y", "rel/y", true),
        ("  spaced  ", "spaced", true),
        ("#comment", "#comment", false),
        (" #notcomment", "#notcomment", true),
    ];
    for (pattern, path, want) in cases {
        assert_eq!(excluded(pattern, path), want, "{pattern:?} vs {path:?}");
    }
}

#[test]
fn exceptions_and_last_match_wins() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["*.go", "!main.go"], "main.go", false),
        (&["*.go", "!main.go"], "util.go", true),
        (&["!main.go", "*.go"], "main.go", true),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs", "!docs/README.md"], "docs/other.md", true),
        (&["docs", "!docs/README.md"], "docs", true),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["*", "!keep", "keep/drop"], "keep/drop/x", true),
        (&["*", "!keep", "keep/drop"], "keep/other", false),
        (&["  !docs/README.md", "docs"], "docs/README.md", true),
    ];
    for (patterns, path, want) in cases {
        let text = patterns.join("\n");
        assert_eq!(excluded(&text, path), *want, "{patterns:?} vs {path:?}");
    }
}

#[test]
fn the_reader_skips_comments_blanks_and_a_bom() {
    let text = "\u{feff}# comment\n\n   \r\ntarget\r\n\t*.log  \n! /inverted/abs\n";
    let rules = IgnoreRules::parse(text).unwrap();
    assert!(rules.is_excluded(Path::new("target/debug")));
    assert!(rules.is_excluded(Path::new("app.log")));
    assert!(!rules.is_excluded(Path::new("# comment")));
    assert!(!rules.is_excluded(Path::new("src/main.rs")));
    let empty = IgnoreRules::parse("# only a comment\n\n").unwrap();
    assert!(!empty.is_excluded(Path::new("anything")));
}

#[test]
fn the_root_is_never_excluded() {
    for path in ["", ".", "./", "/"] {
        assert!(!excluded("**\n*\n.", path), "{path:?}");
    }
}

#[test]
fn bad_lines_are_refused_with_the_line_and_pattern() {
    let err = IgnoreRules::parse("ok\n!\n").unwrap_err();
    assert!(
        matches!(err, IgnoreError::LoneExclamation { line: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        ".dockerignore:2: illegal exclusion pattern \"!\": write the path to re-include right after the '!'"
    );
    let err = IgnoreRules::parse("a\n  !  \n").unwrap_err();
    assert!(
        matches!(err, IgnoreError::LoneExclamation { line: 2, .. }),
        "{err:?}"
    );

    let err = IgnoreRules::parse("a\nb\nsrc/[a-\n").unwrap_err();
    let IgnoreError::Pattern { line, pattern, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!((*line, pattern.as_str()), (3, "src/[a-"));
    let message = err.to_string();
    assert!(
        message.starts_with(".dockerignore:3: invalid pattern \"src/[a-\": "),
        "{message}"
    );
    assert!(message.ends_with("; fix or remove the line"), "{message}");

    for bad in ["[", "a[", "[]a]", "x\\", "!x[^"] {
        assert!(
            IgnoreRules::parse(bad).is_err(),
            "{bad:?} should be refused"
        );
    }
}

#[test]
fn always_send_re_includes_only_what_is_excluded() {
    let mut rules = IgnoreRules::parse("Dockerfile\n.dockerignore\nbuild\n").unwrap();
    rules.always_send(Path::new(".dockerignore"));
    rules.always_send(Path::new("build/Dockerfile"));
    rules.always_send(Path::new("Dockerfile"));
    assert!(!rules.is_excluded(Path::new(".dockerignore")));
    assert!(!rules.is_excluded(Path::new("Dockerfile")));
    assert!(!rules.is_excluded(Path::new("build/Dockerfile")));
    assert!(rules.is_excluded(Path::new("build/other")));
    // A name with wildcard characters is kept literally.
    let mut rules = IgnoreRules::parse("*").unwrap();
    rules.always_send(Path::new("docker[1].file"));
    assert!(!rules.is_excluded(Path::new("docker[1].file")));
    assert!(rules.is_excluded(Path::new("docker1.file")));
}

#[test]
fn read_finds_the_file_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let rules = IgnoreRules::read(dir.path()).unwrap();
    assert!(!rules.is_excluded(Path::new("x")));
    fs::write(dir.path().join(".dockerignore"), "x\n").unwrap();
    assert!(
        IgnoreRules::read(dir.path())
            .unwrap()
            .is_excluded(Path::new("x"))
    );

    // BuildKit's <Dockerfile>.dockerignore wins over the root one.
    let dockerfile = dir.path().join("app.Dockerfile");
    fs::write(dir.path().join("app.Dockerfile.dockerignore"), "y\n").unwrap();
    let rules = IgnoreRules::read_for_dockerfile(dir.path(), &dockerfile).unwrap();
    assert!(rules.is_excluded(Path::new("y")));
    assert!(!rules.is_excluded(Path::new("x")));
    let other = dir.path().join("Dockerfile");
    let rules = IgnoreRules::read_for_dockerfile(dir.path(), &other).unwrap();
    assert!(rules.is_excluded(Path::new("x")));

    // An unreadable ignore file (here a directory) is named.
    let bad = tempfile::tempdir().unwrap();
    fs::create_dir(bad.path().join(".dockerignore")).unwrap();
    let err = IgnoreRules::read(bad.path()).unwrap_err();
    assert!(err.to_string().contains(".dockerignore"), "{err}");

    // A bad line names the file read.
    fs::write(dir.path().join(".dockerignore"), "ok\n[\n").unwrap();
    let err = IgnoreRules::read(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(".dockerignore:2: invalid pattern \"[\""),
        "{err}"
    );
}
