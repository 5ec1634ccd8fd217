//! One operation (a method on a path template): everything its recorded
//! exchanges showed, folded into bounded summaries, and rendered as an
//! OpenAPI Operation Object.

use crate::headers::{self, Credential};
use crate::media::{BodyStats, classify};
use crate::naming::reason_phrase;
use crate::paths::PathPayload;
use crate::replay::ReplayLog;
use crate::schema::{Dialect, TextSketch};
use hmt_types::{Exchange, Fields, Method};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Summary of one named parameter (query, header or form field).
#[derive(Clone, Debug, Default)]
pub struct ParamStats {
    /// Requests in which it was present.
    pub seen: u64,
    /// Whether it was ever given more than one value in a request.
    pub repeated: bool,
    sketch: TextSketch,
    example: Option<String>,
}

impl ParamStats {
    fn observe(&mut self, values: &[String]) {
        self.seen += 1;
        self.repeated |= values.len() > 1;
        for value in values {
            self.sketch.observe(value);
        }
        if self.example.is_none() {
            self.example = values.first().cloned();
        }
    }

    fn merge(&mut self, other: ParamStats) {
        self.seen += other.seen;
        self.repeated |= other.repeated;
        self.sketch.merge(other.sketch);
        if self.example.is_none() {
            self.example = other.example;
        }
    }

    /// The parameter's schema: an array of values when it was repeated.
    pub fn schema(&self, dialect: Dialect) -> Value {
        let item = self.sketch.to_schema(dialect);
        if self.repeated {
            json!({"type": "array", "items": item})
        } else {
            item
        }
    }

    /// An example value, typed like the schema.
    fn example(&self, schema: &Value) -> Option<Value> {
        self.example
            .as_deref()
            .map(|text| typed_example(text, schema))
    }
}

