//! JWT checking as a ladder: `Unverified` (parsed) → `VerifiedToken` (signature and claims checked).
//!
//! The P-256 math is not done here: the caller supplies it through [`Es256Keys`]
//! (WebCrypto in the worker, `p256` in tests), so this module only decides.

use jwt_compact::UntrustedToken;
use serde_json::{Map, Value};

use crate::error::{ApiError, Reason};
use crate::secret::Secret;

/// Clock leeway for `exp` and `nbf`, per SPEC: 60 s, no more.
pub const LEEWAY_S: i64 = 60;

/// Whether a token whose `exp` is `exp` has expired at `now_s`, leeway
/// included: the one place for this rule (the worker's token cache asks it too).
pub fn expired(exp: i64, now_s: i64) -> bool {
    now_s > exp.saturating_add(LEEWAY_S)
}

/// Algorithms edgeauth accepts at all; each key allows exactly one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Hs256,
}

impl Alg {
    fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::Es256),
            "HS256" => Some(Alg::Hs256),
            _ => None,
        }
    }
}

/// The worker's own issuer: it signs access tokens with its ES256 key set.
#[derive(Clone, Debug)]
pub struct OwnIssuer {
    pub iss: String,
    pub audience: String,
}

/// An external issuer (e.g. a Supabase project), as configured in `EXTERNAL_ISSUERS`.
#[derive(Clone, Debug)]
pub struct ExternalIssuer {
    pub iss: String,
    pub audiences: Vec<String>,
    /// ES256 tokens are checked against this JWKS.
    pub jwks_url: Option<String>,
    /// HS256 tokens are checked against this secret.
    pub hs256_secret: Option<Secret>,
}

/// Everything the worker trusts.
#[derive(Clone, Debug)]
pub struct TrustConfig {
    pub own: OwnIssuer,
    pub external: Vec<ExternalIssuer>,
}

impl TrustConfig {
    /// The issuer whose `iss` is exactly `iss`, if we trust one.
    pub fn issuer(&self, iss: &str) -> Option<IssuerRef<'_>> {
        if iss == self.own.iss {
            return Some(IssuerRef::Own(&self.own));
        }
        self.external
            .iter()
            .find(|e| e.iss == iss)
            .map(IssuerRef::External)
    }

    /// Every trusted issuer, the worker's own first.
    pub fn issuers(&self) -> impl Iterator<Item = IssuerRef<'_>> {
        std::iter::once(IssuerRef::Own(&self.own))
            .chain(self.external.iter().map(IssuerRef::External))
    }
}

/// Which issuer a token claims to come from.
#[derive(Clone, Copy, Debug)]
pub enum IssuerRef<'a> {
    Own(&'a OwnIssuer),
    External(&'a ExternalIssuer),
}

impl<'a> IssuerRef<'a> {
    fn allows(&self, alg: Alg) -> bool {
        match (self, alg) {
            (IssuerRef::Own(_), Alg::Es256) => true,
            (IssuerRef::Own(_), Alg::Hs256) => false,
            (IssuerRef::External(e), Alg::Es256) => e.jwks_url.is_some(),
            (IssuerRef::External(e), Alg::Hs256) => e.hs256_secret.is_some(),
        }
    }

    fn audiences(&self) -> Vec<&'a str> {
        match self {
            IssuerRef::Own(o) => vec![o.audience.as_str()],
            IssuerRef::External(e) => e.audiences.iter().map(String::as_str).collect(),
        }
    }
}

