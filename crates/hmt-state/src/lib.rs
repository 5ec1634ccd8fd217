//! The store behind `hmt mock --stateful`: what clients create through a
//! spec's operations is remembered, so a `POST /pets` is followed by a
//! `GET /pets/1` that finds it, a `DELETE` makes it gone and a `PATCH`
//! changes it.
//!
//! The crate is the store and the inference of what to store, and nothing
//! else: no I/O, no HTTP. The mock routes a request to an operation and
//! validates it against the spec first, then hands it to
//! [`Store::handle`]; `None` means the store does not manage that
//! operation and the mock answers as it always does. Keeping it apart
//! keeps the mock's hot path untouched when `--stateful` is off, lets the
//! rules below be tested on in-memory specs without a server, and gives the
//! admin API one place to read ([`Store::resources`], [`Store::to_json`],
//! [`Store::to_http_types`]) and to write ([`Store::seed`],
//! [`Store::seed_recordings`], [`Store::reset`], [`Store::clear`]).
//!
//! **Seeds.** What [`Store::seed`], [`Store::seed_examples`] and
//! [`Store::seed_recordings`] put in the store is its seed:
//! [`Store::reset`] goes back to it (objects, id sequences and UUID
//! counter, so the next create gets the same id as after start-up), and
//! [`Store::clear`] empties the store without forgetting it.
//!
//! The store answers with a status and a JSON body, and says whether the
//! mock should merge that body over the response it would have sent
//! ([`StateAnswer::merge_documented`]): stored values win, and fields the
//! spec documents but the client never sent (`kind: PodList`, a
//! `createdAt`) still come from the spec's examples. Everything is
//! deterministic: ids come from sequences and counters, not clocks or
//! randomness, so the same requests give the same bytes, run after run.
//!
//! It is bounded: at most 100,000 stored objects by default
//! ([`Store::with_limit`]); a create beyond that answers 507. Nothing in it
//! panics on a client's input.
//!
//! # Example
//!
//! What the mock does for `POST /pets` and then `GET /pets/1`, once it has
//! routed and validated each request:
//!
//! ```
//! use hmt_openapi::load::{FileCache, load_document};
//! use hmt_state::{StateRequest, Store};
//! use serde_json::json;
//! use std::path::Path;
//!
//! let document = json!({
//!     "openapi": "3.1.0",
//!     "info": {"title": "Pets", "version": "1"},
//!     "paths": {
//!         "/pets": {"post": {"responses": {"201": {"description": "created"}}}},
//!         "/pets/{petId}": {"get": {
//!             "parameters": [{"name": "petId", "in": "path", "required": true,
//!                             "schema": {"type": "integer"}}],
//!             "responses": {"200": {"description": "a pet"}}
//!         }}
//!     }
//! });
//! let loaded = load_document(Path::new("pets.json"), document, &mut FileCache::default())?;
//! let spec = hmt_openapi::compile(loaded)?;
//! let store = Store::new(&spec);
//! assert_eq!(store.resources()[0].id_field, "id");
//!
//! let created = store
//!     .handle(&StateRequest {
//!         spec: &spec,
//!         operation: 0, // POST /pets
//!         params: &[],
//!         query: &[],
//!         content_type: Some("application/json"),
//!         body: br#"{"name": "Rex"}"#,
//!     })
//!     .expect("the store manages POST /pets");
//! assert_eq!(created.status, 201);
//! assert_eq!(created.body, Some(json!({"id": 1, "name": "Rex"})));
//! assert!(created.merge_documented);
//!
//! let params = [("petId".to_owned(), "1".to_owned())];
//! let read = store.handle(&StateRequest {
//!     spec: &spec,
//!     operation: 1, // GET /pets/{petId}
//!     params: &params,
//!     query: &[],
//!     content_type: None,
//!     body: b"",
//! });
//! assert_eq!(read.map(|a| (a.status, a.value())), Some((200, created.body)));
//! assert_eq!(store.to_json(), json!({"/pets": [{"id": 1, "name": "Rex"}]}));
//! # Ok::<(), hmt_openapi::LoadError>(())
//! ```
//!
//! # What the emulator infers and what it cannot
//!
//! **Resources.** A collection is a path template `P` for which the spec
//! also has an item template `P/{param}` (`/pets` and `/pets/{petId}`;
//! `/users/{userId}/orders` and `/users/{userId}/orders/{orderId}`;
//! `/api/v1/namespaces/{namespace}/pods` and `.../pods/{name}`), with a way
//! to create items (`POST` on the collection or `PUT` on the item).
//! Parameter names may differ between the two templates. Templates are
//! relative to the server's base path, as the spec writes them. A nested
//! collection is scoped by its parent parameters: the orders of user 1 are
//! not the orders of user 2, and are listed under separate keys
//! (`/users/1/orders`) in [`Store::to_json`].
//!
//! **Operations.** `POST` on a collection creates, `GET` lists; `GET`,
//! `PUT`, `PATCH` and `DELETE` on an item read, replace (or create),
//! patch and delete it. Other operations, and resources with no way to
//! create, are left to the mock's documented responses.
//!
//! **The id field**, where an item's id lives in its body, is the first
//! that applies of:
//! 1. `x-hmt-id-path` (a dotted path such as `metadata.name`) on one of the
//!    resource's operations or on its path item;
//! 2. the item's path parameter name (`petId`), if the body schemas (the
//!    `POST` and `PUT` request bodies, the item `GET` and `POST` success
//!    responses) have that property;
//! 3. `id`, if they have it;
//! 4. `name`, if they have it;
//! 5. `metadata.name`, if they have `metadata` (Kubernetes-style bodies);
//! 6. with no schema to go by, for each object the first field it has of:
//!    the parameter name and `id` when the parameter is id-like (`id`,
//!    `petId`, `pet_id`, `petID`: a pet's `name` is not its id); the
//!    parameter name, `id`, `name` and `metadata.name` for other
//!    parameters (`{name}`, `{username}`). An object with none of them
//!    gets `id` for an id-like parameter, else the parameter name (`petId`
//!    → `id`, `name` → `name`).
//!
//! **New ids.** A body without an id gets one, written at the id field
//! (first in its object), by the path parameter's schema: `integer` gives
//! 1, 2, 3… per collection; `string` with `format: uuid` gives
//! version-4-shaped UUIDs from a counter (the same ones after every start
//! or [`Store::reset`]); other strings give "1", "2", "3"…. Ids already
//! taken are skipped. A body with an id that exists already gets 409. A
//! `PUT` forces the id to the one in the path, and so does a `PATCH`: ids
//! do not change.
//!
//! **Statuses.** Create answers 201 when documented, else the lowest
//! documented 2xx; `PUT` answers 201 when it creates and 201 is
//! documented, else 200 (or the lowest 2xx); `DELETE` answers 204 when
//! documented, else the lowest 2xx. A 204 has no body. Missing items
//! answer 404 with `{"title": "not found", "detail": "no /pets with id 7"}`.
//!
//! **Lists.** Objects come in the order they were created. Query
//! parameters count only when the operation declares them: `limit` and
//! `offset`; `page` with `per_page`, `page_size`, `pageSize`, `size` or
//! `limit` as its size (from 1, or from 0 when its schema's `minimum` is
//! 0; a page size without a page gives the first page, a page without a
//! size has everything on the first page); and equality filters for other declared parameters named like a
//! top-level field of the stored objects (`?status=sold`; repeated values
//! match any; array fields match when any element does). A schema
//! `default` for a paging parameter applies when the request has none. The
//! list is a JSON array when the documented success schema is an array;
//! when it is an object with an array property (`items`, `data`…: the only
//! one, else the first of `items`, `data`, `results`, `content`,
//! `records`, `elements`, `values`), the list goes under that property,
//! integer `total`/`count`/`totalCount`-style fields get the number of
//! matches, and the mock merges the rest (`kind: PodList`) from its
//! documented response.
//!
//! **What it cannot infer.** Which fields the server fills in (timestamps,
//! computed status), beyond what the documented response's example merges
//! in; that a parent exists (`POST /users/9/orders` works with no user 9)
//! or that deleting it deletes its children; sorting, full-text search,
//! cursors, `Link` headers or ranges; relations between resources; a
//! change of id; and anything a resource does beyond storing: a
//! `POST /pets/1/adopt` is answered from the spec as usual. Stored objects
//! are what the clients sent, not what the spec documents: a field sent
//! once is returned, one never sent is not (lists carry only stored
//! fields).

