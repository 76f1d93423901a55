//! Checks a service spec before it is stored, and lists what the cluster
//! will not honour, so that a user learns it at `service create` rather
//! than from a task that never runs.

use hoist_api::service::{PublishMode, ServiceMode, ServiceSpec};

use crate::scheduler::constraint::Constraint;

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid service spec: {0}")]
pub struct InvalidSpec(pub String);

/// The longest service name (a DNS label, as in Swarm).
const MAX_NAME: usize = 63;

/// Checks `spec`; returns warnings about what will not be honoured.
pub fn validate(spec: &ServiceSpec) -> Result<Vec<String>, InvalidSpec> {
    let bad = |why: String| Err(InvalidSpec(why));
    let name = &spec.name;
    let valid_name = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid_name {
        return bad(format!(
            "service name {name:?} must be 1-{MAX_NAME} characters of [a-zA-Z0-9_.-], starting with a letter or digit"
        ));
    }
    if spec.task.container.image.trim().is_empty() {
        return bad(format!("service {name}: an image is required"));
    }
    if !spec.task.container.files.is_empty() {
        return bad(format!(
            "service {name}: container files come from secrets and configs: use --secret or --config"
        ));
    }
    crate::secrets::references::check(spec).map_err(InvalidSpec)?;
    for text in &spec.task.placement.constraints {
        Constraint::parse(text).map_err(|e| InvalidSpec(e.to_string()))?;
    }
    for preference in &spec.task.placement.preferences {
        let valid = preference
            .strip_prefix("spread=")
            .is_some_and(|key| key.starts_with("node.labels.") && key.len() > "node.labels.".len());
        if !valid {
            return bad(format!(
                "placement preference {preference:?}: use spread=node.labels.<name>"
            ));
        }
    }
    let reservations = spec.task.reservations;
    if reservations.nano_cpus < 0 || reservations.memory_bytes < 0 {
        return bad(format!("service {name}: reservations cannot be negative"));
    }
    let policy = spec.task.restart_policy;
    if policy.delay_ns < 0 || policy.window_ns < 0 {
        return bad(format!(
            "service {name}: restart delay and window cannot be negative"
        ));
    }
    if !matches!(spec.endpoint.mode.as_str(), "" | "vip" | "dnsrr") {
        return bad(format!(
            "endpoint mode {:?}: use vip or dnsrr",
            spec.endpoint.mode
        ));
    }
    let mut warnings = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for port in &spec.endpoint.ports {
        if port.target_port == 0 {
            return bad(format!(
                "service {name}: a published port needs a target port"
            ));
        }
        if !matches!(port.protocol.as_str(), "tcp" | "udp" | "sctp") {
            return bad(format!(
                "port {}: the protocol must be tcp, udp or sctp",
                port.target_port
            ));
        }
        if port.published_port != 0 && !seen.insert((port.published_port, port.protocol.clone())) {
            return bad(format!(
                "port {}/{} is published twice",
                port.published_port, port.protocol
            ));
        }
        if port.publish_mode == PublishMode::Ingress {
            warnings.push(format!(
                "port {}->{}/{} (ingress) is not served: the routing mesh comes with overlay networking; publish it with mode=host to bind it on the nodes that run a task",
                port.published_port, port.target_port, port.protocol
            ));
        }
    }
    if let ServiceMode::Global = spec.mode
        && spec.task.placement.max_replicas_per_node > 0
    {
        return bad(format!(
            "service {name}: max replicas per node applies to replicated services only"
        ));
    }
    if !spec.task.container.restart_policy.is_none() {
        warnings.push(format!(
            "the container restart policy {:?} is ignored: the cluster replaces tasks under the service's restart policy",
            spec.task.container.restart_policy.name
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_api::service::PortConfig;

    fn spec() -> ServiceSpec {
        let mut spec = ServiceSpec {
            name: "web".into(),
            ..ServiceSpec::default()
        };
        spec.task.container.image = "busybox".into();
        spec
    }

    #[test]
    fn a_plain_spec_passes_without_warnings() {
        assert_eq!(validate(&spec()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_names_images_and_constraints_are_refused_with_the_reason() {
        let mut s = spec();
        s.name = "-web".into();
        assert!(validate(&s).unwrap_err().0.contains("service name"));
        let mut s = spec();
        s.task.container.image.clear();
        assert!(validate(&s).unwrap_err().0.contains("image is required"));
        let mut s = spec();
        s.task.placement.constraints = vec!["node.colour==red".into()];
        assert!(validate(&s).unwrap_err().0.contains("node.colour==red"));
        let mut s = spec();
        s.task.placement.preferences = vec!["spread=zone".into()];
        assert!(validate(&s).unwrap_err().0.contains("spread=node.labels"));
    }

    #[test]
    fn ingress_ports_are_a_warning_and_duplicates_an_error() {
        let mut s = spec();
        let port = PortConfig {
            target_port: 80,
            published_port: 8080,
            protocol: "tcp".into(),
            publish_mode: PublishMode::Ingress,
        };
        s.endpoint.ports = vec![port.clone()];
        let warnings = validate(&s).unwrap();
        assert!(warnings[0].contains("mode=host"), "{warnings:?}");
        s.endpoint.ports = vec![port.clone(), port];
        assert!(validate(&s).unwrap_err().0.contains("published twice"));
    }
}
