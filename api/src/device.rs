//! Host devices given to a container: `--device` mappings and
//! `--device-cgroup-rule` rules, with Docker's syntax and checks, shared by
//! the CLI, the compose crate and the daemon.

use serde::{Deserialize, Serialize};

/// A host device (or a directory of devices) made available in a container
/// (`--device /dev/sdc:/dev/xvdc:rw`); Docker's `HostConfig.Devices` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The device node, or a directory holding device nodes, on the host.
    pub path_on_host: String,
    /// Where it appears in the container.
    pub path_in_container: String,
    /// What the container may do with it: a mix of `r` (read), `w` (write)
    /// and `m` (mknod).
    pub cgroup_permissions: String,
}

/// Permissions a mapping gets when it names none.
pub const DEFAULT_PERMISSIONS: &str = "rwm";

impl DeviceMapping {
    /// The mapping of `host` to `container` with `permissions`, unchecked.
    pub fn new(host: &str, container: &str, permissions: &str) -> Self {
        Self {
            path_on_host: host.to_string(),
            path_in_container: container.to_string(),
            cgroup_permissions: permissions.to_string(),
        }
    }

    /// Parses Docker's `HOST[:CONTAINER][:PERMISSIONS]` (`/dev/fuse`,
    /// `/dev/sda:/dev/xvda`, `/dev/sda:r`, `/dev/sda:/dev/xvda:rw`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, permissions) = match parts.as_slice() {
            [host] => (*host, *host, DEFAULT_PERMISSIONS),
            [host, second] if valid_permissions(second) => (*host, *host, *second),
            [host, container] => (*host, *container, DEFAULT_PERMISSIONS),
            [host, container, permissions] => {
                if !valid_permissions(permissions) {
                    return Err(format!(
                        "bad device permissions {permissions:?} in {text:?}: use a mix of r, w and m"
                    ));
                }
                (*host, *container, *permissions)
            }
            _ => {
                return Err(format!(
                    "invalid device specification {text:?}: use HOST[:CONTAINER][:PERMISSIONS]"
                ));
            }
        };
        let mapping = Self::new(host, container, permissions);
        mapping.check()?;
        Ok(mapping)
    }

    /// Checks a mapping however it was made (flag, compose file, API): both
    /// paths absolute, permissions a mix of `r`, `w` and `m`.
    pub fn check(&self) -> Result<(), String> {
        if !self.path_on_host.starts_with('/') && self.path_on_host.contains('=') {
            return Err(format!(
                "{:?} is a CDI device name: hoist takes device nodes only (HOST[:CONTAINER][:PERMISSIONS])",
                self.path_on_host
            ));
        }
        for (path, what) in [
            (&self.path_on_host, "host"),
            (&self.path_in_container, "container"),
        ] {
            if !path.starts_with('/') {
                return Err(format!(
                    "device {what} path {path:?} is not an absolute path"
                ));
            }
        }
        if !valid_permissions(&self.cgroup_permissions) {
            return Err(format!(
                "bad device permissions {:?} for {}: use a mix of r, w and m",
                self.cgroup_permissions, self.path_on_host
            ));
        }
        Ok(())
    }
}

/// Whether `mode` is a mix of `r`, `w` and `m`, each at most once.
pub fn valid_permissions(mode: &str) -> bool {
    !mode.is_empty()
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && ['r', 'w', 'm']
            .iter()
            .all(|c| mode.chars().filter(|m| m == c).count() <= 1)
}

/// Checks a device cgroup rule as Docker does: `TYPE MAJOR:MINOR ACCESS`,
/// TYPE one of `a`, `b`, `c`, MAJOR and MINOR numbers or `*`, ACCESS a mix
/// of `r`, `w` and `m` (`c 42:* rmw`).
pub fn check_cgroup_rule(rule: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "invalid device cgroup rule {rule:?}: use TYPE MAJOR:MINOR ACCESS, like 'c 42:* rmw'"
        )
    };
    let fields: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = fields.as_slice() else {
        return Err(bad());
    };
    let number = |n: &str| n == "*" || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let valid = matches!(*kind, "a" | "b" | "c")
        && numbers
            .split_once(':')
            .is_some_and(|(major, minor)| number(major) && number(minor))
        && access.len() <= 3
        && valid_permissions(access);
    if valid { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_device_forms() {
        assert_eq!(
            DeviceMapping::parse("/dev/fuse").unwrap(),
            DeviceMapping::new("/dev/fuse", "/dev/fuse", "rwm")
        );
        assert_eq!(
            DeviceMapping::parse("/dev/sda:/dev/xvda").unwrap(),
            DeviceMapping::new("/dev/sda", "/dev/xvda", "rwm")
        );
        assert_eq!(
            DeviceMapping::parse("/dev/sda:r").unwrap(),
            DeviceMapping::new("/dev/sda", "/dev/sda", "r")
        );
        assert_eq!(
            DeviceMapping::parse("/dev/sda:/dev/xvda:mw").unwrap(),
            DeviceMapping::new("/dev/sda", "/dev/xvda", "mw")
        );
    }

    #[test]
    fn refuses_bad_devices() {
        for bad in [
            "",
            "dev/sda",
            "/dev/sda:xvda",
            "/dev/sda:/dev/xvda:rx",
            "/dev/sda:/dev/xvda:rr",
            "/dev/sda:/dev/xvda:rw:extra",
        ] {
            assert!(DeviceMapping::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let cdi = DeviceMapping::parse("vendor.com/device=gpu").unwrap_err();
        assert!(cdi.contains("CDI"), "{cdi}");
        let error = DeviceMapping::parse("/dev/sda:/dev/xvda:rx").unwrap_err();
        assert!(error.contains("\"rx\""), "{error}");
    }

    #[test]
    fn checks_cgroup_rules_as_docker_does() {
        for good in ["c 42:* rmw", "b 8:0 r", "a *:* rwm", "c 1:3 m"] {
            assert_eq!(check_cgroup_rule(good), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            "c 42 rmw",
            "x 1:3 r",
            "c 1:3",
            "c 1:3 rwx",
            "c 1:3 rwmr",
            "c  1:3 r",
            "c a:3 r",
        ] {
            assert!(check_cgroup_rule(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
