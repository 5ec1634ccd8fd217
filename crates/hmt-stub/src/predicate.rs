//! mountebank's predicates: `equals`, `deepEquals`, `contains`,
//! `startsWith`, `endsWith`, `matches`, `exists`, `not`, `or`, `and`, with
//! `caseSensitive`, `keyCaseSensitive`, `except`, `jsonpath` and `xpath`.
//!
//! The rules are mountebank's, reproduced step for step because clients
//! depend on their corners: both sides are "normalized" (keys and values
//! lower-cased unless `caseSensitive`, `except` removed, arrays sorted),
//! an object on the expected side is a subset match, a JSON body is
//! compared field by field, a scalar matches an array that contains it,
//! and values compare as JavaScript strings (`5` equals `"5"`).
//!
//! What can be done once is done when the predicate is compiled, not per
//! request: the expected side is normalized, regular expressions, JSON
//! paths and XPaths are compiled (a bad one is an error naming where it is), and only
//! the request fields the predicate names are read.

pub(crate) use crate::engine::CompileOptions;
use crate::error::StubError;
use crate::js;
use crate::request::Request;
use crate::scripts::Script;
use crate::xpath::XPathSelector;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};
use serde_json_path::JsonPath;
use std::borrow::Cow;
use std::collections::HashMap;

/// A compiled predicate.
#[derive(Debug, Clone)]
pub struct Predicate {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Compare(Box<Compare>),
    Not(Box<Predicate>),
    Or(Vec<Predicate>),
    And(Vec<Predicate>),
    Inject(Script),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equals,
    DeepEquals,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Exists,
}

impl Operator {
    const ALL: [(&'static str, Operator); 7] = [
        ("equals", Operator::Equals),
        ("deepEquals", Operator::DeepEquals),
        ("contains", Operator::Contains),
        ("startsWith", Operator::StartsWith),
        ("endsWith", Operator::EndsWith),
        ("matches", Operator::Matches),
        ("exists", Operator::Exists),
    ];
}

/// How one side is normalized: mountebank's `normalize` settings.
#[derive(Debug, Clone)]
struct Normalize {
    lower_keys: bool,
    lower_values: bool,
    except: Option<Regex>,
}

impl Normalize {
    fn string(&self, text: &str) -> String {
        let text = if self.lower_values {
            text.to_lowercase()
        } else {
            text.to_string()
        };
        match &self.except {
            Some(except) => except.replace_all(&text, "").into_owned(),
            None => text,
        }
    }

    fn key(&self, key: &str) -> String {
        if self.lower_keys {
            key.to_lowercase()
        } else {
            key.to_string()
        }
    }

    /// `transformAll` without array sorting: what mountebank applies to a
    /// body parsed as JSON (`tryJSON`), so indexed selectors still work.
    fn parsed_json(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.parsed_json(item)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (self.key(key), self.parsed_json(item)))
                    .collect(),
            ),
            Value::String(text) => Value::String(self.string(text)),
            other => other.clone(),
        }
    }

    /// `tryJSON`: the text parsed as JSON and normalized, or the text itself.
    fn try_json(&self, text: &str) -> Value {
        match serde_json::from_str::<Value>(text) {
            Ok(parsed) => self.parsed_json(&parsed),
            Err(_) => Value::String(text.to_string()),
        }
    }
}

/// A `jsonpath` or `xpath` selector: applied to each string value of the
/// request side (parsed as JSON or XML).
#[derive(Debug, Clone)]
enum Selector {
    JsonPath(JsonPath),
    XPath(XPathSelector),
}

#[derive(Debug, Clone)]
struct Compare {
    operator: Operator,
    /// The expected side, normalized once.
    expected: Value,
    /// How the request side is normalized.
    actual: Normalize,
    selector: Option<Selector>,
    /// `matches` only: every string of `expected`, compiled.
    patterns: HashMap<String, Regex>,
    /// The common case done without building the request side: string
    /// comparisons on the method and path, without `except` or a selector.
    fast: Option<Vec<(Line, String)>>,
}

/// A field of the request line, for [`Compare::fast`].
#[derive(Debug, Clone, Copy)]
enum Line {
    Method,
    Path,
}

