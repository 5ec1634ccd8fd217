//! One imposter: its definition, its stubs, the requests it saved, and
//! how it is shown (mountebank's full, replayable and list forms).

use crate::error::ApiError;
use crate::tls::TlsIdentity;
use hmt_stub::{CompileOptions, Request, Stubs};
use hmt_types::sync::lock;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

/// The fields of an imposter that are not its stubs, as it was created.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `http` or `https`.
    pub protocol: Protocol,
    /// The port asked for; `None` lets the server choose.
    pub port: Option<u16>,
    /// `name`, echoed.
    pub name: Option<Value>,
    /// `recordRequests`.
    pub record_requests: bool,
    /// `defaultResponse`.
    pub default_response: Option<Value>,
    /// `allowCORS`: answer preflight requests.
    pub allow_cors: bool,
    /// For https: the certificate served and whether a client certificate is asked for.
    pub tls: Option<TlsIdentity>,
    /// hmt's extension (`"hmt": {"specs": [...], "recordings": [...]}`):
    /// OpenAPI specs and http-types recordings that answer what no stub does.
    pub sources: Sources,
    /// Every other field the creator gave, echoed as given.
    pub extra: Map<String, Value>,
    /// The stubs as sent.
    pub stubs: Value,
}

/// Specs and recordings behind an imposter's stubs (hmt's extension).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// OpenAPI files or directories, as `hmt mock PATH` takes them.
    pub specs: Vec<std::path::PathBuf>,
    /// http-types JSONL (or HAR) files, as `hmt mock --recordings` takes them.
    pub recordings: Vec<std::path::PathBuf>,
}

impl Sources {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty() && self.recordings.is_empty()
    }

    fn parse(value: Option<&Value>) -> Result<Sources, ApiError> {
        let Some(value) = value.filter(|value| !value.is_null()) else {
            return Ok(Sources::default());
        };
        let object = value.as_object().ok_or_else(|| {
            ApiError::bad_data("'hmt' must be an object such as {\"specs\": [\"api.yaml\"]}")
        })?;
        let list = |name: &str| -> Result<Vec<std::path::PathBuf>, ApiError> {
            let refused =
                || ApiError::bad_data(format!("'hmt.{name}' must be an array of file paths"));
            match object.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(std::path::PathBuf::from)
                            .ok_or_else(refused)
                    })
                    .collect(),
                Some(_) => Err(refused()),
            }
        };
        if let Some(unknown) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "specs" | "recordings"))
        {
            return Err(ApiError::bad_data(format!(
                "'hmt.{unknown}' is not a field of hmt's extension (specs, recordings)"
            )));
        }
        Ok(Sources {
            specs: list("specs")?,
            recordings: list("recordings")?,
        })
    }
}

/// Loads the specs and recordings of [`Sources`] into what the mock serves.
///
/// A seam because recordings are turned into replay specs by `hmt build`'s
/// engine, which this crate does not depend on; the command line gives
/// the implementation.
pub trait SourceLoader: Send + Sync {
    /// The loaded sources, or why they cannot be.
    fn load(&self, sources: &Sources) -> Result<hmt_mock::Loaded, String>;
}

/// The protocols hmt's imposters speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }
}

/// Fields that are the imposter's own, not "other fields the creator gave"
/// (hmt's extension `hmt` is read and also echoed with those).
const KNOWN: [&str; 14] = [
    "protocol",
    "port",
    "name",
    "recordRequests",
    "defaultResponse",
    "allowCORS",
    "stubs",
    "key",
    "cert",
    "mutualAuth",
    "requests",
    "numberOfRequests",
    "_links",
    "matches",
];

