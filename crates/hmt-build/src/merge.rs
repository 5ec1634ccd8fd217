//! Merging a spec inferred from traffic into the initial spec a human wrote.
//!
//! `hmt build -a FILE` keeps the human's spec and adds only what the
//! recorded traffic showed that the spec does not already say. The base
//! document is authoritative: nothing in it is removed or changed, values
//! are only added where base has no value yet. That keeps hand-written
//! names, descriptions, `$ref`s, `required` lists and examples intact, and
//! makes the merge idempotent (merging the same generated spec twice gives
//! the same document).
//!
//! What is added, from the outside in:
//!
//! * **paths** missing in base, whole; in an existing path item, missing
//!   **operations**; in an existing operation, missing **responses** (by
//!   status code), **request bodies**, **parameters** (query, header and
//!   path, matched by `name` + `in` against the operation's and the path
//!   item's parameters, `$ref`s resolved, header names case-insensitively),
//!   operation-level `x-hmt-*` keys (replay data), and `security` when base
//!   says nothing about security for the operation or globally;
//! * in an existing response or request body, missing **media types** and
//!   response **headers**; in an existing media type, the **schema** is
//!   merged (below) and `example`/`examples` are copied when base has
//!   neither;
//! * **schemas** are merged structurally: a `$ref` in base is followed and
//!   the referenced component is extended in place (so `$ref`s stay
//!   `$ref`s), object schemas gain the `properties` base lacks (never
//!   `required`), shared properties and array `items` are merged
//!   recursively, and an `allOf` gains new properties on its last inline
//!   branch with `properties` (or, failing that, its last `$ref` branch).
//!   Anything else (a type mismatch, `oneOf`, `anyOf`) is left alone;
//! * **components** entries base lacks, in every component map (the
//!   generated spec's `$ref`s must resolve in the result);
//! * **servers** never: the generated spec describes base's host, relative
//!   to base's server base path.
//!
//! Added keys are appended after existing ones (`serde_json` preserves
//! insertion order), so the output is deterministic.
//!
//! Values in base are addressed by JSON pointer rather than held as
//! `&mut` references: following a `$ref` means writing somewhere else in
//! the same document, which a pointer can express and a borrow cannot.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use hmt_types::pointer::{deref as resolve, escape as escape_token, from_ref};

/// Operation keys of a path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Longest `$ref` chain followed before giving up (a chain that long is a
/// cycle in practice).
const MAX_REF_HOPS: usize = hmt_types::pointer::MAX_REF_HOPS;

/// Merge `generated` (a spec hmt inferred from traffic, paths already mapped
/// onto base's templates and relative to base's server base path) into
/// `base`, keeping everything base says.
///
/// Only additions are made; see the [module documentation](self) for the
/// rules. Parts of either document that do not have the expected shape
/// (a `paths` that is not a mapping, say) are skipped, and `$ref`s that do
/// not point into the same document are not followed.
pub fn merge_into(base: &mut Value, generated: &Value) {
    if !base.is_object() || !generated.is_object() {
        return;
    }
    let mut merger = Merger {
        generated,
        operation_ids: operation_ids(base),
        global_security: base.get("security").is_some(),
        visited: HashSet::new(),
    };
    merger.merge_paths(base);
    merge_components(base, generated);
}

struct Merger<'g> {
    /// The generated document, for resolving its `$ref`s.
    generated: &'g Value,
    /// `operationId`s in use in base, to keep them unique.
    operation_ids: HashSet<String>,
    /// Whether base has a top-level `security`.
    global_security: bool,
    /// (base schema pointer, generated schema address) pairs merged through
    /// a base `$ref`, so reference cycles terminate.
    visited: HashSet<(String, usize)>,
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Pointer to `token` inside the element at `pointer`.
fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

/// Follow same-document `$ref`s from the element at `pointer`; the pointer
/// of the element finally reached.
fn resolve_pointer(root: &Value, pointer: &str) -> Option<String> {
    let mut pointer = pointer.to_owned();
    for _ in 0..MAX_REF_HOPS {
        match root.pointer(&pointer)?.get("$ref").and_then(Value::as_str) {
            Some(reference) => pointer = from_ref(reference)?.into_owned(),
            None => return Some(pointer),
        }
    }
    None
}

/// The mapping at `pointer`, if that is what is there.
fn object_at<'a>(root: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    root.pointer(pointer).and_then(Value::as_object)
}

fn has_key(root: &Value, pointer: &str, key: &str) -> bool {
    object_at(root, pointer).is_some_and(|m| m.contains_key(key))
}

/// Insert `key: value` into the mapping at `pointer` unless the key exists.
fn insert_absent(root: &mut Value, pointer: &str, key: &str, value: Value) {
    if let Some(Value::Object(map)) = root.pointer_mut(pointer)
        && !map.contains_key(key)
    {
        map.insert(key.to_owned(), value);
    }
}

/// Pointer to the mapping `key` of the mapping at `pointer`, creating an
/// empty one when absent; `None` when either is not a mapping.
fn ensure_object(root: &mut Value, pointer: &str, key: &str) -> Option<String> {
    let Some(Value::Object(map)) = root.pointer_mut(pointer) else {
        return None;
    };
    map.entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
        .is_object()
        .then(|| child(pointer, key))
}

