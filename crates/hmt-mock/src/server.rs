//! The mock server: one request's way through it reads top to bottom in
//! [`Mock::handle`].
//!
//! 1. The body is read (bounded) and the target found: HMT's path routing
//!    (`/https://api.example.com/users`), header routing (`Host` plus
//!    `x-hmt-scheme`), or the plain path.
//! 2. CORS preflights and OAuth2 authorization endpoints are answered by
//!    the mock itself.
//! 3. [`route`](crate::route) finds the operation, or the answer is a 404
//!    listing the closest operations, or a 405 with `Allow`.
//! 4. Security: credentials the operation requires must be present (401).
//! 5. Validation of parameters and body (400, or the operation's own 4xx).
//!    A refusal (400, 401, 406, 415, 422) whose status the operation documents (or a `4XX` range, or
//!    `default`) is answered in that documented shape, hmt's explanation in
//!    `x-hmt-problem` and the journal's `meta.problem`; elsewhere, and with
//!    `--errors problem`, it is hmt's `application/problem+json`.
//! 6. Replay: a recorded exchange that matches is served as recorded.
//! 7. Otherwise [`respond`](crate::respond) chooses the documented
//!    response and renders an example or generated data.
//! 8. The exchange goes into the journal (`/admin/requests`) and, with a
//!    log directory, into its http-types log.

use crate::access::{add_cors, authorized, oauth, preflight, unauthorized};
use crate::callbacks::{CallbackResponse, Callbacks, Storage};
use crate::generate::Generator;
use crate::journal::{Journal, LogFiles, Served, request_record};
use crate::listen::Peer;
use crate::model::Spec;
use crate::offload::{Busy, Offload, OffloadLimits};
use crate::pregen::Pregen;
use crate::replay::{self, ReplayEntry};
use crate::respond::{self, Preferences, Unsatisfiable};
use crate::route::{self, Found, Miss, Routes};
use crate::validate::{Refusal, RequestView, SpecValidators};
use bytes::Bytes;
use hmt_stub::{Action, Delivery, Stubs};
use hmt_types::sync::lock;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

/// The header that names the upstream scheme in header routing.
pub const SCHEME_HEADER: &str = "x-hmt-scheme";

/// Request bodies larger than this are refused with 413.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Bodies larger than this are validated off the async I/O threads
/// (validating 64 KiB of JSON takes well under a millisecond).
const LARGE_BODY_BYTES: usize = 64 * 1024;

/// How the mock behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Route on `Host` and `x-hmt-scheme` instead of the path.
    pub header_routing: bool,
    /// Seed for generated data: the same request gets the same data.
    /// `None`: data varies per request.
    pub seed: Option<u64>,
    /// HMT's behaviour: a random documented response instead of the lowest
    /// 2xx.
    pub random_responses: bool,
    /// Check requests against their schemas.
    pub validate: bool,
    /// Refuse requests that lack the credentials an operation requires.
    pub auth: bool,
    /// Answer CORS preflights and add CORS headers.
    pub cors: bool,
    /// Write every served exchange here as http-types JSONL.
    pub log_dir: Option<PathBuf>,
    /// Requests kept for `GET /admin/requests`, oldest dropped first.
    pub journal_limit: usize,
    /// Wait before every answer (`--delay 300`, `--delay 100-500`).
    pub delay: Option<crate::faults::DelayRange>,
    /// Replay recorded responses after the latency they were recorded
    /// with (`--latency recorded`).
    pub recorded_latency: bool,
    /// Break some answers on purpose (`--fault reset:10%`).
    pub fault: Option<crate::faults::FaultPlan>,
    /// How refusals are answered: in the operation's documented shape, or
    /// always as hmt's problem document (`--errors problem`).
    pub errors: ErrorStyle,
    /// Answer with generated valid data instead of a documented example
    /// that does not validate against its schema (`--strict-examples`).
    pub strict_examples: bool,
    /// Bytes of requests and responses the journal keeps, oldest dropped
    /// first (with `journal_limit`, whichever is reached first).
    pub journal_bytes: usize,
    /// Bodies longer than this are kept truncated in the journal (and
    /// marked in `meta.requestBodyTruncated` / `meta.responseBodyTruncated`
    /// with their length); the `--log-dir` log keeps them whole.
    pub journal_body_bytes: usize,
    /// Hosts besides loopback ones that pregen webhooks may call
    /// (`--allow-webhook HOST`).
    pub webhook_hosts: Vec<String>,
    /// Bytes callback storage may hold (`--callback-storage-bytes`).
    pub callback_storage_bytes: usize,
    /// A client connection that sends nothing and waits for nothing for
    /// this long is closed (`--idle-timeout`); the same bound applies to
    /// reading a request's headers.
    pub idle_timeout: std::time::Duration,
    /// Bounds of the pool that runs generation, large-body validation and
    /// callbacks off the async I/O threads.
    pub offload: OffloadLimits,
}

/// How refusals are answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorStyle {
    /// The operation's documented response for that status (or its `4XX`
    /// or `default`), explained in `x-hmt-problem`; hmt's problem document
    /// where nothing is documented.
    #[default]
    Documented,
    /// Always hmt's `application/problem+json` document.
    Problem,
}

/// The header that explains, in one line, why hmt refused a request it
/// answered in the operation's documented shape.
pub const PROBLEM_HEADER: &str = "x-hmt-problem";

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig {
            header_routing: false,
            seed: None,
            random_responses: false,
            validate: true,
            auth: true,
            cors: false,
            log_dir: None,
            journal_limit: 10_000,
            delay: None,
            recorded_latency: false,
            fault: None,
            errors: ErrorStyle::Documented,
            strict_examples: false,
            journal_bytes: 64 * 1024 * 1024,
            journal_body_bytes: 1024 * 1024,
            webhook_hosts: Vec::new(),
            callback_storage_bytes: crate::callbacks::DEFAULT_STORAGE_BYTES,
            idle_timeout: crate::listen::DEFAULT_IDLE_TIMEOUT,
            offload: OffloadLimits::default(),
        }
    }
}

/// Specs and everything derived from them, replaced whole on reload.
pub struct Loaded {
    /// The specs, in the order given.
    pub specs: Vec<Spec>,
    routes: Routes,
    validators: Vec<SpecValidators>,
    /// Rendered example responses, per spec and operation, keyed by
    /// (response, media type) index: examples never change, so they are
    /// serialised once.
    rendered: Vec<Vec<RenderCache>>,
    callbacks: Option<Callbacks>,
    /// With `--stateful`, one store per spec.
    stores: Vec<Option<hmt_state::Store>>,
    /// The documented examples that do not validate against their schema,
    /// found once (in the background, or when `--strict-examples` first
    /// needs to know).
    invalid_examples: OnceLock<HashSet<ExampleKey>>,
}

/// An example: spec, operation, response, media type and example indexes.
type ExampleKey = (usize, usize, usize, usize, usize);

impl Loaded {
    /// Routes and validators for `specs`.
    pub fn new(specs: Vec<Spec>) -> Loaded {
        Loaded {
            routes: Routes::new(&specs),
            validators: specs.iter().map(SpecValidators::new).collect(),
            rendered: specs
                .iter()
                .map(|s| s.operations.iter().map(RenderCache::new).collect())
                .collect(),
            specs,
            callbacks: None,
            stores: Vec::new(),
            invalid_examples: OnceLock::new(),
        }
    }