impl Definition {
    /// Reads an imposter's JSON; `at` names it in errors (`/imposters/2`).
    pub fn parse(json: &Value, at: &str) -> Result<Definition, ApiError> {
        let object = json.as_object().ok_or_else(|| {
            ApiError::bad_data(format!("{at}: an imposter must be a JSON object"))
        })?;
        let protocol = match object.get("protocol") {
            None | Some(Value::Null) => {
                return Err(ApiError::bad_data("'protocol' is a required field"));
            }
            Some(Value::String(name)) if name == "http" => Protocol::Http,
            Some(Value::String(name)) if name == "https" => Protocol::Https,
            Some(Value::String(name)) => {
                return Err(ApiError::bad_data(format!(
                    "the {name} protocol is not supported: hmt's imposters speak http and https"
                )));
            }
            Some(other) => {
                return Err(ApiError::bad_data(format!(
                    "'protocol' must be a string, not {other}"
                )));
            }
        };
        let port = match object.get("port") {
            None | Some(Value::Null) => None,
            Some(value) => match value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
            {
                Some(0) => None,
                Some(port) if port <= u64::from(u16::MAX) => Some(port as u16),
                _ => {
                    return Err(ApiError::bad_data(format!(
                        "invalid value for 'port': {value}"
                    )));
                }
            },
        };
        let flag = |name: &str| -> Result<bool, ApiError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(flag)) => Ok(*flag),
                Some(other) => Err(ApiError::bad_data(format!(
                    "'{name}' must be true or false, not {other}"
                ))),
            }
        };
        let default_response = match object.get("defaultResponse") {
            None | Some(Value::Null) => None,
            Some(Value::Object(fields)) => Some(Value::Object(fields.clone())),
            Some(_) => return Err(ApiError::bad_data("'defaultResponse' must be an object")),
        };
        let tls = match protocol {
            Protocol::Http => None,
            Protocol::Https => Some(TlsIdentity::from_definition(object)?),
        };
        let sources = Sources::parse(object.get("hmt"))?;
        let extra = object
            .iter()
            .filter(|(key, _)| !KNOWN.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Definition {
            protocol,
            port,
            name: object.get("name").filter(|name| !name.is_null()).cloned(),
            record_requests: flag("recordRequests")?,
            default_response,
            allow_cors: flag("allowCORS")?,
            tls,
            sources,
            extra,
            stubs: object
                .get("stubs")
                .cloned()
                .unwrap_or(Value::Array(Vec::new())),
        })
    }

    /// Compiles the stubs; `at` is the imposter's pointer for errors.
    pub fn compile(&self, options: &CompileOptions, at: &str) -> Result<Stubs, ApiError> {
        if !self.stubs.is_array() {
            return Err(ApiError::bad_data(format!(
                "at {at}/stubs: 'stubs' must be an array"
            )));
        }
        let defaults = self.default_response.clone().unwrap_or_else(|| json!({}));
        Stubs::from_json(&self.stubs, defaults, options)
            .map_err(|error| ApiError::from_stub(error, &json!({"stubs": self.stubs}), at))
    }
}

/// How many requests an imposter keeps, and in how many bytes.
#[derive(Debug, Clone, Copy)]
pub struct SavedLimit {
    /// Requests kept; the oldest go first.
    pub requests: usize,
    /// Bytes of their JSON kept.
    pub bytes: usize,
}