/// A parameter's identity: `in` plus `name` (lower-cased for headers,
/// whose names are case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ParamKey {
    location: String,
    name: String,
}

fn param_key(root: &Value, parameter: &Value) -> Option<ParamKey> {
    let parameter = resolve(root, parameter)?;
    let location = parameter.get("in")?.as_str()?.to_owned();
    let name = parameter.get("name")?.as_str()?;
    let name = if location == "header" {
        name.to_ascii_lowercase()
    } else {
        name.to_owned()
    };
    Some(ParamKey { location, name })
}

fn param_keys(root: &Value, parameters: Option<&Value>) -> Vec<ParamKey> {
    parameters
        .and_then(Value::as_array)
        .map(|ps| ps.iter().filter_map(|p| param_key(root, p)).collect())
        .unwrap_or_default()
}

/// `type/subtype` of a media type, lower-cased, parameters dropped.
fn media_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Every `operationId` in base.
fn operation_ids(root: &Value) -> HashSet<String> {
    let mut ids = HashSet::new();
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        return ids;
    };
    for item in paths.values() {
        let Some(item) = resolve(root, item) else {
            continue;
        };
        for method in METHODS {
            if let Some(id) = item
                .get(method)
                .and_then(|op| op.get("operationId"))
                .and_then(Value::as_str)
            {
                ids.insert(id.to_owned());
            }
        }
    }
    ids
}

// ---------------------------------------------------------------------------
// Paths and operations
// ---------------------------------------------------------------------------

