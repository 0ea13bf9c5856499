//! Which profile, server and credential a command uses: flag, then environment, then the profile, then the default.

use edgeauth_core::credential::CredentialForm;
use edgeauth_core::secret::Secret;

use crate::config::{
    valid_profile_name, ConfigDoc, CredentialKind, StoredCredential, DEFAULT_PROFILE,
};
use crate::failure::{Failure, Hints};

/// The server used when nothing names one (SPEC "CLI").
pub const DEFAULT_URL: &str = "http://127.0.0.1:8787";

/// `EDGEAUTH_TOKEN`, `EDGEAUTH_URL`, `EDGEAUTH_PROFILE` (empty counts as unset).
#[derive(Clone, Default)]
pub struct EnvSettings {
    pub token: Option<Secret>,
    pub url: Option<String>,
    pub profile: Option<String>,
}

impl EnvSettings {
    pub fn from_process() -> EnvSettings {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        EnvSettings {
            token: get("EDGEAUTH_TOKEN").map(|t| Secret::new(t.trim().to_string())),
            url: get("EDGEAUTH_URL"),
            profile: get("EDGEAUTH_PROFILE"),
        }
    }
}

/// Where a setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Config,
    Default,
}

/// Where the credential in use came from; the words are `auth status`'s `source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Env,
    Config,
    Keyring,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Env => "env",
            Source::Config => "config",
            Source::Keyring => "keyring",
        }
    }
}

/// The profile and server a command talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub profile: String,
    pub profile_origin: Origin,
    pub url: String,
    pub url_origin: Origin,
}

impl Target {
    /// Hints that name this profile in the commands they suggest.
    pub fn hints(&self) -> Hints {
        Hints {
            profile: (self.profile != DEFAULT_PROFILE).then(|| self.profile.clone()),
            ..Hints::default()
        }
    }
}

/// Checks a base URL and puts it in the one form the config compares:
/// `http(s)://host[:port]`, no path, query or fragment, no trailing slash.
pub fn normalize_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let scheme = ["http://", "https://"]
        .into_iter()
        .find(|s| {
            url.get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
        })
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let rest = &url[scheme.len()..];
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be the server's origin only (scheme, host and port: no path, query or user)"
        ));
    }
    Ok(format!("{scheme}{authority}"))
}

/// Picks the profile and the URL.
pub fn resolve_target(
    flag_profile: Option<&str>,
    flag_url: Option<&str>,
    env: &EnvSettings,
    doc: &ConfigDoc,
) -> Result<Target, Failure> {
    let (profile, profile_origin) = match (flag_profile, &env.profile, &doc.active_profile) {
        (Some(p), _, _) => (p.to_string(), Origin::Flag),
        (None, Some(p), _) => (p.clone(), Origin::Env),
        (None, None, Some(p)) => (p.clone(), Origin::Config),
        (None, None, None) => (DEFAULT_PROFILE.to_string(), Origin::Default),
    };
    if !valid_profile_name(&profile) {
        let msg = format!(
            "profile name {profile:?} is not valid: use letters, digits, '-', '_' or '.' (at most 64)"
        );
        return Err(match profile_origin {
            Origin::Config => Failure::Other(msg),
            _ => Failure::Usage(msg),
        });
    }
    let stored_url = doc.profile(&profile).and_then(|p| p.url.as_deref());
    let (raw, url_origin) = match (flag_url, &env.url, stored_url) {
        (Some(u), _, _) => (u, Origin::Flag),
        (None, Some(u), _) => (u.as_str(), Origin::Env),
        (None, None, Some(u)) => (u, Origin::Config),
        (None, None, None) => (DEFAULT_URL, Origin::Default),
    };
    let url = normalize_url(raw).map_err(|why| match url_origin {
        Origin::Flag => Failure::Usage(format!("--url: {why}")),
        Origin::Env => Failure::Usage(format!("EDGEAUTH_URL: {why}")),
        _ => Failure::Other(format!("profile {profile}'s url: {why}")),
    })?;
    Ok(Target {
        profile,
        profile_origin,
        url,
        url_origin,
    })
}

