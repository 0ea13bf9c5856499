//! Property tests: every parser that reads request input never panics (a panic in wasm
//! takes the isolate's in-flight requests down), and what a parser accepts keeps a
//! simple invariant.

use std::net::IpAddr;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;
use serde_json::{Map, Value};

use edgeauth_core::credential::{parse_authorization, CredentialForm};
use edgeauth_core::forward::{header_value, is_reserved_header};
use edgeauth_core::input::{
    is_json_content_type, parse_json, ApiKeyRequest, LoginRequest, RegisterRequest,
};
use edgeauth_core::ip::IpAllowList;
use edgeauth_core::jwks::check_jwks_url;
use edgeauth_core::jwt::Unverified;
use edgeauth_core::path::{check_request_path, pathname_of_url, CanonicalPath};
use edgeauth_core::policy::{PathPattern, Policy};
use edgeauth_core::scope::ScopeSet;
use edgeauth_core::settings::Environment;
use edgeauth_core::signing::SignatureHeaders;
use edgeauth_core::Reason;

/// Few enough cases that the whole file runs in a few seconds.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(Policy::default_policy)
}

/// One path segment, biased towards what the path rules look at.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z0-9_~-]{1,8}",
        1 => Just(String::new()),
        1 => Just(".".to_string()),
        1 => Just("..".to_string()),
        1 => "%[0-9a-fA-F]{2}",
        1 => "%25[0-9a-fA-F]{2}",
        2 => "(%2[eEfF]|%5[cC]|%3[bB]|%00|%25|%|;|\\.|[ #?\\\\]|%[cC]3%[aA]9|é){1,4}",
        1 => "[a-z]{1,3};[a-z=0-9]{0,5}",
        1 => "\\PC{1,4}",
    ]
}

/// Request paths: arbitrary text, built-up segments, and paths under the default
/// policy's routes so that matches (and their parameters) happen often.
fn path_like() -> impl Strategy<Value = String> {
    let prefixes = vec![
        "/api/scans/trigger/",
        "/api/v1/tenants/",
        "/api/signed/",
        "/api/scans/",
        "/health",
        "/api/me",
        "/",
    ];
    let plain = "[a-zA-Z0-9._~-]{1,8}|%[2-7][0-9A-F]|%[cC]3%[aA]9";
    prop_oneof![
        1 => any::<String>(),
        1 => prop::collection::vec(segment(), 0..6).prop_map(|s| format!("/{}", s.join("/"))),
        2 => (prop::sample::select(prefixes.clone()), prop::collection::vec(plain, 0..3))
            .prop_map(|(p, s)| format!("{p}{}", s.join("/"))),
        2 => (
            prop::sample::select(prefixes),
            prop::collection::vec(segment(), 0..4),
            prop::option::of("[a-z=&%]{0,8}"),
        )
            .prop_map(|(p, s, q)| match q {
                Some(q) => format!("{p}{}?{q}", s.join("/")),
                None => format!("{p}{}", s.join("/")),
            }),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", "*", ""
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// A credential-shaped string: API-key-like, JWT-like, or anything.
fn credential_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(ea_live_|ea_test_|ea_rt_|ea_)[A-Za-z0-9_=-]{0,70}",
        "(ea_live_|ea_test_)[A-Za-z0-9]{28,68}",
        "[A-Za-z0-9_-]{0,12}(\\.[A-Za-z0-9_=+/-]{0,12}){0,4}",
        "[A-Za-z0-9_-]{1,12}\\.[A-Za-z0-9_-]{1,12}\\.[A-Za-z0-9_-]{0,12}",
    ]
}

/// A JSON value as a request body might hold.
fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::from),
        "[a-z]{1,8}(:[a-z*]{1,8})?".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body object with the fields the request types read, and some they do not.
fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    let fields = vec![
        "email",
        "password",
        "name",
        "scopes",
        "resources",
        "tenants",
        "expires_at",
        "allowed_ips",
        "all_resources",
        "refresh_token",
        "extra",
    ];
    prop::collection::btree_map(
        prop::sample::select(fields).prop_map(String::from),
        json_value(),
        0..8,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// A body with the fields of the request types, well typed or nearly.
fn request_object() -> impl Strategy<Value = Map<String, Value>> {
    let text = || prop_oneof![any::<String>().prop_map(Value::from), json_leaf()];
    let list = || prop::collection::vec(text(), 0..4).prop_map(Value::from);
    (
        text(),
        text(),
        text(),
        list(),
        prop::option::of(list()),
        prop::option::of(json_leaf()),
        json_object(),
    )
        .prop_map(
            |(email, password, name, scopes, resources, expires_at, extra)| {
                let mut o = extra;
                o.insert("email".into(), email);
                o.insert("password".into(), password);
                o.insert("name".into(), name);
                o.insert("scopes".into(), scopes);
                if let Some(r) = resources {
                    o.insert("resources".into(), r);
                }
                if let Some(e) = expires_at {
                    o.insert("expires_at".into(), e);
                }
                o
            },
        )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        request_object().prop_map(|o| serde_json::to_vec(&o).unwrap_or_default()),
        json_object().prop_map(|o| serde_json::to_vec(&o).unwrap_or_default()),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            4 => Just("application/json".to_string()),
            1 => Just("Application/JSON; charset=utf-8".to_string()),
            1 => any::<String>(),
        ],
    )
}

