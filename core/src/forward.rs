//! What the origin may trust in a forwarded request's headers (SPEC "Forwarding"): which names only edgeauth sets, and how values travel.
//!
//! The origin believes `x-edgeauth-*` because only the worker sets them. So
//! every client header that the origin could read as one is removed, and the
//! values the worker sets are encoded so that two identities never arrive
//! as the same text.

/// The prefix of the headers that only the worker sets, lower case.
pub const RESERVED_PREFIX: &str = "x-edgeauth-";

/// Whether a client's header name is one the origin could read as an
/// `x-edgeauth-*` header, so that it must be removed before forwarding, on
/// every route.
///
/// True for `x-edgeauth-` and anything after it in any case, and for every
/// name that equals one once `_` (or any other character that is not a
/// letter or digit) is read as `-`: CGI-style origins turn `-` into `_`
/// (`HTTP_X_EDGEAUTH_TENANT`), and some map every other punctuation mark
/// the same way, so `x_edgeauth_tenant` or `X.EdgeAuth.Subject` would reach
/// them as the worker's own header.
pub fn is_reserved_header(name: &str) -> bool {
    let prefix = RESERVED_PREFIX.as_bytes();
    name.len() >= prefix.len()
        && name.bytes().zip(prefix).all(|(b, &p)| {
            if p == b'-' {
                !b.is_ascii_alphanumeric()
            } else {
                b.eq_ignore_ascii_case(&p)
            }
        })
}

/// A header value made safe to forward and distinct for distinct inputs.
///
/// Plain visible ASCII (`!` to `~`) and inner spaces stay as they are; every
/// other byte of the UTF-8 text, `%` itself, and a space at either end
/// (which HTTP would trim) become `%XX` with upper-case hex. So `é` forwards
/// as `%C3%A9` and the literal text `%C3%A9` as `%25C3%25A9`: the origin
/// gets the value back exactly by percent-decoding once, and no value can
/// carry a line break into another header.
pub fn header_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let at_an_end = i == 0 || i + 1 == bytes.len();
        let keep = match b {
            b'%' => false,
            b' ' => !at_an_end,
            0x21..=0x7E => true,
            _ => false,
        };
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0F)]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin's side: percent-decoding once gives back the value.
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn edgeauth_names_are_reserved_in_any_case_and_spelling() {
        for name in [
            "x-edgeauth-subject",
            "X-EdgeAuth-Subject",
            "X-EDGEAUTH-TENANT",
            "x-edgeauth-kind",
            "x-edgeauth-scopes",
            "x-edgeauth-key-id",
            "x-edgeauth-issuer",
            "x-edgeauth-session",
            "x-edgeauth-anything-new",
            "x-edgeauth-",
            "x_edgeauth_tenant",
            "X_EDGEAUTH-subject",
            "x-edgeauth_subject",
            "x_edgeauth-key_id",
            "X_EdgeAuth_Issuer",
            "x.edgeauth.tenant",
            "x~edgeauth~kind",
        ] {
            assert!(is_reserved_header(name), "{name}");
        }
    }

    #[test]
    fn other_names_are_not_reserved() {
        for name in [
            "",
            "x",
            "x-edgeauth",
            "x_edgeauth",
            "x-edgeauthsubject",
            "xedgeauth-subject",
            "x-edge-auth-subject",
            "x-edgeauth0subject",
            "edgeauth-subject",
            "y-edgeauth-subject",
            "x-forwarded-for",
            "authorization",
            "content-type",
            "x-cli-signature",
            "éx-edgeauth-",
            "x-edgeäuth-",
        ] {
            assert!(!is_reserved_header(name), "{name}");
        }
    }

    #[test]
    fn every_reserved_header_the_worker_sets_is_reserved() {
        for name in [
            "x-edgeauth-subject",
            "x-edgeauth-kind",
            "x-edgeauth-scopes",
            "x-edgeauth-tenant",
            "x-edgeauth-key-id",
            "x-edgeauth-issuer",
        ] {
            assert!(name.starts_with(RESERVED_PREFIX));
            assert!(is_reserved_header(name));
            assert!(is_reserved_header(&name.replace('-', "_")));
            assert!(is_reserved_header(&name.to_ascii_uppercase()));
        }
    }

    #[test]
    fn values_are_encoded_where_not_plain_visible_ascii() {
        let cases = [
            ("", ""),
            ("user_123", "user_123"),
            ("scans:read drifts:read", "scans:read drifts:read"),
            ("https://idp.test", "https://idp.test"),
            ("é", "%C3%A9"),
            ("%C3%A9", "%25C3%25A9"),
            ("100%", "100%25"),
            ("a\r\nx-edgeauth-kind: user", "a%0D%0Ax-edgeauth-kind: user"),
            ("a\0b", "a%00b"),
            ("tab\there", "tab%09here"),
            ("del\u{7f}", "del%7F"),
            (" padded ", "%20padded%20"),
            (" ", "%20"),
            ("  ", "%20%20"),
            ("a  b", "a  b"),
            ("日本", "%E6%97%A5%E6%9C%AC"),
            ("\u{1F600}", "%F0%9F%98%80"),
        ];
        for (value, want) in cases {
            assert_eq!(header_value(value), want, "{value:?}");
            assert_eq!(decode(&header_value(value)), value, "{value:?}");
        }
    }

    #[test]
    fn every_char_below_0x100_encodes_to_header_safe_bytes() {
        for cp in 0u32..0x100 {
            let c = char::from_u32(cp).unwrap();
            for value in [
                c.to_string(),
                format!("a{c}b"),
                format!("{c}{c}"),
                format!("x{c}"),
            ] {
                let out = header_value(&value);
                assert!(
                    out.bytes().all(|b| (0x20..=0x7E).contains(&b)),
                    "{value:?} -> {out:?}"
                );
                // HTTP trims leading and trailing whitespace from values.
                assert_eq!(out.trim_matches([' ', '\t']), out, "{value:?}");
                assert_eq!(decode(&out), value, "{value:?}");
            }
        }
    }

    #[test]
    fn encoding_is_injective_on_a_sample() {
        let alphabet = [
            'a',
            '%',
            ' ',
            'é',
            '\n',
            '2',
            '5',
            'C',
            '3',
            '\u{1F600}',
            '\0',
        ];
        let mut seen = std::collections::HashMap::new();
        // Every string of up to three characters over the alphabet.
        let mut values = vec![String::new()];
        for len in 1..=3 {
            let mut next = Vec::new();
            for v in values.iter().filter(|v| v.chars().count() == len - 1) {
                for c in alphabet {
                    next.push(format!("{v}{c}"));
                }
            }
            values.extend(next);
        }
        values.extend(["é", "%C3%A9", "%c3%a9", "%25C3%25A9", "%", "%25"].map(String::from));
        for v in values {
            let out = header_value(&v);
            if let Some(other) = seen.insert(out.clone(), v.clone()) {
                assert_eq!(other, v, "{other:?} and {v:?} both forward as {out:?}");
            }
        }
    }
}
