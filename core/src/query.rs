//! The query string rule of forwarding: `token` is taken out (a credential on
//! `query_token` routes, never forwarded anywhere); the rest goes on untouched.

/// Splits `token` out of a query string, keeping the other parameters byte for byte:
/// the credential (percent-decoded) and the query the origin gets (SPEC "Forwarding").
pub fn split_token(query: &str) -> (String, Option<String>) {
    let mut token = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            if name == "token" {
                if token.is_none() {
                    token = Some(percent_decode(value));
                }
                false
            } else {
                true
            }
        })
        .collect();
    if token.is_none() {
        // Nothing taken out: the query goes on exactly as it came.
        return (query.to_string(), None);
    }
    let kept: Vec<&str> = kept.into_iter().filter(|p| !p.is_empty()).collect();
    (kept.join("&"), token)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1])
                .zip(hex(bytes[i + 2]))
                .map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_split_out_and_the_rest_kept() {
        assert_eq!(
            split_token("a=1&token=abc&b=2"),
            ("a=1&b=2".into(), Some("abc".into()))
        );
        assert_eq!(split_token("token=x%2Ey"), ("".into(), Some("x.y".into())));
        assert_eq!(split_token("tokens=1"), ("tokens=1".into(), None));
        assert_eq!(split_token("a=1&&b=%20"), ("a=1&&b=%20".into(), None));
        assert_eq!(split_token("token=t"), ("".into(), Some("t".into())));
    }
}
