//! `edgeauth auth ...`: register, log in (password, API key, device), status, whoami, token-info, refresh, logout, revoke.

use std::thread::sleep;
use std::time::Duration;

use edgeauth_core::credential::api_key_prefix;
use edgeauth_core::secret::Secret;
use edgeauth_core::terminal::may_open;
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::{local_now_s, Outgoing};
use crate::app::{emit, emit_json, note, App, Call, SessionAnswer};
use crate::args::{AuthCommand, LoginArgs, RegisterArgs, ResetPasswordArgs};
use crate::browser;
use crate::config::{CredentialKind, StoredCredential};
use crate::device::{DeviceCode, Poll, Poller, Step};
use crate::failure::{ApiRefusal, Failure};
use crate::freshness::unverified_claims;
use crate::output;
use crate::prompt;
use crate::settings::{kind_of_bare_credential, locate, Active, Located, Source};
use crate::vault::Vault;

#[derive(Serialize)]
struct RegisterBody<'a> {
    email: &'a str,
    password: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct LogoutBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

#[derive(Serialize)]
struct LoginBody<'a> {
    email: &'a str,
    password: &'a str,
}

pub fn run(app: &mut App, command: AuthCommand) -> Result<(), Failure> {
    match command {
        AuthCommand::Register(args) => register(app, args),
        AuthCommand::Login(args) => login(app, args),
        AuthCommand::Status => status(app),
        AuthCommand::Whoami => whoami(app),
        AuthCommand::TokenInfo => token_info(app),
        AuthCommand::Refresh => refresh(app),
        AuthCommand::Logout => logout(app),
        AuthCommand::Revoke => revoke(app),
        AuthCommand::ResetPassword(args) => reset_password(app, args),
    }
}

/// The password from the flag, standard input, or a prompt at a terminal.
fn password(flag: Option<String>, from_stdin: bool, confirm: bool) -> Result<Secret, Failure> {
    if let Some(p) = flag {
        return Ok(Secret::new(p));
    }
    if from_stdin {
        return prompt::password_from_stdin();
    }
    if !prompt::stdin_is_terminal() {
        return Err(Failure::Usage(
            "no password: pass --password-stdin and write it to standard input (or run at a terminal to be asked)".into(),
        ));
    }
    let first = prompt::password_prompt("Password: ")?;
    if confirm {
        let again = prompt::password_prompt("Password again: ")?;
        if !first.ct_eq(&again) {
            return Err(Failure::Usage("the two passwords differ".into()));
        }
    }
    Ok(first)
}

fn text_or_prompt(flag: Option<String>, flag_name: &str, label: &str) -> Result<String, Failure> {
    match flag {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(Failure::Usage(format!("{flag_name} must not be empty"))),
        None if prompt::stdin_is_terminal() => prompt::line_prompt(label),
        None => Err(Failure::Usage(format!(
            "{flag_name} is required when not at a terminal"
        ))),
    }
}

/// The name an account gets when none is given and none can be asked for: the email's local part.
fn default_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email).trim();
    let name = if local.is_empty() {
        email.trim()
    } else {
        local
    };
    note(&format!("No --name given: registering as {name:?}."));
    name.to_string()
}

fn register(app: &mut App, args: RegisterArgs) -> Result<(), Failure> {
    // With the password on stdin, nothing else may be read from it.
    let (email, name) = if args.password_stdin {
        let email = args
            .email
            .ok_or_else(|| Failure::Usage("--password-stdin needs --email".into()))?;
        let name = args.name.unwrap_or_else(|| default_name(&email));
        (email, name)
    } else {
        let email = text_or_prompt(args.email, "--email", "Email: ")?;
        let name = match args.name {
            None if !prompt::stdin_is_terminal() => default_name(&email),
            given => text_or_prompt(given, "--name", "Name: ")?,
        };
        (email, name)
    };
    let password = password(args.password, args.password_stdin, true)?;
    let body = RegisterBody {
        email: &email,
        password: password.expose(),
        name: &name,
    };
    let answer = app
        .api
        .send(&Outgoing::new("POST", "/v1/auth/register").json(&body))?;
    if !answer.ok() {
        return Err(Failure::from_refusal(answer.refusal(), &app.hints()));
    }
    let created: Value = answer.json()?;
    if app.json {
        emit_json(&created);
    } else {
        emit(&format!(
            "Registered {email} on {}. Next: {}.",
            app.target.url,
            app.hints().cmd(&format!("auth login --email {email}"))
        ));
    }
    Ok(())
}

