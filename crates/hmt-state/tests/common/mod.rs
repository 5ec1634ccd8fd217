//! Specs built in memory and a client that routes requests as the mock
//! does, then hands them to the store.
#![allow(dead_code)]
// Shared by several test binaries through `mod common;`: its items are
// `pub` so that each test file can use them, which rustc, seeing one
// binary at a time, calls unreachable.
#![allow(unreachable_pub)]

use hmt_openapi::Spec;
use hmt_openapi::load::{FileCache, load_document};
use hmt_openapi::route::Routes;
use hmt_state::{StateAnswer, StateRequest, Store};
use http::Method;
use serde_json::{Value, json};
use std::path::Path;

pub fn spec(document: Value) -> Spec {
    let loaded = load_document(Path::new("api.json"), document, &mut FileCache::default())
        .expect("the test spec loads");
    hmt_openapi::compile(loaded).expect("the test spec compiles")
}

/// A spec, its routes and a store, as `hmt mock --stateful` holds them.
pub struct Api {
    pub specs: Vec<Spec>,
    routes: Routes,
    pub store: Store,
}

impl Api {
    pub fn new(document: Value) -> Api {
        Api::with_store(document, |store| store)
    }

    pub fn with_store(document: Value, build: impl FnOnce(Store) -> Store) -> Api {
        let specs = vec![spec(document)];
        let routes = Routes::new(&specs);
        let store = build(Store::new(&specs[0]));
        Api {
            specs,
            routes,
            store,
        }
    }

    /// `None` when the store leaves the request to the mock.
    pub fn send(
        &self,
        method: &str,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Option<StateAnswer> {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let found = self
            .routes
            .find(&self.specs, None, &method, path)
            .unwrap_or_else(|miss| panic!("{method} {path} is not routed: {miss:?}"));
        let query: Vec<(String, String)> = form_pairs(query);
        self.store.handle(&StateRequest {
            spec: &self.specs[found.spec],
            operation: found.operation,
            params: &found.params,
            query: &query,
            content_type,
            body,
        })
    }

    /// A JSON request the store manages; its status and body.
    pub fn call(&self, method: &str, target: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let content_type = (!bytes.is_empty()).then_some("application/json");
        let answer = self
            .send(method, target, content_type, bytes.as_bytes())
            .unwrap_or_else(|| panic!("{method} {target} is not managed by the store"));
        (answer.status, answer.value().unwrap_or(Value::Null))
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                hmt_types::percent_decode(k).into_owned(),
                hmt_types::percent_decode(v).into_owned(),
            )
        })
        .collect()
}

fn ok(schema: Value) -> Value {
    json!({"description": "ok", "content": {"application/json": {"schema": schema}}})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// `/pets` GET (limit, offset, status) and POST; `/pets/{petId}` GET, PUT,
/// PATCH, DELETE with an integer id; `/pets/{petId}/adopt` POST.
pub fn petstore() -> Value {
    let pet = json!({"$ref": "#/components/schemas/Pet"});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Petstore", "version": "1"},
        "servers": [{"url": "https://petstore.example/v1"}],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "tags", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": ok(json!({"type": "array", "items": pet}))}
                },
                "post": {
                    "operationId": "createPet",
                    "requestBody": body(pet.clone()),
                    "responses": {"201": ok(pet.clone()), "default": {"description": "error"}}
                }
            },
            "/pets/{petId}": {
                "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}],
                "get": {"operationId": "showPet", "responses": {"200": ok(pet.clone()), "404": {"description": "missing"}}},
                "put": {"operationId": "replacePet", "requestBody": body(pet.clone()), "responses": {"200": ok(pet.clone())}},
                "patch": {
                    "operationId": "patchPet",
                    "requestBody": {"content": {
                        "application/merge-patch+json": {"schema": {"type": "object"}},
                        "application/json-patch+json": {"schema": {"type": "array"}}
                    }},
                    "responses": {"200": ok(pet.clone())}
                },
                "delete": {"operationId": "deletePet", "responses": {"204": {"description": "gone"}}}
            },
            "/pets/{petId}/adopt": {
                "post": {"operationId": "adoptPet", "responses": {"200": ok(pet.clone())}}
            }
        },
        "components": {"schemas": {"Pet": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": "string"},
                "status": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}}
            }
        }}}
    })
}

