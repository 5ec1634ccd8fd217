//! String-format predicates: the JSON Schema `format` values (and the RFCs behind them) as
//! plain `fn(&str) -> bool` checks.
//!
//! Two tools ask the same questions of strings: `hmt build` detects formats in observed
//! values to write them into inferred schemas, and `hmt mock` checks made-up values and
//! schema examples against the formats a schema asserts. Neither may depend on the other,
//! so the one copy of each check lives here, in the crate both already depend on.
//!
//! Every check is a hand-written byte scan: `hmt build` runs them on every string it sees,
//! so they run at input speed and never allocate. Each accepts a subset of what its format
//! allows, never more: a detected format must hold for every validator that asserts it,
//! and a mock must never serve a value that a strict validator (such as the `jsonschema`
//! crate with format assertion on) rejects. Where a check is narrower than its RFC, its
//! documentation says so.

use std::net::{Ipv4Addr, Ipv6Addr};

fn all_digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

/// The value of a run of ASCII digits (callers check [`all_digits`] first).
fn num(s: &[u8]) -> u32 {
    s.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
}

/// RFC 3339 `full-date` (JSON Schema `date`): `YYYY-MM-DD`, a day that exists in the
/// proleptic Gregorian calendar.
///
/// ```
/// use hmt_types::format::is_date;
/// assert!(is_date("2024-02-29"));
/// assert!(!is_date("2023-02-29") && !is_date("2024-13-01") && !is_date("2024-1-01"));
/// ```
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (y, m, d) = (&b[0..4], &b[5..7], &b[8..10]);
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return false;
    }
    let (year, month, day) = (num(y), num(m), num(d));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// RFC 3339 `full-time` (JSON Schema `time`): `HH:MM:SS[.frac]` followed by `Z` or a
/// `±HH:MM` offset, which JSON Schema requires.
///
/// Stricter than RFC 3339 in one place: a leap second (`23:59:60Z`) is rejected, since
/// it is only valid at the end of particular UTC days and validators disagree on it.
///
/// ```
/// use hmt_types::format::is_time;
/// assert!(is_time("23:59:59.5+01:00") && is_time("00:00:00Z") && is_time("12:00:00z"));
/// assert!(!is_time("24:00:00Z") && !is_time("12:00:00")); // no offset
/// ```
pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (h, m, sec) = (&b[0..2], &b[3..5], &b[6..8]);
    if !(all_digits(h) && all_digits(m) && all_digits(sec)) {
        return false;
    }
    if num(h) > 23 || num(m) > 59 || num(sec) > 59 {
        return false;
    }
    let mut rest = &b[8..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', zone @ ..] => {
            zone.len() == 5
                && zone[2] == b':'
                && all_digits(&zone[0..2])
                && all_digits(&zone[3..5])
                && num(&zone[0..2]) <= 23
                && num(&zone[3..5]) <= 59
        }
        _ => false,
    }
}

/// RFC 3339 `date-time` (JSON Schema `date-time`): an [`is_date`], `T` (or `t`), and an
/// [`is_time`], offset included.
///
/// ```
/// use hmt_types::format::is_date_time;
/// assert!(is_date_time("2020-01-31T13:34:15.5+02:00") && is_date_time("2018-11-13t20:20:39Z"));
/// assert!(!is_date_time("2020-01-31T13:34:15")); // no offset
/// assert!(!is_date_time("2020-01-31 13:34:15Z"));
/// ```
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && s.get(..10).is_some_and(is_date)
        && matches!(b[10], b'T' | b't')
        && s.get(11..).is_some_and(is_time)
}

