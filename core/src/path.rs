//! The request path as the gateway accepts it (SPEC "Forwarding"): one that every origin reads as the policy does, or 400 `invalid_path`.
//!
//! The policy matches percent-decoded segments, and origins decode, resolve
//! dot segments, strip `;` parameters, turn `\` into `/`, merge `//` and
//! sometimes decode twice. Wherever those readings could differ from the
//! policy's, the path is refused rather than guessed at: a guess that is
//! wrong lets a request reach a route the policy never judged.

use std::fmt;

use crate::error::{ApiError, Reason};

/// How many decodings past the first are looked at for escapes of special
/// characters; a segment still holding escapes after them is refused.
const MAX_EXTRA_DECODINGS: usize = 4;

/// Why a raw path is refused. Every one is 400 `invalid_path` on the wire;
/// the variant says which rule, for the message and for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathRefusal {
    /// The path is empty.
    Empty,
    /// The path does not start with `/`.
    NotAbsolute,
    /// A raw `\`, `#`, space or control character: URL parsers rewrite or
    /// cut at each of them, so the origin would not receive what was matched.
    RawCharacter,
    /// A `%` not followed by two hex digits (`%zz`, `%4`, IIS's `%u002e`).
    InvalidEscape,
    /// The escapes decode to bytes that are not UTF-8 (`%ff`).
    NotUtf8,
    /// An empty segment before the last (`//`, `/a//b`): many origins merge
    /// slashes, so `//admin` would reach `/admin` past a route for `/*`.
    EmptySegment,
    /// A `.` or `..` segment, raw or encoded (`%2e%2e`), or any segment of
    /// only dots and spaces (Windows trims trailing dots and spaces: `.. `).
    DotSegment,
    /// A segment that decodes to holding `/` or `\` (`%2f`, `%5C`).
    EncodedSeparator,
    /// A segment that decodes to holding NUL or another control character.
    ControlCharacter,
    /// A segment with a `;` parameter (`..;`, `a;jsessionid=1`), raw or
    /// encoded: Tomcat and Spring drop what follows the `;`.
    Parameter,
    /// A segment that, decoded once, still holds an escape of `.`, `/`, `\`,
    /// `;`, `?`, `#` or a control character (`%252e%252e`), or escapes nested
    /// deeper than anyone decodes: an origin that decodes twice would read
    /// another path.
    DoubleEncoded,
}

impl PathRefusal {
    /// A message for people, naming the rule (SPEC's `message`).
    pub fn message(self) -> &'static str {
        match self {
            PathRefusal::Empty => "the path is empty",
            PathRefusal::NotAbsolute => "the path must start with '/'",
            PathRefusal::RawCharacter => {
                "the path holds a raw '\\', '#', space or control character"
            }
            PathRefusal::InvalidEscape => "the path holds a '%' not followed by two hex digits",
            PathRefusal::NotUtf8 => "the path's escapes do not decode to UTF-8",
            PathRefusal::EmptySegment => "the path holds an empty segment ('//')",
            PathRefusal::DotSegment => {
                "the path holds a '.' or '..' segment (raw, encoded or padded with spaces)"
            }
            PathRefusal::EncodedSeparator => "the path holds an encoded '/' or '\\'",
            PathRefusal::ControlCharacter => "the path holds an encoded NUL or control character",
            PathRefusal::Parameter => "the path holds a ';' parameter",
            PathRefusal::DoubleEncoded => {
                "the path still holds escapes of special characters after one decoding"
            }
        }
    }
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl From<PathRefusal> for ApiError {
    fn from(r: PathRefusal) -> Self {
        ApiError::with_message(Reason::InvalidPath, r.message())
    }
}

/// A raw request path that passed [`CanonicalPath::parse`]: it needs no
/// canonicalising, because every reading of it (the policy's, the origin's,
/// a proxy's in between) yields the same segments. It is the text to match
/// and to forward, unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CanonicalPath<'a>(&'a str);

