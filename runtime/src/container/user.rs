//! Resolving `--user` (`name`, `uid`, `name:group`, `uid:gid`) against the
//! container's /etc/passwd and /etc/group, read through its layers without
//! mounting them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::image::layer::{OVERLAY_OPAQUE_XATTR, is_overlay_whiteout, xattr_get};

/// A user as the kernel wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary groups: the user's from /etc/group plus `--group-add`.
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME` when the environment has none).
    pub home: String,
}

/// Reads `path` from an overlay stack without mounting it: the upper
/// directory first, then each lower layer top-down, honouring whiteouts and
/// opaque directories.
pub fn read_layered_file(
    upper: &Path,
    lowers_top_first: &[PathBuf],
    path: &str,
) -> Option<Vec<u8>> {
    let relative = path.trim_start_matches('/');
    for layer in std::iter::once(upper).chain(lowers_top_first.iter().map(PathBuf::as_path)) {
        let candidate = layer.join(relative);
        if let Ok(meta) = fs::symlink_metadata(&candidate) {
            if is_overlay_whiteout(&meta) {
                return None;
            }
            return fs::read(&candidate).ok();
        }
        // An opaque parent hides everything below this layer.
        let mut dir = candidate.parent();
        while let Some(d) = dir {
            if d == layer {
                break;
            }
            if xattr_get(d, OVERLAY_OPAQUE_XATTR).ok().flatten().as_deref() == Some(b"y") {
                return None;
            }
            dir = d.parent();
        }
    }
    None
}

/// Resolves a Docker user string as runc does. Numeric IDs need no passwd
/// entry; names must be found. With no group given, the user's primary
/// group from passwd is used, or group 0 when the user is not listed. A
/// listed user gets its groups from /etc/group plus its primary group, as
/// a login would (initgroups).
pub fn resolve_user(
    user: &str,
    group_add: &[String],
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, String> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entries = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();
    let entry = entries.iter().find(|e| match user_part.parse::<u32>() {
        Ok(uid) => e.uid == uid,
        Err(_) => e.name == user_part,
    });
    let (uid, mut gid, home, name) = match (entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.clone(), Some(e.name.clone())),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            ));
        }
    };
    if let Some(g) = group_part {
        gid = lookup_group(g, &groups)?;
    }
    let mut additional_gids: Vec<u32> = match &name {
        // A forced group replaces the user's own groups.
        Some(name) if group_part.is_none() => std::iter::once(gid)
            .chain(
                groups
                    .iter()
                    .filter(|g| g.members.contains(name))
                    .map(|g| g.gid),
            )
            .collect(),
        _ => Vec::new(),
    };
    for extra in group_add {
        additional_gids.push(lookup_group(extra, &groups)?);
    }
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

fn lookup_group(group: &str, groups: &[GroupEntry]) -> Result<u32, String> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.gid)
        .ok_or_else(|| format!("unable to find group {group}: no matching entries in group file"))
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"/").to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nbob:x:1000:\nstaff:x:50:bob,www\naudio:x:29:bob\n";

    #[test]
    fn resolves_names_ids_and_groups() {
        let r = |u: &str| resolve_user(u, &[], Some(PASSWD), Some(GROUP));
        assert_eq!(r("").unwrap().uid, 0);
        let bob = r("bob").unwrap();
        assert_eq!(
            (bob.uid, bob.gid, bob.home.as_str()),
            (1000, 1000, "/home/bob")
        );
        assert_eq!(bob.additional_gids, vec![29, 50, 1000]);
        let www = r("www:staff").unwrap();
        assert_eq!((www.uid, www.gid), (33, 50));
        assert!(
            www.additional_gids.is_empty(),
            "a forced group replaces the user's groups"
        );
        let numeric = r("1234:5678").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1234, 5678));
        assert_eq!(r("1000").unwrap().home, "/home/bob");
        assert!(
            r("nobody")
                .unwrap_err()
                .contains("unable to find user nobody")
        );
        assert!(
            r("bob:nogroup")
                .unwrap_err()
                .contains("unable to find group nogroup")
        );
        let extra = resolve_user(
            "bob",
            &["audio".into(), "4242".into()],
            Some(PASSWD),
            Some(GROUP),
        )
        .unwrap();
        assert_eq!(extra.additional_gids, vec![29, 50, 1000, 4242]);
    }

    #[test]
    fn works_without_passwd_for_numeric_users() {
        let r = resolve_user("1000:1000", &[], None, None).unwrap();
        assert_eq!((r.uid, r.gid), (1000, 1000));
        let r = resolve_user("1000", &[], None, None).unwrap();
        assert_eq!(
            (r.uid, r.gid),
            (1000, 0),
            "runc's default group for an unlisted user is 0"
        );
        assert!(resolve_user("bob", &[], None, None).is_err());
    }

    #[test]
    fn reads_through_layers_with_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, top, bottom) = (
            dir.path().join("u"),
            dir.path().join("t"),
            dir.path().join("b"),
        );
        for d in [&upper, &top, &bottom] {
            fs::create_dir_all(d.join("etc")).unwrap();
        }
        fs::write(bottom.join("etc/passwd"), "old").unwrap();
        fs::write(bottom.join("etc/group"), "g").unwrap();
        fs::write(top.join("etc/passwd"), "new").unwrap();
        let lowers = vec![top.clone(), bottom.clone()];
        assert_eq!(
            read_layered_file(&upper, &lowers, "/etc/passwd").unwrap(),
            b"new"
        );
        assert_eq!(
            read_layered_file(&upper, &lowers, "/etc/group").unwrap(),
            b"g"
        );
        nix::sys::stat::mknod(
            &upper.join("etc/group"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        assert_eq!(read_layered_file(&upper, &lowers, "/etc/group"), None);
        assert_eq!(read_layered_file(&upper, &lowers, "/etc/shadow"), None);
    }
}
