//! The policy file (SPEC "Scopes and policy"): routes, path patterns, and first-match-wins lookup.

use serde_json::{Map, Value};

use crate::error::{ApiError, Reason};
use crate::scope::Scope;

/// The development policy for the echo origin, as SPEC "Local development" lists it.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../policy.default.json");

const ROUTE_FIELDS: [&str; 9] = [
    "method",
    "path",
    "scopes",
    "auth",
    "signature",
    "query_token",
    "tenant_param",
    "resource_param",
    "max_body_bytes",
];

/// Which request methods a route applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodMatch {
    /// `"*"`: every method.
    Any,
    /// One method, upper case (`"GET"`). `GET` does not imply `HEAD`.
    Only(String),
}

impl MethodMatch {
    /// Whether a request method matches. HTTP methods are case-sensitive
    /// (RFC 9110 §9.1), so `get` is not `GET`.
    pub fn matches(&self, method: &str) -> bool {
        match self {
            MethodMatch::Any => true,
            MethodMatch::Only(m) => m == method,
        }
    }
}

/// Whether a route needs a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A valid credential is needed (the default).
    Required,
    /// Anyone may call; no credential is read and none is forwarded.
    None,
}

/// What a route says about request signatures (SPEC "Request signing").
///
/// A signature that is present is verified on every route that reads a
/// credential, whatever this says: SPEC wants a wrong, stale or replayed
/// signature refused, never ignored. The policy only decides what happens
/// to unsigned requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignaturePolicy {
    /// Unsigned requests pass, and are not logged (`auth: none` routes are
    /// always this: without a credential there is no key to sign with).
    None,
    /// Unsigned requests pass and are logged. The default.
    Optional,
    /// Unsigned requests are refused with `signature_missing`.
    Required,
}

