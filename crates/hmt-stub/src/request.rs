//! What a stub sees of a request: mountebank's request object.
//!
//! mountebank's predicates, behaviors and injected functions all read the
//! same JSON object (`method`, `path`, `query`, `headers`, `body`, `form`,
//! `requestFrom`, `ip`), so the engine keeps that object's rules in one
//! place: header names keep the case the client sent and a repeated name
//! becomes an array, a query is parsed as Node's `querystring` does (`+`
//! is a space, a repeated key becomes an array, `?WSDL` is `{"WSDL": ""}`),
//! and `form` exists only for an urlencoded body. The JSON object is built
//! once, the first time something needs it, so a stub that compares only
//! the method and path never pays for it.

use serde_json::{Map, Value};
use std::sync::OnceLock;

/// One request as stubs see it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method, as sent (`GET`).
    pub method: String,
    /// Path without the query, percent-encoding kept (`/users/1`).
    pub path: String,
    /// The raw query string without `?` (`a=1&b=2`); empty when there is none.
    pub raw_query: String,
    /// Header names as the client wrote them, in order, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The body as text (a gzip body already inflated by the server).
    pub body: String,
    /// `address:port` of the client.
    pub request_from: String,
    /// The client's address.
    pub ip: String,
    json: OnceLock<Value>,
}

impl Request {
    /// A request with a method and a path-and-query (`/users?page=2`).
    pub fn new(method: &str, target: &str) -> Request {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, query),
            None => (target, ""),
        };
        Request {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            raw_query: query.to_string(),
            ..Request::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self.json = OnceLock::new();
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<String>) -> Request {
        self.body = body.into();
        self.json = OnceLock::new();
        self
    }

    /// Sets the client's address (`127.0.0.1:50122`).
    pub fn with_client(mut self, request_from: &str, ip: &str) -> Request {
        self.request_from = request_from.to_string();
        self.ip = ip.to_string();
        self.json = OnceLock::new();
        self
    }

    /// The first value of a header, its name compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::reply::first_header(&self.headers, name)
    }

    /// Path and query as on the request line (`/users?page=2`).
    pub fn target(&self) -> String {
        if self.raw_query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.raw_query)
        }
    }

    /// The query as Node's `querystring.parse` gives it.
    pub fn query(&self) -> Map<String, Value> {
        parse_querystring(&self.raw_query)
    }

    /// The urlencoded form of the body, when the content type says it is one.
    pub fn form(&self) -> Option<Map<String, Value>> {
        let content_type = self.header("content-type")?;
        let media = content_type.split(';').next().unwrap_or("").trim();
        (media == "application/x-www-form-urlencoded" && !self.body.is_empty())
            .then(|| parse_querystring(&self.body))
    }

    /// mountebank's request object, built on first use.
    pub fn to_json(&self) -> &Value {
        self.json.get_or_init(|| {
            let mut object = Map::new();
            object.insert("requestFrom".into(), self.request_from.clone().into());
            object.insert("method".into(), self.method.clone().into());
            object.insert("path".into(), self.path.clone().into());
            object.insert("query".into(), Value::Object(self.query()));
            object.insert(
                "headers".into(),
                Value::Object(header_object(&self.headers)),
            );
            object.insert("body".into(), self.body.clone().into());
            object.insert("ip".into(), self.ip.clone().into());
            if let Some(form) = self.form() {
                object.insert("form".into(), Value::Object(form));
            }
            Value::Object(object)
        })
    }
}

/// Headers as mountebank's object: names as sent; the same name twice
/// (same spelling) becomes an array of its values.
fn header_object(headers: &[(String, String)]) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in headers {
        add_repeated(&mut object, name, value.clone());
    }
    object
}

/// Node's `querystring.parse`: `&`-separated, `+` as space, percent-decoded,
/// a repeated key an array of its values in order.
pub(crate) fn parse_querystring(text: &str) -> Map<String, Value> {
    let mut object = Map::new();
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        add_repeated(&mut object, &key, value.into_owned());
    }
    object
}

fn add_repeated(object: &mut Map<String, Value>, key: &str, value: String) {
    match object.get_mut(key) {
        None => {
            object.insert(key.to_string(), Value::String(value));
        }
        Some(Value::Array(values)) => values.push(Value::String(value)),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, Value::String(value)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_object_follows_mountebank() {
        let request = Request::new("post", "/orders?WSDL&tag=a&tag=b+c&x=%2F")
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_header("X-Twice", "1")
            .with_header("X-Twice", "2")
            .with_body("name=ann&age=3")
            .with_client("127.0.0.1:5000", "127.0.0.1");
        assert_eq!(
            request.to_json(),
            &json!({
                "requestFrom": "127.0.0.1:5000",
                "method": "POST",
                "path": "/orders",
                "query": {"WSDL": "", "tag": ["a", "b c"], "x": "/"},
                "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Twice": ["1", "2"]},
                "body": "name=ann&age=3",
                "ip": "127.0.0.1",
                "form": {"name": "ann", "age": "3"},
            })
        );
    }

    #[test]
    fn form_only_for_an_urlencoded_body() {
        let request = Request::new("POST", "/")
            .with_header("content-type", "application/json")
            .with_body("a=1");
        assert!(request.to_json().get("form").is_none());
    }
}