/// A recorded text value (path, query or header parameter) as an example
/// of `schema`: a number, boolean or one-item array where the schema says
/// so and the text parses, else the text.
pub(crate) fn typed_example(text: &str, schema: &Value) -> Value {
    let typed = match schema.get("type").and_then(Value::as_str) {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some("boolean") => text.parse::<bool>().ok().map(Value::Bool),
        Some("array") => Some(Value::Array(vec![typed_example(
            text,
            schema.get("items").unwrap_or(&Value::Null),
        )])),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// Folds one request's fields into per-name summaries, skipping names for
/// which `skip` says so.
pub fn observe_fields(
    stats: &mut BTreeMap<String, ParamStats>,
    fields: &Fields,
    skip: impl Fn(&str) -> bool,
) {
    for (name, values) in fields.iter() {
        if skip(name) {
            continue;
        }
        match stats.get_mut(name) {
            Some(s) => s.observe(values),
            None => {
                let mut s = ParamStats::default();
                s.observe(values);
                stats.insert(name.to_owned(), s);
            }
        }
    }
}

/// Folds one set of per-name summaries into another.
pub fn merge_fields(into: &mut BTreeMap<String, ParamStats>, from: BTreeMap<String, ParamStats>) {
    for (name, stats) in from {
        match into.get_mut(&name) {
            Some(s) => s.merge(stats),
            None => {
                into.insert(name, stats);
            }
        }
    }
}

/// Summary of the responses with one status code.
#[derive(Clone, Debug, Default)]
pub struct ResponseStats {
    count: u64,
    headers: BTreeMap<String, ParamStats>,
    bodies: BTreeMap<String, BodyStats>,
}

impl ResponseStats {
    fn merge(&mut self, other: ResponseStats) {
        self.count += other.count;
        merge_fields(&mut self.headers, other.headers);
        merge_bodies(&mut self.bodies, other.bodies);
    }
}

fn merge_bodies(into: &mut BTreeMap<String, BodyStats>, from: BTreeMap<String, BodyStats>) {
    for (media, stats) in from {
        match into.get_mut(&media) {
            Some(s) => s.merge(stats),
            None => {
                into.insert(media, stats);
            }
        }
    }
}

fn observe_body(bodies: &mut BTreeMap<String, BodyStats>, headers: &Fields, body: &[u8]) {
    let (media, class) = classify(headers.get_ignore_case("content-type"), body);
    match bodies.get_mut(&media) {
        Some(stats) => stats.observe(body),
        None => {
            let mut stats = BodyStats::new(class);
            stats.observe(body);
            bodies.insert(media, stats);
        }
    }
}

fn observe_header_fields(stats: &mut BTreeMap<String, ParamStats>, fields: &Fields) {
    for (name, values) in fields.iter() {
        if headers::is_ignored_header(name) {
            continue;
        }
        let lower;
        let key = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        match stats.get_mut(key) {
            Some(s) => s.observe(values),
            None => {
                let mut s = ParamStats::default();
                s.observe(values);
                stats.insert(key.to_owned(), s);
            }
        }
    }
}

/// Where responses with a status outside 100-599 are kept, all together.
/// RFC 9110 (section 15) calls those statuses invalid and has clients treat
/// them as 5xx, and an OpenAPI `responses` key can only name them so: they
/// are rendered as `5XX`.
const INVALID_STATUS: u16 = 1000;

fn response_key(status: u16) -> u16 {
    if (100..=599).contains(&status) {
        status
    } else {
        INVALID_STATUS
    }
}

/// Everything recorded for one method on one path template.
#[derive(Clone, Debug, Default)]
pub struct OperationStats {
    count: u64,
    query: BTreeMap<String, ParamStats>,
    headers: BTreeMap<String, ParamStats>,
    /// The set of credentials each request carried (empty: none).
    credentials: BTreeSet<Vec<Credential>>,
    request_bodies: BTreeMap<String, BodyStats>,
    responses: BTreeMap<u16, ResponseStats>,
    replay: ReplayLog,
}

/// Where an exchange sits in the input and which concrete path it had;
/// given when replay data is kept.
#[derive(Clone, Copy, Debug)]
pub struct ReplaySource<'a> {
    /// Position of the exchange in the whole input.
    pub sequence: u64,
    /// The recorded path, relative to the server base path.
    pub path: &'a str,
}

impl OperationStats {
    /// Folds one exchange in.
    pub fn observe(&mut self, exchange: &Exchange, replay: Option<ReplaySource<'_>>) {
        let request = &exchange.request;
        self.count += 1;
        observe_fields(&mut self.query, &request.query, headers::is_api_key_query);
        observe_header_fields(&mut self.headers, &request.headers);
        self.credentials.insert(headers::credentials(request));
        if let Some(body) = request.body.as_deref().filter(|b| !b.is_empty()) {
            observe_body(&mut self.request_bodies, &request.headers, body);
        }
        if let Some(response) = &exchange.response {
            let stats = self
                .responses
                .entry(response_key(response.status))
                .or_default();
            stats.count += 1;
            observe_header_fields(&mut stats.headers, &response.headers);
            if let Some(body) = response.body.as_deref().filter(|b| !b.is_empty()) {
                observe_body(&mut stats.bodies, &response.headers, body);
            }
        }
        if let Some(source) = replay {
            self.replay.record(
                source.sequence,
                source.path,
                request,
                exchange.response.as_ref(),
                exchange
                    .meta
                    .get("latencyMs")
                    .and_then(serde_json::Value::as_f64),
            );
        }
    }

    /// Folds another operation's summary in.
    pub fn merge(&mut self, other: OperationStats) {
        self.count += other.count;
        merge_fields(&mut self.query, other.query);
        merge_fields(&mut self.headers, other.headers);
        self.credentials.extend(other.credentials);
        merge_bodies(&mut self.request_bodies, other.request_bodies);
        for (status, stats) in other.responses {
            match self.responses.get_mut(&status) {
                Some(s) => s.merge(stats),
                None => {
                    self.responses.insert(status, stats);
                }
            }
        }
        self.replay.merge(other.replay);
    }

    /// Exchanges folded in.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Bodies that were declared JSON but did not parse.
    pub fn unparsed_bodies(&self) -> u64 {
        self.request_bodies
            .values()
            .map(|b| b.unparsed)
            .sum::<u64>()
            + self
                .responses
                .values()
                .flat_map(|r| r.bodies.values())
                .map(|b| b.unparsed)
                .sum::<u64>()
    }

    /// The credentials seen, each once.
    pub fn credential_kinds(&self) -> BTreeSet<&Credential> {
        self.credentials.iter().flatten().collect()
    }

    /// The lowest 2xx status with a JSON object body: its top-level keys.
    fn success_shape(&self) -> Option<(String, Vec<&str>)> {
        let (_, stats) = self.responses.range(200..300).next()?;
        let (media, body) = stats.bodies.iter().next()?;
        Some((media.clone(), body.object_keys()))
    }

    /// The lowest 2xx status's body, as the sibling comparison sees it: its
    /// media type, whether it was a JSON array, and the keys of the object
    /// (or of the objects in the array).
    fn success_kind(&self) -> Option<(&str, bool, BTreeSet<&str>)> {
        let (_, stats) = self.responses.range(200..300).next()?;
        let (media, body) = stats.bodies.iter().next()?;
        Some(match body.array_item_keys() {
            Some(keys) => (media.as_str(), true, keys.into_iter().collect()),
            None => (
                media.as_str(),
                false,
                body.object_keys().into_iter().collect(),
            ),
        })
    }

    /// The lowest 2xx status's body as a list: its media type and the keys
    /// of the listed objects (bare array or envelope), if it is one.
    fn listed_items(&self) -> Option<(&str, BTreeSet<&str>)> {
        let (_, stats) = self.responses.range(200..300).next()?;
        let (media, body) = stats.bodies.iter().next()?;
        let keys = body.listed_item_keys()?;
        Some((media.as_str(), keys.into_iter().collect()))
    }

    fn only_errors(&self) -> bool {
        self.responses.keys().all(|s| *s >= 400)
    }

    /// Renders the Operation Object.
    pub fn render(&self, context: &RenderContext<'_>) -> Value {
        let dialect = context.dialect;
        let mut op = Map::new();
        op.insert("operationId".into(), context.operation_id.into());
        op.insert("summary".into(), context.summary.into());
        let mut parameters: Vec<Value> = Vec::new();
        for (name, stats) in &self.query {
            parameters.push(render_param(name, "query", stats, self.count, dialect));
        }
        for (name, stats) in &self.headers {
            parameters.push(render_param(name, "header", stats, self.count, dialect));
        }
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        if !self.request_bodies.is_empty() {
            let mut content = Map::new();
            for (media, stats) in &self.request_bodies {
                let mut media_object = Map::new();
                media_object.insert("schema".into(), stats.schema(dialect));
                if let Some(example) = stats.example() {
                    media_object.insert("example".into(), example);
                }
                content.insert(media.clone(), Value::Object(media_object));
            }
            let with_body: u64 = self.request_bodies.values().map(|b| b.count).sum();
            op.insert(
                "requestBody".into(),
                json!({"required": with_body == self.count, "content": content}),
            );
        }
        // Examples and x-hmt-replay come from one plan of the replay log.
        let (replay_examples, replay) = context
            .keep_replay
            .then(|| self.replay.render(context.base_path))
            .unzip();
        let mut responses = Map::new();
        for (status, stats) in &self.responses {
            let mut response = Map::new();
            let (key, description) = match *status {
                INVALID_STATUS => (
                    "5XX".to_owned(),
                    "A status code outside 100-599, which HTTP clients treat as a server error"
                        .to_owned(),
                ),
                status => (status.to_string(), reason_phrase(status)),
            };
            response.insert("description".into(), description.into());
            if !stats.headers.is_empty() {
                let mut headers = Map::new();
                for (name, header) in &stats.headers {
                    let mut h = Map::new();
                    if header.seen == stats.count {
                        h.insert("required".into(), true.into());
                    }
                    h.insert("schema".into(), header.schema(dialect));
                    headers.insert(name.clone(), Value::Object(h));
                }
                response.insert("headers".into(), Value::Object(headers));
            }
            if !stats.bodies.is_empty() {
                let mut content = Map::new();
                for (media, body) in &stats.bodies {
                    let mut media_object = Map::new();
                    media_object.insert("schema".into(), body.schema(dialect));
                    let recorded = replay_examples
                        .as_ref()
                        .and_then(|e| e.get(&(*status, media.clone())));
                    match recorded {
                        Some(examples) if !examples.is_empty() => {
                            let mut map = Map::new();
                            for (name, value) in examples {
                                map.insert(name.clone(), json!({ "value": body.typed(value) }));
                            }
                            media_object.insert("examples".into(), Value::Object(map));
                        }
                        _ => {
                            if let Some(example) = body.example() {
                                media_object.insert("example".into(), example);
                            }
                        }
                    }
                    content.insert(media.clone(), Value::Object(media_object));
                }
                response.insert("content".into(), Value::Object(content));
            }
            responses.insert(key, Value::Object(response));
        }
        if responses.is_empty() {
            // A request recorded without its response still documents the
            // operation; OpenAPI requires at least one response.
            responses.insert(
                "default".into(),
                json!({"description": "No response was recorded"}),
            );
        }
        op.insert("responses".into(), Value::Object(responses));
        let has_credentials = self.credentials.iter().any(|c| !c.is_empty());
        if has_credentials {
            let requirements: Vec<Value> = self
                .credentials
                .iter()
                .map(|set| {
                    let mut requirement = Map::new();
                    for credential in set {
                        requirement.insert(credential.scheme_name(), json!([]));
                    }
                    Value::Object(requirement)
                })
                .collect();
            op.insert("security".into(), Value::Array(requirements));
        }
        if let Some(replay) = replay {
            op.insert("x-hmt-replay".into(), replay);
        }
        Value::Object(op)
    }
}

/// A query or header parameter present in every request is `required` only
/// when the operation was recorded at least this many times.
const REQUIRED_MIN_REQUESTS: u64 = 5;

fn render_param(
    name: &str,
    location: &str,
    stats: &ParamStats,
    total: u64,
    dialect: Dialect,
) -> Value {
    let schema = stats.schema(dialect);
    let mut param = Map::new();
    param.insert("name".into(), name.into());
    param.insert("in".into(), location.into());
    // Present in every request is only evidence of "required" when there
    // were several requests: a filter sent in both of two recorded requests
    // is not one the next day's clients must send.
    let required = stats.seen == total && total >= REQUIRED_MIN_REQUESTS;
    param.insert("required".into(), required.into());
    if let Some(example) = stats.example(&schema) {
        param.insert("example".into(), example);
    }
    param.insert("schema".into(), schema);
    Value::Object(param)
}

/// What rendering an operation needs from around it.
pub struct RenderContext<'a> {
    /// Schema dialect.
    pub dialect: Dialect,
    /// Unique operation id.
    pub operation_id: &'a str,
    /// One-line summary.
    pub summary: &'a str,
    /// The server base path, stripped from recorded paths in replay data.
    pub base_path: &'a str,
    /// Whether to attach recorded exchanges (replay and mixed modes).
    pub keep_replay: bool,
}

