//! Finding the resources of a spec: collections and their items, the field
//! that holds an item's id, how new ids are made, and what each operation
//! does to the store. Done once, in [`crate::Store::new`], so that handling
//! a request only looks things up.

use crate::schema;
use hmt_openapi::Spec;
use hmt_openapi::model::{Location, Operation, StatusKey};
use http::Method;
use serde_json::Value;

/// A collection and its items, as the store manages them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resource {
    /// The collection's path template, relative to the base path
    /// (`/users/{userId}/orders`).
    pub collection: String,
    /// The item's path template (`/users/{userId}/orders/{orderId}`).
    pub item: String,
    /// The item template's last path parameter (`orderId`).
    pub id_parameter: String,
    /// Where the id is in a stored object, as a dotted path (`id`,
    /// `metadata.name`).
    pub id_field: String,
    /// Which rule chose [`Resource::id_field`].
    pub id_source: IdSource,
    /// How ids are made for bodies that come without one.
    pub id_kind: IdKind,
}

/// Which rule found a resource's id field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSource {
    /// `x-hmt-id-path` on the item or collection path, or one of their
    /// operations.
    Extension,
    /// A property of the request or response body schemas.
    Schema,
    /// No schema says: each stored object's id is the first of the
    /// parameter name, `id`, `name` and `metadata.name` it has, else
    /// [`Resource::id_field`].
    Guessed,
}

/// How the store makes an id for a body that has none, from the schema of
/// the item's path parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// `integer` (or `number`): 1, 2, 3… per collection.
    Integer,
    /// `string` with `format: uuid`: a version-4-shaped UUID from a
    /// counter, the same sequence after every start or reset.
    Uuid,
    /// Any other string: "1", "2", "3"… per collection.
    String,
}

/// What the store needs to know about a resource beyond what it shows.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The id field's path.
    pub id_path: Vec<String>,
    /// Fields tried in turn on each object when the id field was guessed.
    pub candidates: Vec<Vec<String>>,
    /// Generated and path-given ids are written as JSON numbers.
    pub id_as_number: bool,
    /// Path parameters in the collection template (the scope).
    pub scope_params: usize,
}

/// What a list answer looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListShape {
    /// A JSON array.
    Array,
    /// An object with the list under `property`; `counts` are integer
    /// fields that get the number of matches (`total`, `count`…).
    Wrapped {
        property: String,
        counts: Vec<String>,
    },
}

/// A query parameter a list operation declares.
#[derive(Clone, Debug)]
pub(crate) struct QueryParam {
    pub name: String,
    /// The schema's integer `default`, used when the request has none.
    pub default: Option<u64>,
    /// The schema's `minimum` (0 makes `page` count from 0).
    pub minimum: Option<u64>,
}

/// What one operation does to the store.
#[derive(Clone, Debug)]
pub(crate) enum Role {
    List {
        shape: ListShape,
        query: Vec<QueryParam>,
    },
    Create,
    Read,
    Replace,
    Patch,
    Delete,
}

/// An operation the store manages.
#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub resource: usize,
    pub role: Role,
    /// Checked against the request's operation, so a request from another
    /// spec is not mistaken for this one.
    pub method: Method,
    pub template: String,
    /// Path parameter names of the operation's template, in order.
    pub params: Vec<String>,
}

pub(crate) struct Inferred {
    pub resources: Vec<Resource>,
    pub plans: Vec<Plan>,
    /// By operation index.
    pub bindings: Vec<Option<Binding>>,
}

/// Whether a path segment is a whole parameter (`{petId}`).
fn param_segment(segment: &str) -> Option<&str> {
    let name = segment.strip_prefix('{')?.strip_suffix('}')?;
    (!name.is_empty() && !name.contains(['{', '}'])).then_some(name)
}

fn segments(template: &str) -> impl Iterator<Item = &str> {
    template.split('/').filter(|s| !s.is_empty())
}

