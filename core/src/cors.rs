//! CORS decisions for browser apps on other origins (SPEC "Errors", `ALLOWED_ORIGINS`).

/// Which origins may call the worker from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: every origin is echoed back (development).
    Any,
    /// Exactly these origins (production; empty = none).
    List(Vec<String>),
}

/// Headers a browser may send, beyond the CORS-safelisted ones: SPEC's list, and
/// `x-edgeauth-session`, which asks for a session in a cookie (SPEC "Browser
/// sessions in a cookie"). Forwarded routes never see it (no `x-edgeauth-*` is forwarded).
pub const ALLOW_HEADERS: &str =
    "authorization, content-type, x-cli-signature, x-cli-timestamp, x-cli-nonce, x-edgeauth-session";
/// Methods a browser may use.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/// Headers a page may read from an answer: the SDK needs `Date` for its clock offset.
pub const EXPOSE_HEADERS: &str = "Date, WWW-Authenticate, Retry-After";
/// How long a browser may cache a preflight, in seconds.
pub const MAX_AGE_S: u32 = 600;

/// Whether a request is a CORS preflight, which the worker answers itself on every
/// path: an `OPTIONS` that names an `Origin` or an `Access-Control-Request-Method`.
/// (Browsers send both; a plain `OPTIONS` without either is an ordinary request.)
pub fn is_preflight(method: &str, origin: Option<&str>, request_method: Option<&str>) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && (origin.is_some() || request_method.is_some())
}

impl AllowedOrigins {
    /// Parses the comma-separated `ALLOWED_ORIGINS` setting.
    pub fn parse(setting: &str) -> Self {
        let items: Vec<String> = setting
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if items.iter().any(|s| s == "*") {
            AllowedOrigins::Any
        } else {
            AllowedOrigins::List(items)
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if it is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?.trim();
        if origin.is_empty() {
            return None;
        }
        match self {
            AllowedOrigins::Any => Some(origin.to_string()),
            AllowedOrigins::List(list) => {
                list.iter().any(|o| o == origin).then(|| origin.to_string())
            }
        }
    }

    /// Whether `origin` is named in the list itself. `*` names no one: it lets any
    /// site call the worker, not use a session's cookie (see [`crate::browser_session`]).
    pub fn names_explicitly(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => false,
            AllowedOrigins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    /// `Access-Control-Allow-Credentials: true`, for an origin the list names: only
    /// then may a page there send and receive the refresh cookie (cookie mode across
    /// origins). Never through `*`, which would hand every site the cookie's answers.
    fn credentials(&self, origin: &str) -> Option<(&'static str, String)> {
        self.names_explicitly(origin)
            .then(|| ("Access-Control-Allow-Credentials", "true".to_string()))
    }

    /// Headers for every answer to an allowed origin.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match self.allow(origin) {
            Some(o) => {
                let credentials = self.credentials(&o);
                let mut h = vec![
                    ("Access-Control-Allow-Origin", o),
                    ("Access-Control-Expose-Headers", EXPOSE_HEADERS.to_string()),
                    ("Vary", "Origin".to_string()),
                ];
                h.extend(credentials);
                h
            }
            None => Vec::new(),
        }
    }

    /// Headers for a preflight answer (204), or `None` when the origin is not allowed.
    pub fn preflight_headers(&self, origin: Option<&str>) -> Option<Vec<(&'static str, String)>> {
        let o = self.allow(origin)?;
        let credentials = self.credentials(&o);
        let mut h = vec![
            ("Access-Control-Allow-Origin", o),
            ("Access-Control-Allow-Methods", ALLOW_METHODS.to_string()),
            ("Access-Control-Allow-Headers", ALLOW_HEADERS.to_string()),
            ("Access-Control-Max-Age", MAX_AGE_S.to_string()),
            ("Access-Control-Expose-Headers", EXPOSE_HEADERS.to_string()),
            ("Vary", "Origin".to_string()),
        ];
        h.extend(credentials);
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflights_are_options_with_an_origin_or_a_requested_method() {
        assert!(is_preflight(
            "OPTIONS",
            Some("https://a.test"),
            Some("POST")
        ));
        assert!(is_preflight("OPTIONS", Some("https://a.test"), None));
        assert!(is_preflight("OPTIONS", None, Some("GET")));
        assert!(!is_preflight("OPTIONS", None, None));
        assert!(!is_preflight("GET", Some("https://a.test"), Some("GET")));
    }

    #[test]
    fn star_echoes_the_origin_and_a_list_is_exact() {
        let any = AllowedOrigins::parse("*");
        assert_eq!(
            any.allow(Some("https://app.test")),
            Some("https://app.test".into())
        );
        let list = AllowedOrigins::parse("https://a.test, https://b.test/");
        assert_eq!(
            list.allow(Some("https://b.test")),
            Some("https://b.test".into())
        );
        assert_eq!(list.allow(Some("https://evil.test")), None);
        assert_eq!(list.allow(Some("https://a.test.evil.test")), None);
        assert_eq!(list.allow(None), None);
    }

    #[test]
    fn empty_allows_nothing_and_preflight_lists_signing_headers() {
        assert!(AllowedOrigins::parse("")
            .preflight_headers(Some("https://a.test"))
            .is_none());
        let h = AllowedOrigins::Any
            .preflight_headers(Some("https://a.test"))
            .unwrap();
        let allow_headers = &h
            .iter()
            .find(|(k, _)| *k == "Access-Control-Allow-Headers")
            .unwrap()
            .1;
        assert!(allow_headers.contains("x-cli-nonce") && allow_headers.contains("authorization"));
        let r = AllowedOrigins::Any.response_headers(Some("https://a.test"));
        assert!(r.contains(&("Vary", "Origin".to_string())));
        assert!(r
            .iter()
            .any(|(k, v)| *k == "Access-Control-Expose-Headers" && v.contains("Date")));
    }

    #[test]
    fn credentials_only_for_origins_the_list_names() {
        let header = |h: &[(&str, String)], name: &str| {
            h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        };
        let listed = AllowedOrigins::parse("https://app.test");
        let r = listed.response_headers(Some("https://app.test"));
        assert_eq!(
            header(&r, "Access-Control-Allow-Credentials").as_deref(),
            Some("true")
        );
        let p = listed.preflight_headers(Some("https://app.test")).unwrap();
        assert_eq!(
            header(&p, "Access-Control-Allow-Credentials").as_deref(),
            Some("true")
        );
        assert!(header(&p, "Access-Control-Allow-Headers")
            .unwrap()
            .ends_with("x-cli-nonce, x-edgeauth-session"));
        let any = AllowedOrigins::Any;
        assert_eq!(
            header(
                &any.response_headers(Some("https://app.test")),
                "Access-Control-Allow-Credentials"
            ),
            None
        );
        let p = any.preflight_headers(Some("https://app.test")).unwrap();
        assert_eq!(header(&p, "Access-Control-Allow-Credentials"), None);
        assert!(!any.names_explicitly("https://app.test"));
        assert!(listed.names_explicitly("https://app.test"));
        assert!(!listed.names_explicitly("https://app.test/"));
    }
}
