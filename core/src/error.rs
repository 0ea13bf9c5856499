//! The one place that maps a failure to the wire: SPEC's `code`, `reason`, status and headers.

use serde::Serialize;
use std::fmt;

/// Every refusal the worker can give, as SPEC names it. The snake_case name is
/// the wire `reason`; it never changes meaning once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    // 400
    InvalidField,
    InvalidJson,
    UnsupportedMediaType,
    InvalidPath,
    EmailTokenInvalid,
    SsoStateInvalid,
    SsoNotConfigured,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    AccessDenied,
    // 401
    MissingCredential,
    MalformedCredential,
    TokenExpired,
    TokenNotYetValid,
    BadTokenSignature,
    UnknownKeyId,
    WrongIssuer,
    WrongAudience,
    AlgorithmNotAllowed,
    SessionRevoked,
    ApiKeyUnknown,
    ApiKeyRevoked,
    ApiKeyExpired,
    InvalidLogin,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SignatureMissing,
    SignatureInvalid,
    TimestampOutOfWindow,
    NonceReplayed,
    SsoFailed,
    // 403
    InsufficientScope,
    TenantDenied,
    ResourceDenied,
    IpDenied,
    PrivilegeEscalation,
    EmailUnverified,
    SsoRequired,
    SsoDomainMismatch,
    // 404
    NotFound,
    NoRoute,
    // 405
    MethodNotAllowed,
    // 409
    EmailTaken,
    LastAdmin,
    // 413
    PayloadTooLarge,
    // 429
    RateLimited,
    // 503
    StoreUnavailable,
    IssuerUnreachable,
}

/// SPEC's coarse error `code`, one per HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
}

impl Code {
    /// The wire spelling (`"UNAUTHORIZED"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "BAD_REQUEST",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Code::Conflict => "CONFLICT",
            Code::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Code::RateLimited => "RATE_LIMITED",
            Code::Unavailable => "UNAVAILABLE",
        }
    }

    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            Code::BadRequest => 400,
            Code::Unauthorized => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::Conflict => 409,
            Code::PayloadTooLarge => 413,
            Code::RateLimited => 429,
            Code::Unavailable => 503,
        }
    }
}

impl Reason {
    /// Every reason, for tables and round-trip tests.
    pub const ALL: [Reason; 49] = [
        Reason::InvalidField,
        Reason::InvalidJson,
        Reason::UnsupportedMediaType,
        Reason::InvalidPath,
        Reason::EmailTokenInvalid,
        Reason::SsoStateInvalid,
        Reason::SsoNotConfigured,
        Reason::AuthorizationPending,
        Reason::SlowDown,
        Reason::ExpiredToken,
        Reason::AccessDenied,
        Reason::MissingCredential,
        Reason::MalformedCredential,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::BadTokenSignature,
        Reason::UnknownKeyId,
        Reason::WrongIssuer,
        Reason::WrongAudience,
        Reason::AlgorithmNotAllowed,
        Reason::SessionRevoked,
        Reason::ApiKeyUnknown,
        Reason::ApiKeyRevoked,
        Reason::ApiKeyExpired,
        Reason::InvalidLogin,
        Reason::RefreshTokenInvalid,
        Reason::RefreshTokenReused,
        Reason::SignatureMissing,
        Reason::SignatureInvalid,
        Reason::TimestampOutOfWindow,
        Reason::NonceReplayed,
        Reason::SsoFailed,
        Reason::InsufficientScope,
        Reason::TenantDenied,
        Reason::ResourceDenied,
        Reason::IpDenied,
        Reason::PrivilegeEscalation,
        Reason::EmailUnverified,
        Reason::SsoRequired,
        Reason::SsoDomainMismatch,
        Reason::NotFound,
        Reason::NoRoute,
        Reason::MethodNotAllowed,
        Reason::EmailTaken,
        Reason::LastAdmin,
        Reason::PayloadTooLarge,
        Reason::RateLimited,
        Reason::StoreUnavailable,
        Reason::IssuerUnreachable,
    ];