impl Predicate {
    /// Compiles a predicate from mountebank's JSON; `pointer` locates it in
    /// the document for errors (`/stubs/0/predicates/1`).
    pub fn compile(
        json: &Value,
        pointer: &str,
        options: &CompileOptions,
    ) -> Result<Predicate, StubError> {
        let object = json
            .as_object()
            .ok_or_else(|| StubError::bad_data(pointer, "a predicate must be a JSON object"))?;
        // mountebank takes the first key that names an operator.
        for (key, value) in object {
            let at = format!("{pointer}/{}", escape(key));
            match key.as_str() {
                "not" => {
                    return Ok(Predicate {
                        kind: Kind::Not(Box::new(Predicate::compile(value, &at, options)?)),
                    });
                }
                "or" | "and" => {
                    let items = value.as_array().ok_or_else(|| {
                        StubError::bad_data(&at, format!("'{key}' takes an array of predicates"))
                    })?;
                    let compiled = items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            Predicate::compile(item, &format!("{at}/{index}"), options)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let kind = if key == "or" {
                        Kind::Or(compiled)
                    } else {
                        Kind::And(compiled)
                    };
                    return Ok(Predicate { kind });
                }
                "inject" => {
                    return Ok(Predicate {
                        kind: Kind::Inject(Script::compile(value, &at, options)?),
                    });
                }
                _ => {}
            }
            if let Some((_, operator)) = Operator::ALL.iter().find(|(name, _)| name == key) {
                let compare = Compare::compile(*operator, value, object, &at, pointer)?;
                return Ok(Predicate {
                    kind: Kind::Compare(Box::new(compare)),
                });
            }
        }
        Err(StubError::bad_data(pointer, "missing predicate"))
    }

    /// Why the request does not satisfy the predicate, in a sentence;
    /// `None` when it does. For the nearest-stub report of a miss, so it is
    /// allowed to be slower than [`Predicate::matches`].
    pub fn explain(&self, request: &Request) -> Option<String> {
        if self.matches(request) {
            return None;
        }
        Some(match &self.kind {
            Kind::Compare(compare) => compare.explain(request),
            Kind::Not(_) => "not: the predicate inside it matches".to_string(),
            Kind::Or(items) => format!("or: none of its {} predicates matches", items.len()),
            Kind::And(items) => {
                let first = items.iter().filter_map(|item| item.explain(request)).next();
                format!("and: {}", first.unwrap_or_default())
            }
            Kind::Inject(_) => "inject: the function did not return true".to_string(),
        })
    }

    /// Whether the request satisfies the predicate; a function that fails
    /// satisfies nothing (see [`Predicate::try_matches`] for the failure).
    pub fn matches(&self, request: &Request) -> bool {
        self.try_matches(request).unwrap_or(false)
    }

    /// Whether the request satisfies the predicate, or the failure of an
    /// injected function it reached. `or` and `and` stop at the first
    /// predicate that decides them, as mountebank's do, so a function
    /// after that point does not run.
    pub fn try_matches(&self, request: &Request) -> Result<bool, InjectionFailed> {
        Ok(match &self.kind {
            Kind::Compare(compare) => compare.matches(request),
            Kind::Not(inner) => !inner.try_matches(request)?,
            Kind::Or(items) => {
                for item in items {
                    if item.try_matches(request)? {
                        return Ok(true);
                    }
                }
                false
            }
            Kind::And(items) => {
                for item in items {
                    if !item.try_matches(request)? {
                        return Ok(false);
                    }
                }
                true
            }
            Kind::Inject(script) => script
                .scripts
                .predicate(&script.source, request.to_json())
                .map_err(|message| InjectionFailed {
                    function: script.source.clone(),
                    message,
                })?,
        })
    }
}

/// An injected predicate function that threw (or ran out of time or
/// memory) on a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid predicate injection: {message}")]
pub struct InjectionFailed {
    /// The function's source, as the stub gave it.
    pub function: String,
    /// The engine's message.
    pub message: String,
}

impl InjectionFailed {
    /// mountebank's answer when a predicate's function fails: 500 with
    /// `invalid injection`, `invalid predicate injection`, the source and
    /// the engine's message. The request matches no stub; mountebank
    /// stops looking at the first failure, and so does
    /// [`Stubs::answer`](crate::Stubs::answer).
    pub fn reply(&self) -> crate::Reply {
        crate::response::injection_failed_reply("predicate", &self.function, &self.message)
    }
}

pub(crate) use hmt_types::pointer::escape;

