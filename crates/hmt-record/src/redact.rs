//! Redaction of secrets before an exchange is stored.
//!
//! Recordings end up on disk, in Kafka and in bug reports, so credentials
//! must never reach them. [`Redactor::redact`] replaces the values of
//! headers, query parameters, form fields and JSON body members with
//! placeholders: by default every one whose name [`hmt_types::secrets`]
//! calls a secret (the names `hmt build` keeps out of specs, so the two
//! verbs never disagree), and whatever else the rules name.
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
//! `response.body#/user/token` (a JSON pointer after the `#`), or
//! `response.body` for secret members too many or too deep in one body to
//! name each; names only, never values.
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
//! // `token` and `Authorization` are secrets by default; `page` is not.
//! let redactor = Redactor::new(RedactionRules::default(), [7; 32]);
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

use hmt_types::secrets::{is_secret_field, is_secret_header, is_secret_query, may_hold_secrets};
use hmt_types::{Exchange, Fields};
use ring::hmac;
use serde_json::Value;
use std::borrow::Cow;
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
    /// Also redact, in requests and responses, what [`hmt_types::secrets`]
    /// names: [secret headers](hmt_types::secrets::is_secret_header)
    /// (`Authorization`, `Cookie`, `X-Api-Key`, `X-Auth-Token`, ...),
    /// [secret query parameters](hmt_types::secrets::is_secret_query)
    /// (`api_key`, `access_token`, `token`, ...), and [secret
    /// fields](hmt_types::secrets::is_secret_field) (`password`,
    /// `access_token`, `client_secret`, ...) of form bodies and of JSON
    /// bodies at any depth.
    pub secret_names: bool,
}

