//! The gate: the one decision procedure every request goes through, the
//! worker's own endpoints and forwarded routes alike.
//!
//! It does no I/O. Like a rustls connection, it says what it needs next
//! ([`Gate::next`]: the identity behind a credential, that credential's
//! standing in the Directory, the body, the nonce), the worker fetches it and
//! hands it back, and the gate moves on, until it has decided: a [`Passed`]
//! request, or the refusal whose reason comes first in SPEC's order (route
//! and method; the credential: format … expiry, revocation; the signature
//! headers; scope, tenant, resource, IP; the body's size; its MAC; its nonce).

use std::net::IpAddr;

use crate::authz::{authorize_endpoint, authorize_route};
use crate::credential::{check_credential_chars, parse_authorization};
use crate::endpoint::{Endpoint, Requirement};
use crate::error::{ApiError, Reason};
use crate::forward::header_value;
use crate::grants::{Principal, Standing, StandingQuery};
use crate::identity::{CredentialKind, Identity};
use crate::path::check_request_path;
use crate::policy::{Auth, Policy, RouteMatch, SignaturePolicy};
use crate::query::split_token;
use crate::scope::ScopeSet;
use crate::settings::Environment;
use crate::signing::{check_window, SignatureHeaders};

/// What the gate reads of a request before it reads anything else.
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The pathname as the client sent it (not decoded, dot segments not
    /// resolved): see [`crate::path`].
    pub path: &'a str,
    /// The query, without `?` (`None` when the URL has none).
    pub query: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// `x-cli-signature`, `x-cli-timestamp`, `x-cli-nonce`.
    pub signature: [Option<&'a str>; 3],
    /// `CF-Connecting-IP`.
    pub client_ip: Option<IpAddr>,
    pub now_ms: u64,
}

/// Where a request goes once it passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target<'p> {
    /// One of the worker's own endpoints.
    Own(Endpoint),
    /// A policy route: forwarded to the origin.
    Route(RouteMatch<'p>),
}

/// What the gate needs before it can go on.
#[derive(Debug, PartialEq, Eq)]
pub enum Need<'g> {
    /// Verify this credential (JWT or API key record) and call [`Gate::identified`].
    Identity { credential: &'g str },
    /// Ask the Directory (or a cache younger than
    /// [`crate::grants::GRANTS_MAX_AGE_MS`]) and call [`Gate::standing`].
    Standing(&'g StandingQuery),
    /// Read the body, refusing more than `limit` bytes (413), and call [`Gate::body`].
    Body { limit: u64 },
    /// Record this nonce once for this credential and call [`Gate::nonce`].
    Nonce {
        credential: &'g str,
        nonce: &'g str,
        expires_at_ms: u64,
    },
    /// Decided: call [`Gate::finish`].
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Identify,
    Standing,
    Body,
    Nonce,
    Done,
}

/// One request's way through the checks. Built by [`Gate::open`].
#[derive(Debug)]
pub struct Gate<'p> {
    target: Target<'p>,
    path: String,
    method: String,
    /// The request target a signature covers (pathname plus `?query`).
    signed_target: String,
    signature: [Option<String>; 3],
    client_ip: Option<IpAddr>,
    now_ms: u64,
    body_limit: u64,
    stage: Stage,
    credential: Option<String>,
    identity: Option<Identity>,
    query: Option<StandingQuery>,
    principal: Option<Principal>,
    signed: Option<SignatureHeaders>,
    tenant: Option<String>,
    scopes: ScopeSet,
    body: Vec<u8>,
}

/// A request that passed the gate. Only [`Gate::finish`] makes one, so a
/// handler holding it knows every check ran.
#[derive(Debug)]
pub struct Passed<'p> {
    pub target: Target<'p>,
    /// The pathname the policy matched, exactly as it arrived: the one the
    /// origin receives.
    pub path: String,
    /// Who is calling, with what they may do now; `None` where no credential
    /// is read (public endpoints, `auth: none` routes).
    pub principal: Option<Principal>,
    /// The tenant of a tenant route or tenant endpoint.
    pub tenant: Option<String>,
    /// The body, within its limit, its MAC checked when signed.
    pub body: Vec<u8>,
    /// An unsigned request on a `signature: optional` route (SPEC asks for
    /// these to be counted and logged in summary).
    pub unsigned_optional: bool,
    scopes: ScopeSet,
}

