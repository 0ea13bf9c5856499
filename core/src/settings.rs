//! The worker's settings, parsed once per isolate from its vars and secrets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cors::AllowedOrigins;
use crate::email::{check_api_url, EmailApi, EmailSettings};
use crate::jwt::{ExternalIssuer, OwnIssuer, TrustConfig};
use crate::policy::Policy;
use crate::scope::{Role, ScopeSet};
use crate::secret::Secret;

/// Development relaxes defaults (open CORS, generous default scopes, inline HS256 secrets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Everything the worker reads from its environment, typed and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub trust: TrustConfig,
    pub access_ttl_s: i64,
    pub refresh_ttl_s: i64,
    pub refresh_grace_s: i64,
    pub allowed_origins: AllowedOrigins,
    pub default_user_scopes: ScopeSet,
    pub default_user_tenants: BTreeMap<String, Role>,
    /// `TENANT_ADMINS`: tenant → emails that become its admins once the email
    /// is verified (how an operator seeds a tenant's first admin).
    pub tenant_admins: TenantAdmins,
    /// `REQUIRE_VERIFIED_EMAIL`: password login refuses an unverified email
    /// (403 `email_unverified`).
    pub require_verified_email: bool,
    /// How email links are sent (`EMAIL_API_URL`, `EMAIL_API_KEY`, `EMAIL_FROM`, `EMAIL_PRODUCT_NAME`).
    pub email: EmailSettings,
    /// `None`: the built-in echo origin answers.
    pub origin_url: Option<String>,
    pub forward_authorization: bool,
    pub max_body_bytes: u64,
    pub policy: Policy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    // The names other tools use (Envoy's `issuer`, OIDC discovery's `jwks_uri`, a
    // single `audience`) are accepted too; any other field is an error, so that a
    // typo cannot silently drop a check.
    #[serde(alias = "issuer")]
    iss: String,
    #[serde(alias = "audience", deserialize_with = "one_or_many")]
    audiences: Vec<String>,
    #[serde(alias = "jwks_uri")]
    jwks_url: Option<String>,
    hs256_secret_binding: Option<String>,
    hs256_secret: Option<String>,
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn number(get: &dyn Fn(&str) -> Option<String>, name: &str, default: i64) -> Result<i64, String> {
    bounded_number(get, name, default, 1)
}

/// A whole number of at least `min`; absent or empty is `default`.
fn bounded_number(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: i64,
    min: i64,
) -> Result<i64, String> {
    match get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            _ if min == 0 => Err(format!(
                "{name} must be a whole number of 0 or more, not {v:?}"
            )),
            _ => Err(format!("{name} must be a positive integer, not {v:?}")),
        },
    }
}

/// `TENANT_ADMINS`: tenant → the emails that are its first admins. The role
/// is granted when the email is verified (a verification link, a sign-in
/// link, a password reset), never at registration: whoever registers an
/// address first must not become its tenant's admin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantAdmins(pub BTreeMap<String, Vec<String>>);

impl TenantAdmins {
    /// The tenants whose first admin `email` (normalized) is.
    pub fn tenants_of(&self, email: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, admins)| admins.iter().any(|a| a == email))
            .map(|(tenant, _)| tenant.clone())
            .collect()
    }
}

fn truthy(v: Option<String>) -> bool {
    matches!(
        v.as_deref()
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Some("1") | Some("true") | Some("yes")
    )
}

impl Settings {
    /// The tenant roles a newly registered user starts with: `DEFAULT_USER_TENANTS`
    /// only (`TENANT_ADMINS` waits for the email to be verified).
    pub fn initial_tenants(&self) -> BTreeMap<String, Role> {
        self.default_user_tenants.clone()
    }

