//! What a client of `hmt mock --stateful` sees: each test sends requests
//! as the mock routes them and checks the statuses and bodies.

mod common;

use common::{Api, kubernetes, petstore, shop};
use hmt_state::{IdKind, IdSource, StateError, Store};
use serde_json::{Value, json};

fn summary(store: &Store) -> Vec<(String, String, String, IdSource, IdKind)> {
    store
        .resources()
        .iter()
        .map(|r| {
            (
                r.collection.clone(),
                r.item.clone(),
                r.id_field.clone(),
                r.id_source,
                r.id_kind,
            )
        })
        .collect()
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn resources_are_inferred_from_collection_and_item_paths() {
    let cases = [
        (
            petstore(),
            vec![(
                s("/pets"),
                s("/pets/{petId}"),
                s("id"),
                IdSource::Schema,
                IdKind::Integer,
            )],
        ),
        (
            kubernetes(),
            vec![(
                s("/api/v1/namespaces/{namespace}/pods"),
                s("/api/v1/namespaces/{namespace}/pods/{name}"),
                s("metadata.name"),
                IdSource::Schema,
                IdKind::String,
            )],
        ),
        (
            shop(),
            vec![
                (
                    s("/users"),
                    s("/users/{user_id}"),
                    s("id"),
                    IdSource::Schema,
                    IdKind::Integer,
                ),
                (
                    s("/users/{userId}/orders"),
                    s("/users/{userId}/orders/{orderId}"),
                    s("orderId"),
                    IdSource::Schema,
                    IdKind::Uuid,
                ),
            ],
        ),
    ];
    for (document, expected) in cases {
        let api = Api::new(document);
        assert_eq!(summary(&api.store), expected);
    }
}

#[test]
fn a_created_pet_is_read_back_and_listed() {
    let api = Api::new(petstore());
    let (status, created) = api.call(
        "POST",
        "/v1/pets",
        Some(json!({"name": "Rex", "tags": ["good"]})),
    );
    assert_eq!(status, 201);
    assert_eq!(
        created.to_string(),
        r#"{"id":1,"name":"Rex","tags":["good"]}"#,
        "the id comes first"
    );
    let answer = api
        .send(
            "POST",
            "/v1/pets",
            Some("application/json"),
            br#"{"name":"Tom"}"#,
        )
        .unwrap();
    assert_eq!(answer.status, 201);
    assert_eq!(answer.value(), Some(json!({"id": 2, "name": "Tom"})));
    assert!(
        answer.merge_documented,
        "documented fields fill in the rest"
    );
    let read = api.send("GET", "/v1/pets/1", None, b"").unwrap();
    assert_eq!(read.status, 200);
    assert_eq!(read.value(), Some(created.clone()));
    // A read answers bytes merged over the example when the object was
    // stored; there is nothing left for the mock to merge.
    assert!(!read.merge_documented && read.json.is_some() && read.body.is_none());
    let list = api.send("GET", "/v1/pets", None, b"").unwrap();
    assert_eq!(list.status, 200);
    assert_eq!(
        list.value(),
        Some(json!([created, {"id": 2, "name": "Tom"}]))
    );
    assert!(!list.merge_documented, "an array is not merged");
}

#[test]
fn ids_are_taken_from_bodies_or_made_from_the_parameter_schema() {
    let api = Api::new(petstore());
    // Integers: a sequence per collection, skipping ids clients chose.
    let cases = [
        (
            json!({"id": 2, "name": "a"}),
            201,
            json!({"id": 2, "name": "a"}),
        ),
        (json!({"name": "b"}), 201, json!({"id": 1, "name": "b"})),
        (json!({"name": "c"}), 201, json!({"id": 3, "name": "c"})),
        (
            json!({"id": null, "name": "d"}),
            201,
            json!({"id": 4, "name": "d"}),
        ),
        (
            json!({"id": "x9", "name": "e"}),
            201,
            json!({"id": "x9", "name": "e"}),
        ),
    ];
    for (body, status, expected) in cases {
        assert_eq!(
            api.call("POST", "/v1/pets", Some(body.clone())),
            (status, expected),
            "{body}"
        );
    }

    // UUIDs: version 4 layout, the same on every run and after a reset.
    let shop = Api::new(shop());
    let first = shop
        .call("POST", "/users/1/orders", Some(json!({"item": "tea"})))
        .1;
    let id = first["orderId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4', "{id}");
    let second = shop
        .call("POST", "/users/1/orders", Some(json!({"item": "jam"})))
        .1;
    assert_ne!(second["orderId"], first["orderId"]);
    assert_eq!(
        Api::new(common::shop())
            .call("POST", "/users/1/orders", Some(json!({"item": "tea"})))
            .1,
        first,
        "another store makes the same ids"
    );
    shop.store.reset();
    assert_eq!(
        shop.call("POST", "/users/1/orders", Some(json!({"item": "tea"})))
            .1,
        first
    );

    // Kubernetes: the id lives at metadata.name, made when absent.
    let k8s = Api::new(kubernetes());
    let (status, pod) = k8s.call(
        "POST",
        "/api/v1/namespaces/default/pods",
        Some(json!({"kind": "Pod", "spec": {}})),
    );
    assert_eq!(status, 201);
    assert_eq!(
        pod,
        json!({"kind": "Pod", "spec": {}, "metadata": {"name": "1"}})
    );
    assert_eq!(
        k8s.call("GET", "/api/v1/namespaces/default/pods/1", None),
        (200, pod)
    );
}

#[test]
fn a_duplicate_id_is_a_conflict() {
    let api = Api::new(petstore());
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"id": 7, "name": "a"})))
            .0,
        201
    );
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"id": 7, "name": "b"}))),
        (
            409,
            json!({"title": "conflict", "detail": "/pets already has id 7"})
        )
    );
    let k8s = Api::new(kubernetes());
    let web = json!({"metadata": {"name": "web"}});
    assert_eq!(
        k8s.call("POST", "/api/v1/namespaces/a/pods", Some(web.clone()))
            .0,
        201
    );
    assert_eq!(
        k8s.call("POST", "/api/v1/namespaces/a/pods", Some(web.clone()))
            .0,
        409
    );
    assert_eq!(
        k8s.call("POST", "/api/v1/namespaces/b/pods", Some(web)).0,
        201,
        "another namespace is another collection"
    );
}

