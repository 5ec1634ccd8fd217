//! The page the admin port shows a browser at `GET /`: the specs and
//! operations served, the imposters and their stubs, and the live journal
//! of requests with what answered each and, for those nothing answered,
//! the nearest candidates and why they missed.
//!
//! The page is three static files under `src/admin_page/`, built into the
//! binary with `include_str!`: no build step, nothing fetched from another
//! host. Its script reads the admin API (`/admin/specs`,
//! `/admin/requests?last=N`, mountebank's `/imposters`) about once a
//! second and redraws a section only when what it read changed. It writes
//! request data with `textContent` only, and the Content-Security-Policy
//! sent with the page allows scripts and styles from the admin port alone,
//! so text in a request cannot become markup or code.
//!
//! `GET /` with an `Accept` naming `application/json` is not the page's:
//! it stays mountebank's hypermedia document, which its clients read
//! ([`wants_page`] decides).

use crate::server::Body;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// Where the page's script and style are served, under hmt's `/admin`.
pub const ASSETS: &str = "/admin/page/";

const INDEX_HTML: &str = include_str!("admin_page/index.html");
const PAGE_CSS: &str = include_str!("admin_page/page.css");
const PAGE_JS: &str = include_str!("admin_page/page.js");

/// Only the admin port's own script, style and API; no inline code, no
/// frames, no forms.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Whether `request` asks for the page: `GET /` whose `Accept` does not
/// name `application/json`.
pub fn wants_page<B>(request: &Request<B>) -> bool {
    request.method() == Method::GET && request.uri().path() == "/" && !names_json(request.headers())
}

/// The page itself.
pub fn page() -> Response<Body> {
    file(INDEX_HTML, "text/html; charset=utf-8")
}

/// The page's script or style, for a path under [`ASSETS`]; `None` for
/// any other path.
pub fn asset(method: &Method, path: &str) -> Option<Response<Body>> {
    if method != Method::GET {
        return None;
    }
    match path.strip_prefix(ASSETS)? {
        "page.js" => Some(file(PAGE_JS, "text/javascript; charset=utf-8")),
        "page.css" => Some(file(PAGE_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

/// Whether an `Accept` header names `application/json` (with a quality
/// above 0). Only that one question is asked of `Accept` here, so a few
/// lines of splitting do it rather than a media-type crate.
fn names_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or("").trim();
            let refused = parts.any(|parameter| {
                parameter.split_once('=').is_some_and(|(name, q)| {
                    name.trim().eq_ignore_ascii_case("q")
                        && q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            essence.eq_ignore_ascii_case("application/json") && !refused
        })
}

fn file(text: &'static str, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(text.as_bytes()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Built into the binary: a new hmt may serve a new page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(accept: &[&str]) -> Request<()> {
        let mut request = Request::builder().method("GET").uri("/");
        for value in accept {
            request = request.header(header::ACCEPT, *value);
        }
        request.body(()).unwrap()
    }

    #[test]
    fn get_slash_is_the_page_unless_accept_names_json() {
        assert!(wants_page(&get(&[])));
        assert!(wants_page(&get(&["*/*"])));
        assert!(wants_page(&get(&[
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ])));
        assert!(wants_page(&get(&["application/json;q=0"])));
        assert!(wants_page(&get(&["application/jsonx"])));
        assert!(!wants_page(&get(&["application/json"])));
        assert!(!wants_page(&get(&["text/html", "Application/JSON; q=0.5"])));
        assert!(!wants_page(&get(&["text/plain, application/json"])));
        let post = Request::builder().method("POST").uri("/").body(()).unwrap();
        assert!(!wants_page(&post));
        let other = Request::builder().uri("/imposters").body(()).unwrap();
        assert!(!wants_page(&other));
    }

    #[test]
    fn assets_are_the_script_and_the_style_only() {
        let script = asset(&Method::GET, "/admin/page/page.js").unwrap();
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(asset(&Method::GET, "/admin/page/page.css").is_some());
        assert!(asset(&Method::GET, "/admin/page/index.html").is_none());
        assert!(asset(&Method::GET, "/admin/page/../specs").is_none());
        assert!(asset(&Method::DELETE, "/admin/page/page.js").is_none());
    }
}
