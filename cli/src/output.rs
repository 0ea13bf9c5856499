//! What commands print: text for people, and the stable `--json` shapes (documented in cli/README.md).

use serde_json::{json, Map, Value};

use crate::config::{ConfigDoc, CredentialKind};
use crate::settings::Source;

/// "in 59 min", "3 h ago", "in 6 d".
pub fn relative(at: i64, now: i64) -> String {
    let d = at - now;
    let a = d.unsigned_abs();
    let amount = if a < 90 {
        format!("{a} s")
    } else if a < 90 * 60 {
        format!("{} min", (a + 30) / 60)
    } else if a < 36 * 3600 {
        format!("{} h", (a + 1800) / 3600)
    } else {
        format!("{} d", (a + 43_200) / 86_400)
    };
    if d >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `["a","b"]` → `a b`; empty → `(none)`.
fn scopes_text(v: &Value) -> String {
    let list: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(" ")
    }
}

/// `{"demo":"admin"}` → `demo (admin)`; `["t1"]` → `t1`; empty → `(none)`.
fn tenants_text(v: &Value) -> String {
    let items: Vec<String> = match v {
        Value::Object(m) => m
            .iter()
            .map(|(t, role)| match role.as_str() {
                Some(r) => format!("{t} ({r})"),
                None => t.clone(),
            })
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

fn expiry_text(at: Option<&str>, now: i64) -> String {
    match at {
        None => "never".into(),
        Some(s) => match edgeauth_core::time::parse_rfc3339(s) {
            Some(t) if t <= now => format!("{s} (expired {})", relative(t, now)),
            Some(t) => format!("{s} ({})", relative(t, now)),
            None => s.to_string(),
        },
    }
}

fn kind_word(kind: &str) -> &str {
    match kind {
        "user" => "user",
        "api_key" => "API key",
        "external" => "external token",
        other => other,
    }
}

/// `auth whoami`, for people.
pub fn whoami_text(w: &Value, now: i64) -> String {
    let mut lines = Vec::new();
    let who = str_of(w, "email")
        .or_else(|| str_of(w, "subject"))
        .unwrap_or("(unknown)");
    let kind = kind_word(str_of(w, "kind").unwrap_or("?"));
    lines.push(format!("{who} ({kind})"));
    let mut field = |name: &str, value: String| lines.push(format!("  {name:<9} {value}"));
    if let Some(n) = str_of(w, "name") {
        field("name:", n.to_string());
    }
    field("subject:", str_of(w, "subject").unwrap_or("?").to_string());
    if let Some(k) = str_of(w, "key_id") {
        field("key id:", k.to_string());
    }
    field("scopes:", scopes_text(&w["scopes"]));
    field("tenants:", tenants_text(&w["tenants"]));
    field("expires:", expiry_text(str_of(w, "expires_at"), now));
    lines.join("\n")
}

/// Everything `auth status` reports.
pub struct StatusView<'a> {
    pub profile: &'a str,
    pub url: &'a str,
    pub source: Source,
    /// Where exactly: the config file's path, `EDGEAUTH_TOKEN`, or the keyring entry.
    pub source_detail: String,
    pub kind: CredentialKind,
    /// For an API key: its first characters.
    pub key_prefix: Option<String>,
    pub whoami: &'a Value,
    pub refresh_expires_at: Option<&'a str>,
    pub now: i64,
}

/// `auth status`, for people.
pub fn status_text(s: &StatusView<'_>) -> String {
    let who = str_of(s.whoami, "email")
        .or_else(|| str_of(s.whoami, "subject"))
        .unwrap_or("(unknown)");
    let mut lines = vec![format!(
        "Signed in to {} as {who} (profile {})",
        s.url, s.profile
    )];
    let mut field = |name: &str, value: String| lines.push(format!("  {name:<12} {value}"));
    let credential = match (s.kind, &s.key_prefix) {
        (CredentialKind::ApiKey, Some(p)) => format!("API key {p}…"),
        (CredentialKind::ApiKey, None) => "API key".to_string(),
        (CredentialKind::Session, _) => "session (access token and refresh token)".to_string(),
        (CredentialKind::Token, _) => "token (JWT, no refresh)".to_string(),
    };
    field(
        "credential:",
        format!(
            "{credential}, from {} ({})",
            s.source.as_str(),
            s.source_detail
        ),
    );
    field(
        "account:",
        format!(
            "{} {}",
            kind_word(str_of(s.whoami, "kind").unwrap_or("?")),
            str_of(s.whoami, "subject").unwrap_or("?")
        ),
    );
    if let Some(k) = str_of(s.whoami, "key_id") {
        field("key id:", k.to_string());
    }
    let mut until = expiry_text(str_of(s.whoami, "expires_at"), s.now);
    if s.kind == CredentialKind::Session {
        match s.refresh_expires_at {
            Some(r) => until.push_str(&format!("; refreshes itself until {r}")),
            None => until.push_str("; refreshes itself"),
        }
    }
    field("valid until:", until);
    field("scopes:", scopes_text(&s.whoami["scopes"]));
    field("tenants:", tenants_text(&s.whoami["tenants"]));
    lines.join("\n")
}

/// `auth status --json`: the whoami answer plus `profile`, `url` and `source`.
pub fn status_json(whoami: &Value, profile: &str, url: &str, source: Source) -> Value {
    let mut out = whoami.as_object().cloned().unwrap_or_default();
    out.insert("profile".into(), json!(profile));
    out.insert("url".into(), json!(url));
    out.insert("source".into(), json!(source.as_str()));
    Value::Object(out)
}

/// `POST /v1/auth/token`-shaped answers without their secrets, for `auth login --json` and `auth refresh --json`.
pub fn session_json_without_secrets(
    answer: &Value,
    profile: &str,
    url: &str,
    source: Source,
) -> Value {
    let mut out = answer.as_object().cloned().unwrap_or_default();
    out.remove("token");
    out.remove("refresh_token");
    out.insert("profile".into(), json!(profile));
    out.insert("url".into(), json!(url));
    out.insert("source".into(), json!(source.as_str()));
    Value::Object(out)
}

/// `keys create`, for people: the key once, and the warning that goes with it.
pub fn key_created_text(k: &Value, now: i64) -> String {
    let mut lines = vec![
        format!(
            "Created API key {:?} ({})",
            str_of(k, "name").unwrap_or(""),
            str_of(k, "id").unwrap_or("?")
        ),
        String::new(),
        format!("  {}", str_of(k, "key").unwrap_or("")),
        String::new(),
        "Copy it now: it is shown this once and cannot be shown again.".to_string(),
    ];
    let mut field = |name: &str, value: String| lines.push(format!("  {name:<10} {value}"));
    field("scopes:", scopes_text(&k["scopes"]));
    field("resources:", resources_text(k));
    field("tenants:", tenants_text(&k["tenants"]));
    if k["allowed_ips"].as_array().is_some_and(|a| !a.is_empty()) {
        field("ips:", scopes_text(&k["allowed_ips"]));
    }
    field("expires:", expiry_text(str_of(k, "expires_at"), now));
    lines.join("\n")
}

fn resources_text(k: &Value) -> String {
    if k["all_resources"].as_bool() == Some(true) {
        "all".into()
    } else {
        scopes_text(&k["resources"])
    }
}

/// `keys list`, for people: one row per key, never the key itself.
pub fn keys_table(keys: &[Value], now: i64) -> String {
    if keys.is_empty() {
        return "No API keys. Create one with `edgeauth keys create --name NAME --scope SCOPE`."
            .into();
    }
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|k| {
            [
                str_of(k, "id").unwrap_or("").to_string(),
                str_of(k, "name").unwrap_or("").to_string(),
                format!("{}…", str_of(k, "prefix").unwrap_or("")),
                scopes_text(&k["scopes"]),
                match str_of(k, "expires_at") {
                    None => "never".into(),
                    Some(s) => match edgeauth_core::time::parse_rfc3339(s) {
                        Some(t) if t <= now => format!("expired {}", relative(t, now)),
                        Some(t) => relative(t, now),
                        None => s.to_string(),
                    },
                },
            ]
        })
        .collect();
    table(["ID", "NAME", "PREFIX", "SCOPES", "EXPIRES"], &rows)
}

