//! Where a registry's API lives: `docker.io` means
//! `https://registry-1.docker.io`, everything else `https://HOST[:PORT]`,
//! and plain HTTP (or HTTPS without certificate checks) only for the
//! registries the daemon was told to trust (`--insecure-registry`).

use super::super::reference::DEFAULT_DOMAIN;

/// The API host behind Docker Hub's `docker.io` names.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Registry settings of one daemon.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `HOST[:PORT]` names or CIDR ranges of registries that may be
    /// reached over plain HTTP or with unverified certificates
    /// (`--insecure-registry`).
    pub insecure: Vec<String>,
}

impl RegistryConfig {
    /// How to reach the registry named `domain` (as in a reference).
    pub fn endpoint(&self, domain: &str) -> Endpoint {
        let api_host = if domain == DEFAULT_DOMAIN || domain == "index.docker.io" {
            DOCKER_HUB_API.to_string()
        } else {
            domain.to_string()
        };
        let insecure = self
            .insecure
            .iter()
            .any(|entry| insecure_entry_matches(entry, domain));
        Endpoint {
            domain: domain.to_string(),
            api_host,
            insecure,
        }
    }
}

/// Whether an `--insecure-registry` entry names `domain`: exactly, by
/// host alone when the entry has no port, or as a CIDR range holding the
/// domain's IP address (as Docker allows; names are not resolved).
fn insecure_entry_matches(entry: &str, domain: &str) -> bool {
    let entry = entry
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    if let Some((network, prefix)) = entry.split_once('/') {
        return in_cidr(network, prefix, host_of(domain));
    }
    entry == domain || (!entry.contains(':') && domain.split(':').next() == Some(entry))
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => domain,
    }
}

/// Whether the IP literal `host` lies in `network/prefix`.
fn in_cidr(network: &str, prefix: &str, host: &str) -> bool {
    use std::net::IpAddr;
    let (Ok(network), Ok(prefix), Ok(host)) = (
        network.parse::<IpAddr>(),
        prefix.parse::<u32>(),
        host.parse::<IpAddr>(),
    ) else {
        return false;
    };
    let (network, host, width) = match (network, host) {
        (IpAddr::V4(n), IpAddr::V4(h)) => (u128::from(u32::from(n)), u128::from(u32::from(h)), 32),
        (IpAddr::V6(n), IpAddr::V6(h)) => (u128::from(n), u128::from(h), 128),
        _ => return false,
    };
    if prefix > width {
        return false;
    }
    let shift = width - prefix;
    shift == width || (network >> shift) == (host >> shift)
}

/// One registry's API address and how far to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The name references use (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// Where requests go (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub api_host: String,
    /// Plain HTTP and unverified certificates allowed.
    pub insecure: bool,
}

impl Endpoint {
    /// Base URLs to try, best first: HTTPS, then (insecure only) HTTP.
    pub fn base_urls(&self) -> Vec<String> {
        let mut urls = vec![format!("https://{}", self.api_host)];
        if self.insecure {
            urls.push(format!("http://{}", self.api_host));
        }
        urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names_go_to_its_api_host() {
        let config = RegistryConfig::default();
        let hub = config.endpoint("docker.io");
        assert_eq!(hub.api_host, "registry-1.docker.io");
        assert!(!hub.insecure);
        assert_eq!(hub.base_urls(), ["https://registry-1.docker.io"]);
    }

    #[test]
    fn insecure_registries_are_only_those_configured() {
        let config = RegistryConfig {
            insecure: vec!["127.0.0.1:5000".into(), "http://plain.example".into()],
        };
        let local = config.endpoint("127.0.0.1:5000");
        assert!(local.insecure);
        assert_eq!(
            local.base_urls(),
            ["https://127.0.0.1:5000", "http://127.0.0.1:5000"]
        );
        assert!(!config.endpoint("127.0.0.1:5001").insecure);
        assert!(config.endpoint("plain.example:8443").insecure);
        assert!(!config.endpoint("other.example").insecure);
    }

    #[test]
    fn insecure_ranges_match_ip_literals() {
        let config = RegistryConfig {
            insecure: vec!["10.0.0.0/8".into(), "fd00::/8".into()],
        };
        assert!(config.endpoint("10.1.2.3:5000").insecure);
        assert!(config.endpoint("10.9.9.9").insecure);
        assert!(!config.endpoint("11.0.0.1:5000").insecure);
        assert!(config.endpoint("[fd00::1]:5000").insecure);
        assert!(!config.endpoint("[fe80::1]:5000").insecure);
        assert!(!config.endpoint("ten.example:5000").insecure);
        let everything = RegistryConfig {
            insecure: vec!["0.0.0.0/0".into(), "1.2.3.4/40".into()],
        };
        assert!(everything.endpoint("192.0.2.1:80").insecure);
    }
}
