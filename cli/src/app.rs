//! One command's world: the config, the chosen profile and server, the credential (refreshed when due), and the API.

use std::io::{self, Write};

use edgeauth_core::client::{Attempt, Retries, Retry, TokenAnswer};
use edgeauth_core::secret::Secret;
use edgeauth_core::time;
use serde_json::Value;
use zeroize::Zeroize;

use crate::api::{Answer, Api, Outgoing};
use crate::args::Cli;
use crate::config::{config_dir, ConfigDoc, ConfigStore, CredentialKind, DirEnv, StoredCredential};
use crate::failure::{Failure, Hints};
use crate::freshness::{plan, token_exp, Facts, Plan};
use edgeauth_core::terminal::terminal_safe;

use crate::settings::{
    kind_of_bare_credential, locate, resolve_target, Active, EnvSettings, Located, Source, Target,
};
use crate::vault::Vault;

/// Prints to stdout; a closed pipe (`| head`) is not an error worth a panic. Text may hold
/// what a server sent (names, messages): nothing in it may drive the terminal.
pub fn emit(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", terminal_safe(text));
    let _ = out.flush();
}

/// Prints JSON to stdout, pretty, with a final newline.
pub fn emit_json(value: &Value) {
    emit(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// Prints a note for people to stderr.
pub fn note(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{}", terminal_safe(text));
}

/// A request that needs the credential, kept whole so it can be sent again
/// after a refresh or a clock correction.
pub struct Call {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub sign: bool,
}

impl Call {
    pub fn new(method: &str, target: &str) -> Call {
        Call {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            sign: false,
        }
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Call {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

/// `{"refresh_token": ...}`, serialized from the borrowed secret.
#[derive(serde::Serialize)]
pub struct RefreshBody<'a> {
    pub refresh_token: &'a str,
}

/// What a session login or refresh answers (`POST /v1/auth/token` and friends).
pub struct SessionAnswer {
    pub raw: Value,
    pub token: Secret,
    pub refresh_token: Option<Secret>,
}

impl SessionAnswer {
    /// Reads the token answer by the client core's type (the contract's shape, or a
    /// failure that says how it is not), keeping the JSON for `--json` and the config.
    pub fn parse(answer: &Answer) -> Result<SessionAnswer, Failure> {
        let raw: Value = answer.json()?;
        let text = String::from_utf8_lossy(&answer.body);
        let parsed = TokenAnswer::parse(&text).map_err(|why| {
            Failure::Other(format!(
                "the server's answer ({}): {why}",
                answer.status_line
            ))
        })?;
        Ok(SessionAnswer {
            raw,
            token: parsed.token.clone(),
            refresh_token: parsed.refresh_token.clone(),
        })
    }

    fn str_field(&self, path: &[&str]) -> Option<String> {
        let mut v = &self.raw;
        for p in path {
            v = &v[*p];
        }
        v.as_str().map(str::to_string)
    }

    /// What the config remembers of this session (the secrets go in only when `in_file`).
    pub fn stored(&self, in_file: bool) -> StoredCredential {
        StoredCredential {
            kind: CredentialKind::Session,
            keyring: !in_file,
            token: in_file.then(|| self.token.clone()),
            refresh_token: if in_file {
                self.refresh_token.clone()
            } else {
                None
            },
            expires_at: self.str_field(&["expires_at"]),
            refresh_expires_at: self.str_field(&["refresh_expires_at"]),
            subject: self.str_field(&["user", "id"]),
            email: self.str_field(&["user", "email"]),
            key_id: None,
            extra: toml::Table::new(),
        }
    }
}

pub struct App {
    pub json: bool,
    pub env: EnvSettings,
    pub store: ConfigStore,
    pub doc: ConfigDoc,
    pub target: Target,
    pub api: Api,
}

impl App {
    /// Reads the environment and the config file, and picks profile and server.
    pub fn load(cli: &Cli) -> Result<App, Failure> {
        let env = EnvSettings::from_process();
        let store = ConfigStore::new(config_dir(&DirEnv::from_process())?);
        let doc = store.load()?;
        let target = resolve_target(cli.profile.as_deref(), cli.url.as_deref(), &env, &doc)?;
        let api = Api::new(&target.url);
        Ok(App {
            json: cli.json,
            env,
            store,
            doc,
            target,
            api,
        })
    }

    pub fn hints(&self) -> Hints {
        self.target.hints()
    }

    pub fn profile(&self) -> &str {
        &self.target.profile
    }

    /// Where the credential in use is, in words for `auth status`.
    pub fn source_detail(&self, source: Source) -> String {
        match source {
            Source::Env => "EDGEAUTH_TOKEN".into(),
            Source::Config => self.store.path().display().to_string(),
            Source::Keyring => format!("{}/{}", crate::vault::SERVICE, self.target.profile),
        }
    }

    /// The credential as stored, without refreshing it.
    pub fn stored_credential(&self) -> Result<Active, Failure> {
        match locate(&self.env, &self.doc, &self.target) {
            Located::Env(secret) => Ok(Active {
                kind: kind_of_bare_credential(secret.expose()).unwrap_or(CredentialKind::Token),
                secret: secret.clone(),
                source: Source::Env,
                refresh_token: None,
                stored: None,
            }),
            Located::Stored(cred) if cred.keyring => {
                let secrets = Vault::open()?.load(&self.target.profile)?.ok_or_else(|| {
                    Failure::NotSignedIn {
                        next: format!(
                            "the OS keyring has no credential for profile {} any more: {}",
                            self.target.profile,
                            self.hints().cmd("auth login --use-keyring")
                        ),
                    }
                })?;
                Ok(Active {
                    secret: secrets.token,
                    kind: cred.kind,
                    source: Source::Keyring,
                    refresh_token: secrets.refresh_token,
                    stored: Some(cred.clone()),
                })
            }
            Located::Stored(cred) => match &cred.token {
                Some(token) => Ok(Active {
                    secret: token.clone(),
                    kind: cred.kind,
                    source: Source::Config,
                    refresh_token: cred.refresh_token.clone(),
                    stored: Some(cred.clone()),
                }),
                None => Err(self.hints().not_signed_in()),
            },
            Located::OtherServer(issued_by) => Err(Failure::NotSignedIn {
                next: format!(
                    "profile {} holds a credential for {issued_by}, which is not sent to {}: {}",
                    self.target.profile,
                    self.target.url,
                    self.hints()
                        .cmd(&format!("--url {} auth login", self.target.url))
                ),
            }),
            Located::None => Err(self.hints().not_signed_in()),
        }
    }

    /// The credential to send: a stored session with less than 5 minutes left is refreshed first.
    pub fn credential(&mut self) -> Result<Active, Failure> {
        let active = self.stored_credential()?;
        let stored = active.stored.as_ref();
        let facts = Facts {
            kind: active.kind,
            exp: token_exp(active.secret.expose()).or_else(|| {
                stored
                    .and_then(|s| s.expires_at.as_deref())
                    .and_then(time::parse_rfc3339)
            }),
            has_refresh_token: active.refresh_token.is_some(),
            refresh_exp: stored
                .and_then(|s| s.refresh_expires_at.as_deref())
                .and_then(time::parse_rfc3339),
        };
        match plan(facts, self.api.server_now_ms()) {
            Plan::UseAsIs => Ok(active),
            Plan::RefreshFirst => self.refresh(&active).map(|(fresh, _)| fresh),
        }
    }

    /// Spends the refresh token for a new pair, and stores it where the old one was.
    pub fn refresh(&mut self, active: &Active) -> Result<(Active, SessionAnswer), Failure> {
        let hints = active.hints(&self.target);
        let refresh_token = match (&active.refresh_token, active.kind) {
            (Some(r), CredentialKind::Session) => r,
            _ => {
                return Err(Failure::Other(match active.source {
                    Source::Env => "the credential in use comes from EDGEAUTH_TOKEN, which has no refresh token".into(),
                    _ => format!(
                        "profile {} holds {}, which has no refresh token",
                        self.target.profile,
                        if active.kind == CredentialKind::ApiKey { "an API key" } else { "a bare token" }
                    ),
                }));
            }
        };
        // Open the keyring before spending the refresh token: its successor must have a home.
        let in_keyring = active.source == Source::Keyring;
        let vault = if in_keyring {
            Some(Vault::open()?)
        } else {
            None
        };
        let body = RefreshBody {
            refresh_token: refresh_token.expose(),
        };
        let answer = self
            .api
            .send(&Outgoing::new("POST", "/v1/auth/refresh").json(&body))?;
        if !answer.ok() {
            return Err(Failure::after_refresh(answer.refusal(), &hints));
        }
        let session = SessionAnswer::parse(&answer)?;
        self.save_session(&session, vault.as_ref())?;
        let fresh = Active {
            secret: session.token.clone(),
            kind: CredentialKind::Session,
            source: active.source,
            refresh_token: session.refresh_token.clone(),
            stored: Some(session.stored(!in_keyring)),
        };
        Ok((fresh, session))
    }

    /// Stores a new session for this profile and server (in the keyring when one is given).
    pub fn save_session(
        &mut self,
        session: &SessionAnswer,
        vault: Option<&Vault>,
    ) -> Result<(), Failure> {
        if let Some(v) = vault {
            v.save(
                &self.target.profile,
                &session.token,
                session.refresh_token.as_ref(),
            )?;
        }
        self.save_stored(session.stored(vault.is_none()))
    }

    /// Writes the profile's credential table (and the server it belongs to).
    pub fn save_stored(&mut self, cred: StoredCredential) -> Result<(), Failure> {
        let (profile, url) = (self.target.profile.clone(), self.target.url.clone());
        let doc = self.store.update(|doc| {
            let p = doc.profile_mut(&profile);
            p.url = Some(url);
            p.credential = Some(cred);
            Ok(doc.clone())
        })?;
        self.doc = doc;
        Ok(())
    }

    /// Forgets the profile's credential here (config and keyring); the server is not told.
    pub fn forget(&mut self) -> Result<bool, Failure> {
        let profile = self.target.profile.clone();
        let held = self
            .doc
            .profile(&profile)
            .and_then(|p| p.credential.as_ref())
            .cloned();
        let Some(held) = held else { return Ok(false) };
        if held.keyring {
            Vault::open()?.delete(&profile)?;
        }
        let doc = self.store.update(|doc| {
            if let Some(p) = doc.profiles.get_mut(&profile) {
                p.credential = None;
            }
            Ok(doc.clone())
        })?;
        self.doc = doc;
        Ok(true)
    }

    /// Sends a call with the credential. After a 401 `token_expired`, a
    /// refreshable session is refreshed once and the call sent again (the client
    /// core's retry rule; `Api::send` re-signs a stale timestamp).
    pub fn send_with(&mut self, active: &mut Active, call: &Call) -> Result<Answer, Failure> {
        let mut retries = Retries::default();
        loop {
            let answer = self.send_once(active, call)?;
            if answer.status != 401 {
                return Ok(answer);
            }
            let attempt = Attempt {
                signed: call.sign,
                resendable: true,
                signable: false,
                refreshable: active.refreshable(),
                clock_known: self.api.clock_known(),
            };
            match retries.after_401(answer.reason(), attempt) {
                Some(Retry::Refresh) => {
                    let (fresh, _) = self.refresh(active)?;
                    *active = fresh;
                }
                _ => return Ok(answer),
            }
        }
    }

    fn send_once(&self, active: &Active, call: &Call) -> Result<Answer, Failure> {
        let out = Outgoing {
            method: &call.method,
            target: &call.target,
            headers: call.headers.clone(),
            body: call.body.clone(),
            bearer: Some(&active.secret),
            sign: call.sign,
        };
        self.api.send(&out)
    }

    /// Sends a call and insists on a 2xx answer: anything else becomes the
    /// failure it means (4 for 401/403), with what to do next.
    pub fn expect_ok(&mut self, active: &mut Active, call: &Call) -> Result<Answer, Failure> {
        let answer = self.send_with(active, call)?;
        if answer.ok() {
            Ok(answer)
        } else {
            Err(Failure::from_refusal(
                answer.refusal(),
                &active.hints(&self.target),
            ))
        }
    }

    /// `GET /v1/auth/whoami` with this credential.
    pub fn whoami(&mut self, active: &mut Active) -> Result<Value, Failure> {
        self.expect_ok(active, &Call::new("GET", "/v1/auth/whoami"))?
            .json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeauth_core::client::cases::ANSWER_CASES;

    /// The client core's shared cases, through the CLI's session answer, what the config
    /// keeps of it, and the refresh plan made from that.
    #[test]
    fn the_shared_answer_cases() {
        for case in ANSWER_CASES {
            let answer = Answer {
                status: 200,
                status_line: "HTTP/1.1 200 OK".into(),
                headers: Default::default(),
                body: case.text.as_bytes().to_vec(),
            };
            match (SessionAnswer::parse(&answer), &case.expect) {
                (Ok(s), Some(expect)) => {
                    assert_eq!(
                        s.refresh_token.is_some(),
                        expect.has_refresh_token,
                        "{}",
                        case.name
                    );
                    let stored = s.stored(true);
                    assert_eq!(
                        stored.refresh_token.is_some(),
                        expect.has_refresh_token,
                        "{}",
                        case.name
                    );
                    let exp = token_exp(s.token.expose())
                        .or_else(|| stored.expires_at.as_deref().and_then(time::parse_rfc3339));
                    assert_eq!(exp.map(|e| e * 1000), expect.expires_at_ms, "{}", case.name);
                    let facts = Facts {
                        kind: CredentialKind::Session,
                        exp,
                        has_refresh_token: true,
                        refresh_exp: None,
                    };
                    let due = plan(facts, case.server_now_ms) == Plan::RefreshFirst;
                    assert_eq!(due, expect.refresh_due, "{}", case.name);
                }
                (Err(f), None) => assert_eq!(f.exit_code(), 1, "{}", case.name),
                (got, want) => panic!("{}: {:?} vs {want:?}", case.name, got.map(|_| ())),
            }
        }
    }
}
