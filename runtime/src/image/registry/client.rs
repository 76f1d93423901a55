//! One authorised session with one repository of a registry: finds the
//! API (HTTPS, or HTTP for insecure registries), answers the auth
//! challenge once, then sends requests with the token or credentials,
//! refreshing a token that expired, and turns error answers into
//! [`RegistryError`]s that say what happened.

use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::RegistryError;
use super::auth::{Challenge, TokenError, fetch_token, parse_challenges};
use super::credentials::Credentials;
use super::endpoint::{Endpoint, RegistryConfig};
use crate::image::Reference;

/// What a request carries to prove who we are.
#[derive(Debug, Clone)]
enum Authorization {
    None,
    Basic(Credentials),
    Bearer(String),
}

/// An authorised session with one repository.
#[derive(Debug)]
pub struct RegistryClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    base: String,
    repository: String,
    scopes: Vec<String>,
    credentials: Option<Credentials>,
    authorization: Mutex<Authorization>,
}

/// The `errors` array registries put in error bodies.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Debug, Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The registry's own words from an error body: `manifest unknown: …`.
pub fn error_detail(body: &str) -> String {
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(body)
        && !parsed.errors.is_empty()
    {
        return parsed
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_ascii_lowercase().replace('_', " ");
                if e.message.is_empty() || e.message == code {
                    code
                } else {
                    format!("{code}: {}", e.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let body = body.trim();
    if body.is_empty() {
        "no details given".to_string()
    } else {
        body.chars().take(200).collect()
    }
}

/// The HTTP client for registry traffic; `insecure` skips certificate
/// checks. Made once per kind: loading the system's root certificates
/// costs milliseconds, and one client shares its connections.
pub(crate) fn http_client(insecure: bool) -> Result<reqwest::Client, RegistryError> {
    static CLIENTS: [OnceLock<reqwest::Client>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = &CLIENTS[usize::from(insecure)];
    if let Some(client) = slot.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .danger_accept_invalid_certs(insecure)
        .build()
        .map_err(|e| RegistryError::Unsupported(format!("cannot set up HTTPS: {e}")))?;
    Ok(slot.get_or_init(|| client).clone())
}

/// The whole chain of a transport error, for messages.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why a registry was unreachable, with what to do about it.
fn unreachable(endpoint: &Endpoint, error: &reqwest::Error) -> RegistryError {
    let text = describe(error);
    let hint = if text.contains("Connection refused") {
        "nothing listens there: is the registry running, and is the address right?"
    } else if !endpoint.insecure
        && (text.contains("certificate") || text.contains("InvalidContentType"))
    {
        "its HTTPS could not be verified; if it serves plain HTTP or a self-signed certificate and you trust it, start the daemon with --insecure-registry HOST:PORT"
    } else if error.is_timeout() {
        "it did not answer in time"
    } else {
        "check the address and the network"
    };
    RegistryError::Unreachable {
        registry: endpoint.domain.clone(),
        reason: format!("{text} ({hint})"),
    }
}

/// Finds the registry's API: the first base URL whose `/v2/` answers.
/// Returns the client to use, the base URL and the ping's response.
async fn ping(endpoint: &Endpoint) -> Result<(reqwest::Client, String, Response), RegistryError> {
    let mut last_error = None;
    for base in endpoint.base_urls() {
        let http = http_client(endpoint.insecure)?;
        match http.get(format!("{base}/v2/")).send().await {
            Ok(response) => return Ok((http, base, response)),
            Err(e) => {
                tracing::debug!(%base, "registry ping failed: {}", describe(&e));
                last_error = Some(e);
            }
        }
    }
    Err(match last_error {
        Some(e) => unreachable(endpoint, &e),
        None => RegistryError::Unreachable {
            registry: endpoint.domain.clone(),
            reason: "no address to try".into(),
        },
    })
}

/// The challenges of a 401 answer.
fn challenges(response: &Response) -> Vec<Challenge> {
    response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect()
}

impl RegistryClient {
    /// Opens a session with `repository` (`library/busybox`) on the
    /// registry `domain`, authorised for `actions` (`pull`, `push`), and
    /// to pull from `mount_sources` (repositories a push may mount blobs
    /// from).
    pub async fn connect(
        config: &RegistryConfig,
        domain: &str,
        repository: &str,
        actions: &[&str],
        mount_sources: &[String],
        credentials: Option<Credentials>,
    ) -> Result<Self, RegistryError> {
        let endpoint = config.endpoint(domain);
        let (http, base, response) = ping(&endpoint).await?;
        let mut scopes = vec![format!("repository:{repository}:{}", actions.join(","))];
        scopes.extend(
            mount_sources
                .iter()
                .map(|source| format!("repository:{source}:pull")),
        );
        let mut client = Self {
            http,
            endpoint,
            base,
            repository: repository.to_string(),
            scopes,
            credentials,
            authorization: Mutex::new(Authorization::None),
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            let authorization = client.answer(&challenges(&response)).await?;
            client.authorization = Mutex::new(authorization);
        } else if status == StatusCode::NOT_FOUND {
            return Err(client.not_a_registry());
        }
        Ok(client)
    }

    /// `hoist login`: checks `credentials` against the registry `domain`.
    /// Succeeds when the registry accepts them (or needs none).
    pub async fn login(
        config: &RegistryConfig,
        domain: &str,
        credentials: &Credentials,
    ) -> Result<(), RegistryError> {
        let endpoint = config.endpoint(domain);
        let (http, base, response) = ping(&endpoint).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        let refused = |detail: String| RegistryError::LoginFailed {
            registry: domain.to_string(),
            detail,
        };
        let challenges = challenges(&response);
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer { realm, service, .. } => Some((realm, service)),
            Challenge::Basic => None,
        });
        if let Some((realm, service)) = bearer {
            return match fetch_token(&http, realm, service.as_deref(), &[], Some(credentials)).await
            {
                Ok(_) => Ok(()),
                Err(TokenError::Refused(detail)) => Err(refused(format!(
                    "unauthorized: incorrect username or password ({detail})"
                ))),
                Err(TokenError::Failed(detail)) => Err(RegistryError::Unreachable {
                    registry: domain.to_string(),
                    reason: detail,
                }),
            };
        }
        if challenges.contains(&Challenge::Basic) {
            let check = http
                .get(format!("{base}/v2/"))
                .basic_auth(&credentials.username, Some(&credentials.password))
                .send()
                .await
                .map_err(|e| unreachable(&endpoint, &e))?;
            return if check.status().is_success() {
                Ok(())
            } else {
                Err(refused(format!(
                    "unauthorized: incorrect username or password ({})",
                    check.status()
                )))
            };
        }
        Err(RegistryError::Unsupported(format!(
            "registry {domain} asks for an authentication scheme hoist does not speak"
        )))
    }

    /// The registry's name as references use it.
    pub fn domain(&self) -> &str {
        &self.endpoint.domain
    }

    /// The repository this session is for.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `{base}/v2/{repository}/{rest}`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }

    /// Answers a challenge: a token for our scopes, or our credentials.
    async fn answer(&self, challenges: &[Challenge]) -> Result<Authorization, RegistryError> {
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer { realm, service, .. } => Some((realm, service)),
            Challenge::Basic => None,
        });
        if let Some((realm, service)) = bearer {
            let token = fetch_token(
                &self.http,
                realm,
                service.as_deref(),
                &self.scopes,
                self.credentials.as_ref(),
            )
            .await
            .map_err(|e| match e {
                TokenError::Refused(detail) => self.denied(detail),
                TokenError::Failed(detail) => RegistryError::Unreachable {
                    registry: self.endpoint.domain.clone(),
                    reason: detail,
                },
            })?;
            return Ok(Authorization::Bearer(token));
        }
        if challenges.contains(&Challenge::Basic) {
            return match &self.credentials {
                Some(c) => Ok(Authorization::Basic(c.clone())),
                None => Err(self.denied("authentication required".into())),
            };
        }
        Err(RegistryError::Unsupported(format!(
            "registry {} asks for an authentication scheme hoist does not speak",
            self.endpoint.domain
        )))
    }

    fn action(&self) -> &'static str {
        if self.scopes.iter().any(|s| s.ends_with("push")) {
            "push"
        } else {
            "pull"
        }
    }

    fn denied(&self, detail: String) -> RegistryError {
        RegistryError::Denied {
            action: self.action(),
            repository: familiar(&self.endpoint.domain, &self.repository),
            detail,
        }
    }

    fn not_a_registry(&self) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.endpoint.domain.clone(),
            reason: format!(
                "{}/v2/ answered 404: this is not a container registry (no distribution API there)",
                self.base
            ),
        }
    }

    fn authorize(&self, builder: RequestBuilder, authorization: &Authorization) -> RequestBuilder {
        match authorization {
            Authorization::None => builder,
            Authorization::Basic(c) => builder.basic_auth(&c.username, Some(&c.password)),
            Authorization::Bearer(token) => builder.bearer_auth(token),
        }
    }

    /// Sends a request built by `build` (called again for the retry), with
    /// authorization; a 401 (an expired token, a registry that only now
    /// asks) is answered once and the request repeated.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let current = self.authorization.lock().await.clone();
        let first = self
            .authorize(build(self.http.request(method.clone(), url)), &current)
            .send()
            .await
            .map_err(|e| unreachable(&self.endpoint, &e))?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenges = challenges(&first);
        if challenges.is_empty() {
            return Err(self.denied(error_detail(&first.text().await.unwrap_or_default())));
        }
        let renewed = self.answer(&challenges).await?;
        *self.authorization.lock().await = renewed.clone();
        let second = self
            .authorize(build(self.http.request(method, url)), &renewed)
            .send()
            .await
            .map_err(|e| unreachable(&self.endpoint, &e))?;
        if second.status() == StatusCode::UNAUTHORIZED {
            let detail = error_detail(&second.text().await.unwrap_or_default());
            return Err(self.denied(detail));
        }
        Ok(second)
    }

    /// The URL an upload continues at: the `Location` of `response`,
    /// which may be relative to the registry.
    pub fn location(&self, response: &Response) -> Result<reqwest::Url, RegistryError> {
        let invalid = |reason: String| RegistryError::Invalid {
            what: "an upload answer".into(),
            registry: self.endpoint.domain.clone(),
            reason,
        };
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| invalid("it has no Location header".into()))?;
        reqwest::Url::parse(&self.base)
            .and_then(|base| base.join(location))
            .map_err(|e| invalid(format!("its Location {location:?} is not a URL: {e}")))
    }

    /// Reads a whole (small) answer: a manifest, a config.
    pub async fn read_body(
        &self,
        response: Response,
        what: &str,
    ) -> Result<bytes::Bytes, RegistryError> {
        response
            .bytes()
            .await
            .map_err(|e| RegistryError::Unreachable {
                registry: self.endpoint.domain.clone(),
                reason: format!("reading {what}: {e}"),
            })
    }

    /// Turns an unexpected answer into an error; `what` names the object
    /// (`manifest for app:1`) for a 404.
    pub async fn status_error(
        &self,
        response: Response,
        request: &str,
        what: &str,
    ) -> RegistryError {
        let status = response.status();
        let detail = error_detail(&response.text().await.unwrap_or_default());
        match status {
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                what: what.to_string(),
                detail,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => self.denied(detail),
            _ => RegistryError::Status {
                registry: self.endpoint.domain.clone(),
                status: status.as_u16(),
                request: request.to_string(),
                detail: if status.is_server_error() {
                    format!("{detail}; the registry failed, try again later")
                } else {
                    detail
                },
            },
        }
    }
}

/// `127.0.0.1:5000/app`, `busybox` (Docker Hub's library dropped).
pub fn familiar(domain: &str, repository: &str) -> String {
    Reference {
        domain: domain.to_string(),
        path: repository.to_string(),
        tag: None,
        digest: None,
    }
    .familiar_repository()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_the_registrys_words() {
        assert_eq!(
            error_detail(
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#
            ),
            "manifest unknown"
        );
        assert_eq!(
            error_detail(
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#
            ),
            "name unknown: repository name not known to registry"
        );
        assert_eq!(error_detail(""), "no details given");
        assert_eq!(error_detail("oops\n"), "oops");
    }

    #[test]
    fn familiar_names() {
        assert_eq!(familiar("docker.io", "library/busybox"), "busybox");
        assert_eq!(familiar("docker.io", "team/app"), "team/app");
        assert_eq!(familiar("127.0.0.1:5000", "app"), "127.0.0.1:5000/app");
    }
}
