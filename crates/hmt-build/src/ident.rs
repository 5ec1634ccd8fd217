//! Recognising what a string is: a standard string format (for schemas) or an
//! identifier (for path templates and id-keyed maps).
//!
//! Both questions are asked of every string the builder sees, so the checks
//! are hand-written byte scans rather than regular expressions: they run at
//! input speed and never allocate. The format predicates themselves live in
//! [`hmt_types::format`], shared with the mock server's validator.

use hmt_types::format::{is_date, is_date_time, is_email, is_ipv4, is_ipv6, is_url, is_uuid};

/// A JSON Schema `format` the builder can detect in string values.
///
/// Detection is deliberately strict: a format is only emitted when every
/// sample satisfies it, and a validator that asserts formats must accept
/// every sample, so each check accepts a subset of what the format allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StringFormat {
    /// RFC 3339 date-time with a time zone, `2020-01-31T13:34:15Z`.
    DateTime,
    /// RFC 3339 full-date, `2020-01-31`.
    Date,
    /// RFC 4122 textual UUID, `123e4567-e89b-12d3-a456-426614174000`.
    Uuid,
    /// A plain `local@domain.tld` address.
    Email,
    /// An absolute URI with a scheme and an authority, `https://example.com/x`.
    Uri,
    /// Dotted-quad IPv4 address.
    Ipv4,
    /// IPv6 address in any of its textual forms.
    Ipv6,
}

impl StringFormat {
    /// Every detectable format, in the order of preference when several match.
    pub const ALL: [StringFormat; 7] = [
        StringFormat::DateTime,
        StringFormat::Date,
        StringFormat::Uuid,
        StringFormat::Email,
        StringFormat::Uri,
        StringFormat::Ipv4,
        StringFormat::Ipv6,
    ];

    /// The name used in a schema's `format` keyword.
    pub fn name(self) -> &'static str {
        match self {
            StringFormat::DateTime => "date-time",
            StringFormat::Date => "date",
            StringFormat::Uuid => "uuid",
            StringFormat::Email => "email",
            StringFormat::Uri => "uri",
            StringFormat::Ipv4 => "ipv4",
            StringFormat::Ipv6 => "ipv6",
        }
    }

    /// Whether `s` is in this format.
    ///
    /// ```
    /// use hmt_build::ident::StringFormat;
    /// assert!(StringFormat::DateTime.matches("2020-01-31T13:34:15.5+02:00"));
    /// assert!(!StringFormat::DateTime.matches("2020-01-31T13:34:15")); // no zone
    /// assert!(StringFormat::Ipv6.matches("::1"));
    /// ```
    pub fn matches(self, s: &str) -> bool {
        match self {
            StringFormat::DateTime => is_date_time(s),
            StringFormat::Date => is_date(s),
            StringFormat::Uuid => is_uuid(s),
            StringFormat::Email => is_email(s),
            StringFormat::Uri => is_url(s),
            StringFormat::Ipv4 => is_ipv4(s),
            StringFormat::Ipv6 => is_ipv6(s),
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The set of formats that every string seen so far satisfies.
///
/// Start from [`FormatSet::of`] the first value and [`FormatSet::intersect`]
/// with each next one; [`FormatSet::best`] is the format to emit.
///
/// ```
/// use hmt_build::ident::{FormatSet, StringFormat};
/// let seen = FormatSet::of("2020-01-01").intersect(FormatSet::of("1999-12-31"));
/// assert_eq!(seen.best(), Some(StringFormat::Date));
/// let mixed = seen.intersect(FormatSet::of("hello"));
/// assert_eq!(mixed.best(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormatSet(u8);

impl FormatSet {
    /// No format: the neutral element is [`FormatSet::ALL`], not this.
    pub const NONE: FormatSet = FormatSet(0);
    /// Every format: the starting point before any value was seen.
    pub const ALL: FormatSet = FormatSet(0x7f);

    /// The formats `s` satisfies.
    pub fn of(s: &str) -> FormatSet {
        let mut bits = 0;
        for format in StringFormat::ALL {
            if format.matches(s) {
                bits |= format.bit();
            }
        }
        FormatSet(bits)
    }

    /// The formats both sets contain.
    pub fn intersect(self, other: FormatSet) -> FormatSet {
        FormatSet(self.0 & other.0)
    }

    /// Whether `format` is in the set.
    pub fn contains(self, format: StringFormat) -> bool {
        self.0 & format.bit() != 0
    }

    /// The preferred format of the set, if any.
    pub fn best(self) -> Option<StringFormat> {
        StringFormat::ALL.into_iter().find(|f| self.contains(*f))
    }
}

/// What kind of identifier a path segment or an object key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdKind {
    /// Decimal digits, optionally signed: `42`, `-1`.
    Integer,
    /// A UUID.
    Uuid,
    /// A hex string of 8 or more digits with at least one digit 0-9, such as
    /// a commit sha or an md5: `9f86d081884c7d65`.
    Hex,
    /// A ULID: 26 Crockford base-32 characters, `01ARZ3NDEKTSV4RRFFQ69G5FAV`.
    Ulid,
    /// An ISO date, `2024-05-01`.
    Date,
    /// An e-mail address.
    Email,
    /// A long or prefixed token mixing letters and digits: `cus_8Fq2hjk3Lm`,
    /// `u_123`, `AbC123xYz987`, base64url-like keys.
    Token,
}

/// Classifies `segment` as an identifier, or `None` when it reads as a word
/// that belongs in a path template literally.
///
/// One observation is enough: `/users/42` is already `/users/{userId}`.
///
/// ```
/// use hmt_build::ident::{classify_id, IdKind};
/// assert_eq!(classify_id("42"), Some(IdKind::Integer));
/// assert_eq!(classify_id("cus_8Fq2hjk3Lm"), Some(IdKind::Token));
/// assert_eq!(classify_id("v2"), None);
/// assert_eq!(classify_id("refund"), None);
/// assert_eq!(classify_id("2024-05-01"), Some(IdKind::Date));
/// ```
pub fn classify_id(segment: &str) -> Option<IdKind> {
    if segment.is_empty() || is_reserved_word(segment) {
        return None;
    }
    let digits = segment.strip_prefix('-').unwrap_or(segment);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(IdKind::Integer);
    }
    if is_uuid(segment) {
        return Some(IdKind::Uuid);
    }
    if is_date(segment) {
        return Some(IdKind::Date);
    }
    if is_ulid(segment) {
        return Some(IdKind::Ulid);
    }
    if segment.len() >= 8
        && segment.bytes().all(|b| b.is_ascii_hexdigit())
        && segment.bytes().any(|b| b.is_ascii_digit())
    {
        return Some(IdKind::Hex);
    }
    if is_email(segment) {
        return Some(IdKind::Email);
    }
    if is_token(segment) {
        return Some(IdKind::Token);
    }
    // `2024-05-01.csv`, `42.json`: an identifier with a file extension is
    // still an identifier, but its values are no longer plain dates or
    // integers, so it is a token.
    if let Some((stem, extension)) = segment.rsplit_once('.')
        && (1..=5).contains(&extension.len())
        && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        && classify_id(stem).is_some()
    {
        return Some(IdKind::Token);
    }
    None
}