impl<'p> Gate<'p> {
    /// Routes the request (404 `no_route`, 405 with `Allow`) and reads the
    /// credential it carries where one is needed (401 `missing_credential`,
    /// `malformed_credential`). `max_body_bytes` is the limit of the
    /// worker's own endpoints and of routes that set none; `environment`
    /// decides whether the development-only endpoints exist.
    pub fn open(
        head: &RequestHead<'_>,
        policy: &'p Policy,
        max_body_bytes: u64,
        environment: Environment,
    ) -> Result<Gate<'p>, ApiError> {
        // A path that a matcher and an origin could read differently is refused
        // before anything is matched (400 `invalid_path`).
        let path = check_request_path(head.path)?.as_str();
        let (target, needs_credential, query_token, body_limit) =
            match Endpoint::resolve_in(head.method, path, environment)? {
                Some(e) => {
                    let needs = e.requirement() != Requirement::Public;
                    (Target::Own(e), needs, false, max_body_bytes)
                }
                None => {
                    let m = policy
                        .match_request(head.method, path)
                        .ok_or_else(|| ApiError::new(Reason::NoRoute))?;
                    let needs = m.route.auth == Auth::Required;
                    let qt = m.route.query_token;
                    let limit = m.route.max_body_bytes.unwrap_or(max_body_bytes);
                    (Target::Route(m), needs, qt, limit)
                }
            };
        let credential = if needs_credential {
            // `?token=` is a credential only where the policy says so, and only
            // when no `Authorization` header is sent.
            let from_query = query_token
                .then(|| head.query.and_then(|q| split_token(q).1))
                .flatten();
            Some(match (head.authorization, from_query) {
                (None, Some(token)) => check_credential_chars(&token)?.to_string(),
                (h, _) => parse_authorization(h)?.to_string(),
            })
        } else {
            None
        };
        let signed_target = match head.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        Ok(Gate {
            target,
            path: path.to_string(),
            method: head.method.to_string(),
            signed_target,
            signature: head.signature.map(|h| h.map(str::to_string)),
            client_ip: head.client_ip,
            now_ms: head.now_ms,
            body_limit,
            stage: if credential.is_some() {
                Stage::Identify
            } else {
                Stage::Body
            },
            credential,
            identity: None,
            query: None,
            principal: None,
            signed: None,
            tenant: None,
            scopes: ScopeSet::new(),
            body: Vec::new(),
        })
    }

    /// Where the request is going (known from the start).
    pub fn target(&self) -> &Target<'p> {
        &self.target
    }

    /// What the gate needs next.
    pub fn next(&self) -> Need<'_> {
        match self.stage {
            Stage::Identify => match &self.credential {
                Some(c) => Need::Identity { credential: c },
                None => Need::Nothing,
            },
            Stage::Standing => match &self.query {
                Some(q) => Need::Standing(q),
                None => Need::Nothing,
            },
            Stage::Body => Need::Body {
                limit: self.body_limit,
            },
            Stage::Nonce => match (&self.credential, &self.signed) {
                (Some(c), Some(s)) => Need::Nonce {
                    credential: c,
                    nonce: s.nonce(),
                    expires_at_ms: s.nonce_expires_at_ms(),
                },
                _ => Need::Nothing,
            },
            Stage::Done => Need::Nothing,
        }
    }

    /// The verified identity behind the credential (its format, algorithm,
    /// key, signature, issuer, audience and expiry were checked by the
    /// caller through [`crate::jwt::verify`] or the key record).
    pub fn identified(&mut self, identity: Identity) -> Result<(), ApiError> {
        self.expect(Stage::Identify)?;
        self.query = StandingQuery::for_identity(&identity);
        if identity.kind != CredentialKind::External && self.query.is_none() {
            // A user token without a session or a key without an id cannot be
            // checked against the Directory: refuse rather than trust it.
            return Err(ApiError::new(Reason::MalformedCredential));
        }
        self.identity = Some(identity);
        self.stage = Stage::Standing;
        if self.query.is_none() {
            return self.decide(None);
        }
        Ok(())
    }

    /// The Directory's answer about the credential: revocation (401), then
    /// the route checks (403) over the grants it holds now.
    pub fn standing(&mut self, standing: Standing) -> Result<(), ApiError> {
        self.expect(Stage::Standing)?;
        match (standing, &self.query) {
            (Standing::Revoked, Some(q)) => Err(q.revoked()),
            (Standing::Active { grants }, Some(_)) => self.decide(Some(&grants)),
            (_, None) => Err(out_of_order()),
        }
    }

    fn decide(&mut self, grants: Option<&crate::grants::Grants>) -> Result<(), ApiError> {
        let identity = self.identity.take().ok_or_else(out_of_order)?;
        let principal = Principal::resolve(identity, grants);
        // The signature's headers belong to the credential: their 401s come
        // before the route's 403s; only the MAC has to wait for the body.
        let policy = match &self.target {
            Target::Route(m) => m.route.signature,
            Target::Own(_) => SignaturePolicy::None,
        };
        let [sig, ts, nonce] = &self.signature;
        let signed =
            SignatureHeaders::from_request(sig.as_deref(), ts.as_deref(), nonce.as_deref())?;
        if let Some(h) = &signed {
            check_window(h.timestamp_ms(), self.now_ms)?;
        }
        policy.must_verify(signed.is_some())?;
        match &self.target {
            Target::Route(m) => {
                let g = authorize_route(&principal, m, self.client_ip)?;
                self.tenant = g.tenant;
                self.scopes = g.scopes;
            }
            Target::Own(e) => {
                self.tenant = authorize_endpoint(&principal, &e.requirement(), self.client_ip)?;
                self.scopes = principal.scopes().clone();
            }
        }
        self.signed = signed;
        self.principal = Some(principal);
        self.stage = Stage::Body;
        Ok(())
    }

    /// The body, read within [`Need::Body`]'s limit. A signed request's MAC
    /// is checked over it here (401 `signature_invalid`).
    pub fn body(&mut self, body: Vec<u8>) -> Result<(), ApiError> {
        self.expect(Stage::Body)?;
        if body.len() as u64 > self.body_limit {
            return Err(ApiError::new(Reason::PayloadTooLarge));
        }
        if let (Some(s), Some(c)) = (&self.signed, &self.credential) {
            s.verify_mac(c, &self.method, &self.signed_target, &body)?;
            self.stage = Stage::Nonce;
        } else {
            self.stage = Stage::Done;
        }
        self.body = body;
        Ok(())
    }

    /// Whether the nonce was recorded now (`true`) or seen before: a replay,
    /// 401 `nonce_replayed`.
    pub fn nonce(&mut self, fresh: bool) -> Result<(), ApiError> {
        self.expect(Stage::Nonce)?;
        if !fresh {
            return Err(ApiError::new(Reason::NonceReplayed));
        }
        self.stage = Stage::Done;
        Ok(())
    }

    /// The decided request, once [`Gate::next`] needs nothing more.
    pub fn finish(self) -> Result<Passed<'p>, ApiError> {
        if self.stage != Stage::Done {
            return Err(out_of_order());
        }
        let unsigned_optional = self.principal.is_some()
            && self.signed.is_none()
            && matches!(&self.target, Target::Route(m) if m.route.signature == SignaturePolicy::Optional);
        Ok(Passed {
            target: self.target,
            path: self.path,
            principal: self.principal,
            tenant: self.tenant,
            body: self.body,
            unsigned_optional,
            scopes: self.scopes,
        })
    }

    fn expect(&self, stage: Stage) -> Result<(), ApiError> {
        if self.stage == stage {
            Ok(())
        } else {
            Err(out_of_order())
        }
    }
}

