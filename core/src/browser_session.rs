//! Browser sessions in a cookie (SPEC "Browser sessions in a cookie"): whether a request
//! asks for one, the refresh cookie's exact attributes, reading it back from `Cookie`
//! (and keeping it from the origin), and when a refresh may read it.

use crate::cors::AllowedOrigins;
use crate::credential::is_refresh_token_format;
use crate::error::{ApiError, Reason};
use crate::secret::Secret;

/// The request header that asks for cookie mode.
pub const SESSION_HEADER: &str = "x-edgeauth-session";
/// The cookie that holds the refresh token. `__Host-`: the browser takes it only
/// with `Secure`, `Path=/` and no `Domain`, so no other host (a sibling subdomain)
/// can set or shadow it.
pub const COOKIE_NAME: &str = "__Host-edgeauth_rt";
/// The attributes after the value: out of page scripts' reach (`HttpOnly`), never
/// over plain http (`Secure`; browsers treat `http://localhost` and `127.0.0.1` as
/// secure), and never sent by another site's page or form (`SameSite=Strict`).
const ATTRIBUTES: &str = "HttpOnly; Secure; SameSite=Strict; Path=/";

/// How a token answer hands over the refresh token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// In the body, as `refresh_token` (the default).
    #[default]
    Body,
    /// In the `__Host-edgeauth_rt` cookie, and not in the body.
    Cookie,
}

impl Delivery {
    /// From `X-EdgeAuth-Session`: absent is [`Delivery::Body`], `cookie` (any case) is
    /// [`Delivery::Cookie`], and any other value is 400 `invalid_field`, so that a typo
    /// never puts the refresh token in a body that a page then keeps.
    pub fn from_header(value: Option<&str>) -> Result<Delivery, ApiError> {
        match value.map(str::trim) {
            None => Ok(Delivery::Body),
            Some(v) if v.eq_ignore_ascii_case("cookie") => Ok(Delivery::Cookie),
            Some(_) => Err(ApiError::invalid_field(
                "X-EdgeAuth-Session",
                "must be \"cookie\" (or be left out)",
            )),
        }
    }

    /// What the body's `refresh_token` is: the token, or nothing in cookie mode.
    pub fn body_token(self, refresh_token: &str) -> Option<&str> {
        (self == Delivery::Body).then_some(refresh_token)
    }

    /// The `Set-Cookie` value the answer carries, in cookie mode: the refresh token for
    /// the seconds it has left (`refresh_expires_at` minus now; 0 or less clears it).
    pub fn set_cookie(self, refresh_token: &str, max_age_s: i64) -> Option<String> {
        (self == Delivery::Cookie).then(|| {
            format!(
                "{COOKIE_NAME}={refresh_token}; {ATTRIBUTES}; Max-Age={}",
                max_age_s.max(0)
            )
        })
    }
}

/// The `Set-Cookie` value that deletes the refresh cookie (logout). The attributes
/// must match, or a browser refuses a `__Host-` cookie, deletion included.
pub fn clearing_cookie() -> String {
    format!("{COOKIE_NAME}=; {ATTRIBUTES}; Max-Age=0")
}

