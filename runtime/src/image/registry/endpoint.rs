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
    /// `HOST[:PORT]` names of registries that may be reached over plain
    /// HTTP or with unverified certificates (`--insecure-registry`).
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

/// Whether an `--insecure-registry` entry names `domain`: exactly, or by
/// host alone when the entry has no port (as Docker allows).
fn insecure_entry_matches(entry: &str, domain: &str) -> bool {
    let entry = entry
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    entry == domain || (!entry.contains(':') && domain.split(':').next() == Some(entry))
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
}
