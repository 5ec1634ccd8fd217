//! `hmt mock` reading requests as real clients send them: each method
//! routed to the most specific path that documents it (405 with `Allow`
//! when none does), Digest credentials from curl's challenge/response
//! round trip (their `uri` the request's own), reserved characters sent
//! unencoded (`allowReserved`), repeated headers and cookies, and integers
//! past 64 bits. The real binary, called over loopback by curl.

mod common;
mod common_mock;

use common_mock::{curl, start};

/// Writes `yaml` as a spec into a temporary directory and starts a mock on it.
fn mock(yaml: &str) -> (tempfile::TempDir, common_mock::RunningMock) {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, yaml).unwrap();
    let mock = start(&[spec.to_str().unwrap()]);
    (dir, mock)
}

const SHADOWED: &str = r#"
openapi: 3.0.3
info: {title: shadowed, version: "1"}
paths:
  /v1/invoices/upcoming:
    get:
      responses:
        "200": {description: ok, content: {application/json: {example: {upcoming: true}}}}
  /v1/invoices/{invoice}:
    parameters:
      - {name: invoice, in: path, required: true, schema: {type: string}}
    get:
      responses:
        "200": {description: ok, content: {application/json: {example: {got: true}}}}
    delete:
      responses:
        "200": {description: ok, content: {application/json: {example: {deleted: true}}}}
"#;

#[test]
fn a_literal_path_does_not_hide_the_methods_of_the_template_it_shadows() {
    let (_dir, mock) = mock(SHADOWED);
    let url = format!("{}/v1/invoices/upcoming", mock.base);
    // GET is the literal path's; DELETE only the template documents.
    let got = curl(&[], &url);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json(), serde_json::json!({"upcoming": true}));
    let deleted = curl(&["-X", "DELETE"], &url);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json(), serde_json::json!({"deleted": true}));
    // A method neither documents: 405 allowing what both do.
    let patched = curl(&["-X", "PATCH"], &url);
    assert_eq!(patched.status, 405, "{}", patched.body);
    assert_eq!(patched.header_values("allow"), ["GET, DELETE"]);
    assert_eq!(
        patched.json()["allow"],
        serde_json::json!(["GET", "DELETE"])
    );
    // No path at all: 404.
    let missing = curl(&["-X", "DELETE"], &format!("{url}/lines"));
    assert_eq!(missing.status, 404, "{}", missing.body);
}

const DIGEST: &str = r#"
openapi: 3.0.3
info: {title: digest, version: "1"}
paths:
  /secret:
    get:
      security: [{digestAuth: []}]
      responses:
        "200":
          description: ok
          content: {application/json: {example: {secret: 42}}}
components:
  securitySchemes:
    digestAuth: {type: http, scheme: digest}
"#;

#[test]
fn digest_security_takes_curls_round_trip_and_refuses_malformed_credentials() {
    let (_dir, mock) = mock(DIGEST);
    let url = format!("{}/secret", mock.base);

    // Nothing sent: a Digest challenge curl (or any client) can answer.
    let refused = curl(&[], &url);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let challenges = refused.header_values("www-authenticate");
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    let challenge = challenges[0];
    for part in [
        "Digest realm=\"hmt\"",
        "nonce=\"",
        "qop=\"auth\"",
        "algorithm=SHA-256",
    ] {
        assert!(challenge.contains(part), "{part} in {challenge}");
    }
    assert!(
        refused.body.contains("Authorization: Digest"),
        "{}",
        refused.body
    );

    // curl reads the challenge and answers it (SHA-256, qop=auth, nc,
    // cnonce): let in.
    let answered = curl(&["--digest", "-u", "mufasa:circle of life"], &url);
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert_eq!(answered.json(), serde_json::json!({"secret": 42}));

    // With a query, which curl puts in the `uri` too.
    let query = curl(
        &["--digest", "-u", "mufasa:circle of life"],
        &format!("{url}?a=1&b=%20"),
    );
    assert_eq!(query.status, 200, "{}", query.body);

    // RFC 2617 credentials (MD5, no qop) have the form too.
    let md5 = r#"Authorization: Digest username="a", realm="hmt", nonce="n", uri="/secret", response="0123456789abcdef0123456789abcdef""#;
    assert_eq!(curl(&["-H", md5], &url).status, 200);
    // RFC 7616's effective request URI names the request too.
    let absolute = format!(
        r#"Authorization: Digest username="a", realm="hmt", nonce="n", uri="{url}", response="0123456789abcdef0123456789abcdef""#
    );
    assert_eq!(curl(&["-H", &absolute], &url).status, 200);

    // Malformed: a field missing, a response of the wrong length, qop
    // without nc, another scheme; or for another target.
    for (malformed, why) in [
        (
            r#"Authorization: Digest username="a", realm="hmt", uri="/secret", response="0123456789abcdef0123456789abcdef""#,
            "(the Digest credentials have no nonce)",
        ),
        (
            r#"Authorization: Digest username="a", realm="hmt", nonce="n", uri="/secret", response="0123""#,
            r#"(the Digest response is not 32 hex digits (MD5): "0123")"#,
        ),
        (
            r#"Authorization: Digest username="a", realm="hmt", nonce="n", uri="/secret", qop=auth, cnonce="c", response="0123456789abcdef0123456789abcdef""#,
            r#"(the Digest nc is not 8 hex digits: "")"#,
        ),
        (
            r#"Authorization: Digest username="a, realm="hmt""#,
            "(expected a comma before",
        ),
        (
            "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "credentials required: Authorization: Digest",
        ),
        // Well-formed, but for another resource (a replayed header).
        (
            r#"Authorization: Digest username="a", realm="hmt", nonce="n", uri="/other", response="0123456789abcdef0123456789abcdef""#,
            r#"(the Digest uri "/other" is not the request target "/secret")"#,
        ),
    ] {
        let reply = curl(&["-H", malformed], &url);
        assert_eq!(reply.status, 401, "{malformed}: {}", reply.body);
        let detail = reply.json()["detail"].as_str().unwrap_or("").to_owned();
        assert!(detail.contains(why), "{why} in {detail}");
        assert!(
            reply.header_values("www-authenticate")[0].starts_with("Digest realm=\"hmt\""),
            "{malformed}"
        );
    }
}