/// The `name=value` segments of a `Cookie` header. `;` separates them (RFC 6265
/// §4.2.1); `,` too, as runtimes join repeated headers with it and no cookie value may
/// hold one.
fn segments(header: &str) -> impl Iterator<Item = &str> {
    header
        .split([';', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

fn name_and_value(segment: &str) -> (&str, &str) {
    let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
    (name.trim(), value.trim())
}

/// The refresh cookie's value in a `Cookie` header. `None` when it is absent or empty,
/// or sent twice with different values (ambiguous: refused rather than guessed).
pub fn refresh_cookie(header: Option<&str>) -> Option<&str> {
    let mut found: Option<&str> = None;
    for (name, value) in segments(header?).map(name_and_value) {
        if name != COOKIE_NAME {
            continue;
        }
        match found {
            Some(f) if f != value => return None,
            _ => found = Some(value),
        }
    }
    found.filter(|v| !v.is_empty())
}

/// A `Cookie` header as the origin may see it: without the refresh cookie (in any case
/// of its name), which is for the worker alone; unchanged when it holds none. `None`
/// when nothing else is left.
pub fn without_refresh_cookie(header: &str) -> Option<String> {
    let ours = |s: &&str| name_and_value(s).0.eq_ignore_ascii_case(COOKIE_NAME);
    if !segments(header).any(|s| ours(&s)) {
        return Some(header.to_string());
    }
    let kept: Vec<&str> = segments(header).filter(|s| !ours(s)).collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether a request's `Origin` may use the refresh cookie: the worker's own origin, or
/// one that `ALLOWED_ORIGINS` names explicitly. `*` names none (as for SSO's
/// `redirect_uri`): with `*` any site may call the worker, but none may spend a
/// session's cookie. No `Origin`, and the opaque `null`, may not.
pub fn origin_may_use_cookie(
    origin: Option<&str>,
    own_origin: &str,
    allowed: &AllowedOrigins,
) -> bool {
    match origin.map(str::trim) {
        None | Some("") | Some("null") => false,
        Some(o) => o == own_origin || allowed.names_explicitly(o),
    }
}

/// What the worker reads of a refresh request before choosing its refresh token.
#[derive(Clone, Copy, Debug)]
pub struct RefreshHead<'a> {
    /// `X-EdgeAuth-Session`.
    pub session_header: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// The worker's own origin (`scheme://host[:port]` of the request URL).
    pub own_origin: &'a str,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// Whether the body is empty (or only whitespace).
    pub body_empty: bool,
}

/// Where a refresh's token is.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshSource {
    /// In the JSON body (`{refresh_token}`), cookie mode or not.
    Body,
    /// In the refresh cookie: its value, in the refresh-token format.
    Cookie(Secret),
}

fn no_cookie_refresh(why: &str) -> ApiError {
    ApiError::with_message(Reason::RefreshTokenInvalid, why.to_string())
}

/// Where the refresh token of `POST /v1/auth/refresh` comes from. A body is read as
/// ever. Without one, the cookie is read only with `X-EdgeAuth-Session: cookie` and an
/// `Origin` that [`origin_may_use_cookie`]: a cross-site form can send neither (it
/// cannot set headers, and its `Origin` is its own). Anything short of that, or a
/// cookie that is not a refresh token, is 401 `refresh_token_invalid`.
pub fn refresh_source(
    head: &RefreshHead<'_>,
    allowed: &AllowedOrigins,
) -> Result<RefreshSource, ApiError> {
    let delivery = Delivery::from_header(head.session_header)?;
    if !head.body_empty {
        return Ok(RefreshSource::Body);
    }
    if delivery != Delivery::Cookie {
        return Err(no_cookie_refresh(
            "no refresh token: send {\"refresh_token\"}, or X-EdgeAuth-Session: cookie to use the refresh cookie",
        ));
    }
    if !origin_may_use_cookie(head.origin, head.own_origin, allowed) {
        return Err(no_cookie_refresh(
            "the refresh cookie is read only for the worker's own origin or one ALLOWED_ORIGINS names",
        ));
    }
    match refresh_cookie(head.cookie) {
        Some(token) if is_refresh_token_format(token) => {
            Ok(RefreshSource::Cookie(Secret::new(token.to_string())))
        }
        Some(_) => Err(no_cookie_refresh(
            "the refresh cookie is not a refresh token",
        )),
        None => Err(no_cookie_refresh("no refresh cookie")),
    }
}

/// The refresh cookie that a logout ends along with the bearer's session: read on the
/// same conditions as a cookie refresh ([`refresh_source`]), else none.
pub fn cookie_sent_along(head: &RefreshHead<'_>, allowed: &AllowedOrigins) -> Option<Secret> {
    let head = RefreshHead {
        body_empty: true,
        ..*head
    };
    match refresh_source(&head, allowed) {
        Ok(RefreshSource::Cookie(token)) => Some(token),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://auth.example.com";
    const RT: &str = "ea_rt_0123456789abcdefghijABCDEFGHIJ0123456789";

    fn head<'a>(
        header: Option<&'a str>,
        origin: Option<&'a str>,
        cookie: Option<&'a str>,
    ) -> RefreshHead<'a> {
        RefreshHead {
            session_header: header,
            origin,
            own_origin: OWN,
            cookie,
            body_empty: true,
        }
    }

    #[test]
    fn the_header_asks_for_cookie_mode_and_nothing_else_is_guessed() {
        assert_eq!(Delivery::from_header(None).unwrap(), Delivery::Body);
        assert_eq!(
            Delivery::from_header(Some("cookie")).unwrap(),
            Delivery::Cookie
        );
        assert_eq!(
            Delivery::from_header(Some(" Cookie ")).unwrap(),
            Delivery::Cookie
        );
        for bad in ["", "cookies", "body", "true"] {
            let e = Delivery::from_header(Some(bad)).unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField, "{bad:?}");
            assert!(
                e.message.starts_with("X-EdgeAuth-Session: "),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn the_cookie_has_spec_attributes_and_is_cleared_alike() {
        let c = Delivery::Cookie.set_cookie(RT, 604_800).unwrap();
        assert_eq!(
            c,
            format!("__Host-edgeauth_rt={RT}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=604800")
        );
        assert_eq!(
            Delivery::Cookie
                .set_cookie(RT, -5)
                .unwrap()
                .rsplit_once("; ")
                .unwrap()
                .1,
            "Max-Age=0"
        );
        assert_eq!(Delivery::Body.set_cookie(RT, 10), None);
        assert_eq!(Delivery::Body.body_token(RT), Some(RT));
        assert_eq!(Delivery::Cookie.body_token(RT), None);
        assert_eq!(
            clearing_cookie(),
            "__Host-edgeauth_rt=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn reads_the_cookie_among_others() {
        let h = format!("theme=dark; __Host-edgeauth_rt={RT}; other=1");
        assert_eq!(refresh_cookie(Some(&h)), Some(RT));
        assert_eq!(
            refresh_cookie(Some(&format!("__Host-edgeauth_rt={RT}"))),
            Some(RT)
        );
        assert_eq!(
            refresh_cookie(Some(&format!("a=1, __Host-edgeauth_rt={RT}"))),
            Some(RT)
        );
        assert_eq!(refresh_cookie(Some("theme=dark")), None);
        assert_eq!(refresh_cookie(Some("__Host-edgeauth_rt=")), None);
        assert_eq!(
            refresh_cookie(Some(&format!("__host-edgeauth_rt={RT}"))),
            None,
            "names are exact"
        );
        assert_eq!(
            refresh_cookie(Some(&format!("x__Host-edgeauth_rt={RT}"))),
            None
        );
        assert_eq!(refresh_cookie(None), None);
        // The same cookie twice is fine; two different values are not guessed between.
        assert_eq!(
            refresh_cookie(Some(&format!(
                "__Host-edgeauth_rt={RT}; __Host-edgeauth_rt={RT}"
            ))),
            Some(RT)
        );
        assert_eq!(
            refresh_cookie(Some(&format!(
                "__Host-edgeauth_rt={RT}; __Host-edgeauth_rt=ea_rt_other"
            ))),
            None
        );
    }

    #[test]
    fn the_origin_never_sees_the_cookie() {
        let h = format!("theme=dark; __Host-edgeauth_rt={RT}; sid=abc");
        assert_eq!(
            without_refresh_cookie(&h).as_deref(),
            Some("theme=dark; sid=abc")
        );
        assert_eq!(
            without_refresh_cookie(&format!("__HOST-EDGEAUTH_RT={RT}")),
            None
        );
        assert_eq!(
            without_refresh_cookie(&format!("__Host-edgeauth_rt={RT}")),
            None
        );
        assert_eq!(
            without_refresh_cookie("a=1;b=2").as_deref(),
            Some("a=1;b=2"),
            "left as it was"
        );
        assert_eq!(
            without_refresh_cookie("flag; a=").as_deref(),
            Some("flag; a=")
        );
    }

    #[test]
    fn only_the_own_origin_and_explicitly_listed_ones_may_use_the_cookie() {
        let listed = AllowedOrigins::parse("https://app.example.com");
        let any = AllowedOrigins::parse("*");
        let none = AllowedOrigins::parse("");
        assert!(origin_may_use_cookie(Some(OWN), OWN, &none));
        assert!(origin_may_use_cookie(Some(OWN), OWN, &any));
        assert!(origin_may_use_cookie(
            Some("https://app.example.com"),
            OWN,
            &listed
        ));
        assert!(
            !origin_may_use_cookie(Some("https://app.example.com"), OWN, &any),
            "* names no one"
        );
        assert!(!origin_may_use_cookie(
            Some("https://evil.example"),
            OWN,
            &listed
        ));
        assert!(!origin_may_use_cookie(
            Some("https://auth.example.com.evil.example"),
            OWN,
            &listed
        ));
        assert!(
            !origin_may_use_cookie(Some("http://auth.example.com"), OWN, &listed),
            "scheme counts"
        );
        assert!(!origin_may_use_cookie(Some("null"), OWN, &any));
        assert!(!origin_may_use_cookie(None, OWN, &any));
    }

    #[test]
    fn a_cookie_refresh_needs_the_header_an_allowed_origin_and_a_cookie() {
        let allowed = AllowedOrigins::parse("https://app.example.com");
        let cookie = format!("__Host-edgeauth_rt={RT}");
        let ok = refresh_source(&head(Some("cookie"), Some(OWN), Some(&cookie)), &allowed).unwrap();
        assert_eq!(ok, RefreshSource::Cookie(Secret::new(RT.into())));
        let cross = head(
            Some("cookie"),
            Some("https://app.example.com"),
            Some(&cookie),
        );
        assert!(matches!(
            refresh_source(&cross, &allowed),
            Ok(RefreshSource::Cookie(_))
        ));
        for (h, why) in [
            (head(None, Some(OWN), Some(&cookie)), "no header"),
            (
                head(Some("cookie"), Some("https://evil.example"), Some(&cookie)),
                "a foreign origin",
            ),
            (head(Some("cookie"), None, Some(&cookie)), "no origin"),
            (head(Some("cookie"), Some(OWN), None), "no cookie"),
            (
                head(
                    Some("cookie"),
                    Some(OWN),
                    Some("__Host-edgeauth_rt=ea_live_x"),
                ),
                "not a refresh token",
            ),
        ] {
            let e = refresh_source(&h, &allowed).unwrap_err();
            assert_eq!(
                (e.status(), e.reason),
                (401, Reason::RefreshTokenInvalid),
                "{why}"
            );
        }
        let bad =
            refresh_source(&head(Some("yes"), Some(OWN), Some(&cookie)), &allowed).unwrap_err();
        assert_eq!(bad.reason, Reason::InvalidField);
        // A body is read as ever, header or not, from any origin.
        let body = RefreshHead {
            body_empty: false,
            ..head(Some("cookie"), Some("https://evil.example"), None)
        };
        assert_eq!(
            refresh_source(&body, &allowed).unwrap(),
            RefreshSource::Body
        );
    }

    #[test]
    fn logout_ends_the_cookies_session_on_the_same_conditions() {
        let allowed = AllowedOrigins::parse("");
        let cookie = format!("__Host-edgeauth_rt={RT}");
        let sent = RefreshHead {
            body_empty: false,
            ..head(Some("cookie"), Some(OWN), Some(&cookie))
        };
        assert_eq!(
            cookie_sent_along(&sent, &allowed),
            Some(Secret::new(RT.into()))
        );
        let foreign = head(Some("cookie"), Some("https://evil.example"), Some(&cookie));
        assert_eq!(cookie_sent_along(&foreign, &allowed), None);
        assert_eq!(
            cookie_sent_along(&head(None, Some(OWN), Some(&cookie)), &allowed),
            None
        );
    }
}