    /// The examples that do not validate against their own schema; each is
    /// reported (a warning with its pointer) when first found.
    fn invalid_examples(&self) -> &HashSet<ExampleKey> {
        self.invalid_examples.get_or_init(|| {
            let mut invalid = HashSet::new();
            for (s, spec) in self.specs.iter().enumerate() {
                for (o, operation) in spec.operations.iter().enumerate() {
                    for (r, response) in operation.responses.iter().enumerate() {
                        for (m, media) in response.content.iter().enumerate() {
                            let Some(at) = media.schema_pointer.as_deref() else {
                                continue;
                            };
                            if media.examples.is_empty() {
                                continue;
                            }
                            let validator = match self.validators[s].validator(spec, at) {
                                Ok(validator) => validator,
                                Err(_) => continue,
                            };
                            for (e, (name, example)) in media.examples.iter().enumerate() {
                                let Some(error) = validator.iter_errors(example).next() else {
                                    continue;
                                };
                                let pointer =
                                    example_pointer(spec, operation, response, media, name, at);
                                let at_value = error.instance_path().to_string();
                                tracing::warn!(
                                    file = %spec.file.display(),
                                    %pointer,
                                    "the example does not validate against its schema (at {}): {error}",
                                    if at_value.is_empty() { "/" } else { at_value.as_str() },
                                );
                                invalid.insert((s, o, r, m, e));
                            }
                        }
                    }
                }
            }
            invalid
        })
    }

    /// These specs as a stateful emulator: what clients create, change and
    /// delete through the spec's operations is kept (see `hmt-state`),
    /// starting from the objects the list operations' examples show.
    pub fn stateful(mut self) -> Loaded {
        self.stores = self
            .specs
            .iter()
            .map(|spec| {
                let store = hmt_state::Store::new(spec);
                for warning in store.seed_examples(spec) {
                    tracing::warn!("{warning}");
                }
                Some(store)
            })
            .collect();
        self
    }

    /// Seeds the stateful stores from recorded exchanges, in recording
    /// order, each exchange going to the first store with a resource at
    /// its path; each comes with where it was recorded
    /// (`recordings.jsonl:12`). What a store holds afterwards is part of
    /// the seed that a reset restores. Answers one warning per object not
    /// stored (with its location and, for a schema refusal, the JSON
    /// pointer in the object), and per problem that is not about one
    /// object. Does nothing without `--stateful`.
    pub fn seed_recordings(
        &self,
        exchanges: impl IntoIterator<Item = (String, hmt_types::Exchange)>,
    ) -> Vec<String> {
        let mut seeds: Vec<hmt_state::RecordingSeed<'_>> = self
            .stores()
            .map(|(spec, store)| store.seed_recordings(spec))
            .collect();
        if seeds.is_empty() {
            return Vec::new();
        }
        let mut warnings = Vec::new();
        for (location, exchange) in exchanges {
            for seed in &mut seeds {
                match seed.add(&location, &exchange) {
                    hmt_state::Recorded::NotMine => continue,
                    hmt_state::Recorded::Refused(why) => warnings.push(why),
                    _ => {}
                }
                break;
            }
        }
        for seed in seeds {
            warnings.extend(seed.finish());
        }
        warnings
    }

    /// Puts every stateful store back to its seed (examples, recordings,
    /// objects given in code).
    pub fn reset_state(&self) {
        for (_, store) in self.stores() {
            store.reset();
        }
    }

    /// Empties every stateful store; a later [`Loaded::reset_state`]
    /// still restores the seed.
    pub fn clear_state(&self) {
        for (_, store) in self.stores() {
            store.clear();
        }
    }

    /// What the stateful stores hold, as http-types exchanges: one `POST`
    /// per object to its collection, answered 201 with the object, by
    /// spec, collection and id; `--recordings` seeds a stateful mock with
    /// them.
    pub fn state_http_types(&self) -> Vec<hmt_types::Exchange> {
        self.stores()
            .flat_map(|(spec, store)| store.to_http_types(spec))
            .collect()
    }

    /// The stateful stores, with the specs they belong to.
    pub fn stores(&self) -> impl Iterator<Item = (&Spec, &hmt_state::Store)> {
        self.specs
            .iter()
            .zip(&self.stores)
            .filter_map(|(spec, store)| Some((spec, store.as_ref()?)))
    }

    /// How many callbacks the scripts registered.
    pub fn callback_count(&self) -> usize {
        self.callbacks.as_ref().map_or(0, Callbacks::len)
    }

    /// These specs, with callback scripts.
    pub fn with_callbacks(mut self, callbacks: Callbacks) -> Loaded {
        self.callbacks = Some(callbacks);
        self
    }

    fn replay_entries(&self) -> impl Iterator<Item = &ReplayEntry> {
        self.specs
            .iter()
            .flat_map(|s| &s.operations)
            .flat_map(|o| &o.replay)
    }
}

/// Example responses of one operation, rendered on first use: one slot
/// per (response, media type), plus one per response without content.
struct RenderCache {
    slots: Vec<Vec<OnceLock<Rendered>>>,
}

impl RenderCache {
    fn new(operation: &crate::model::Operation) -> RenderCache {
        RenderCache {
            slots: operation
                .responses
                .iter()
                .map(|r| (0..=r.content.len()).map(|_| OnceLock::new()).collect())
                .collect(),
        }
    }

    /// The slot of `response` and `media` (`None`: no content).
    fn slot(&self, response: usize, media: Option<usize>) -> Option<&OnceLock<Rendered>> {
        let slots = self.slots.get(response)?;
        slots.get(media.unwrap_or(slots.len() - 1))
    }
}

/// A response ready to send.
#[derive(Debug)]
struct Rendered {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    /// What made it (`None`: hmt's own answer).
    source: Option<AnsweredBy>,
}

pub use crate::body::Body;

/// The mock server's shared state.
pub struct Mock {
    config: MockConfig,
    loaded: RwLock<Arc<Loaded>>,
    journal: Mutex<Journal>,
    /// Schemas reported as unsatisfiable, so each is logged once.
    reported: Mutex<HashSet<String>>,
    /// Shared by callbacks; cleared by the admin API.
    pub storage: Storage,
    /// Webhooks that rewrite schemas before generation.
    pub pregen: Pregen,
    log: Option<LogFiles>,
    /// Stubs programmed at runtime; they answer before replay and specs.
    stubs: RwLock<Stubs>,
    requests: AtomicU64,
    /// Seeds per-request randomness when no seed is configured.
    entropy: u64,
    /// Runs heavy work (generation, large-body validation, callbacks) off
    /// the async I/O threads.
    offload: Offload,
}

impl Mock {
    /// A mock serving `loaded`.
    pub fn new(config: MockConfig, loaded: Loaded) -> std::io::Result<Mock> {
        let log = match &config.log_dir {
            Some(dir) => Some(LogFiles::new(dir.clone())?),
            None => None,
        };
        let entropy = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        let storage = Storage::with_limit(config.callback_storage_bytes);
        let pregen = Pregen::new(config.webhook_hosts.clone());
        let offload = Offload::new(config.offload);
        Ok(Mock {
            config,
            loaded: RwLock::new(Arc::new(loaded)),
            journal: Mutex::new(Journal::default()),
            reported: Mutex::new(HashSet::new()),
            storage,
            pregen,
            log,
            stubs: RwLock::new(Stubs::new(json!({}))),
            requests: AtomicU64::new(0),
            entropy,
            offload,
        })
    }

    /// How it was configured.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// The specs being served now.
    pub fn loaded(&self) -> Arc<Loaded> {
        hmt_types::sync::read(&self.loaded).clone()
    }

    /// Serves `loaded` from now on (requests in flight finish with the
    /// old specs).
    pub fn replace(&self, loaded: Loaded) {
        *hmt_types::sync::write(&self.loaded) = Arc::new(loaded);
    }

    /// The journal, oldest first, as http-types exchanges.
    pub fn journal(&self) -> Vec<hmt_types::Exchange> {
        self.journal_last(usize::MAX)
    }

    /// The last `count` exchanges of the journal, oldest first: what a
    /// page polling the journal reads, without copying all of it.
    pub fn journal_last(&self, count: usize) -> Vec<hmt_types::Exchange> {
        let served: Vec<Served> = {
            let journal = lock(&self.journal);
            let skip = journal.len().saturating_sub(count);
            journal.entries().skip(skip).cloned().collect()
        };
        served.iter().map(Served::exchange).collect()
    }

    /// The bytes the journal holds now, as counted against
    /// [`MockConfig::journal_bytes`].
    pub fn journal_bytes(&self) -> usize {
        lock(&self.journal).bytes()
    }

