//! The media types a pull meets (OCI and Docker v2 manifests, indexes and
//! manifest lists, gzip/zstd/plain layers) and choosing a platform's
//! manifest from an index.

use std::fmt;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::super::config::host_architecture;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// What a manifest request accepts, best first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// The largest manifest accepted (as containerd: 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Config media types of container images.
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Layer media types a pull can unpack (compression is read from the
/// content itself).
const LAYER_TYPES: [&str; 8] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
];

/// A manifest document as fetched.
#[derive(Debug)]
pub enum Document {
    /// An index / manifest list: one manifest per platform.
    Index(Box<ImageIndex>),
    /// One image's manifest.
    Manifest(Box<ImageManifest>),
}

/// Reads a manifest body, using the `Content-Type` the registry sent or
/// the document's own `mediaType`.
pub fn parse_document(content_type: &str, body: &[u8]) -> Result<Document, String> {
    let declared =
        serde_json::from_slice::<serde_json::Value>(body).map_err(|e| format!("not JSON: {e}"))?;
    let own_type = declared
        .get("mediaType")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let content_type = content_type.split(';').next().unwrap_or_default().trim();
    let kind = if own_type.is_empty() {
        content_type.to_string()
    } else {
        own_type
    };
    let is_index = kind == OCI_INDEX
        || kind == DOCKER_LIST
        || (kind.is_empty() || kind == "application/json") && declared.get("manifests").is_some();
    let is_manifest = kind == OCI_MANIFEST
        || kind == DOCKER_MANIFEST
        || (kind.is_empty() || kind == "application/json") && declared.get("layers").is_some();
    if kind.starts_with("application/vnd.docker.distribution.manifest.v1") {
        return Err(
            "it is a schema 1 manifest, which Docker retired in 2019; push the image again with a current client"
                .into(),
        );
    }
    if is_index {
        serde_json::from_value(declared)
            .map(|index| Document::Index(Box::new(index)))
            .map_err(|e| format!("bad image index: {e}"))
    } else if is_manifest {
        serde_json::from_value(declared)
            .map(|manifest| Document::Manifest(Box::new(manifest)))
            .map_err(|e| format!("bad image manifest: {e}"))
    } else {
        Err(format!("unknown manifest media type {kind:?}"))
    }
}

/// Checks that a manifest describes a container image hoist can unpack.
pub fn check_image(manifest: &ImageManifest) -> Result<(), String> {
    let config_type = manifest.config().media_type().to_string();
    if !CONFIG_TYPES.contains(&config_type.as_str()) {
        return Err(format!(
            "it is not a container image (its config is {config_type})"
        ));
    }
    for layer in manifest.layers() {
        let media_type = layer.media_type().to_string();
        if !LAYER_TYPES.contains(&media_type.as_str()) {
            return Err(format!(
                "layer {} has media type {media_type}, which hoist cannot unpack",
                layer.digest()
            ));
        }
    }
    Ok(())
}

/// An OS/architecture/variant triple (`linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// Go's architecture name (`amd64`).
    pub architecture: String,
    /// CPU variant (`v7`), if any.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform hoist runs on.
    pub fn host() -> Self {
        Self {
            os: "linux".into(),
            architecture: host_architecture().into(),
            variant: default_variant(host_architecture()).map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]` as `--platform` takes it (`arch` alone
    /// means linux); empty means the host.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::host());
        }
        let parts: Vec<&str> = text.split('/').collect();
        let (os, architecture, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => {
                return Err(format!(
                    "invalid platform {text:?}: expected os/arch[/variant]"
                ));
            }
        };
        if os.is_empty() || architecture.is_empty() || variant.is_some_and(str::is_empty) {
            return Err(format!(
                "invalid platform {text:?}: expected os/arch[/variant]"
            ));
        }
        let architecture = normalise_architecture(&architecture.to_ascii_lowercase());
        Ok(Self {
            os: os.to_ascii_lowercase(),
            variant: variant
                .map(str::to_ascii_lowercase)
                .or_else(|| default_variant(&architecture).map(str::to_string)),
            architecture,
        })
    }

    /// Whether an index entry's platform is this one.
    fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let architecture = normalise_architecture(architecture);
        let variant = variant.or(default_variant(&architecture));
        os == self.os
            && architecture == self.architecture
            && (self.variant.is_none() || variant == self.variant.as_deref())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

fn normalise_architecture(architecture: &str) -> String {
    match architecture {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "armhf" => "arm",
        other => other,
    }
    .to_string()
}

/// The variant an architecture means when none is named (as containerd).
fn default_variant(architecture: &str) -> Option<&'static str> {
    match architecture {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

/// The index entry for `wanted`, or an error listing what there is.
pub fn select<'a>(index: &'a ImageIndex, wanted: &Platform) -> Result<&'a Descriptor, String> {
    let mut available = Vec::new();
    for entry in index.manifests() {
        let Some(platform) = entry.platform() else {
            continue;
        };
        let os = platform.os().to_string();
        let architecture = platform.architecture().to_string();
        if wanted.matches(&os, &architecture, platform.variant().as_deref()) {
            return Ok(entry);
        }
        if os != "unknown" {
            let mut name = format!("{os}/{architecture}");
            if let Some(variant) = platform.variant() {
                name.push('/');
                name.push_str(variant);
            }
            available.push(name);
        }
    }
    Err(if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"os":"linux","architecture":"arm64"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"platform":{"os":"linux","architecture":"amd64"}},
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#;

    fn index() -> ImageIndex {
        match parse_document("", INDEX.as_bytes()).unwrap() {
            Document::Index(index) => *index,
            other => panic!("not an index: {other:?}"),
        }
    }

    #[test]
    fn picks_the_platform_asked_for() {
        let index = index();
        let digest = |p: &str| {
            select(&index, &Platform::parse(p).unwrap())
                .map(|d| d.digest().to_string()[7..8].to_string())
        };
        assert_eq!(digest("linux/amd64").unwrap(), "3");
        assert_eq!(digest("linux/arm64").unwrap(), "2");
        assert_eq!(digest("linux/aarch64/v8").unwrap(), "2");
        assert_eq!(digest("linux/arm/v6").unwrap(), "1");
        assert_eq!(
            digest("linux/arm").unwrap_err(),
            "linux/arm/v6, linux/arm64, linux/amd64"
        );
        assert!(digest("windows/amd64").is_err());
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(Platform::parse("").unwrap(), Platform::host());
        assert_eq!(
            Platform::parse("arm64").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        for bad in ["linux/", "a/b/c/d", "/amd64", "linux/arm/"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_documents() {
        let docker = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":2}]}"#;
        let Document::Manifest(manifest) =
            parse_document(DOCKER_MANIFEST, docker.as_bytes()).unwrap()
        else {
            panic!("not a manifest");
        };
        check_image(&manifest).unwrap();
        let helm = docker.replace(
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.cncf.helm.config.v1+json",
        );
        let Document::Manifest(chart) = parse_document("", helm.as_bytes()).unwrap() else {
            panic!("not a manifest");
        };
        assert!(
            check_image(&chart)
                .unwrap_err()
                .contains("not a container image")
        );
        let schema1 = r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(
            parse_document("", schema1.as_bytes())
                .unwrap_err()
                .contains("schema 1")
        );
        assert!(
            parse_document("", b"{}")
                .unwrap_err()
                .contains("unknown manifest media type")
        );
        assert!(
            parse_document("", b"<html>")
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
