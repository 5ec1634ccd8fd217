//! `hmt mock` on published specs vendored under `fixtures/specs/`
//! (origins and licences in its README): GitHub's REST API (OpenAPI 3.0,
//! 13 MB, kept gzip-compressed) and the Swagger Petstore (Swagger 2.0 with
//! `body` and `formData` parameters and `securityDefinitions`). The real
//! binary starts on each; representative operations, called by curl over
//! loopback, answer documented statuses with bodies valid against their
//! documented schemas (checked with the project's own validator, the one
//! `hmt build --check` uses), and invalid requests are refused saying what
//! is wrong and where.

mod common;
mod common_mock;

use common_mock::{CurlReply, curl, start};
use hmt_openapi::model::{Spec, StatusKey};
use hmt_openapi::validate::SpecValidators;
use std::path::{Path, PathBuf};

fn vendored(path: &str) -> PathBuf {
    common::repo_root().join("fixtures/specs").join(path)
}

/// GitHub's spec, uncompressed into `dir`.
fn github_spec(dir: &Path) -> PathBuf {
    let compressed = std::fs::File::open(vendored("github/api.github.com.json.gz"))
        .expect("fixtures/specs/github/api.github.com.json.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(compressed), &mut text)
        .expect("the vendored GitHub spec is gzip of UTF-8 JSON");
    let file = dir.join("api.github.com.json");
    std::fs::write(&file, text).unwrap();
    file
}

/// Checks answers against the schemas of the spec the mock serves.
struct Schemas {
    spec: Spec,
    validators: SpecValidators,
}

impl Schemas {
    fn load(file: &Path) -> Schemas {
        let spec = hmt_openapi::load(&[file.to_path_buf()])
            .unwrap_or_else(|e| panic!("{} loads: {e}", file.display()))
            .remove(0);
        let validators = SpecValidators::new(&spec);
        Schemas { spec, validators }
    }

    /// Fails unless `reply` has the status `status`, documented for
    /// `operation_id`, and a JSON body valid against its schema.
    #[track_caller]
    fn assert_documented(&self, operation_id: &str, status: u16, reply: &CurlReply) {
        assert_eq!(reply.status, status, "{operation_id}: {}", reply.body);
        let operation = self
            .spec
            .operations
            .iter()
            .find(|o| o.id == operation_id)
            .unwrap_or_else(|| panic!("no operation {operation_id}"));
        let response = operation
            .responses
            .iter()
            .find(|r| r.status == StatusKey::Code(status))
            .unwrap_or_else(|| panic!("{operation_id} documents no {status}"));
        let content_type = reply.header_values("content-type").join(",");
        let media = response
            .content
            .iter()
            .find(|m| content_type.starts_with(&m.media_type))
            .unwrap_or_else(|| panic!("{operation_id} {status}: {content_type} is not documented"));
        let pointer = media.schema_pointer.as_deref().expect("a schema");
        let validator = self
            .validators
            .validator(&self.spec, pointer)
            .unwrap_or_else(|e| panic!("{pointer} compiles: {e}"));
        let body = reply.json();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{operation_id} {status}: the body is not valid against {pointer}: {errors:?}"
        );
    }
}

/// hmt's reason for a refusal that took a documented response's shape.
fn problem(reply: &CurlReply) -> String {
    reply.header_values("x-hmt-problem").join(" ")
}

