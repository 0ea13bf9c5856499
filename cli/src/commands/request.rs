//! `edgeauth request METHOD PATH`: a request through the worker with the credential, signed unless `--no-sign`.

use std::io::{self, Read, Write};
use std::str::FromStr;

use ureq::http::{self, uri::PathAndQuery};

use crate::app::{note, App, Call};
use crate::args::RequestArgs;
use crate::failure::Failure;

/// The method as it goes on the wire (upper case), if it is a valid token.
pub fn parse_method(raw: &str) -> Result<String, Failure> {
    let upper = raw.to_ascii_uppercase();
    http::Method::from_bytes(upper.as_bytes())
        .map(|_| upper)
        .map_err(|_| Failure::Usage(format!("{raw:?} is not an HTTP method")))
}

/// The request target: an absolute path with an optional query, exactly as it
/// will be sent and signed (the server's URL comes from the profile, never from here).
pub fn parse_target(raw: &str) -> Result<String, Failure> {
    if !raw.starts_with('/') || raw.starts_with("//") {
        return Err(Failure::Usage(format!(
            "{raw:?}: PATH must start with / (the server comes from --url, EDGEAUTH_URL or the profile)"
        )));
    }
    if raw.contains('#') {
        return Err(Failure::Usage(format!(
            "{raw:?}: a fragment (#) is never sent"
        )));
    }
    PathAndQuery::from_str(raw)
        .map(|p| p.as_str().to_string())
        .map_err(|_| Failure::Usage(format!("{raw:?} is not a valid request target: percent-encode spaces and other special characters")))
}

/// One `-H 'name: value'`.
pub fn parse_header(raw: &str, signing: bool) -> Result<(String, String), Failure> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| Failure::Usage(format!("-H {raw:?}: write it as 'name: value'")))?;
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim().to_string();
    http::HeaderName::from_str(&name)
        .map_err(|_| Failure::Usage(format!("-H {raw:?}: {name:?} is not a header name")))?;
    http::HeaderValue::from_str(&value).map_err(|_| {
        Failure::Usage(format!(
            "-H {raw:?}: the value has characters a header cannot carry"
        ))
    })?;
    if name == "authorization" {
        return Err(Failure::Usage(
            "-H authorization: the credential comes from the profile or EDGEAUTH_TOKEN".into(),
        ));
    }
    if signing && name.starts_with("x-cli-") {
        return Err(Failure::Usage(format!(
            "-H {name}: edgeauth signs the request itself (or pass --no-sign)"
        )));
    }
    Ok((name, value))
}

/// The content type for a body the user did not label: JSON when it parses as JSON.
pub fn guess_content_type(body: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        "application/json"
    } else if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// `--data TEXT`, `--data @FILE` or `--data -` (standard input), as raw bytes.
fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    if data == "-" {
        let mut body = Vec::new();
        io::stdin().lock().read_to_end(&mut body).map_err(|e| {
            Failure::Other(format!("cannot read the body from standard input: {e}"))
        })?;
        return Ok(body);
    }
    if let Some(path) = data.strip_prefix('@') {
        return std::fs::read(path).map_err(|e| Failure::Usage(format!("--data @{path}: {e}")));
    }
    Ok(data.as_bytes().to_vec())
}

pub fn run(app: &mut App, args: RequestArgs) -> Result<(), Failure> {
    let sign = !args.no_sign;
    let method = parse_method(&args.method)?;
    let target = parse_target(&args.path)?;
    let mut headers = args
        .headers
        .iter()
        .map(|h| parse_header(h, sign))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match &args.data {
        Some(d) => read_data(d)?,
        None => Vec::new(),
    };
    if !body.is_empty() && !headers.iter().any(|(n, _)| n == "content-type") {
        headers.push(("content-type".into(), guess_content_type(&body).into()));
    }
    let mut active = app.credential()?;
    let call = Call {
        method,
        target,
        headers,
        body,
        sign,
    };
    let answer = app.send_with(&mut active, &call)?;

    note(&answer.status_line);
    let mut out = io::stdout().lock();
    let _ = out.write_all(&answer.body);
    let _ = out.flush();
    drop(out);
    if answer.ok() {
        Ok(())
    } else {
        Err(Failure::from_refusal(
            answer.refusal(),
            &active.hints(&app.target),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_upper_cased_tokens() {
        assert_eq!(parse_method("post").unwrap(), "POST");
        assert_eq!(parse_method("PURGE").unwrap(), "PURGE");
        assert_eq!(parse_method("GE T").unwrap_err().exit_code(), 2);
        assert_eq!(parse_method("").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn targets_are_sent_and_signed_as_typed() {
        assert_eq!(parse_target("/api/me").unwrap(), "/api/me");
        assert_eq!(
            parse_target("/api/drifts?status=open&x=%20").unwrap(),
            "/api/drifts?status=open&x=%20"
        );
        for bad in [
            "api/me",
            "http://evil/api",
            "//evil/api",
            "/a b",
            "/a#frag",
            "",
        ] {
            assert_eq!(parse_target(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            parse_header("X-Trace:  abc ", true).unwrap(),
            ("x-trace".into(), "abc".into())
        );
        assert_eq!(
            parse_header("content-type: text/csv", true).unwrap().1,
            "text/csv"
        );
        for bad in [
            "no colon",
            "bad name: x",
            "Authorization: Bearer x",
            "x-cli-nonce: n",
        ] {
            assert_eq!(parse_header(bad, true).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(
            parse_header("x-cli-nonce: n", false).is_ok(),
            "allowed when not signing"
        );
    }

    #[test]
    fn content_type_is_guessed_from_the_body() {
        assert_eq!(guess_content_type(br#"{"a":1}"#), "application/json");
        assert_eq!(guess_content_type(b"[1, 2]"), "application/json");
        assert_eq!(guess_content_type(b"a=1&b=2"), "text/plain; charset=utf-8");
        assert_eq!(
            guess_content_type(&[0xff, 0x00]),
            "application/octet-stream"
        );
    }
}