impl Compare {
    fn compile(
        operator: Operator,
        expected: &Value,
        predicate: &Map<String, Value>,
        at: &str,
        pointer: &str,
    ) -> Result<Compare, StubError> {
        if !expected.is_object() {
            return Err(StubError::bad_data(
                at,
                "the operator takes an object of request fields, such as {\"path\": \"/\"}",
            ));
        }
        let flag = |name: &str| -> Result<Option<bool>, StubError> {
            match predicate.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(flag)) => Ok(Some(*flag)),
                Some(_) => Err(StubError::bad_data(
                    &format!("{pointer}/{name}"),
                    format!("'{name}' must be true or false"),
                )),
            }
        };
        let case_sensitive = flag("caseSensitive")?;
        let key_case_sensitive = flag("keyCaseSensitive")?;
        let except = match predicate.get("except") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.is_empty() => None,
            Some(Value::String(text)) => Some(text.as_str()),
            Some(_) => {
                return Err(StubError::bad_data(
                    &format!("{pointer}/except"),
                    "'except' must be a regular expression string",
                ));
            }
        };
        let cs = case_sensitive.unwrap_or(false);
        // `matches` keeps the expected values' case (they are regular
        // expressions, where \W and \w differ) and folds case in the regex.
        let (expected_side, actual_side, key_sensitive) = if operator == Operator::Matches {
            let lower_keys = !cs;
            let except = compile_except(except, true, pointer)?;
            (
                Normalize {
                    lower_keys,
                    lower_values: false,
                    except: None,
                },
                Normalize {
                    lower_keys,
                    lower_values: false,
                    except,
                },
                cs,
            )
        } else {
            // keyCaseSensitive only takes effect as `false` beside caseSensitive.
            let lower_keys = key_case_sensitive == Some(false) || !cs;
            let side = Normalize {
                lower_keys,
                lower_values: !cs,
                except: compile_except(except, cs, pointer)?,
            };
            (side.clone(), side, key_case_sensitive.unwrap_or(cs))
        };
        let selector = match predicate.get("jsonpath") {
            None | Some(Value::Null) => None,
            Some(config) => {
                let selector = config
                    .get("selector")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        StubError::bad_data(
                            &format!("{pointer}/jsonpath"),
                            "'jsonpath' needs a 'selector' string",
                        )
                    })?;
                let selector = if key_sensitive {
                    selector.to_string()
                } else {
                    selector.to_lowercase()
                };
                let path = JsonPath::parse(&selector).map_err(|error| {
                    StubError::bad_data(
                        &format!("{pointer}/jsonpath/selector"),
                        format!("not a JSONPath: {error}"),
                    )
                })?;
                Some(Selector::JsonPath(path))
            }
        };
        // mountebank reads `xpath` only without a `jsonpath`.
        let selector = match (selector, predicate.get("xpath")) {
            (Some(selector), _) => Some(selector),
            (None, None | Some(Value::Null)) => None,
            (None, Some(config)) => Some(Selector::XPath(compile_xpath(
                config,
                &format!("{pointer}/xpath"),
                key_sensitive,
                actual_side.lower_values,
            )?)),
        };
        let normalized = if operator == Operator::DeepEquals {
            normalize(&js::force_strings(expected), &expected_side, None, false)
        } else {
            normalize(expected, &expected_side, None, false)
        }
        .unwrap_or(Value::Null);
        let mut patterns = HashMap::new();
        if operator == Operator::Matches {
            collect_patterns(&normalized, !cs, at, &mut patterns)?;
        }
        let fast = fast_form(operator, &normalized, &actual_side, selector.is_some());
        Ok(Compare {
            operator,
            expected: normalized,
            actual: actual_side,
            selector,
            patterns,
            fast,
        })
    }

    /// The fast form's answer; `None` when a value is not ASCII (where
    /// JavaScript's case folding is not ASCII's) and the full rules apply.
    fn fast_matches(&self, fast: &[(Line, String)], request: &Request) -> Option<bool> {
        for (line, want) in fast {
            let got = match line {
                Line::Method => request.method.as_str(),
                Line::Path => request.path.as_str(),
            };
            if !got.is_ascii() {
                return None;
            }
            let fold = self.actual.lower_values;
            let same = |a: &str, b: &str| {
                if fold {
                    a.eq_ignore_ascii_case(b)
                } else {
                    a == b
                }
            };
            let accepted = match self.operator {
                Operator::Equals => got.len() == want.len() && same(got, want),
                Operator::StartsWith => got.len() >= want.len() && same(&got[..want.len()], want),
                Operator::EndsWith => {
                    got.len() >= want.len() && same(&got[got.len() - want.len()..], want)
                }
                _ => return None,
            };
            if !accepted {
                return Some(false);
            }
        }
        Some(true)
    }

    fn matches(&self, request: &Request) -> bool {
        if let Some(fast) = &self.fast
            && let Some(answer) = self.fast_matches(fast, request)
        {
            return answer;
        }
        let Value::Object(expected) = &self.expected else {
            return false;
        };
        if self.operator == Operator::DeepEquals {
            return expected.iter().all(|(key, want)| {
                let Some(field) = self.request_field(request, key) else {
                    return false;
                };
                let forced = js::force_strings(&field);
                let mut actual = normalize(&forced, &self.actual, self.selector.as_ref(), true);
                if js::is_object(want)
                    && let Some(Value::String(text)) = &actual
                {
                    let parsed = js::force_strings(&self.actual.try_json(text));
                    actual = normalize(&parsed, &self.actual, None, false);
                }
                actual.is_some_and(|actual| {
                    js::stable_stringify(want) == js::stable_stringify(&actual)
                })
            });
        }
        // The request side holds only the fields the predicate names.
        let mut actual = Map::new();
        for key in expected.keys() {
            if let Some(field) = self.request_field(request, key)
                && let Some(value) = normalize(&field, &self.actual, self.selector.as_ref(), false)
            {
                actual.insert(key.clone(), value);
            }
        }
        self.satisfied(&self.expected, Some(&Value::Object(actual)))
    }

    /// Which fields fail, each with what was expected and what the request has.
    fn explain(&self, request: &Request) -> String {
        let name = Operator::ALL
            .iter()
            .find(|(_, operator)| *operator == self.operator)
            .map(|(name, _)| *name)
            .unwrap_or("predicate");
        let Value::Object(expected) = &self.expected else {
            return format!("{name}: nothing to compare");
        };
        let failing: Vec<String> = expected
            .iter()
            .filter(|(key, want)| !self.field_matches(request, key, want))
            .map(|(key, want)| {
                let has = match self.request_field(request, key) {
                    Some(value) => value.to_string(),
                    None => "nothing".to_string(),
                };
                format!("{key} should {} {want}; the request has {has}", self.verb())
            })
            .collect();
        format!("{name}: {}", failing.join("; "))
    }

    fn verb(&self) -> &'static str {
        match self.operator {
            Operator::Equals => "equal",
            Operator::DeepEquals => "deeply equal",
            Operator::Contains => "contain",
            Operator::StartsWith => "start with",
            Operator::EndsWith => "end with",
            Operator::Matches => "match",
            Operator::Exists => "exist as",
        }
    }

    /// One field of the expected side against the request.
    fn field_matches(&self, request: &Request, key: &str, want: &Value) -> bool {
        let mut expected = Map::new();
        expected.insert(key.to_string(), want.clone());
        let single = Compare {
            operator: self.operator,
            expected: Value::Object(expected),
            actual: self.actual.clone(),
            selector: self.selector.clone(),
            patterns: self.patterns.clone(),
            fast: None,
        };
        single.matches(request)
    }

    /// The request's field named by a (normalized) key of the expected side.
    ///
    /// The method and path are copied (short, and read by most stubs
    /// without building anything else); every other field is borrowed from
    /// the request's JSON object, built once per request however many
    /// predicates read it.
    fn request_field<'r>(&self, request: &'r Request, key: &str) -> Option<Cow<'r, Value>> {
        const FIELDS: [&str; 8] = [
            "method",
            "path",
            "query",
            "headers",
            "body",
            "form",
            "requestFrom",
            "ip",
        ];
        let name = FIELDS.iter().find(|field| {
            if self.actual.lower_keys {
                field.eq_ignore_ascii_case(key)
            } else {
                **field == key
            }
        })?;
        match *name {
            "method" => Some(Cow::Owned(Value::String(request.method.clone()))),
            "path" => Some(Cow::Owned(Value::String(request.path.clone()))),
            name => request.to_json().get(name).map(Cow::Borrowed),
        }
    }

    /// mountebank's `predicateSatisfied`.
    fn satisfied(&self, expected: &Value, actual: Option<&Value>) -> bool {
        if !js::truthy(actual) {
            return false;
        }
        let parsed;
        let actual = match actual {
            Some(Value::String(text)) => {
                parsed = self.actual.try_json(text);
                &parsed
            }
            Some(other) => other,
            None => return false,
        };
        js::keys(expected).iter().all(|key| {
            let want = js::index(expected, key).unwrap_or(&Value::Null);
            let got = js::index(actual, key);
            match (want, got) {
                (Value::Array(wants), Some(Value::Array(gots))) => wants
                    .iter()
                    .all(|want| gots.iter().any(|got| self.test(want, Some(got)))),
                (_, Some(Value::Array(gots))) => {
                    (self.operator == Operator::Exists && js::truthy(Some(want)))
                        || gots.iter().any(|got| self.test(want, Some(got)))
                }
                // An object predicate against an array of objects: any element.
                (_, None) if actual.is_array() => match actual {
                    Value::Array(items) => items.iter().any(|item| self.test(expected, Some(item))),
                    _ => false,
                },
                (want, got) if js::is_object(want) => self.satisfied(want, got),
                (want, got) => self.test(want, got),
            }
        })
    }

    /// mountebank's `testPredicate`: a missing value is the empty string.
    fn test(&self, expected: &Value, actual: Option<&Value>) -> bool {
        let empty = Value::String(String::new());
        let actual = actual.unwrap_or(&empty);
        if js::is_object(expected) {
            return self.satisfied(expected, Some(actual));
        }
        self.compare(expected, actual)
    }

    fn compare(&self, expected: &Value, actual: &Value) -> bool {
        match self.operator {
            Operator::Equals | Operator::DeepEquals => {
                js::to_js_string(expected) == js::to_js_string(actual)
            }
            Operator::Exists => {
                let present = actual.as_str() != Some("");
                if js::truthy(Some(expected)) {
                    present
                } else {
                    !present
                }
            }
            Operator::Matches => {
                let text = js::to_js_string(actual).unwrap_or_else(|| "null".to_string());
                js::to_js_string(expected)
                    .and_then(|source| self.patterns.get(&source))
                    .is_some_and(|pattern| pattern.is_match(&text))
            }
            Operator::Contains | Operator::StartsWith | Operator::EndsWith => {
                let needle = js::to_js_string(expected).unwrap_or_else(|| "null".to_string());
                match actual {
                    Value::String(text) => match self.operator {
                        Operator::Contains => text.contains(&needle),
                        Operator::StartsWith => text.starts_with(&needle),
                        _ => text.ends_with(&needle),
                    },
                    // `indexOf` on an array: strict equality with an element.
                    Value::Array(items) => match self.operator {
                        Operator::Contains => items.contains(expected),
                        Operator::StartsWith => items.first() == Some(expected),
                        _ => false,
                    },
                    _ => false,
                }
            }
        }
    }
}