/// `POST /v1/auth/password/forgot`: the server answers alike whether or not the
/// address is registered, and so does this.
fn reset_password(app: &mut App, args: ResetPasswordArgs) -> Result<(), Failure> {
    let email = text_or_prompt(args.email, "--email", "Email: ")?;
    let answer = app.api.send(
        &Outgoing::new("POST", "/v1/auth/password/forgot").json(&json!({ "email": email.trim() })),
    )?;
    if !answer.ok() {
        return Err(Failure::from_refusal(answer.refusal(), &app.hints()));
    }
    let accepted: Value = answer.json()?;
    if app.json {
        emit_json(&accepted);
    } else {
        emit(&format!(
            "If {} has an account on {}, a password reset link is on its way to it. \
             Open it in a browser within 15 minutes to choose a new password; \
             every other session of the account then ends.",
            email.trim(),
            app.target.url
        ));
    }
    Ok(())
}

fn login(app: &mut App, args: LoginArgs) -> Result<(), Failure> {
    // Check the keyring before anything is issued: a credential that cannot be kept is never created.
    let vault = if args.use_keyring {
        Some(Vault::open()?)
    } else {
        None
    };
    if args.token.is_some() || args.with_token {
        let key = match args.token {
            Some(k) => Secret::new(k.trim().to_string()),
            None => prompt::token_from_stdin()?,
        };
        return login_with_key(app, key, vault.as_ref());
    }
    if let Some(email) = args.email {
        let password = password(args.password, args.password_stdin, false)?;
        let body = LoginBody {
            email: &email,
            password: password.expose(),
        };
        let answer = app
            .api
            .send(&Outgoing::new("POST", "/v1/auth/token").json(&body))?;
        if !answer.ok() {
            return Err(Failure::from_refusal(answer.refusal(), &app.hints()));
        }
        let session = SessionAnswer::parse(&answer)?;
        return finish_session_login(app, session, vault.as_ref());
    }
    device_login(app, args.no_browser, vault.as_ref())
}

fn finish_session_login(
    app: &mut App,
    session: SessionAnswer,
    vault: Option<&Vault>,
) -> Result<(), Failure> {
    app.save_session(&session, vault)?;
    let source = if vault.is_some() {
        Source::Keyring
    } else {
        Source::Config
    };
    if app.json {
        emit_json(&output::session_json_without_secrets(
            &session.raw,
            app.profile(),
            &app.target.url,
            source,
        ));
    } else {
        let who = session.raw["user"]["email"].as_str().unwrap_or("?");
        let until = session.raw["expires_at"].as_str().unwrap_or("?");
        emit(&format!(
            "Signed in to {} as {who} (profile {}). The session refreshes itself; this access token is valid until {until}.",
            app.target.url,
            app.profile()
        ));
        if vault.is_some() {
            emit("The credential is in the OS keyring; the config file only says so.");
        }
    }
    Ok(())
}

