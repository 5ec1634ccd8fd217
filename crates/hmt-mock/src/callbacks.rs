//! Custom responses written as scripts, in [Rhai](https://rhai.rs): a
//! scripting language made for embedding in Rust programs, sandboxed (no
//! file, network or module access here) and bounded in operations, time,
//! sizes and call depth. HMT needed Python for this; a script here needs
//! nothing but the `hmt` binary.
//!
//! Every `*.rhai` file in the callback directory runs once at start-up and
//! registers callbacks:
//!
//! ```rhai
//! // method and path template (any host)
//! callback("get", "/accounts/{id}", |request, response, storage| {
//!     response.body.balance = storage.balance ?? 0;
//!     response.body          // the body to send (format json, response body)
//! });
//!
//! // or with options, as HMT's decorator had them
//! callback(#{ host: "api.example.com", method: "post", path: "/payments",
//!             format: "text", response: "full" },
//!          |request, response, storage| #{ status: 201, headers: #{}, body: "ok" });
//! ```
//!
//! A callback receives the request (`method`, `host`, `path`, `params`,
//! `query`, `headers`, and `body`, parsed when it is JSON), the response
//! the mock would send (`status`, `headers`, `body`), and `storage`, a map
//! shared by every callback and request until the admin API clears it,
//! bounded in bytes ([`Storage::with_limit`]: a store beyond the bound is
//! an error in the script). `callback(...)` registers only while a script
//! loads; called from inside a callback it is an error. It
//! returns the body (`response: "body"`, the default) or the whole response
//! (`response: "full"`); `format: "json"` (default) sends the body as JSON,
//! `"text"` as text. Returning nothing leaves the response as it was.
//!
//! A script that fails, at start-up or per request, is reported with its
//! file and line; per request the client gets a 500 problem document.

use crate::server::Target;
use hmt_types::sync::lock;
use rhai::{AST, Dynamic, Engine, EvalAltResult, FnPtr, Map as RhaiMap};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Operations one callback call may take.
const MAX_OPERATIONS: u64 = 5_000_000;
/// Wall-clock time one callback call may take.
const MAX_TIME: Duration = Duration::from_millis(500);

/// The storage map callbacks share, bounded in bytes: every request can
/// add to it, so without a bound a script could grow the mock's memory
/// until the host gives out.
#[derive(Clone)]
pub struct Storage(Arc<Mutex<Stored>>);

/// The values in [`Storage`] and the bytes they are counted as.
struct Stored {
    values: Map<String, Value>,
    /// The sum of [`entry_bytes`] over `values`.
    bytes: usize,
    /// The most `bytes` may reach.
    limit: usize,
}

/// What callback storage may hold by default: 64 MiB.
pub const DEFAULT_STORAGE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes counted for one stored entry besides its key and value.
const ENTRY_OVERHEAD: usize = 64;

/// The bytes an entry is counted as: its key, the memory its value takes
/// and a fixed overhead, so that many tiny entries are counted too.
fn entry_bytes(key: &str, value: &Value) -> usize {
    ENTRY_OVERHEAD + key.len() + value_bytes(value)
}