    /// Checks every documented example against its schema on another
    /// thread, so that start-up does not wait: each invalid one is
    /// reported once, as a warning naming its pointer. Call it once the
    /// server is ready (and after [`replace`](Self::replace)).
    pub fn check_examples(&self) -> std::thread::JoinHandle<usize> {
        let loaded = self.loaded();
        std::thread::spawn(move || loaded.invalid_examples().len())
    }

    /// Changes the programmed stubs (add, remove, reorder) under their lock.
    pub fn with_stubs<R>(&self, change: impl FnOnce(&mut Stubs) -> R) -> R {
        change(&mut hmt_types::sync::write(&self.stubs))
    }

    /// Empties the journal.
    pub fn clear_journal(&self) {
        lock(&self.journal).clear();
    }

    /// Empties storage, puts the stateful stores back to their seed, and
    /// starts every replay sequence over.
    pub fn reset(&self) {
        self.storage.clear();
        self.loaded().reset_state();
        for entry in self.loaded().replay_entries() {
            entry.rewind();
        }
    }

    /// Serves one request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let started = SystemTime::now();
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                let status = if error
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                return problem(
                    status,
                    "body",
                    &format!("could not read the request body: {error}"),
                    json!({}),
                );
            }
        };
        self.answer(parts, body, started).await
    }

    /// Answers a request whose body was already read: what [`Mock::handle`]
    /// does after reading it, for servers that read requests themselves
    /// (an imposter answering from a spec when no stub matches) and for
    /// tests that call the mock without a socket.
    ///
    /// The stages, in order; each returns the answer or passes on:
    /// 1. [`local`](Self::local): what the mock answers itself (CORS
    ///    preflight, OAuth2 endpoints);
    /// 2. [`stubbed`](Self::stubbed): stubs programmed at runtime, for any
    ///    path, documented or not, and not validated (a test that
    ///    programs a stub means it);
    /// 3. [`route`](Self::route): the operation, or 404/405 (with the
    ///    callbacks and replay misses that apply to unknown paths);
    /// 4. [`admit`](Self::admit): credentials the operation requires;
    /// 5. [`replayed`](Self::replayed): a recorded exchange that matches,
    ///    as recorded (before validation: what was recorded is served even
    ///    where the inferred spec is stricter), except for operations a
    ///    stateful store manages;
    /// 6. [`validated`](Self::validated): parameters and body against the
    ///    spec; then [`stored`](Self::stored): with `--stateful`, the
    ///    store's answer;
    /// 7. [`plan`](Self::plan) and [`render`](Self::render): the
    ///    documented response, an example or generated data;
    /// 8. [`called_back`](Self::called_back): a callback script's rewrite;
    ///
    /// then for every answer: CORS headers, the [`pause`](Self::pause)
    /// (delays), [`broken`](Self::broken) (faults) and the
    /// [`remember`](Self::remember)ed journal entry.
    ///
    /// Precedence follows: programmed stubs, then exact replay (state
    /// instead, for what a stateful store manages), then the spec's
    /// documented responses.
    ///
    /// Generation, validation of large bodies and callback scripts run in
    /// the bounded heavy-work pool ([`crate::offload`]), so that they never
    /// hold up the async I/O threads that answer everyone else.
    pub async fn answer(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        started: SystemTime,
    ) -> Response<Body> {
        let target = self.target(&parts);
        let preferences =
            Preferences::parse(parts.headers.get("prefer").and_then(|v| v.to_str().ok()))
                .with_query(&target.query);
        let asked = Asked {
            parts: &parts,
            target: &target,
            body: &body,
            preferences: &preferences,
        };
        let mut response = self.respond(&asked).await;
        if self.config.cors {
            add_cors(response.headers_mut(), &parts.headers);
        }
        let delay = self.pause(&asked, &response);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let response = self.broken(&asked, response);
        log_refusal(&parts.method, &target, &response);
        if self.config.journal_limit > 0 || self.log.is_some() {
            let answered_by = response.extensions().get::<AnsweredBy>().copied();
            let nearest_stub = if answered_by.is_none() && response.status().as_u16() >= 400 {
                self.nearest_stub(&asked)
            } else {
                None
            };
            self.remember(Served {
                started,
                finished: SystemTime::now(),
                method: parts.method.clone(),
                request_headers: parts.headers.clone(),
                target,
                request_body: body,
                status: response.status(),
                response_headers: response.headers().clone(),
                response_body: response.body().bytes().unwrap_or_default(),
                answered_by,
                nearest_stub,
                problem: response
                    .extensions()
                    .get::<ProblemNote>()
                    .map(|p| p.0.clone()),
                truncated: (None, None),
            });
        }
        response
    }

    /// Where the request is going: host (if named) and path, and the
    /// query string.
    fn target(&self, parts: &http::request::Parts) -> Target {
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("").to_owned();
        // Path routing: `/https://api.example.com/users`.
        for scheme in ["https:/", "http:/"] {
            if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(scheme)) {
                let rest = rest.trim_start_matches('/');
                let (host, path) = match rest.find('/') {
                    Some(slash) => (&rest[..slash], &rest[slash..]),
                    None => (rest, "/"),
                };
                return Target {
                    scheme: Some(scheme.trim_end_matches(":/").to_owned()),
                    host: Some(host.to_ascii_lowercase()),
                    routed_host: true,
                    path: path.to_owned(),
                    query,
                };
            }
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .or_else(|| {
                parts
                    .uri
                    .authority()
                    .map(|a| a.as_str().to_ascii_lowercase())
            });
        Target {
            scheme: if self.config.header_routing {
                Some(
                    parts
                        .headers
                        .get(SCHEME_HEADER)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("http")
                        .to_ascii_lowercase(),
                )
            } else {
                None
            },
            routed_host: self.config.header_routing,
            host,
            path: path.to_owned(),
            query,
        }
        .routed()
    }

    /// The stages of [`Mock::answer`] that choose the response.
    async fn respond(&self, asked: &Asked<'_>) -> Response<Body> {
        if let Some(response) = self.local(asked) {
            return response;
        }
        if let Some(response) = self.stubbed(asked) {
            return response;
        }
        let loaded = self.loaded();
        let found = match self.route(&loaded, asked).await {
            Ok(found) => found,
            Err(response) => return response,
        };
        if let Err(response) = self.admit(&loaded, asked, &found) {
            return response;
        }
        let preferences = asked.preferences;
        // The stateful store answers the operations it manages, not
        // replay: recordings seeded it, so a replayed read would show what
        // the upstream held then, not what the clients changed since.
        let stateful = loaded
            .stores
            .get(found.spec)
            .and_then(Option::as_ref)
            .is_some_and(|store| store.manages(found.operation));
        let replayed = if stateful {
            Replayed::None
        } else {
            self.replayed(&loaded, asked, &found, preferences)
        };
        match replayed {
            Replayed::Answer(response) => {
                let response = answered(response, AnsweredBy::Replay);
                return self.called_back(&loaded, asked, &found, response).await;
            }
            Replayed::Miss(response) => return response,
            Replayed::None => {}
        }
        if let Err(response) = self.validated(&loaded, asked, &found).await {
            return response;
        }
        if let Some(response) = self.stored(&loaded, asked, &found).await {
            return self.called_back(&loaded, asked, &found, response).await;
        }
        let plan = match self.plan(&loaded, asked, &found, preferences).await {
            Ok(plan) => plan,
            Err(response) => return response,
        };
        let response = self.render(&loaded, asked, &found, plan).await;
        self.called_back(&loaded, asked, &found, response).await
    }

    /// Stage 1: what the mock answers itself, whatever the specs say.
    fn local(&self, asked: &Asked<'_>) -> Option<Response<Body>> {
        let Asked { parts, target, .. } = *asked;
        if self.config.cors
            && parts.method == Method::OPTIONS
            && parts
                .headers
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Some(preflight(&parts.headers));
        }
        let loaded = self.loaded();
        let random = || self.rng("oauth", target).next_u64();
        oauth(&loaded, &parts.method, &target.path, &target.query, &random)
    }

    /// Stage 2: the first programmed stub that matches.
    fn stubbed(&self, asked: &Asked<'_>) -> Option<Response<Body>> {
        let stubs = hmt_types::sync::read(&self.stubs);
        if stubs.is_empty() {
            return None;
        }
        let request = asked.stub_request();
        let answer = stubs.answer(&request)?;
        let response = match answer.action {
            Action::Reply(reply) => reply_response(reply),
            Action::Fault(fault) => {
                let mut response = Response::new(Body::empty());
                response.extensions_mut().insert(fault);
                response
            }
            Action::Proxy(_) => problem(
                StatusCode::NOT_IMPLEMENTED,
                "proxy",
                "a proxy response needs an imposter (hmt mock -a PORT, POST /imposters)",
                json!({}),
            ),
        };
        Some(answered(response, AnsweredBy::Stub(answer.stub)))
    }

    /// For a request nothing answered: the programmed stub that came
    /// nearest and why each of its predicates refused, for the journal
    /// (`meta.nearestStub`); `None` without stubs.
    fn nearest_stub(&self, asked: &Asked<'_>) -> Option<Value> {
        let stubs = hmt_types::sync::read(&self.stubs);
        if stubs.is_empty() {
            return None;
        }
        stubs.nearest_json(&asked.stub_request())
    }

    /// Stage 3: the operation the request is for. A path no spec has gets
    /// a callback registered for it, a replay miss report, or a 404 naming
    /// the closest operations.
    #[allow(clippy::result_large_err)]
    async fn route(&self, loaded: &Loaded, asked: &Asked<'_>) -> Result<Found, Response<Body>> {
        let Asked { parts, target, .. } = *asked;
        match loaded.routes.find(
            &loaded.specs,
            target.routing_host(),
            &parts.method,
            &target.path,
        ) {
            Ok(found) => Ok(found),
            Err(Miss::MethodNotAllowed(allowed)) => {
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut response = problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method",
                    &format!(
                        "{} is not documented for {}; documented: {allow}",
                        parts.method, target.path
                    ),
                    json!({"allow": allowed.iter().map(Method::as_str).collect::<Vec<_>>()}),
                );
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                Err(response)
            }
            Err(Miss::NotFound) => {
                let empty = callback_response(&Response::new(Body::empty()));
                if let Some(answered) = self
                    .callback(loaded, asked, &[], &[&target.path], empty)
                    .await
                {
                    return Err(answered);
                }
                Err(self
                    .replay_miss(loaded, asked)
                    .unwrap_or_else(|| not_found(loaded, &parts.method, target)))
            }
        }
    }

    /// Stage 4: the credentials the operation requires (401 without).
    #[allow(clippy::result_large_err)]
    fn admit(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
    ) -> Result<(), Response<Body>> {
        let operation = &loaded.specs[found.spec].operations[found.operation];
        let query = parse_query(&asked.target.query);
        let Asked { parts, .. } = *asked;
        if self.config.auth && !authorized(&operation.security, &parts.headers, &query, &parts.uri)
        {
            return Err(self.documented(
                loaded,
                asked,
                found,
                unauthorized(&operation.security, &parts.headers, &parts.uri),
            ));
        }
        Ok(())
    }

    /// Stage 5: a recorded exchange that matches the request. With a
    /// `Prefer` header the client asked for something else, so replay
    /// steps aside.
    fn replayed(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
        preferences: &Preferences,
    ) -> Replayed {
        let spec = &loaded.specs[found.spec];
        let operation = &spec.operations[found.operation];
        if operation.replay.is_empty() || !preferences.is_empty() {
            return Replayed::None;
        }
        let query = parse_query(&asked.target.query);
        let header = |name: &str| header_values(&asked.parts.headers, name);
        let incoming = replay::Incoming::new(&found.relative_path, &query, &header, asked.body);
        let matched = operation.replay.iter().find(|e| e.matches(&incoming));
        if let Some(recorded) = matched.and_then(ReplayEntry::next_response) {
            let mut response = replayed(recorded);
            if self.config.recorded_latency
                && let Some(latency) = recorded.latency
            {
                response.extensions_mut().insert(SourceDelay(latency));
            }
            return Replayed::Answer(response);
        }
        if spec.strict_replay
            && let Some(miss) = self.replay_miss(loaded, asked)
        {
            return Replayed::Miss(miss);
        }
        Replayed::None
    }

    /// Stage 6: parameters and body against the operation's schemas.
    #[allow(clippy::result_large_err)]
    async fn validated(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
    ) -> Result<(), Response<Body>> {
        if !self.config.validate {
            return Ok(());
        }
        if asked.body.len() > LARGE_BODY_BYTES {
            return self
                .offload
                .run(|| self.validated_now(loaded, asked, found))
                .await
                .unwrap_or_else(|busy| Err(busy_response(&busy)));
        }
        self.validated_now(loaded, asked, found)
    }

    /// [`validated`](Self::validated), on the calling thread.
    #[allow(clippy::result_large_err)]
    fn validated_now(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
    ) -> Result<(), Response<Body>> {
        let Asked {
            parts,
            target,
            body,
            ..
        } = *asked;
        let spec = &loaded.specs[found.spec];
        let query = parse_query(&target.query);
        let header = |name: &str| header_values(&parts.headers, name);
        let cookie = |name: &str| cookie_values(&parts.headers, name);
        let view = RequestView {
            path_params: &found.params,
            query: &query,
            header: &header,
            cookie: &cookie,
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            body,
        };
        loaded.validators[found.spec]
            .check(spec, found.operation, &view)
            .map_err(|refusal| {
                let problem = refused(&spec.operations[found.operation], refusal);
                self.documented(loaded, asked, found, problem)
            })
    }

    /// Stage 8: `response`, or what a callback registered for this request
    /// makes of it.
    async fn called_back(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
        response: Response<Body>,
    ) -> Response<Body> {
        if loaded.callbacks.is_none() {
            return response;
        }
        let paths = [found.relative_path.as_str(), asked.target.path.as_str()];
        let seen = callback_response(&response);
        self.callback(loaded, asked, &found.params, &paths, seen)
            .await
            .unwrap_or(response)
    }

    /// What the callback registered for this request (method, host, one of
    /// `paths`) makes of `response`; `None` when no callback applies.
    async fn callback(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        params: &[(String, String)],
        paths: &[&str],
        seen: CallbackResponse,
    ) -> Option<Response<Body>> {
        let Asked {
            parts,
            target,
            body,
            ..
        } = *asked;
        let callbacks = loaded.callbacks.as_ref()?;
        let index = callbacks.find(parts.method.as_str(), target, paths)?;
        let request = callback_request(parts, target, body, params, paths[0]);
        // A user's script may take its whole operation budget.
        let ran = self
            .offload
            .run(|| callbacks.run(index, request, seen, &self.storage))
            .await;
        let ran = match ran {
            Ok(ran) => ran,
            Err(busy) => return Some(busy_response(&busy)),
        };
        Some(match ran {
            Ok(answer) => {
                let mut response = Response::new(Body::new(answer.body));
                response.extensions_mut().insert(AnsweredBy::Callback);
                *response.status_mut() =
                    StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
                for (name, value) in answer.headers {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(&value),
                    ) {
                        response.headers_mut().append(name, value);
                    }
                }
                response
            }
            Err(message) => {
                tracing::warn!("callback failed: {message}");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "callback",
                    &message,
                    json!({}),
                )
            }
        })
    }

    /// With recordings served strictly (`--recordings`), a request that no
    /// recorded request matches gets a 404 naming the nearest one across
    /// every operation, and what differs; `None` when no strict spec is
    /// loaded.
    fn replay_miss(&self, loaded: &Loaded, asked: &Asked<'_>) -> Option<Response<Body>> {
        let Asked {
            parts,
            target,
            body,
            ..
        } = *asked;
        let query = parse_query(&target.query);
        let header = |name: &str| header_values(&parts.headers, name);
        let mut best: Option<(replay::Distance, Vec<String>, String)> = None;
        for spec in loaded.specs.iter().filter(|s| s.strict_replay) {
            let relative = under_base(spec, &target.path);
            let incoming = replay::Incoming::new(relative, &query, &header, body);
            for operation in &spec.operations {
                let Some((entry, mut differences, mut distance)) =
                    replay::nearest(&operation.replay, &incoming)
                else {
                    continue;
                };
                if operation.method != parts.method {
                    differences.insert(
                        0,
                        format!("method is {} (recorded {})", parts.method, operation.method),
                    );
                    distance = distance.plus_one();
                }
                if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
                    best = Some((
                        distance,
                        differences,
                        format!("{} {}", operation.method, entry.path),
                    ));
                }
            }
        }
        let (_, differences, nearest) = best?;
        let first_strict = loaded.specs.iter().find(|s| s.strict_replay)?;
        let request = format!(
            "{} {}",
            parts.method,
            under_base(first_strict, &target.path)
        );
        Some(problem(
            StatusCode::NOT_FOUND,
            "replay-miss",
            &format!(
                "no recorded request matches {request}; the nearest is {nearest}: {}",
                differences.join("; ")
            ),
            json!({"nearest": {"request": nearest, "differences": differences}}),
        ))
    }

    /// After every answer: the delay the request, the source (a stub's
    /// own, a recorded latency) or `--delay` asks for, in that order of
    /// precedence.
    fn pause(&self, asked: &Asked<'_>, response: &Response<Body>) -> Duration {
        match (
            asked.preferences.delay,
            response.extensions().get::<SourceDelay>(),
        ) {
            (Some(range), _) => range.pick(&mut self.rng("delay", asked.target)),
            (None, Some(SourceDelay(delay))) => *delay,
            (None, None) => match &self.config.delay {
                Some(range) => range.pick(&mut self.rng("delay", asked.target)),
                None => Duration::ZERO,
            },
        }
    }

    /// After every answer: the fault `Prefer: fault=...` or `--fault` asks
    /// for, committed on the connection (reset, random data) or on the
    /// body (cut short, dribbled).
    fn broken(&self, asked: &Asked<'_>, mut response: Response<Body>) -> Response<Body> {
        use crate::faults::FaultKind;
        let kind = match (asked.preferences.fault, &self.config.fault) {
            (Some(kind), _) => kind,
            (None, Some(plan)) if plan.strikes(&mut self.rng("fault", asked.target)) => plan.kind,
            _ => return response,
        };
        let delivery = match kind {
            FaultKind::Reset => {
                response
                    .extensions_mut()
                    .insert(hmt_stub::Fault::ConnectionResetByPeer);
                return response;
            }
            FaultKind::RandomData => {
                response
                    .extensions_mut()
                    .insert(hmt_stub::Fault::RandomDataThenClose);
                return response;
            }
            FaultKind::CutShort => Delivery::CutShort,
            FaultKind::Dribble => crate::faults::dribble(0),
        };
        let Some(bytes) = response.body().bytes() else {
            return response;
        };
        let delivery = match delivery {
            Delivery::Dribble { .. } => crate::faults::dribble(bytes.len()),
            other => other,
        };
        let length = bytes.len();
        *response.body_mut() = Body::delivered(bytes, delivery);
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        response
    }

    /// Stage 6b: with `--stateful`, what the store makes of the request:
    /// its status and body, merged over the documented example for that
    /// status when the store asks for it.
    async fn stored(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
    ) -> Option<Response<Body>> {
        let store = loaded.stores.get(found.spec)?.as_ref()?;
        let query = parse_query(&asked.target.query);
        let answer = store.handle(&hmt_state::StateRequest {
            spec: &loaded.specs[found.spec],
            operation: found.operation,
            params: &found.params,
            query: &query,
            content_type: asked
                .parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            body: asked.body,
        })?;
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
        if let Some(json) = answer.json {
            // A read: the store kept the answer's bytes when it was written.
            let mut response = Response::new(Body::new(json));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Some(answered(response, AnsweredBy::State));
        }
        let mut body = answer.body;
        if answer.merge_documented
            && let Some(stored) = &mut body
        {
            let preferences = Preferences {
                code: Some(answer.status),
                ..Preferences::default()
            };
            // Only examples are merged: generated data would put fields
            // the client never sent in a different shape on every answer.
            if let Ok(plan) = self.plan(loaded, asked, found, &preferences).await
                && let Some(Value::Object(documented)) = plan.example
                && let Value::Object(kept) = stored
            {
                // The example's keys in its order, stored values winning,
                // then what only the store has.
                let mut merged = serde_json::Map::with_capacity(documented.len().max(kept.len()));
                for (key, value) in documented {
                    let value = kept.shift_remove(key).unwrap_or_else(|| value.clone());
                    merged.insert(key.clone(), value);
                }
                merged.extend(std::mem::take(kept));
                *stored = Value::Object(merged);
            }
        }
        let response = match body {
            Some(body) => json_response(status, &body),
            None => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = status;
                response
            }
        };
        Some(answered(response, AnsweredBy::State))
    }

    /// Stage 7a: which documented response, media type and example answer
    /// (as the `Prefer` header and `Accept` ask), or the schema the
    /// pregen webhooks give instead.
    #[allow(clippy::result_large_err)]
    async fn plan<'l>(
        &self,
        loaded: &'l Loaded,
        asked: &Asked<'_>,
        found: &Found,
        preferences: &Preferences,
    ) -> Result<Plan<'l>, Response<Body>> {
        let Asked {
            parts,
            target,
            body,
            ..
        } = *asked;
        let spec = &loaded.specs[found.spec];
        let operation = &spec.operations[found.operation];
        let pregen_schemas = if self.pregen.is_active() {
            let request = request_json(parts, target, body);
            Some(
                self.pregen
                    .apply(&request, operation_schemas(operation))
                    .await,
            )
        } else {
            None
        };
        let mut pick = |n: usize| self.rng(operation.id.as_str(), target).random_range(0..n);
        let random: Option<&mut dyn FnMut(usize) -> usize> =
            if self.config.random_responses && preferences.code.is_none() {
                Some(&mut pick)
            } else {
                None
            };
        // A 406 refuses the request as the API would; a `Prefer` the
        // operation cannot meet is about the mock, so it stays hmt's own.
        let refuse = |e: &Unsatisfiable| match e {
            Unsatisfiable::NotAcceptable { .. } => {
                self.documented(loaded, asked, found, unsatisfiable(e))
            }
            _ => unsatisfiable(e),
        };
        let (response, status) =
            respond::choose_response(operation, preferences, random).map_err(|e| refuse(&e))?;
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let media = respond::choose_media(response, accept).map_err(|e| refuse(&e))?;
        let response_index = operation
            .responses
            .iter()
            .position(|r| std::ptr::eq(r, response))
            .unwrap_or(0);
        let media_index = media.map(|m| {
            response
                .content
                .iter()
                .position(|c| std::ptr::eq(c, m))
                .unwrap_or(0)
        });
        // A schema from the pregen webhooks replaces examples and the spec's
        // schema.
        let pregen_schema = media.and_then(|m| {
            pregen_schemas
                .as_ref()?
                .get(respond::status_name(response.status))?
                .get(&m.media_type)
                .cloned()
        });
        let example = match media.map(|m| respond::choose_example(m, preferences)) {
            _ if pregen_schema.is_some() => None,
            Some(Ok(example)) => example,
            Some(Err(e)) => return Err(refuse(&e)),
            None => None,
        };
        // Without `Prefer`, generated data is static (seeded by the
        // operation, status and media type), so it is cached as examples are.
        let cacheable =
            pregen_schema.is_none() && preferences.is_empty() && !self.config.random_responses;
        Ok(Plan {
            response,
            response_index,
            media_index,
            status,
            media,
            example,
            pregen_schema,
            dynamic: preferences.dynamic,
            slot: loaded.rendered[found.spec][found.operation]
                .slot(response_index, media_index)
                .filter(|_| cacheable),
        })
    }

    /// Stage 7b: the planned response, from the cache when it was rendered
    /// before (examples and static data never change), else rendered now.
    async fn render(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
        plan: Plan<'_>,
    ) -> Response<Body> {
        if let Some(rendered) = plan.slot.and_then(OnceLock::get) {
            return rendered.to_response();
        }
        // Examples render in microseconds; generation can take tens of
        // milliseconds for a large schema.
        let generates = plan.example.is_none() && plan.media.is_some();
        let render = || {
            self.rendered(
                loaded,
                asked,
                found,
                Shape {
                    response: plan.response,
                    response_index: plan.response_index,
                    status: plan.status,
                    media: plan.media,
                    media_index: plan.media_index,
                    example: plan.example,
                    pregen_schema: plan.pregen_schema.as_ref(),
                    dynamic: plan.dynamic,
                },
            )
        };
        let rendered = if generates {
            match self.offload.run(render).await {
                Ok(rendered) => rendered,
                Err(busy) => return busy_response(&busy),
            }
        } else {
            render()
        };
        let response = rendered.to_response();
        if let Some(slot) = plan.slot {
            let _ = slot.set(rendered);
        }
        response
    }

    /// A documented response rendered: its example (unless
    /// `--strict-examples` finds it invalid) or data generated from its
    /// schema, its headers, in its media type; a 500 naming the schema when
    /// the schema cannot be satisfied within the generator's bounds.
    fn rendered(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
        shape: Shape<'_>,
    ) -> Rendered {
        let Shape {
            response,
            response_index,
            status,
            media,
            media_index,
            example,
            pregen_schema,
            dynamic,
        } = shape;
        let spec = &loaded.specs[found.spec];
        let operation = &spec.operations[found.operation];
        let example = example.filter(|example| {
            let (Some(media), Some(m)) = (media, media_index) else {
                return true;
            };
            !self.config.strict_examples
                || !media
                    .examples
                    .iter()
                    .position(|(_, e)| std::ptr::eq(e, *example))
                    .is_some_and(|e| {
                        loaded.invalid_examples().contains(&(
                            found.spec,
                            found.operation,
                            response_index,
                            m,
                            e,
                        ))
                    })
        });
        let source = if example.is_some() || media.is_none() {
            AnsweredBy::Example
        } else {
            AnsweredBy::Generated
        };
        let mut rng = self.body_rng(operation, status, media, dynamic, asked.target);
        let generator = Generator::new(&spec.document).dynamic(dynamic);
        let (content_type, body) = match media {
            Some(media) => {
                let schema = pregen_schema.or(media.schema.as_ref());
                let value = match (example, schema) {
                    (Some(example), _) => example.clone(),
                    (None, Some(schema)) => match generator.try_generate(schema, &mut rng) {
                        Ok(value) => value,
                        Err(error) => return self.unsatisfied(spec, operation, media, &error),
                    },
                    (None, None) => Value::Null,
                };
                let body = if example.is_none() && schema.is_none() {
                    Bytes::new()
                } else {
                    respond::render_body(&media.media_type, &value, schema, &spec.document)
                };
                (
                    Some(respond::content_type(&media.media_type, Some(&value))),
                    body,
                )
            }
            None => (None, Bytes::new()),
        };
        let mut headers = Vec::with_capacity(response.headers.len() + 1);
        if let Some(content_type) = content_type
            && let Ok(value) = HeaderValue::from_str(&content_type)
        {
            headers.push((header::CONTENT_TYPE, value));
        }
        for declared in &response.headers {
            let value = match (&declared.example, &declared.schema) {
                (Some(example), _) => example.clone(),
                (None, Some(schema)) => generator.generate(schema, &mut rng),
                (None, None) => continue,
            };
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(declared.name.as_bytes()),
                HeaderValue::from_str(&respond::header_text(&value)),
            ) {
                headers.push((name, value));
            }
        }
        Rendered {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            headers,
            body,
            source: Some(source),
        }
    }

    /// The 500 for a schema that cannot be satisfied within the
    /// generator's bounds, naming it; logged once per schema.
    fn unsatisfied(
        &self,
        spec: &Spec,
        operation: &crate::model::Operation,
        media: &crate::model::MediaDef,
        error: &crate::generate::Unsatisfied,
    ) -> Rendered {
        let pointer = media
            .schema_pointer
            .clone()
            .unwrap_or_else(|| format!("{}/responses", operation.pointer));
        let detail = format!(
            "the response schema at {pointer} ({}) cannot be satisfied: {error}",
            media.media_type
        );
        if lock(&self.reported).insert(format!("{}#{pointer}", spec.file.display())) {
            tracing::warn!(file = %spec.file.display(), %pointer, "{detail}");
        }
        let response = problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unsatisfiable-schema",
            &detail,
            json!({"pointer": pointer, "at": error.at}),
        );
        Rendered {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
            body: response.body().bytes().unwrap_or_default(),
            source: None,
        }
    }

    /// A refusal (`problem`, hmt's document) in the operation's documented
    /// shape when it documents the status (or its range, or `default`):
    /// the documented body and headers, the refusal's own headers
    /// (`WWW-Authenticate`, `Allow`), and hmt's explanation in one line in
    /// `x-hmt-problem` and whole in the journal (`meta.problem`).
    fn documented(
        &self,
        loaded: &Loaded,
        asked: &Asked<'_>,
        found: &Found,
        problem: Response<Body>,
    ) -> Response<Body> {
        if self.config.errors == ErrorStyle::Problem {
            return problem;
        }
        let operation = &loaded.specs[found.spec].operations[found.operation];
        let status = problem.status().as_u16();
        let Some((response_index, response)) = documented_response(operation, status) else {
            return problem;
        };
        let accept = asked
            .parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        // A 406 cannot honour Accept: the documented type it is, then.
        let media = respond::choose_media(response, accept)
            .or_else(|_| respond::choose_media(response, None))
            .ok()
            .flatten();
        let media_index =
            media.and_then(|m| response.content.iter().position(|c| std::ptr::eq(c, m)));
        let rendered = self.rendered(
            loaded,
            asked,
            found,
            Shape {
                response,
                response_index,
                status,
                media,
                media_index,
                example: media.and_then(|m| m.examples.first().map(|(_, v)| v)),
                pregen_schema: None,
                dynamic: false,
            },
        );
        if rendered.status.as_u16() != status {
            // The documented schema cannot be satisfied: hmt's own answer.
            return problem;
        }
        let document: Value = problem
            .body()
            .bytes()
            .and_then(|body| serde_json::from_slice(&body).ok())
            .unwrap_or(Value::Null);
        let mut answer = rendered.to_response();
        for (name, value) in problem.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                answer.headers_mut().append(name.clone(), value.clone());
            }
        }
        if let Ok(value) = HeaderValue::from_str(&problem_line(&document)) {
            answer
                .headers_mut()
                .insert(HeaderName::from_static(PROBLEM_HEADER), value);
        }
        answer
            .extensions_mut()
            .insert(ProblemNote(Arc::new(document)));
        answer
    }

    /// The randomness of a body: with `Prefer: dynamic=true`, per request
    /// (or from `--seed` and the request); otherwise fixed by the
    /// operation, status and media type, so that the same request gets the
    /// same bytes on every call and in every run.
    fn body_rng(
        &self,
        operation: &crate::model::Operation,
        status: u16,
        media: Option<&crate::model::MediaDef>,
        dynamic: bool,
        target: &Target,
    ) -> StdRng {
        if dynamic {
            return self.rng(&format!("{} body", operation.id), target);
        }
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let media = media.map_or("", |m| m.media_type.as_str());
        for part in [
            operation.method.as_str(),
            &operation.template,
            &operation.id,
            &status.to_string(),
            media,
        ] {
            for byte in part.bytes().chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        StdRng::seed_from_u64(hash)
    }

    /// Randomness for one request: from the seed and what was asked
    /// (reproducible), or fresh per request.
    fn rng(&self, purpose: &str, target: &Target) -> StdRng {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        purpose.hash(&mut hasher);
        match self.config.seed {
            Some(seed) => {
                seed.hash(&mut hasher);
                target.path.hash(&mut hasher);
                target.query.hash(&mut hasher);
            }
            None => {
                self.entropy.hash(&mut hasher);
                self.requests
                    .fetch_add(1, Ordering::Relaxed)
                    .hash(&mut hasher);
            }
        }
        StdRng::seed_from_u64(hasher.finish())
    }

    /// Journal and log. The journal keeps what was served as it was (a few
    /// reference-counted clones); it becomes http-types only when read.
    fn remember(&self, served: Served) {
        if let Some(log) = &self.log {
            log.write(&served.exchange());
        }
        if self.config.journal_limit > 0 {
            let served = served.truncated(self.config.journal_body_bytes);
            lock(&self.journal).push(served, self.config.journal_limit, self.config.journal_bytes);
        }
    }
}