fn login_with_key(app: &mut App, key: Secret, vault: Option<&Vault>) -> Result<(), Failure> {
    let kind = kind_of_bare_credential(key.expose()).map_err(|why| Failure::Refused {
        refusal: ApiRefusal::malformed_credential(&format!(
            "that is neither an edgeauth API key nor a JWT: {why}"
        )),
        next: "check what was pasted: an API key is ea_live_ or ea_test_ and 32 to 64 letters and digits".into(),
    })?;
    let mut active = Active {
        secret: key,
        kind,
        source: if vault.is_some() {
            Source::Keyring
        } else {
            Source::Config
        },
        refresh_token: None,
        stored: None,
    };
    // The server must accept it before it is kept.
    let who = app.whoami(&mut active)?;
    let kind = match who["kind"].as_str() {
        Some("api_key") => CredentialKind::ApiKey,
        Some(_) => CredentialKind::Token,
        None => kind,
    };
    if let Some(v) = vault {
        v.save(app.profile(), &active.secret, None)?;
    }
    let text = |k: &str| who[k].as_str().map(str::to_string);
    app.save_stored(StoredCredential {
        kind,
        keyring: vault.is_some(),
        token: if vault.is_some() {
            None
        } else {
            Some(active.secret.clone())
        },
        refresh_token: None,
        expires_at: text("expires_at"),
        refresh_expires_at: None,
        subject: text("subject"),
        email: text("email"),
        key_id: text("key_id"),
        extra: toml::Table::new(),
    })?;
    if app.json {
        emit_json(&output::status_json(
            &who,
            app.profile(),
            &app.target.url,
            active.source,
        ));
    } else {
        let what = if kind == CredentialKind::ApiKey {
            format!("API key {}…", api_key_prefix(active.secret.expose()))
        } else {
            "token".to_string()
        };
        emit(&format!(
            "Signed in to {} with {what} of {} (profile {}).",
            app.target.url,
            who["email"]
                .as_str()
                .or(who["subject"].as_str())
                .unwrap_or("?"),
            app.profile()
        ));
    }
    Ok(())
}

fn client_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.len() <= 100);
    match host {
        Some(h) => format!("edgeauth CLI on {h}"),
        None => "edgeauth CLI".to_string(),
    }
}

fn device_login(app: &mut App, no_browser: bool, vault: Option<&Vault>) -> Result<(), Failure> {
    let hints = app.hints();
    let answer = app.api.send(
        &Outgoing::new("POST", "/v1/auth/device/code")
            .json(&json!({ "client_name": client_name() })),
    )?;
    if !answer.ok() {
        return Err(Failure::from_refusal(answer.refusal(), &hints));
    }
    let code: DeviceCode = answer.json()?;
    let open_url = code
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| code.verification_uri.clone());
    if app.json {
        emit(
            &json!({
                "user_code": code.user_code,
                "verification_uri": code.verification_uri,
                "verification_uri_complete": code.verification_uri_complete,
                "expires_in": code.expires_in,
                "interval": code.interval,
            })
            .to_string(),
        );
    } else {
        emit(&format!(
            "To sign in, open this page in a browser where you are signed in to the console:\n\n  {open_url}\n\n\
             and check that it shows this code:\n\n  {}\n\n\
             Waiting for approval (the code expires {})...",
            code.user_code,
            output::relative(local_now_s() + i64::try_from(code.expires_in).unwrap_or(0), local_now_s())
        ));
    }
    if !may_open(&open_url) {
        // A server that names another kind of link (file:, javascript:, plain http elsewhere)
        // gets it printed above, never opened.
        note("The server's verification page is not https (or http on this machine): not opening it.");
    } else if !no_browser && browser::has_display(|k| std::env::var(k).ok()) {
        if let Err(e) = browser::open(&open_url) {
            note(&format!(
                "Could not open a browser ({e}): open the page yourself."
            ));
        }
    }
    let mut poller = Poller::new(&code);
    let mut step = poller.first();
    loop {
        sleep(Duration::from_secs(wait_or_stop(step, &hints)?));
        let body = json!({ "device_code": code.device_code });
        let answer = app
            .api
            .send(&Outgoing::new("POST", "/v1/auth/device/token").json(&body))?;
        if answer.ok() {
            let session = SessionAnswer::parse(&answer)?;
            return finish_session_login(app, session, vault);
        }
        let refusal: ApiRefusal = answer.refusal();
        let poll = Poll::from_answer(refusal.status, refusal.reason());
        if poll == Poll::Other {
            return Err(Failure::from_refusal(refusal, &hints));
        }
        if poll == Poll::SlowDown {
            note(&format!(
                "The server asked to poll more slowly: every {} s from now on.",
                poller.interval_s() + crate::device::SLOW_DOWN_STEP_S
            ));
        }
        step = poller.after(&poll);
    }
}

