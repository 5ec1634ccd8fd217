//! Rendering one host's operations as an OpenAPI document.

use crate::headers::Credential;
use crate::naming::{OperationIds, summary};
use crate::operation::{PathData, RenderContext};
use crate::schema::Dialect;
use hmt_types::{Method, Protocol};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A path ready to render: its template relative to the server base path,
/// its path parameters, and its operations.
pub(crate) struct RenderedPath {
    /// `/pokemon/{pokemonId}/`
    pub template: String,
    /// Path parameter objects.
    pub params: Vec<Value>,
    /// The operations.
    pub data: PathData,
}

/// What goes into one document.
pub(crate) struct DocumentPlan<'a> {
    /// OpenAPI version string, `3.0.3` or `3.1.0`.
    pub openapi: &'a str,
    /// Schema dialect for that version.
    pub dialect: Dialect,
    /// `host[:port]`, empty when the recordings named none.
    pub host: &'a str,
    /// Schemes seen for the host.
    pub schemes: &'a BTreeSet<Protocol>,
    /// Common base path of the server, `/v2`, or empty.
    pub base_path: &'a str,
    /// Whether to attach `x-hmt-replay`.
    pub keep_replay: bool,
    /// Exchanges the document was built from.
    pub exchanges: u64,
}

/// Counts and notes from rendering.
#[derive(Default)]
pub(crate) struct RenderNotes {
    /// Paths rendered.
    pub paths: usize,
    /// Operations rendered.
    pub operations: usize,
    /// Exchanges with methods OpenAPI cannot describe (CONNECT).
    pub undescribable: u64,
    /// Bodies declared JSON that did not parse.
    pub unparsed_bodies: u64,
}

/// The order OpenAPI lists operations in a Path Item.
const METHOD_ORDER: [Method; 8] = [
    Method::Get,
    Method::Put,
    Method::Post,
    Method::Delete,
    Method::Options,
    Method::Head,
    Method::Patch,
    Method::Trace,
];

/// Renders the document.
pub(crate) fn render(
    plan: &DocumentPlan<'_>,
    paths: &[RenderedPath],
    notes: &mut RenderNotes,
) -> Value {
    let mut ids = OperationIds::default();
    let mut credentials: BTreeMap<String, Value> = BTreeMap::new();
    let mut path_items = Map::new();
    for path in paths {
        let mut item = Map::new();
        if !path.params.is_empty() {
            item.insert("parameters".into(), Value::Array(path.params.clone()));
        }
        for method in METHOD_ORDER {
            let Some(op) = path.data.operations.get(&method) else {
                continue;
            };
            let operation_id = ids.next(method, &path.template);
            let summary = summary(method, &path.template);
            let context = RenderContext {
                dialect: plan.dialect,
                operation_id: &operation_id,
                summary: &summary,
                base_path: plan.base_path,
                keep_replay: plan.keep_replay,
            };
            item.insert(method.as_str().into(), op.render(&context));
            for credential in op.credential_kinds() {
                credentials.insert(credential.scheme_name(), Credential::scheme(credential));
            }
            notes.operations += 1;
            notes.unparsed_bodies += op.unparsed_bodies();
        }
        if let Some(op) = path.data.operations.get(&Method::Connect) {
            notes.undescribable += op.count();
        }
        if item.keys().any(|k| k != "parameters") {
            path_items.insert(path.template.clone(), Value::Object(item));
            notes.paths += 1;
        }
    }

    let mut doc = Map::new();
    doc.insert("openapi".into(), plan.openapi.into());
    let title = if plan.host.is_empty() {
        "Recorded API".to_owned()
    } else {
        plan.host.to_owned()
    };
    doc.insert(
        "info".into(),
        json!({
            "title": title,
            "description": format!(
                "Inferred by hmt from {} recorded exchange{}.",
                plan.exchanges,
                if plan.exchanges == 1 { "" } else { "s" }
            ),
            "version": "1.0.0",
        }),
    );
    doc.insert("servers".into(), Value::Array(servers(plan)));
    doc.insert("paths".into(), Value::Object(path_items));
    if !credentials.is_empty() {
        let schemes: Map<String, Value> = credentials.into_iter().collect();
        doc.insert("components".into(), json!({ "securitySchemes": schemes }));
    }
    Value::Object(doc)
}

fn servers(plan: &DocumentPlan<'_>) -> Vec<Value> {
    if plan.host.is_empty() {
        let url = if plan.base_path.is_empty() {
            "/"
        } else {
            plan.base_path
        };
        return vec![json!({ "url": url })];
    }
    // https first: when both were recorded, clients should prefer it.
    let mut schemes: Vec<Protocol> = plan.schemes.iter().copied().collect();
    schemes.sort_by_key(|p| match p {
        Protocol::Https => 0,
        Protocol::Http => 1,
    });
    if schemes.is_empty() {
        schemes.push(Protocol::Http);
    }
    schemes
        .into_iter()
        .map(|scheme| json!({ "url": format!("{}://{}{}", scheme.as_str(), plan.host, plan.base_path) }))
        .collect()
}
