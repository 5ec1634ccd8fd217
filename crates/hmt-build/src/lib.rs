//! Infers OpenAPI specs from recorded http-types exchanges.
//!
//! The core is pure: a [`Builder`] takes exchanges one at a time and
//! [`Builder::finish`] returns the documents, with no I/O inside, so the
//! same code serves files, stdin and Kafka, and tests need no files.
//! Memory grows with the number of distinct operations and the size of
//! their schemas, never with the number of exchanges (except in replay and
//! mixed modes, which keep every distinct request on purpose).
//!
//! ```
//! use hmt_build::{Builder, Mode, Options};
//! use hmt_types::Exchange;
//!
//! let mut builder = Builder::new(Options { mode: Mode::Gen, ..Options::default() });
//! for id in [42, 7] {
//!     let line = format!(r#"{{"request":{{"method":"get","protocol":"https","host":"api.example.com","path":"/v1/users/{id}"}},"response":{{"statusCode":200,"headers":{{"content-type":"application/json"}},"body":"{{\"id\":{id},\"name\":\"Ada\"}}"}}}}"#);
//!     builder.add(&Exchange::from_json_line(&line).unwrap());
//! }
//! let output = builder.finish();
//! let spec = &output.specs[0].document;
//! assert_eq!(spec["servers"][0]["url"], "https://api.example.com/v1");
//! let op = &spec["paths"]["/users/{userId}"]["get"];
//! assert_eq!(op["operationId"], "getUserById");
//! assert_eq!(op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["id"]["type"], "integer");
//! ```

pub mod example;
mod generalise;
pub mod headers;
pub mod ident;
pub mod initial;
pub mod media;
pub mod merge;
pub mod naming;
pub mod operation;
pub mod paths;
pub mod replay;
pub mod schema;
pub mod secrets;
mod spec;

use hmt_types::{Exchange, Protocol};
use initial::{InitialSpec, OpenApiVersion};
use operation::{OperationStats, PathData, ReplaySource};
use paths::{PathTemplate, PathTree, common_base_path};
use schema::Dialect;
use serde_json::{Map, Value};
use spec::{DocumentPlan, RenderNotes, RenderedPath};
use std::collections::{BTreeMap, BTreeSet};

/// What the builder writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Path templates and schemas inferred from all samples.
    #[default]
    Gen,
    /// Every recorded path kept as is, with its exact exchanges in
    /// `x-hmt-replay` and standard `examples`.
    Replay,
    /// Gen's templates and schemas with the replay data attached.
    Mixed,
}

/// How to build.
#[derive(Default)]
pub struct Options {
    /// gen, replay or mixed.
    pub mode: Mode,
    /// OpenAPI version of generated documents (an initial spec keeps its own).
    pub openapi: OpenApiVersion,
    /// A spec to merge the recordings into.
    pub initial: Option<InitialSpec>,
}

/// One document the builder produced.
pub struct BuiltSpec {
    /// File name without extension: `openapi`, or `<host>.openapi` when
    /// the input held several hosts, `<host>` spelled as
    /// [`hmt_types::file_safe_host`] does, or as
    /// [`hmt_types::file_safe_host_exact`] does for hosts that would
    /// otherwise share a name (`a:1` and `a_1` are `a_3a1` and `a_5f1`).
    /// No two specs of one build have the same stem.
    pub file_stem: String,
    /// The host it describes (empty for recordings without a host).
    pub host: String,
    /// The OpenAPI document, keys in a fixed order.
    pub document: Value,
    /// Number of paths.
    pub paths: usize,
    /// Number of operations.
    pub operations: usize,
}

/// The documents and what the builder noticed on the way.
pub struct BuildOutput {
    /// One document per host (or the merged initial spec and one per other host).
    pub specs: Vec<BuiltSpec>,
    /// Exchanges folded in.
    pub exchanges: u64,
    /// Things the user should know: bodies that did not parse, methods
    /// OpenAPI cannot describe, initial-spec paths that could not be routed.
    pub warnings: Vec<String>,
}

/// Paths of one host, templated (gen, mixed) or kept as recorded (replay).
enum PathStore {
    Templated(Box<PathTree<PathData>>),
    Concrete(BTreeMap<String, PathData>),
}

impl PathStore {
    fn new(mode: Mode) -> PathStore {
        match mode {
            Mode::Replay => PathStore::Concrete(BTreeMap::new()),
            Mode::Gen | Mode::Mixed => PathStore::Templated(Box::default()),
        }
    }

