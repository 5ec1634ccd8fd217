//! Redaction of secrets before an exchange is stored.
//!
//! Recordings end up on disk, in Kafka and in bug reports, so credentials
//! must never reach them. [`Redactor::redact`] replaces the values of chosen
//! headers, query parameters, form fields and JSON body members with
//! placeholders.
//!
//! A placeholder is `hmt-redacted-` followed by the first 16 hex digits of
//! HMAC-SHA256 of the secret under a key that lives only as long as the
//! run. The same secret always gets the same placeholder within a run, so
//! a token that appears in many requests still matches across them when
//! mocks are built and replayed, yet the placeholder reveals nothing about
//! the secret, and placeholders from different runs cannot be correlated.
//!
//! What was redacted is listed in `meta.redacted`: sorted, deduplicated
//! locations such as `request.headers.authorization`,
//! `request.query.token`, `request.form.password` or
//! `response.body#/user/token` (a JSON pointer after the `#`); names only,
//! never values.
//!
//! Bodies are redacted as they are, so this runs after
//! [`decode`](crate::decode): a body that could not be content-decoded is
//! neither JSON nor a form and is left alone.
//!
//! ```
//! use hmt_record::redact::{RedactionRules, Redactor};
//! use hmt_types::{Exchange, Method, Request};
//!
//! let mut request = Request::new(Method::Get, "/orders?token=s3cret&page=2");
//! request.headers.append("Authorization", "Bearer abc123");
//! let mut exchange = Exchange { request, response: None, meta: Default::default() };
//!
//! let rules = RedactionRules {
//!     query: vec!["token".into()],
//!     ..RedactionRules::default()
//! };
//! let redactor = Redactor::new(rules, [7; 32]);
//! redactor.redact(&mut exchange);
//!
//! let line = exchange.to_json_line();
//! assert!(!line.contains("s3cret") && !line.contains("abc123"));
//! let auth = exchange.request.headers.get_ignore_case("authorization").unwrap();
//! assert_eq!(auth, format!("Bearer {}", redactor.placeholder("abc123")));
//! assert!(exchange.request.path().ends_with("&page=2"));
//! assert_eq!(
//!     exchange.meta["redacted"],
//!     serde_json::json!(["request.headers.authorization", "request.query.token"])
//! );
//! ```

use hmt_types::{Exchange, Fields};
use ring::hmac;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// The `meta` key listing what was redacted.
pub const REDACTED_META_KEY: &str = "redacted";

/// What to redact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactionRules {
    /// Header names, matched ignoring case, in requests and responses.
    pub headers: Vec<String>,
    /// Query parameter names, matched exactly; also applied to the fields
    /// of `application/x-www-form-urlencoded` bodies.
    pub query: Vec<String>,
    /// RFC 6901 JSON pointers (`/password`, `/items/0/secret`) into request
    /// and response bodies that are JSON. A pointer missing its leading `/`
    /// gets one.
    pub json_pointers: Vec<String>,
}

impl RedactionRules {
    /// The headers always redacted: `authorization`,
    /// `proxy-authorization`, `cookie`, `set-cookie` and `x-api-key`.
    pub fn default_headers() -> Vec<String> {
        [
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "x-api-key",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }
}

impl Default for RedactionRules {
    /// The [default headers](RedactionRules::default_headers), no query
    /// parameters, no JSON pointers.
    fn default() -> RedactionRules {
        RedactionRules {
            headers: RedactionRules::default_headers(),
            query: Vec::new(),
            json_pointers: Vec::new(),
        }
    }
}

/// Replaces secrets in exchanges with keyed placeholders; see the
/// [module docs](self).
pub struct Redactor {
    /// Lower-cased.
    headers: Vec<String>,
    query: Vec<String>,
    /// Normalised to start with `/` (or empty: the whole document).
    json_pointers: Vec<String>,
    key: hmac::Key,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("headers", &self.headers)
            .field("query", &self.query)
            .field("json_pointers", &self.json_pointers)
            .finish_non_exhaustive()
    }
}

