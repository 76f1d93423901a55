use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, symlink};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use super::{chmod, make_tree};
use crate::image::build::{
    BuildContext, ContextError, EntryKind, IgnoreRules, locate_dockerfile, read_dockerfile,
};

fn paths(context: &BuildContext) -> Vec<String> {
    context
        .entries()
        .iter()
        .map(|e| e.path.display().to_string())
        .collect()
}

/// One entry of a written tar.
struct Listed {
    path: String,
    kind: tar::EntryType,
    mode: u32,
    target: Option<PathBuf>,
    content: Vec<u8>,
}

/// The entries of a tar, in order.
fn tar_listing(bytes: &[u8]) -> Vec<Listed> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            Listed {
                path: entry.path().unwrap().display().to_string(),
                kind: entry.header().entry_type(),
                mode: entry.header().mode().unwrap(),
                target: entry.link_name().unwrap().map(|t| t.into_owned()),
                content,
            }
        })
        .collect()
}

fn write(context: &BuildContext) -> Vec<u8> {
    context.write_tar(Vec::new()).unwrap()
}

#[test]
fn walk_is_sorted_and_honours_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(
        dir.path(),
        &[
            "Dockerfile",
            "b.txt",
            "a.go",
            "a/x.txt",
            "a.b/y.txt",
            "docs/README.md",
            "docs/guide/intro.md",
            "target/debug/app",
            "empty/",
        ],
    );
    let rules = IgnoreRules::parse("target\n*.go\ndocs\n!docs/README.md\n").unwrap();
    let context = BuildContext::walk(dir.path(), &rules).unwrap();
    assert_eq!(
        paths(&context),
        [
            "Dockerfile",
            "a",
            "a/x.txt",
            "a.b",
            "a.b/y.txt",
            "b.txt",
            "docs",
            "docs/README.md",
            "empty",
        ]
    );
}

#[test]
fn an_exception_re_includes_a_file_deep_in_an_excluded_directory() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(
        dir.path(),
        &[
            "vendor/a/keep.txt",
            "vendor/a/drop.txt",
            "vendor/b/drop.txt",
            "vendor/c/d/keep.txt",
            "src/main.rs",
        ],
    );
    let rules = IgnoreRules::parse("vendor\n!vendor/**/keep.txt\n").unwrap();
    let context = BuildContext::walk(dir.path(), &rules).unwrap();
    assert_eq!(
        paths(&context),
        [
            "src",
            "src/main.rs",
            "vendor",
            "vendor/a",
            "vendor/a/keep.txt",
            "vendor/c",
            "vendor/c/d",
            "vendor/c/d/keep.txt",
        ]
    );
    // The parents sent for a re-included file keep their own metadata.
    let vendor = &context.entries()[2];
    assert_eq!(vendor.kind, EntryKind::Dir);

    // Without an exception that could match inside, nothing is sent.
    let rules = IgnoreRules::parse("vendor\n!src/main.rs\n").unwrap();
    let context = BuildContext::walk(dir.path(), &rules).unwrap();
    assert_eq!(paths(&context), ["src", "src/main.rs"]);
}

#[test]
fn dockerfile_and_dockerignore_are_always_sent() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(
        dir.path(),
        &[
            "Dockerfile",
            "app.txt",
            "build/prod.Dockerfile",
            "build/other",
        ],
    );
    fs::write(dir.path().join(".dockerignore"), "*\n").unwrap();
    let context = BuildContext::open(dir.path(), None).unwrap();
    assert_eq!(paths(&context), [".dockerignore", "Dockerfile"]);

    fs::write(dir.path().join(".dockerignore"), "**\nDockerfile\n").unwrap();
    let dockerfile = dir.path().join("build/prod.Dockerfile");
    let context = BuildContext::open(dir.path(), Some(&dockerfile)).unwrap();
    assert_eq!(
        paths(&context),
        [".dockerignore", "build", "build/prod.Dockerfile"]
    );

    // Without ignoring them, they are sent like anything else.
    fs::write(dir.path().join(".dockerignore"), "build\n").unwrap();
    let context = BuildContext::open(dir.path(), None).unwrap();
    assert_eq!(paths(&context), [".dockerignore", "Dockerfile", "app.txt"]);
}