    fn observe(&mut self, pathname: &str) -> &mut PathData {
        match self {
            PathStore::Templated(tree) => tree.observe(pathname),
            PathStore::Concrete(map) => {
                // Kept as recorded, but for `{` and `}`, which in a path
                // template would read as a parameter (as in templates).
                let key = paths::escape_braces(pathname);
                if !map.contains_key(key.as_ref()) {
                    map.insert(key.clone().into_owned(), PathData::default());
                }
                map.get_mut(key.as_ref()).expect("inserted above")
            }
        }
    }

    fn finish(self) -> Vec<PathTemplate<PathData>> {
        match self {
            PathStore::Templated(tree) => tree.finish(),
            PathStore::Concrete(map) => map
                .into_iter()
                .map(|(template, payload)| PathTemplate {
                    template,
                    params: Vec::new(),
                    payload,
                })
                .collect(),
        }
    }
}

struct HostModel {
    schemes: BTreeSet<Protocol>,
    exchanges: u64,
    paths: PathStore,
}

impl HostModel {
    fn new(mode: Mode) -> HostModel {
        HostModel {
            schemes: BTreeSet::new(),
            exchanges: 0,
            paths: PathStore::new(mode),
        }
    }
}

/// The initial spec and the traffic routed onto it.
struct InitialTarget {
    spec: InitialSpec,
    /// Hosts its servers name; empty: it takes every host.
    hosts: BTreeSet<String>,
    /// Server base paths, longest first.
    bases: Vec<String>,
    router: matchit::Router<usize>,
    templates: Vec<String>,
    mapped: BTreeMap<usize, PathData>,
    /// Traffic on its hosts that matched none of its paths.
    unmatched: HostModel,
}

impl InitialTarget {
    fn new(spec: InitialSpec, mode: Mode, warnings: &mut Vec<String>) -> InitialTarget {
        let mut hosts = BTreeSet::new();
        let mut bases = BTreeSet::new();
        if let Some(servers) = spec.document.get("servers").and_then(Value::as_array) {
            for server in servers {
                let Some(url) = server.get("url").and_then(Value::as_str) else {
                    continue;
                };
                let (host, base) = split_server_url(url);
                if let Some(host) = host {
                    hosts.insert(host.to_ascii_lowercase());
                }
                bases.insert(base.trim_end_matches('/').to_owned());
            }
        }
        bases.insert(String::new());
        let mut bases: Vec<String> = bases.into_iter().collect();
        bases.sort_by_key(|b| std::cmp::Reverse(b.len()));
        let mut router = matchit::Router::new();
        let mut templates = Vec::new();
        if let Some(paths) = spec.document.get("paths").and_then(Value::as_object) {
            for template in paths.keys() {
                match router.insert(template.as_str(), templates.len()) {
                    Ok(()) => templates.push(template.clone()),
                    Err(e) => warnings.push(format!(
                        "initial spec path {template} cannot be matched against recordings ({e}); its traffic is added as new paths"
                    )),
                }
            }
        }
        InitialTarget {
            spec,
            hosts,
            bases,
            router,
            templates,
            mapped: BTreeMap::new(),
            unmatched: HostModel::new(mode),
        }
    }

    fn accepts(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.contains(host)
    }

    /// The path relative to the longest base path it starts with.
    fn relative<'p>(&self, pathname: &'p str) -> &'p str {
        for base in &self.bases {
            if let Some(rest) = pathname.strip_prefix(base.as_str())
                && (rest.starts_with('/') || (rest.is_empty() && !base.is_empty()))
            {
                return if rest.is_empty() { "/" } else { rest };
            }
        }
        pathname
    }
}

