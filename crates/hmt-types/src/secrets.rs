//! Which header names, query parameter names and body field names carry
//! secrets.
//!
//! Two verbs act on this knowledge: `hmt record` replaces such values with
//! placeholders before a recording reaches disk or Kafka, and `hmt build`
//! keeps them out of specs, examples and replay data. Both ask these
//! functions, so a name one of them treats as a secret is a secret for the
//! other too.
//!
//! Names are compared the way people vary them: ignoring ASCII case and the
//! `-` and `_` separators, so `access_token`, `accessToken` and
//! `Access-Token` are one name. Matching is exact otherwise (`tokenType`
//! and `token_count` are not secrets): a list that also caught every name
//! merely containing `token` would blank out data that mocks need.
//!
//! ```
//! use hmt_types::secrets::{is_secret_field, is_secret_header, is_secret_query};
//! assert!(is_secret_header("X-Auth-Token"));
//! assert!(is_secret_header("Set-Cookie"));
//! assert!(!is_secret_header("X-Request-Id"));
//! assert!(is_secret_query("api_key"));
//! assert!(is_secret_field("refreshToken"));
//! assert!(!is_secret_field("tokenType"));
//! ```

/// Field names (lower-case, without `_` and `-`) whose values are secrets,
/// wherever they appear: JSON members at any depth, form fields, query
/// parameters, and (with an optional `x-` in front) headers.
///
/// Passwords, API keys, OAuth/OIDC tokens (access, refresh, id), client
/// secrets and private keys: the credentials that APIs exchange in login,
/// token and key-management calls.
pub const SECRET_FIELDS: &[&str] = &[
    "accesstoken",
    "apikey",
    "authtoken",
    "clientsecret",
    "idtoken",
    "passwd",
    "password",
    "privatekey",
    "refreshtoken",
    "secret",
    "token",
];

/// Headers that carry credentials by their definition in HTTP
/// (lower-case): the client's credentials for the origin and for a proxy
/// (RFC 9110 §11.6.2, §11.7.2) and session cookies in both directions
/// (RFC 6265).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Query parameters that are secrets although [`SECRET_FIELDS`] does not
/// name them: `key` alone says little in a JSON body, but in a query string
/// it is how many APIs (Google's among them) take an API key.
pub const SECRET_QUERY_EXTRA: &[&str] = &["key"];

/// The longest name considered: secret names are short, and a bound keeps
/// the check allocation-free on hostile input.
const MAX_NAME: usize = 32;

/// `name` lower-cased without `-` and `_`, when it is short enough to be a
/// secret name.
struct Normalised {
    bytes: [u8; MAX_NAME],
    len: usize,
}

