//! The engine: an ordered list of stubs, each `matchers -> responses`.
//!
//! A request is answered by the first stub whose matchers all accept it
//! (a stub without matchers accepts everything). Its responses form a
//! circular queue: each request takes the next one, an entry with
//! `repeat: N` is taken N times before the queue moves on, and after the
//! last entry the queue starts again.
//!
//! Matchers and responders are traits ([`Match`], [`Respond`]) with
//! closure implementations, so the same engine runs stubs written as data
//! (mountebank's JSON, compiled by [`Stub::from_json`]) and stubs written
//! as code in a test. A stub that came from JSON keeps that JSON, which is
//! what the imposters API shows and saves: what was sent is what is read
//! back, byte for byte.

use crate::error::StubError;
use crate::predicate::Predicate;
use crate::reply::{Action, Reply};
use crate::request::Request;
use crate::response::{MbResponse, repeat_of, upcast};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Decides whether a stub applies to a request.
///
/// Implemented by compiled predicates and by any `Fn(&Request) -> bool`.
pub trait Match: Send + Sync {
    /// Whether the request is accepted.
    fn matches(&self, request: &Request) -> bool;

    /// Whether the request is accepted, or, when the matcher could not
    /// decide (an injected function threw), the answer to send instead:
    /// mountebank answers such a request with an error rather than trying
    /// the next stub. Matchers that always decide keep the default.
    fn try_matches(&self, request: &Request) -> Result<bool, Reply> {
        Ok(self.matches(request))
    }

    /// Why the request is refused, for the report of a request no stub
    /// answered; `None` when it is accepted.
    fn explain(&self, request: &Request) -> Option<String> {
        (!self.matches(request)).then(|| "refused by a matcher written in code".to_string())
    }
}

impl<F> Match for F
where
    F: Fn(&Request) -> bool + Send + Sync,
{
    fn matches(&self, request: &Request) -> bool {
        self(request)
    }
}

impl Match for Predicate {
    fn matches(&self, request: &Request) -> bool {
        Predicate::matches(self, request)
    }

    fn try_matches(&self, request: &Request) -> Result<bool, Reply> {
        Predicate::try_matches(self, request).map_err(|failed| failed.reply())
    }

    fn explain(&self, request: &Request) -> Option<String> {
        Predicate::explain(self, request)
    }
}

/// Produces what a stub answers.
///
/// Implemented by compiled mountebank responses and by any
/// `Fn(&Request) -> R` where `R` is a [`Reply`], a [`crate::Fault`] or an
/// [`Action`]. It takes `&self`: a responder that keeps state across
/// requests holds it behind its own lock, as the stub keeps its queue.
pub trait Respond: Send + Sync {
    /// The answer to this request.
    fn respond(&self, request: &Request) -> Action;
}

impl<F, R> Respond for F
where
    F: Fn(&Request) -> R + Send + Sync,
    R: Into<Action>,
{
    fn respond(&self, request: &Request) -> Action {
        self(request).into()
    }
}

impl Respond for Reply {
    fn respond(&self, _request: &Request) -> Action {
        Action::Reply(self.clone())
    }
}

struct Entry {
    respond: Box<dyn Respond>,
    repeat: u64,
}

/// Where a stub's queue stands: the entry and how often it has been used.
#[derive(Default)]
struct Cursor {
    entry: usize,
    used: u64,
}

/// One stub: matchers, a queue of responses, and the JSON it came from.
pub struct Stub {
    matchers: Vec<Box<dyn Match>>,
    entries: Vec<Entry>,
    cursor: Mutex<Cursor>,
    definition: Option<Value>,
    /// What the stub answered, when the server keeps it (mountebank's `--debug`).
    matches: Mutex<std::collections::VecDeque<Value>>,
    /// How many requests it answered.
    hits: AtomicU64,
    /// How many it should answer, checked by the test (`expect`).
    expected: Option<Times>,
    /// What a report calls it.
    name: Option<String>,
}

/// How many requests a stub expects: an exact count or a range.
///
/// Built from `3`, `1..=3`, `1..4`, `2..` or `..=5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// At least this many.
    pub min: u64,
    /// At most this many; `None`: no upper bound.
    pub max: Option<u64>,
}

impl Times {
    /// Whether `count` is within.
    pub fn contains(&self, count: u64) -> bool {
        count >= self.min && self.max.is_none_or(|max| count <= max)
    }
}

