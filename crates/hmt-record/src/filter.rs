//! Which exchanges to record.
//!
//! A recording session usually cares about one API, not every health check,
//! analytics beacon and static asset that passes through the proxy.
//! [`Filter`] decides, per exchange, from rules given on the command line:
//!
//! - **Hosts and paths**, each with include and exclude globs. For hosts and
//!   for paths independently, an exchange passes when there is no include
//!   glob or one matches, and no exclude glob matches.
//! - **Methods** and **statuses**, when given, are allow-lists.
//!
//! An exchange is recorded when it passes all four.
//!
//! Globs: `*` matches any run of characters, including `/` and `.`; `?`
//! matches exactly one character; everything else is literal. Hosts match
//! ignoring case, with and without their port (`api.example.com:8443` is
//! matched by both `*.example.com` and `*:8443`); paths (without the query)
//! match case-sensitively. Statuses are written `404`, `2xx` or `500-599`.
//! Rules are checked once, in [`Filter::new`], so a typo is an error at
//! start-up rather than a recording that silently stays empty.
//!
//! ```
//! use hmt_record::filter::{Filter, FilterRules};
//! use hmt_types::{Exchange, Method, Request, Response};
//!
//! let filter = Filter::new(FilterRules {
//!     include_hosts: vec!["*.example.com".into()],
//!     exclude_paths: vec!["/health*".into()],
//!     statuses: vec!["2xx".into()],
//!     ..FilterRules::default()
//! })
//! .unwrap();
//!
//! let mut request = Request::new(Method::Get, "/users/42");
//! request.host = Some("api.example.com:8443".into());
//! let mut exchange = Exchange { request, response: Some(Response::new(200)), meta: Default::default() };
//! assert!(filter.allows(&exchange));
//!
//! exchange.request.pathname = "/healthz".into();
//! assert!(!filter.allows(&exchange));
//!
//! let err = Filter::new(FilterRules { statuses: vec!["2x".into()], ..FilterRules::default() }).unwrap_err();
//! assert!(err.to_string().starts_with("invalid status filter \"2x\""));
//! ```

use hmt_types::{Exchange, Method};

/// Filter rules as given by the user; see the [module docs](self) for
/// their meaning. Every list may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterRules {
    /// Host globs; when any are given, one must match.
    pub include_hosts: Vec<String>,
    /// Host globs; none may match.
    pub exclude_hosts: Vec<String>,
    /// Path globs; when any are given, one must match.
    pub include_paths: Vec<String>,
    /// Path globs; none may match.
    pub exclude_paths: Vec<String>,
    /// Method names in any case; when any are given, the method must be one.
    pub methods: Vec<String>,
    /// `404`, `2xx` or `500-599`; when any are given, the status must match
    /// one.
    pub statuses: Vec<String>,
}

