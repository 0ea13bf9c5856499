//! The paths clients build from ids a person typed (a key id, a tenant id, a user code).

/// Percent-encodes one path segment like JS `encodeURIComponent`: an id holding `/`, `?`
/// or `..` stays one segment and can never name another endpoint.
pub fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/v1/tenants/{tenant}/members`, or `None` for an empty tenant id (the path
/// `/v1/tenants//members` names no tenant).
pub fn members_path(tenant: &str) -> Option<String> {
    (!tenant.is_empty()).then(|| format!("/v1/tenants/{}/members", path_segment(tenant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_like_encode_uri_component() {
        assert_eq!(path_segment("abc-_.~"), "abc-_.~");
        assert_eq!(path_segment("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
        assert_eq!(
            members_path("../x").as_deref(),
            Some("/v1/tenants/..%2Fx/members")
        );
        assert_eq!(members_path(""), None);
    }
}
