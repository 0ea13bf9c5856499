//! Scopes (`resource:action` with `*` wildcards), ordered scope sets, and tenant roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ApiError;

/// Longest scope accepted, in bytes: far above any real scope, low enough to bound work.
pub const MAX_SCOPE_LEN: usize = 128;

/// Most scopes one set may hold when parsed strictly.
pub const MAX_SCOPES: usize = 256;

const WILDCARD: &str = "*";

/// One scope: `resource:action`, where either part may be `*`, or `*` alone
/// (everything). `*:*` is read as `*`.
///
/// Routes require concrete scopes (`scans:read`); wildcards appear in what an
/// identity holds (`scans:*`, `*:read` from roles, `*`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    resource: String,
    action: String,
}

impl Scope {
    /// Parses one scope. Errors are 400 `invalid_field` naming `scopes`.
    pub fn parse(s: &str) -> Result<Scope, ApiError> {
        let bad = |why: &str| {
            let shown: String = s.chars().take(40).collect();
            ApiError::invalid_field("scopes", &format!("'{shown}' is not a scope: {why}"))
        };
        if s.len() > MAX_SCOPE_LEN {
            return Err(bad("too long"));
        }
        if s == WILDCARD {
            return Ok(Scope::all());
        }
        let Some((resource, action)) = s.split_once(':') else {
            return Err(bad("expected resource:action"));
        };
        if action.contains(':') {
            return Err(bad("more than one ':'"));
        }
        check_part(resource).map_err(|why| bad(&format!("resource {why}")))?;
        check_part(action).map_err(|why| bad(&format!("action {why}")))?;
        Ok(Scope {
            resource: resource.to_string(),
            action: action.to_string(),
        })
    }

    /// The scope `*`, which covers every other.
    pub fn all() -> Scope {
        Scope {
            resource: WILDCARD.into(),
            action: WILDCARD.into(),
        }
    }

    /// The resource part (`*` for a wildcard).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The action part (`*` for a wildcard).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Whether either part is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.resource == WILDCARD || self.action == WILDCARD
    }

    /// Whether holding `self` implies holding `other` (which may itself be a
    /// wildcard): each part of `self` is `*` or equal to `other`'s part. So
    /// `scans:*` covers `scans:read` and `scans:*`, but neither `*` nor `*:read`.
    pub fn covers(&self, other: &Scope) -> bool {
        let part = |mine: &str, theirs: &str| mine == WILDCARD || mine == theirs;
        part(&self.resource, &other.resource) && part(&self.action, &other.action)
    }

    /// The scope both `self` and `other` grant, if any: each part is the more
    /// specific of the two (`*` meets `scans` in `scans`), and two different
    /// concrete parts meet in nothing. `scans:*` ∧ `*:read` = `scans:read`.
    pub fn meet(&self, other: &Scope) -> Option<Scope> {
        fn part<'a>(a: &'a str, b: &'a str) -> Option<&'a str> {
            match (a, b) {
                (WILDCARD, x) | (x, WILDCARD) => Some(x),
                (x, y) if x == y => Some(x),
                _ => None,
            }
        }
        Some(Scope {
            resource: part(&self.resource, &other.resource)?.to_string(),
            action: part(&self.action, &other.action)?.to_string(),
        })
    }
}

fn check_part(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p == WILDCARD {
        return Ok(());
    }
    if p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Ok(())
    } else {
        Err("may hold only A-Z a-z 0-9 _ . - (or be *)")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resource == WILDCARD && self.action == WILDCARD {
            f.write_str(WILDCARD)
        } else {
            write!(f, "{}:{}", self.resource, self.action)
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({self})")
    }
}

impl FromStr for Scope {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A set of scopes, deduplicated, in the order they were first given (so an
/// API answers a key's scopes in the order its creator listed them).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> ScopeSet {
        ScopeSet(Vec::new())
    }

    /// Parses a space-separated list (a token's `scope` claim, `DEFAULT_USER_SCOPES`).
    /// Any invalid scope fails the whole parse.
    pub fn parse(s: &str) -> Result<ScopeSet, ApiError> {
        let items: Vec<&str> = s.split_ascii_whitespace().collect();
        ScopeSet::from_list(&items)
    }

