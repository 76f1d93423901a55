//! What a registry holds, asked without pulling: the manifest or index a
//! reference names, fetched and checked against its digest (`manifest
//! inspect`; with `platforms`, each platform's manifest of an index too),
//! and the tags of a repository (`pull --all-tags`).

use reqwest::{Method, header};

use super::pull::{PullOptions, fetch_document, manifest_name, pull_client};
use super::{RegistryError, media::Document};
use crate::image::Reference;

/// Pages of a tag list followed at most: a registry that links pages in
/// a loop stops here.
const MAX_TAG_PAGES: usize = 1000;

/// One document as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteManifest {
    /// Its media type (`application/vnd.oci.image.index.v1+json`, …).
    pub media_type: String,
    /// `sha256:` of its bytes.
    pub digest: String,
    /// Its bytes, as the registry sent them.
    pub bytes: Vec<u8>,
    /// For a platform's manifest of an index: the index entry's platform,
    /// as JSON.
    pub platform: Option<serde_json::Value>,
}

/// What the reference names (first), then, when it is an index and
/// `platforms` is asked, each of its manifests in the index's order.
pub async fn inspect(
    reference: &Reference,
    options: &PullOptions,
    platforms: bool,
) -> Result<Vec<RemoteManifest>, RegistryError> {
    let client = pull_client(reference, options).await?;
    let name = manifest_name(reference);
    let what = format!("manifest for {}", reference.familiar());
    let (digest, bytes, document) = fetch_document(&client, &name, &what).await?;
    let mut manifests = vec![RemoteManifest {
        media_type: media_type(&document),
        digest,
        bytes,
        platform: None,
    }];
    if let (true, Document::Index(index)) = (platforms, document) {
        for entry in index.manifests() {
            let digest = entry.digest().to_string();
            let what = format!("manifest {digest} of {}", reference.familiar());
            let (digest, bytes, document) = fetch_document(&client, &digest, &what).await?;
            manifests.push(RemoteManifest {
                media_type: media_type(&document),
                digest,
                bytes,
                platform: entry
                    .platform()
                    .as_ref()
                    .and_then(|p| serde_json::to_value(p).ok()),
            });
        }
    }
    Ok(manifests)
}

/// The media type a document declares, or the OCI one of its kind.
fn media_type(document: &Document) -> String {
    match document {
        Document::Index(index) => index
            .media_type()
            .as_ref()
            .map_or(super::media::OCI_INDEX.to_string(), ToString::to_string),
        Document::Manifest(manifest) => manifest
            .media_type()
            .as_ref()
            .map_or(super::media::OCI_MANIFEST.to_string(), ToString::to_string),
    }
}

/// Every tag of the reference's repository (`GET /v2/NAME/tags/list`),
/// page after page as the registry's `Link` headers lead.
pub async fn list_tags(
    reference: &Reference,
    options: &PullOptions,
) -> Result<Vec<String>, RegistryError> {
    #[derive(serde::Deserialize)]
    struct TagList {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let client = pull_client(reference, options).await?;
    let what = format!("tags of {}", reference.familiar_repository());
    let invalid = |reason: String| RegistryError::Invalid {
        what: what.clone(),
        registry: client.domain().to_string(),
        reason,
    };
    let mut url = client.url("tags/list");
    let mut tags = Vec::new();
    for _ in 0..MAX_TAG_PAGES {
        let response = client.send(Method::GET, &url, |b| b).await?;
        if !response.status().is_success() {
            let request = format!("GET /v2/{}/tags/list", client.repository());
            return Err(client.status_error(response, &request, &what).await);
        }
        let next = response
            .headers()
            .get(header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_page);
        let body = client.read_body(response, &what).await?;
        let page: TagList = serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
        tags.extend(page.tags.unwrap_or_default());
        let Some(next) = next else {
            return Ok(tags);
        };
        url = reqwest::Url::parse(&url)
            .and_then(|base| base.join(&next))
            .map_err(|e| invalid(format!("its next page {next:?} is not a URL: {e}")))?
            .to_string();
    }
    Err(invalid(format!("it has more than {MAX_TAG_PAGES} pages")))
}

/// The target of a `Link: <…>; rel="next"` header.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_the_link_marked_next() {
        assert_eq!(
            next_page("</v2/app/tags/list?last=b&n=2>; rel=\"next\""),
            Some("/v2/app/tags/list?last=b&n=2".to_string())
        );
        assert_eq!(
            next_page("<https://r/v2/x?p=1>; rel=\"prev\", <https://r/v2/x?p=3>; rel=\"next\""),
            Some("https://r/v2/x?p=3".to_string())
        );
        assert_eq!(next_page("</v2/x>; rel=\"prev\""), None);
        assert_eq!(next_page("garbage"), None);
    }
}