#[test]
fn a_dockerfile_outside_the_context_is_read_but_not_sent() {
    let outer = tempfile::tempdir().unwrap();
    make_tree(outer.path(), &["ctx/app.txt", "ci/app.Dockerfile"]);
    fs::write(outer.path().join("ci/app.Dockerfile"), "FROM busybox\n").unwrap();
    let context_dir = outer.path().join("ctx");
    // As with `-f ../ci/app.Dockerfile`: relative to the current
    // directory, here spelled from the context.
    let dockerfile = context_dir.join("../ci/app.Dockerfile");
    let (name, text) = read_dockerfile(&context_dir, Some(&dockerfile)).unwrap();
    assert_eq!(
        (name.as_str(), text.as_str()),
        ("app.Dockerfile", "FROM busybox\n")
    );
    let context = BuildContext::open(&context_dir, Some(&dockerfile)).unwrap();
    assert_eq!(paths(&context), ["app.txt"]);
}

#[test]
fn the_default_dockerfile_and_its_lowercase_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_dockerfile(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, ContextError::DockerfileMissing { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("cannot locate the Dockerfile: ")
            && message
                .contains("/Dockerfile does not exist; create it, or name the right file with -f"),
        "{message}"
    );

    fs::write(dir.path().join("dockerfile"), "FROM lower\n").unwrap();
    let (name, text) = read_dockerfile(dir.path(), None).unwrap();
    assert_eq!(
        (name.as_str(), text.as_str()),
        ("dockerfile", "FROM lower\n")
    );

    fs::write(dir.path().join("Dockerfile"), "FROM upper\n").unwrap();
    let (name, text) = read_dockerfile(dir.path(), None).unwrap();
    assert_eq!(
        (name.as_str(), text.as_str()),
        ("Dockerfile", "FROM upper\n")
    );

    let err = locate_dockerfile(dir.path(), Some(Path::new("-"))).unwrap_err();
    assert!(matches!(err, ContextError::DockerfileFromStdin), "{err:?}");
    let missing = dir.path().join("nope.Dockerfile");
    let err = read_dockerfile(dir.path(), Some(&missing)).unwrap_err();
    assert!(
        err.to_string().contains("nope.Dockerfile does not exist"),
        "{err}"
    );

    fs::write(dir.path().join("bad"), [0xff, 0xfe, b'\n']).unwrap();
    let err = read_dockerfile(dir.path(), Some(&dir.path().join("bad"))).unwrap_err();
    assert!(err.to_string().contains("is not UTF-8 text"), "{err}");
}

#[test]
fn a_missing_or_file_context_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = BuildContext::open(&missing, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "unable to prepare context: path {} not found",
            missing.display()
        )
    );
    make_tree(dir.path(), &["file"]);
    let err = BuildContext::walk(&dir.path().join("file"), &IgnoreRules::default()).unwrap_err();
    assert!(
        matches!(err, ContextError::ContextNotDirectory { .. }),
        "{err:?}"
    );
}