/// The template with parameter names blanked, so `/users/{id}/orders` and
/// `/users/{userId}/orders` compare equal.
pub(crate) fn shape(template: &str) -> String {
    let mut out = String::new();
    for segment in segments(template) {
        out.push('/');
        out.push_str(if param_segment(segment).is_some() {
            "{}"
        } else {
            segment
        });
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Every `{name}` in the template, in order.
pub(crate) fn param_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    names
}

pub(crate) fn infer(spec: &Spec) -> Inferred {
    let mut templates: Vec<&str> = Vec::new();
    for op in &spec.operations {
        if !templates.contains(&op.template.as_str()) {
            templates.push(&op.template);
        }
    }
    let ops_on = |wanted: &str| -> Vec<(usize, &Operation)> {
        spec.operations
            .iter()
            .enumerate()
            .filter(|(_, op)| shape(&op.template) == wanted)
            .collect()
    };
    let mut resources = Vec::new();
    let mut plans = Vec::new();
    let mut item_ops = Vec::new();
    let mut collection_ops = Vec::new();
    for item in &templates {
        let parts: Vec<&str> = segments(item).collect();
        let Some((last, parent)) = parts.split_last() else {
            continue;
        };
        let Some(id_parameter) = param_segment(last) else {
            continue;
        };
        if parent.is_empty() {
            continue;
        }
        let parent_shape = shape(&format!("/{}", parent.join("/")));
        let Some(collection) = templates.iter().find(|t| shape(t) == parent_shape).copied() else {
            continue;
        };
        if resources
            .iter()
            .any(|r: &Resource| shape(&r.collection) == parent_shape)
        {
            continue;
        }
        let on_item = ops_on(&shape(item));
        let on_collection = ops_on(&parent_shape);
        let creates = on_collection
            .iter()
            .any(|(_, op)| op.method == Method::POST)
            || on_item.iter().any(|(_, op)| op.method == Method::PUT);
        if !creates {
            continue;
        }
        let (resource, plan) = resource(
            spec,
            collection,
            item,
            id_parameter,
            &on_item,
            &on_collection,
        );
        resources.push(resource);
        plans.push(plan);
        item_ops.push(on_item.iter().map(|(i, _)| *i).collect::<Vec<_>>());
        collection_ops.push(on_collection.iter().map(|(i, _)| *i).collect::<Vec<_>>());
    }
    let mut bindings: Vec<Option<Binding>> = vec![None; spec.operations.len()];
    // Item roles first: a template that is both an item and a collection
    // (`/a/{x}` under `/a`, with `/a/{x}/{y}`) reads and writes the item.
    for (resource, ops) in item_ops.iter().enumerate() {
        for &i in ops {
            let op = &spec.operations[i];
            let role = match op.method {
                Method::GET => Role::Read,
                Method::PUT => Role::Replace,
                Method::PATCH => Role::Patch,
                Method::DELETE => Role::Delete,
                _ => continue,
            };
            bind(&mut bindings, i, op, resource, role);
        }
    }
    for (resource, ops) in collection_ops.iter().enumerate() {
        for &i in ops {
            let op = &spec.operations[i];
            let role = match op.method {
                Method::GET => Role::List {
                    shape: list_shape(spec, op),
                    query: query_params(spec, op),
                },
                Method::POST => Role::Create,
                _ => continue,
            };
            bind(&mut bindings, i, op, resource, role);
        }
    }
    Inferred {
        resources,
        plans,
        bindings,
    }
}

fn bind(bindings: &mut [Option<Binding>], i: usize, op: &Operation, resource: usize, role: Role) {
    if let Some(slot) = bindings.get_mut(i)
        && slot.is_none()
    {
        *slot = Some(Binding {
            resource,
            role,
            method: op.method.clone(),
            template: op.template.clone(),
            params: param_names(&op.template),
        });
    }
}

fn resource(
    spec: &Spec,
    collection: &str,
    item: &str,
    id_parameter: &str,
    on_item: &[(usize, &Operation)],
    on_collection: &[(usize, &Operation)],
) -> (Resource, Plan) {
    let root = &spec.document;
    let param_schema = on_item
        .iter()
        .flat_map(|(_, op)| &op.parameters)
        .find(|p| p.location == Location::Path && p.name == id_parameter)
        .and_then(|p| p.schema.as_ref())
        .map(|s| schema::resolve(root, s));
    let id_kind = match param_schema {
        Some(s) if schema::has_type(s, "integer") || schema::has_type(s, "number") => {
            IdKind::Integer
        }
        Some(s) if s.get("format").and_then(Value::as_str) == Some("uuid") => IdKind::Uuid,
        _ => IdKind::String,
    };
    let bodies = body_schemas(spec, on_item, on_collection);
    let has = |path: &[&str]| {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        bodies
            .iter()
            .any(|b| schema::field(root, b, &path).is_some())
    };
    let extension = [on_item, on_collection]
        .iter()
        .flat_map(|ops| ops.iter())
        .find_map(|(_, op)| id_extension(root, &op.pointer));
    let (id_path, id_source): (Vec<String>, IdSource) = if let Some(path) = extension {
        (path, IdSource::Extension)
    } else if has(&[id_parameter]) {
        (vec![id_parameter.to_owned()], IdSource::Schema)
    } else if has(&["id"]) {
        (vec!["id".to_owned()], IdSource::Schema)
    } else if has(&["name"]) {
        (vec!["name".to_owned()], IdSource::Schema)
    } else if has(&["metadata"]) {
        (
            vec!["metadata".to_owned(), "name".to_owned()],
            IdSource::Schema,
        )
    } else {
        (vec![fallback_field(id_parameter)], IdSource::Guessed)
    };
    let candidates = if id_source == IdSource::Guessed {
        guessed_candidates(id_parameter)
    } else {
        Vec::new()
    };
    // Written as numbers when ids are integers, unless the body schema
    // says the field is a string.
    let field_is_string = bodies.iter().any(|b| {
        schema::field(root, b, &id_path)
            .is_some_and(|f| schema::has_type(f, "string") && !schema::has_type(f, "integer"))
    });
    let id_as_number = id_kind == IdKind::Integer && !field_is_string;
    let resource = Resource {
        collection: collection.to_owned(),
        item: item.to_owned(),
        id_parameter: id_parameter.to_owned(),
        id_field: id_path.join("."),
        id_source,
        id_kind,
    };
    let plan = Plan {
        id_path,
        candidates,
        id_as_number,
        scope_params: param_names(collection).len(),
    };
    (resource, plan)
}

/// Whether a parameter names an id (`id`, `petId`, `pet_id`, `petID`)
/// rather than a name (`name`, `username`, `slug`).
fn id_like(parameter: &str) -> bool {
    parameter.eq_ignore_ascii_case("id")
        || (parameter.len() > 2
            && (parameter.ends_with("Id")
                || parameter.ends_with("_id")
                || parameter.ends_with("ID")))
}

/// `petId` → `id`, `pet_id` → `id`, `name` → `name`.
fn fallback_field(parameter: &str) -> String {
    if id_like(parameter) {
        "id".to_owned()
    } else {
        parameter.to_owned()
    }
}

/// The fields tried on each object when no schema says where the id is:
/// the parameter, then `id`; for a parameter that is not id-like, also
/// `name` and `metadata.name`. (A pet's `name` is not its id when the
/// path says `{petId}`.)
fn guessed_candidates(parameter: &str) -> Vec<Vec<String>> {
    let mut candidates = vec![vec![parameter.to_owned()]];
    let mut others = vec![vec!["id".to_owned()]];
    if !id_like(parameter) {
        others.push(vec!["name".to_owned()]);
        others.push(vec!["metadata".to_owned(), "name".to_owned()]);
    }
    for other in others {
        if !candidates.contains(&other) {
            candidates.push(other);
        }
    }
    candidates
}

/// `x-hmt-id-path` of the operation at `pointer`, else of its path item.
fn id_extension(root: &Value, pointer: &str) -> Option<Vec<String>> {
    let read = |value: &Value| {
        let text = value.get("x-hmt-id-path")?.as_str()?;
        let path: Vec<String> = text
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (!path.is_empty()).then_some(path)
    };
    let op = schema::walk(root, pointer);
    let item = pointer
        .rsplit_once('/')
        .and_then(|(item, _)| schema::walk(root, item));
    op.and_then(read).or_else(|| item.and_then(read))
}

/// The schemas of stored objects: the collection POST's and item PUT's
/// request bodies, then the item GET's and POST's success responses.
fn body_schemas<'a>(
    spec: &'a Spec,
    on_item: &[(usize, &'a Operation)],
    on_collection: &[(usize, &'a Operation)],
) -> Vec<&'a Value> {
    let root = &spec.document;
    let mut out = Vec::new();
    let writes = on_collection
        .iter()
        .filter(|(_, op)| op.method == Method::POST)
        .chain(on_item.iter().filter(|(_, op)| op.method == Method::PUT));
    for (_, op) in writes {
        if let Some(body) = &op.request_body {
            let chosen = body
                .content
                .iter()
                .find(|(media, _)| media.contains("json"))
                .or_else(|| body.content.first());
            if let Some((_, Some(pointer))) = chosen
                && let Some(schema) = schema::walk(root, pointer)
            {
                out.push(schema);
            }
        }
    }
    let reads = on_item
        .iter()
        .filter(|(_, op)| op.method == Method::GET)
        .chain(
            on_collection
                .iter()
                .filter(|(_, op)| op.method == Method::POST),
        );
    for (_, op) in reads {
        if let Some(schema) = success_schema(op) {
            out.push(schema::resolve(root, schema));
        }
    }
    out
}

/// The JSON schema of the operation's 200 (else lowest 2xx, else 2XX,
/// else default) response.
pub(crate) fn success_schema(op: &Operation) -> Option<&Value> {
    let response = op
        .responses
        .iter()
        .filter(|r| matches!(r.status, StatusKey::Code(200..=299)))
        .min_by_key(|r| r.status)
        .or_else(|| {
            op.responses
                .iter()
                .find(|r| r.status == StatusKey::Range(2))
        })
        .or_else(|| op.responses.iter().find(|r| r.status == StatusKey::Default))?;
    let media = response
        .content
        .iter()
        .find(|m| m.media_type.to_ascii_lowercase().contains("json"))
        .or_else(|| response.content.first())?;
    media.schema.as_ref()
}

/// Property names under which a wrapped list is most often found, tried
/// when the list object has more than one array.
const LIST_PROPERTIES: [&str; 7] = [
    "items", "data", "results", "content", "records", "elements", "values",
];

/// Integer fields of a wrapped list that count the matches.
const COUNT_PROPERTIES: [&str; 8] = [
    "total",
    "count",
    "totalCount",
    "total_count",
    "totalItems",
    "total_items",
    "totalResults",
    "total_results",
];

fn list_shape(spec: &Spec, op: &Operation) -> ListShape {
    let root = &spec.document;
    let Some(schema) = success_schema(op).map(|s| schema::resolve(root, s)) else {
        return ListShape::Array;
    };
    if schema::is_array(root, schema) {
        return ListShape::Array;
    }
    let names = schema::property_names(root, schema);
    let arrays: Vec<&String> = names
        .iter()
        .filter(|name| {
            schema::property(root, schema, name).is_some_and(|p| schema::is_array(root, p))
        })
        .collect();
    let property = match arrays.as_slice() {
        [] => return ListShape::Array,
        [one] => (*one).clone(),
        several => LIST_PROPERTIES
            .iter()
            .find_map(|known| several.iter().find(|n| n.as_str() == *known))
            .unwrap_or(&several[0])
            .to_string(),
    };
    let counts = names
        .iter()
        .filter(|name| COUNT_PROPERTIES.contains(&name.as_str()))
        .filter(|name| {
            schema::property(root, schema, name).is_some_and(|p| schema::has_type(p, "integer"))
        })
        .cloned()
        .collect();
    ListShape::Wrapped { property, counts }
}

fn query_params(spec: &Spec, op: &Operation) -> Vec<QueryParam> {
    let root = &spec.document;
    op.parameters
        .iter()
        .filter(|p| p.location == Location::Query)
        .map(|p| {
            let schema = p.schema.as_ref().map(|s| schema::resolve(root, s));
            let integer = |key: &str| schema.and_then(|s| s.get(key)).and_then(Value::as_u64);
            QueryParam {
                name: p.name.clone(),
                default: integer("default"),
                minimum: integer("minimum"),
            }
        })
        .collect()
}