/// A JWT-shaped string whose parts are base64url of arbitrary or near-valid JSON.
fn jwt_like() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        4 => Just(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#.to_string()),
        1 => Just(r#"{"alg":"HS256"}"#.to_string()),
        1 => Just(r#"{"alg":"none"}"#.to_string()),
        1 => Just(r#"{"alg":1,"kid":[]}"#.to_string()),
        1 => Just("[]".to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ];
    let claims = prop_oneof![
        4 => json_object().prop_map(|o| Value::Object(o).to_string()),
        1 => Just(r#"{"exp":1e300,"nbf":-1,"iat":"x"}"#.to_string()),
        1 => Just(r#"{"exp":9223372036854775807,"sub":"u"}"#.to_string()),
        1 => Just(r#"{"exp":-9223372036854775808,"nbf":1.5}"#.to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ];
    (header, claims, prop::collection::vec(any::<u8>(), 0..72)).prop_map(|(h, c, s)| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(c),
            URL_SAFE_NO_PAD.encode(s)
        )
    })
}

fn ip_rule_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (any::<[u8; 4]>(), prop::option::of(0u8..40)).prop_map(|(a, p)| match p {
            Some(p) => format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3]),
            None => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        }),
        (any::<u128>(), prop::option::of(0u8..140)).prop_map(|(a, p)| {
            let ip = std::net::Ipv6Addr::from(a);
            match p {
                Some(p) => format!("{ip}/{p}"),
                None => ip.to_string(),
            }
        }),
        "[0-9a-fA-F:./ ]{0,20}",
    ]
}

/// The origin's side of `header_value`: one percent-decoding.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn policy_matcher(method in method(), path in path_like()) {
        if let Some(m) = policy().match_request(&method, &path) {
            prop_assert!(m.route.method.matches(&method));
            prop_assert_eq!(&m.method, &method);
            prop_assert_eq!(&policy().routes()[m.index], m.route);
            for (name, value) in &m.params {
                prop_assert!(!name.is_empty());
                prop_assert!(!value.is_empty(), "empty :{} in {:?}", name, path);
                prop_assert!(!value.contains(['/', '\\', '\0']), "{:?}", value);
                prop_assert!(value != "." && value != "..");
            }
            prop_assert_eq!(m.tenant().is_some(), m.route.tenant_param.is_some());
            prop_assert_eq!(m.resource().is_some(), m.route.resource_param.is_some());
        }
    }

    #[test]
    fn request_path_check(path in path_like()) {
        match CanonicalPath::parse(&path) {
            Ok(p) => {
                let checked = p.as_str();
                prop_assert!(checked.starts_with('/'));
                prop_assert!(path.starts_with(checked));
                let rest = &path[checked.len()..];
                prop_assert!(rest.is_empty() || rest.starts_with('?'));
                prop_assert!(!checked.contains("//"));
                prop_assert!(!checked.contains([';', '\\', '#', ' ']));
                prop_assert_eq!(CanonicalPath::parse(checked), Ok(p));
                // What this accepts, the policy matcher can split: a refusal is
                // always this 400, never a 404 that hides it.
                let any = PathPattern::parse("/*").map_err(TestCaseError::fail)?;
                prop_assert!(any.matches(&path).is_some(), "{:?}", path);
            }
            Err(refusal) => {
                let err = check_request_path(&path).err();
                prop_assert_eq!(err.as_ref().map(|e| e.reason), Some(Reason::InvalidPath));
                prop_assert_eq!(err.map(|e| e.message), Some(refusal.message().to_string()));
            }
        }
    }

    #[test]
    fn pathname_of_url_never_panics(url in "(https?://)?[a-z0-9.:@\\[\\]]{0,12}[/?#]?\\PC{0,12}") {
        if let Some(p) = pathname_of_url(&url) {
            prop_assert!(p.starts_with('/'));
            prop_assert!(!p.contains(['?', '#']));
        }
    }

    #[test]
    fn credential_classifier(credential in credential_like()) {
        match CredentialForm::classify(&credential) {
            Ok(CredentialForm::ApiKey(env)) => {
                let body = credential.strip_prefix(env.prefix());
                prop_assert!(body.is_some());
                let body = body.unwrap_or_default();
                prop_assert!((32..=64).contains(&body.len()));
                prop_assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
            Ok(CredentialForm::Jwt) => {
                prop_assert_eq!(credential.split('.').count(), 3);
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::MalformedCredential),
        }
    }

    #[test]
    fn authorization_header(
        header in prop_oneof![
            any::<String>(),
            ("(?i:bearer)", "[ \t]{0,2}", credential_like()).prop_map(|(s, sp, c)| format!("{s}{sp}{c}")),
        ]
    ) {
        match parse_authorization(Some(&header)) {
            Ok(credential) => {
                prop_assert_eq!(header.len(), credential.len() + 7);
                prop_assert!(header.ends_with(credential));
                prop_assert!(header[..7].eq_ignore_ascii_case("bearer "));
                prop_assert!(!credential.is_empty());
                let _ = CredentialForm::classify(credential);
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::MalformedCredential),
        }
    }

    #[test]
    fn signing_headers(
        signature in prop::option::weighted(0.8, prop_oneof![1 => any::<String>(), 4 => "[0-9a-fA-F]{64}", 1 => "[0-9a-fA-F]{63,65}"]),
        timestamp in prop::option::weighted(0.8, prop_oneof![1 => any::<String>(), 4 => "[1-9][0-9]{0,15}", 1 => "[0-9]{0,21}", 1 => "-?[0-9]{1,3}"]),
        nonce in prop::option::weighted(0.8, prop_oneof![1 => any::<String>(), 4 => "[A-Za-z0-9_-]{16,128}", 1 => "[A-Za-z0-9_-]{14,130}"]),
    ) {
        match SignatureHeaders::from_request(signature.as_deref(), timestamp.as_deref(), nonce.as_deref()) {
            Ok(None) => {
                prop_assert!(signature.is_none() && timestamp.is_none() && nonce.is_none());
            }
            Ok(Some(h)) => {
                prop_assert_eq!(Some(h.signature_hex()), signature.map(|s| s.to_ascii_lowercase()));
                prop_assert_eq!(Some(h.timestamp_ms().to_string()), timestamp);
                prop_assert_eq!(Some(h.nonce()), nonce.as_deref());
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::SignatureInvalid),
        }
    }

    #[test]
    fn json_bodies(content_type in content_type(), body in body()) {
        let ct = content_type.as_deref();
        let login = parse_json::<LoginRequest>(ct, &body);
        let key = parse_json::<ApiKeyRequest>(ct, &body);
        let register = parse_json::<RegisterRequest>(ct, &body);
        let parsed_object = serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object());
        for (ok, reason) in [
            (login.is_ok(), login.as_ref().err().map(|e| e.reason)),
            (key.is_ok(), key.as_ref().err().map(|e| e.reason)),
            (register.is_ok(), register.as_ref().err().map(|e| e.reason)),
        ] {
            if ok {
                prop_assert!(is_json_content_type(ct));
                prop_assert!(parsed_object);
            }
            if let Some(r) = reason {
                prop_assert!(
                    matches!(r, Reason::UnsupportedMediaType | Reason::InvalidJson | Reason::InvalidField),
                    "{:?}", r
                );
                if !is_json_content_type(ct) {
                    prop_assert_eq!(r, Reason::UnsupportedMediaType);
                } else if !parsed_object {
                    prop_assert_eq!(r, Reason::InvalidJson);
                }
            }
        }
    }

    #[test]
    fn unverified_jwt(raw in prop_oneof![jwt_like(), credential_like()]) {
        match Unverified::parse(&raw) {
            Ok(token) => {
                prop_assert_eq!(raw.matches('.').count(), 2);
                let _ = token.dangerous_unchecked_claims().len();
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::MalformedCredential),
        }
    }

    #[test]
    fn scope_sets(
        text in prop_oneof![
            any::<String>(),
            prop::collection::vec("[a-z_*]{0,6}(:[a-z_*]{0,6}){0,2}", 0..6)
                .prop_map(|w| w.join(" ")),
            prop::collection::vec("[a-z]{1,8}:[a-z]{1,8}|\\*|[a-z]{1,6}:\\*|\\*:[a-z]{1,6}", 0..6)
                .prop_map(|w| w.join(" ")),
        ]
    ) {
        match ScopeSet::parse(&text) {
            Ok(set) => {
                prop_assert!(set.len() <= text.split_ascii_whitespace().count());
                let again = ScopeSet::parse(&set.to_space_separated());
                prop_assert_eq!(again, Ok(set));
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::InvalidField),
        }
    }

    #[test]
    fn ip_allow_lists(items in prop::collection::vec(ip_rule_like(), 0..5), client in any::<[u8; 16]>()) {
        match IpAllowList::parse(&items) {
            Ok(list) => {
                prop_assert!(list.rules().len() <= items.len());
                prop_assert_eq!(IpAllowList::parse(&list.to_vec()), Ok(list.clone()));
                prop_assert!(list.within(&list));
                let v6 = IpAddr::from(client);
                let v4 = IpAddr::from([client[0], client[1], client[2], client[3]]);
                let _ = (list.allows(Some(v6)), list.allows(Some(v4)));
                prop_assert_eq!(list.allows(None), list.is_empty());
            }
            Err(e) => prop_assert_eq!(e.reason, Reason::InvalidField),
        }
    }

    #[test]
    fn forwarded_header_values(value in any::<String>()) {
        let out = header_value(&value);
        prop_assert!(out.bytes().all(|b| (0x20..=0x7E).contains(&b)), "{:?}", out);
        prop_assert!(!out.starts_with(' ') && !out.ends_with(' '));
        // Decodable back to the value, so no two values forward alike.
        prop_assert_eq!(percent_decode(&out), Some(value));
    }

    #[test]
    fn reserved_header_names(
        name in prop_oneof![
            any::<String>(),
            "(?i:x)[-_.]?(?i:edge)[-_]?(?i:auth)[-_.~]?[a-z_-]{0,8}",
        ]
    ) {
        // Every byte that is not an ASCII letter or digit read as `-`, then lower case.
        let normalized: Vec<u8> = name
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { b.to_ascii_lowercase() } else { b'-' })
            .collect();
        prop_assert_eq!(is_reserved_header(&name), normalized.starts_with(b"x-edgeauth-"));
    }

    #[test]
    fn jwks_urls(
        url in prop_oneof![
            any::<String>(),
            "(?i:https?)://[a-z0-9.:@\\[\\]%_-]{0,20}(/[a-z.%]{0,8})?",
            "(?i:https?|ftp)://([a-z]{1,8}(\\.[a-z]{1,8}){0,2}|127\\.[0-9]{1,3}\\.0\\.1|\\[::1\\]|localhost)(:[0-9]{1,5})?(/[a-z.%]{0,8})?",
        ]
    ) {
        if check_jwks_url(&url, Environment::Production).is_ok() {
            prop_assert!(url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")));
        }
        let _ = check_jwks_url(&url, Environment::Development);
    }
}
