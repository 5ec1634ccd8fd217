//! Which headers and query parameters describe an API, and which carry
//! credentials.
//!
//! A recorded request carries headers that say nothing about the API:
//! hop-by-hop headers (RFC 9110 §7.6.1), transport details that change on
//! every request, and tracing ids. They are left out of the spec and out of
//! replay matching. The lists are explicit so that a user can read exactly
//! what is dropped. Which headers and query parameters carry credentials is
//! shared with `hmt record`'s redaction, in [`hmt_types::secrets`].

/// Request and response headers never documented as parameters or response
/// headers, nor used to match replayed requests (lower-case). The list is
/// shared with `hmt build --check`, which does not expect a spec to
/// declare them ([`hmt_types::headers`]).
pub use hmt_types::headers::IGNORED_HEADERS;

/// Whether a header (any case) is left out of the spec and of matching.
///
/// Runs for every header of every exchange, so it compares ignoring case
/// instead of lower-casing (which would allocate).
pub fn is_ignored_header(name: &str) -> bool {
    IGNORED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) || is_api_key_header(name)
}

/// Whether a header (any case) carries an API key: its values are secrets,
/// so it becomes a security scheme, never a parameter or example.
/// `hmt record` redacts the same headers ([`hmt_types::secrets`]).
pub use hmt_types::secrets::is_api_key_header;

/// Whether a query parameter carries an API key or token; like
/// [`is_api_key_header`], shared with `hmt record`'s redaction.
pub fn is_api_key_query(name: &str) -> bool {
    hmt_types::secrets::is_secret_query(name)
}

/// A way a request proved who it was.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Credential {
    /// `Authorization: Bearer …`
    Bearer,
    /// `Authorization: Basic …`
    Basic,
    /// `Authorization: <other scheme> …`, documented as an API key in that header.
    AuthorizationHeader,
    /// An API key in the named header (lower-case).
    HeaderKey(String),
    /// An API key in the named query parameter.
    QueryKey(String),
}

impl Credential {
    /// The name under `components.securitySchemes`.
    pub fn scheme_name(&self) -> String {
        match self {
            Credential::Bearer => "bearerAuth".into(),
            Credential::Basic => "basicAuth".into(),
            Credential::AuthorizationHeader => "authorizationHeader".into(),
            Credential::HeaderKey(name) => format!("{}Header", camel_case(name)),
            Credential::QueryKey(name) => format!("{}Query", camel_case(name)),
        }
    }

    /// The security scheme object.
    pub fn scheme(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Credential::Bearer => json!({"type": "http", "scheme": "bearer"}),
            Credential::Basic => json!({"type": "http", "scheme": "basic"}),
            Credential::AuthorizationHeader => {
                json!({"type": "apiKey", "in": "header", "name": "Authorization"})
            }
            Credential::HeaderKey(name) => json!({"type": "apiKey", "in": "header", "name": name}),
            Credential::QueryKey(name) => json!({"type": "apiKey", "in": "query", "name": name}),
        }
    }
}

/// The credentials a request carries, sorted. Header names are matched
/// ignoring case.
pub fn credentials(request: &hmt_types::Request) -> Vec<Credential> {
    let mut found = Vec::new();
    for (name, values) in request.headers.iter() {
        if name.eq_ignore_ascii_case("authorization") {
            let value = values.first().map_or("", |v| v.trim());
            let scheme = value.split_whitespace().next().unwrap_or("");
            found.push(if scheme.eq_ignore_ascii_case("bearer") {
                Credential::Bearer
            } else if scheme.eq_ignore_ascii_case("basic") {
                Credential::Basic
            } else {
                Credential::AuthorizationHeader
            });
        } else if is_api_key_header(name) {
            found.push(Credential::HeaderKey(name.to_ascii_lowercase()));
        }
    }
    for (name, _) in request.query.iter() {
        if is_api_key_query(name) {
            found.push(Credential::QueryKey(name.to_owned()));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// `x-api-key` → `xApiKey`, `api_key` → `apiKey`.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper && !out.is_empty() {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmt_types::{Method, Request};

    #[test]
    fn finds_bearer_and_api_keys_without_keeping_values() {
        let mut request = Request::new(Method::Get, "/a?api_key=s3cret&x=1");
        request.headers.append("Authorization", "Bearer abc.def");
        request.headers.append("X-Api-Key", "k");
        let found = credentials(&request);
        assert_eq!(
            found,
            vec![
                Credential::Bearer,
                Credential::HeaderKey("x-api-key".into()),
                Credential::QueryKey("api_key".into())
            ]
        );
        let names: Vec<String> = found.iter().map(Credential::scheme_name).collect();
        assert_eq!(names, ["bearerAuth", "xApiKeyHeader", "apiKeyQuery"]);
    }

    #[test]
    fn every_header_hmt_record_redacts_stays_out_of_specs() {
        for name in [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "Set-Cookie",
            "X-Auth-Token",
            "Api-Key",
            "X-Client-Secret",
        ] {
            assert!(hmt_types::secrets::is_secret_header(name), "{name}");
            assert!(is_ignored_header(name), "{name}");
        }
        for name in hmt_types::secrets::CREDENTIAL_HEADERS {
            assert!(is_ignored_header(name), "{name}");
        }
    }

    #[test]
    fn ignored_headers_are_case_insensitive() {
        assert!(is_ignored_header("Content-Length"));
        assert!(is_ignored_header("X-API-KEY"));
        assert!(!is_ignored_header("x-ratelimit-limit"));
    }
}
