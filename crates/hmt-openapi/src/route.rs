//! Finding the operation a request is for.
//!
//! Each spec gets a [`matchit`] router over its path templates, so that
//! literal segments win over templated ones (`/pets/mine` before
//! `/pets/{id}`) and a lookup costs a walk down a radix tree, not a scan
//! of every template. Templates are inserted with positional parameter
//! names (`/pets/{0}`), because two templates that differ only in their
//! parameter names are the same route to a router; the names are put back
//! from the template when a request matches. The few templates matchit
//! cannot hold (two parameters in one segment) are matched by a slower
//! segment-by-segment check after the router.
//!
//! Each method is served by the most specific template that documents it
//! (per segment, from the left: literal text before a parameter with
//! literal text around it before a bare parameter). matchit's pick is the
//! most specific template; when it does not document the method, every
//! template that matches is ranked and the first that documents the method
//! answers: `POST /credit_notes/preview` is `POST /credit_notes/{id}` when
//! `/credit_notes/preview` has only GET. When none documents it, the miss
//! is a 405 allowing the methods of every matching template (RFC 9110
//! section 15.5.6), and a 404 only when no template matches.
//!
//! A request may name its host (path and header routing), which limits the
//! search to specs with a server on that host when there are any. Its path
//! is tried under each server base path; for plain routing also as it is,
//! since clients often leave the base path out. The first spec given that
//! has the route wins.

use crate::model::{Operation, Spec};
use http::Method;

/// The routes of every loaded spec.
#[derive(Debug)]
pub struct Routes {
    specs: Vec<SpecRoutes>,
}

#[derive(Debug)]
struct SpecRoutes {
    router: matchit::Router<usize>,
    /// Templates matchit rejected, checked one by one.
    fallback: Vec<usize>,
    routes: Vec<Route>,
}

#[derive(Debug)]
struct Route {
    /// The template with its percent-escapes decoded as request paths are
    /// ([`canonical`]), for [`match_segments`].
    template: String,
    /// Parameter names in template order.
    names: Vec<String>,
    /// Methods served on this route, with their operation indices.
    methods: Vec<(Method, usize)>,
    /// How specific the template is, one entry per segment: greater wins
    /// ([`specificity`]).
    rank: Vec<(u8, usize)>,
}

impl Route {
    /// The operation serving `method` here. HEAD is GET without the body
    /// (RFC 9110 section 9.3.2) when the spec does not document it; hyper
    /// leaves the body out.
    fn serving(&self, method: &Method) -> Option<usize> {
        let find = |wanted: &Method| {
            self.methods
                .iter()
                .find(|(m, _)| m == wanted)
                .map(|&(_, operation)| operation)
        };
        find(method).or_else(|| (method == Method::HEAD).then(|| find(&Method::GET))?)
    }
}

/// How specific a template is, segment by segment from the left: a literal
/// segment (longer first) before one mixing literal text and parameters
/// (more literal text first) before a bare parameter. Compared as a
/// sequence, so `/a/b/{x}` outranks `/a/{y}/c`, as matchit ranks them.
fn specificity(template: &str) -> Vec<(u8, usize)> {
    template
        .split('/')
        .map(|segment| {
            if !segment.contains('{') {
                (2, segment.len())
            } else {
                let literal: usize = segment
                    .split('{')
                    .enumerate()
                    .map(|(i, piece)| {
                        if i == 0 {
                            piece.len()
                        } else {
                            piece.split_once('}').map_or(0, |(_, lit)| lit.len())
                        }
                    })
                    .sum();
                if literal == 0 { (0, 0) } else { (1, literal) }
            }
        })
        .collect()
}

/// A matched request.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// Index of the spec.
    pub spec: usize,
    /// Index of the operation in the spec.
    pub operation: usize,
    /// Path parameters, percent-decoded, in template order.
    pub params: Vec<(String, String)>,
    /// The request path relative to the base path that matched.
    pub relative_path: String,
}

/// Why no operation matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    /// No spec has the path.
    NotFound,
    /// A spec has the path, with these methods only.
    MethodNotAllowed(Vec<Method>),
}

impl Routes {
    /// Routes for `specs`, in order.
    pub fn new(specs: &[Spec]) -> Routes {
        Routes {
            specs: specs.iter().map(spec_routes).collect(),
        }
    }