impl Default for SavedLimit {
    fn default() -> SavedLimit {
        SavedLimit {
            requests: 10_000,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// Items kept oldest-first within a count and a byte bound.
struct Kept<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Kept<T> {
        Kept {
            items: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<T> Kept<T> {
    fn push(&mut self, item: T, size: usize, limit: SavedLimit) {
        self.items.push_back((item, size));
        self.bytes += size;
        while self.items.len() > limit.requests
            || (self.bytes > limit.bytes && self.items.len() > 1)
        {
            if let Some((_, size)) = self.items.pop_front() {
                self.bytes -= size;
            }
        }
    }
}

/// A running imposter's state, shared by its connections and the admin API.
pub struct Imposter {
    /// The definition it was created from.
    pub definition: Definition,
    /// The port it listens on.
    pub port: u16,
    pub(crate) stubs: RwLock<Stubs>,
    saved: Mutex<Kept<Value>>,
    proxied: Mutex<Kept<String>>,
    misses: Mutex<Kept<Value>>,
    /// mountebank's `--debug`: stubs keep what they answered.
    pub(crate) debug: bool,
    datadir: Option<std::path::PathBuf>,
    limit: SavedLimit,
    count: AtomicU64,
    /// What recorded stubs may contain.
    pub(crate) options: CompileOptions,
    /// The spec or recordings answering what no stub does.
    pub(crate) mock: Option<std::sync::Arc<hmt_mock::Mock>>,
}

/// Which of mountebank's forms to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form {
    /// Only what recreates the imposter: no requests, counts or links.
    pub replayable: bool,
    /// Drop `proxy` responses, and stubs left without responses.
    pub remove_proxies: bool,
}

impl Imposter {
    pub(crate) fn new(
        definition: Definition,
        port: u16,
        stubs: Stubs,
        limit: SavedLimit,
        options: CompileOptions,
        datadir: Option<std::path::PathBuf>,
        debug: bool,
    ) -> Imposter {
        Imposter {
            definition,
            port,
            stubs: RwLock::new(stubs),
            saved: Mutex::new(Kept::default()),
            proxied: Mutex::new(Kept::default()),
            misses: Mutex::new(Kept::default()),
            debug,
            datadir,
            limit,
            count: AtomicU64::new(0),
            options,
            mock: None,
        }
    }

    /// Counts a request and, with `recordRequests`, keeps it.
    pub(crate) fn remember(&self, request: &Request, timestamp: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if !self.definition.record_requests {
            return;
        }
        let mut json = request.to_json().clone();
        if let Value::Object(fields) = &mut json {
            fields.insert("timestamp".into(), Value::String(timestamp));
        }
        lock(&self.saved).push(json, held_bytes(request), self.limit);
    }

    /// Keeps a proxied exchange (an http-types line) for `?format=http-types`.
    pub(crate) fn remember_proxied(&self, line: String) {
        let size = line.len();
        lock(&self.proxied).push(line, size, self.limit);
    }

    /// Keeps a request no stub answered, with the nearest stub and why
    /// each of its predicates refused (the last 100).
    pub(crate) fn remember_miss(&self, request: &Request, stubs: &Stubs) {
        let mut miss = json!({
            "timestamp": hmt_types::clock::rfc3339_millis(std::time::SystemTime::now()),
            "request": request.to_json(),
        });
        if let Some(nearest) = stubs.nearest_json(request) {
            miss["nearestStub"] = nearest;
        }
        let size = miss.to_string().len();
        let limit = SavedLimit {
            requests: 100,
            bytes: self.limit.bytes,
        };
        lock(&self.misses).push(miss, size, limit);
    }

    /// The requests no stub answered (the last 100), each with the nearest
    /// stub and why it refused: hmt's `GET /imposters/:port/misses`.
    pub fn misses(&self) -> Vec<Value> {
        lock(&self.misses)
            .items
            .iter()
            .map(|(miss, _)| miss.clone())
            .collect()
    }

    /// With `--debug`, keeps what stub `index` answered, as mountebank's `matches`.
    pub(crate) fn remember_match(&self, index: usize, request: &Request, reply: &hmt_stub::Reply) {
        let stubs = hmt_types::sync::read(&self.stubs);
        if let Some(stub) = stubs.get(index) {
            let headers: Map<String, Value> = reply
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect();
            stub.remember_match(json!({
                "timestamp": hmt_types::clock::rfc3339_millis(std::time::SystemTime::now()),
                "request": request.to_json(),
                "response": {
                    "statusCode": reply.status,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&reply.body),
                },
            }));
        }
    }

    /// The proxied exchanges kept, oldest first, as http-types lines.
    pub fn proxied(&self) -> Vec<String> {
        lock(&self.proxied)
            .items
            .iter()
            .map(|(line, _)| line.clone())
            .collect()
    }

    /// `DELETE /imposters/:id/savedRequests`.
    pub fn clear_requests(&self) {
        *lock(&self.saved) = Kept::default();
        self.count.store(0, Ordering::Relaxed);
    }

    /// The requests kept, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.saved)
            .items
            .iter()
            .map(|(json, _)| json.clone())
            .collect()
    }

    fn write_stubs(&self) -> std::sync::RwLockWriteGuard<'_, Stubs> {
        hmt_types::sync::write(&self.stubs)
    }

    fn compile_one(&self, stubs: &Stubs, json: &Value) -> Result<hmt_stub::Stub, ApiError> {
        stubs
            .compile(json, "", &self.options)
            .map_err(|error| ApiError::from_stub(error, json, ""))
    }

    /// `PUT /imposters/:id/stubs`: every stub replaced, or none if one is refused.
    pub fn replace_stubs(&self, json: &Value) -> Result<(), ApiError> {
        let mut stubs = self.write_stubs();
        let compiled = Stubs::from_json(json, stubs.defaults().clone(), &self.options)
            .map_err(|error| ApiError::from_stub(error, &json!({"stubs": json}), ""))?;
        *stubs = compiled;
        Ok(())
    }

    /// `POST /imposters/:id/stubs`: inserts at `index`, or appends.
    pub fn add_stub(&self, json: &Value, index: Option<usize>) -> Result<(), ApiError> {
        let mut stubs = self.write_stubs();
        let index = index.unwrap_or(stubs.len());
        if index > stubs.len() {
            return Err(ApiError::bad_data(
                "'index' must be between 0 and the length of the stubs array",
            ));
        }
        let stub = self.compile_one(&stubs, json)?;
        stubs.insert(index, stub);
        Ok(())
    }

    /// `PUT /imposters/:id/stubs/:index`.
    pub fn replace_stub(&self, index: usize, json: &Value) -> Result<(), ApiError> {
        let mut stubs = self.write_stubs();
        if index >= stubs.len() {
            return Err(bad_index());
        }
        let stub = self.compile_one(&stubs, json)?;
        stubs.replace(index, stub);
        Ok(())
    }

    /// `DELETE /imposters/:id/stubs/:index`.
    pub fn delete_stub(&self, index: usize) -> Result<(), ApiError> {
        self.write_stubs()
            .remove(index)
            .map(|_| ())
            .ok_or_else(bad_index)
    }

    /// `DELETE /imposters/:id/savedProxyResponses`: removes the responses
    /// proxies recorded (they carry `_proxyResponseTime`) and the stubs
    /// left with none; the defined stubs stay.
    pub fn delete_recorded(&self) {
        let mut stubs = self.write_stubs();
        let mut kept = Vec::new();
        for stub in stubs.to_json().as_array().into_iter().flatten() {
            let mut stub = stub.clone();
            if let Some(Value::Array(responses)) = stub.get_mut("responses") {
                responses.retain(|response| {
                    !response
                        .get("is")
                        .and_then(|is| is.get("_proxyResponseTime"))
                        .is_some_and(Value::is_number)
                });
                if responses.is_empty() {
                    continue;
                }
            }
            kept.push(stub);
        }
        if let Ok(compiled) =
            Stubs::from_json(&Value::Array(kept), stubs.defaults().clone(), &self.options)
        {
            *stubs = compiled;
        }
    }

    /// Saves the definition under `--datadir`, written whole then renamed.
    pub fn save(&self) {
        let Some(dir) = &self.datadir else { return };
        let json = self.to_json(
            Form {
                replayable: true,
                remove_proxies: false,
            },
            "",
        );
        let path = dir.join(format!("{}.json", self.port));
        let temporary = dir.join(format!(".{}.json.tmp", self.port));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| {
                std::fs::write(
                    &temporary,
                    serde_json::to_vec_pretty(&json).unwrap_or_default(),
                )
            })
            .and_then(|()| std::fs::rename(&temporary, &path));
        if let Err(error) = written {
            tracing::error!(
                "cannot save imposter {} to {}: {error}",
                self.port,
                path.display()
            );
        }
    }