#[test]
fn nested_collections_are_scoped_by_their_parents() {
    let api = Api::new(shop());
    let mine = api
        .call("POST", "/users/1/orders", Some(json!({"item": "tea"})))
        .1;
    let theirs = api
        .call("POST", "/users/2/orders", Some(json!({"item": "jam"})))
        .1;
    let (mine_id, theirs_id) = (
        mine["orderId"].as_str().unwrap(),
        theirs["orderId"].as_str().unwrap(),
    );
    assert_eq!(
        api.call("GET", "/users/1/orders", None).1["data"],
        json!([mine])
    );
    assert_eq!(
        api.call("GET", "/users/2/orders", None).1["data"],
        json!([theirs])
    );
    assert_eq!(
        api.call("GET", "/users/3/orders", None).1["data"],
        json!([])
    );
    assert_eq!(
        api.call("GET", &format!("/users/1/orders/{mine_id}"), None)
            .0,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/users/2/orders/{mine_id}"), None),
        (
            404,
            json!({"title": "not found", "detail": format!("no /users/2/orders with orderId {mine_id}")})
        )
    );
    assert_eq!(
        api.call("DELETE", &format!("/users/1/orders/{theirs_id}"), None)
            .0,
        404
    );
    assert_eq!(
        api.store.to_json(),
        json!({"/users/1/orders": [mine], "/users/2/orders": [theirs]})
    );
}

