//! The OS keyring (`--use-keyring`): the Secret Service on Linux and the BSDs,
//! the Keychain on macOS, the Credential Manager on Windows. Where none can be
//! reached, every call says so and nothing is stored anywhere else.

use std::sync::Arc;

use edgeauth_core::secret::Secret;
use keyring_core::{CredentialStore, Entry, Error};
use serde_json::json;
use zeroize::Zeroize;

use crate::failure::Failure;
use crate::settings::VaultSecrets;

/// The keyring "service" every edgeauth entry is filed under; the account is the profile name.
pub const SERVICE: &str = "edgeauth";

/// The platform's store, or why there is none.
fn platform_store() -> Result<Arc<CredentialStore>, String> {
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    {
        zbus_secret_service_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| format!("no Secret Service on the D-Bus session bus ({e})"))
    }
    #[cfg(target_os = "macos")]
    {
        apple_native_keyring_store::keychain::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| format!("the Keychain cannot be opened ({e})"))
    }
    #[cfg(target_os = "windows")]
    {
        windows_native_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| format!("the Credential Manager cannot be opened ({e})"))
    }
    #[cfg(not(any(
        all(
            unix,
            not(any(target_os = "macos", target_os = "ios", target_os = "android"))
        ),
        target_os = "macos",
        target_os = "windows"
    )))]
    {
        Err("this build of edgeauth knows no keyring for this system".to_string())
    }
}

/// A keyring that has answered.
pub struct Vault {
    store: Arc<CredentialStore>,
}

fn unavailable(why: &str) -> Failure {
    Failure::Keyring(format!(
        "no OS keyring is available here: {why}. Nothing was stored. \
         Sign in without --use-keyring to keep the credential in the config file (mode 0600), \
         or pass it in EDGEAUTH_TOKEN"
    ))
}

impl Vault {
    /// Connects and checks that the keyring answers (a lookup of an entry that
    /// may not exist), so that a login never starts when its result could not be kept.
    pub fn open() -> Result<Vault, Failure> {
        let store = platform_store().map_err(|why| unavailable(&why))?;
        let vault = Vault { store };
        match vault.entry("edgeauth-probe")?.get_password() {
            Ok(mut p) => {
                p.zeroize();
                Ok(vault)
            }
            Err(Error::NoEntry) => Ok(vault),
            Err(Error::NoStorageAccess(e)) | Err(Error::PlatformFailure(e)) => {
                Err(unavailable(&e.to_string()))
            }
            Err(e) => Err(unavailable(&e.to_string())),
        }
    }

    fn entry(&self, profile: &str) -> Result<Entry, Failure> {
        Entry::new_in_store(&self.store, SERVICE, profile).map_err(|e| {
            Failure::Keyring(format!(
                "the OS keyring refused the entry for profile {profile}: {e}"
            ))
        })
    }

    /// Keeps a profile's secrets (replacing what was there).
    pub fn save(
        &self,
        profile: &str,
        token: &Secret,
        refresh_token: Option<&Secret>,
    ) -> Result<(), Failure> {
        let mut value = json!({ "token": token.expose() });
        if let Some(r) = refresh_token {
            value["refresh_token"] = json!(r.expose());
        }
        let mut text = value.to_string();
        let result = self.entry(profile)?.set_password(&text);
        text.zeroize();
        result.map_err(|e| {
            Failure::Keyring(format!("the OS keyring did not store the credential: {e}"))
        })
    }

    /// Reads a profile's secrets.
    pub fn load(&self, profile: &str) -> Result<Option<VaultSecrets>, Failure> {
        match self.entry(profile)?.get_password() {
            Ok(mut text) => {
                let parsed = serde_json::from_str::<VaultSecrets>(&text);
                text.zeroize();
                parsed.map(Some).map_err(|_| {
                    Failure::Keyring(format!(
                        "the OS keyring's entry {SERVICE}/{profile} is not edgeauth's: delete it and sign in again"
                    ))
                })
            }
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(Failure::Keyring(format!(
                "the OS keyring did not answer: {e}"
            ))),
        }
    }

    /// Forgets a profile's secrets; a missing entry is already forgotten.
    pub fn delete(&self, profile: &str) -> Result<(), Failure> {
        match self.entry(profile)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(Failure::Keyring(format!(
                "the OS keyring did not delete the credential: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saying_no_keyring_names_the_way_out_and_the_exit_code_is_1() {
        let f = unavailable("no session bus");
        assert_eq!(f.exit_code(), 1);
        let m = f.to_string();
        assert!(
            m.contains("no OS keyring") && m.contains("Nothing was stored"),
            "{m}"
        );
        assert!(m.contains("without --use-keyring"), "{m}");
    }
}