impl Normalised {
    fn new(name: &str) -> Option<Normalised> {
        if name.len() > MAX_NAME {
            return None;
        }
        let mut bytes = [0u8; MAX_NAME];
        let mut len = 0;
        for b in name.bytes().filter(|b| *b != b'-' && *b != b'_') {
            // `len < name.len() <= MAX_NAME`, so this never skips a byte.
            if let Some(slot) = bytes.get_mut(len) {
                *slot = b.to_ascii_lowercase();
                len += 1;
            }
        }
        Some(Normalised { bytes, len })
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn is_secret_field(&self) -> bool {
        let name = self.as_bytes();
        SECRET_FIELDS.iter().any(|f| f.as_bytes() == name)
    }
}

/// Whether a field name says its value is a secret: `password`,
/// `access_token`, `refreshToken`, `client-secret`, ... (see
/// [`SECRET_FIELDS`]). Used for JSON members at any depth and for the
/// fields of `application/x-www-form-urlencoded` bodies.
///
/// ```
/// use hmt_types::secrets::is_secret_field;
/// assert!(is_secret_field("refreshToken"));
/// assert!(is_secret_field("client_secret"));
/// assert!(!is_secret_field("tokenType"));
/// ```
pub fn is_secret_field(name: &str) -> bool {
    Normalised::new(name).is_some_and(|n| n.is_secret_field())
}

/// Whether a header carries an API key or token, as `X-API-Key`,
/// `Api-Key`, `X-Auth-Token`, `X-Access-Token`, `X-Goog-Api-Key` or
/// `X-Authorization` do.
///
/// That is: the name, normalised as for [`is_secret_field`] and with an
/// `x-` prefix dropped, is a [secret name](SECRET_FIELDS) or
/// `authorization`, or it ends in `-api-key` / `_api_key`. The
/// [standard credential headers](CREDENTIAL_HEADERS) are not API-key
/// headers: [`is_secret_header`] covers both.
pub fn is_api_key_header(name: &str) -> bool {
    // Vendors put their own name in front of `api-key`; the separator
    // before it keeps `rapikey`-like words out.
    let ends_with = |suffix: &str| {
        name.len() >= suffix.len()
            && name
                .as_bytes()
                .get(name.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
    };
    if ends_with("-api-key") || ends_with("_api_key") {
        return true;
    }
    let Some(normalised) = Normalised::new(name) else {
        return false;
    };
    if normalised.is_secret_field() {
        return true;
    }
    let has_x_prefix = name.len() > 2
        && name
            .as_bytes()
            .first()
            .is_some_and(|b| b.eq_ignore_ascii_case(&b'x'))
        && matches!(name.as_bytes().get(1), Some(b'-' | b'_'));
    // `X-Authorization` but not `Authorization`, which is a credential
    // header of its own (and `hmt build` documents its scheme).
    has_x_prefix
        && name
            .get(2..)
            .and_then(Normalised::new)
            .is_some_and(|n| n.is_secret_field() || n.as_bytes() == b"authorization")
}

/// Whether a header's values are secrets: a [credential
/// header](CREDENTIAL_HEADERS) or an [API-key header](is_api_key_header).
/// Case is ignored.
pub fn is_secret_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || is_api_key_header(name)
}

/// Whether a query parameter carries an API key, token or password: a
/// [secret name](SECRET_FIELDS) (`api_key`, `access_token`, `token`,
/// `password`, ...) or `key`.
pub fn is_secret_query(name: &str) -> bool {
    is_secret_field(name)
        || SECRET_QUERY_EXTRA
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name))
}

/// Fragments one of which every [secret name](SECRET_FIELDS) contains.
const NEEDLES: [&[u8]; 4] = [b"pass", b"secret", b"token", b"key"];

/// Whether bytes might hold a secret field, checked before parsing: most
/// bodies don't, and parsing every body to find out would be slow.
///
/// It errs on the side of yes. A fragment of a secret name is looked for
/// ignoring case and the separators [`is_secret_field`] ignores (so
/// `pass_word` is found), and any JSON `\u` escape counts, since
/// `"\u0070assword"` is a `password` member once parsed.
///
/// ```
/// use hmt_types::secrets::may_hold_secrets;
/// assert!(may_hold_secrets(br#"{"Pass_Word":"x"}"#));
/// assert!(may_hold_secrets(br#"{"\u0074oken":"x"}"#));
/// assert!(!may_hold_secrets(br#"{"name":"ada","items":[1,2]}"#));
/// ```
pub fn may_hold_secrets(body: &[u8]) -> bool {
    // This runs on every recorded JSON body, so a byte that starts no
    // needle must cost one table look-up; a candidate is then tried against
    // the one needle its letter starts, its next letter first.
    for (start, &first) in body.iter().enumerate() {
        let class = NEEDLE_START[usize::from(first)];
        if class == 0 {
            continue;
        }
        if class == ESCAPE {
            if body.get(start + 1) == Some(&b'u') {
                return true;
            }
            continue;
        }
        let needle = NEEDLES[usize::from(class - 1)];
        let next_may_match = body
            .get(start + 1)
            .is_some_and(|b| b.eq_ignore_ascii_case(&needle[1]) || *b == b'-' || *b == b'_');
        if next_may_match && matches_ignoring_separators(body, start, needle) {
            return true;
        }
    }
    false
}

/// [`NEEDLE_START`]'s mark for `\`, which may start a `\u` escape.
const ESCAPE: u8 = u8::MAX;