/// A request as the stages after reading it see it: built once.
#[derive(Clone, Copy)]
struct Asked<'a> {
    parts: &'a http::request::Parts,
    target: &'a Target,
    /// `Prefer` and Prism's query overrides, read once.
    preferences: &'a Preferences,
    body: &'a Bytes,
}

impl Asked<'_> {
    /// The request as stubs see it (mountebank's request object).
    fn stub_request(&self) -> hmt_stub::Request {
        let mut request = hmt_stub::Request::new(self.parts.method.as_str(), "");
        request.path = self.target.path.clone();
        request.raw_query = self.target.query.clone();
        request.headers = self
            .parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        // HTTP/2 names the host in `:authority`, not in a header; stubs
        // read it from `Host` either way.
        if !self.parts.headers.contains_key(header::HOST)
            && let Some(host) = self.parts.uri.authority()
        {
            request
                .headers
                .push(("host".to_owned(), host.as_str().to_owned()));
        }
        request.body = String::from_utf8_lossy(self.body).into_owned();
        match self.parts.extensions.get::<Peer>() {
            Some(Peer(peer)) => request.with_client(&peer.to_string(), &peer.ip().to_string()),
            None => request,
        }
    }
}

/// What stage 5 found.
enum Replayed {
    /// A recorded response.
    Answer(Response<Body>),
    /// Recordings served strictly, and none matches: the miss report.
    Miss(Response<Body>),
    /// No replay for this request.
    None,
}