mod export;
pub mod id_path_schema;
mod ids;
mod infer;
mod list;
mod recorded;
mod schema;

pub use infer::{IdKind, IdSource, Resource};
pub use recorded::{Recorded, RecordingSeed};

use bytes::Bytes;
use hmt_openapi::Spec;
use hmt_openapi::model::{Operation, StatusKey};
use indexmap::IndexMap;
use infer::{Binding, Plan, Role};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many objects a store holds unless told otherwise.
pub const DEFAULT_LIMIT: usize = 100_000;

/// A request the mock has routed to an operation and validated.
#[derive(Clone, Copy, Debug)]
pub struct StateRequest<'a> {
    /// The spec the operation is in.
    pub spec: &'a Spec,
    /// The operation's index in [`Spec::operations`].
    pub operation: usize,
    /// Path parameters, decoded, in template order.
    pub params: &'a [(String, String)],
    /// Query parameters, decoded, in request order (a name may repeat).
    pub query: &'a [(String, String)],
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

/// What the store answers.
#[derive(Clone, Debug, PartialEq)]
pub struct StateAnswer {
    /// The status to send.
    pub status: u16,
    /// The JSON body, if any, unless it is in `json`.
    pub body: Option<Value>,
    /// The mock should merge the body over its documented response for
    /// this status: objects key by key, the store's values winning.
    pub merge_documented: bool,
    /// For a read of one object: the object as stored, serialised when it
    /// was written (and `body` is `None`), so that the hot path of a
    /// stateful mock copies and serialises nothing.
    pub json: Option<Bytes>,
}