#[test]
fn the_tar_is_deterministic_and_lists_exactly_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(
        dir.path(),
        &[
            "Dockerfile",
            "bin/run.sh",
            "src/lib/deep.rs",
            "link -> src/lib/deep.rs",
            "dangling -> /nowhere",
            "secret.key",
        ],
    );
    chmod(&dir.path().join("bin/run.sh"), 0o755);
    chmod(&dir.path().join("secret.key"), 0o600);
    let long = "d".repeat(120);
    make_tree(dir.path(), &[&format!("{long}/{long}.txt")]);
    let rules = IgnoreRules::parse("*.key\n").unwrap();
    let context = BuildContext::walk(dir.path(), &rules).unwrap();
    let first = write(&context);
    let second = write(&BuildContext::walk(dir.path(), &rules).unwrap());
    assert_eq!(first, second, "two writes of an unchanged context differ");

    let listing = tar_listing(&first);
    let names: Vec<_> = listing.iter().map(|e| e.path.as_str()).collect();
    let long_dir = format!("{long}/");
    let long_file = format!("{long}/{long}.txt");
    assert_eq!(
        names,
        [
            "Dockerfile",
            "bin/",
            "bin/run.sh",
            "dangling",
            long_dir.as_str(),
            long_file.as_str(),
            "link",
            "src/",
            "src/lib/",
            "src/lib/deep.rs",
        ]
    );
    let by_name = |name: &str| listing.iter().find(|e| e.path == name).unwrap();
    let run = by_name("bin/run.sh");
    assert_eq!((run.kind, run.mode), (tar::EntryType::Regular, 0o755));
    assert_eq!(run.content, b"content of bin/run.sh");
    let link = by_name("link");
    assert_eq!(link.kind, tar::EntryType::Symlink);
    assert_eq!(link.target.as_deref(), Some(Path::new("src/lib/deep.rs")));
    assert!(link.content.is_empty());
    let dangling = by_name("dangling");
    assert_eq!(dangling.kind, tar::EntryType::Symlink);
    assert_eq!(dangling.target.as_deref(), Some(Path::new("/nowhere")));
    assert_eq!(by_name("src/").kind, tar::EntryType::Directory);
    assert_eq!(
        by_name(&long_file).content,
        format!("content of {long_file}").as_bytes()
    );

    // The headers carry the walked metadata.
    let entry = context
        .entries()
        .iter()
        .find(|e| e.path == Path::new("bin/run.sh"))
        .unwrap();
    let meta = fs::metadata(dir.path().join("bin/run.sh")).unwrap();
    assert_eq!(
        (entry.mode, entry.uid, entry.gid, entry.size, entry.mtime),
        (0o755, meta.uid(), meta.gid(), 21, meta.mtime())
    );
    let mut archive = tar::Archive::new(first.as_slice());
    for tar_entry in archive.entries().unwrap() {
        let tar_entry = tar_entry.unwrap();
        if tar_entry.path().unwrap() == Path::new("bin/run.sh") {
            let header = tar_entry.header();
            assert_eq!(header.uid().unwrap(), u64::from(meta.uid()));
            assert_eq!(header.gid().unwrap(), u64::from(meta.gid()));
            assert_eq!(header.mtime().unwrap(), meta.mtime() as u64);
        }
    }
}

#[test]
fn symlinks_are_entries_and_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    make_tree(outside.path(), &["host-secret"]);
    make_tree(dir.path(), &["real/file"]);
    symlink(outside.path(), dir.path().join("escape")).unwrap();
    symlink("real", dir.path().join("alias")).unwrap();
    let context = BuildContext::walk(dir.path(), &IgnoreRules::default()).unwrap();
    assert_eq!(paths(&context), ["alias", "escape", "real", "real/file"]);
    assert_eq!(
        context.entries()[0].kind,
        EntryKind::Symlink(PathBuf::from("real"))
    );
    assert_eq!(context.entries()[0].size, 0);
}

#[test]
fn sockets_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), &["a"]);
    let _listener = UnixListener::bind(dir.path().join("sock")).unwrap();
    let context = BuildContext::walk(dir.path(), &IgnoreRules::default()).unwrap();
    assert_eq!(paths(&context), ["a"]);
    let listing = tar_listing(&write(&context));
    assert_eq!(listing.len(), 1);
}

#[test]
fn a_file_that_vanished_is_named() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), &["gone.txt"]);
    let context = BuildContext::walk(dir.path(), &IgnoreRules::default()).unwrap();
    fs::remove_file(dir.path().join("gone.txt")).unwrap();
    let err = context.write_tar(Vec::new()).unwrap_err();
    assert!(matches!(err, ContextError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("gone.txt"), "{err}");
}