/// How long to wait before the next poll, or why polling is over.
fn wait_or_stop(step: Step, hints: &crate::failure::Hints) -> Result<u64, Failure> {
    match step {
        Step::Wait(s) => Ok(s),
        Step::Expired => Err(Failure::DeviceLogin {
            what: "the code expired before it was approved (or was already used)".into(),
            next: hints.cmd("auth login"),
        }),
        Step::Denied => Err(Failure::DeviceLogin {
            what: "the sign-in was denied in the browser".into(),
            next: format!("to try again, {}", hints.cmd("auth login")),
        }),
        // An unexpected answer returns before the next wait.
        Step::Fail => Err(Failure::Other(
            "device login lost track of its state: please report this".into(),
        )),
    }
}

fn status(app: &mut App) -> Result<(), Failure> {
    let mut active = app.credential()?;
    let who = app.whoami(&mut active)?;
    if app.json {
        emit_json(&output::status_json(
            &who,
            app.profile(),
            &app.target.url,
            active.source,
        ));
        return Ok(());
    }
    let detail = app.source_detail(active.source);
    let refresh_expires_at = active
        .stored
        .as_ref()
        .and_then(|s| s.refresh_expires_at.clone());
    let view = output::StatusView {
        profile: app.profile(),
        url: &app.target.url,
        source: active.source,
        source_detail: detail,
        kind: active.kind,
        key_prefix: (active.kind == CredentialKind::ApiKey)
            .then(|| api_key_prefix(active.secret.expose())),
        whoami: &who,
        refresh_expires_at: refresh_expires_at.as_deref(),
        now: local_now_s(),
    };
    emit(&output::status_text(&view));
    Ok(())
}

fn whoami(app: &mut App) -> Result<(), Failure> {
    let mut active = app.credential()?;
    let who = app.whoami(&mut active)?;
    if app.json {
        emit_json(&who);
    } else {
        emit(&output::whoami_text(&who, local_now_s()));
    }
    Ok(())
}

fn token_info(app: &mut App) -> Result<(), Failure> {
    let active = app.stored_credential()?;
    if active.kind == CredentialKind::ApiKey {
        let prefix = api_key_prefix(active.secret.expose());
        let mut active = app.credential()?;
        let who = app.whoami(&mut active)?;
        if app.json {
            emit_json(&output::token_info_key_json(
                &prefix,
                &who,
                app.profile(),
                &app.target.url,
                active.source,
            ));
        } else {
            emit(&format!(
                "API key {prefix}… from {} (the key itself is not shown)",
                active.source.as_str()
            ));
            emit(&output::whoami_text(&who, local_now_s()));
        }
        return Ok(());
    }
    let claims = unverified_claims(active.secret.expose()).ok_or_else(|| {
        Failure::Other("the stored credential is not a readable JWT: sign in again".into())
    })?;
    if app.json {
        emit_json(&output::token_info_jwt_json(
            &claims,
            app.profile(),
            &app.target.url,
            active.source,
        ));
    } else {
        emit(&output::claims_text(&claims, active.source, local_now_s()));
    }
    Ok(())
}

fn refresh(app: &mut App) -> Result<(), Failure> {
    let active = app.stored_credential()?;
    let (fresh, session) = app.refresh(&active)?;
    if app.json {
        emit_json(&output::session_json_without_secrets(
            &session.raw,
            app.profile(),
            &app.target.url,
            fresh.source,
        ));
    } else {
        emit(&format!(
            "Refreshed: the new access token is valid until {}.",
            session.raw["expires_at"].as_str().unwrap_or("?")
        ));
    }
    Ok(())
}