/// For each byte: 0 if it starts no needle, else 1 + the index in
/// [`NEEDLES`] of the needle it starts (either case), or [`ESCAPE`].
const NEEDLE_START: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < NEEDLES.len() {
        let first = NEEDLES[i][0];
        table[first as usize] = i as u8 + 1;
        table[first.to_ascii_uppercase() as usize] = i as u8 + 1;
        i += 1;
    }
    table[b'\\' as usize] = ESCAPE;
    table
};

/// Whether `needle` starts at `body[start]`, ignoring ASCII case and any
/// `-`/`_` between its letters.
fn matches_ignoring_separators(body: &[u8], start: usize, needle: &[u8]) -> bool {
    let mut rest = body.get(start..).unwrap_or_default().iter();
    let mut first = true;
    for want in needle {
        let got = if first {
            rest.next()
        } else {
            rest.by_ref().find(|b| **b != b'-' && **b != b'_')
        };
        first = false;
        if !got.is_some_and(|b| b.eq_ignore_ascii_case(want)) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_name_contains_a_needle() {
        // Otherwise `may_hold_secrets` would wave through a body holding it.
        let firsts: Vec<u8> = NEEDLES.iter().filter_map(|n| n.first().copied()).collect();
        assert_eq!(firsts, b"pstk");
        for name in SECRET_FIELDS.iter().chain(SECRET_QUERY_EXTRA) {
            assert!(
                NEEDLES
                    .iter()
                    .any(|n| name.as_bytes().windows(n.len()).any(|w| w == *n)),
                "{name}"
            );
            assert!(may_hold_secrets(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn field_names_ignore_case_and_separators_only() {
        for name in [
            "password",
            "PASSWORD",
            "pass_word",
            "access_token",
            "accessToken",
            "Access-Token",
            "api_key",
            "apiKey",
            "client_secret",
            "id_token",
            "private_key",
            "refresh-token",
            "secret",
            "token",
            "passwd",
            "auth_token",
        ] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in [
            "tokenType",
            "token_count",
            "key",
            "secretary",
            "user",
            "",
            "password_hint_that_is_much_longer_than_32",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn headers_hmt_build_always_took_for_api_keys_still_are() {
        for name in [
            "api-key",
            "apikey",
            "x-access-token",
            "x-api-key",
            "X-API-KEY",
            "x-apikey",
            "x-auth-token",
            "X-Auth-Token",
            "x-authorization",
            "x-token",
            "x-goog-api-key",
            "my_service_api_key",
        ] {
            assert!(is_api_key_header(name), "{name}");
            assert!(is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn secret_headers_are_credentials_and_secret_names() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "set-cookie",
            "Access-Token",
            "X-Client-Secret",
            "X-Refresh-Token",
            "x_api_key",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in [
            "content-type",
            "x-request-id",
            "x-csrf-token",
            "x-ratelimit-limit",
            "keep-alive",
            "x",
            "x-",
        ] {
            assert!(!is_secret_header(name), "{name}");
        }
        // The standard ones are credentials, not API keys.
        assert!(!is_api_key_header("authorization"));
        assert!(!is_api_key_header("cookie"));
    }

    #[test]
    fn query_parameters() {
        for name in [
            "access_token",
            "api-key",
            "api_key",
            "apikey",
            "auth_token",
            "key",
            "KEY",
            "token",
            "password",
            "client_secret",
        ] {
            assert!(is_secret_query(name), "{name}");
        }
        for name in ["page", "keyword", "q", "token_type"] {
            assert!(!is_secret_query(name), "{name}");
        }
    }

    #[test]
    fn bodies_without_a_needle_are_skipped() {
        assert!(!may_hold_secrets(b""));
        assert!(!may_hold_secrets(br#"{"name":"ada","tags":["a","b"]}"#));
        assert!(may_hold_secrets(b"user=ada&PASSWORD=x"));
        assert!(may_hold_secrets(br#"{"s-e-c-r-e-t":1}"#));
        assert!(!may_hold_secrets(b"kkk...ke"));
        assert!(may_hold_secrets(b"ke_y"));
    }
}