    /// The operation `method path` is for. `host` (lower-case, with any
    /// port) limits the search to specs with a server on that host, when
    /// any spec has one.
    ///
    /// A path whose method no template serves is tried again with its
    /// trailing slash added or removed: `hmt build` treats `/users` and
    /// `/users/` as one path, and so do most servers. A 405 then allows
    /// the methods of both.
    pub fn find(
        &self,
        specs: &[Spec],
        host: Option<&str>,
        method: &Method,
        path: &str,
    ) -> Result<Found, Miss> {
        let miss = match self.find_exact(specs, host, method, path) {
            Ok(found) => return Ok(found),
            Err(miss) if path.len() > 1 => miss,
            Err(miss) => return Err(miss),
        };
        let toggled = match path.strip_suffix('/') {
            Some(without) => without.to_owned(),
            None => format!("{path}/"),
        };
        match (self.find_exact(specs, host, method, &toggled), miss) {
            (Ok(mut found), _) => {
                found.relative_path = relative_as_sent(&found.relative_path, path);
                Ok(found)
            }
            (Err(Miss::NotFound), miss) | (Err(miss), Miss::NotFound) => Err(miss),
            (Err(Miss::MethodNotAllowed(more)), Miss::MethodNotAllowed(mut allowed)) => {
                for m in more {
                    if !allowed.contains(&m) {
                        allowed.push(m);
                    }
                }
                Err(Miss::MethodNotAllowed(allowed))
            }
        }
    }

    fn find_exact(
        &self,
        specs: &[Spec],
        host: Option<&str>,
        method: &Method,
        path: &str,
    ) -> Result<Found, Miss> {
        let on_host = |spec: &Spec| match host {
            Some(host) => spec.servers.iter().any(|s| s.host.as_deref() == Some(host)),
            None => false,
        };
        let any_on_host = host.is_some() && specs.iter().any(on_host);
        let mut allowed: Vec<Method> = Vec::new();
        for (index, (spec, routes)) in specs.iter().zip(&self.specs).enumerate() {
            if any_on_host && !on_host(spec) {
                continue;
            }
            for relative in candidate_paths(spec, host.filter(|_| any_on_host), path) {
                match routes.serving(method, &canonical(relative)) {
                    Ok((route, operation, params)) => {
                        return Ok(Found {
                            spec: index,
                            operation,
                            params: routes.routes[route]
                                .names
                                .iter()
                                .cloned()
                                .zip(params)
                                .collect(),
                            relative_path: relative.to_owned(),
                        });
                    }
                    Err(methods) => {
                        for m in methods {
                            if !allowed.contains(&m) {
                                allowed.push(m);
                            }
                        }
                    }
                }
            }
        }
        if allowed.is_empty() {
            Err(Miss::NotFound)
        } else {
            Err(Miss::MethodNotAllowed(allowed))
        }
    }
}

/// The relative path with the request's own trailing slash (replay
/// compares paths as sent).
fn relative_as_sent(relative: &str, sent: &str) -> String {
    let bare = relative.trim_end_matches('/');
    if sent.ends_with('/') {
        format!("{bare}/")
    } else if bare.is_empty() {
        "/".to_owned()
    } else {
        bare.to_owned()
    }
}

/// `path` relative to each base path of `spec` it starts with (servers on
/// `host` only, when given), then `path` itself when no base path applied.
fn candidate_paths<'p>(spec: &Spec, host: Option<&str>, path: &'p str) -> Vec<&'p str> {
    let mut out = Vec::with_capacity(2);
    for server in &spec.servers {
        if host.is_some() && server.host.as_deref() != host {
            continue;
        }
        if let Some(rest) = path.strip_prefix(server.base_path.as_str())
            && (rest.is_empty() || rest.starts_with('/'))
        {
            let rest = if rest.is_empty() { "/" } else { rest };
            if !out.contains(&rest) {
                out.push(rest);
            }
        }
    }
    if !out.contains(&path) {
        out.push(path);
    }
    out
}