impl StateAnswer {
    /// The body as JSON, wherever it is (`body`, or `json` parsed).
    pub fn value(&self) -> Option<Value> {
        match (&self.body, &self.json) {
            (Some(body), _) => Some(body.clone()),
            (None, Some(json)) => serde_json::from_slice(json).ok(),
            (None, None) => None,
        }
    }
}

/// Why [`Store::seed`] stored nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// The path matches no collection the store manages.
    #[error("{path} is not a collection of the spec (the collections are: {known})")]
    UnknownCollection {
        /// The path given.
        path: String,
        /// The collection templates, comma-separated.
        known: String,
    },
    /// An object is not a JSON object.
    #[error("object {index}: not a JSON object")]
    NotAnObject {
        /// Its index in the seed.
        index: usize,
    },
    /// An object's id cannot be read or written.
    #[error("object {index}: {message}")]
    BadId {
        /// Its index in the seed.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// An object's id is stored already (or twice in the seed).
    #[error("object {index}: {collection} already has {field} {id}")]
    Duplicate {
        /// Its index in the seed.
        index: usize,
        /// The concrete collection path.
        collection: String,
        /// The id field.
        field: String,
        /// The id.
        id: String,
    },
    /// The seed would take the store over its limit.
    #[error("the store holds at most {limit} objects")]
    Full {
        /// The limit.
        limit: usize,
    },
}

/// The resources of one spec and what has been stored in them. `Send` and
/// `Sync`: share it behind an `Arc`.
pub struct Store {
    resources: Vec<Resource>,
    plans: Vec<Plan>,
    /// By operation index.
    bindings: Vec<Option<Binding>>,
    /// The servers' base paths, which [`Store::seed`] accepts in front.
    base_paths: Vec<String>,
    /// By resource: the example object of its item `GET`'s answer, which a
    /// read merges the stored object over.
    read_examples: Vec<Option<Map<String, Value>>>,
    limit: usize,
    data: RwLock<Data>,
    /// What the seeds put in the store, which [`Store::reset`] restores.
    seeded: RwLock<Data>,
}

#[derive(Clone, Default)]
struct Data {
    /// By concrete collection path, so [`Store::to_json`] is sorted.
    collections: BTreeMap<String, Collection>,
    /// Stored objects in all collections.
    objects: usize,
    /// UUIDs made so far.
    uuids: u64,
}

#[derive(Clone, Default)]
struct Collection {
    /// By id key, in insertion order.
    items: IndexMap<String, Stored>,
    /// The last sequence number used for an id.
    sequence: u64,
}

/// One stored object, and what a `GET` of it answers, serialised when it
/// was written.
#[derive(Clone)]
struct Stored {
    value: Value,
    read: Bytes,
}