/// The credential a command will send, with what it needs to refresh itself.
pub struct Active {
    pub secret: Secret,
    pub kind: CredentialKind,
    pub source: Source,
    /// Only for a stored session.
    pub refresh_token: Option<Secret>,
    /// What the config remembers (expiry, who); `None` for `EDGEAUTH_TOKEN`.
    pub stored: Option<StoredCredential>,
}

impl Active {
    /// Hints for messages about this credential.
    pub fn hints(&self, target: &Target) -> Hints {
        Hints {
            from_env: self.source == Source::Env,
            api_key: self.kind == CredentialKind::ApiKey,
            ..target.hints()
        }
    }

    /// Whether this credential can be refreshed.
    pub fn refreshable(&self) -> bool {
        self.kind == CredentialKind::Session && self.refresh_token.is_some()
    }
}

/// What a bare credential is, by its shape (for `EDGEAUTH_TOKEN` and `--token`).
pub fn kind_of_bare_credential(credential: &str) -> Result<CredentialKind, String> {
    match CredentialForm::classify(credential) {
        Ok(CredentialForm::ApiKey(_)) => Ok(CredentialKind::ApiKey),
        Ok(CredentialForm::Jwt) => Ok(CredentialKind::Token),
        Err(e) => Err(e.message),
    }
}

/// The secrets kept in the OS keyring for a profile (one JSON value per entry).
#[derive(serde::Deserialize)]
pub struct VaultSecrets {
    pub token: Secret,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
}