fn spec_routes(spec: &Spec) -> SpecRoutes {
    let mut routes: Vec<Route> = Vec::new();
    let mut router = matchit::Router::new();
    let mut fallback = Vec::new();
    let mut by_shape: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, operation) in spec.operations.iter().enumerate() {
        let template = canonical(&operation.template).into_owned();
        let (shape, names) = positional(&template);
        let route = match by_shape.get(&shape) {
            Some(&route) => route,
            None => {
                let route = routes.len();
                routes.push(Route {
                    rank: specificity(&template),
                    template,
                    names,
                    methods: Vec::new(),
                });
                by_shape.insert(shape.clone(), route);
                if router.insert(shape, route).is_err() {
                    fallback.push(route);
                }
                route
            }
        };
        // The first operation for a method on a route wins, as the first
        // spec does.
        if !routes[route]
            .methods
            .iter()
            .any(|(m, _)| *m == operation.method)
        {
            routes[route]
                .methods
                .push((operation.method.clone(), index));
        }
    }
    SpecRoutes {
        router,
        fallback,
        routes,
    }
}

impl SpecRoutes {
    /// The most specific route matching `path` (canonical) that serves
    /// `method`: its index, the operation and the path parameters; or the
    /// methods of every route that matches (none: no route matches).
    fn serving(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(usize, usize, Vec<String>), Vec<Method>> {
        // matchit's pick is the most specific of the templates it holds;
        // unless a template it could not hold outranks it, that is the
        // answer when it serves the method.
        if let Ok(matched) = self.router.at(path) {
            let route = *matched.value;
            if let Some(operation) = self.routes[route].serving(method)
                && !self.fallback.iter().any(|&other| {
                    self.routes[other].rank > self.routes[route].rank
                        && match_segments(&self.routes[other].template, path).is_some()
                })
            {
                let params = matched.params.iter().map(|(_, v)| decode(v)).collect();
                return Ok((route, operation, params));
            }
        }
        // Every template that matches, most specific first (the spec's
        // order among equals). Templates with another number of segments
        // are passed over first, so that a long path is not split once per
        // template.
        let segments = path.bytes().filter(|&b| b == b'/').count() + 1;
        let mut matching: Vec<(usize, Vec<String>)> = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.rank.len() == segments)
            .filter_map(|(route, r)| {
                match_segments(&r.template, path).map(|params| (route, params))
            })
            .collect();
        matching.sort_by(|a, b| self.routes[b.0].rank.cmp(&self.routes[a.0].rank));
        let mut allowed: Vec<Method> = Vec::new();
        for (route, params) in matching {
            if let Some(operation) = self.routes[route].serving(method) {
                return Ok((route, operation, params));
            }
            for (m, _) in &self.routes[route].methods {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                }
            }
        }
        Err(allowed)
    }
}

/// The template with parameters renamed `{0}`, `{1}`... and literal braces
/// escaped for matchit, and the original names.
fn positional(template: &str) -> (String, Vec<String>) {
    let mut shape = String::with_capacity(template.len());
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        shape.push_str(&rest[..open].replace('}', "}}"));
        match rest[open..].find('}') {
            Some(close) => {
                names.push(rest[open + 1..open + close].to_owned());
                shape.push_str(&format!("{{{}}}", names.len() - 1));
                rest = &rest[open + close + 1..];
            }
            None => {
                shape.push_str(&rest[open..].replace('{', "{{").replace('}', "}}"));
                rest = "";
            }
        }
    }
    shape.push_str(&rest.replace('}', "}}"));
    (shape, names)
}

/// Matches `path` against `template` segment by segment; a segment may hold
/// several parameters between literal text. Parameters never span a `/`.
pub fn match_segments(template: &str, path: &str) -> Option<Vec<String>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (t, p) in t.iter().zip(&p) {
        if !t.contains('{') {
            if t != p {
                return None;
            }
            continue;
        }
        // Literal pieces between parameters, matched left to right; each
        // parameter takes the shortest non-empty text before the next piece.
        let mut text = *p;
        let mut pieces = t.split('{');
        let first = pieces.next().unwrap_or("");
        text = text.strip_prefix(first)?;
        let pieces: Vec<&str> = pieces.collect();
        for (i, piece) in pieces.iter().enumerate() {
            let literal = piece.split_once('}').map_or("", |(_, lit)| lit);
            let last = i + 1 == pieces.len();
            let end = if literal.is_empty() {
                if last { text.len() } else { text.len().min(1) }
            } else if last {
                text.strip_suffix(literal).map(str::len)?
            } else {
                text.get(1..)?.find(literal)? + 1
            };
            if end == 0 {
                return None;
            }
            params.push(decode(&text[..end]));
            text = &text[end + literal.len()..];
        }
        if !text.is_empty() {
            return None;
        }
    }
    Some(params)
}

