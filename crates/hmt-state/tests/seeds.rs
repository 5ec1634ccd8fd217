//! A store's seeds: recorded traffic read in order into what the upstream
//! held at the end, refusals that name where and why, reset back to the
//! seed, and the export as http-types that seeds another store.

mod common;

use common::{Api, kubernetes, petstore};
use hmt_state::Recorded;
use hmt_types::Exchange;
use serde_json::{Value, json};

/// An exchange with JSON bodies (`Value::Null`: no body).
fn exchange(method: &str, path: &str, request: Value, status: u16, response: Value) -> Exchange {
    let mut line = json!({
        "request": {"method": method, "host": "petstore.example", "path": path},
        "response": {"statusCode": status}
    });
    if !request.is_null() {
        line["request"]["body"] = Value::String(request.to_string());
    }
    if !response.is_null() {
        line["response"]["body"] = Value::String(response.to_string());
    }
    Exchange::from_json_line(&line.to_string()).expect("a valid exchange")
}

#[test]
fn recordings_leave_what_the_upstream_held_at_their_end() {
    let api = Api::new(petstore());
    let spec = &api.specs[0];
    let mut seed = api.store.seed_recordings(spec);
    let exchanges = [
        // The server's answer holds the id it made.
        exchange(
            "post",
            "/v1/pets",
            json!({"name": "Rex"}),
            201,
            json!({"id": 7, "name": "Rex"}),
        ),
        // A create answered without a body stores what was sent, with a new id.
        exchange("post", "/pets", json!({"name": "Tom"}), 201, Value::Null),
        exchange(
            "put",
            "/v1/pets/7",
            json!({"name": "Rex II"}),
            200,
            Value::Null,
        ),
        exchange(
            "get",
            "/v1/pets/12",
            Value::Null,
            200,
            json!({"name": "Seen"}),
        ),
        exchange(
            "post",
            "/v1/pets",
            json!({"name": "Gone"}),
            201,
            json!({"id": 3, "name": "Gone"}),
        ),
        exchange("delete", "/v1/pets/3/", Value::Null, 204, Value::Null),
        exchange("delete", "/v1/pets/99", Value::Null, 404, Value::Null),
        exchange(
            "post",
            "/v1/pets",
            json!({"name": "Failed"}),
            500,
            json!({"id": 4, "name": "Failed"}),
        ),
        exchange(
            "get",
            "/v1/pets",
            Value::Null,
            200,
            json!([{"id": 5, "name": "Listed"}]),
        ),
        exchange("get", "/v1/other", Value::Null, 200, json!({"id": 1})),
    ];
    let outcomes: Vec<Recorded> = exchanges
        .iter()
        .enumerate()
        .map(|(i, e)| seed.add(&format!("rec.jsonl:{}", i + 1), e))
        .collect();
    assert_eq!(
        outcomes,
        [
            Recorded::Stored,
            Recorded::Stored,
            Recorded::Stored,
            Recorded::Stored,
            Recorded::Stored,
            Recorded::Removed,
            Recorded::Unchanged,
            Recorded::Unchanged,
            Recorded::Unchanged,
            Recorded::NotMine,
        ]
    );
    assert_eq!(seed.finish(), Vec::<String>::new());
    assert_eq!(
        api.store.to_json(),
        json!({"/pets": [
            {"id": 7, "name": "Rex II"},
            {"id": 1, "name": "Tom"},
            {"id": 12, "name": "Seen"}
        ]})
    );
    assert_eq!(api.call("GET", "/v1/pets/12", None).1["name"], "Seen");
}

#[test]
fn objects_the_schema_refuses_are_reported_with_where_and_why() {
    let api = Api::new(petstore());
    let mut seed = api.store.seed_recordings(&api.specs[0]);
    let refused = seed.add(
        "rec.jsonl:4",
        &exchange(
            "post",
            "/v1/pets",
            json!({}),
            201,
            json!({"id": 2, "name": 5}),
        ),
    );
    assert_eq!(
        refused,
        Recorded::Refused(
            "rec.jsonl:4: POST /v1/pets: not stored: at /name: 5 is not of type \"string\" (the schema at api.json#/components/schemas/Pet)"
                .to_owned()
        )
    );
    let no_object = seed.add(
        "rec.jsonl:5",
        &exchange("post", "/v1/pets", Value::Null, 201, Value::Null),
    );
    assert!(
        matches!(&no_object, Recorded::Refused(m) if m.starts_with("rec.jsonl:5: POST /v1/pets: not stored")),
        "{no_object:?}"
    );
    seed.finish();
    assert!(api.store.is_empty());
}

#[test]
fn pods_are_seeded_per_namespace_by_metadata_name() {
    let api = Api::new(kubernetes());
    let mut seed = api.store.seed_recordings(&api.specs[0]);
    let pod = json!({"kind": "Pod", "metadata": {"name": "web-1"}, "spec": {}});
    let path = "/api/v1/namespaces/default/pods";
    assert_eq!(
        seed.add(
            "a:1",
            &exchange("post", path, pod.clone(), 201, pod.clone())
        ),
        Recorded::Stored
    );
    let other = json!({"kind": "Pod", "metadata": {"name": "db"}});
    assert_eq!(
        seed.add(
            "a:2",
            &exchange(
                "get",
                "/api/v1/namespaces/kube%20system/pods/db",
                Value::Null,
                200,
                other.clone()
            )
        ),
        Recorded::Stored
    );
    seed.finish();
    assert_eq!(
        api.call("GET", "/api/v1/namespaces/default/pods/web-1", None),
        (200, pod.clone())
    );
    assert_eq!(
        api.store.to_json(),
        json!({"/api/v1/namespaces/default/pods": [pod], "/api/v1/namespaces/kube%20system/pods": [other]})
    );
}