/// Where the stored credential is, before its secrets are read: `EDGEAUTH_TOKEN`
/// wins, then the profile's credential when it was issued by this very URL.
pub enum Located<'a> {
    Env(&'a Secret),
    /// In the config file (`keyring == false`) or the keyring (`true`).
    Stored(&'a StoredCredential),
    /// The profile holds a credential, but for another server.
    OtherServer(String),
    None,
}

/// Finds the credential. A stored credential is only ever sent to the server
/// that issued it: `--url` pointing elsewhere does not carry it along.
pub fn locate<'a>(env: &'a EnvSettings, doc: &'a ConfigDoc, target: &Target) -> Located<'a> {
    if let Some(token) = &env.token {
        return Located::Env(token);
    }
    let Some(profile) = doc.profile(&target.profile) else {
        return Located::None;
    };
    let Some(cred) = &profile.credential else {
        return Located::None;
    };
    let issued_by = profile
        .url
        .as_deref()
        .and_then(|u| normalize_url(u).ok())
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    if issued_by != target.url {
        return Located::OtherServer(issued_by);
    }
    Located::Stored(cred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    fn doc_with(active: Option<&str>, profiles: &[(&str, Option<&str>)]) -> ConfigDoc {
        let mut doc = ConfigDoc {
            active_profile: active.map(str::to_string),
            ..ConfigDoc::default()
        };
        for (name, url) in profiles {
            doc.profiles.insert(
                name.to_string(),
                Profile {
                    url: url.map(str::to_string),
                    ..Profile::default()
                },
            );
        }
        doc
    }

    fn env(url: Option<&str>, profile: Option<&str>, token: Option<&str>) -> EnvSettings {
        EnvSettings {
            url: url.map(str::to_string),
            profile: profile.map(str::to_string),
            token: token.map(|t| Secret::new(t.to_string())),
        }
    }

    #[test]
    fn profile_precedence_flag_env_config_default() {
        let doc = doc_with(Some("fromconfig"), &[]);
        let t = |f: Option<&str>, e: &EnvSettings, d: &ConfigDoc| {
            resolve_target(f, None, e, d).unwrap()
        };
        let r = t(Some("flag"), &env(None, Some("envp"), None), &doc);
        assert_eq!(
            (r.profile.as_str(), r.profile_origin),
            ("flag", Origin::Flag)
        );
        let r = t(None, &env(None, Some("envp"), None), &doc);
        assert_eq!(
            (r.profile.as_str(), r.profile_origin),
            ("envp", Origin::Env)
        );
        let r = t(None, &env(None, None, None), &doc);
        assert_eq!(
            (r.profile.as_str(), r.profile_origin),
            ("fromconfig", Origin::Config)
        );
        let r = t(None, &env(None, None, None), &ConfigDoc::default());
        assert_eq!(
            (r.profile.as_str(), r.profile_origin),
            ("default", Origin::Default)
        );
    }

    #[test]
    fn url_precedence_flag_env_profile_default() {
        let doc = doc_with(
            None,
            &[("default", Some("http://stored:1/")), ("other", None)],
        );
        let r = resolve_target(
            None,
            Some("http://flag:1"),
            &env(Some("http://env:1"), None, None),
            &doc,
        )
        .unwrap();
        assert_eq!(
            (r.url.as_str(), r.url_origin),
            ("http://flag:1", Origin::Flag)
        );
        let r = resolve_target(None, None, &env(Some("http://env:1"), None, None), &doc).unwrap();
        assert_eq!(
            (r.url.as_str(), r.url_origin),
            ("http://env:1", Origin::Env)
        );
        let r = resolve_target(None, None, &env(None, None, None), &doc).unwrap();
        assert_eq!(
            (r.url.as_str(), r.url_origin),
            ("http://stored:1", Origin::Config)
        );
        let r = resolve_target(Some("other"), None, &env(None, None, None), &doc).unwrap();
        assert_eq!(
            (r.url.as_str(), r.url_origin),
            (DEFAULT_URL, Origin::Default)
        );
    }

    #[test]
    fn bad_names_and_urls_are_usage_errors_when_typed() {
        let e = env(None, None, None);
        let doc = ConfigDoc::default();
        assert_eq!(
            resolve_target(Some("a b"), None, &e, &doc)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            resolve_target(None, Some("ftp://x"), &e, &doc)
                .unwrap_err()
                .exit_code(),
            2
        );
        let bad_env = env(Some("localhost:8787"), None, None);
        assert_eq!(
            resolve_target(None, None, &bad_env, &doc)
                .unwrap_err()
                .exit_code(),
            2
        );
        let bad_doc = doc_with(None, &[("default", Some("nope"))]);
        assert_eq!(
            resolve_target(None, None, &e, &bad_doc)
                .unwrap_err()
                .exit_code(),
            1
        );
    }

    #[test]
    fn urls_are_normalized() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8787/").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            normalize_url(" HTTPS://auth.example.com ").unwrap(),
            "https://auth.example.com"
        );
        for bad in [
            "127.0.0.1:8787",
            "http://",
            "http:///x",
            "http://h/api",
            "http://h?x=1",
            "http://u:p@h",
            "file:///etc",
        ] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
    }

    fn stored(kind: CredentialKind) -> StoredCredential {
        StoredCredential {
            kind,
            keyring: false,
            token: Some(Secret::new("a.b.c".into())),
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            subject: None,
            email: None,
            key_id: None,
            extra: toml::Table::new(),
        }
    }

    #[test]
    fn env_token_wins_and_stored_credentials_stay_with_their_server() {
        let mut doc = doc_with(None, &[("default", Some("http://a:1"))]);
        doc.profile_mut("default").credential = Some(stored(CredentialKind::Session));
        let at = |url: &str| Target {
            profile: "default".into(),
            profile_origin: Origin::Default,
            url: url.into(),
            url_origin: Origin::Flag,
        };
        let none = env(None, None, None);
        assert!(matches!(
            locate(&none, &doc, &at("http://a:1")),
            Located::Stored(_)
        ));
        match locate(&none, &doc, &at("http://b:1")) {
            Located::OtherServer(u) => assert_eq!(u, "http://a:1"),
            _ => panic!("a credential must not follow --url to another server"),
        }
        let with_token = env(None, None, Some("ea_live_x"));
        assert!(matches!(
            locate(&with_token, &doc, &at("http://b:1")),
            Located::Env(_)
        ));
        let empty = ConfigDoc::default();
        assert!(matches!(
            locate(&none, &empty, &at("http://a:1")),
            Located::None
        ));
    }

    #[test]
    fn bare_credentials_are_classified_by_core() {
        let key = format!("ea_live_{}", "a".repeat(40));
        assert_eq!(kind_of_bare_credential(&key), Ok(CredentialKind::ApiKey));
        assert_eq!(
            kind_of_bare_credential("eyJh.eyJz.c2ln"),
            Ok(CredentialKind::Token)
        );
        assert!(kind_of_bare_credential("ea_rt_abc").is_err());
        assert!(kind_of_bare_credential("hunter2").is_err());
    }
}
