//! WebCrypto adapters: P-256 ECDSA through the runtime (fast, constant time), randomness from its CSPRNG.

use js_sys::{Object, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// A failure inside WebCrypto: never a credential decision, always a 5xx-class problem.
#[derive(Debug)]
pub struct CryptoError(pub String);

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<JsValue> for CryptoError {
    fn from(v: JsValue) -> Self {
        CryptoError(format!("{v:?}"))
    }
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let crypto: web_sys::Crypto = crypto
        .dyn_into()
        .map_err(|_| CryptoError("no crypto global".into()))?;
    Ok(crypto.subtle())
}

fn obj(pairs: &[(&str, &str)]) -> Result<Object, CryptoError> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v))?;
    }
    Ok(o)
}

fn usages(list: &[&str]) -> JsValue {
    let arr = js_sys::Array::new();
    for u in list {
        arr.push(&JsValue::from_str(u));
    }
    arr.into()
}

/// Imports a P-256 JWK for `verify` (public) or `sign` (private).
pub async fn import_es256_jwk(jwk: &Value, private: bool) -> Result<CryptoKey, CryptoError> {
    let key_data: Object = js_sys::JSON::parse(&jwk.to_string())?
        .dyn_into()
        .map_err(|_| CryptoError("JWK is not an object".into()))?;
    let alg = obj(&[("name", "ECDSA"), ("namedCurve", "P-256")])?;
    let use_for = if private {
        usages(&["sign"])
    } else {
        usages(&["verify"])
    };
    let promise = subtle()?.import_key_with_object("jwk", &key_data, &alg, false, &use_for)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// Verifies a raw `r || s` signature; a malformed signature is just `false`.
pub async fn es256_verify(
    key: &CryptoKey,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let alg = obj(&[("name", "ECDSA"), ("hash", "SHA-256")])?;
    let promise =
        subtle()?.verify_with_object_and_u8_array_and_u8_array(&alg, key, signature, data)?;
    Ok(JsFuture::from(promise).await?.as_bool().unwrap_or(false))
}

/// Signs with a private P-256 key; WebCrypto answers raw `r || s`, exactly JWS's ES256 form.
pub async fn es256_sign(key: &CryptoKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let alg = obj(&[("name", "ECDSA"), ("hash", "SHA-256")])?;
    let promise = subtle()?.sign_with_object_and_u8_array(&alg, key, data)?;
    let buf = JsFuture::from(promise).await?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// A WebCrypto failure behind a request is the runtime failing us: 503, logged, never a pass.
impl From<CryptoError> for edgeauth_core::ApiError {
    fn from(e: CryptoError) -> Self {
        worker::console_error!("edgeauth: WebCrypto failed: {}", e.0);
        edgeauth_core::ApiError::new(edgeauth_core::Reason::StoreUnavailable)
    }
}

/// A new id such as `usr_…` from the runtime's CSPRNG.
pub fn new_id(prefix: &str) -> Result<String, CryptoError> {
    edgeauth_core::credential::generate_id(prefix, &random_bytes(64)?)
        .ok_or_else(|| CryptoError("random bytes ran short".into()))
}

/// `n` bytes from the runtime's CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    getrandom::getrandom(&mut buf).map_err(|e| CryptoError(e.to_string()))?;
    Ok(buf)
}