    /// Parses a list of scopes (a JSON array). Any invalid scope fails the whole parse.
    pub fn from_list<S: AsRef<str>>(items: &[S]) -> Result<ScopeSet, ApiError> {
        if items.len() > MAX_SCOPES {
            return Err(ApiError::invalid_field(
                "scopes",
                &format!("at most {MAX_SCOPES} scopes"),
            ));
        }
        let mut set = ScopeSet::new();
        for item in items {
            set.insert(Scope::parse(item.as_ref())?);
        }
        Ok(set)
    }

    /// Parses a space-separated list, dropping words that are not scopes.
    ///
    /// For external identity providers whose `scope` claim mixes in OIDC words
    /// (`openid email`): those are not edgeauth scopes and grant nothing, so
    /// dropping them can only narrow what the token may do.
    pub fn parse_lossy(s: &str) -> ScopeSet {
        s.split_ascii_whitespace()
            .filter_map(|w| Scope::parse(w).ok())
            .take(MAX_SCOPES)
            .collect()
    }

    /// Adds a scope; false if it was already present.
    pub fn insert(&mut self, scope: Scope) -> bool {
        if self.0.contains(&scope) {
            false
        } else {
            self.0.push(scope);
            true
        }
    }

    /// The scopes, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.0.iter()
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this exact scope is in the set (no wildcard reasoning).
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// Whether the set allows a required scope. Routes require concrete scopes;
    /// a wildcard requirement is granted only by a scope that covers it whole.
    pub fn grants(&self, required: &Scope) -> bool {
        self.covers(required)
    }

    /// Whether the set allows every one of `required`.
    pub fn grants_all(&self, required: &[Scope]) -> bool {
        required.iter().all(|r| self.grants(r))
    }

    /// Whether some scope of the set covers `requested`, which may be a wildcard:
    /// the test against privilege escalation. `scans:*` covers `scans:read` and
    /// `scans:*` but not `*` nor `*:read`; `*:read` covers `scans:read`; `*`
    /// covers everything. `{scans:read, scans:write}` does not cover `scans:*`,
    /// which would also grant actions invented later.
    pub fn covers(&self, requested: &Scope) -> bool {
        self.0.iter().any(|held| held.covers(requested))
    }

    /// The scopes of `self` that `bound` covers, in `self`'s order: what a
    /// credential may still do when its holder's own rights shrank.
    pub fn restricted_to(&self, bound: &ScopeSet) -> ScopeSet {
        self.0.iter().filter(|s| bound.covers(s)).cloned().collect()
    }

    /// What a holder of both sets may do: every meet of a scope of `self`
    /// with one of `bound`, in `self`'s order. A key's own list intersected
    /// with its creator's current rights: `{*}` ∧ viewer's `{*:read}` is
    /// `{*:read}`, `{scans:read}` ∧ admin's `{*}` is `{scans:read}`.
    pub fn intersect(&self, bound: &ScopeSet) -> ScopeSet {
        self.0
            .iter()
            .flat_map(|a| bound.0.iter().filter_map(move |b| a.meet(b)))
            .filter(|m| self.covers(m) && bound.covers(m))
            .collect()
    }

    /// Whether some scope of the set allows `action` on some resource
    /// (`scans:read` and `*:read` permit `read`; `*` permits everything).
    pub fn permits_action(&self, action: &str) -> bool {
        self.0
            .iter()
            .any(|s| s.action == WILDCARD || s.action == action)
    }

    /// The space-separated form used in tokens and forwarded headers.
    pub fn to_space_separated(&self) -> String {
        self.to_vec().join(" ")
    }

