//! Remote build contexts as Docker names them: a Git repository
//! (`https://host/repo.git#ref:dir`, `git@host:repo.git`, `ssh://…`,
//! `git://…`, `github.com/user/repo`) or an HTTP(S) URL of a tarball or a Dockerfile.

/// A context `hoist build` fetches before it can build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RemoteContext {
    /// A Git repository: cloned, `reference` checked out (the default
    /// branch when empty), `subdir` of it the context.
    Git {
        /// What `git clone` is given.
        url: String,
        /// A branch, tag or commit; empty for the default branch.
        reference: String,
        /// The context's directory inside the repository; empty for its root.
        subdir: String,
    },
    /// An HTTP(S) URL of a tarball (the context) or a text file (the
    /// Dockerfile, with an empty context).
    Url(String),
}

impl RemoteContext {
    /// What the build's PATH argument names, when it is remote; an error
    /// for a Git fragment that would leave the repository.
    pub(super) fn parse(path: &str) -> Result<Option<Self>, String> {
        let is_http = path.starts_with("http://") || path.starts_with("https://");
        let (location, fragment) = path.split_once('#').unwrap_or((path, ""));
        let is_git = path.starts_with("git://")
            || path.starts_with("git@")
            || path.starts_with("ssh://")
            || path.starts_with("github.com/")
            || (is_http && location.ends_with(".git"));
        if !is_git {
            return Ok(is_http.then(|| Self::Url(path.to_string())));
        }
        let url = match location.strip_prefix("github.com/") {
            Some(rest) => format!("https://github.com/{rest}"),
            None => location.to_string(),
        };
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        let subdir = subdir.trim_matches('/');
        if subdir.starts_with('/') || subdir.split('/').any(|part| part == "..") {
            return Err(format!(
                "the context directory {subdir:?} of {path} leaves the repository: give a path inside it"
            ));
        }
        Ok(Some(Self::Git {
            url,
            reference: reference.to_string(),
            subdir: subdir.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str, reference: &str, subdir: &str) -> Option<RemoteContext> {
        Some(RemoteContext::Git {
            url: url.into(),
            reference: reference.into(),
            subdir: subdir.into(),
        })
    }

    #[test]
    fn git_urls_and_their_fragments_are_read_as_docker_reads_them() {
        let parse = |p: &str| RemoteContext::parse(p).unwrap();
        assert_eq!(
            parse("https://example.com/team/app.git#v1.2:docker/web"),
            git("https://example.com/team/app.git", "v1.2", "docker/web")
        );
        assert_eq!(
            parse("https://example.com/team/app.git"),
            git("https://example.com/team/app.git", "", "")
        );
        assert_eq!(
            parse("git@example.com:team/app.git#main"),
            git("git@example.com:team/app.git", "main", "")
        );
        assert_eq!(
            parse("github.com/team/app#:sub/"),
            git("https://github.com/team/app", "", "sub")
        );
        assert_eq!(
            parse("http://127.0.0.1:8080/ctx.tar.gz"),
            Some(RemoteContext::Url(
                "http://127.0.0.1:8080/ctx.tar.gz".into()
            ))
        );
        assert_eq!(parse("."), None);
        assert_eq!(parse("some/dir#x"), None);
        let error = RemoteContext::parse("https://h/r.git#main:../up").unwrap_err();
        assert!(error.contains("leaves the repository"), "{error}");
    }
}