impl Default for RedactionRules {
    /// The [secret names](RedactionRules::secret_names) and nothing else.
    fn default() -> RedactionRules {
        RedactionRules {
            headers: Vec::new(),
            query: Vec::new(),
            json_pointers: Vec::new(),
            secret_names: true,
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
    secret_names: bool,
    key: hmac::Key,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("headers", &self.headers)
            .field("query", &self.query)
            .field("json_pointers", &self.json_pointers)
            .field("secret_names", &self.secret_names)
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
            secret_names: rules.secret_names,
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
    /// - Headers named in the rules or secret by name, request and
    ///   response: every value is replaced; `Authorization` and
    ///   `Proxy-Authorization` keep their scheme (`Bearer hmt-redacted-…`).
    /// - Query parameters named in the rules or secret by name: in
    ///   `request.query`, in the raw `request.query_string` and in the
    ///   query of `request.url`; the raw strings are rewritten in place,
    ///   everything else byte for byte. Names are compared percent-decoded.
    /// - Form-urlencoded bodies: fields named in the query rules or secret
    ///   by name, likewise.
    /// - JSON bodies: the value of every member with a secret name, at any
    ///   depth and of any type (a whole object too), becomes the
    ///   placeholder string, the rest of the body staying byte for byte;
    ///   this works on bodies that do not parse (cut off at
    ///   `max_body_bytes`, or nested deeper than a parser goes). Then the
    ///   value at each rule pointer is replaced likewise, and a body
    ///   changed by a pointer is re-serialised compactly.
    ///
    /// Empty values and JSON `null` are left as they are: they hide
    /// nothing. When a body changes, a `Content-Length` header is updated
    /// to its new length.
    pub fn redact(&self, exchange: &mut Exchange) {
        let mut redacted = BTreeSet::new();
        let request = &mut exchange.request;

        self.redact_headers(&mut request.headers, "request", &mut redacted);
        if let Some(response) = &mut exchange.response {
            self.redact_headers(&mut response.headers, "response", &mut redacted);
        }

        if !self.query.is_empty() || self.secret_names {
            let is_secret = |name: &str| self.is_secret_query(name);
            let mut hit = |name: &str| {
                redacted.insert(format!("request.query.{name}"));
            };
            if let Some(query) = self.redact_fields(&request.query, is_secret, &mut hit) {
                request.query = query;
            }
            if let Some(qs) = &request.query_string
                && let Some(new) = self.redact_form_text(qs, is_secret, &mut hit)
            {
                request.query_string = Some(new);
            }
            if let Some(url) = &request.url
                && let Some(new) = self.redact_url(url, is_secret, &mut hit)
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

    fn is_secret_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            || (self.secret_names && is_secret_header(name))
    }

    fn is_secret_query(&self, name: &str) -> bool {
        self.query.iter().any(|q| q == name) || (self.secret_names && is_secret_query(name))
    }

    fn is_secret_form_field(&self, name: &str) -> bool {
        self.query.iter().any(|q| q == name) || (self.secret_names && is_secret_field(name))
    }

    fn redact_headers(&self, headers: &mut Fields, side: &str, redacted: &mut BTreeSet<String>) {
        // Most exchanges carry none of the headers: check without allocating.
        let any = headers.iter().any(|(name, values)| {
            !values.iter().all(String::is_empty) && self.is_secret_header(name)
        });
        if !any {
            return;
        }
        let mut changed = false;
        let entries: Vec<(String, Vec<String>)> = headers
            .iter()
            .map(|(name, values)| {
                if !self.is_secret_header(name) || values.iter().all(String::is_empty) {
                    return (name.to_owned(), values.to_vec());
                }
                let lower = name.to_ascii_lowercase();
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

    /// `fields` with the values of secret names replaced, when any were.
    fn redact_fields(
        &self,
        fields: &Fields,
        is_secret: impl Fn(&str) -> bool,
        hit: &mut impl FnMut(&str),
    ) -> Option<Fields> {
        let mut changed = false;
        let entries: Vec<(String, Vec<String>)> = fields
            .iter()
            .map(|(name, values)| {
                if !is_secret(name) || values.iter().all(String::is_empty) {
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

    /// Rewrites the values of secret names in a raw `a=1&b=2` string,
    /// keeping every other byte; `None` when nothing matched.
    fn redact_form(
        &self,
        raw: &[u8],
        is_secret: impl Fn(&str) -> bool,
        hit: &mut impl FnMut(&str),
    ) -> Option<Vec<u8>> {
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
                if !is_secret(&name) {
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

    fn redact_form_text(
        &self,
        raw: &str,
        is_secret: impl Fn(&str) -> bool,
        hit: &mut impl FnMut(&str),
    ) -> Option<String> {
        let out = self.redact_form(raw.as_bytes(), is_secret, hit)?;
        // Only ASCII was put in place of whole `&`-separated values, so the
        // text stays UTF-8.
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    fn redact_url(
        &self,
        url: &str,
        is_secret: impl Fn(&str) -> bool,
        hit: &mut impl FnMut(&str),
    ) -> Option<String> {
        let end = url.find('#').unwrap_or(url.len());
        let start = url.get(..end)?.find('?')? + 1;
        let query = url.get(start..end)?;
        let new = self.redact_form_text(query, is_secret, hit)?;
        Some(format!(
            "{}{new}{}",
            url.get(..start)?,
            url.get(end..).unwrap_or_default()
        ))
    }

    /// The body with form fields, secret JSON members and JSON pointers
    /// redacted, when anything was.
    fn redact_body(
        &self,
        headers: &Fields,
        body: Option<&[u8]>,
        side: &str,
        redacted: &mut BTreeSet<String>,
    ) -> Option<Vec<u8>> {
        let body = body.filter(|b| !b.is_empty())?;
        if is_form(headers) {
            if self.query.is_empty() && !self.secret_names {
                return None;
            }
            return self.redact_form(
                body,
                |name| self.is_secret_form_field(name),
                &mut |name: &str| {
                    redacted.insert(format!("{side}.form.{name}"));
                },
            );
        }
        let mut current = Cow::Borrowed(body);
        let mut changed = false;
        if self.secret_names
            && looks_like_json(body)
            && may_hold_secrets(body)
            && let Some(new) = self.redact_secret_members(body, side, redacted)
        {
            current = Cow::Owned(new);
            changed = true;
        }
        if self.json_pointers.is_empty() {
            return changed.then(|| current.into_owned());
        }
        let Ok(mut json) = serde_json::from_slice::<Value>(&current) else {
            return changed.then(|| current.into_owned());
        };
        let mut pointed = false;
        for pointer in &self.json_pointers {
            let location = format!("{side}.body#{pointer}");
            // Already replaced as a secret member: a placeholder of the
            // placeholder would break matching across exchanges.
            if redacted.contains(&location) {
                continue;
            }
            if let Some(value) = json.pointer_mut(pointer) {
                let secret = match &mut *value {
                    Value::String(s) => std::mem::take(s),
                    other => other.to_string(),
                };
                *value = Value::String(self.placeholder(&secret));
                redacted.insert(location);
                pointed = true;
            }
        }
        if !pointed {
            return changed.then(|| current.into_owned());
        }
        // Serialising a `Value` cannot fail; should it, nothing of the
        // body is kept rather than a secret.
        Some(serde_json::to_vec(&json).unwrap_or_else(|_| self.placeholder("").into_bytes()))
    }

    /// Replaces the value of every member with a [secret
    /// name](is_secret_field) in JSON text, at any depth, and lists each as
    /// `{side}.body#/json/pointer`; `None` when there was none.
    ///
    /// A scan over the text rather than a parse: a body cut off at
    /// `max_body_bytes`, or nested deeper than a parser's recursion limit,
    /// would otherwise not parse and keep its secrets. It needs no more
    /// than the text's structure: a string followed by `:` inside an
    /// object is a member name; its value runs to the end of the string,
    /// the matching bracket or the next delimiter (or to the end of the
    /// text, when cut off). Everything else stays byte for byte.
    fn redact_secret_members(
        &self,
        body: &[u8],
        side: &str,
        redacted: &mut BTreeSet<String>,
    ) -> Option<Vec<u8>> {
        // Where the scan is: per open container, the range of the current
        // member name (objects) or the element index (arrays).
        let mut path: Vec<Step> = Vec::new();
        let mut out = Vec::new();
        let mut copied = 0;
        let mut listed = 0;
        let mut i = 0;
        while let Some(&byte) = body.get(i) {
            match byte {
                b'{' => path.push(Step::Member(None)),
                b'[' => path.push(Step::Index(0)),
                b'}' | b']' => {
                    path.pop();
                }
                b',' => match path.last_mut() {
                    Some(Step::Index(n)) => *n += 1,
                    Some(Step::Member(name)) => *name = None,
                    None => {}
                },
                b'"' => {
                    let end = string_end(body, i);
                    let colon = skip_whitespace(body, end);
                    let Some(Step::Member(current)) = path.last_mut() else {
                        i = end;
                        continue;
                    };
                    if body.get(colon) != Some(&b':') {
                        i = end;
                        continue;
                    }
                    let raw_name = body.get(i..end).unwrap_or_default();
                    let value_start = skip_whitespace(body, colon + 1);
                    if !decode_json_string(raw_name).is_some_and(|n| is_secret_field(&n)) {
                        *current = Some((i, end));
                        i = value_start;
                        continue;
                    }
                    let value_end = json_value_end(body, value_start);
                    if let Some(secret) = secret_text(body.get(value_start..value_end)) {
                        out.extend_from_slice(body.get(copied..value_start).unwrap_or_default());
                        out.push(b'"');
                        out.extend_from_slice(self.placeholder(&secret).as_bytes());
                        out.push(b'"');
                        copied = value_end;
                        if listed < MAX_LISTED_MEMBERS && path.len() < MAX_LISTED_DEPTH {
                            listed += 1;
                            redacted.insert(format!(
                                "{side}.body#{}",
                                json_pointer(body, &path, raw_name)
                            ));
                        } else {
                            redacted.insert(format!("{side}.body"));
                        }
                    }
                    // The value, a container included, is done with.
                    i = value_end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        if copied == 0 {
            return None;
        }
        out.extend_from_slice(body.get(copied..).unwrap_or_default());
        Some(out)
    }
}

/// How many secret members of one body `meta.redacted` names by pointer,
/// and how deep; past either, it lists the body as a whole
/// (`response.body`). Each pointer costs its depth to build and its length
/// to store, so a body made of many secrets, or of secrets nested
/// thousands deep, would otherwise cost time and memory far beyond its
/// size.
const MAX_LISTED_MEMBERS: usize = 100;
const MAX_LISTED_DEPTH: usize = 32;

/// One level of nesting in [`Redactor::redact_secret_members`].
enum Step {
    /// In an object, after the member name at this byte range (quotes
    /// included), or before one.
    Member(Option<(usize, usize)>),
    /// In an array, at this element.
    Index(usize),
}

/// Whether a body's first non-blank byte opens a JSON object or array.
fn looks_like_json(body: &[u8]) -> bool {
    matches!(body.get(skip_whitespace(body, 0)), Some(b'{' | b'['))
}

fn skip_whitespace(body: &[u8], from: usize) -> usize {
    let mut i = from;
    while body.get(i).is_some_and(|b| b" \t\r\n".contains(b)) {
        i += 1;
    }
    i
}

/// Just past the string that opens at `body[start]` (a `"`), or the end of
/// the text when it is cut off.
fn string_end(body: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = body.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    body.len()
}

/// Just past the JSON value starting at `body[start]`, or the end of the
/// text when it is cut off.
fn json_value_end(body: &[u8], start: usize) -> usize {
    match body.get(start) {
        None => start,
        Some(b'"') => string_end(body, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&b) = body.get(i) {
                match b {
                    b'"' => {
                        i = string_end(body, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            body.len()
        }
        Some(_) => {
            let mut i = start;
            while body.get(i).is_some_and(|b| !b",}] \t\r\n".contains(b)) {
                i += 1;
            }
            i
        }
    }
}

/// The text of a JSON string (quotes included, the closing one possibly
/// cut off), unescaped.
fn decode_json_string(raw: &[u8]) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix(b"\"")?;
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    match serde_json::from_slice::<String>(raw) {
        Ok(text) => Some(Cow::Owned(text)),
        // Cut off inside an escape: what can be read is still the secret.
        Err(_) => Some(String::from_utf8_lossy(inner)),
    }
}

/// What the placeholder of a secret member's raw value is keyed on: a
/// string's text, another value's compact JSON; `None` for `null`, `""`
/// and a value cut off before it began, which hide nothing.
fn secret_text(raw: Option<&[u8]>) -> Option<String> {
    let raw = raw.filter(|r| !r.is_empty())?;
    if raw.first() == Some(&b'"') {
        return decode_json_string(raw)
            .filter(|text| !text.is_empty())
            .map(Cow::into_owned);
    }
    if raw == b"null" {
        return None;
    }
    Some(match serde_json::from_slice::<Value>(raw) {
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    })
}

/// The RFC 6901 pointer of the member named `raw_name` (quoted) under
/// `path`.
fn json_pointer(body: &[u8], path: &[Step], raw_name: &[u8]) -> String {
    let mut pointer = String::new();
    let push_name = |pointer: &mut String, raw: &[u8]| {
        let name = decode_json_string(raw).unwrap_or_default();
        hmt_types::pointer::push(pointer, &name);
    };
    for step in path {
        match step {
            Step::Member(Some((start, end))) => {
                push_name(&mut pointer, body.get(*start..*end).unwrap_or_default());
            }
            // A container where no member name was: not JSON, nothing
            // truthful to name.
            Step::Member(None) => {}
            Step::Index(n) => {
                pointer.push('/');
                pointer.push_str(&n.to_string());
            }
        }
    }
    push_name(&mut pointer, raw_name);
    pointer
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

    /// Rules alone, without the secret names, so that each rule is seen
    /// at work by itself.
    fn rules() -> RedactionRules {
        RedactionRules {
            headers: [
                "authorization",
                "proxy-authorization",
                "cookie",
                "set-cookie",
            ]
            .into_iter()
            .map(String::from)
            .chain(["X-Session".to_owned()])
            .collect(),
            query: vec!["access_token".into(), "password".into()],
            json_pointers: vec![
                "/password".into(),
                "/user/token".into(),
                "/items/0/secret".into(),
                "pin".into(),
                "/a~1b".into(),
            ],
            secret_names: false,
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
        let text = format!("{:?}", Redactor::new(rules(), KEY));
        assert!(text.contains("authorization") && !text.contains("42"));
    }

    fn body_json(body: Option<&[u8]>) -> Value {
        serde_json::from_slice(body.unwrap()).unwrap()
    }

    #[test]
    fn by_default_what_hmt_build_keeps_out_of_specs() {
        let mut request = Request::new(
            Method::Post,
            "/login?api_key=key-AAA&page=2&Access_Token=tok-BBB&token_type=bearer",
        );
        request.headers.append("X-Auth-Token", "auth-CCC");
        request.headers.append("Api-Key", "key-DDD");
        request.headers.append("X-Goog-Api-Key", "key-EEE");
        request.headers.append("Authorization", "Bearer tok-FFF");
        request.headers.append("X-Request-Id", "req-1");
        request.headers.append("Content-Type", "application/json");
        request.body = Some(
            br#"{"user": {"name": "ada", "credentials": [{"password": "pw-GGG"}]}, "tokenType": "x"}"#
                .to_vec(),
        );
        let mut response = Response::new(200);
        response.headers.append("Set-Cookie", "sid=cookie-HHH");
        response.body = Some(
            br#"{"access_token":"tok-III","refreshToken":"tok-JJJ","expires_in":3600,"client_secret":{"v":"sec-KKK"}}"#
                .to_vec(),
        );
        let mut exchange = exchange(request, Some(response));
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        redactor.redact(&mut exchange);

        assert_gone(
            &exchange,
            &[
                "AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK",
            ],
        );
        let r = &exchange.request;
        assert_eq!(r.headers.get("X-Request-Id"), Some("req-1"));
        assert_eq!(
            r.headers.get("X-Auth-Token"),
            Some(redactor.placeholder("auth-CCC").as_str())
        );
        assert_eq!(r.query.get("page"), Some("2"));
        assert_eq!(r.query.get("token_type"), Some("bearer"));
        // Only the secret's bytes change; spacing and order stay.
        assert_eq!(
            r.body_text().unwrap(),
            format!(
                r#"{{"user": {{"name": "ada", "credentials": [{{"password": "{}"}}]}}, "tokenType": "x"}}"#,
                redactor.placeholder("pw-GGG")
            )
        );
        let response = exchange.response.as_ref().unwrap();
        assert_eq!(
            body_json(response.body.as_deref()),
            json!({
                "access_token": redactor.placeholder("tok-III"),
                "refreshToken": redactor.placeholder("tok-JJJ"),
                "expires_in": 3600,
                "client_secret": redactor.placeholder(r#"{"v":"sec-KKK"}"#),
            })
        );
        assert_eq!(
            redacted_list(&exchange),
            [
                "request.body#/user/credentials/0/password",
                "request.headers.api-key",
                "request.headers.authorization",
                "request.headers.x-auth-token",
                "request.headers.x-goog-api-key",
                "request.query.Access_Token",
                "request.query.api_key",
                "response.body#/access_token",
                "response.body#/client_secret",
                "response.body#/refreshToken",
                "response.headers.set-cookie",
            ]
        );
    }

    #[test]
    fn secret_members_of_bodies_that_do_not_parse() {
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        // Cut off at max_body_bytes, in the middle of the secret.
        let mut request = Request::new(Method::Post, "/");
        request.body = Some(br#"{"items":[{"id":1},{"id":2,"token":"tok-CUT"#.to_vec());
        // Deeper than serde_json's recursion limit of 128.
        let depth = 300;
        let mut deep = "[".repeat(depth);
        deep.push_str(r#"{"password":"pw-DEEP"}"#);
        deep.push_str(&"]".repeat(depth));
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        let mut response = Response::new(200);
        response.body = Some(deep.into_bytes());
        let mut exchange = exchange(request, Some(response));
        redactor.redact(&mut exchange);

        assert_gone(&exchange, &["tok-CUT", "pw-DEEP"]);
        assert_eq!(
            exchange.request.body_text().unwrap(),
            format!(
                r#"{{"items":[{{"id":1}},{{"id":2,"token":"{}""#,
                redactor.placeholder("tok-CUT")
            )
        );
        // Too deep to name by a pointer worth reading.
        assert_eq!(
            redacted_list(&exchange),
            ["request.body#/items/1/token", "response.body"]
        );
    }

    #[test]
    fn a_body_of_many_secrets_lists_a_bounded_number_of_pointers() {
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"token": format!("tok-{i}-XYZ")}))
            .collect();
        let mut request = Request::new(Method::Post, "/");
        request.body = Some(serde_json::to_vec(&items).unwrap());
        let mut exchange = exchange(request, None);
        redactor.redact(&mut exchange);
        assert_gone(&exchange, &["XYZ"]);
        let list = redacted_list(&exchange);
        assert_eq!(list.len(), MAX_LISTED_MEMBERS + 1);
        assert!(list.contains(&"request.body#/99/token"));
        assert!(list.contains(&"request.body"));
    }

    #[test]
    fn escaped_and_encoded_names_are_found() {
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        let mut request = Request::new(Method::Post, "/?api%5Fkey=key-QQQ");
        request
            .headers
            .append("content-type", "application/x-www-form-urlencoded");
        request.body = Some(b"user=ada&pass%77ord=pw-RRR&pass_word=pw-SSS".to_vec());
        let mut response = Response::new(200);
        response.body = Some(br#"{"a/b~":{"Pass-Word":7}}"#.to_vec());
        let mut exchange = exchange(request, Some(response));
        redactor.redact(&mut exchange);
        assert_gone(&exchange, &["QQQ", "RRR", "SSS", ":7"]);
        assert_eq!(
            redacted_list(&exchange),
            [
                "request.form.pass_word",
                "request.form.password",
                "request.query.api_key",
                "response.body#/a~1b~0/Pass-Word",
            ]
        );

        // No fragment of a secret name in these bytes: only the escape
        // tells that the body may hold one.
        let mut response = Response::new(200);
        response.body = Some(br#"{"\u0070assword":"pw-TTT"}"#.to_vec());
        let mut escaped = self::exchange(Request::new(Method::Get, "/"), Some(response));
        redactor.redact(&mut escaped);
        assert_gone(&escaped, &["TTT"]);
        assert_eq!(redacted_list(&escaped), ["response.body#/password"]);
    }

    #[test]
    fn null_and_empty_secrets_and_other_bodies_stay_byte_for_byte() {
        let redactor = Redactor::new(RedactionRules::default(), KEY);
        let mut request = Request::new(Method::Post, "/");
        request.body = Some(br#"{"password": null, "token": "", "secret" : }"#.to_vec());
        let mut response = Response::new(200);
        // Not JSON: HTML that mentions a password is no member.
        response.body = Some(br#"<p>"password": "shown-UUU"</p>"#.to_vec());
        let before = exchange(request, Some(response));
        let mut after = before.clone();
        redactor.redact(&mut after);
        assert_eq!(after, before);
    }

    #[test]
    fn a_pointer_to_a_secret_member_is_not_redacted_twice() {
        let rules = RedactionRules {
            json_pointers: vec!["/password".into(), "/pin".into()],
            ..RedactionRules::default()
        };
        let redactor = Redactor::new(rules, KEY);
        let mut request = Request::new(Method::Post, "/");
        request.body = Some(br#"{"password":"pw-VVV","pin":1234}"#.to_vec());
        let mut exchange = exchange(request, None);
        redactor.redact(&mut exchange);
        assert_eq!(
            body_json(exchange.request.body.as_deref()),
            json!({"password": redactor.placeholder("pw-VVV"), "pin": redactor.placeholder("1234")})
        );
        assert_eq!(
            redacted_list(&exchange),
            ["request.body#/password", "request.body#/pin"]
        );
    }

    #[test]
    fn secret_names_can_be_switched_off() {
        let rules = RedactionRules {
            secret_names: false,
            ..RedactionRules::default()
        };
        let mut request = Request::new(Method::Post, "/?api_key=k");
        request.headers.append("Authorization", "Bearer t");
        request.body = Some(br#"{"password":"p"}"#.to_vec());
        let before = exchange(request, None);
        let mut after = before.clone();
        Redactor::new(rules, KEY).redact(&mut after);
        assert_eq!(after, before);
    }
}
