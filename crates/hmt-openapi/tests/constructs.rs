//! Every OpenAPI 3.1 and 3.0 construct loads and serves: for each, a small
//! spec loads, compiles, routes a request to its operation, and the schema
//! the construct is in compiles and tells a valid value from an invalid
//! one.

use hmt_openapi::route::Routes;
use hmt_openapi::validate::SpecValidators;
use http::Method;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    /// The spec, YAML, without `openapi` and `info`.
    spec: &'static str,
    version: &'static str,
    /// A request the spec serves.
    method: Method,
    path: &'static str,
    /// A schema in it, and a value it accepts and one it refuses.
    schema: &'static str,
    valid: Value,
    invalid: Value,
}

/// `GET /a` answering `200` with the schema `Thing`, for cases about
/// schemas.
const GET_THING: &str = r##"
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
"##;

fn cases() -> Vec<Case> {
    let thing = |name, version, schema: &'static str, valid, invalid| Case {
        name,
        spec: Box::leak(
            format!("{GET_THING}components:\n  schemas:\n    Thing: {schema}\n").into_boxed_str(),
        ),
        version,
        method: Method::GET,
        path: "/a",
        schema: "/components/schemas/Thing",
        valid,
        invalid,
    };
    vec![
        // OpenAPI 3.1
        thing(
            "type arrays",
            "3.1.0",
            "{type: [string, 'null']}",
            json!(null),
            json!(1),
        ),
        thing(
            "const",
            "3.1.0",
            "{const: fixed}",
            json!("fixed"),
            json!("other"),
        ),
        thing(
            "prefixItems",
            "3.1.0",
            "{type: array, prefixItems: [{type: integer}, {type: string}], items: false}",
            json!([1, "a"]),
            json!([1, "a", 2]),
        ),
        thing(
            "$defs",
            "3.1.0",
            "{$defs: {Id: {type: integer}}, type: object, properties: {id: {$ref: '#/components/schemas/Thing/$defs/Id'}}}",
            json!({"id": 1}),
            json!({"id": "x"}),
        ),
        thing(
            "$ref with siblings",
            "3.1.0",
            "{type: object, properties: {n: {$ref: '#/components/schemas/Small', description: a number, maximum: 5}}}\n    Small: {type: integer, minimum: 1}",
            json!({"n": 5}),
            json!({"n": 6}),
        ),
        thing(
            "examples arrays",
            "3.1.0",
            "{type: string, examples: [a, b], maxLength: 1}",
            json!("a"),
            json!("ab"),
        ),
        thing(
            "contentMediaType and contentEncoding",
            "3.1.0",
            "{type: string, contentMediaType: image/png, contentEncoding: base64}",
            json!("iVBORw0KGgo="),
            json!(5),
        ),
        thing(
            "exclusiveMinimum as a number",
            "3.1.0",
            "{type: number, exclusiveMinimum: 0}",
            json!(0.5),
            json!(0),
        ),
        thing(
            "$schema, $id and $comment",
            "3.1.0",
            "{$schema: 'https://json-schema.org/draft/2020-12/schema', $comment: c, type: boolean}",
            json!(true),
            json!("true"),
        ),
        thing(
            "if/then/else and dependentRequired",
            "3.1.0",
            "{type: object, if: {required: [a]}, then: {required: [b]}, dependentRequired: {c: [a]}}",
            json!({"a": 1, "b": 2}),
            json!({"a": 1}),
        ),
        thing(
            "unevaluatedProperties",
            "3.1.0",
            "{type: object, allOf: [{properties: {a: {}}}], unevaluatedProperties: false}",
            json!({"a": 1}),
            json!({"a": 1, "b": 2}),
        ),
        Case {
            name: "webhooks, components/pathItems, jsonSchemaDialect",
            spec: r##"
jsonSchemaDialect: https://spec.openapis.org/oas/3.1/dialect/base
webhooks:
  newPet:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        "200": {description: ok}
paths:
  /pets:
    $ref: "#/components/pathItems/Pets"
    summary: a $ref with a sibling
components:
  pathItems:
    Pets:
      post:
        requestBody:
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        responses:
          "201": {description: made}
  schemas:
    Pet: {type: object, required: [name], properties: {name: {type: string}}}
"##,
            version: "3.1.0",
            method: Method::POST,
            path: "/pets",
            schema: "/components/schemas/Pet",
            valid: json!({"name": "rex"}),
            invalid: json!({}),
        },
        Case {
            name: "no paths at all, only webhooks",
            spec: r##"
webhooks:
  ping:
    post:
      responses:
        "200": {description: ok}
components:
  schemas:
    Thing: {type: integer}
"##,
            version: "3.1.1",
            method: Method::GET,
            path: "",
            schema: "/components/schemas/Thing",
            valid: json!(1),
            invalid: json!("1"),
        },
        Case {
            name: "info.summary, license identifier, mutualTLS, pathless servers",
            spec: r##"
servers: [{url: /v1}]
paths:
  /a:
    get:
      security: [{mtls: []}]
      parameters:
        - {name: q, in: query, schema: {$ref: "#/components/schemas/Thing"}}
      responses:
        "200": {description: ok}
components:
  schemas:
    Thing: {type: integer}
  securitySchemes:
    mtls: {type: mutualTLS}
"##,
            version: "3.1.0",
            method: Method::GET,
            path: "/v1/a",
            schema: "/components/schemas/Thing",
            valid: json!(1),
            invalid: json!("1"),
        },
        // OpenAPI 3.0
        thing(
            "nullable",
            "3.0.3",
            "{type: string, nullable: true}",
            json!(null),
            json!(1),
        ),
        thing(
            "boolean exclusiveMaximum",
            "3.0.3",
            "{type: integer, maximum: 5, exclusiveMaximum: true}",
            json!(4),
            json!(5),
        ),
        thing(
            "discriminator with mapping, oneOf, allOf",
            "3.0.3",
            "{oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/Dog'}], discriminator: {propertyName: kind, mapping: {cat: '#/components/schemas/Cat'}}}\n    Cat: {type: object, required: [kind, meow], properties: {kind: {type: string}, meow: {type: boolean}}}\n    Dog: {allOf: [{type: object, required: [kind, bark]}], properties: {bark: {type: boolean}}}",
            json!({"kind": "cat", "meow": true}),
            json!({"kind": "cat"}),
        ),
        thing(
            "readOnly, writeOnly, xml, externalDocs, deprecated, example",
            "3.0.3",
            "{type: object, properties: {id: {type: integer, readOnly: true}, pw: {type: string, writeOnly: true}}, xml: {name: t}, externalDocs: {url: 'https://x'}, deprecated: true, example: {id: 1}}",
            json!({"id": 1}),
            json!({"id": "1"}),
        ),
        thing(
            "additionalProperties schema, anyOf, not",
            "3.0.3",
            "{type: object, additionalProperties: {anyOf: [{type: integer}, {type: string}]}, not: {required: [bad]}}",
            json!({"a": 1, "b": "x"}),
            json!({"bad": 1}),
        ),
        thing(
            "x- extensions in a schema",
            "3.0.3",
            "{type: integer, x-go-type: int64, x-nullable: false}",
            json!(1),
            json!("1"),
        ),
        Case {
            name: "x- keys under paths, path items, responses, components",
            spec: r##"
x-top: 1
paths:
  x-amazon-apigateway-any-method: {consumes: [a]}
  x-private:
    get: {responses: {"200": {description: not a path}}}
  /a:
    x-path-extension: {b: 1}
    get:
      x-operation: true
      responses:
        x-response-extension: 1
        "200":
          description: ok
          x-response: 1
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
components:
  x-components-extension: {}
  schemas:
    Thing: {type: integer}
"##,
            version: "3.0.0",
            method: Method::GET,
            path: "/a",
            schema: "/components/schemas/Thing",
            valid: json!(1),
            invalid: json!("1"),
        },
        Case {
            name: "$refs to parameters, request bodies, responses, headers, examples; callbacks and links",
            spec: r##"
paths:
  /things/{id}:
    parameters:
      - $ref: "#/components/parameters/Id"
    put:
      parameters:
        - {name: tags, in: query, style: form, explode: false, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, content: {application/json: {schema: {type: object}}}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody: {$ref: "#/components/requestBodies/Thing"}
      callbacks:
        changed:
          "{$request.body#/url}":
            post:
              requestBody: {content: {application/json: {schema: {type: object}}}}
              responses: {"200": {description: ok}}
      responses:
        "200": {$ref: "#/components/responses/Thing"}
        default:
          description: error
          links:
            self: {operationId: put, parameters: {id: "$response.body#/id"}}
components:
  parameters:
    Id: {name: id, in: path, required: true, schema: {type: integer}}
  requestBodies:
    Thing:
      required: true
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Thing"}
          examples: {one: {$ref: "#/components/examples/One"}}
  responses:
    Thing:
      description: ok
      headers: {X-Rate: {$ref: "#/components/headers/Rate"}}
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Thing"}
  headers:
    Rate: {schema: {type: integer}}
  examples:
    One: {value: {n: 1}}
  schemas:
    Thing: {type: object, properties: {n: {type: integer}}}
"##,
            version: "3.0.3",
            method: Method::PUT,
            path: "/things/7",
            schema: "/components/schemas/Thing",
            valid: json!({"n": 1}),
            invalid: json!({"n": "1"}),
        },
        Case {
            name: "server variables and every security scheme type",
            spec: r##"
servers:
  - url: "https://{region}.example.com/{base}"
    variables:
      region: {default: eu, enum: [eu, us]}
      base: {default: v1}
security: [{key: []}, {basic: []}, {bearer: []}, {oauth: [read]}, {oidc: []}]
paths:
  /a:
    get:
      parameters:
        - {name: n, in: query, schema: {$ref: "#/components/schemas/Thing"}}
      responses:
        "2XX": {description: ok}
components:
  schemas:
    Thing: {type: integer}
  securitySchemes:
    key: {type: apiKey, in: query, name: key}
    basic: {type: http, scheme: basic}
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: /token, scopes: {read: r}}}}
    oidc: {type: openIdConnect, openIdConnectUrl: "https://x/.well-known/openid-configuration"}