/// What stage 7a chose.
struct Plan<'l> {
    response: &'l crate::model::ResponseDef,
    response_index: usize,
    media_index: Option<usize>,
    status: u16,
    media: Option<&'l crate::model::MediaDef>,
    example: Option<&'l Value>,
    pregen_schema: Option<Value>,
    /// `Prefer: dynamic=true`: data varies per request.
    dynamic: bool,
    /// Where the rendered response is cached, when it can be.
    slot: Option<&'l OnceLock<Rendered>>,
}

/// What to render: a documented response in one of its media types.
struct Shape<'l> {
    response: &'l crate::model::ResponseDef,
    response_index: usize,
    status: u16,
    media: Option<&'l crate::model::MediaDef>,
    media_index: Option<usize>,
    example: Option<&'l Value>,
    pregen_schema: Option<&'l Value>,
    dynamic: bool,
}

/// hmt's problem document for a refusal answered in the documented shape,
/// kept for the journal (`meta.problem`).
#[derive(Clone, Debug)]
pub(crate) struct ProblemNote(pub(crate) Arc<Value>);

/// The response `operation` documents for `status`: the code, else its
/// range (`4XX`), else `default`; with its index.
fn documented_response(
    operation: &crate::model::Operation,
    status: u16,
) -> Option<(usize, &crate::model::ResponseDef)> {
    use crate::model::StatusKey;
    let find = |wanted: &dyn Fn(StatusKey) -> bool| {
        operation
            .responses
            .iter()
            .enumerate()
            .find(|(_, r)| wanted(r.status))
    };
    find(&|key| key == StatusKey::Code(status))
        .or_else(|| find(&|key| matches!(key, StatusKey::Range(_)) && key.covers(status)))
        .or_else(|| find(&|key| key == StatusKey::Default))
}