/// `path` with its percent-escapes decoded, except `%2F` and `%25`, so
/// that `/a%20b` matches the template `/a b` while an encoded slash stays
/// inside one segment (and is decoded with the parameter's value). A path
/// whose escapes decode to something that is not UTF-8 is left as sent.
pub fn canonical(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return std::borrow::Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            && byte != b'/'
            && byte != b'%'
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(path),
    }
}

fn decode(raw: &str) -> String {
    if raw.contains('%') {
        let mut out = Vec::with_capacity(raw.len());
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some(byte) = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        raw.to_owned()
    }
}

/// Operations whose templates share the most leading segments with
/// `path`, best first, at most `limit`: what a 404 suggests.
pub fn closest<'a>(specs: &'a [Spec], path: &str, limit: usize) -> Vec<&'a Operation> {
    let wanted: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut scored: Vec<(usize, usize, &Operation)> = Vec::new();
    for spec in specs {
        for operation in &spec.operations {
            let segments: Vec<&str> = operation
                .template
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            let shared = best_alignment(&wanted, &segments);
            let length_gap = segments.len().abs_diff(wanted.len());
            scored.push((shared, length_gap, operation));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, _, op)| op)
        .collect()
}

/// Matching segments (templated segments match anything) from the start of
/// the template against the request path, or from its end (the request
/// path may carry a base path the template lacks).
fn best_alignment(path: &[&str], template: &[&str]) -> usize {
    let same = |p: &&str, t: &&str| t.starts_with('{') || p == t;
    let forward = path
        .iter()
        .zip(template)
        .take_while(|(p, t)| same(p, t))
        .count();
    let backward = path
        .iter()
        .rev()
        .zip(template.iter().rev())
        .take_while(|(p, t)| same(p, t))
        .count();
    forward.max(backward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadedSpec;
    use crate::model::compile;
    use serde_json::json;

    fn spec(servers: &[&str], paths: &[(&str, &[&str])]) -> Spec {
        let mut document =
            json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}});
        document["servers"] = servers.iter().map(|u| json!({"url": u})).collect();
        for (template, methods) in paths {
            let mut item = json!({});
            for m in *methods {
                item[*m] = json!({"responses": {"200": {"description": "ok"}}});
            }
            document["paths"][*template] = item;
        }
        compile(LoadedSpec {
            file: "t.yaml".into(),
            document,
        })
        .unwrap()
    }

    #[test]
    fn literal_segments_win_and_parameter_names_come_back() {
        let specs = vec![spec(
            &["https://api.x/v1"],
            &[
                ("/pets/{petId}", &["get"]),
                ("/pets/mine", &["get"]),
                ("/pets/{id}/toys/{toy}.json", &["get"]),
            ],
        )];
        let routes = Routes::new(&specs);
        let found = routes
            .find(&specs, None, &Method::GET, "/v1/pets/mine")
            .unwrap();
        assert_eq!(specs[0].operations[found.operation].template, "/pets/mine");
        let found = routes
            .find(&specs, None, &Method::GET, "/v1/pets/a%20b")
            .unwrap();
        assert_eq!(found.params, [("petId".to_owned(), "a b".to_owned())]);
        assert_eq!(found.relative_path, "/pets/a%20b");
        let found = routes
            .find(&specs, None, &Method::GET, "/pets/7/toys/ball.json")
            .unwrap();
        assert_eq!(
            found.params,
            [
                ("id".to_owned(), "7".to_owned()),
                ("toy".to_owned(), "ball".to_owned())
            ]
        );
    }

    #[test]
    fn percent_encoded_paths_match_their_templates() {
        let specs = vec![spec(
            &[],
            &[
                ("/a b/{id}", &["get"]),
                ("/{x}/{id}", &["get"]),
                ("/files/{path}", &["get"]),
            ],
        )];
        let routes = Routes::new(&specs);
        let found = routes.find(&specs, None, &Method::GET, "/a%20b/1").unwrap();
        assert_eq!(specs[0].operations[found.operation].template, "/a b/{id}");
        assert_eq!(found.relative_path, "/a%20b/1");
        // An encoded slash is one segment, decoded in the value.
        let found = routes
            .find(&specs, None, &Method::GET, "/files/dir%2Fname%20x")
            .unwrap();
        assert_eq!(
            specs[0].operations[found.operation].template,
            "/files/{path}"
        );
        assert_eq!(found.params, [("path".to_owned(), "dir/name x".to_owned())]);
        // `%25` stays a percent sign, decoded once.
        let found = routes
            .find(&specs, None, &Method::GET, "/files/100%2541")
            .unwrap();
        assert_eq!(found.params[0].1, "100%41");
        assert_eq!(canonical("/x%FF"), "/x%FF");
    }

    #[test]
    fn trailing_slashes_do_not_matter() {
        let specs = vec![spec(
            &["https://pokeapi.co/v2"],
            &[("/pokemon/{id}/", &["get"])],
        )];
        let routes = Routes::new(&specs);
        let found = routes.find(&specs, None, &Method::GET, "/v2/pokemon/77");
        let found = found.unwrap_or_else(|e| panic!("{e:?} {specs:?}"));
        assert_eq!(
            (found.params[0].1.as_str(), found.relative_path.as_str()),
            ("77", "/pokemon/77")
        );
    }

    #[test]
    fn head_is_served_by_get() {
        let specs = vec![spec(&[], &[("/pets", &["get"])])];
        let routes = Routes::new(&specs);
        assert!(routes.find(&specs, None, &Method::HEAD, "/pets").is_ok());
        assert_eq!(
            routes.find(&specs, None, &Method::PUT, "/pets"),
            Err(Miss::MethodNotAllowed(vec![Method::GET]))
        );
    }

    #[test]
    fn wrong_method_and_unknown_path() {
        let specs = vec![spec(&[], &[("/pets", &["get", "post"])])];
        let routes = Routes::new(&specs);
        assert_eq!(
            routes.find(&specs, None, &Method::DELETE, "/pets"),
            Err(Miss::MethodNotAllowed(vec![Method::GET, Method::POST]))
        );
        assert_eq!(
            routes.find(&specs, None, &Method::GET, "/cats"),
            Err(Miss::NotFound)
        );
    }

    /// What a request routes to: the template and path parameters of the
    /// operation, or the miss.
    #[derive(Debug, PartialEq)]
    enum Routed {
        To(&'static str, &'static [&'static str]),
        Allow(&'static [&'static str]),
        NotFound,
    }

    #[test]
    fn each_method_goes_to_the_most_specific_path_that_documents_it() {
        use Routed::{Allow, NotFound, To};
        let specs = vec![spec(
            &["https://api.stripe.com/"],
            &[
                // Stripe's own: a literal path with fewer methods than the
                // template it shadows.
                ("/v1/credit_notes/preview", &["get"]),
                ("/v1/credit_notes/{id}", &["get", "post"]),
                ("/v1/invoices/upcoming", &["get"]),
                ("/v1/invoices/{invoice}", &["delete", "get", "post"]),
                ("/v1/invoices/{invoice}/pay", &["post"]),
                // A literal segment before a template's parameter, deeper.
                ("/v1/accounts/{account}/people/{person}", &["get", "delete"]),
                ("/v1/accounts/search/people/{person}", &["get"]),
                // Literal text around a parameter, which matchit holds.
                ("/files/{name}.json", &["get"]),
                ("/files/{name}", &["delete"]),
                // Two parameters in a segment, which it cannot hold.
                ("/days/{from}-{to}", &["get"]),
                ("/days/{day}", &["get", "put"]),
                // Trailing slashes.
                ("/users/", &["get"]),
                ("/users", &["post"]),
            ],
        )];
        let routes = Routes::new(&specs);
        let cases: &[(&str, &str, Routed)] = &[
            (
                "GET",
                "/v1/credit_notes/preview",
                To("/v1/credit_notes/preview", &[]),
            ),
            (
                "POST",
                "/v1/credit_notes/preview",
                To("/v1/credit_notes/{id}", &["preview"]),
            ),
            (
                "DELETE",
                "/v1/credit_notes/preview",
                Allow(&["GET", "POST"]),
            ),
            (
                "HEAD",
                "/v1/credit_notes/preview",
                To("/v1/credit_notes/preview", &[]),
            ),
            (
                "DELETE",
                "/v1/invoices/upcoming",
                To("/v1/invoices/{invoice}", &["upcoming"]),
            ),
            (
                "PATCH",
                "/v1/invoices/upcoming",
                Allow(&["GET", "POST", "DELETE"]),
            ),
            ("GET", "/v1/invoices/upcoming/pay", Allow(&["POST"])),
            (
                "POST",
                "/v1/invoices/upcoming/pay",
                To("/v1/invoices/{invoice}/pay", &["upcoming"]),
            ),
            (
                "GET",
                "/v1/accounts/search/people/p",
                To("/v1/accounts/search/people/{person}", &["p"]),
            ),
            (
                "DELETE",
                "/v1/accounts/search/people/p",
                To("/v1/accounts/{account}/people/{person}", &["search", "p"]),
            ),
            (
                "PUT",
                "/v1/accounts/search/people/p",
                Allow(&["GET", "DELETE"]),
            ),
            ("GET", "/files/a.json", To("/files/{name}.json", &["a"])),
            ("DELETE", "/files/a.json", To("/files/{name}", &["a.json"])),
            ("PUT", "/files/a.json", Allow(&["GET", "DELETE"])),
            ("GET", "/files/a.txt", Allow(&["DELETE"])),
            ("GET", "/days/1-2", To("/days/{from}-{to}", &["1", "2"])),
            ("PUT", "/days/1-2", To("/days/{day}", &["1-2"])),
            ("DELETE", "/days/1-2", Allow(&["GET", "PUT"])),
            ("GET", "/days/1", To("/days/{day}", &["1"])),
            ("POST", "/users/", To("/users", &[])),
            ("GET", "/users", To("/users/", &[])),
            ("DELETE", "/users", Allow(&["POST", "GET"])),
            ("GET", "/v1/nothing", NotFound),
            ("GET", "/v1/invoices/upcoming/pay/more", NotFound),
            ("GET", "/files/", NotFound),
        ];
        let mut wrong = Vec::new();
        for (method, path, expected) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let got = match routes.find(&specs, None, &method, path) {
                Ok(found) => {
                    let template = specs[0].operations[found.operation].template.as_str();
                    let params: Vec<&str> = found.params.iter().map(|(_, v)| v.as_str()).collect();
                    match expected {
                        To(want, want_params) if *want == template && *want_params == params => {
                            continue;
                        }
                        _ => format!("{template} {params:?}"),
                    }
                }
                Err(Miss::MethodNotAllowed(allowed)) => {
                    let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                    match expected {
                        Allow(want) if *want == allowed => continue,
                        _ => format!("405 {allowed:?}"),
                    }
                }
                Err(Miss::NotFound) if *expected == NotFound => continue,
                Err(Miss::NotFound) => "404".to_owned(),
            };
            wrong.push(format!("{method} {path}: expected {expected:?}, got {got}"));
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn hosts_pick_specs_and_the_first_spec_wins_ambiguity() {
        let specs = vec![
            spec(&["https://a.example"], &[("/users", &["get"])]),
            spec(&["https://b.example"], &[("/users", &["get"])]),
        ];
        let routes = Routes::new(&specs);
        assert_eq!(
            routes
                .find(&specs, Some("b.example"), &Method::GET, "/users")
                .unwrap()
                .spec,
            1
        );
        assert_eq!(
            routes
                .find(&specs, None, &Method::GET, "/users")
                .unwrap()
                .spec,
            0
        );
        // An unknown host searches everything.
        assert_eq!(
            routes
                .find(&specs, Some("c.example"), &Method::GET, "/users")
                .unwrap()
                .spec,
            0
        );
    }

    #[test]
    fn several_parameters_in_one_segment() {
        assert_eq!(
            match_segments("/d/{from}-{to}", "/d/2020-2021"),
            Some(vec!["2020".into(), "2021".into()])
        );
        assert_eq!(match_segments("/d/{from}-{to}", "/d/2020"), None);
        assert_eq!(
            match_segments("/d/{a}{b}", "/d/xy"),
            Some(vec!["x".into(), "y".into()])
        );
        let specs = vec![spec(&[], &[("/d/{from}-{to}", &["get"])])];
        let routes = Routes::new(&specs);
        assert_eq!(
            routes
                .find(&specs, None, &Method::GET, "/d/1-2")
                .unwrap()
                .params
                .len(),
            2
        );
    }

    #[test]
    fn closest_operations_share_leading_segments() {
        let specs = vec![spec(
            &[],
            &[
                ("/pets", &["get"]),
                ("/pets/{id}", &["get"]),
                ("/stores", &["get"]),
            ],
        )];
        let near: Vec<_> = closest(&specs, "/pets/1/photos", 2)
            .iter()
            .map(|o| o.template.as_str())
            .collect();
        assert_eq!(near, ["/pets/{id}", "/pets"]);
    }
}
