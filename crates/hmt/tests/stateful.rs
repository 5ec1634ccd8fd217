//! The stateful emulator through real HTTP: what clients create is kept,
//! changed and deleted, and the spec still validates every request.

use hmt::MockServer;
use serde_json::{Value, json};

const PETS: &str = r##"
openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: tag, in: query, schema: {type: string}}
      responses:
        "200":
          description: pets
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Pet"}}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
              example: {id: 0, name: example, tag: none, status: available}
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: integer}}
    get:
      responses:
        "200":
          description: a pet
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
              example: {id: 0, name: example, status: available}
        "404": {description: no such pet}
    put:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
      responses:
        "200": {description: replaced, content: {application/json: {schema: {$ref: "#/components/schemas/Pet"}}}}
    patch:
      requestBody:
        required: true
        content:
          application/merge-patch+json:
            schema: {type: object}
          application/json-patch+json:
            schema: {type: array}
      responses:
        "200": {description: changed, content: {application/json: {schema: {$ref: "#/components/schemas/Pet"}}}}
    delete:
      responses:
        "204": {description: deleted}
components:
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string}
    Pet:
      allOf:
        - $ref: "#/components/schemas/NewPet"
        - type: object
          properties:
            id: {type: integer}
            status: {type: string}
"##;

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(server: &MockServer) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            base: server.uri(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<(&str, Value)>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some((content_type, body)) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn pets_are_created_read_changed_and_deleted() {
    let server = MockServer::builder()
        .spec_text(PETS)
        .stateful()
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    let json = "application/json";
    let created = client
        .send(
            "POST",
            "/pets",
            Some((json, json!({"name": "Rex", "tag": "dog"}))),
        )
        .await;
    // The documented example fills what the client did not send.
    assert_eq!(
        created,
        (
            201,
            json!({"id": 1, "name": "Rex", "tag": "dog", "status": "available"})
        )
    );
    client
        .send(
            "POST",
            "/pets",
            Some((json, json!({"name": "Tom", "tag": "cat"}))),
        )
        .await;
    // A read is the stored pet over the GET's example, in the example's order.
    assert_eq!(
        serde_json::to_string(&client.send("GET", "/pets/1", None).await.1).unwrap(),
        r#"{"id":1,"name":"Rex","status":"available","tag":"dog"}"#
    );
    assert_eq!(
        client.send("GET", "/pets?tag=cat", None).await,
        (200, json!([{"id": 2, "name": "Tom", "tag": "cat"}]))
    );
    assert_eq!(
        client
            .send("GET", "/pets?limit=1", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The spec still decides what may be stored.
    let refused = client
        .send("POST", "/pets", Some((json, json!({"tag": "no name"}))))
        .await;
    assert_eq!(refused.0, 400);
    assert_eq!(
        client
            .send("GET", "/pets", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let replaced = client
        .send(
            "PUT",
            "/pets/2",
            Some((json, json!({"name": "Tom", "tag": "tabby"}))),
        )
        .await;
    assert_eq!(replaced.0, 200);
    let merged = client
        .send(
            "PATCH",
            "/pets/2",
            Some((
                "application/merge-patch+json",
                json!({"tag": null, "name": "Thomas"}),
            )),
        )
        .await;
    assert_eq!(merged, (200, json!({"id": 2, "name": "Thomas"})));
    let patched = client
        .send(
            "PATCH",
            "/pets/2",
            Some((
                "application/json-patch+json",
                json!([{"op": "add", "path": "/tag", "value": "cat"}]),
            )),
        )
        .await;
    assert_eq!(patched.1["tag"], "cat");
    let failed = client
        .send(
            "PATCH",
            "/pets/2",
            Some((
                "application/json-patch+json",
                json!([{"op": "test", "path": "/tag", "value": "dog"}]),
            )),
        )
        .await;
    assert_eq!(failed.0, 409);

    assert_eq!(client.send("DELETE", "/pets/1", None).await.0, 204);
    let gone = client.send("GET", "/pets/1", None).await;
    assert_eq!(gone.0, 404);
    assert_eq!(
        client
            .send("PUT", "/pets/9", Some((json, json!({"name": "New"}))))
            .await
            .0,
        200
    );
    assert_eq!(
        server.state(),
        json!({"pets": {"/pets": [{"id": 2, "name": "Thomas", "tag": "cat"}, {"id": 9, "name": "New"}]}})
    );
    server.reset();
    assert_eq!(client.send("GET", "/pets", None).await, (200, json!([])));
}

#[tokio::test]
async fn seeded_objects_are_there_from_the_start() {
    let server = MockServer::builder()
        .spec_text(PETS)
        .state(
            "/pets",
            vec![
                json!({"id": 1, "name": "First"}),
                json!({"id": 5, "name": "Seed"}),
            ],
        )
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    assert_eq!(client.send("GET", "/pets/5", None).await.1["name"], "Seed");
    let next = client
        .send(
            "POST",
            "/pets",
            Some(("application/json", json!({"name": "After"}))),
        )
        .await;
    // Ids go on from the lowest one not taken.
    assert_eq!(next.1["id"], 2);
    let error = MockServer::builder()
        .spec_text(PETS)
        .state("/owners", vec![json!({"id": 1})])
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        format!("{error:#}").starts_with("cannot seed /owners: pets: "),
        "{error:#}"
    );
}

const PODS: &str = r##"
openapi: 3.0.3
info: {title: kubernetes, version: v1}
paths:
  /api/v1/namespaces/{namespace}/pods:
    parameters: [{name: namespace, in: path, required: true, schema: {type: string}}]
    get:
      responses:
        "200":
          description: pods
          content:
            application/json:
              schema:
                type: object
                properties:
                  kind: {type: string}
                  apiVersion: {type: string}
                  items: {type: array, items: {$ref: "#/components/schemas/Pod"}}
              example: {kind: PodList, apiVersion: v1, items: []}
    post:
      requestBody:
        required: true
        content: {application/json: {schema: {$ref: "#/components/schemas/Pod"}}}
      responses:
        "201": {description: created, content: {application/json: {schema: {$ref: "#/components/schemas/Pod"}}}}
  /api/v1/namespaces/{namespace}/pods/{name}:
    parameters:
      - {name: namespace, in: path, required: true, schema: {type: string}}
      - {name: name, in: path, required: true, schema: {type: string}}
    get:
      responses:
        "200": {description: a pod, content: {application/json: {schema: {$ref: "#/components/schemas/Pod"}}}}
        "404": {description: not found}
    delete:
      responses:
        "200": {description: deleted, content: {application/json: {schema: {$ref: "#/components/schemas/Pod"}}}}
components:
  schemas:
    Pod:
      type: object
      required: [metadata]
      properties:
        kind: {type: string}
        metadata:
          type: object
          required: [name]
          properties:
            name: {type: string}
            labels: {type: object, additionalProperties: {type: string}}
        spec: {type: object}
"##;

#[tokio::test]
async fn a_kubernetes_style_api_keeps_pods_per_namespace() {
    let server = MockServer::builder()
        .spec_text(PODS)
        .stateful()
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    let pod =
        json!({"kind": "Pod", "metadata": {"name": "web-1", "labels": {"app": "web"}}, "spec": {}});
    let created = client
        .send(
            "POST",
            "/api/v1/namespaces/default/pods",
            Some(("application/json", pod.clone())),
        )
        .await;
    assert_eq!(created, (201, pod.clone()));
    assert_eq!(
        client
            .send("GET", "/api/v1/namespaces/default/pods/web-1", None)
            .await,
        (200, pod.clone())
    );
    assert_eq!(
        client
            .send("GET", "/api/v1/namespaces/other/pods/web-1", None)
            .await
            .0,
        404
    );
    assert_eq!(
        client
            .send("GET", "/api/v1/namespaces/default/pods", None)
            .await,
        (
            200,
            json!({"kind": "PodList", "apiVersion": "v1", "items": [pod.clone()]})
        )
    );
    assert_eq!(
        client
            .send("GET", "/api/v1/namespaces/other/pods", None)
            .await
            .1["items"],
        json!([])
    );
    let duplicate = client
        .send(
            "POST",
            "/api/v1/namespaces/default/pods",
            Some(("application/json", pod.clone())),
        )
        .await;
    assert_eq!(duplicate.0, 409);
    assert_eq!(
        client
            .send("DELETE", "/api/v1/namespaces/default/pods/web-1", None)
            .await
            .0,
        200
    );
    assert_eq!(
        client
            .send("GET", "/api/v1/namespaces/default/pods/web-1", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn the_list_example_is_where_the_store_starts() {
    let spec = PETS.replace(
        "              schema: {type: array, items: {$ref: \"#/components/schemas/Pet\"}}\n",
        "              schema: {type: array, items: {$ref: \"#/components/schemas/Pet\"}}\n              example: [{id: 3, name: Shown}, {id: 4, name: Also}]\n",
    );
    assert_ne!(spec, PETS);
    let server = MockServer::builder()
        .spec_text(&spec)
        .stateful()
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    assert_eq!(client.send("GET", "/pets/4", None).await.1["name"], "Also");
    let created = client
        .send(
            "POST",
            "/pets",
            Some(("application/json", json!({"name": "New"}))),
        )
        .await;
    assert_eq!(created.1["id"], 1);
    assert_eq!(
        client
            .send("GET", "/pets", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // A reset goes back to the seed: the example's pets, without the new one.
    server.reset_state();
    assert_eq!(client.send("GET", "/pets/4", None).await.0, 200);
    assert_eq!(client.send("GET", "/pets/1", None).await.0, 404);
    server.empty_state();
    assert_eq!(client.send("GET", "/pets/4", None).await.0, 404);
    server.reset();
    assert_eq!(client.send("GET", "/pets/4", None).await.0, 200);
}

/// A recording, one http-types line per exchange: `(method, path, request
/// body, status, response body)`, `Value::Null` for no body.
fn recording(
    dir: &std::path::Path,
    exchanges: &[(&str, &str, Value, u16, Value)],
) -> std::path::PathBuf {
    let mut jsonl = String::new();
    for (method, path, request, status, response) in exchanges {
        let mut line = json!({
            "request": {"method": method, "host": "pets.example", "path": path},
            "response": {"statusCode": status}
        });
        if !request.is_null() {
            line["request"]["headers"] = json!({"content-type": "application/json"});
            line["request"]["body"] = Value::String(request.to_string());
        }
        if !response.is_null() {
            line["response"]["body"] = Value::String(response.to_string());
        }
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    let file = dir.join("recorded.jsonl");
    std::fs::write(&file, jsonl).unwrap();
    file
}

#[tokio::test]
async fn recordings_seed_the_store_with_what_the_upstream_held_at_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = recording(
        dir.path(),
        &[
            (
                "post",
                "/pets",
                json!({"name": "Rex"}),
                201,
                json!({"id": 1, "name": "Rex"}),
            ),
            ("put", "/pets/5", json!({"name": "Five"}), 200, Value::Null),
            (
                "get",
                "/pets/7",
                Value::Null,
                200,
                json!({"id": 7, "name": "Seven", "tag": "cat"}),
            ),
            (
                "post",
                "/pets",
                json!({"name": "Tom"}),
                201,
                json!({"id": 2, "name": "Tom"}),
            ),
            ("delete", "/pets/2", Value::Null, 204, Value::Null),
            // The spec's Pet refuses a number for a name: not stored.
            (
                "post",
                "/pets",
                json!({"name": "x"}),
                201,
                json!({"id": 3, "name": 3}),
            ),
            (
                "post",
                "/pets",
                json!({"name": "Lost"}),
                500,
                json!({"id": 4, "name": "Lost"}),
            ),
        ],
    );
    let server = MockServer::builder()
        .spec_text(PETS)
        .recordings(&recorded)
        .stateful()
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    let seeded = json!([
        {"id": 1, "name": "Rex"},
        {"id": 5, "name": "Five"},
        {"id": 7, "name": "Seven", "tag": "cat"}
    ]);
    assert_eq!(
        client.send("GET", "/pets", None).await,
        (200, seeded.clone())
    );
    assert_eq!(client.send("GET", "/pets/2", None).await.0, 404);
    assert_eq!(client.send("GET", "/pets/3", None).await.0, 404);
    // The store answers, not the replay of the recorded GET.
    assert_eq!(client.send("DELETE", "/pets/7", None).await.0, 204);
    assert_eq!(client.send("GET", "/pets/7", None).await.0, 404);
    let created = client
        .send(
            "POST",
            "/pets",
            Some(("application/json", json!({"name": "New"}))),
        )
        .await;
    assert_eq!(created.1["id"], 2);

    server.reset_state();
    assert_eq!(
        client.send("GET", "/pets", None).await,
        (200, seeded.clone())
    );
    // Id sequences are back where the seed left them.
    let again = client
        .send(
            "POST",
            "/pets",
            Some(("application/json", json!({"name": "New"}))),
        )
        .await;
    assert_eq!(again.1["id"], 2);
    server.empty_state();
    assert_eq!(client.send("GET", "/pets", None).await, (200, json!([])));
    server.reset_state();
    assert_eq!(client.send("GET", "/pets", None).await, (200, seeded));
}

#[tokio::test]
async fn the_store_answers_what_it_manages_before_exact_replay() {
    // A spec as `hmt build --mode mixed` writes it: recorded exchanges in
    // `x-hmt-replay`.
    let spec = PETS.replace(
        "        \"404\": {description: no such pet}\n",
        "        \"404\": {description: no such pet}\n      x-hmt-replay:\n        - request: {path: /pets/1}\n          responses: [{statusCode: 200, body: '{\"id\": 1, \"name\": \"Replayed\"}'}]\n",
    );
    assert_ne!(spec, PETS);
    let replaying = MockServer::builder()
        .spec_text(&spec)
        .start()
        .await
        .unwrap();
    assert_eq!(
        Client::new(&replaying).send("GET", "/pets/1", None).await.1["name"],
        "Replayed"
    );
    let server = MockServer::builder()
        .spec_text(&spec)
        .state("/pets", vec![json!({"id": 1, "name": "Stored"})])
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    assert_eq!(
        client.send("GET", "/pets/1", None).await.1["name"],
        "Stored"
    );
    assert_eq!(client.send("DELETE", "/pets/1", None).await.0, 204);
    assert_eq!(client.send("GET", "/pets/1", None).await.0, 404);
}

#[tokio::test]
async fn exported_pods_seed_another_mock_with_the_same_objects() {
    let server = MockServer::builder()
        .spec_text(PODS)
        .stateful()
        .start()
        .await
        .unwrap();
    let client = Client::new(&server);
    let pods = [
        (
            "default",
            json!({"kind": "Pod", "metadata": {"name": "web-2", "labels": {"app": "web"}}, "spec": {}}),
        ),
        (
            "default",
            json!({"kind": "Pod", "metadata": {"name": "web-1"}, "spec": {}}),
        ),
        (
            "kube-system",
            json!({"kind": "Pod", "metadata": {"name": "dns"}, "spec": {}}),
        ),
    ];
    for (namespace, pod) in &pods {
        let path = format!("/api/v1/namespaces/{namespace}/pods");
        let created = client
            .send("POST", &path, Some(("application/json", pod.clone())))
            .await;
        assert_eq!(created.0, 201);
    }
    let exported = server.state_http_types();
    // By collection, then id.
    let order: Vec<(String, String)> = exported
        .iter()
        .map(|e| {
            let body: Value = serde_json::from_slice(e.request.body.as_deref().unwrap()).unwrap();
            (
                e.request.pathname.clone(),
                body["metadata"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (
                "/api/v1/namespaces/default/pods".to_owned(),
                "web-1".to_owned()
            ),
            (
                "/api/v1/namespaces/default/pods".to_owned(),
                "web-2".to_owned()
            ),
            (
                "/api/v1/namespaces/kube-system/pods".to_owned(),
                "dns".to_owned()
            ),
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.jsonl");
    let jsonl: String = exported.iter().map(|e| e.to_json_line() + "\n").collect();
    std::fs::write(&file, jsonl).unwrap();

    let copy = MockServer::builder()
        .spec_text(PODS)
        .recordings(&file)
        .stateful()
        .start()
        .await
        .unwrap();
    let copy_client = Client::new(&copy);
    for (namespace, pod) in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
        assert_eq!(
            copy_client.send("GET", &path, None).await,
            (200, pod.clone())
        );
    }
    assert_eq!(copy.state()["kubernetes"], {
        let mut original = server.state()["kubernetes"].clone();
        // The copy holds them by id, as they were exported.
        let default = original["/api/v1/namespaces/default/pods"]
            .as_array_mut()
            .unwrap();
        default.reverse();
        original
    });
}

#[tokio::test]
async fn a_har_recording_seeds_the_store_too() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = recording(
        dir.path(),
        &[
            (
                "post",
                "/pets",
                json!({"name": "Rex"}),
                201,
                json!({"id": 4, "name": "Rex"}),
            ),
            (
                "put",
                "/pets/4",
                json!({"name": "Rex", "tag": "dog"}),
                200,
                Value::Null,
            ),
        ],
    );
    let har = dir.path().join("recorded.har");
    let mut writer = hmt_types::HarWriter::new(std::fs::File::create(&har).unwrap()).unwrap();
    let input = hmt_types::Input::open(jsonl.to_str().unwrap()).unwrap();
    for exchange in input.exchanges() {
        writer.write(&exchange.unwrap()).unwrap();
    }
    writer.finish().unwrap();
    let server = MockServer::builder()
        .spec_text(PETS)
        .recordings(&har)
        .stateful()
        .start()
        .await
        .unwrap();
    assert_eq!(
        Client::new(&server).send("GET", "/pets", None).await,
        (200, json!([{"id": 4, "name": "Rex", "tag": "dog"}]))
    );
}