    /// The wire `reason` (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidField => "invalid_field",
            Reason::InvalidJson => "invalid_json",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::InvalidPath => "invalid_path",
            Reason::EmailTokenInvalid => "email_token_invalid",
            Reason::SsoStateInvalid => "sso_state_invalid",
            Reason::SsoNotConfigured => "sso_not_configured",
            Reason::AuthorizationPending => "authorization_pending",
            Reason::SlowDown => "slow_down",
            Reason::ExpiredToken => "expired_token",
            Reason::AccessDenied => "access_denied",
            Reason::MissingCredential => "missing_credential",
            Reason::MalformedCredential => "malformed_credential",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::BadTokenSignature => "bad_token_signature",
            Reason::UnknownKeyId => "unknown_key_id",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::SessionRevoked => "session_revoked",
            Reason::ApiKeyUnknown => "api_key_unknown",
            Reason::ApiKeyRevoked => "api_key_revoked",
            Reason::ApiKeyExpired => "api_key_expired",
            Reason::InvalidLogin => "invalid_login",
            Reason::RefreshTokenInvalid => "refresh_token_invalid",
            Reason::RefreshTokenReused => "refresh_token_reused",
            Reason::SignatureMissing => "signature_missing",
            Reason::SignatureInvalid => "signature_invalid",
            Reason::TimestampOutOfWindow => "timestamp_out_of_window",
            Reason::NonceReplayed => "nonce_replayed",
            Reason::SsoFailed => "sso_failed",
            Reason::InsufficientScope => "insufficient_scope",
            Reason::TenantDenied => "tenant_denied",
            Reason::ResourceDenied => "resource_denied",
            Reason::IpDenied => "ip_denied",
            Reason::PrivilegeEscalation => "privilege_escalation",
            Reason::EmailUnverified => "email_unverified",
            Reason::SsoRequired => "sso_required",
            Reason::SsoDomainMismatch => "sso_domain_mismatch",
            Reason::NotFound => "not_found",
            Reason::NoRoute => "no_route",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::EmailTaken => "email_taken",
            Reason::LastAdmin => "last_admin",
            Reason::PayloadTooLarge => "payload_too_large",
            Reason::RateLimited => "rate_limited",
            Reason::StoreUnavailable => "store_unavailable",
            Reason::IssuerUnreachable => "issuer_unreachable",
        }
    }

    /// Parses a wire `reason`; unknown words give `None` (clients treat them by `code`).
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// The coarse `code` this reason belongs to.
    pub fn code(self) -> Code {
        use Reason::*;
        match self {
            InvalidField | InvalidJson | UnsupportedMediaType | InvalidPath | EmailTokenInvalid
            | SsoStateInvalid | SsoNotConfigured | AuthorizationPending | SlowDown
            | ExpiredToken | AccessDenied => Code::BadRequest,
            MissingCredential | MalformedCredential | TokenExpired | TokenNotYetValid
            | BadTokenSignature | UnknownKeyId | WrongIssuer | WrongAudience
            | AlgorithmNotAllowed | SessionRevoked | ApiKeyUnknown | ApiKeyRevoked
            | ApiKeyExpired | InvalidLogin | RefreshTokenInvalid | RefreshTokenReused
            | SignatureMissing | SignatureInvalid | TimestampOutOfWindow | NonceReplayed
            | SsoFailed => Code::Unauthorized,
            InsufficientScope | TenantDenied | ResourceDenied | IpDenied | PrivilegeEscalation
            | EmailUnverified | SsoRequired | SsoDomainMismatch => Code::Forbidden,
            NotFound | NoRoute => Code::NotFound,
            MethodNotAllowed => Code::MethodNotAllowed,
            EmailTaken | LastAdmin => Code::Conflict,
            PayloadTooLarge => Code::PayloadTooLarge,
            RateLimited => Code::RateLimited,
            StoreUnavailable | IssuerUnreachable => Code::Unavailable,
        }
    }

    /// The HTTP status of this reason.
    pub fn status(self) -> u16 {
        self.code().status()
    }

    /// A default human message, used when the caller has nothing more specific.
    pub fn default_message(self) -> &'static str {
        use Reason::*;
        match self {
            InvalidField => "a field is missing or invalid",
            InvalidJson => "the body is not valid JSON",
            UnsupportedMediaType => "the body must be application/json",
            InvalidPath => "the path cannot be matched unambiguously",
            EmailTokenInvalid => "the link is invalid, expired or already used",
            SsoStateInvalid => "the sign-in attempt is invalid, expired or already used",
            SsoNotConfigured => "no single sign-on is configured for this email or tenant",
            AuthorizationPending => "the user has not approved this device yet",
            SlowDown => "polling too fast: wait longer between requests",
            ExpiredToken => "the device code has expired or was already used",
            AccessDenied => "the user denied this device",
            MissingCredential => "no credential: send Authorization: Bearer <credential>",
            MalformedCredential => "the credential is malformed",
            TokenExpired => "the token has expired",
            TokenNotYetValid => "the token is not valid yet",
            BadTokenSignature => "the token's signature does not verify",
            UnknownKeyId => "the token's key id is unknown",
            WrongIssuer => "the token's issuer is not accepted",
            WrongAudience => "the token's audience is not accepted",
            AlgorithmNotAllowed => "the token's algorithm is not allowed for its key",
            SessionRevoked => "the session has been revoked: sign in again",
            ApiKeyUnknown => "the API key is unknown",
            ApiKeyRevoked => "the API key has been revoked",
            ApiKeyExpired => "the API key has expired",
            InvalidLogin => "invalid email or password",
            RefreshTokenInvalid => "the refresh token is invalid or expired",
            RefreshTokenReused => "the refresh token was already used: the session is revoked",
            SignatureMissing => "this route requires a request signature",
            SignatureInvalid => "the request signature is invalid",
            TimestampOutOfWindow => "the request timestamp is outside the 5-minute window",
            NonceReplayed => "the request nonce was already used",
            SsoFailed => "single sign-on failed",
            InsufficientScope => "the credential lacks a scope this route needs",
            TenantDenied => "the credential has no role in this tenant",
            ResourceDenied => "the credential may not act on this resource",
            IpDenied => "the credential may not be used from this address",
            PrivilegeEscalation => "a key cannot carry more than its creator holds",
            EmailUnverified => "verify your email address before signing in with a password",
            SsoRequired => "this email's organization requires single sign-on",
            SsoDomainMismatch => "the identity provider does not speak for this email's domain",
            NotFound => "not found",
            NoRoute => "no route matches this request",
            MethodNotAllowed => "method not allowed",
            EmailTaken => "this email is already registered",
            LastAdmin => "the last admin of a tenant cannot leave it or step down",
            PayloadTooLarge => "the body is too large",
            RateLimited => "too many attempts: try again later",
            StoreUnavailable => "a store this decision depends on is unavailable",
            IssuerUnreachable => "the token's issuer cannot be reached to resolve its key",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: a reason plus a message for people, and what some reasons need
/// in their headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    /// For `insufficient_scope`: the scopes the route needs.
    pub required_scopes: Vec<String>,
    /// For 429: seconds until the caller may try again.
    pub retry_after_s: Option<u64>,
    /// For 405: the methods the endpoint accepts.
    pub allow: Vec<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: BodyInner<'a>,
}
#[derive(Serialize)]
struct BodyInner<'a> {
    code: &'static str,
    reason: &'static str,
    message: &'a str,
}