/// About the memory `value` takes: every node the size of a `Value`, plus
/// its text, plus a map entry's key. The bound is on memory, and JSON text
/// undercounts it: `[1,2,3]` is 2 bytes an item as text and 32 in memory.
/// Walked with a stack of its own, so that deep nesting cannot overflow
/// the thread's.
fn value_bytes(value: &Value) -> usize {
    const NODE: usize = std::mem::size_of::<Value>();
    let mut bytes = 0;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        bytes += NODE;
        match value {
            Value::String(text) => bytes += text.len(),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    bytes += key.len() + NODE;
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    bytes
}

impl Default for Storage {
    fn default() -> Storage {
        Storage::with_limit(DEFAULT_STORAGE_BYTES)
    }
}

impl Storage {
    /// Empty storage that holds at most `limit` bytes (the memory its
    /// values take, about, with a small overhead per key).
    pub fn with_limit(limit: usize) -> Storage {
        Storage(Arc::new(Mutex::new(Stored {
            values: Map::new(),
            bytes: 0,
            limit,
        })))
    }

    fn get(&self, key: &str) -> Dynamic {
        lock(&self.0)
            .values
            .get(key)
            .and_then(|v| rhai::serde::to_dynamic(v).ok())
            .unwrap_or(Dynamic::UNIT)
    }

    fn set(&self, key: &str, value: Dynamic) -> Result<(), Box<EvalAltResult>> {
        let value: Value = rhai::serde::from_dynamic(&value)?;
        self.insert(key, value)
            .map_err(|full| full.to_string().into())
    }

    /// Stores `value` under `key`, unless that would take storage over its
    /// bound: then it is left as it was and the error says by how much.
    pub fn insert(&self, key: &str, value: Value) -> Result<(), StorageFull> {
        let added = entry_bytes(key, &value);
        let mut stored = lock(&self.0);
        let replaced = stored
            .values
            .get(key)
            .map_or(0, |old| entry_bytes(key, old));
        let after = stored.bytes - replaced + added;
        if after > stored.limit {
            return Err(StorageFull {
                key: key.to_owned(),
                added,
                after,
                limit: stored.limit,
            });
        }
        stored.values.insert(key.to_owned(), value);
        stored.bytes = after;
        Ok(())
    }

    /// The value stored under `key`.
    pub fn value(&self, key: &str) -> Option<Value> {
        lock(&self.0).values.get(key).cloned()
    }

    fn contains(&self, key: &str) -> bool {
        lock(&self.0).values.contains_key(key)
    }

    fn remove(&self, key: &str) -> Option<Value> {
        let mut stored = lock(&self.0);
        let removed = stored.values.remove(key)?;
        stored.bytes -= entry_bytes(key, &removed);
        Some(removed)
    }

    /// The bytes stored now, as counted against the bound.
    pub fn bytes(&self) -> usize {
        lock(&self.0).bytes
    }

    /// Empties it.
    pub fn clear(&self) {
        let mut stored = lock(&self.0);
        stored.values.clear();
        stored.bytes = 0;
    }
}

/// Why [`Storage::insert`] refused a value: storing it would take storage
/// over its bound (`--callback-storage-bytes`). Storage is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "callback storage is full: storing {key} ({added} bytes) would make it {after} bytes, {over} bytes over its bound of {limit} bytes (--callback-storage-bytes); remove keys or clear it with DELETE /admin/storage",
    key = Shown(&self.key),
    over = self.over()
)]
pub struct StorageFull {
    /// The key the value was to be stored under.
    pub key: String,
    /// The bytes the entry is counted as (key, value and overhead).
    pub added: usize,
    /// The bytes storage would have held with it (less the value it
    /// replaced).
    pub after: usize,
    /// The bound: the most storage may hold.
    pub limit: usize,
}

impl StorageFull {
    /// By how many bytes storing the value would have gone over the bound.
    pub fn over(&self) -> usize {
        self.after.saturating_sub(self.limit)
    }
}

/// A key as a message shows it: quoted, and cut after
/// [`Shown::MAX_CHARS`] characters, since a script may use a key of
/// megabytes and every refusal is logged.
struct Shown<'a>(&'a str);

impl Shown<'_> {
    const MAX_CHARS: usize = 80;
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(Shown::MAX_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}... ({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// What a callback returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Returns {
    Body,
    Full,
}

/// How a returned body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Text,
}

struct Registration {
    script: PathBuf,
    ast: Arc<AST>,
    host: Option<String>,
    method: Option<String>,
    path: String,
    format: Format,
    returns: Returns,
    function: FnPtr,
}

/// Every registered callback.
pub struct Callbacks {
    engine: Engine,
    registrations: Vec<Registration>,
}

/// Why the callback scripts could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct CallbackError {
    /// The script.
    pub file: PathBuf,
    /// What and where.
    pub message: String,
}

/// The response a callback sees and may replace.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackResponse {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: bytes::Bytes,
}

