//! What a check found: findings with their locations, counted and grouped,
//! as text for people and as JSON for CI.
//!
//! Both outputs are deterministic: findings are kept in traffic order
//! (and, within an exchange, in the order the checks run), groups are
//! sorted, and nothing depends on hashing or time.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// The version of the JSON report's shape; it changes only when a key is
/// removed or its meaning changes (keys may be added).
pub const REPORT_VERSION: u64 = 1;

/// At most this many findings are listed for one place (same kind,
/// operation, part of the exchange and body location); the rest are
/// counted.
pub const LISTED_PER_PLACE: usize = 20;

/// At most this many findings are listed in all; the rest are counted, so
/// memory stays bounded on traffic that drifted everywhere.
pub const LISTED_IN_ALL: usize = 10_000;

/// Where in the traffic an exchange came from: a file (or `<stdin>`) and a
/// position in it. A small value, cheap to clone (the name is shared).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file as given, or `<stdin>`.
    pub source: Arc<str>,
    /// Where in it.
    pub position: Position,
}

/// A position in a traffic file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// A 1-based line of a JSONL file.
    Line(u64),
    /// A JSON pointer into a document holding many exchanges, such as
    /// `/log/entries/17` in a HAR file.
    Pointer(String),
}

impl Location {
    /// Line `line` of `source`.
    pub fn line(source: &Arc<str>, line: u64) -> Location {
        Location {
            source: Arc::clone(source),
            position: Position::Line(line),
        }
    }

    /// The entry at `pointer` of `source` (`/log/entries/17` in a HAR file).
    pub fn pointer(source: &Arc<str>, pointer: String) -> Location {
        Location {
            source: Arc::clone(source),
            position: Position::Pointer(pointer),
        }
    }

    fn to_json(&self) -> Value {
        match &self.position {
            Position::Line(line) => json!({"file": &*self.source, "line": line}),
            Position::Pointer(pointer) => json!({"file": &*self.source, "pointer": pointer}),
        }
    }
}

/// `traffic.jsonl:17`, or `session.har#/log/entries/17`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.position {
            Position::Line(line) => write!(f, "{}:{line}", self.source),
            Position::Pointer(pointer) => write!(f, "{}#{pointer}", self.source),
        }
    }
}

