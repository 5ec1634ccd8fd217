//! Matchers for stubs written in code: the request DSL.
//!
//! Each function returns a value implementing [`Match`], so a test reads
//! as the request it expects:
//!
//! ```
//! use hmt_stub::matchers::{body_json_partial, header, method, path_template};
//! use hmt_stub::{Reply, Request, Stub};
//! use serde_json::json;
//!
//! let stub = Stub::given(method("POST"))
//!     .and(path_template("/users/{id}/orders"))
//!     .and(header("content-type", "application/json"))
//!     .and(body_json_partial(json!({"item": "book"})))
//!     .respond_with(Reply::new(201));
//! let request = Request::new("POST", "/users/7/orders")
//!     .with_header("Content-Type", "application/json")
//!     .with_body(r#"{"item": "book", "count": 2}"#);
//! assert!(stub.matches(&request));
//! ```
//!
//! Every matcher explains a refusal in words ("path is /users, expected
//! /orders"), which is what a failed expectation and a request no stub
//! answered report. A closure `Fn(&Request) -> bool` is a matcher too,
//! for anything these do not cover.

use crate::engine::Match;
use crate::request::Request;
use regex::Regex;
use serde_json::Value;

/// The method, compared without case (`"get"` matches `GET`).
pub fn method(method: &str) -> impl Match + use<> {
    let expected = method.to_ascii_uppercase();
    Described::new(
        move |request: &Request| request.method == expected,
        format!(
            "method is {{method}}, expected {}",
            method.to_ascii_uppercase()
        ),
    )
}

/// The path, exactly (percent-encoding as sent, no query).
pub fn path(path: &str) -> impl Match + use<> {
    let expected = path.to_string();
    Described::new(
        move |request: &Request| request.path == expected,
        format!("path is {{path}}, expected {path}"),
    )
}

/// The path against a template such as `/users/{id}/orders`: a `{name}`
/// segment matches any one non-empty segment.
pub fn path_template(template: &str) -> impl Match + use<> {
    let segments: Vec<Option<String>> = template
        .split('/')
        .map(|segment| {
            let variable = segment.starts_with('{') && segment.ends_with('}');
            (!variable).then(|| segment.to_string())
        })
        .collect();
    Described::new(
        move |request: &Request| {
            let mut sent = request.path.split('/');
            segments
                .iter()
                .all(|expected| match (expected, sent.next()) {
                    (_, None) => false,
                    (None, Some(segment)) => !segment.is_empty(),
                    (Some(expected), Some(segment)) => expected == segment,
                })
                && sent.next().is_none()
        },
        format!("path is {{path}}, which does not fit {template}"),
    )
}

/// The path against a regular expression (searched, so anchor it with
/// `^...$` to match the whole path).
///
/// # Panics
/// When `pattern` is not a valid regular expression: a test's own typo,
/// best reported where it was written.
pub fn path_regex(pattern: &str) -> impl Match + use<> {
    let regex = compile(pattern);
    Described::new(
        move |request: &Request| regex.is_match(&request.path),
        format!("path is {{path}}, which does not match /{pattern}/"),
    )
}

/// A query parameter with this value (one of its values, when repeated).
pub fn query_param(name: &str, value: &str) -> impl Match + use<> {
    let (name, value) = (name.to_string(), value.to_string());
    let wanted = format!("query has no {name}={value}");
    Described::new(
        move |request: &Request| {
            form_urlencoded::parse(request.raw_query.as_bytes())
                .any(|(n, v)| n == name.as_str() && v == value.as_str())
        },
        wanted,
    )
}

/// A header with this value, the name compared without case (one of its
/// values, when repeated).
pub fn header(name: &str, value: &str) -> impl Match + use<> {
    let (name, value) = (name.to_string(), value.to_string());
    let wanted = format!("no header {name}: {value}");
    Described::new(
        move |request: &Request| {
            request
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(&name) && *v == value)
        },
        wanted,
    )
}

/// A header present, whatever its value.
pub fn header_exists(name: &str) -> impl Match + use<> {
    let name = name.to_string();
    let wanted = format!("no header {name}");
    Described::new(
        move |request: &Request| request.header(&name).is_some(),
        wanted,
    )
}

/// The host the request names (`Host` header, port ignored unless given).
pub fn host(host: &str) -> impl Match + use<> {
    let expected = host.to_ascii_lowercase();
    let wanted = format!("host is {{host}}, expected {host}");
    Described::new(
        move |request: &Request| {
            let sent = request.header("host").unwrap_or("").to_ascii_lowercase();
            sent == expected
                || (!expected.contains(':')
                    && sent
                        .rsplit_once(':')
                        .is_some_and(|(name, _)| name == expected))
        },
        wanted,
    )
}

/// The body as JSON, equal to `expected` (key order does not matter).
pub fn body_json(expected: Value) -> impl Match + use<> {
    let wanted = format!("body is not the JSON {expected}");
    Described::new(
        move |request: &Request| {
            serde_json::from_str::<Value>(&request.body).is_ok_and(|sent| sent == expected)
        },
        wanted,
    )
}

/// The body as JSON, containing `expected`: every key of an object in
/// `expected` is in the body with a containing value; arrays and scalars
/// are equal.
pub fn body_json_partial(expected: Value) -> impl Match + use<> {
    let wanted = format!("body does not contain the JSON {expected}");
    Described::new(
        move |request: &Request| {
            serde_json::from_str::<Value>(&request.body)
                .is_ok_and(|sent| contains(&sent, &expected))
        },
        wanted,
    )
}