    /// The scopes as strings, in order (the JSON form).
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(Scope::to_string).collect()
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet[{}]", self.to_space_separated())
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::new();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        ScopeSet::from_list(&items).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A user's role in a tenant. Serialized lowercase (`"viewer"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    /// Parses `viewer`, `editor` or `admin` (exactly, lowercase).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The scopes the role grants in its tenant: viewer `*:read`, editor
    /// `*:read *:write`, admin `*`.
    pub fn scopes(self) -> ScopeSet {
        let wild = |action: &str| Scope {
            resource: WILDCARD.into(),
            action: action.into(),
        };
        match self {
            Role::Viewer => [wild("read")].into_iter().collect(),
            Role::Editor => [wild("read"), wild("write")].into_iter().collect(),
            Role::Admin => [Scope::all()].into_iter().collect(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
            .ok_or_else(|| ApiError::invalid_field("role", "must be viewer, editor or admin"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;

    fn s(x: &str) -> Scope {
        Scope::parse(x).unwrap()
    }

    fn set(x: &str) -> ScopeSet {
        ScopeSet::parse(x).unwrap()
    }

    #[test]
    fn parses_concrete_and_wildcard_scopes() {
        assert_eq!(s("scans:read").resource(), "scans");
        assert_eq!(s("scans:read").action(), "read");
        assert_eq!(
            s("runners.v2:manage-all_x").to_string(),
            "runners.v2:manage-all_x"
        );
        assert!(s("scans:*").is_wildcard());
        assert!(s("*:read").is_wildcard());
        assert_eq!(s("*"), Scope::all());
        assert_eq!(s("*:*"), Scope::all());
        assert_eq!(s("*:*").to_string(), "*");
        assert!(!s("scans:read").is_wildcard());
    }

    #[test]
    fn rejects_malformed_scopes() {
        for bad in [
            "",
            "scans",
            ":read",
            "scans:",
            ":",
            "scans:read:x",
            "scans: read",
            " scans:read",
            "scans:read ",
            "sc ans:read",
            "scans:re*d",
            "sc*:read",
            "**",
            "scans:**",
            "scäns:read",
            "scans:read\n",
            "scans/x:read",
            "a:b\0",
        ] {
            let e = Scope::parse(bad).unwrap_err();
            assert_eq!(e.reason, Reason::InvalidField, "{bad:?}");
            assert!(e.message.starts_with("scopes:"), "{}", e.message);
        }
        let long = format!("{}:read", "a".repeat(MAX_SCOPE_LEN));
        assert!(Scope::parse(&long).is_err());
    }

    #[test]
    fn intersections_keep_what_both_sides_grant() {
        let cases = [
            ("*", "*:read", "*:read"),
            ("scans:read", "*", "scans:read"),
            ("scans:read", "*:read", "scans:read"),
            ("scans:*", "*:read", "scans:read"),
            ("scans:*", "*:read *:write", "scans:read scans:write"),
            ("scans:read", "drifts:*", ""),
            ("scans:write", "*:read", ""),
            ("", "*", ""),
            ("* scans:read", "*:read", "*:read scans:read"),
        ];
        for (a, b, want) in cases {
            assert_eq!(set(a).intersect(&set(b)), set(want), "{a} ∧ {b}");
            // Symmetric as sets: whatever one side keeps, the other covers.
            for m in set(b).intersect(&set(a)).iter() {
                assert!(set(want).covers(m), "{b} ∧ {a} gave {m}");
            }
        }
        assert!(set("scans:read").permits_action("read"));
        assert!(!set("scans:read").permits_action("write"));
        assert!(set("*").permits_action("write"));
        assert!(set("runners:*").permits_action("write"));
        assert!(!set("").permits_action("read"));
    }

    #[test]
    fn wildcard_coverage_is_exactly_as_specified() {
        assert!(s("scans:*").covers(&s("scans:read")));
        assert!(s("scans:*").covers(&s("scans:*")));
        assert!(!s("scans:*").covers(&s("*")));
        assert!(!s("scans:*").covers(&s("*:read")));
        assert!(!s("scans:*").covers(&s("drifts:read")));
        assert!(s("*:read").covers(&s("scans:read")));
        assert!(s("*:read").covers(&s("*:read")));
        assert!(!s("*:read").covers(&s("scans:write")));
        assert!(!s("*:read").covers(&s("scans:*")));
        assert!(!s("*:read").covers(&s("*")));
        for x in ["*", "scans:*", "*:read", "a:b"] {
            assert!(Scope::all().covers(&s(x)));
        }
        assert!(!s("scans:read").covers(&s("scans:write")));
        assert!(!s("scans:read").covers(&s("scans:*")));
    }

    #[test]
    fn sets_grant_required_scopes() {
        let held = set("scans:read drifts:*");
        assert!(held.grants(&s("scans:read")));
        assert!(held.grants(&s("drifts:write")));
        assert!(!held.grants(&s("scans:trigger")));
        assert!(held.grants_all(&[s("scans:read"), s("drifts:read")]));
        assert!(!held.grants_all(&[s("scans:read"), s("repos:read")]));
        assert!(held.grants_all(&[]));
        assert!(!ScopeSet::new().grants(&s("scans:read")));
        assert!(set("*").grants(&s("anything:at-all")));
        // A pair of concrete scopes is not the wildcard.
        assert!(!set("scans:read scans:write").covers(&s("scans:*")));
    }

    #[test]
    fn sets_keep_first_order_and_drop_duplicates() {
        let x =
            ScopeSet::from_list(&["scans:read", "drifts:read", "scans:read", "*:*", "*"]).unwrap();
        assert_eq!(x.to_vec(), vec!["scans:read", "drifts:read", "*"]);
        assert_eq!(x.to_space_separated(), "scans:read drifts:read *");
        assert_eq!(x.len(), 3);
        assert_eq!(set("  a:b\t c:d  ").to_vec(), vec!["a:b", "c:d"]);
        assert!(set("").is_empty());
        assert!(ScopeSet::parse("a:b nope").is_err());
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("r{i}:read")).collect();
        assert!(ScopeSet::from_list(&many).is_err());
    }

    #[test]
    fn lossy_parse_drops_non_scopes_only() {
        let x = ScopeSet::parse_lossy("openid email scans:read profile *:read");
        assert_eq!(x.to_vec(), vec!["scans:read", "*:read"]);
    }

    #[test]
    fn restriction_keeps_only_what_the_bound_covers() {
        let key = set("scans:read scans:trigger drifts:write");
        assert_eq!(
            key.restricted_to(&set("scans:*")).to_vec(),
            vec!["scans:read", "scans:trigger"]
        );
        assert_eq!(key.restricted_to(&set("*")), key);
        assert!(key.restricted_to(&ScopeSet::new()).is_empty());
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let x = set("scans:read *");
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(json, r#"["scans:read","*"]"#);
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), x);
        assert!(serde_json::from_str::<ScopeSet>(r#"["bad scope"]"#).is_err());
        assert_eq!(serde_json::to_string(&s("a:*")).unwrap(), r#""a:*""#);
    }

    #[test]
    fn roles_map_to_scopes() {
        assert_eq!(Role::Viewer.scopes().to_vec(), vec!["*:read"]);
        assert_eq!(Role::Editor.scopes().to_vec(), vec!["*:read", "*:write"]);
        assert_eq!(Role::Admin.scopes().to_vec(), vec!["*"]);
        assert!(Role::Viewer.scopes().grants(&s("tenant:read")));
        assert!(!Role::Viewer.scopes().grants(&s("tenant:write")));
        assert!(Role::Editor.scopes().grants(&s("tenant:write")));
        assert!(!Role::Editor.scopes().grants(&s("runners:manage")));
        assert!(Role::Admin.scopes().grants(&s("runners:manage")));
    }

    #[test]
    fn roles_parse_and_serialize_lowercase() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
        assert_eq!(
            "root".parse::<Role>().unwrap_err().reason,
            Reason::InvalidField
        );
        assert_eq!(serde_json::to_string(&Role::Viewer).unwrap(), r#""viewer""#);
        assert_eq!(
            serde_json::from_str::<Role>(r#""admin""#).unwrap(),
            Role::Admin
        );
        assert!(serde_json::from_str::<Role>(r#""owner""#).is_err());
        assert_eq!(Role::Editor.to_string(), "editor");
    }
}