/// The kinds of drift, in the order reports list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// No path template of the spec matches the request path.
    UndocumentedPath,
    /// The path is documented, the method is not.
    UndocumentedOperation,
    /// No response of the operation covers the status (exact code, `2XX`
    /// range or `default`).
    UndocumentedStatus,
    /// A request or response body whose media type is not in `content`
    /// (or a body where none is documented).
    UndocumentedMediaType,
    /// A query parameter or header the operation does not declare.
    UndocumentedParameter,
    /// A required parameter absent.
    MissingParameter,
    /// A body property the schema does not list but allows (no
    /// `additionalProperties: false`): described nowhere, valid anyway.
    UndocumentedField,
    /// A value that breaks the documented schema: type, enum, format,
    /// required, null, `additionalProperties: false`, bounds, a body that
    /// does not parse, a required body absent.
    SchemaViolation,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 8] = [
        Kind::UndocumentedPath,
        Kind::UndocumentedOperation,
        Kind::UndocumentedStatus,
        Kind::UndocumentedMediaType,
        Kind::UndocumentedParameter,
        Kind::MissingParameter,
        Kind::UndocumentedField,
        Kind::SchemaViolation,
    ];

    /// The name in JSON reports: `undocumented-path`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UndocumentedPath => "undocumented-path",
            Kind::UndocumentedOperation => "undocumented-operation",
            Kind::UndocumentedStatus => "undocumented-status",
            Kind::UndocumentedMediaType => "undocumented-media-type",
            Kind::UndocumentedParameter => "undocumented-parameter",
            Kind::MissingParameter => "missing-parameter",
            Kind::UndocumentedField => "undocumented-field",
            Kind::SchemaViolation => "schema-violation",
        }
    }

    /// The heading of its group in the text report.
    fn heading(self) -> &'static str {
        match self {
            Kind::UndocumentedPath => "undocumented paths",
            Kind::UndocumentedOperation => "undocumented operations",
            Kind::UndocumentedStatus => "undocumented status codes",
            Kind::UndocumentedMediaType => "undocumented media types",
            Kind::UndocumentedParameter => "undocumented parameters",
            Kind::MissingParameter => "missing required parameters",
            Kind::UndocumentedField => {
                "undocumented fields (the schema allows them but does not describe them)"
            }
            Kind::SchemaViolation => "schema violations (the traffic breaks the spec)",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One drift at one place of one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of drift.
    pub kind: Kind,
    /// The exchange it is in.
    pub location: Location,
    /// The request as sent, `GET /users/42`.
    pub request: String,
    /// The documented operation, `GET /users/{id}`, when the request was
    /// routed onto one (for an undocumented operation: the method on the
    /// documented path).
    pub operation: Option<String>,
    /// Which part of the exchange: `request.path`, `request.method`,
    /// `request.query`, `request.header`, `request.cookie`,
    /// `request.body`, `response.status`, `response.body`.
    pub part: &'static str,
    /// The parameter or header name, for parameters.
    pub name: Option<String>,
    /// JSON pointer into the body (the parsed value), for bodies.
    pub pointer: Option<String>,
    /// Where in the spec (`#/paths/~1users~1{id}/get/responses`), when a
    /// place in it is meaningful.
    pub spec_pointer: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl Finding {
    /// The place it stands for, for grouping and for capping repeats:
    /// array indices in the body pointer are read as `*`, so every item of
    /// a list with the same problem is one place.
    fn place(&self) -> Place {
        Place {
            kind: self.kind,
            target: self
                .operation
                .clone()
                .unwrap_or_else(|| self.request.clone()),
            part: self.part,
            name: self.name.clone().unwrap_or_default(),
            pointer: self.pointer.as_deref().map(shape).unwrap_or_default(),
            spec_pointer: self.spec_pointer.clone().unwrap_or_default(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "kind": self.kind.as_str(),
            "location": self.location.to_json(),
            "request": self.request,
            "operation": self.operation,
            "part": self.part,
            "name": self.name,
            "pointer": self.pointer,
            "specPointer": self.spec_pointer,
            "message": self.message,
        })
    }
}

/// A JSON pointer with its array indices (all-digit tokens) as `*`.
pub(crate) fn shape(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|token| {
            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                token
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    kind: Kind,
    target: String,
    part: &'static str,
    name: String,
    pointer: String,
    spec_pointer: String,
}

/// Per place: how many findings, and the first ones' indices into the
/// listed findings.
#[derive(Default)]
struct PlaceCount {
    total: u64,
    listed: Vec<usize>,
}

/// What a check found.
pub struct Report {
    /// The spec checked against, as given.
    pub spec: String,
    /// Exchanges checked.
    pub exchanges: u64,
    /// Exchanges with at least one finding.
    pub exchanges_with_drift: u64,
    /// Findings listed, in traffic order.
    pub findings: Vec<Finding>,
    /// What could not be checked, and why (a schema the validator cannot
    /// compile, say).
    pub warnings: Vec<String>,
    counts: BTreeMap<Kind, u64>,
    places: BTreeMap<Place, PlaceCount>,
    omitted: u64,
}

impl Report {
    /// An empty report against `spec`.
    pub fn new(spec: impl Into<String>) -> Report {
        Report {
            spec: spec.into(),
            exchanges: 0,
            exchanges_with_drift: 0,
            findings: Vec::new(),
            warnings: Vec::new(),
            counts: BTreeMap::new(),
            places: BTreeMap::new(),
            omitted: 0,
        }
    }

    /// Adds the findings of one exchange.
    pub fn add_exchange(&mut self, findings: Vec<Finding>) {
        self.exchanges += 1;
        if !findings.is_empty() {
            self.exchanges_with_drift += 1;
        }
        for finding in findings {
            *self.counts.entry(finding.kind).or_default() += 1;
            let place = self.places.entry(finding.place()).or_default();
            place.total += 1;
            if place.listed.len() < LISTED_PER_PLACE && self.findings.len() < LISTED_IN_ALL {
                place.listed.push(self.findings.len());
                self.findings.push(finding);
            } else {
                self.omitted += 1;
            }
        }
    }

    /// Whether the traffic drifted from the spec.
    pub fn drifted(&self) -> bool {
        self.exchanges_with_drift > 0
    }

    /// How many findings of `kind`, listed or not.
    pub fn count(&self, kind: Kind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// Findings counted but not listed (see [`LISTED_PER_PLACE`] and
    /// [`LISTED_IN_ALL`]).
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The JSON report. Every key is always present (`null` when it does
    /// not apply), `counts` has every kind, and findings are in traffic
    /// order:
    ///
    /// ```json
    /// {"reportVersion": 1, "spec": "openapi.yaml", "exchanges": 3, "exchangesWithDrift": 1,
    ///  "drift": true, "counts": {"undocumented-path": 1, "undocumented-operation": 0, ...},
    ///  "findings": [{"kind": "undocumented-path", "location": {"file": "t.jsonl", "line": 2},
    ///    "request": "GET /stores/7", "operation": null, "part": "request.path", "name": null,
    ///    "pointer": null, "specPointer": "#/paths", "message": "..."}],
    ///  "omittedFindings": 0, "warnings": []}
    /// ```
    pub fn to_json(&self) -> Value {
        let mut counts = Map::new();
        for kind in Kind::ALL {
            counts.insert(kind.as_str().to_owned(), json!(self.count(kind)));
        }
        json!({
            "reportVersion": REPORT_VERSION,
            "spec": self.spec,
            "exchanges": self.exchanges,
            "exchangesWithDrift": self.exchanges_with_drift,
            "drift": self.drifted(),
            "counts": counts,
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "omittedFindings": self.omitted,
            "warnings": self.warnings,
        })
    }

    /// The text report: one section per kind with its count, one entry per
    /// place (sorted) with how often, the first message and the first
    /// locations; then a summary line.
    pub fn to_text(&self) -> String {
        const SHOWN_LOCATIONS: usize = 5;
        const SHOWN_MESSAGES: usize = 3;
        let mut out = String::new();
        for kind in Kind::ALL {
            let total = self.count(kind);
            if total == 0 {
                continue;
            }
            let _ = writeln!(out, "{} ({total})", kind.heading());
            for (place, count) in self.places.iter().filter(|(p, _)| p.kind == kind) {
                let Some(&first) = count.listed.first() else {
                    continue;
                };
                let finding = &self.findings[first];
                let mut head = place.target.clone();
                if place.part != "request.path" && place.part != "request.method" {
                    let _ = write!(head, " {}", place.part);
                }
                if !place.name.is_empty() {
                    let _ = write!(head, " {}", place.name);
                }
                if let Some(pointer) = &finding.pointer {
                    let _ = write!(head, " {}", if pointer.is_empty() { "/" } else { pointer });
                }
                let times = if count.total == 1 {
                    String::new()
                } else {
                    format!(" [{} times]", count.total)
                };
                let _ = writeln!(out, "  {head}{times}");
                // Findings at one place may say different things (each
                // required property missing): the first few, distinct.
                let listed = count.listed.iter().map(|&i| &self.findings[i]);
                let messages = distinct(listed.clone().map(|f| f.message.as_str()));
                for message in messages.iter().take(SHOWN_MESSAGES) {
                    let _ = writeln!(out, "    {message}");
                }
                if messages.len() > SHOWN_MESSAGES {
                    let _ = writeln!(
                        out,
                        "    ({} other messages)",
                        messages.len() - SHOWN_MESSAGES
                    );
                }
                if let Some(spec_pointer) = &finding.spec_pointer {
                    let _ = writeln!(out, "    spec: {spec_pointer}");
                }
                let locations: Vec<String> = listed.map(|f| f.location.to_string()).collect();
                let locations = distinct(locations.iter().map(String::as_str));
                let shown = locations.len().min(SHOWN_LOCATIONS);
                let more =
                    (locations.len() - shown) as u64 + count.total - count.listed.len() as u64;
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                let _ = writeln!(out, "    at {}{more}", locations[..shown].join(", "));
            }
            out.push('\n');
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        let findings: u64 = self.counts.values().sum();
        if self.omitted > 0 {
            let _ = writeln!(
                out,
                "({} findings at places listed above or beyond the first {LISTED_IN_ALL} are counted, not listed)",
                self.omitted
            );
        }
        if self.drifted() {
            let _ = writeln!(
                out,
                "drift: {} of {} exchange{} do not fit {} ({findings} finding{})",
                self.exchanges_with_drift,
                self.exchanges,
                plural(self.exchanges),
                self.spec,
                plural(findings),
            );
        } else {
            let _ = writeln!(
                out,
                "no drift: {} exchange{} fit {}",
                self.exchanges,
                plural(self.exchanges),
                self.spec
            );
        }
        out
    }
}

/// `items` without repeats, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