/// RFC 4122 textual UUID (JSON Schema `uuid`): 8-4-4-4-12 hex digits, either case. The
/// version and variant nibbles are not checked.
///
/// ```
/// use hmt_types::format::is_uuid;
/// assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
/// assert!(!is_uuid("123") && !is_uuid("123e4567e89b12d3a456426614174000"));
/// ```
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// RFC 1123 host name (JSON Schema `hostname`): dot-separated labels of 1 to 63 ASCII
/// letters, digits and inner hyphens, 253 bytes at most. A trailing dot is rejected.
///
/// ```
/// use hmt_types::format::is_hostname;
/// assert!(is_hostname("api.example.com") && is_hostname("localhost"));
/// assert!(!is_hostname("-bad.example") && !is_hostname("a..b") && !is_hostname("exa mple.com"));
/// ```
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// RFC 5322 address (JSON Schema `email`), narrowed to the form APIs actually carry:
/// `local@domain`, where the local part is an unquoted `dot-atom` of at most 64 bytes and
/// the domain is an [`is_hostname`] with at least one dot.
///
/// Quoted local parts, comments and address literals (`a@[10.0.0.1]`) are legal but
/// rejected, as are dotless domains (`a@localhost`).
///
/// ```
/// use hmt_types::format::is_email;
/// assert!(is_email("ann.lee@example.com") && is_email("a+b@x.io"));
/// assert!(!is_email("ann@@x") && !is_email(".a@x.io") && !is_email("a@localhost"));
/// ```
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    local_ok && domain.contains('.') && is_hostname(domain)
}

/// RFC 791 dotted-quad IPv4 address (JSON Schema `ipv4`): four decimal octets 0-255,
/// without leading zeros (which some parsers read as octal).
///
/// ```
/// use hmt_types::format::is_ipv4;
/// assert!(is_ipv4("10.0.0.255"));
/// assert!(!is_ipv4("10.0.0.256") && !is_ipv4("01.0.0.1") && !is_ipv4("1.2.3"));
/// ```
pub fn is_ipv4(s: &str) -> bool {
    s.parse::<Ipv4Addr>().is_ok()
}

/// RFC 4291 textual IPv6 address (JSON Schema `ipv6`), in any of its forms: full,
/// `::`-compressed, or with an embedded IPv4 tail. Zone identifiers (`%eth0`) are rejected.
///
/// ```
/// use hmt_types::format::is_ipv6;
/// assert!(is_ipv6("2001:db8::1") && is_ipv6("::1") && is_ipv6("::ffff:10.0.0.1"));
/// assert!(!is_ipv6("10.0.0.1") && !is_ipv6("2001:db8:::1") && !is_ipv6("fe80::1%eth0"));
/// ```
pub fn is_ipv6(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

/// RFC 3986 `URI` (JSON Schema `uri`): an absolute URI, `scheme ":" hier-part` with an
/// optional query and fragment, such as `https://example.com/x` or `urn:isbn:0451450523`.
///
/// Narrower than RFC 3986 only in that a bracketed host must be an IPv6 address (no
/// `IPvFuture`). Non-ASCII characters must be percent-encoded (that would be an `iri`).
///
/// ```
/// use hmt_types::format::is_uri;
/// assert!(is_uri("https://x.io/a?b=c#d") && is_uri("mailto:x@y.z"));
/// assert!(!is_uri("/relative") && !is_uri("http://exa mple.com") && !is_uri("http://x/a#b#c"));
/// ```
pub fn is_uri(s: &str) -> bool {
    parse_uri_reference(s).is_some_and(|uri| uri.scheme.is_some())
}

/// RFC 3986 `URI-reference` (JSON Schema `uri-reference`): an [`is_uri`] or a relative
/// reference such as `/users/42?x=1`, `../a`, `#top` or the empty string.
///
/// ```
/// use hmt_types::format::is_uri_reference;
/// assert!(is_uri_reference("/relative") && is_uri_reference("https://x.io") && is_uri_reference(""));
/// assert!(!is_uri_reference("has space") && !is_uri_reference("a:b:c/%zz"));
/// ```
pub fn is_uri_reference(s: &str) -> bool {
    parse_uri_reference(s).is_some()
}

/// An [`is_uri`] that names a network location: `scheme://host[:port]` with an
/// [`is_hostname`] host (dotted-quad IPv4 addresses are of that shape too) or a bracketed
/// [`is_ipv6`] host, then an optional path, query and
/// fragment. This is the shape of the URLs APIs return, which is what format detection
/// looks for.
///
/// Deliberately narrower than `uri`: URIs without an authority (`mailto:`, `urn:`), user
/// info (`http://user@host/`), and percent-encoded or otherwise non-DNS hosts are rejected.
///
/// ```
/// use hmt_types::format::is_url;
/// assert!(is_url("https://pokeapi.co/api/v2/ability/150/") && is_url("http://[::1]:8080/x?y=%20"));
/// assert!(!is_url("mailto:x@y.z") && !is_url("http://a@example.com/") && !is_url("http://x/?q=[1]"));
/// ```
pub fn is_url(s: &str) -> bool {
    let Some(UriParts {
        scheme: Some(_),
        authority: Some(authority),
        ..
    }) = parse_uri_reference(s)
    else {
        return false;
    };
    if authority.contains('@') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if all_digits(port.as_bytes()) => host,
        _ => authority,
    };
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => is_ipv6(inner),
        None => is_hostname(host),
    }
}