#[test]
fn github_operations_answer_valid_documented_bodies_and_refuse_with_pointers() {
    let dir = tempfile::tempdir().unwrap();
    let file = github_spec(dir.path());
    let schemas = Schemas::load(&file);
    // GitHub's own examples leave out properties their schemas require
    // (`language` of full-repository): `--strict-examples` answers
    // generated valid data in their place.
    let mock = start(&[file.to_str().unwrap(), "--seed", "7", "--strict-examples"]);
    let base = &mock.base;
    let json = ["-H", "content-type: application/json"];

    let get = |path: &str| curl(&[], &format!("{base}{path}"));
    schemas.assert_documented("repos/get", 200, &get("/repos/octocat/hello-world"));
    schemas.assert_documented("users/get-by-username", 200, &get("/users/octocat"));
    schemas.assert_documented(
        "issues/list-for-repo",
        200,
        &get("/repos/octocat/hello-world/issues?state=open&per_page=5&sort=created"),
    );
    schemas.assert_documented(
        "pulls/get",
        200,
        &get("/repos/octocat/hello-world/pulls/42"),
    );
    let created = curl(
        &[
            &json[..],
            &["-d", r#"{"title": "Found a bug", "labels": ["bug"]}"#],
        ]
        .concat(),
        &format!("{base}/repos/octocat/hello-world/issues"),
    );
    schemas.assert_documented("issues/create", 201, &created);

    // Invalid: each refused in the shape the operation documents for it
    // (400 where documented, else GitHub's 422 validation_failed), hmt's
    // reason naming the place.
    let state = get("/repos/octocat/hello-world/issues?state=sideways");
    schemas.assert_documented("issues/list-for-repo", 422, &state);
    assert!(
        problem(&state).contains("the query parameter state"),
        "{}",
        problem(&state)
    );
    let assignee = curl(
        &[&json[..], &["-d", r#"{"title": "x", "assignees": [5]}"#]].concat(),
        &format!("{base}/repos/octocat/hello-world/issues"),
    );
    schemas.assert_documented("issues/create", 400, &assignee);
    assert!(
        problem(&assignee).contains("the body at /assignees/0"),
        "{}",
        problem(&assignee)
    );
    let untitled = curl(
        &[&json[..], &["-d", r#"{"body": "no title"}"#]].concat(),
        &format!("{base}/repos/octocat/hello-world/issues"),
    );
    schemas.assert_documented("issues/create", 400, &untitled);
    assert!(
        problem(&untitled).contains("\"title\" is a required property"),
        "{}",
        problem(&untitled)
    );
}

#[test]
fn swagger_2_petstore_serves_body_form_and_secured_operations() {
    let file = vendored("petstore-swagger2/petstore.json");
    let schemas = Schemas::load(&file);
    let mock = start(&[file.to_str().unwrap(), "--seed", "7"]);
    // Swagger 2.0's basePath is kept.
    let base = format!("{}/v2", mock.base);
    let bearer = ["-H", "authorization: Bearer token-1"];
    let api_key = ["-H", "api_key: special-key"];

    // API key in a header.
    schemas.assert_documented("getPetById", 200, &curl(&api_key, &format!("{base}/pet/7")));
    schemas.assert_documented(
        "getInventory",
        200,
        &curl(&api_key, &format!("{base}/store/inventory")),
    );
    // OAuth2 (implicit flow): a bearer token.
    schemas.assert_documented(
        "findPetsByStatus",
        200,
        &curl(
            &bearer,
            &format!("{base}/pet/findByStatus?status=available&status=sold"),
        ),
    );
    // A `body` parameter, no security.
    let order = curl(
        &[
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"id": 1, "petId": 7, "quantity": 2, "status": "placed", "complete": false}"#,
        ],
        &format!("{base}/store/order"),
    );
    schemas.assert_documented("placeOrder", 200, &order);
    // `formData`: multipart with a file, and urlencoded fields.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("rex.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\n").unwrap();
    let upload = curl(
        &[
            &bearer[..],
            &[
                "-F",
                "additionalMetadata=front view",
                "-F",
                &format!("file=@{}", image.display()),
            ],
        ]
        .concat(),
        &format!("{base}/pet/7/uploadImage"),
    );
    schemas.assert_documented("uploadFile", 200, &upload);
    // updatePetWithForm documents only 405: that is its answer, not a
    // refusal (which would say why in x-hmt-problem).
    let form = curl(
        &[&bearer[..], &["-d", "name=Rex", "-d", "status=sold"]].concat(),
        &format!("{base}/pet/7"),
    );
    assert_eq!(form.status, 405, "{}", form.body);
    assert_eq!(problem(&form), "", "a valid form is not refused");
    // The form as multipart: not the media type it consumes.
    let multipart = curl(
        &[&bearer[..], &["-F", "name=Rex"]].concat(),
        &format!("{base}/pet/7"),
    );
    assert_eq!(multipart.status, 415, "{}", multipart.body);
    assert!(
        multipart.body.contains("application/x-www-form-urlencoded"),
        "{}",
        multipart.body
    );

    // Refusals: no credentials (401 with the schemes' challenges), a
    // value of the wrong type in the path and in the form, a body
    // missing a required property.
    let anonymous = curl(&[], &format!("{base}/pet/7"));
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(
        anonymous.body.contains("header api_key"),
        "{}",
        anonymous.body
    );
    let path = curl(&api_key, &format!("{base}/pet/seven"));
    assert_eq!(path.status, 400, "{}", path.body);
    assert!(
        problem(&path).contains("the path parameter petId"),
        "{}",
        problem(&path)
    );
    let status = curl(&bearer, &format!("{base}/pet/findByStatus?status=lost"));
    assert_eq!(status.status, 400, "{}", status.body);
    assert!(
        problem(&status).contains("the query parameter status at /0"),
        "{}",
        problem(&status)
    );
    let pet = curl(
        &[
            &bearer[..],
            &[
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"photoUrls": []}"#,
            ],
        ]
        .concat(),
        &format!("{base}/pet"),
    );
    assert!(
        pet.status == 405 || pet.status == 400,
        "addPet without a name: {} {}",
        pet.status,
        pet.body
    );
    let reason = if problem(&pet).is_empty() {
        pet.body.clone()
    } else {
        problem(&pet)
    };
    assert!(
        reason.contains("\"name\" is a required property"),
        "{reason}"
    );
}