/// A predicate that only compares ASCII strings with the method or path
/// (`{"equals": {"method": "GET", "path": "/users"}}`), which most stubs are.
fn fast_form(
    operator: Operator,
    expected: &Value,
    side: &Normalize,
    selector: bool,
) -> Option<Vec<(Line, String)>> {
    if selector || side.except.is_some() {
        return None;
    }
    if !matches!(
        operator,
        Operator::Equals | Operator::StartsWith | Operator::EndsWith
    ) {
        return None;
    }
    let fields = expected.as_object()?;
    let field = |name: &str| {
        if side.lower_keys {
            name.to_lowercase()
        } else {
            name.to_string()
        }
    };
    fields
        .iter()
        .map(|(key, want)| {
            let line = if *key == field("method") {
                Line::Method
            } else if *key == field("path") {
                Line::Path
            } else {
                return None;
            };
            let want = want.as_str().filter(|want| want.is_ascii())?;
            Some((line, want.to_string()))
        })
        .collect()
}

/// An `xpath` parameter, `{selector, ns?}`. As mountebank does, the
/// selector is lower-cased unless keys are compared with case (the request
/// text it reads has been lower-cased too, unless `caseSensitive`, or it is
/// `matches`); the `ns` prefixes follow the selector, and its URIs follow
/// the request text, whose `xmlns` declarations are lower-cased with it.
fn compile_xpath(
    config: &Value,
    at: &str,
    key_sensitive: bool,
    lower_values: bool,
) -> Result<XPathSelector, StubError> {
    let selector = config
        .get("selector")
        .and_then(Value::as_str)
        .ok_or_else(|| StubError::bad_data(at, "'xpath' needs a 'selector' string"))?;
    let mut ns = xpath_namespaces(config.get("ns"), &format!("{at}/ns"))?;
    let selector = if key_sensitive {
        selector.to_string()
    } else {
        selector.to_lowercase()
    };
    for (prefix, uri) in &mut ns {
        if !key_sensitive {
            *prefix = prefix.to_lowercase();
        }
        if lower_values {
            *uri = uri.to_lowercase();
        }
    }
    XPathSelector::compile(&selector, &ns)
        .map_err(|message| StubError::bad_data(&format!("{at}/selector"), message))
}