impl Collection {
    /// Stores `object` under `id`, with what a read answers: the object
    /// merged over `example` (the example's fields in its order, the
    /// object's values winning, then the object's other fields),
    /// serialised.
    fn put(&mut self, id: String, object: Value, example: Option<&Map<String, Value>>) {
        let json = match (example, &object) {
            (Some(example), Value::Object(fields)) => {
                let mut merged = Map::with_capacity(example.len().max(fields.len()));
                for (key, value) in example {
                    merged.insert(key.clone(), fields.get(key).unwrap_or(value).clone());
                }
                for (key, value) in fields {
                    if !merged.contains_key(key) {
                        merged.insert(key.clone(), value.clone());
                    }
                }
                serde_json::to_vec(&merged)
            }
            _ => serde_json::to_vec(&object),
        };
        let read = Bytes::from(json.unwrap_or_default());
        self.items.insert(
            id,
            Stored {
                value: object,
                read,
            },
        );
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resources", &self.resources)
            .field("limit", &self.limit)
            .field("objects", &self.len())
            .finish()
    }
}

/// Why an object could not be given an id.
enum Refused {
    BadId(String),
    Duplicate(String),
}

impl Store {
    /// The resources of `spec`, with nothing stored.
    pub fn new(spec: &Spec) -> Store {
        let inferred = infer::infer(spec);
        let mut read_examples = vec![None; inferred.resources.len()];
        for (operation, binding) in spec.operations.iter().zip(&inferred.bindings) {
            if let Some(binding) = binding
                && matches!(binding.role, Role::Read)
                && let Some(slot) = read_examples.get_mut(binding.resource)
            {
                *slot = read_example(operation);
            }
        }
        Store {
            read_examples,
            resources: inferred.resources,
            plans: inferred.plans,
            bindings: inferred.bindings,
            base_paths: spec
                .servers
                .iter()
                .map(|s| s.base_path.clone())
                .filter(|b| !b.is_empty())
                .collect(),
            limit: DEFAULT_LIMIT,
            data: RwLock::new(Data::default()),
            seeded: RwLock::new(Data::default()),
        }
    }

    /// The same store holding at most `limit` objects.
    pub fn with_limit(mut self, limit: usize) -> Store {
        self.limit = limit;
        self
    }