/// Where ES256 keys come from and how their signatures are checked.
#[allow(async_fn_in_trait)] // used only on one thread (wasm isolates, tests)
pub trait Es256Keys {
    type Key;
    /// The key `kid` of `issuer`; `Ok(None)` when the issuer has no such key.
    /// Errors with `issuer_unreachable` when the key set cannot be had.
    async fn key(&self, issuer: IssuerRef<'_>, kid: &str) -> Result<Option<Self::Key>, ApiError>;
    /// Checks a raw `r || s` ECDSA P-256 SHA-256 signature over `signing_input`.
    async fn verify(
        &self,
        key: &Self::Key,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool, ApiError>;
}

/// A JWT whose shape is right but which nothing has checked yet.
pub struct Unverified<'a> {
    raw: &'a str,
    alg: String,
    kid: Option<String>,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

fn malformed(why: &str) -> ApiError {
    ApiError::with_message(
        Reason::MalformedCredential,
        format!("malformed token: {why}"),
    )
}

impl<'a> Unverified<'a> {
    /// The format step: three base64url segments whose first two are JSON objects.
    pub fn parse(raw: &'a str) -> Result<Self, ApiError> {
        let token = UntrustedToken::new(raw).map_err(|_| malformed("not a JWS compact token"))?;
        let claims = token
            .deserialize_claims_unchecked::<Map<String, Value>>()
            .map_err(|_| malformed("the payload is not a JSON object of claims"))?;
        // jwt-compact lifts the registered time claims out; put them back so one map holds all.
        let mut map = claims.custom;
        for (name, value) in [
            ("exp", claims.expiration),
            ("nbf", claims.not_before),
            ("iat", claims.issued_at),
        ] {
            if let Some(t) = value {
                map.insert(name.to_string(), Value::from(t.timestamp()));
            }
        }
        Ok(Unverified {
            raw,
            alg: token.algorithm().to_string(),
            kid: token.header().key_id.clone(),
            signature: token.signature_bytes().to_vec(),
            claims: map,
        })
    }

    /// The claims as they are, unchecked: for `decodeToken`-style inspection only.
    pub fn dangerous_unchecked_claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn signing_input(&self) -> &'a str {
        // parse() succeeded, so there are exactly two dots.
        self.raw.rsplit_once('.').map(|(s, _)| s).unwrap_or("")
    }
}

/// Which issuer verified a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerKind {
    Own,
    External,
}

/// A token whose signature, issuer, audience and time claims have been checked.
/// Only [`verify`] makes one. Revocation is the caller's last step.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    issuer: IssuerKind,
    claims: Map<String, Value>,
    exp: i64,
}

impl VerifiedToken {
    pub fn issuer_kind(&self) -> IssuerKind {
        self.issuer
    }
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// A string claim, if present and a string.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    /// The token's `exp`, Unix seconds.
    pub fn exp(&self) -> i64 {
        self.exp
    }
}

fn is_plain_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f.floor() as i64))
            .map(Some)
            .ok_or_else(|| malformed(&format!("`{name}` is not a number"))),
    }
}

