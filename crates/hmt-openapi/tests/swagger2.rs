//! Swagger 2.0 specs load, converted to OpenAPI 3.0: the classic petstore
//! (fixtures/petstore-swagger2.json) and a spec with the 2.0 features the
//! petstore does not use.

use hmt_openapi::model::{Location, SecurityScheme, Spec, StatusKey};
use hmt_openapi::validate::SpecValidators;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn petstore() -> Spec {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/petstore-swagger2.json");
    let mut specs = hmt_openapi::load(&[file]).expect("the Swagger 2.0 petstore loads");
    specs.remove(0)
}

fn operation<'a>(spec: &'a Spec, id: &str) -> &'a hmt_openapi::model::Operation {
    spec.operations
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no operation {id}"))
}

/// Whether `value` is valid against the schema at `pointer`.
fn valid(spec: &Spec, pointer: &str, value: &Value) -> bool {
    SpecValidators::new(spec)
        .validator(spec, pointer)
        .unwrap_or_else(|e| panic!("{pointer}: {e}"))
        .is_valid(value)
}

#[test]
fn petstore_operations_servers_and_security() {
    let spec = petstore();
    assert_eq!(spec.title, "Swagger Petstore");
    assert_eq!(spec.document["openapi"], "3.0.3");
    assert_eq!(
        spec.document["servers"],
        json!([{"url": "https://petstore.swagger.io/v2"}, {"url": "http://petstore.swagger.io/v2"}])
    );
    assert_eq!(spec.servers[0].host.as_deref(), Some("petstore.swagger.io"));
    assert_eq!(spec.servers[0].base_path, "/v2");
    let ids: Vec<(&str, &str, &str)> = spec
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.template.as_str(), o.id.as_str()))
        .collect();
    assert_eq!(ids.len(), 20);
    assert_eq!(ids[0], ("POST", "/pet/{petId}/uploadImage", "uploadFile"));
    assert!(ids.contains(&("GET", "/pet/findByStatus", "findPetsByStatus")));
    assert!(ids.contains(&("DELETE", "/user/{username}", "deleteUser")));

    let get = operation(&spec, "getPetById");
    assert_eq!(
        get.security,
        [vec![SecurityScheme::ApiKey {
            name: "api_key".into(),
            location: Location::Header
        }]]
    );
    assert_eq!(
        operation(&spec, "addPet").security,
        [vec![SecurityScheme::Bearer]]
    );
    assert_eq!(
        spec.document["components"]["securitySchemes"]["petstore_auth"],
        json!({"type": "oauth2", "flows": {"implicit": {
            "authorizationUrl": "https://petstore.swagger.io/oauth/authorize",
            "scopes": {"read:pets": "read your pets", "write:pets": "modify pets in your account"}
        }}})
    );
}

#[test]
fn petstore_parameters_move_their_types_into_schemas() {
    let spec = petstore();
    let get = operation(&spec, "getOrderById");
    let order_id = &get.parameters[0];
    assert_eq!(
        (order_id.name.as_str(), order_id.location, order_id.required),
        ("orderId", Location::Path, true)
    );
    assert_eq!(
        order_id.schema,
        Some(json!({"type": "integer", "maximum": 10, "minimum": 1, "format": "int64"}))
    );
    let pointer = order_id.schema_pointer.as_deref().unwrap();
    assert!(valid(&spec, pointer, &json!(10)));
    assert!(!valid(&spec, pointer, &json!(11)));

    let status = &operation(&spec, "findPetsByStatus").parameters[0];
    assert_eq!(status.location, Location::Query);
    assert_eq!(
        status.schema.as_ref().unwrap()["items"]["enum"],
        json!(["available", "pending", "sold"])
    );
    // collectionFormat: multi is form style, exploded.
    let raw = &spec.document["paths"]["/pet/findByStatus"]["get"]["parameters"][0];
    assert_eq!(
        (&raw["style"], &raw["explode"]),
        (&json!("form"), &json!(true))
    );
    assert!(raw.get("collectionFormat").is_none() && raw.get("type").is_none());

    let delete = operation(&spec, "deletePet");
    assert_eq!(
        delete
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.location))
            .collect::<Vec<_>>(),
        [("api_key", Location::Header), ("petId", Location::Path)]
    );
}