#[test]
fn lists_page_and_filter_by_what_the_operation_declares() {
    let api = Api::new(petstore());
    for (name, status, tags) in [
        ("a", "sold", json!(["x"])),
        ("b", "available", json!(["y"])),
        ("c", "sold", json!(["x", "y"])),
        ("d", "available", json!([])),
    ] {
        api.call(
            "POST",
            "/v1/pets",
            Some(json!({"name": name, "status": status, "tags": tags})),
        );
    }
    let names = |target: &str| -> Vec<String> {
        let (status, body) = api.call("GET", target, None);
        assert_eq!(status, 200, "{target}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: [(&str, &[&str]); 11] = [
        ("/v1/pets", &["a", "b", "c", "d"]),
        ("/v1/pets?limit=2", &["a", "b"]),
        ("/v1/pets?limit=2&offset=1", &["b", "c"]),
        ("/v1/pets?offset=3", &["d"]),
        ("/v1/pets?offset=9", &[]),
        ("/v1/pets?limit=0", &[]),
        ("/v1/pets?status=sold", &["a", "c"]),
        (
            "/v1/pets?status=sold&status=available&limit=3",
            &["a", "b", "c"],
        ),
        ("/v1/pets?status=lost", &[]),
        ("/v1/pets?tags=y", &["b", "c"]),
        // `name` is a field but not a declared parameter: no filter.
        ("/v1/pets?name=a", &["a", "b", "c", "d"]),
    ];
    for (target, expected) in cases {
        assert_eq!(names(target), expected, "{target}");
    }
}

#[test]
fn wrapped_lists_go_under_their_array_property_with_counts() {
    let api = Api::new(shop());
    for item in ["a", "b", "c", "b", "e"] {
        api.call("POST", "/users/1/orders", Some(json!({"item": item})));
    }
    let page = |target: &str| -> (Vec<String>, Value) {
        let answer = api.send("GET", target, None, b"").unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.merge_documented, "`next` comes from the spec");
        let body = answer.value().unwrap();
        let items = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["item"].as_str().unwrap().to_owned())
            .collect();
        (items, body["total"].clone())
    };
    let cases: [(&str, &[&str], i64); 6] = [
        // per_page defaults to 2 in the schema.
        ("/users/1/orders", &["a", "b"], 5),
        ("/users/1/orders?page=2", &["c", "b"], 5),
        ("/users/1/orders?page=3", &["e"], 5),
        ("/users/1/orders?page=4", &[], 5),
        (
            "/users/1/orders?page=1&per_page=10",
            &["a", "b", "c", "b", "e"],
            5,
        ),
        ("/users/1/orders?item=b&per_page=1&page=2", &["b"], 2),
    ];
    for (target, items, total) in cases {
        assert_eq!(
            page(target),
            (items.iter().map(|s| s.to_string()).collect(), json!(total)),
            "{target}"
        );
    }
    let body = api.call("GET", "/users/1/orders", None).1;
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["data", "total"],
        "only what the store knows; the mock merges the rest"
    );

    let k8s = Api::new(kubernetes());
    for name in ["a", "b", "c"] {
        k8s.call(
            "POST",
            "/api/v1/namespaces/default/pods",
            Some(json!({"metadata": {"name": name}})),
        );
    }
    let answer = k8s
        .send("GET", "/api/v1/namespaces/default/pods?limit=2", None, b"")
        .unwrap();
    assert_eq!(
        (answer.status, answer.value(), answer.merge_documented),
        (
            200,
            Some(json!({"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]})),
            true
        )
    );
}

#[test]
fn missing_items_are_404_for_every_item_operation() {
    let api = Api::new(petstore());
    api.call("POST", "/v1/pets", Some(json!({"name": "Rex"})));
    let not_found = json!({"title": "not found", "detail": "no /pets with id 9"});
    let cases = [
        ("GET", None, None),
        (
            "PATCH",
            Some("application/merge-patch+json"),
            Some(json!({"name": "x"})),
        ),
        (
            "PATCH",
            Some("application/json-patch+json"),
            Some(json!([])),
        ),
        ("DELETE", None, None),
    ];
    for (method, content_type, body) in cases {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let answer = api
            .send(method, "/v1/pets/9", content_type, bytes.as_bytes())
            .unwrap();
        assert_eq!(
            (answer.status, answer.value()),
            (404, Some(not_found.clone())),
            "{method}"
        );
        assert!(!answer.merge_documented);
    }
    let k8s = Api::new(kubernetes());
    assert_eq!(
        k8s.call("GET", "/api/v1/namespaces/default/pods/web", None)
            .1["detail"],
        "no /api/v1/namespaces/default/pods with metadata.name web"
    );
}

#[test]
fn put_replaces_or_creates_with_the_path_id() {
    let api = Api::new(petstore());
    api.call(
        "POST",
        "/v1/pets",
        Some(json!({"name": "Rex", "status": "sold"})),
    );
    assert_eq!(
        api.call("PUT", "/v1/pets/1", Some(json!({"id": 99, "name": "Max"}))),
        (200, json!({"id": 1, "name": "Max"})),
        "replaced whole, the id forced to the path's"
    );
    // Only 200 is documented: a create answers 200.
    assert_eq!(
        api.call("PUT", "/v1/pets/5", Some(json!({"name": "New"}))),
        (200, json!({"id": 5, "name": "New"}))
    );
    assert_eq!(
        api.call("GET", "/v1/pets", None).1,
        json!([{"id": 1, "name": "Max"}, {"id": 5, "name": "New"}])
    );
    // 201 is documented: a create answers 201, a replace 200.
    let k8s = Api::new(kubernetes());
    let path = "/api/v1/namespaces/default/pods/web";
    let pod = json!({"kind": "Pod", "spec": {"image": "nginx"}});
    let created = json!({"kind": "Pod", "spec": {"image": "nginx"}, "metadata": {"name": "web"}});
    assert_eq!(
        k8s.call("PUT", path, Some(pod.clone())),
        (201, created.clone())
    );
    assert_eq!(k8s.call("PUT", path, Some(pod)), (200, created));
}

#[test]
fn json_patch_and_merge_patch_change_stored_items() {
    let api = Api::new(petstore());
    api.call(
        "POST",
        "/v1/pets",
        Some(json!({"name": "Rex", "status": "sold", "tags": ["a"]})),
    );
    let patch = |content_type: &str, body: Value| {
        let answer = api
            .send(
                "PATCH",
                "/v1/pets/1",
                Some(content_type),
                body.to_string().as_bytes(),
            )
            .unwrap();
        (answer.status, answer.value().unwrap())
    };
    let jp = "application/json-patch+json";
    let mp = "application/merge-patch+json";
    let cases = [
        (
            jp,
            json!([
                {"op": "test", "path": "/name", "value": "Rex"},
                {"op": "replace", "path": "/name", "value": "Max"},
                {"op": "add", "path": "/tags/-", "value": "b"},
                {"op": "copy", "from": "/status", "path": "/previous"},
                {"op": "move", "from": "/previous", "path": "/was"},
                {"op": "remove", "path": "/status"}
            ]),
            200,
            json!({"id": 1, "name": "Max", "tags": ["a", "b"], "was": "sold"}),
        ),
        (
            mp,
            json!({"was": null, "status": "available", "tags": ["c"]}),
            200,
            json!({"id": 1, "name": "Max", "tags": ["c"], "status": "available"}),
        ),
        (
            jp,
            json!([{"op": "test", "path": "/name", "value": "Rex"}]),
            409,
            json!({"title": "conflict", "detail": "operation 0 (test) at \"/name\": value did not match"}),
        ),
        (
            jp,
            json!([
                {"op": "replace", "path": "/name", "value": "Lost"},
                {"op": "remove", "path": "/owner/name"}
            ]),
            422,
            json!({"title": "unprocessable entity", "detail": "operation 1 (remove) at \"/owner/name\": path is invalid"}),
        ),
        (
            jp,
            json!([{"op": "frobnicate", "path": "/name"}]),
            400,
            Value::Null,
        ),
        (
            mp,
            json!(["not", "an", "object"]),
            422,
            json!({"title": "unprocessable entity", "detail": "the patched document is not a JSON object"}),
        ),
        // The id cannot be patched away or changed.
        (
            jp,
            json!([{"op": "remove", "path": "/id"}]),
            200,
            json!({"id": 1, "name": "Max", "tags": ["c"], "status": "available"}),
        ),
        (
            mp,
            json!({"id": 42}),
            200,
            json!({"id": 1, "name": "Max", "tags": ["c"], "status": "available"}),
        ),
    ];
    for (content_type, body, status, expected) in cases {
        let (got_status, got) = patch(content_type, body.clone());
        assert_eq!(got_status, status, "{body}: {got}");
        if expected.is_null() {
            assert_eq!(got["title"], "bad request", "{got}");
        } else {
            assert_eq!(got, expected, "{body}");
        }
    }
    assert_eq!(
        api.call("GET", "/v1/pets/1", None).1,
        json!({"id": 1, "name": "Max", "tags": ["c"], "status": "available"}),
        "failed patches changed nothing"
    );
}

#[test]
fn deleted_items_are_gone() {
    let api = Api::new(petstore());
    api.call("POST", "/v1/pets", Some(json!({"name": "Rex"})));
    api.call("POST", "/v1/pets", Some(json!({"name": "Tom"})));
    let answer = api.send("DELETE", "/v1/pets/1", None, b"").unwrap();
    assert_eq!(
        (answer.status, answer.value()),
        (204, None),
        "204 has no body"
    );
    assert_eq!(api.call("GET", "/v1/pets/1", None).0, 404);
    assert_eq!(api.call("DELETE", "/v1/pets/1", None).0, 404);
    assert_eq!(
        api.call("GET", "/v1/pets", None).1,
        json!([{"id": 2, "name": "Tom"}])
    );
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "Kit"}))).1["id"],
        3,
        "ids are not reused"
    );
    // No 204 documented: the lowest 2xx, with the deleted object.
    let k8s = Api::new(kubernetes());
    let pod = json!({"metadata": {"name": "web"}});
    k8s.call("POST", "/api/v1/namespaces/default/pods", Some(pod.clone()));
    assert_eq!(
        k8s.call("DELETE", "/api/v1/namespaces/default/pods/web", None),
        (200, pod)
    );
    assert_eq!(
        k8s.call("GET", "/api/v1/namespaces/default/pods/web", None)
            .0,
        404
    );
}