impl<'a> CanonicalPath<'a> {
    /// Checks a raw pathname as it arrived, before any decoding (`/api/x%20y`).
    /// A `?` ends the path: what follows is the query and is not examined, so
    /// a whole request target may be passed too; the result holds the
    /// pathname alone.
    ///
    /// The checks, in order: not empty, starts with `/`, no raw `\`, `#`,
    /// space or control character; then for each segment between slashes:
    /// not empty (except the last, so `/` and a trailing `/` pass), no `;`,
    /// valid `%XX` escapes decoding to UTF-8 with no `/`, `\`, `;` or control
    /// character, not made of dots and spaces only, and no escape of a special
    /// character left once decoded. Anything this accepts the policy matcher
    /// can split too.
    pub fn parse(raw_path: &'a str) -> Result<CanonicalPath<'a>, PathRefusal> {
        if raw_path.is_empty() {
            return Err(PathRefusal::Empty);
        }
        let path = raw_path.split('?').next().unwrap_or(raw_path);
        let Some(body) = path.strip_prefix('/') else {
            return Err(PathRefusal::NotAbsolute);
        };
        if path
            .chars()
            .any(|c| c == '\\' || c == '#' || c == ' ' || c.is_control())
        {
            return Err(PathRefusal::RawCharacter);
        }
        let mut segments = body.split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if segment.is_empty() {
                if last {
                    break;
                }
                return Err(PathRefusal::EmptySegment);
            }
            check_segment(segment)?;
        }
        Ok(CanonicalPath(path))
    }

    /// The pathname, exactly as it arrived.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Checks a raw request path (see [`CanonicalPath::parse`]); a refusal is
/// 400 `invalid_path`, and the request must be neither matched nor forwarded.
pub fn check_request_path(raw_path: &str) -> Result<CanonicalPath<'_>, ApiError> {
    CanonicalPath::parse(raw_path).map_err(ApiError::from)
}

/// The pathname of an absolute URL as the runtime serialized it
/// (`https://host/a/%2e%2e/b?q` → `/a/%2e%2e/b`), without decoding it or
/// resolving its dot segments as a URL parser would: the rules above must
/// see the path as the client sent it. `None` when `url` has no `://`.
/// An empty path is `/`, as HTTP reads it.
pub fn pathname_of_url(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let path_and_more = match rest.find(['/', '?', '#']) {
        Some(i) => rest.get(i..)?,
        None => "",
    };
    let end = path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len());
    match path_and_more.get(..end)? {
        "" => Some("/"),
        path => Some(path),
    }
}

fn check_segment(raw: &str) -> Result<(), PathRefusal> {
    if raw.contains(';') {
        return Err(PathRefusal::Parameter);
    }
    let bytes = percent_decode_strict(raw.as_bytes()).ok_or(PathRefusal::InvalidEscape)?;
    let decoded = std::str::from_utf8(&bytes).map_err(|_| PathRefusal::NotUtf8)?;
    if decoded.contains(['/', '\\']) {
        return Err(PathRefusal::EncodedSeparator);
    }
    if decoded.chars().any(char::is_control) {
        return Err(PathRefusal::ControlCharacter);
    }
    if decoded.contains(';') {
        return Err(PathRefusal::Parameter);
    }
    if decoded.chars().all(|c| c == '.' || c == ' ') {
        return Err(PathRefusal::DotSegment);
    }
    check_further_decodings(bytes)
}

/// Decodes again and again, as an origin that decodes twice (or more) would,
/// and refuses once an escape would turn into a character that changes how
/// the path splits or resolves, or the segment into dots and spaces.
fn check_further_decodings(mut text: Vec<u8>) -> Result<(), PathRefusal> {
    for _ in 0..MAX_EXTRA_DECODINGS {
        let mut found = escapes(&text).peekable();
        if found.peek().is_none() {
            return Ok(());
        }
        if found
            .any(|b| b.is_ascii_control() || matches!(b, b'.' | b'/' | b'\\' | b';' | b'?' | b'#'))
        {
            return Err(PathRefusal::DoubleEncoded);
        }
        drop(found);
        text = percent_decode_lenient(&text);
        if text.iter().all(|&b| b == b'.' || b == b' ') {
            return Err(PathRefusal::DoubleEncoded);
        }
    }
    match escapes(&text).next() {
        None => Ok(()),
        Some(_) => Err(PathRefusal::DoubleEncoded),
    }
}

/// The bytes that the valid `%XX` escapes in `text` stand for.
fn escapes(text: &[u8]) -> impl Iterator<Item = u8> + '_ {
    text.windows(3).filter_map(|w| match w {
        [b'%', hi, lo] => Some(hex_val(*hi)? << 4 | hex_val(*lo)?),
        _ => None,
    })
}