    /// The resources found, for the admin API and docs: collection
    /// template, item template, id field path.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// How many objects are stored, in all collections.
    pub fn len(&self) -> usize {
        self.read().objects
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the store answers the operation at this index of
    /// [`Spec::operations`] (a `POST`, `GET`, `PUT`, `PATCH` or `DELETE`
    /// of one of its resources).
    pub fn manages(&self, operation: usize) -> bool {
        matches!(self.bindings.get(operation), Some(Some(_)))
    }

    /// What the store does with this request, or `None` when the operation
    /// is not one it manages (the mock then answers as usual).
    pub fn handle(&self, request: &StateRequest<'_>) -> Option<StateAnswer> {
        let op = request.spec.operations.get(request.operation)?;
        let binding = self.bindings.get(request.operation)?.as_ref()?;
        if binding.method != op.method || binding.template != op.template {
            return None;
        }
        let resource = self.resources.get(binding.resource)?;
        let plan = self.plans.get(binding.resource)?;
        let values = param_values(&binding.params, request.params)?;
        let scope = values.get(..plan.scope_params)?;
        let key = ids::concrete(&resource.collection, scope);
        let at = Target {
            op,
            resource,
            plan,
            key: &key,
            read_example: self
                .read_examples
                .get(binding.resource)
                .and_then(Option::as_ref),
        };
        if let Role::List { shape, query } = &binding.role {
            let data = self.read();
            let items = data
                .collections
                .get(&key)
                .map(|c| c.items.values().map(|stored| &stored.value));
            let (body, merge) =
                list::list(items.into_iter().flatten(), shape, query, request.query);
            return Some(StateAnswer {
                status: status_for(op, 200),
                body: Some(body),
                merge_documented: merge,
                json: None,
            });
        }
        if let Role::Create = binding.role {
            return Some(self.create(&at, request));
        }
        let raw = values.get(plan.scope_params)?;
        let id = item_key(plan, raw);
        Some(match binding.role {
            Role::Read => self.get(&at, &id),
            Role::Replace => self.replace(&at, &id, raw, request),
            Role::Patch => self.patch(&at, &id, request),
            Role::Delete => self.delete(&at, &id),
            Role::List { .. } | Role::Create => return None,
        })
    }

    /// Stores `objects` in a concrete collection (`/pets`,
    /// `/users/1/orders`, with or without the server's base path), ids
    /// taken or made as for a `POST`. All or nothing: on an error nothing
    /// is stored. Answers how many were stored. They are part of the seed
    /// that [`Store::reset`] restores.
    pub fn seed(&self, collection: &str, objects: Vec<Value>) -> Result<usize, StateError> {
        let Some((index, key)) = self.find_collection(collection) else {
            return Err(StateError::UnknownCollection {
                path: collection.to_owned(),
                known: self
                    .resources
                    .iter()
                    .map(|r| r.collection.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let (resource, plan) = (&self.resources[index], &self.plans[index]);
        let example = self.read_examples.get(index).and_then(Option::as_ref);
        let mut data = self.write();
        let data = &mut *data;
        if data.objects.saturating_add(objects.len()) > self.limit {
            return Err(StateError::Full { limit: self.limit });
        }
        let mut staged = data.collections.get(&key).cloned().unwrap_or_default();
        let mut uuids = data.uuids;
        let count = objects.len();
        for (index, mut object) in objects.into_iter().enumerate() {
            if !object.is_object() {
                return Err(StateError::NotAnObject { index });
            }
            let id = match assign_id(resource, plan, &mut staged, &mut uuids, &mut object) {
                Ok(id) => id,
                Err(Refused::BadId(message)) => return Err(StateError::BadId { index, message }),
                Err(Refused::Duplicate(id)) => {
                    return Err(StateError::Duplicate {
                        index,
                        collection: key,
                        field: resource.id_field.clone(),
                        id,
                    });
                }
            };
            staged.put(id, object, example);
        }
        data.uuids = uuids;
        data.objects += count;
        data.collections.insert(key, staged);
        self.keep_as_seed(data);
        Ok(count)
    }

    /// Seeds each top-level collection (one without parent parameters)
    /// with the objects of its list operation's documented example, so a
    /// stateful mock starts with what the spec shows. Answers a warning
    /// per example that could not be stored (duplicate ids, not objects);
    /// those collections stay empty.
    pub fn seed_examples(&self, spec: &Spec) -> Vec<String> {
        let mut warnings = Vec::new();
        for (operation, binding) in spec.operations.iter().zip(&self.bindings) {
            let Some(binding) = binding else { continue };
            let Role::List { shape, .. } = &binding.role else {
                continue;
            };
            let Some(plan) = self.plans.get(binding.resource) else {
                continue;
            };
            let Some(resource) = self.resources.get(binding.resource) else {
                continue;
            };
            if plan.scope_params > 0 {
                continue;
            }
            let Some(example) = list_example(operation) else {
                continue;
            };
            let objects = match (shape, example) {
                (infer::ListShape::Array, Value::Array(items)) => items,
                (infer::ListShape::Wrapped { property, .. }, Value::Object(mut wrapper)) => {
                    match wrapper.remove(property) {
                        Some(Value::Array(items)) => items,
                        _ => continue,
                    }
                }
                _ => continue,
            };
            if objects.is_empty() {
                continue;
            }
            if let Err(error) = self.seed(&resource.collection, objects) {
                warnings.push(format!(
                    "{}: the example of {} {} was not stored: {error}",
                    spec.file.display(),
                    operation.method,
                    operation.template
                ));
            }
        }
        warnings
    }

    /// Everything stored: `{"/pets": [...], "/users/1/orders": [...]}`,
    /// collections sorted by path, objects in insertion order; collections
    /// emptied by deletes are left out.
    pub fn to_json(&self) -> Value {
        let data = self.read();
        let mut out = Map::new();
        for (path, collection) in &data.collections {
            if !collection.items.is_empty() {
                out.insert(
                    path.clone(),
                    Value::Array(
                        collection
                            .items
                            .values()
                            .map(|stored| stored.value.clone())
                            .collect(),
                    ),
                );
            }
        }
        Value::Object(out)
    }

    /// Goes back to the seed: what the store held after its last seed
    /// (examples, recordings, test code: all given before a mock serves),
    /// with the id sequences and UUID counter as they were then. Without
    /// seeds, the store is empty.
    pub fn reset(&self) {
        let seeded = hmt_types::sync::read(&self.seeded).clone();
        *self.write() = seeded;
    }

    /// Empties the store and restarts id sequences and UUIDs; the seed is
    /// kept for the next [`Store::reset`].
    pub fn clear(&self) {
        *self.write() = Data::default();
    }

    /// Makes what the store holds now its seed. Seeding happens before a
    /// mock serves, so this is the store as the seeds left it.
    fn keep_as_seed(&self, data: &Data) {
        *hmt_types::sync::write(&self.seeded) = data.clone();
    }

    fn read(&self) -> RwLockReadGuard<'_, Data> {
        hmt_types::sync::read(&self.data)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        hmt_types::sync::write(&self.data)
    }

    /// The resource whose collection template a concrete path matches,
    /// and the path as it is stored.
    fn find_collection(&self, path: &str) -> Option<(usize, String)> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let path = format!("/{}", path.trim_matches('/'));
        let relative = self.base_paths.iter().find_map(|base| {
            path.strip_prefix(base.as_str())
                .filter(|rest| rest.starts_with('/'))
        });
        [Some(path.as_str()), relative]
            .into_iter()
            .flatten()
            .find_map(|path| {
                self.resources.iter().enumerate().find_map(|(i, r)| {
                    let values = hmt_openapi::route::match_segments(&r.collection, path)?;
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    Some((i, ids::concrete(&r.collection, &values)))
                })
            })
    }

    fn create(&self, at: &Target<'_>, request: &StateRequest<'_>) -> StateAnswer {
        let mut body = match parse_object(request.body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let mut data = self.write();
        let data = &mut *data;
        if data.objects >= self.limit {
            return full(self.limit);
        }
        let collection = collection_mut(&mut data.collections, at.key, self.limit);
        let id = match assign_id(at.resource, at.plan, collection, &mut data.uuids, &mut body) {
            Ok(id) => id,
            Err(Refused::BadId(message)) => return problem(400, "bad request", message),
            Err(Refused::Duplicate(id)) => {
                return problem(
                    409,
                    "conflict",
                    format!("{} already has {} {id}", at.key, at.resource.id_field),
                );
            }
        };
        collection.put(id, body.clone(), at.read_example);
        data.objects += 1;
        ok(status_for(at.op, 201), body)
    }

    fn get(&self, at: &Target<'_>, id: &str) -> StateAnswer {
        let data = self.read();
        match data
            .collections
            .get(at.key)
            .and_then(|c| c.items.get(id))
            .map(|stored| &stored.read)
        {
            Some(json) => StateAnswer {
                status: status_for(at.op, 200),
                body: None,
                // Merged when it was stored.
                merge_documented: false,
                json: Some(json.clone()),
            },
            None => not_found(at, id),
        }
    }

    fn replace(
        &self,
        at: &Target<'_>,
        id: &str,
        raw: &str,
        request: &StateRequest<'_>,
    ) -> StateAnswer {
        let mut body = match parse_object(request.body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let mut data = self.write();
        let data = &mut *data;
        let existing = data
            .collections
            .get(at.key)
            .and_then(|c| c.items.get(id))
            .map(|stored| &stored.value);
        if existing.is_none() && data.objects >= self.limit {
            return full(self.limit);
        }
        let path = id_path(at.plan, &body).to_vec();
        let old_id = existing.and_then(|e| ids::get_path(e, id_path(at.plan, e)));
        let id_value = typed_id(at.plan, raw, old_id);
        if let Err(message) = ids::set_path(&mut body, &path, id_value) {
            return problem(400, "bad request", message);
        }
        let created = existing.is_none();
        let collection = collection_mut(&mut data.collections, at.key, self.limit);
        if !collection.items.contains_key(id) {
            data.objects += 1;
        }
        collection.put(id.to_owned(), body.clone(), at.read_example);
        let status = if created && documents(at.op, 201) {
            201
        } else {
            status_for(at.op, 200)
        };
        ok(status, body)
    }

    fn patch(&self, at: &Target<'_>, id: &str, request: &StateRequest<'_>) -> StateAnswer {
        let json_patch = request.content_type.is_some_and(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/json-patch+json")
        });
        let patch: Value = match serde_json::from_slice(request.body) {
            Ok(patch) => patch,
            Err(e) => return problem(400, "bad request", format!("the body is not JSON: {e}")),
        };
        let mut data = self.write();
        let Some(collection) = data.collections.get_mut(at.key) else {
            return not_found(at, id);
        };
        let Some(current) = collection.items.get(id).map(|stored| &stored.value) else {
            return not_found(at, id);
        };
        let mut patched = current.clone();
        if json_patch {
            let operations: json_patch::Patch = match serde_json::from_value(patch) {
                Ok(operations) => operations,
                Err(e) => {
                    return problem(
                        400,
                        "bad request",
                        format!("the body is not a JSON Patch (RFC 6902) document: {e}"),
                    );
                }
            };
            // On a copy, so a failure leaves the stored object as it was.
            if let Err(e) = json_patch::patch_unsafe(&mut patched, &operations) {
                let (status, title) = match e.kind {
                    json_patch::PatchErrorKind::TestFailed => (409, "conflict"),
                    _ => (422, "unprocessable entity"),
                };
                let op = operations.get(e.operation).map_or("", |op| match op {
                    json_patch::PatchOperation::Add(_) => "add",
                    json_patch::PatchOperation::Remove(_) => "remove",
                    json_patch::PatchOperation::Replace(_) => "replace",
                    json_patch::PatchOperation::Move(_) => "move",
                    json_patch::PatchOperation::Copy(_) => "copy",
                    json_patch::PatchOperation::Test(_) => "test",
                });
                return problem(
                    status,
                    title,
                    format!(
                        "operation {} ({op}) at {:?}: {}",
                        e.operation,
                        e.path.as_str(),
                        e.kind
                    ),
                );
            }
        } else {
            merge_patch(&mut patched, &patch);
        }
        if !patched.is_object() {
            return problem(
                422,
                "unprocessable entity",
                "the patched document is not a JSON object".to_owned(),
            );
        }
        // The id stays what it was.
        let path = id_path(at.plan, current).to_vec();
        if let Some(old) = ids::get_path(current, &path).cloned()
            && let Err(message) = ids::set_path(&mut patched, &path, old)
        {
            return problem(422, "unprocessable entity", message);
        }
        collection.put(id.to_owned(), patched.clone(), at.read_example);
        ok(status_for(at.op, 200), patched)
    }

    fn delete(&self, at: &Target<'_>, id: &str) -> StateAnswer {
        let mut data = self.write();
        let removed = data
            .collections
            .get_mut(at.key)
            .and_then(|c| c.items.shift_remove(id))
            .map(|stored| stored.value);
        match removed {
            Some(object) => {
                data.objects = data.objects.saturating_sub(1);
                ok(status_for(at.op, 204), object)
            }
            None => not_found(at, id),
        }
    }
}

/// What a request is about, once routed.
struct Target<'a> {
    op: &'a Operation,
    resource: &'a Resource,
    plan: &'a Plan,
    /// The concrete collection path.
    key: &'a str,
    /// What a read merges the object over.
    read_example: Option<&'a Map<String, Value>>,
}

/// The request's path parameter values in the operation's template order:
/// by name, else by position when the counts agree.
fn param_values<'a>(names: &[String], params: &'a [(String, String)]) -> Option<Vec<&'a str>> {
    let by_name: Option<Vec<&str>> = names
        .iter()
        .map(|name| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        })
        .collect();
    by_name.or_else(|| {
        (params.len() == names.len()).then(|| params.iter().map(|(_, v)| v.as_str()).collect())
    })
}

