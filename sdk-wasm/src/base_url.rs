//! `BaseUrl`: where the worker is, and which URLs may carry this client's credential.

use edgeauth_core::Reason;

use crate::error::SdkError;

/// The worker's base URL split into origin (`https://auth.example.com`) and
/// path prefix (`""` or `/edge`), without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    origin: String,
    prefix: String,
}

fn invalid(message: String) -> SdkError {
    SdkError::local(Reason::InvalidField, message)
}

impl BaseUrl {
    /// Accepts an absolute `http:` or `https:` URL without query or fragment.
    pub fn parse(raw: &str) -> Result<BaseUrl, SdkError> {
        let raw = raw.trim();
        let bad = || invalid(format!("baseUrl: {raw:?} is not an absolute http(s) URL"));
        let scheme_end = raw.find("://").ok_or_else(bad)?;
        let scheme = raw[..scheme_end].to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        if raw.contains(['?', '#']) {
            return Err(invalid(format!(
                "baseUrl: {raw:?} must not have a query or fragment"
            )));
        }
        let rest = &raw[scheme_end + 3..];
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        Ok(BaseUrl {
            origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// Where a session for this worker is kept by default: one key per worker
    /// (`edgeauth.session@https://auth.example.com`), so that two clients on one
    /// page, for two workers, never share a session.
    pub fn storage_key(&self) -> String {
        format!("edgeauth.session@{}{}", self.origin, self.prefix)
    }

    /// The URL of one of the worker's own endpoints (`/v1/auth/token`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.prefix)
    }

    /// The URL `client.fetch(input)` goes to: a path (`/api/x?y`) under the
    /// base URL, or an absolute URL under it. Anything else is refused, so the
    /// credential never leaves for another origin.
    pub fn resolve(&self, input: &str) -> Result<String, SdkError> {
        if input.starts_with('/') {
            return Ok(self.endpoint(input));
        }
        let base = format!("{}{}", self.origin, self.prefix);
        let under_base = input
            .get(..base.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(&base))
            && matches!(input.as_bytes().get(base.len()), None | Some(b'/' | b'?'));
        if under_base {
            Ok(format!("{base}{}", &input[base.len()..]))
        } else {
            Err(invalid(format!(
                "url: {input:?} is not under {base}; the client sends its credential nowhere else"
            )))
        }
    }

    /// The request target of a URL this type produced (for platforms without a URL parser).
    pub fn target_of(&self, url: &str) -> String {
        let rest = url.get(self.origin.len()..).unwrap_or("");
        if rest.is_empty() || rest.starts_with('?') {
            format!("/{rest}")
        } else {
            rest.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_keeps_its_session_under_its_own_key() {
        let key = |u: &str| BaseUrl::parse(u).unwrap().storage_key();
        assert_eq!(
            key("https://Auth.Example.com/"),
            "edgeauth.session@https://auth.example.com"
        );
        assert_eq!(
            key("https://auth.example.com"),
            key("https://auth.example.com/")
        );
        assert_ne!(key("https://a.example"), key("https://b.example"));
        assert_ne!(key("https://a.example/x"), key("https://a.example/y"));
    }

    #[test]
    fn splits_origin_and_prefix() {
        let b = BaseUrl::parse("https://Auth.Example.com/").unwrap();
        assert_eq!(
            b.endpoint("/v1/auth/token"),
            "https://auth.example.com/v1/auth/token"
        );
        let b = BaseUrl::parse(" http://127.0.0.1:8787/edge/ ").unwrap();
        assert_eq!(
            b.endpoint("/v1/auth/token"),
            "http://127.0.0.1:8787/edge/v1/auth/token"
        );
        assert_eq!(b.target_of(&b.endpoint("/api/x?y=1")), "/edge/api/x?y=1");
    }

    #[test]
    fn refuses_what_is_not_a_base_url() {
        for bad in [
            "",
            "auth.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "https://x/?a",
            "https://u@x",
        ] {
            let e = BaseUrl::parse(bad).unwrap_err();
            assert_eq!(e.reason, "invalid_field", "{bad}");
        }
    }

    #[test]
    fn resolves_paths_and_urls_under_the_base_only() {
        let b = BaseUrl::parse("https://auth.example.com/edge").unwrap();
        assert_eq!(
            b.resolve("/api/me").unwrap(),
            "https://auth.example.com/edge/api/me"
        );
        assert_eq!(
            b.resolve("https://AUTH.example.com/edge/api/me?x=1")
                .unwrap(),
            "https://auth.example.com/edge/api/me?x=1"
        );
        assert_eq!(
            b.resolve("https://auth.example.com/edge").unwrap(),
            "https://auth.example.com/edge"
        );
        for other in [
            "https://evil.example/edge/api",
            "https://auth.example.com.evil/edge/api",
            "https://auth.example.com/edgex/api",
            "https://auth.example.com/api",
            "http://auth.example.com/edge/api",
            "api/me",
        ] {
            assert!(b.resolve(other).is_err(), "{other}");
        }
    }

    #[test]
    fn target_of_the_bare_origin_is_slash() {
        let b = BaseUrl::parse("http://h").unwrap();
        assert_eq!(b.target_of("http://h"), "/");
        assert_eq!(b.target_of("http://h?x"), "/?x");
    }
}