/// Kubernetes-style pods: listed as `{"kind": "PodList", "items": [...]}`,
/// named by `metadata.name`, scoped by namespace.
pub fn kubernetes() -> Value {
    let pod = json!({"$ref": "#/components/schemas/Pod"});
    let namespace =
        json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}});
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1"},
        "paths": {
            "/api/v1/namespaces/{namespace}/pods": {
                "parameters": [namespace.clone()],
                "get": {
                    "operationId": "listCoreV1NamespacedPod",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "labelSelector", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": ok(json!({"$ref": "#/components/schemas/PodList"}))}
                },
                "post": {
                    "operationId": "createCoreV1NamespacedPod",
                    "requestBody": body(pod.clone()),
                    "responses": {"200": ok(pod.clone()), "201": ok(pod.clone()), "202": ok(pod.clone())}
                }
            },
            "/api/v1/namespaces/{namespace}/pods/{name}": {
                "parameters": [namespace, {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"operationId": "readCoreV1NamespacedPod", "responses": {"200": ok(pod.clone())}},
                "put": {"operationId": "replaceCoreV1NamespacedPod", "requestBody": body(pod.clone()),
                        "responses": {"200": ok(pod.clone()), "201": ok(pod.clone())}},
                "patch": {
                    "operationId": "patchCoreV1NamespacedPod",
                    "requestBody": {"content": {
                        "application/json-patch+json": {"schema": {"type": "object"}},
                        "application/merge-patch+json": {"schema": {"type": "object"}}
                    }},
                    "responses": {"200": ok(pod.clone()), "201": ok(pod.clone())}
                },
                "delete": {"operationId": "deleteCoreV1NamespacedPod",
                           "responses": {"200": ok(pod.clone()), "202": ok(pod)}}
            }
        },
        "components": {"schemas": {
            "Pod": {"type": "object", "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": "#/components/schemas/ObjectMeta"},
                "spec": {"type": "object"}
            }},
            "ObjectMeta": {"type": "object", "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }},
            "PodList": {"type": "object", "required": ["items"], "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string", "example": "PodList"},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Pod"}},
                "metadata": {"type": "object"}
            }}
        }}
    })
}

/// `/users` and `/users/{userId}/orders` (UUID order ids), a
/// `/users/{user_id}` item named differently from its collection's
/// parameters, and a wrapped, paged list of orders.
pub fn shop() -> Value {
    let order = json!({"type": "object", "properties": {
        "orderId": {"type": "string", "format": "uuid"},
        "item": {"type": "string"},
        "quantity": {"type": "integer"}
    }});
    let user = json!({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}});
    let user_id =
        json!({"name": "userId", "in": "path", "required": true, "schema": {"type": "integer"}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Shop", "version": "1"},
        "paths": {
            "/users": {
                "post": {"requestBody": body(user.clone()), "responses": {"201": ok(user.clone())}}
            },
            "/users/{user_id}": {
                "get": {
                    "parameters": [{"name": "user_id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "responses": {"200": ok(user)}
                }
            },
            "/users/{userId}/orders": {
                "parameters": [user_id.clone()],
                "get": {
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "default": 2}},
                        {"name": "item", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": ok(json!({"type": "object", "properties": {
                        "data": {"type": "array", "items": order.clone()},
                        "total": {"type": "integer"},
                        "next": {"type": "string"}
                    }}))}
                },
                "post": {"requestBody": body(order.clone()), "responses": {"200": ok(order.clone()), "201": ok(order.clone())}}
            },
            "/users/{userId}/orders/{orderId}": {
                "parameters": [user_id, {"name": "orderId", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "get": {"responses": {"200": ok(order.clone())}},
                "put": {"requestBody": body(order.clone()), "responses": {"200": ok(order)}},
                "delete": {"responses": {"200": {"description": "gone"}, "202": {"description": "accepted"}}}
            }
        }
    })
}
