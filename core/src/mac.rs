//! HMAC-SHA256, the one MAC edgeauth uses (HS256 tokens and request signatures).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` under `key`.
pub fn hs256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Checks a tag in constant time; a tag of the wrong length is simply wrong.
pub fn hs256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // RFC 4231 test cases 1, 2 and 6.
    #[test]
    fn rfc_4231_vectors() {
        assert_eq!(
            hex(&hs256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hs256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hs256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn verify_refuses_wrong_and_truncated_tags() {
        let tag = hs256(b"k", b"d");
        assert!(hs256_verify(b"k", b"d", &tag));
        assert!(!hs256_verify(b"k", b"e", &tag));
        assert!(!hs256_verify(b"k", b"d", &tag[..16]));
        assert!(!hs256_verify(b"k", b"d", &[]));
    }
}