/// Ends a session on the server: `POST /v1/auth/logout` with its refresh token.
fn end_session(app: &mut App, active: &mut Active) -> Result<(), Failure> {
    let body = LogoutBody {
        refresh_token: active.refresh_token.as_ref().map(Secret::expose),
    };
    app.expect_ok(active, &Call::new("POST", "/v1/auth/logout").json(&body))
        .map(|_| ())
}

fn logout(app: &mut App) -> Result<(), Failure> {
    let stored = app
        .doc
        .profile(app.profile())
        .and_then(|p| p.credential.clone());
    if stored.is_none() {
        if app.env.token.is_some() {
            return Err(Failure::Other(
                "the credential in use comes from EDGEAUTH_TOKEN, which edgeauth cannot remove: unset it".into(),
            ));
        }
        note(&format!(
            "Not signed in on profile {}: nothing to do.",
            app.profile()
        ));
        return Ok(());
    }
    // Logout is about the stored credential, whatever EDGEAUTH_TOKEN says.
    app.env.token = None;
    if let Located::OtherServer(issued_by) = locate(&app.env, &app.doc, &app.target) {
        return Err(Failure::Other(format!(
            "profile {} is signed in to {issued_by}, not {}: run the command without --url or EDGEAUTH_URL to sign out there",
            app.profile(),
            app.target.url
        )));
    }
    // Tell the server first (a session only), but forget the credential here whatever it says.
    let mut server_note = None;
    match app.credential() {
        Ok(mut active) if active.kind == CredentialKind::Session => {
            match end_session(app, &mut active) {
                Ok(()) => {}
                Err(Failure::Refused { .. }) => {} // already ended or expired
                Err(e) => server_note = Some(e),
            }
        }
        Ok(active) if active.kind == CredentialKind::ApiKey => {
            note(&format!(
                "The API key itself still works: {} revokes it.",
                app.hints().quoted("auth revoke")
            ));
        }
        Ok(_) | Err(Failure::Refused { .. }) | Err(Failure::NotSignedIn { .. }) => {}
        Err(e) => server_note = Some(e),
    }
    app.forget()?;
    if let Some(e) = server_note {
        return Err(Failure::Other(format!(
            "signed out here, but the server was not told, so the session stays valid until it expires: {e}"
        )));
    }
    if !app.json {
        emit(&format!(
            "Signed out of {} (profile {}).",
            app.target.url,
            app.profile()
        ));
    }
    Ok(())
}

fn revoke(app: &mut App) -> Result<(), Failure> {
    let mut active = app.credential()?;
    let hints = active.hints(&app.target);
    match active.kind {
        CredentialKind::Session => end_session(app, &mut active)?,
        CredentialKind::ApiKey => {
            let who = app.whoami(&mut active)?;
            let id = who["key_id"].as_str().map(str::to_string).ok_or_else(|| {
                Failure::Other(
                    "the server did not say which key this is (no key_id in whoami)".into(),
                )
            })?;
            let call = Call::new("DELETE", &format!("/v1/api-keys/{id}"));
            let answer = app.send_with(&mut active, &call)?;
            if !answer.ok() {
                let refusal = answer.refusal();
                if refusal.status == 403 {
                    return Err(Failure::Refused {
                        refusal,
                        next: format!(
                            "this key lacks the scope api_keys:write, so it cannot revoke itself: revoke {id} \
                             from a signed-in session (`edgeauth keys revoke {id}`) or in the console; \
                             {} forgets it here",
                            hints.quoted("auth logout")
                        ),
                    });
                }
                return Err(Failure::from_refusal(refusal, &hints));
            }
        }
        CredentialKind::Token => {
            return Err(Failure::Other(format!(
                "a bare token is revoked by whoever issued it; {} forgets it here",
                hints.quoted("auth logout")
            )));
        }
    }
    if active.source == Source::Env {
        note("Revoked on the server. The credential came from EDGEAUTH_TOKEN: unset it.");
        return Ok(());
    }
    app.forget()?;
    if !app.json {
        emit(&format!(
            "Revoked on the server and forgotten here (profile {}).",
            app.profile()
        ));
    }
    Ok(())
}
