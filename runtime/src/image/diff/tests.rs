use std::os::unix::fs::{PermissionsExt, lchown, symlink};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev, mknod, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::Uid;

use super::*;
use crate::image::layer::xattr_set;
use crate::image::unpack::unpack_layer;

/// mknod and trusted.* xattrs need root; the tests say so and pass
/// without checking anything otherwise.
fn root() -> bool {
    let root = Uid::effective().is_root();
    if !root {
        eprintln!("skipped: needs root for device nodes and trusted.* xattrs");
    }
    root
}

fn file(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn whiteout(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
}

fn opaque_dir(path: &Path) {
    fs::create_dir_all(path).unwrap();
    xattr_set(path, OVERLAY_OPAQUE_XATTR, b"y").unwrap();
}

fn list(changes: &[Change]) -> Vec<String> {
    changes.iter().map(Change::to_string).collect()
}

#[test]
fn reports_changes_like_docker_diff() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (top, bottom, upper) = (
        dir.path().join("l1"),
        dir.path().join("l2"),
        dir.path().join("upper"),
    );
    for (path, data) in [
        ("etc/passwd", &b"root"[..]),
        ("etc/group", b"root"),
        ("var/cache/a/b", b"b"),
        ("var/cache/c", b"c"),
        ("x", b"x"),
        ("opt/old", b"old"),
    ] {
        file(&bottom.join(path), data);
    }
    // The top layer deleted /x and replaced /opt with an opaque directory.
    file(&top.join("etc/hosts"), b"hosts");
    whiteout(&top.join("x"));
    opaque_dir(&top.join("opt"));
    file(&top.join("opt/new"), b"new");

    file(&upper.join("etc/passwd"), b"root\nme");
    whiteout(&upper.join("etc/group"));
    file(&upper.join("etc/new"), b"new");
    file(&upper.join("x"), b"back");
    opaque_dir(&upper.join("var/cache"));
    file(&upper.join("var/cache/a/z"), b"z");
    file(&upper.join("var/cache/c2"), b"c2");
    file(&upper.join("newdir/f"), b"f");
    file(&upper.join("opt/old"), b"again");

    let got = changes(&upper, &[top, bottom]).unwrap();
    assert_eq!(
        list(&got),
        vec![
            "C /etc",
            "D /etc/group",
            "A /etc/new",
            "C /etc/passwd",
            "A /newdir",
            "A /newdir/f",
            "C /opt",
            // Hidden by the top layer's opaque /opt: new here.
            "A /opt/old",
            "C /var",
            "C /var/cache",
            // Below an opaque directory the lowers' content is gone, even
            // in subdirectories the upper has too.
            "C /var/cache/a",
            "D /var/cache/a/b",
            "A /var/cache/a/z",
            "D /var/cache/c",
            "A /var/cache/c2",
            // The top layer's whiteout deleted /x from the image.
            "A /x",
        ]
    );
}

#[test]
fn an_empty_upper_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower");
    file(&lower.join("etc/passwd"), b"root");
    let upper = dir.path().join("upper");
    fs::create_dir(&upper).unwrap();
    assert!(changes(&upper, &[lower]).unwrap().is_empty());
}