/// `https://api.example.com:8443/v1` → (`api.example.com:8443`, `/v1`);
/// `/v1` → (None, `/v1`). Server variables are left as written.
// Split by hand, not with the `url` crate: a server URL may be relative or
// hold `{variables}` in its host, which `url` refuses or percent-encodes.
fn split_server_url(url: &str) -> (Option<&str>, &str) {
    match url.split_once("://") {
        Some((_, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            (Some(&rest[..end]), &rest[end..])
        }
        None => (None, url),
    }
}

/// Folds exchanges into OpenAPI documents.
pub struct Builder {
    mode: Mode,
    version: OpenApiVersion,
    hosts: BTreeMap<String, HostModel>,
    initial: Option<InitialTarget>,
    exchanges: u64,
    warnings: Vec<String>,
}

impl Builder {
    /// A builder with nothing folded in yet.
    pub fn new(options: Options) -> Builder {
        let mut warnings = Vec::new();
        let initial = options
            .initial
            .map(|spec| InitialTarget::new(spec, options.mode, &mut warnings));
        Builder {
            mode: options.mode,
            version: options.openapi,
            hosts: BTreeMap::new(),
            initial,
            exchanges: 0,
            warnings,
        }
    }

    /// Folds one exchange in.
    pub fn add(&mut self, exchange: &Exchange) {
        let sequence = self.exchanges;
        self.exchanges += 1;
        let request = &exchange.request;
        let host_raw = request.host.as_deref().unwrap_or("");
        let lowered;
        let host = if host_raw.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host_raw.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host_raw
        };
        let protocol = request.protocol.unwrap_or(Protocol::Http);
        let keep_replay = self.mode != Mode::Gen;

        if let Some(initial) = self.initial.as_mut().filter(|i| i.accepts(host)) {
            let path = initial.relative(&request.pathname);
            initial.unmatched.schemes.insert(protocol);
            initial.unmatched.exchanges += 1;
            let data = match initial.router.at(path) {
                Ok(matched) => initial.mapped.entry(*matched.value).or_default(),
                Err(_) => initial.unmatched.paths.observe(path),
            };
            let source = keep_replay.then_some(ReplaySource { sequence, path });
            operation(data, exchange).observe(exchange, source);
            return;
        }

        let model = match self.hosts.get_mut(host) {
            Some(model) => model,
            None => self
                .hosts
                .entry(host.to_owned())
                .or_insert_with(|| HostModel::new(self.mode)),
        };
        model.schemes.insert(protocol);
        model.exchanges += 1;
        let data = model.paths.observe(&request.pathname);
        let source = keep_replay.then_some(ReplaySource {
            sequence,
            path: &request.pathname,
        });
        operation(data, exchange).observe(exchange, source);
    }

    /// Exchanges folded in so far.
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// The documents.
    pub fn finish(self) -> BuildOutput {
        let mut warnings = self.warnings;
        let dialect = self.version.dialect();
        let keep_replay = self.mode != Mode::Gen;
        let several = self.hosts.len() + usize::from(self.initial.is_some()) > 1;
        let mut specs = Vec::new();

        if let Some(initial) = self.initial {
            specs.push(finish_initial(initial, keep_replay, &mut warnings));
        }
        let hosts: Vec<&str> = self.hosts.keys().map(String::as_str).collect();
        let mut stems = host_file_stems(&hosts, &mut warnings).into_iter();
        for (host, model) in self.hosts {
            let stem = stems.next().unwrap_or_default();
            let templates = model.paths.finish();
            let base = common_base_path(&templates);
            let path_words: BTreeSet<String> = templates
                .iter()
                .flat_map(|t| &t.params)
                .flat_map(|p| p.words.iter().cloned())
                .collect();
            let rendered = templates
                .into_iter()
                .map(|t| RenderedPath {
                    template: strip_base(&t.template, &base),
                    params: t.params.iter().map(path_param).collect(),
                    data: t.payload,
                })
                .collect::<Vec<_>>();
            let plan = DocumentPlan {
                openapi: self.version.as_str(),
                dialect,
                host: &host,
                schemes: &model.schemes,
                base_path: &base,
                keep_replay,
                exchanges: model.exchanges,
            };
            let mut notes = RenderNotes::default();
            let mut document = spec::render(&plan, &rendered, &mut notes);
            generalise::generalise(&mut document, &path_words);
            note_warnings(&host, &notes, &mut warnings);
            specs.push(BuiltSpec {
                file_stem: if several {
                    format!("{stem}.openapi")
                } else {
                    "openapi".to_owned()
                },
                host,
                document,
                paths: notes.paths,
                operations: notes.operations,
            });
        }
        if specs.is_empty() {
            let plan = DocumentPlan {
                openapi: self.version.as_str(),
                dialect,
                host: "",
                schemes: &BTreeSet::new(),
                base_path: "",
                keep_replay,
                exchanges: 0,
            };
            let document = spec::render(&plan, &[], &mut RenderNotes::default());
            warnings.push("the input held no exchanges; the spec has no paths".into());
            specs.push(BuiltSpec {
                file_stem: "openapi".into(),
                host: String::new(),
                document,
                paths: 0,
                operations: 0,
            });
        }
        BuildOutput {
            specs,
            exchanges: self.exchanges,
            warnings,
        }
    }
}