/// Columns padded to their widest cell, two spaces apart, under a header.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(rows.iter())
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `tenants members list`, for people: email, name and role of each member.
pub fn members_table(tenant: &str, members: &[Value]) -> String {
    if members.is_empty() {
        return format!("No members in {tenant}.");
    }
    let rows: Vec<[String; 3]> = members
        .iter()
        .map(|m| {
            [
                str_of(m, "email").unwrap_or("").to_string(),
                str_of(m, "name").unwrap_or("").to_string(),
                str_of(m, "role").unwrap_or("").to_string(),
            ]
        })
        .collect();
    table(["EMAIL", "NAME", "ROLE"], &rows)
}

/// `tenants members set` and `remove`, for people: the `{tenant, email, role}` answer in words.
pub fn membership_text(answer: &Value) -> String {
    let tenant = str_of(answer, "tenant").unwrap_or("?");
    let email = str_of(answer, "email").unwrap_or("?");
    match str_of(answer, "role") {
        Some(role) => format!("{email} is now {role} in {tenant}."),
        None => format!("Removed {email} from {tenant}."),
    }
}

/// `auth token-info --json` for a JWT.
pub fn token_info_jwt_json(
    claims: &Map<String, Value>,
    profile: &str,
    url: &str,
    source: Source,
) -> Value {
    json!({ "type": "jwt", "profile": profile, "url": url, "source": source.as_str(), "claims": claims })
}

