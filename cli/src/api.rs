//! The thin HTTP layer: sends requests to the worker (bearer, signature, corrected clock) and reads its answers.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeauth_core::client::{Attempt, Refusal, Retries, Retry, ServerClock as Estimate};
use edgeauth_core::secret::Secret;
use edgeauth_core::{signing, Reason};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::http;
use zeroize::Zeroize;

use crate::failure::{ApiRefusal, Failure};

/// Answers larger than this are refused rather than held in memory.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// Local Unix time in milliseconds.
pub fn local_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Local Unix time in seconds.
pub fn local_now_s() -> i64 {
    i64::try_from(local_now_ms() / 1000).unwrap_or(i64::MAX)
}

/// The server's clock as learned from its `Date` headers (the client core's estimate, in
/// the CLI's unsigned milliseconds): signatures carry the server's time, so a machine
/// whose clock is off still signs acceptably.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerClock(Estimate);

impl ServerClock {
    /// Learns from a `Date` header received at `local_ms`.
    pub fn learn(&mut self, date: &str, local_ms: u64) {
        self.0
            .observe(date, i64::try_from(local_ms).unwrap_or(i64::MAX));
    }

    pub fn known(&self) -> bool {
        self.0.known()
    }

    /// The server's time now, in Unix milliseconds.
    pub fn now_ms(&self, local_ms: u64) -> u64 {
        let local = i64::try_from(local_ms).unwrap_or(i64::MAX);
        u64::try_from(self.0.server_now_ms(local)).unwrap_or(0)
    }
}

/// A fresh nonce: 16 random bytes as core spells them (32 hex characters).
fn new_nonce() -> Result<String, Failure> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)
        .map_err(|e| Failure::Other(format!("no random source for the request nonce: {e}")))?;
    Ok(signing::nonce_from_random(&random))
}

/// One request to send.
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// The request target: path, plus `?query`.
    pub target: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub bearer: Option<&'a Secret>,
    /// Add the `x-cli-*` signature (only with a bearer).
    pub sign: bool,
}

impl<'a> Outgoing<'a> {
    pub fn new(method: &'a str, target: &'a str) -> Outgoing<'a> {
        Outgoing {
            method,
            target,
            headers: Vec::new(),
            body: Vec::new(),
            bearer: None,
            sign: false,
        }
    }

    /// A JSON body. Bodies that carry a password or a token are serialized
    /// straight from borrowed strings, so the only copy is this buffer, which
    /// is wiped when the request is dropped.
    pub fn json(mut self, body: &impl Serialize) -> Outgoing<'a> {
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self
    }
}

impl Drop for Outgoing<'_> {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

/// An answer, read whole.
pub struct Answer {
    pub status: u16,
    /// `HTTP/1.1 200 OK`
    pub status_line: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error body, as far as it can be read (any body is accepted: a proxy's HTML page too).
    pub fn refusal(&self) -> ApiRefusal {
        ApiRefusal {
            refusal: Refusal::from_answer(self.status, &self.body),
            retry_after_s: self
                .header("retry-after")
                .and_then(|s| s.trim().parse().ok()),
        }
    }

    /// The wire reason of an error answer.
    pub fn reason(&self) -> Option<Reason> {
        if self.ok() {
            None
        } else {
            self.refusal().reason()
        }
    }

    /// The body as JSON of the expected shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Failure::Other(format!(
                "the server's answer ({}) is not what edgeauth expects: {e}",
                self.status_line
            ))
        })
    }
}