#[test]
fn reset_without_seeds_forgets_everything_and_restarts_ids() {
    let api = Api::new(petstore());
    api.call("POST", "/v1/pets", Some(json!({"name": "Rex"})));
    api.call("POST", "/v1/pets", Some(json!({"name": "Tom"})));
    assert_eq!(api.store.len(), 2);
    api.store.reset();
    assert!(api.store.is_empty());
    assert_eq!(api.store.to_json(), json!({}));
    assert_eq!(api.call("GET", "/v1/pets", None).1, json!([]));
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "Kit"}))).1,
        json!({"id": 1, "name": "Kit"})
    );
}

#[test]
fn seeding_stores_objects_all_or_nothing() {
    let api = Api::new(petstore());
    assert_eq!(
        api.store.seed(
            "/pets",
            vec![
                json!({"name": "a"}),
                json!({"id": 5, "name": "b"}),
                json!({"name": "c"})
            ]
        ),
        Ok(3)
    );
    assert_eq!(
        api.call("GET", "/v1/pets", None).1,
        json!([{"id": 1, "name": "a"}, {"id": 5, "name": "b"}, {"id": 2, "name": "c"}])
    );
    assert_eq!(
        api.store.seed("/v1/pets/", vec![json!({"name": "d"})]),
        Ok(1),
        "with the base path"
    );
    let errors = [
        (
            "/pets",
            vec![json!({"name": "e"}), json!([1])],
            StateError::NotAnObject { index: 1 },
        ),
        (
            "/pets",
            vec![json!({"name": "e"}), json!({"id": 5})],
            StateError::Duplicate {
                index: 1,
                collection: s("/pets"),
                field: s("id"),
                id: s("5"),
            },
        ),
        (
            "/pets",
            vec![json!({"id": 40}), json!({"id": 40})],
            StateError::Duplicate {
                index: 1,
                collection: s("/pets"),
                field: s("id"),
                id: s("40"),
            },
        ),
        (
            "/pets",
            vec![json!({"id": {"no": 1}})],
            StateError::BadId {
                index: 0,
                message: s("the id field `id` must be a string or a number"),
            },
        ),
        (
            "/cats",
            vec![json!({})],
            StateError::UnknownCollection {
                path: s("/cats"),
                known: s("/pets"),
            },
        ),
        (
            "/pets/1",
            vec![json!({})],
            StateError::UnknownCollection {
                path: s("/pets/1"),
                known: s("/pets"),
            },
        ),
    ];
    for (path, objects, error) in errors {
        assert_eq!(api.store.seed(path, objects), Err(error));
    }
    assert_eq!(api.store.len(), 4, "failed seeds stored nothing");
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "f"}))).1["id"],
        4,
        "a failed seed used no ids"
    );

    let shop = Api::new(shop());
    assert_eq!(
        shop.store.seed(
            "/users/7/orders",
            vec![json!({"orderId": "o-1", "item": "tea"})]
        ),
        Ok(1)
    );
    assert_eq!(
        shop.call("GET", "/users/7/orders/o-1", None),
        (200, json!({"orderId": "o-1", "item": "tea"}))
    );
    let k8s = Api::new(kubernetes());
    assert_eq!(
        k8s.store.seed(
            "/api/v1/namespaces/kube-system/pods",
            vec![json!({"metadata": {"name": "dns"}})]
        ),
        Ok(1)
    );
    assert_eq!(
        k8s.call("GET", "/api/v1/namespaces/kube-system/pods/dns", None)
            .0,
        200
    );
}