thread_local! {
    static CALL_STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

fn sandboxed_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(4 * 1024 * 1024);
    engine.set_max_array_size(100_000);
    engine.set_max_map_size(100_000);
    engine.on_progress(|operations| {
        if operations % 1024 != 0 {
            return None;
        }
        let started = CALL_STARTED.with(Cell::get)?;
        (started.elapsed() > MAX_TIME)
            .then(|| Dynamic::from(format!("took longer than {} ms", MAX_TIME.as_millis())))
    });
    engine
        .register_type_with_name::<Storage>("Storage")
        .register_indexer_get(|s: &mut Storage, key: &str| s.get(key))
        .register_indexer_set(|s: &mut Storage, key: &str, value: Dynamic| s.set(key, value))
        .register_fn("get", |s: &mut Storage, key: &str| s.get(key))
        .register_fn("set", |s: &mut Storage, key: &str, value: Dynamic| {
            s.set(key, value)
        })
        .register_fn("contains", |s: &mut Storage, key: &str| s.contains(key))
        .register_fn("remove", |s: &mut Storage, key: &str| {
            s.remove(key)
                .and_then(|v| rhai::serde::to_dynamic(&v).ok())
                .unwrap_or(Dynamic::UNIT)
        })
        .register_fn("clear", |s: &mut Storage| s.clear());
    engine
}

/// The callbacks a script registers while it loads; `None` once loading
/// is over, so that `callback(...)` inside a handler fails instead of
/// collecting registrations no one reads, one more per request.
type Pending = Arc<Mutex<Option<Vec<(RhaiMap, FnPtr)>>>>;

/// Queues a registration, or says why it cannot be made now.
fn register(
    pending: &Pending,
    options: RhaiMap,
    function: FnPtr,
) -> Result<(), Box<EvalAltResult>> {
    match lock(pending).as_mut() {
        Some(queued) => {
            queued.push((options, function));
            Ok(())
        }
        None => Err("callback(...) registers a callback only while its script loads, at the top level; it cannot be called from inside a callback at request time".into()),
    }
}