#[test]
fn petstore_bodies_become_request_bodies() {
    let spec = petstore();
    let add = operation(&spec, "addPet");
    let body = add.request_body.as_ref().expect("addPet has a body");
    assert!(body.required);
    let media: Vec<&str> = body.content.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(media, ["application/json", "application/xml"]);
    // The body's schema is the Pet definition, its $ref rewritten.
    assert_eq!(
        body.content[0].1.as_deref(),
        Some("/components/schemas/Pet")
    );
    assert!(add.parameters.is_empty(), "the body is no parameter");
    let pet = "/components/schemas/Pet";
    assert!(valid(
        &spec,
        pet,
        &json!({"name": "rex", "photoUrls": [], "category": {"id": 1}})
    ));
    assert!(
        !valid(&spec, pet, &json!({"name": "rex"})),
        "photoUrls is required"
    );
    assert!(!valid(
        &spec,
        pet,
        &json!({"name": "rex", "photoUrls": [], "category": {"id": "one"}})
    ));

    let upload = operation(&spec, "uploadFile");
    let body = upload.request_body.as_ref().unwrap();
    assert_eq!(body.content[0].0, "multipart/form-data");
    assert!(!body.required);
    assert_eq!(
        spec.document["paths"]["/pet/{petId}/uploadImage"]["post"]["requestBody"]["content"]["multipart/form-data"]
            ["schema"],
        json!({"type": "object", "properties": {
            "additionalMetadata": {"type": "string", "description": "Additional data to pass to server"},
            "file": {"type": "string", "format": "binary", "description": "file to upload"}
        }})
    );
    assert_eq!(upload.parameters.len(), 1);

    let form = operation(&spec, "updatePetWithForm");
    assert_eq!(
        form.request_body.as_ref().unwrap().content[0].0,
        "application/x-www-form-urlencoded"
    );
}

#[test]
fn petstore_responses_have_content_per_produced_media_type() {
    let spec = petstore();
    let get = operation(&spec, "getPetById");
    assert_eq!(
        get.responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [
            StatusKey::Code(200),
            StatusKey::Code(400),
            StatusKey::Code(404)
        ]
    );
    let ok = &get.responses[0];
    let media: Vec<&str> = ok.content.iter().map(|m| m.media_type.as_str()).collect();
    assert_eq!(media, ["application/json", "application/xml"]);
    assert_eq!(
        ok.content[0].schema,
        Some(json!({"$ref": "#/components/schemas/Pet"}))
    );
    assert!(get.responses[1].content.is_empty());

    let login = operation(&spec, "loginUser");
    let headers: Vec<(&str, Option<&Value>)> = login.responses[0]
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.schema.as_ref()))
        .collect();
    assert_eq!(
        headers,
        [
            (
                "x-expires-after",
                Some(&json!({"type": "string", "format": "date-time"}))
            ),
            (
                "x-rate-limit",
                Some(&json!({"type": "integer", "format": "int32"}))
            )
        ]
    );
    let inventory = operation(&spec, "getInventory");
    assert_eq!(
        inventory.responses[0].content[0].schema,
        Some(
            json!({"type": "object", "additionalProperties": {"type": "integer", "format": "int32"}})
        )
    );
}

const FEATURES: &str = r##"
swagger: "2.0"
info: {title: features, version: "1"}
basePath: /api
consumes: [application/json]
produces: [application/json, text/plain]
x-top: kept
securityDefinitions:
  basic: {type: basic, description: who}
  code: {type: oauth2, flow: accessCode, authorizationUrl: /oauth/authorize, tokenUrl: /oauth/token, scopes: {read: r}}
  password: {type: oauth2, flow: password, tokenUrl: /token}
  app: {type: oauth2, flow: application, tokenUrl: /token}
security: [{basic: []}]
parameters:
  limit: {name: limit, in: query, type: integer, minimum: 1, x-example: 5}
  ids: {name: ids, in: query, type: array, items: {type: integer}, collectionFormat: pipes}
  pet: {name: pet, in: body, required: true, schema: {$ref: "#/definitions/Pet"}}
responses:
  NotFound:
    description: not here
    schema: {$ref: "#/definitions/Error"}
    examples: {application/json: {message: gone}}
    headers: {X-Trace: {type: string, x-example: abc}}
definitions:
  Pet:
    type: object
    discriminator: kind
    required: [kind]
    properties:
      kind: {type: string}
      nickname: {type: string, x-nullable: true}
      default: {$ref: "#/definitions/Error"}
  Error: {type: object, properties: {message: {type: string}}}
paths:
  x-internal: {note: not a path}
  /pets:
    parameters:
      - {$ref: "#/parameters/limit"}
    get:
      parameters:
        - {$ref: "#/parameters/ids"}
        - {name: tags, in: query, type: array, items: {type: string}}
      responses:
        "200":
          description: ok
          schema: {type: array, items: {$ref: "#/definitions/Pet"}}
          examples: {application/json: [{kind: cat}]}
        "404": {$ref: "#/responses/NotFound"}
        x-note: extension
    post:
      security: []
      parameters:
        - {$ref: "#/parameters/pet"}
      responses:
        "201": {description: made}
  /pets/{id}/photo:
    put:
      consumes: [application/octet-stream]
      parameters:
        - {name: id, in: path, required: true, type: string}
        - {name: photo, in: formData, type: file, required: true}
      responses:
        default: {description: done}
"##;