impl SignaturePolicy {
    /// Given whether the request carries a signature, decides whether it must
    /// be verified (`Ok(true)`: always, when present), may pass unsigned
    /// (`Ok(false)`), or is missing where required (401 `signature_missing`).
    pub fn must_verify(self, present: bool) -> Result<bool, ApiError> {
        match (self, present) {
            (_, true) => Ok(true),
            (SignaturePolicy::Required, false) => Err(ApiError::new(Reason::SignatureMissing)),
            (SignaturePolicy::None | SignaturePolicy::Optional, false) => Ok(false),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A route's path pattern: literal segments, `:name` (exactly one non-empty
/// segment) and a trailing `*` (zero or more further segments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    segments: Vec<Segment>,
    rest: bool,
}

impl PathPattern {
    /// Parses a pattern such as `/api/v1/tenants/:tenant/*`.
    pub fn parse(pattern: &str) -> Result<PathPattern, String> {
        let Some(body) = pattern.strip_prefix('/') else {
            return Err("must start with '/'".into());
        };
        let mut segments = Vec::new();
        let mut rest = false;
        let parts: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if rest {
                return Err("'*' may only be the last segment".into());
            }
            if part.is_empty() {
                return Err("has an empty segment (a '//' or a trailing '/')".into());
            }
            if *part == "*" {
                if !last {
                    return Err("'*' may only be the last segment".into());
                }
                rest = true;
            } else if let Some(name) = part.strip_prefix(':') {
                if !is_param_name(name) {
                    return Err(format!(
                        "':{name}' is not a parameter name (letters, digits and _, not starting with a digit)"
                    ));
                }
                if segments
                    .iter()
                    .any(|s| matches!(s, Segment::Param(n) if n == name))
                {
                    return Err(format!("parameter ':{name}' appears twice"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else {
                check_literal(part)?;
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(PathPattern {
            raw: pattern.to_string(),
            segments,
            rest,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the pattern names this `:param`.
    pub fn has_param(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) if n == name))
    }

    /// Matches already-decoded path segments; returns the parameters on a match.
    fn match_segments(&self, path: &[String]) -> Option<Vec<(String, String)>> {
        if path.len() < self.segments.len() || (!self.rest && path.len() != self.segments.len()) {
            return None;
        }
        let mut params = Vec::new();
        for (seg, value) in self.segments.iter().zip(path) {
            match seg {
                Segment::Literal(l) if l == value => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if value.is_empty() => return None,
                Segment::Param(name) => params.push((name.clone(), value.clone())),
            }
        }
        Some(params)
    }

    /// Whether a request path (pathname, optionally with `?query`) matches,
    /// and with which parameters. See [`Policy::match_request`] for how the
    /// path is read.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        self.match_segments(&split_request_path(path)?)
    }
}

fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_literal(part: &str) -> Result<(), String> {
    if part == "." || part == ".." {
        return Err(format!("'{part}' is not allowed as a segment"));
    }
    if part.starts_with(':') || part.contains('*') {
        return Err(format!(
            "'{part}': ':' starts a parameter and '*' stands alone at the end"
        ));
    }
    if let Some(c) = part
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '%' | '?' | '#' | '\\'))
    {
        return Err(format!(
            "'{part}' holds {c:?}; write literal segments decoded, without '%', '?', '#', '\\' or spaces"
        ));
    }
    Ok(())
}

/// Splits a request path into percent-decoded segments, or `None` when the
/// path is one edgeauth refuses to interpret: not starting with `/`, a bad
/// `%` escape or non-UTF-8 bytes, a segment that decodes to `.`/`..` or holds
/// `/`, `\` or NUL. Origins decode and normalise paths, so matching the raw
/// text would let `/api/scans/%64ashboard` slip past the `dashboard` route
/// into a later, weaker one.
fn split_request_path(path: &str) -> Option<Vec<String>> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let body = path.get(..end)?.strip_prefix('/')?;
    if body.is_empty() {
        return Some(Vec::new());
    }
    body.split('/')
        .map(|raw| {
            let seg = percent_decode(raw)?;
            if seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
                None
            } else {
                Some(seg)
            }
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_val(*bytes.get(i + 1)?)?;
            let lo = hex_val(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One route of the policy, typed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: MethodMatch,
    pub pattern: PathPattern,
    /// Scopes the caller must hold (concrete, never wildcards).
    pub scopes: Vec<Scope>,
    pub auth: Auth,
    pub signature: SignaturePolicy,
    /// Whether `?token=<credential>` is accepted instead of `Authorization`.
    pub query_token: bool,
    /// The `:param` that names the tenant (a tenant route).
    pub tenant_param: Option<String>,
    /// The `:param` that names the resource checked against a key's resources.
    pub resource_param: Option<String>,
    /// A per-route body limit for forwarded requests, overriding `MAX_BODY_BYTES`.
    pub max_body_bytes: Option<u64>,
}

impl Route {
    /// The scopes as strings (for `insufficient_scope`'s `WWW-Authenticate`).
    pub fn scope_strings(&self) -> Vec<String> {
        self.scopes.iter().map(Scope::to_string).collect()
    }

    fn from_value(v: &Value) -> Result<Route, String> {
        let obj = v.as_object().ok_or("must be an object")?;
        if let Some(unknown) = obj.keys().find(|k| !ROUTE_FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "{unknown}: unknown field (expected one of {})",
                ROUTE_FIELDS.join(", ")
            ));
        }
        let method = match opt_str(obj, "method")? {
            None | Some("*") => MethodMatch::Any,
            Some(m)
                if !m.is_empty() && m.len() <= 20 && m.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                MethodMatch::Only(m.to_ascii_uppercase())
            }
            Some(_) => return Err("method: must be \"*\" or an HTTP method such as \"GET\"".into()),
        };
        let path = opt_str(obj, "path")?.ok_or("path: is required")?;
        let pattern = PathPattern::parse(path).map_err(|e| format!("path: {e}"))?;
        let scopes = match obj.get("scopes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut scopes = Vec::with_capacity(items.len());
                for (j, item) in items.iter().enumerate() {
                    let text = item
                        .as_str()
                        .ok_or_else(|| format!("scopes[{j}]: must be a string"))?;
                    let scope = Scope::parse(text).map_err(|_| {
                        format!("scopes[{j}]: '{text}' is not a scope (resource:action)")
                    })?;
                    if scope.is_wildcard() {
                        return Err(format!(
                            "scopes[{j}]: a route requires concrete scopes, not the wildcard '{text}'"
                        ));
                    }
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
                scopes
            }
            Some(_) => return Err("scopes: must be an array of strings".into()),
        };
        let auth = match opt_str(obj, "auth")? {
            None | Some("required") => Auth::Required,
            Some("none") => Auth::None,
            Some(_) => return Err("auth: must be \"required\" or \"none\"".into()),
        };
        let signature = match opt_str(obj, "signature")? {
            None | Some("optional") => SignaturePolicy::Optional,
            Some("none") => SignaturePolicy::None,
            Some("required") => SignaturePolicy::Required,
            Some(_) => {
                return Err("signature: must be \"none\", \"optional\" or \"required\"".into())
            }
        };
        let query_token = match obj.get("query_token") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("query_token: must be true or false".into()),
        };
        let param = |field: &str| -> Result<Option<String>, String> {
            match opt_str(obj, field)? {
                None => Ok(None),
                Some(name) if pattern.has_param(name) => Ok(Some(name.to_string())),
                Some(name) => Err(format!(
                    "{field}: the path {path} has no parameter ':{name}'"
                )),
            }
        };
        let tenant_param = param("tenant_param")?;
        let resource_param = param("resource_param")?;
        let max_body_bytes = match obj.get("max_body_bytes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or("max_body_bytes: must be a whole number of bytes")?,
            ),
        };
        let signature = if auth == Auth::None {
            if !scopes.is_empty() {
                return Err("scopes: an auth \"none\" route cannot require scopes".into());
            }
            if signature == SignaturePolicy::Required {
                return Err(
                    "signature: an auth \"none\" route has no credential to sign with".into(),
                );
            }
            if query_token {
                return Err("query_token: an auth \"none\" route reads no credential".into());
            }
            if tenant_param.is_some() || resource_param.is_some() {
                return Err(
                    "tenant_param/resource_param: an auth \"none\" route has no identity to check"
                        .into(),
                );
            }
            SignaturePolicy::None
        } else {
            signature
        };
        Ok(Route {
            method,
            pattern,
            scopes,
            auth,
            signature,
            query_token,
            tenant_param,
            resource_param,
            max_body_bytes,
        })
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

/// A request matched to a route, with the path's parameters (percent-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub route: &'a Route,
    /// The route's position in the policy (for logs).
    pub index: usize,
    /// The request's method (a route may match several).
    pub method: String,
    pub params: Vec<(String, String)>,
}

impl RouteMatch<'_> {
    /// A `:param`'s value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The tenant this request is in, on tenant routes.
    pub fn tenant(&self) -> Option<&str> {
        self.param(self.route.tenant_param.as_deref()?)
    }

