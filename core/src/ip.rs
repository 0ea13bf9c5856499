//! IP allow lists for API keys: IPv4/IPv6 addresses and CIDR ranges, checked against `CF-Connecting-IP`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ApiError;

/// Most entries one allow list may hold.
pub const MAX_IP_RULES: usize = 100;

const FIELD: &str = "allowed_ips";

/// One address or CIDR range. Host bits are cleared (`10.1.2.3/8` is
/// `10.0.0.0/8`), and an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is read
/// as the IPv4 address it maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRule {
    network: IpAddr,
    prefix: u8,
    /// Whether `/32` or `/128` was written out, so the rule reads back as given.
    written_prefix: bool,
}

impl IpRule {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`, `::1`. Errors are 400
    /// `invalid_field` naming `allowed_ips`.
    pub fn parse(s: &str) -> Result<IpRule, ApiError> {
        let text = s.trim();
        let shown: String = text.chars().take(60).collect();
        let bad = |why: &str| ApiError::invalid_field(FIELD, &format!("'{shown}' {why}"));
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| bad("is not an IPv4 or IPv6 address or CIDR range"))?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                let canonical = !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'));
                let n: u8 = p
                    .parse()
                    .ok()
                    .filter(|_| canonical)
                    .ok_or_else(|| bad("has a prefix length that is not a number"))?;
                if n > max {
                    return Err(bad(&format!("has a prefix longer than {max} bits")));
                }
                n
            }
        };
        let (network, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            v4 => (v4, prefix),
        };
        Ok(IpRule {
            network: mask(network, prefix),
            prefix,
            written_prefix: prefix_text.is_some(),
        })
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether an address falls in this range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.network
            }
            // A v6 range may span the mapped space (`::/0`, `::ffff:0:0/95`).
            (IpAddr::V6(_), IpAddr::V4(v4)) => {
                mask(IpAddr::V6(v4.to_ipv6_mapped()), self.prefix) == self.network
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }

    /// Whether every address of `other` is in `self`.
    pub fn contains(&self, other: &IpRule) -> bool {
        match (self.network, other.network) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                other.prefix >= self.prefix && self.matches(other.network)
            }
            (IpAddr::V6(_), IpAddr::V4(v4)) => {
                let mapped = IpAddr::V6(v4.to_ipv6_mapped());
                other.prefix + 96 >= self.prefix && mask(mapped, self.prefix) == self.network
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = match self.network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if self.prefix == full && !self.written_prefix {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// The addresses a credential may be used from. Empty means any address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpAllowList {
    rules: Vec<IpRule>,
}

impl IpAllowList {
    /// The empty list: any address.
    pub fn any() -> IpAllowList {
        IpAllowList::default()
    }

    /// Parses a list of addresses and ranges (duplicates dropped, order kept).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<IpAllowList, ApiError> {
        if items.len() > MAX_IP_RULES {
            return Err(ApiError::invalid_field(
                FIELD,
                &format!("at most {MAX_IP_RULES} entries"),
            ));
        }
        let mut rules: Vec<IpRule> = Vec::with_capacity(items.len());
        for item in items {
            let rule = IpRule::parse(item.as_ref())?;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        Ok(IpAllowList { rules })
    }

    /// Whether the list places no restriction.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[IpRule] {
        &self.rules
    }

    /// Whether a request from `client` may proceed. With a non-empty list, an
    /// unknown client address is refused: the list cannot be checked, so it fails closed.
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        match client {
            Some(ip) => self.rules.iter().any(|r| r.matches(ip)),
            None => false,
        }
    }

    /// Whether every address `self` allows is also allowed by `bound`
    /// (conservative: each rule must sit inside one rule of `bound`).
    pub fn within(&self, bound: &IpAllowList) -> bool {
        if bound.is_empty() {
            return true;
        }
        !self.is_empty()
            && self
                .rules
                .iter()
                .all(|r| bound.rules.iter().any(|b| b.contains(r)))
    }

    /// The rules as strings (the JSON form).
    pub fn to_vec(&self) -> Vec<String> {
        self.rules.iter().map(IpRule::to_string).collect()
    }
}

/// Reads a `CF-Connecting-IP` value; anything that is not one address is `None`.
pub fn parse_client_ip(value: &str) -> Option<IpAddr> {
    value.trim().parse().ok()
}

impl Serialize for IpAllowList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_vec().serialize(s)
    }
}

impl<'de> Deserialize<'de> for IpAllowList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        IpAllowList::parse(&items).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rule(s: &str) -> IpRule {
        IpRule::parse(s).unwrap()
    }

    #[test]
    fn parses_addresses_and_ranges() {
        assert_eq!(rule("203.0.113.7").to_string(), "203.0.113.7");
        assert_eq!(rule("203.0.113.7/32").to_string(), "203.0.113.7/32");
        assert_eq!(rule("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(rule("::1").to_string(), "::1");
        assert_eq!(rule("2001:DB8::/32").to_string(), "2001:db8::/32");
        assert_eq!(rule("0.0.0.0/0").prefix(), 0);
        assert_eq!(rule(" 10.0.0.1 ").to_string(), "10.0.0.1");
    }

    #[test]
    fn host_bits_are_cleared() {
        assert_eq!(rule("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(rule("10.1.2.3/8"), rule("10.0.0.0/8"));
        assert_eq!(rule("2001:db8::ff/64").to_string(), "2001:db8::/64");
    }

    #[test]
    fn rejects_bad_addresses_and_prefixes() {
        for bad in [
            "",
            "10.0.0",
            "10.0.0.256",
            "010.0.0.1",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08",
            "10.0.0.0/8/8",
            "10.0.0.0/-1",
            "10.0.0.0/ 8",
            "fe80::1%eth0",
            "localhost",
            "1.2.3.4:80",
            "[::1]",
            "10.0.0.0/1000",
        ] {
            let e = IpRule::parse(bad).unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField, "{bad}");
            assert!(e.message.starts_with("allowed_ips:"), "{}", e.message);
        }
    }

    #[test]
    fn matches_v4_v6_and_mapped() {
        let r = rule("10.0.0.0/8");
        assert!(r.matches(ip("10.255.1.2")));
        assert!(!r.matches(ip("11.0.0.1")));
        assert!(r.matches(ip("::ffff:10.1.2.3")));
        assert!(!r.matches(ip("::1")));
        let mapped = rule("::ffff:192.0.2.0/120");
        assert_eq!(mapped.to_string(), "192.0.2.0/24");
        assert!(mapped.matches(ip("192.0.2.200")));
        assert!(rule("::ffff:1.2.3.4").matches(ip("1.2.3.4")));
        let v6 = rule("2001:db8::/32");
        assert!(v6.matches(ip("2001:db8:1::5")));
        assert!(!v6.matches(ip("2001:db9::5")));
        assert!(!v6.matches(ip("1.2.3.4")));
        assert!(rule("::/0").matches(ip("1.2.3.4")));
        assert!(rule("0.0.0.0/0").matches(ip("1.2.3.4")));
        assert!(!rule("0.0.0.0/0").matches(ip("::2")));
        assert!(rule("203.0.113.7").matches(ip("203.0.113.7")));
        assert!(!rule("203.0.113.7").matches(ip("203.0.113.8")));
    }

    #[test]
    fn allow_list_fails_closed_without_an_address() {
        let any = IpAllowList::any();
        assert!(any.allows(None));
        assert!(any.allows(Some(ip("1.2.3.4"))));
        let list = IpAllowList::parse(&["10.0.0.0/8", "2001:db8::1"]).unwrap();
        assert!(!list.allows(None));
        assert!(list.allows(Some(ip("10.9.9.9"))));
        assert!(list.allows(Some(ip("2001:db8::1"))));
        assert!(!list.allows(Some(ip("2001:db8::2"))));
        assert!(!list.allows(Some(ip("192.168.0.1"))));
    }

    #[test]
    fn list_parse_dedupes_caps_and_names_the_field() {
        let list = IpAllowList::parse(&["10.0.0.0/8", "10.1.0.0/8", "::1"]).unwrap();
        assert_eq!(list.to_vec(), vec!["10.0.0.0/8", "::1"]);
        let e = IpAllowList::parse(&["10.0.0.0/8", "nope"]).unwrap_err();
        assert_eq!(e.reason, Reason::InvalidField);
        assert!(e.message.contains("allowed_ips") && e.message.contains("nope"));
        let many: Vec<String> = (0..=MAX_IP_RULES)
            .map(|i| format!("10.0.0.{}", i % 250))
            .collect();
        assert!(IpAllowList::parse(&many).is_err());
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["10.0.0.0/8","::1"]"#);
        assert_eq!(serde_json::from_str::<IpAllowList>(&json).unwrap(), list);
    }

    #[test]
    fn containment_for_privilege_checks() {
        let bound = IpAllowList::parse(&["10.0.0.0/8"]).unwrap();
        assert!(IpAllowList::parse(&["10.1.0.0/16"]).unwrap().within(&bound));
        assert!(IpAllowList::parse(&["10.1.2.3"]).unwrap().within(&bound));
        assert!(!IpAllowList::parse(&["0.0.0.0/0"]).unwrap().within(&bound));
        assert!(!IpAllowList::parse(&["11.0.0.1"]).unwrap().within(&bound));
        assert!(!IpAllowList::any().within(&bound));
        assert!(IpAllowList::any().within(&IpAllowList::any()));
        assert!(bound.within(&IpAllowList::any()));
        assert!(rule("::/0").contains(&rule("1.2.3.4")));
        assert!(!rule("1.2.3.4").contains(&rule("::1")));
    }

    #[test]
    fn client_ip_header() {
        assert_eq!(parse_client_ip("203.0.113.9"), Some(ip("203.0.113.9")));
        assert_eq!(parse_client_ip(" 2001:db8::1 "), Some(ip("2001:db8::1")));
        assert_eq!(parse_client_ip("1.2.3.4, 5.6.7.8"), None);
        assert_eq!(parse_client_ip(""), None);
    }
}