"##,
            version: "3.0.3",
            method: Method::GET,
            path: "/v1/a",
            schema: "/components/schemas/Thing",
            valid: json!(1),
            invalid: json!("1"),
        },
    ]
}

#[test]
fn every_construct_loads_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let file = dir.path().join(format!("case{i}.yaml"));
        let text = format!(
            "openapi: {}\ninfo: {{title: {:?}, version: '1'}}\n{}",
            case.version, case.name, case.spec
        );
        std::fs::write(&file, &text).unwrap();
        let specs = match hmt_openapi::load(std::slice::from_ref(&file)) {
            Ok(specs) => specs,
            Err(error) => {
                failures.push(format!("{}: does not load: {error}", case.name));
                continue;
            }
        };
        let spec = &specs[0];
        if !case.path.is_empty() {
            let routes = Routes::new(&specs);
            if let Err(miss) = routes.find(&specs, None, &case.method, case.path) {
                failures.push(format!(
                    "{}: {} {} not served: {miss:?}",
                    case.name, case.method, case.path
                ));
            }
        }
        // Every schema the operations validate with compiles.
        let validators = SpecValidators::new(spec);
        for operation in &spec.operations {
            let pointers = operation
                .parameters
                .iter()
                .filter_map(|p| p.schema_pointer.clone())
                .chain(
                    operation
                        .request_body
                        .iter()
                        .flat_map(|b| b.content.iter().filter_map(|(_, p)| p.clone())),
                );
            for pointer in pointers {
                if let Err(error) = validators.validator(spec, &pointer) {
                    failures.push(format!(
                        "{}: {pointer} does not compile: {error}",
                        case.name
                    ));
                }
            }
        }
        match validators.validator(spec, case.schema) {
            Ok(validator) => {
                if !validator.is_valid(&case.valid) {
                    failures.push(format!("{}: {} refused", case.name, case.valid));
                }
                if validator.is_valid(&case.invalid) {
                    failures.push(format!("{}: {} accepted", case.name, case.invalid));
                }
            }
            Err(error) => failures.push(format!(
                "{}: {} does not compile: {error}",
                case.name, case.schema
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn x_keys_beside_paths_are_not_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.json");
    std::fs::write(
        &file,
        r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
            "paths": {"x-ms-paths": {"/b?op=1": {}}, "/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#,
    )
    .unwrap();
    let specs = hmt_openapi::load(&[file]).expect("an x- key under paths is an extension");
    let templates: Vec<&str> = specs[0]
        .operations
        .iter()
        .map(|o| o.template.as_str())
        .collect();
    assert_eq!(templates, ["/a"]);
}