/// The key a path's id is stored under: integer ids as JSON writes them
/// (`007` finds `7`), others as they are.
fn item_key(plan: &Plan, raw: &str) -> String {
    if plan.id_as_number
        && let Ok(n) = raw.trim().parse::<i64>()
    {
        return n.to_string();
    }
    raw.to_owned()
}

/// A path's id as the JSON value to store: a number when the stored one
/// was, or when ids are integers and it parses as one.
fn typed_id(plan: &Plan, raw: &str, stored: Option<&Value>) -> Value {
    let number = match stored {
        Some(value) => value.is_number(),
        None => plan.id_as_number,
    };
    if number && let Ok(n) = raw.trim().parse::<i64>() {
        return Value::from(n);
    }
    Value::String(raw.to_owned())
}

/// The id field of one object: the resource's, or with a guessed field,
/// the first candidate the object has.
fn id_path<'a>(plan: &'a Plan, object: &Value) -> &'a [String] {
    plan.candidates
        .iter()
        .find(|c| ids::get_path(object, c).is_some_and(|v| !v.is_null()))
        .unwrap_or(&plan.id_path)
}

/// Reads the object's id, or makes one and writes it in.
fn assign_id(
    resource: &Resource,
    plan: &Plan,
    collection: &mut Collection,
    uuids: &mut u64,
    object: &mut Value,
) -> Result<String, Refused> {
    let path = id_path(plan, object).to_vec();
    if let Some(value) = ids::get_path(object, &path).filter(|v| !v.is_null()) {
        let id = ids::id_key(value).ok_or_else(|| {
            Refused::BadId(format!(
                "the id field `{}` must be a string or a number",
                path.join(".")
            ))
        })?;
        return if collection.items.contains_key(&id) {
            Err(Refused::Duplicate(id))
        } else {
            Ok(id)
        };
    }
    // Taken ids are skipped; there are at most as many as stored items.
    for _ in 0..=collection.items.len() {
        let (id, value) = match resource.id_kind {
            IdKind::Uuid => {
                *uuids = uuids.wrapping_add(1);
                let id = ids::uuid(*uuids);
                (id.clone(), Value::String(id))
            }
            IdKind::Integer | IdKind::String => {
                collection.sequence = collection.sequence.wrapping_add(1);
                let n = collection.sequence;
                let value = if plan.id_as_number {
                    Value::from(n)
                } else {
                    Value::String(n.to_string())
                };
                (n.to_string(), value)
            }
        };
        if !collection.items.contains_key(&id) {
            ids::set_path(object, &path, value).map_err(Refused::BadId)?;
            return Ok(id);
        }
    }
    Err(Refused::BadId("no free id".to_owned()))
}