/// A problem document in one header-safe line: its kind and detail,
/// visible ASCII only, at most 200 characters.
fn problem_line(document: &Value) -> String {
    let kind = document
        .get("type")
        .and_then(Value::as_str)
        .map_or("problem", |t| t.trim_start_matches("urn:hmt:problem:"));
    let detail = document.get("detail").and_then(Value::as_str).unwrap_or("");
    let mut line = String::with_capacity(kind.len() + detail.len() + 2);
    for c in kind.chars().chain(": ".chars()).chain(detail.chars()) {
        if line.len() >= 200 {
            line.truncate(197);
            line.push_str("...");
            break;
        }
        line.push(match c {
            ' '..='~' => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        });
    }
    line
}

/// Where an example is in the document, as a JSON pointer.
fn example_pointer(
    spec: &Spec,
    operation: &crate::model::Operation,
    response: &crate::model::ResponseDef,
    media: &crate::model::MediaDef,
    name: &str,
    schema_pointer: &str,
) -> String {
    let escape = hmt_types::pointer::escape;
    if name == "schema" {
        let schema = spec.document.pointer(schema_pointer);
        let keyword = ["example", "examples", "default", "const"]
            .into_iter()
            .find(|k| schema.is_some_and(|s| s.get(*k).is_some()))
            .unwrap_or("example");
        let suffix = if keyword == "examples" { "/0" } else { "" };
        return format!("{schema_pointer}/{keyword}{suffix}");
    }
    let base = format!(
        "{}/responses/{}/content/{}",
        operation.pointer,
        respond::status_name(response.status),
        escape(&media.media_type)
    );
    if name == "example" {
        format!("{base}/example")
    } else {
        format!("{base}/examples/{}/value", escape(name))
    }
}