fn features() -> Spec {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("features.yaml");
    std::fs::write(&file, FEATURES).unwrap();
    hmt_openapi::load(&[file]).expect("loads").remove(0)
}

#[test]
fn shared_parameters_responses_and_security_definitions_convert() {
    let spec = features();
    let doc = &spec.document;
    assert_eq!(doc["servers"], json!([{"url": "/api"}]));
    assert_eq!(spec.servers[0].base_path, "/api");
    assert_eq!(doc["x-top"], "kept");
    assert_eq!(
        doc["components"]["parameters"],
        json!({
            "limit": {"name": "limit", "in": "query", "example": 5, "schema": {"type": "integer", "minimum": 1}},
            "ids": {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}},
                    "style": "pipeDelimited", "explode": false}
        })
    );
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({
            "basic": {"type": "http", "scheme": "basic", "description": "who"},
            "code": {"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token", "scopes": {"read": "r"}}}},
            "password": {"type": "oauth2", "flows": {"password": {"tokenUrl": "/token", "scopes": {}}}},
            "app": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {}}}}
        })
    );
    assert_eq!(
        spec.oauth
            .iter()
            .map(|o| o.authorization_path.as_str())
            .collect::<Vec<_>>(),
        ["/oauth/authorize", "/api/oauth/authorize"]
    );

    let get = operation(&spec, "GET /pets");
    assert_eq!(get.security, [vec![SecurityScheme::Basic]]);
    assert_eq!(
        get.parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["ids", "tags", "limit"]
    );
    // csv (the default) is form style, not exploded, in a query.
    let tags = &doc["paths"]["/pets"]["get"]["parameters"][1];
    assert_eq!(
        (&tags["style"], &tags["explode"]),
        (&json!("form"), &json!(false))
    );
    let ok = &get.responses[0];
    assert_eq!(
        ok.content
            .iter()
            .map(|m| m.media_type.as_str())
            .collect::<Vec<_>>(),
        ["application/json", "text/plain"]
    );
    assert_eq!(
        ok.content[0].examples[0],
        ("example".into(), json!([{"kind": "cat"}]))
    );
    assert_eq!(
        doc["paths"]["/pets"]["get"]["responses"]["x-note"],
        "extension"
    );
    let not_found = &get.responses[1];
    assert_eq!(not_found.status, StatusKey::Code(404));
    assert_eq!(
        not_found.content[0].examples[0].1,
        json!({"message": "gone"})
    );
    assert_eq!(not_found.headers[0].name, "x-trace");
    assert_eq!(not_found.headers[0].example, Some(json!("abc")));

    let post = operation(&spec, "POST /pets");
    assert!(post.security.is_empty());
    let body = post.request_body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(
        body.content,
        [(
            "application/json".to_owned(),
            Some("/components/schemas/Pet".to_owned())
        )]
    );
}

#[test]
fn schemas_convert_nullable_discriminator_and_files() {
    let spec = features();
    let pet = &spec.document["components"]["schemas"]["Pet"];
    assert_eq!(pet["discriminator"], json!({"propertyName": "kind"}));
    // x-nullable became nullable, which the dialect reads as JSON Schema.
    assert_eq!(
        pet["properties"]["nickname"]["type"],
        json!(["string", "null"])
    );
    // A property called `default` is a schema: its $ref is rewritten.
    assert_eq!(
        pet["properties"]["default"],
        json!({"$ref": "#/components/schemas/Error"})
    );
    assert!(valid(
        &spec,
        "/components/schemas/Pet",
        &json!({"kind": "cat", "nickname": null})
    ));
    assert!(!valid(
        &spec,
        "/components/schemas/Pet",
        &json!({"nickname": "x"})
    ));

    let put = operation(&spec, "PUT /pets/{id}/photo");
    let body = put.request_body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(body.content[0].0, "multipart/form-data");
    assert_eq!(
        spec.document["paths"]["/pets/{id}/photo"]["put"]["requestBody"]["content"]["multipart/form-data"]
            ["schema"],
        json!({"type": "object", "properties": {"photo": {"type": "string", "format": "binary"}}, "required": ["photo"]})
    );
}

#[test]
fn conversion_errors_name_the_2_0_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters:\n        - {$ref: '#/parameters/nope'}\n      responses: {}\n",
    )
    .unwrap();
    let error = hmt_openapi::load(std::slice::from_ref(&file))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: at /paths/~1a/get/parameters/0/$ref: $ref \"#/parameters/nope\" points at nothing",
            file.display()
        )
    );
    std::fs::write(
        &file,
        "swagger: '2.0'\ninfo: {title: t, version: '1'}\nsecurityDefinitions:\n  o: {type: oauth2, flow: magic}\npaths: {}\n",
    )
    .unwrap();
    let error = hmt_openapi::load(std::slice::from_ref(&file))
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with("at /securityDefinitions/o/flow: expected implicit, password, application or accessCode, found Some(\"magic\")"),
        "{error}"
    );
}
