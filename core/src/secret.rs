//! `Secret`: a string that never prints, is wiped from memory on drop, and compares in constant time.

use std::fmt;

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (password, private key, HMAC secret, raw credential).
///
/// `Debug` and `Display` print `[redacted]`; the bytes are zeroized when the
/// value is dropped. It deliberately has no `Serialize`: writing a secret out
/// must go through [`Secret::expose`], where a reader can see it happen.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps a string. The caller's `String` is moved in, so no copy is left behind.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself. Every call site is a place the secret leaves this type.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality (the length may leak; the content does not).
    pub fn ct_eq(&self, other: &Secret) -> bool {
        self.ct_eq_str(other.expose())
    }

    /// Constant-time comparison with a plain string.
    pub fn ct_eq_str(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// `==` is the constant-time comparison, so structs that derive `PartialEq` stay safe.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_content() {
        let s = Secret::new("hunter2-hunter2".into());
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            password: Secret,
        }
        let h = format!(
            "{:?}",
            Holder {
                password: s.clone()
            }
        );
        assert!(!h.contains("hunter2"), "{h}");
        assert_eq!(s.expose(), "hunter2-hunter2");
    }

    #[test]
    fn compares_by_content() {
        let a = Secret::new("abc".into());
        assert!(a.ct_eq(&Secret::new("abc".into())));
        assert!(!a.ct_eq(&Secret::new("abd".into())));
        assert!(!a.ct_eq(&Secret::new("ab".into())));
        assert!(!a.ct_eq(&Secret::new("abcd".into())));
        assert!(a.ct_eq_str("abc"));
        assert!(!a.ct_eq_str(""));
        assert!(Secret::default().ct_eq_str(""));
    }

    #[test]
    fn zeroize_wipes_the_content() {
        let mut s = Secret::new("top secret".into());
        s.zeroize();
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn deserializes_from_a_json_string() {
        let s: Secret = serde_json::from_str(r#""p@ss word""#).unwrap();
        assert_eq!(s.expose(), "p@ss word");
        assert!(serde_json::from_str::<Secret>("12").is_err());
    }
}
