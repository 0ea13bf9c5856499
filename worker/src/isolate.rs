//! What one isolate keeps between requests: parsed settings and imported signing keys.
//! (wasm isolates are single-threaded, so `thread_local!` + `RefCell` is the whole story.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use edgeauth_core::keys::SigningKeySet;
use edgeauth_core::settings::Settings;
use edgeauth_core::{ApiError, Reason};
use web_sys::CryptoKey;
use worker::Env;

use crate::crypto;

/// The worker's own ES256 keys, imported into WebCrypto once per isolate.
pub struct OwnKeys {
    pub set: SigningKeySet,
    pub verify: HashMap<String, CryptoKey>,
    pub sign: CryptoKey,
}

thread_local! {
    static SETTINGS: RefCell<Option<Rc<Settings>>> = const { RefCell::new(None) };
    static OWN_KEYS: RefCell<Option<Rc<OwnKeys>>> = const { RefCell::new(None) };
}

fn misconfigured(what: String) -> ApiError {
    // Logged without values: settings may embed secrets.
    worker::console_error!("edgeauth misconfigured: {what}");
    ApiError::with_message(Reason::StoreUnavailable, "the worker is misconfigured")
}

/// The settings, parsed on first use in this isolate.
pub fn settings(env: &Env) -> Result<Rc<Settings>, ApiError> {
    if let Some(s) = SETTINGS.with(|c| c.borrow().clone()) {
        return Ok(s);
    }
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let secret = |name: &str| env.secret(name).ok().map(|v| v.to_string());
    let parsed = Rc::new(Settings::from_env(&var, &secret).map_err(misconfigured)?);
    SETTINGS.with(|c| *c.borrow_mut() = Some(parsed.clone()));
    Ok(parsed)
}

/// The signing keys, imported on first use in this isolate.
pub async fn own_keys(env: &Env) -> Result<Rc<OwnKeys>, ApiError> {
    if let Some(k) = OWN_KEYS.with(|c| c.borrow().clone()) {
        return Ok(k);
    }
    let raw = env
        .secret("SIGNING_KEYS")
        .map_err(|_| misconfigured("SIGNING_KEYS is not set".into()))?
        .to_string();
    let set = SigningKeySet::from_json(&raw).map_err(misconfigured)?;
    let mut verify = HashMap::new();
    for k in set.keys() {
        let key = crypto::import_es256_jwk(&k.public_jwk(), false)
            .await
            .map_err(|e| misconfigured(format!("public key {}: {}", k.kid, e.0)))?;
        verify.insert(k.kid.clone(), key);
    }
    let sign = crypto::import_es256_jwk(&set.active().dangerous_private_jwk(), true)
        .await
        .map_err(|_| misconfigured(format!("private key {} does not import", set.active().kid)))?;
    let keys = Rc::new(OwnKeys { set, verify, sign });
    OWN_KEYS.with(|c| *c.borrow_mut() = Some(keys.clone()));
    Ok(keys)
}