/// A rim that answers out of turn is a bug; the request is refused, not passed.
fn out_of_order() -> ApiError {
    ApiError::with_message(Reason::StoreUnavailable, "the gate was driven out of order")
}

impl Passed<'_> {
    /// The headers the origin gets: `x-edgeauth-subject`, `-kind`, `-scopes`
    /// (what the credential may use on this route), `-tenant` (tenant routes
    /// only), `-key-id` (API keys only), `-issuer` (external tokens only),
    /// and no other. Values are made header-safe by [`header_value`] (SPEC: distinct
    /// values never forward alike).
    pub fn forward_headers(&self) -> Vec<(&'static str, String)> {
        let Some(p) = &self.principal else {
            return Vec::new();
        };
        let id = p.identity();
        let mut h = vec![
            ("x-edgeauth-subject", header_value(&id.subject)),
            ("x-edgeauth-kind", id.kind.as_str().to_string()),
            ("x-edgeauth-scopes", self.scopes.to_space_separated()),
        ];
        if let Some(t) = &self.tenant {
            h.push(("x-edgeauth-tenant", header_value(t)));
        }
        match id.kind {
            CredentialKind::ApiKey => {
                if let Some(k) = &id.key_id {
                    h.push(("x-edgeauth-key-id", header_value(k)));
                }
            }
            CredentialKind::External => {
                if let Some(iss) = &id.issuer {
                    h.push(("x-edgeauth-issuer", header_value(iss)));
                }
            }
            CredentialKind::User => {}
        }
        h
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