/// An `ns` object of prefixes to namespace URIs (`None` or `null`: none).
pub(crate) fn xpath_namespaces(
    ns: Option<&Value>,
    at: &str,
) -> Result<Vec<(String, String)>, StubError> {
    let refuse = || StubError::bad_data(at, "'ns' must map prefixes to namespace URI strings");
    match ns {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            let mut bindings: Vec<(String, String)> = Vec::with_capacity(map.len());
            for (prefix, uri) in map {
                let uri = uri.as_str().ok_or_else(refuse)?;
                bindings.push((prefix.clone(), uri.to_string()));
            }
            Ok(bindings)
        }
        Some(_) => Err(refuse()),
    }
}

fn compile_except(
    except: Option<&str>,
    case_sensitive: bool,
    pointer: &str,
) -> Result<Option<Regex>, StubError> {
    except
        .map(|source| {
            RegexBuilder::new(source)
                .case_insensitive(!case_sensitive)
                .build()
                .map_err(|error| {
                    StubError::bad_data(&format!("{pointer}/except"), regex_error(&error))
                })
        })
        .transpose()
}

fn collect_patterns(
    value: &Value,
    ignore_case: bool,
    at: &str,
    patterns: &mut HashMap<String, Regex>,
) -> Result<(), StubError> {
    match value {
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            collect_patterns(
                item,
                ignore_case,
                &format!("{at}/{}", escape(key)),
                patterns,
            )
        }),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(index, item)| {
            collect_patterns(item, ignore_case, &format!("{at}/{index}"), patterns)
        }),
        Value::Null => Ok(()),
        scalar => {
            let source = js::to_js_string(scalar).unwrap_or_default();
            if let std::collections::hash_map::Entry::Vacant(slot) = patterns.entry(source) {
                let regex = RegexBuilder::new(slot.key())
                    .case_insensitive(ignore_case)
                    .build()
                    .map_err(|error| StubError::bad_data(at, regex_error(&error)))?;
                slot.insert(regex);
            }
            Ok(())
        }
    }
}