/// The body, exactly.
pub fn body_string(expected: &str) -> impl Match + use<> {
    let expected = expected.to_string();
    let wanted = format!("body is not {expected:?}");
    Described::new(move |request: &Request| request.body == expected, wanted)
}

/// The body against a regular expression (searched).
///
/// # Panics
/// When `pattern` is not a valid regular expression.
pub fn body_regex(pattern: &str) -> impl Match + use<> {
    let regex = compile(pattern);
    let wanted = format!("body does not match /{pattern}/");
    Described::new(
        move |request: &Request| regex.is_match(&request.body),
        wanted,
    )
}

fn compile(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(regex) => regex,
        Err(error) => panic!("invalid regular expression /{pattern}/: {error}"),
    }
}

/// Whether `sent` contains `expected` (objects by subset, the rest by
/// equality).
fn contains(sent: &Value, expected: &Value) -> bool {
    match (sent, expected) {
        (Value::Object(sent), Value::Object(expected)) => expected
            .iter()
            .all(|(key, value)| sent.get(key).is_some_and(|s| contains(s, value))),
        _ => sent == expected,
    }
}

/// A test and the sentence that explains its refusal; `{method}`,
/// `{path}` and `{host}` in the sentence become what was sent.
struct Described<F> {
    test: F,
    why: String,
}

impl<F: Fn(&Request) -> bool + Send + Sync> Described<F> {
    fn new(test: F, why: String) -> Described<F> {
        Described { test, why }
    }
}

impl<F: Fn(&Request) -> bool + Send + Sync> Match for Described<F> {
    fn matches(&self, request: &Request) -> bool {
        (self.test)(request)
    }

    fn explain(&self, request: &Request) -> Option<String> {
        (!self.matches(request)).then(|| {
            self.why
                .replace("{method}", &request.method)
                .replace("{path}", &request.path)
                .replace("{host}", request.header("host").unwrap_or("(none)"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(path: &str, body: &str) -> Request {
        Request::new("POST", path)
            .with_header("Host", "api.example.com:8080")
            .with_header("X-Trace", "a")
            .with_header("x-trace", "b")
            .with_body(body)
    }

    #[test]
    fn each_matcher_accepts_and_refuses_with_a_reason() {
        let request = post(
            "/users/7/orders?x=1",
            r#"{"item": "book", "n": {"a": 1, "b": 2}}"#,
        );
        let cases: Vec<(Box<dyn Match>, bool, Option<&str>)> = vec![
            (Box::new(method("post")), true, None),
            (
                Box::new(method("GET")),
                false,
                Some("method is POST, expected GET"),
            ),
            (Box::new(path("/users/7/orders")), true, None),
            (
                Box::new(path("/users")),
                false,
                Some("path is /users/7/orders, expected /users"),
            ),
            (Box::new(path_template("/users/{id}/orders")), true, None),
            (
                Box::new(path_template("/users/{id}")),
                false,
                Some("path is /users/7/orders, which does not fit /users/{id}"),
            ),
            (
                Box::new(path_template("/users/{id}/orders/{o}")),
                false,
                None,
            ),
            (Box::new(path_regex("^/users/[0-9]+/")), true, None),
            (
                Box::new(path_regex("^/orders")),
                false,
                Some("path is /users/7/orders, which does not match /^/orders/"),
            ),
            (Box::new(header("x-trace", "b")), true, None),
            (
                Box::new(header("X-Trace", "c")),
                false,
                Some("no header X-Trace: c"),
            ),
            (Box::new(header_exists("HOST")), true, None),
            (
                Box::new(header_exists("Authorization")),
                false,
                Some("no header Authorization"),
            ),
            (Box::new(host("api.example.com")), true, None),
            (Box::new(host("api.example.com:8080")), true, None),
            (
                Box::new(host("example.com")),
                false,
                Some("host is api.example.com:8080, expected example.com"),
            ),
            (
                Box::new(body_json(json!({"n": {"b": 2, "a": 1}, "item": "book"}))),
                true,
                None,
            ),
            (
                Box::new(body_json(json!({"item": "book"}))),
                false,
                Some(r#"body is not the JSON {"item":"book"}"#),
            ),
            (
                Box::new(body_json_partial(json!({"n": {"a": 1}}))),
                true,
                None,
            ),
            (
                Box::new(body_json_partial(json!({"n": {"a": 2}}))),
                false,
                None,
            ),
            (Box::new(body_regex("bo+k")), true, None),
            (Box::new(body_regex("^book")), false, None),
            (Box::new(body_string("x")), false, Some("body is not \"x\"")),
        ];
        for (index, (matcher, accepted, why)) in cases.iter().enumerate() {
            assert_eq!(matcher.matches(&request), *accepted, "case {index}");
            assert_eq!(
                matcher.explain(&request).is_none(),
                *accepted,
                "case {index}"
            );
            if let Some(why) = why {
                assert_eq!(
                    matcher.explain(&request).as_deref(),
                    Some(*why),
                    "case {index}"
                );
            }
        }
    }

    #[test]
    fn query_parameters_are_decoded() {
        let request = Request::new("GET", "/search?q=a+b&tag=x&tag=y%2Fz");
        assert!(query_param("q", "a b").matches(&request));
        assert!(query_param("tag", "y/z").matches(&request));
        assert!(!query_param("tag", "w").matches(&request));
        assert_eq!(
            query_param("tag", "w").explain(&request).as_deref(),
            Some("query has no tag=w")
        );
    }

    #[test]
    fn a_template_needs_every_segment() {
        let template = path_template("/a/{x}");
        assert!(!template.matches(&Request::new("GET", "/a/")));
        assert!(!template.matches(&Request::new("GET", "/a")));
        assert!(template.matches(&Request::new("GET", "/a/1")));
    }
}