/// `auth token-info --json` for an API key: its prefix and the whoami answer.
pub fn token_info_key_json(
    prefix: &str,
    whoami: &Value,
    profile: &str,
    url: &str,
    source: Source,
) -> Value {
    json!({ "type": "api_key", "profile": profile, "url": url, "source": source.as_str(), "prefix": prefix, "whoami": whoami })
}

/// `auth token-info`, for people: the claims, one a line, times made readable.
pub fn claims_text(claims: &Map<String, Value>, source: Source, now: i64) -> String {
    let mut lines = vec![format!(
        "JWT from {} (claims as decoded, not verified):",
        source.as_str()
    )];
    for (name, value) in claims {
        let shown = match (name.as_str(), value.as_i64()) {
            ("exp" | "iat" | "nbf", Some(t)) => {
                format!(
                    "{t} ({}, {})",
                    edgeauth_core::time::rfc3339(t),
                    relative(t, now)
                )
            }
            _ => match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        };
        lines.push(format!("  {name}: {shown}"));
    }
    lines.join("\n")
}

/// `config list --json`.
pub fn config_list_json(doc: &ConfigDoc, active: &str) -> Value {
    let profiles: Vec<Value> = doc
        .profiles
        .iter()
        .map(|(name, p)| {
            let credential = p.credential.as_ref().map(|c| {
                json!({
                    "kind": c.kind.as_str(),
                    "store": if c.keyring { "keyring" } else { "config" },
                    "subject": c.subject,
                    "email": c.email,
                    "expires_at": c.expires_at,
                })
            });
            json!({ "name": name, "active": name == active, "url": p.url, "credential": credential })
        })
        .collect();
    json!({ "active_profile": active, "profiles": profiles })
}