/// The collection at `key`, made when missing; when there are already as
/// many collections as the store holds objects, empty ones are dropped
/// first (their id sequences restart).
fn collection_mut<'a>(
    collections: &'a mut BTreeMap<String, Collection>,
    key: &str,
    limit: usize,
) -> &'a mut Collection {
    if !collections.contains_key(key) && collections.len() >= limit {
        collections.retain(|_, c| !c.items.is_empty());
    }
    collections.entry(key.to_owned()).or_default()
}

/// RFC 7386 JSON Merge Patch, keeping the order of the fields that stay.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in changes {
            if value.is_null() {
                map.shift_remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn parse_object(body: &[u8]) -> Result<Value, StateAnswer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(problem(
            400,
            "bad request",
            "the body is empty; the stateful mock stores JSON objects".to_owned(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(problem(
            400,
            "bad request",
            "the body is not a JSON object; the stateful mock stores JSON objects".to_owned(),
        )),
        Err(e) => Err(problem(
            400,
            "bad request",
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// Whether the operation documents exactly this status.
fn documents(op: &Operation, status: u16) -> bool {
    op.responses
        .iter()
        .any(|r| r.status == StatusKey::Code(status))
}

/// `preferred` when documented, else the lowest documented 2xx, else
/// `preferred`.
/// The example object a read of one item answers with, when the operation
/// documents one (what the mock would use without a `Prefer`).
fn read_example(op: &Operation) -> Option<Map<String, Value>> {
    match documented_example(op)? {
        Value::Object(example) => Some(example.clone()),
        _ => None,
    }
}

/// The example a list operation documents.
fn list_example(op: &Operation) -> Option<Value> {
    documented_example(op).cloned()
}

/// The first JSON media type's first example of the status the store
/// answers for `op`.
fn documented_example(op: &Operation) -> Option<&Value> {
    let status = status_for(op, 200);
    let response = op
        .responses
        .iter()
        .find(|r| r.status == StatusKey::Code(status))?;
    let media = response
        .content
        .iter()
        .find(|m| hmt_openapi::media::is_json(&m.media_type))?;
    media.examples.first().map(|(_, example)| example)
}

fn status_for(op: &Operation, preferred: u16) -> u16 {
    if documents(op, preferred) {
        return preferred;
    }
    op.responses
        .iter()
        .filter_map(|r| match r.status {
            StatusKey::Code(code @ 200..=299) => Some(code),
            _ => None,
        })
        .min()
        .unwrap_or(preferred)
}

/// A success: the object, merged over the documented response; none for
/// a 204.
fn ok(status: u16, object: Value) -> StateAnswer {
    let body = (status != 204).then_some(object);
    StateAnswer {
        status,
        merge_documented: body.is_some(),
        body,
        json: None,
    }
}

fn problem(status: u16, title: &str, detail: String) -> StateAnswer {
    StateAnswer {
        status,
        body: Some(json!({"title": title, "detail": detail})),
        merge_documented: false,
        json: None,
    }
}

fn not_found(at: &Target<'_>, id: &str) -> StateAnswer {
    problem(
        404,
        "not found",
        format!("no {} with {} {id}", at.key, at.resource.id_field),
    )
}

fn full(limit: usize) -> StateAnswer {
    problem(
        507,
        "insufficient storage",
        format!("the stateful mock holds at most {limit} objects; DELETE some or reset the store"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Store>();
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "z": 1});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"a":"z","c":{"d":"e"},"z":1}"#
        );
        merge_patch(&mut doc, &json!({"a": null}));
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"c":{"d":"e"},"z":1}"#
        );
    }
}