/// Decodes every escape; `None` if a `%` is not followed by two hex digits.
fn percent_decode_strict(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hi = hex_val(*s.get(i + 1)?)?;
            let lo = hex_val(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Decodes the valid escapes and keeps any other `%` as it is, as lenient
/// decoders do.
fn percent_decode_lenient(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let escape = match (b, s.get(i + 1), s.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex_val(hi).zip(hex_val(lo)),
            _ => None,
        };
        match escape {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PathPattern, Policy};
    use PathRefusal::*;

    #[test]
    fn ordinary_paths_pass_unchanged() {
        for ok in [
            "/",
            "/health",
            "/api/me",
            "/api/scans/dashboard",
            "/api/scans/trigger/r1",
            "/api/scans/trigger/r%20x",
            "/api/scans/trigger/my-repo_1.2~x",
            "/api/v1/tenants/demo/things",
            "/api/v1/tenants/my%20team/projects/7",
            "/t/%C3%A9/x",
            "/t/é/x",
            "/api/things/",
            "/files/report.v2.pdf",
            "/files/.well-known",
            "/files/..x",
            "/files/x..",
            "/a/100%25",
            "/a/%3F",
            "/a/%23",
            "/a/b:c@d!$&'()*+,=",
            "/a/%252",
            "/a/%25zz",
            "/a/%25C3%25A9",
        ] {
            assert_eq!(CanonicalPath::parse(ok).map(|p| p.as_str()), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn a_query_ends_the_path_and_is_not_examined() {
        let p = CanonicalPath::parse("/api/ws/drifts?token=a%2e%2e/..;x").unwrap();
        assert_eq!(p.as_str(), "/api/ws/drifts");
        assert_eq!(p.to_string(), "/api/ws/drifts");
        assert_eq!(CanonicalPath::parse("/?").unwrap().as_str(), "/");
        assert_eq!(CanonicalPath::parse("?x"), Err(NotAbsolute));
    }

    #[test]
    fn ambiguous_paths_are_refused_by_the_right_rule() {
        let cases: &[(&str, PathRefusal)] = &[
            ("", Empty),
            ("health", NotAbsolute),
            ("api/me", NotAbsolute),
            ("*", NotAbsolute),
            ("http://evil/x", NotAbsolute),
            // `..;` and other `;` parameters (Tomcat, Spring).
            ("/api/..;/admin", Parameter),
            ("/api/.;/admin", Parameter),
            ("/a;jsessionid=1/b", Parameter),
            ("/a/b;x", Parameter),
            ("/a/;", Parameter),
            ("/a/b%3bx", Parameter),
            ("/a/%3B/b", Parameter),
            ("/api/%2e%2e;/admin", Parameter),
            // Dot segments, raw and encoded in every case.
            ("/a/./b", DotSegment),
            ("/a/../b", DotSegment),
            ("/..", DotSegment),
            ("/.", DotSegment),
            ("/a/.", DotSegment),
            ("/a/..", DotSegment),
            ("/a/../", DotSegment),
            ("/api/%2e%2e/x", DotSegment),
            ("/api/%2E%2e/x", DotSegment),
            ("/api/%2e/x", DotSegment),
            ("/api/.%2E/x", DotSegment),
            ("/api/%2e./x", DotSegment),
            ("/api/.../x", DotSegment),
            ("/api/..%20/x", DotSegment),
            ("/api/.%20./x", DotSegment),
            ("/api/%20/x", DotSegment),
            // Encoded separators.
            ("/a/%2f/b", EncodedSeparator),
            ("/a/%2F", EncodedSeparator),
            ("/api/scans%2fdashboard", EncodedSeparator),
            ("/a/%5c", EncodedSeparator),
            ("/a/%5Cb", EncodedSeparator),
            ("/a/%2e%2e%2fadmin", EncodedSeparator),
            ("/a/..%2f..%2fetc", EncodedSeparator),
            // Raw characters URL parsers rewrite or cut at.
            ("/a\\b", RawCharacter),
            ("/a/..\\admin", RawCharacter),
            ("\\a", NotAbsolute),
            ("/a#b", RawCharacter),
            ("/a b", RawCharacter),
            ("/a/\0", RawCharacter),
            ("/a/\tb", RawCharacter),
            ("/a/\r\nX-Evil: 1", RawCharacter),
            ("/a/\u{7f}", RawCharacter),
            ("/a/\u{85}", RawCharacter),
            // Encoded NUL and other controls.
            ("/a/%00", ControlCharacter),
            ("/a/b%00.json", ControlCharacter),
            ("/a/%0d%0aX-Evil:%201", ControlCharacter),
            ("/a/%7F", ControlCharacter),
            ("/a/%C2%85", ControlCharacter),
            // Bad escapes and bytes.
            ("/a/%zz", InvalidEscape),
            ("/a/%4", InvalidEscape),
            ("/a/%", InvalidEscape),
            ("/a/%%32%65", InvalidEscape),
            ("/a/%u002e%u002e/b", InvalidEscape),
            ("/a/%ff", NotUtf8),
            ("/a/%C0%AE%C0%AE", NotUtf8),
            ("/a/%e0%80%ae", NotUtf8),
            // Still escaped after one decoding.
            ("/api/%252e%252e/x", DoubleEncoded),
            ("/api/%252E/x", DoubleEncoded),
            ("/a/%252f", DoubleEncoded),
            ("/a/%255c", DoubleEncoded),
            ("/a/%253b", DoubleEncoded),
            ("/a/admin%253F", DoubleEncoded),
            ("/a/admin%2523", DoubleEncoded),
            ("/a/%2500", DoubleEncoded),
            ("/a/file%252Ejson", DoubleEncoded),
            ("/a/%25252e%25252e", DoubleEncoded),
            ("/a/%2520", DoubleEncoded),
            ("/a/..%2520", DoubleEncoded),
            ("/a/%25%32%65%25%32%65", DoubleEncoded),
            // Empty segments: merged by many origins.
            ("//", EmptySegment),
            ("//admin", EmptySegment),
            ("/a//b", EmptySegment),
            ("/api/v1/tenants//x", EmptySegment),
            ("/a//", EmptySegment),
        ];
        for (raw, want) in cases {
            assert_eq!(CanonicalPath::parse(raw), Err(*want), "{raw:?}");
            let err = check_request_path(raw).unwrap_err();
            assert_eq!(err.reason, Reason::InvalidPath, "{raw:?}");
            assert_eq!(err.status(), 400);
            assert_eq!(err.message, want.message());
        }
    }

    #[test]
    fn nested_escapes_of_harmless_characters_pass() {
        // Three levels of `%25` around an `A`: every decoding yields text
        // without a special character, and a fourth leaves no escape.
        assert!(CanonicalPath::parse("/a/%25252541").is_ok());
        assert!(CanonicalPath::parse("/a/%2525252541").is_ok());
        assert_eq!(CanonicalPath::parse("/a/%252525252541"), Err(DoubleEncoded));
    }

    #[test]
    fn what_passes_the_policy_matcher_can_split_and_decodes_alike() {
        let any = PathPattern::parse("/*").unwrap();
        let policy = Policy::default_policy();
        for ok in [
            "/",
            "/health",
            "/api/scans/trigger/r%20x",
            "/api/v1/tenants/demo/things",
            "/t/%C3%A9/x",
            "/api/things/",
        ] {
            assert!(CanonicalPath::parse(ok).is_ok(), "{ok}");
            assert!(any.matches(ok).is_some(), "{ok}");
        }
        let trig = policy
            .match_request("POST", "/api/scans/trigger/r%20x")
            .unwrap();
        assert_eq!(trig.resource(), Some("r x"));
    }

    #[test]
    fn pathname_of_url_keeps_the_path_as_sent() {
        let cases = [
            ("https://h/a/%2e%2e/b?q=1", Some("/a/%2e%2e/b")),
            (
                "http://127.0.0.1:8787/api/..;/admin",
                Some("/api/..;/admin"),
            ),
            ("https://h/a/./b#f", Some("/a/./b")),
            ("https://h", Some("/")),
            ("https://h?x=/y", Some("/")),
            ("https://h#/y", Some("/")),
            ("https://h//x", Some("//x")),
            ("/relative", None),
        ];
        for (url, want) in cases {
            assert_eq!(pathname_of_url(url), want, "{url}");
        }
    }
}