/// Words that name API structure or actions and so always stay literal in a
/// path template, even where a sibling segment is an identifier.
///
/// Version segments (`v1`, `v2beta`) are recognised by shape, the rest by
/// this list.
pub const RESERVED_WORDS: &[&str] = &[
    "about",
    "account",
    "accounts",
    "activate",
    "admin",
    "api",
    "apis",
    "approve",
    "archive",
    "auth",
    "authorize",
    "batch",
    "bulk",
    "cancel",
    "capture",
    "close",
    "config",
    "confirm",
    "count",
    "current",
    "deactivate",
    "download",
    "export",
    "graphql",
    "health",
    "healthz",
    "history",
    "import",
    "info",
    "initiate",
    "latest",
    "list",
    "login",
    "logout",
    "me",
    "metrics",
    "mine",
    "new",
    "oauth",
    "open",
    "ping",
    "public",
    "publish",
    "ready",
    "readyz",
    "refresh",
    "refund",
    "register",
    "reject",
    "reset",
    "rest",
    "revoke",
    "search",
    "self",
    "settings",
    "signin",
    "signout",
    "signup",
    "stats",
    "status",
    "submit",
    "summary",
    "token",
    "upload",
    "validate",
    "verify",
    "version",
    "webhooks",
];

/// Reserved words that are nouns and so can also be a resource's name (a
/// bucket called `archive`, a project called `settings`): they stay literal
/// unless a position already holds several word values and the word has the
/// same structure below it as they do (see `paths.rs`). The other reserved
/// words (versions, `api`, `me`, `self`, `login`, `search`, actions such as
/// `refund`) always stay literal. Sorted.
pub const NOUN_RESERVED_WORDS: &[&str] = &[
    "about", "account", "accounts", "admin", "archive", "config", "count", "history", "info",
    "latest", "list", "public", "settings", "stats", "status", "summary", "version", "webhooks",
];

/// Whether `segment` is one of [`NOUN_RESERVED_WORDS`] (ASCII case ignored).
pub fn is_noun_reserved_word(segment: &str) -> bool {
    NOUN_RESERVED_WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(segment))
}

/// Whether `segment` is a structural word or a version marker (`v1`, `v2`,
/// `v1beta2`, `v1.1`) that must stay literal.
///
/// ```
/// use hmt_build::ident::is_reserved_word;
/// assert!(is_reserved_word("v1"));
/// assert!(is_reserved_word("Search"));
/// assert!(!is_reserved_word("pikachu"));
/// ```
pub fn is_reserved_word(segment: &str) -> bool {
    if is_version(segment) {
        return true;
    }
    if segment.len() > 16 {
        return false;
    }
    // Compare lower-cased bytes lazily: this runs for every path segment.
    RESERVED_WORDS
        .binary_search_by(|word| {
            word.bytes()
                .cmp(segment.bytes().map(|b| b.to_ascii_lowercase()))
        })
        .is_ok()
}

