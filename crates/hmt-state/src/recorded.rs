//! Seeding a store from recorded traffic: the store starts with what the
//! upstream held at the end of the recording.
//!
//! Exchanges are taken in recording order. A successful (2xx) `POST` to a
//! collection, `PUT` or `PATCH` of an item, or `GET` of an item stores the
//! object the exchange shows, replacing one with the same id; a `DELETE`
//! of an item removes it. The object is the response's JSON object body,
//! else (`POST` and `PUT` only) the request's; its id is read as the store
//! reads ids, a path's id winning for items, and made as for a create when
//! a `POST` has none. Failed exchanges, lists and other methods change
//! nothing.
//!
//! An object the spec's schema for the resource refuses is not stored,
//! and [`Recorded::Refused`] says where it was recorded and where in the
//! object the schema refused it. The schema is the one an item read
//! answers with (the item `GET`'s success response), else the `PUT`
//! request body's, else the `POST` response's, else the `POST` request
//! body's.

use crate::infer::Role;
use crate::{Collection, Data, Store, collection_mut, id_path, ids, item_key, typed_id};
use hmt_openapi::Spec;
use hmt_openapi::model::{Operation, StatusKey};
use hmt_openapi::validate::SpecValidators;
use hmt_types::{Exchange, Method};
use jsonschema::Validator;
use serde_json::Value;

/// What one recorded exchange did to the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// No resource of this store has the exchange's path: it is another
    /// store's, or nobody's.
    NotMine,
    /// An object was stored (or replaced one with the same id).
    Stored,
    /// An object was removed.
    Removed,
    /// The exchange is about a resource of this store but shows no change:
    /// a failed request, a list, a read without a JSON object, a `DELETE`
    /// of an object that is not there.
    Unchanged,
    /// The object was not stored; the message says where it was recorded
    /// and why (for a schema refusal, the JSON pointer in the object).
    Refused(String),
}

/// A store's seed being read from recordings: [`RecordingSeed::add`] each
/// exchange in order, then [`RecordingSeed::finish`] stores the result as
/// the store's seed. Made by [`Store::seed_recordings`].
pub struct RecordingSeed<'s> {
    store: &'s Store,
    spec: &'s Spec,
    validators: SpecValidators,
    /// By resource: its objects' schema pointer and validator, found on
    /// first use; `None` inside when the spec has no schema for them.
    schemas: Vec<Option<Option<(String, Validator)>>>,
    /// The store's objects as the exchanges so far leave them.
    data: Data,
    /// Problems that are not about one object (a schema that does not
    /// compile, a full store), each said once.
    warnings: Vec<String>,
    /// Whether the store's limit was reached (and said in `warnings`).
    full: bool,
}

/// Where a recorded path lands in the store.
struct Place {
    resource: usize,
    /// The concrete collection path.
    key: String,
    /// For an item path: its id, decoded.
    id: Option<String>,
}

impl Store {
    /// Starts seeding this store from recorded exchanges of `spec` (the
    /// spec the store was made for).
    pub fn seed_recordings<'s>(&'s self, spec: &'s Spec) -> RecordingSeed<'s> {
        RecordingSeed {
            store: self,
            spec,
            validators: SpecValidators::new(spec),
            schemas: vec![None; self.resources.len()],
            data: self.read().clone(),
            warnings: Vec::new(),
            full: false,
        }
    }

    /// The resource and collection of a recorded path (with or without a
    /// server's base path; a trailing slash ignored), and the item's id
    /// when it is an item path.
    fn place(&self, path: &str) -> Option<Place> {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        let relative = self.base_paths.iter().find_map(|base| {
            path.strip_prefix(base.as_str())
                .filter(|rest| rest.starts_with('/'))
        });
        for path in [Some(path), relative].into_iter().flatten() {
            for (index, (resource, plan)) in self.resources.iter().zip(&self.plans).enumerate() {
                let (values, item) = match hmt_openapi::route::match_segments(&resource.item, path)
                {
                    Some(values) => (values, true),
                    None => match hmt_openapi::route::match_segments(&resource.collection, path) {
                        Some(values) => (values, false),
                        None => continue,
                    },
                };
                let values: Vec<String> = values
                    .iter()
                    .map(|v| hmt_types::percent_decode(v).into_owned())
                    .collect();
                let scope: Vec<&str> = values
                    .iter()
                    .take(plan.scope_params)
                    .map(String::as_str)
                    .collect();
                let id = if item {
                    Some(values.get(plan.scope_params)?.clone())
                } else {
                    None
                };
                return Some(Place {
                    resource: index,
                    key: ids::concrete(&resource.collection, &scope),
                    id,
                });
            }
        }
        None
    }
}