fn set_mtime(path: &Path, seconds: i64) {
    let time = TimeSpec::new(seconds, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

fn entry_names(tar_bytes: &[u8]) -> Vec<String> {
    tar::Archive::new(tar_bytes)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// An upper directory with one of everything a layer can hold.
fn sample_upper(upper: &Path) {
    opaque_dir(&upper.join("etc"));
    let hostname = upper.join("etc/hostname");
    file(&hostname, b"box\n");
    fs::set_permissions(&hostname, fs::Permissions::from_mode(0o640)).unwrap();
    lchown(&hostname, Some(1000), Some(1001)).unwrap();
    xattr_set(&hostname, "user.note", b"kept").unwrap();
    xattr_set(&hostname, "trusted.overlay.origin", b"dropped").unwrap();
    set_mtime(&hostname, 1_000_000);
    whiteout(&upper.join("etc/passwd"));
    file(&upper.join("bin/busybox"), b"\x7fELF");
    symlink("busybox", upper.join("bin/sh")).unwrap();
    fs::hard_link(upper.join("bin/busybox"), upper.join("bin/zz-link")).unwrap();
    fs::create_dir_all(upper.join("dev")).unwrap();
    mknod(
        &upper.join("dev/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 3),
    )
    .unwrap();
    mknod(
        &upper.join("dev/fifo"),
        SFlag::S_IFIFO,
        Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    let long = "d".repeat(60);
    file(&upper.join(&long).join(&long).join("file"), b"deep");
    set_mtime(&upper.join("etc"), 2_000_000);
}

#[test]
fn write_layer_round_trips_through_unpack_layer() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let upper = dir.path().join("upper");
    sample_upper(&upper);

    let mut tar_bytes = Vec::new();
    let written = write_layer(&upper, &mut tar_bytes).unwrap();
    assert_eq!(written, tar_bytes.len() as u64);
    let mut again = Vec::new();
    write_layer(&upper, &mut again).unwrap();
    assert_eq!(tar_bytes, again, "the same tree gives the same tar");

    let long = "d".repeat(60);
    let names = entry_names(&tar_bytes);
    assert_eq!(
        names,
        vec![
            "bin".to_string(),
            "bin/busybox".into(),
            "bin/sh".into(),
            "bin/zz-link".into(),
            long.clone(),
            format!("{long}/{long}"),
            format!("{long}/{long}/file"),
            "dev".into(),
            "dev/fifo".into(),
            "dev/null".into(),
            "etc".into(),
            "etc/.wh..wh..opq".into(),
            "etc/hostname".into(),
            "etc/.wh.passwd".into(),
        ]
    );

    let out = dir.path().join("unpacked");
    unpack_layer(&tar_bytes[..], &out).unwrap();
    let hostname = out.join("etc/hostname");
    let meta = fs::symlink_metadata(&hostname).unwrap();
    assert_eq!(fs::read(&hostname).unwrap(), b"box\n");
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (1000, 1001));
    assert_eq!(meta.mtime(), 1_000_000);
    assert_eq!(
        xattr_get(&hostname, "user.note").unwrap().as_deref(),
        Some(&b"kept"[..])
    );
    assert_eq!(
        xattr_get(&hostname, "trusted.overlay.origin").unwrap(),
        None
    );
    assert!(is_overlay_whiteout(
        &fs::symlink_metadata(out.join("etc/passwd")).unwrap()
    ));
    assert!(is_opaque(&out.join("etc")).unwrap());
    assert_eq!(
        fs::symlink_metadata(out.join("etc")).unwrap().mtime(),
        2_000_000
    );
    assert_eq!(
        fs::read_link(out.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::metadata(out.join("bin/busybox")).unwrap().ino(),
        fs::metadata(out.join("bin/zz-link")).unwrap().ino()
    );
    let null = fs::symlink_metadata(out.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), makedev(1, 3));
    assert!(
        fs::symlink_metadata(out.join("dev/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        fs::read(out.join(&long).join(&long).join("file")).unwrap(),
        b"deep"
    );
}

#[test]
fn write_tree_keeps_devices_skips_sockets_and_does_not_follow_symlinks() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("rootfs");
    sample_upper(&root_dir);
    let outside = dir.path().join("outside");
    file(&outside.join("secret"), b"s");
    symlink(&outside, root_dir.join("escape")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root_dir.join("sock")).unwrap();

    let mut tar_bytes = Vec::new();
    write_tree(&root_dir, &mut tar_bytes).unwrap();
    let names = entry_names(&tar_bytes);
    assert!(names.contains(&"escape".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("secret")), "{names:?}");
    assert!(!names.contains(&"sock".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(".wh.")), "{names:?}");

    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let passwd = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap() == Path::new("etc/passwd"))
        .unwrap();
    assert!(passwd.header().entry_type().is_character_special());
}

#[test]
fn pax_records_count_their_own_length() {
    assert_eq!(pax_record("a", b"b"), b"6 a=b\n");
    // 5 + 2 digits = 7 would be wrong once the length itself has 2 digits.
    let record = pax_record("key", &[b'v'; 4]);
    assert_eq!(record.len().to_string(), "12");
    assert!(record.starts_with(b"12 key="));
    let record = pax_record("k", &[b'v'; 94]);
    assert_eq!(record.len(), 101);
    assert!(record.starts_with(b"101 k="));
}