/// Whether `s` is a version segment: `v1`, `V2`, `v1.1`, `v2beta`, `v1rc2`.
///
/// ```
/// assert!(hmt_build::ident::is_version("v2beta"));
/// assert!(!hmt_build::ident::is_version("video"));
/// ```
pub fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(['v', 'V']) else {
        return false;
    };
    let digits_end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 || digits_end > 4 {
        return false;
    }
    let tail = &rest[digits_end..];
    tail.is_empty()
        || tail
            .strip_prefix('.')
            .is_some_and(|t| !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
        || ["alpha", "beta", "rc"].iter().any(|p| {
            tail.strip_prefix(p)
                .is_some_and(|t| t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Letters and digits mixed, long enough to be generated rather than typed:
/// 16+ characters of `[A-Za-z0-9_-]` with both letters and digits, or a short
/// alphabetic prefix joined by `_`/`-` to 3+ characters containing a digit
/// (`u_123`, `cus_8Fq2hjk3`, `ord-00042`).
fn is_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
    {
        return false;
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if bytes.len() >= 16 && digits > 0 && letters > 0 {
        // Generated tokens mix letters and digits within one run; slugs such
        // as `release-notes-2024` are words and numbers joined by dashes.
        return s.split(['-', '_']).any(|part| {
            part.bytes().any(|b| b.is_ascii_digit())
                && part.bytes().any(|b| b.is_ascii_alphabetic())
        });
    }
    if let Some(sep) = s.find(['_', '-']) {
        let (prefix, rest) = (&s[..sep], &s[sep + 1..]);
        return (1..=6).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_alphabetic())
            && rest.len() >= 3
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            && rest.bytes().any(|b| b.is_ascii_digit());
    }
    // Short unseparated mixes such as `AbC123xYz` (8+ chars, both cases or
    // letters and several digits) are opaque keys; `v2`, `html5`, `mp3` are not.
    bytes.len() >= 8 && digits >= 2 && letters >= 2
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.as_bytes()[0] <= b'7'
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U'))
        })
        && s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(NOUN_RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(NOUN_RESERVED_WORDS.iter().all(|w| is_reserved_word(w)));
    }

    #[test]
    fn formats() {
        use StringFormat::*;
        let cases: &[(&str, Option<StringFormat>)] = &[
            ("2018-11-13T20:20:39+00:00", Some(DateTime)),
            ("2018-11-13T20:20:39.123Z", Some(DateTime)),
            ("2020-01-31T13:34:15", None),
            ("2020-02-30", None),
            ("2020-02-29", Some(Date)),
            ("123e4567-e89b-12d3-a456-426614174000", Some(Uuid)),
            ("a.b@example.com", Some(Email)),
            ("a@localhost", None),
            ("https://pokeapi.co/api/v2/ability/150/", Some(Uri)),
            ("http://[::1]:8080/x?y=%20", Some(Uri)),
            ("http://exa mple.com", None),
            ("http://a b@example.com/", None),
            ("http://example.com/?q=[1]", None),
            ("http://example.com/a#b#c", None),
            ("2020-01-31T13:34:15.000000000000Z\u{e9}", None),
            (
                "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
                None,
            ),
            ("mailto:x@y.z", None),
            ("10.0.0.255", Some(Ipv4)),
            ("10.0.0.256", None),
            ("01.0.0.1", None),
            ("2001:db8::1", Some(Ipv6)),
            ("Not Found", None),
        ];
        for (s, want) in cases {
            assert_eq!(FormatSet::of(s).best(), *want, "{s}");
        }
    }

    #[test]
    fn identifiers() {
        use IdKind::*;
        let cases: &[(&str, Option<IdKind>)] = &[
            ("42", Some(Integer)),
            ("0", Some(Integer)),
            ("123e4567-e89b-12d3-a456-426614174000", Some(Uuid)),
            ("9f86d081884c7d659a2feaa0c55ad015", Some(Hex)),
            ("deadbeef", None),
            ("01ARZ3NDEKTSV4RRFFQ69G5FAV", Some(Ulid)),
            ("2024-05-01", Some(Date)),
            ("2024-05-01.csv", Some(Token)),
            ("42.json", Some(Token)),
            ("users.json", None),
            ("ada@example.com", Some(Email)),
            ("cus_8Fq2hjk3Lm", Some(Token)),
            ("u_123", Some(Token)),
            ("AbC123xYz987", Some(Token)),
            ("ditto", None),
            ("v1", None),
            ("v2beta1", None),
            ("api", None),
            ("health", None),
            ("html5", None),
            ("user_profile", None),
            ("payment-methods", None),
            ("release-notes-2024", None),
            ("oauth2", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(classify_id(s), *want, "{s}");
        }
    }
}