impl std::fmt::Display for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "exactly {max}"),
            Some(max) if self.min == 0 => write!(f, "at most {max}"),
            Some(max) => write!(f, "between {} and {max}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

impl From<u64> for Times {
    fn from(n: u64) -> Times {
        Times {
            min: n,
            max: Some(n),
        }
    }
}

impl From<std::ops::RangeInclusive<u64>> for Times {
    fn from(range: std::ops::RangeInclusive<u64>) -> Times {
        Times {
            min: *range.start(),
            max: Some(*range.end()),
        }
    }
}

impl From<std::ops::Range<u64>> for Times {
    fn from(range: std::ops::Range<u64>) -> Times {
        Times {
            min: range.start,
            max: Some(range.end.saturating_sub(1)),
        }
    }
}

impl From<std::ops::RangeFrom<u64>> for Times {
    fn from(range: std::ops::RangeFrom<u64>) -> Times {
        Times {
            min: range.start,
            max: None,
        }
    }
}

impl From<std::ops::RangeToInclusive<u64>> for Times {
    fn from(range: std::ops::RangeToInclusive<u64>) -> Times {
        Times {
            min: 0,
            max: Some(range.end),
        }
    }
}

/// How many answers a stub keeps for `--debug`.
const KEPT_MATCHES: usize = 100;

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub")
            .field("matchers", &self.matchers.len())
            .field("responses", &self.entries.len())
            .field("definition", &self.definition)
            .finish()
    }
}

/// Options that decide what a stub may contain.
#[derive(Clone, Default)]
pub struct CompileOptions {
    /// Where mountebank's JavaScript (`inject`, `decorate`, `wait`
    /// functions) runs; `None` refuses it with `invalid injection`, as
    /// mountebank does without `--allowInjection`.
    pub scripts: Option<Arc<dyn crate::Scripts>>,
}

impl std::fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileOptions")
            .field("scripts", &self.scripts.is_some())
            .finish()
    }
}

impl Stub {
    /// An empty stub written in code: it matches everything and answers
    /// with an empty 200 until matchers and responses are added.
    pub fn new() -> Stub {
        Stub {
            matchers: Vec::new(),
            entries: Vec::new(),
            cursor: Mutex::new(Cursor::default()),
            definition: None,
            matches: Mutex::new(std::collections::VecDeque::new()),
            hits: AtomicU64::new(0),
            expected: None,
            name: None,
        }
    }

    /// A stub for the requests `matcher` accepts: the start of a stub
    /// written in code (see [`crate::matchers`]).
    pub fn given(matcher: impl Match + 'static) -> Stub {
        Stub::new().and(matcher)
    }

    /// Adds a matcher; all of a stub's matchers must accept a request.
    pub fn and(mut self, matcher: impl Match + 'static) -> Stub {
        self.matchers.push(Box::new(matcher));
        self
    }

    /// Adds a response to the queue. Several make a sequence, answered in
    /// turn and then from the start again.
    pub fn respond_with(mut self, respond: impl Respond + 'static) -> Stub {
        self.entries.push(Entry {
            respond: Box::new(respond),
            repeat: 1,
        });
        self
    }

    /// The last response added is used `times` times in a row before the
    /// queue moves on (mountebank's `repeat`).
    pub fn repeat(mut self, times: u64) -> Stub {
        if let Some(last) = self.entries.last_mut() {
            last.repeat = times.max(1);
        }
        self
    }

    /// How many requests this stub must answer; checked when the test
    /// verifies the server (and when a server is dropped).
    pub fn expect(mut self, times: impl Into<Times>) -> Stub {
        self.expected = Some(times.into());
        self
    }