/// A rule that [`Filter::new`] could not make sense of.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// An empty host or path glob, which could only match an empty string.
    #[error("empty {kind} pattern")]
    EmptyPattern {
        /// `include host`, `exclude path`, ...
        kind: &'static str,
    },
    /// A method that is not an HTTP method.
    #[error(
        "unknown method {rule:?} in the method filter, expected one of get, put, post, patch, delete, options, trace, head, connect"
    )]
    Method {
        /// The rule as given.
        rule: String,
    },
    /// A status rule that is not a code, a class or a range.
    #[error(
        "invalid status filter {rule:?}: {reason}; expected a code (404), a class (2xx) or a range (500-599)"
    )]
    Status {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Decides which exchanges are recorded; built from [`FilterRules`].
#[derive(Clone, Debug, Default)]
pub struct Filter {
    include_hosts: Vec<Glob>,
    exclude_hosts: Vec<Glob>,
    include_paths: Vec<Glob>,
    exclude_paths: Vec<Glob>,
    methods: Vec<Method>,
    /// Inclusive ranges.
    statuses: Vec<(u16, u16)>,
}

impl Filter {
    /// Checks and compiles `rules`; the error names the first bad rule.
    pub fn new(rules: FilterRules) -> Result<Filter, FilterError> {
        let host_globs = |patterns: &[String], kind| {
            patterns
                .iter()
                .map(|p| Glob::new(&p.to_lowercase(), kind))
                .collect::<Result<Vec<_>, _>>()
        };
        let path_globs = |patterns: &[String], kind| {
            patterns
                .iter()
                .map(|p| Glob::new(p, kind))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Filter {
            include_hosts: host_globs(&rules.include_hosts, "include host")?,
            exclude_hosts: host_globs(&rules.exclude_hosts, "exclude host")?,
            include_paths: path_globs(&rules.include_paths, "include path")?,
            exclude_paths: path_globs(&rules.exclude_paths, "exclude path")?,
            methods: rules
                .methods
                .iter()
                .map(|m| {
                    Method::parse(m.trim()).ok_or_else(|| FilterError::Method { rule: m.clone() })
                })
                .collect::<Result<_, _>>()?,
            statuses: rules
                .statuses
                .iter()
                .map(|s| {
                    parse_status(s.trim()).map_err(|reason| FilterError::Status {
                        rule: s.clone(),
                        reason,
                    })
                })
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether `exchange` is to be recorded. An exchange without a response
    /// passes the status rules only when there are none.
    pub fn allows(&self, exchange: &Exchange) -> bool {
        self.allows_host(exchange)
            && self.allows_path(&exchange.request.pathname)
            && (self.methods.is_empty() || self.methods.contains(&exchange.request.method))
            && (self.statuses.is_empty()
                || exchange.response.as_ref().is_some_and(|r| {
                    self.statuses
                        .iter()
                        .any(|&(lo, hi)| (lo..=hi).contains(&r.status))
                }))
    }

    fn allows_host(&self, exchange: &Exchange) -> bool {
        if self.include_hosts.is_empty() && self.exclude_hosts.is_empty() {
            return true;
        }
        let request = &exchange.request;
        let host = request
            .host
            .as_deref()
            .or_else(|| request.headers.get_ignore_case("host"))
            .unwrap_or_default()
            .to_lowercase();
        let bare = strip_port(&host);
        let matches = |globs: &[Glob]| {
            globs
                .iter()
                .any(|g| g.matches(&host) || bare.is_some_and(|b| g.matches(b)))
        };
        (self.include_hosts.is_empty() || matches(&self.include_hosts))
            && !matches(&self.exclude_hosts)
    }

    fn allows_path(&self, path: &str) -> bool {
        (self.include_paths.is_empty() || self.include_paths.iter().any(|g| g.matches(path)))
            && !self.exclude_paths.iter().any(|g| g.matches(path))
    }
}

/// `host` without its `:port`, when it has one (`[::1]:8080` → `[::1]`).
fn strip_port(host: &str) -> Option<&str> {
    let (name, port) = host.rsplit_once(':')?;
    let is_port = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    // An unbracketed IPv6 address has colons but no port.
    let name_ok = name.ends_with(']') || !name.contains(':');
    (is_port && name_ok && !name.is_empty()).then_some(name)
}

/// Parses `404`, `2xx` (any case) or `500-599` into an inclusive range.
fn parse_status(rule: &str) -> Result<(u16, u16), &'static str> {
    fn code(s: &str) -> Result<u16, &'static str> {
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a status code has three digits");
        }
        match s.parse::<u16>() {
            Ok(n) if n >= 100 => Ok(n),
            _ => Err("status codes go from 100 to 999"),
        }
    }
    if rule.is_empty() {
        return Err("it is empty");
    }
    if let Some((lo, hi)) = rule.split_once('-') {
        let (lo, hi) = (code(lo.trim())?, code(hi.trim())?);
        if lo > hi {
            return Err("the range is backwards");
        }
        return Ok((lo, hi));
    }
    let bytes = rule.as_bytes();
    if let [class @ b'1'..=b'9', x1, x2] = bytes
        && x1.eq_ignore_ascii_case(&b'x')
        && x2.eq_ignore_ascii_case(&b'x')
    {
        let lo = u16::from(class - b'0') * 100;
        return Ok((lo, lo + 99));
    }
    code(rule).map(|n| (n, n))
}

/// A compiled glob: `*` any run, `?` one character, the rest literal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Glob {
    tokens: Vec<Token>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Star,
    One,
    Literal(char),
}