impl Merger<'_> {
    fn merge_paths(&mut self, base: &mut Value) {
        let Some(generated_paths) = self.generated.get("paths").and_then(Value::as_object) else {
            return;
        };
        if generated_paths.is_empty() {
            return;
        }
        let Some(paths) = ensure_object(base, "", "paths") else {
            return;
        };
        for (path, generated_item) in generated_paths {
            let item = child(&paths, path);
            if base.pointer(&item).is_some() {
                self.merge_path_item(base, &item, generated_item);
            } else {
                let mut added = generated_item.clone();
                if let Value::Object(map) = &mut added {
                    for method in METHODS {
                        if let Some(operation) = map.get_mut(method) {
                            self.prepare_new_operation(operation);
                        }
                    }
                }
                insert_absent(base, &paths, path, added);
            }
        }
    }

    /// Make an operation about to be added consistent with base: no
    /// `security` overriding base's global one, a unique `operationId`.
    fn prepare_new_operation(&mut self, operation: &mut Value) {
        let Value::Object(operation) = operation else {
            return;
        };
        if self.global_security {
            operation.remove("security");
        }
        if let Some(Value::String(id)) = operation.get_mut("operationId") {
            if self.operation_ids.contains(id.as_str()) {
                let unique = (2..)
                    .map(|n| format!("{id}_{n}"))
                    .find(|candidate| !self.operation_ids.contains(candidate));
                if let Some(unique) = unique {
                    *id = unique;
                }
            }
            self.operation_ids.insert(id.clone());
        }
    }

    fn merge_path_item(&mut self, base: &mut Value, item: &str, generated_item: &Value) {
        let Some(item) = resolve_pointer(base, item) else {
            return;
        };
        let Some(generated_item) = resolve(self.generated, generated_item) else {
            return;
        };
        if object_at(base, &item).is_none() {
            return;
        }
        let path_params = param_keys(base, base.pointer(&item).and_then(|i| i.get("parameters")));
        for method in METHODS {
            let Some(generated_op) = generated_item.get(method) else {
                continue;
            };
            // Parameters the traffic showed for this operation: its own and
            // those of its path item (the operation's win).
            let mut generated_params: Vec<&Value> = generated_op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| ps.iter().collect())
                .unwrap_or_default();
            let own = param_keys(self.generated, generated_op.get("parameters"));
            if let Some(shared) = generated_item.get("parameters").and_then(Value::as_array) {
                generated_params.extend(
                    shared.iter().filter(|p| {
                        param_key(self.generated, p).is_some_and(|k| !own.contains(&k))
                    }),
                );
            }
            let operation = child(&item, method);
            if base.pointer(&operation).is_some() {
                self.merge_operation(
                    base,
                    &operation,
                    &path_params,
                    generated_op,
                    &generated_params,
                );
            } else {
                let mut added = generated_op.clone();
                let params: Vec<Value> = generated_params
                    .iter()
                    .filter(|p| {
                        param_key(self.generated, p).is_none_or(|k| !path_params.contains(&k))
                    })
                    .map(|p| (*p).clone())
                    .collect();
                if let Value::Object(map) = &mut added {
                    if params.is_empty() {
                        map.remove("parameters");
                    } else {
                        map.insert("parameters".to_owned(), Value::Array(params));
                    }
                }
                self.prepare_new_operation(&mut added);
                insert_absent(base, &item, method, added);
            }
        }
    }

    fn merge_operation(
        &mut self,
        base: &mut Value,
        operation: &str,
        path_params: &[ParamKey],
        generated_op: &Value,
        generated_params: &[&Value],
    ) {
        // Parameters.
        let mut declared: HashSet<ParamKey> = path_params.iter().cloned().collect();
        declared.extend(param_keys(
            base,
            base.pointer(operation).and_then(|op| op.get("parameters")),
        ));
        let mut new_params = Vec::new();
        for parameter in generated_params {
            let Some(key) = param_key(self.generated, parameter) else {
                continue;
            };
            if matches!(key.location.as_str(), "query" | "header" | "path") && declared.insert(key)
            {
                new_params.push((*parameter).clone());
            }
        }
        if !new_params.is_empty() {
            insert_absent(base, operation, "parameters", Value::Array(Vec::new()));
            if let Some(Value::Array(params)) = base.pointer_mut(&child(operation, "parameters")) {
                params.extend(new_params);
            }
        }

        // Request body.
        if let Some(generated_body) = generated_op.get("requestBody") {
            let body = child(operation, "requestBody");
            if base.pointer(&body).is_some() {
                if let (Some(body), Some(generated_body)) = (
                    resolve_pointer(base, &body),
                    resolve(self.generated, generated_body),
                ) {
                    self.merge_content(base, &body, generated_body);
                }
            } else {
                insert_absent(base, operation, "requestBody", generated_body.clone());
            }
        }

        // Responses.
        if let Some(generated_responses) = generated_op.get("responses").and_then(Value::as_object)
            && let Some(responses) = ensure_object(base, operation, "responses")
        {
            for (status, generated_response) in generated_responses {
                let response = child(&responses, status);
                if base.pointer(&response).is_none() {
                    insert_absent(base, &responses, status, generated_response.clone());
                } else if let (Some(response), Some(generated_response)) = (
                    resolve_pointer(base, &response),
                    resolve(self.generated, generated_response),
                ) {
                    self.merge_response(base, &response, generated_response);
                }
            }
        }

        if let Some(generated_op) = generated_op.as_object() {
            // Replay data.
            for (key, value) in generated_op {
                if key.starts_with("x-hmt-") {
                    insert_absent(base, operation, key, value.clone());
                }
            }
            // Security, unless base already says something about it.
            if let Some(security) = generated_op.get("security")
                && !self.global_security
            {
                insert_absent(base, operation, "security", security.clone());
            }
        }
    }

    fn merge_response(&mut self, base: &mut Value, response: &str, generated_response: &Value) {
        if let Some(generated_headers) =
            generated_response.get("headers").and_then(Value::as_object)
        {
            let existing: HashSet<String> = object_at(base, &child(response, "headers"))
                .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
                .unwrap_or_default();
            let new: Vec<(&String, &Value)> = generated_headers
                .iter()
                .filter(|(name, _)| !existing.contains(&name.to_ascii_lowercase()))
                .collect();
            if !new.is_empty()
                && let Some(headers) = ensure_object(base, response, "headers")
            {
                for (name, header) in new {
                    insert_absent(base, &headers, name, header.clone());
                }
            }
        }
        self.merge_content(base, response, generated_response);
    }

    /// Merge the `content` of a response or request body.
    fn merge_content(&mut self, base: &mut Value, owner: &str, generated_owner: &Value) {
        let Some(generated_content) = generated_owner.get("content").and_then(Value::as_object)
        else {
            return;
        };
        if generated_content.is_empty() {
            return;
        }
        let Some(content) = ensure_object(base, owner, "content") else {
            return;
        };
        for (media_type, generated_media) in generated_content {
            let matching = object_at(base, &content).and_then(|existing| {
                if existing.contains_key(media_type) {
                    return Some(media_type.clone());
                }
                let essence = media_essence(media_type);
                existing
                    .keys()
                    .find(|k| media_essence(k) == essence)
                    .cloned()
            });
            match matching {
                Some(existing) => {
                    self.merge_media(base, &child(&content, &existing), generated_media);
                }
                None => insert_absent(base, &content, media_type, generated_media.clone()),
            }
        }
    }

    fn merge_media(&mut self, base: &mut Value, media: &str, generated_media: &Value) {
        if object_at(base, media).is_none() {
            return;
        }
        if let Some(generated_schema) = generated_media.get("schema") {
            let schema = child(media, "schema");
            if base.pointer(&schema).is_some() {
                self.merge_schema(base, &schema, generated_schema);
            } else {
                insert_absent(base, media, "schema", generated_schema.clone());
            }
        }
        if !has_key(base, media, "example") && !has_key(base, media, "examples") {
            for key in ["example", "examples"] {
                if let Some(value) = generated_media.get(key) {
                    insert_absent(base, media, key, value.clone());
                }
            }
        }
    }

    // -----------------------------------------------------------------------
    // Schemas
    // -----------------------------------------------------------------------

    /// Merge `generated` into the schema at `schema` in base, adding only.
    fn merge_schema(&mut self, base: &mut Value, schema: &str, generated: &Value) {
        let Some(generated) = resolve(self.generated, generated) else {
            return;
        };
        let Some(node) = base.pointer(schema) else {
            return;
        };
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let Some(target) = from_ref(reference).map(std::borrow::Cow::into_owned) else {
                return;
            };
            let identity = (target.clone(), std::ptr::from_ref(generated) as usize);
            if self.visited.insert(identity) {
                self.merge_schema(base, &target, generated);
            }
            return;
        }
        if node.get("properties").is_some_and(Value::is_object) {
            self.merge_properties(base, &child(schema, "properties"), generated);
        } else if node.get("items").is_some() {
            if let Some(generated_items) = generated.get("items") {
                self.merge_schema(base, &child(schema, "items"), generated_items);
            }
        } else if node.get("allOf").is_some_and(Value::is_array) {
            self.merge_all_of(base, schema, generated);
        }
    }

    /// Add the properties `generated` has and the mapping at `properties`
    /// lacks; merge those both have.
    fn merge_properties(&mut self, base: &mut Value, properties: &str, generated: &Value) {
        let Some(generated_properties) = generated.get("properties").and_then(Value::as_object)
        else {
            return;
        };
        for (name, generated_property) in generated_properties {
            if has_key(base, properties, name) {
                self.merge_schema(base, &child(properties, name), generated_property);
            } else {
                insert_absent(base, properties, name, generated_property.clone());
            }
        }
    }

    fn merge_all_of(&mut self, base: &mut Value, schema: &str, generated: &Value) {
        let Some(generated_properties) = generated.get("properties").and_then(Value::as_object)
        else {
            return;
        };
        let all_of = child(schema, "allOf");
        let branches = base
            .pointer(&all_of)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        // Where each property is declared, across all branches.
        let mut declared = HashMap::new();
        let mut seen = HashSet::new();
        for index in 0..branches {
            collect_declared(
                base,
                &child(&all_of, &index.to_string()),
                &mut declared,
                &mut seen,
            );
        }
        // Where new properties go: the last inline branch with properties,
        // else the last `$ref` branch (whose target must have properties).
        let branch_at = |index: usize| child(&all_of, &index.to_string());
        let inline = (0..branches).rev().map(branch_at).find(|b| {
            base.pointer(b)
                .is_some_and(|n| n.get("properties").is_some_and(Value::is_object))
        });
        let target = inline
            .or_else(|| {
                (0..branches)
                    .rev()
                    .map(branch_at)
                    .find(|b| base.pointer(b).is_some_and(|n| n.get("$ref").is_some()))
                    .and_then(|b| resolve_pointer(base, &b))
            })
            .map(|b| child(&b, "properties"))
            .filter(|p| object_at(base, p).is_some());
        for (name, generated_property) in generated_properties {
            match declared.get(name) {
                Some(property) => {
                    let property: String = property.clone();
                    self.merge_schema(base, &property, generated_property);
                }
                None => {
                    if let Some(target) = &target {
                        insert_absent(base, target, name, generated_property.clone());
                        declared.insert(name.clone(), child(target, name));
                    }
                }
            }
        }
    }
}