/// Runs SPEC's checks in SPEC's order: format, algorithm, key id, signature,
/// issuer, audience, expiry and not-before. The first failure names the reason.
pub async fn verify<K: Es256Keys>(
    raw: &str,
    trust: &TrustConfig,
    keys: &K,
    now_s: i64,
) -> Result<VerifiedToken, ApiError> {
    let token = Unverified::parse(raw)?;

    let alg = Alg::parse(&token.alg).ok_or_else(|| {
        ApiError::with_message(
            Reason::AlgorithmNotAllowed,
            format!("algorithm {:?} is not allowed", token.alg),
        )
    })?;

    // The key is chosen by `iss`, then by `kid`. A token whose `iss` names no issuer we
    // trust still goes through the earlier steps against every key we hold, so that its
    // first defect in SPEC's order names the reason: a payload whose `iss` was edited is
    // `bad_token_signature`, a `kid` nobody has is `unknown_key_id`, and only a token one
    // of our keys really signed is `wrong_issuer`.
    let iss = token.claims.get("iss").and_then(Value::as_str);
    let claimed = iss.and_then(|i| trust.issuer(i));
    let candidates: Vec<IssuerRef<'_>> = match claimed {
        Some(issuer) => vec![issuer],
        None => trust.issuers().collect(),
    };

    let candidates: Vec<IssuerRef<'_>> = candidates.into_iter().filter(|i| i.allows(alg)).collect();
    if candidates.is_empty() {
        let why = match claimed {
            Some(_) => format!("this issuer does not sign with {}", token.alg),
            None => format!("no trusted issuer signs with {}", token.alg),
        };
        return Err(ApiError::with_message(Reason::AlgorithmNotAllowed, why));
    }

    let signing_input = token.signing_input().as_bytes();
    let signature_ok = match alg {
        Alg::Es256 => {
            let kid = token
                .kid
                .as_deref()
                .filter(|k| is_plain_kid(k))
                .ok_or_else(|| ApiError::new(Reason::UnknownKeyId))?;
            // Issuers may reuse key ids: any key of a candidate under this `kid` may verify.
            let mut found = false;
            let mut verified = false;
            for issuer in &candidates {
                let key = match keys.key(*issuer, kid).await {
                    Ok(Some(key)) => key,
                    Ok(None) => continue,
                    // The token's own issuer being down is its answer (503); another
                    // issuer's outage is not, for a token that does not name it.
                    Err(e) if claimed.is_some() => return Err(e),
                    Err(_) => continue,
                };
                found = true;
                if token.signature.len() == 64
                    && keys.verify(&key, signing_input, &token.signature).await?
                {
                    verified = true;
                    break;
                }
            }
            if !found {
                return Err(ApiError::new(Reason::UnknownKeyId));
            }
            verified
        }
        // An HS256 issuer has one secret and needs no `kid`.
        Alg::Hs256 => candidates.iter().any(|issuer| match issuer {
            IssuerRef::External(ExternalIssuer {
                hs256_secret: Some(secret),
                ..
            }) => crate::mac::hs256_verify(
                secret.expose().as_bytes(),
                signing_input,
                &token.signature,
            ),
            _ => false,
        }),
    };
    if !signature_ok {
        return Err(ApiError::new(Reason::BadTokenSignature));
    }

    let issuer = claimed.ok_or_else(|| ApiError::new(Reason::WrongIssuer))?;

    let aud_ok = match token.claims.get("aud") {
        Some(Value::String(a)) => issuer.audiences().contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| issuer.audiences().contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err(ApiError::new(Reason::WrongAudience));
    }

    let exp = numeric_claim(&token.claims, "exp")?.ok_or_else(|| {
        ApiError::with_message(Reason::TokenExpired, "the token carries no `exp` claim")
    })?;
    if expired(exp, now_s) {
        return Err(ApiError::new(Reason::TokenExpired));
    }
    if let Some(nbf) = numeric_claim(&token.claims, "nbf")? {
        if now_s.saturating_add(LEEWAY_S) < nbf {
            return Err(ApiError::new(Reason::TokenNotYetValid));
        }
    }

    // A token that names no subject cannot be attributed to anyone.
    if token
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(malformed("the token carries no `sub` claim"));
    }

    Ok(VerifiedToken {
        issuer: match issuer {
            IssuerRef::Own(_) => IssuerKind::Own,
            IssuerRef::External(_) => IssuerKind::External,
        },
        claims: token.claims,
        exp,
    })
}

