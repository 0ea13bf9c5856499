//! Email links (SPEC "Email: verification, password reset, sign-in links"):
//! what each link is for and how long it lives, the per-address sending
//! limit, the messages themselves (plain text and HTML), and how they are
//! delivered. The tokens' format is in [`crate::credential`]; the Directory
//! keeps their hashes ([`crate::directory::email`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::secret::Secret;
use crate::settings::Environment;

/// What an email link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailPurpose {
    /// Proves the address (`/console/verify`).
    Verify,
    /// Sets a new password (`/console/reset`).
    Reset,
    /// Signs in without a password (`/console/magic`).
    SignIn,
}

/// A verification link lives 24 hours.
pub const VERIFY_LINK_TTL_S: i64 = 24 * 3600;
/// A reset or sign-in link lives 15 minutes.
pub const SHORT_LINK_TTL_S: i64 = 15 * 60;

impl EmailPurpose {
    /// How long a link of this kind works, in seconds.
    pub fn lifetime_s(self) -> i64 {
        match self {
            EmailPurpose::Verify => VERIFY_LINK_TTL_S,
            EmailPurpose::Reset | EmailPurpose::SignIn => SHORT_LINK_TTL_S,
        }
    }

    /// The console page that reads the token from the link's fragment.
    pub fn page(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "/console/verify",
            EmailPurpose::Reset => "/console/reset",
            EmailPurpose::SignIn => "/console/magic",
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "verify",
            EmailPurpose::Reset => "reset",
            EmailPurpose::SignIn => "sign_in",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<EmailPurpose> {
        [
            EmailPurpose::Verify,
            EmailPurpose::Reset,
            EmailPurpose::SignIn,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// At most this many messages per email address ...
pub const MESSAGES_PER_ADDRESS: u32 = 5;
/// ... within this window (seconds).
pub const SEND_WINDOW_S: i64 = 3600;

/// Windows that started at or before this instant have ended and limit nobody.
pub fn ended_send_window_cutoff(now_s: i64) -> i64 {
    now_s - SEND_WINDOW_S
}

/// The link a message carries: the console page on the worker's own origin,
/// the token in the fragment (never sent to a server, never in a `Referer`).
pub fn link(origin: &str, purpose: EmailPurpose, token: &str) -> String {
    format!(
        "{}{}#token={token}",
        origin.trim_end_matches('/'),
        purpose.page()
    )
}

/// One message, ready to deliver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one link the message holds.
    pub link: String,
}

impl Message {
    /// The JSON body of the common transactional-mail APIs (Resend, Postmark-
    /// and SendGrid-style adapters): `{from, to, subject, text, html}`.
    pub fn api_body(&self, from: &str) -> Value {
        json!({
            "from": from,
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
        })
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text that goes into a subject or a greeting: no control characters (a
/// line break in a subject would be a header of its own to some mailers).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn lifetime_words(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

/// What a message says, before it is put in text and HTML.
struct Wording {
    subject: String,
    /// Paragraphs before the link.
    lead: String,
    /// The link's words in HTML.
    action: &'static str,
    /// What follows the expiry sentence.
    after: &'static str,
    /// The rest of "If this wasn't you, ignore this message".
    reassurance: &'static str,
}

fn wording(purpose: EmailPurpose, product: &str, to: &str) -> Wording {
    match purpose {
        EmailPurpose::Verify => Wording {
            subject: format!("Verify your email address for {product}"),
            lead: format!(
                "Confirm that {to} is your email address for {product} by opening this link:"
            ),
            action: "Verify my email address",
            after: "",
            reassurance: ": nobody can use this address with it unless the link is opened.",
        },
        EmailPurpose::Reset => Wording {
            subject: format!("Reset your {product} password"),
            lead: format!(
                "Someone asked to reset the password of the {product} account of {to}. To choose a new password, open this link:"
            ),
            action: "Choose a new password",
            after: " Setting a new password signs out every other session of the account.",
            reassurance: ": your password stays as it is.",
        },
        EmailPurpose::SignIn => Wording {
            subject: format!("Your {product} sign-in link"),
            lead: format!("Open this link to sign in to {product} as {to}:"),
            action: "Sign in",
            after: "",
            reassurance: ": nobody can sign in with it unless the link is opened.",
        },
    }
}

/// Composes the message for `purpose` to `to` (greeted as `name`) carrying
/// `link`: plain text and HTML, the product's name, what the link does,
/// when it expires, and "if this wasn't you, ignore this message". What
/// the user chose (name, address) is escaped in the HTML.
pub fn compose(purpose: EmailPurpose, product: &str, to: &str, name: &str, link: &str) -> Message {
    let product = one_line(product);
    let name = one_line(name);
    let w = wording(purpose, &product, to);
    let expiry = format!(
        "The link works once and expires in {}.{}",
        lifetime_words(purpose.lifetime_s()),
        w.after
    );
    let ignore = format!("If this wasn't you, ignore this message{}", w.reassurance);
    let greeting = if name.is_empty() {
        "Hello,".to_string()
    } else {
        format!("Hello {name},")
    };
    let text = format!(
        "{greeting}\n\n{}\n\n{link}\n\n{expiry}\n\n{ignore}\n\n{product}\n",
        w.lead
    );
    let e = html_escape;
    // Our own sentences go in as written; what others chose (the product's
    // name, the address, the user's name) is escaped.
    let lead_html = wording(purpose, &e(&product), &e(to)).lead;
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
<body style=\"font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a\">\n\
<p>{greeting}</p>\n<p>{lead_html}</p>\n\
<p><a href=\"{href}\" style=\"font-weight: 600\">{action}</a></p>\n\
<p style=\"font-size: 0.9em\">Or paste this link into your browser:<br>{href}</p>\n\
<p>{expiry}</p>\n<p>{ignore}</p>\n<p>{product}</p>\n</body></html>\n",
        subject = e(&w.subject),
        greeting = e(&greeting),
        href = e(link),
        action = w.action,
        expiry = expiry,
        ignore = ignore,
        product = e(&product),
    );
    Message {
        to: to.to_string(),
        subject: w.subject,
        text,
        html,
        link: link.to_string(),
    }
}

/// An HTTP transactional-mail API: one JSON POST per message, bearer key.
#[derive(Clone, Debug)]
pub struct EmailApi {
    pub url: String,
    pub key: Secret,
}

/// How the worker sends email, from its settings.
#[derive(Clone, Debug, Default)]
pub struct EmailSettings {
    /// `EMAIL_API_URL` with the secret `EMAIL_API_KEY`.
    pub api: Option<EmailApi>,
    /// Why `EMAIL_API_URL` cannot be used (set without its key), for the log.
    pub api_problem: Option<String>,
    /// `EMAIL_FROM`; absent: `<product> <no-reply@<the worker's host>>`.
    pub from: Option<String>,
    /// `EMAIL_PRODUCT_NAME` (default `edgeauth`): how messages name the product.
    pub product_name: String,
}

/// Where messages go.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The development mailbox (`GET /v1/dev/mailbox`).
    Mailbox,
    /// One JSON POST to the mail API.
    Api(EmailApi),
    /// Cloudflare's `send_email` binding `EMAIL`.
    Binding,
}

impl EmailSettings {
    /// Chooses the delivery: the mail API when it is configured; otherwise
    /// the development mailbox in development and the `EMAIL` binding, when
    /// bound, elsewhere. `Err` says why nothing can send (the email
    /// endpoints then answer 503 and log it).
    pub fn delivery(
        &self,
        environment: Environment,
        binding_bound: bool,
    ) -> Result<Delivery, String> {
        if let Some(problem) = &self.api_problem {
            return Err(problem.clone());
        }
        match (&self.api, environment, binding_bound) {
            (Some(api), _, _) => Ok(Delivery::Api(api.clone())),
            (None, Environment::Development, _) => Ok(Delivery::Mailbox),
            (None, Environment::Production, true) => Ok(Delivery::Binding),
            (None, Environment::Production, false) => Err(
                "no email delivery: set EMAIL_API_URL and the secret EMAIL_API_KEY, or bind send_email as EMAIL"
                    .into(),
            ),
        }
    }

    /// The sender: `EMAIL_FROM`, or the product at `no-reply@` the worker's host.
    pub fn sender(&self, host: &str) -> String {
        match &self.from {
            Some(from) => from.clone(),
            None => format!("{} <no-reply@{host}>", one_line(&self.product_name)),
        }
    }
}

/// Checks `EMAIL_API_URL`: `https`, or `http` on a loopback address (a
/// local stand-in for the provider).
pub fn check_api_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        let loopback = name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(format!(
                "EMAIL_API_URL must be https (http only on loopback), not {url:?}"
            ));
        }
        r
    } else {
        return Err(format!("EMAIL_API_URL must be an https URL, not {url:?}"));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.chars().any(char::is_whitespace) {
        return Err(format!("EMAIL_API_URL is not a URL: {url:?}"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::FailureWindow;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn purposes_name_their_pages_and_lifetimes() {
        assert_eq!(EmailPurpose::Verify.lifetime_s(), 86_400);
        assert_eq!(EmailPurpose::Reset.lifetime_s(), 900);
        assert_eq!(EmailPurpose::SignIn.lifetime_s(), 900);
        for p in [
            EmailPurpose::Verify,
            EmailPurpose::Reset,
            EmailPurpose::SignIn,
        ] {
            assert_eq!(EmailPurpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(EmailPurpose::parse("other"), None);
        assert_eq!(
            link("https://auth.test/", EmailPurpose::Reset, "ea_et_x"),
            "https://auth.test/console/reset#token=ea_et_x"
        );
        assert_eq!(
            link("http://127.0.0.1:8787", EmailPurpose::SignIn, "t"),
            "http://127.0.0.1:8787/console/magic#token=t"
        );
    }

    #[test]
    fn five_messages_an_hour_then_429_until_the_window_ends() {
        let limited =
            |w: &FailureWindow, now| w.retry_after_within(MESSAGES_PER_ADDRESS, SEND_WINDOW_S, now);
        let next = |w, now| FailureWindow::after_event_within(w, SEND_WINDOW_S, now);
        let mut w = None;
        for _ in 0..MESSAGES_PER_ADDRESS {
            // Checked before it is counted: the first five pass.
            assert_eq!(w.and_then(|w| limited(&w, NOW + 10)), None);
            w = Some(next(w, NOW + 10));
        }
        let w = w.unwrap();
        assert_eq!(w.count, 5);
        assert_eq!(limited(&w, NOW + 10), Some(3600));
        assert_eq!(limited(&w, NOW + 3609), Some(1));
        assert_eq!(limited(&w, NOW + 3610), None);
        let four = FailureWindow { count: 4, ..w };
        assert_eq!(limited(&four, NOW + 10), None);
        assert_eq!(next(Some(w), NOW + 3610).count, 1);
        assert_eq!(ended_send_window_cutoff(NOW), NOW - 3600);
    }

    #[test]
    fn messages_say_what_the_link_does_and_escape_the_name() {
        let l = "https://auth.test/console/verify#token=ea_et_abc";
        let m = compose(
            EmailPurpose::Verify,
            "Acme Cloud",
            "ada@acme.test",
            "<script>alert('x')</script> & Co",
            l,
        );
        assert_eq!(m.to, "ada@acme.test");
        assert_eq!(m.link, l);
        assert!(m.subject.contains("Acme Cloud"));
        for part in [&m.text, &m.html] {
            assert!(part.contains("Acme Cloud"));
            assert!(part.contains("expires in 24 hours"));
            assert!(
                part.contains("If this wasn't you, ignore this message"),
                "{part}"
            );
            assert!(part.contains(l));
        }
        assert!(m.text.contains("<script>alert('x')</script> & Co"));
        assert!(!m.html.contains("<script>"));
        assert!(m
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
        assert!(m.html.contains(&format!("<a href=\"{l}\"")));

        let r = compose(EmailPurpose::Reset, "edgeauth", "a@x.test", "A", "L");
        assert!(r.text.contains("expires in 15 minutes"));
        assert!(r.text.contains("new password"));
        let s = compose(EmailPurpose::SignIn, "edgeauth", "a@x.test", "", "L");
        assert!(s.text.starts_with("Hello,\n"));
        assert!(s.text.contains("sign in"));
        // A line break in the product's name never reaches the subject.
        let odd = compose(EmailPurpose::SignIn, "a\r\nBcc: x", "a@x.test", "", "L");
        assert!(!odd.subject.contains('\n') && !odd.subject.contains('\r'));
    }

    #[test]
    fn the_api_body_has_the_common_shape() {
        let m = compose(EmailPurpose::SignIn, "edgeauth", "a@x.test", "A", "L");
        let b = m.api_body("edgeauth <no-reply@auth.test>");
        let mut keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["from", "html", "subject", "text", "to"]);
        assert_eq!(b["to"], "a@x.test");
    }

    #[test]
    fn delivery_is_a_setting() {
        let none = EmailSettings {
            product_name: "edgeauth".into(),
            ..Default::default()
        };
        assert!(matches!(
            none.delivery(Environment::Development, false),
            Ok(Delivery::Mailbox)
        ));
        assert!(matches!(
            none.delivery(Environment::Production, true),
            Ok(Delivery::Binding)
        ));
        let why = none.delivery(Environment::Production, false).unwrap_err();
        assert!(
            why.contains("EMAIL_API_URL") && why.contains("EMAIL"),
            "{why}"
        );
        let api = EmailSettings {
            api: Some(EmailApi {
                url: "https://mail.test/send".into(),
                key: Secret::new("k".to_string()),
            }),
            ..none.clone()
        };
        assert!(matches!(
            api.delivery(Environment::Production, true),
            Ok(Delivery::Api(_))
        ));
        let half = EmailSettings {
            api_problem: Some("EMAIL_API_KEY is not set".into()),
            ..none.clone()
        };
        assert!(half.delivery(Environment::Production, true).is_err());
        assert_eq!(none.sender("auth.test"), "edgeauth <no-reply@auth.test>");
        let from = EmailSettings {
            from: Some("Acme <hi@acme.test>".into()),
            ..none
        };
        assert_eq!(from.sender("auth.test"), "Acme <hi@acme.test>");
    }

    #[test]
    fn api_urls_are_https_or_loopback() {
        assert!(check_api_url("https://api.resend.com/emails").is_ok());
        assert!(check_api_url("http://127.0.0.1:9999/send").is_ok());
        assert!(check_api_url("http://localhost/send").is_ok());
        assert!(check_api_url("http://[::1]:8/x").is_ok());
        assert!(check_api_url("http://mail.test/send").is_err());
        assert!(check_api_url("http://127.0.0.1.evil.test/").is_err());
        assert!(check_api_url("ftp://x").is_err());
        assert!(check_api_url("https://").is_err());
    }
}