impl Glob {
    fn new(pattern: &str, kind: &'static str) -> Result<Glob, FilterError> {
        if pattern.is_empty() {
            return Err(FilterError::EmptyPattern { kind });
        }
        let mut tokens = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let token = match c {
                '*' => Token::Star,
                '?' => Token::One,
                c => Token::Literal(c),
            };
            // `**` means the same as `*`; one is cheaper to match.
            if !(token == Token::Star && tokens.last() == Some(&Token::Star)) {
                tokens.push(token);
            }
        }
        Ok(Glob { tokens })
    }

    /// Iterative matching with single-star backtracking: O(pattern × text)
    /// at worst, no recursion.
    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match (self.tokens.get(p), text.get(t)) {
                (Some(Token::Star), _) => {
                    backtrack = Some((p, t));
                    p += 1;
                }
                (Some(Token::One), Some(_)) => {
                    p += 1;
                    t += 1;
                }
                (Some(Token::Literal(l)), Some(c)) if l == c => {
                    p += 1;
                    t += 1;
                }
                _ => match backtrack {
                    Some((star, from)) => {
                        backtrack = Some((star, from + 1));
                        p = star + 1;
                        t = from + 1;
                    }
                    None => return false,
                },
            }
        }
        self.tokens
            .get(p..)
            .is_some_and(|rest| rest.iter().all(|t| *t == Token::Star))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmt_types::{Request, Response};

    fn exchange(method: Method, host: Option<&str>, path: &str, status: Option<u16>) -> Exchange {
        let mut request = Request::new(method, path);
        request.host = host.map(String::from);
        Exchange {
            request,
            response: status.map(Response::new),
            meta: Default::default(),
        }
    }

    fn get(host: &str, path: &str) -> Exchange {
        exchange(Method::Get, Some(host), path, Some(200))
    }

    fn filter(rules: FilterRules) -> Filter {
        Filter::new(rules).unwrap()
    }

    #[test]
    fn no_rules_allow_everything() {
        let f = filter(FilterRules::default());
        assert!(f.allows(&get("a.b", "/")));
        assert!(f.allows(&exchange(Method::Delete, None, "/x", None)));
    }

    #[test]
    fn globs() {
        let g = |p: &str| Glob::new(p, "test").unwrap();
        assert!(g("*").matches(""));
        assert!(g("*").matches("/a/b.c"));
        assert!(g("/api/*").matches("/api/v1/users"));
        assert!(!g("/api/*").matches("/apiv1"));
        assert!(g("/users/?").matches("/users/7"));
        assert!(!g("/users/?").matches("/users/42"));
        assert!(!g("/users/?").matches("/users/"));
        assert!(g("/users/??").matches("/users/é1"));
        assert!(g("*.json").matches("/a.b/c.json"));
        assert!(!g("*.json").matches("/a.json/c"));
        assert!(g("/a*b*c").matches("/aXbYbZc"));
        assert!(!g("/a*b*c").matches("/aXbYbZ"));
        assert!(g("a**b").matches("ab"));
        assert!(g("/[x]+(y)").matches("/[x]+(y)"));
        assert!(!g("/[x]").matches("/x"));
        // Pathological patterns stay fast.
        let text = "a".repeat(5000);
        assert!(!g(&format!("{}b", "*a".repeat(50))).matches(&text));
        assert!(matches!(
            Glob::new("", "include path"),
            Err(FilterError::EmptyPattern {
                kind: "include path"
            })
        ));
    }

    #[test]
    fn hosts_include_exclude_case_and_port() {
        let f = filter(FilterRules {
            include_hosts: vec!["*.Example.com".into(), "localhost:8080".into()],
            exclude_hosts: vec!["metrics.example.com".into()],
            ..FilterRules::default()
        });
        assert!(f.allows(&get("api.example.com", "/")));
        assert!(f.allows(&get("API.EXAMPLE.COM:8443", "/")));
        assert!(!f.allows(&get("metrics.example.com:443", "/")));
        assert!(!f.allows(&get("example.org", "/")));
        assert!(!f.allows(&get("example.com", "/")));
        assert!(f.allows(&get("localhost:8080", "/")));
        assert!(!f.allows(&get("localhost", "/")));
        assert!(!f.allows(&get("localhost:9090", "/")));
        // No host at all: include rules cannot match.
        assert!(!f.allows(&exchange(Method::Get, None, "/", Some(200))));

        let with_port = filter(FilterRules {
            include_hosts: vec!["api.example.com:8443".into()],
            ..FilterRules::default()
        });
        assert!(with_port.allows(&get("api.example.com:8443", "/")));
        assert!(!with_port.allows(&get("api.example.com", "/")));

        let exclude_only = filter(FilterRules {
            exclude_hosts: vec!["*.internal".into()],
            ..FilterRules::default()
        });
        assert!(exclude_only.allows(&get("api.example.com", "/")));
        assert!(!exclude_only.allows(&get("db.internal:5432", "/")));
    }

    #[test]
    fn host_falls_back_to_the_host_header() {
        let f = filter(FilterRules {
            include_hosts: vec!["api.example.com".into()],
            ..FilterRules::default()
        });
        let mut e = exchange(Method::Get, None, "/", Some(200));
        e.request.headers.append("Host", "api.example.com:80");
        assert!(f.allows(&e));
    }

    #[test]
    fn ports_are_stripped_carefully() {
        assert_eq!(strip_port("a.com:80"), Some("a.com"));
        assert_eq!(strip_port("[::1]:8080"), Some("[::1]"));
        assert_eq!(strip_port("::1"), None);
        assert_eq!(strip_port("a.com"), None);
        assert_eq!(strip_port("a.com:"), None);
        assert_eq!(strip_port(":80"), None);
    }

    #[test]
    fn paths_include_exclude_case_sensitive() {
        let f = filter(FilterRules {
            include_paths: vec!["/api/*".into()],
            exclude_paths: vec!["/api/internal/*".into(), "*.png".into()],
            ..FilterRules::default()
        });
        assert!(f.allows(&get("h", "/api/users?x=1")));
        assert!(!f.allows(&get("h", "/API/users")));
        assert!(!f.allows(&get("h", "/api/internal/debug")));
        assert!(!f.allows(&get("h", "/api/logo.png")));
        assert!(f.allows(&get("h", "/api/logo.png.json")));
        assert!(!f.allows(&get("h", "/other")));
    }

    #[test]
    fn methods_any_case() {
        let f = filter(FilterRules {
            methods: vec!["GET".into(), "post".into()],
            ..FilterRules::default()
        });
        assert!(f.allows(&exchange(Method::Get, None, "/", None)));
        assert!(f.allows(&exchange(Method::Post, None, "/", None)));
        assert!(!f.allows(&exchange(Method::Delete, None, "/", None)));
        assert_eq!(
            Filter::new(FilterRules {
                methods: vec!["get".into(), "FETCH".into()],
                ..FilterRules::default()
            })
            .unwrap_err(),
            FilterError::Method {
                rule: "FETCH".into()
            }
        );
    }

    #[test]
    fn statuses_codes_classes_ranges() {
        let f = filter(FilterRules {
            statuses: vec!["404".into(), "2XX".into(), "500-503".into()],
            ..FilterRules::default()
        });
        let with = |s| exchange(Method::Get, None, "/", Some(s));
        for ok in [200, 204, 299, 404, 500, 503] {
            assert!(f.allows(&with(ok)), "{ok}");
        }
        for no in [199, 301, 403, 405, 504, 599] {
            assert!(!f.allows(&with(no)), "{no}");
        }
        assert!(!f.allows(&exchange(Method::Get, None, "/", None)));
    }

    #[test]
    fn bad_status_rules_are_named() {
        for bad in [
            "", "6x", "0xx", "2x", "20", "2000", "abc", "599-500", "50-60", "099", "2xx-3xx",
        ] {
            let err = Filter::new(FilterRules {
                statuses: vec!["200".into(), bad.into()],
                ..FilterRules::default()
            })
            .unwrap_err();
            match &err {
                FilterError::Status { rule, .. } => assert_eq!(rule, bad),
                other => panic!("{other:?}"),
            }
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert_eq!(parse_status("9xx"), Ok((900, 999)));
        assert_eq!(parse_status("100-199"), Ok((100, 199)));
    }

    #[test]
    fn kinds_combine() {
        let f = filter(FilterRules {
            include_hosts: vec!["api.*".into()],
            include_paths: vec!["/v1/*".into()],
            methods: vec!["get".into()],
            statuses: vec!["2xx".into()],
            ..FilterRules::default()
        });
        assert!(f.allows(&get("api.x", "/v1/a")));
        assert!(!f.allows(&get("www.x", "/v1/a")));
        assert!(!f.allows(&get("api.x", "/v2/a")));
        assert!(!f.allows(&exchange(Method::Put, Some("api.x"), "/v1/a", Some(200))));
        assert!(!f.allows(&exchange(Method::Get, Some("api.x"), "/v1/a", Some(500))));
    }
}