#[test]
fn the_store_is_bounded() {
    let api = Api::with_store(petstore(), |store| store.with_limit(2));
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "a"}))).0,
        201
    );
    assert_eq!(
        api.call("PUT", "/v1/pets/9", Some(json!({"name": "b"}))).0,
        200
    );
    let full = json!({
        "title": "insufficient storage",
        "detail": "the stateful mock holds at most 2 objects; DELETE some or reset the store"
    });
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "c"}))),
        (507, full.clone())
    );
    assert_eq!(
        api.call("PUT", "/v1/pets/10", Some(json!({"name": "c"}))),
        (507, full)
    );
    assert_eq!(
        api.call("PUT", "/v1/pets/9", Some(json!({"name": "B"}))).0,
        200,
        "replacing is fine"
    );
    assert_eq!(
        api.store.seed("/pets", vec![json!({})]),
        Err(StateError::Full { limit: 2 })
    );
    api.call("DELETE", "/v1/pets/1", None);
    assert_eq!(
        api.call("POST", "/v1/pets", Some(json!({"name": "c"}))).0,
        201
    );
    assert_eq!(api.store.len(), 2);
}

#[test]
fn to_json_is_the_same_for_the_same_requests() {
    let run = || {
        let api = Api::new(shop());
        api.call("POST", "/users/2/orders", Some(json!({"item": "b"})));
        api.call("POST", "/users", Some(json!({"name": "ann"})));
        api.call("POST", "/users/1/orders", Some(json!({"item": "a"})));
        api.call("POST", "/users/2/orders", Some(json!({"item": "c"})));
        serde_json::to_string(&api.store.to_json()).unwrap()
    };
    let first = run();
    assert_eq!(first, run());
    let value: Value = serde_json::from_str(&first).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["/users", "/users/1/orders", "/users/2/orders"],
        "sorted by path"
    );
    let items: Vec<&Value> = value["/users/2/orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["item"])
        .collect();
    assert_eq!(items, [&json!("b"), &json!("c")], "insertion order");
    assert_eq!(value["/users"], json!([{"id": 1, "name": "ann"}]));
}