/// The file name (without `.openapi.EXT`) of each host's spec, in the same
/// order: [`hmt_types::file_safe_host`] (`127.0.0.1:8080` →
/// `127.0.0.1_8080`), except for hosts that would share a name (`a:1` and
/// `a_1`): those get [`hmt_types::file_safe_host_exact`] (`a_3a1`,
/// `a_5f1`), which no two hosts share, and a warning says so. A spec is
/// never written over another of the same build.
fn host_file_stems(hosts: &[&str], warnings: &mut Vec<String>) -> Vec<String> {
    let mut exact = vec![false; hosts.len()];
    loop {
        let stems: Vec<String> = hosts
            .iter()
            .zip(&exact)
            .map(|(host, exact)| {
                if *exact {
                    hmt_types::file_safe_host_exact(host)
                } else {
                    hmt_types::file_safe_host(host)
                }
            })
            .collect();
        let mut sharing: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, stem) in stems.iter().enumerate() {
            sharing.entry(stem).or_default().push(i);
        }
        let mut changed = false;
        for (stem, group) in sharing.iter().filter(|(_, group)| group.len() > 1) {
            let names: Vec<String> = group.iter().map(|i| format!("{:?}", hosts[*i])).collect();
            let renamed: Vec<String> = group
                .iter()
                .map(|i| format!("{}.openapi", hmt_types::file_safe_host_exact(hosts[*i])))
                .collect();
            warnings.push(format!(
                "hosts {} would share the file name {stem}.openapi; they are written to {} \
                 (characters other than letters, digits, '.' and '-' spelled as _ and hex)",
                names.join(" and "),
                renamed.join(" and ")
            ));
            for i in group {
                changed |= !exact[*i];
                exact[*i] = true;
            }
        }
        if !changed {
            return stems;
        }
    }
}

fn operation<'a>(data: &'a mut PathData, exchange: &Exchange) -> &'a mut OperationStats {
    data.operations.entry(exchange.request.method).or_default()
}

fn finish_initial(
    initial: InitialTarget,
    keep_replay: bool,
    warnings: &mut Vec<String>,
) -> BuiltSpec {
    let version = initial.spec.version;
    let mut rendered: Vec<RenderedPath> = Vec::new();
    let mut mapped = initial.mapped;
    for (index, template) in initial.templates.iter().enumerate() {
        if let Some(data) = mapped.remove(&index) {
            rendered.push(RenderedPath {
                template: template.clone(),
                params: Vec::new(),
                data,
            });
        }
    }
    for t in initial.unmatched.paths.finish() {
        rendered.push(RenderedPath {
            template: t.template,
            params: t.params.iter().map(path_param).collect(),
            data: t.payload,
        });
    }
    rendered.sort_by(|a, b| a.template.cmp(&b.template));
    let plan = DocumentPlan {
        openapi: version.as_str(),
        dialect: version.dialect(),
        host: "",
        schemes: &initial.unmatched.schemes,
        base_path: "",
        keep_replay,
        exchanges: initial.unmatched.exchanges,
    };
    let mut notes = RenderNotes::default();
    let generated = spec::render(&plan, &rendered, &mut notes);
    note_warnings("the initial spec's hosts", &notes, warnings);
    let mut document = initial.spec.document;
    merge::merge_into(&mut document, &generated);
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    let operations = document
        .get("paths")
        .and_then(Value::as_object)
        .map_or(0, |p| {
            p.values()
                .filter_map(Value::as_object)
                .flat_map(|item| item.keys())
                .filter(|k| {
                    matches!(
                        k.as_str(),
                        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
                    )
                })
                .count()
        });
    BuiltSpec {
        file_stem: "openapi".into(),
        host: initial.hosts.iter().next().cloned().unwrap_or_default(),
        document,
        paths,
        operations,
    }
}

fn note_warnings(host: &str, notes: &RenderNotes, warnings: &mut Vec<String>) {
    if notes.unparsed_bodies > 0 {
        warnings.push(format!(
            "{host}: {} bod{} declared as JSON did not parse and {} described as plain strings",
            notes.unparsed_bodies,
            if notes.unparsed_bodies == 1 {
                "y"
            } else {
                "ies"
            },
            if notes.unparsed_bodies == 1 {
                "is"
            } else {
                "are"
            },
        ));
    }
    if notes.undescribable > 0 {
        warnings.push(format!(
            "{host}: {} CONNECT exchange{} left out: OpenAPI cannot describe CONNECT",
            notes.undescribable,
            if notes.undescribable == 1 { "" } else { "s" }
        ));
    }
}

fn strip_base(template: &str, base: &str) -> String {
    match template.strip_prefix(base) {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        Some("") => "/".to_owned(),
        _ => template.to_owned(),
    }
}

fn path_param(param: &paths::PathParam) -> Value {
    let schema = param.schema();
    let example = operation::typed_example(&param.example, &schema);
    let mut p = Map::new();
    p.insert("name".into(), param.name.clone().into());
    p.insert("in".into(), "path".into());
    p.insert("required".into(), true.into());
    p.insert("example".into(), example);
    p.insert("schema".into(), schema);
    Value::Object(p)
}

impl OpenApiVersion {
    /// The version string written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenApiVersion::V30 => "3.0.3",
            OpenApiVersion::V31 => "3.1.0",
        }
    }

    /// The schema dialect of the version.
    pub fn dialect(self) -> Dialect {
        match self {
            OpenApiVersion::V30 => Dialect::OpenApi30,
            OpenApiVersion::V31 => Dialect::OpenApi31,
        }
    }
}