/// The operations recorded on one path: the payload of a path template.
#[derive(Clone, Debug, Default)]
pub struct PathData {
    /// Operations by method.
    pub operations: BTreeMap<Method, OperationStats>,
}

impl PathPayload for PathData {
    fn merge(&mut self, other: PathData) {
        for (method, stats) in other.operations {
            match self.operations.get_mut(&method) {
                Some(s) => s.merge(stats),
                None => {
                    self.operations.insert(method, stats);
                }
            }
        }
    }

    /// A literal path resembles a template when each of its methods is one
    /// the template has and, where both answered with a JSON object, the
    /// objects share at least half their top-level keys. Traffic that only
    /// got errors (`/pokemon/doesnotexist` → 404) resembles any template
    /// with the same methods: it is a look-up that failed.
    fn resembles(&self, template: &PathData) -> bool {
        self.operations.iter().all(|(method, op)| {
            let Some(other) = template.operations.get(method) else {
                return false;
            };
            if op.only_errors() || other.only_errors() {
                return true;
            }
            match (op.success_shape(), other.success_shape()) {
                (Some((media_a, keys_a)), Some((media_b, keys_b))) => {
                    if media_a != media_b {
                        return false;
                    }
                    if keys_a.is_empty() && keys_b.is_empty() {
                        return true;
                    }
                    let a: BTreeSet<&str> = keys_a.into_iter().collect();
                    let b: BTreeSet<&str> = keys_b.into_iter().collect();
                    let shared = a.intersection(&b).count();
                    let all = a.union(&b).count();
                    shared * 2 >= all
                }
                (None, None) => true,
                _ => false,
            }
        })
    }