/// The worker at one base URL.
pub struct Api {
    base: String,
    agent: ureq::Agent,
    clock: Cell<ServerClock>,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let config = ureq::Agent::config_builder()
            // Error answers are answers: their bodies carry the reason.
            .http_status_as_error(false)
            // A redirect is shown, never followed with the credential attached.
            .max_redirects(0)
            .allow_non_standard_methods(true)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("edgeauth-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        Api {
            base: base.to_string(),
            agent: config.into(),
            clock: Cell::new(ServerClock::default()),
        }
    }

    /// Sends a request. A signed request refused with `timestamp_out_of_window`
    /// is signed again with the clock learned from that answer and sent once more
    /// (the client core's retry rule; a refresh for `token_expired` is `App`'s).
    pub fn send(&self, out: &Outgoing<'_>) -> Result<Answer, Failure> {
        let mut retries = Retries::default();
        loop {
            let answer = self.send_once(out)?;
            if answer.status != 401 {
                return Ok(answer);
            }
            let attempt = Attempt {
                signed: out.sign && out.bearer.is_some(),
                resendable: true,
                // `--no-sign` means no: the CLI never signs behind the user's back.
                signable: false,
                refreshable: false,
                // The refusal's own `Date` has just taught the clock; without one, a retry would fail alike.
                clock_known: self.clock.get().known(),
            };
            match retries.after_401(answer.reason(), attempt) {
                Some(Retry::Reclock) => continue,
                _ => return Ok(answer),
            }
        }
    }

    /// Whether an answer has told the server's time yet.
    pub fn clock_known(&self) -> bool {
        self.clock.get().known()
    }

    /// The server's time now, Unix ms (the local clock until an answer has told it).
    pub fn server_now_ms(&self) -> i64 {
        i64::try_from(self.clock.get().now_ms(local_now_ms())).unwrap_or(i64::MAX)
    }

    fn send_once(&self, out: &Outgoing<'_>) -> Result<Answer, Failure> {
        let url = format!("{}{}", self.base, out.target);
        let method = http::Method::from_bytes(out.method.as_bytes())
            .map_err(|_| Failure::Usage(format!("{:?} is not an HTTP method", out.method)))?;
        let mut builder = http::Request::builder().method(method).uri(&url);
        for (name, value) in &out.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(credential) = out.bearer {
            let mut value = http::HeaderValue::from_str(&format!("Bearer {}", credential.expose()))
                .map_err(|_| Failure::Refused {
                    refusal: ApiRefusal::malformed_credential(
                        "the credential has characters a header cannot carry",
                    ),
                    next: "check EDGEAUTH_TOKEN, or sign in again".into(),
                })?;
            value.set_sensitive(true);
            builder = builder.header(http::header::AUTHORIZATION, value);
            if out.sign {
                let now = self.clock.get().now_ms(local_now_ms());
                let signed = signing::sign(
                    credential.expose(),
                    out.method,
                    out.target,
                    &out.body,
                    now,
                    &new_nonce()?,
                );
                for (name, value) in signed.headers() {
                    builder = builder.header(name, value);
                }
            }
        }
        let result = if out.body.is_empty() {
            builder.body(()).map(|r| self.agent.run(r))
        } else {
            builder.body(out.body.as_slice()).map(|r| self.agent.run(r))
        };
        let response = result
            .map_err(|e| Failure::Usage(format!("cannot build the request to {url}: {e}")))?
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let status_line = format!(
            "{:?} {} {}",
            response.version(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string();
        let (parts, body) = response.into_parts();
        if let Some(date) = parts
            .headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
        {
            let mut clock = self.clock.get();
            clock.learn(date, local_now_ms());
            self.clock.set(clock);
        }
        let body = body
            .into_with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        Ok(Answer {
            status: status.as_u16(),
            status_line,
            headers: parts.headers,
            body,
        })
    }

    fn unreachable(&self, e: ureq::Error) -> Failure {
        let detail = match e {
            ureq::Error::Io(io) => io.to_string(),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::Timeout(t) => format!("timed out ({t})"),
            other => other.to_string(),
        };
        Failure::Unreachable {
            url: self.base.clone(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeauth_core::time;

    /// The client core's shared cases, through the CLI's clock (unsigned milliseconds).
    #[test]
    fn the_shared_clock_cases() {
        use edgeauth_core::client::cases::CLOCK_CASES;
        for case in CLOCK_CASES {
            let mut clock = ServerClock::default();
            for (date, local_ms) in case.observations {
                clock.learn(date, u64::try_from(*local_ms).unwrap());
            }
            assert_eq!(clock.known(), case.known, "{}", case.name);
            let at = 1_700_000_000_000_u64;
            assert_eq!(
                clock.now_ms(at) as i64 - at as i64,
                case.offset_ms,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn learns_the_servers_clock_from_date() {
        let mut c = ServerClock::default();
        assert!(!c.known());
        assert_eq!(c.now_ms(1_000), 1_000);
        // The server says 08:49:37; this machine thinks it is ten minutes later.
        let server_s = 784_111_777_i64;
        let local = u64::try_from(server_s * 1000 + 600_000).unwrap();
        c.learn("Sun, 06 Nov 1994 08:49:37 GMT", local);
        assert!(c.known());
        let corrected = c.now_ms(local);
        assert!(
            (corrected as i64 - server_s * 1000).abs() <= 1000,
            "{corrected}"
        );
        // A machine ten minutes behind is corrected the other way.
        let mut c = ServerClock::default();
        let local = u64::try_from(server_s * 1000 - 600_000).unwrap();
        c.learn("Sun, 06 Nov 1994 08:49:37 GMT", local);
        assert!((c.now_ms(local) as i64 - server_s * 1000).abs() <= 1000);
        // A Date that cannot be read teaches nothing.
        let mut c = ServerClock::default();
        c.learn("yesterday", 5);
        assert!(!c.known());
        assert_eq!(c.now_ms(5), 5);
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            status_line: format!("HTTP/1.1 {status}"),
            headers: http::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_error_bodies_by_reason() {
        let a = answer(
            401,
            r#"{"error":{"code":"UNAUTHORIZED","reason":"token_expired","message":"the token has expired"}}"#,
        );
        assert_eq!(a.reason(), Some(Reason::TokenExpired));
        let r = a.refusal();
        assert_eq!(r.code.as_deref(), Some("UNAUTHORIZED"));
        assert_eq!(r.message.as_deref(), Some("the token has expired"));
        let html = answer(502, "<html>bad gateway</html>");
        assert_eq!(html.reason(), None);
        assert_eq!(html.refusal().status, 502);
        let future = answer(
            401,
            r#"{"error":{"code":"UNAUTHORIZED","reason":"some_new_reason"}}"#,
        );
        assert_eq!(future.reason(), None);
        assert_eq!(future.refusal().reason.as_deref(), Some("some_new_reason"));
        assert_eq!(answer(200, "{}").reason(), None);
    }

    /// A one-shot HTTP server on loopback: answers each connection with the
    /// next canned answer and hands back the request heads it read.
    fn canned_server(answers: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                heads.push(head);
                let mut stream = reader.into_inner();
                stream.write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (url, handle)
    }

    fn header_value<'h>(head: &'h str, name: &str) -> Option<&'h str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[test]
    fn a_stale_timestamp_is_signed_again_with_the_servers_clock() {
        // The server's clock is 10 minutes ahead of this machine's.
        let server_s = i64::try_from(local_now_ms() / 1000).unwrap() + 600;
        let date = time::imf_fixdate(server_s);
        let refusal =
            r#"{"error":{"code":"UNAUTHORIZED","reason":"timestamp_out_of_window","message":"x"}}"#;
        let answers = vec![
            format!("HTTP/1.1 401 Unauthorized\r\nDate: {date}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{refusal}", refusal.len()),
            format!("HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"),
        ];
        let (url, server) = canned_server(answers);
        let api = Api::new(&url);
        let key = Secret::new(format!("ea_live_{}", "a".repeat(40)));
        let mut out = Outgoing::new("POST", "/api/signed/x?y=1").json(&serde_json::json!({"a": 1}));
        out.bearer = Some(&key);
        out.sign = true;
        let answer = api.send(&out).unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, b"ok");
        let heads = server.join().unwrap();
        assert_eq!(heads.len(), 2, "exactly one retry");
        let ts = |h: &str| {
            header_value(h, "x-cli-timestamp")
                .unwrap()
                .parse::<i64>()
                .unwrap()
        };
        let (first, second) = (ts(&heads[0]), ts(&heads[1]));
        assert!(
            (first - (server_s - 600) * 1000).abs() < 5_000,
            "first signed with the local clock"
        );
        assert!(
            (second - server_s * 1000).abs() < 5_000,
            "the retry is signed with the server's clock"
        );
        assert_ne!(
            header_value(&heads[0], "x-cli-nonce"),
            header_value(&heads[1], "x-cli-nonce")
        );
        // The signature covers exactly what was sent.
        let sig = signing::sign(
            key.expose(),
            "POST",
            "/api/signed/x?y=1",
            br#"{"a":1}"#,
            u64::try_from(second).unwrap(),
            header_value(&heads[1], "x-cli-nonce").unwrap(),
        );
        assert_eq!(
            header_value(&heads[1], "x-cli-signature"),
            Some(sig.signature_hex().as_str())
        );
        assert!(
            heads[1].starts_with("POST /api/signed/x?y=1 HTTP/1.1"),
            "{}",
            heads[1]
        );
    }

    #[test]
    fn an_unreachable_server_is_named() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        match Api::new(&url).send(&Outgoing::new("GET", "/health")) {
            Err(f @ Failure::Unreachable { .. }) => {
                assert_eq!(f.exit_code(), 1);
                assert!(f.to_string().contains(&url), "{f}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("nothing listens there"),
        }
    }

    #[test]
    fn nonces_fit_the_spec() {
        let a = new_nonce().unwrap();
        let b = new_nonce().unwrap();
        assert_ne!(a, b);
        assert!((16..=128).contains(&a.len()));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'));
    }
}