impl RecordingSeed<'_> {
    /// Applies one recorded exchange; `location` names where it was
    /// recorded (`recordings.jsonl:12`) in what [`Recorded::Refused`] says.
    pub fn add(&mut self, location: &str, exchange: &Exchange) -> Recorded {
        let request = &exchange.request;
        let Some(place) = self.store.place(&request.pathname) else {
            return Recorded::NotMine;
        };
        let Some(response) = &exchange.response else {
            return Recorded::Unchanged;
        };
        if !(200..300).contains(&response.status) {
            return Recorded::Unchanged;
        }
        let what = format!(
            "{location}: {} {}",
            request.method.as_str().to_ascii_uppercase(),
            request.pathname
        );
        let answered = json_object(response.body.as_deref());
        let sent = || json_object(request.body.as_deref());
        let object = match (&place.id, request.method) {
            (None, Method::Post) | (Some(_), Method::Put) => answered.or_else(sent),
            (Some(_), Method::Patch | Method::Get) => answered,
            (Some(id), Method::Delete) => return self.remove(&place, id),
            _ => return Recorded::Unchanged,
        };
        match (object, request.method) {
            (Some(object), _) => self.put(&place, object, &what),
            (None, Method::Get) => Recorded::Unchanged,
            (None, Method::Patch) => Recorded::Refused(format!(
                "{what}: not applied to the stateful store: the response has no JSON object body to store"
            )),
            (None, _) => Recorded::Refused(format!(
                "{what}: not stored in the stateful store: neither the response nor the request has a JSON object body"
            )),
        }
    }

    /// Stores the seed read so far as the store's contents and its seed
    /// (what [`Store::reset`] restores). Answers the warnings that are not
    /// about one exchange.
    pub fn finish(self) -> Vec<String> {
        let mut data = self.store.write();
        *data = self.data;
        self.store.keep_as_seed(&data);
        self.warnings
    }

    fn remove(&mut self, place: &Place, raw: &str) -> Recorded {
        let plan = &self.store.plans[place.resource];
        let removed = self
            .data
            .collections
            .get_mut(&place.key)
            .and_then(|c| c.items.shift_remove(&item_key(plan, raw)));
        match removed {
            Some(_) => {
                self.data.objects = self.data.objects.saturating_sub(1);
                Recorded::Removed
            }
            None => Recorded::Unchanged,
        }
    }

    fn put(&mut self, place: &Place, mut object: Value, what: &str) -> Recorded {
        let store = self.store;
        let plan = &store.plans[place.resource];
        let resource = &store.resources[place.resource];
        let example = store
            .read_examples
            .get(place.resource)
            .and_then(Option::as_ref);
        let Data {
            collections,
            objects,
            uuids,
        } = &mut self.data;
        let collection = collection_mut(collections, &place.key, store.limit);
        let path = id_path(plan, &object).to_vec();
        let id = match &place.id {
            // An item's path says its id, whatever the body says.
            Some(raw) => {
                let key = item_key(plan, raw);
                let old = collection
                    .items
                    .get(&key)
                    .and_then(|stored| ids::get_path(&stored.value, id_path(plan, &stored.value)));
                let id = typed_id(plan, raw, old);
                if let Err(message) = ids::set_path(&mut object, &path, id) {
                    return Recorded::Refused(format!("{what}: not stored: {message}"));
                }
                key
            }
            None => match ids::get_path(&object, &path).filter(|v| !v.is_null()) {
                Some(value) => match ids::id_key(value) {
                    Some(key) => key,
                    None => {
                        return Recorded::Refused(format!(
                            "{what}: not stored: the id field `{}` must be a string or a number",
                            path.join(".")
                        ));
                    }
                },
                None => match new_id(resource, plan, collection, uuids, &mut object) {
                    Ok(key) => key,
                    Err(message) => {
                        return Recorded::Refused(format!("{what}: not stored: {message}"));
                    }
                },
            },
        };
        let replaces = collection.items.contains_key(&id);
        if !replaces && *objects >= store.limit {
            if !self.full {
                self.full = true;
                self.warnings.push(format!(
                    "the stateful store holds at most {} objects; new recorded objects from {what} on were not stored",
                    store.limit
                ));
            }
            return Recorded::Refused(format!(
                "{what}: not stored: the store is full ({} objects)",
                store.limit
            ));
        }
        if let Some(refusal) = self.refusal(place.resource, &object) {
            return Recorded::Refused(format!("{what}: not stored: {refusal}"));
        }
        // Borrowed again: `refusal` needed `self`.
        let collection = collection_mut(&mut self.data.collections, &place.key, store.limit);
        if !replaces {
            self.data.objects += 1;
        }
        collection.put(id, object, example);
        Recorded::Stored
    }

    /// Why the spec's schema for the resource's objects refuses `object`:
    /// the JSON pointer in the object, the schema's pointer and the error.
    fn refusal(&mut self, resource: usize, object: &Value) -> Option<String> {
        if self.schemas[resource].is_none() {
            let compiled = match object_schema(self.store, self.spec, resource) {
                None => None,
                Some(pointer) => match self.validators.validator(self.spec, &pointer) {
                    Ok(validator) => Some((pointer, validator)),
                    Err(error) => {
                        self.warnings.push(format!(
                            "{}: the schema at {pointer} does not compile, so recorded {} objects are stored unchecked: {error}",
                            self.spec.file.display(),
                            self.store.resources[resource].collection
                        ));
                        None
                    }
                },
            };
            self.schemas[resource] = Some(compiled);
        }
        let (pointer, validator) = self.schemas[resource].as_ref()?.as_ref()?;
        let error = validator.iter_errors(object).next()?;
        let at = error.instance_path().to_string();
        Some(format!(
            "at {}: {error} (the schema at {}#{pointer})",
            if at.is_empty() { "/" } else { at.as_str() },
            self.spec.file.display()
        ))
    }
}