impl Callbacks {
    /// Runs every `*.rhai` file in `dir` (sorted) and collects what they
    /// register.
    pub fn load(dir: &Path) -> Result<Callbacks, CallbackError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| CallbackError {
                file: dir.to_owned(),
                message: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("rhai"))
            .collect();
        files.sort();
        let mut engine = sandboxed_engine();
        let pending: Pending = Arc::new(Mutex::new(Some(Vec::new())));
        {
            let with_options = pending.clone();
            engine.register_fn("callback", move |options: RhaiMap, function: FnPtr| {
                register(&with_options, options, function)
            });
            let plain = pending.clone();
            engine.register_fn(
                "callback",
                move |method: &str, path: &str, function: FnPtr| {
                    let mut options = RhaiMap::new();
                    options.insert("method".into(), method.into());
                    options.insert("path".into(), path.into());
                    register(&plain, options, function)
                },
            );
        }
        let mut registrations = Vec::new();
        for file in files {
            let fail = |message: String| CallbackError {
                file: file.clone(),
                message,
            };
            let text = std::fs::read_to_string(&file).map_err(|e| fail(e.to_string()))?;
            let ast = engine.compile(&text).map_err(|e| fail(e.to_string()))?;
            CALL_STARTED.with(|c| c.set(Some(Instant::now())));
            let ran = engine.run_ast(&ast);
            CALL_STARTED.with(|c| c.set(None));
            ran.map_err(|e| fail(e.to_string()))?;
            let ast = Arc::new(ast);
            let queued = std::mem::take(lock(&pending).get_or_insert_with(Vec::new));
            for (options, function) in queued {
                registrations
                    .push(registration(&file, ast.clone(), &options, function).map_err(&fail)?);
            }
        }
        // Loading is over: callback(...) fails from now on.
        *lock(&pending) = None;
        Ok(Callbacks {
            engine,
            registrations,
        })
    }

    /// How many callbacks the scripts registered.
    pub fn len(&self) -> usize {
        self.registrations.len()
    }

    /// Whether none were registered.
    pub fn is_empty(&self) -> bool {
        self.registrations.is_empty()
    }

    /// The first callback for this method, host and path, if any.
    pub fn find(&self, method: &str, target: &Target, paths: &[&str]) -> Option<usize> {
        self.registrations.iter().position(|r| {
            r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.host
                    .as_deref()
                    .is_none_or(|h| target.host.as_deref() == Some(h))
                && paths
                    .iter()
                    .any(|p| crate::route::match_segments(&r.path, p).is_some())
        })
    }

    /// Runs callback `index` on a request and the response the mock would
    /// send; returns the response to send, or an error naming script and
    /// line.
    pub fn run(
        &self,
        index: usize,
        request: Value,
        response: CallbackResponse,
        storage: &Storage,
    ) -> Result<CallbackResponse, String> {
        let r = &self.registrations[index];
        let to_dynamic = |v: &Value| rhai::serde::to_dynamic(v).map_err(|e| e.to_string());
        let response_value = serde_json::json!({
            "status": response.status,
            "headers": response.headers.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect::<Map<_, _>>(),
            "body": body_value(&response),
        });
        let arguments = (
            to_dynamic(&request)?,
            to_dynamic(&response_value)?,
            storage.clone(),
        );
        CALL_STARTED.with(|c| c.set(Some(Instant::now())));
        let result = r.function.call::<Dynamic>(&self.engine, &r.ast, arguments);
        CALL_STARTED.with(|c| c.set(None));
        let returned = result.map_err(|e| format!("{}: {}", r.script.display(), describe(&e)))?;
        if returned.is_unit() {
            return Ok(response);
        }
        let returned: Value = rhai::serde::from_dynamic(&returned)
            .map_err(|e| format!("{}: {e}", r.script.display()))?;
        let (status, headers, body) = match r.returns {
            Returns::Body => (response.status, response.headers, returned),
            Returns::Full => {
                let status = returned
                    .get("status")
                    .and_then(Value::as_u64)
                    .filter(|s| (100..=599).contains(s))
                    .map_or(response.status, |s| s as u16);
                let headers = match returned.get("headers").and_then(Value::as_object) {
                    Some(map) => map
                        .iter()
                        .map(|(n, v)| (n.to_ascii_lowercase(), crate::respond::header_text(v)))
                        .collect(),
                    None => response.headers,
                };
                (
                    status,
                    headers,
                    returned.get("body").cloned().unwrap_or(Value::Null),
                )
            }
        };
        let (content_type, body) = match (r.format, body) {
            (Format::Text, Value::String(text)) => ("text/plain", text.into_bytes()),
            (Format::Text, other) => ("text/plain", other.to_string().into_bytes()),
            (Format::Json, value) => (
                "application/json",
                serde_json::to_vec(&value).unwrap_or_default(),
            ),
        };
        let mut headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(n, _)| n != "content-length")
            .collect();
        if !headers.iter().any(|(n, _)| n == "content-type") || r.returns == Returns::Body {
            headers.retain(|(n, _)| n != "content-type");
            headers.push(("content-type".into(), content_type.into()));
        }
        Ok(CallbackResponse {
            status,
            headers,
            body: body.into(),
        })
    }
}

/// The response body as a script sees it: parsed JSON when it is JSON,
/// else text.
fn body_value(response: &CallbackResponse) -> Value {
    if response.body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&response.body).into_owned()))
}

fn describe(error: &EvalAltResult) -> String {
    let position = error.position();
    let message = match error {
        // Stopped by the time limit: its reason, not rhai's bare "Script
        // terminated".
        EvalAltResult::ErrorTerminated(reason, _) if reason.is_string() => reason.to_string(),
        _ => error.to_string(),
    };
    if position.is_none() || message.contains("line ") {
        message
    } else {
        format!("{message} (line {})", position.line().unwrap_or(0))
    }
}

