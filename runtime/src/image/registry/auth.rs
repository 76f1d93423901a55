//! Registry authentication as Docker does it: the registry answers 401 with
//! a `WWW-Authenticate` challenge; `Basic` means "send the credentials",
//! `Bearer` means "fetch a token for this scope from the realm (with the
//! credentials, if any) and send that".

use std::time::Duration;

use serde::Deserialize;

use super::credentials::Credentials;

/// One challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic: send username and password with every request.
    Basic,
    /// A token service (Docker Hub and most registries).
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The `service` parameter to send it.
        service: Option<String>,
        /// The scope the registry asked for, if it said.
        scope: Option<String>,
    },
}

/// Parses every challenge in a `WWW-Authenticate` header value; unknown
/// schemes are skipped.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    for (scheme, params) in split_challenges(header) {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            out.push(Challenge::Basic);
        } else if scheme.eq_ignore_ascii_case("bearer")
            && let Some(realm) = param("realm")
        {
            out.push(Challenge::Bearer {
                realm,
                service: param("service"),
                scope: param("scope"),
            });
        }
    }
    out
}

/// Splits `Scheme k="v", k2=v2, Scheme2 …` into schemes with parameters.
fn split_challenges(header: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut challenges: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest.find(['=', ',', ' ', '\t']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if token.is_empty() {
            break;
        }
        if let Some(value_part) = after.strip_prefix('=') {
            let (value, remaining) = parse_value(value_part.trim_start());
            if let Some((_, params)) = challenges.last_mut() {
                params.push((token.to_string(), value));
            }
            rest = remaining;
        } else {
            challenges.push((token.to_string(), Vec::new()));
            rest = after;
        }
    }
    challenges
}

/// A quoted string (with `\` escapes) or a token, and what follows it.
fn parse_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = input.find([',', ' ', '\t']).unwrap_or(input.len());
        (input[..end].to_string(), &input[end..])
    }
}

/// A token service's answer.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Why a token could not be had.
#[derive(Debug)]
pub enum TokenError {
    /// The token service refused the credentials (401/403).
    Refused(String),
    /// The token service could not be reached or answered nonsense.
    Failed(String),
}

/// Fetches a Bearer token for `scopes` from `realm`, with `credentials`
/// when given (Basic for username/password, the OAuth2 refresh grant for
/// an identity token), as Docker's client does.
pub async fn fetch_token(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credentials: Option<&Credentials>,
) -> Result<String, TokenError> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(service) = service {
        query.push(("service", service));
    }
    for scope in scopes {
        query.push(("scope", scope));
    }
    let request = match credentials {
        Some(c) if !c.identity_token.is_empty() => {
            let mut form = query.clone();
            form.extend([
                ("grant_type", "refresh_token"),
                ("refresh_token", c.identity_token.as_str()),
                ("client_id", "hoist"),
            ]);
            http.post(realm).form(&form)
        }
        Some(c) => http
            .get(realm)
            .query(&query)
            .basic_auth(&c.username, Some(&c.password)),
        None => http.get(realm).query(&query),
    };
    let response = request
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| TokenError::Failed(format!("token service {realm}: {e}")))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| TokenError::Failed(format!("token service {realm}: {e}")))?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(TokenError::Refused(format!(
            "the token service refused the credentials ({status}): {}",
            body.trim()
        )));
    }
    if !status.is_success() {
        return Err(TokenError::Failed(format!(
            "token service {realm} answered {status}: {}",
            body.trim()
        )));
    }
    let parsed: TokenResponse = serde_json::from_str(&body)
        .map_err(|e| TokenError::Failed(format!("token service {realm} sent no token: {e}")))?;
    parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Failed(format!("token service {realm} sent an empty token")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_challenge() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse_challenges(header),
            [Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }]
        );
    }

    #[test]
    fn basic_and_several_challenges() {
        assert_eq!(
            parse_challenges(r#"Basic realm="Registry Realm""#),
            [Challenge::Basic]
        );
        let both = r#"Basic realm="x", Bearer realm="https://a/t", service=reg, scope="repository:a:pull,push""#;
        assert_eq!(
            parse_challenges(both),
            [
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "https://a/t".into(),
                    service: Some("reg".into()),
                    scope: Some("repository:a:pull,push".into()),
                }
            ]
        );
    }

    #[test]
    fn escapes_unknown_schemes_and_junk() {
        assert_eq!(
            parse_challenges(r#"Bearer realm="https://a/\"t\"""#),
            [Challenge::Bearer {
                realm: "https://a/\"t\"".into(),
                service: None,
                scope: None,
            }]
        );
        assert!(parse_challenges(r#"Negotiate abc, Bearer service="x""#).is_empty());
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("=,=\"").is_empty());
    }
}