    /// How many requests it has answered since it started or was cleared.
    pub fn number_of_requests(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The stubs as JSON, with mountebank's `removeProxies` applied.
    fn stubs_json(&self, form: Form) -> Vec<Value> {
        let stubs = hmt_types::sync::read(&self.stubs);
        let mut list: Vec<Value> = stubs.to_json().as_array().cloned().unwrap_or_default();
        if self.debug && !form.replayable {
            // mountebank's debug mode shows each stub's `matches`.
            let with_json = stubs.iter().filter(|stub| stub.definition().is_some());
            for (stub, json) in with_json.zip(list.iter_mut()) {
                if let Value::Object(fields) = json {
                    fields.insert("matches".into(), Value::Array(stub.matches_json()));
                }
            }
        }
        if form.replayable {
            for stub in &mut list {
                for response in responses_mut(stub) {
                    if let Some(Value::Object(is)) = response.get_mut("is") {
                        is.remove("_proxyResponseTime");
                    }
                }
            }
        }
        if form.remove_proxies {
            for stub in &mut list {
                if let Some(Value::Array(responses)) = stub.get_mut("responses") {
                    responses.retain(|response| response.get("proxy").is_none());
                }
            }
            list.retain(|stub| {
                stub.get("responses")
                    .and_then(Value::as_array)
                    .is_some_and(|r| !r.is_empty())
            });
        }
        list
    }

    fn header(&self, list: bool, replayable: bool) -> Map<String, Value> {
        let definition = &self.definition;
        let mut json = Map::new();
        json.insert("protocol".into(), json!(definition.protocol.as_str()));
        json.insert("port".into(), json!(self.port));
        if let Some(name) = &definition.name {
            json.insert("name".into(), name.clone());
        }
        if let Some(defaults) = &definition.default_response {
            json.insert("defaultResponse".into(), defaults.clone());
        }
        if !replayable {
            json.insert("numberOfRequests".into(), json!(self.number_of_requests()));
        }
        if !list {
            json.insert("recordRequests".into(), json!(definition.record_requests));
            if let Some(tls) = &definition.tls {
                tls.describe(&mut json);
            }
            if definition.allow_cors {
                json.insert("allowCORS".into(), json!(true));
            }
            for (key, value) in &definition.extra {
                json.insert(key.clone(), value.clone());
            }
        }
        json
    }

    /// The imposter as `GET /imposters/:id` shows it; links are absolute
    /// under `base` (`http://localhost:2525`).
    pub fn to_json(&self, form: Form, base: &str) -> Value {
        let mut json = self.header(false, form.replayable);
        if !form.replayable {
            json.insert("requests".into(), Value::Array(self.requests()));
        }
        let mut stubs = self.stubs_json(form);
        let url = format!("{base}/imposters/{}", self.port);
        if !form.replayable {
            for (index, stub) in stubs.iter_mut().enumerate() {
                if let Value::Object(fields) = stub {
                    fields.insert(
                        "_links".into(),
                        json!({"self": {"href": format!("{url}/stubs/{index}")}}),
                    );
                }
            }
        }
        json.insert("stubs".into(), Value::Array(stubs));
        if !form.replayable {
            json.insert("_links".into(), links(&url));
        }
        Value::Object(json)
    }

    /// The imposter as `GET /imposters` lists it.
    pub fn to_list_json(&self, base: &str) -> Value {
        let mut json = self.header(true, false);
        json.insert(
            "_links".into(),
            links(&format!("{base}/imposters/{}", self.port)),
        );
        Value::Object(json)
    }
}

/// What a saved request holds, near enough to bound memory without
/// printing the request to measure it: its text fields (the query, form and
/// header maps repeat the same text) and a fixed cost for the rest.
fn held_bytes(request: &Request) -> usize {
    let headers: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 8)
        .sum();
    256 + request.path.len() + 2 * request.raw_query.len() + 2 * request.body.len() + headers
}

fn bad_index() -> ApiError {
    ApiError::bad_data(
        "'stubIndex' must be a valid integer, representing the array index position of the stub to replace",
    )
}

fn links(url: &str) -> Value {
    json!({"self": {"href": url}, "stubs": {"href": format!("{url}/stubs")}})
}

fn responses_mut(stub: &mut Value) -> impl Iterator<Item = &mut Value> {
    stub.get_mut("responses")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|responses| responses.iter_mut())
}