    /// An item of a collection: the collection path accepts `POST` or
    /// lists with `GET` (a bare array or an envelope holding one), and this path has only the methods that address one
    /// member (`GET`, `PUT`, `PATCH`, `DELETE`, `HEAD`); its `GET`, if
    /// successful, returns an object sharing at least half its keys with the
    /// listed items, and without such a `GET` it must answer `PUT`, `PATCH`
    /// or `DELETE` (a `GET` alone could be a view such as `/products/featured`).
    fn item_of(&self, collection: &PathData) -> bool {
        let listed = collection
            .operations
            .get(&Method::Get)
            .and_then(|op| op.listed_items());
        let creates = collection.operations.contains_key(&Method::Post);
        if self.operations.is_empty() || !(creates || listed.is_some()) {
            return false;
        }
        let item_methods = [
            Method::Get,
            Method::Put,
            Method::Patch,
            Method::Delete,
            Method::Head,
        ];
        if !self.operations.keys().all(|m| item_methods.contains(m)) {
            return false;
        }
        let get = self
            .operations
            .get(&Method::Get)
            .and_then(|op| op.success_kind());
        match (get, listed) {
            (Some((_, true, _)), _) => false,
            (Some((media, false, keys)), Some((list_media, items))) => {
                media == list_media
                    && !keys.is_empty()
                    && keys.intersection(&items).count() * 2 >= keys.union(&items).count()
            }
            _ => [Method::Put, Method::Patch, Method::Delete]
                .iter()
                .any(|m| self.operations.contains_key(m)),
        }
    }

    /// Symmetric comparison of two sibling paths' traffic: `Some(false)` when
    /// a method both have answered successfully with different kinds of body
    /// (another media type, an object against a list, lists or objects
    /// sharing less than half their keys), `Some(true)` when every such
    /// method agrees, `None` when no method gives evidence (no shared method,
    /// or only errors on one side).
    fn alike(&self, other: &PathData) -> Option<bool> {
        let mut verdict = None;
        for (method, op) in &self.operations {
            let Some(theirs) = other.operations.get(method) else {
                continue;
            };
            if op.only_errors() || theirs.only_errors() {
                continue;
            }
            let same = match (op.success_kind(), theirs.success_kind()) {
                (Some((media_a, array_a, a)), Some((media_b, array_b, b))) => {
                    media_a == media_b
                        && array_a == array_b
                        // No keys (empty lists, empty objects) is no evidence.
                        && (a.is_empty()
                            || b.is_empty()
                            || a.intersection(&b).count() * 2 >= a.union(&b).count())
                }
                (None, None) => true,
                _ => false,
            };
            if !same {
                return Some(false);
            }
            verdict = Some(true);
        }
        verdict
    }
}