    /// The resource this request acts on, on routes with `resource_param`.
    pub fn resource(&self) -> Option<&str> {
        self.param(self.route.resource_param.as_deref()?)
    }
}

/// The loaded policy: routes in file order, first match wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    routes: Vec<Route>,
}

impl Policy {
    /// Parses and checks a policy file. Errors name the route and field
    /// (`routes[3].tenant_param: ...`); unknown fields are errors, so that a
    /// typo such as `"scope"` cannot silently drop a requirement.
    pub fn from_json(json: &str) -> Result<Policy, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or("must be an object {\"routes\": [...]}")?;
        if let Some(unknown) = obj.keys().find(|k| k.as_str() != "routes") {
            return Err(format!("{unknown}: unknown field (expected \"routes\")"));
        }
        let list = obj
            .get("routes")
            .and_then(Value::as_array)
            .ok_or("routes: must be an array")?;
        let routes = list
            .iter()
            .enumerate()
            .map(|(i, r)| Route::from_value(r).map_err(|e| format!("routes[{i}].{e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { routes })
    }

    /// The default development policy (`core/policy.default.json`).
    pub fn default_policy() -> Policy {
        // The file is checked by a unit test; should it ever fail to parse, an
        // empty policy refuses every request rather than allowing any.
        Policy::from_json(DEFAULT_POLICY_JSON).unwrap_or(Policy { routes: Vec::new() })
    }

    /// The routes, in order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route matching `method` and `path` (pathname, optionally
    /// with `?query`, which is ignored). Path segments are percent-decoded
    /// before comparison; a path with dot segments, encoded `/` or `\`, or bad
    /// escapes matches nothing. `None` means 404 `no_route`, whatever the method.
    pub fn match_request(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let segments = split_request_path(path)?;
        self.routes.iter().enumerate().find_map(|(index, route)| {
            if !route.method.matches(method) {
                return None;
            }
            let params = route.pattern.match_segments(&segments)?;
            Some(RouteMatch {
                route,
                index,
                method: method.to_string(),
                params,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(routes: &str) -> Result<Policy, String> {
        Policy::from_json(&format!(r#"{{"routes": [{routes}]}}"#))
    }

    #[test]
    fn the_default_policy_is_spec_local_development() {
        let p = Policy::from_json(DEFAULT_POLICY_JSON).unwrap();
        assert_eq!(p, Policy::default_policy());
        assert_eq!(p.routes().len(), 8);

        let health = p.match_request("GET", "/health").unwrap();
        assert_eq!(health.route.auth, Auth::None);
        assert_eq!(health.route.signature, SignaturePolicy::None);

        let me = p.match_request("GET", "/api/me").unwrap();
        assert_eq!(me.route.auth, Auth::Required);
        assert!(me.route.scopes.is_empty());

        let dash = p.match_request("GET", "/api/scans/dashboard?x=1").unwrap();
        assert_eq!(dash.route.scope_strings(), vec!["scans:read"]);

        let trig = p.match_request("POST", "/api/scans/trigger/r1").unwrap();
        assert_eq!(trig.route.scope_strings(), vec!["scans:trigger"]);
        assert_eq!(trig.resource(), Some("r1"));
        assert_eq!(trig.route.signature, SignaturePolicy::Optional);

        let drifts = p.match_request("GET", "/api/drifts").unwrap();
        assert_eq!(drifts.route.scope_strings(), vec!["drifts:read"]);
        assert!(!drifts.route.query_token);

        let ws = p.match_request("GET", "/api/ws/drifts?token=abc").unwrap();
        assert!(ws.route.query_token);
        assert_eq!(ws.route.scope_strings(), vec!["drifts:read"]);

        let signed = p.match_request("POST", "/api/signed/a/b").unwrap();
        assert_eq!(signed.route.signature, SignaturePolicy::Required);
        assert!(signed.route.scopes.is_empty());
        assert!(p.match_request("POST", "/api/signed").is_some());

        for m in ["GET", "POST", "DELETE", "PATCH"] {
            let t = p
                .match_request(m, "/api/v1/tenants/demo/projects/7")
                .unwrap();
            assert_eq!(t.tenant(), Some("demo"));
            assert!(t.route.scopes.is_empty());
        }
        assert_eq!(
            p.match_request("GET", "/api/v1/tenants/demo")
                .unwrap()
                .tenant(),
            Some("demo")
        );
    }

    #[test]
    fn no_route_whatever_the_method() {
        let p = Policy::default_policy();
        assert!(p.match_request("POST", "/health").is_none());
        assert!(p.match_request("HEAD", "/health").is_none());
        assert!(p.match_request("get", "/health").is_none());
        assert!(p.match_request("GET", "/nope").is_none());
        assert!(p.match_request("GET", "/api/me/").is_none());
        assert!(p.match_request("GET", "/api/me/x").is_none());
        assert!(p.match_request("GET", "/API/me").is_none());
        assert!(p.match_request("POST", "/api/scans/trigger/").is_none());
        assert!(p.match_request("POST", "/api/scans/trigger/a/b").is_none());
        assert!(p.match_request("GET", "/api/v1/tenants//x").is_none());
        assert!(p.match_request("GET", "").is_none());
        assert!(p.match_request("GET", "health").is_none());
    }

    #[test]
    fn first_match_wins() {
        let p = policy(
            r#"{"method": "GET", "path": "/a/:id", "scopes": ["a:read"]},
               {"method": "*", "path": "/a/*", "auth": "none"}"#,
        )
        .unwrap();
        let m = p.match_request("GET", "/a/1").unwrap();
        assert_eq!(m.index, 0);
        assert_eq!(m.param("id"), Some("1"));
        assert_eq!(m.param("nope"), None);
        assert_eq!(p.match_request("POST", "/a/1").unwrap().index, 1);
        assert_eq!(p.match_request("GET", "/a/1/2").unwrap().index, 1);
    }

    #[test]
    fn encoded_paths_cannot_skip_a_stricter_route() {
        let p = policy(
            r#"{"method": "GET", "path": "/api/scans/dashboard", "scopes": ["scans:read"]},
               {"method": "GET", "path": "/api/*", "auth": "none"}"#,
        )
        .unwrap();
        assert_eq!(
            p.match_request("GET", "/api/scans/%64ashboard")
                .unwrap()
                .index,
            0
        );
        assert_eq!(
            p.match_request("GET", "/api/scans/dashboard")
                .unwrap()
                .index,
            0
        );
        // Dot segments, encoded separators and bad escapes match nothing at all.
        for bad in [
            "/api/x/../scans/dashboard",
            "/api/./scans/dashboard",
            "/api/%2e%2e/scans/dashboard",
            "/api/.%2E/x",
            "/api/scans%2fdashboard",
            "/api/scans%5cdashboard",
            "/api/%00",
            "/api/%zz",
            "/api/%4",
            "/api/%ff",
        ] {
            assert!(p.match_request("GET", bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn params_are_decoded_and_never_empty() {
        let p =
            policy(r#"{"method": "*", "path": "/t/:tenant/*", "tenant_param": "tenant"}"#).unwrap();
        assert_eq!(
            p.match_request("GET", "/t/my%20team/x").unwrap().tenant(),
            Some("my team")
        );
        assert_eq!(
            p.match_request("GET", "/t/%C3%A9/x").unwrap().tenant(),
            Some("é")
        );
        assert!(p.match_request("GET", "/t//x").is_none());
        assert!(p.match_request("GET", "/t/%2F/x").is_none());
        let root = policy(r#"{"method": "GET", "path": "/", "auth": "none"}"#).unwrap();
        assert!(root.match_request("GET", "/").is_some());
        assert!(root.match_request("GET", "/?a=b").is_some());
        assert!(root.match_request("GET", "/x").is_none());
    }

    #[test]
    fn validation_names_the_route_and_field() {
        let cases = [
            (
                r#"{"path": "/x", "tenant_param": "t"}"#,
                "routes[0].tenant_param",
            ),
            (
                r#"{"path": "/x/:id", "resource_param": "repo"}"#,
                "routes[0].resource_param",
            ),
            (r#"{"path": "x"}"#, "routes[0].path"),
            (r#"{"method": "GET"}"#, "routes[0].path"),
            (r#"{"path": "/a/*/b"}"#, "routes[0].path"),
            (r#"{"path": "/a//b"}"#, "routes[0].path"),
            (r#"{"path": "/a/"}"#, "routes[0].path"),
            (r#"{"path": "/a/:"}"#, "routes[0].path"),
            (r#"{"path": "/a/:1x"}"#, "routes[0].path"),
            (r#"{"path": "/a/:x/:x"}"#, "routes[0].path"),
            (r#"{"path": "/a/%41"}"#, "routes[0].path"),
            (r#"{"path": "/a/.."}"#, "routes[0].path"),
            (r#"{"path": "/a/b*"}"#, "routes[0].path"),
            (
                r#"{"path": "/x", "scopes": ["bad"]}"#,
                "routes[0].scopes[0]",
            ),
            (
                r#"{"path": "/x", "scopes": ["scans:*"]}"#,
                "routes[0].scopes[0]",
            ),
            (r#"{"path": "/x", "scopes": "a:b"}"#, "routes[0].scopes"),
            (r#"{"path": "/x", "auth": "maybe"}"#, "routes[0].auth"),
            (
                r#"{"path": "/x", "signature": "yes"}"#,
                "routes[0].signature",
            ),
            (
                r#"{"path": "/x", "query_token": "yes"}"#,
                "routes[0].query_token",
            ),
            (
                r#"{"path": "/x", "max_body_bytes": -1}"#,
                "routes[0].max_body_bytes",
            ),
            (r#"{"path": "/x", "method": "G E T"}"#, "routes[0].method"),
            (r#"{"path": "/x", "scope": ["a:b"]}"#, "routes[0].scope"),
            (
                r#"{"path": "/x", "auth": "none", "scopes": ["a:b"]}"#,
                "routes[0].scopes",
            ),
            (
                r#"{"path": "/x", "auth": "none", "signature": "required"}"#,
                "routes[0].signature",
            ),
            (
                r#"{"path": "/x/:t", "auth": "none", "tenant_param": "t"}"#,
                "routes[0].tenant_param",
            ),
        ];
        for (route, prefix) in cases {
            let err = policy(&format!(r#"{{"path": "/ok"}}, {route}"#))
                .map_err(|e| e.replacen("routes[1]", "routes[0]", 1))
                .unwrap_err();
            assert!(err.starts_with(prefix), "{route}: {err}");
        }
        assert!(Policy::from_json("[]").is_err());
        assert!(Policy::from_json("{").is_err());
        assert!(Policy::from_json(r#"{"routes": {}}"#).is_err());
        assert!(Policy::from_json(r#"{"routes": [], "extra": 1}"#).is_err());
        assert!(Policy::from_json(r#"{"routes": []}"#)
            .unwrap()
            .match_request("GET", "/")
            .is_none());
    }

    #[test]
    fn route_fields_are_typed_with_defaults() {
        let p = policy(
            r#"{"method": "post", "path": "/u/:repo", "scopes": ["a:b", "a:b"], "resource_param": "repo", "max_body_bytes": 1048576, "signature": "none"}"#,
        )
        .unwrap();
        let r = &p.routes()[0];
        assert_eq!(r.method, MethodMatch::Only("POST".into()));
        assert_eq!(r.scope_strings(), vec!["a:b"]);
        assert_eq!(r.max_body_bytes, Some(1_048_576));
        assert_eq!(r.signature, SignaturePolicy::None);
        assert_eq!(r.auth, Auth::Required);
        assert_eq!(r.pattern.as_str(), "/u/:repo");
        let d = policy(r#"{"path": "/x"}"#).unwrap();
        assert_eq!(d.routes()[0].method, MethodMatch::Any);
        assert_eq!(d.routes()[0].signature, SignaturePolicy::Optional);
        assert!(!d.routes()[0].query_token);
    }

    #[test]
    fn signature_policy_decides_what_to_verify() {
        assert_eq!(SignaturePolicy::Optional.must_verify(false), Ok(false));
        assert_eq!(SignaturePolicy::Optional.must_verify(true), Ok(true));
        assert_eq!(SignaturePolicy::Required.must_verify(true), Ok(true));
        assert_eq!(
            SignaturePolicy::Required
                .must_verify(false)
                .unwrap_err()
                .reason,
            Reason::SignatureMissing
        );
        assert_eq!(SignaturePolicy::None.must_verify(true), Ok(true));
        assert_eq!(SignaturePolicy::None.must_verify(false), Ok(false));
    }

    #[test]
    fn pattern_matches_directly() {
        let pat = PathPattern::parse("/a/:b/*").unwrap();
        assert_eq!(pat.matches("/a/x"), Some(vec![("b".into(), "x".into())]));
        assert_eq!(
            pat.matches("/a/x/y/z"),
            Some(vec![("b".into(), "x".into())])
        );
        assert_eq!(pat.matches("/a"), None);
        assert!(pat.has_param("b"));
        assert!(!pat.has_param("c"));
    }
}
