//! Odd requests, seeds and recorded exchanges never panic the store, never
//! take it over its limit, and are answered with statuses a client can act
//! on (or, for recordings, a refusal that says where).

mod common;

use hmt_state::{Recorded, StateRequest, Store};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9/~%-]{0,6}".prop_map(Value::from),
        prop_oneof![
            Just("id"),
            Just("name"),
            Just("metadata"),
            Just("/id"),
            Just("/tags/-")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("name".to_owned()),
                        Just("metadata".to_owned()),
                        Just("op".to_owned()),
                        Just("path".to_owned()),
                        Just("from".to_owned()),
                        Just("value".to_owned()),
                        Just("orderId".to_owned()),
                        "[a-z]{1,4}",
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// JSON Patch documents that are mostly well-formed.
fn json_patch() -> impl Strategy<Value = Value> {
    let op = (
        prop_oneof![
            Just("add"),
            Just("remove"),
            Just("replace"),
            Just("move"),
            Just("copy"),
            Just("test"),
            Just("nope")
        ],
        prop_oneof![
            Just(""),
            Just("/id"),
            Just("/name"),
            Just("/metadata/name"),
            Just("/tags/0"),
            Just("/x/y"),
            Just("/-")
        ],
        prop_oneof![Just("/id"), Just("/name"), Just(""), Just("/metadata")],
        json_value(),
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        );
    prop::collection::vec(op, 0..4).prop_map(Value::Array)
}

/// Objects much like what clients store, ids often clashing.
fn plausible_object() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        Just(Value::Null),
        (1i64..4).prop_map(Value::from),
        "[1-3]".prop_map(Value::from)
    ];
    (id, prop::option::of("[a-z]{1,3}"), any::<bool>()).prop_map(|(id, name, nested)| {
        let mut object = serde_json::Map::new();
        if !id.is_null() {
            object.insert("id".into(), id.clone());
            object.insert("orderId".into(), id.clone());
        }
        if let Some(name) = name {
            object.insert("name".into(), Value::from(name));
        }
        if nested {
            object.insert("metadata".into(), json!({"name": id}));
        }
        Value::Object(object)
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => plausible_object().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        2 => json_patch().prop_map(|v| v.to_string().into_bytes()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,3}",
        "[1-3]",
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("".to_owned()),
        "\\PC{0,6}",
        Just("a/b%2F?#".to_owned()),
    ]
}