/// `config list`, for people.
pub fn config_list_text(doc: &ConfigDoc, active: &str, default_url: &str) -> String {
    let mut names: Vec<&String> = doc.profiles.keys().collect();
    let active_owned = active.to_string();
    if !doc.profiles.contains_key(active) {
        names.push(&active_owned);
        names.sort();
    }
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    names
        .into_iter()
        .map(|name| {
            let p = doc.profiles.get(name);
            let mark = if name == active { "*" } else { " " };
            let url = p.and_then(|p| p.url.as_deref()).unwrap_or(default_url);
            let who = match p.and_then(|p| p.credential.as_ref()) {
                None => "not signed in".to_string(),
                Some(c) => {
                    let who = c.email.as_deref().or(c.subject.as_deref()).unwrap_or("?");
                    let store = if c.keyring { ", in the keyring" } else { "" };
                    format!("{} {who}{store}", c.kind.as_str())
                }
            };
            let pad = " ".repeat(width - name.chars().count());
            format!("{mark} {name}{pad}  {url}  {who}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn whoami_user() -> Value {
        json!({
            "kind": "user", "subject": "usr_1", "email": "a@example.com", "name": "Ann",
            "scopes": ["*"], "tenants": {"demo": "admin"}, "expires_at": edgeauth_core::time::rfc3339(NOW + 3540)
        })
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(NOW + 3540, NOW), "in 59 min");
        assert_eq!(relative(NOW - 30, NOW), "30 s ago");
        assert_eq!(relative(NOW + 7 * 86_400, NOW), "in 7 d");
        assert_eq!(relative(NOW + 3 * 3600, NOW), "in 3 h");
    }

    #[test]
    fn whoami_for_people() {
        let t = whoami_text(&whoami_user(), NOW);
        assert!(t.starts_with("a@example.com (user)"), "{t}");
        assert!(
            t.contains("scopes:   *") && t.contains("demo (admin)") && t.contains("in 59 min"),
            "{t}"
        );
        let key = json!({"kind": "api_key", "subject": "usr_1", "scopes": ["scans:read"], "tenants": [], "key_id": "key_9"});
        let t = whoami_text(&key, NOW);
        assert!(
            t.starts_with("usr_1 (API key)") && t.contains("key_9") && t.contains("never"),
            "{t}"
        );
    }

    #[test]
    fn status_names_profile_url_expiry_and_source() {
        let w = whoami_user();
        let view = StatusView {
            profile: "default",
            url: "http://127.0.0.1:8787",
            source: Source::Config,
            source_detail: "/tmp/x/config.toml".into(),
            kind: CredentialKind::Session,
            key_prefix: None,
            whoami: &w,
            refresh_expires_at: Some("2027-01-01T00:00:00Z"),
            now: NOW,
        };
        let t = status_text(&view);
        assert!(
            t.starts_with("Signed in to http://127.0.0.1:8787 as a@example.com (profile default)"),
            "{t}"
        );
        assert!(t.contains("from config (/tmp/x/config.toml)"), "{t}");
        assert!(
            t.contains("(in 59 min); refreshes itself until 2027-01-01T00:00:00Z"),
            "{t}"
        );

        let key = json!({"kind": "api_key", "subject": "usr_1", "scopes": [], "tenants": [], "key_id": "key_9"});
        let view = StatusView {
            source: Source::Env,
            source_detail: "EDGEAUTH_TOKEN".into(),
            kind: CredentialKind::ApiKey,
            key_prefix: Some("ea_live_abcd".into()),
            whoami: &key,
            refresh_expires_at: None,
            ..view
        };
        let t = status_text(&view);
        assert!(
            t.contains("API key ea_live_abcd…, from env (EDGEAUTH_TOKEN)"),
            "{t}"
        );
    }

    #[test]
    fn status_json_is_whoami_plus_three_fields() {
        let w = whoami_user();
        let s = status_json(&w, "ci", "http://x:1", Source::Keyring);
        let mut expected = w.as_object().unwrap().clone();
        expected.insert("profile".into(), json!("ci"));
        expected.insert("url".into(), json!("http://x:1"));
        expected.insert("source".into(), json!("keyring"));
        assert_eq!(s, Value::Object(expected));
    }

    #[test]
    fn session_json_never_carries_tokens() {
        let answer = json!({"token": "a.b.c", "refresh_token": "ea_rt_x", "expires_at": "t", "refresh_expires_at": "r", "user": {"id": "usr_1"}});
        let s = session_json_without_secrets(&answer, "default", "http://x:1", Source::Config);
        let text = s.to_string();
        assert!(
            !text.contains("a.b.c") && !text.contains("ea_rt_x"),
            "{text}"
        );
        assert_eq!(s["user"]["id"], "usr_1");
        assert_eq!(s["expires_at"], "t");
        assert_eq!(s["source"], "config");
    }

    #[test]
    fn keys_for_people() {
        let key = json!({"id": "key_1", "name": "CI", "key": "ea_live_SECRETSECRET", "prefix": "ea_live_SECR", "scopes": ["scans:read"], "all_resources": true, "resources": [], "tenants": [], "allowed_ips": [], "created_at": "x", "expires_at": null});
        let t = key_created_text(&key, NOW);
        assert_eq!(
            t.matches("ea_live_").count(),
            1,
            "the key is printed exactly once, and nothing else looks like one: {t}"
        );
        assert!(t.contains("\n  ea_live_SECRETSECRET\n"), "{t}");
        assert!(
            t.contains("cannot be shown again") && t.contains("resources: all"),
            "{t}"
        );

        let listed = vec![
            json!({"id": "key_1", "name": "CI", "prefix": "ea_live_SECR", "scopes": ["scans:read"], "expires_at": null}),
            json!({"id": "key_22", "name": "deploy bot", "prefix": "ea_test_ABCD", "scopes": [], "expires_at": edgeauth_core::time::rfc3339(NOW + 86_400 * 30)}),
        ];
        let t = keys_table(&listed, NOW);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID      NAME"), "{t}");
        assert!(
            lines[1].contains("ea_live_SECR…") && lines[1].ends_with("never"),
            "{t}"
        );
        assert!(lines[2].ends_with("in 30 d"), "{t}");
        assert!(keys_table(&[], NOW).contains("keys create"));
    }

    #[test]
    fn members_for_people() {
        let members = vec![
            json!({"email": "ops@acme.test", "name": "Ops", "role": "admin"}),
            json!({"email": "dev@acme.test", "name": "Dev Person", "role": "viewer"}),
        ];
        let t = members_table("acme", &members);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines,
            [
                "EMAIL          NAME        ROLE",
                "ops@acme.test  Ops         admin",
                "dev@acme.test  Dev Person  viewer",
            ],
            "{t}"
        );
        assert_eq!(members_table("acme", &[]), "No members in acme.");

        let set = json!({"tenant": "acme", "email": "dev@acme.test", "role": "editor"});
        assert_eq!(
            membership_text(&set),
            "dev@acme.test is now editor in acme."
        );
        let removed = json!({"tenant": "acme", "email": "dev@acme.test", "role": null});
        assert_eq!(
            membership_text(&removed),
            "Removed dev@acme.test from acme."
        );
    }

    #[test]
    fn claims_for_people_make_times_readable() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("usr_1"));
        claims.insert("exp".into(), json!(NOW + 60));
        let t = claims_text(&claims, Source::Config, NOW);
        assert!(t.contains("sub: usr_1"));
        assert!(
            t.contains(&format!(
                "exp: {} ({}, in 60 s)",
                NOW + 60,
                edgeauth_core::time::rfc3339(NOW + 60)
            )),
            "{t}"
        );
    }

    #[test]
    fn config_list_marks_the_active_profile() {
        let doc = ConfigDoc::parse(
            "[profiles.default]\nurl = \"http://a:1\"\n[profiles.ci]\nurl = \"http://b:1\"\ncredential = { kind = \"api_key\", keyring = true }\n",
        )
        .unwrap();
        let t = config_list_text(&doc, "ci", "http://127.0.0.1:8787");
        assert!(
            t.contains("* ci       http://b:1  api_key ?, in the keyring"),
            "{t}"
        );
        assert!(t.contains("  default  http://a:1  not signed in"), "{t}");
        let j = config_list_json(&doc, "ci");
        assert_eq!(j["active_profile"], "ci");
        assert_eq!(j["profiles"][0]["name"], "ci");
        assert_eq!(j["profiles"][0]["credential"]["store"], "keyring");
        assert_eq!(j["profiles"][1]["credential"], Value::Null);
        let fresh = config_list_text(&ConfigDoc::default(), "default", "http://127.0.0.1:8787");
        assert_eq!(fresh, "* default  http://127.0.0.1:8787  not signed in");
    }
}