impl ApiError {
    /// A refusal with the reason's default message.
    pub fn new(reason: Reason) -> Self {
        Self::with_message(reason, reason.default_message())
    }

    /// A refusal with a specific message (for 400s, it names the field).
    pub fn with_message(reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            reason,
            message: message.into(),
            required_scopes: Vec::new(),
            retry_after_s: None,
            allow: Vec::new(),
        }
    }

    /// 400 `invalid_field` naming the field.
    pub fn invalid_field(field: &str, why: &str) -> Self {
        Self::with_message(Reason::InvalidField, format!("{field}: {why}"))
    }

    /// 403 `insufficient_scope`, remembering what the route needs for `WWW-Authenticate`.
    pub fn insufficient_scope(required: &[String]) -> Self {
        let mut e = Self::with_message(
            Reason::InsufficientScope,
            format!("this route needs the scope {}", required.join(" ")),
        );
        e.required_scopes = required.to_vec();
        e
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_s: u64) -> Self {
        let mut e = Self::new(Reason::RateLimited);
        e.retry_after_s = Some(retry_after_s.max(1));
        e
    }

    /// 405 with `Allow`.
    pub fn method_not_allowed(allow: &[&'static str]) -> Self {
        let mut e = Self::new(Reason::MethodNotAllowed);
        e.allow = allow.to_vec();
        e
    }

    pub fn status(&self) -> u16 {
        self.reason.status()
    }

    /// The JSON body in SPEC's shape.
    pub fn body_json(&self) -> String {
        let body = Body {
            error: BodyInner {
                code: self.reason.code().as_str(),
                reason: self.reason.as_str(),
                message: &self.message,
            },
        };
        // Serializing plain strings cannot fail.
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// The headers this refusal carries besides `Content-Type`, as RFC 6750,
    /// RFC 9110 and SPEC ask.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        match self.reason {
            Reason::MissingCredential => {
                h.push(("WWW-Authenticate", r#"Bearer realm="edgeauth""#.to_string()))
            }
            Reason::MalformedCredential => h.push((
                "WWW-Authenticate",
                format!(
                    r#"Bearer realm="edgeauth", error="invalid_request", error_description="{}""#,
                    self.reason.as_str()
                ),
            )),
            r if r.code() == Code::Unauthorized => h.push((
                "WWW-Authenticate",
                format!(
                    r#"Bearer realm="edgeauth", error="invalid_token", error_description="{}""#,
                    r.as_str()
                ),
            )),
            Reason::InsufficientScope => h.push((
                "WWW-Authenticate",
                format!(
                    r#"Bearer error="insufficient_scope", scope="{}""#,
                    self.required_scopes.join(" ")
                ),
            )),
            _ => {}
        }
        if let Some(s) = self.retry_after_s {
            h.push(("Retry-After", s.to_string()));
        }
        if !self.allow.is_empty() {
            h.push(("Allow", self.allow.join(", ")));
        }
        h
    }
}

impl From<Reason> for ApiError {
    fn from(r: Reason) -> Self {
        ApiError::new(r)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_map_to_spec_statuses() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::TokenExpired.status(), 401);
        assert_eq!(Reason::PrivilegeEscalation.status(), 403);
        assert_eq!(Reason::NoRoute.status(), 404);
        assert_eq!(Reason::SlowDown.status(), 400);
        assert_eq!(Reason::IssuerUnreachable.code().as_str(), "UNAVAILABLE");
        assert_eq!(Reason::parse("nope"), None);
    }

    #[test]
    fn body_has_the_contract_shape() {
        let e = ApiError::invalid_field("email", "must be an email address");
        let v: serde_json::Value = serde_json::from_str(&e.body_json()).unwrap();
        assert_eq!(v["error"]["code"], "BAD_REQUEST");
        assert_eq!(v["error"]["reason"], "invalid_field");
        assert_eq!(v["error"]["message"], "email: must be an email address");
    }

    #[test]
    fn www_authenticate_follows_rfc_6750() {
        let missing = ApiError::new(Reason::MissingCredential).headers();
        assert_eq!(
            missing,
            vec![("WWW-Authenticate", r#"Bearer realm="edgeauth""#.into())]
        );
        let malformed = ApiError::new(Reason::MalformedCredential).headers();
        assert!(malformed[0].1.contains(r#"error="invalid_request""#));
        let expired = ApiError::new(Reason::TokenExpired).headers();
        assert_eq!(
            expired[0].1,
            r#"Bearer realm="edgeauth", error="invalid_token", error_description="token_expired""#
        );
        let scope = ApiError::insufficient_scope(&["scans:read".into()]).headers();
        assert!(scope[0]
            .1
            .contains(r#"error="insufficient_scope", scope="scans:read""#));
        assert!(ApiError::new(Reason::NotFound).headers().is_empty());
        let limited = ApiError::rate_limited(30).headers();
        assert_eq!(limited, vec![("Retry-After", "30".into())]);
    }
}