/// Headers whose value starts with an authentication scheme worth keeping.
const SCHEME_HEADERS: [&str; 2] = ["authorization", "proxy-authorization"];

const PLACEHOLDER_PREFIX: &str = "hmt-redacted-";

impl Redactor {
    /// A redactor applying `rules`, with placeholders keyed by `key` (use
    /// a fresh random key per run).
    pub fn new(rules: RedactionRules, key: [u8; 32]) -> Redactor {
        let mut headers: Vec<String> = rules
            .headers
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        headers.sort();
        headers.dedup();
        let mut query = rules.query;
        query.sort();
        query.dedup();
        let mut json_pointers: Vec<String> = rules
            .json_pointers
            .into_iter()
            .map(|p| {
                if p.is_empty() || p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                }
            })
            .collect();
        json_pointers.dedup();
        Redactor {
            headers,
            query,
            json_pointers,
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        }
    }

    /// The placeholder for `secret`: `hmt-redacted-` and the first 16 hex
    /// digits of HMAC-SHA256(key, secret).
    pub fn placeholder(&self, secret: &str) -> String {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        let mut out = String::with_capacity(PLACEHOLDER_PREFIX.len() + 16);
        out.push_str(PLACEHOLDER_PREFIX);
        for b in tag.as_ref().iter().take(8) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Redacts `exchange` in place and lists what was redacted in
    /// `meta.redacted` (merged with a list already there).
    ///
    /// - Headers named in the rules, request and response: every value is
    ///   replaced; `Authorization` and `Proxy-Authorization` keep their
    ///   scheme (`Bearer hmt-redacted-…`).
    /// - Query parameters named in the rules: in `request.query`, in the
    ///   raw `request.query_string` and in the query of `request.url`; the
    ///   raw strings are rewritten in place, everything else byte for byte.
    /// - Form-urlencoded bodies: fields with those names, likewise.
    /// - JSON bodies: the value at each pointer, of any type, becomes the
    ///   placeholder string; a body changed so is re-serialised compactly.
    ///
    /// Empty values are left as they are. When a body changes, a
    /// `Content-Length` header is updated to its new length.
    pub fn redact(&self, exchange: &mut Exchange) {
        let mut redacted = BTreeSet::new();
        let request = &mut exchange.request;

        self.redact_headers(&mut request.headers, "request", &mut redacted);
        if let Some(response) = &mut exchange.response {
            self.redact_headers(&mut response.headers, "response", &mut redacted);
        }

        if !self.query.is_empty() {
            let mut hit = |name: &str| {
                redacted.insert(format!("request.query.{name}"));
            };
            if let Some(query) = self.redact_fields(&request.query, &mut hit) {
                request.query = query;
            }
            if let Some(qs) = &request.query_string
                && let Some(new) = self.redact_form_text(qs, &mut hit)
            {
                request.query_string = Some(new);
            }
            if let Some(url) = &request.url
                && let Some(new) = self.redact_url(url, &mut hit)
            {
                request.url = Some(new);
            }
        }

        if let Some(body) = self.redact_body(
            &request.headers,
            request.body.as_deref(),
            "request",
            &mut redacted,
        ) {
            set_body(&mut request.headers, &mut request.body, body);
        }
        if let Some(response) = &mut exchange.response
            && let Some(body) = self.redact_body(
                &response.headers,
                response.body.as_deref(),
                "response",
                &mut redacted,
            )
        {
            set_body(&mut response.headers, &mut response.body, body);
        }

        if redacted.is_empty() {
            return;
        }
        if let Some(Value::Array(existing)) = exchange.meta.get(REDACTED_META_KEY) {
            redacted.extend(existing.iter().filter_map(Value::as_str).map(String::from));
        }
        exchange.meta.insert(
            REDACTED_META_KEY.into(),
            Value::Array(redacted.into_iter().map(Value::String).collect()),
        );
    }

    fn redact_headers(&self, headers: &mut Fields, side: &str, redacted: &mut BTreeSet<String>) {
        if self.headers.is_empty() {
            return;
        }
        // Most exchanges carry none of the headers: check without allocating.
        let any = headers.iter().any(|(name, values)| {
            !values.iter().all(String::is_empty)
                && self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
        });
        if !any {
            return;
        }
        let mut changed = false;
        let entries: Vec<(String, Vec<String>)> = headers
            .iter()
            .map(|(name, values)| {
                let lower = name.to_ascii_lowercase();
                if !self.headers.contains(&lower) || values.iter().all(String::is_empty) {
                    return (name.to_owned(), values.to_vec());
                }
                changed = true;
                let keep_scheme = SCHEME_HEADERS.contains(&lower.as_str());
                let values = values
                    .iter()
                    .map(|v| self.redact_header_value(v, keep_scheme))
                    .collect();
                redacted.insert(format!("{side}.headers.{lower}"));
                (name.to_owned(), values)
            })
            .collect();
        if changed {
            *headers = Fields::from_entries(entries);
        }
    }

    fn redact_header_value(&self, value: &str, keep_scheme: bool) -> String {
        if value.is_empty() {
            return String::new();
        }
        if keep_scheme
            && let Some((scheme, credentials)) = value.split_once(' ')
            && !scheme.is_empty()
            && scheme.bytes().all(is_tchar)
        {
            let credentials = credentials.trim();
            if !credentials.is_empty() {
                return format!("{scheme} {}", self.placeholder(credentials));
            }
        }
        self.placeholder(value)
    }

    /// `fields` with the values of rule names replaced, when any were.
    fn redact_fields(&self, fields: &Fields, hit: &mut impl FnMut(&str)) -> Option<Fields> {
        let mut changed = false;
        let entries: Vec<(String, Vec<String>)> = fields
            .iter()
            .map(|(name, values)| {
                if !self.query.iter().any(|q| q == name) || values.iter().all(String::is_empty) {
                    return (name.to_owned(), values.to_vec());
                }
                changed = true;
                hit(name);
                let values = values
                    .iter()
                    .map(|v| {
                        if v.is_empty() {
                            String::new()
                        } else {
                            self.placeholder(v)
                        }
                    })
                    .collect();
                (name.to_owned(), values)
            })
            .collect();
        changed.then(|| Fields::from_entries(entries))
    }

    /// Rewrites the values of rule names in a raw `a=1&b=2` string, keeping
    /// every other byte; `None` when nothing matched.
    fn redact_form(&self, raw: &[u8], hit: &mut impl FnMut(&str)) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(raw.len());
        let mut changed = false;
        for (i, pair) in raw.split(|&b| b == b'&').enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            let redacted = pair.iter().position(|&b| b == b'=').and_then(|eq| {
                let (name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
                if value.is_empty() {
                    return None;
                }
                let name = hmt_types::decode_form_component(name);
                if !self.query.contains(&name) {
                    return None;
                }
                hit(&name);
                Some((
                    eq,
                    self.placeholder(&hmt_types::decode_form_component(value)),
                ))
            });
            match redacted {
                Some((eq, placeholder)) => {
                    changed = true;
                    out.extend_from_slice(pair.get(..=eq).unwrap_or_default());
                    out.extend_from_slice(placeholder.as_bytes());
                }
                None => out.extend_from_slice(pair),
            }
        }
        changed.then_some(out)
    }

    fn redact_form_text(&self, raw: &str, hit: &mut impl FnMut(&str)) -> Option<String> {
        let out = self.redact_form(raw.as_bytes(), hit)?;
        // Only ASCII was put in place of whole `&`-separated values, so the
        // text stays UTF-8.
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    fn redact_url(&self, url: &str, hit: &mut impl FnMut(&str)) -> Option<String> {
        let end = url.find('#').unwrap_or(url.len());
        let start = url.get(..end)?.find('?')? + 1;
        let query = url.get(start..end)?;
        let new = self.redact_form_text(query, hit)?;
        Some(format!(
            "{}{new}{}",
            url.get(..start)?,
            url.get(end..).unwrap_or_default()
        ))
    }

    /// The body with form fields and JSON pointers redacted, when anything
    /// was.
    fn redact_body(
        &self,
        headers: &Fields,
        body: Option<&[u8]>,
        side: &str,
        redacted: &mut BTreeSet<String>,
    ) -> Option<Vec<u8>> {
        let body = body.filter(|b| !b.is_empty())?;
        if !self.query.is_empty() && is_form(headers) {
            return self.redact_form(body, &mut |name: &str| {
                redacted.insert(format!("{side}.form.{name}"));
            });
        }
        if self.json_pointers.is_empty() {
            return None;
        }
        let mut json: Value = serde_json::from_slice(body).ok()?;
        let mut changed = false;
        for pointer in &self.json_pointers {
            if let Some(value) = json.pointer_mut(pointer) {
                let secret = match &mut *value {
                    Value::String(s) => std::mem::take(s),
                    other => other.to_string(),
                };
                *value = Value::String(self.placeholder(&secret));
                redacted.insert(format!("{side}.body#{pointer}"));
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        // Serialising a `Value` cannot fail; should it, nothing of the
        // body is kept rather than a secret.
        Some(serde_json::to_vec(&json).unwrap_or_else(|_| self.placeholder("").into_bytes()))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn set_body(headers: &mut Fields, body: &mut Option<Vec<u8>>, new: Vec<u8>) {
    if !headers.get_all_ignore_case("content-length").is_empty() {
        headers.set_ignore_case("content-length", new.len().to_string());
    }
    *body = Some(new);
}

fn is_form(headers: &Fields) -> bool {
    headers.get_ignore_case("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// RFC 9110 `tchar`, the characters of an authentication scheme name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmt_types::{Method, Request, Response};
    use serde_json::json;

    const KEY: [u8; 32] = [42; 32];

    fn rules() -> RedactionRules {
        RedactionRules {
            headers: {
                let mut h = RedactionRules::default_headers();
                h.push("X-Session".into());
                h
            },
            query: vec!["access_token".into(), "password".into()],
            json_pointers: vec![
                "/password".into(),
                "/user/token".into(),
                "/items/0/secret".into(),
                "pin".into(),
                "/a~1b".into(),
            ],
        }
    }

    fn exchange(request: Request, response: Option<Response>) -> Exchange {
        Exchange {
            request,
            response,
            meta: Default::default(),
        }
    }

    fn redacted_list(exchange: &Exchange) -> Vec<&str> {
        exchange.meta[REDACTED_META_KEY]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    fn assert_gone(exchange: &Exchange, secrets: &[&str]) {
        let line = exchange.to_json_line();
        for secret in secrets {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
    }

    #[test]
    fn headers_on_both_sides_any_case() {
        let mut request = Request::new(Method::Get, "/");
        request.headers.append("AUTHORIZATION", "Bearer tok-AAA");
        request
            .headers
            .append("Cookie", "sid=cookie-BBB; theme=dark");
        request.headers.append("x-session", "sess-CCC");
        request.headers.append("Accept", "application/json");
        let mut response = Response::new(200);
        response.headers.append("Set-Cookie", "sid=cookie-DDD");
        response.headers.append("Set-Cookie", "other=cookie-EEE");
        response
            .headers
            .append("Proxy-Authorization", "Basic dXNlcjpwYXNz");
        let mut exchange = exchange(request, Some(response));

        let redactor = Redactor::new(rules(), KEY);
        redactor.redact(&mut exchange);

        assert_gone(
            &exchange,
            &[
                "tok-AAA",
                "cookie-BBB",
                "sess-CCC",
                "cookie-DDD",
                "cookie-EEE",
                "dXNlcjpwYXNz",
            ],
        );
        let h = &exchange.request.headers;
        assert_eq!(
            h.get("AUTHORIZATION"),
            Some(format!("Bearer {}", redactor.placeholder("tok-AAA")).as_str())
        );
        assert_eq!(
            h.get("Cookie"),
            Some(redactor.placeholder("sid=cookie-BBB; theme=dark").as_str())
        );
        assert_eq!(h.get("Accept"), Some("application/json"));
        let r = &exchange.response.as_ref().unwrap().headers;
        assert_eq!(r.get_all("Set-Cookie").len(), 2);
        assert!(
            r.get("Proxy-Authorization")
                .unwrap()
                .starts_with("Basic hmt-redacted-")
        );
        assert_eq!(
            redacted_list(&exchange),
            [
                "request.headers.authorization",
                "request.headers.cookie",
                "request.headers.x-session",
                "response.headers.proxy-authorization",
                "response.headers.set-cookie",
            ]
        );
    }

    #[test]
    fn authorization_without_scheme_is_redacted_whole() {
        let mut request = Request::new(Method::Get, "/");
        request.headers.append("Authorization", "rawkey123");
        let mut exchange = exchange(request, None);
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        redactor.redact(&mut exchange);
        assert_eq!(
            exchange.request.headers.get("Authorization"),
            Some(redactor.placeholder("rawkey123").as_str())
        );
    }

    #[test]
    fn query_in_all_three_places() {
        let mut request = Request::new(
            Method::Get,
            "/cb?x=1&access_token=tok%2DQQQ&password=&y=a+b&password=pw-RRR&%zz",
        );
        request.url = Some(
            "https://api.example.com/cb?x=1&access_token=tok%2DQQQ&password=&y=a+b&password=pw-RRR&%zz#frag"
                .into(),
        );
        let mut exchange = exchange(request, None);
        let redactor = Redactor::new(rules(), KEY);
        redactor.redact(&mut exchange);

        assert_gone(&exchange, &["QQQ", "RRR"]);
        let tok = redactor.placeholder("tok-QQQ");
        let pw = redactor.placeholder("pw-RRR");
        let expected_query = format!("x=1&access_token={tok}&password=&y=a+b&password={pw}&%zz");
        let r = &exchange.request;
        assert_eq!(r.query_string.as_deref(), Some(expected_query.as_str()));
        assert_eq!(
            r.url.as_deref(),
            Some(format!("https://api.example.com/cb?{expected_query}#frag").as_str())
        );
        assert_eq!(r.query.get("access_token"), Some(tok.as_str()));
        assert_eq!(r.query.get_all("password"), [String::new(), pw]);
        assert_eq!(r.query.get("y"), Some("a b"));
        assert_eq!(
            redacted_list(&exchange),
            ["request.query.access_token", "request.query.password"]
        );
    }

    #[test]
    fn query_names_are_exact() {
        let request = Request::new(Method::Get, "/?Access_Token=keep&access_token2=keep2");
        let mut exchange = exchange(request, None);
        Redactor::new(rules(), KEY).redact(&mut exchange);
        assert_eq!(
            exchange.request.query_string.as_deref(),
            Some("Access_Token=keep&access_token2=keep2")
        );
        assert!(exchange.meta.is_empty());
    }

    #[test]
    fn json_pointers_in_both_bodies() {
        let mut request = Request::new(Method::Post, "/login");
        request.headers.append("Content-Type", "application/json");
        request.headers.append("Content-Length", "999");
        request.body = Some(
            br#"{ "user": {"name": "ann", "token": "tok-JJJ"}, "password": "pw-KKK", "pin": 918273, "a/b": "slash-MMM" }"#
                .to_vec(),
        );
        let mut response = Response::new(200);
        response.body =
            Some(br#"{"items":[{"secret":{"deep":"sec-LLL"}},{"secret":"keep"}],"z":1}"#.to_vec());
        let mut exchange = exchange(request, Some(response));
        let redactor = Redactor::new(rules(), KEY);
        redactor.redact(&mut exchange);

        assert_gone(&exchange, &["JJJ", "KKK", "918273", "LLL", "MMM"]);
        let body: Value =
            serde_json::from_slice(exchange.request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "user": {"name": "ann", "token": redactor.placeholder("tok-JJJ")},
                "password": redactor.placeholder("pw-KKK"),
                "pin": redactor.placeholder("918273"),
                "a/b": redactor.placeholder("slash-MMM"),
            })
        );
        // Compact, keys in their original order.
        let text = exchange.request.body_text().unwrap();
        assert!(text.starts_with(r#"{"user":{"name":"ann","token":"hmt-redacted-"#));
        assert_eq!(
            exchange.request.headers.get("Content-Length"),
            Some(text.len().to_string().as_str())
        );
        let response_body = exchange.response.as_ref().unwrap().body_text().unwrap();
        assert_eq!(
            response_body,
            format!(
                r#"{{"items":[{{"secret":"{}"}},{{"secret":"keep"}}],"z":1}}"#,
                redactor.placeholder(r#"{"deep":"sec-LLL"}"#)
            )
        );
        assert_eq!(
            redacted_list(&exchange),
            [
                "request.body#/a~1b",
                "request.body#/password",
                "request.body#/pin",
                "request.body#/user/token",
                "response.body#/items/0/secret",
            ]
        );
    }

    #[test]
    fn non_json_body_and_missing_pointers_are_left_alone() {
        let original = b"password=not-json {\"password\":1".to_vec();
        let mut request = Request::new(Method::Post, "/");
        request.body = Some(original.clone());
        let mut response = Response::new(200);
        response.body = Some(br#"{ "other" : 1 }"#.to_vec());
        let mut exchange = exchange(request, Some(response));
        Redactor::new(rules(), KEY).redact(&mut exchange);
        assert_eq!(exchange.request.body, Some(original));
        // Untouched byte for byte, not even re-serialised.
        assert_eq!(
            exchange.response.unwrap().body.as_deref(),
            Some(&br#"{ "other" : 1 }"#[..])
        );
        assert!(exchange.meta.is_empty());
    }

    #[test]
    fn form_fields() {
        let mut request = Request::new(Method::Post, "/login");
        request.headers.append(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
        );
        request.body = Some(b"user=ann&password=hunter%32%32&remember=1".to_vec());
        let mut exchange = exchange(request, None);
        let redactor = Redactor::new(rules(), KEY);
        redactor.redact(&mut exchange);
        assert_gone(&exchange, &["hunter"]);
        assert_eq!(
            exchange.request.body_text().unwrap(),
            format!(
                "user=ann&password={}&remember=1",
                redactor.placeholder("hunter22")
            )
        );
        assert_eq!(redacted_list(&exchange), ["request.form.password"]);
    }

    #[test]
    fn same_secret_same_placeholder_and_keys_differ() {
        let a = Redactor::new(rules(), KEY);
        let b = Redactor::new(rules(), [1; 32]);
        let p = a.placeholder("secret");
        assert_eq!(p, a.placeholder("secret"));
        assert_ne!(p, a.placeholder("secret2"));
        assert_ne!(p, b.placeholder("secret"));
        assert!(p.starts_with("hmt-redacted-"));
        assert_eq!(p.len(), "hmt-redacted-".len() + 16);
        assert!(p["hmt-redacted-".len()..].bytes().all(|c| HEX.contains(&c)));

        // The same token in a header, a query parameter and a JSON body.
        let mut request = Request::new(Method::Post, "/?access_token=tok-SAME");
        request.headers.append("Authorization", "Bearer tok-SAME");
        request.body = Some(br#"{"password":"tok-SAME"}"#.to_vec());
        let mut first = exchange(request.clone(), None);
        let mut second = exchange(request, None);
        a.redact(&mut first);
        a.redact(&mut second);
        assert_eq!(first, second);
        let line = first.to_json_line();
        assert_eq!(line.matches(&a.placeholder("tok-SAME")).count(), 4);
    }

    #[test]
    fn meta_list_merges_with_an_existing_one() {
        let mut request = Request::new(Method::Get, "/");
        request.headers.append("Cookie", "c=1");
        let mut exchange = exchange(request, None);
        exchange
            .meta
            .insert("redacted".into(), json!(["request.headers.cookie", "zz"]));
        Redactor::new(RedactionRules::default(), KEY).redact(&mut exchange);
        assert_eq!(redacted_list(&exchange), ["request.headers.cookie", "zz"]);
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let text = format!("{:?}", Redactor::new(RedactionRules::default(), KEY));
        assert!(text.contains("authorization") && !text.contains("42"));
    }
}