/// Which source answered a request, kept in the journal (`meta.answeredBy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsweredBy {
    /// A programmed stub, by its index.
    Stub(usize),
    /// A recorded exchange.
    Replay,
    /// A documented example (or a response without content).
    Example,
    /// Data generated from the schema.
    Generated,
    /// A callback script.
    Callback,
    /// The stateful emulator's store.
    State,
}

impl AnsweredBy {
    /// Its name in the journal.
    pub fn name(self) -> &'static str {
        match self {
            AnsweredBy::Stub(_) => "stub",
            AnsweredBy::Replay => "replay",
            AnsweredBy::Example => "example",
            AnsweredBy::Generated => "generated",
            AnsweredBy::Callback => "callback",
            AnsweredBy::State => "state",
        }
    }
}

/// `response`, marked as answered by `source`.
fn answered(mut response: Response<Body>, source: AnsweredBy) -> Response<Body> {
    response.extensions_mut().insert(source);
    response
}

/// A stub's reply as a response: headers as written, the body sent as its
/// delivery says, the stub's own delay kept for the pause stage.
fn reply_response(reply: hmt_stub::Reply) -> Response<Body> {
    let hmt_stub::Reply {
        status,
        headers,
        body,
        delay,
        delivery,
    } = reply;
    let body = Bytes::from(body);
    let length = body.len();
    let announce_length = matches!(delivery, Delivery::CutShort | Delivery::Dribble { .. });
    let mut response = Response::new(Body::delivered(body, delivery));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.append(name, value);
        }
    }
    if announce_length {
        map.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if !delay.is_zero() {
        response.extensions_mut().insert(SourceDelay(delay));
    }
    response
}

/// The delay the source of an answer asked for: a stub's reply, or a
/// recorded latency.
#[derive(Clone, Copy)]
struct SourceDelay(Duration);

