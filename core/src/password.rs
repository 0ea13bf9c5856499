//! Stored password hashes: PBKDF2-HMAC-SHA256 in a self-describing string, so the cost can
//! rise and old hashes be upgraded at the next login. The derivation itself runs in
//! WebCrypto (the worker); this module only formats, parses and compares.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// PBKDF2 iterations for new hashes: the most workerd's WebCrypto accepts (100,000),
/// about 30–40 ms of CPU on a Worker, within its budget.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Derived key length in bytes.
pub const HASH_LEN: usize = 32;

/// A parsed `pbkdf2-sha256$<iterations>$<salt>$<hash>` string.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub iterations: u32,
    pub salt: Vec<u8>,
    hash: Vec<u8>,
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasswordHash(pbkdf2-sha256, {} iterations, [redacted])",
            self.iterations
        )
    }
}

impl PasswordHash {
    /// Wraps a fresh derivation.
    pub fn new(iterations: u32, salt: Vec<u8>, hash: Vec<u8>) -> Self {
        PasswordHash {
            iterations,
            salt,
            hash,
        }
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!(
            "pbkdf2-sha256${}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }

    /// Parses the stored form; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('$');
        if parts.next()? != "pbkdf2-sha256" {
            return None;
        }
        let iterations = parts.next()?.parse().ok().filter(|i| *i > 0)?;
        let salt = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
        let hash = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() || hash.len() != HASH_LEN {
            return None;
        }
        Some(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Compares a derivation (same salt and iterations) in constant time.
    pub fn matches(&self, derived: &[u8]) -> bool {
        self.hash.ct_eq(derived).into()
    }

    /// Whether this hash was made with less work than new ones get.
    pub fn needs_upgrade(&self) -> bool {
        self.iterations < PBKDF2_ITERATIONS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compares() {
        let h = PasswordHash::new(1000, vec![1; 16], vec![2; 32]);
        let s = h.encode();
        assert!(s.starts_with("pbkdf2-sha256$1000$"));
        let p = PasswordHash::parse(&s).unwrap();
        assert_eq!(p, h);
        assert!(p.matches(&[2; 32]));
        assert!(!p.matches(&[3; 32]));
        assert!(!p.matches(&[2; 31]));
        assert!(p.needs_upgrade());
        assert!(!format!("{p:?}").contains("AgIC"));
    }

    #[test]
    fn refuses_other_formats() {
        for s in [
            "",
            "plain",
            "bcrypt$10$x$y",
            "pbkdf2-sha256$0$AQ$AQ",
            "pbkdf2-sha256$10$AQ$AQ$x",
        ] {
            assert!(PasswordHash::parse(s).is_none(), "{s}");
        }
    }
}