const PARAMETERS: &str = r#"
openapi: 3.0.3
info: {title: parameters, version: "1"}
paths:
  /items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, format: uint64}}
        - {name: path, in: query, allowReserved: true, schema: {type: string, pattern: "^[^ &]*$"}}
        - {name: limit, in: query, schema: {type: integer, maximum: 100000000000000000000}}
        - {name: x-count, in: header, schema: {type: integer}}
        - {name: x-ids, in: header, schema: {type: array, items: {type: integer}, maxItems: 3}}
        - {name: sid, in: cookie, schema: {type: integer}}
      responses:
        "200":
          description: ok
          content: {application/json: {example: {ok: true}}}
"#;

/// The messages of a refusal (a 400).
#[track_caller]
fn refusal(reply: &common_mock::CurlReply) -> Vec<String> {
    assert_eq!(reply.status, 400, "{}", reply.body);
    reply.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn reserved_characters_repeats_and_big_integers_read_as_sent() {
    let (_dir, mock) = mock(PARAMETERS);
    let base = format!("{}/items", mock.base);

    // allowReserved: `:/?@!$'()*+,;=` sent unencoded are the value. (The
    // pattern refuses a space: `+` must stay a plus.)
    let reserved = curl(
        &[],
        &format!("{base}/1?path=/a:b/c?d=e@f!$'()*+,;=[x]&limit=5"),
    );
    assert_eq!(reserved.status, 200, "{}", reserved.body);
    // `&` still ends the value: what follows is a parameter of its own,
    // declared or not (the pattern refuses `&`, so a value that swallowed
    // `other=1` would be refused).
    let other = curl(&[], &format!("{base}/1?path=a/b:c&other=1&limit=5"));
    assert_eq!(other.status, 200, "{}", other.body);
    let m = refusal(&curl(&[], &format!("{base}/1?path=/a&b&limit=x")));
    assert_eq!(
        m,
        ["the query parameter limit: \"x\" is not of type \"integer\""]
    );
    // An `&` in the value is sent encoded.
    let m = refusal(&curl(&[], &format!("{base}/1?path=a%26b")));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("the query parameter path: \"a&b\""),
        "{m:?}"
    );

    // Every repeat of a header or cookie is checked.
    let one = ["-H", "x-count: 1", "-H", "x-count: 2"];
    assert_eq!(curl(&one, &format!("{base}/1")).status, 200);
    let m = refusal(&curl(
        &["-H", "x-count: 1", "-H", "x-count: two"],
        &format!("{base}/1"),
    ));
    assert_eq!(
        m,
        ["the header parameter x-count: \"two\" is not of type \"integer\""]
    );
    let m = refusal(&curl(&["-H", "cookie: sid=1; sid=x"], &format!("{base}/1")));
    assert_eq!(
        m,
        ["the cookie parameter sid: \"x\" is not of type \"integer\""]
    );
    // An array header is the list of all its repeats: 4 items > maxItems 3.
    let ids = ["-H", "x-ids: 1, 2", "-H", "x-ids: 3"];
    assert_eq!(curl(&ids, &format!("{base}/1")).status, 200);
    let m = refusal(&curl(
        &["-H", "x-ids: 1, 2", "-H", "x-ids: 3, 4"],
        &format!("{base}/1"),
    ));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("the header parameter x-ids:"), "{m:?}");

    // Integers past i64: exact against format uint64 and a maximum past u64.
    assert_eq!(
        curl(&[], &format!("{base}/18446744073709551615")).status,
        200
    );
    let m = refusal(&curl(&[], &format!("{base}/18446744073709551616")));
    assert_eq!(
        m,
        [
            "the path parameter id: 18446744073709551616 is greater than the largest of format uint64, 18446744073709551615"
        ]
    );
    let m = refusal(&curl(&[], &format!("{base}/-1")));
    assert_eq!(
        m,
        ["the path parameter id: -1 is less than the smallest of format uint64, 0"]
    );
    let fine = curl(&[], &format!("{base}/1?limit=100000000000000000000"));
    assert_eq!(fine.status, 200, "{}", fine.body);
    let m = refusal(&curl(&[], &format!("{base}/1?limit=100000000000000000001")));
    assert_eq!(
        m,
        [
            "the query parameter limit: 100000000000000000001 is greater than the maximum, 100000000000000000000"
        ]
    );
}