impl Rendered {
    fn to_response(&self) -> Response<Body> {
        let mut response = Response::new(Body::new(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(source) = self.source {
            response.extensions_mut().insert(source);
        }
        response
    }
}

/// Where a request is going.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `http` or `https` when the request named it.
    pub scheme: Option<String>,
    /// Lower-case host with any port.
    pub host: Option<String>,
    /// Whether `host` came from path or header routing (and so chooses
    /// specs), or is just the `Host` header of a plain request.
    pub routed_host: bool,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
}

impl Target {
    fn routed(mut self) -> Target {
        if self.scheme.is_some() && !self.routed_host {
            self.routed_host = true;
        }
        self
    }

    fn routing_host(&self) -> Option<&str> {
        if self.routed_host {
            self.host.as_deref()
        } else {
            None
        }
    }
}

pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    hmt_types::form_pairs(query).collect()
}

fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_values(headers, name).into_iter().next()
}

/// Every value sent for cookie `name`, in order, over all `Cookie` lines.
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name).then(|| v.to_owned())
        })
        .collect()
}

/// Validation failures get 400, or the 4xx the operation documents for
/// bad requests (422, then any other).
fn refused(operation: &crate::model::Operation, refusal: Refusal) -> Response<Body> {
    match refusal {
        Refusal::UnsupportedMediaType { sent, accepted } => problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media-type",
            &if accepted.is_empty() {
                format!("the body is {sent}; this operation takes no request body")
            } else {
                format!(
                    "the body is {sent}; this operation accepts {}",
                    accepted.join(", ")
                )
            },
            json!({}),
        ),
        Refusal::Invalid(issues) => {
            let documented: Vec<u16> = operation
                .responses
                .iter()
                .filter_map(|r| match r.status {
                    crate::model::StatusKey::Code(c) if (400..500).contains(&c) => Some(c),
                    _ => None,
                })
                .collect();
            let status = [400, 422]
                .into_iter()
                .find(|c| documented.contains(c))
                .or_else(|| {
                    documented
                        .iter()
                        .copied()
                        .filter(|c| ![401, 403, 404].contains(c))
                        .min()
                })
                .unwrap_or(400);
            let detail = issues
                .iter()
                .map(|i| i.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            problem(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                "validation",
                &detail,
                json!({"errors": issues}),
            )
        }
    }
}

/// A request hmt refused (a 4xx or 5xx it wrote itself: its problem
/// document, or a documented response with `x-hmt-problem`) is logged at
/// `info` with the reason, so `RUST_LOG=info` shows why each was refused.
fn log_refusal(method: &Method, target: &Target, response: &Response<Body>) {
    if response.status().as_u16() < 400 || !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    // What a stub, a recording or a script answered is theirs, not a refusal.
    if matches!(
        response.extensions().get::<AnsweredBy>(),
        Some(AnsweredBy::Stub(_) | AnsweredBy::Replay | AnsweredBy::Callback)
    ) {
        return;
    }
    let reason = if let Some(note) = response.extensions().get::<ProblemNote>() {
        problem_line(&note.0)
    } else if response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json")
    {
        match response
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            Some(document) => problem_line(&document),
            None => return,
        }
    } else {
        return;
    };
    tracing::info!(
        method = %method,
        path = %target.path,
        status = response.status().as_u16(),
        "refused {method} {}: {reason}",
        target.path
    );
}

/// What a callback script sees of the response it may rewrite.
fn callback_response(response: &Response<Body>) -> CallbackResponse {
    CallbackResponse {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: response.body().bytes().unwrap_or_default(),
    }
}

/// The 503 for heavy work the pool could not take: the client may retry.
fn busy_response(busy: &Busy) -> Response<Body> {
    tracing::warn!("refused a request with 503: {busy}");
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        &format!("the mock is too busy to generate this answer now: {busy}"),
        json!({}),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn unsatisfiable(e: &Unsatisfiable) -> Response<Body> {
    let status = match e {
        Unsatisfiable::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
        Unsatisfiable::NoSuchCode { .. } | Unsatisfiable::NoSuchExample { .. } => {
            StatusCode::NOT_FOUND
        }
        Unsatisfiable::NoResponses => StatusCode::NOT_IMPLEMENTED,
    };
    problem(status, "no-response", &e.to_string(), json!({}))
}

fn replayed(recorded: &replay::RecordedResponse) -> Response<Body> {
    let mut response = Response::new(Body::new(recorded.body.clone()));
    *response.status_mut() = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in &recorded.headers {
        // Framing and encoding are this server's: the recorded body is
        // stored decoded and whole.
        if matches!(
            name.to_ascii_lowercase().as_str(),
            "content-length"
                | "transfer-encoding"
                | "content-encoding"
                | "connection"
                | "keep-alive"
                | "date"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// An operation's response schemas for the pregen webhooks: by status,
/// then media type.
fn operation_schemas(operation: &crate::model::Operation) -> Value {
    let mut schemas = serde_json::Map::new();
    for response in &operation.responses {
        let media: serde_json::Map<String, Value> = response
            .content
            .iter()
            .filter_map(|m| Some((m.media_type.clone(), m.schema.clone()?)))
            .collect();
        if !media.is_empty() {
            schemas.insert(respond::status_name(response.status), Value::Object(media));
        }
    }
    Value::Object(schemas)
}

/// The request in http-types form, as the journal keeps it.
fn request_json(parts: &http::request::Parts, target: &Target, body: &Bytes) -> Value {
    let exchange = hmt_types::Exchange {
        request: request_record(
            &parts.method,
            &parts.headers,
            target,
            body,
            SystemTime::now(),
        ),
        response: None,
        meta: serde_json::Map::new(),
    };
    serde_json::from_str::<Value>(&exchange.to_json_line())
        .ok()
        .and_then(|mut v| v.get_mut("request").map(Value::take))
        .unwrap_or(Value::Null)
}

/// The request as a callback sees it: body parsed when it is JSON.
fn callback_request(
    parts: &http::request::Parts,
    target: &Target,
    body: &Bytes,
    params: &[(String, String)],
    path: &str,
) -> Value {
    let mut query = serde_json::Map::new();
    for (name, value) in parse_query(&target.query) {
        match query.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = json!([first.take(), value]),
            None => {
                query.insert(name, Value::String(value));
            }
        }
    }
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .keys()
        .map(|name| {
            (
                name.as_str().to_owned(),
                Value::String(header_values(&parts.headers, name.as_str()).join(", ")),
            )
        })
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    json!({
        "method": parts.method.as_str(),
        "host": target.host,
        "path": path,
        "params": params.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "query": query,
        "headers": headers,
        "body": body,
    })
}

/// `path` under the first of `spec`'s base paths it starts with.
fn under_base<'a>(spec: &Spec, path: &'a str) -> &'a str {
    spec.servers
        .iter()
        .find_map(|s| {
            path.strip_prefix(s.base_path.as_str())
                .filter(|r| r.starts_with('/'))
        })
        .unwrap_or(path)
}

/// 404 for a route no spec has, naming the closest operations; with
/// recordings loaded, the nearest recorded request too.
fn not_found(loaded: &Loaded, method: &Method, target: &Target) -> Response<Body> {
    let closest: Vec<String> = route::closest(&loaded.specs, &target.path, 3)
        .iter()
        .map(|op| format!("{} {}", op.method, op.template))
        .collect();
    let mut detail = format!("no operation matches {method} {}", target.path);
    if !closest.is_empty() {
        detail.push_str(&format!("; closest: {}", closest.join(", ")));
    }
    problem(
        StatusCode::NOT_FOUND,
        "not-found",
        &detail,
        json!({"closest": closest}),
    )
}

/// A JSON response.
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(
        serde_json::to_vec(value).unwrap_or_default(),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An `application/problem+json` response (RFC 9457); `extra` members are
/// added to the document.
pub fn problem(status: StatusCode, kind: &str, detail: &str, extra: Value) -> Response<Body> {
    let mut document = json!({
        "type": format!("urn:hmt:problem:{kind}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Value::Object(document), Value::Object(extra)) = (&mut document, extra) {
        document.extend(extra);
    }
    let mut response = json_response(status, &document);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