/// The JWS signing input for one of the worker's own ES256 tokens.
pub fn es256_signing_input(kid: &str, claims: &impl serde::Serialize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

/// Appends a raw `r || s` signature to a signing input.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    struct TestKeys {
        own: Vec<(String, VerifyingKey)>,
        /// The keys of the JWKS issuer (`https://idp.test`).
        external: Vec<(String, VerifyingKey)>,
        unreachable: bool,
    }

    impl Es256Keys for TestKeys {
        type Key = VerifyingKey;
        async fn key(
            &self,
            issuer: IssuerRef<'_>,
            kid: &str,
        ) -> Result<Option<VerifyingKey>, ApiError> {
            let set = match issuer {
                IssuerRef::Own(_) => &self.own,
                IssuerRef::External(_) if self.unreachable => {
                    return Err(ApiError::new(Reason::IssuerUnreachable))
                }
                IssuerRef::External(_) => &self.external,
            };
            Ok(set.iter().find(|(k, _)| k == kid).map(|(_, v)| *v))
        }
        async fn verify(
            &self,
            key: &VerifyingKey,
            input: &[u8],
            sig: &[u8],
        ) -> Result<bool, ApiError> {
            Ok(Signature::from_slice(sig)
                .map(|s| key.verify(input, &s).is_ok())
                .unwrap_or(false))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The futures here never wait on anything, so one poll finishes them.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("test future waited"),
        }
    }

    fn signing_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn idp_key() -> SigningKey {
        SigningKey::from_slice(&[9u8; 32]).unwrap()
    }

    fn trust() -> TrustConfig {
        TrustConfig {
            own: OwnIssuer {
                iss: "edgeauth".into(),
                audience: "edgeauth".into(),
            },
            external: vec![
                ExternalIssuer {
                    iss: "https://hs.test".into(),
                    audiences: vec!["api".into()],
                    jwks_url: None,
                    hs256_secret: Some(Secret::new("hs-secret-hs-secret-hs-secret-32".into())),
                },
                ExternalIssuer {
                    iss: "https://idp.test".into(),
                    audiences: vec!["api".into()],
                    jwks_url: Some("http://127.0.0.1:1/jwks.json".into()),
                    hs256_secret: None,
                },
            ],
        }
    }

    fn keys() -> TestKeys {
        TestKeys {
            own: vec![("k1".into(), *signing_key().verifying_key())],
            external: vec![("idp-1".into(), *idp_key().verifying_key())],
            unreachable: false,
        }
    }

    fn claims(over: Value) -> Value {
        let mut c = json!({"iss": "edgeauth", "aud": "edgeauth", "sub": "usr_1", "exp": NOW + 600, "iat": NOW});
        if let (Some(base), Some(over)) = (c.as_object_mut(), over.as_object()) {
            for (k, v) in over {
                if v.is_null() {
                    base.remove(k);
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        c
    }

    fn es256(header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: Signature = signing_key().sign(input.as_bytes());
        assemble(&input, &sig.to_bytes())
    }

    fn hs256(header: Value, claims: Value, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assemble(&input, &crate::mac::hs256(secret, input.as_bytes()))
    }

    fn check(token: &str) -> Result<VerifiedToken, Reason> {
        block_on(verify(token, &trust(), &keys(), NOW)).map_err(|e| e.reason)
    }

    fn own_header() -> Value {
        json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
    }

    #[test]
    fn accepts_a_good_own_token_and_minted_tokens_round_trip() {
        let input = es256_signing_input("k1", &claims(json!({})));
        let sig: Signature = signing_key().sign(input.as_bytes());
        let token = assemble(&input, &sig.to_bytes());
        let v = check(&token).unwrap();
        assert_eq!(v.issuer_kind(), IssuerKind::Own);
        assert_eq!(v.str_claim("sub"), Some("usr_1"));
        assert_eq!(v.exp(), NOW + 600);
    }

    #[test]
    fn refuses_alg_none_and_unknown_algorithms() {
        let body = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), body);
        assert_eq!(check(&none).err(), Some(Reason::AlgorithmNotAllowed));
        let rs = es256(json!({"alg": "RS256", "kid": "k1"}), claims(json!({})));
        assert_eq!(check(&rs).err(), Some(Reason::AlgorithmNotAllowed));
    }

    #[test]
    fn refuses_hs256_signed_with_the_public_key_key_confusion() {
        let public = signing_key().verifying_key().to_encoded_point(false);
        let token = hs256(
            json!({"alg": "HS256", "kid": "k1"}),
            claims(json!({})),
            public.as_bytes(),
        );
        assert_eq!(check(&token).err(), Some(Reason::AlgorithmNotAllowed));
    }

    #[test]
    fn refuses_zero_signature_cve_2022_21449() {
        let good = es256(own_header(), claims(json!({})));
        let (input, _) = good.rsplit_once('.').unwrap();
        let zero = assemble(input, &[0u8; 64]);
        assert_eq!(check(&zero).err(), Some(Reason::BadTokenSignature));
        let short = assemble(input, &[1u8; 10]);
        assert_eq!(check(&short).err(), Some(Reason::BadTokenSignature));
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let good = es256(own_header(), claims(json!({})));
        let parts: Vec<&str> = good.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(claims(json!({"sub": "usr_admin"})).to_string());
        let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(check(&tampered).err(), Some(Reason::BadTokenSignature));
    }

    #[test]
    fn key_id_must_be_known_and_plain() {
        let unknown = es256(json!({"alg": "ES256", "kid": "k9"}), claims(json!({})));
        assert_eq!(check(&unknown).err(), Some(Reason::UnknownKeyId));
        let absent = es256(json!({"alg": "ES256"}), claims(json!({})));
        assert_eq!(check(&absent).err(), Some(Reason::UnknownKeyId));
        let odd = es256(json!({"alg": "ES256", "kid": "../k1"}), claims(json!({})));
        assert_eq!(check(&odd).err(), Some(Reason::UnknownKeyId));
    }

    #[test]
    fn issuer_audience_and_time_are_checked_in_order() {
        let wrong_iss = es256(own_header(), claims(json!({"iss": "evil"})));
        assert_eq!(check(&wrong_iss).err(), Some(Reason::WrongIssuer));
        let wrong_aud = es256(own_header(), claims(json!({"aud": "other"})));
        assert_eq!(check(&wrong_aud).err(), Some(Reason::WrongAudience));
        let aud_list = es256(own_header(), claims(json!({"aud": ["x", "edgeauth"]})));
        assert!(check(&aud_list).is_ok());
        // Expired beyond the leeway, and within it.
        let expired = es256(own_header(), claims(json!({"exp": NOW - 61})));
        assert_eq!(check(&expired).err(), Some(Reason::TokenExpired));
        let within = es256(own_header(), claims(json!({"exp": NOW - 59})));
        assert!(check(&within).is_ok());
        let future = es256(own_header(), claims(json!({"nbf": NOW + 61})));
        assert_eq!(check(&future).err(), Some(Reason::TokenNotYetValid));
        let nearly = es256(own_header(), claims(json!({"nbf": NOW + 59})));
        assert!(check(&nearly).is_ok());
        // Both expired and wrong audience: audience comes first.
        let both = es256(own_header(), claims(json!({"aud": "x", "exp": NOW - 1000})));
        assert_eq!(check(&both).err(), Some(Reason::WrongAudience));
        let no_exp = es256(own_header(), claims(json!({"exp": null})));
        assert_eq!(check(&no_exp).err(), Some(Reason::TokenExpired));
        let no_sub = es256(own_header(), claims(json!({"sub": null})));
        assert_eq!(check(&no_sub).err(), Some(Reason::MalformedCredential));
    }

    #[test]
    fn external_hs256_needs_no_kid_and_its_secret() {
        let secret = b"hs-secret-hs-secret-hs-secret-32";
        let c = claims(json!({"iss": "https://hs.test", "aud": "api"}));
        let good = hs256(json!({"alg": "HS256"}), c.clone(), secret);
        assert_eq!(check(&good).unwrap().issuer_kind(), IssuerKind::External);
        let bad = hs256(json!({"alg": "HS256"}), c.clone(), b"wrong");
        assert_eq!(check(&bad).err(), Some(Reason::BadTokenSignature));
        // ES256 is not this issuer's algorithm.
        let es = es256(own_header(), c);
        assert_eq!(check(&es).err(), Some(Reason::AlgorithmNotAllowed));
    }

    #[test]
    fn unreachable_issuer_is_a_503_not_a_401() {
        let c = claims(json!({"iss": "https://idp.test", "aud": "api"}));
        let token = es256(own_header(), c);
        let k = TestKeys {
            unreachable: true,
            ..keys()
        };
        let err = block_on(verify(&token, &trust(), &k, NOW))
            .err()
            .map(|e| e.reason);
        assert_eq!(err, Some(Reason::IssuerUnreachable));
    }

    fn es256_with(key: &SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: Signature = key.sign(input.as_bytes());
        assemble(&input, &sig.to_bytes())
    }

    #[test]
    fn an_unknown_issuer_comes_after_key_id_and_signature() {
        // Signed by one of our keys: only the issuer is wrong.
        let signed = es256(own_header(), claims(json!({"iss": "evil"})));
        assert_eq!(check(&signed).err(), Some(Reason::WrongIssuer));
        let no_iss = es256(own_header(), claims(json!({"iss": null})));
        assert_eq!(check(&no_iss).err(), Some(Reason::WrongIssuer));
        let idp = es256_with(
            &idp_key(),
            json!({"alg": "ES256", "kid": "idp-1"}),
            claims(json!({"iss": "https://IDP.test", "aud": "api"})),
        );
        assert_eq!(check(&idp).err(), Some(Reason::WrongIssuer));

        // `iss` edited in a genuine token's payload: the signature fails first.
        let good = es256(own_header(), claims(json!({})));
        let parts: Vec<&str> = good.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(claims(json!({"iss": "evil"})).to_string());
        let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(check(&tampered).err(), Some(Reason::BadTokenSignature));
        // Another key under our kid.
        let forged = es256_with(&idp_key(), own_header(), claims(json!({"iss": "evil"})));
        assert_eq!(check(&forged).err(), Some(Reason::BadTokenSignature));

        // A kid nobody has, or none: the key id fails first.
        let unknown = es256(
            json!({"alg": "ES256", "kid": "k9"}),
            claims(json!({"iss": "evil"})),
        );
        assert_eq!(check(&unknown).err(), Some(Reason::UnknownKeyId));
        let absent = es256(json!({"alg": "ES256"}), claims(json!({"iss": "evil"})));
        assert_eq!(check(&absent).err(), Some(Reason::UnknownKeyId));

        // HS256: the configured secret signed it (wrong issuer), or no secret did.
        let c = claims(json!({"iss": "https://other.test", "aud": "api"}));
        let secret = b"hs-secret-hs-secret-hs-secret-32";
        let hs_good = hs256(json!({"alg": "HS256"}), c.clone(), secret);
        assert_eq!(check(&hs_good).err(), Some(Reason::WrongIssuer));
        let hs_bad = hs256(json!({"alg": "HS256"}), c, b"another project's secret");
        assert_eq!(check(&hs_bad).err(), Some(Reason::BadTokenSignature));

        // The algorithm comes first: no issuer of ours signs with it.
        let only_own = TrustConfig {
            external: Vec::new(),
            ..trust()
        };
        let hs_nowhere = hs256(
            json!({"alg": "HS256"}),
            claims(json!({"iss": "evil"})),
            secret,
        );
        let err = block_on(verify(&hs_nowhere, &only_own, &keys(), NOW)).err();
        assert_eq!(err.map(|e| e.reason), Some(Reason::AlgorithmNotAllowed));

        // Two issuers with the same key id: the key that signed it is found either way.
        let shared = TestKeys {
            external: vec![("k1".into(), *idp_key().verifying_key())],
            ..keys()
        };
        let by_idp = es256_with(&idp_key(), own_header(), claims(json!({"iss": "evil"})));
        let err = block_on(verify(&by_idp, &trust(), &shared, NOW)).err();
        assert_eq!(err.map(|e| e.reason), Some(Reason::WrongIssuer));

        // Another issuer's outage is not the answer for a token that does not name it.
        let k = TestKeys {
            unreachable: true,
            ..keys()
        };
        let stranger = es256(
            json!({"alg": "ES256", "kid": "k9"}),
            claims(json!({"iss": "evil"})),
        );
        let err = block_on(verify(&stranger, &trust(), &k, NOW)).err();
        assert_eq!(err.map(|e| e.reason), Some(Reason::UnknownKeyId));
    }

    #[test]
    fn garbage_is_malformed() {
        for t in [
            "garbage",
            "a.b",
            "a.b.c.d",
            "!!.??.**",
            "e30.e30",
            "WzFd.e30.e30",
            "e30.WzFd.e30",
        ] {
            assert_eq!(check(t).err(), Some(Reason::MalformedCredential), "{t}");
        }
        let huge = format!(
            "{}.{}.{}",
            "a".repeat(30_000),
            "b".repeat(30_000),
            "c".repeat(4_000)
        );
        assert_eq!(check(&huge).err(), Some(Reason::MalformedCredential));
    }
}