    /// A name for reports (otherwise the stub is named by its position).
    pub fn named(mut self, name: &str) -> Stub {
        self.name = Some(name.to_string());
        self
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// How many requests it answered.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many it expects, if it was told.
    pub fn expected(&self) -> Option<Times> {
        self.expected
    }

    /// Why each refusing matcher refuses `request`: its index among the
    /// stub's matchers, and the reason. Empty when the stub matches.
    pub fn explain(&self, request: &Request) -> Vec<(usize, String)> {
        self.matchers
            .iter()
            .enumerate()
            .filter_map(|(at, matcher)| matcher.explain(request).map(|why| (at, why)))
            .collect()
    }

    /// Compiles a stub from mountebank's JSON (`{"predicates": [...],
    /// "responses": [...]}`). `defaults` is the imposter's
    /// `defaultResponse`, which fills what a response leaves out;
    /// `pointer` locates the stub in the document for errors.
    pub fn from_json(
        json: &Value,
        pointer: &str,
        defaults: Arc<Value>,
        options: &CompileOptions,
    ) -> Result<Stub, StubError> {
        let mut definition = json.clone();
        let object = definition
            .as_object_mut()
            .ok_or_else(|| StubError::bad_data(pointer, "a stub must be a JSON object"))?;
        // What the API adds when it shows a stub is not part of it.
        object.remove("_links");
        object.remove("matches");
        let mut stub = Stub::new();
        match object.get("predicates") {
            None | Some(Value::Null) => {}
            Some(Value::Array(predicates)) => {
                for (index, predicate) in predicates.iter().enumerate() {
                    let at = format!("{pointer}/predicates/{index}");
                    stub.matchers
                        .push(Box::new(Predicate::compile(predicate, &at, options)?));
                }
            }
            Some(_) => {
                return Err(StubError::bad_data(
                    &format!("{pointer}/predicates"),
                    "'predicates' must be an array",
                ));
            }
        }
        match object.get_mut("responses") {
            None | Some(Value::Null) => {}
            Some(Value::Array(responses)) => {
                for (index, response) in responses.iter_mut().enumerate() {
                    let at = format!("{pointer}/responses/{index}");
                    upcast(response);
                    let repeat = repeat_of(response, &at)?;
                    let compiled = MbResponse::compile(response, &at, defaults.clone(), options)?;
                    stub.entries.push(Entry {
                        respond: Box::new(compiled),
                        repeat,
                    });
                }
            }
            Some(_) => {
                return Err(StubError::bad_data(
                    &format!("{pointer}/responses"),
                    "'responses' must be an array",
                ));
            }
        }
        stub.definition = Some(definition);
        Ok(stub)
    }

    /// The JSON this stub was compiled from (mountebank's form, with the
    /// old `_behaviors` upcast); `None` for a stub written in code.
    pub fn definition(&self) -> Option<&Value> {
        self.definition.as_ref()
    }

    /// Keeps one of its answers (mountebank's `matches`, shown with `--debug`);
    /// the last 100 are kept.
    pub fn remember_match(&self, answered: Value) {
        let mut matches = hmt_types::sync::lock(&self.matches);
        if matches.len() == KEPT_MATCHES {
            matches.pop_front();
        }
        matches.push_back(answered);
    }

    /// The answers kept, oldest first.
    pub fn matches_json(&self) -> Vec<Value> {
        let matches = hmt_types::sync::lock(&self.matches);
        matches.iter().cloned().collect()
    }

    /// Whether every matcher accepts the request.
    pub fn matches(&self, request: &Request) -> bool {
        self.matchers.iter().all(|matcher| matcher.matches(request))
    }

    /// [`Stub::matches`], or the answer of the first matcher that could
    /// not decide (see [`Match::try_matches`]).
    pub fn try_matches(&self, request: &Request) -> Result<bool, Reply> {
        for matcher in &self.matchers {
            if !matcher.try_matches(request)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Takes the next response from the queue and produces it; an empty
    /// 200 for a stub without responses.
    pub fn respond(&self, request: &Request, defaults: &Value) -> Action {
        self.hits.fetch_add(1, Ordering::Relaxed);
        if self.entries.is_empty() {
            return Action::Reply(crate::response::render(
                &Value::Object(Map::new()),
                defaults,
            ));
        }
        let entry = {
            let mut cursor = hmt_types::sync::lock(&self.cursor);
            let at = cursor.entry % self.entries.len();
            cursor.used += 1;
            if cursor.used >= self.entries[at].repeat {
                cursor.used = 0;
                cursor.entry = (at + 1) % self.entries.len();
            }
            at
        };
        self.entries[entry].respond.respond(request)
    }
}

impl Default for Stub {
    fn default() -> Stub {
        Stub::new()
    }
}

/// An ordered list of stubs and the response used when none matches.
#[derive(Debug, Default)]
pub struct Stubs {
    stubs: Vec<Stub>,
    defaults: Arc<Value>,
}

/// The stub nearest to a request none answered, and why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// Index of the nearest stub.
    pub stub: usize,
    /// Each refusing matcher: its index among the stub's matchers, and why.
    pub refused: Vec<(usize, String)>,
}

/// The answer to a request, and which stub gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Index of the stub that matched.
    pub stub: usize,
    /// What to do.
    pub action: Action,
}

impl Stubs {
    /// No stubs; `defaults` is mountebank's `defaultResponse` (`{}` for none).
    pub fn new(defaults: Value) -> Stubs {
        Stubs {
            stubs: Vec::new(),
            defaults: Arc::new(defaults),
        }
    }