fn registration(
    file: &Path,
    ast: Arc<AST>,
    options: &RhaiMap,
    function: FnPtr,
) -> Result<Registration, String> {
    let text = |key: &str| options.get(key).and_then(|v| v.clone().into_string().ok());
    let path = text("path").ok_or("callback(...) needs a `path`")?;
    if !path.starts_with('/') {
        return Err(format!("callback path {path:?} must start with '/'"));
    }
    let method = text("method").filter(|m| m != "any" && m != "*");
    let host = text("host")
        .filter(|h| h != "any" && h != "*")
        .map(|h| h.to_ascii_lowercase());
    let format = match text("format").as_deref() {
        None | Some("json") => Format::Json,
        Some("text") => Format::Text,
        Some(other) => {
            return Err(format!(
                "callback format {other:?}: expected \"json\" or \"text\""
            ));
        }
    };
    let returns = match text("response").as_deref() {
        None | Some("body") => Returns::Body,
        Some("full") => Returns::Full,
        Some(other) => {
            return Err(format!(
                "callback response {other:?}: expected \"body\" or \"full\""
            ));
        }
    };
    Ok(Registration {
        script: file.to_owned(),
        ast,
        host,
        method,
        path,
        format,
        returns,
        function,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callbacks(script: &str) -> Result<(tempfile::TempDir, Callbacks), CallbackError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rhai"), script).unwrap();
        Callbacks::load(dir.path()).map(|c| (dir, c))
    }

    fn response(body: &str) -> CallbackResponse {
        CallbackResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn target(path: &str) -> Target {
        Target {
            path: path.into(),
            ..Target::default()
        }
    }

    #[test]
    fn callbacks_change_bodies_and_share_storage() {
        let (_dir, c) = callbacks(
            r#"
            callback("get", "/count/{name}", |request, response, storage| {
                let n = storage[request.params.name] ?? 0;
                storage[request.params.name] = n + 1;
                response.body.count = n + 1;
                response.body
            });
            "#,
        )
        .unwrap();
        let storage = Storage::default();
        let index = c.find("GET", &target("/count/a"), &["/count/a"]).unwrap();
        assert_eq!(c.find("POST", &target("/count/a"), &["/count/a"]), None);
        let request = json!({"params": {"name": "a"}});
        let first = c
            .run(
                index,
                request.clone(),
                response(r#"{"count":0,"x":1}"#),
                &storage,
            )
            .unwrap();
        let second = c
            .run(index, request, response(r#"{"count":0,"x":1}"#), &storage)
            .unwrap();
        assert_eq!(&first.body[..], br#"{"count":1,"x":1}"#);
        assert_eq!(&second.body[..], br#"{"count":2,"x":1}"#);
        assert_eq!(storage.value("a"), Some(json!(2)));
    }

    #[test]
    fn full_responses_and_text() {
        let (_dir, c) = callbacks(
            r#"callback(#{method: "post", path: "/t", format: "text", response: "full"},
                |request, response, storage| #{status: 201, headers: #{"X-Id": "7"}, body: "made"});"#,
        )
        .unwrap();
        let out = c
            .run(0, json!({}), response("{}"), &Storage::default())
            .unwrap();
        assert_eq!(out.status, 201);
        assert_eq!(
            out.headers,
            [
                ("x-id".to_owned(), "7".to_owned()),
                ("content-type".to_owned(), "text/plain".to_owned())
            ]
        );
        assert_eq!(&out.body[..], b"made");
    }

    #[test]
    fn failures_name_the_script_and_line_and_runaways_stop() {
        let (dir, c) = callbacks("callback(\"get\", \"/x\", |request, response, storage| {\n  let a = 1;\n  a.nope()\n});").unwrap();
        let e = c
            .run(0, json!({}), response("{}"), &Storage::default())
            .unwrap_err();
        assert!(
            e.starts_with(&dir.path().join("a.rhai").display().to_string()),
            "{e}"
        );
        assert!(e.contains("nope") && e.contains("line 3"), "{e}");

        let (_dir, c) =
            callbacks("callback(\"get\", \"/x\", |request, response, storage| { loop { } });")
                .unwrap();
        let e = c
            .run(0, json!({}), response("{}"), &Storage::default())
            .unwrap_err();
        assert!(
            e.contains("took longer than") || e.contains("Too many operations"),
            "{e}"
        );

        let e = callbacks("callback(\"get\", \"/x\", |a| {")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("a.rhai") && e.contains("line"), "{e}");
        let e = callbacks("callback(#{method: \"get\"}, |a, b, c| 1);")
            .err()
            .unwrap()
            .to_string();
        assert!(e.ends_with("callback(...) needs a `path`"), "{e}");
    }

    #[test]
    fn storage_is_bounded_in_bytes_and_says_so() {
        let (_dir, c) = callbacks(
            r#"callback("post", "/store/{key}", |request, response, storage| {
                storage[request.params.key] = request.body;
                #{stored: storage.contains(request.params.key)}
            });"#,
        )
        .unwrap();
        let storage = Storage::with_limit(1000);
        let store = |key: &str, text: &str| {
            c.run(
                0,
                json!({"params": {"key": key}, "body": text}),
                response("{}"),
                &storage,
            )
        };
        store("a", &"x".repeat(400)).unwrap();
        // Replacing a value counts its new size, not both.
        store("a", &"y".repeat(400)).unwrap();
        assert_eq!(storage.bytes(), entry_bytes("a", &json!("y".repeat(400))));
        let refused = store("b", &"z".repeat(600)).unwrap_err();
        assert!(
            refused.contains("callback storage is full")
                && refused.contains("\"b\"")
                && refused.contains("1000 bytes")
                && refused.contains("--callback-storage-bytes")
                && refused.contains("line 2"),
            "{refused}"
        );
        assert_eq!(storage.value("b"), None, "a refused value is not kept");
        // The same refusal, typed, through the library.
        let full = storage.insert("b", json!("z".repeat(600))).unwrap_err();
        let a = entry_bytes("a", &json!("y".repeat(400)));
        let b = entry_bytes("b", &json!("z".repeat(600)));
        assert_eq!(
            full,
            StorageFull {
                key: "b".to_owned(),
                added: b,
                after: a + b,
                limit: 1000,
            }
        );
        assert_eq!(full.over(), a + b - 1000);
        assert!(
            refused.contains(&format!("{} bytes over its bound", full.over())),
            "{refused}"
        );
        // A long key is shown cut.
        let key = "k".repeat(10_000);
        let message = storage
            .insert(&key, json!("z".repeat(600)))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("{:?}... (10000 bytes)", "k".repeat(80)))
                && message.len() < 400,
            "{message}"
        );
        assert_eq!(storage.value("a"), Some(json!("y".repeat(400))));
        assert_eq!(storage.value("a"), Some(json!("y".repeat(400))));
        storage.clear();
        assert_eq!(storage.bytes(), 0);
        store("b", &"z".repeat(600)).unwrap();
    }

    #[test]
    fn storage_counts_memory_not_text() {
        let numbers = Value::Array((0..1000).map(Value::from).collect());
        assert!(value_bytes(&numbers) >= 1000 * std::mem::size_of::<Value>());
        assert_eq!(
            value_bytes(&json!({"name": "abc"})),
            2 * std::mem::size_of::<Value>() + "name".len() + std::mem::size_of::<Value>() + 3
        );
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(value_bytes(&deep), 100_001 * std::mem::size_of::<Value>());
        // Dropping it recursively would overflow the test's stack.
        std::mem::forget(deep);
    }

    #[test]
    fn callbacks_register_only_while_scripts_load() {
        let (_dir, c) = callbacks(
            r#"callback("get", "/x", |request, response, storage| {
                callback("get", "/y", |a, b, c| 1);
                1
            });"#,
        )
        .unwrap();
        let e = c
            .run(0, json!({}), response("{}"), &Storage::default())
            .unwrap_err();
        assert!(
            e.contains("only while its script loads") && e.contains("line 2"),
            "{e}"
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn no_file_access() {
        let e = callbacks("import \"secrets\" as s;")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("a.rhai"), "{e}");
    }
}