#[test]
fn reset_goes_back_to_the_seed_and_clear_empties() {
    let api = Api::new(petstore());
    api.store
        .seed("/pets", vec![json!({"id": 5, "name": "Seeded"})])
        .unwrap();
    let mut seed = api.store.seed_recordings(&api.specs[0]);
    seed.add(
        "r:1",
        &exchange("post", "/v1/pets", json!({"name": "Rec"}), 201, Value::Null),
    );
    seed.finish();
    let seeded = api.store.to_json();
    assert_eq!(
        seeded,
        json!({"/pets": [{"id": 5, "name": "Seeded"}, {"id": 1, "name": "Rec"}]})
    );

    assert_eq!(
        api.call("POST", "/pets", Some(json!({"name": "New"}))).1["id"],
        2
    );
    assert_eq!(api.call("DELETE", "/pets/5", None).0, 204);
    api.store.reset();
    assert_eq!(api.store.to_json(), seeded);
    // Id sequences go back too: the same create gets the same id.
    assert_eq!(
        api.call("POST", "/pets", Some(json!({"name": "New"}))).1["id"],
        2
    );

    api.store.clear();
    assert_eq!(api.store.to_json(), json!({}));
    assert_eq!(
        api.call("POST", "/pets", Some(json!({"name": "First"}))).1["id"],
        1
    );
    api.store.reset();
    assert_eq!(api.store.to_json(), seeded);
}

#[test]
fn the_export_seeds_another_store_with_the_same_objects() {
    let api = Api::new(petstore());
    for name in ["A", "B", "C"] {
        api.call("POST", "/pets", Some(json!({"name": name})));
    }
    api.call("PUT", "/pets/10", Some(json!({"name": "Ten"})));
    api.call("DELETE", "/pets/2", None);
    api.call("PUT", "/pets/2", Some(json!({"name": "Back"})));
    let exported = api.store.to_http_types(&api.specs[0]);
    let lines: Vec<String> = exported.iter().map(Exchange::to_json_line).collect();
    // By id, not by when they were made.
    assert_eq!(
        lines[1],
        r#"{"request":{"method":"post","protocol":"http","host":"petstore.example","path":"/v1/pets","headers":{"content-type":"application/json"},"body":"{\"id\":2,\"name\":\"Back\"}"},"response":{"statusCode":201,"headers":{"content-type":"application/json"},"body":"{\"id\":2,\"name\":\"Back\"}"}}"#
    );
    assert_eq!(lines.len(), 4);

    let copy = Api::new(petstore());
    let mut seed = copy.store.seed_recordings(&copy.specs[0]);
    for (i, line) in lines.iter().enumerate() {
        let read = Exchange::from_json_line(line).unwrap();
        assert_eq!(
            seed.add(&format!("export.jsonl:{}", i + 1), &read),
            Recorded::Stored
        );
    }
    assert!(seed.finish().is_empty());
    assert_eq!(copy.store.objects_by_id(), api.store.objects_by_id());
    for id in [1, 2, 3, 10] {
        assert_eq!(
            copy.call("GET", &format!("/pets/{id}"), None),
            api.call("GET", &format!("/pets/{id}"), None)
        );
    }
}

#[test]
fn a_patch_is_stored_from_its_answer_or_reported() {
    let api = Api::new(petstore());
    let mut seed = api.store.seed_recordings(&api.specs[0]);
    seed.add(
        "r:1",
        &exchange(
            "put",
            "/v1/pets/1",
            json!({"name": "Rex"}),
            200,
            Value::Null,
        ),
    );
    assert_eq!(
        seed.add(
            "r:2",
            &exchange(
                "patch",
                "/v1/pets/1",
                json!({"status": "sold"}),
                200,
                json!({"id": 1, "name": "Rex", "status": "sold"})
            )
        ),
        Recorded::Stored
    );
    assert_eq!(
        seed.add("r:3", &exchange("patch", "/v1/pets/1", json!({"name": "Max"}), 204, Value::Null)),
        Recorded::Refused(
            "r:3: PATCH /v1/pets/1: not applied to the stateful store: the response has no JSON object body to store"
                .to_owned()
        )
    );
    seed.finish();
    assert_eq!(
        api.store.to_json(),
        json!({"/pets": [{"id": 1, "name": "Rex", "status": "sold"}]})
    );
}

#[test]
fn recordings_beyond_the_limit_are_reported_once_and_replacements_still_count() {
    let api = Api::with_store(petstore(), |store| store.with_limit(2));
    let mut seed = api.store.seed_recordings(&api.specs[0]);
    for (i, id) in [1, 2, 3, 4].into_iter().enumerate() {
        let pet = json!({"id": id, "name": format!("Pet {id}")});
        let outcome = seed.add(
            &format!("r:{}", i + 1),
            &exchange("post", "/v1/pets", pet.clone(), 201, pet),
        );
        if id <= 2 {
            assert_eq!(outcome, Recorded::Stored);
        } else {
            assert_eq!(
                outcome,
                Recorded::Refused(format!(
                    "r:{}: POST /v1/pets: not stored: the store is full (2 objects)",
                    i + 1
                ))
            );
        }
    }
    let replaced = json!({"id": 2, "name": "Two again"});
    assert_eq!(
        seed.add(
            "r:5",
            &exchange("put", "/v1/pets/2", replaced.clone(), 200, replaced)
        ),
        Recorded::Stored
    );
    assert_eq!(
        seed.finish(),
        [
            "the stateful store holds at most 2 objects; new recorded objects from r:3: POST /v1/pets on were not stored"
        ]
    );
    assert_eq!(api.store.len(), 2);
}