    /// Compiles mountebank's `stubs` array. Nothing is kept if any stub is
    /// refused, so a bad request never leaves a half-built list.
    pub fn from_json(
        stubs: &Value,
        defaults: Value,
        options: &CompileOptions,
    ) -> Result<Stubs, StubError> {
        let mut compiled = Stubs::new(defaults);
        match stubs {
            Value::Null => {}
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    compiled.stubs.push(compiled.compile(
                        item,
                        &format!("/stubs/{index}"),
                        options,
                    )?);
                }
            }
            _ => return Err(StubError::bad_data("/stubs", "'stubs' must be an array")),
        }
        Ok(compiled)
    }

    /// Compiles one stub against this list's default response.
    pub fn compile(
        &self,
        json: &Value,
        pointer: &str,
        options: &CompileOptions,
    ) -> Result<Stub, StubError> {
        Stub::from_json(json, pointer, self.defaults.clone(), options)
    }

    /// The default response (`defaultResponse`).
    pub fn defaults(&self) -> &Value {
        &self.defaults
    }

    /// The stubs in order.
    pub fn iter(&self) -> impl Iterator<Item = &Stub> {
        self.stubs.iter()
    }

    /// How many stubs there are.
    pub fn len(&self) -> usize {
        self.stubs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.stubs.is_empty()
    }

    /// Appends a stub.
    pub fn push(&mut self, stub: Stub) {
        self.stubs.push(stub);
    }

    /// Appends every stub of `other`, in order (their responses keep the
    /// defaults they were compiled with).
    pub fn append(&mut self, other: Stubs) {
        self.stubs.extend(other.stubs);
    }

    /// Inserts a stub at `index` (appends past the end).
    pub fn insert(&mut self, index: usize, stub: Stub) {
        let index = index.min(self.stubs.len());
        self.stubs.insert(index, stub);
    }

    /// Replaces the stub at `index`; `false` when there is none.
    pub fn replace(&mut self, index: usize, stub: Stub) -> bool {
        match self.stubs.get_mut(index) {
            Some(slot) => {
                *slot = stub;
                true
            }
            None => false,
        }
    }

    /// Removes the stub at `index`; later stubs move up.
    pub fn remove(&mut self, index: usize) -> Option<Stub> {
        (index < self.stubs.len()).then(|| self.stubs.remove(index))
    }

    /// Removes every stub `keep` refuses.
    pub fn retain(&mut self, keep: impl FnMut(&Stub) -> bool) {
        self.stubs.retain(keep);
    }

    /// The first stub that matches, and its next response. A stub whose
    /// matcher cannot decide (an injected predicate that throws) ends the
    /// search as in mountebank: the answer is that matcher's error reply,
    /// under that stub's index, and no response of the stub is used.
    pub fn answer(&self, request: &Request) -> Option<Answer> {
        for (index, stub) in self.stubs.iter().enumerate() {
            let action = match stub.try_matches(request) {
                Ok(true) => stub.respond(request, &self.defaults),
                Ok(false) => continue,
                Err(reply) => Action::Reply(reply),
            };
            return Some(Answer {
                stub: index,
                action,
            });
        }
        None
    }

    /// A mountebank `is` response rendered against this list's default
    /// response (a proxy's answer, before it is recorded).
    pub fn render(&self, is: &Value) -> Reply {
        crate::response::render(is, &self.defaults)
    }

    /// For a request no stub answers: the stub that came nearest (the one
    /// with the most matchers accepting it; the first on a tie) and why
    /// each of its other matchers refused. `None` when there are no stubs.
    pub fn nearest(&self, request: &Request) -> Option<Miss> {
        self.stubs
            .iter()
            .enumerate()
            .map(|(index, stub)| {
                let refused = stub.explain(request);
                let accepted = stub.matchers.len() - refused.len();
                (accepted, index, refused)
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, stub, refused)| Miss { stub, refused })
    }

    /// [`Stubs::nearest`] as JSON, the form the imposters' misses and the
    /// mock's journal show: `{"index": STUB, "refused": [{"index": N,
    /// "predicate": {...}, "why": "..."}]}`, each refusing matcher with its
    /// mountebank predicate when the stub was written as JSON.
    pub fn nearest_json(&self, request: &Request) -> Option<Value> {
        let nearest = self.nearest(request)?;
        let predicates = self
            .get(nearest.stub)
            .and_then(Stub::definition)
            .and_then(|stub| stub.get("predicates"));
        let refused: Vec<Value> = nearest
            .refused
            .iter()
            .map(|(index, why)| {
                let mut refusal = Map::new();
                refusal.insert("index".into(), (*index).into());
                if let Some(predicate) = predicates.and_then(|p| p.get(*index)) {
                    refusal.insert("predicate".into(), predicate.clone());
                }
                refusal.insert("why".into(), why.clone().into());
                Value::Object(refusal)
            })
            .collect();
        Some(serde_json::json!({"index": nearest.stub, "refused": refused}))
    }

    /// What is sent when no stub matches: the default response, else an empty 200.
    pub fn fallback(&self) -> Reply {
        crate::response::render(&Value::Object(Map::new()), &self.defaults)
    }

    /// The stub at `index`.
    pub fn get(&self, index: usize) -> Option<&Stub> {
        self.stubs.get(index)
    }

    /// The stubs as mountebank's JSON array (stubs written in code are left out).
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.stubs
                .iter()
                .filter_map(|stub| stub.definition.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests;