/// An id made as a create makes one, written into `object`.
fn new_id(
    resource: &crate::Resource,
    plan: &crate::infer::Plan,
    collection: &mut Collection,
    uuids: &mut u64,
    object: &mut Value,
) -> Result<String, String> {
    match crate::assign_id(resource, plan, collection, uuids, object) {
        Ok(id) => Ok(id),
        Err(crate::Refused::BadId(message)) => Err(message),
        Err(crate::Refused::Duplicate(id)) => Err(format!("the id {id} is taken")),
    }
}

/// The body as a JSON object, when it is one.
fn json_object(body: Option<&[u8]>) -> Option<Value> {
    serde_json::from_slice::<Value>(body?)
        .ok()
        .filter(Value::is_object)
}

/// The pointer of the schema a resource's stored objects must meet: what
/// an item read answers, else what a replace sends, else what a create
/// answers, else what it sends.
fn object_schema(store: &Store, spec: &Spec, resource: usize) -> Option<String> {
    let operation = |wanted: fn(&Role) -> bool| {
        spec.operations
            .iter()
            .zip(&store.bindings)
            .find_map(|(op, binding)| {
                binding
                    .as_ref()
                    .filter(|b| b.resource == resource && wanted(&b.role))
                    .map(|_| op)
            })
    };
    let read = operation(|r| matches!(r, Role::Read));
    let replace = operation(|r| matches!(r, Role::Replace));
    let create = operation(|r| matches!(r, Role::Create));
    read.and_then(|op| response_schema(op, 200))
        .or_else(|| replace.and_then(request_schema))
        .or_else(|| create.and_then(|op| response_schema(op, 201)))
        .or_else(|| create.and_then(request_schema))
}

/// The JSON schema pointer of the success response the store answers.
fn response_schema(op: &Operation, preferred: u16) -> Option<String> {
    let status = crate::status_for(op, preferred);
    op.responses
        .iter()
        .find(|r| r.status == StatusKey::Code(status))?
        .content
        .iter()
        .find(|m| hmt_openapi::media::is_json(&m.media_type))?
        .schema_pointer
        .clone()
}

/// The JSON request body schema pointer.
fn request_schema(op: &Operation) -> Option<String> {
    op.request_body
        .as_ref()?
        .content
        .iter()
        .find(|(media, _)| hmt_openapi::media::is_json(media))?
        .1
        .clone()
}
