//! A container's devices: the host nodes its `--device`s name (and all of
//! the host's for a privileged container) as OCI devices for the runtime
//! to make, and the cgroup rules that let the container use them.

use hoist_api::device::{DEFAULT_PERMISSIONS, check_cgroup_rule};
use hoist_api::spec::ContainerSpec;
use hoist_runtime::devices::{DeviceKind, HostDevice, host_devices, mapped};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType};
use tonic::Status;

use crate::error::{internal, invalid};

/// What [`devices`] gives a container.
#[derive(Debug, Default)]
pub struct ContainerDevices {
    /// Nodes to make in the container.
    pub nodes: Vec<LinuxDevice>,
    /// `devices.allow` rules beyond Docker's defaults.
    pub rules: Vec<String>,
}

/// Checks a spec's `--device`s and `--device-cgroup-rule`s, including that
/// each device is on this host, so that `create` refuses what `start`
/// would.
pub fn check(spec: &ContainerSpec) -> Result<(), Status> {
    asked(spec).map(drop)
}

/// The devices of `spec`, looked up on the host now (at each start, as
/// Docker does: a replugged device may have new numbers): those it asks
/// for, and for a privileged container every device of the host.
pub fn devices(spec: &ContainerSpec) -> Result<ContainerDevices, Status> {
    let mut out = asked(spec)?;
    if spec.privileged {
        let all = host_devices().map_err(|e| internal(format!("cannot list /dev: {e}")))?;
        let nodes = all.iter().map(node).collect::<Result<Vec<_>, _>>()?;
        out.nodes.splice(0..0, nodes);
    }
    Ok(out)
}

/// The `--device`s and `--device-cgroup-rule`s of `spec`, checked.
fn asked(spec: &ContainerSpec) -> Result<ContainerDevices, Status> {
    let mut out = ContainerDevices::default();
    for mapping in &spec.devices {
        mapping.check().map_err(invalid)?;
        let found = mapped(
            mapping.path_on_host.as_ref(),
            mapping.path_in_container.as_ref(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        for device in &found {
            out.nodes.push(node(device)?);
            out.rules.push(format!(
                "{} {}:{} {}",
                device.kind.letter(),
                device.major,
                device.minor,
                mapping.cgroup_permissions
            ));
        }
    }
    for rule in &spec.device_cgroup_rules {
        check_cgroup_rule(rule).map_err(invalid)?;
        out.rules.push(rule.clone());
    }
    Ok(out)
}

/// Refuses, on a host whose cgroups cannot limit device access (cgroup v2
/// where the eBPF device filter cannot be loaded), what only that limit
/// enforces: a device given with fewer than `rwm` permissions would be
/// fully usable, and a cgroup rule would grant nothing (CAP_MKNOD is held
/// back there).
pub fn enforceable(spec: &ContainerSpec, limits_devices: bool) -> Result<(), Status> {
    if limits_devices || spec.privileged {
        return Ok(());
    }
    if let Some(limited) = spec
        .devices
        .iter()
        .find(|d| d.cgroup_permissions.len() < DEFAULT_PERMISSIONS.len())
    {
        return Err(invalid(format!(
            "device {} with permissions {:?} cannot be enforced on this host: its cgroup v2 has no device filter (hoist could not load the eBPF program; see the daemon's log). Give it rwm, or leave the permissions out",
            limited.path_on_host, limited.cgroup_permissions
        )));
    }
    if let Some(rule) = spec.device_cgroup_rules.first() {
        return Err(invalid(format!(
            "--device-cgroup-rule {rule:?} cannot be enforced on this host: its cgroup v2 has no device filter (hoist could not load the eBPF program; see the daemon's log)"
        )));
    }
    Ok(())
}

/// The OCI device for a host device.
fn node(device: &HostDevice) -> Result<LinuxDevice, Status> {
    let typ = match device.kind {
        DeviceKind::Block => LinuxDeviceType::B,
        DeviceKind::Char => LinuxDeviceType::C,
    };
    let number = |n: u64| {
        i64::try_from(n).map_err(|_| internal(format!("device number {n} is out of range")))
    };
    LinuxDeviceBuilder::default()
        .path(device.path.clone())
        .typ(typ)
        .major(number(device.major)?)
        .minor(number(device.minor)?)
        .file_mode(device.mode)
        .uid(device.uid)
        .gid(device.gid)
        .build()
        .map_err(|e| internal(format!("device {}: {e}", device.path.display())))
}

#[cfg(test)]
mod tests {
    use hoist_api::device::DeviceMapping;

    use super::*;

    fn spec(devices: &[&str], rules: &[&str]) -> ContainerSpec {
        ContainerSpec {
            devices: devices
                .iter()
                .map(|d| DeviceMapping::parse(d).unwrap())
                .collect(),
            device_cgroup_rules: rules.iter().map(|r| r.to_string()).collect(),
            ..ContainerSpec::default()
        }
    }

    #[test]
    fn a_mapped_device_is_made_and_allowed_as_asked() {
        let out = devices(&spec(&["/dev/null:/dev/quiet:r"], &["c 10:200 rwm"])).unwrap();
        assert_eq!(out.nodes.len(), 1);
        let node = &out.nodes[0];
        assert_eq!(node.path().to_str(), Some("/dev/quiet"));
        assert_eq!(
            (node.typ(), node.major(), node.minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(node.file_mode(), Some(0o666));
        assert_eq!(out.rules, vec!["c 1:3 r", "c 10:200 rwm"]);
    }

    #[test]
    fn a_privileged_container_gets_the_hosts_devices() {
        let out = devices(&ContainerSpec {
            privileged: true,
            ..ContainerSpec::default()
        })
        .unwrap();
        assert!(
            out.nodes
                .iter()
                .any(|n| n.path().to_str() == Some("/dev/zero"))
        );
        assert!(out.rules.is_empty());
    }

    #[test]
    fn a_host_without_a_device_filter_refuses_what_it_cannot_enforce() {
        let limited = spec(&["/dev/null:r"], &[]);
        let rule = spec(&[], &["c 1:3 r"]);
        let full = spec(&["/dev/null"], &[]);
        assert!(enforceable(&limited, true).is_ok());
        assert!(enforceable(&rule, true).is_ok());
        assert!(enforceable(&full, false).is_ok());
        let error = enforceable(&limited, false).unwrap_err();
        assert!(error.message().contains("/dev/null"), "{}", error.message());
        assert!(enforceable(&rule, false).is_err());
    }

    #[test]
    fn missing_devices_and_bad_rules_are_refused() {
        let missing = check(&spec(&["/dev/hoist-no-such-device"], &[])).unwrap_err();
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
        assert!(
            missing.message().contains("/dev/hoist-no-such-device"),
            "{}",
            missing.message()
        );
        let rule = check(&spec(&[], &["c 1:3 rwx"])).unwrap_err();
        assert!(rule.message().contains("c 1:3 rwx"), "{}", rule.message());
        let relative = ContainerSpec {
            devices: vec![DeviceMapping::new("dev/null", "/dev/null", "rwm")],
            ..ContainerSpec::default()
        };
        assert!(check(&relative).is_err());
    }
}