/// RFC 6901 JSON Pointer (JSON Schema `json-pointer`): empty, or `/`-prefixed reference
/// tokens in which `~` only appears escaped as `~0` or `~1`.
///
/// ```
/// use hmt_types::format::is_json_pointer;
/// assert!(is_json_pointer("/a/~1b") && is_json_pointer(""));
/// assert!(!is_json_pointer("/a~2") && !is_json_pointer("a/b"));
/// ```
pub fn is_json_pointer(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if !s.starts_with('/') {
        return false;
    }
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
}

/// The components of an RFC 3986 `URI-reference`, each already checked.
struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
}

/// Splits `s` into its RFC 3986 components and checks each, or `None` when `s` is not a
/// `URI-reference`.
fn parse_uri_reference(s: &str) -> Option<UriParts<'_>> {
    // `#` and `?` cannot occur before the fragment or query they start, so the first of
    // each splits; a second `#` fails the fragment's character check.
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !uri_chars_ok(fragment, b"/?") || !uri_chars_ok(query, b"/?") {
        return None;
    }
    // A `:` before the first `/` ends a scheme; in a relative reference the first path
    // segment may not contain one (`path-noscheme`), so an invalid scheme is no URI.
    let (scheme, rest) = match rest.find([':', '/']) {
        Some(i) if rest.as_bytes()[i] == b':' => {
            let scheme = &rest[..i];
            let scheme_ok = scheme
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if !scheme_ok {
                return None;
            }
            (Some(scheme), &rest[i + 1..])
        }
        _ => (None, rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find('/').unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    if authority.is_some_and(|a| !authority_ok(a)) || !uri_chars_ok(path, b"/") {
        return None;
    }
    Some(UriParts { scheme, authority })
}

/// RFC 3986 `authority`: `[userinfo "@"] host [":" port]`, the host a `reg-name` or a
/// bracketed IPv6 address.
fn authority_ok(authority: &str) -> bool {
    let (userinfo, host_port) = match authority.split_once('@') {
        Some((userinfo, host_port)) => (userinfo, host_port),
        None => ("", authority),
    };
    if !uri_chars_ok(userinfo, b":") {
        return false;
    }
    if let Some(literal) = host_port.strip_prefix('[') {
        let Some((inner, after)) = literal.split_once(']') else {
            return false;
        };
        return is_ipv6(inner)
            && (after.is_empty()
                || after
                    .strip_prefix(':')
                    .is_some_and(|p| all_digits(p.as_bytes())));
    }
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, ""));
    all_digits(port.as_bytes()) && uri_chars_ok(host, b"")
}