    /// Reads the settings through `var` (plain vars) and `secret` (secret bindings).
    /// An error names the setting, so a misconfigured deployment says what to fix.
    pub fn from_env(
        var: &dyn Fn(&str) -> Option<String>,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, String> {
        let environment = match var("ENVIRONMENT").as_deref().map(str::trim) {
            Some("development") | Some("dev") | Some("test") => Environment::Development,
            _ => Environment::Production,
        };
        let dev = environment == Environment::Development;
        let nonempty = |name: &str| var(name).filter(|v| !v.trim().is_empty());

        let mut external = Vec::new();
        if let Some(raw) = nonempty("EXTERNAL_ISSUERS") {
            let list: Vec<RawIssuer> =
                serde_json::from_str(&raw).map_err(|e| format!("EXTERNAL_ISSUERS: {e}"))?;
            for i in list {
                let hs256_secret = match (i.hs256_secret_binding, i.hs256_secret) {
                    (Some(binding), _) => Some(Secret::new(secret(&binding).ok_or_else(|| {
                        format!("EXTERNAL_ISSUERS: {}: secret binding {binding} is not set", i.iss)
                    })?)),
                    (None, Some(inline)) if dev => Some(Secret::new(inline)),
                    (None, Some(_)) => {
                        return Err(format!(
                            "EXTERNAL_ISSUERS: {}: inline hs256_secret is for development only; use hs256_secret_binding",
                            i.iss
                        ))
                    }
                    (None, None) => None,
                };
                if i.jwks_url.is_none() && hs256_secret.is_none() {
                    return Err(format!(
                        "EXTERNAL_ISSUERS: {}: needs jwks_url or an HS256 secret",
                        i.iss
                    ));
                }
                if i.audiences.is_empty() {
                    return Err(format!("EXTERNAL_ISSUERS: {}: audiences is empty", i.iss));
                }
                external.push(ExternalIssuer {
                    iss: i.iss,
                    audiences: i.audiences,
                    jwks_url: i.jwks_url,
                    hs256_secret,
                });
            }
        }

        // Set but empty means none (`DEFAULT_USER_SCOPES=` gives new users no scope);
        // only an absent var takes the environment's default.
        let default_scopes =
            var("DEFAULT_USER_SCOPES").unwrap_or_else(
                || {
                    if dev {
                        "*".into()
                    } else {
                        String::new()
                    }
                },
            );
        let default_user_scopes = ScopeSet::parse(&default_scopes)
            .map_err(|e| format!("DEFAULT_USER_SCOPES: {}", e.message))?;
        let default_tenants = match var("DEFAULT_USER_TENANTS") {
            Some(v) if v.trim().is_empty() => "{}".into(),
            Some(v) => v,
            None if dev => r#"{"demo":"admin"}"#.into(),
            None => "{}".into(),
        };
        let default_user_tenants: BTreeMap<String, Role> =
            serde_json::from_str(&default_tenants)
                .map_err(|e| format!("DEFAULT_USER_TENANTS: {e}"))?;

        let tenant_admins = TenantAdmins(match nonempty("TENANT_ADMINS") {
            Some(raw) => serde_json::from_str::<BTreeMap<String, Vec<String>>>(&raw)
                .map_err(|e| format!("TENANT_ADMINS: {e}"))?
                .into_iter()
                .map(|(t, emails)| (t, emails.iter().map(|e| e.trim().to_lowercase()).collect()))
                .collect(),
            None => BTreeMap::new(),
        });

        // An API URL without its key cannot send: the email endpoints answer 503
        // and log this, rather than the whole worker refusing to start.
        let (api, api_problem) = match nonempty("EMAIL_API_URL") {
            None => (None, None),
            Some(raw) => {
                let url = check_api_url(&raw)?;
                match secret("EMAIL_API_KEY").filter(|k| !k.trim().is_empty()) {
                    Some(key) => (
                        Some(EmailApi {
                            url,
                            key: Secret::new(key.trim().to_string()),
                        }),
                        None,
                    ),
                    None => (
                        None,
                        Some(
                            "EMAIL_API_URL is set but the secret EMAIL_API_KEY is not".to_string(),
                        ),
                    ),
                }
            }
        };
        let email = EmailSettings {
            api,
            api_problem,
            from: nonempty("EMAIL_FROM").map(|f| f.trim().to_string()),
            product_name: nonempty("EMAIL_PRODUCT_NAME")
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| "edgeauth".into()),
        };

        let origin_url = nonempty("ORIGIN_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        let policy = match nonempty("POLICY") {
            Some(p) => Policy::from_json(&p).map_err(|e| format!("POLICY: {e}"))?,
            None => Policy::default_policy(),
        };

        let settings = Settings {
            environment,
            trust: TrustConfig {
                own: OwnIssuer {
                    iss: nonempty("ISSUER").unwrap_or_else(|| "edgeauth".into()),
                    audience: nonempty("AUDIENCE").unwrap_or_else(|| "edgeauth".into()),
                },
                external,
            },
            access_ttl_s: number(var, "ACCESS_TTL_S", 3600)?,
            refresh_ttl_s: number(var, "REFRESH_TTL_S", 7 * 24 * 3600)?,
            // 0 turns the grace window off: any second presentation is theft.
            refresh_grace_s: bounded_number(var, "REFRESH_GRACE_S", 30, 0)?,
            allowed_origins: AllowedOrigins::parse(&var("ALLOWED_ORIGINS").unwrap_or_else(|| {
                if dev {
                    "*".into()
                } else {
                    String::new()
                }
            })),
            default_user_scopes,
            default_user_tenants,
            tenant_admins,
            require_verified_email: truthy(var("REQUIRE_VERIFIED_EMAIL")),
            email,
            origin_url,
            forward_authorization: matches!(
                var("FORWARD_AUTHORIZATION").as_deref().map(str::trim),
                Some("1") | Some("true") | Some("yes")
            ),
            max_body_bytes: number(var, "MAX_BODY_BYTES", 64 * 1024)? as u64,
            policy,
        };
        if settings.origin_url.is_none() && !dev {
            // The echo origin would answer every allowed request with its own headers.
            return Err(
                "ORIGIN_URL must be set in production (the echo origin is for development)".into(),
            );
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }
    fn no_secrets(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn production_defaults_are_closed() {
        let err = Settings::from_env(&vars(&[]), &no_secrets).unwrap_err();
        assert!(err.contains("ORIGIN_URL"));
        let s =
            Settings::from_env(&vars(&[("ORIGIN_URL", "https://api.test/")]), &no_secrets).unwrap();
        assert_eq!(s.origin_url.as_deref(), Some("https://api.test"));
        assert_eq!(s.environment, Environment::Production);
        assert_eq!(s.allowed_origins, AllowedOrigins::List(vec![]));
        assert!(s.default_user_tenants.is_empty());
        assert_eq!(s.access_ttl_s, 3600);
        assert_eq!(s.max_body_bytes, 65536);
    }

    #[test]
    fn development_defaults_and_inline_secrets() {
        let s = Settings::from_env(
            &vars(&[
                ("ENVIRONMENT", "development"),
                (
                    "EXTERNAL_ISSUERS",
                    r#"[{"iss": "https://hs.test", "audiences": ["api"], "hs256_secret": "s"}]"#,
                ),
                ("ACCESS_TTL_S", "20"),
            ]),
            &no_secrets,
        )
        .unwrap();
        assert_eq!(s.allowed_origins, AllowedOrigins::Any);
        assert_eq!(s.default_user_tenants.get("demo"), Some(&Role::Admin));
        assert_eq!(s.trust.external.len(), 1);
        assert_eq!(s.access_ttl_s, 20);
    }

    #[test]
    fn tenant_admins_seed_first_admins() {
        let s = Settings::from_env(
            &vars(&[
                ("TENANT_ADMINS", r#"{"acme": ["Ops@Acme.test"]}"#),
                ("ORIGIN_URL", "https://api.test"),
            ]),
            &no_secrets,
        )
        .unwrap();
        // Granted on verification, never at registration.
        assert_eq!(s.tenant_admins.tenants_of("ops@acme.test"), vec!["acme"]);
        assert!(s.tenant_admins.tenants_of("dev@acme.test").is_empty());
        assert!(s.initial_tenants().is_empty());
        assert!(!s.require_verified_email);
    }

    #[test]
    fn email_settings() {
        let s = Settings::from_env(
            &vars(&[
                ("ORIGIN_URL", "https://api.test"),
                ("EMAIL_API_URL", "https://mail.test/send"),
                ("EMAIL_FROM", "Acme <no-reply@acme.test>"),
                ("REQUIRE_VERIFIED_EMAIL", "true"),
            ]),
            &|k| (k == "EMAIL_API_KEY").then(|| "re_123".to_string()),
        )
        .unwrap();
        assert!(s.require_verified_email);
        let api = s.email.api.as_ref().unwrap();
        assert_eq!(api.url, "https://mail.test/send");
        assert_eq!(api.key.expose(), "re_123");
        assert_eq!(s.email.from.as_deref(), Some("Acme <no-reply@acme.test>"));
        assert_eq!(s.email.product_name, "edgeauth");
        // A URL without its key: the worker starts, the email endpoints say why.
        let s = Settings::from_env(
            &vars(&[
                ("ORIGIN_URL", "https://api.test"),
                ("EMAIL_API_URL", "https://mail.test/send"),
            ]),
            &no_secrets,
        )
        .unwrap();
        assert!(s.email.api.is_none());
        assert!(s.email.api_problem.unwrap().contains("EMAIL_API_KEY"));
        let err = Settings::from_env(
            &vars(&[
                ("ORIGIN_URL", "https://api.test"),
                ("EMAIL_API_URL", "http://mail.test/send"),
            ]),
            &no_secrets,
        )
        .unwrap_err();
        assert!(err.contains("EMAIL_API_URL"));
    }

    #[test]
    fn issuers_accept_other_tools_field_names_but_no_unknown_field() {
        let s = Settings::from_env(
            &vars(&[
                ("ENVIRONMENT", "development"),
                (
                    "EXTERNAL_ISSUERS",
                    r#"[{"issuer": "https://idp.test", "audience": "api", "jwks_uri": "http://127.0.0.1:1/jwks.json"},
                        {"iss": "https://hs.test", "audiences": ["a", "b"], "hs256_secret": "s"}]"#,
                ),
            ]),
            &no_secrets,
        )
        .unwrap();
        let idp = &s.trust.external[0];
        assert_eq!(idp.iss, "https://idp.test");
        assert_eq!(idp.audiences, vec!["api"]);
        assert_eq!(
            idp.jwks_url.as_deref(),
            Some("http://127.0.0.1:1/jwks.json")
        );
        assert_eq!(s.trust.external[1].audiences, vec!["a", "b"]);
        let err = Settings::from_env(
            &vars(&[(
                "EXTERNAL_ISSUERS",
                r#"[{"iss": "x", "audiences": ["a"], "jwks_url": "http://x", "algs": ["HS256"]}]"#,
            )]),
            &no_secrets,
        )
        .unwrap_err();
        assert!(
            err.contains("EXTERNAL_ISSUERS") && err.contains("algs"),
            "{err}"
        );
    }

    #[test]
    fn inline_secrets_are_refused_in_production_and_bad_numbers_named() {
        let err = Settings::from_env(
            &vars(&[(
                "EXTERNAL_ISSUERS",
                r#"[{"iss": "x", "audiences": ["a"], "hs256_secret": "s"}]"#,
            )]),
            &no_secrets,
        )
        .unwrap_err();
        assert!(err.contains("development only"));
        let err = Settings::from_env(&vars(&[("ACCESS_TTL_S", "soon")]), &no_secrets).unwrap_err();
        assert!(err.contains("ACCESS_TTL_S"));
        let err = Settings::from_env(&vars(&[("ACCESS_TTL_S", "0")]), &no_secrets).unwrap_err();
        assert!(err.contains("ACCESS_TTL_S"));
        let err = Settings::from_env(&vars(&[("REFRESH_GRACE_S", "-1")]), &no_secrets).unwrap_err();
        assert!(err.contains("REFRESH_GRACE_S"));
    }

    #[test]
    fn zero_grace_and_empty_defaults_are_values_of_their_own() {
        let s = Settings::from_env(
            &vars(&[
                ("ENVIRONMENT", "development"),
                ("REFRESH_GRACE_S", "0"),
                ("DEFAULT_USER_SCOPES", ""),
                ("DEFAULT_USER_TENANTS", ""),
            ]),
            &no_secrets,
        )
        .unwrap();
        assert_eq!(s.refresh_grace_s, 0);
        assert!(s.default_user_scopes.is_empty());
        assert!(s.default_user_tenants.is_empty());
        // Absent, development's defaults apply.
        let s = Settings::from_env(&vars(&[("ENVIRONMENT", "development")]), &no_secrets).unwrap();
        assert_eq!(s.refresh_grace_s, 30);
        assert_eq!(s.default_user_scopes.to_space_separated(), "*");
        assert_eq!(s.default_user_tenants.get("demo"), Some(&Role::Admin));
    }
}