/// Record where each property of the schema at `schema` (following `$ref`s
/// and nested `allOf`s) is declared; the first declaration wins.
fn collect_declared(
    base: &Value,
    schema: &str,
    declared: &mut HashMap<String, String>,
    seen: &mut HashSet<String>,
) {
    let Some(schema) = resolve_pointer(base, schema) else {
        return;
    };
    if !seen.insert(schema.clone()) {
        return;
    }
    let Some(node) = object_at(base, &schema) else {
        return;
    };
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        let at = child(&schema, "properties");
        for name in properties.keys() {
            declared
                .entry(name.clone())
                .or_insert_with(|| child(&at, name));
        }
    }
    if let Some(branches) = node.get("allOf").and_then(Value::as_array) {
        let all_of = child(&schema, "allOf");
        for index in 0..branches.len() {
            collect_declared(base, &child(&all_of, &index.to_string()), declared, seen);
        }
    }
}

// ---------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------

/// Add the component entries (schemas, security schemes, ...) base lacks.
fn merge_components(base: &mut Value, generated: &Value) {
    let Some(generated_components) = generated.get("components").and_then(Value::as_object) else {
        return;
    };
    for (kind, generated_entries) in generated_components {
        let Some(generated_entries) = generated_entries.as_object() else {
            continue;
        };
        let existing = object_at(base, "/components").and_then(|c| c.get(kind));
        let new: Vec<(&String, &Value)> = generated_entries
            .iter()
            .filter(|(name, _)| {
                existing
                    .and_then(Value::as_object)
                    .is_none_or(|e| !e.contains_key(name.as_str()))
            })
            .collect();
        if new.is_empty() {
            continue;
        }
        let Some(components) = ensure_object(base, "", "components") else {
            return;
        };
        let Some(entries) = ensure_object(base, &components, kind) else {
            continue;
        };
        for (name, entry) in new {
            insert_absent(base, &entries, name, entry.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initial::parse_initial_spec;
    use serde_json::json;

    const PETSTORE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/hmt/hmt/tests/build/schemas/petstore/index.yaml"
    );

    fn petstore() -> Value {
        let text = std::fs::read_to_string(PETSTORE).expect("fixture");
        parse_initial_spec("index.yaml", &text)
            .expect("valid petstore")
            .document
    }

    /// What hmt infers from `GET /pets/32 -> {"id":32,"name":"rex","extra":true}`,
    /// `GET /pets?limit=3 -> [{"id":1,"name":"a"}]` and `GET /owners/7`.
    fn generated() -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "petstore.swagger.io", "version": "1.0"},
            "servers": [{"url": "http://petstore.swagger.io/v1"}, {"url": "https://other.io"}],
            "paths": {
                "/pets": {
                    "get": {
                        "operationId": "getPets",
                        "summary": "generated",
                        "parameters": [
                            {"name": "limit", "in": "query", "required": false,
                             "schema": {"type": "integer"}}
                        ],
                        "responses": {
                            "200": {
                                "description": "OK",
                                "content": {"application/json": {
                                    "schema": {"type": "array", "items": {
                                        "type": "object",
                                        "required": ["id", "name"],
                                        "properties": {
                                            "id": {"type": "integer"},
                                            "name": {"type": "string"}
                                        }
                                    }},
                                    "example": [{"id": 1, "name": "a"}]
                                }}
                            }
                        },
                        "x-hmt-replay": [{"query": {"limit": "3"}, "status": 200}]
                    }
                },
                "/pets/{petId}": {
                    "get": {
                        "operationId": "getPetsPetId",
                        "parameters": [
                            {"name": "petId", "in": "path", "required": true,
                             "schema": {"type": "integer"}}
                        ],
                        "responses": {
                            "200": {
                                "description": "OK",
                                "content": {"application/json": {"schema": {
                                    "type": "object",
                                    "required": ["extra", "id", "name"],
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "name": {"type": "string"},
                                        "extra": {"type": "boolean"}
                                    }
                                }}}
                            }
                        }
                    }
                },
                "/owners/{ownerId}": {
                    "get": {
                        "operationId": "getOwnersOwnerId",
                        "parameters": [
                            {"name": "ownerId", "in": "path", "required": true,
                             "schema": {"type": "integer"}}
                        ],
                        "responses": {"200": {"description": "OK"}}
                    }
                }
            }
        })
    }

    /// `after` keeps everything `before` has, values and key order: mappings
    /// keep their keys first and in order, lists their items first.
    fn assert_kept(before: &Value, after: &Value, at: &str) {
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                let order: Vec<&String> = a.keys().take(b.len()).collect();
                let expected: Vec<&String> = b.keys().collect();
                assert_eq!(order, expected, "key order at {at}");
                for (k, v) in b {
                    assert_kept(v, &a[k], &format!("{at}/{}", escape_token(k)));
                }
            }
            (Value::Array(b), Value::Array(a)) => {
                assert!(a.len() >= b.len(), "items lost at {at}");
                for (i, (b, a)) in b.iter().zip(a).enumerate() {
                    assert_kept(b, a, &format!("{at}/{i}"));
                }
            }
            _ => assert_eq!(before, after, "value changed at {at}"),
        }
    }

    fn merged(base: &Value, generated: &Value) -> Value {
        let mut out = base.clone();
        merge_into(&mut out, generated);
        assert_kept(base, &out, "");
        out
    }

    #[test]
    fn petstore_traffic_extends_the_human_spec() {
        let base = petstore();
        let out = merged(&base, &generated());
        let op = &out["paths"]["/pets/{petId}"]["get"];

        // The existing path parameter is kept, not duplicated or retyped.
        assert_eq!(
            op["parameters"],
            json!([{
                "name": "petId", "in": "path", "required": true,
                "description": "The id of the pet to retrieve",
                "schema": {"type": "string"}
            }])
        );
        assert_eq!(
            out["paths"]["/pets"]["get"]["parameters"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        // The response still references Pet; Pet gained `extra`.
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Pet"})
        );
        let pet = &out["components"]["schemas"]["Pet"];
        assert_eq!(pet["properties"]["extra"], json!({"type": "boolean"}));
        assert_eq!(pet["required"], json!(["id", "name"]));
        assert_eq!(
            pet["properties"]["id"],
            json!({"type": "integer", "format": "int64"})
        );
        assert_eq!(
            out["components"]["schemas"]["Pets"],
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Pet"}})
        );
        // Human text kept.
        assert_eq!(op["summary"], "Info for a specific pet");
        assert_eq!(op["operationId"], "showPetById");
        assert_eq!(
            op["responses"]["200"]["description"],
            "Expected response to a valid request"
        );
        let list = &out["paths"]["/pets"]["get"];
        assert_eq!(list["operationId"], "listPets");
        assert_eq!(list["summary"], "List all pets");
        // Replay data and examples are added.
        assert_eq!(
            list["x-hmt-replay"],
            json!([{"query": {"limit": "3"}, "status": 200}])
        );
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["example"],
            json!([{"id": 1, "name": "a"}])
        );
        // The new path is added whole, after the existing ones.
        let paths: Vec<&String> = out["paths"].as_object().expect("paths").keys().collect();
        assert_eq!(paths, ["/pets", "/pets/{petId}", "/owners/{ownerId}"]);
        assert_eq!(
            out["paths"]["/owners/{ownerId}"],
            generated()["paths"]["/owners/{ownerId}"]
        );
        // Servers are base's.
        assert_eq!(out["servers"], base["servers"]);
        assert_eq!(out["openapi"], "3.0.0");
    }

    #[test]
    fn merge_is_idempotent() {
        let once = merged(&petstore(), &generated());
        let twice = merged(&once, &generated());
        assert_eq!(once, twice);
        assert_eq!(
            serde_json::to_string(&once).expect("json"),
            serde_json::to_string(&twice).expect("json")
        );
    }

    #[test]
    fn result_is_still_a_valid_initial_spec() {
        let out = merged(&petstore(), &generated());
        let text = serde_json::to_string_pretty(&out).expect("json");
        parse_initial_spec("merged.json", &text).expect("merged spec is valid");
    }

    #[test]
    fn missing_operations_responses_media_types_and_headers_are_added() {
        let base = json!({
            "openapi": "3.0.3",
            "paths": {"/a": {"get": {"responses": {"200": {
                "description": "human",
                "headers": {"X-Rate": {"schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": {"type": "object", "properties": {}}}}
            }}}}}
        });
        let generated = json!({
            "paths": {"/a": {
                "get": {"responses": {
                    "200": {
                        "description": "OK",
                        "headers": {
                            "x-rate": {"schema": {"type": "string"}},
                            "X-Trace": {"schema": {"type": "string"}}
                        },
                        "content": {
                            "application/json; charset=utf-8": {"schema": {
                                "type": "object", "properties": {"n": {"type": "integer"}}}},
                            "text/plain": {"schema": {"type": "string"}}
                        }
                    },
                    "404": {"description": "Not Found"}
                }},
                "post": {"responses": {"201": {"description": "Created"}}}
            }}
        });
        let out = merged(&base, &generated);
        let response = &out["paths"]["/a"]["get"]["responses"]["200"];
        assert_eq!(
            response["headers"],
            json!({
                "X-Rate": {"schema": {"type": "integer"}},
                "X-Trace": {"schema": {"type": "string"}}
            })
        );
        assert_eq!(
            response["content"],
            json!({
                "application/json": {"schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
                "text/plain": {"schema": {"type": "string"}}
            })
        );
        assert_eq!(
            out["paths"]["/a"]["get"]["responses"]["404"],
            json!({"description": "Not Found"})
        );
        assert_eq!(out["paths"]["/a"]["post"], generated["paths"]["/a"]["post"]);
    }

    #[test]
    fn parameters_are_matched_across_levels_and_refs() {
        let base = json!({
            "paths": {"/items/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "get": {
                    "parameters": [{"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}}
                }
            }},
            "components": {"parameters": {"Id": {"name": "id", "in": "path", "required": true,
                "schema": {"type": "string"}}}}
        });
        let generated = json!({
            "paths": {"/items/{id}": {
                "get": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                        {"name": "x-api-key", "in": "header", "schema": {"type": "string"}},
                        {"name": "page", "in": "query", "schema": {"type": "integer"}},
                        {"name": "session", "in": "cookie", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "OK"}}
                },
                "delete": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                        {"name": "force", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "responses": {"204": {"description": "No Content"}}
                }
            }}
        });
        let out = merged(&base, &generated);
        let item = &out["paths"]["/items/{id}"];
        assert_eq!(
            item["get"]["parameters"],
            json!([
                {"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}},
                {"name": "page", "in": "query", "schema": {"type": "integer"}}
            ])
        );
        // A new operation does not repeat the path item's parameters.
        assert_eq!(
            item["delete"]["parameters"],
            json!([{"name": "force", "in": "query", "schema": {"type": "boolean"}}])
        );
        assert_eq!(
            item["parameters"],
            base["paths"]["/items/{id}"]["parameters"]
        );
    }

    #[test]
    fn security_is_added_only_where_base_is_silent() {
        let generated = json!({
            "paths": {"/a": {"get": {"security": [{"key": []}], "responses": {}}},
                      "/b": {"get": {"security": [{"key": []}], "responses": {}}}},
            "components": {"securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "human": {"type": "http", "scheme": "bearer"}
            }}
        });
        let base = json!({
            "paths": {"/a": {"get": {"responses": {}}}},
            "components": {"securitySchemes": {"human": {"type": "http", "scheme": "basic"}}}
        });
        let out = merged(&base, &generated);
        assert_eq!(out["paths"]["/a"]["get"]["security"], json!([{"key": []}]));
        assert_eq!(out["paths"]["/b"]["get"]["security"], json!([{"key": []}]));
        assert_eq!(
            out["components"]["securitySchemes"],
            json!({
                "human": {"type": "http", "scheme": "basic"},
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"}
            })
        );

        let mut base = base;
        base["security"] = json!([{"human": []}]);
        let out = merged(&base, &generated);
        assert!(out["paths"]["/a"]["get"].get("security").is_none());
        assert!(out["paths"]["/b"]["get"].get("security").is_none());

        let base = json!({"paths": {"/a": {"get": {"security": [], "responses": {}}}}});
        let out = merged(&base, &generated);
        assert_eq!(out["paths"]["/a"]["get"]["security"], json!([]));
    }

    #[test]
    fn examples_are_copied_only_when_base_has_none() {
        let generated = json!({"paths": {"/a": {"get": {"responses": {"200": {
            "description": "OK",
            "content": {"application/json": {"example": {"n": 1}}}
        }}}}}});
        let with = |media: Value| {
            json!({"paths": {"/a": {"get": {"responses": {"200": {
                "description": "d", "content": {"application/json": media}
            }}}}}})
        };
        let out = merged(&with(json!({})), &generated);
        assert_eq!(
            out["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"],
            json!({"example": {"n": 1}})
        );
        for media in [
            json!({"example": 5}),
            json!({"examples": {"x": {"value": 5}}}),
        ] {
            let base = with(media.clone());
            let out = merged(&base, &generated);
            assert_eq!(
                out["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"],
                media
            );
        }
    }

    #[test]
    fn x_hmt_keys_are_added_but_not_replaced() {
        let base = json!({"paths": {"/a": {"get": {
            "x-hmt-replay": "human", "x-other": 1, "responses": {}
        }}}});
        let generated = json!({"paths": {"/a": {"get": {
            "x-hmt-replay": "generated", "x-hmt-cache": true, "x-other": 2,
            "tags": ["generated"], "responses": {}
        }}}});
        let out = merged(&base, &generated);
        assert_eq!(
            out["paths"]["/a"]["get"],
            json!({"x-hmt-replay": "human", "x-other": 1, "responses": {}, "x-hmt-cache": true})
        );
    }

    #[test]
    fn new_operation_ids_stay_unique() {
        let base = json!({"paths": {"/a": {"get": {"operationId": "get", "responses": {}}}}});
        let generated = json!({"paths": {
            "/a": {"post": {"operationId": "get", "responses": {}}},
            "/b": {"get": {"operationId": "get", "responses": {}}}
        }});
        let out = merged(&base, &generated);
        assert_eq!(out["paths"]["/a"]["post"]["operationId"], "get_2");
        assert_eq!(out["paths"]["/b"]["get"]["operationId"], "get_3");
        assert_eq!(merged(&out, &generated), out);
    }

    #[test]
    fn request_bodies_are_added_and_merged() {
        let base = json!({
            "paths": {"/a": {
                "post": {"requestBody": {"$ref": "#/components/requestBodies/A"}, "responses": {}},
                "put": {"responses": {}}
            }},
            "components": {"requestBodies": {"A": {"content": {"application/json": {
                "schema": {"type": "object", "properties": {"x": {"type": "string"}}}
            }}}}}
        });
        let body = json!({"content": {"application/json": {
            "schema": {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "number"}}}
        }}});
        let generated = json!({"paths": {"/a": {
            "post": {"requestBody": body, "responses": {}},
            "put": {"requestBody": body, "responses": {}}
        }}});
        let out = merged(&base, &generated);
        assert_eq!(
            out["paths"]["/a"]["post"]["requestBody"],
            base["paths"]["/a"]["post"]["requestBody"]
        );
        assert_eq!(
            out["components"]["requestBodies"]["A"]["content"]["application/json"]["schema"]["properties"]
                ["y"],
            json!({"type": "number"})
        );
        assert_eq!(out["paths"]["/a"]["put"]["requestBody"], body);
    }

    fn media_schema(schema: Value) -> Value {
        json!({"paths": {"/a": {"get": {"responses": {"200": {
            "description": "d", "content": {"application/json": {"schema": schema}}
        }}}}}})
    }

    #[test]
    fn schemas_merge_through_nested_properties_items_and_generated_refs() {
        let base = json!({
            "paths": {"/a": {"get": {"responses": {"200": {
                "description": "d",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}
            }}}}},
            "components": {"schemas": {
                "Page": {"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                    "meta": {"type": "object", "properties": {"total": {"type": "integer"}}}
                }},
                "Item": {"type": "object", "properties": {"id": {"type": "string"}}}
            }}
        });
        let generated = json!({
            "paths": {"/a": {"get": {"responses": {"200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GenPage"}}}
            }}}}},
            "components": {"schemas": {"GenPage": {"type": "object", "required": ["items", "meta", "next"], "properties": {
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "label": {"type": "string"}}}},
                "meta": {"type": "object", "properties": {"total": {"type": "integer"}, "page": {"type": "integer"}}},
                "next": {"type": "string", "format": "uri"}
            }}}}
        });
        let out = merged(&base, &generated);
        let schemas = &out["components"]["schemas"];
        assert_eq!(
            schemas["Item"],
            json!({"type": "object", "properties": {"id": {"type": "string"}, "label": {"type": "string"}}})
        );
        assert_eq!(
            schemas["Page"]["properties"]["meta"]["properties"]["page"],
            json!({"type": "integer"})
        );
        assert_eq!(
            schemas["Page"]["properties"]["next"],
            json!({"type": "string", "format": "uri"})
        );
        assert_eq!(schemas["Page"]["required"], json!(["items"]));
        // Generated components come along (a new path could reference them).
        assert_eq!(
            schemas["GenPage"],
            generated["components"]["schemas"]["GenPage"]
        );
    }

    #[test]
    fn mismatched_and_composed_schemas_are_left_alone() {
        for schema in [
            json!({"type": "string"}),
            json!({"oneOf": [{"type": "object", "properties": {}}, {"type": "string"}]}),
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            json!({"$ref": "other.yaml#/Pet"}),
        ] {
            let base = media_schema(schema);
            let generated =
                media_schema(json!({"type": "object", "properties": {"x": {"type": "string"}}}));
            assert_eq!(merged(&base, &generated), base);
        }
    }

    #[test]
    fn all_of_gains_new_properties_on_its_last_inline_branch() {
        let base = json!({
            "paths": {"/a": {"get": {"responses": {"200": {"description": "d", "content": {
                "application/json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"own": {"type": "object", "properties": {}}}}
                ]}}
            }}}}}},
            "components": {"schemas": {"Base": {"type": "object", "properties": {
                "id": {"type": "object", "properties": {"a": {"type": "string"}}}
            }}}}
        });
        let generated = media_schema(json!({"type": "object", "properties": {
            "id": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
            "own": {"type": "object", "properties": {"c": {"type": "boolean"}}},
            "new": {"type": "integer"}
        }}));
        let out = merged(&base, &generated);
        let all_of = &out["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["allOf"];
        assert_eq!(all_of[0], json!({"$ref": "#/components/schemas/Base"}));
        assert_eq!(
            all_of[1]["properties"],
            json!({"own": {"type": "object", "properties": {"c": {"type": "boolean"}}}, "new": {"type": "integer"}})
        );
        assert_eq!(
            out["components"]["schemas"]["Base"]["properties"]["id"]["properties"]["b"],
            json!({"type": "string"})
        );
        assert!(
            out["components"]["schemas"]["Base"]["properties"]
                .get("new")
                .is_none()
        );

        // With only `$ref` branches, the last one's target gains them.
        let base = json!({
            "paths": {"/a": {"get": {"responses": {"200": {"description": "d", "content": {
                "application/json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}
                ]}}
            }}}}}},
            "components": {"schemas": {
                "A": {"type": "object", "properties": {"id": {"type": "string"}}},
                "B": {"type": "object", "properties": {"kind": {"type": "string"}}}
            }}
        });
        let out = merged(&base, &generated);
        assert_eq!(
            out["components"]["schemas"]["B"]["properties"]["new"],
            json!({"type": "integer"})
        );
        assert!(
            out["components"]["schemas"]["A"]["properties"]
                .get("new")
                .is_none()
        );
    }

    #[test]
    fn recursive_refs_terminate() {
        let base = json!({
            "paths": {"/tree": {"get": {"responses": {"200": {"description": "d", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
            }}}}}},
            "components": {"schemas": {
                "Node": {"type": "object", "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                    "self": {"$ref": "#/components/schemas/Node"}
                }},
                "Loop": {"$ref": "#/components/schemas/Loop"}
            }}
        });
        // Generated side recursive too.
        let generated = json!({
            "paths": {"/tree": {"get": {"responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/GenNode"}}
            }}}}}},
            "components": {"schemas": {"GenNode": {"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/GenNode"}},
                "self": {"$ref": "#/components/schemas/GenNode"},
                "name": {"type": "string"}
            }}}}
        });
        let out = merged(&base, &generated);
        assert_eq!(
            out["components"]["schemas"]["Node"]["properties"]["name"],
            json!({"type": "string"})
        );

        let looping = media_schema(json!({"$ref": "#/components/schemas/Loop"}));
        let mut base_loop = base.clone();
        base_loop["paths"] = looping["paths"].clone();
        assert_eq!(
            merged(&base_loop, &generated)["components"]["schemas"]["Loop"],
            base["components"]["schemas"]["Loop"]
        );
    }

    #[test]
    fn odd_shapes_are_skipped() {
        let generated = generated();
        let base = json!({"paths": 5});
        assert_eq!(merged(&base, &generated), base);
        // A path item in another file is not followed (the others are added).
        let base = json!({"paths": {"/pets": {"$ref": "other.yaml"}}});
        let out = merged(&base, &generated);
        assert_eq!(out["paths"]["/pets"], base["paths"]["/pets"]);
        let mut scalar = json!("not a spec");
        merge_into(&mut scalar, &generated);
        assert_eq!(scalar, json!("not a spec"));
        let base = petstore();
        assert_eq!(merged(&base, &json!([1, 2])), base);
        // A base without paths or components gets them.
        let out = merged(&json!({"openapi": "3.1.0"}), &generated);
        let keys: Vec<&String> = out.as_object().expect("map").keys().collect();
        assert_eq!(keys, ["openapi", "paths"]);
    }
}
