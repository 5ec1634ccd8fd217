//! The store as http-types: one `POST` per stored object, so that what a
//! stateful mock holds can be saved and given to another as
//! `--recordings`, which seeds its store with the same objects
//! ([`crate::RecordingSeed`] reads a `POST` to a collection as the object
//! its response holds).

use crate::Store;
use hmt_openapi::Spec;
use hmt_types::{Exchange, Method, Protocol, Request, Response};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// The host written when the spec's servers name none.
const LOCAL_HOST: &str = "localhost";

impl Store {
    /// Every stored object with its concrete collection path, sorted by
    /// collection path, then by id (integer ids by value, before other
    /// ids; others as text), so the same store always exports the same
    /// bytes whatever order the objects came in.
    pub fn objects_by_id(&self) -> Vec<(String, Value)> {
        let data = self.read();
        let mut out = Vec::with_capacity(data.objects);
        for (path, collection) in &data.collections {
            let mut items: Vec<(&String, &Value)> = collection
                .items
                .iter()
                .map(|(id, stored)| (id, &stored.value))
                .collect();
            items.sort_by(|a, b| compare_ids(a.0, b.0));
            out.extend(items.into_iter().map(|(_, v)| (path.clone(), v.clone())));
        }
        out
    }

    /// What the store holds as http-types exchanges: per object of
    /// [`Store::objects_by_id`], a `POST` of it as JSON to its collection
    /// (under the spec's first server's host and base path, `localhost`
    /// when it names no host) answered `201` with the same body.
    pub fn to_http_types(&self, spec: &Spec) -> Vec<Exchange> {
        let server = spec.servers.first();
        let host = server
            .and_then(|s| s.host.clone())
            .unwrap_or_else(|| LOCAL_HOST.to_owned());
        let base = server.map_or("", |s| s.base_path.as_str());
        self.objects_by_id()
            .into_iter()
            .map(|(collection, object)| {
                let body = serde_json::to_vec(&object).unwrap_or_default();
                let mut request = Request::new(Method::Post, &format!("{base}{collection}"));
                request.protocol = Some(Protocol::Http);
                request.host = Some(host.clone());
                request.headers.append("content-type", "application/json");
                request.body = Some(body.clone());
                let mut response = Response::new(201);
                response.headers.append("content-type", "application/json");
                response.body = Some(body);
                Exchange {
                    request,
                    response: Some(response),
                    meta: Map::new(),
                }
            })
            .collect()
    }
}

/// Integer ids by value and first, then other ids as text.
fn compare_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_sort_by_value_before_text() {
        let mut ids = vec!["b", "10", "2", "a", "-1"];
        ids.sort_by(|a, b| compare_ids(a, b));
        assert_eq!(ids, ["-1", "2", "10", "a", "b"]);
    }
}
