//! `edgeauth keys ...`: create (the key printed once), list, revoke.

use edgeauth_core::time;
use serde_json::{json, Value};

use crate::api::local_now_s;
use crate::app::{emit, emit_json, App, Call};
use crate::args::{CreateKeyArgs, KeysCommand};
use crate::failure::Failure;
use crate::output;

pub fn run(app: &mut App, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create(args) => create(app, args),
        KeysCommand::List => list(app),
        KeysCommand::Revoke { id } => revoke(app, &id),
    }
}

/// `--expires`: a duration from now (`90m`, `12h`, `30d`, `2w`, `3600s`) or an
/// RFC 3339 time; the answer is RFC 3339 UTC, as the API takes it.
pub fn parse_expires(input: &str, now: i64) -> Result<String, String> {
    let s = input.trim();
    if let Some(t) = time::parse_rfc3339(s) {
        return Ok(time::rfc3339(t));
    }
    let unit_at = s.len().saturating_sub(1);
    let (digits, unit) = s.split_at(unit_at);
    let seconds_per: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    let n: Option<i64> = if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    };
    match (n, seconds_per) {
        (Some(n), per) if per > 0 && n > 0 => n
            .checked_mul(per)
            .and_then(|d| now.checked_add(d))
            .filter(|&t| t < 253_402_300_800) // year 10000
            .map(time::rfc3339)
            .ok_or_else(|| format!("--expires {input}: too far in the future")),
        _ => Err(format!(
            "--expires {input}: use a duration such as 90m, 12h, 30d or 2w, or an RFC 3339 time such as 2027-01-31T00:00:00Z"
        )),
    }
}

/// The `POST /v1/api-keys` body: absent lists stay absent, so the server's defaults apply.
pub fn create_body(args: &CreateKeyArgs, now: i64) -> Result<Value, String> {
    let mut body = json!({ "name": args.name, "scopes": args.scopes });
    if !args.resources.is_empty() {
        body["resources"] = json!(args.resources);
    }
    if !args.tenants.is_empty() {
        body["tenants"] = json!(args.tenants);
    }
    if !args.allowed_ips.is_empty() {
        body["allowed_ips"] = json!(args.allowed_ips);
    }
    if let Some(e) = &args.expires {
        body["expires_at"] = json!(parse_expires(e, now)?);
    }
    Ok(body)
}

fn create(app: &mut App, args: CreateKeyArgs) -> Result<(), Failure> {
    let now = local_now_s();
    let body = create_body(&args, now).map_err(Failure::Usage)?;
    let mut active = app.credential()?;
    let created: Value = app
        .expect_ok(&mut active, &Call::new("POST", "/v1/api-keys").json(&body))?
        .json()?;
    if app.json {
        emit_json(&created);
    } else {
        emit(&output::key_created_text(&created, now));
    }
    Ok(())
}

fn list(app: &mut App) -> Result<(), Failure> {
    let mut active = app.credential()?;
    let listed: Value = app
        .expect_ok(&mut active, &Call::new("GET", "/v1/api-keys"))?
        .json()?;
    if app.json {
        emit_json(&listed);
    } else {
        let keys = listed["keys"].as_array().cloned().unwrap_or_default();
        emit(&output::keys_table(&keys, local_now_s()));
    }
    Ok(())
}

/// Key ids go into the path as they are, so only plain ids are accepted.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn revoke(app: &mut App, id: &str) -> Result<(), Failure> {
    if !valid_key_id(id) {
        return Err(Failure::Usage(format!(
            "{id:?} is not a key id (see `edgeauth keys list`)"
        )));
    }
    let mut active = app.credential()?;
    app.expect_ok(
        &mut active,
        &Call::new("DELETE", &format!("/v1/api-keys/{id}")),
    )?;
    if !app.json {
        emit(&format!("Revoked API key {id}: it fails from now on."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn expires_takes_durations_and_rfc3339() {
        assert_eq!(
            parse_expires("30d", NOW).unwrap(),
            time::rfc3339(NOW + 30 * 86_400)
        );
        assert_eq!(
            parse_expires("12h", NOW).unwrap(),
            time::rfc3339(NOW + 12 * 3600)
        );
        assert_eq!(
            parse_expires("90m", NOW).unwrap(),
            time::rfc3339(NOW + 90 * 60)
        );
        assert_eq!(
            parse_expires("2w", NOW).unwrap(),
            time::rfc3339(NOW + 14 * 86_400)
        );
        assert_eq!(
            parse_expires("3600s", NOW).unwrap(),
            time::rfc3339(NOW + 3600)
        );
        assert_eq!(
            parse_expires("2027-01-31T01:00:00+01:00", NOW).unwrap(),
            "2027-01-31T00:00:00Z"
        );
        for bad in [
            "",
            "d",
            "30",
            "-5d",
            "0d",
            "30y",
            "1.5h",
            "tomorrow",
            "99999999999999999d",
        ] {
            assert!(parse_expires(bad, NOW).is_err(), "{bad}");
        }
    }

    fn args() -> CreateKeyArgs {
        CreateKeyArgs {
            name: "CI".into(),
            scopes: vec!["scans:read".into()],
            resources: vec![],
            tenants: vec![],
            expires: None,
            allowed_ips: vec![],
        }
    }

    #[test]
    fn create_body_leaves_absent_lists_to_the_server() {
        assert_eq!(
            create_body(&args(), NOW).unwrap(),
            json!({"name": "CI", "scopes": ["scans:read"]})
        );
        let full = CreateKeyArgs {
            resources: vec!["r1".into()],
            tenants: vec!["demo".into()],
            allowed_ips: vec!["10.0.0.0/8".into()],
            expires: Some("1d".into()),
            ..args()
        };
        let b = create_body(&full, NOW).unwrap();
        assert_eq!(b["resources"], json!(["r1"]));
        assert_eq!(b["tenants"], json!(["demo"]));
        assert_eq!(b["allowed_ips"], json!(["10.0.0.0/8"]));
        assert_eq!(b["expires_at"], json!(time::rfc3339(NOW + 86_400)));
    }

    #[test]
    fn key_ids_are_plain() {
        assert!(valid_key_id("key_AbC123"));
        for bad in ["", "../auth/logout", "a b", "a?b", "é"] {
            assert!(!valid_key_id(bad), "{bad}");
        }
    }
}