#[test]
fn bodies_that_are_not_json_objects_are_400() {
    let api = Api::new(petstore());
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "POST",
            b"",
            "the body is empty; the stateful mock stores JSON objects",
        ),
        (
            "POST",
            b"[1, 2]",
            "the body is not a JSON object; the stateful mock stores JSON objects",
        ),
        (
            "POST",
            b"\"pet\"",
            "the body is not a JSON object; the stateful mock stores JSON objects",
        ),
        (
            "PUT",
            b"null",
            "the body is not a JSON object; the stateful mock stores JSON objects",
        ),
        (
            "POST",
            b"{\"name\": ",
            "the body is not JSON: EOF while parsing a value at line 1 column 9",
        ),
    ];
    for (method, body, detail) in cases {
        let target = if method == "PUT" {
            "/v1/pets/1"
        } else {
            "/v1/pets"
        };
        let answer = api
            .send(method, target, Some("application/json"), body)
            .unwrap();
        assert_eq!(
            (answer.status, answer.value()),
            (400, Some(json!({"title": "bad request", "detail": detail}))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let k8s = Api::new(kubernetes());
    assert_eq!(
        k8s.call(
            "POST",
            "/api/v1/namespaces/a/pods",
            Some(json!({"metadata": "web"}))
        ),
        (
            400,
            json!({"title": "bad request", "detail": "cannot write the id: `metadata` is not an object"})
        )
    );
    assert!(api.store.is_empty());
}

#[test]
fn operations_it_does_not_manage_are_left_to_the_mock() {
    let api = Api::new(petstore());
    api.call("POST", "/v1/pets", Some(json!({"name": "Rex"})));
    assert_eq!(api.send("POST", "/v1/pets/1/adopt", None, b""), None);
    // A request from another spec whose operation index means something
    // else there.
    let other = common::spec(json!({
        "openapi": "3.1.0", "info": {"title": "x", "version": "1"},
        "paths": {"/health": {"get": {"responses": {"200": {"description": "ok"}}}}}
    }));
    let request = hmt_state::StateRequest {
        spec: &other,
        operation: 0,
        params: &[],
        query: &[],
        content_type: None,
        body: b"",
    };
    assert_eq!(api.store.handle(&request), None);
    assert_eq!(Store::new(&other).resources(), []);
}

#[test]
fn ids_follow_the_extension_or_are_guessed_without_schemas() {
    let document = json!({
        "openapi": "3.1.0", "info": {"title": "x", "version": "1"},
        "paths": {
            "/things": {"post": {"responses": {"201": {"description": "ok"}}}, "get": {"responses": {"200": {"description": "ok"}}}},
            "/things/{thingId}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/widgets": {"x-hmt-id-path": "spec.serial", "post": {"responses": {"201": {"description": "ok"}}}},
            "/widgets/{serial}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/boxes": {"post": {"responses": {"201": {"description": "ok"}}}},
            "/boxes/{name}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/readonly": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/readonly/{id}": {"get": {"responses": {"200": {"description": "ok"}}}}
        }
    });
    let api = Api::new(document);
    assert_eq!(
        summary(&api.store),
        [
            (
                s("/things"),
                s("/things/{thingId}"),
                s("id"),
                IdSource::Guessed,
                IdKind::String
            ),
            (
                s("/widgets"),
                s("/widgets/{serial}"),
                s("spec.serial"),
                IdSource::Extension,
                IdKind::String
            ),
            (
                s("/boxes"),
                s("/boxes/{name}"),
                s("name"),
                IdSource::Guessed,
                IdKind::String
            ),
        ],
        "no way to create: /readonly is left to the mock"
    );
    let cases = [
        (
            "/things",
            json!({"color": "red"}),
            json!({"id": "1", "color": "red"}),
            "/things/1",
        ),
        (
            "/things",
            json!({"thingId": "t9"}),
            json!({"thingId": "t9"}),
            "/things/t9",
        ),
        (
            "/things",
            json!({"id": "t8"}),
            json!({"id": "t8"}),
            "/things/t8",
        ),
        // An id-like parameter: a name is not the id.
        (
            "/things",
            json!({"name": "bolt"}),
            json!({"id": "2", "name": "bolt"}),
            "/things/2",
        ),
        (
            "/boxes",
            json!({"name": "bolt"}),
            json!({"name": "bolt"}),
            "/boxes/bolt",
        ),
        (
            "/boxes",
            json!({"metadata": {"name": "nut"}}),
            json!({"metadata": {"name": "nut"}}),
            "/boxes/nut",
        ),
        (
            "/boxes",
            json!({"id": "b7"}),
            json!({"id": "b7"}),
            "/boxes/b7",
        ),
        (
            "/boxes",
            json!({"size": 3}),
            json!({"name": "1", "size": 3}),
            "/boxes/1",
        ),
    ];
    for (collection, body, stored, path) in cases {
        assert_eq!(
            api.call("POST", collection, Some(body)),
            (201, stored.clone())
        );
        assert_eq!(api.call("GET", path, None), (200, stored));
    }
    assert_eq!(
        api.call("POST", "/widgets", Some(json!({"spec": {"serial": "W-1"}})))
            .0,
        201
    );
    assert_eq!(api.call("GET", "/widgets/W-1", None).0, 200);
    assert_eq!(
        api.call("POST", "/widgets", Some(json!({}))).1,
        json!({"spec": {"serial": "1"}})
    );
    assert_eq!(api.send("GET", "/readonly/1", None, b""), None);
}

#[test]
fn pages_count_from_one_unless_the_schema_starts_at_zero() {
    let document = |page: Value| {
        json!({
            "openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "paths": {
                "/notes": {
                    "get": {
                        "parameters": [
                            {"name": "page", "in": "query", "schema": page},
                            {"name": "size", "in": "query", "schema": {"type": "integer"}}
                        ],
                        "responses": {"200": {"description": "ok"}}
                    },
                    "post": {"responses": {"201": {"description": "ok"}}}
                },
                "/notes/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                                        "responses": {"200": {"description": "ok"}}}}
            }
        })
    };
    let cases = [
        (
            json!({"type": "integer"}),
            "/notes?page=1&size=2",
            json!([1, 2]),
        ),
        (
            json!({"type": "integer"}),
            "/notes?page=2&size=2",
            json!([3]),
        ),
        (
            json!({"type": "integer"}),
            "/notes?page=1",
            json!([1, 2, 3]),
        ),
        (json!({"type": "integer"}), "/notes?page=2", json!([])),
        (
            json!({"type": "integer", "minimum": 0}),
            "/notes?page=0&size=2",
            json!([1, 2]),
        ),
        (
            json!({"type": "integer", "minimum": 0}),
            "/notes?page=1&size=2",
            json!([3]),
        ),
    ];
    for (page, target, ids) in cases {
        let api = Api::new(document(page));
        for _ in 0..3 {
            api.call("POST", "/notes", Some(json!({})));
        }
        let (status, body) = api.call("GET", target, None);
        let got: Vec<&Value> = body.as_array().unwrap().iter().map(|n| &n["id"]).collect();
        assert_eq!((status, json!(got)), (200, ids), "{target}");
    }
}

#[test]
fn integer_ids_in_paths_are_read_as_numbers() {
    let api = Api::new(petstore());
    api.call("POST", "/v1/pets", Some(json!({"name": "Rex"})));
    assert_eq!(
        api.call("GET", "/v1/pets/001", None),
        (200, json!({"id": 1, "name": "Rex"}))
    );
    assert_eq!(
        api.call("PUT", "/v1/pets/002", Some(json!({"name": "Tom"}))),
        (200, json!({"id": 2, "name": "Tom"}))
    );
    assert_eq!(api.call("DELETE", "/v1/pets/2", None).0, 204);
}