/// Whether `s` is only RFC 3986 unreserved and sub-delim characters, `%` followed by two
/// hex digits, and the bytes in `extra`; `:` and `@` are allowed wherever `extra` holds
/// `/` (that is, in `pchar` positions).
fn uri_chars_ok(s: &str, extra: &[u8]) -> bool {
    let pchar = extra.contains(&b'/');
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=".contains(&c)
            || extra.contains(&c)
            || (pchar && matches!(c, b':' | b'@'));
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// `bytes` written as a version 4 UUID (`xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx`):
/// the version and RFC 4122 variant bits set, the rest as given, so random
/// bytes give a random UUID and fixed bytes a repeatable one. What
/// [`is_uuid`] accepts.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_carry_version_4_and_the_rfc_4122_variant() {
        // (bytes, UUID)
        let table = [
            ([0u8; 16], "00000000-0000-4000-8000-000000000000"),
            ([0xff; 16], "ffffffff-ffff-4fff-bfff-ffffffffffff"),
            (
                [
                    0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14,
                    0x17, 0x40, 0x00,
                ],
                "123e4567-e89b-42d3-a456-426614174000",
            ),
        ];
        for (bytes, expected) in table {
            let uuid = uuid_v4(bytes);
            assert_eq!(uuid, expected);
            assert!(is_uuid(&uuid), "{uuid}");
        }
    }

    #[test]
    fn dates_and_times() {
        assert!(is_date("2020-02-29") && is_date("2000-02-29") && is_date("2024-12-31"));
        assert!(!is_date("1900-02-29") && !is_date("2020-02-30") && !is_date("2024-00-10"));
        assert!(
            !is_date("2024-05-1a")
                && !is_date("2024-05-01T")
                && !is_date("\u{e9}\u{e9}\u{e9}\u{e9}-0-01")
        );
        assert!(
            is_time("00:00:00.123456789-05:30") && !is_time("12:60:00Z") && !is_time("12:00:60Z")
        );
        assert!(!is_time("12:00:00.Z") && !is_time("12:00:00+2:00") && !is_time("12:00:00+24:00"));
        assert!(
            is_date_time("2018-11-13T20:20:39+00:00") && is_date_time("2018-11-13T20:20:39.123Z")
        );
        assert!(!is_date_time("2020-02-30T00:00:00Z"));
        assert!(!is_date_time("2020-01-31T13:34:15.000000000000Z\u{e9}"));
        assert!(!is_date_time(
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
        ));
    }

    #[test]
    fn emails_and_hosts() {
        assert!(is_email("a.b@example.com") && !is_email("a@b@example.com"));
        assert!(!is_email("a.@x.io") && !is_email("a..b@x.io") && !is_email("@x.io"));
        assert!(!is_email(&format!("{}@x.io", "a".repeat(65))));
        assert!(is_hostname(&format!("{}.com", "a".repeat(63))));
        assert!(!is_hostname(&format!("{}.com", "a".repeat(64))) && !is_hostname("a-.com"));
        assert!(!is_hostname("") && !is_hostname("example.com."));
    }

    #[test]
    fn uris() {
        for uri in [
            "https://pokeapi.co/api/v2/ability/150/",
            "http://[::1]:8080/x?y=%20",
            "urn:isbn:0451450523",
            "file:///etc/hosts",
            "http://user:pw@10.0.0.1:80/a;b=c?q=/x?#f/?",
            "http://example.com:/",
        ] {
            assert!(is_uri(uri) && is_uri_reference(uri), "{uri}");
        }
        for not_uri in [
            "http://exa mple.com",
            "http://a b@example.com/",
            "http://example.com/?q=[1]",
            "http://example.com/a#b#c",
            "http://example.com/%2",
            "http://[::1/",
            "http://[x]/",
            "http://host:8o/",
            "1http://x",
            "caf\u{e9}://x",
        ] {
            assert!(!is_uri(not_uri) && !is_url(not_uri), "{not_uri}");
        }
        for reference in ["/relative", "a/b:c", "./a:b", "?q", "#f", "//host/x", ""] {
            assert!(
                is_uri_reference(reference) && !is_uri(reference),
                "{reference}"
            );
        }
        assert!(!is_uri_reference("a:b/c:d e") && !is_uri_reference("/a\\b"));
        assert!(is_url("http://example.com") && is_url("ftp://h:21") && is_url("http://10.0.0.1/"));
        assert!(is_url("http://[::1]/") && is_url("http://[2001:db8::1]:443"));
        assert!(!is_url("urn:isbn:0451450523") && !is_url("http:///x"));
        assert!(!is_url("http://%41.com/") && !is_url("http://[::1]x/"));
    }
}