fn regex_error(error: &regex::Error) -> String {
    let detail = error.to_string();
    let last = detail.lines().last().unwrap_or("").trim().to_string();
    format!("not a regular expression this server supports: {last}")
}

/// mountebank's `normalize`: keys and strings transformed, arrays sorted;
/// with a selector, each string is replaced by what the selector finds in
/// it parsed as JSON (or XML). `None` is JavaScript's `undefined` (nothing
/// selected).
fn normalize(
    value: &Value,
    side: &Normalize,
    selector: Option<&Selector>,
    force_strings: bool,
) -> Option<Value> {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items
                .iter()
                .map(|item| normalize(item, side, selector, force_strings).unwrap_or(Value::Null))
                .collect();
            items.sort_by(js::compare);
            Some(Value::Array(items))
        }
        Value::Object(map) => Some(Value::Object(
            map.iter()
                .filter_map(|(key, item)| {
                    Some((
                        side.key(key),
                        normalize(item, side, selector, force_strings)?,
                    ))
                })
                .collect(),
        )),
        Value::String(text) => {
            let text = side.string(text);
            match selector {
                None => Some(Value::String(text)),
                Some(selector) => select(&text, side, selector, force_strings),
            }
        }
        other => Some(other.clone()),
    }
}

/// mountebank's `selectJSONPath` and `selectXPath`: one match is the value
/// itself, several an array (sorted, so order does not matter), none
/// `undefined`.
fn select(text: &str, side: &Normalize, selector: &Selector, force_strings: bool) -> Option<Value> {
    let mut found: Vec<Value> = match selector {
        Selector::JsonPath(path) => {
            let json = serde_json::from_str::<Value>(text).ok()?;
            let mut json = side.parsed_json(&json);
            if force_strings {
                json = js::force_strings(&json);
            }
            path.query(&json).all().into_iter().cloned().collect()
        }
        Selector::XPath(xpath) => {
            let found = xpath.select(text)?;
            if force_strings {
                found.iter().map(js::force_strings).collect()
            } else {
                found
            }
        }
    };
    match found.len() {
        0 => None,
        1 => found.pop(),
        _ => {
            found.sort_by(js::compare);
            Some(Value::Array(found))
        }
    }
}

#[cfg(test)]
mod tests;
