//! PBKDF2-HMAC-SHA256 through WebCrypto (core's `password` module holds the format and cost).

use edgeauth_core::password::{PasswordHash, HASH_LEN, PBKDF2_ITERATIONS, SALT_LEN};
use edgeauth_core::{ApiError, Reason};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::crypto;

fn failed(e: JsValue) -> ApiError {
    worker::console_error!("edgeauth: PBKDF2 failed: {e:?}");
    ApiError::with_message(Reason::StoreUnavailable, "password hashing failed")
}

/// Derives `HASH_LEN` bytes from a password.
pub async fn derive(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>, ApiError> {
    let subtle = Reflect::get(&js_sys::global(), &"crypto".into())
        .and_then(|c| {
            c.dyn_into::<web_sys::Crypto>()
                .map_err(|_| JsValue::from_str("no crypto"))
        })
        .map_err(failed)?
        .subtle();
    let raw = Uint8Array::from(password.as_bytes());
    let key = JsFuture::from(
        subtle
            .import_key_with_str(
                "raw",
                &raw,
                "PBKDF2",
                false,
                &js_sys::Array::of1(&"deriveBits".into()),
            )
            .map_err(failed)?,
    )
    .await
    .map_err(failed)?;
    let params = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&params, &k.into(), &v);
    set("name", "PBKDF2".into()).map_err(failed)?;
    set("hash", "SHA-256".into()).map_err(failed)?;
    set("salt", Uint8Array::from(salt).into()).map_err(failed)?;
    set("iterations", (iterations as f64).into()).map_err(failed)?;
    let bits = JsFuture::from(
        subtle
            .derive_bits_with_object(&params, key.unchecked_ref(), (HASH_LEN * 8) as u32)
            .map_err(failed)?,
    )
    .await
    .map_err(failed)?;
    Ok(Uint8Array::new(&bits).to_vec())
}

/// A new stored hash at the current cost.
pub async fn hash_new(password: &str) -> Result<PasswordHash, ApiError> {
    let salt = crypto::random_bytes(SALT_LEN)?;
    let hash = derive(password, &salt, PBKDF2_ITERATIONS).await?;
    Ok(PasswordHash::new(PBKDF2_ITERATIONS, salt, hash))
}

/// Checks a password against a stored hash.
pub async fn verify(password: &str, stored: &PasswordHash) -> Result<bool, ApiError> {
    let derived = derive(password, &stored.salt, stored.iterations).await?;
    Ok(stored.matches(&derived))
}