#[derive(Debug, Clone)]
struct Request {
    operation: usize,
    /// Path parameters named as the operation's template names them, with
    /// `params`' values; else `params` as they are.
    realistic: bool,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = Request> {
    let names = prop_oneof![
        Just("petId"),
        Just("namespace"),
        Just("name"),
        Just("userId"),
        Just("orderId"),
        Just("user_id"),
        Just("other"),
    ];
    let query_names = prop_oneof![
        Just("limit"),
        Just("offset"),
        Just("page"),
        Just("per_page"),
        Just("status"),
        Just("item"),
        Just("tags"),
        Just("q"),
    ];
    (
        0usize..12,
        prop::bool::weighted(0.8),
        prop::collection::vec((names.prop_map(str::to_owned), text()), 0..4),
        prop::collection::vec((query_names.prop_map(str::to_owned), text()), 0..4),
        prop_oneof![
            Just(None),
            Just(Some("application/json".to_owned())),
            Just(Some("application/json-patch+json".to_owned())),
            Just(Some(
                "application/merge-patch+json; charset=utf-8".to_owned()
            )),
            Just(Some("text/plain".to_owned())),
        ],
        body(),
    )
        .prop_map(
            |(operation, realistic, params, query, content_type, body)| Request {
                operation,
                realistic,
                params,
                query,
                content_type,
                body,
            },
        )
}

const LIMIT: usize = 3;

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn odd_requests_and_seeds_are_answered_without_panics(
        which in 0usize..3,
        requests in prop::collection::vec(request(), 1..32),
        seeds in prop::collection::vec((
            prop_oneof![
                Just("/pets".to_owned()),
                Just("/users/1/orders".to_owned()),
                Just("/api/v1/namespaces/x/pods".to_owned()),
                "/\\PC{0,8}",
            ],
            prop::collection::vec(json_value(), 0..3),
        ), 0..3),
    ) {
        let document = [common::petstore(), common::kubernetes(), common::shop()][which].clone();
        let spec = common::spec(document);
        let store = Store::new(&spec).with_limit(LIMIT);
        let mut managed = 0;
        for r in &requests {
            let params = match spec.operations.get(r.operation) {
                Some(op) if r.realistic => op
                    .template
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}'))
                    .enumerate()
                    .map(|(i, (name, _))| {
                        let value = r.params.get(i).map_or("1", |(_, v)| v.as_str());
                        (name.to_owned(), value.to_owned())
                    })
                    .collect(),
                _ => r.params.clone(),
            };
            let answer = store.handle(&StateRequest {
                spec: &spec,
                operation: r.operation,
                params: &params,
                query: &r.query,
                content_type: r.content_type.as_deref(),
                body: &r.body,
            });
            if let Some(answer) = answer {
                managed += 1;
                if std::env::var_os("HMT_STATE_COVERAGE").is_some() {
                    eprintln!("status {}", answer.status);
                }
                prop_assert!(
                    [200, 201, 202, 204, 400, 404, 409, 422, 507].contains(&answer.status),
                    "{answer:?}"
                );
                if answer.merge_documented {
                    prop_assert!(answer.value().as_ref().is_some_and(Value::is_object), "{answer:?}");
                }
                if answer.status >= 400 {
                    let body = answer.value().unwrap_or(Value::Null);
                    prop_assert!(body["detail"].is_string(), "{body}");
                }
            }
        }
        if std::env::var_os("HMT_STATE_COVERAGE").is_some() {
            eprintln!("managed {managed} of {}", requests.len());
        }
        // The seed is what the store held after its last seed that
        // stored something, else nothing.
        let mut seeded = json!({});
        for (path, objects) in seeds {
            if store.seed(&path, objects).is_ok() {
                seeded = store.to_json();
            }
        }
        prop_assert!(store.len() <= LIMIT);
        let stored: usize = store
            .to_json()
            .as_object()
            .unwrap()
            .values()
            .map(|list| list.as_array().map_or(0, Vec::len))
            .sum();
        prop_assert_eq!(stored, store.len());
        store.clear();
        prop_assert!(store.is_empty());
        store.reset();
        prop_assert_eq!(store.to_json(), seeded);
    }

    #[test]
    fn odd_recorded_exchanges_seed_without_panics(
        which in 0usize..3,
        exchanges in prop::collection::vec((
            prop_oneof![Just("get"), Just("post"), Just("put"), Just("patch"), Just("delete"), Just("head")],
            prop_oneof![
                Just("/pets".to_owned()),
                Just("/v1/pets/".to_owned()),
                text().prop_map(|id| format!("/pets/{id}")),
                text().prop_map(|id| format!("/v1/pets/{id}")),
                text().prop_map(|n| format!("/api/v1/namespaces/{n}/pods")),
                text().prop_map(|n| format!("/api/v1/namespaces/x/pods/{n}")),
                text().prop_map(|u| format!("/users/{u}/orders")),
                "/\\PC{0,8}",
            ],
            prop_oneof![Just(200u16), Just(201), Just(204), Just(404), Just(500)],
            prop::option::of(body()),
            prop::option::of(body()),
        ), 0..24),
    ) {
        let document = [common::petstore(), common::kubernetes(), common::shop()][which].clone();
        let spec = common::spec(document);
        let store = Store::new(&spec).with_limit(LIMIT);
        let mut seed = store.seed_recordings(&spec);
        for (line, (method, path, status, request, response)) in exchanges.iter().enumerate() {
            let mut recorded = hmt_types::Request::new(hmt_types::Method::parse(method).unwrap(), path);
            recorded.body = request.clone();
            let mut answered = hmt_types::Response::new(*status);
            answered.body = response.clone();
            let exchange = hmt_types::Exchange {
                request: recorded,
                response: Some(answered),
                meta: Default::default(),
            };
            if let Recorded::Refused(why) = seed.add(&format!("rec.jsonl:{}", line + 1), &exchange) {
                let prefix = format!("rec.jsonl:{}: ", line + 1);
                prop_assert!(why.starts_with(&prefix), "{why}");
            }
        }
        let _ = seed.finish();
        prop_assert!(store.len() <= LIMIT);
        let stored: usize = store
            .to_json()
            .as_object()
            .unwrap()
            .values()
            .map(|list| list.as_array().map_or(0, Vec::len))
            .sum();
        prop_assert_eq!(stored, store.len());
        let exported = store.to_http_types(&spec);
        prop_assert_eq!(exported.len(), store.len());
    }
}
