//! What a terminal client may do with what a server sent it: print it with
//! nothing that could rewrite the screen or reorder text, and open a link
//! only when it is `https` (or `http` on this machine).

use crate::jwks::check_jwks_url;
use crate::settings::Environment;

/// Control characters and the invisible formatting characters that reorder
/// or hide text (Unicode's bidi controls, zero-width marks, the BOM): what a
/// person reading a name or a message must never be shown raw.
pub fn is_deceptive_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Text as a terminal may show it: line breaks and tabs kept, every other
/// deceptive character (an escape sequence's ESC, a carriage return that
/// overwrites a line, a right-to-left override) replaced by `�`.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' || c == '\t' || !is_deceptive_char(c) {
                c
            } else {
                char::REPLACEMENT_CHARACTER
            }
        })
        .collect()
}

/// Whether a client may open a server-supplied link (a device login's
/// verification page) in a browser: `https` anywhere, `http` only on
/// loopback, and nothing that a URL parser could read another way. The rule
/// is the one JWKS URLs follow in development.
pub fn may_open(url: &str) -> bool {
    check_jwks_url(url, Environment::Development).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_text_cannot_drive_the_terminal() {
        assert_eq!(terminal_safe("ok\n\tline"), "ok\n\tline");
        assert_eq!(terminal_safe("\u{1b}[2Jgone"), "�[2Jgone");
        assert_eq!(terminal_safe("pay\rfake"), "pay�fake");
        assert_eq!(terminal_safe("evil\u{202E}hs.exe"), "evil�hs.exe");
        assert_eq!(terminal_safe("Łódź ✓"), "Łódź ✓");
    }

    #[test]
    fn only_https_or_loopback_http_opens() {
        assert!(may_open(
            "https://auth.example.com/console/device?user_code=BCDF-GHJK"
        ));
        assert!(may_open("http://127.0.0.1:8787/console/device"));
        assert!(may_open("http://localhost:8787/console/device"));
        assert!(may_open("http://[::1]:8787/console/device"));
        for bad in [
            "http://evil.example/console/device",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user@evil.example/",
            "http://127.0.0.1.evil.example/",
            "ms-settings:",
            "https://a.example/\u{202E}",
        ] {
            assert!(!may_open(bad), "{bad}");
        }
    }
}
