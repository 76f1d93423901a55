//! Tests of the build context, one file per module under test.

mod context;
mod glob;
mod ignore;
mod sources;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// Creates the files (`path`, content), directories (path ending with `/`)
/// and symlinks (`path -> target`) of `spec` under `root`.
pub(super) fn make_tree(root: &Path, spec: &[&str]) {
    for item in spec {
        if let Some((link, target)) = item.split_once(" -> ") {
            let path = root.join(link);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            symlink(target, path).unwrap();
        } else if let Some(dir) = item.strip_suffix('/') {
            fs::create_dir_all(root.join(dir)).unwrap();
        } else {
            let path = root.join(item);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, format!("content of {item}")).unwrap();
        }
    }
}

/// Sets the permission bits of `path`.
pub(super) fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}
