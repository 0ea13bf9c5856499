//! Request bodies of the worker's own endpoints: JSON parsing and field checks, each failure naming its field.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::credential::{is_email_token_format, is_refresh_token_format};
use crate::error::{ApiError, Reason};
use crate::grants::Principal;
use crate::identity::{CredentialKind, ResourceGrant};
use crate::ip::IpAllowList;
use crate::scope::{Role, ScopeSet};
use crate::secret::Secret;

/// Password length bounds, in characters (SPEC "Limits").
pub const PASSWORD_MIN_CHARS: usize = 8;
/// See [`PASSWORD_MIN_CHARS`].
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Name length bounds, in characters after trimming.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest email address (RFC 5321's path limit less the brackets).
pub const EMAIL_MAX_LEN: usize = 254;
/// Longest tenant or resource id.
pub const ID_MAX_CHARS: usize = 200;
/// Most tenants or resources one key may list.
pub const MAX_LIST_LEN: usize = 1000;

/// Whether a `Content-Type` is `application/json` (any case, any parameters).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses a JSON request body into `T`.
///
/// A content type other than `application/json` is 400
/// `unsupported_media_type`; a body that is not JSON is `invalid_json`; a
/// missing or wrongly typed field is `invalid_field` with a message that
/// names it (`scopes[1]: must be a string`). Unknown fields are ignored.
pub fn parse_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if !is_json_content_type(content_type) {
        return Err(ApiError::with_message(
            Reason::UnsupportedMediaType,
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    // Syntax first, on its own, so that a data error is never reported as bad JSON.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::with_message(
            Reason::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::with_message(
            Reason::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        field_error(&path, &inner)
    })
}

/// Turns serde's wording into a message that starts with the field.
fn field_error(path: &str, serde_message: &str) -> ApiError {
    if let Some(rest) = serde_message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::invalid_field(&field, "is required");
    }
    let why = match serde_message.split_once(", expected ") {
        Some((_, expected)) => format!("must be {expected}"),
        None => serde_message.to_string(),
    };
    ApiError::invalid_field(if path == "." { "body" } else { path }, &why)
}

/// Normalises and checks an email address: trimmed, lower-cased, at most 254
/// characters, `local@domain.tld` with a dotted ASCII domain (IDNs in punycode).
pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::invalid_field("email", why);
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(bad("is required"));
    }
    if email.len() > EMAIL_MAX_LEN {
        return Err(bad("must be at most 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("must be an email address like name@example.com"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@\"(),:;<>[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.bytes().all(|b| b.is_ascii_digit()));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(bad("must be an email address like name@example.com"))
    }
}

fn check_password(password: &Secret) -> Result<(), ApiError> {
    // Bytes bound chars from above (≤ 4 bytes each): refuse huge input before counting.
    let too_long = || {
        ApiError::invalid_field(
            "password",
            &format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        )
    };
    if password.len() > PASSWORD_MAX_CHARS * 4 {
        return Err(too_long());
    }
    let n = password.expose().chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(ApiError::invalid_field(
            "password",
            &format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(too_long());
    }
    Ok(())
}

/// A display name: trimmed, 1–200 characters, no control characters.
fn check_name(field: &str, raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::invalid_field(
            field,
            &format!("must be at most {NAME_MAX_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not hold control characters",
        ));
    }
    Ok(name.to_string())
}

/// Tenant or resource ids: non-empty, at most 200 characters, no control
/// characters; duplicates dropped, order kept.
fn check_ids(field: &str, list: Vec<String>) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_LIST_LEN {
        return Err(ApiError::invalid_field(
            field,
            &format!("must list at most {MAX_LIST_LEN} ids"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, id) in list.into_iter().enumerate() {
        let at = format!("{field}[{i}]");
        if id.trim().is_empty() {
            return Err(ApiError::invalid_field(&at, "must not be empty"));
        }
        if id.chars().count() > ID_MAX_CHARS || id.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                &at,
                &format!("must be at most {ID_MAX_CHARS} characters, without control characters"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// `POST /v1/auth/register`'s body, as sent.
#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    pub email: String,
    pub password: Secret,
    pub name: String,
}

/// A registration whose fields passed their checks.
#[derive(Debug)]
pub struct Registration {
    /// Trimmed and lower-cased.
    pub email: String,
    pub password: Secret,
    /// Trimmed.
    pub name: String,
}

impl RegisterRequest {
    /// Checks the fields: email shape, password 8–1024 characters (any
    /// characters, counted as Unicode scalar values), name 1–200 after trimming.
    pub fn validate(self) -> Result<Registration, ApiError> {
        let email = normalize_email(&self.email)?;
        check_password(&self.password)?;
        let name = check_name("name", &self.name)?;
        Ok(Registration {
            email,
            password: self.password,
            name,
        })
    }
}

/// `POST /v1/auth/token`'s body, as sent.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: Secret,
}

/// Login fields ready for lookup.
#[derive(Debug)]
pub struct Login {
    /// Trimmed and lower-cased, as stored at registration.
    pub email: String,
    pub password: Secret,
}

impl LoginRequest {
    /// Normalises the email and bounds the password. The email's shape is not
    /// judged here: an address that cannot exist is simply `invalid_login`.
    pub fn validate(self) -> Result<Login, ApiError> {
        let email = self.email.trim().to_lowercase();
        if email.is_empty() {
            return Err(ApiError::invalid_field("email", "is required"));
        }
        if email.len() > EMAIL_MAX_LEN {
            return Err(ApiError::invalid_field(
                "email",
                "must be at most 254 characters",
            ));
        }
        if self.password.is_empty() {
            return Err(ApiError::invalid_field("password", "is required"));
        }
        if self.password.len() > PASSWORD_MAX_CHARS * 4
            || self.password.expose().chars().count() > PASSWORD_MAX_CHARS
        {
            return Err(ApiError::invalid_field(
                "password",
                &format!("must be at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        Ok(Login {
            email,
            password: self.password,
        })
    }
}

/// `POST /v1/auth/refresh`'s body.
#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
}

impl RefreshRequest {
    /// The token, if it has the refresh-token shape; otherwise 401
    /// `refresh_token_invalid` without a store read.
    pub fn validate(self) -> Result<Secret, ApiError> {
        if is_refresh_token_format(self.refresh_token.expose()) {
            Ok(self.refresh_token)
        } else {
            Err(ApiError::new(Reason::RefreshTokenInvalid))
        }
    }
}

/// `POST /v1/auth/password/forgot`'s and `POST /v1/auth/magic-link`'s body.
#[derive(Debug, Deserialize)]
pub struct EmailRequest {
    pub email: String,
}

impl EmailRequest {
    /// The address, normalized as at registration (400 `invalid_field` when
    /// it cannot be an address; whether anyone holds it is never said).
    pub fn validate(self) -> Result<String, ApiError> {
        normalize_email(&self.email)
    }
}

fn check_email_token(token: Secret) -> Result<Secret, ApiError> {
    if is_email_token_format(token.expose()) {
        Ok(token)
    } else {
        Err(ApiError::new(Reason::EmailTokenInvalid))
    }
}

/// `POST /v1/auth/email/verify`'s and `POST /v1/auth/magic-link/verify`'s body.
#[derive(Debug, Deserialize)]
pub struct EmailTokenRequest {
    pub token: Secret,
}

impl EmailTokenRequest {
    /// The token, if it has the `ea_et_` shape; otherwise 400
    /// `email_token_invalid` without a store read.
    pub fn validate(self) -> Result<Secret, ApiError> {
        check_email_token(self.token)
    }
}

/// `POST /v1/auth/password/reset`'s body.
#[derive(Debug, Deserialize)]
pub struct PasswordResetRequest {
    pub token: Secret,
    pub password: Secret,
}

/// A reset whose fields passed their checks.
#[derive(Debug)]
pub struct PasswordReset {
    pub token: Secret,
    pub password: Secret,
}

impl PasswordResetRequest {
    /// The new password as at registration (8–1024 characters, else
    /// `invalid_field`), then the token's shape (`email_token_invalid`).
    pub fn validate(self) -> Result<PasswordReset, ApiError> {
        check_password(&self.password)?;
        Ok(PasswordReset {
            token: check_email_token(self.token)?,
            password: self.password,
        })
    }
}

/// `PUT /v1/tenants/{tenant}/members`'s body, as sent. `role` must be
/// present: `null` removes the member, so a forgotten field must not.
#[derive(Debug, Deserialize)]
pub struct MembershipRequest {
    pub email: String,
    #[serde(deserialize_with = "present_or_null")]
    pub role: Option<String>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// A membership change, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub email: String,
    /// `None` removes the member.
    pub role: Option<Role>,
}

impl MembershipRequest {
    /// Normalizes the email and parses the role (`viewer`, `editor`, `admin` or null).
    pub fn validate(self) -> Result<Membership, ApiError> {
        let role = match self.role.as_deref() {
            None => None,
            Some(r) => Some(Role::parse(r).ok_or_else(|| {
                ApiError::invalid_field("role", "must be viewer, editor, admin or null")
            })?),
        };
        Ok(Membership {
            email: normalize_email(&self.email)?,
            role,
        })
    }
}

/// `POST /v1/api-keys`'s body, as sent.
#[derive(Debug, Deserialize)]
pub struct ApiKeyRequest {
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub all_resources: Option<bool>,
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub allowed_ips: Option<Vec<String>>,
}

/// A key to create, checked and with SPEC's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: ScopeSet,
    pub resources: ResourceGrant,
    /// Tenant ids; the key acts in each with its creator's role there.
    pub tenants: Vec<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub allowed_ips: IpAllowList,
}

impl ApiKeyRequest {
    /// Checks the fields and applies the defaults: `all_resources` is true
    /// when `resources` is absent and false when it is given; absent lists
    /// are empty; `expires_at` must be RFC 3339 and after `now_s`.
    pub fn validate(self, now_s: i64) -> Result<NewApiKey, ApiError> {
        let name = check_name("name", &self.name)?;
        if self.scopes.is_empty() {
            return Err(ApiError::invalid_field(
                "scopes",
                "must list at least one scope",
            ));
        }
        let scopes = ScopeSet::from_list(&self.scopes)?;
        let resources = match (self.all_resources, self.resources) {
            (None, None) => ResourceGrant::All,
            (Some(true), None) => ResourceGrant::All,
            (Some(true), Some(list)) if list.is_empty() => ResourceGrant::All,
            (Some(true), Some(_)) => {
                return Err(ApiError::invalid_field(
                    "resources",
                    "must be absent or empty when all_resources is true",
                ))
            }
            (None | Some(false), list) => {
                ResourceGrant::Only(check_ids("resources", list.unwrap_or_default())?)
            }
        };
        let tenants = check_ids("tenants", self.tenants.unwrap_or_default())?;
        let expires_at = match self.expires_at.as_deref() {
            None => None,
            Some(text) => {
                let at = crate::time::parse_rfc3339(text).ok_or_else(|| {
                    ApiError::invalid_field(
                        "expires_at",
                        "must be an RFC 3339 time such as 2030-01-01T00:00:00Z",
                    )
                })?;
                if at <= now_s {
                    return Err(ApiError::invalid_field(
                        "expires_at",
                        "must be in the future",
                    ));
                }
                Some(at)
            }
        };
        let allowed_ips = IpAllowList::parse(&self.allowed_ips.unwrap_or_default())?;
        Ok(NewApiKey {
            name,
            scopes,
            resources,
            tenants,
            expires_at,
            allowed_ips,
        })
    }
}

impl NewApiKey {
    /// Refuses (403 `privilege_escalation`) a key that would carry more than
    /// its creator holds: a scope the creator's scopes do not cover, a tenant
    /// the creator has no role in, or resources beyond the creator's. When the
    /// creator is itself an API key, the new key must also stay within its
    /// address list and must not outlive it. `creator` holds the grants the
    /// Directory holds now, never a token's snapshot of them.
    pub fn check_privilege(&self, creator: &Principal) -> Result<(), ApiError> {
        let deny = |why: String| ApiError::with_message(Reason::PrivilegeEscalation, why);
        let creator_scopes = creator.scopes();
        let id = creator.identity();
        if let Some(s) = self.scopes.iter().find(|s| !creator_scopes.covers(s)) {
            return Err(deny(format!("scope '{s}' is beyond your own scopes")));
        }
        if let Some(t) = self.tenants.iter().find(|t| creator.role_in(t).is_none()) {
            return Err(deny(format!("you have no role in tenant '{t}'")));
        }
        if !id.resources.covers(&self.resources) {
            return Err(deny("the key's resources go beyond your own".into()));
        }
        if !self.allowed_ips.within(&id.allowed_ips) {
            return Err(deny(
                "allowed_ips must stay within your own address list".into(),
            ));
        }
        if id.kind == CredentialKind::ApiKey {
            if let Some(limit) = id.expires_at {
                if self.expires_at.is_none_or(|e| e > limit) {
                    return Err(deny(
                        "a key made with an API key cannot outlive that key".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Identity, TenantReach};

    const JSON: Option<&str> = Some("application/json");
    const NOW: i64 = 1_800_000_000;

    fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ApiError> {
        parse_json(JSON, body.as_bytes())
    }

    #[test]
    fn email_link_bodies() {
        let e: EmailRequest = parse(r#"{"email": " Ada@Example.COM "}"#).unwrap();
        assert_eq!(e.validate().unwrap(), "ada@example.com");
        let bad: EmailRequest = parse(r#"{"email": "nope"}"#).unwrap();
        assert_eq!(bad.validate().unwrap_err().reason, Reason::InvalidField);
        let t = format!("ea_et_{}", "a".repeat(43));
        let ok: EmailTokenRequest = parse(&format!(r#"{{"token": "{t}"}}"#)).unwrap();
        assert_eq!(ok.validate().unwrap().expose(), t);
        let rt: EmailTokenRequest =
            parse(r#"{"token": "ea_rt_0123456789abcdefghijABCDEFGHIJ"}"#).unwrap();
        assert_eq!(rt.validate().unwrap_err().reason, Reason::EmailTokenInvalid);
        assert_eq!(
            parse::<EmailTokenRequest>("{}").unwrap_err().message,
            "token: is required"
        );
        let short: PasswordResetRequest =
            parse(&format!(r#"{{"token": "{t}", "password": "short"}}"#)).unwrap();
        assert_eq!(short.validate().unwrap_err().reason, Reason::InvalidField);
        let reset: PasswordResetRequest =
            parse(&format!(r#"{{"token": "{t}", "password": "long enough"}}"#)).unwrap();
        assert_eq!(reset.validate().unwrap().password.expose(), "long enough");
    }

    fn err<T: std::fmt::Debug>(r: Result<T, ApiError>) -> (Reason, String) {
        let e = r.unwrap_err();
        (e.reason, e.message)
    }

    #[test]
    fn content_type_must_be_json() {
        for ct in [
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("Application/JSON ;charset=UTF-8"),
        ] {
            assert!(is_json_content_type(ct), "{ct:?}");
        }
        for ct in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/jsonx"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let (r, _) = err(parse_json::<LoginRequest>(ct, b"{}"));
            assert_eq!(r, Reason::UnsupportedMediaType, "{ct:?}");
        }
    }

    #[test]
    fn bad_json_is_invalid_json() {
        for body in [
            "",
            "{",
            "{\"email\": }",
            "nul",
            "{\"a\":1}}",
            "[1,2]",
            "\"text\"",
            "42",
        ] {
            assert_eq!(
                err(parse::<LoginRequest>(body)).0,
                Reason::InvalidJson,
                "{body}"
            );
        }
    }

    #[test]
    fn field_errors_name_the_field() {
        let (r, m) = err(parse::<LoginRequest>(r#"{"password": "x"}"#));
        assert_eq!(r, Reason::InvalidField);
        assert_eq!(m, "email: is required");
        let (r, m) = err(parse::<LoginRequest>(r#"{"email": 5, "password": "x"}"#));
        assert_eq!(r, Reason::InvalidField);
        assert!(m.starts_with("email: must be a string"), "{m}");
        let (_, m) = err(parse::<LoginRequest>(
            r#"{"email": "a@b.co", "password": null}"#,
        ));
        assert!(m.starts_with("password: "), "{m}");
        let (_, m) = err(parse::<ApiKeyRequest>(
            r#"{"name": "k", "scopes": ["a:b", 7]}"#,
        ));
        assert!(m.starts_with("scopes[1]: must be a string"), "{m}");
        let (_, m) = err(parse::<ApiKeyRequest>(r#"{"name": "k", "scopes": "a:b"}"#));
        assert!(m.starts_with("scopes: must be a sequence"), "{m}");
        let (_, m) = err(parse::<ApiKeyRequest>(
            r#"{"name": "k", "scopes": [], "all_resources": "yes"}"#,
        ));
        assert!(m.starts_with("all_resources: must be a boolean"), "{m}");
        // Unknown fields are ignored.
        assert!(
            parse::<LoginRequest>(r#"{"email": "a@b.co", "password": "x", "extra": 1}"#).is_ok()
        );
    }

    #[test]
    fn registration_checks() {
        let ok: RegisterRequest =
            parse(r#"{"email": "  Alice+CI@Example.COM ", "password": "correct horse", "name": "  Alice  "}"#).unwrap();
        let r = ok.validate().unwrap();
        assert_eq!(r.email, "alice+ci@example.com");
        assert_eq!(r.name, "Alice");
        assert_eq!(r.password.expose(), "correct horse");

        let reg = |email: &str, password: &str, name: &str| {
            RegisterRequest {
                email: email.into(),
                password: Secret::new(password.into()),
                name: name.into(),
            }
            .validate()
        };
        let field = |r: Result<Registration, ApiError>| {
            let e = r.unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField);
            e.message.split(':').next().unwrap_or_default().to_string()
        };
        assert_eq!(field(reg("a@b.co", "1234567", "A")), "password");
        assert!(reg("a@b.co", "12345678", "A").is_ok());
        assert!(reg("a@b.co", "éééééééé", "A").is_ok(), "8 chars, 16 bytes");
        assert_eq!(field(reg("a@b.co", "ééééééé", "A")), "password");
        assert!(reg("a@b.co", &"x".repeat(1024), "A").is_ok());
        assert_eq!(field(reg("a@b.co", &"x".repeat(1025), "A")), "password");
        assert!(reg("a@b.co", &"é".repeat(1024), "A").is_ok());
        assert_eq!(field(reg("a@b.co", &"x".repeat(100_000), "A")), "password");
        assert_eq!(field(reg("a@b.co", "12345678", "   ")), "name");
        assert_eq!(field(reg("a@b.co", "12345678", "")), "name");
        assert!(reg("a@b.co", "12345678", &"n".repeat(200)).is_ok());
        assert_eq!(field(reg("a@b.co", "12345678", &"n".repeat(201))), "name");
        assert_eq!(field(reg("a@b.co", "12345678", "a\nb")), "name");
        assert_eq!(field(reg("not-an-email", "12345678", "A")), "email");
    }

    #[test]
    fn email_shapes() {
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y-z@xn--bcher-kva.example",
            "USER@EXAMPLE.TEST",
        ] {
            assert!(normalize_email(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "   ",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a@b.",
            "a@.co",
            "a@b..co",
            "a@-b.co",
            "a@b-.co",
            "a b@c.co",
            "a@b c.co",
            "a@@b.co",
            "a@b@c.co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a@b.c",
            "a@b.123",
            "a@bü.co",
            "\"a\"@b.co",
            "a@b_c.co",
        ] {
            assert_eq!(
                normalize_email(bad).unwrap_err().reason,
                Reason::InvalidField,
                "{bad}"
            );
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(200));
        assert!(normalize_email(&long).is_err());
        let long_local = format!("{}@b.co", "a".repeat(65));
        assert!(normalize_email(&long_local).is_err());
    }

    #[test]
    fn login_and_refresh() {
        let l: LoginRequest = parse(r#"{"email": " A@B.CO ", "password": "pw"}"#).unwrap();
        let l = l.validate().unwrap();
        assert_eq!(l.email, "a@b.co");
        let empty: LoginRequest = parse(r#"{"email": "a@b.co", "password": ""}"#).unwrap();
        assert_eq!(
            empty.validate().unwrap_err().message,
            "password: is required"
        );
        let r: RefreshRequest = parse(r#"{"refresh_token": "nope"}"#).unwrap();
        assert_eq!(
            r.validate().unwrap_err().reason,
            Reason::RefreshTokenInvalid
        );
        let good = format!(r#"{{"refresh_token": "ea_rt_{}"}}"#, "a".repeat(43));
        let r: RefreshRequest = parse(&good).unwrap();
        assert!(r.validate().is_ok());
        assert_eq!(
            err(parse::<RefreshRequest>("{}")).1,
            "refresh_token: is required"
        );
    }

    fn key(body: &str) -> Result<NewApiKey, ApiError> {
        parse::<ApiKeyRequest>(body)?.validate(NOW)
    }

    #[test]
    fn api_key_defaults() {
        let k = key(r#"{"name": " CI ", "scopes": ["scans:read", "drifts:read", "scans:read"]}"#)
            .unwrap();
        assert_eq!(k.name, "CI");
        assert_eq!(k.scopes.to_vec(), vec!["scans:read", "drifts:read"]);
        assert_eq!(k.resources, ResourceGrant::All);
        assert!(k.tenants.is_empty());
        assert_eq!(k.expires_at, None);
        assert!(k.allowed_ips.is_empty());

        let k =
            key(r#"{"name": "k", "scopes": ["a:b"], "resources": ["r1", "r2", "r1"]}"#).unwrap();
        assert_eq!(
            k.resources,
            ResourceGrant::Only(vec!["r1".into(), "r2".into()])
        );
        let k = key(r#"{"name": "k", "scopes": ["a:b"], "all_resources": false}"#).unwrap();
        assert_eq!(k.resources, ResourceGrant::Only(vec![]));
        let k = key(r#"{"name": "k", "scopes": ["a:b"], "all_resources": true, "resources": []}"#)
            .unwrap();
        assert_eq!(k.resources, ResourceGrant::All);
        let k = key(r#"{"name": "k", "scopes": ["a:b"], "resources": null, "tenants": null, "expires_at": null, "allowed_ips": null}"#).unwrap();
        assert_eq!(k.resources, ResourceGrant::All);

        let k = key(r#"{"name": "k", "scopes": ["a:b"], "tenants": ["demo"], "allowed_ips": ["10.0.0.0/8"], "expires_at": "2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(k.tenants, vec!["demo"]);
        assert_eq!(k.allowed_ips.to_vec(), vec!["10.0.0.0/8"]);
        assert_eq!(k.expires_at, Some(1_893_456_000));
    }

    #[test]
    fn api_key_field_errors() {
        let cases = [
            (r#"{"name": "k", "scopes": []}"#, "scopes"),
            (r#"{"name": "k", "scopes": ["bad scope"]}"#, "scopes"),
            (r#"{"name": "", "scopes": ["a:b"]}"#, "name"),
            (r#"{"scopes": ["a:b"]}"#, "name"),
            (r#"{"name": "k"}"#, "scopes"),
            (
                r#"{"name": "k", "scopes": ["a:b"], "all_resources": true, "resources": ["r1"]}"#,
                "resources",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "resources": [""]}"#,
                "resources[0]",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "tenants": ["ok", "a\u0001"]}"#,
                "tenants[1]",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "expires_at": "tomorrow"}"#,
                "expires_at",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "expires_at": "2020-01-01T00:00:00Z"}"#,
                "expires_at",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "expires_at": 1893456000}"#,
                "expires_at",
            ),
            (
                r#"{"name": "k", "scopes": ["a:b"], "allowed_ips": ["10.0.0.0/33"]}"#,
                "allowed_ips",
            ),
        ];
        for (body, field) in cases {
            let e = key(body).unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField, "{body}");
            assert!(
                e.message.starts_with(&format!("{field}:")),
                "{body}: {}",
                e.message
            );
        }
        // `now` itself is not the future.
        let at_now = ApiKeyRequest {
            name: "k".into(),
            scopes: vec!["a:b".into()],
            all_resources: None,
            resources: None,
            tenants: None,
            expires_at: Some(crate::time::rfc3339(NOW)),
            allowed_ips: None,
        };
        assert!(at_now.validate(NOW).is_err());
    }

    fn creator(scopes: &str) -> Identity {
        Identity::new(
            CredentialKind::User,
            "usr_1",
            ScopeSet::parse(scopes).unwrap(),
        )
    }

    /// The creator with its grants now: its scopes, admin of `demo`.
    fn now(id: &Identity) -> Principal {
        let g = crate::grants::Grants {
            scopes: ScopeSet::parse("*").unwrap(),
            tenants: [("demo".to_string(), Role::Admin)].into(),
        };
        Principal::resolve(id.clone(), Some(&g))
    }

    fn escalation(r: Result<(), ApiError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.reason, Reason::PrivilegeEscalation);
        e.message
    }

    #[test]
    fn keys_cannot_exceed_their_creator() {
        let user = creator("scans:* drifts:read");
        let ok = key(r#"{"name": "k", "scopes": ["scans:read", "scans:*", "drifts:read"], "tenants": ["demo"]}"#).unwrap();
        assert_eq!(ok.check_privilege(&now(&user)), Ok(()));

        for (body, word) in [
            (
                r#"{"name": "k", "scopes": ["drifts:write"]}"#,
                "drifts:write",
            ),
            (r#"{"name": "k", "scopes": ["*"]}"#, "'*'"),
            (r#"{"name": "k", "scopes": ["*:read"]}"#, "*:read"),
            (r#"{"name": "k", "scopes": ["drifts:*"]}"#, "drifts:*"),
            (
                r#"{"name": "k", "scopes": ["scans:read"], "tenants": ["other"]}"#,
                "other",
            ),
        ] {
            let m = escalation(key(body).unwrap().check_privilege(&now(&user)));
            assert!(m.contains(word), "{body}: {m}");
        }

        let mut limited = creator("*");
        limited.resources = ResourceGrant::Only(vec!["r1".into(), "r2".into()]);
        assert!(
            key(r#"{"name": "k", "scopes": ["a:b"], "resources": ["r1"]}"#)
                .unwrap()
                .check_privilege(&now(&limited))
                .is_ok()
        );
        escalation(
            key(r#"{"name": "k", "scopes": ["a:b"], "resources": ["r3"]}"#)
                .unwrap()
                .check_privilege(&now(&limited)),
        );
        escalation(
            key(r#"{"name": "k", "scopes": ["a:b"]}"#)
                .unwrap()
                .check_privilege(&now(&limited)),
        );
    }

    #[test]
    fn membership_changes_name_a_role_or_null_explicitly() {
        let m: MembershipRequest = parse(r#"{"email": " Ann@X.test ", "role": "viewer"}"#).unwrap();
        assert_eq!(
            m.validate().unwrap(),
            Membership {
                email: "ann@x.test".into(),
                role: Some(Role::Viewer)
            }
        );
        let m: MembershipRequest = parse(r#"{"email": "a@x.test", "role": null}"#).unwrap();
        assert_eq!(m.validate().unwrap().role, None);
        let (r, msg) = err(parse::<MembershipRequest>(r#"{"email": "a@x.test"}"#));
        assert_eq!(
            (r, msg.as_str()),
            (Reason::InvalidField, "role: is required")
        );
        let m: MembershipRequest = parse(r#"{"email": "a@x.test", "role": "owner"}"#).unwrap();
        assert!(m.validate().unwrap_err().message.starts_with("role:"));
    }

    #[test]
    fn keys_made_by_keys_stay_inside_them() {
        let mut parent = creator("*");
        parent.kind = CredentialKind::ApiKey;
        parent.tenants = TenantReach::Listed(vec!["demo".into()]);
        parent.allowed_ips = IpAllowList::parse(&["10.0.0.0/8"]).unwrap();
        parent.expires_at = Some(NOW + 3600);
        let inside = key(r#"{"name": "k", "scopes": ["a:b"], "allowed_ips": ["10.1.0.0/16"], "expires_at": "2027-01-15T10:00:00Z"}"#)
            .unwrap();
        assert!(inside.expires_at.is_some_and(|e| e > NOW + 3600));
        let m = escalation(inside.check_privilege(&now(&parent)));
        assert!(m.contains("outlive"), "{m}");
        parent.expires_at = None;
        assert!(inside.check_privilege(&now(&parent)).is_ok());
        let anywhere = key(r#"{"name": "k", "scopes": ["a:b"]}"#).unwrap();
        assert!(escalation(anywhere.check_privilege(&now(&parent))).contains("allowed_ips"));
    }
}
